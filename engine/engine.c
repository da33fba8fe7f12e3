/* pipeline: the packet path from capture to correlator, and records from correlator to store. */
#include "engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "callpcap.h"
#include "classify.h"
#include "clock.h"
#include "hash.h"
#include "rtcp.h"
#include "rtp.h"
#include "sip.h"
#include "store.h"
#include "writer.h"

/* Rows per store transaction at most; the writer also commits once a second. */
#define ENGINE_BATCH_ROWS 65536
/* The writer appends: 8 MB of page cache holds the B-tree pages its inserts touch (measured:
 * no slower than 16 MB with 10,000 concurrent calls, and 8 MB less peak memory). */
#define ENGINE_CACHE_KB 8192

/* Recently seen HEP messages: 4-way sets, so a burst of distinct messages rarely evicts the
 * first copy of a pair before its twin arrives. */
typedef struct {
    uint64_t hash[4];
    int64_t ts_ns[4];
    uint8_t next; /* round-robin victim */
} dedup_set_t;

struct engine {
    cap_t *cap;
    corr_t *corr;
    store_t *store;                 /* NULL when not storing */
    writer_t *writer;               /* the thread that writes to store */
    classify_t *classify;           /* nDPI verdicts for flows no SDP announced; started on the
                                       first such packet (nDPI takes ~30 ms to initialise) */
    size_t classify_max_flows;
    bool classify_failed;
    secmon_t *secmon;               /* registrations and security detectors */
    callpcap_t *callpcap;           /* per-call pcaps, NULL when off */
    hep_sender_t *hep_out;          /* borrowed; NULL when off */
    bool hep_rtcp;
    /* HEP input: probe of the packet being handled, and recently seen messages (by a hash of
     * their bytes and addresses) to drop what two probes both saw. Direct-mapped, bounded. */
    uint32_t probe_id;
    bool has_probe;
    dedup_set_t recent[1 << 14];
    engine_hep_stats_t hep;
    bool pcap_rtp;
    engine_observer_t observer;
    engine_totals_t totals;
    engine_timing_t timing;
    int64_t started_ns;             /* monotonic, at engine_new */
    int store_error;                /* first store failure, reported at the end */
    int64_t last_tick_ns;           /* capture time of the last timeout check */
    int64_t last_tick_wall_ns;      /* wall-clock time of that check */
    /* Decoder outputs reused for every packet: the hot path allocates nothing. */
    sip_msg_t sip;
    rtp_hdr_t rtp;
    rtcp_compound_t rtcp;
};

void engine_cfg_init(engine_cfg_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    corr_cfg_init(&cfg->corr);
    secmon_cfg_init(&cfg->secmon);
    cap_cfg_init(&cfg->cap);
    cfg->classify_max_flows = 4096;
    cfg->writer_queue_bytes = (size_t)4 << 20;
    cfg->pcap_rtp = true;
}

/* The writer keeps the first store error's text; here we only remember that one happened. */
static void note_store_result(engine_t *p, int rc)
{
    if (rc != 0 && p->store_error == 0)
        p->store_error = rc;
}

static void sink_call(void *ctx, const call_record_t *call)
{
    engine_t *p = ctx;
    if (p->callpcap)
        callpcap_close_call(p->callpcap, call->id);
    if (p->writer)
        note_store_result(p, writer_put_call(p->writer, call));
    if (p->observer.on_call)
        p->observer.on_call(p->observer.ctx, call);
}

static void sink_stream(void *ctx, const stream_record_t *stream)
{
    engine_t *p = ctx;
    if (p->writer)
        note_store_result(p, writer_put_stream(p->writer, stream));
    if (p->observer.on_stream)
        p->observer.on_stream(p->observer.ctx, stream);
}

static void sink_sample(void *ctx, const sample_record_t *sample)
{
    engine_t *p = ctx;
    if (p->writer)
        note_store_result(p, writer_put_sample(p->writer, sample));
}

static void sink_message(void *ctx, const message_record_t *msg)
{
    engine_t *p = ctx;
    if (p->writer)
        note_store_result(p, writer_put_message(p->writer, msg));
}

static void sink_registration(void *ctx, const registration_record_t *reg)
{
    engine_t *p = ctx;
    if (p->writer)
        note_store_result(p, writer_put_registration(p->writer, reg));
}

static void sink_alert(void *ctx, const alert_record_t *alert)
{
    engine_t *p = ctx;
    if (p->writer)
        note_store_result(p, writer_put_alert(p->writer, alert));
    if (p->observer.on_alert)
        p->observer.on_alert(p->observer.ctx, alert);
}

static void tick(engine_t *p, int64_t ts_ns)
{
    /* Timeouts are in seconds; checking once per 100 ms of capture time is plenty. */
    if (ts_ns - p->last_tick_ns >= 100000000 || ts_ns < p->last_tick_ns) {
        p->last_tick_wall_ns = clock_ns(CLOCK_REALTIME);
        corr_tick(p->corr, ts_ns);
        secmon_tick(p->secmon, ts_ns);
        p->last_tick_ns = ts_ns;
    }
}

static packet_view_t make_corr_pkt(const engine_t *p, const packet_view_t *pkt, const uint8_t *raw,
                                size_t len)
{
    packet_view_t cp = *pkt;
    cp.probe_id = p->probe_id;
    cp.has_probe = p->has_probe;
    cp.payload = raw;
    cp.len = len;
    return cp;
}

/* SIP over a TCP stream: as many whole messages as the buffer holds. Returns bytes consumed;
 * what is left (a partial message) is offered again with the next segment. */
static size_t handle_tcp(engine_t *p, const packet_view_t *pkt)
{
    size_t off = 0;
    while (off < pkt->len) {
        const uint8_t *at = pkt->payload + off;
        size_t left = pkt->len - off;
        int rc = sip_parse((const char *)at, left, &p->sip);
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
        packet_view_t cp = make_corr_pkt(p, pkt, at, (size_t)rc);
        p->totals.sip_messages++;
        call_ref_t ref = corr_on_sip(p->corr, &cp, &p->sip);
        secmon_on_sip(p->secmon, &cp, &p->sip, 0);
        if (p->callpcap)
            callpcap_write(p->callpcap, ref, pkt, at, (size_t)rc);
        if (p->hep_out)
            hep_sender_send_sip(p->hep_out, &pkt->src, &pkt->dst, pkt->ip_proto, pkt->ts_ns, at,
                                (size_t)rc, p->sip.call_id);
        off += (size_t)rc;
    }
    return off;
}

static void handle_rtp(engine_t *p, const packet_view_t *pkt, const packet_view_t *cp)
{
    if (rtp_parse(pkt->payload, pkt->len, &p->rtp) != RTP_OK) {
        p->totals.malformed++;
        return;
    }
    p->totals.rtp_packets++;
    call_ref_t ref = corr_on_rtp(p->corr, cp, &p->rtp);
    if (p->callpcap && p->pcap_rtp)
        callpcap_write(p->callpcap, ref, pkt, NULL, 0);
}

static void handle_rtcp(engine_t *p, const packet_view_t *pkt, const packet_view_t *cp)
{
    if (rtcp_parse(pkt->payload, pkt->len, &p->rtcp) != RTCP_OK) {
        p->totals.malformed++;
        return;
    }
    p->totals.rtcp_packets++;
    call_ref_t ref = corr_on_rtcp(p->corr, cp, &p->rtcp);
    if (p->callpcap && p->pcap_rtp)
        callpcap_write(p->callpcap, ref, pkt, NULL, 0);
    if (p->hep_out && p->hep_rtcp)
        hep_sender_send_rtcp(p->hep_out, &pkt->src, &pkt->dst, pkt->ip_proto, pkt->ts_ns,
                             pkt->payload, pkt->len, SV_NULL);
}

/* RFC 5761 4: with rtcp-mux, the second byte tells RTCP (200..207 as packet type) from RTP. */
static bool looks_like_muxed_rtcp(const uint8_t *b, size_t len)
{
    return len >= 2 && b[1] >= 192 && b[1] <= 223;
}

static void handle_udp(engine_t *p, const packet_view_t *pkt)
{
    /* Media already flowing (nearly every packet of a busy link): one look-up of the stream
     * by source, destination and SSRC. Second bytes that would be RTCP packet types (marker
     * plus 64..95, as rtp_looks_like rules out) go the long way. This comes before the SIP
     * test: a first byte of 0x80..0xbf is no token character, so no SIP start line. */
    const uint8_t *b = pkt->payload;
    if (pkt->len >= 12 && (b[0] & 0xc0) == 0x80 && ((b[1] & 0x7f) < 64 || (b[1] & 0x7f) > 95) &&
        rtp_parse(b, pkt->len, &p->rtp) == RTP_OK) {
        call_ref_t ref = {0, 0};
        bool want_ref = p->callpcap != NULL && p->pcap_rtp;
        if (corr_on_rtp_known(p->corr, pkt->ts_ns, &pkt->src, &pkt->dst, &p->rtp, pkt->hint,
                              want_ref ? &ref : NULL)) {
            p->totals.rtp_packets++;
            if (want_ref)
                callpcap_write(p->callpcap, ref, pkt, NULL, 0);
            return;
        }
    }
    if (sip_looks_like(pkt->payload, pkt->len)) {
        packet_view_t cp = make_corr_pkt(p, pkt, pkt->payload, pkt->len);
        int rc = sip_parse_datagram((const char *)pkt->payload, pkt->len, &p->sip);
        if (rc > 0) {
            cp.len = (size_t)rc;
            p->totals.sip_messages++;
            call_ref_t ref = corr_on_sip(p->corr, &cp, &p->sip);
            secmon_on_sip(p->secmon, &cp, &p->sip, 0);
            if (p->callpcap)
                callpcap_write(p->callpcap, ref, pkt, NULL, 0);
            if (p->hep_out)
                hep_sender_send_sip(p->hep_out, &pkt->src, &pkt->dst, pkt->ip_proto, pkt->ts_ns,
                                    pkt->payload, (size_t)rc, p->sip.call_id);
        } else {
            p->totals.malformed++;
        }
        return;
    }
    packet_view_t cp = make_corr_pkt(p, pkt, pkt->payload, pkt->len);
    switch (corr_media_kind(p->corr, &cp)) {
        case CORR_MEDIA_RTP:
            if (looks_like_muxed_rtcp(pkt->payload, pkt->len))
                handle_rtcp(p, pkt, &cp);
            else
                handle_rtp(p, pkt, &cp);
            return;
        case CORR_MEDIA_RTCP:
            handle_rtcp(p, pkt, &cp);
            return;
        case CORR_MEDIA_NONE:
            break;
    }
    /* No SDP announced this flow. nDPI rules out flows it knows to be something else (DNS,
     * QUIC, NTP ...); RTP and RTCP are then recognised by their headers. */
    if (p->classify == NULL && !p->classify_failed) {
        p->classify = classify_new(p->classify_max_flows);
        p->classify_failed = p->classify == NULL;
    }
    classify_verdict_t verdict =
        p->classify ? classify_packet(p->classify, &pkt->src, &pkt->dst, pkt->l3, pkt->l3_len,
                                      pkt->ts_ns)
                    : CLASSIFY_UNKNOWN;
    if (verdict == CLASSIFY_OTHER || verdict == CLASSIFY_SIP)
        return;
    if (rtcp_looks_like(pkt->payload, pkt->len))
        handle_rtcp(p, pkt, &cp);
    else if (verdict != CLASSIFY_RTCP && rtp_looks_like(pkt->payload, pkt->len))
        handle_rtp(p, pkt, &cp);
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

static size_t on_packet(void *ctx, const packet_view_t *pkt)
{
    engine_t *p = ctx;
    tick(p, pkt->ts_ns);
    if (pkt->ip_proto == CAP_PROTO_TCP)
        return handle_tcp(p, pkt);
    if (pkt->len > 0)
        handle_udp(p, pkt);
    return pkt->len;
}

#define DEDUP_WINDOW_NS 2000000000LL

void engine_feed_hep(engine_t *p, const hep_msg_t *m)
{
    p->hep.packets++;
    if (m->compressed || (m->proto_type != HEP_PROTO_SIP && m->proto_type != HEP_PROTO_RTCP)) {
        p->hep.unsupported++;
        return;
    }
    packet_view_t pkt = {
        .ts_ns = (int64_t)m->ts_sec * 1000000000 + (int64_t)m->ts_usec * 1000,
        /* A HEP payload is one whole message, whatever transport it came over. */
        .ip_proto = CAP_PROTO_UDP,
        .src = m->src,
        .dst = m->dst,
        .payload = m->payload,
        .len = m->payload_len,
    };
    /* The same message seen by two probes: same bytes between the same addresses, close in
     * time (probes' clocks differ a little). */
    uint64_t h = hash_bytes(m->payload, m->payload_len, net_endpoint_hash(&m->src)) ^
                 net_endpoint_hash(&m->dst);
    size_t n_sets = sizeof(p->recent) / sizeof(p->recent[0]);
    dedup_set_t *set = &p->recent[(h >> 8) & (n_sets - 1)];
    for (int way = 0; way < 4; way++) {
        int64_t dt = pkt.ts_ns - set->ts_ns[way];
        if (set->hash[way] == h && dt < DEDUP_WINDOW_NS && dt > -DEDUP_WINDOW_NS) {
            p->hep.duplicates++;
            return;
        }
    }
    set->hash[set->next] = h;
    set->ts_ns[set->next] = pkt.ts_ns;
    set->next = (uint8_t)((set->next + 1) & 3);
    tick(p, pkt.ts_ns);
    p->probe_id = m->agent_id;
    p->has_probe = true;
    if (m->proto_type == HEP_PROTO_SIP) {
        p->hep.sip++;
        handle_udp(p, &pkt);
    } else if (rtcp_looks_like(pkt.payload, pkt.len)) {
        p->hep.rtcp++;
        packet_view_t cp = make_corr_pkt(p, &pkt, pkt.payload, pkt.len);
        handle_rtcp(p, &pkt, &cp);
    } else {
        p->hep.unsupported++; /* RTCP as JSON (heplify's own agents): not decoded */
    }
    p->has_probe = false;
    p->probe_id = 0;
}

void engine_hep_stats(const engine_t *p, engine_hep_stats_t *out)
{
    *out = p->hep;
}

int engine_new(const engine_cfg_t *cfg, engine_t **out, char *err, size_t errlen)
{
    int rc = -ENOMEM;
    engine_t *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    p->started_ns = clock_ns(CLOCK_MONOTONIC);
    p->observer = cfg->observer;
    p->pcap_rtp = cfg->pcap_rtp;
    p->hep_out = cfg->hep_out;
    p->hep_rtcp = cfg->hep_rtcp;
    if (cfg->pcap_dir != NULL) {
        p->callpcap = callpcap_new(cfg->pcap_dir, 256, err, errlen);
        if (p->callpcap == NULL) {
            rc = -EIO;
            goto fail;
        }
    }
    if (cfg->db_path != NULL) {
        /* The writer thread commits at least once a second (and when idle); rows-based
         * commits on top of that only rewrite the same B-tree pages more often. */
        store_opts_t opts = {.batch_rows = ENGINE_BATCH_ROWS, .cache_kb = ENGINE_CACHE_KB};
        rc = store_open_opts(cfg->db_path, &opts, &p->store);
        if (rc != 0) {
            snprintf(err, errlen, "%s: %s", cfg->db_path,
                     p->store ? store_errmsg(p->store) : "cannot open database");
            goto fail;
        }
    }
    corr_sink_t sink = {
        .ctx = p,
        .on_call = sink_call,
        .on_stream = sink_stream,
        .on_sample = sink_sample,
        .on_message = sink_message,
    };
    p->corr = corr_new(&cfg->corr, &sink);
    p->cap = cap_new(&cfg->cap, on_packet, p);
    p->classify_max_flows = cfg->classify_max_flows;
    secmon_sink_t secmon_sink = {.ctx = p, .on_registration = sink_registration,
                                 .on_alert = sink_alert};
    p->secmon = secmon_new(&cfg->secmon, &secmon_sink);
    if (p->corr == NULL || p->cap == NULL || p->secmon == NULL) {
        rc = -ENOMEM;
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    cap_set_lookahead(p->cap, rtp_hint, rtp_prefetch, p->corr);
    if (p->store != NULL) {
        corr_set_first_id(p->corr, store_next_id(p->store));
        secmon_set_first_alert_id(p->secmon, store_next_alert_id(p->store));
        /* Where the per-call pcaps are, for `export` and the API's download (written before
         * the writer thread takes the connection over). */
        char abs[4096];
        if (cfg->pcap_dir != NULL && realpath(cfg->pcap_dir, abs) != NULL) {
            store_set_meta(p->store, "pcap_dir", abs);
            store_flush(p->store);
        }
        p->writer = writer_start(p->store, cfg->writer_queue_bytes);
        if (p->writer == NULL) {
            rc = -ENOMEM;
            snprintf(err, errlen, "cannot start the store writer");
            goto fail;
        }
    }
    *out = p;
    return 0;
fail:
    engine_free(p);
    return rc;
}

int engine_read_file(engine_t *p, const char *path, char *err, size_t errlen)
{
    return cap_read_file(p->cap, path, err, errlen);
}

void engine_process_frame(engine_t *p, const cap_frame_t *f)
{
    cap_process_frame_peeked(p->cap, f);
}

void engine_idle(engine_t *p, int64_t wall_now_ns)
{
    /* Capture time moves on with the wall clock since the last packet: right for a live link,
     * and for a replay of an old capture (HEP from `analyze --hep-out`) it does not jump years
     * ahead and time every call out. */
    if (p->last_tick_wall_ns == 0)
        return;
    int64_t now_ns = p->last_tick_ns + (wall_now_ns - p->last_tick_wall_ns);
    if (now_ns > p->last_tick_ns) {
        corr_tick(p->corr, now_ns);
        secmon_tick(p->secmon, now_ns);
        p->last_tick_ns = now_ns;
        p->last_tick_wall_ns = wall_now_ns;
    }
}

void engine_publish(engine_t *p, const char *key, int64_t value)
{
    if (p->writer != NULL)
        note_store_result(p, writer_put_meta(p->writer, key, value));
}

void engine_publish_stats(engine_t *p)
{
    engine_totals_t t;
    engine_totals(p, &t);
    const cap_stats_t *cs = cap_stats(p->cap);
    const corr_stats_t *rs = corr_stats(p->corr);
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
        {"capture.truncated", cs->truncated},
        {"capture.ip_reassembled", cs->ip_reassembled},
        {"capture.frag_dropped", cs->frag_dropped},
        {"capture.tcp_gaps", cs->tcp_gaps},
        {"capture.tcp_flows_evicted", cs->tcp_flows_evicted},
        {"corr.calls_evicted", rs->calls_evicted},
        {"corr.calls_timed_out", rs->calls_timed_out},
        {"corr.streams_evicted", rs->streams_evicted},
        {"corr.live_calls", rs->live_calls},
        {"corr.live_streams", rs->live_streams},
    };
    for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
        engine_publish(p, counters[i].key, (int64_t)counters[i].value);

    /* Security detectors and the protocol mix of flows no SDP announced. */
    const secmon_stats_t *ss = secmon_stats(p->secmon);
    char key[64];
    for (int type = 0; type < ALERT_TYPE_COUNT; type++) {
        snprintf(key, sizeof(key), "secmon.alerts.%s", alert_type_name((alert_type_t)type));
        engine_publish(p, key, (int64_t)ss->alerts_by_type[type]);
    }
    engine_publish(p, "secmon.alerts_suppressed", (int64_t)ss->alerts_suppressed);
    engine_publish(p, "secmon.sources_evicted", (int64_t)ss->sources_evicted);
    engine_publish(p, "secmon.aors_evicted", (int64_t)ss->aors_evicted);
    if (p->writer != NULL) {
        writer_stats_t ws;
        writer_get_stats(p->writer, &ws);
        engine_publish(p, "store.writer_waits", (int64_t)ws.producer_waits);
        engine_publish(p, "store.write_failures", (int64_t)ws.failed);
    }
    if (p->callpcap != NULL) {
        callpcap_stats_t ps;
        callpcap_get_stats(p->callpcap, &ps);
        engine_publish(p, "pcap.frames_written", (int64_t)ps.frames_written);
        engine_publish(p, "pcap.write_errors", (int64_t)ps.write_errors);
    }
    const classify_stats_t *cls = engine_classify_stats(p);
    for (int v = 0; v < CLASSIFY_COUNT; v++) {
        snprintf(key, sizeof(key), "classify.flows.%s", classify_verdict_name((classify_verdict_t)v));
        engine_publish(p, key, (int64_t)cls->flows_classified[v]);
    }
}

void engine_totals(const engine_t *p, engine_totals_t *out)
{
    const cap_stats_t *cs = cap_stats(p->cap);
    *out = p->totals;
    out->packets = cs->frames;
    out->bytes = cs->bytes;
    out->malformed += cs->truncated + cs->bad_header;
}

const corr_stats_t *engine_corr_stats(const engine_t *p)
{
    return corr_stats(p->corr);
}

const classify_stats_t *engine_classify_stats(const engine_t *p)
{
    static const classify_stats_t none;
    return p->classify ? classify_stats(p->classify) : &none;
}

void engine_lookahead(engine_t *p, cap_hint_fn *hint, cap_prefetch_fn *prefetch, void **ctx)
{
    *hint = rtp_hint;
    *prefetch = rtp_prefetch;
    *ctx = p->corr;
}

void engine_timing(const engine_t *p, engine_timing_t *out)
{
    *out = p->timing;
}

int engine_finish(engine_t *p, char *err, size_t errlen)
{
    int64_t input_end = clock_ns(CLOCK_MONOTONIC);
    p->timing.wall_input_ns = input_end - p->started_ns;
    p->timing.cpu_readahead_ns = (int64_t)cap_stats(p->cap)->readahead_cpu_ns;
    cap_flush(p->cap);
    corr_flush(p->corr);
    secmon_flush(p->secmon);
    if (p->store != NULL) {
        engine_totals_t t;
        engine_totals(p, &t);
        store_meta_t meta = {
            .packets = t.packets,
            .bytes = t.bytes,
            .sip_messages = t.sip_messages,
            .rtp_packets = t.rtp_packets,
            .rtcp_packets = t.rtcp_packets,
            .malformed = t.malformed,
        };
        note_store_result(p, writer_put_totals(p->writer, &meta));
        char why[256] = "";
        writer_stats_t ws = {0};
        int rc = writer_stop(p->writer, &ws, why, sizeof(why));
        p->writer = NULL;
        p->timing.cpu_writer_ns = ws.cpu_ns;
        if (rc != 0) {
            snprintf(err, errlen, "storing failed: %s", why);
            return rc;
        }
    }
    p->timing.wall_store_tail_ns = clock_ns(CLOCK_MONOTONIC) - input_end;
    p->timing.cpu_analysis_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    if (p->store_error != 0) {
        snprintf(err, errlen, "storing failed");
        return p->store_error;
    }
    return 0;
}

void engine_free(engine_t *p)
{
    if (p == NULL)
        return;
    cap_free(p->cap);
    corr_free(p->corr);
    classify_free(p->classify);
    secmon_free(p->secmon);
    callpcap_free(p->callpcap);
    writer_stop(p->writer, NULL, NULL, 0);
    if (p->store != NULL)
        store_close(p->store);
    free(p);
}
