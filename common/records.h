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

/* Which call a packet went to: its row id (0 = none) and the time of its INVITE, which is also
 * when the call's first packet was seen (per-call pcaps are filed by it). */
typedef struct {
    int64_t row;
    int64_t invite_ns;
} call_ref_t;

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
    uint32_t probe_id;          /* HEP capture agent id of the probe that saw it (has_probe) */
    bool has_probe;             /* false: captured here */
} message_record_t;

/* ---- Security monitor records (correlator/secmon.h produces them, store/security.c keeps them,
 * shared/DESIGN.md "registrations" and "alerts"). Strings are borrowed as above. */

/* One registration binding: an address-of-record (the To URI of REGISTER) with one Contact.
 * Emitted when the binding changes, lapses or is forgotten, not per REGISTER. */
typedef struct {
    int64_t id;                 /* registrations.id when read from the store; 0 from secmon */
    const char *aor;            /* "sip:user@host" (host lower-cased; "tel:NUMBER" for tel) */
    const char *aor_user;       /* the user part of aor, may be "" */
    const char *contact;        /* Contact URI without <> or params; "" for none */
    const char *user_agent;     /* of the last REGISTER, may be "" */
    net_endpoint_t source;      /* where the last REGISTER came from (IP header) */
    uint32_t expires;           /* seconds: granted by the last 2xx, else requested */
    int64_t expires_ns;         /* when the binding lapses (or lapsed): last 2xx + expires; 0
                                 * when it never had a 2xx or was removed (expires 0) */
    uint16_t last_status;       /* final status of the last REGISTER; 0 = none seen */
    bool active;                /* bound: a 2xx with expires > 0, not lapsed or removed */
    uint32_t attempts;          /* REGISTER requests */
    uint32_t challenges;        /* 401/407 to a REGISTER without credentials (the normal first
                                 * step of digest authentication) */
    uint32_t failures;          /* 403, 404, and 401/407 to a REGISTER that carried credentials */
    int64_t first_ns, last_ns;  /* first and last REGISTER or answer of the binding */
} registration_record_t;

/* "ok" (2xx), "challenge" (401/407), "forbidden" (403), "none" (0), or "failed" (any other). */
static inline const char *registration_outcome(uint16_t last_status)
{
    if (last_status == 0)
        return "none";
    if (last_status >= 200 && last_status < 300)
        return "ok";
    if (last_status == 401 || last_status == 407)
        return "challenge";
    return last_status == 403 ? "forbidden" : "failed";
}

/* Alert types, most severe first: an alert names the most severe detector that fired in its
 * episode (its indicators name all of them). */
typedef enum {
    ALERT_INVITE_FLOOD = 0,
    ALERT_REGISTER_FLOOD,
    ALERT_AUTH_FAILURE,
    ALERT_USER_ENUMERATION,
    ALERT_UNUSUAL_DESTINATION,
    ALERT_SCANNER,
    ALERT_TYPE_COUNT
} alert_type_t;

/* Detectors; bit (1u << alert_detector_t) in alert_record_t.indicators. */
typedef enum {
    ALERT_DET_INVITE_FLOOD = 0,   /* -> ALERT_INVITE_FLOOD */
    ALERT_DET_REGISTER_FLOOD,     /* -> ALERT_REGISTER_FLOOD */
    ALERT_DET_AUTH_FAILURE,       /* -> ALERT_AUTH_FAILURE (one source) */
    ALERT_DET_TARGET_AUTH_FAILURE,/* -> ALERT_AUTH_FAILURE (one AOR, from several sources) */
    ALERT_DET_USER_ENUMERATION,   /* -> ALERT_USER_ENUMERATION */
    ALERT_DET_UNUSUAL_DESTINATION,/* -> ALERT_UNUSUAL_DESTINATION */
    ALERT_DET_SCANNER_USER_AGENT, /* -> ALERT_SCANNER */
    ALERT_DET_OPTIONS_SWEEP,      /* -> ALERT_SCANNER */
    ALERT_DET_COUNT
} alert_detector_t;

static inline const char *alert_type_name(alert_type_t t)
{
    static const char *const names[ALERT_TYPE_COUNT] = {
        "invite_flood", "register_flood",      "auth_failure",
        "user_enumeration", "unusual_destination", "scanner",
    };
    return (unsigned)t < ALERT_TYPE_COUNT ? names[t] : "scanner";
}

static inline const char *alert_detector_name(alert_detector_t d)
{
    static const char *const names[ALERT_DET_COUNT] = {
        "invite_flood",     "register_flood",      "auth_failure",       "target_auth_failure",
        "user_enumeration", "unusual_destination", "scanner_user_agent", "options_sweep",
    };
    return (unsigned)d < ALERT_DET_COUNT ? names[d] : "";
}

static inline alert_type_t alert_detector_type(alert_detector_t d)
{
    static const alert_type_t types[ALERT_DET_COUNT] = {
        ALERT_INVITE_FLOOD,     ALERT_REGISTER_FLOOD,      ALERT_AUTH_FAILURE, ALERT_AUTH_FAILURE,
        ALERT_USER_ENUMERATION, ALERT_UNUSUAL_DESTINATION, ALERT_SCANNER,      ALERT_SCANNER,
    };
    return (unsigned)d < ALERT_DET_COUNT ? types[d] : ALERT_SCANNER;
}

#define ALERT_MAX_SAMPLES 8

/* One alert: an episode of offending traffic from one source (or, for target_auth_failure,
 * against one AOR from several sources). Raised once, then updated with the same id until it
 * closes (open false) after the source has been quiet for a while. */
typedef struct {
    int64_t id;                 /* unique row id, assigned by secmon */
    alert_type_t type;          /* the most severe detector that fired (see alert_type_t) */
    uint32_t indicators;        /* 1u << alert_detector_t for every detector that fired */
    net_addr_t source;          /* the offending IP; family 0 for a per-AOR alert */
    const char *target;         /* AOR, dialled number, or "" (a sample when there are many) */
    const char *user_agent;     /* the source's User-Agent, may be "" */
    bool open;                  /* the episode is still going on */
    int64_t first_ns, last_ns;  /* first and last message of the episode (requests from the
                                 * source and answers to it) */
    uint64_t count;             /* requests from the source in the episode; per-AOR alerts:
                                 * failed attempts against the AOR */
    uint32_t registers, invites, options;   /* requests by method (part of count) */
    uint32_t r2xx, r401, r403, r404;        /* answers to the source; r401 counts 401 and 407 */
    uint32_t distinct_users;    /* users (AORs) that answered 403/404 or rejected credentials */
    uint32_t distinct_targets;  /* destination IPs of the source's OPTIONS requests */
    uint32_t distinct_sources;  /* per-AOR alerts: sources of the failed attempts */
    uint32_t n_samples;         /* the first messages from the moment the alert was raised */
    int64_t sample_ns[ALERT_MAX_SAMPLES];
    int64_t sample_ids[ALERT_MAX_SAMPLES]; /* sip_messages.id, 0 when unknown */
} alert_record_t;

#endif
