/* pipeline: capture -> decoders -> correlator -> store/report, shared by analyze, capture, run. */
#ifndef SIPSCOPE_PIPELINE_H
#define SIPSCOPE_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cap.h"
#include "classify.h"
#include "corr.h"
#include "hep.h"
#include "hep_io.h"
#include "records.h"
#include "secmon.h"

typedef struct pipeline pipeline_t;

/* Totals of the JSON report (shared/DESIGN.md). */
typedef struct {
    uint64_t packets, bytes;
    uint64_t sip_messages, rtp_packets, rtcp_packets;
    uint64_t malformed;
} pipeline_totals_t;

/* Where the time went (analyze -v): wall time from pipeline_new to the end of the input, then
 * until everything was stored; CPU time of the analysis (the thread that fed the pipeline), the
 * read-ahead and the store writer threads. */
typedef struct {
    int64_t wall_input_ns, wall_store_tail_ns;
    int64_t cpu_analysis_ns, cpu_readahead_ns, cpu_writer_ns;
} pipeline_timing_t;

/* Receives every final record (in addition to the store). */
typedef struct {
    void *ctx;
    void (*on_call)(void *ctx, const call_record_t *call);
    void (*on_stream)(void *ctx, const stream_record_t *stream);
    void (*on_alert)(void *ctx, const alert_record_t *alert);
} pipeline_observer_t;

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
    pipeline_observer_t observer; /* optional */
} pipeline_cfg_t;

void pipeline_cfg_init(pipeline_cfg_t *cfg);

/* Returns 0 or a negative errno-style code with a reason in err. Caller frees with
 * pipeline_free. */
int pipeline_new(const pipeline_cfg_t *cfg, pipeline_t **out, char *err, size_t errlen);
/* Flushes the correlator and the store, then frees. Returns 0 or negative on a store error. */
int pipeline_finish(pipeline_t *p, char *err, size_t errlen);
void pipeline_free(pipeline_t *p);

/* Read one capture file ("-" = stdin) through the pipeline. 0, or negative with a reason. */
int pipeline_read_file(pipeline_t *p, const char *path, char *err, size_t errlen);

/* Feed one captured frame (live capture), with what its look-ahead found (pipeline_lookahead). */
void pipeline_process_frame(pipeline_t *p, const cap_frame_t *f);
/* One packet received as HEPv3 from a probe (run --hep-in): SIP and RTCP go through the same
 * decoders and correlator as captured packets, marked with the probe's agent id. A message
 * that another probe already delivered (same bytes, same addresses, within 2 s) is counted as
 * a duplicate and dropped. */
void pipeline_feed_hep(pipeline_t *p, const hep_msg_t *msg);

typedef struct {
    uint64_t packets, sip, rtcp, duplicates, unsupported;
} pipeline_hep_stats_t;
void pipeline_hep_stats(const pipeline_t *p, pipeline_hep_stats_t *out);

/* No packet for a while: advance the correlator's clock so idle calls still time out. Capture
 * time moves on by the wall-clock time elapsed since the last packet. */
void pipeline_idle(pipeline_t *p, int64_t wall_now_ns);
/* Publish a counter to the store's meta table (no-op without a store). */
void pipeline_publish(pipeline_t *p, const char *key, int64_t value);
/* Publish the pipeline's own counters (capture, correlator, classifier, totals). */
void pipeline_publish_stats(pipeline_t *p);

void pipeline_totals(const pipeline_t *p, pipeline_totals_t *out);
/* After pipeline_finish. */
void pipeline_timing(const pipeline_t *p, pipeline_timing_t *out);
/* The look-ahead hooks (cap_set_lookahead) for another frame source, such as live capture:
 * hint is safe on any thread while p lives. */
void pipeline_lookahead(pipeline_t *p, cap_hint_fn *hint, cap_prefetch_fn *prefetch, void **ctx);
const corr_stats_t *pipeline_corr_stats(const pipeline_t *p);
const classify_stats_t *pipeline_classify_stats(const pipeline_t *p);

#endif
