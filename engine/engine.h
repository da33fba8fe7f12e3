/* engine: the stage between the packet sources and the outputs. It takes packet views from any
 * source (a file, a live interface, HEP from probes), drives the decoders, the correlator and
 * the security monitor, and hands what they make to the outputs registered with it (the store
 * writer, per-call pcaps, the HEP sender, the JSON report). docs/ARCHITECTURE.md draws it. */
#ifndef SIPSCOPE_ENGINE_H
#define SIPSCOPE_ENGINE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "callpcap.h"
#include "cap.h"
#include "classify.h"
#include "corr.h"
#include "hep_out.h"
#include "packet_view.h"
#include "records.h"
#include "secmon.h"
#include "sip.h"
#include "tls.h"

typedef struct engine engine_t;

/* Totals of the JSON report (docs/design.md). undecoded: frames of a link type, network
 * protocol or IP protocol the capture layers do not decode (cap_stats_t's unknown_link, non_ip
 * and other_ip_proto). first_ns/last_ns: capture times of the earliest and latest packet that
 * reached the decoders from the input being read (engine_read_file starts them afresh for each
 * file); 0 when none did. tls_sessions: TCP connections that began with a TLS handshake;
 * tls_decrypted: those whose data the key log decrypted. */
typedef struct {
    uint64_t packets, bytes;
    uint64_t sip_messages, rtp_packets, rtcp_packets;
    uint64_t malformed;
    uint64_t undecoded;
    uint64_t tls_sessions, tls_decrypted; /* TLS connections seen; those decrypted */
    /* Frames by what they came wrapped in (cap_stats_t): tunnels (IP-in-IP, GRE, ERSPAN,
     * VXLAN, GTP-U, MPLS pseudowires), and of those or beside them GTP-U, PPPoE, PPP in GRE
     * and MPLS. */
    uint64_t tunnels, gtpu, pppoe, gre_ppp, mpls;
    int64_t first_ns, last_ns;
} engine_totals_t;

/* Where the time went (analyze -v): wall time from engine_new to the end of the input, then
 * until everything was stored; CPU time of the analysis (the thread that fed the engine), the
 * read-ahead and the store writer threads. */
typedef struct {
    int64_t wall_input_ns, wall_store_tail_ns;
    int64_t cpu_analysis_ns, cpu_readahead_ns, cpu_writer_ns;
} engine_timing_t;

typedef enum { ENGINE_MEDIA_RTP = 0, ENGINE_MEDIA_RTCP } engine_media_t;

/* A TLS connection as it ended (or stood at the end of input): who opened it, who answered,
 * and what its session showed (SNI, version, cipher, whether it was decrypted). */
typedef struct {
    net_endpoint_t client, server;
    const tls_info_t *info; /* borrowed for the call */
} engine_tls_t;

/* An output: where the engine hands packets (as attributed to calls) and final records. One
 * small interface for every output; each callback may be NULL. All run on the engine's thread,
 * in the order the outputs were added; arguments are borrowed for the call only.
 *
 * on_sip: one SIP message; msg->payload/len are the message's own bytes (for TCP, one message
 *   cut out of the stream), ref the call it went to (row 0: none).
 * on_media: one RTP or RTCP datagram and its call. Asking for media costs every RTP packet a
 *   look at its call: leave it NULL unless it is needed, and set media_rtcp_only when only
 *   RTCP is wanted (RTP then costs nothing).
 * on_call ... on_alert: the records of common/records.h as the correlator and the security
 *   monitor finish them (corr.h and secmon.h say when). With snapshots set, on_call and
 *   on_stream also get the snapshots of calls and streams in progress (active = true; corr.h,
 *   "Snapshots"), else only final records. Snapshots are made only when an output of the
 *   engine's configuration (the store) takes them.
 * on_counter: a named counter for the store's meta table (engine_publish).
 * on_publish: publish this output's own counters with engine_publish.
 * finish: end of input, after the last record: flush, and say whether everything went out
 *   (0, or negative with a reason in err). May fill its part of timing.
 * free: release ctx (also when finish never ran).
 * on_tls: a TLS connection described (engine_tls_t), as it ends or at the end of input. */
typedef struct {
    const char *name; /* for messages: "store", "pcap", "hep", "report" */
    void *ctx;
    void (*on_sip)(void *ctx, call_ref_t ref, const packet_view_t *msg, const sip_msg_t *sip);
    void (*on_media)(void *ctx, call_ref_t ref, const packet_view_t *pkt, engine_media_t kind);
    bool media_rtcp_only; /* on_media sees RTCP only */
    bool snapshots;       /* on_call/on_stream also take records of objects in progress */
    void (*on_call)(void *ctx, const call_record_t *call);
    void (*on_stream)(void *ctx, const stream_record_t *stream);
    /* a live stream's figures so far, every 5 s of its media (corr_sink_t.on_stream_progress) */
    void (*on_stream_progress)(void *ctx, const stream_record_t *stream);
    void (*on_sample)(void *ctx, const sample_record_t *sample);
    /* each sample of a stream measured here, with the stream's record (corr_sink_t) */
    void (*on_stream_sample)(void *ctx, const stream_record_t *stream,
                             const sample_record_t *sample);
    void (*on_message)(void *ctx, const message_record_t *msg);
    void (*on_registration)(void *ctx, const registration_record_t *reg);
    void (*on_alert)(void *ctx, const alert_record_t *alert);
    void (*on_dtmf)(void *ctx, const dtmf_record_t *dtmf); /* corr_sink_t.on_dtmf */
    void (*on_counter)(void *ctx, const char *key, int64_t value);
    void (*on_publish)(void *ctx, engine_t *e);
    int (*finish)(void *ctx, const engine_totals_t *totals, engine_timing_t *timing, char *err,
                  size_t errlen);
    void (*free)(void *ctx);
    void (*on_tls)(void *ctx, const engine_tls_t *tls); /* each TLS connection, once */
} engine_output_t;

#define ENGINE_MAX_OUTPUTS 8

typedef struct {
    const char *db_path; /* the store output; NULL: none */
    corr_cfg_t corr;
    secmon_cfg_t secmon; /* security detectors' thresholds */
    cap_cfg_t cap;
    hep_sender_t *hep_out; /* borrowed: the HEP output sends every SIP message (and RTCP
                              with hep_rtcp) here; NULL = none */
    bool hep_rtcp;
    const char *pcap_dir;              /* the per-call pcap output writes under it; NULL = none */
    callpcap_rtp_t pcap_rtp;           /* RTP in them: whole (default), headers only, or none (and
                                          no RTCP either) */
    callpcap_compress_t pcap_compress; /* plain ID.pcap (default) or ID.pcap.gz */
    size_t writer_queue_bytes;         /* records waiting for the store thread (default 4 MB) */
    size_t classify_max_flows;         /* flows nDPI remembers (default 4096) */
    const char *tls_keylog; /* NSS key log (SSLKEYLOGFILE) to decrypt SIP over TLS with; NULL:
                               none (pcapng Decryption Secrets Blocks still count) */
} engine_cfg_t;

void engine_cfg_init(engine_cfg_t *cfg);

/* Builds the outputs cfg asks for (per-call pcaps, store, HEP, in that order). Returns 0 or a
 * negative errno-style code with a reason in err. Caller frees with engine_free. */
int engine_new(const engine_cfg_t *cfg, engine_t **out, char *err, size_t errlen);
/* One more output, after those of cfg (e.g. the JSON report). Copied; the engine calls its free.
 * 0, or -ENOSPC beyond ENGINE_MAX_OUTPUTS. Before the first packet. Snapshots and streams'
 * figures so far are made only for the outputs of cfg that take them: one added here gets
 * neither (its snapshots flag and on_stream_progress are not looked at). */
int engine_add_output(engine_t *e, const engine_output_t *output);
/* Flushes the correlator, then finishes every output. Returns 0 or the first output's error. */
int engine_finish(engine_t *e, char *err, size_t errlen);
void engine_free(engine_t *e);

/* ---- sources ---- */

/* Read one capture file ("-" = stdin) through the engine. 0, or negative with a reason. */
int engine_read_file(engine_t *e, const char *path, char *err, size_t errlen);
/* One captured frame (live capture), with what its look-ahead found (engine_lookahead). */
void engine_process_frame(engine_t *e, const cap_frame_t *f);
/* One packet view from another source (HEP from probes: capture/hep_in.h). For UDP views; a
 * view marked PKT_KIND_SIP or PKT_KIND_RTCP skips the guessing; PKT_KIND_QOS is a probe's
 * quality report of a stream (decoders/hep_qos.h), which becomes a stream of its call
 * (corr_on_stream_report; a report that does not decode counts as malformed). */
void engine_process_packet(engine_t *e, const packet_view_t *pkt);
/* The look-ahead hooks (cap_set_lookahead) for another frame source, such as live capture:
 * hint is safe on any thread while e lives. */
void engine_lookahead(engine_t *e, cap_hint_fn *hint, cap_prefetch_fn *prefetch, void **ctx);

/* No packet for a while: advance the correlator's clock so idle calls still time out. Capture
 * time moves on by the wall-clock time elapsed since the last packet. */
void engine_idle(engine_t *e, int64_t wall_now_ns);

/* ---- checkpoints and counters ---- */

/* Every source checkpoints at least this often in wall-clock time (the engine itself, from the
 * packet path and engine_idle): calls and streams in progress are published (corr_checkpoint)
 * and so are the counters (engine_publish_stats). The environment variable
 * SIPSCOPE_CHECKPOINT_MS (1 to 86,400,000) changes it, for benchmarks (under valgrind a run is
 * ~50 times slower, so it checkpoints ~50 times as often per packet) and tests.
 * ENGINE_CLOCK_EVERY: packets between two looks at the wall clock when capture time alone would
 * not look. */
#define ENGINE_CHECKPOINT_NS (2 * (int64_t)1000000000)
#define ENGINE_CLOCK_EVERY   4096

/* Checkpoint now: snapshots of what changed in progress, then every counter. */
void engine_checkpoint(engine_t *e);

/* Hand a counter to the outputs (the store keeps it in its meta table for the API). */
void engine_publish(engine_t *e, const char *key, int64_t value);
/* Publish the engine's own counters (capture, correlator, classifier, totals) and the outputs'. */
void engine_publish_stats(engine_t *e);

void engine_totals(const engine_t *e, engine_totals_t *out);
/* After engine_finish. */
void engine_timing(const engine_t *e, engine_timing_t *out);
const corr_stats_t *engine_corr_stats(const engine_t *e);
const classify_stats_t *engine_classify_stats(const engine_t *e);

#endif
