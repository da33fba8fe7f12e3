/* records: the plain data the correlator produces, the store keeps and the report prints.
 * Field meanings are the contract of shared/DESIGN.md ("JSON report"). Strings are owned by the
 * producer and valid for the duration of the call that hands the record over. */
#ifndef SIPSCOPE_RECORDS_H
#define SIPSCOPE_RECORDS_H

#include <stdbool.h>
#include <stdint.h>

#include "netaddr.h"

/* Times are ns since the epoch; 0 means "none" (JSON null). */
typedef enum {
    CALL_SETUP = 0,
    CALL_RINGING,
    CALL_IN_CALL,
    CALL_COMPLETED,
    CALL_REJECTED,
    CALL_CANCELLED,
    CALL_STATE_COUNT
} call_state_t;

const char *call_state_name(call_state_t s);  /* "setup", "ringing", ... */
bool call_state_parse(const char *name, call_state_t *out);

typedef struct {
    int64_t id;                 /* unique row id, assigned by the correlator */
    const char *call_id;        /* SIP Call-ID */
    const char *from_uri, *to_uri;
    const char *from_tag, *to_tag;
    const char *user_agent;     /* caller's User-Agent, may be "" */
    net_endpoint_t caller, callee;  /* signalling addresses from the IP headers */
    call_state_t state;
    uint16_t final_status;      /* 0 if none */
    int64_t invite_ns, ringing_ns, answer_ns, end_ns;
    int64_t post_dial_delay_ns; /* -1 if unknown */
    int64_t duration_ns;        /* -1 if not answered/ended */
    bool one_way, nat;
    uint32_t sip_messages;
    double mos;                 /* worst stream MOS, 0 if no media */
} call_record_t;

typedef struct {
    int64_t id;                 /* unique row id */
    int64_t call_row;           /* calls.id, 0 when no SDP announced it */
    const char *call_id;        /* NULL when no SDP announced it */
    net_endpoint_t src, dst;
    uint32_t ssrc;
    uint8_t payload_type;
    const char *codec;          /* "PCMU", "opus", or "" */
    uint32_t clock_rate;
    int64_t first_ns, last_ns;
    uint64_t packets;
    int64_t lost;               /* expected - received; may be negative */
    uint64_t duplicates, out_of_order, seq_errors;
    double max_delta_ms, mean_jitter_ms, max_jitter_ms;
    double mos;
    bool sdp_mismatch;          /* real source differs from what SDP announced (NAT) */
    /* RTCP as the far end reports about this stream (have_rtcp false if none seen) */
    bool have_rtcp;
    double rtcp_fraction_lost;  /* 0..1, last report */
    int64_t rtcp_cumulative_lost;
    double rtcp_jitter_ms;
    double rtcp_rtt_ms;         /* -1 if unknown */
} stream_record_t;

/* Quality over one interval of a stream (for charts). */
typedef struct {
    int64_t stream_row;
    int64_t start_ns;
    uint32_t packets;
    int32_t lost;
    double jitter_ms;           /* at the end of the interval */
    double max_jitter_ms;
    double mos;
} sample_record_t;

typedef struct {
    int64_t call_row;           /* calls.id, 0 if the message belongs to no call (REGISTER ...) */
    const char *call_id;
    int64_t ts_ns;
    net_endpoint_t src, dst;
    uint8_t transport;          /* 17 UDP, 6 TCP */
    bool is_request;
    const char *method;         /* request method, or the CSeq method of a response */
    uint16_t status;            /* 0 for requests */
    uint32_t cseq;
    const char *raw;            /* the whole message text */
    uint32_t raw_len;
} message_record_t;

#endif
