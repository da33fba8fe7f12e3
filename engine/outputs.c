/* outputs: the store writer, per-call pcaps and the HEP sender as engine outputs. */
#include "outputs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "callpcap.h"
#include "log.h"
#include "store.h"
#include "writer.h"

/* ---- store: records queued for the writer thread ---- */

/* Rows per store transaction at most; the writer also commits once a second. */
#define STORE_BATCH_ROWS 65536
/* The writer appends: 8 MB of page cache holds the B-tree pages its inserts touch (measured:
 * no slower than 16 MB with 10,000 concurrent calls, and 8 MB less peak memory). */
#define STORE_CACHE_KB 8192

typedef struct {
    store_t *store;
    writer_t *writer;
    int error;          /* the first failed put; the writer keeps its text */
    store_meta_t added; /* the totals of this run already added to the store's */
} store_output_t;

static void note(store_output_t *so, int rc)
{
    if (rc != 0 && so->error == 0)
        so->error = rc;
}

static void store_call(void *ctx, const call_record_t *r)
{
    store_output_t *so = ctx;
    note(so, writer_put_call(so->writer, r));
}

static void store_stream(void *ctx, const stream_record_t *r)
{
    store_output_t *so = ctx;
    note(so, writer_put_stream(so->writer, r));
}

static void store_sample(void *ctx, const sample_record_t *r)
{
    store_output_t *so = ctx;
    note(so, writer_put_sample(so->writer, r));
}

static void store_message(void *ctx, const message_record_t *r)
{
    store_output_t *so = ctx;
    note(so, writer_put_message(so->writer, r));
}

static void store_registration(void *ctx, const registration_record_t *r)
{
    store_output_t *so = ctx;
    note(so, writer_put_registration(so->writer, r));
}

static void store_alert(void *ctx, const alert_record_t *r)
{
    store_output_t *so = ctx;
    note(so, writer_put_alert(so->writer, r));
}

static void store_dtmf(void *ctx, const dtmf_record_t *r)
{
    store_output_t *so = ctx;
    note(so, writer_put_dtmf(so->writer, r));
}

static void store_counter(void *ctx, const char *key, int64_t value)
{
    store_output_t *so = ctx;
    note(so, writer_put_meta(so->writer, key, value));
}

/* Add to the store's totals what this run counted since the last time, so that they move while
 * a capture runs (every publish: each checkpoint, and a live capture's once a second). */
static void add_totals_so_far(store_output_t *so, const engine_totals_t *t)
{
    store_meta_t now = {
        .packets = t->packets,
        .bytes = t->bytes,
        .sip_messages = t->sip_messages,
        .rtp_packets = t->rtp_packets,
        .rtcp_packets = t->rtcp_packets,
        .malformed = t->malformed,
    };
    store_meta_t delta = {
        .packets = now.packets - so->added.packets,
        .bytes = now.bytes - so->added.bytes,
        .sip_messages = now.sip_messages - so->added.sip_messages,
        .rtp_packets = now.rtp_packets - so->added.rtp_packets,
        .rtcp_packets = now.rtcp_packets - so->added.rtcp_packets,
        .malformed = now.malformed - so->added.malformed,
    };
    static const store_meta_t zero;
    if (memcmp(&delta, &zero, sizeof(delta)) == 0)
        return;
    note(so, writer_put_totals(so->writer, &delta));
    so->added = now;
}

static void store_publish(void *ctx, engine_t *e)
{
    store_output_t *so = ctx;
    engine_totals_t t;
    engine_totals(e, &t);
    add_totals_so_far(so, &t);
    writer_stats_t ws;
    writer_get_stats(so->writer, &ws);
    engine_publish(e, "store.writer_waits", (int64_t)ws.producer_waits);
    engine_publish(e, "store.write_failures", (int64_t)ws.failed);
}

static int store_finish(void *ctx, const engine_totals_t *t, engine_timing_t *timing, char *err,
                        size_t errlen)
{
    store_output_t *so = ctx;
    add_totals_so_far(so, t);
    char why[256] = "";
    writer_stats_t ws = {0};
    int rc = writer_stop(so->writer, &ws, why, sizeof(why));
    so->writer = NULL;
    timing->cpu_writer_ns = ws.cpu_ns;
    if (rc != 0) {
        snprintf(err, errlen, "storing failed: %s", why);
        return rc;
    }
    if (so->error != 0) {
        snprintf(err, errlen, "storing failed");
        return so->error;
    }
    return 0;
}

static void store_output_free(void *ctx)
{
    store_output_t *so = ctx;
    if (so == NULL)
        return;
    writer_stop(so->writer, NULL, NULL, 0);
    if (so->store != NULL)
        store_close(so->store);
    free(so);
}

int output_store_new(const output_store_cfg_t *cfg, engine_output_t *out, output_store_ids_t *ids,
                     char *err, size_t errlen)
{
    store_output_t *so = calloc(1, sizeof(*so));
    if (so == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    /* The writer thread commits at least once a second (and when idle); rows-based commits on
     * top of that only rewrite the same B-tree pages more often. */
    store_opts_t opts = {.batch_rows = STORE_BATCH_ROWS, .cache_kb = STORE_CACHE_KB};
    int rc = store_open_opts(cfg->db_path, &opts, &so->store);
    if (rc != 0) {
        /* store_errmsg names the path itself when opening failed: say it once. */
        const char *why = so->store ? store_errmsg(so->store) : "cannot open database";
        size_t plen = strlen(cfg->db_path);
        if (strncmp(why, cfg->db_path, plen) == 0 && strncmp(why + plen, ": ", 2) == 0)
            why += plen + 2;
        snprintf(err, errlen, "%s: %s", cfg->db_path, why);
        goto fail;
    }
    /* Calls a crashed run left in progress are closed as interrupted before anything new is
     * written (their ids stay taken: store_next_id counts them). */
    int64_t interrupted = 0;
    if ((rc = store_close_interrupted(so->store, &interrupted)) != 0) {
        snprintf(err, errlen, "%s: %s", cfg->db_path, store_errmsg(so->store));
        goto fail;
    }
    if (interrupted > 0)
        log_warn("%s: %lld call(s) left in progress by a run that stopped abruptly, kept as "
                 "interrupted",
                 cfg->db_path, (long long)interrupted);
    ids->row = store_next_id(so->store);
    ids->message = store_next_message_id(so->store);
    ids->alert = store_next_alert_id(so->store);
    /* Where the per-call pcaps are, for `export` and the API's download (written before the
     * writer thread takes the connection over). */
    char abs[4096];
    if (cfg->pcap_dir != NULL && realpath(cfg->pcap_dir, abs) != NULL) {
        store_set_meta(so->store, "pcap_dir", abs);
        store_flush(so->store);
    }
    so->writer = writer_start(so->store, cfg->queue_bytes);
    if (so->writer == NULL) {
        rc = -ENOMEM;
        snprintf(err, errlen, "cannot start the store writer");
        goto fail;
    }
    *out = (engine_output_t){
        .name = "store",
        .ctx = so,
        .on_call = store_call,
        .on_stream = store_stream,
        .snapshots = true,
        .on_sample = store_sample,
        .on_message = store_message,
        .on_registration = store_registration,
        .on_alert = store_alert,
        .on_dtmf = store_dtmf,
        .on_counter = store_counter,
        .on_publish = store_publish,
        .finish = store_finish,
        .free = store_output_free,
    };
    return 0;
fail:
    store_output_free(so);
    return rc;
}

/* ---- per-call pcaps ---- */

static void pcap_sip(void *ctx, call_ref_t ref, const packet_view_t *msg, const sip_msg_t *sip)
{
    (void)sip;
    callpcap_write(ctx, ref, msg, CALLPCAP_PKT_SIP);
}

static void pcap_media(void *ctx, call_ref_t ref, const packet_view_t *pkt, engine_media_t kind)
{
    callpcap_write(ctx, ref, pkt, kind == ENGINE_MEDIA_RTP ? CALLPCAP_PKT_RTP : CALLPCAP_PKT_RTCP);
}

static void pcap_call(void *ctx, const call_record_t *call)
{
    callpcap_close_call(ctx, call->id);
}

static void pcap_publish(void *ctx, engine_t *e)
{
    callpcap_stats_t ps;
    callpcap_get_stats(ctx, &ps);
    engine_publish(e, "pcap.frames_written", (int64_t)ps.frames_written);
    engine_publish(e, "pcap.write_errors", (int64_t)ps.write_errors);
}

static void pcap_free(void *ctx)
{
    callpcap_free(ctx);
}

int output_pcap_new(const char *dir, callpcap_rtp_t rtp, callpcap_compress_t compress,
                    engine_output_t *out, char *err, size_t errlen)
{
    callpcap_cfg_t pc = {.max_open = 256, .rtp = rtp, .compress = compress};
    callpcap_t *cp = callpcap_new(dir, &pc, err, errlen);
    if (cp == NULL)
        return -EIO;
    *out = (engine_output_t){
        .name = "pcap",
        .ctx = cp,
        .on_sip = pcap_sip,
        .on_media = rtp != CALLPCAP_RTP_NONE ? pcap_media : NULL,
        .on_call = pcap_call,
        .on_publish = pcap_publish,
        .free = pcap_free,
    };
    return 0;
}

/* ---- HEP ---- */

static void hep_sip(void *ctx, call_ref_t ref, const packet_view_t *msg, const sip_msg_t *sip)
{
    (void)ref;
    hep_sender_send_sip(ctx, &msg->src, &msg->dst, msg->ip_proto, msg->ts_ns, msg->payload,
                        msg->len, sip->call_id);
}

static void hep_rtcp(void *ctx, call_ref_t ref, const packet_view_t *pkt, engine_media_t kind)
{
    (void)ref;
    (void)kind; /* RTCP only: media_rtcp_only */
    hep_sender_send_rtcp(ctx, &pkt->src, &pkt->dst, pkt->ip_proto, pkt->ts_ns, pkt->payload,
                         pkt->len, SV_NULL);
}

/* Quality reports of the streams measured here (a central's remote streams are its probes'). */
static void hep_stream_final(void *ctx, const stream_record_t *stream)
{
    /* A snapshot of a stream in progress (active) is a periodic report, not its last. */
    if (!stream->has_probe)
        hep_sender_send_qos(ctx, stream, !stream->active);
}

static void hep_stream_progress(void *ctx, const stream_record_t *stream)
{
    if (!stream->has_probe)
        hep_sender_send_qos(ctx, stream, false);
}

static void hep_stream_sample(void *ctx, const stream_record_t *stream,
                              const sample_record_t *sample)
{
    if (!stream->has_probe)
        hep_sender_send_qos_sample(ctx, stream, sample);
}

void output_hep_init(hep_sender_t *sender, bool rtcp, engine_output_t *out)
{
    *out = (engine_output_t){
        .name = "hep",
        .ctx = sender,
        .on_sip = hep_sip,
        .on_stream = hep_stream_final,
        .on_stream_progress = hep_stream_progress,
        .on_stream_sample = hep_stream_sample,
        .on_media = rtcp ? hep_rtcp : NULL,
        .media_rtcp_only = true,
    };
}
