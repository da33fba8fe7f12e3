/* corr_stream: RTP and RTCP into media streams: create and match a stream to the call whose SDP
 * announced it, account every packet (the per-packet fast path), RTCP reports and RTT, and emit
 * stream and sample records. */
#include "corr.h"

#include <stddef.h>
#include <string.h>

#include "corr_int.h"

/* ------------------------------------------------------------------ streams */

void corr_stream_emit_sample_record(corr_t *c, stream_t *s, sample_record_t *rec)
{
    if (c->sink.on_sample == NULL || c->cfg.sample_interval_s == 0)
        return;
    if (!s->published) /* its row before its first sample's (corr.h) */
        corr_stream_snapshot(c, s);
    rec->stream_row = s->id;
    c->sink.on_sample(c->sink.ctx, rec);
    if (c->sink.on_stream_sample != NULL && !s->remote) {
        rtpstat_result_t r;
        stream_record_t stream;
        corr_stream_result(s, &r);
        corr_stream_record(s, &r, &stream);
        c->sink.on_stream_sample(c->sink.ctx, &stream, rec);
    }
}

static void emit_sample(corr_t *c, stream_t *s, const rtpstat_sample_t *smp)
{
    sample_record_t rec = {
        .start_ns = smp->start_ns,
        .packets = smp->packets,
        .lost = smp->lost,
        .jitter_ms = smp->jitter_ms,
        .max_jitter_ms = smp->max_jitter_ms,
        .mos = smp->mos,
    };
    corr_stream_emit_sample_record(c, s, &rec);
}

/* Resolve pt through the static table or the call's SDP maps (the receiver's SDP first: a
 * sender uses the payload numbers of the side it sends to). */
static bool codec_lookup(const call_t *call, int dst_side, uint8_t pt, const char **name,
                         uint32_t *clock, bool *event)
{
    *event = false;
    *clock = rtp_static_clock_rate(pt);
    const char *stat = rtp_static_codec(pt);
    if (*clock != 0 || stat != NULL) {
        *name = stat != NULL ? stat : "";
        return true;
    }
    for (int k = 0; call != NULL && k < 2; k++) {
        int side = k == 0 ? dst_side : 1 - dst_side;
        if (side < 0 || side > 1)
            continue;
        for (int i = 0; i < call->n_maps[side]; i++) {
            const pt_map_t *m = &call->maps[side][i];
            if (m->pt == pt) {
                *name = call_str(call, m->name);
                *clock = m->clock;
                *event = m->event;
                return true;
            }
        }
    }
    *name = "";
    return false;
}

/* Called for each packet whose PT is not the stream's audio PT: true for telephone-event;
 * the first other packet fixes the stream's payload type and codec. */
static bool stream_check_pt(stream_t *s, uint8_t pt)
{
    const char *name;
    uint32_t clock;
    bool event;
    int dst_side = s->dir >= 0 ? 1 - s->dir : -1;
    codec_lookup(s->call, dst_side, pt, &name, &clock, &event);
    if (event)
        return true;
    if (!s->have_pt) {
        s->have_pt = true;
        s->pt = pt;
        sv_copy(sv_from_cstr(name), s->codec, sizeof(s->codec));
        s->clock = clock;
    }
    return false;
}

/* Is src one of the RTP endpoints side announced for call? (False also when side announced
 * nothing we saw: then there is nothing to differ from.) */
static bool src_differs_from_sdp(const corr_t *c, const call_t *call, int side,
                                 const net_endpoint_t *src)
{
    if (!call->announced[side])
        return false;
    media_key_t k;
    media_key_from(&k, src);
    for (int i = 0; i < call->n_eps; i++) {
        const media_ent_t *e = media_idx_get(c->idx, call->eps[i]);
        if (e != NULL && e->owner == call && e->side == side &&
            (e->kind == MEDIA_RTP || e->kind == MEDIA_MUX) && media_key_eq(&e->key, &k))
            return false;
    }
    return true;
}

/* sdp_mismatch, decided once the sender's SDP is known (a stream can start before the answer
 * that announces its sender's endpoint): only streams matched by destination can tell. */
static void stream_check_nat(const corr_t *c, stream_t *s)
{
    if (s->nat_checked || s->call == NULL || !s->by_dst || s->dir < 0 ||
        !s->call->announced[s->dir])
        return;
    net_endpoint_t src;
    media_key_to(&s->flow.key.src, &src);
    s->sdp_mismatch = src_differs_from_sdp(c, s->call, s->dir, &src);
    s->nat_checked = true;
}

static void stream_unlink_call(stream_t *s)
{
    call_t *call = s->call;
    if (call == NULL)
        return;
    if (s->last_ns > call->media_ns) /* its media, for the call's idle timeout */
        call->media_ns = s->last_ns;
    for (stream_t **link = &call->streams; *link != NULL; link = &(*link)->call_next) {
        if (*link == s) {
            *link = s->call_next;
            break;
        }
    }
    s->call_next = NULL;
}

void corr_stream_result(const stream_t *s, rtpstat_result_t *r)
{
    if (!s->remote) {
        rtpstat_result(&s->st, r);
        return;
    }
    memset(r, 0, sizeof(*r));
    r->packets = s->rem.packets;
    r->lost = s->rem.lost;
    r->expected = (int64_t)s->rem.packets + s->rem.lost;
    r->duplicates = s->rem.duplicates;
    r->out_of_order = s->rem.out_of_order;
    r->seq_errors = s->rem.seq_errors;
    r->max_delta_ms = s->rem.max_delta_ms;
    r->mean_jitter_ms = s->rem.mean_jitter_ms;
    r->max_jitter_ms = s->rem.max_jitter_ms;
    r->mos = s->rem.mos;
    r->first_ns = s->first_ns;
    r->last_ns = s->last_ns;
}

void corr_stream_record(const stream_t *s, const rtpstat_result_t *r, stream_record_t *rec)
{
    const call_t *call = s->call;
    memset(rec, 0, sizeof(*rec));
    rec->id = s->id;
    rec->call_row = call != NULL ? call->id : 0;
    rec->call_id = call != NULL ? call_str(call, call->s_callid) : NULL;
    media_key_to(&s->flow.key.src, &rec->src);
    media_key_to(&s->flow.key.dst, &rec->dst);
    rec->ssrc = s->flow.key.ssrc;
    rec->payload_type = s->pt;
    rec->codec = s->codec;
    rec->clock_rate = s->clock;
    rec->first_ns = s->first_ns;
    rec->last_ns = s->last_ns;
    rec->packets = r->packets;
    rec->lost = r->lost;
    rec->duplicates = r->duplicates;
    rec->out_of_order = r->out_of_order;
    rec->seq_errors = r->seq_errors;
    rec->max_delta_ms = r->max_delta_ms;
    rec->mean_jitter_ms = r->mean_jitter_ms;
    rec->max_jitter_ms = r->max_jitter_ms;
    rec->mos = r->mos;
    rec->sdp_mismatch = s->sdp_mismatch;
    uint8_t srtp = call_srtp(call, s->mline);
    rec->srtp = srtp != SRTP_NONE;
    rec->srtp_suite = srtp_suite_names[srtp < ARRAY_LEN(srtp_suite_names) ? srtp : SRTP_OTHER];
    rec->have_rtcp = s->have_rtcp;
    rec->rtcp_fraction_lost = s->rtcp_fraction;
    rec->rtcp_cumulative_lost = s->rtcp_cum_lost;
    rec->rtcp_jitter_ms = s->rtcp_jitter_ms;
    rec->rtcp_rtt_ms = s->rtcp_rtt_ms;
    rec->has_probe = s->remote;
    rec->probe_id = s->probe_id;
}

/* A live stream's figures so far, to on_stream_progress (each sample interval of its media). */
static void emit_progress(corr_t *c, const stream_t *s)
{
    if (c->sink.on_stream_progress == NULL)
        return;
    rtpstat_result_t r;
    stream_record_t rec;
    corr_stream_result(s, &r);
    corr_stream_record(s, &r, &rec);
    c->sink.on_stream_progress(c->sink.ctx, &rec);
}

void corr_stream_finish(corr_t *c, stream_t *s, fin_t why)
{
    /* The stream's record before its last samples: its row then exists when they are stored,
     * without a snapshot first (a stream shorter than a sample interval needs none). */
    rtpstat_sample_t smp[2];
    int n_smp = 0;
    if (!s->remote) {
        stream_check_nat(c, s);
        if (rtpstat_take_sample(&s->st, &smp[n_smp]))
            n_smp++;
        if (rtpstat_finish_sample(&s->st, &smp[n_smp]))
            n_smp++;
    }
    rtpstat_result_t r;
    corr_stream_result(s, &r);
    corr_verdict_stream_end(s, &r);
    corr_dtmf_stream_end(c, s);
    call_t *call = s->call;
    if (c->sink.on_stream != NULL) {
        stream_record_t rec;
        corr_stream_record(s, &r, &rec);
        c->sink.on_stream(c->sink.ctx, &rec);
    }
    s->published = true;
    for (int i = 0; i < n_smp; i++)
        emit_sample(c, s, &smp[i]);
    if (call != NULL) {
        if (s->dir == 0 || s->dir == 1)
            call->media_pkts[s->dir] += r.packets;
        if (r.packets > 0 && r.mos > 0 && (call->worst_mos == 0 || r.mos < call->worst_mos))
            call->worst_mos = r.mos;
        if (s->sdp_mismatch)
            call->nat = true;
        stream_unlink_call(s);
    }
    switch (why) {
        case FIN_ENDED:
            c->stats.streams_ended++;
            break;
        case FIN_TIMEOUT:
            c->stats.streams_timed_out++;
            break;
        case FIN_EVICT:
            c->stats.streams_evicted++;
            break;
        case FIN_FLUSH:
            c->stats.streams_flushed++;
            break;
    }
    if (!s->remote) { /* a remote stream is only in its call's list */
        media_flows_remove(&c->flows, &s->flow);
        list_remove(&c->stream_q, &s->qnode);
    }
    media_pool_put(&c->streams, s);
    c->stats.live_streams--;
}

/* Claims on one endpoint looked at for a new stream, newest first. */
#define MATCH_WALK 64
/* Calls up and without a stream on the flow that announced the endpoint this shortly before a
 * stream's first packet are racing for it: media starts some time after the offer/answer (SIPp:
 * 18-120 ms at 300 calls/s, while the next call answers 3 ms later), so the earliest of them is
 * the one whose media this is. */
#define MATCH_RACE_NS (NS_PER_S)

/* Did call announce ep for side? */
static bool call_announced(const corr_t *c, const call_t *call, const media_key_t *ep, int side)
{
    for (int i = 0; i < call->n_eps; i++) {
        const media_ent_t *e = media_idx_get(c->idx, call->eps[i]);
        if (e != NULL && e->owner == call && e->side == side && media_key_eq(&e->key, ep))
            return true;
    }
    return false;
}

/* Does call already have a stream from s's source to s's destination? */
static bool call_has_flow(const call_t *call, const stream_t *s)
{
    for (const stream_t *o = call->streams; o != NULL; o = o->call_next) {
        if (media_key_eq(&o->flow.key.src, &s->flow.key.src) &&
            media_key_eq(&o->flow.key.dst, &s->flow.key.dst))
            return true;
    }
    return false;
}

/* How well the call of claim e (on s's destination when by_dst, else on its source) fits the
 * new stream s: its offer/answer named both ends of the flow (4), it has not ended (2), it has
 * no stream along this flow yet (1). */
static int match_score(const corr_t *c, const media_ent_t *e, const stream_t *s, bool by_dst)
{
    const call_t *call = e->owner;
    int score = 0;
    if (by_dst && call_announced(c, call, &s->flow.key.src, 1 - e->side))
        score += 4;
    if (call->queue != Q_ENDED)
        score += 2;
    if (!call_has_flow(call, s))
        score += 1;
    return score;
}

/* Among calls racing for a stream: 2 when its answer was ACKed before the stream's first
 * packet (SIPp: media starts after the ACK; a call whose caller gave up was answered but never
 * ACKed, and must not take the next call's media, which would shift every later one), else 1;
 * 0 when not racing. */
static int race_rank(const media_ent_t *e, int score, const stream_t *s)
{
    if ((score & 3) != 3 || e->ts < s->first_ns - MATCH_RACE_NS)
        return 0;
    const call_t *call = e->owner;
    return call->ack_ns != 0 && call->ack_ns <= s->first_ns ? 2 : 1;
}

/* The best claim on ep for s: the highest match_score; among equals the newest, except that
 * among calls racing for the stream (up, no stream on this flow, announced within
 * MATCH_RACE_NS of its first packet) the ACKed ones, and the earliest of those. */
static const media_ent_t *best_claim(const corr_t *c, const media_key_t *k, const stream_t *s,
                                     bool by_dst)
{
    net_endpoint_t ep;
    media_key_to(k, &ep);
    const media_ent_t *best = NULL;
    int best_score = -1, best_rank = 0;
    const media_ent_t *e = media_idx_find(c->idx, &ep);
    for (int n = 0; e != NULL && n < MATCH_WALK; e = media_idx_older(c->idx, e), n++) {
        int score = match_score(c, e, s, by_dst);
        int rank = race_rank(e, score, s);
        if (score > best_score || (score == best_score && rank > 0 && rank >= best_rank)) {
            best = e;
            best_score = score;
            best_rank = rank;
        }
    }
    return best;
}

/* Attach a new stream s to a call. A packet to an announced endpoint belongs to a call that
 * announced it, whatever its source (NAT rewrites sources, not the destinations the far end
 * learnt); failing that, a packet from an announced endpoint. When several calls announced the
 * endpoint (ports reused), the newest announcement before the stream's first packet wins,
 * unless an older call fits better (match_score): a call whose offer/answer named both ends, a
 * call still up, a call without a stream on this flow yet; and among calls that announced it
 * within a second, are up and have no stream on this flow yet, the earliest (best_claim). The
 * stream then stays with that call for good, whatever later SDPs announce. */
static void stream_match(corr_t *c, stream_t *s)
{
    bool by_dst = true;
    const media_ent_t *e = best_claim(c, &s->flow.key.dst, s, true);
    if (e == NULL) {
        by_dst = false;
        e = best_claim(c, &s->flow.key.src, s, false);
    }
    if (e == NULL)
        return;
    call_t *call = e->owner;
    s->call = call;
    s->by_dst = by_dst;
    s->dir = (int8_t)(by_dst ? 1 - e->side : e->side);
    for (int i = 0; i < call->n_eps; i++) {
        if (media_idx_get(c->idx, call->eps[i]) == e)
            s->mline = call->eps_mline[i];
    }
    s->call_next = call->streams;
    call->streams = s;
    stream_check_nat(c, s);
}

/* The stream to evict at max_streams: the head of the idle queue, once the heads that were
 * active since they were queued have been moved on (a few at most, to stay O(1)). */
static stream_t *stream_victim(corr_t *c)
{
    for (int i = 0; i < 8; i++) {
        stream_t *s = CONTAINER_OF(c->stream_q.head, stream_t, qnode);
        if (s->last_ns <= s->queued_ns || s->qnode.next == NULL)
            return s;
        list_remove(&c->stream_q, &s->qnode);
        s->queued_ns = s->last_ns;
        list_push_tail(&c->stream_q, &s->qnode);
    }
    return CONTAINER_OF(c->stream_q.head, stream_t, qnode);
}

/* The stream's payload type, codec and clock come from its first packet. When that is a
 * telephone event, the record says so until audio arrives (an events-only stream keeps it), and
 * rtpstat is set up for the first audio mapping the receiver announced (the audio that will
 * follow), so that it knows which dynamic type the clock rate belongs to. */
static void stream_init_stats(corr_t *c, stream_t *s, uint8_t pt)
{
    const char *name;
    uint32_t clock;
    bool event;
    int dst_side = s->dir >= 0 ? 1 - s->dir : -1;
    codec_lookup(s->call, dst_side, pt, &name, &clock, &event);
    s->pt = pt;
    s->have_pt = !event;
    s->clock = clock;
    sv_copy(sv_from_cstr(name), s->codec, sizeof(s->codec));
    int media_pt = pt;
    if (event) {
        media_pt = -1;
        name = "";
        clock = 0;
        for (int k = 0; s->call != NULL && k < 2 && media_pt < 0; k++) {
            int side = k == 0 ? dst_side : 1 - dst_side;
            if (side < 0 || side > 1)
                continue;
            for (int i = 0; i < s->call->n_maps[side]; i++) {
                const pt_map_t *m = &s->call->maps[side][i];
                if (!m->event) {
                    media_pt = m->pt;
                    name = call_str(s->call, m->name);
                    clock = m->clock;
                    break;
                }
            }
        }
    }
    rtpstat_init(&s->st, clock, name);
    if (media_pt >= 96 && media_pt <= 127)
        rtpstat_set_media_pt(&s->st, (uint8_t)media_pt);
    if (c->cfg.sample_interval_s > 0)
        rtpstat_set_interval(&s->st, c->cfg.sample_interval_s * 1000u);
}

static stream_t *stream_create(corr_t *c, const packet_view_t *pkt, const rtp_hdr_t *rtp,
                               uint64_t hash)
{
    stream_t *s = media_pool_get(&c->streams);
    if (s == NULL && c->stream_q.head != NULL) {
        /* At max_streams the stream idle the longest goes (emitted as it stands). */
        corr_stream_finish(c, stream_victim(c), FIN_EVICT);
        s = media_pool_get(&c->streams);
    }
    if (s == NULL) {
        c->stats.streams_refused++;
        return NULL;
    }
    media_key_from(&s->flow.key.src, &pkt->src);
    media_key_from(&s->flow.key.dst, &pkt->dst);
    s->flow.key.ssrc = rtp->ssrc;
    s->flow.hash = hash;
    if (!media_flows_insert(&c->flows, &s->flow)) {
        media_pool_put(&c->streams, s);
        c->stats.streams_refused++;
        return NULL;
    }
    s->id = new_id(c);
    s->dir = -1;
    s->first_ns = s->last_ns = s->queued_ns = s->rematch_ns = pkt->ts_ns;
    s->rtcp_rtt_ms = -1;
    stream_match(c, s);
    stream_init_stats(c, s, rtp->payload_type);
    list_push_tail(&c->stream_q, &s->qnode);
    c->stats.streams_created++;
    c->stats.live_streams++;
    if (s->call == NULL)
        c->stats.streams_unsignalled++;
    return s;
}

/* ------------------------------------------------------------------ RTP */

/* One RTP packet of stream s. */
static call_t *rtp_on_stream(corr_t *c, int64_t ts, const rtp_hdr_t *rtp, stream_t *s)
{
    if (s->call == NULL && ts - s->rematch_ns >= NS_PER_S) {
        /* Media seen before the SDP that names it (a capture started mid-call, then a
         * re-INVITE): look again, once a second. */
        s->rematch_ns = ts;
        stream_match(c, s);
        if (s->call != NULL && s->have_pt && s->codec[0] == '\0') {
            const char *name;
            uint32_t clock;
            bool event;
            codec_lookup(s->call, 1 - s->dir, s->pt, &name, &clock, &event);
            sv_copy(sv_from_cstr(name), s->codec, sizeof(s->codec));
        }
    }
    bool event = false;
    if (!s->have_pt || rtp->payload_type != s->pt) {
        bool had_pt = s->have_pt;
        event = stream_check_pt(s, rtp->payload_type);
        corr_verdict_other_pt(s, rtp->payload_type, event, had_pt);
        if (event)
            corr_dtmf_packet(c, s, ts, rtp);
    }
    if (rtpstat_add(&s->st, ts, rtp, event)) {
        rtpstat_sample_t smp;
        if (rtpstat_take_sample(&s->st, &smp))
            emit_sample(c, s, &smp);
        emit_progress(c, s);
    }
    /* Activity only moves the stream's timestamp: the call is not touched per packet (with
     * thousands of calls its cache line is a miss). Its idle timeout reads its live streams'
     * times (call_active_ns), and a stream that ends hands its time over. */
    if (ts > s->last_ns)
        s->last_ns = ts;
    s->dirty = true;
    return s->call;
}

call_ref_t corr_on_rtp(corr_t *c, const packet_view_t *pkt, const rtp_hdr_t *rtp)
{
    advance(c, pkt->ts_ns);
    c->stats.rtp_packets++;
    uint64_t hash = media_flows_hash(&c->flows, &pkt->src, &pkt->dst, rtp->ssrc);
    stream_t *s = (stream_t *)media_flows_find(&c->flows, &pkt->src, &pkt->dst, rtp->ssrc, hash);
    if (s == NULL && (s = stream_create(c, pkt, rtp, hash)) == NULL)
        return ref_of(NULL);
    return ref_of(rtp_on_stream(c, pkt->ts_ns, rtp, s));
}

uint64_t corr_rtp_hint(const corr_t *c, const net_endpoint_t *src, const net_endpoint_t *dst,
                       const uint8_t *payload, size_t len)
{
    if (len < 12 || (payload[0] & 0xc0) != 0x80)
        return 0;
    uint32_t ssrc = (uint32_t)payload[8] << 24 | (uint32_t)payload[9] << 16 |
                    (uint32_t)payload[10] << 8 | payload[11];
    return media_flows_hash(&c->flows, src, dst, ssrc);
}

void corr_prefetch(const corr_t *c, uint64_t hint, int stage)
{
    media_flow_t *const *bucket = &c->flows.buckets[hint & c->flows.mask];
    if (stage == 0) {
        __builtin_prefetch(bucket, 0);
        return;
    }
    const char *s = (const char *)*bucket;
    if (s == NULL)
        return;
    for (size_t off = 0; off < offsetof(stream_t, st) + RTPSTAT_HOT_BYTES; off += 64)
        __builtin_prefetch(s + off, 1);
}

bool corr_on_rtp_known(corr_t *c, int64_t ts_ns, const net_endpoint_t *src,
                       const net_endpoint_t *dst, const rtp_hdr_t *rtp, uint64_t hint,
                       call_ref_t *ref)
{
    /* A wrong hint could only miss (the keys are compared), never match another stream. */
    uint64_t hash = hint != 0 ? hint : media_flows_hash(&c->flows, src, dst, rtp->ssrc);
    stream_t *s = (stream_t *)media_flows_find(&c->flows, src, dst, rtp->ssrc, hash);
    if (s == NULL)
        return false;
    advance(c, ts_ns);
    c->stats.rtp_packets++;
    call_t *call = rtp_on_stream(c, ts_ns, rtp, s);
    if (ref != NULL)
        *ref = ref_of(call);
    return true;
}

/* ------------------------------------------------------------------ RTCP */

/* The stream an RTCP packet speaks of: with ssrc and sent by the RTCP sender (its SR), or
 * received by it (its report blocks). Through the call's streams when the RTCP endpoint is
 * announced, else by the usual port layout (RTP on RTCP port - 1, or the same port with mux). */
static stream_t *rtcp_stream(corr_t *c, call_t *call, const packet_view_t *pkt, uint32_t ssrc,
                             bool sent_by_reporter)
{
    media_key_t rep;
    media_key_from(&rep, &pkt->src);
    if (call != NULL) {
        stream_t *any = NULL;
        for (stream_t *s = call->streams; s != NULL; s = s->call_next) {
            if (s->flow.key.ssrc != ssrc || s->remote) /* a probe's report already has it */
                continue;
            const media_key_t *end = sent_by_reporter ? &s->flow.key.src : &s->flow.key.dst;
            if (end->family == rep.family && memcmp(end->addr, rep.addr, 16) == 0)
                return s;
            if (any == NULL)
                any = s;
        }
        if (any != NULL)
            return any;
    }
    static const uint16_t offsets[2] = {1, 0};
    for (int i = 0; i < 2; i++) {
        uint16_t d = offsets[i];
        if (pkt->src.port < d || pkt->dst.port < d)
            continue;
        net_endpoint_t a = pkt->src, b = pkt->dst;
        a.port = (uint16_t)(a.port - d);
        b.port = (uint16_t)(b.port - d);
        const net_endpoint_t *src = sent_by_reporter ? &a : &b;
        const net_endpoint_t *dst = sent_by_reporter ? &b : &a;
        uint64_t hash = media_flows_hash(&c->flows, src, dst, ssrc);
        media_flow_t *f = media_flows_find(&c->flows, src, dst, ssrc, hash);
        if (f != NULL)
            return (stream_t *)f;
    }
    return NULL;
}

static void stream_rtcp_report(stream_t *s, const rtcp_report_t *r, int64_t ts)
{
    s->have_rtcp = true;
    s->dirty = true;
    s->rtcp_fraction = r->fraction_lost / 256.0;
    s->rtcp_cum_lost = r->cumulative_lost;
    s->rtcp_jitter_ms = s->clock != 0 ? (double)r->jitter * 1000.0 / s->clock : 0;
    if (r->lsr == 0 || !s->have_sr)
        return;
    /* RFC 3550 6.4.1: RTT = A - LSR - DLSR, A the report's arrival in the SR sender's NTP
     * clock. We read that clock off the last SR we saw it send, moved on by capture time. */
    int64_t since = ts - s->sr_ns;
    if (since < 0 || since > 3600 * NS_PER_S)
        return;
    uint32_t arrival = s->sr_mid + (uint32_t)(since * 65536 / NS_PER_S);
    int32_t rtt = (int32_t)(arrival - r->lsr - r->dlsr);
    if (rtt >= 0) {
        s->rtcp_rtt_ms = rtt * 1000.0 / 65536.0;
        rtpstat_set_rtt(&s->st, s->rtcp_rtt_ms);
    }
}

call_ref_t corr_on_rtcp(corr_t *c, const packet_view_t *pkt, const rtcp_compound_t *rtcp)
{
    int64_t ts = pkt->ts_ns;
    advance(c, ts);
    c->stats.rtcp_packets++;
    const media_ent_t *e = media_idx_find(c->idx, &pkt->dst);
    if (e == NULL)
        e = media_idx_find(c->idx, &pkt->src);
    call_t *call = e != NULL ? e->owner : NULL;
    /* With ports reused the newest announcer may not be the call the report is about: the
     * call of a stream it names is. */
    call_t *about = NULL;
    for (size_t i = 0; i < rtcp->n_packets && i < RTCP_MAX_PACKETS; i++) {
        const rtcp_packet_t *p = &rtcp->packets[i];
        if (p->type != RTCP_SR && p->type != RTCP_RR)
            continue;
        if (p->type == RTCP_SR) {
            stream_t *s = rtcp_stream(c, call, pkt, p->ssrc, true);
            if (s != NULL) {
                s->sr_mid = (uint32_t)(p->ntp >> 16);
                s->sr_ns = ts;
                s->have_sr = true;
                about = about != NULL ? about : s->call;
            }
        }
        for (size_t j = 0; j < p->n_reports && j < RTCP_MAX_REPORTS; j++) {
            stream_t *s = rtcp_stream(c, call, pkt, p->reports[j].ssrc, false);
            if (s != NULL) {
                stream_rtcp_report(s, &p->reports[j], ts);
                about = about != NULL ? about : s->call;
            }
        }
    }
    if (about != NULL)
        call = about;
    if (call != NULL && ts > call->media_ns)
        call->media_ns = ts;
    corr_verdict_rtcp(c, call, pkt, rtcp);
    return ref_of(call);
}

corr_media_t corr_media_kind(corr_t *c, const packet_view_t *pkt)
{
    const media_ent_t *e = media_idx_find(c->idx, &pkt->dst);
    if (e == NULL)
        e = media_idx_find(c->idx, &pkt->src);
    if (e == NULL)
        return CORR_MEDIA_NONE;
    if (e->kind == MEDIA_RTCP)
        return CORR_MEDIA_RTCP;
    /* RFC 5761 4: on a muxed port, RTCP packet types 192..223 sit where RTP has M + PT. */
    if (e->kind == MEDIA_MUX && pkt->payload != NULL && pkt->len >= 2 && pkt->payload[1] >= 192 &&
        pkt->payload[1] <= 223)
        return CORR_MEDIA_RTCP;
    return CORR_MEDIA_RTP;
}
