/* verdict: a call in one word (good, degraded, poor, one_way, no_media, failed) and the reasons
 * behind it, with the evidence (which stream, which figure, which message). Pure logic: the
 * correlator hands over what it knows about the call's signalling (verdict_call_t) and each of
 * its streams (verdict_stream_t, folded into a verdict_acc_t as streams end), and gets the
 * verdict and the reasons as JSON text. Thresholds and codes: docs/verdict.md. */
#ifndef SIPSCOPE_VERDICT_H
#define SIPSCOPE_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"
#include "records.h"

/* Quality thresholds (docs/verdict.md). A figure counts from streams of at least
 * VERDICT_MIN_PACKETS packets (a handful of packets says nothing about loss or jitter). */
#define VERDICT_MOS_POOR         3.1  /* MOS below: poor */
#define VERDICT_MOS_DEGRADED     3.6  /* MOS below: degraded */
#define VERDICT_LOSS_POOR        5.0  /* % lost at or above: poor */
#define VERDICT_LOSS_DEGRADED    1.0  /* % lost at or above: degraded */
#define VERDICT_JITTER_POOR      60.0 /* mean jitter ms at or above: poor */
#define VERDICT_JITTER_DEGRADED  30.0 /* mean jitter ms at or above: degraded */
#define VERDICT_RTT_POOR         800.0
#define VERDICT_RTT_DEGRADED     400.0 /* RTCP round trip ms at or above */
#define VERDICT_MIN_PACKETS      10
#define VERDICT_ONE_WAY_RATIO    20 /* as corr's ONE_WAY_RATIO: quieter side < 1/20 of the other */
#define VERDICT_NO_MEDIA_GRACE_S 5  /* a call in progress answered this recently: no media yet */

/* What one stream tells. Sides: 0 the caller, 1 the callee, -1 not known. */
typedef struct {
    int64_t id;
    int side; /* the sender's */
    net_endpoint_t src, dst;
    uint64_t packets;       /* every packet, duplicates included */
    uint64_t audio_packets; /* of those, neither comfort noise nor telephone events */
    uint64_t cn_packets;    /* comfort noise (PT 13, 19 or an SDP "CN" mapping) */
    int64_t expected, lost; /* RFC 3550 A.3 */
    double mean_jitter_ms;
    double mos;    /* 0: none */
    double rtt_ms; /* RTCP round trip; < 0 unknown */
    bool have_rtcp;
    double rtcp_fraction_lost; /* the receiver's last report, 0..1 */
    bool sdp_mismatch;         /* its source differs from what its sender's SDP announced */
    net_endpoint_t announced;  /* that announced endpoint; family 0 when not known */
    bool dst_unannounced;      /* no SDP announced its destination (matched by its source) */
    bool to_moved;             /* went to the endpoint a re-INVITE/UPDATE moved the receiver to */
    bool to_moved_from;        /* went to the endpoint the receiver had before that move */
} verdict_stream_t;

/* The worst value of one figure and its stream (stream 0: none yet). */
typedef struct {
    int64_t stream;
    double value;
} verdict_pick_t;

/* The streams of a call folded together: bounded, whatever the number of streams. Zeroed is
 * empty. */
typedef struct {
    uint64_t packets[2], audio[2], cn[2], to_moved[2]; /* by sending side */
    uint64_t unknown_side_packets;                     /* of streams whose sender is not known */
    verdict_pick_t main_stream[2];                     /* the side's stream with most packets */
    verdict_pick_t mos, loss, jitter, rtt, rtcp_loss;  /* worst (lowest MOS, else highest) */
    verdict_pick_t moved_old[2]; /* a stream to the side's old endpoint after a move */
    int64_t nat_stream;
    net_endpoint_t nat_src, nat_announced;
    int64_t unannounced_stream;
    net_endpoint_t unannounced_src, unannounced_dst;
} verdict_acc_t;

/* What the signalling of one side (its SDPs) tells. Zeroed: nothing seen. */
typedef struct {
    uint8_t dir;        /* sdp_dir_t of the first audio m= line of its last SDP */
    int64_t sdp_ns;     /* time of the message that carried that SDP (0: none) */
    net_endpoint_t rtp; /* the RTP endpoint that SDP announced */
    /* NAT seen in signalling: a private SDP address sent from a public source */
    int64_t nat_ns;
    net_addr_t nat_private, nat_public;
    /* A new RTP endpoint in an SDP after the answer (re-INVITE, UPDATE) */
    int64_t moved_ns;
    net_endpoint_t moved_from, moved_to;
    /* RTCP from this side with no reception report while the other side sent RTP */
    int64_t rtcp_empty_ns;
} verdict_side_t;

typedef struct {
    call_state_t state;
    uint16_t final_status;
    int64_t final_ns;  /* time of the final response (0: none) */
    int64_t answer_ns; /* 0: not answered */
    int64_t now_ns;    /* capture time of the record */
    bool in_progress;  /* a snapshot of a call still going on: "so far" */
    bool one_way;      /* the correlator's one_way flag */
    verdict_side_t side[2];
} verdict_call_t;

/* Fold one stream into acc. */
void verdict_acc_add(verdict_acc_t *acc, const verdict_stream_t *s);

/* The verdict, and its reasons as a JSON array's text in buf (cap bytes, always terminated and
 * always a valid array: reasons that do not fit are left out). Each reason is an object
 * {"code", "text", "stream", "message", "message_time", "figure", "value"}; "message" is null
 * here (the correlator knows no message row ids): "message_time" identifies the message within
 * the call, and readers of the store resolve it (store_message_at). */
verdict_t verdict_decide(const verdict_call_t *call, const verdict_acc_t *acc, char *buf,
                         size_t cap);

#endif
