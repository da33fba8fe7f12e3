/* engine: packet views from the sources through decoders, correlator and security monitor, and
 * what they make out to the registered outputs. */
#include "engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "classify.h"
#include "clock.h"
#include "defs.h"
#include "hep_qos.h"
#include "outputs.h"
#include "rtcp.h"
#include "rtp.h"
#include "sip.h"
#include "sv.h"
#include "pcapng_dsb.h"
#include "tcp_app.h"
#include "tls.h"

/* Every fan-out walks one of these: the outputs that take this kind of event, in order. */
typedef struct {
    engine_output_t *at[ENGINE_MAX_OUTPUTS];
    unsigned n;
} output_set_t;

struct engine {
    cap_t *cap;
    corr_t *corr;
    classify_t *classify; /* nDPI verdicts for flows no SDP announced; started on the
                             first such packet (nDPI takes ~30 ms to initialise) */
    size_t classify_max_flows;
    bool classify_failed;
    secmon_t *secmon;       /* registrations and security detectors */
    tcp_app_t *tcp_app;     /* what each TCP connection carries: SIP, WebSocket, TLS */
    tls_keylog_t *tls_keys; /* --tls-keylog and the captures' secrets blocks */
    engine_output_t outputs[ENGINE_MAX_OUTPUTS];
    unsigned n_outputs;
    output_set_t sip_outs, rtp_outs, rtcp_outs; /* packet fan-outs, rebuilt by engine_add_output */
    engine_totals_t totals;
    engine_timing_t timing;
    int64_t started_ns;   /* monotonic, at engine_new */
    int64_t last_tick_ns; /* capture time of the last timeout check */
    /* The calls' clock: the latest capture time seen (or reached by engine_idle), and the wall
     * clock when it got there. */
    int64_t clock_ns, clock_wall_ns;
    int64_t last_packet_ns;     /* capture time of the last packet (the input's span) */
    int64_t next_checkpoint_ns; /* wall-clock time of the next engine_checkpoint */
    int64_t checkpoint_every_ns;
    uint32_t since_clock; /* packets since the wall clock was last read */
    /* Decoder outputs reused for every packet: the hot path allocates nothing. */
    sip_msg_t sip;
    rtp_hdr_t rtp;
    rtcp_compound_t rtcp;
    hep_qos_t qos;
};

void engine_cfg_init(engine_cfg_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    corr_cfg_init(&cfg->corr);
    secmon_cfg_init(&cfg->secmon);
    cap_cfg_init(&cfg->cap);
    cfg->classify_max_flows = 4096;
    cfg->writer_queue_bytes = (size_t)4 << 20;
    cfg->pcap_rtp = CALLPCAP_RTP_FULL;
}

/* ---- records out: every output that takes the record, in order ---- */

#define FAN_OUT(e, callback, ...)                                                                  \
    do {                                                                                           \
        for (unsigned i_ = 0; i_ < (e)->n_outputs; i_++) {                                         \
            engine_output_t *o_ = &(e)->outputs[i_];                                               \
            if (o_->callback != NULL)                                                              \
                o_->callback(o_->ctx, __VA_ARGS__);                                                \
        }                                                                                          \
    } while (0)

/* Snapshots (active records) go only to the outputs that take them; the others see each call
 * and stream once, final. */
static void out_call(void *ctx, const call_record_t *call)
{
    engine_t *e = ctx;
    for (unsigned i = 0; i < e->n_outputs; i++) {
        engine_output_t *o = &e->outputs[i];
        if (o->on_call != NULL && (!call->active || o->snapshots))
            o->on_call(o->ctx, call);
    }
}

static void out_stream(void *ctx, const stream_record_t *stream)
{
    engine_t *e = ctx;
    for (unsigned i = 0; i < e->n_outputs; i++) {
        engine_output_t *o = &e->outputs[i];
        if (o->on_stream != NULL && (!stream->active || o->snapshots))
            o->on_stream(o->ctx, stream);
    }
}

static void out_stream_progress(void *ctx, const stream_record_t *stream)
{
    FAN_OUT((engine_t *)ctx, on_stream_progress, stream);
}

static void out_stream_sample(void *ctx, const stream_record_t *stream,
                              const sample_record_t *sample)
{
    FAN_OUT((engine_t *)ctx, on_stream_sample, stream, sample);
}

static void out_dtmf(void *ctx, const dtmf_record_t *dtmf)
{
    FAN_OUT((engine_t *)ctx, on_dtmf, dtmf);
}

static void out_sample(void *ctx, const sample_record_t *sample)
{
    FAN_OUT((engine_t *)ctx, on_sample, sample);
}

static void out_message(void *ctx, const message_record_t *msg)
{
    FAN_OUT((engine_t *)ctx, on_message, msg);
}

static void out_registration(void *ctx, const registration_record_t *reg)
{
    FAN_OUT((engine_t *)ctx, on_registration, reg);
}

static void out_alert(void *ctx, const alert_record_t *alert)
{
    FAN_OUT((engine_t *)ctx, on_alert, alert);
}

/* ---- packets in ---- */

/* The span of the input, kept off the per-packet path: the earliest time is exact, because a
 * packet earlier than every one before it is also earlier than the last tick, which always
 * ticks; the latest is the latest tick's or the last packet's, so only a file whose very last
 * 100 ms are out of order can end up to 100 ms short. */
static void note_span(engine_t *e, int64_t ts_ns)
{
    if (e->totals.first_ns == 0 || ts_ns < e->totals.first_ns)
        e->totals.first_ns = ts_ns;
    if (ts_ns > e->totals.last_ns)
        e->totals.last_ns = ts_ns;
}

/* Checkpoint when ENGINE_CHECKPOINT_NS of wall-clock time have passed since the last one. */
static void checkpoint_if_due(engine_t *e, int64_t wall_ns)
{
    e->since_clock = 0;
    if (wall_ns >= e->next_checkpoint_ns)
        engine_checkpoint(e);
}

static void tick(engine_t *e, int64_t ts_ns)
{
    e->last_packet_ns = ts_ns;
    /* Timeouts are in seconds; checking once per 100 ms of capture time is plenty. */
    if (ts_ns - e->last_tick_ns >= 100 * NS_PER_MS || ts_ns < e->last_tick_ns) {
        note_span(e, ts_ns);
        int64_t wall = clock_ns(CLOCK_REALTIME);
        if (ts_ns > e->clock_ns) {
            e->clock_ns = ts_ns;
            e->clock_wall_ns = wall;
        }
        corr_tick(e->corr, ts_ns);
        secmon_tick(e->secmon, ts_ns);
        e->last_tick_ns = ts_ns;
        checkpoint_if_due(e, wall);
    } else if (++e->since_clock >= ENGINE_CLOCK_EVERY) {
        /* A file packs many packets into 100 ms of capture time: the wall clock is read every
         * ENGINE_CLOCK_EVERY packets too (a few microseconds of analysis apart). */
        checkpoint_if_due(e, clock_ns(CLOCK_REALTIME));
    }
}

/* One whole SIP message (msg->payload/len are its bytes, e->sip its decoding): the correlator,
 * the security monitor, then every output that takes SIP. The one place SIP fans out. */
static void on_sip_message(engine_t *e, const packet_view_t *msg)
{
    e->totals.sip_messages++;
    call_ref_t ref = corr_on_sip(e->corr, msg, &e->sip);
    secmon_on_sip(e->secmon, msg, &e->sip, corr_last_message_id(e->corr));
    for (unsigned i = 0; i < e->sip_outs.n; i++)
        e->sip_outs.at[i]->on_sip(e->sip_outs.at[i]->ctx, ref, msg, &e->sip);
}

static void on_media(engine_t *e, call_ref_t ref, const packet_view_t *pkt, engine_media_t kind)
{
    const output_set_t *outs = kind == ENGINE_MEDIA_RTP ? &e->rtp_outs : &e->rtcp_outs;
    for (unsigned i = 0; i < outs->n; i++)
        outs->at[i]->on_media(outs->at[i]->ctx, ref, pkt, kind);
}

/* SIP over a TCP stream: as many whole messages as the buffer holds. Returns bytes consumed;
 * what is left (a partial message) is offered again with the next segment. */
static size_t sip_stream(void *ctx, const packet_view_t *pkt)
{
    engine_t *e = ctx;
    size_t off = 0;
    while (off < pkt->len) {
        const uint8_t *at = pkt->payload + off;
        size_t left = pkt->len - off;
        int rc = sip_parse((const char *)at, left, &e->sip);
        if (rc == SIP_PARTIAL)
            return off;
        if (rc == SIP_INVALID) {
            /* Not SIP, or we joined mid-message: resynchronise at the next line, where a
             * start line may begin. Each failed attempt stops at the start line, so this
             * stays linear in the bytes. */
            const uint8_t *nl = memchr(at, '\n', left);
            if (nl == NULL)
                return pkt->len;
            off += (size_t)(nl - at) + 1;
            continue;
        }
        packet_view_t msg = *pkt;
        msg.payload = at;
        msg.len = (size_t)rc;
        on_sip_message(e, &msg);
        off += (size_t)rc;
    }
    return off;
}

/* A datagram that looks like SIP: one message, or malformed. */
static void handle_sip_datagram(engine_t *e, const packet_view_t *pkt)
{
    int rc = sip_parse_datagram((const char *)pkt->payload, pkt->len, &e->sip);
    if (rc <= 0) {
        e->totals.malformed++;
        return;
    }
    packet_view_t msg = *pkt;
    msg.len = (size_t)rc;
    on_sip_message(e, &msg);
}

/* One WebSocket message: one SIP message (RFC 7118 5), decoded as a datagram would be. */
static void ws_message(void *ctx, const packet_view_t *msg)
{
    /* Only CR and LF: a keep-alive (SIP.js sends "\r\n\r\n" in a text frame, after RFC 5626
     * 3.5.1's double CRLF), neither a message nor malformed. */
    size_t i = 0;
    while (i < msg->len && (msg->payload[i] == '\r' || msg->payload[i] == '\n'))
        i++;
    if (i == msg->len)
        return;
    handle_sip_datagram(ctx, msg);
}

/* A TLS connection's description, to the outputs that take it. */
static void tls_end(void *ctx, const net_endpoint_t *client, const net_endpoint_t *server,
                    const tls_info_t *info)
{
    engine_t *e = ctx;
    engine_tls_t t = {.client = *client, .server = *server, .info = info};
    FAN_OUT(e, on_tls, &t);
}

/* A TCP view: tcp_app tells what the connection carries and hands SIP text to sip_stream and
 * WebSocket messages to ws_message; plain SIP costs one connection look-up more than before. */
static size_t handle_tcp(engine_t *e, const packet_view_t *pkt)
{
    return tcp_app_feed(e->tcp_app, pkt);
}

static void handle_rtp(engine_t *e, const packet_view_t *pkt)
{
    if (rtp_parse(pkt->payload, pkt->len, &e->rtp) != RTP_OK) {
        e->totals.malformed++;
        return;
    }
    e->totals.rtp_packets++;
    call_ref_t ref = corr_on_rtp(e->corr, pkt, &e->rtp);
    on_media(e, ref, pkt, ENGINE_MEDIA_RTP);
}

static void handle_rtcp(engine_t *e, const packet_view_t *pkt)
{
    if (rtcp_parse(pkt->payload, pkt->len, &e->rtcp) != RTCP_OK) {
        e->totals.malformed++;
        return;
    }
    e->totals.rtcp_packets++;
    call_ref_t ref = corr_on_rtcp(e->corr, pkt, &e->rtcp);
    on_media(e, ref, pkt, ENGINE_MEDIA_RTCP);
}

/* RFC 5761 4: with rtcp-mux, the second byte tells RTCP (200..207 as packet type) from RTP. */
static bool looks_like_muxed_rtcp(const uint8_t *b, size_t len)
{
    return len >= 2 && b[1] >= 192 && b[1] <= 223;
}

/* Media already flowing (nearly every packet of a busy link): one look-up of the stream by
 * source, destination and SSRC. True when the packet was accounted. Second bytes that would be
 * RTCP packet types (marker plus 64..95, as rtp_looks_like rules out) go the long way. */
static bool handle_known_rtp(engine_t *e, const packet_view_t *pkt)
{
    const uint8_t *b = pkt->payload;
    if (pkt->len < 12 || (b[0] & 0xc0) != 0x80 || ((b[1] & 0x7f) >= 64 && (b[1] & 0x7f) <= 95) ||
        rtp_parse(b, pkt->len, &e->rtp) != RTP_OK)
        return false;
    call_ref_t ref = {0, 0};
    bool want_ref = e->rtp_outs.n > 0;
    if (!corr_on_rtp_known(e->corr, pkt->ts_ns, &pkt->src, &pkt->dst, &e->rtp, pkt->hint,
                           want_ref ? &ref : NULL))
        return false;
    e->totals.rtp_packets++;
    if (want_ref)
        on_media(e, ref, pkt, ENGINE_MEDIA_RTP);
    return true;
}

/* No SDP announced this flow. nDPI rules out flows it knows to be something else (DNS, QUIC,
 * NTP ...); RTP and RTCP are then recognised by their headers. */
static void handle_unannounced(engine_t *e, const packet_view_t *pkt)
{
    if (e->classify == NULL && !e->classify_failed) {
        e->classify = classify_new(e->classify_max_flows);
        e->classify_failed = e->classify == NULL;
    }
    classify_verdict_t verdict =
        e->classify && pkt->l3 != NULL
            ? classify_packet(e->classify, &pkt->src, &pkt->dst, pkt->l3, pkt->l3_len, pkt->ts_ns)
            : CLASSIFY_UNKNOWN;
    if (verdict == CLASSIFY_OTHER || verdict == CLASSIFY_SIP)
        return;
    if (rtcp_looks_like(pkt->payload, pkt->len))
        handle_rtcp(e, pkt);
    else if (verdict != CLASSIFY_RTCP && rtp_looks_like(pkt->payload, pkt->len))
        handle_rtp(e, pkt);
}

static void handle_udp(engine_t *e, const packet_view_t *pkt)
{
    /* The known-stream test comes before the SIP test: a first byte of 0x80..0xbf is no token
     * character, so no SIP start line. */
    if (handle_known_rtp(e, pkt))
        return;
    if (sip_looks_like(pkt->payload, pkt->len)) {
        handle_sip_datagram(e, pkt);
        return;
    }
    switch (corr_media_kind(e->corr, pkt)) {
        case CORR_MEDIA_RTP:
            if (looks_like_muxed_rtcp(pkt->payload, pkt->len))
                handle_rtcp(e, pkt);
            else
                handle_rtp(e, pkt);
            return;
        case CORR_MEDIA_RTCP:
            handle_rtcp(e, pkt);
            return;
        case CORR_MEDIA_NONE:
            break;
    }
    handle_unannounced(e, pkt);
}

/* The capture sink: every packet view of files and interfaces. */
static size_t on_packet(void *ctx, const packet_view_t *pkt)
{
    engine_t *e = ctx;
    tick(e, pkt->ts_ns);
    if (pkt->ip_proto == CAP_PROTO_TCP)
        return handle_tcp(e, pkt);
    if (pkt->len > 0)
        handle_udp(e, pkt);
    return pkt->len;
}

/* A probe's quality report of one stream: the stream of its call, with the probe's figures. */
static void handle_qos_report(engine_t *e, const packet_view_t *pkt)
{
    hep_qos_t *q = &e->qos;
    if (hep_qos_parse(pkt->payload, pkt->len, q, NULL) != 0) {
        e->totals.malformed++;
        return;
    }
    bool in_json = q->src.addr.family != 0; /* else the HEP header's are the stream's */
    stream_record_t rep = {
        .src = in_json ? q->src : pkt->src,
        .dst = in_json ? q->dst : pkt->dst,
        .ssrc = q->ssrc,
        .payload_type = q->payload_type,
        .codec = q->codec,
        .clock_rate = q->clock_rate,
        .first_ns = q->first_ns,
        .last_ns = q->last_ns,
        .packets = q->packets,
        .lost = q->lost,
        .duplicates = q->duplicates,
        .out_of_order = q->out_of_order,
        .seq_errors = q->seq_errors,
        .max_delta_ms = q->max_delta_ms,
        .mean_jitter_ms = q->mean_jitter_ms,
        .max_jitter_ms = q->max_jitter_ms,
        .mos = q->mos,
        .sdp_mismatch = q->sdp_mismatch,
        .have_rtcp = q->have_rtcp,
        .rtcp_fraction_lost = q->rtcp_fraction_lost,
        .rtcp_cumulative_lost = q->rtcp_cumulative_lost,
        .rtcp_jitter_ms = q->rtcp_jitter_ms,
        .rtcp_rtt_ms = q->rtcp_rtt_ms,
    };
    if (q->sample) {
        corr_on_stream_sample(e->corr, pkt->probe_id, sv_make(q->call_id, q->call_id_len), &rep,
                              &q->interval);
        return;
    }
    corr_on_stream_report(e->corr, pkt->probe_id, sv_make(q->call_id, q->call_id_len), q->party,
                          q->final, &rep);
}

void engine_process_packet(engine_t *e, const packet_view_t *pkt)
{
    if (pkt->len == 0)
        return;
    tick(e, pkt->ts_ns);
    switch (pkt->kind) {
        case PKT_KIND_SIP:
            /* A HEP payload is one whole message, whatever transport it came over. */
            handle_sip_datagram(e, pkt);
            break;
        case PKT_KIND_RTCP:
            handle_rtcp(e, pkt);
            break;
        case PKT_KIND_QOS:
            handle_qos_report(e, pkt);
            break;
        default:
            handle_udp(e, pkt);
            break;
    }
}

/* Look-ahead (cap_set_lookahead): on the read-ahead thread, which stream an RTP-like datagram
 * will need; on this thread, fetch it into the cache a few frames early. */
static uint64_t rtp_hint(void *ctx, const packet_view_t *pkt)
{
    return corr_rtp_hint(ctx, &pkt->src, &pkt->dst, pkt->payload, pkt->len);
}

static void rtp_prefetch(void *ctx, uint64_t hint, int stage)
{
    corr_prefetch(ctx, hint, stage);
}

/* ---- life cycle ---- */

static void rebuild_fan_outs(engine_t *e)
{
    e->sip_outs.n = e->rtp_outs.n = e->rtcp_outs.n = 0;
    for (unsigned i = 0; i < e->n_outputs; i++) {
        engine_output_t *o = &e->outputs[i];
        if (o->on_sip != NULL)
            e->sip_outs.at[e->sip_outs.n++] = o;
        if (o->on_media != NULL && !o->media_rtcp_only)
            e->rtp_outs.at[e->rtp_outs.n++] = o;
        if (o->on_media != NULL)
            e->rtcp_outs.at[e->rtcp_outs.n++] = o;
    }
}

int engine_add_output(engine_t *e, const engine_output_t *output)
{
    if (e->n_outputs >= ENGINE_MAX_OUTPUTS)
        return -ENOSPC;
    e->outputs[e->n_outputs++] = *output;
    rebuild_fan_outs(e);
    return 0;
}

/* The outputs cfg asks for. The per-call pcaps come first so that a call's file is closed
 * before the store says the call is over. */
static int add_cfg_outputs(engine_t *e, const engine_cfg_t *cfg, output_store_ids_t *ids, char *err,
                           size_t errlen)
{
    engine_output_t o;
    int rc;
    if (cfg->pcap_dir != NULL) {
        if ((rc = output_pcap_new(cfg->pcap_dir, cfg->pcap_rtp, cfg->pcap_compress, &o, err,
                                  errlen)) != 0)
            return rc;
        engine_add_output(e, &o);
    }
    if (cfg->db_path != NULL) {
        output_store_cfg_t sc = {.db_path = cfg->db_path,
                                 .pcap_dir = cfg->pcap_dir,
                                 .queue_bytes = cfg->writer_queue_bytes};
        if ((rc = output_store_new(&sc, &o, ids, err, errlen)) != 0)
            return rc;
        engine_add_output(e, &o);
    }
    if (cfg->hep_out != NULL) {
        output_hep_init(cfg->hep_out, cfg->hep_rtcp, &o);
        engine_add_output(e, &o);
    }
    return 0;
}

/* ENGINE_CHECKPOINT_NS, or SIPSCOPE_CHECKPOINT_MS from the environment (engine.h). */
static int64_t checkpoint_interval(void)
{
    const char *v = getenv("SIPSCOPE_CHECKPOINT_MS");
    uint64_t ms;
    if (v != NULL && sv_to_u64(sv_from_cstr(v), &ms) && ms >= 1 && ms <= 86400000)
        return (int64_t)ms * NS_PER_MS;
    return ENGINE_CHECKPOINT_NS;
}

int engine_new(const engine_cfg_t *cfg, engine_t **out, char *err, size_t errlen)
{
    engine_t *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    e->started_ns = clock_ns(CLOCK_MONOTONIC);
    e->checkpoint_every_ns = checkpoint_interval();
    e->next_checkpoint_ns = clock_ns(CLOCK_REALTIME) + e->checkpoint_every_ns;
    e->classify_max_flows = cfg->classify_max_flows;
    output_store_ids_t ids = {0};
    int rc = add_cfg_outputs(e, cfg, &ids, err, errlen);
    if (rc != 0)
        goto fail;
    corr_sink_t sink = {.ctx = e,
                        .on_call = out_call,
                        .on_stream = out_stream,
                        .on_sample = out_sample,
                        .on_dtmf = out_dtmf,
                        .on_message = out_message};
    secmon_sink_t secmon_sink = {
        .ctx = e, .on_registration = out_registration, .on_alert = out_alert};
    /* Calls in progress are published where they are stored (corr.h, "Snapshots"). */
    corr_cfg_t corr_cfg = cfg->corr;
    corr_cfg.snapshots = false;
    for (unsigned i = 0; i < e->n_outputs; i++) {
        corr_cfg.snapshots = corr_cfg.snapshots || e->outputs[i].snapshots;
        /* a stream's record per sample is made only for an output that takes it */
        if (e->outputs[i].on_stream_sample != NULL)
            sink.on_stream_sample = out_stream_sample;
        /* and so are its figures so far (a result per sample interval: the HEP reports') */
        if (e->outputs[i].on_stream_progress != NULL)
            sink.on_stream_progress = out_stream_progress;
    }
    e->corr = corr_new(&corr_cfg, &sink);
    e->cap = cap_new(&cfg->cap, on_packet, e);
    e->secmon = secmon_new(&cfg->secmon, &secmon_sink);
    tcp_app_cfg_t tcp_cfg;
    tcp_app_cfg_init(&tcp_cfg);
    e->tls_keys = tls_keylog_new(0);
    if (e->tls_keys != NULL && cfg->tls_keylog != NULL) {
        int n = tls_keylog_load(e->tls_keys, cfg->tls_keylog);
        if (n < 0) {
            rc = n;
            snprintf(err, errlen, "--tls-keylog %s: %s", cfg->tls_keylog, strerror(-n));
            goto fail;
        }
    }
    tcp_cfg.tls_keys = e->tls_keys;
    tcp_app_sink_t tcp_sink = {
        .ctx = e, .on_stream = sip_stream, .on_message = ws_message, .on_tls = tls_end};
    e->tcp_app = tcp_app_new(&tcp_cfg, &tcp_sink);
    if (e->corr == NULL || e->cap == NULL || e->secmon == NULL || e->tcp_app == NULL ||
        e->tls_keys == NULL) {
        rc = -ENOMEM;
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    cap_set_lookahead(e->cap, rtp_hint, rtp_prefetch, e->corr);
    /* Ids go on from what the store already holds. */
    if (ids.row > 0)
        corr_set_first_id(e->corr, ids.row);
    corr_set_first_message_id(e->corr, ids.message);
    if (ids.alert > 0)
        secmon_set_first_alert_id(e->secmon, ids.alert);
    *out = e;
    return 0;
fail:
    engine_free(e);
    return rc;
}

static void add_tls_secrets(void *ctx, uint32_t type, const uint8_t *data, size_t len)
{
    if (type == PCAPNG_DSB_TLS)
        (void)tls_keylog_add_text(ctx, (const char *)data, len);
}

int engine_read_file(engine_t *e, const char *path, char *err, size_t errlen)
{
    /* The span of this file: its first packet ticks. */
    e->totals.first_ns = e->totals.last_ns = e->last_packet_ns = 0;
    e->last_tick_ns = 0;
    /* A pcapng file may carry its TLS key log (Decryption Secrets Blocks, which libpcap skips). */
    if (strcmp(path, "-") != 0)
        (void)pcapng_dsb_scan(path, add_tls_secrets, e->tls_keys, NULL);
    return cap_read_file(e->cap, path, err, errlen);
}

void engine_process_frame(engine_t *e, const cap_frame_t *f)
{
    cap_process_frame_peeked(e->cap, f);
}

void engine_idle(engine_t *e, int64_t wall_now_ns)
{
    checkpoint_if_due(e, wall_now_ns);
    /* Capture time moves on with the wall clock since the latest capture time seen: right for
     * a live link, and a replay of an old capture (HEP from `analyze --hep-out`) neither jumps
     * years ahead and times every call out nor stands still. From the latest, not the last:
     * a packet from a probe that lags behind another must not set the clock back, or the calls'
     * linger would wait for the wall clock to make up the difference. */
    if (e->clock_wall_ns == 0)
        return;
    int64_t now_ns = e->clock_ns + (wall_now_ns - e->clock_wall_ns);
    if (now_ns > e->clock_ns) {
        corr_tick(e->corr, now_ns);
        secmon_tick(e->secmon, now_ns);
        e->clock_ns = now_ns;
        e->clock_wall_ns = wall_now_ns;
    }
}

void engine_lookahead(engine_t *e, cap_hint_fn *hint, cap_prefetch_fn *prefetch, void **ctx)
{
    *hint = rtp_hint;
    *prefetch = rtp_prefetch;
    *ctx = e->corr;
}

int engine_finish(engine_t *e, char *err, size_t errlen)
{
    int64_t input_end = clock_ns(CLOCK_MONOTONIC);
    e->timing.wall_input_ns = input_end - e->started_ns;
    e->timing.cpu_readahead_ns = (int64_t)cap_stats(e->cap)->readahead_cpu_ns;
    cap_flush(e->cap);
    corr_flush(e->corr);
    secmon_flush(e->secmon);
    tcp_app_flush_tls(e->tcp_app);
    engine_totals_t t;
    engine_totals(e, &t);
    int first_rc = 0;
    for (unsigned i = 0; i < e->n_outputs; i++) {
        engine_output_t *o = &e->outputs[i];
        char why[256] = "";
        int rc = o->finish ? o->finish(o->ctx, &t, &e->timing, why, sizeof(why)) : 0;
        if (rc != 0 && first_rc == 0) {
            first_rc = rc;
            snprintf(err, errlen, "%s", why);
        }
    }
    e->timing.wall_store_tail_ns = clock_ns(CLOCK_MONOTONIC) - input_end;
    e->timing.cpu_analysis_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    return first_rc;
}

void engine_free(engine_t *e)
{
    if (e == NULL)
        return;
    cap_free(e->cap);
    corr_free(e->corr);
    classify_free(e->classify);
    secmon_free(e->secmon);
    tcp_app_free(e->tcp_app);
    tls_keylog_free(e->tls_keys);
    for (unsigned i = 0; i < e->n_outputs; i++) {
        if (e->outputs[i].free != NULL)
            e->outputs[i].free(e->outputs[i].ctx);
    }
    free(e);
}

/* ---- counters ---- */

void engine_checkpoint(engine_t *e)
{
    int64_t now = clock_ns(CLOCK_REALTIME);
    e->since_clock = 0;
    e->next_checkpoint_ns = now + e->checkpoint_every_ns;
    corr_checkpoint(e->corr);
    engine_publish_stats(e);
}

void engine_publish(engine_t *e, const char *key, int64_t value)
{
    FAN_OUT(e, on_counter, key, value);
}

static void publish_secmon_and_classify(engine_t *e)
{
    const secmon_stats_t *ss = secmon_stats(e->secmon);
    char key[64];
    for (int type = 0; type < ALERT_TYPE_COUNT; type++) {
        snprintf(key, sizeof(key), "secmon.alerts.%s", alert_type_name((alert_type_t)type));
        engine_publish(e, key, (int64_t)ss->alerts_by_type[type]);
    }
    engine_publish(e, "secmon.alerts_suppressed", (int64_t)ss->alerts_suppressed);
    engine_publish(e, "secmon.sources_evicted", (int64_t)ss->sources_evicted);
    engine_publish(e, "secmon.aors_evicted", (int64_t)ss->aors_evicted);
    const classify_stats_t *cls = engine_classify_stats(e);
    for (int v = 0; v < CLASSIFY_COUNT; v++) {
        snprintf(key, sizeof(key), "classify.flows.%s",
                 classify_verdict_name((classify_verdict_t)v));
        engine_publish(e, key, (int64_t)cls->flows_classified[v]);
    }
}

static void publish_tcp_app(engine_t *e)
{
    const tcp_app_stats_t *ts = tcp_app_stats(e->tcp_app);
    char key[64];
    for (int k = 0; k < TCP_APP_KIND_COUNT; k++) {
        snprintf(key, sizeof(key), "tcp_app.conns.%s", tcp_app_kind_name((tcp_app_kind_t)k));
        engine_publish(e, key, (int64_t)ts->conns[k]);
    }
    engine_publish(e, "tcp_app.ws_messages", (int64_t)ts->ws_messages);
    engine_publish(e, "tcp_app.ws_control", (int64_t)ts->ws_control);
    engine_publish(e, "tcp_app.ws_malformed", (int64_t)ts->ws_malformed);
    engine_publish(e, "tcp_app.ws_oversize", (int64_t)ts->ws_oversize);
    engine_publish(e, "tcp_app.conns_evicted", (int64_t)ts->evicted);
    engine_publish(e, "tcp_app.conns_timed_out", (int64_t)ts->timed_out);
    engine_publish(e, "tcp_app.tls_untracked", (int64_t)ts->tls_untracked);
    engine_publish(e, "tcp_app.tls_plain_overflow", (int64_t)ts->tls_plain_overflow);
}

void engine_publish_stats(engine_t *e)
{
    engine_totals_t t;
    engine_totals(e, &t);
    const cap_stats_t *cs = cap_stats(e->cap);
    const corr_stats_t *rs = corr_stats(e->corr);
    const struct {
        const char *key;
        uint64_t value;
    } counters[] = {
        {"live.packets", t.packets},
        {"live.bytes", t.bytes},
        {"live.sip_messages", t.sip_messages},
        {"live.rtp_packets", t.rtp_packets},
        {"live.rtcp_packets", t.rtcp_packets},
        {"live.malformed", t.malformed},
        {"live.tls_sessions", t.tls_sessions},
        {"live.tls_decrypted", t.tls_decrypted},
        {"capture.truncated", cs->truncated},
        {"capture.ip_reassembled", cs->ip_reassembled},
        {"capture.frag_dropped", cs->frag_dropped},
        {"capture.tcp_gaps", cs->tcp_gaps},
        {"capture.tcp_flows_evicted", cs->tcp_flows_evicted},
        {"capture.tunnels", cs->tunnels},
        {"capture.gtpu", cs->gtpu},
        {"capture.pppoe", cs->pppoe},
        {"capture.gre_ppp", cs->gre_ppp},
        {"capture.mpls", cs->mpls},
        {"capture.undecoded", t.undecoded},
        {"corr.calls_evicted", rs->calls_evicted},
        {"corr.calls_timed_out", rs->calls_timed_out},
        {"corr.streams_evicted", rs->streams_evicted},
        {"corr.live_calls", rs->live_calls},
        {"corr.live_streams", rs->live_streams},
        {"corr.remote_reports", rs->remote_reports},
        {"corr.remote_orphans", rs->remote_orphans},
        {"corr.remote_streams", rs->remote_streams},
        {"corr.remote_samples_refused", rs->remote_samples_refused},
        {"corr.call_snapshots", rs->call_snapshots},
        {"corr.stream_snapshots", rs->stream_snapshots},
        {"corr.checkpoints", rs->checkpoints},
    };
    for (size_t i = 0; i < ARRAY_LEN(counters); i++)
        engine_publish(e, counters[i].key, (int64_t)counters[i].value);
    publish_secmon_and_classify(e);
    publish_tcp_app(e);
    for (unsigned i = 0; i < e->n_outputs; i++) {
        if (e->outputs[i].on_publish != NULL)
            e->outputs[i].on_publish(e->outputs[i].ctx, e);
    }
}

void engine_totals(const engine_t *e, engine_totals_t *out)
{
    const cap_stats_t *cs = cap_stats(e->cap);
    *out = e->totals;
    out->packets = cs->frames;
    out->bytes = cs->bytes;
    out->malformed += cs->truncated + cs->bad_header;
    out->undecoded = cs->unknown_link + cs->non_ip + cs->other_ip_proto;
    out->tunnels = cs->tunnels;
    out->gtpu = cs->gtpu;
    out->pppoe = cs->pppoe;
    out->gre_ppp = cs->gre_ppp;
    out->mpls = cs->mpls;
    const tcp_app_stats_t *ts = tcp_app_stats(e->tcp_app);
    out->tls_sessions = ts->conns[TCP_APP_TLS];
    out->tls_decrypted = ts->tls_decrypted;
    if (e->last_packet_ns > out->last_ns)
        out->last_ns = e->last_packet_ns;
}

const corr_stats_t *engine_corr_stats(const engine_t *e)
{
    return corr_stats(e->corr);
}

const classify_stats_t *engine_classify_stats(const engine_t *e)
{
    static const classify_stats_t none;
    return e->classify ? classify_stats(e->classify) : &none;
}

void engine_timing(const engine_t *e, engine_timing_t *out)
{
    *out = e->timing;
}
