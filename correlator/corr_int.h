/* corr_int: the correlator's private types and the helpers its files share (corr.c: table, ids,
 * time and flush; corr_call.c: SIP into calls; corr_stream.c: RTP/RTCP into streams;
 * corr_live.c: snapshots of the calls and streams in progress).
 * Not for use outside correlator/. */
#ifndef SIPSCOPE_CORR_INT_H
#define SIPSCOPE_CORR_INT_H

#include "corr.h"

#include <stdbool.h>
#include <stdint.h>

#include "defs.h"
#include "dtmf.h"
#include "hash.h"
#include "list.h"
#include "media.h"
#include "rtpstat.h"
#include "sdp.h"
#include "verdict.h"

/* Per-call string arena. The Call-ID goes first and is kept whole up to CALL_ID_KEEP bytes
 * (longer ones are matched by full length + 64-bit hash + that prefix); the other strings are
 * cut at CALL_STR_KEEP bytes (on a UTF-8 boundary) or at what is left of the arena. */
#define CALL_ARENA     512
#define CALL_ID_KEEP   255
#define CALL_STR_KEEP  127
#define CALL_FP_RING   16 /* fingerprints of recent messages, for retransmissions */
#define CALL_MAX_EPS   16 /* media endpoints a call holds in the index (ring; re-INVITEs) */
#define CALL_MAX_MAPS  8  /* dynamic payload type maps per side */
#define CALL_CHAIN_MAX 16 /* Call-ID hash chain walk cap */
#define CODEC_NAME_MAX 16

/* one_way: the quieter direction carried fewer than 1/ONE_WAY_RATIO of the other's packets. */
#define ONE_WAY_RATIO 20

/* Timeout queues, one per idle timeout: early (setup, ringing), confirmed (in_call) and ended
 * (completed, rejected, cancelled: lingering for retransmissions and the media tail). */
enum { Q_EARLY = 0, Q_CONFIRMED, Q_ENDED, Q_COUNT };

/* Why an object is emitted; picks the counter. */
typedef enum { FIN_ENDED, FIN_TIMEOUT, FIN_EVICT, FIN_FLUSH } fin_t;

/* A payload type an SDP mapped with a=rtpmap (dynamic types; static ones use RFC 3551). */
typedef struct {
    uint8_t pt;
    bool event;    /* telephone-event (RFC 4733) */
    uint16_t name; /* arena offset of the encoding name */
    uint32_t clock;
} pt_map_t;

/* SRTP of a media line (call_t.srtp): 0 plain RTP, else an index into srtp_suite_names. Only
 * the suite is kept: the keys of a=crypto are secrets, never copied out of the SDP. */
enum { SRTP_NONE = 0, SRTP_DTLS, SRTP_OTHER, SRTP_FIRST_SDES };

/* The suites of the IANA SDES registry (RFC 4568, 6188, 7714); another suite reads "unknown". */
static const char *const srtp_suite_names[] = {
    "",
    "DTLS-SRTP",
    "unknown",
    "AES_CM_128_HMAC_SHA1_80",
    "AES_CM_128_HMAC_SHA1_32",
    "F8_128_HMAC_SHA1_80",
    "AES_192_CM_HMAC_SHA1_80",
    "AES_192_CM_HMAC_SHA1_32",
    "AES_256_CM_HMAC_SHA1_80",
    "AES_256_CM_HMAC_SHA1_32",
    "AEAD_AES_128_GCM",
    "AEAD_AES_256_GCM",
};

struct stream;

/* A remote stream's figures, as its probe's last quality report gave them. */
typedef struct {
    uint64_t packets, duplicates, out_of_order, seq_errors;
    int64_t lost;
    double max_delta_ms, mean_jitter_ms, max_jitter_ms, mos;
} remote_fig_t;

/* Remote streams a call holds at most (reports of further streams are refused). */
#define CALL_MAX_REMOTE 32
/* Samples a remote stream takes at most: a day of 5 s intervals (further ones are refused). */
#define REMOTE_MAX_SAMPLES 17280
/* A finished call with a remote stream whose final report has not come yet lingers this much
 * longer (once) for it: a probe finishes its calls by its own clock, which may run a little
 * behind ours (it checks timeouts every 100 ms of capture time). */
#define REMOTE_FINAL_WAIT_S 10

typedef struct call {
    list_node_t qnode;      /* in c->q[queue] */
    struct call *hnext;     /* Call-ID hash chain */
    struct stream *streams; /* live streams, through stream.call_next */
    uint64_t hash;          /* of the full Call-ID */
    int64_t id;
    int64_t queued_ns;        /* when put at the tail of its queue */
    int64_t sip_ns, media_ns; /* last SIP message, last RTP/RTCP */
    int64_t invite_ns, ringing_ns, answer_ns, end_ns, final_ns;
    int64_t ack_ns; /* the ACK of the answer (media matching: a call never ACKed is stale) */
    net_endpoint_t caller, callee;
    uint64_t from_tag_hash, to_tag_hash; /* 0 = no tag */
    uint64_t media_pkts[2];              /* packets of emitted streams, by sending side */
    double worst_mos;
    uint64_t fp[CALL_FP_RING];
    uint32_t eps[CALL_MAX_EPS];
    uint8_t eps_mline[CALL_MAX_EPS]; /* m= line of eps[i] in its SDP, plus 1 */
    uint8_t srtp[2][SDP_MAX_MEDIA];  /* per side, per m= line of its last SDP: SRTP_* or suite */
    uint8_t offer_side;              /* side + 1 of an SDP not answered yet, 0 when none */
    uint8_t answer_side;             /* side + 1 of the last answer, 0 before one */
    pt_map_t maps[2][CALL_MAX_MAPS];
    uint32_t callid_len; /* full length */
    uint32_t sip_messages;
    uint16_t final_status;
    uint16_t arena_used;
    uint16_t s_callid, s_from_uri, s_to_uri, s_from_tag, s_to_tag, s_ua;
    uint8_t state, queue, fp_next, n_eps, eps_next;
    uint8_t n_maps[2], maps_next[2];
    bool announced[2];  /* side sent an SDP with an RTP endpoint */
    bool nat;           /* a stream with sdp_mismatch, or NAT seen in signalling */
    bool report_waited; /* its linger was stretched once for probes' final reports */
    bool dirty;         /* changed since its last snapshot (corr_live.c) */
    char arena[CALL_ARENA];
    verdict_acc_t vacc;      /* its ended streams, for the verdict (corr_verdict.c) */
    verdict_side_t vside[2]; /* what each side's signalling said, for the verdict */
} call_t;

/* What every RTP packet touches comes first (the flow key, the call, the statistics), so that
 * corr_prefetch can ask for just that much; the rest is read at the edges of the stream. */
typedef struct stream {
    media_flow_t flow; /* (src, dst, ssrc) key and hash chain; first member */
    call_t *call;      /* NULL: no SDP announced it */
    int64_t last_ns;
    int64_t rematch_ns; /* unsignalled: when we last looked for an SDP that names it */
    uint8_t pt;
    bool have_pt;
    bool dirty;     /* a packet or report since its last snapshot (corr_live.c) */
    bool published; /* a snapshot of it was emitted: its row exists */
    rtpstat_t st;
    list_node_t qnode; /* in c->stream_q */
    struct stream *call_next;
    int64_t id;
    int64_t queued_ns, first_ns;
    /* RTCP about this stream, from its receiver; and the sender's last SR for the RTT */
    int64_t sr_ns;
    uint32_t sr_mid; /* middle 32 bits of the SR's NTP time */
    int32_t rtcp_cum_lost;
    double rtcp_fraction, rtcp_jitter_ms, rtcp_rtt_ms;
    uint32_t clock;
    int8_t dir;    /* sending side: 0 caller, 1 callee, -1 unknown */
    uint8_t mline; /* m= line (plus 1) of the endpoint that matched it to its call, 0 if none */
    bool have_sr, have_rtcp, sdp_mismatch;
    bool by_dst;          /* matched through its destination */
    bool nat_checked;     /* sdp_mismatch decided (the sender's SDP was known) */
    bool remote;          /* measured by a probe (corr_remote.c): figures in rem, not in st */
    bool rem_final;       /* remote: its last report was the probe's final one */
    uint32_t probe_id;    /* remote: the HEP agent id of the probe whose report it is */
    uint32_t rem_samples; /* remote: samples taken (at most REMOTE_MAX_SAMPLES) */
    char codec[CODEC_NAME_MAX];
    remote_fig_t rem; /* remote: the figures of the last report */
    /* packets of another payload type than pt (counted apart from the per-packet path) */
    uint32_t event_pkts, cn_other_pkts, audio_other_pkts;
    dtmf_track_t dtmf; /* its telephone events (corr_dtmf.c) */
    uint8_t dtmf_pt;   /* their payload type */
} stream_t;

struct corr {
    corr_cfg_t cfg;
    corr_sink_t sink;
    corr_stats_t stats;
    int64_t next_id;
    int64_t next_message_id; /* 0: messages get no id (the store picks one) */
    int64_t last_message_id; /* the id of the message corr_on_sip emitted last */
    int64_t now_ns;
    uint64_t seed;
    call_t **buckets;
    size_t mask;
    media_pool_t calls, streams;
    list_t q[Q_COUNT];
    list_t stream_q;
    media_idx_t *idx;
    media_flows_t flows;
    sdp_t sdp;             /* scratch for the SDP body at hand */
    char callid_buf[1024]; /* message records: Call-ID as a C string */
    char method_buf[32];
    char reasons_buf[2048]; /* call records: the verdict's reasons (JSON) */
};

/* ---- small helpers every file uses; inline, some are on the per-packet path. */

static inline int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static inline void advance(corr_t *c, int64_t ts)
{
    if (ts > c->now_ns)
        c->now_ns = ts;
}

static inline int64_t new_id(corr_t *c)
{
    return c->next_id++;
}

static inline const char *call_str(const call_t *call, uint16_t off)
{
    return call->arena + off;
}

static inline call_ref_t ref_of(const call_t *call)
{
    call_ref_t ref = {0, 0};
    if (call != NULL) {
        ref.row = call->id;
        ref.invite_ns = call->invite_ns;
    }
    return ref;
}

/* Last activity that counts against the call's timeout: media keeps early and answered calls
 * alive, but not ended ones (a broken phone streaming after BYE must not keep a call forever). */
static inline int64_t call_active_ns(const call_t *call)
{
    if (call->queue == Q_ENDED)
        return call->sip_ns;
    int64_t t = max64(call->sip_ns, call->media_ns);
    for (const stream_t *s = call->streams; s != NULL; s = s->call_next)
        t = max64(t, s->last_ns);
    return t;
}

/* The SRTP_* or suite of a call's media line mline (plus 1, as stream_t.mline): the answer's
 * (RFC 3264: it holds the one suite chosen from the offer) once there is one, else the offer's
 * first (its preferred). */
static inline uint8_t call_srtp(const call_t *call, uint8_t mline)
{
    if (call == NULL || mline == 0 || mline > SDP_MAX_MEDIA)
        return SRTP_NONE;
    if (call->answer_side != 0)
        return call->srtp[call->answer_side - 1][mline - 1];
    uint8_t a = call->srtp[0][mline - 1];
    return a != SRTP_NONE ? a : call->srtp[1][mline - 1];
}

/* ---- across files */

/* corr_call.c: emit call (its streams first) and free it; why picks the counter. */
void corr_call_finish(corr_t *c, call_t *call, fin_t why);
/* corr_call.c: call's record as it stands, from its own figures (those of the streams it
 * already handed over; corr_live.c adds its live streams'). Strings point into the call. */
void corr_call_record(const call_t *call, call_record_t *rec);
/* corr_stream.c: emit s (its last samples first), hand its figures to its call, free it. */
void corr_stream_finish(corr_t *c, stream_t *s, fin_t why);
/* corr_call.c: the live call with this Call-ID, or NULL. */
call_t *corr_call_lookup(const corr_t *c, sv_t call_id);
/* corr_remote.c: call has a remote stream still waiting for its probe's final report. */
bool corr_remote_pending(const call_t *call);
/* corr_stream.c: s's figures so far (a remote stream's from its last report). */
void corr_stream_result(const stream_t *s, rtpstat_result_t *r);
/* corr_stream.c: s's record from its figures r (corr_stream_result). Strings point into s/its call.
 */
void corr_stream_record(const stream_t *s, const rtpstat_result_t *r, stream_record_t *rec);

/* corr_live.c: a snapshot of call (active, figures so far), when c->cfg.snapshots. Emitted
 * before the call's first message record, and by corr_checkpoint. */
void corr_call_snapshot(corr_t *c, call_t *call);
/* corr_live.c: a snapshot of s (active), when c->cfg.snapshots. Emitted before s's first
 * sample, and by corr_checkpoint. */
void corr_stream_snapshot(corr_t *c, stream_t *s);
/* corr_stream.c: one interval of s (rec; its stream_row is set here) to on_sample, its row first
 * (a snapshot if it has none yet), and, for a stream measured here, to on_stream_sample. */
void corr_stream_emit_sample_record(corr_t *c, stream_t *s, sample_record_t *rec);

/* corr_dtmf.c: a telephone-event packet of s; s ends (its event in progress goes out); a SIP
 * message of call (INFO with a DTMF body makes a digit). */
void corr_dtmf_packet(corr_t *c, stream_t *s, int64_t ts_ns, const rtp_hdr_t *rtp);
void corr_dtmf_stream_end(corr_t *c, stream_t *s);
void corr_dtmf_info(corr_t *c, const call_t *call, const packet_view_t *pkt, const sip_msg_t *msg);

/* corr_verdict.c: what the verdict needs, gathered as the call goes (verdict.h). */
/* A packet of s whose payload type is not s->pt (or the first, before s->pt is known); had_pt:
 * s->pt was known before it. */
void corr_verdict_other_pt(stream_t *s, uint8_t pt, bool event, bool had_pt);
/* s ends (r its figures): folded into its call's verdict_acc_t. */
void corr_verdict_stream_end(const stream_t *s, const rtpstat_result_t *r);
/* An SDP from side (parsed in c->sdp), in a message at pkt->ts_ns. */
void corr_verdict_sdp(call_t *call, int side, const packet_view_t *pkt, const sdp_t *sdp);
/* That SDP announced the private address conn in a message from a public source. */
void corr_verdict_nat_sdp(call_t *call, int side, const packet_view_t *pkt, const net_addr_t *conn);
/* An RTCP compound of call's media. */
void corr_verdict_rtcp(corr_t *c, call_t *call, const packet_view_t *pkt,
                       const rtcp_compound_t *rtcp);
/* rec->verdict and rec->reasons (borrowing c->reasons_buf) from the call, its ended streams and
 * its live ones; the other fields of rec first. in_progress: a snapshot of a call going on. */
void corr_verdict_fill(corr_t *c, const call_t *call, call_record_t *rec, bool in_progress);

#endif
