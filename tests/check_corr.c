/* check_corr: the correlator on SIP text through the real parser, RTP headers and RTCP reports:
 * call states and timings, forks, re-INVITEs, media matching (NAT, port reuse, SSRC change,
 * unsignalled), timeouts, eviction and hostile input. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corr.h"
#include "netaddr.h"
#include "sip.h"

/* ------------------------------------------------------------------ recording sink */

#define MAX_REC 256
#define T0      1705312800LL

typedef struct {
    call_record_t r;
    char call_id[1200], from_uri[160], to_uri[160], from_tag[160], to_tag[160], ua[160];
    char reasons[2048];
    int order;
} rec_call_t;

typedef struct {
    stream_record_t r;
    bool has_call_id;
    char call_id[300], codec[32];
    int order;
} rec_stream_t;

typedef struct {
    message_record_t r;
    char method[32], call_id[300];
    int order;
} rec_msg_t;

static struct {
    rec_call_t calls[MAX_REC];
    size_t n_calls;
    rec_stream_t streams[MAX_REC];
    size_t n_streams;
    rec_msg_t msgs[MAX_REC];
    size_t n_msgs;
    sample_record_t samples[MAX_REC];
    int sample_order[MAX_REC];
    size_t n_samples;
    int order;
} R;

static void copy_str(char *dst, size_t cap, const char *s)
{
    snprintf(dst, cap, "%s", s != NULL ? s : "");
}

static void on_call(void *ctx, const call_record_t *c)
{
    (void)ctx;
    R.order++;
    if (R.n_calls >= MAX_REC) {
        R.n_calls++;
        return;
    }
    rec_call_t *x = &R.calls[R.n_calls++];
    x->r = *c;
    x->order = R.order;
    copy_str(x->call_id, sizeof(x->call_id), c->call_id);
    copy_str(x->from_uri, sizeof(x->from_uri), c->from_uri);
    copy_str(x->to_uri, sizeof(x->to_uri), c->to_uri);
    copy_str(x->from_tag, sizeof(x->from_tag), c->from_tag);
    copy_str(x->to_tag, sizeof(x->to_tag), c->to_tag);
    copy_str(x->ua, sizeof(x->ua), c->user_agent);
    copy_str(x->reasons, sizeof(x->reasons), c->reasons);
    x->r.reasons = x->reasons;
}

/* Does the call's verdict give a reason of this code? */
static bool has_reason(const rec_call_t *c, const char *code)
{
    char key[64];
    snprintf(key, sizeof(key), "\"code\":\"%s\"", code);
    return strstr(c->reasons, key) != NULL;
}

static void on_stream(void *ctx, const stream_record_t *s)
{
    (void)ctx;
    R.order++;
    if (R.n_streams >= MAX_REC) {
        R.n_streams++;
        return;
    }
    rec_stream_t *x = &R.streams[R.n_streams++];
    x->r = *s;
    x->order = R.order;
    x->has_call_id = s->call_id != NULL;
    copy_str(x->call_id, sizeof(x->call_id), s->call_id);
    copy_str(x->codec, sizeof(x->codec), s->codec);
}

static void on_sample(void *ctx, const sample_record_t *s)
{
    (void)ctx;
    R.order++;
    if (R.n_samples < MAX_REC) {
        R.samples[R.n_samples] = *s;
        R.sample_order[R.n_samples] = R.order;
    }
    R.n_samples++;
}

static void on_message(void *ctx, const message_record_t *m)
{
    (void)ctx;
    R.order++;
    if (R.n_msgs >= MAX_REC) {
        R.n_msgs++;
        return;
    }
    rec_msg_t *x = &R.msgs[R.n_msgs++];
    x->r = *m;
    x->order = R.order;
    copy_str(x->method, sizeof(x->method), m->method);
    copy_str(x->call_id, sizeof(x->call_id), m->call_id);
    /* raw is borrowed: check it here, while it is valid. */
    ck_assert(m->raw != NULL && m->raw_len > 0);
    ck_assert(memcmp(m->raw, m->is_request ? m->method : "SIP/2.0", 3) == 0);
}

/* Progress reports of live streams: how many, and the last one. */
static struct {
    size_t n;
    stream_record_t last;
} P;

static void on_progress(void *ctx, const stream_record_t *s)
{
    (void)ctx;
    P.n++;
    P.last = *s;
    P.last.codec = NULL; /* borrowed */
    P.last.call_id = NULL;
    P.last.srtp_suite = NULL;
}

/* DTMF digits, in the order they came. */
static struct {
    dtmf_record_t d[32];
    char digit[32][8], via[32][8];
    size_t n;
} DT;

static void on_dtmf(void *ctx, const dtmf_record_t *d)
{
    (void)ctx;
    if (DT.n >= 32)
        return;
    DT.d[DT.n] = *d;
    copy_str(DT.digit[DT.n], sizeof(DT.digit[0]), d->digit);
    copy_str(DT.via[DT.n], sizeof(DT.via[0]), d->via);
    DT.d[DT.n].digit = DT.digit[DT.n];
    DT.d[DT.n].via = DT.via[DT.n];
    DT.d[DT.n].call_id = NULL; /* borrowed */
    DT.n++;
}

static const corr_sink_t SINK = {.on_call = on_call,
                                 .on_stream = on_stream,
                                 .on_sample = on_sample,
                                 .on_message = on_message,
                                 .on_stream_progress = on_progress,
                                 .on_dtmf = on_dtmf};

static corr_t *C;

/* Extra header lines (each ending in CRLF) for the next messages built; "" for none. */
static const char *EXTRA_HDRS = "";

static corr_t *fresh(const corr_cfg_t *cfg)
{
    corr_free(C);
    memset(&R, 0, sizeof(R));
    memset(&P, 0, sizeof(P));
    corr_cfg_t def;
    corr_cfg_init(&def);
    C = corr_new(cfg != NULL ? cfg : &def, &SINK);
    ck_assert(C != NULL);
    return C;
}

static void setup(void)
{
    C = NULL;
    EXTRA_HDRS = "";
    fresh(NULL);
}

static void teardown(void)
{
    corr_free(C);
    C = NULL;
}

static const corr_stats_t *stats(void)
{
    return corr_stats(C);
}

/* ------------------------------------------------------------------ inputs */

/* Capture time: seconds after T0. */
static int64_t ns(double rel)
{
    return T0 * 1000000000LL + (int64_t)llround(rel * 1e9);
}

static net_endpoint_t ep(const char *text)
{
    net_endpoint_t e;
    memset(&e, 0, sizeof(e));
    const char *colon = strrchr(text, ':');
    ck_assert(colon != NULL);
    ck_assert_msg(net_addr_parse(sv_make(text, (size_t)(colon - text)), &e.addr), "%s", text);
    uint32_t port;
    ck_assert(sv_to_u32(sv_from_cstr(colon + 1), &port) && port <= 65535);
    e.port = (uint16_t)port;
    return e;
}

static sip_msg_t MSG;

/* Parse text with the real SIP parser and hand it to the correlator. */
static void sip_text(double t, const char *src, const char *dst, const char *text)
{
    size_t len = strlen(text);
    int rc = sip_parse_datagram(text, len, &MSG);
    ck_assert_msg(rc > 0, "SIP parser refused:\n%s", text);
    packet_view_t p = {
        .ts_ns = ns(t),
        .src = ep(src),
        .dst = ep(dst),
        .ip_proto = 17,
        .payload = (const uint8_t *)text,
        .len = (size_t)rc,
    };
    corr_on_sip(C, &p, &MSG);
}

/* A dialog: Call-ID, the caller's and callee's signalling endpoints and tags. */
typedef struct {
    const char *call_id;
    const char *a, *b;
    const char *atag, *btag;
} dlg_t;

static const char *reason_of(int code)
{
    switch (code) {
        case 100:
            return "Trying";
        case 180:
            return "Ringing";
        case 183:
            return "Session Progress";
        case 200:
            return "OK";
        case 404:
            return "Not Found";
        case 407:
            return "Proxy Authentication Required";
        case 486:
            return "Busy Here";
        case 487:
            return "Request Terminated";
        default:
            return "Whatever";
    }
}

static void tagged(char *buf, size_t cap, const char *hdr, const char *uri, const char *tag)
{
    int n = snprintf(buf, cap, "%s: <%s>%s%s", hdr, uri, tag != NULL && *tag ? ";tag=" : "",
                     tag != NULL ? tag : "");
    ck_assert(n > 0 && (size_t)n < cap);
}

static void build_and_send(double t, const char *src, const char *dst, const char *start,
                           const char *via_host, const char *branch, const char *from,
                           const char *to, const char *call_id, unsigned cseq,
                           const char *cseq_method, const char *sdp)
{
    static char buf[16384];
    size_t body = sdp != NULL ? strlen(sdp) : 0;
    int n = snprintf(buf, sizeof(buf),
                     "%s\r\n"
                     "Via: SIP/2.0/UDP %s;branch=z9hG4bK%s\r\n"
                     "%s\r\n"
                     "%s\r\n"
                     "Call-ID: %s\r\n"
                     "CSeq: %u %s\r\n"
                     "Max-Forwards: 70\r\n"
                     "User-Agent: checkphone/1.0\r\n"
                     "%s%s"
                     "Content-Length: %zu\r\n"
                     "\r\n"
                     "%s",
                     start, via_host, branch, from, to, call_id, cseq, cseq_method, EXTRA_HDRS,
                     sdp != NULL ? "Content-Type: application/sdp\r\n" : "", body,
                     sdp != NULL ? sdp : "");
    ck_assert(n > 0 && (size_t)n < sizeof(buf));
    sip_text(t, src, dst, buf);
}

/* A request from the caller (rev false) or the callee (rev true); to_tag: whether the To
 * header carries the peer's tag (false only for the initial INVITE and its CANCEL). */
static void req(const dlg_t *d, double t, bool rev, const char *method, const char *branch,
                unsigned cseq, bool to_tag, const char *sdp)
{
    const char *a_uri = "sip:alice@example.com", *b_uri = "sip:bob@example.com";
    char from[256], to[256], start[128];
    tagged(from, sizeof(from), "From", rev ? b_uri : a_uri, rev ? d->btag : d->atag);
    tagged(to, sizeof(to), "To", rev ? a_uri : b_uri, to_tag ? (rev ? d->atag : d->btag) : "");
    snprintf(start, sizeof(start), "%s %s SIP/2.0", method, rev ? a_uri : b_uri);
    const char *src = rev ? d->b : d->a, *dst = rev ? d->a : d->b;
    build_and_send(t, src, dst, start, src, branch, from, to, d->call_id, cseq, method, sdp);
}

/* The response to a request of the caller (rev false: sent by the callee) or of the callee;
 * to_tag is the responder's tag ("" for none; forks pass their own). */
static void resp(const dlg_t *d, double t, bool rev, int code, const char *method,
                 const char *branch, unsigned cseq, const char *to_tag, const char *sdp)
{
    const char *a_uri = "sip:alice@example.com", *b_uri = "sip:bob@example.com";
    char from[256], to[256], start[128];
    tagged(from, sizeof(from), "From", rev ? b_uri : a_uri, rev ? d->btag : d->atag);
    tagged(to, sizeof(to), "To", rev ? a_uri : b_uri, to_tag);
    snprintf(start, sizeof(start), "SIP/2.0 %d %s", code, reason_of(code));
    const char *src = rev ? d->a : d->b, *dst = rev ? d->b : d->a;
    build_and_send(t, src, dst, start, dst, branch, from, to, d->call_id, cseq, method, sdp);
}

/* An audio offer/answer: PCMU, PCMA and telephone-event, plus extra lines. */
static const char *sdp_audio(char *buf, size_t cap, const char *ip, unsigned port,
                             const char *extra)
{
    const char *fam = strchr(ip, ':') != NULL ? "IP6" : "IP4";
    int n = snprintf(buf, cap,
                     "v=0\r\n"
                     "o=- 1 1 IN %s %s\r\n"
                     "s=-\r\n"
                     "c=IN %s %s\r\n"
                     "t=0 0\r\n"
                     "m=audio %u RTP/AVP 0 8 101\r\n"
                     "a=rtpmap:0 PCMU/8000\r\n"
                     "a=rtpmap:8 PCMA/8000\r\n"
                     "a=rtpmap:101 telephone-event/8000\r\n"
                     "a=fmtp:101 0-16\r\n"
                     "a=ptime:20\r\n"
                     "%s",
                     fam, ip, fam, ip, port, extra != NULL ? extra : "a=sendrecv\r\n");
    ck_assert(n > 0 && (size_t)n < cap);
    return buf;
}

/* INVITE (offer) at t, 100, 180 at t+1, 200 (answer) at t+3, ACK at t+3.05. */
static void call_up(const dlg_t *d, double t, const char *a_ip, unsigned a_port, const char *b_ip,
                    unsigned b_port)
{
    char offer[1024], answer[1024];
    req(d, t, false, "INVITE", "inv1", 1, false,
        sdp_audio(offer, sizeof(offer), a_ip, a_port, NULL));
    resp(d, t + 0.01, false, 100, "INVITE", "inv1", 1, "", NULL);
    resp(d, t + 1, false, 180, "INVITE", "inv1", 1, d->btag, NULL);
    resp(d, t + 3, false, 200, "INVITE", "inv1", 1, d->btag,
         sdp_audio(answer, sizeof(answer), b_ip, b_port, NULL));
    req(d, t + 3.05, false, "ACK", "ack1", 1, true, NULL);
}

/* BYE from the caller at t and its 200 at t+0.02. */
static void call_down(const dlg_t *d, double t)
{
    req(d, t, false, "BYE", "bye1", 2, true, NULL);
    resp(d, t + 0.02, false, 200, "BYE", "bye1", 2, d->btag, NULL);
}

static uint8_t rtp_raw[172] = {0x80, 0x00};

static void rtp_pkt(double t, const char *src, const char *dst, uint32_t ssrc, uint16_t seq,
                    uint32_t rtp_ts, uint8_t pt)
{
    rtp_hdr_t h;
    memset(&h, 0, sizeof(h));
    h.version = 2;
    h.payload_type = pt;
    h.seq = seq;
    h.timestamp = rtp_ts;
    h.ssrc = ssrc;
    h.payload = rtp_raw + 12;
    h.payload_len = 160;
    packet_view_t p = {.ts_ns = ns(t),
                       .src = ep(src),
                       .dst = ep(dst),
                       .ip_proto = 17,
                       .payload = rtp_raw,
                       .len = sizeof(rtp_raw)};
    corr_on_rtp(C, &p, &h);
}

/* n packets 20 ms apart from t, sequence numbers from seq0, timestamps 160 units a number. */
static void rtp_run(double t, int n, const char *src, const char *dst, uint32_t ssrc, uint16_t seq0,
                    uint8_t pt)
{
    for (int i = 0; i < n; i++) {
        uint16_t seq = (uint16_t)(seq0 + i);
        rtp_pkt(t + 0.02 * i, src, dst, ssrc, seq, 160u * seq, pt);
    }
}

static void rtcp_feed(double t, const char *src, const char *dst, const rtcp_compound_t *rc)
{
    static const uint8_t raw[8] = {0x80, 200};
    packet_view_t p = {.ts_ns = ns(t),
                       .src = ep(src),
                       .dst = ep(dst),
                       .ip_proto = 17,
                       .payload = raw,
                       .len = sizeof(raw)};
    corr_on_rtcp(C, &p, rc);
}

/* ------------------------------------------------------------------ lookups */

static const rec_call_t *call_by_id(const char *call_id)
{
    for (size_t i = 0; i < R.n_calls && i < MAX_REC; i++) {
        if (strcmp(R.calls[i].call_id, call_id) == 0)
            return &R.calls[i];
    }
    ck_abort_msg("call %s not emitted", call_id);
    return NULL;
}

static const rec_stream_t *stream_of(const char *src, const char *dst, uint32_t ssrc)
{
    net_endpoint_t s = ep(src), d = ep(dst);
    for (size_t i = 0; i < R.n_streams && i < MAX_REC; i++) {
        const stream_record_t *x = &R.streams[i].r;
        if (net_endpoint_eq(&x->src, &s) && net_endpoint_eq(&x->dst, &d) && x->ssrc == ssrc)
            return &R.streams[i];
    }
    ck_abort_msg("stream %s -> %s 0x%08x not emitted", src, dst, ssrc);
    return NULL;
}

static size_t msgs_of(int64_t call_row)
{
    size_t n = 0;
    for (size_t i = 0; i < R.n_msgs && i < MAX_REC; i++)
        n += R.msgs[i].r.call_row == call_row;
    return n;
}

static void assert_ms(int64_t got_ns, double want_ms)
{
    ck_assert_msg(fabs((double)got_ns / 1e6 - want_ms) < 1e-6, "got %.6f ms, want %.6f ms",
                  (double)got_ns / 1e6, want_ms);
}

static const dlg_t D1 = {"call-1@example.com", "192.0.2.10:5060", "198.51.100.20:5060", "atag1",
                         "btag1"};
static const dlg_t D2 = {"call-2@example.com", "192.0.2.11:5060", "198.51.100.21:5060", "atag2",
                         "btag2"};

#define A_MEDIA "192.0.2.10:40000"
#define B_MEDIA "198.51.100.20:50000"

/* ------------------------------------------------------------------ call states and timings */

START_TEST(normal_call)
{
    call_up(&D1, 0, "192.0.2.10", 40000, "198.51.100.20", 50000);
    rtp_run(3.1, 50, A_MEDIA, B_MEDIA, 0x11111111, 100, 0);
    rtp_run(3.1, 50, B_MEDIA, A_MEDIA, 0x22222222, 200, 0);
    call_down(&D1, 10);
    ck_assert_uint_eq(stats()->live_calls, 1);
    corr_tick(C, ns(14)); /* within the 5 s linger */
    ck_assert_uint_eq(R.n_calls, 0);
    corr_tick(C, ns(15.1));
    ck_assert_uint_eq(R.n_calls, 1);

    const rec_call_t *c = call_by_id("call-1@example.com");
    ck_assert_int_eq(c->r.state, CALL_COMPLETED);
    ck_assert_uint_eq(c->r.final_status, 200);
    ck_assert_int_eq(c->r.invite_ns, ns(0));
    ck_assert_int_eq(c->r.ringing_ns, ns(1));
    ck_assert_int_eq(c->r.answer_ns, ns(3));
    ck_assert_int_eq(c->r.end_ns, ns(10));
    assert_ms(c->r.post_dial_delay_ns, 1000);
    assert_ms(c->r.duration_ns, 7000);
    ck_assert(!c->r.one_way);
    ck_assert(!c->r.nat);
    ck_assert_uint_eq(c->r.sip_messages, 7);
    ck_assert_str_eq(c->from_uri, "sip:alice@example.com");
    ck_assert_str_eq(c->to_uri, "sip:bob@example.com");
    ck_assert_str_eq(c->from_tag, "atag1");
    ck_assert_str_eq(c->to_tag, "btag1");
    ck_assert_str_eq(c->ua, "checkphone/1.0");
    net_endpoint_t a = ep(D1.a), b = ep(D1.b);
    ck_assert(net_endpoint_eq(&c->r.caller, &a));
    ck_assert(net_endpoint_eq(&c->r.callee, &b));
    ck_assert_int_eq(c->r.id, 1);

    ck_assert_uint_eq(R.n_streams, 2);
    const rec_stream_t *s = stream_of(A_MEDIA, B_MEDIA, 0x11111111);
    ck_assert_int_eq(s->r.call_row, c->r.id);
    ck_assert_str_eq(s->call_id, "call-1@example.com");
    ck_assert_str_eq(s->codec, "PCMU");
    ck_assert_uint_eq(s->r.clock_rate, 8000);
    ck_assert_uint_eq(s->r.payload_type, 0);
    ck_assert(!s->r.sdp_mismatch);
    ck_assert_int_eq(s->r.first_ns, ns(3.1));
    ck_assert_int_eq(s->r.last_ns, ns(3.1 + 0.02 * 49));
    ck_assert(s->order < c->order); /* streams before their call */
    ck_assert(s->r.id > c->r.id);
    ck_assert(!s->r.have_rtcp);
    ck_assert(s->r.rtcp_rtt_ms < 0);
    s = stream_of(B_MEDIA, A_MEDIA, 0x22222222);
    ck_assert_int_eq(s->r.call_row, c->r.id);
    ck_assert(s->order < c->order);

    /* Every message went out with the call's row; responses carry their CSeq method. */
    ck_assert_uint_eq(R.n_msgs, 7);
    ck_assert_uint_eq(msgs_of(c->r.id), 7);
    ck_assert_str_eq(R.msgs[0].method, "INVITE");
    ck_assert(R.msgs[0].r.is_request);
    ck_assert_uint_eq(R.msgs[0].r.cseq, 1);
    ck_assert_str_eq(R.msgs[0].call_id, "call-1@example.com");
    ck_assert_str_eq(R.msgs[2].method, "INVITE");
    ck_assert_uint_eq(R.msgs[2].r.status, 180);
    ck_assert(!R.msgs[2].r.is_request);
    ck_assert_str_eq(R.msgs[4].method, "ACK");
    ck_assert_str_eq(R.msgs[6].method, "BYE");
    ck_assert_uint_eq(R.msgs[6].r.status, 200);
    ck_assert_uint_eq(R.msgs[6].r.transport, 17);
    ck_assert_int_eq(R.msgs[6].r.ts_ns, ns(10.02));

    ck_assert_uint_eq(stats()->calls_created, 1);
    ck_assert_uint_eq(stats()->calls_ended, 1);
    ck_assert_uint_eq(stats()->streams_created, 2);
    ck_assert_uint_eq(stats()->streams_ended, 2);
    ck_assert_uint_eq(stats()->sip_messages, 7);
    ck_assert_uint_eq(stats()->sip_retransmissions, 0);
    ck_assert_uint_eq(stats()->rtp_packets, 100);
    ck_assert_uint_eq(stats()->live_calls, 0);
    ck_assert_uint_eq(stats()->live_streams, 0);
}
END_TEST

START_TEST(rejected_486_after_ringing)
{
    char offer[1024];
    req(&D1, 0, false, "INVITE", "inv1", 1, false,
        sdp_audio(offer, sizeof(offer), "192.0.2.10", 40000, NULL));
    resp(&D1, 0.01, false, 100, "INVITE", "inv1", 1, "", NULL);
    resp(&D1, 0.8, false, 180, "INVITE", "inv1", 1, "btag1", NULL);
    resp(&D1, 2.5, false, 486, "INVITE", "inv1", 1, "btag1", NULL);
    req(&D1, 2.55, false, "ACK", "inv1", 1, true, NULL);
    corr_flush(C);
    const rec_call_t *c = call_by_id(D1.call_id);
    ck_assert_int_eq(c->r.state, CALL_REJECTED);
    ck_assert_uint_eq(c->r.final_status, 486);
    assert_ms(c->r.post_dial_delay_ns, 800);
    ck_assert_int_eq(c->r.answer_ns, 0);
    ck_assert_int_eq(c->r.end_ns, 0);
    ck_assert_int_eq(c->r.duration_ns, -1);
    ck_assert(!c->r.one_way);
    ck_assert_uint_eq(c->r.sip_messages, 5);
    /* The ACK of a non-2xx reuses the INVITE's branch: not a retransmission. */
    ck_assert_uint_eq(stats()->sip_retransmissions, 0);
    ck_assert_uint_eq(stats()->calls_flushed, 1);
}
END_TEST

START_TEST(rejected_404_without_ringing)
{
    req(&D1, 0, false, "INVITE", "inv1", 1, false, NULL);
    resp(&D1, 0.01, false, 100, "INVITE", "inv1", 1, "", NULL);
    resp(&D1, 0.62, false, 404, "INVITE", "inv1", 1, "btag1", NULL);
    req(&D1, 0.66, false, "ACK", "inv1", 1, true, NULL);
    corr_tick(C, ns(10));
    const rec_call_t *c = call_by_id(D1.call_id);
    ck_assert_int_eq(c->r.state, CALL_REJECTED);
    ck_assert_uint_eq(c->r.final_status, 404);
    ck_assert_int_eq(c->r.ringing_ns, 0);
    assert_ms(c->r.post_dial_delay_ns, 620); /* to the final response */
    ck_assert_uint_eq(stats()->calls_ended, 1);
}
END_TEST

START_TEST(cancelled_with_487)
{
    req(&D1, 0, false, "INVITE", "inv1", 1, false, NULL);
    resp(&D1, 0.01, false, 100, "INVITE", "inv1", 1, "", NULL);
    resp(&D1, 1.5, false, 180, "INVITE", "inv1", 1, "btag1", NULL);
    req(&D1, 6, false, "CANCEL", "inv1", 1, false, NULL);
    resp(&D1, 6.02, false, 200, "CANCEL", "inv1", 1, "btag1", NULL);
    resp(&D1, 6.03, false, 487, "INVITE", "inv1", 1, "btag1", NULL);
    req(&D1, 6.05, false, "ACK", "inv1", 1, true, NULL);
    corr_flush(C);
    const rec_call_t *c = call_by_id(D1.call_id);
    ck_assert_int_eq(c->r.state, CALL_CANCELLED);
    ck_assert_uint_eq(c->r.final_status, 487);
    assert_ms(c->r.post_dial_delay_ns, 1500);
    ck_assert_int_eq(c->r.answer_ns, 0);
    ck_assert_int_eq(c->r.duration_ns, -1);
    ck_assert_uint_eq(c->r.sip_messages, 7);
    ck_assert_uint_eq(stats()->sip_retransmissions, 0);
}
END_TEST

START_TEST(cancelled_487_only)
{
    /* The CANCEL went elsewhere (another capture point): the 487 alone says cancelled. */
    req(&D1, 0, false, "INVITE", "inv1", 1, false, NULL);
    resp(&D1, 2, false, 487, "INVITE", "inv1", 1, "btag1", NULL);
    corr_flush(C);
    const rec_call_t *c = call_by_id(D1.call_id);
    ck_assert_int_eq(c->r.state, CALL_CANCELLED);
    ck_assert_uint_eq(c->r.final_status, 487);
    assert_ms(c->r.post_dial_delay_ns, 2000);
}
END_TEST

START_TEST(answered_without_ringing)
{
    char offer[1024], answer[1024];
    req(&D1, 0, false, "INVITE", "inv1", 1, false,
        sdp_audio(offer, sizeof(offer), "192.0.2.10", 40000, NULL));
    resp(&D1, 0.01, false, 100, "INVITE", "inv1", 1, "", NULL);
    resp(&D1, 2.25, false, 200, "INVITE", "inv1", 1, "btag1",
         sdp_audio(answer, sizeof(answer), "198.51.100.20", 50000, NULL));
    req(&D1, 2.3, false, "ACK", "ack1", 1, true, NULL);
    corr_flush(C);
    const rec_call_t *c = call_by_id(D1.call_id);
    ck_assert_int_eq(c->r.state, CALL_IN_CALL);
    ck_assert_int_eq(c->r.ringing_ns, 0);
    assert_ms(c->r.post_dial_delay_ns, 2250);
    ck_assert_int_eq(c->r.duration_ns, -1); /* no BYE yet */
    ck_assert_int_eq(c->r.end_ns, 0);
}
END_TEST

START_TEST(retransmissions_counted_not_timed)
{
    char offer[1024], answer[1024];
    sdp_audio(offer, sizeof(offer), "192.0.2.10", 40000, NULL);
    sdp_audio(answer, sizeof(answer), "198.51.100.20", 50000, NULL);
    req(&D1, 0, false, "INVITE", "inv1", 1, false, offer);
    req(&D1, 0.5, false, "INVITE", "inv1", 1, false, offer); /* Timer A */
    req(&D1, 1.5, false, "INVITE", "inv1", 1, false, offer);
    resp(&D1, 1.6, false, 180, "INVITE", "inv1", 1, "btag1", NULL);
    resp(&D1, 4, false, 200, "INVITE", "inv1", 1, "btag1", answer);
    resp(&D1, 4.5, false, 200, "INVITE", "inv1", 1, "btag1", answer); /* lost ACK */
    req(&D1, 4.6, false, "ACK", "ack1", 1, true, NULL);
    resp(&D1, 5.5, false, 200, "INVITE", "inv1", 1, "btag1", answer);
    req(&D1, 5.6, false, "ACK", "ack1", 1, true, NULL);
    call_down(&D1, 9);
    req(&D1, 9.5, false, "BYE", "bye1", 2, true, NULL);
    resp(&D1, 9.52, false, 200, "BYE", "bye1", 2, "btag1", NULL);
    corr_flush(C);
    ck_assert_uint_eq(R.n_calls, 1);
    ck_assert_uint_eq(stats()->calls_created, 1);
    const rec_call_t *c = call_by_id(D1.call_id);
    ck_assert_int_eq(c->r.state, CALL_COMPLETED);
    ck_assert_int_eq(c->r.invite_ns, ns(0));
    ck_assert_int_eq(c->r.ringing_ns, ns(1.6));
    ck_assert_int_eq(c->r.answer_ns, ns(4));
    ck_assert_int_eq(c->r.end_ns, ns(9));
    assert_ms(c->r.post_dial_delay_ns, 1600);
    assert_ms(c->r.duration_ns, 5000);
    ck_assert_uint_eq(stats()->sip_retransmissions, 7);
    ck_assert_uint_eq(c->r.sip_messages, 13); /* every copy is in the ladder */
    ck_assert_uint_eq(msgs_of(c->r.id), 13);
}
END_TEST

START_TEST(auth_challenge_then_answer)
{
    req(&D1, 0, false, "INVITE", "inv1", 1, false, NULL);
    resp(&D1, 0.05, false, 407, "INVITE", "inv1", 1, "proxy", NULL);
    req(&D1, 0.06, false, "ACK", "inv1", 1, true, NULL);
    req(&D1, 0.2, false, "INVITE", "inv2", 2, false, NULL);
    resp(&D1, 1.2, false, 180, "INVITE", "inv2", 2, "btag1", NULL);
    resp(&D1, 2.2, false, 200, "INVITE", "inv2", 2, "btag1", NULL);
    corr_flush(C);
    ck_assert_uint_eq(R.n_calls, 1);
    const rec_call_t *c = call_by_id(D1.call_id);
    ck_assert_int_eq(c->r.state, CALL_IN_CALL);
    ck_assert_uint_eq(c->r.final_status, 200);
    ck_assert_int_eq(c->r.invite_ns, ns(0));
    assert_ms(c->r.post_dial_delay_ns, 1200);
}
END_TEST

START_TEST(forked_invite_answered_fork_wins)
{
    char offer[1024], answer[1024];
    req(&D1, 0, false, "INVITE", "inv1", 1, false,
        sdp_audio(offer, sizeof(offer), "192.0.2.10", 40000, NULL));
    resp(&D1, 0.01, false, 100, "INVITE", "inv1", 1, "", NULL);
    resp(&D1, 1.0, false, 180, "INVITE", "inv1", 1, "forkA", NULL);
    resp(&D1, 1.4, false, 180, "INVITE", "inv1", 1, "forkB", NULL);
    resp(&D1, 3.0, false, 200, "INVITE", "inv1", 1, "forkB",
         sdp_audio(answer, sizeof(answer), "198.51.100.20", 50000, NULL));
    /* The proxy cancels fork A: its 487 must not touch the answered call. */
    resp(&D1, 3.1, false, 487, "INVITE", "inv1", 1, "forkA", NULL);
    ck_assert_uint_eq(stats()->sip_retransmissions, 0);
    dlg_t d = D1;
    d.btag = "forkB";
    req(&d, 3.05, false, "ACK", "ack1", 1, true, NULL);
    call_down(&d, 8);
    corr_flush(C);
    ck_assert_uint_eq(R.n_calls, 1);
    const rec_call_t *c = call_by_id(D1.call_id);
    ck_assert_int_eq(c->r.state, CALL_COMPLETED);
    ck_assert_uint_eq(c->r.final_status, 200);
    ck_assert_str_eq(c->to_tag, "forkB");
    ck_assert_int_eq(c->r.ringing_ns, ns(1.0));
    assert_ms(c->r.duration_ns, 5000);
}
END_TEST

START_TEST(forked_one_fork_fails_other_answers)
{
    /* Seen on the proxy's outgoing legs: fork A refuses first, then fork B answers. */
    req(&D1, 0, false, "INVITE", "inv1", 1, false, NULL);
    resp(&D1, 1.0, false, 486, "INVITE", "inv1", 1, "forkA", NULL);
    resp(&D1, 2.0, false, 200, "INVITE", "inv1", 1, "forkB", NULL);
    corr_flush(C);
    const rec_call_t *c = call_by_id(D1.call_id);
    ck_assert_int_eq(c->r.state, CALL_IN_CALL);
    ck_assert_uint_eq(c->r.final_status, 200);
    ck_assert_str_eq(c->to_tag, "forkB");
}
END_TEST

START_TEST(reinvite_hold_and_new_media)
{
    call_up(&D1, 0, "192.0.2.10", 40000, "198.51.100.20", 50000);
    rtp_run(3.1, 100, A_MEDIA, B_MEDIA, 0x11111111, 100, 0);
    rtp_run(3.1, 100, B_MEDIA, A_MEDIA, 0x22222222, 200, 0);
    /* Hold from the caller: sendonly / recvonly, same ports. */
    char offer[1024], answer[1024];
    req(&D1, 6, false, "INVITE", "reinv1", 3, true,
        sdp_audio(offer, sizeof(offer), "192.0.2.10", 40000, "a=sendonly\r\n"));
    resp(&D1, 6.05, false, 200, "INVITE", "reinv1", 3, "btag1",
         sdp_audio(answer, sizeof(answer), "198.51.100.20", 50000, "a=recvonly\r\n"));
    req(&D1, 6.1, false, "ACK", "ack2", 3, true, NULL);
    /* Resume from the callee, on a new port of the callee. */
    req(&D1, 8, true, "INVITE", "reinv2", 1, true,
        sdp_audio(offer, sizeof(offer), "198.51.100.20", 50100, NULL));
    resp(&D1, 8.05, true, 200, "INVITE", "reinv2", 1, "atag1",
         sdp_audio(answer, sizeof(answer), "192.0.2.10", 40000, NULL));
    rtp_run(8.2, 50, A_MEDIA, "198.51.100.20:50100", 0x11111111, 300, 0);
    rtp_run(8.2, 50, "198.51.100.20:50100", A_MEDIA, 0x33333333, 400, 0);
    call_down(&D1, 12);
    corr_flush(C);
    const rec_call_t *c = call_by_id(D1.call_id);
    ck_assert_int_eq(c->r.state, CALL_COMPLETED);
    ck_assert_int_eq(c->r.answer_ns, ns(3)); /* not the re-INVITE's 200 */
    ck_assert_int_eq(c->r.invite_ns, ns(0));
    assert_ms(c->r.duration_ns, 9000);
    ck_assert_uint_eq(c->r.final_status, 200);
    ck_assert(!c->r.one_way);
    ck_assert_uint_eq(R.n_streams, 4);
    ck_assert_int_eq(stream_of(A_MEDIA, "198.51.100.20:50100", 0x11111111)->r.call_row, c->r.id);
    ck_assert_int_eq(stream_of("198.51.100.20:50100", A_MEDIA, 0x33333333)->r.call_row, c->r.id);
    ck_assert_uint_eq(stats()->streams_unsignalled, 0);
}
END_TEST

/* WebRTC (issue 19): c=IN IP4 0.0.0.0 and port 9, the addresses in ICE candidates, rtcp-mux and
 * DTLS-SRTP. RTP between the caller's srflx candidate and the callee's host candidate belongs to
 * the call; so does RTCP muxed on the same ports. */
static const char *sdp_webrtc(char *buf, size_t cap, const char *candidates)
{
    int n = snprintf(buf, cap,
                     "v=0\r\n"
                     "o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n"
                     "s=-\r\n"
                     "t=0 0\r\n"
                     "m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\n"
                     "c=IN IP4 0.0.0.0\r\n"
                     "a=rtcp:9 IN IP4 0.0.0.0\r\n"
                     "%s"
                     "a=ice-ufrag:F7gI\r\n"
                     "a=fingerprint:sha-256 D1:2C:BE:AD:C4:F6:64:5C\r\n"
                     "a=setup:actpass\r\n"
                     "a=rtcp-mux\r\n"
                     "a=rtpmap:111 opus/48000/2\r\n"
                     "a=rtpmap:0 PCMU/8000\r\n",
                     candidates);
    ck_assert(n > 0 && (size_t)n < cap);
    return buf;
}

START_TEST(webrtc_candidates_match_media)
{
    char offer[2048], answer[2048];
    req(&D1, 0, false, "INVITE", "inv1", 1, false,
        sdp_webrtc(offer, sizeof(offer),
                   "a=candidate:1 1 udp 2122260223 192.168.1.5 54400 typ host\r\n"
                   "a=candidate:2 1 udp 1686052607 192.0.2.10 61000 typ srflx raddr "
                   "192.168.1.5 rport 54400\r\n"
                   "a=candidate:3 1 tcp 1518280447 192.168.1.5 9 typ host tcptype active\r\n"));
    resp(&D1, 1, false, 180, "INVITE", "inv1", 1, D1.btag, NULL);
    resp(&D1, 3, false, 200, "INVITE", "inv1", 1, D1.btag,
         sdp_webrtc(answer, sizeof(answer),
                    "a=candidate:1 1 udp 2130706431 198.51.100.20 50000 typ host\r\n"));
    req(&D1, 3.05, false, "ACK", "ack1", 1, true, NULL);
    ck_assert_int_eq(
        corr_media_kind(C, &(packet_view_t){.src = ep("192.0.2.10:61000"), .dst = ep(B_MEDIA)}),
        CORR_MEDIA_RTP);
    rtp_run(3.1, 50, "192.0.2.10:61000", B_MEDIA, 0x11111111, 100, 0);
    rtp_run(3.1, 50, B_MEDIA, "192.0.2.10:61000", 0x22222222, 200, 0);
    call_down(&D1, 10);
    corr_flush(C);
    const rec_call_t *c = call_by_id(D1.call_id);
    ck_assert_int_eq(c->r.state, CALL_COMPLETED);
    ck_assert_uint_eq(R.n_streams, 2);
    ck_assert_int_eq(stream_of("192.0.2.10:61000", B_MEDIA, 0x11111111)->r.call_row, c->r.id);
    ck_assert_int_eq(stream_of(B_MEDIA, "192.0.2.10:61000", 0x22222222)->r.call_row, c->r.id);
    ck_assert_uint_eq(stats()->streams_unsignalled, 0);
}
END_TEST

START_TEST(callid_reuse_makes_a_new_call)
{
    call_up(&D1, 0, "192.0.2.10", 40000, "198.51.100.20", 50000);
    call_down(&D1, 5);
    dlg_t d = D1;
    d.atag = "other";
    req(&d, 6, false, "INVITE", "invX", 1, false, NULL);
    ck_assert_uint_eq(R.n_calls, 1);
    ck_assert_int_eq(R.calls[0].r.state, CALL_COMPLETED);
    corr_flush(C);
    ck_assert_uint_eq(R.n_calls, 2);
    ck_assert_int_eq(R.calls[1].r.state, CALL_SETUP);
    ck_assert_str_eq(R.calls[1].from_tag, "other");
    ck_assert_int_ne(R.calls[1].r.id, R.calls[0].r.id);
}
END_TEST

START_TEST(bye_from_callee_and_ipv6)
{
    dlg_t d = {"v6@example.com", "[2001:db8:1::5]:5060", "[2001:db8:2::7]:5060", "a6", "b6"};
    call_up(&d, 0, "2001:db8:1::5", 30000, "2001:db8:2::7", 32000);
    rtp_run(3.2, 20, "[2001:db8:1::5]:30000", "[2001:db8:2::7]:32000", 7, 1, 8);
    rtp_run(3.2, 20, "[2001:db8:2::7]:32000", "[2001:db8:1::5]:30000", 8, 1, 8);
    req(&d, 6, true, "BYE", "byeB", 1, true, NULL);
    resp(&d, 6.01, true, 200, "BYE", "byeB", 1, "a6", NULL);
    corr_flush(C);
    const rec_call_t *c = call_by_id("v6@example.com");
    ck_assert_int_eq(c->r.state, CALL_COMPLETED);
    ck_assert_int_eq(c->r.end_ns, ns(6));
    const rec_stream_t *s = stream_of("[2001:db8:2::7]:32000", "[2001:db8:1::5]:30000", 8);
    ck_assert_int_eq(s->r.call_row, c->r.id);
    ck_assert_str_eq(s->codec, "PCMA");
    ck_assert(!c->r.nat && !c->r.one_way);
}
END_TEST

/* ------------------------------------------------------------------ media */

START_TEST(nat_source_differs_from_sdp)
{
    /* Caller behind NAT: its SIP, SDP and RTP say 10.1.2.3:4000, the wire says 203.0.113.7. */
    dlg_t d = {"nat@example.com", "203.0.113.7:5060", "198.51.100.20:5060", "an", "bn"};
    call_up(&d, 0, "10.1.2.3", 4000, "198.51.100.20", 50000);
    rtp_run(3.1, 30, "203.0.113.7:31000", B_MEDIA, 0xaaaa, 1, 0);
    /* Symmetric RTP: the callee answers to where the caller's packets came from. */
    rtp_run(3.1, 30, B_MEDIA, "203.0.113.7:31000", 0xbbbb, 1, 0);
    call_down(&d, 6);
    corr_flush(C);
    const rec_call_t *c = call_by_id("nat@example.com");
    ck_assert(c->r.nat);
    ck_assert(!c->r.one_way);
    const rec_stream_t *up = stream_of("203.0.113.7:31000", B_MEDIA, 0xaaaa);
    ck_assert(up->r.sdp_mismatch);
    ck_assert_int_eq(up->r.call_row, c->r.id);
    const rec_stream_t *down = stream_of(B_MEDIA, "203.0.113.7:31000", 0xbbbb);
    ck_assert(!down->r.sdp_mismatch);
    ck_assert_int_eq(down->r.call_row, c->r.id);
    ck_assert_uint_eq(stats()->streams_unsignalled, 0);
}
END_TEST

START_TEST(nat_seen_in_signalling_of_a_silent_party)
{
    /* The callee is behind NAT and sends no RTP: only its SDP (private, from a public
     * address) shows the NAT. */
    dlg_t d = {"nat2@example.com", "192.0.2.10:5060", "203.0.113.9:5060", "an", "bn"};
    call_up(&d, 0, "192.0.2.10", 40000, "192.168.1.20", 6000);
    rtp_run(3.1, 30, A_MEDIA, "203.0.113.9:7000", 0xaaaa, 1, 0);
    call_down(&d, 6);
    corr_flush(C);
    const rec_call_t *c = call_by_id("nat2@example.com");
    ck_assert(c->r.nat);
    ck_assert(c->r.one_way);
    ck_assert_int_eq(c->r.verdict, VERDICT_ONE_WAY);
    ck_assert(has_reason(c, "one_way"));
    ck_assert_msg(strstr(c->reasons, "private address 192.168.1.20 in a message from 203.0.113.9"),
                  "%s", c->reasons);
    /* Matched by source (the caller's SDP endpoint), sent where NAT put the callee. */
    const rec_stream_t *s = stream_of(A_MEDIA, "203.0.113.9:7000", 0xaaaa);
    ck_assert_int_eq(s->r.call_row, c->r.id);
    ck_assert(!s->r.sdp_mismatch);
}
END_TEST

START_TEST(nat_media_before_answer)
{
    /* The NATed callee's RTP (from its public address) arrives before its 200 with the private
     * SDP: the mismatch is decided once that SDP is known. */
    dlg_t d = {"nat3@example.com", "192.0.2.10:5060", "203.0.113.9:5060", "an", "bn"};
    char offer[1024], answer[1024];
    req(&d, 0, false, "INVITE", "inv1", 1, false,
        sdp_audio(offer, sizeof(offer), "192.0.2.10", 40000, NULL));
    rtp_run(2.0, 10, "203.0.113.9:7000", A_MEDIA, 0xcc, 1, 0);
    resp(&d, 2.1, false, 200, "INVITE", "inv1", 1, "bn",
         sdp_audio(answer, sizeof(answer), "192.168.1.20", 6000, NULL));
    rtp_run(2.2, 10, "203.0.113.9:7000", A_MEDIA, 0xcc, 11, 0);
    rtp_run(2.2, 20, A_MEDIA, "203.0.113.9:7000", 0xdd, 1, 0);
    corr_flush(C);
    const rec_stream_t *s = stream_of("203.0.113.9:7000", A_MEDIA, 0xcc);
    ck_assert(s->r.sdp_mismatch);
    ck_assert_uint_eq(s->r.packets, 20);
    ck_assert(!stream_of(A_MEDIA, "203.0.113.9:7000", 0xdd)->r.sdp_mismatch);
    ck_assert(call_by_id("nat3@example.com")->r.nat);
}
END_TEST

START_TEST(unsignalled_stream_joins_a_later_sdp)
{
    /* The capture starts mid-call: RTP first, then a re-INVITE naming the endpoints. */
    rtp_run(0, 100, A_MEDIA, B_MEDIA, 0x10, 1, 0);
    ck_assert_uint_eq(stats()->streams_unsignalled, 1);
    char offer[1024], answer[1024];
    req(&D1, 1, false, "INVITE", "re1", 7, true,
        sdp_audio(offer, sizeof(offer), "192.0.2.10", 40000, NULL));
    resp(&D1, 1.05, false, 200, "INVITE", "re1", 7, "btag1",
         sdp_audio(answer, sizeof(answer), "198.51.100.20", 50000, NULL));
    rtp_run(2, 100, A_MEDIA, B_MEDIA, 0x10, 101, 0);
    corr_flush(C);
    const rec_call_t *c = call_by_id(D1.call_id);
    const rec_stream_t *s = stream_of(A_MEDIA, B_MEDIA, 0x10);
    ck_assert_int_eq(s->r.call_row, c->r.id);
    ck_assert_str_eq(s->call_id, D1.call_id);
    ck_assert_uint_eq(s->r.packets, 200);
    ck_assert_uint_eq(R.n_streams, 1);
}
END_TEST

START_TEST(private_lan_is_not_nat)
{
    dlg_t d = {"lan@example.com", "10.0.0.1:5060", "10.0.0.2:5060", "al", "bl"};
    call_up(&d, 0, "10.0.0.1", 20000, "10.0.0.2", 20002);
    rtp_run(3.1, 10, "10.0.0.1:20000", "10.0.0.2:20002", 1, 1, 0);
    rtp_run(3.1, 10, "10.0.0.2:20002", "10.0.0.1:20000", 2, 1, 0);
    corr_flush(C);
    ck_assert(!call_by_id("lan@example.com")->r.nat);
}
END_TEST

START_TEST(one_way_media)
{
    call_up(&D1, 0, "192.0.2.10", 40000, "198.51.100.20", 50000);
    rtp_run(3.1, 100, A_MEDIA, B_MEDIA, 0x11111111, 100, 0);
    call_down(&D1, 6);
    /* Second call: both ways, but the callee sent 3 packets to the caller's 100 (< 5%). */
    call_up(&D2, 0, "192.0.2.11", 40000, "198.51.100.21", 50000);
    rtp_run(3.1, 100, "192.0.2.11:40000", "198.51.100.21:50000", 1, 1, 0);
    rtp_run(3.1, 3, "198.51.100.21:50000", "192.0.2.11:40000", 2, 1, 0);
    call_down(&D2, 6);
    /* Third call: 100 one way, 60 the other: two-way. */
    dlg_t d3 = {"call-3@example.com", "192.0.2.12:5060", "198.51.100.22:5060", "a3", "b3"};
    call_up(&d3, 0, "192.0.2.12", 40000, "198.51.100.22", 50000);
    rtp_run(3.1, 100, "192.0.2.12:40000", "198.51.100.22:50000", 1, 1, 0);
    rtp_run(3.1, 60, "198.51.100.22:50000", "192.0.2.12:40000", 2, 1, 0);
    call_down(&d3, 6);
    corr_flush(C);
    ck_assert(call_by_id(D1.call_id)->r.one_way);
    ck_assert(call_by_id(D2.call_id)->r.one_way);
    ck_assert(!call_by_id(d3.call_id)->r.one_way);
    ck_assert_uint_eq(R.n_streams, 5);
}
END_TEST

/* ---- verdicts (correlator/verdict.c; its unit tests are check_verdict) */

START_TEST(verdict_good_failed_cancelled_no_media)
{
    call_up(&D1, 0, "192.0.2.10", 40000, "198.51.100.20", 50000);
    rtp_run(3.1, 100, A_MEDIA, B_MEDIA, 1, 1, 0);
    rtp_run(3.1, 100, B_MEDIA, A_MEDIA, 2, 1, 0);
    call_down(&D1, 6);
    call_up(&D2, 0, "192.0.2.11", 40000, "198.51.100.21", 50000); /* no RTP at all */
    call_down(&D2, 6);
    dlg_t d3 = {"rej@example.com", "192.0.2.12:5060", "198.51.100.22:5060", "a3", "b3"};
    req(&d3, 0, false, "INVITE", "inv1", 1, false, NULL);
    resp(&d3, 0.5, false, 486, "INVITE", "inv1", 1, "b3", NULL);
    dlg_t d4 = {"can@example.com", "192.0.2.13:5060", "198.51.100.23:5060", "a4", "b4"};
    req(&d4, 0, false, "INVITE", "inv1", 1, false, NULL);
    req(&d4, 1, false, "CANCEL", "inv1", 1, false, NULL);
    resp(&d4, 1.1, false, 487, "INVITE", "inv1", 1, "b4", NULL);
    corr_flush(C);
    const rec_call_t *c = call_by_id(D1.call_id);
    ck_assert_int_eq(c->r.verdict, VERDICT_GOOD);
    ck_assert_str_eq(c->reasons, "[]");
    ck_assert_int_eq(call_by_id(D2.call_id)->r.verdict, VERDICT_NO_MEDIA);
    c = call_by_id("rej@example.com");
    ck_assert_int_eq(c->r.verdict, VERDICT_FAILED);
    /* The 486's time, to the microsecond: the message the API resolves. */
    ck_assert_msg(strstr(c->reasons, "\"message_time\":1705312800.500000"), "%s", c->reasons);
    ck_assert_int_eq(call_by_id("can@example.com")->r.verdict, VERDICT_GOOD);
}
END_TEST

START_TEST(verdict_comfort_noise_only)
{
    /* The callee sends comfort noise only: 1 packet in 4, so not one-way by packet counts. */
    call_up(&D1, 0, "192.0.2.10", 40000, "198.51.100.20", 50000);
    rtp_run(3.1, 200, A_MEDIA, B_MEDIA, 1, 1, 0);
    rtp_run(3.1, 50, B_MEDIA, A_MEDIA, 2, 1, 13);
    call_down(&D1, 8);
    corr_flush(C);
    const rec_call_t *c = call_by_id(D1.call_id);
    ck_assert(!c->r.one_way);
    ck_assert_int_eq(c->r.verdict, VERDICT_ONE_WAY);
    ck_assert_msg(has_reason(c, "comfort_noise_only"), "%s", c->reasons);
}
END_TEST

START_TEST(verdict_media_moved_and_rtcp)
{
    call_up(&D1, 0, "192.0.2.10", 40000, "198.51.100.20", 50000);
    rtp_run(3.1, 50, A_MEDIA, B_MEDIA, 1, 1, 0);
    /* The callee moves its media to port 50002 (re-INVITE); the caller keeps sending to 50000,
     * and the callee, which receives nothing, says so in its RTCP. */
    char offer[1024], answer[1024];
    req(&D1, 4.2, true, "INVITE", "re1", 1, true,
        sdp_audio(offer, sizeof(offer), "198.51.100.20", 50002, NULL));
    resp(&D1, 4.25, true, 200, "INVITE", "re1", 1, D1.atag,
         sdp_audio(answer, sizeof(answer), "192.0.2.10", 40000, NULL));
    rtp_run(4.3, 100, A_MEDIA, B_MEDIA, 1, 51, 0);
    rtcp_compound_t rr;
    memset(&rr, 0, sizeof(rr));
    rr.n_packets = 1;
    rr.packets[0].type = RTCP_RR;
    rr.packets[0].ssrc = 0x22;
    rtcp_feed(5.0, "198.51.100.20:50003", "192.0.2.10:40001", &rr);
    call_down(&D1, 7);
    corr_flush(C);
    const rec_call_t *c = call_by_id(D1.call_id);
    ck_assert_int_eq(c->r.verdict, VERDICT_ONE_WAY);
    ck_assert_msg(strstr(c->reasons, "moved its media from 198.51.100.20:50000 to "
                                     "198.51.100.20:50002"),
                  "%s", c->reasons);
    ck_assert_msg(strstr(c->reasons, "\"message_time\":1705312804.200000"), "%s", c->reasons);
    ck_assert_msg(strstr(c->reasons, "The callee's RTCP carries no reception report although the "
                                     "caller sent 150 RTP packets"),
                  "%s", c->reasons);
}
END_TEST

START_TEST(no_media_is_not_one_way)
{
    call_up(&D1, 0, "192.0.2.10", 40000, "198.51.100.20", 50000);
    call_down(&D1, 6);
    /* Unanswered calls are never one-way either, even with early media one way. */
    char offer[1024], early[1024];
    req(&D2, 0, false, "INVITE", "inv1", 1, false,
        sdp_audio(offer, sizeof(offer), "192.0.2.11", 40000, NULL));
    resp(&D2, 0.5, false, 183, "INVITE", "inv1", 1, "btag2",
         sdp_audio(early, sizeof(early), "198.51.100.21", 50000, NULL));
    rtp_run(0.6, 50, "198.51.100.21:50000", "192.0.2.11:40000", 9, 1, 0);
    resp(&D2, 2, false, 486, "INVITE", "inv1", 1, "btag2", NULL);
    corr_flush(C);
    ck_assert(!call_by_id(D1.call_id)->r.one_way);
    const rec_call_t *c2 = call_by_id(D2.call_id);
    ck_assert(!c2->r.one_way);
    ck_assert_int_eq(c2->r.state, CALL_REJECTED);
    assert_ms(c2->r.post_dial_delay_ns, 500); /* 183 counts as 18x */
    ck_assert_int_eq(stream_of("198.51.100.21:50000", "192.0.2.11:40000", 9)->r.call_row, c2->r.id);
}
END_TEST

START_TEST(port_reuse_newest_call_wins)
{
    call_up(&D1, 0, "192.0.2.10", 40000, "198.51.100.20", 50000);
    rtp_run(3.1, 20, A_MEDIA, B_MEDIA, 0x1, 1, 0);
    call_down(&D1, 5);
    /* Still lingering, call 2 (another caller) gets the same callee endpoint. */
    call_up(&D2, 6, "192.0.2.11", 40000, "198.51.100.20", 50000);
    rtp_run(9.1, 20, "192.0.2.11:40000", B_MEDIA, 0x2, 1, 0);
    /* Call 1's SSRC again, from call 2's caller: still call 2's stream. */
    rtp_run(9.1, 20, B_MEDIA, "192.0.2.11:40000", 0x3, 1, 0);
    rtp_run(9.1, 20, "192.0.2.11:40000", B_MEDIA, 0x1, 500, 0);
    corr_flush(C);
    const rec_call_t *c1 = call_by_id(D1.call_id), *c2 = call_by_id(D2.call_id);
    ck_assert_int_eq(stream_of(A_MEDIA, B_MEDIA, 0x1)->r.call_row, c1->r.id);
    ck_assert_int_eq(stream_of("192.0.2.11:40000", B_MEDIA, 0x2)->r.call_row, c2->r.id);
    ck_assert_int_eq(stream_of(B_MEDIA, "192.0.2.11:40000", 0x3)->r.call_row, c2->r.id);
    ck_assert_int_eq(stream_of("192.0.2.11:40000", B_MEDIA, 0x1)->r.call_row, c2->r.id);
    ck_assert_uint_eq(stats()->streams_unsignalled, 0);
}
END_TEST

START_TEST(port_reuse_same_flow_same_ssrc)
{
    /* Both calls between the same media endpoints, and the same SSRC: the stream of call 1
     * ends when call 2 announces the endpoint, the later packets make call 2's stream. */
    call_up(&D1, 0, "192.0.2.10", 40000, "198.51.100.20", 50000);
    rtp_run(3.1, 20, A_MEDIA, B_MEDIA, 0x77, 1, 0);
    call_down(&D1, 5);
    dlg_t d = D2;
    d.a = D1.a;
    call_up(&d, 6, "192.0.2.10", 40000, "198.51.100.20", 50000);
    rtp_run(9.1, 20, A_MEDIA, B_MEDIA, 0x77, 21, 0);
    corr_flush(C);
    ck_assert_uint_eq(R.n_streams, 2);
    const rec_call_t *c1 = call_by_id(D1.call_id), *c2 = call_by_id(D2.call_id);
    ck_assert_int_eq(R.streams[0].r.call_row, c1->r.id);
    ck_assert_uint_eq(R.streams[0].r.packets, 20);
    ck_assert_int_eq(R.streams[1].r.call_row, c2->r.id);
    ck_assert_uint_eq(R.streams[1].r.packets, 20);
}
END_TEST

START_TEST(ssrc_change_makes_two_streams)
{
    call_up(&D1, 0, "192.0.2.10", 40000, "198.51.100.20", 50000);
    rtp_run(3.1, 40, A_MEDIA, B_MEDIA, 0xabc, 1, 0);
    rtp_run(3.9, 40, A_MEDIA, B_MEDIA, 0xdef, 9000, 0);
    call_down(&D1, 6);
    corr_flush(C);
    ck_assert_uint_eq(R.n_streams, 2);
    ck_assert_uint_eq(stream_of(A_MEDIA, B_MEDIA, 0xabc)->r.packets, 40);
    ck_assert_uint_eq(stream_of(A_MEDIA, B_MEDIA, 0xdef)->r.packets, 40);
    ck_assert_int_eq(stream_of(A_MEDIA, B_MEDIA, 0xdef)->r.call_row, call_by_id(D1.call_id)->r.id);
}
END_TEST

/* ------------------------------------------------------------------ media address reuse */

/* A flow of RTP packets whose sequence number moves on from one talk() to the next. */
typedef struct {
    const char *src, *dst;
    uint32_t ssrc;
    uint16_t seq;
} flow_t;

/* n packets of every flow, 20 ms apart from t, interleaved in time. */
static void talk(double t, int n, flow_t *flows, int n_flows)
{
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < n_flows; k++) {
            flow_t *f = &flows[k];
            rtp_pkt(t + 0.02 * i, f->src, f->dst, f->ssrc, f->seq, 160u * f->seq, 0);
            f->seq++;
        }
    }
}

static const rec_stream_t *stream_ssrc(uint32_t ssrc)
{
    for (size_t i = 0; i < R.n_streams && i < MAX_REC; i++) {
        if (R.streams[i].r.ssrc == ssrc)
            return &R.streams[i];
    }
    ck_abort_msg("no stream with SSRC 0x%08x", ssrc);
    return NULL;
}

static size_t streams_with_ssrc(uint32_t ssrc)
{
    size_t n = 0;
    for (size_t i = 0; i < R.n_streams && i < MAX_REC; i++)
        n += R.streams[i].r.ssrc == ssrc;
    return n;
}

#define X_MEDIA "192.0.2.10:40000"
#define Y_MEDIA "198.51.100.20:50000"

/* Answer with SDP at t (200 to the INVITE), ACK 10 ms later. */
static void answer_at(const dlg_t *d, double t, const char *ip, unsigned port)
{
    char answer[1024];
    resp(d, t, false, 200, "INVITE", "inv1", 1, d->btag,
         sdp_audio(answer, sizeof(answer), ip, port, NULL));
    req(d, t + 0.01, false, "ACK", "ack1", 1, true, NULL);
}

static void offer_at(const dlg_t *d, double t, const char *ip, unsigned port)
{
    char offer[1024];
    req(d, t, false, "INVITE", "inv1", 1, false, sdp_audio(offer, sizeof(offer), ip, port, NULL));
}

START_TEST(reuse_never_splits_a_running_stream)
{
    /* Call 1 talks between X and Y; call 2 announces the same X and Y while call 1's streams
     * run. They stay whole and call 1's; call 2's own SSRCs make call 2's streams. */
    flow_t f[4] = {{X_MEDIA, Y_MEDIA, 0x1, 1},
                   {Y_MEDIA, X_MEDIA, 0x2, 1},
                   {X_MEDIA, Y_MEDIA, 0x3, 1},
                   {Y_MEDIA, X_MEDIA, 0x4, 1}};
    offer_at(&D1, 0, "192.0.2.10", 40000);
    answer_at(&D1, 1, "198.51.100.20", 50000);
    talk(1.1, 50, f, 2);
    offer_at(&D2, 2.1, "192.0.2.10", 40000);
    talk(2.12, 10, f, 2);
    answer_at(&D2, 2.4, "198.51.100.20", 50000);
    talk(2.42, 50, f, 4);
    call_down(&D1, 3.5);
    talk(3.52, 20, f + 2, 2);
    call_down(&D2, 4);
    corr_flush(C);
    ck_assert_uint_eq(R.n_streams, 4);
    const rec_call_t *c1 = call_by_id(D1.call_id), *c2 = call_by_id(D2.call_id);
    for (uint32_t ssrc = 1; ssrc <= 4; ssrc++) {
        const rec_stream_t *s = stream_ssrc(ssrc);
        ck_assert_int_eq(s->r.call_row, ssrc <= 2 ? c1->r.id : c2->r.id);
        ck_assert_uint_eq(s->r.packets, ssrc <= 2 ? 110 : 70);
        ck_assert_int_eq(s->r.lost, 0);
    }
    ck_assert(c1->r.mos > 0 && c2->r.mos > 0);
    ck_assert(!c1->r.one_way && !c2->r.one_way);
    ck_assert_uint_eq(stats()->streams_unsignalled, 0);
}
END_TEST

START_TEST(reuse_newest_offer_answer_before_first_packet)
{
    /* Calls 1 and 2 both announce X (offer) and Y (answer); call 2's offer comes first, its
     * answer last. */
    flow_t early = {Y_MEDIA, X_MEDIA, 0x20, 1};
    flow_t late = {X_MEDIA, Y_MEDIA, 0x10, 1};
    flow_t second = {X_MEDIA, Y_MEDIA, 0x11, 1};
    offer_at(&D1, 0, "192.0.2.10", 40000);
    offer_at(&D2, 0.5, "192.0.2.10", 40000);
    answer_at(&D1, 1, "198.51.100.20", 50000);
    /* Y -> X starts now: call 2 announced X last, but only its offer is out; call 1's
     * offer/answer named both ends. */
    talk(1.1, 20, &early, 1);
    answer_at(&D2, 1.6, "198.51.100.20", 50000);
    talk(1.7, 20, &early, 1); /* the same stream: not re-filed to call 2 */
    /* X -> Y starts after both answers, both within a second: they race for it, and the
     * earlier one's media starts first... */
    talk(1.7, 20, &late, 1);
    /* ... and the next SSRC on that flow goes to the call that has none on it yet. */
    talk(2.2, 20, &second, 1);
    corr_flush(C);
    ck_assert_uint_eq(R.n_streams, 3);
    const rec_call_t *c1 = call_by_id(D1.call_id), *c2 = call_by_id(D2.call_id);
    ck_assert_int_eq(stream_ssrc(0x20)->r.call_row, c1->r.id);
    ck_assert_uint_eq(stream_ssrc(0x20)->r.packets, 40);
    ck_assert_int_eq(stream_ssrc(0x10)->r.call_row, c1->r.id);
    ck_assert_int_eq(stream_ssrc(0x11)->r.call_row, c2->r.id);
}
END_TEST

START_TEST(reuse_newest_wins_outside_the_race)
{
    /* Call 1 is up but silent; call 2 announces the same X and Y 3 s later and its media
     * starts: the newest announcement wins (call 1 announced too long ago to be racing). */
    call_up(&D1, 0, "192.0.2.10", 40000, "198.51.100.20", 50000);
    call_up(&D2, 1, "192.0.2.10", 40000, "198.51.100.20", 50000);
    flow_t f[2] = {{X_MEDIA, Y_MEDIA, 0x31, 1}, {Y_MEDIA, X_MEDIA, 0x32, 1}};
    talk(4.1, 20, f, 2);
    corr_flush(C);
    const rec_call_t *c2 = call_by_id(D2.call_id);
    ck_assert_int_eq(stream_ssrc(0x31)->r.call_row, c2->r.id);
    ck_assert_int_eq(stream_ssrc(0x32)->r.call_row, c2->r.id);
    ck_assert(call_by_id(D1.call_id)->r.mos == 0);
}
END_TEST

START_TEST(reuse_ssrc_change_stays_in_its_call)
{
    /* A PBX switches sources: a new SSRC on the same 5-tuple is a new stream of the same call,
     * also when an earlier call (ended, still lingering) had announced the same endpoints. */
    flow_t f0 = {X_MEDIA, Y_MEDIA, 0x5, 1};
    call_up(&D1, 0, "192.0.2.10", 40000, "198.51.100.20", 50000);
    talk(3.1, 20, &f0, 1);
    call_down(&D1, 3.6);
    dlg_t d = D2;
    d.a = D1.a;
    call_up(&d, 4, "192.0.2.10", 40000, "198.51.100.20", 50000);
    flow_t f[2] = {{X_MEDIA, Y_MEDIA, 0x6, 1}, {X_MEDIA, Y_MEDIA, 0x7, 500}};
    talk(7.1, 30, f, 1);
    talk(7.7, 30, f + 1, 1);
    corr_flush(C);
    ck_assert_uint_eq(R.n_streams, 3);
    const rec_call_t *c1 = call_by_id(D1.call_id), *c2 = call_by_id(D2.call_id);
    ck_assert_int_eq(stream_ssrc(0x5)->r.call_row, c1->r.id);
    ck_assert_int_eq(stream_ssrc(0x6)->r.call_row, c2->r.id);
    ck_assert_int_eq(stream_ssrc(0x7)->r.call_row, c2->r.id);
    ck_assert_uint_eq(stream_ssrc(0x7)->r.packets, 30);
}
END_TEST

START_TEST(reuse_reinvite_and_update_move_media)
{
    /* Call 1 moves its caller to X2 with UPDATE, then its callee to Y2 with a re-INVITE; the
     * streams already running stay as they are, the new ones are call 1's. Then call 2 reuses
     * the X that call 1 left: new streams there are call 2's, call 1's are untouched. */
    const char *x2 = "192.0.2.10:40100", *y2 = "198.51.100.20:50100";
    call_up(&D1, 0, "192.0.2.10", 40000, "198.51.100.20", 50000);
    flow_t f[2] = {{X_MEDIA, Y_MEDIA, 0x1, 1}, {Y_MEDIA, X_MEDIA, 0x2, 1}};
    talk(3.1, 20, f, 2);
    char sdp[1024], sdp2[1024];
    req(&D1, 3.6, false, "UPDATE", "upd1", 2, true,
        sdp_audio(sdp, sizeof(sdp), "192.0.2.10", 40100, NULL));
    resp(&D1, 3.62, false, 200, "UPDATE", "upd1", 2, "btag1",
         sdp_audio(sdp2, sizeof(sdp2), "198.51.100.20", 50000, NULL));
    flow_t g[2] = {{x2, Y_MEDIA, 0x1, 21}, {Y_MEDIA, x2, 0x2, 21}};
    talk(3.64, 20, g, 2);
    req(&D1, 4.1, true, "INVITE", "re1", 1, true,
        sdp_audio(sdp, sizeof(sdp), "198.51.100.20", 50100, NULL));
    resp(&D1, 4.12, true, 200, "INVITE", "re1", 1, "atag1",
         sdp_audio(sdp2, sizeof(sdp2), "192.0.2.10", 40100, NULL));
    flow_t h[2] = {{x2, y2, 0x1, 41}, {y2, x2, 0x3, 1}};
    talk(4.14, 20, h, 2);
    /* Call 2 gets X and a callee of its own. */
    dlg_t d = D2;
    call_up(&d, 4.6, "192.0.2.10", 40000, "198.51.100.30", 50000);
    flow_t k[3] = {{X_MEDIA, "198.51.100.30:50000", 0x8, 1},
                   {"198.51.100.30:50000", X_MEDIA, 0x9, 1},
                   {x2, y2, 0x1, 61}};
    talk(7.7, 20, k, 3);
    corr_flush(C);
    const rec_call_t *c1 = call_by_id(D1.call_id), *c2 = call_by_id(D2.call_id);
    ck_assert_uint_eq(R.n_streams, 8);
    ck_assert_int_eq(stream_of(X_MEDIA, Y_MEDIA, 0x1)->r.call_row, c1->r.id);
    ck_assert_int_eq(stream_of(Y_MEDIA, X_MEDIA, 0x2)->r.call_row, c1->r.id);
    ck_assert_int_eq(stream_of(x2, Y_MEDIA, 0x1)->r.call_row, c1->r.id);
    ck_assert_int_eq(stream_of(Y_MEDIA, x2, 0x2)->r.call_row, c1->r.id);
    ck_assert_int_eq(stream_of(x2, y2, 0x1)->r.call_row, c1->r.id);
    ck_assert_uint_eq(stream_of(x2, y2, 0x1)->r.packets, 40);
    ck_assert_int_eq(stream_of(y2, x2, 0x3)->r.call_row, c1->r.id);
    ck_assert_int_eq(stream_of(X_MEDIA, "198.51.100.30:50000", 0x8)->r.call_row, c2->r.id);
    ck_assert_int_eq(stream_of("198.51.100.30:50000", X_MEDIA, 0x9)->r.call_row, c2->r.id);
    ck_assert_uint_eq(stats()->streams_unsignalled, 0);
}
END_TEST

/* SIPp-like load: every call offers X and answers Y; 40 calls at 20 calls/s, each talking 80
 * packets each way for 1.6 s (about 32 up at once), every fifth one rejected with 486. Media
 * starts 120 ms after the answer, when the next two calls have answered too (as SIPp's does at
 * high rates). */
enum { SHARE_CALLS = 40, SHARE_PKTS = 80 };

typedef struct {
    double t;
    int call, what, seq; /* what: 0 INVITE, 1 486 + ACK, 2 200 + ACK, 3 RTP, 4 BYE + 200 */
} share_ev_t;

static int share_ev_cmp(const void *a, const void *b)
{
    const share_ev_t *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->call != y->call ? x->call - y->call : x->seq - y->seq;
}

static char share_ids[SHARE_CALLS][32], share_tags[SHARE_CALLS][2][16];

static dlg_t share_dlg(int i)
{
    snprintf(share_ids[i], sizeof(share_ids[i]), "share-%d@example.com", i);
    snprintf(share_tags[i][0], sizeof(share_tags[i][0]), "a%d", i);
    snprintf(share_tags[i][1], sizeof(share_tags[i][1]), "b%d", i);
    dlg_t d = {share_ids[i], "192.0.2.10:5060", "198.51.100.20:5060", share_tags[i][0],
               share_tags[i][1]};
    return d;
}

static void share_event(const share_ev_t *e)
{
    dlg_t d = share_dlg(e->call);
    uint32_t ssrc = 0x1000u + 2u * (uint32_t)e->call;
    switch (e->what) {
        case 0:
            offer_at(&d, e->t, "192.0.2.10", 40000);
            break;
        case 1:
            resp(&d, e->t, false, 486, "INVITE", "inv1", 1, d.btag, NULL);
            req(&d, e->t + 0.001, false, "ACK", "inv1", 1, true, NULL);
            break;
        case 2:
            answer_at(&d, e->t, "198.51.100.20", 50000);
            break;
        case 3: {
            uint16_t seq = (uint16_t)(e->seq / 2 + 1);
            bool back = e->seq % 2 == 1;
            rtp_pkt(e->t, back ? Y_MEDIA : X_MEDIA, back ? X_MEDIA : Y_MEDIA, ssrc + back, seq,
                    160u * seq, 0);
            break;
        }
        default:
            call_down(&d, e->t);
            break;
    }
}

START_TEST(reuse_many_calls_share_media_ports)
{
    static share_ev_t ev[SHARE_CALLS * (3 + 2 * SHARE_PKTS)];
    size_t n = 0;
    for (int i = 0; i < SHARE_CALLS; i++) {
        double t = 0.05 * i;
        bool busy = i % 5 == 4;
        ev[n++] = (share_ev_t){t, i, 0, 0};
        ev[n++] = (share_ev_t){t + 0.01, i, busy ? 1 : 2, 0};
        if (busy)
            continue;
        for (int k = 0; k < 2 * SHARE_PKTS; k++)
            ev[n++] = (share_ev_t){t + 0.13 + 0.02 * (k / 2) + 0.001 * (k % 2), i, 3, k};
        ev[n++] = (share_ev_t){t + 0.135 + 0.02 * SHARE_PKTS, i, 4, 0};
    }
    qsort(ev, n, sizeof(ev[0]), share_ev_cmp);
    for (size_t i = 0; i < n; i++)
        share_event(&ev[i]);
    corr_flush(C);
    ck_assert_uint_eq(R.n_calls, SHARE_CALLS);
    ck_assert_uint_eq(R.n_streams, 2 * (SHARE_CALLS - SHARE_CALLS / 5));
    for (int i = 0; i < SHARE_CALLS; i++) {
        const rec_call_t *c = call_by_id(share_dlg(i).call_id);
        if (i % 5 == 4) {
            ck_assert_int_eq(c->r.state, CALL_REJECTED);
            ck_assert_uint_eq(c->r.final_status, 486);
            continue;
        }
        ck_assert_int_eq(c->r.state, CALL_COMPLETED);
        ck_assert_msg(c->r.mos > 0, "call %d has no MOS", i);
        ck_assert(!c->r.one_way);
        for (uint32_t k = 0; k < 2; k++) {
            uint32_t ssrc = 0x1000u + 2u * (uint32_t)i + k;
            ck_assert_uint_eq(streams_with_ssrc(ssrc), 1);
            ck_assert_msg(stream_ssrc(ssrc)->r.call_row == c->r.id,
                          "stream 0x%x of call %d filed under row %lld", ssrc, i,
                          (long long)stream_ssrc(ssrc)->r.call_row);
            ck_assert_uint_eq(stream_ssrc(ssrc)->r.packets, SHARE_PKTS);
        }
    }
    ck_assert_uint_eq(stats()->streams_unsignalled, 0);
}
END_TEST

/* ------------------------------------------------------------------ NAT from early media */

START_TEST(nat_private_sdp_in_183_of_cancelled_call)
{
    dlg_t d = {"nat183@example.com", "192.0.2.10:5060", "203.0.113.9:5060", "an", "bn"};
    char offer[1024], early[1024];
    req(&d, 0, false, "INVITE", "inv1", 1, false,
        sdp_audio(offer, sizeof(offer), "192.0.2.10", 40000, NULL));
    resp(&d, 0.5, false, 183, "INVITE", "inv1", 1, "bn",
         sdp_audio(early, sizeof(early), "192.168.1.20", 6000, NULL));
    req(&d, 3, false, "CANCEL", "inv1", 1, false, NULL);
    resp(&d, 3.02, false, 200, "CANCEL", "inv1", 1, "bn", NULL);
    resp(&d, 3.03, false, 487, "INVITE", "inv1", 1, "bn", NULL);
    corr_flush(C);
    const rec_call_t *c = call_by_id(d.call_id);
    ck_assert_int_eq(c->r.state, CALL_CANCELLED);
    ck_assert(c->r.nat);
}
END_TEST

START_TEST(nat_private_contact_in_provisional_and_final)
{
    /* Callee behind NAT that never answers: its 180's Contact, or its 486's. */
    dlg_t d = {"nat180@example.com", "192.0.2.10:5060", "203.0.113.9:5060", "an", "bn"};
    req(&d, 0, false, "INVITE", "inv1", 1, false, NULL);
    EXTRA_HDRS = "Contact: <sip:bob@192.168.1.20:5060;transport=udp>\r\n";
    resp(&d, 0.5, false, 180, "INVITE", "inv1", 1, "bn", NULL);
    EXTRA_HDRS = "";
    req(&d, 3, false, "CANCEL", "inv1", 1, false, NULL);
    resp(&d, 3.03, false, 487, "INVITE", "inv1", 1, "bn", NULL);
    dlg_t e = {"nat486@example.com", "192.0.2.10:5060", "203.0.113.9:5060", "an2", "bn2"};
    req(&e, 4, false, "INVITE", "inv1", 1, false, NULL);
    EXTRA_HDRS = "Contact: \"Bob\" <sip:bob@172.16.5.5:5060>\r\n";
    resp(&e, 4.2, false, 486, "INVITE", "inv1", 1, "bn2", NULL);
    EXTRA_HDRS = "";
    /* Not NAT: a private Contact from a private address, a host name, an IPv6 Contact from
     * an IPv4 source. */
    dlg_t f = {"lan180@example.com", "10.0.0.1:5060", "10.0.0.2:5060", "al", "bl"};
    req(&f, 5, false, "INVITE", "inv1", 1, false, NULL);
    EXTRA_HDRS = "Contact: <sip:bob@10.0.0.2:5060>\r\n";
    resp(&f, 5.2, false, 180, "INVITE", "inv1", 1, "bl", NULL);
    EXTRA_HDRS = "";
    dlg_t g = {"host180@example.com", "192.0.2.10:5060", "203.0.113.9:5060", "ah", "bh"};
    req(&g, 6, false, "INVITE", "inv1", 1, false, NULL);
    EXTRA_HDRS = "Contact: <sip:bob@pbx.example.com:5060>\r\n";
    resp(&g, 6.2, false, 180, "INVITE", "inv1", 1, "bh", NULL);
    EXTRA_HDRS = "Contact: <sip:bob@[fd00::20]:5060>\r\n";
    resp(&g, 6.3, false, 183, "INVITE", "inv1", 1, "bh", NULL);
    EXTRA_HDRS = "";
    corr_flush(C);
    ck_assert(call_by_id(d.call_id)->r.nat);
    ck_assert_int_eq(call_by_id(d.call_id)->r.state, CALL_CANCELLED);
    ck_assert(call_by_id(e.call_id)->r.nat);
    ck_assert_int_eq(call_by_id(e.call_id)->r.state, CALL_REJECTED);
    ck_assert(!call_by_id(f.call_id)->r.nat);
    ck_assert(!call_by_id(g.call_id)->r.nat);
}
END_TEST

START_TEST(unsignalled_rtp_kept_without_call)
{
    rtp_run(0, 30, "192.0.2.50:7000", "192.0.2.60:8000", 0x5150, 1, 8);
    ck_assert_uint_eq(stats()->live_streams, 1);
    ck_assert_uint_eq(stats()->streams_unsignalled, 1);
    corr_flush(C);
    ck_assert_uint_eq(R.n_calls, 0);
    ck_assert_uint_eq(R.n_streams, 1);
    const rec_stream_t *s = stream_of("192.0.2.50:7000", "192.0.2.60:8000", 0x5150);
    ck_assert(!s->has_call_id);
    ck_assert_int_eq(s->r.call_row, 0);
    ck_assert_str_eq(s->codec, "PCMA");
    ck_assert_uint_eq(s->r.packets, 30);
    ck_assert(!s->r.sdp_mismatch);
    ck_assert_uint_eq(stats()->streams_flushed, 1);
}
END_TEST

/* The per-packet fast path finds exactly the stream corr_on_rtp made (IPv4 and IPv6), counts
 * into it, and declines anything else: another SSRC, a swapped direction, an unknown port. */
static bool rtp_known_hinted(double t, const char *src, const char *dst, uint32_t ssrc,
                             uint16_t seq, uint64_t hint)
{
    rtp_hdr_t h;
    memset(&h, 0, sizeof(h));
    h.version = 2;
    h.seq = seq;
    h.timestamp = (uint32_t)seq * 160;
    h.ssrc = ssrc;
    net_endpoint_t a = ep(src), b = ep(dst);
    return corr_on_rtp_known(C, ns(t), &a, &b, &h, hint, NULL);
}

static bool rtp_known(double t, const char *src, const char *dst, uint32_t ssrc, uint16_t seq)
{
    return rtp_known_hinted(t, src, dst, ssrc, seq, 0);
}

START_TEST(known_stream_fast_path)
{
    static const char *const pairs[][2] = {{"192.0.2.50:7000", "192.0.2.60:8000"},
                                           {"[2001:db8::5]:7000", "[2001:db8::6]:8000"}};
    for (size_t i = 0; i < 2; i++) {
        const char *a = pairs[i][0], *b = pairs[i][1];
        ck_assert(!rtp_known(0, a, b, 0x77, 1)); /* nothing made it yet */
        rtp_run(0.02, 10, a, b, 0x77, 2, 0);
        for (int k = 0; k < 5; k++)
            ck_assert(rtp_known(0.22 + 0.02 * k, a, b, 0x77, (uint16_t)(12 + k)));
        ck_assert(!rtp_known(0.4, a, b, 0x78, 17));
        ck_assert(!rtp_known(0.4, b, a, 0x77, 17));
        /* The look-ahead hint of a packet is the key the fast path looks up. */
        uint8_t hdr[12] = {0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x77};
        net_endpoint_t ea = ep(a), eb = ep(b);
        ck_assert_uint_ne(corr_rtp_hint(C, &ea, &eb, hdr, sizeof(hdr)), 0);
        ck_assert_uint_eq(corr_rtp_hint(C, &ea, &eb, hdr, 11), 0);
        corr_prefetch(C, corr_rtp_hint(C, &ea, &eb, hdr, sizeof(hdr)), 0);
        corr_prefetch(C, corr_rtp_hint(C, &ea, &eb, hdr, sizeof(hdr)), 1);
    }
    ck_assert(!rtp_known(0.4, "192.0.2.50:7001", "192.0.2.60:8000", 0x77, 17));
    corr_flush(C);
    ck_assert_uint_eq(R.n_streams, 2);
    ck_assert_uint_eq(stream_of("192.0.2.50:7000", "192.0.2.60:8000", 0x77)->r.packets, 15);
    ck_assert_uint_eq(stream_of("[2001:db8::5]:7000", "[2001:db8::6]:8000", 0x77)->r.packets, 15);
    ck_assert_int_eq(stream_of("192.0.2.50:7000", "192.0.2.60:8000", 0x77)->r.lost, 0);
}
END_TEST

/* The look-ahead's hint is the fast path's hash: given, it finds the stream without hashing
 * again; a wrong one can only miss, never count into another stream. */
START_TEST(known_stream_fast_path_with_hint)
{
    const char *a = "192.0.2.50:7000", *b = "192.0.2.60:8000";
    rtp_run(0.02, 10, a, b, 0x99, 2, 0);
    uint8_t hdr[12] = {0x80, 0, 0, 12, 0, 0, 0, 12, 0, 0, 0, 0x99};
    net_endpoint_t ea = ep(a), eb = ep(b);
    uint64_t hint = corr_rtp_hint(C, &ea, &eb, hdr, sizeof(hdr));
    ck_assert(rtp_known_hinted(0.22, a, b, 0x99, 12, hint));
    ck_assert(!rtp_known_hinted(0.24, a, b, 0x99, 13, hint ^ 0x5a5a));
    ck_assert(rtp_known_hinted(0.26, a, b, 0x99, 14, 0)); /* no hint: hashed here */
    corr_flush(C);
    ck_assert_uint_eq(R.n_streams, 1);
    ck_assert_uint_eq(stream_of(a, b, 0x99)->r.packets, 12);
}
END_TEST

START_TEST(dynamic_payload_and_events)
{
#define OPUS_SDP(ip, port)                                                                         \
    "v=0\r\no=- 1 1 IN IP4 " ip "\r\ns=-\r\nc=IN IP4 " ip "\r\nt=0 0\r\n"                          \
    "m=audio " port " RTP/AVP 111 101\r\n"                                                         \
    "a=rtpmap:111 opus/48000/2\r\n"                                                                \
    "a=rtpmap:101 telephone-event/48000\r\n"
    const char *offer = OPUS_SDP("192.0.2.10", "40000");
    const char *answer = OPUS_SDP("198.51.100.20", "50000");
    req(&D1, 0, false, "INVITE", "inv1", 1, false, offer);
    resp(&D1, 1, false, 200, "INVITE", "inv1", 1, "btag1", answer);
    rtp_run(1.1, 20, A_MEDIA, B_MEDIA, 0x42, 1, 111);
    /* A DTMF digit on the same SSRC: the same stream (one per src, dst, SSRC). */
    rtp_run(1.5, 5, A_MEDIA, B_MEDIA, 0x42, 21, 101);
    rtp_run(1.6, 20, A_MEDIA, B_MEDIA, 0x42, 26, 111);
    /* A stream that starts with an event still gets the audio codec. */
    rtp_run(1.1, 3, B_MEDIA, A_MEDIA, 0x43, 1, 101);
    rtp_run(1.2, 10, B_MEDIA, A_MEDIA, 0x43, 4, 111);
    /* DTMF on an SSRC of its own: a stream of telephone events. */
    rtp_run(1.7, 4, B_MEDIA, A_MEDIA, 0x44, 1, 101);
    corr_flush(C);
    ck_assert_uint_eq(R.n_streams, 3);
    const rec_stream_t *ev = stream_of(B_MEDIA, A_MEDIA, 0x44);
    ck_assert_str_eq(ev->codec, "telephone-event");
    ck_assert_uint_eq(ev->r.payload_type, 101);
    ck_assert_uint_eq(ev->r.packets, 4);
    const rec_stream_t *s = stream_of(A_MEDIA, B_MEDIA, 0x42);
    ck_assert_str_eq(s->codec, "opus");
    ck_assert_uint_eq(s->r.clock_rate, 48000);
    ck_assert_uint_eq(s->r.payload_type, 111);
    ck_assert_uint_eq(s->r.packets, 45);
    s = stream_of(B_MEDIA, A_MEDIA, 0x43);
    ck_assert_str_eq(s->codec, "opus");
    ck_assert_uint_eq(s->r.payload_type, 111);
    ck_assert_uint_eq(s->r.clock_rate, 48000);
}
END_TEST

/* One RFC 4733 packet: event, end bit, volume, duration at ts. */
static void dtmf_pkt(double t, uint16_t seq, uint32_t rtp_ts, uint8_t event, bool end,
                     uint8_t volume, uint16_t duration)
{
    uint8_t raw[16] = {0x80, 101};
    uint8_t *p = raw + 12;
    p[0] = event;
    p[1] = (uint8_t)((end ? 0x80 : 0) | volume);
    p[2] = (uint8_t)(duration >> 8);
    p[3] = (uint8_t)duration;
    rtp_hdr_t h;
    ck_assert_int_eq(rtp_parse(raw, sizeof(raw), &h), RTP_OK);
    h.seq = seq;
    h.timestamp = rtp_ts;
    h.ssrc = 0x77;
    packet_view_t pv = {.ts_ns = ns(t),
                        .src = ep(A_MEDIA),
                        .dst = ep(B_MEDIA),
                        .ip_proto = 17,
                        .payload = raw,
                        .len = sizeof(raw)};
    corr_on_rtp(C, &pv, &h);
}

START_TEST(dtmf_events_and_info)
{
    call_up(&D1, 0, "192.0.2.10", 40000, "198.51.100.20", 50000);
    memset(&DT, 0, sizeof(DT));
    rtp_run(3.1, 50, A_MEDIA, B_MEDIA, 0x77, 1, 0);
    /* '5': three updates, then its end packet three times (RFC 4733 2.5.1.4). */
    uint16_t seq = 51;
    for (int i = 0; i < 3; i++)
        dtmf_pkt(4.1 + 0.05 * i, seq++, 8000, 5, false, 10, (uint16_t)(400 * (i + 1)));
    for (int i = 0; i < 3; i++)
        dtmf_pkt(4.25 + 0.01 * i, seq++, 8000, 5, true, 10, 1600);
    ck_assert_uint_eq(DT.n, 1); /* out with its first end packet; the copies change nothing */
    /* '#' whose end packets were lost: it ends when '1' starts; '1' ends properly. */
    dtmf_pkt(5.0, seq++, 16000, 11, false, 12, 400);
    dtmf_pkt(5.05, seq++, 16000, 11, false, 12, 800);
    dtmf_pkt(6.0, seq++, 24000, 1, false, 8, 400);
    dtmf_pkt(6.1, seq++, 24000, 1, true, 8, 960);
    /* Not DTMF (event 40, a tone): ignored. */
    dtmf_pkt(6.5, seq++, 30000, 40, true, 8, 960);
    /* '9' still going when the stream ends. */
    dtmf_pkt(7.0, seq++, 32000, 9, false, 20, 320);
    /* A SIP INFO digit (application/dtmf-relay), from the callee. */
    sip_text(7.5, D1.b, D1.a,
             "INFO sip:alice@example.com SIP/2.0\r\n"
             "Via: SIP/2.0/UDP 198.51.100.20:5060;branch=z9hG4bKinfo1\r\n"
             "From: <sip:bob@example.com>;tag=btag1\r\nTo: <sip:alice@example.com>;tag=atag1\r\n"
             "Call-ID: call-1@example.com\r\nCSeq: 1 INFO\r\n"
             "Content-Type: application/dtmf-relay\r\nContent-Length: 26\r\n\r\n"
             "Signal=*\r\nDuration=250\r\n");
    call_down(&D1, 9);
    corr_flush(C);
    ck_assert_uint_eq(DT.n, 5);
    const rec_call_t *c = call_by_id(D1.call_id);
    const rec_stream_t *s = stream_of(A_MEDIA, B_MEDIA, 0x77);
    /* Event packets count as the stream's packets, as tshark counts them. */
    ck_assert_uint_eq(s->r.packets, 50 + 12);
    static const struct {
        const char *digit;
        double t;
        uint32_t ms;
        uint8_t volume;
        bool ended;
        const char *via;
    } want[] = {{"5", 4.1, 200, 10, true, "rtp"},
                {"#", 5.0, 100, 12, false, "rtp"},
                {"1", 6.0, 120, 8, true, "rtp"},
                {"*", 7.5, 250, 0, true, "info"},
                {"9", 7.0, 40, 20, false, "rtp"}};
    for (size_t i = 0; i < 5; i++) {
        const dtmf_record_t *d = &DT.d[i];
        ck_assert_str_eq(d->digit, want[i].digit);
        ck_assert_int_eq(d->ts_ns, ns(want[i].t));
        ck_assert_uint_eq(d->duration_ms, want[i].ms);
        ck_assert_uint_eq(d->volume, want[i].volume);
        ck_assert_int_eq(d->ended, want[i].ended);
        ck_assert_str_eq(d->via, want[i].via);
        ck_assert_int_eq(d->call_row, c->r.id);
        ck_assert_int_eq(d->stream_row, strcmp(want[i].via, "rtp") == 0 ? s->r.id : 0);
    }
    /* The stream's last digit came before the stream's record. */
    ck_assert_int_lt(DT.n, MAX_REC);
}
END_TEST

/* ------------------------------------------------------------------ SRTP and how SIP came */

#define SDP_HEAD(ip) "v=0\r\no=- 1 1 IN IP4 " ip "\r\ns=-\r\nc=IN IP4 " ip "\r\nt=0 0\r\n"

/* The packets of one direction with a gap (2 lost) and a late packet, for comparable figures. */
static void lossy_run(double t, const char *src, const char *dst, uint32_t ssrc)
{
    rtp_run(t, 30, src, dst, ssrc, 100, 0);
    rtp_pkt(t + 0.02 * 32 + 0.007, src, dst, ssrc, 132, 160u * 132, 0);
    rtp_run(t + 0.02 * 33, 20, src, dst, ssrc, 133, 0);
}

/* SDES (RFC 4568): the headers are clear, so an SRTP stream gets exactly the figures the same
 * packets get as RTP; it says it is SRTP, with the suite the answer chose from the offer's. */
START_TEST(srtp_sdes_same_figures_as_rtp)
{
    call_up(&D1, 0, "192.0.2.10", 40000, "198.51.100.20", 50000);
    const char *offer =
        SDP_HEAD("192.0.2.11") "m=audio 40000 RTP/SAVP 0\r\n"
                               "a=crypto:1 AES_CM_128_HMAC_SHA1_80 "
                               "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\n"
                               "a=crypto:2 AES_CM_128_HMAC_SHA1_32 "
                               "inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj\r\n";
    const char *answer =
        SDP_HEAD("198.51.100.21") "m=audio 50000 RTP/SAVP 0\r\n"
                                  "a=crypto:2 AES_CM_128_HMAC_SHA1_32 "
                                  "inline:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo1\r\n";
    req(&D2, 0, false, "INVITE", "inv2", 1, false, offer);
    resp(&D2, 3, false, 200, "INVITE", "inv2", 1, "btag2", answer);
    req(&D2, 3.05, false, "ACK", "ack2", 1, true, NULL);
    lossy_run(3.1, A_MEDIA, B_MEDIA, 0x11);
    lossy_run(3.1, "192.0.2.11:40000", "198.51.100.21:50000", 0x21);
    lossy_run(3.1, "198.51.100.21:50000", "192.0.2.11:40000", 0x22);
    corr_flush(C);

    const rec_stream_t *rtp = stream_of(A_MEDIA, B_MEDIA, 0x11);
    const rec_stream_t *srtp = stream_of("192.0.2.11:40000", "198.51.100.21:50000", 0x21);
    ck_assert(!rtp->r.srtp);
    ck_assert_str_eq(rtp->r.srtp_suite, "");
    ck_assert(srtp->r.srtp);
    ck_assert_str_eq(srtp->r.srtp_suite, "AES_CM_128_HMAC_SHA1_32");
    ck_assert_int_eq(srtp->r.call_row, call_by_id("call-2@example.com")->r.id);
    ck_assert_str_eq(srtp->codec, "PCMU");
    ck_assert_uint_eq(srtp->r.packets, 51);
    ck_assert_int_eq(srtp->r.lost, 2);
    ck_assert_uint_eq(srtp->r.packets, rtp->r.packets);
    ck_assert_int_eq(srtp->r.lost, rtp->r.lost);
    ck_assert_uint_eq(srtp->r.out_of_order, rtp->r.out_of_order);
    ck_assert_uint_eq(srtp->r.duplicates, rtp->r.duplicates);
    ck_assert_uint_eq(srtp->r.seq_errors, rtp->r.seq_errors);
    ck_assert(srtp->r.max_delta_ms == rtp->r.max_delta_ms);
    ck_assert(srtp->r.mean_jitter_ms == rtp->r.mean_jitter_ms);
    ck_assert(srtp->r.max_jitter_ms == rtp->r.max_jitter_ms);
    ck_assert(srtp->r.mos == rtp->r.mos);
    ck_assert(srtp->r.mos > 1);
    /* The other direction of the SRTP call too. */
    const rec_stream_t *back = stream_of("198.51.100.21:50000", "192.0.2.11:40000", 0x22);
    ck_assert(back->r.srtp);
    ck_assert_str_eq(back->r.srtp_suite, "AES_CM_128_HMAC_SHA1_32");
}
END_TEST

/* DTLS-SRTP (RFC 5763): a UDP/TLS/RTP profile with a fingerprint; per media line, so the plain
 * video line of the same call stays RTP. Before an answer the offer's first suite stands; a
 * suite outside the registry reads "unknown"; an answer without a=crypto makes it RTP. */
START_TEST(srtp_dtls_per_media_and_offer_only)
{
    const char *offer = SDP_HEAD("192.0.2.10") "a=fingerprint:sha-256 4A:AD:B9:B1:3F:82\r\n"
                                               "m=audio 40000 UDP/TLS/RTP/SAVPF 0\r\n"
                                               "a=rtcp-mux\r\n"
                                               "m=video 40002 RTP/AVP 96\r\n"
                                               "a=rtpmap:96 VP8/90000\r\n";
    const char *answer = SDP_HEAD("198.51.100.20") "a=fingerprint:sha-256 11:22:33:44:55:66\r\n"
                                                   "m=audio 50000 UDP/TLS/RTP/SAVPF 0\r\n"
                                                   "a=rtcp-mux\r\n"
                                                   "m=video 50002 RTP/AVP 96\r\n"
                                                   "a=rtpmap:96 VP8/90000\r\n";
    req(&D1, 0, false, "INVITE", "inv1", 1, false, offer);
    resp(&D1, 1, false, 200, "INVITE", "inv1", 1, "btag1", answer);
    rtp_run(1.1, 10, A_MEDIA, B_MEDIA, 0x31, 1, 0);
    rtp_run(1.1, 10, "192.0.2.10:40002", "198.51.100.20:50002", 0x32, 1, 96);

    /* Offer only: its first suite; an unregistered one is "unknown". */
    const char *offer2 = SDP_HEAD("192.0.2.11") "m=audio 40000 RTP/SAVP 0\r\n"
                                                "a=crypto:7 NEW_SUITE_OF_2030 inline:abc\r\n"
                                                "m=audio 40002 RTP/SAVP 0\r\n"
                                                "a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:def\r\n"
                                                "a=crypto:2 AEAD_AES_128_GCM inline:ghi\r\n";
    req(&D2, 0, false, "INVITE", "inv2", 1, false, offer2);
    rtp_run(0.5, 10, "198.51.100.21:50000", "192.0.2.11:40000", 0x41, 1, 0);
    rtp_run(0.5, 10, "198.51.100.21:50000", "192.0.2.11:40002", 0x42, 1, 0);
    corr_flush(C);

    const rec_stream_t *s = stream_of(A_MEDIA, B_MEDIA, 0x31);
    ck_assert(s->r.srtp);
    ck_assert_str_eq(s->r.srtp_suite, "DTLS-SRTP");
    ck_assert_uint_eq(s->r.packets, 10);
    s = stream_of("192.0.2.10:40002", "198.51.100.20:50002", 0x32);
    ck_assert(!s->r.srtp);
    ck_assert_str_eq(s->r.srtp_suite, "");
    s = stream_of("198.51.100.21:50000", "192.0.2.11:40000", 0x41);
    ck_assert(s->r.srtp);
    ck_assert_str_eq(s->r.srtp_suite, "unknown");
    s = stream_of("198.51.100.21:50000", "192.0.2.11:40002", 0x42);
    ck_assert(s->r.srtp);
    ck_assert_str_eq(s->r.srtp_suite, "AES_256_CM_HMAC_SHA1_80");
}
END_TEST

START_TEST(srtp_refused_by_answer)
{
    const char *offer = SDP_HEAD("192.0.2.10") "m=audio 40000 RTP/SAVP 0\r\n"
                                               "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:abc\r\n";
    const char *answer = SDP_HEAD("198.51.100.20") "m=audio 50000 RTP/AVP 0\r\n";
    req(&D1, 0, false, "INVITE", "inv1", 1, false, offer);
    resp(&D1, 1, false, 200, "INVITE", "inv1", 1, "btag1", answer);
    rtp_run(1.1, 10, A_MEDIA, B_MEDIA, 0x51, 1, 0);
    corr_flush(C);
    const rec_stream_t *s = stream_of(A_MEDIA, B_MEDIA, 0x51);
    ck_assert(!s->r.srtp);
    ck_assert_str_eq(s->r.srtp_suite, "");
}
END_TEST

/* A SIP message cut out of a TCP stream says how it came: WebSocket, TLS, both, or neither. */
START_TEST(message_via_from_carried)
{
    static const uint8_t carried[] = {0, PKT_CARRIED_WS, PKT_CARRIED_TLS,
                                      PKT_CARRIED_WS | PKT_CARRIED_TLS};
    static const char *const want[] = {"", "ws", "tls", "wss"};
    for (size_t i = 0; i < sizeof(carried); i++) {
        char text[512];
        int n = snprintf(text, sizeof(text),
                         "OPTIONS sip:bob@example.com SIP/2.0\r\n"
                         "Via: SIP/2.0/WSS 192.0.2.10:5060;branch=z9hG4bKws%zu\r\n"
                         "From: <sip:alice@example.com>;tag=w%zu\r\n"
                         "To: <sip:bob@example.com>\r\n"
                         "Call-ID: ws-%zu@example.com\r\n"
                         "CSeq: 1 OPTIONS\r\n"
                         "Content-Length: 0\r\n\r\n",
                         i, i, i);
        ck_assert(n > 0 && (size_t)n < sizeof(text));
        ck_assert_int_gt(sip_parse_datagram(text, (size_t)n, &MSG), 0);
        packet_view_t p = {.ts_ns = ns((double)i),
                           .src = ep("192.0.2.10:5060"),
                           .dst = ep("198.51.100.20:443"),
                           .ip_proto = 6,
                           .payload = (const uint8_t *)text,
                           .len = (size_t)n,
                           .carried = carried[i]};
        corr_on_sip(C, &p, &MSG);
        ck_assert_uint_eq(R.n_msgs, i + 1);
        ck_assert_str_eq(R.msgs[i].r.via, want[i]);
        ck_assert_uint_eq(R.msgs[i].r.transport, 6);
    }
}
END_TEST

START_TEST(multipart_body_sdp)
{
    /* SIP-I style: SDP and ISUP in a multipart body. */
    const char *text = "INVITE sip:bob@example.com SIP/2.0\r\n"
                       "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKmp\r\n"
                       "From: <sip:alice@example.com>;tag=mp\r\n"
                       "To: <sip:bob@example.com>\r\n"
                       "Call-ID: multipart@example.com\r\n"
                       "CSeq: 1 INVITE\r\n"
                       "Content-Type: multipart/mixed;boundary=unique-boundary-1\r\n"
                       "\r\n"
                       "--unique-boundary-1\r\n"
                       "Content-Type: application/sdp\r\n"
                       "\r\n"
                       "v=0\r\n"
                       "o=- 1 1 IN IP4 192.0.2.10\r\n"
                       "s=-\r\n"
                       "c=IN IP4 192.0.2.10\r\n"
                       "t=0 0\r\n"
                       "m=audio 40000 RTP/AVP 0\r\n"
                       "\r\n"
                       "--unique-boundary-1\r\n"
                       "Content-Type: application/ISUP;version=itu-t92+\r\n"
                       "\r\n"
                       "\x01\x00\x49\x00\x00\x03\x02\x00\x07\r\n"
                       "--unique-boundary-1--\r\n";
    sip_text(0, "192.0.2.10:5060", "198.51.100.20:5060", text);
    rtp_run(1, 10, B_MEDIA, A_MEDIA, 0x99, 1, 0);
    corr_flush(C);
    const rec_call_t *c = call_by_id("multipart@example.com");
    ck_assert_int_eq(stream_of(B_MEDIA, A_MEDIA, 0x99)->r.call_row, c->r.id);
}
END_TEST

START_TEST(media_kind_rtcp_port_and_mux)
{
    char offer[1024], answer[1024];
    req(&D1, 0, false, "INVITE", "inv1", 1, false,
        sdp_audio(offer, sizeof(offer), "192.0.2.10", 40000, "a=rtcp-mux\r\n"));
    resp(&D1, 1, false, 200, "INVITE", "inv1", 1, "btag1",
         sdp_audio(answer, sizeof(answer), "198.51.100.20", 50000,
                   "a=rtcp:50011 IN IP4 198.51.100.99\r\n"));
    static const uint8_t rtp_bytes[12] = {0x80, 0x00};
    static const uint8_t rtcp_bytes[8] = {0x81, 201};
    packet_view_t p = {.ts_ns = ns(1.5), .ip_proto = 17, .payload = rtp_bytes, .len = 12};
    p.src = ep(B_MEDIA);
    p.dst = ep(A_MEDIA); /* muxed */
    ck_assert_int_eq(corr_media_kind(C, &p), CORR_MEDIA_RTP);
    p.payload = rtcp_bytes;
    p.len = 8;
    ck_assert_int_eq(corr_media_kind(C, &p), CORR_MEDIA_RTCP);
    p.src = ep("192.0.2.10:40000");
    p.dst = ep("198.51.100.99:50011"); /* a=rtcp with its own address */
    ck_assert_int_eq(corr_media_kind(C, &p), CORR_MEDIA_RTCP);
    p.dst = ep(B_MEDIA);
    p.payload = rtp_bytes;
    ck_assert_int_eq(corr_media_kind(C, &p), CORR_MEDIA_RTP);
    p.src = ep("192.0.2.99:1000");
    p.dst = ep("192.0.2.98:1002");
    ck_assert_int_eq(corr_media_kind(C, &p), CORR_MEDIA_NONE);
    /* Default RTCP port: RTP + 1, by source too. */
    fresh(NULL);
    call_up(&D1, 0, "192.0.2.10", 40000, "198.51.100.20", 50000);
    p.src = ep("192.0.2.10:40001");
    p.dst = ep("203.0.113.1:9999");
    p.payload = rtcp_bytes;
    ck_assert_int_eq(corr_media_kind(C, &p), CORR_MEDIA_RTCP);
    /* Endpoints are released with the call. */
    call_down(&D1, 5);
    corr_tick(C, ns(60));
    ck_assert_int_eq(corr_media_kind(C, &p), CORR_MEDIA_NONE);
}
END_TEST

START_TEST(rtcp_reports_fill_stream)
{
    call_up(&D1, 0, "192.0.2.10", 40000, "198.51.100.20", 50000);
    rtp_run(3.1, 100, A_MEDIA, B_MEDIA, 0x11111111, 100, 0);
    rtp_run(3.1, 100, B_MEDIA, A_MEDIA, 0x22222222, 200, 0);
    /* The caller's SR about its own stream, at 4.0 s. */
    rtcp_compound_t sr;
    memset(&sr, 0, sizeof(sr));
    sr.n_packets = 1;
    sr.packets[0].type = RTCP_SR;
    sr.packets[0].ssrc = 0x11111111;
    sr.packets[0].ntp = 0x83aa7e8080000000ULL; /* some NTP time; middle 32 = 0x7e808000 */
    rtcp_feed(4.0, "192.0.2.10:40001", "198.51.100.20:50001", &sr);
    /* The callee's RR about it at 4.3 s: it held the SR for 0.25 s, so RTT = 50 ms. */
    rtcp_compound_t rr;
    memset(&rr, 0, sizeof(rr));
    rr.n_packets = 1;
    rr.packets[0].type = RTCP_RR;
    rr.packets[0].ssrc = 0x22222222;
    rr.packets[0].n_reports = 1;
    rtcp_report_t *b = &rr.packets[0].reports[0];
    b->ssrc = 0x11111111;
    b->fraction_lost = 64;
    b->cumulative_lost = 3;
    b->jitter = 80; /* 10 ms at 8 kHz */
    b->lsr = 0x7e808000;
    b->dlsr = 0x4000; /* 0.25 s */
    rtcp_feed(4.3, "198.51.100.20:50001", "192.0.2.10:40001", &rr);
    ck_assert_uint_eq(stats()->rtcp_packets, 2);
    call_down(&D1, 6);
    corr_flush(C);
    const rec_stream_t *s = stream_of(A_MEDIA, B_MEDIA, 0x11111111);
    ck_assert(s->r.have_rtcp);
    ck_assert(fabs(s->r.rtcp_fraction_lost - 0.25) < 1e-9);
    ck_assert_int_eq(s->r.rtcp_cumulative_lost, 3);
    ck_assert(fabs(s->r.rtcp_jitter_ms - 10.0) < 1e-9);
    ck_assert_msg(fabs(s->r.rtcp_rtt_ms - 50.0) < 0.05, "rtt %f", s->r.rtcp_rtt_ms);
    s = stream_of(B_MEDIA, A_MEDIA, 0x22222222);
    ck_assert(!s->r.have_rtcp);
    ck_assert(s->r.rtcp_rtt_ms < 0);
}
END_TEST

START_TEST(rtcp_on_unsignalled_flow)
{
    rtp_run(0, 50, "192.0.2.50:7000", "192.0.2.60:8000", 0x5150, 1, 0);
    rtcp_compound_t rr;
    memset(&rr, 0, sizeof(rr));
    rr.n_packets = 1;
    rr.packets[0].type = RTCP_RR;
    rr.packets[0].n_reports = 1;
    rr.packets[0].reports[0].ssrc = 0x5150;
    rr.packets[0].reports[0].cumulative_lost = 7;
    rtcp_feed(1, "192.0.2.60:8001", "192.0.2.50:7001", &rr);
    corr_flush(C);
    const rec_stream_t *s = stream_of("192.0.2.50:7000", "192.0.2.60:8000", 0x5150);
    ck_assert(s->r.have_rtcp);
    ck_assert_int_eq(s->r.rtcp_cumulative_lost, 7);
}
END_TEST

START_TEST(samples_per_interval)
{
    call_up(&D1, 0, "192.0.2.10", 40000, "198.51.100.20", 50000);
    rtp_run(3.1, 600, A_MEDIA, B_MEDIA, 0x11111111, 100, 0); /* 12 s */
    call_down(&D1, 16);
    corr_flush(C);
    const rec_stream_t *s = stream_of(A_MEDIA, B_MEDIA, 0x11111111);
    ck_assert_uint_ge(R.n_samples, 3);
    uint64_t pkts = 0;
    for (size_t i = 0; i < R.n_samples; i++) {
        ck_assert_int_eq(R.samples[i].stream_row, s->r.id);
        if (i > 0)
            ck_assert_int_gt(R.samples[i].start_ns, R.samples[i - 1].start_ns);
        pkts += R.samples[i].packets;
    }
    ck_assert_uint_eq(pkts, 600);
}
END_TEST

/* ------------------------------------------------------------------ snapshots (in progress) */

static corr_t *fresh_snapshots(void)
{
    corr_cfg_t cfg;
    corr_cfg_init(&cfg);
    cfg.snapshots = true;
    return fresh(&cfg);
}

/* A call's first snapshot comes before its first message; checkpoints publish what changed
 * (streams before their call, figures so far), nothing when nothing did; the final records
 * keep the ids and say active = false. */
START_TEST(snapshots_publish_calls_in_progress)
{
    fresh_snapshots();
    call_up(&D1, 0, "192.0.2.10", 40000, "198.51.100.20", 50000);
    ck_assert_uint_ge(R.n_calls, 1);
    const rec_call_t *first = &R.calls[0];
    ck_assert(first->r.active);
    ck_assert_int_eq(first->r.state, CALL_SETUP);
    ck_assert_int_eq(first->r.sip_messages, 1);
    ck_assert_int_eq(R.msgs[0].r.call_row, first->r.id);
    ck_assert_int_lt(first->order, R.msgs[0].order);
    int64_t id = first->r.id;
    size_t calls0 = R.n_calls;
    ck_assert_uint_eq(calls0, 1); /* SIP alone snapshots nothing more until a checkpoint */

    rtp_run(3.1, 50, A_MEDIA, B_MEDIA, 0x11111111, 100, 0);
    rtp_run(3.1, 50, B_MEDIA, A_MEDIA, 0x22222222, 200, 0);
    corr_checkpoint(C);
    ck_assert_uint_eq(R.n_streams, 2);
    ck_assert_uint_eq(R.n_calls, 2);
    const rec_call_t *snap = &R.calls[1];
    ck_assert(snap->r.active);
    ck_assert_int_eq(snap->r.id, id);
    ck_assert_int_eq(snap->r.state, CALL_IN_CALL);
    ck_assert_int_eq(snap->r.end_ns, 0);
    assert_ms(snap->r.duration_ns, 1080); /* answer at 3 s, last packet at 4.08 s */
    ck_assert(snap->r.mos > 4.0);
    ck_assert(!snap->r.one_way);
    for (size_t i = 0; i < 2; i++) {
        ck_assert(R.streams[i].r.active);
        ck_assert_uint_eq(R.streams[i].r.packets, 50);
        ck_assert_int_eq(R.streams[i].r.call_row, id);
        ck_assert_int_lt(R.streams[i].order, snap->order);
    }
    ck_assert_uint_eq(stats()->call_snapshots, 2);
    ck_assert_uint_eq(stats()->stream_snapshots, 2);

    /* Nothing changed: nothing published. */
    corr_checkpoint(C);
    ck_assert_uint_eq(R.n_calls, 2);
    ck_assert_uint_eq(R.n_streams, 2);
    /* One stream moved: it and its call. */
    rtp_run(4.1, 10, A_MEDIA, B_MEDIA, 0x11111111, 150, 0);
    corr_checkpoint(C);
    ck_assert_uint_eq(R.n_streams, 3);
    ck_assert_uint_eq(R.streams[2].r.packets, 60);
    ck_assert_uint_eq(R.n_calls, 3);

    /* Ended and lingering: no more call snapshots; then the final records, same ids. */
    call_down(&D1, 5);
    corr_checkpoint(C);
    ck_assert_uint_eq(R.n_calls, 3);
    corr_flush(C);
    ck_assert_uint_eq(R.n_calls, 4);
    const rec_call_t *fin = &R.calls[3];
    ck_assert(!fin->r.active);
    ck_assert_int_eq(fin->r.id, id);
    ck_assert_int_eq(fin->r.state, CALL_COMPLETED);
    assert_ms(fin->r.duration_ns, 2000);
    ck_assert_uint_eq(R.n_streams, 5);
    for (size_t i = 3; i < 5; i++) {
        ck_assert(!R.streams[i].r.active);
        ck_assert(R.streams[i].r.id == R.streams[0].r.id || R.streams[i].r.id == R.streams[1].r.id);
    }
    ck_assert_uint_eq(stats()->calls_flushed, 1);
}
END_TEST

/* A stream's row comes before its first sample; at its end, its final record before its last
 * samples. Without snapshots corr_checkpoint publishes nothing. */
START_TEST(snapshots_stream_before_samples)
{
    fresh_snapshots();
    call_up(&D1, 0, "192.0.2.10", 40000, "198.51.100.20", 50000);
    rtp_run(3.1, 600, A_MEDIA, B_MEDIA, 0x11111111, 100, 0); /* 12 s: samples on the way */
    ck_assert_uint_ge(R.n_samples, 1);
    ck_assert_uint_eq(R.n_streams, 1);
    ck_assert(R.streams[0].r.active);
    ck_assert_int_eq(R.streams[0].r.id, R.samples[0].stream_row);
    ck_assert_int_lt(R.streams[0].order, R.sample_order[0]);
    size_t samples_mid = R.n_samples;
    call_down(&D1, 16);
    corr_flush(C);
    ck_assert_uint_eq(R.n_streams, 2);
    ck_assert(!R.streams[1].r.active);
    ck_assert_uint_gt(R.n_samples, samples_mid);
    ck_assert_int_lt(R.streams[1].order, R.sample_order[samples_mid]);

    fresh(NULL);
    call_up(&D1, 0, "192.0.2.10", 40000, "198.51.100.20", 50000);
    rtp_run(3.1, 300, A_MEDIA, B_MEDIA, 0x11111111, 100, 0);
    corr_checkpoint(C);
    ck_assert_uint_eq(R.n_calls, 0);
    ck_assert_uint_eq(R.n_streams, 0);
    ck_assert_uint_eq(stats()->checkpoints, 0);
}
END_TEST

/* ------------------------------------------------------------------ non-call traffic */

START_TEST(register_options_make_no_call)
{
    dlg_t r = {"reg-1@example.com", "192.0.2.30:5060", "198.51.100.5:5060", "rt", "st"};
    req(&r, 0, false, "REGISTER", "r1", 1, false, NULL);
    resp(&r, 0.01, false, 401, "REGISTER", "r1", 1, "st", NULL);
    req(&r, 0.02, false, "REGISTER", "r2", 2, false, NULL);
    resp(&r, 0.03, false, 200, "REGISTER", "r2", 2, "st", NULL);
    dlg_t o = {"opt-1@example.com", "203.0.113.200:5070", "198.51.100.5:5060", "ot", "x"};
    req(&o, 1, false, "OPTIONS", "o1", 1, false, NULL);
    resp(&o, 1.01, false, 200, "OPTIONS", "o1", 1, "x", NULL);
    dlg_t s = {"sub-1@example.com", "192.0.2.30:5060", "198.51.100.5:5060", "su", "sv"};
    req(&s, 2, false, "SUBSCRIBE", "s1", 1, false, NULL);
    req(&s, 2.1, false, "MESSAGE", "m1", 2, false, NULL);
    req(&s, 2.2, true, "NOTIFY", "n1", 1, true, NULL);
    corr_tick(C, ns(1000));
    corr_flush(C);
    ck_assert_uint_eq(R.n_calls, 0);
    ck_assert_uint_eq(stats()->calls_created, 0);
    ck_assert_uint_eq(stats()->live_calls, 0);
    ck_assert_uint_eq(stats()->sip_orphans, 0);
    ck_assert_uint_eq(R.n_msgs, 9);
    ck_assert_uint_eq(msgs_of(0), 9);
    ck_assert_str_eq(R.msgs[0].method, "REGISTER");
    ck_assert_str_eq(R.msgs[1].method, "REGISTER");
    ck_assert_uint_eq(R.msgs[1].r.status, 401);
    ck_assert_str_eq(R.msgs[0].call_id, "reg-1@example.com");
    ck_assert_str_eq(R.msgs[8].method, "NOTIFY");
}
END_TEST

START_TEST(orphans_and_in_dialog_requests)
{
    /* A BYE of a call we never saw is an orphan; an INFO of a known call belongs to it. */
    req(&D2, 0, false, "BYE", "b", 2, true, NULL);
    resp(&D2, 0.01, false, 481, "BYE", "b", 2, "btag2", NULL);
    ck_assert_uint_eq(stats()->sip_orphans, 2);
    call_up(&D1, 1, "192.0.2.10", 40000, "198.51.100.20", 50000);
    req(&D1, 5, false, "INFO", "i1", 2, true, NULL);
    resp(&D1, 5.01, false, 200, "INFO", "i1", 2, "btag1", NULL);
    corr_flush(C);
    ck_assert_uint_eq(stats()->sip_orphans, 2);
    const rec_call_t *c = call_by_id(D1.call_id);
    ck_assert_uint_eq(c->r.sip_messages, 7);
    ck_assert_int_eq(c->r.state, CALL_IN_CALL);
    ck_assert_uint_eq(msgs_of(0), 2);
}
END_TEST

START_TEST(unknown_method_in_message_record)
{
    dlg_t d = {"x@example.com", "192.0.2.30:5060", "198.51.100.5:5060", "t", "u"};
    req(&d, 0, false, "FROBNICATE", "f1", 1, false, NULL);
    resp(&d, 0.1, false, 501, "FROBNICATE", "f1", 1, "u", NULL);
    ck_assert_str_eq(R.msgs[0].method, "FROBNICATE");
    ck_assert_str_eq(R.msgs[1].method, "FROBNICATE");
    ck_assert_uint_eq(R.msgs[1].r.status, 501);
}
END_TEST

/* ------------------------------------------------------------------ time and bounds */

START_TEST(setup_timeout)
{
    req(&D1, 0, false, "INVITE", "inv1", 1, false, NULL);
    resp(&D1, 1, false, 180, "INVITE", "inv1", 1, "btag1", NULL);
    corr_tick(C, ns(300));
    ck_assert_uint_eq(R.n_calls, 0);
    corr_tick(C, ns(301.5));
    ck_assert_uint_eq(R.n_calls, 1);
    ck_assert_int_eq(R.calls[0].r.state, CALL_RINGING);
    ck_assert_uint_eq(stats()->calls_timed_out, 1);
    ck_assert_uint_eq(stats()->live_calls, 0);
}
END_TEST

START_TEST(in_call_timeout_kept_alive_by_media)
{
    corr_cfg_t cfg;
    corr_cfg_init(&cfg);
    cfg.call_idle_timeout_s = 5;
    cfg.stream_idle_timeout_s = 3;
    fresh(&cfg);
    call_up(&D1, 0, "192.0.2.10", 40000, "198.51.100.20", 50000);
    /* 20 s of media, ticking every second as the pipeline does. */
    for (int i = 0; i < 20; i++) {
        rtp_run(3.1 + i, 50, A_MEDIA, B_MEDIA, 0x1, (uint16_t)(1 + 50 * i), 0);
        corr_tick(C, ns(4.1 + i));
    }
    ck_assert_uint_eq(R.n_calls, 0);
    ck_assert_uint_eq(R.n_streams, 0);
    corr_tick(C, ns(23.08 + 2.9));
    ck_assert_uint_eq(R.n_streams, 0);
    corr_tick(C, ns(23.08 + 3.01)); /* the stream idles out first */
    ck_assert_uint_eq(R.n_streams, 1);
    ck_assert_uint_eq(stats()->streams_timed_out, 1);
    ck_assert_int_eq(R.streams[0].r.call_row, 1);
    ck_assert_uint_eq(R.streams[0].r.packets, 1000);
    corr_tick(C, ns(23.08 + 4.9));
    ck_assert_uint_eq(R.n_calls, 0);
    corr_tick(C, ns(23.08 + 5.01));
    ck_assert_uint_eq(R.n_calls, 1);
    ck_assert_int_eq(R.calls[0].r.state, CALL_IN_CALL);
    ck_assert_uint_eq(stats()->calls_timed_out, 1);
}
END_TEST

START_TEST(media_does_not_extend_linger)
{
    call_up(&D1, 0, "192.0.2.10", 40000, "198.51.100.20", 50000);
    call_down(&D1, 5);
    for (int i = 0; i < 20; i++) {
        rtp_run(5 + i, 50, A_MEDIA, B_MEDIA, 0x1, (uint16_t)(1 + 50 * i), 0);
        corr_tick(C, ns(6 + i));
    }
    ck_assert_uint_eq(R.n_calls, 1);
    ck_assert_uint_eq(stats()->calls_ended, 1);
}
END_TEST

START_TEST(eviction_at_max_calls)
{
    corr_cfg_t cfg;
    corr_cfg_init(&cfg);
    cfg.max_calls = 4;
    fresh(&cfg);
    char id[64];
    for (int i = 0; i < 6; i++) {
        snprintf(id, sizeof(id), "ev-%d@example.com", i);
        dlg_t d = {id, "192.0.2.10:5060", "198.51.100.20:5060", "a", "b"};
        req(&d, i, false, "INVITE", "inv1", 1, false, NULL);
    }
    ck_assert_uint_eq(stats()->live_calls, 4);
    ck_assert_uint_eq(stats()->calls_evicted, 2);
    ck_assert_uint_eq(R.n_calls, 2);
    /* The oldest idle calls went, as they stood. */
    ck_assert_str_eq(R.calls[0].call_id, "ev-0@example.com");
    ck_assert_str_eq(R.calls[1].call_id, "ev-1@example.com");
    ck_assert_int_eq(R.calls[0].r.state, CALL_SETUP);
    /* Activity protects a call: ev-2 gets a 180, so ev-3 goes next. */
    dlg_t d2 = {"ev-2@example.com", "192.0.2.10:5060", "198.51.100.20:5060", "a", "b"};
    resp(&d2, 7, false, 180, "INVITE", "inv1", 1, "b", NULL);
    dlg_t d6 = {"ev-6@example.com", "192.0.2.10:5060", "198.51.100.20:5060", "a", "b"};
    req(&d6, 8, false, "INVITE", "inv1", 1, false, NULL);
    ck_assert_str_eq(R.calls[2].call_id, "ev-3@example.com");
    /* A finished call goes before any live one, and counts as ended. */
    dlg_t d4 = {"ev-4@example.com", "192.0.2.10:5060", "198.51.100.20:5060", "a", "b"};
    resp(&d4, 9, false, 486, "INVITE", "inv1", 1, "b", NULL);
    dlg_t d7 = {"ev-7@example.com", "192.0.2.10:5060", "198.51.100.20:5060", "a", "b"};
    req(&d7, 10, false, "INVITE", "inv1", 1, false, NULL);
    ck_assert_str_eq(R.calls[3].call_id, "ev-4@example.com");
    ck_assert_int_eq(R.calls[3].r.state, CALL_REJECTED);
    ck_assert_uint_eq(stats()->calls_evicted, 3);
    ck_assert_uint_eq(stats()->calls_ended, 1);
    corr_flush(C);
    ck_assert_uint_eq(R.n_calls, 8);
    ck_assert_uint_eq(stats()->calls_flushed, 4);
    ck_assert_uint_eq(stats()->live_calls, 0);
}
END_TEST

START_TEST(eviction_at_max_streams)
{
    corr_cfg_t cfg;
    corr_cfg_init(&cfg);
    cfg.max_streams = 3;
    fresh(&cfg);
    for (uint32_t i = 0; i < 5; i++)
        rtp_pkt(i, "192.0.2.50:7000", "192.0.2.60:8000", 100 + i, 1, 0, 0);
    ck_assert_uint_eq(stats()->live_streams, 3);
    ck_assert_uint_eq(stats()->streams_evicted, 2);
    ck_assert_uint_eq(R.streams[0].r.ssrc, 100);
    ck_assert_uint_eq(R.streams[1].r.ssrc, 101);
    /* 102 is the oldest now, but it has just had a packet: 103 goes instead. */
    rtp_pkt(5, "192.0.2.50:7000", "192.0.2.60:8000", 102, 2, 160, 0);
    rtp_pkt(6, "192.0.2.50:7000", "192.0.2.60:8000", 105, 1, 0, 0);
    ck_assert_uint_eq(R.streams[2].r.ssrc, 103);
    corr_flush(C);
    ck_assert_uint_eq(R.n_streams, 6);
}
END_TEST

START_TEST(flush_emits_everything)
{
    call_up(&D1, 0, "192.0.2.10", 40000, "198.51.100.20", 50000);
    rtp_run(3.1, 10, A_MEDIA, B_MEDIA, 0x1, 1, 0);
    req(&D2, 1, false, "INVITE", "inv1", 1, false, NULL);
    call_down(&D1, 5);
    rtp_run(6, 10, "192.0.2.50:7000", "192.0.2.60:8000", 0x9, 1, 0);
    corr_flush(C);
    ck_assert_uint_eq(R.n_calls, 2);
    ck_assert_uint_eq(R.n_streams, 2);
    ck_assert_uint_eq(stats()->live_calls, 0);
    ck_assert_uint_eq(stats()->live_streams, 0);
    ck_assert_uint_eq(stats()->calls_flushed, 2);
    ck_assert_uint_eq(stats()->streams_ended + stats()->streams_flushed, 2);
    corr_flush(C); /* idempotent */
    ck_assert_uint_eq(R.n_calls, 2);
}
END_TEST

START_TEST(first_id_setter)
{
    corr_set_first_id(C, 1000);
    call_up(&D1, 0, "192.0.2.10", 40000, "198.51.100.20", 50000);
    rtp_run(3.1, 10, A_MEDIA, B_MEDIA, 0x1, 1, 0);
    rtp_run(3.1, 10, "192.0.2.50:7000", "192.0.2.60:8000", 0x9, 1, 0);
    corr_flush(C);
    ck_assert_int_eq(call_by_id(D1.call_id)->r.id, 1000);
    ck_assert_int_eq(stream_of(A_MEDIA, B_MEDIA, 0x1)->r.id, 1001);
    ck_assert_int_eq(stream_of("192.0.2.50:7000", "192.0.2.60:8000", 0x9)->r.id, 1002);
    ck_assert_int_eq(R.msgs[0].r.call_row, 1000);
}
END_TEST

/* ------------------------------------------------------------------ hostile input */

START_TEST(hostile_missing_call_id)
{
    const char *text = "INVITE sip:bob@example.com SIP/2.0\r\n"
                       "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKx\r\n"
                       "From: <sip:alice@example.com>;tag=a\r\n"
                       "To: <sip:bob@example.com>\r\n"
                       "CSeq: 1 INVITE\r\n"
                       "Content-Length: 0\r\n\r\n";
    sip_text(0, "192.0.2.10:5060", "198.51.100.20:5060", text);
    ck_assert_uint_eq(stats()->calls_created, 0);
    ck_assert_uint_eq(R.n_msgs, 1);
    ck_assert_int_eq(R.msgs[0].r.call_row, 0);
    ck_assert_str_eq(R.msgs[0].call_id, "");
    corr_flush(C);
    ck_assert_uint_eq(R.n_calls, 0);
}
END_TEST

START_TEST(hostile_empty_tags)
{
    dlg_t d = {"notags@example.com", "192.0.2.10:5060", "198.51.100.20:5060", "", ""};
    char offer[1024], answer[1024];
    req(&d, 0, false, "INVITE", "inv1", 1, false,
        sdp_audio(offer, sizeof(offer), "192.0.2.10", 40000, NULL));
    resp(&d, 1, false, 180, "INVITE", "inv1", 1, "", NULL);
    resp(&d, 2, false, 200, "INVITE", "inv1", 1, "",
         sdp_audio(answer, sizeof(answer), "198.51.100.20", 50000, NULL));
    rtp_run(2.1, 20, B_MEDIA, A_MEDIA, 5, 1, 0);
    rtp_run(2.1, 20, A_MEDIA, B_MEDIA, 6, 1, 0);
    req(&d, 5, true, "BYE", "bye", 1, true, NULL);
    corr_flush(C);
    const rec_call_t *c = call_by_id("notags@example.com");
    ck_assert_int_eq(c->r.state, CALL_COMPLETED);
    ck_assert_str_eq(c->from_tag, "");
    ck_assert_str_eq(c->to_tag, "");
    /* The answer (sent by the callee) gave the callee's endpoint: media matched both ways. */
    ck_assert_int_eq(stream_of(B_MEDIA, A_MEDIA, 5)->r.call_row, c->r.id);
    ck_assert(!stream_of(B_MEDIA, A_MEDIA, 5)->r.sdp_mismatch);
    ck_assert(!stream_of(A_MEDIA, B_MEDIA, 6)->r.sdp_mismatch);
}
END_TEST

START_TEST(hostile_long_call_ids)
{
    /* Call-IDs beyond what the arena keeps: equal prefixes, different tails. */
    static char id1[1001], id2[1001];
    memset(id1, 'x', 1000);
    memcpy(id2, id1, sizeof(id1));
    id2[999] = 'y';
    dlg_t d1 = {id1, "192.0.2.10:5060", "198.51.100.20:5060", "a1", "b1"};
    dlg_t d2 = {id2, "192.0.2.10:5060", "198.51.100.20:5060", "a2", "b2"};
    req(&d1, 0, false, "INVITE", "i1", 1, false, NULL);
    req(&d2, 0.1, false, "INVITE", "i2", 1, false, NULL);
    resp(&d1, 1, false, 486, "INVITE", "i1", 1, "b1", NULL);
    resp(&d2, 1.1, false, 200, "INVITE", "i2", 1, "b2", NULL);
    ck_assert_uint_eq(stats()->calls_created, 2);
    corr_flush(C);
    ck_assert_uint_eq(R.n_calls, 2);
    int rejected = 0, answered = 0;
    for (size_t i = 0; i < 2; i++) {
        rejected += R.calls[i].r.state == CALL_REJECTED;
        answered += R.calls[i].r.state == CALL_IN_CALL;
        ck_assert_uint_ge(strlen(R.calls[i].call_id), 200);
    }
    ck_assert_int_eq(rejected, 1);
    ck_assert_int_eq(answered, 1);
    /* Message records carry the Call-ID (up to their buffer). */
    ck_assert_uint_ge(strlen(R.msgs[0].call_id), 250);
}
END_TEST

START_TEST(hostile_many_call_ids_stay_bounded)
{
    corr_cfg_t cfg;
    corr_cfg_init(&cfg);
    cfg.max_calls = 64;
    cfg.max_streams = 32;
    fresh(&cfg);
    char id[64], offer[1024];
    for (int i = 0; i < 10000; i++) {
        snprintf(id, sizeof(id), "flood-%d@203.0.113.66", i);
        dlg_t d = {id, "203.0.113.66:5060", "198.51.100.20:5060", "t", "u"};
        char ip[32];
        snprintf(ip, sizeof(ip), "10.%d.%d.1", (i >> 8) & 0xff, i & 0xff);
        req(&d, i * 0.001, false, "INVITE", "f", 1, false,
            sdp_audio(offer, sizeof(offer), ip, 1000 + (unsigned)(i % 50000), NULL));
        ck_assert_uint_le(stats()->live_calls, 64);
        if (i % 10 == 0) {
            char src[48];
            snprintf(src, sizeof(src), "198.51.100.%d:%d", i % 250, 2000 + i % 1000);
            rtp_pkt(i * 0.001, src, "198.51.100.20:9", (uint32_t)i, 1, 0, 0);
            ck_assert_uint_le(stats()->live_streams, 32);
        }
        if (i % 100 == 0)
            corr_tick(C, ns(i * 0.001));
    }
    ck_assert_uint_eq(stats()->calls_created, 10000);
    ck_assert_uint_eq(stats()->live_calls, 64);
    ck_assert_uint_eq(stats()->calls_evicted + stats()->calls_timed_out, 10000 - 64);
    ck_assert_uint_eq(stats()->streams_created, 1000);
    ck_assert_uint_eq(stats()->streams_evicted, 1000 - 32);
    ck_assert_uint_eq(stats()->media_refused, 0);
    corr_flush(C);
    ck_assert_uint_eq(R.n_calls, 10000);
    ck_assert_uint_eq(stats()->live_calls, 0);
}
END_TEST

START_TEST(hostile_garbage_sdp_and_odd_responses)
{
    /* A body that is not SDP, a response without a call, a 2xx to BYE without BYE. */
    dlg_t d = {"odd@example.com", "192.0.2.10:5060", "198.51.100.20:5060", "a", "b"};
    req(&d, 0, false, "INVITE", "i", 1, false, "this is not sdp\r\n");
    resp(&d, 0.5, false, 200, "BYE", "zz", 9, "b", NULL);
    resp(&d, 0.6, false, 999, "INVITE", "i", 1, "b",
         "v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 0 RTP/AVP 0\r\n");
    corr_flush(C);
    const rec_call_t *c = call_by_id("odd@example.com");
    ck_assert_int_eq(c->r.state, CALL_COMPLETED);
    ck_assert_uint_eq(stats()->media_refused, 0);
}
END_TEST

static uint32_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state % n;
}

/* Random interleavings of dialog messages, media and RTCP over a few Call-IDs, tags and ports
 * (so that forks, reuse, takeovers and evictions collide), under small caps: nothing leaks,
 * nothing is emitted twice, the bounds hold. */
START_TEST(hostile_random_sequences)
{
    corr_cfg_t cfg;
    corr_cfg_init(&cfg);
    cfg.max_calls = 8;
    cfg.max_streams = 8;
    cfg.setup_timeout_s = 3;
    cfg.call_idle_timeout_s = 5;
    cfg.linger_s = 1;
    cfg.stream_idle_timeout_s = 2;
    cfg.sample_interval_s = 1;
    fresh(&cfg);
    rng_state = 0x9e3779b9u + (uint32_t)_i;
    static const char *const hosts[] = {"192.0.2.1", "192.0.2.2", "198.51.100.3", "10.0.0.4"};
    static const char *const tags[] = {"", "t1", "t2", "t3"};
    static const int codes[] = {100, 180, 183, 200, 404, 407, 486, 487, 500, 603};
    static const char *const methods[] = {"INVITE", "ACK",      "BYE",    "CANCEL", "OPTIONS",
                                          "INFO",   "REGISTER", "UPDATE", "PRACK"};
    double t = 0;
    uint64_t sips = 0;
    for (int n = 0; n < 4000; n++) {
        t += rnd(100) / 1000.0;
        char id[32], a[48], b[48], media[48], media2[48], sdp[1024];
        snprintf(id, sizeof(id), "r%u@x", rnd(40));
        snprintf(a, sizeof(a), "%s:5060", hosts[rnd(4)]);
        snprintf(b, sizeof(b), "%s:5060", hosts[rnd(4)]);
        dlg_t d = {id, a, b, tags[rnd(4)], tags[rnd(4)]};
        const char *host = hosts[rnd(4)];
        unsigned port = 4000 + 2 * rnd(6);
        snprintf(media, sizeof(media), "%s:%u", host, port + rnd(2));
        snprintf(media2, sizeof(media2), "%s:%u", hosts[rnd(4)], 4000 + 2 * rnd(6) + rnd(2));
        const char *body =
            rnd(2) ? sdp_audio(sdp, sizeof(sdp), host, port, rnd(2) ? "a=rtcp-mux\r\n" : NULL)
                   : NULL;
        char branch[16];
        snprintf(branch, sizeof(branch), "b%u", rnd(5));
        switch (rnd(6)) {
            case 0:
            case 1:
                req(&d, t, rnd(2), methods[rnd(9)], branch, 1 + rnd(3), rnd(2), body);
                sips++;
                break;
            case 2:
                resp(&d, t, rnd(2), codes[rnd(10)], methods[rnd(9)], branch, 1 + rnd(3),
                     tags[rnd(4)], body);
                sips++;
                break;
            case 3:
                rtp_run(t, 1 + (int)rnd(20), media, media2, rnd(4), (uint16_t)rnd(65536),
                        (uint8_t)(rnd(3) ? 0 : 101));
                break;
            case 4: {
                rtcp_compound_t rc;
                memset(&rc, 0, sizeof(rc));
                rc.n_packets = 1 + rnd(2);
                for (size_t k = 0; k < rc.n_packets; k++) {
                    rc.packets[k].type = rnd(2) ? RTCP_SR : RTCP_RR;
                    rc.packets[k].ssrc = rnd(4);
                    rc.packets[k].ntp = (uint64_t)rnd(1u << 30) << 20;
                    rc.packets[k].n_reports = (uint8_t)rnd(3);
                    for (int j = 0; j < rc.packets[k].n_reports; j++) {
                        rc.packets[k].reports[j].ssrc = rnd(4);
                        rc.packets[k].reports[j].lsr = rnd(1u << 31);
                        rc.packets[k].reports[j].dlsr = rnd(1u << 16);
                        rc.packets[k].reports[j].jitter = rnd(1000);
                    }
                }
                rtcp_feed(t, media, media2, &rc);
                break;
            }
            default:
                corr_tick(C, ns(t));
                break;
        }
        ck_assert_uint_le(stats()->live_calls, 8);
        ck_assert_uint_le(stats()->live_streams, 8);
    }
    corr_flush(C);
    const corr_stats_t *st = stats();
    ck_assert_uint_eq(st->live_calls, 0);
    ck_assert_uint_eq(st->live_streams, 0);
    ck_assert_uint_eq(R.n_calls, st->calls_created);
    ck_assert_uint_eq(st->calls_created, st->calls_ended + st->calls_timed_out + st->calls_evicted +
                                             st->calls_flushed);
    ck_assert_uint_eq(R.n_streams, st->streams_created);
    ck_assert_uint_eq(st->streams_created, st->streams_ended + st->streams_timed_out +
                                               st->streams_evicted + st->streams_flushed);
    ck_assert_uint_eq(R.n_msgs, sips);
    ck_assert_uint_eq(st->sip_messages, sips);
    /* Ids are unique: calls and streams from one counter. */
    for (size_t i = 0; i < R.n_calls && i < MAX_REC; i++)
        for (size_t j = 0; j < R.n_streams && j < MAX_REC; j++)
            ck_assert_int_ne(R.calls[i].r.id, R.streams[j].r.id);
}
END_TEST

/* ------------------------------------------------------------------ probes' quality reports */

/* A report of the stream src -> dst (ssrc) with these figures. */
static stream_record_t report(const char *src, const char *dst, uint32_t ssrc, uint64_t packets,
                              int64_t lost, double mos)
{
    stream_record_t r = {
        .src = ep(src),
        .dst = ep(dst),
        .ssrc = ssrc,
        .payload_type = 8,
        .codec = "PCMA",
        .clock_rate = 8000,
        .first_ns = ns(3.1),
        .last_ns = ns(3.1 + 0.02 * (double)packets),
        .packets = packets,
        .lost = lost,
        .duplicates = 1,
        .out_of_order = 2,
        .seq_errors = 3,
        .max_delta_ms = 41.5,
        .mean_jitter_ms = 1.25,
        .max_jitter_ms = 4.75,
        .mos = mos,
    };
    return r;
}

static void send_report(uint32_t probe, const char *call_id, bool final, stream_record_t r)
{
    corr_on_stream_report(C, probe, sv_from_cstr(call_id), -1, final, &r);
}

START_TEST(remote_reports_become_the_calls_streams)
{
    call_up(&D1, 0, "192.0.2.10", 40000, "198.51.100.20", 50000);
    send_report(7, D1.call_id, false, report(A_MEDIA, B_MEDIA, 0x11, 100, 2, 4.2));
    send_report(7, D1.call_id, false, report(A_MEDIA, B_MEDIA, 0x11, 250, 3, 4.1));
    stream_record_t fin = report(A_MEDIA, B_MEDIA, 0x11, 300, 4, 3.9);
    fin.have_rtcp = true;
    fin.rtcp_fraction_lost = 0.25;
    fin.rtcp_cumulative_lost = 7;
    fin.rtcp_jitter_ms = 2.5;
    fin.rtcp_rtt_ms = 30.0;
    send_report(7, D1.call_id, true, fin);
    send_report(7, D1.call_id, true, report(B_MEDIA, A_MEDIA, 0x22, 10, 0, 4.4));
    send_report(7, "no-such-call@example.com", true, report(B_MEDIA, A_MEDIA, 0x33, 10, 0, 4.4));
    ck_assert_uint_eq(stats()->live_streams, 2);
    call_down(&D1, 10);
    corr_tick(C, ns(15.1)); /* every final report is in: no wait beyond the linger */
    ck_assert_uint_eq(R.n_calls, 1);
    ck_assert_uint_eq(R.n_streams, 2); /* one row per stream, whatever the number of reports */
    const rec_call_t *c = call_by_id(D1.call_id);
    const rec_stream_t *s = stream_of(A_MEDIA, B_MEDIA, 0x11);
    ck_assert(s->r.has_probe);
    ck_assert_uint_eq(s->r.probe_id, 7);
    ck_assert_int_eq(s->r.call_row, c->r.id);
    ck_assert_str_eq(s->call_id, D1.call_id);
    ck_assert_str_eq(s->codec, "PCMA");
    ck_assert_uint_eq(s->r.payload_type, 8);
    ck_assert_uint_eq(s->r.packets, 300);
    ck_assert_int_eq(s->r.lost, 4);
    ck_assert_uint_eq(s->r.duplicates, 1);
    ck_assert_uint_eq(s->r.out_of_order, 2);
    ck_assert_uint_eq(s->r.seq_errors, 3);
    ck_assert_double_eq(s->r.max_delta_ms, 41.5);
    ck_assert_double_eq(s->r.mean_jitter_ms, 1.25);
    ck_assert_double_eq(s->r.max_jitter_ms, 4.75);
    ck_assert_double_eq(s->r.mos, 3.9);
    ck_assert_int_eq(s->r.first_ns, ns(3.1));
    ck_assert(s->r.have_rtcp);
    ck_assert_double_eq(s->r.rtcp_fraction_lost, 0.25);
    ck_assert_int_eq(s->r.rtcp_cumulative_lost, 7);
    ck_assert_double_eq(s->r.rtcp_rtt_ms, 30.0);
    ck_assert(!stream_of(B_MEDIA, A_MEDIA, 0x22)->r.have_rtcp);
    ck_assert(s->order < c->order);
    /* The call counts them: worst MOS, and 10 packets against 300 is one-way. */
    ck_assert_double_eq(c->r.mos, 3.9);
    ck_assert(c->r.one_way);
    ck_assert_uint_eq(stats()->remote_reports, 5);
    ck_assert_uint_eq(stats()->remote_orphans, 1);
    ck_assert_uint_eq(stats()->remote_streams, 2);
    ck_assert_uint_eq(stats()->live_streams, 0);
    ck_assert_uint_eq(stats()->streams_ended, 2);
}
END_TEST

static void send_sample(uint32_t probe, const char *call_id, const char *src, const char *dst,
                        uint32_t ssrc, double start_s, uint32_t packets)
{
    stream_record_t id = {.src = ep(src), .dst = ep(dst), .ssrc = ssrc};
    sample_record_t smp = {.start_ns = ns(start_s),
                           .packets = packets,
                           .lost = 1,
                           .jitter_ms = 0.5,
                           .max_jitter_ms = 1.5,
                           .mos = 4.25};
    corr_on_stream_sample(C, probe, sv_from_cstr(call_id), &id, &smp);
}

/* A probe's samples (TYPE "SAMPLE") become the samples of the call's remote stream, as it took
 * them: one made by a sample before any report is the same row the reports then fill; another
 * probe's samples of it, and samples for no live call, are not taken. */
START_TEST(remote_samples_chart_the_stream)
{
    call_up(&D1, 0, "192.0.2.10", 40000, "198.51.100.20", 50000);
    send_sample(7, D1.call_id, A_MEDIA, B_MEDIA, 0x11, 3.0, 100);
    send_report(7, D1.call_id, false, report(A_MEDIA, B_MEDIA, 0x11, 100, 1, 4.2));
    send_sample(9, D1.call_id, A_MEDIA, B_MEDIA, 0x11, 3.0, 99); /* not the stream's probe */
    send_sample(7, D1.call_id, A_MEDIA, B_MEDIA, 0x11, 5.0, 250);
    send_report(7, D1.call_id, true, report(A_MEDIA, B_MEDIA, 0x11, 350, 2, 4.1));
    send_sample(7, "no-such-call@example.com", A_MEDIA, B_MEDIA, 0x11, 5.0, 1);
    ck_assert_uint_eq(stats()->live_streams, 1);
    call_down(&D1, 10);
    corr_tick(C, ns(15.1));
    ck_assert_uint_eq(R.n_streams, 1);
    const rec_stream_t *s = stream_of(A_MEDIA, B_MEDIA, 0x11);
    ck_assert_uint_eq(s->r.packets, 350);
    ck_assert_uint_eq(s->r.probe_id, 7);
    ck_assert_uint_eq(R.n_samples, 2);
    const uint32_t want_packets[2] = {100, 250};
    const double want_start[2] = {3.0, 5.0};
    for (size_t i = 0; i < 2; i++) {
        const sample_record_t *x = &R.samples[i];
        ck_assert_int_eq(x->stream_row, s->r.id);
        ck_assert_int_eq(x->start_ns, ns(want_start[i]));
        ck_assert_uint_eq(x->packets, want_packets[i]);
        ck_assert_int_eq(x->lost, 1);
        ck_assert_double_eq(x->jitter_ms, 0.5);
        ck_assert_double_eq(x->max_jitter_ms, 1.5);
        ck_assert_double_eq(x->mos, 4.25);
    }
    ck_assert_uint_eq(stats()->remote_reports, 6);
    ck_assert_uint_eq(stats()->remote_orphans, 1);
    ck_assert_uint_eq(stats()->remote_streams, 1);
}
END_TEST

/* A remote stream takes at most a day of 5 s samples (17,280); the rest are counted. */
START_TEST(remote_samples_bounded)
{
    call_up(&D1, 0, "192.0.2.10", 40000, "198.51.100.20", 50000);
    for (int i = 0; i < 17280 + 3; i++)
        send_sample(7, D1.call_id, A_MEDIA, B_MEDIA, 0x11, 3.0 + 5.0 * i, 250);
    ck_assert_uint_eq(R.n_samples, 17280);
    ck_assert_uint_eq(stats()->remote_samples_refused, 3);
}
END_TEST

/* A finished call whose remote stream has only periodic reports waits (once) for the final
 * one; a local stream's RTCP does not touch a remote stream's figures. */
START_TEST(remote_final_report_awaited_once)
{
    call_up(&D1, 0, "192.0.2.10", 40000, "198.51.100.20", 50000);
    send_report(3, D1.call_id, false, report(A_MEDIA, B_MEDIA, 0x11, 100, 2, 4.2));
    call_down(&D1, 10);
    corr_tick(C, ns(15.1));
    ck_assert_uint_eq(R.n_calls, 0);
    send_report(3, D1.call_id, false, report(A_MEDIA, B_MEDIA, 0x11, 120, 2, 4.0));
    corr_tick(C, ns(24.9));
    ck_assert_uint_eq(R.n_calls, 0);
    corr_tick(C, ns(25.1));
    ck_assert_uint_eq(R.n_calls, 1);
    ck_assert_uint_eq(stream_of(A_MEDIA, B_MEDIA, 0x11)->r.packets, 120);
}
END_TEST

/* Two probes report one stream: one row, the fuller view wins; a call holds at most 32. */
START_TEST(remote_two_probes_and_bound)
{
    call_up(&D1, 0, "192.0.2.10", 40000, "198.51.100.20", 50000);
    send_report(1, D1.call_id, true, report(A_MEDIA, B_MEDIA, 0x11, 300, 1, 4.3));
    send_report(2, D1.call_id, true, report(A_MEDIA, B_MEDIA, 0x11, 200, 9, 3.0));
    for (uint32_t k = 0; k < 40; k++)
        send_report(1, D1.call_id, true, report(B_MEDIA, A_MEDIA, 0x100 + k, 5, 0, 4.4));
    ck_assert_uint_eq(stats()->remote_streams, 32);
    ck_assert_uint_eq(stats()->streams_refused, 9);
    call_down(&D1, 10);
    corr_tick(C, ns(15.1));
    ck_assert_uint_eq(R.n_streams, 32);
    const rec_stream_t *s = stream_of(A_MEDIA, B_MEDIA, 0x11);
    ck_assert_uint_eq(s->r.probe_id, 1);
    ck_assert_uint_eq(s->r.packets, 300);
    ck_assert_uint_eq(stats()->live_streams, 0);
}
END_TEST

/* Streams measured here report their figures so far each sample interval, under the id of the
 * final record; with samples turned off, still every 5 s. */
START_TEST(local_stream_progress_each_interval)
{
    call_up(&D1, 0, "192.0.2.10", 40000, "198.51.100.20", 50000);
    rtp_run(3.1, 600, A_MEDIA, B_MEDIA, 0x11111111, 100, 0); /* 12 s */
    ck_assert_uint_ge(P.n, 2);
    ck_assert_uint_le(P.n, 3);
    ck_assert(!P.last.has_probe);
    ck_assert_uint_lt(P.last.packets, 600);
    ck_assert_uint_gt(P.last.packets, 300);
    int64_t id = P.last.id;
    call_down(&D1, 20);
    corr_tick(C, ns(25.1));
    ck_assert_int_eq(stream_of(A_MEDIA, B_MEDIA, 0x11111111)->r.id, id);
    ck_assert(!stream_of(A_MEDIA, B_MEDIA, 0x11111111)->r.has_probe);

    corr_cfg_t cfg;
    corr_cfg_init(&cfg);
    cfg.sample_interval_s = 0;
    fresh(&cfg);
    call_up(&D1, 0, "192.0.2.10", 40000, "198.51.100.20", 50000);
    rtp_run(3.1, 600, A_MEDIA, B_MEDIA, 0x11111111, 100, 0);
    ck_assert_uint_ge(P.n, 2);
    ck_assert_uint_eq(R.n_samples, 0);
}
END_TEST

Suite *corr_suite(void)
{
    Suite *s = suite_create("corr");
    TCase *tc = tcase_create("calls");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, normal_call);
    tcase_add_test(tc, rejected_486_after_ringing);
    tcase_add_test(tc, rejected_404_without_ringing);
    tcase_add_test(tc, cancelled_with_487);
    tcase_add_test(tc, cancelled_487_only);
    tcase_add_test(tc, answered_without_ringing);
    tcase_add_test(tc, retransmissions_counted_not_timed);
    tcase_add_test(tc, auth_challenge_then_answer);
    tcase_add_test(tc, forked_invite_answered_fork_wins);
    tcase_add_test(tc, forked_one_fork_fails_other_answers);
    tcase_add_test(tc, reinvite_hold_and_new_media);
    tcase_add_test(tc, webrtc_candidates_match_media);
    tcase_add_test(tc, callid_reuse_makes_a_new_call);
    tcase_add_test(tc, bye_from_callee_and_ipv6);
    suite_add_tcase(s, tc);

    tc = tcase_create("media");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, nat_source_differs_from_sdp);
    tcase_add_test(tc, nat_seen_in_signalling_of_a_silent_party);
    tcase_add_test(tc, nat_media_before_answer);
    tcase_add_test(tc, unsignalled_stream_joins_a_later_sdp);
    tcase_add_test(tc, private_lan_is_not_nat);
    tcase_add_test(tc, one_way_media);
    tcase_add_test(tc, verdict_good_failed_cancelled_no_media);
    tcase_add_test(tc, verdict_comfort_noise_only);
    tcase_add_test(tc, verdict_media_moved_and_rtcp);
    tcase_add_test(tc, dtmf_events_and_info);
    tcase_add_test(tc, no_media_is_not_one_way);
    tcase_add_test(tc, port_reuse_newest_call_wins);
    tcase_add_test(tc, port_reuse_same_flow_same_ssrc);
    tcase_add_test(tc, ssrc_change_makes_two_streams);
    tcase_add_test(tc, reuse_never_splits_a_running_stream);
    tcase_add_test(tc, reuse_newest_offer_answer_before_first_packet);
    tcase_add_test(tc, reuse_newest_wins_outside_the_race);
    tcase_add_test(tc, reuse_ssrc_change_stays_in_its_call);
    tcase_add_test(tc, reuse_reinvite_and_update_move_media);
    tcase_add_test(tc, reuse_many_calls_share_media_ports);
    tcase_add_test(tc, nat_private_sdp_in_183_of_cancelled_call);
    tcase_add_test(tc, nat_private_contact_in_provisional_and_final);
    tcase_add_test(tc, unsignalled_rtp_kept_without_call);
    tcase_add_test(tc, dynamic_payload_and_events);
    tcase_add_test(tc, srtp_sdes_same_figures_as_rtp);
    tcase_add_test(tc, srtp_dtls_per_media_and_offer_only);
    tcase_add_test(tc, srtp_refused_by_answer);
    tcase_add_test(tc, message_via_from_carried);
    tcase_add_test(tc, known_stream_fast_path);
    tcase_add_test(tc, known_stream_fast_path_with_hint);
    tcase_add_test(tc, multipart_body_sdp);
    tcase_add_test(tc, media_kind_rtcp_port_and_mux);
    tcase_add_test(tc, rtcp_reports_fill_stream);
    tcase_add_test(tc, rtcp_on_unsignalled_flow);
    tcase_add_test(tc, samples_per_interval);
    tcase_add_test(tc, snapshots_publish_calls_in_progress);
    tcase_add_test(tc, snapshots_stream_before_samples);
    suite_add_tcase(s, tc);

    tc = tcase_create("remote");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, remote_reports_become_the_calls_streams);
    tcase_add_test(tc, remote_samples_chart_the_stream);
    tcase_add_test(tc, remote_samples_bounded);
    tcase_add_test(tc, remote_final_report_awaited_once);
    tcase_add_test(tc, remote_two_probes_and_bound);
    tcase_add_test(tc, local_stream_progress_each_interval);
    suite_add_tcase(s, tc);

    tc = tcase_create("other_sip");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, register_options_make_no_call);
    tcase_add_test(tc, orphans_and_in_dialog_requests);
    tcase_add_test(tc, unknown_method_in_message_record);
    suite_add_tcase(s, tc);

    tc = tcase_create("bounds");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, setup_timeout);
    tcase_add_test(tc, in_call_timeout_kept_alive_by_media);
    tcase_add_test(tc, media_does_not_extend_linger);
    tcase_add_test(tc, eviction_at_max_calls);
    tcase_add_test(tc, eviction_at_max_streams);
    tcase_add_test(tc, flush_emits_everything);
    tcase_add_test(tc, first_id_setter);
    suite_add_tcase(s, tc);

    tc = tcase_create("hostile");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, hostile_missing_call_id);
    tcase_add_test(tc, hostile_empty_tags);
    tcase_add_test(tc, hostile_long_call_ids);
    tcase_add_test(tc, hostile_many_call_ids_stay_bounded);
    tcase_add_test(tc, hostile_garbage_sdp_and_odd_responses);
    tcase_add_loop_test(tc, hostile_random_sequences, 0, 8);
    suite_add_tcase(s, tc);
    return s;
}
