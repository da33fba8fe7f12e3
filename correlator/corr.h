/* corr: decoded SIP/SDP/RTP/RTCP into calls (dialogs, transactions, states, timings) and media
 * streams with quality figures; bounded tables with idle timeouts and eviction counters. */
#ifndef SIPSCOPE_CORR_H
#define SIPSCOPE_CORR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"
#include "packet_view.h"
#include "records.h"
#include "rtcp.h"
#include "rtp.h"
#include "sip.h"

typedef struct corr corr_t;

typedef struct {
    size_t max_calls;             /* live calls kept (default 65536); the oldest idle is evicted */
    size_t max_streams;           /* live RTP streams kept (default 131072) */
    uint32_t setup_timeout_s;     /* no final answer yet (default 300) */
    uint32_t call_idle_timeout_s; /* answered, no SIP or RTP (default 3600; why in corr.c) */
    uint32_t
        linger_s; /* after BYE/final failure: keep for retransmissions/media tail (default 5) */
    uint32_t stream_idle_timeout_s; /* RTP stream without packets (default 60) */
    uint32_t sample_interval_s;     /* quality samples per stream (default 5) */
    bool snapshots; /* publish calls and streams in progress (see corr_sink_t; default off) */
} corr_cfg_t;

void corr_cfg_init(corr_cfg_t *cfg);

/* Where results go. Strings are borrowed for the callback only. Callbacks may be NULL. They must
 * not call back into corr.
 *
 * Final records: a call after it ended, timed out, was evicted or flushed (active = false); a
 * stream likewise. Each object's final record is handed over exactly once. A call's streams
 * (each followed by its last samples) are all emitted before the call itself, so that the call
 * carries the final mos/one_way/nat; a stream can be emitted long before its call (idle
 * stream, SSRC change).
 *
 * Snapshots (cfg.snapshots only): records of objects still in progress, active = true, the
 * same id as their final record, which comes later and replaces them (a store upserts by id).
 * A call in progress is one in setup, ringing or in_call (a call that ended but lingers for
 * retransmissions is not snapshotted again: its row shows its last snapshot until its final
 * record); its snapshot has the state as it stands and the figures so far (duration up to the
 * correlator's clock, mos/one_way/nat over its streams so far). Emitted:
 *  - a call's first, right after its INVITE is correlated and before that message's on_message,
 *    so that no message record ever names a call row that was not handed over before it;
 *  - a stream's first, before its first on_sample (likewise for samples);
 *  - by corr_checkpoint: every call and stream in progress that changed since its last
 *    snapshot (a call: a SIP message or a packet on one of its streams; a stream: a packet or
 *    an RTCP report).
 *
 * Order: on_message comes as each message is passed in (after any record it caused, e.g. an
 * eviction or the call's first snapshot). Ids: a call gets its id when its first INVITE is
 * seen and a stream with its first packet; without snapshots, messages and samples name rows
 * that are emitted later. */
typedef struct {
    void *ctx;
    void (*on_call)(void *ctx, const call_record_t *call);
    void (*on_stream)(void *ctx, const stream_record_t *stream);
    void (*on_sample)(void *ctx, const sample_record_t *sample);
    void (*on_message)(void *ctx, const message_record_t *msg); /* every SIP message, in order */
    /* A live stream's figures so far, as each sample interval of its media closes (5 s when
     * sample_interval_s is 0, which only turns samples off): the same id and fields as the
     * final on_stream will have, but not final. For probes that report streams while they run
     * (HEP quality reports). */
    void (*on_stream_progress)(void *ctx, const stream_record_t *stream);
    /* Each on_sample of a stream measured here again, with the stream's record as it stands (its
     * identity: Call-ID, addresses, SSRC, codec), for probes that send their charts' samples
     * (HEP quality reports of TYPE "SAMPLE"). */
    void (*on_stream_sample)(void *ctx, const stream_record_t *stream,
                             const sample_record_t *sample);
    /* a DTMF digit: an RFC 4733 event as it ends (its end packet, the next event, or its stream's
     * end: before the stream's record), or a SIP INFO as it comes */
    void (*on_dtmf)(void *ctx, const dtmf_record_t *dtmf);
} corr_sink_t;

/* Packets come as packet views (common/packet_view.h). For SIP, pkt->payload/len are the
 * message's own bytes (the raw text of its message record). */

typedef enum { CORR_MEDIA_NONE = 0, CORR_MEDIA_RTP, CORR_MEDIA_RTCP } corr_media_t;

/* Counters. A call or stream's final record is emitted exactly once, and counted once under
 * ended, timed_out, evicted or flushed; live_* are the objects whose final record is not emitted
 * yet. */
typedef struct {
    uint64_t calls_created, calls_ended, calls_timed_out, calls_evicted;
    uint64_t streams_created, streams_evicted, streams_unsignalled;
    uint64_t sip_messages, sip_retransmissions, sip_orphans;
    uint64_t rtp_packets, rtcp_packets;
    size_t live_calls, live_streams;
    /* Added after the first contract; the names above keep their meaning:
     * calls_ended: emitted after BYE or a final failure and the linger time (or when its
     * Call-ID was reused, or a finished call was pushed out by the cap);
     * calls_timed_out / streams_timed_out: idle past their state's timeout;
     * calls_evicted / streams_evicted: cut short by max_calls / max_streams (or a hash chain cap);
     * calls_flushed / streams_flushed: emitted by corr_flush;
     * streams_ended: emitted with their call, or when a newer call took over their endpoint;
     * calls_refused / streams_refused: not tracked at all (no Call-ID, allocation failure, a
     * full hash chain); media_refused: SDP endpoints the index could not take;
     * sip_orphans: dialog messages (ACK, BYE, CANCEL, in-dialog requests, responses to them)
     * of no known call. */
    uint64_t calls_flushed, calls_refused;
    uint64_t streams_ended, streams_timed_out, streams_flushed, streams_refused;
    uint64_t media_refused;
    /* Quality reports of probes (corr_on_stream_report): taken, for no live call (dropped),
     * and the remote streams they made (also in streams_created; refused ones in
     * streams_refused). */
    uint64_t remote_reports, remote_orphans, remote_streams;
    /* samples of a remote stream past REMOTE_MAX_SAMPLES (a day of 5 s intervals): dropped */
    uint64_t remote_samples_refused;
    /* call_snapshots / stream_snapshots: snapshot records handed over (cfg.snapshots);
     * checkpoints: corr_checkpoint calls. */
    uint64_t call_snapshots, stream_snapshots, checkpoints;
} corr_stats_t;

/* NULL on allocation failure; caller frees with corr_free (which does not flush). cfg and sink
 * are copied; a zero max_calls/max_streams means the default. */
corr_t *corr_new(const corr_cfg_t *cfg, const corr_sink_t *sink);
void corr_free(corr_t *corr);
/* Row ids for calls and streams come from one counter, 1 unless set here (e.g. from the store's
 * next free id) before the first message. */
void corr_set_first_id(corr_t *corr, int64_t first_id);

/* Message records carry row ids counted up from first_id (the store's next free one) once this
 * is called with first_id > 0; before that (no store) they carry 0. */
void corr_set_first_message_id(corr_t *corr, int64_t first_id);
/* The id of the message record corr_on_sip emitted last (0 when messages get none), for the
 * security monitor's alert samples. */
int64_t corr_last_message_id(const corr_t *corr);

/* One SIP message (request or response). Emits on_message. pkt->raw/raw_len are the message's
 * own bytes (the raw text of the message record). Only INVITE dialogs make calls; everything
 * else with an unknown Call-ID gets call_row 0.
 * Call flags as emitted: one_way = answered, some RTP seen, and one direction carried fewer than
 * 5% of the other's packets (none at all in the usual case); nat = a stream's source differs
 * from what its sender's SDP announced, or a side's SDP or any message's Contact named a private
 * address (RFC 1918, RFC 6598, ULA, link-local) in a message that came from a public one (NAT
 * seen from the signalling, which also catches a NATed party that sends no RTP, and a callee
 * that never answers). */
call_ref_t corr_on_sip(corr_t *corr, const packet_view_t *pkt, const sip_msg_t *msg);
/* Look-ahead for busy links (cap_set_lookahead). corr_rtp_hint is safe on any thread while
 * corr is alive (it reads only its seed): for a UDP datagram that may be RTP, the key of the
 * stream it would belong to, else 0. corr_prefetch, on the correlator's thread, asks the cache
 * for that stream's state: stage 0 its hash bucket, stage 1 the stream itself. Hints only:
 * results never depend on them. */
uint64_t corr_rtp_hint(const corr_t *corr, const net_endpoint_t *src, const net_endpoint_t *dst,
                       const uint8_t *payload, size_t len);
void corr_prefetch(const corr_t *corr, uint64_t hint, int stage);
/* Did SDP announce pkt's destination (or, for NAT, a flow already matched) as RTP or RTCP? */
corr_media_t corr_media_kind(corr_t *corr, const packet_view_t *pkt);
/* An RTP packet: on an announced flow, or one the caller recognised heuristically. */
call_ref_t corr_on_rtp(corr_t *corr, const packet_view_t *pkt, const rtp_hdr_t *rtp);
/* The fast path for media already flowing: if the packet at ts_ns from src to dst belongs to a
 * stream that exists (same source, destination and SSRC), account it like corr_on_rtp and
 * return true; else do nothing and return false (the caller then classifies the packet the
 * long way). One hash look-up, and no packet_view_t to build. hint: corr_rtp_hint's value for
 * this packet when the look-ahead computed it (it is the look-up's hash), else 0. ref may be
 * NULL when the caller does not need to know the call (saves touching it). */
bool corr_on_rtp_known(corr_t *corr, int64_t ts_ns, const net_endpoint_t *src,
                       const net_endpoint_t *dst, const rtp_hdr_t *rtp, uint64_t hint,
                       call_ref_t *ref);
call_ref_t corr_on_rtcp(corr_t *corr, const packet_view_t *pkt, const rtcp_compound_t *rtcp);
/* A probe's quality report of one stream (run --hep-in: HEP type 34): the figures another
 * sipscope measured. It becomes a stream of the live call with Call-ID call_id (a report for
 * no live call is counted in remote_orphans and dropped), matched to the call's sides through
 * the SDP endpoints (else party: 0 caller sends, 1 callee, -1 unknown), and emitted with the
 * call like a stream measured here, so the call's mos and one_way count it. Later reports of
 * the same stream (source, destination, SSRC) update it in place (one row); when two probes
 * report it, the one with more packets wins. final: the probe's last report of the stream;
 * a finished call whose remote streams still wait for theirs lingers once 10 s longer for
 * them. rep's call_id is ignored (call_id is used); its has_probe/probe_id are set from
 * probe_id. At most CALL_MAX_REMOTE (32) per call. */
call_ref_t corr_on_stream_report(corr_t *corr, uint32_t probe_id, sv_t call_id, int party,
                                 bool final, const stream_record_t *rep);
/* One interval of a probe's stream (a quality report of TYPE "SAMPLE"): emitted as a sample of
 * the call's remote stream with rep's source, destination and SSRC (made, with no figures yet,
 * when no report came before), for the stream's charts. Counted as a report (remote_reports;
 * remote_orphans when no live call has call_id; remote_samples_refused past a day of 5 s intervals
 * for one stream). Its figures are the probe's, as it took them. */
call_ref_t corr_on_stream_sample(corr_t *corr, uint32_t probe_id, sv_t call_id,
                                 const stream_record_t *rep, const sample_record_t *sample);
/* Advance time: end what timed out. Cheap; call once per packet or per second. */
void corr_tick(corr_t *corr, int64_t now_ns);
/* End of input: emit every live call and stream as it stands (final records). */
void corr_flush(corr_t *corr);
/* Publish what is in progress: a snapshot of every call in progress and every live stream that
 * changed since its last snapshot (nothing without cfg.snapshots). The caller decides how often
 * (the engine: every 2 s of wall-clock time); costs a walk over the live calls and streams. */
void corr_checkpoint(corr_t *corr);
const corr_stats_t *corr_stats(const corr_t *corr);

#endif
