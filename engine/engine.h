/* pipeline: capture -> decoders -> correlator -> store/report, shared by analyze, capture, run. */
#ifndef SIPSCOPE_ENGINE_H
#define SIPSCOPE_ENGINE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cap.h"
#include "classify.h"
#include "corr.h"
#include "hep.h"
#include "hep_out.h"
#include "records.h"
#include "secmon.h"

typedef struct engine engine_t;

/* Totals of the JSON report (shared/DESIGN.md). */
typedef struct {
    uint64_t packets, bytes;
    uint64_t sip_messages, rtp_packets, rtcp_packets;
    uint64_t malformed;
} engine_totals_t;

/* Where the time went (analyze -v): wall time from engine_new to the end of the input, then
 * until everything was stored; CPU time of the analysis (the thread that fed the pipeline), the
 * read-ahead and the store writer threads. */
typedef struct {
    int64_t wall_input_ns, wall_store_tail_ns;
    int64_t cpu_analysis_ns, cpu_readahead_ns, cpu_writer_ns;
} engine_timing_t;

/* Receives every final record (in addition to the store). */
typedef struct {
    void *ctx;
    void (*on_call)(void *ctx, const call_record_t *call);
    void (*on_stream)(void *ctx, const stream_record_t *stream);
    void (*on_alert)(void *ctx, const alert_record_t *alert);
} engine_observer_t;

typedef struct {
    const char *db_path;          /* NULL: no store */
    corr_cfg_t corr;
    secmon_cfg_t secmon;          /* security detectors' thresholds */
    cap_cfg_t cap;
    hep_sender_t *hep_out;        /* borrowed: every SIP message (and RTCP with hep_rtcp) is
                                     also sent as HEPv3 here; NULL = off */
    bool hep_rtcp;
    const char *pcap_dir;         /* per-call pcaps under this directory; NULL = none */
    bool pcap_rtp;                /* also RTP/RTCP in them (default true) */
    size_t writer_queue_bytes;    /* records waiting for the store thread (default 4 MB) */
    size_t classify_max_flows;    /* flows nDPI remembers (default 4096) */
    engine_observer_t observer; /* optional */
} engine_cfg_t;

void engine_cfg_init(engine_cfg_t *cfg);

/* Returns 0 or a negative errno-style code with a reason in err. Caller frees with
 * engine_free. */
int engine_new(const engine_cfg_t *cfg, engine_t **out, char *err, size_t errlen);
/* Flushes the correlator and the store, then frees. Returns 0 or negative on a store error. */
int engine_finish(engine_t *p, char *err, size_t errlen);
void engine_free(engine_t *p);

/* Read one capture file ("-" = stdin) through the pipeline. 0, or negative with a reason. */
int engine_read_file(engine_t *p, const char *path, char *err, size_t errlen);

/* Feed one captured frame (live capture), with what its look-ahead found (engine_lookahead). */
void engine_process_frame(engine_t *p, const cap_frame_t *f);
/* One packet received as HEPv3 from a probe (run --hep-in): SIP and RTCP go through the same
 * decoders and correlator as captured packets, marked with the probe's agent id. A message
 * that another probe already delivered (same bytes, same addresses, within 2 s) is counted as
 * a duplicate and dropped. */
void engine_feed_hep(engine_t *p, const hep_msg_t *msg);

typedef struct {
    uint64_t packets, sip, rtcp, duplicates, unsupported;
} engine_hep_stats_t;
void engine_hep_stats(const engine_t *p, engine_hep_stats_t *out);

/* No packet for a while: advance the correlator's clock so idle calls still time out. Capture
 * time moves on by the wall-clock time elapsed since the last packet. */
void engine_idle(engine_t *p, int64_t wall_now_ns);
/* Publish a counter to the store's meta table (no-op without a store). */
void engine_publish(engine_t *p, const char *key, int64_t value);
/* Publish the pipeline's own counters (capture, correlator, classifier, totals). */
void engine_publish_stats(engine_t *p);

void engine_totals(const engine_t *p, engine_totals_t *out);
/* After engine_finish. */
void engine_timing(const engine_t *p, engine_timing_t *out);
/* The look-ahead hooks (cap_set_lookahead) for another frame source, such as live capture:
 * hint is safe on any thread while p lives. */
void engine_lookahead(engine_t *p, cap_hint_fn *hint, cap_prefetch_fn *prefetch, void **ctx);
const corr_stats_t *engine_corr_stats(const engine_t *p);
const classify_stats_t *engine_classify_stats(const engine_t *p);

#endif
