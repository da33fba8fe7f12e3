/* verdict: a call's verdict and its reasons from what its signalling and streams showed. */
#include "verdict.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sdp.h"

/* ------------------------------------------------------------------ folding streams */

/* Keep the stream when its value is worse (higher, or lower when lower_is_worse). */
static void pick(verdict_pick_t *p, int64_t stream, double value, bool lower_is_worse)
{
    bool worse = lower_is_worse ? value < p->value : value > p->value;
    if (p->stream == 0 || worse) {
        p->stream = stream;
        p->value = value;
    }
}

void verdict_acc_add(verdict_acc_t *acc, const verdict_stream_t *s)
{
    if (s->side == 0 || s->side == 1) {
        int d = s->side;
        acc->packets[d] += s->packets;
        acc->audio[d] += s->audio_packets;
        acc->cn[d] += s->cn_packets;
        if (s->packets > 0)
            pick(&acc->main_stream[d], s->id, (double)s->packets, false);
        /* The receiver is the other side: moves are the receiver's. */
        if (s->to_moved)
            acc->to_moved[1 - d] += s->packets;
        if (s->to_moved_from && s->packets > 0)
            pick(&acc->moved_old[1 - d], s->id, (double)s->packets, false);
    } else {
        acc->unknown_side_packets += s->packets;
    }
    if (s->sdp_mismatch && acc->nat_stream == 0 && s->packets > 0) {
        acc->nat_stream = s->id;
        acc->nat_src = s->src;
        acc->nat_announced = s->announced;
    }
    if (s->dst_unannounced && acc->unannounced_stream == 0 && s->packets > 0) {
        acc->unannounced_stream = s->id;
        acc->unannounced_src = s->src;
        acc->unannounced_dst = s->dst;
    }
    if (s->have_rtcp)
        pick(&acc->rtcp_loss, s->id, s->rtcp_fraction_lost * 100.0, false);
    if (s->packets < VERDICT_MIN_PACKETS)
        return;
    if (s->mos > 0)
        pick(&acc->mos, s->id, s->mos, true);
    if (s->expected > 0)
        pick(&acc->loss, s->id, s->lost > 0 ? 100.0 * (double)s->lost / (double)s->expected : 0,
             false);
    pick(&acc->jitter, s->id, s->mean_jitter_ms, false);
    if (s->rtt_ms >= 0)
        pick(&acc->rtt, s->id, s->rtt_ms, false);
}

/* ------------------------------------------------------------------ reasons as JSON */

typedef struct {
    char *buf;
    size_t cap, len;
    unsigned n;
    verdict_t verdict;
} reasons_t;

/* The evidence of one reason; 0 / NULL / has_value false are JSON null. */
typedef struct {
    int64_t stream;
    int64_t message_ns;
    const char *figure;
    double value;
    bool has_value;
} evidence_t;

static void json_escaped(char *out, size_t cap, const char *s)
{
    size_t o = 0;
    for (; *s != '\0' && o + 7 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            out[o++] = '\\';
            out[o++] = (char)ch;
        } else if (ch < 0x20) {
            o += (size_t)snprintf(out + o, cap - o, "\\u%04x", ch);
        } else {
            out[o++] = (char)ch;
        }
    }
    out[o] = '\0';
}

/* Append one reason when it fits (room is kept for the closing bracket); level raises the
 * verdict. */
static void reason(reasons_t *r, verdict_t level, const char *code, const evidence_t *ev,
                   const char *fmt, ...)
{
    if (level > r->verdict)
        r->verdict = level;
    char text[320], esc[400], stream[24] = "null", msg[32] = "null", figure[48] = "null",
                              value[32] = "null";
    va_list ap;
    va_start(ap, fmt);
    /* fmt is a literal here or in the rules table above (figure_rule_t.fmt) */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    vsnprintf(text, sizeof(text), fmt, ap);
#pragma GCC diagnostic pop
    va_end(ap);
    json_escaped(esc, sizeof(esc), text);
    if (ev != NULL && ev->stream > 0)
        snprintf(stream, sizeof(stream), "%lld", (long long)ev->stream);
    if (ev != NULL && ev->message_ns > 0)
        snprintf(msg, sizeof(msg), "%.6f", (double)ev->message_ns / 1e9);
    if (ev != NULL && ev->figure != NULL)
        snprintf(figure, sizeof(figure), "\"%s\"", ev->figure);
    if (ev != NULL && ev->has_value)
        snprintf(value, sizeof(value), "%.3f", ev->value);
    char one[640];
    int n = snprintf(one, sizeof(one),
                     "%s{\"code\":\"%s\",\"text\":\"%s\",\"stream\":%s,\"message\":null,"
                     "\"message_time\":%s,\"figure\":%s,\"value\":%s}",
                     r->n > 0 ? "," : "", code, esc, stream, msg, figure, value);
    if (n < 0 || (size_t)n >= sizeof(one) || r->len + (size_t)n + 2 > r->cap)
        return;
    memcpy(r->buf + r->len, one, (size_t)n);
    r->len += (size_t)n;
    r->n++;
}

static const char *side_name(int side)
{
    return side == 0 ? "caller" : "callee";
}

static const char *ep_str(const net_endpoint_t *e, char *buf, size_t cap)
{
    if (e->addr.family == 0)
        return "an address not seen";
    return net_endpoint_str(e, buf, cap);
}

/* ------------------------------------------------------------------ unanswered calls */

static const char *status_words(uint16_t st)
{
    switch (st) {
        case 401:
        case 407:
            return " (authentication required and never given)";
        case 403:
            return " (forbidden)";
        case 404:
            return " (not found)";
        case 408:
            return " (request timeout)";
        case 480:
            return " (temporarily unavailable)";
        case 484:
            return " (address incomplete)";
        case 486:
        case 600:
            return " (busy)";
        case 488:
        case 606:
            return " (media not acceptable)";
        case 500:
            return " (server error)";
        case 502:
        case 503:
        case 504:
            return " (a server or gateway failed)";
        case 603:
            return " (declined)";
        default:
            return "";
    }
}

static void unanswered(reasons_t *r, const verdict_call_t *call)
{
    if (call->state == CALL_CANCELLED)
        return; /* the caller gave up: not a failure of the network (docs/verdict.md) */
    if (call->state == CALL_REJECTED) {
        evidence_t ev = {.message_ns = call->final_ns,
                         .figure = "final_status",
                         .value = call->final_status,
                         .has_value = true};
        reason(r, VERDICT_FAILED, "rejected", &ev, "The INVITE was answered %u%s",
               (unsigned)call->final_status, status_words(call->final_status));
        return;
    }
    if (call->in_progress && call->state != CALL_COMPLETED)
        return; /* still ringing: nothing has gone wrong so far */
    reason(r, VERDICT_FAILED, "no_answer", NULL,
           call->state == CALL_RINGING     ? "It rang, but no final response to the INVITE was seen"
           : call->state == CALL_COMPLETED ? "It ended (BYE) without a final response to the INVITE"
                                           : "No final response to the INVITE was seen");
}

/* ------------------------------------------------------------------ one-way audio */

/* The SDP direction attributes that make one-way audio intended: the silent side q sendonly
 * would be backwards; q recvonly or inactive, or the talking side h sendonly. */
static void one_way_sdp(reasons_t *r, const verdict_call_t *call, int h, int q)
{
    const verdict_side_t *sh = &call->side[h], *sq = &call->side[q];
    int who = -1;
    if (sq->dir == SDP_DIR_RECVONLY || sq->dir == SDP_DIR_INACTIVE)
        who = q;
    else if (sh->dir == SDP_DIR_SENDONLY || sh->dir == SDP_DIR_INACTIVE)
        who = h;
    if (who < 0)
        return;
    const verdict_side_t *s = &call->side[who];
    evidence_t ev = {.message_ns = s->sdp_ns};
    reason(r, VERDICT_ONE_WAY, "sdp_direction", &ev,
           "The %s's SDP says a=%s: the %s was not meant to send (hold, announcement, early "
           "media)",
           side_name(who), sdp_dir_name((sdp_dir_t)s->dir), side_name(q));
}

static void one_way_nat(reasons_t *r, const verdict_call_t *call, const verdict_acc_t *acc)
{
    char a[NET_ENDPOINT_STRLEN], b[NET_ENDPOINT_STRLEN];
    if (acc->nat_stream != 0) {
        evidence_t ev = {.stream = acc->nat_stream};
        reason(r, VERDICT_ONE_WAY, "nat_source_mismatch", &ev,
               "RTP from %s but the SDP announced %s (NAT: the far end may send to the "
               "announced address, which does not reach it)",
               ep_str(&acc->nat_src, a, sizeof(a)), ep_str(&acc->nat_announced, b, sizeof(b)));
    }
    for (int side = 0; side < 2; side++) {
        const verdict_side_t *s = &call->side[side];
        if (s->nat_ns == 0)
            continue;
        char pa[NET_ADDR_STRLEN], pb[NET_ADDR_STRLEN];
        evidence_t ev = {.message_ns = s->nat_ns};
        reason(r, VERDICT_ONE_WAY, "nat_private_sdp", &ev,
               "The %s's SDP announced the private address %s in a message from %s (behind NAT)",
               side_name(side), net_addr_str(&s->nat_private, pa, sizeof(pa)),
               net_addr_str(&s->nat_public, pb, sizeof(pb)));
    }
    if (acc->unannounced_stream != 0) {
        evidence_t ev = {.stream = acc->unannounced_stream};
        reason(r, VERDICT_ONE_WAY, "rtp_to_unannounced", &ev,
               "RTP from %s went to %s, which no SDP of the call announced",
               ep_str(&acc->unannounced_src, a, sizeof(a)),
               ep_str(&acc->unannounced_dst, b, sizeof(b)));
    }
}

static void one_way_rtcp(reasons_t *r, const verdict_call_t *call, const verdict_acc_t *acc)
{
    for (int side = 0; side < 2; side++) {
        const verdict_side_t *s = &call->side[side];
        if (s->rtcp_empty_ns == 0)
            continue;
        if (acc->packets[1 - side] > 0)
            reason(r, VERDICT_ONE_WAY, "rtcp_received_nothing", NULL,
                   "The %s's RTCP carries no reception report although the %s sent %llu RTP "
                   "packets: they were lost on the way",
                   side_name(side), side_name(1 - side),
                   (unsigned long long)acc->packets[1 - side]);
        else
            reason(r, VERDICT_ONE_WAY, "rtcp_received_nothing", NULL,
                   "The %s's RTCP carries no reception report: it received no RTP either (the "
                   "silence is not a gap in the capture)",
                   side_name(side));
    }
    if (acc->rtcp_loss.stream != 0 && acc->rtcp_loss.value >= 99.0) {
        evidence_t ev = {.stream = acc->rtcp_loss.stream,
                         .figure = "rtcp_lost_pct",
                         .value = acc->rtcp_loss.value,
                         .has_value = true};
        reason(r, VERDICT_ONE_WAY, "rtcp_received_nothing", &ev,
               "The receiver's RTCP reports %.1f %% of this stream lost: it arrived nowhere",
               acc->rtcp_loss.value);
    }
}

/* A re-INVITE or UPDATE moved side rcv's media, but RTP kept going to the old endpoint (or
 * went nowhere near the new one). */
static void one_way_moved(reasons_t *r, const verdict_call_t *call, const verdict_acc_t *acc)
{
    for (int rcv = 0; rcv < 2; rcv++) {
        const verdict_side_t *s = &call->side[rcv];
        if (s->moved_ns == 0 || acc->to_moved[rcv] > 0 || acc->packets[1 - rcv] == 0)
            continue;
        char a[NET_ENDPOINT_STRLEN], b[NET_ENDPOINT_STRLEN];
        evidence_t ev = {.stream = acc->moved_old[rcv].stream, .message_ns = s->moved_ns};
        reason(r, VERDICT_ONE_WAY, "media_moved", &ev,
               "The %s moved its media from %s to %s (re-INVITE/UPDATE), but no RTP went to the "
               "new address%s",
               side_name(rcv), ep_str(&s->moved_from, a, sizeof(a)),
               ep_str(&s->moved_to, b, sizeof(b)),
               acc->moved_old[rcv].stream != 0 ? ": it kept going to the old one" : "");
    }
}

/* Is the call one-way, and which side is silent (*quiet)? The correlator's rule (packets of any
 * kind), then the same rule over audio packets for a side that sent comfort noise only. */
static bool one_way_sides(const verdict_call_t *call, const verdict_acc_t *acc, int *quiet,
                          bool *cn_only)
{
    *cn_only = false;
    for (int q = 0; q < 2; q++) {
        int h = 1 - q;
        if (acc->packets[h] > 0 && acc->packets[q] * VERDICT_ONE_WAY_RATIO < acc->packets[h]) {
            *quiet = q;
            return true;
        }
    }
    for (int q = 0; q < 2; q++) {
        int h = 1 - q;
        if (acc->cn[q] > 0 && acc->audio[h] > 0 &&
            acc->audio[q] * VERDICT_ONE_WAY_RATIO < acc->audio[h]) {
            *quiet = q;
            *cn_only = true;
            return true;
        }
    }
    *quiet = -1;
    return call->one_way;
}

static void one_way(reasons_t *r, const verdict_call_t *call, const verdict_acc_t *acc, int q,
                    bool cn_only)
{
    if (q < 0) {
        reason(r, VERDICT_ONE_WAY, "one_way", NULL, "Media flowed in one direction only");
    } else {
        int h = 1 - q;
        evidence_t ev = {.stream = acc->main_stream[h].stream,
                         .figure = cn_only ? "audio_packets" : "packets",
                         .value = (double)(cn_only ? acc->audio[q] : acc->packets[q]),
                         .has_value = true};
        if (cn_only) {
            reason(r, VERDICT_ONE_WAY, "one_way", &ev,
                   "The %s sent %llu audio packets, the %s %llu", side_name(h),
                   (unsigned long long)acc->audio[h], side_name(q),
                   (unsigned long long)acc->audio[q]);
            evidence_t cn = {.stream = acc->main_stream[q].stream,
                             .figure = "cn_packets",
                             .value = (double)acc->cn[q],
                             .has_value = true};
            reason(r, VERDICT_ONE_WAY, "comfort_noise_only", &cn,
                   "The %s sent only comfort noise (%llu packets of PT 13/CN): silence "
                   "suppression, or a muted or broken microphone",
                   side_name(q), (unsigned long long)acc->cn[q]);
        } else if (acc->packets[q] == 0) {
            reason(r, VERDICT_ONE_WAY, "one_way", &ev,
                   "The %s sent no RTP (the %s sent %llu packets)", side_name(q), side_name(h),
                   (unsigned long long)acc->packets[h]);
        } else {
            reason(r, VERDICT_ONE_WAY, "one_way", &ev,
                   "The %s sent only %llu RTP packets against the %s's %llu", side_name(q),
                   (unsigned long long)acc->packets[q], side_name(h),
                   (unsigned long long)acc->packets[h]);
        }
        one_way_sdp(r, call, h, q);
    }
    one_way_nat(r, call, acc);
    one_way_rtcp(r, call, acc);
    one_way_moved(r, call, acc);
}

/* ------------------------------------------------------------------ quality */

/* level: VERDICT_POOR at or beyond poor, VERDICT_DEGRADED at or beyond degraded, else GOOD. */
static verdict_t level_of(double v, double poor, double degraded, bool lower_is_worse)
{
    if (lower_is_worse)
        return v < poor ? VERDICT_POOR : v < degraded ? VERDICT_DEGRADED : VERDICT_GOOD;
    return v >= poor ? VERDICT_POOR : v >= degraded ? VERDICT_DEGRADED : VERDICT_GOOD;
}

typedef struct {
    const char *code, *figure;
    double poor, degraded;
    bool lower_is_worse;
    const char *fmt; /* of the value, then the threshold */
} figure_rule_t;

static const figure_rule_t rules[] = {
    {"low_mos", "mos", VERDICT_MOS_POOR, VERDICT_MOS_DEGRADED, true,
     "MOS %.2f is below %.1f (the worst stream)"},
    {"packet_loss", "lost_pct", VERDICT_LOSS_POOR, VERDICT_LOSS_DEGRADED, false,
     "%.2f %% of the packets were lost (at or above %.0f %%)"},
    {"far_end_loss", "rtcp_lost_pct", VERDICT_LOSS_POOR, VERDICT_LOSS_DEGRADED, false,
     "The receiver's RTCP reports %.2f %% lost (at or above %.0f %%)"},
    {"jitter", "mean_jitter_ms", VERDICT_JITTER_POOR, VERDICT_JITTER_DEGRADED, false,
     "Mean jitter %.1f ms (at or above %.0f ms)"},
    {"round_trip", "rtt_ms", VERDICT_RTT_POOR, VERDICT_RTT_DEGRADED, false,
     "RTCP round-trip time %.0f ms (at or above %.0f ms)"},
};

static void quality(reasons_t *r, const verdict_acc_t *acc)
{
    const verdict_pick_t *picks[] = {&acc->mos, &acc->loss, &acc->rtcp_loss, &acc->jitter,
                                     &acc->rtt};
    verdict_t loss_level = VERDICT_GOOD;
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        const figure_rule_t *rule = &rules[i];
        const verdict_pick_t *p = picks[i];
        if (p->stream == 0)
            continue;
        verdict_t level = level_of(p->value, rule->poor, rule->degraded, rule->lower_is_worse);
        if (level == VERDICT_GOOD || (p == &acc->rtcp_loss && level <= loss_level))
            continue; /* the far end's loss adds nothing when the loss seen here is as bad */
        if (p == &acc->loss)
            loss_level = level;
        evidence_t ev = {
            .stream = p->stream, .figure = rule->figure, .value = p->value, .has_value = true};
        reason(r, level, rule->code, &ev, rule->fmt, p->value,
               level == VERDICT_POOR ? rule->poor : rule->degraded);
    }
}

/* ------------------------------------------------------------------ the verdict */

static void no_media(reasons_t *r, const verdict_call_t *call)
{
    reason(r, VERDICT_NO_MEDIA, "no_media", NULL,
           "Answered, but no RTP was seen in either direction");
    if (call->side[0].sdp_ns == 0 && call->side[1].sdp_ns == 0)
        reason(r, VERDICT_NO_MEDIA, "no_sdp", NULL,
               "No SDP was seen: the media addresses are unknown");
    for (int side = 0; side < 2; side++) {
        const verdict_side_t *s = &call->side[side];
        if (s->dir == SDP_DIR_INACTIVE) {
            evidence_t ev = {.message_ns = s->sdp_ns};
            reason(r, VERDICT_NO_MEDIA, "sdp_direction", &ev, "The %s's SDP says a=inactive",
                   side_name(side));
        }
    }
}

verdict_t verdict_decide(const verdict_call_t *call, const verdict_acc_t *acc, char *buf,
                         size_t cap)
{
    reasons_t r = {.buf = buf, .cap = cap, .len = 0, .n = 0, .verdict = VERDICT_GOOD};
    if (cap < 3) {
        if (cap > 0)
            buf[0] = '\0';
        return VERDICT_GOOD;
    }
    buf[r.len++] = '[';
    if (call->answer_ns == 0) {
        unanswered(&r, call);
    } else if (acc->packets[0] + acc->packets[1] + acc->unknown_side_packets == 0) {
        bool early = call->in_progress && call->now_ns - call->answer_ns <
                                              (int64_t)VERDICT_NO_MEDIA_GRACE_S * 1000000000;
        if (!early)
            no_media(&r, call);
    } else {
        int quiet;
        bool cn_only;
        if (one_way_sides(call, acc, &quiet, &cn_only))
            one_way(&r, call, acc, quiet, cn_only);
        quality(&r, acc);
    }
    buf[r.len++] = ']';
    buf[r.len] = '\0';
    return r.verdict;
}
