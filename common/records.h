/* records: the plain data the correlator produces, the store keeps and the report prints.
 * Field meanings are the contract of docs/design.md ("JSON report"). Strings are owned by the
 * producer and valid for the duration of the call that hands the record over.
 *
 * Each record is described once, by a field list below: the struct is generated from it, and
 * so are the descriptor tables of common/record_desc.h that drive the JSON writer
 * (common/record_json.h), the writer thread's copy of the strings (store/writer.c), the SQL
 * binds and row readers (store/) and the OpenAPI schemas (web/openapi.c). Adding a field is
 * one line in its list (plus a SQL migration when it is stored).
 *
 * A list entry is X(C type, member, kind, JSON key or NULL, SQL column or NULL, description).
 * The kind (REC_*, record_desc.h) says how the value is written: JSON null for "none", units,
 * rounding, text forms; flags (REC_F_*) may be or-ed into it. A SQL column "$.key" is a key of
 * the row's details JSON column. V(member, kind, JSON key, description) is a JSON-only value
 * derived from another member (no struct member of its own). The order of a list is the order
 * of the struct's members and of the JSON keys. */
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

const char *call_state_name(call_state_t s); /* "setup", "ringing", ... */
bool call_state_parse(const char *name, call_state_t *out);

/* A call's verdict (docs/verdict.md), best first. Severity (how bad, for "worst first" sorting)
 * is verdict_severity's, not this order. */
typedef enum {
    VERDICT_GOOD = 0,
    VERDICT_DEGRADED,
    VERDICT_POOR,
    VERDICT_ONE_WAY,
    VERDICT_NO_MEDIA,
    VERDICT_FAILED,
    VERDICT_COUNT
} verdict_t;

const char *verdict_name(verdict_t v); /* "good", "degraded", ... */
bool verdict_parse(const char *name, verdict_t *out);
/* 0 (good) .. 5 (one_way): one_way > no_media > poor > degraded > failed > good. */
int verdict_severity(verdict_t v);

/* Which call a packet went to: its row id (0 = none) and the time of its INVITE, which is also
 * when the call's first packet was seen (per-call pcaps are filed by it). */
typedef struct {
    int64_t row;
    int64_t invite_ns;
} call_ref_t;

/* Struct members from a field list: X entries are members, V entries are not. */
#define REC_MEMBER_(type, member, kind, json, column, doc) type member;
#define REC_NO_MEMBER_(of, kind, json, doc)

#define CALL_RECORD_FIELDS(X, V)                                                                   \
    X(int64_t, id, REC_INT | REC_F_API_TAIL, "id", "id", "Row id of the call")                     \
    X(const char *, call_id, REC_STR | REC_F_READ_EMPTY, "call_id", "call_id", "SIP Call-ID")      \
    X(const char *, from_uri, REC_STR | REC_F_READ_EMPTY | REC_F_USER_COLUMN, "from", "from_uri",  \
      "From URI of the INVITE")                                                                    \
    X(const char *, to_uri, REC_STR | REC_F_READ_EMPTY | REC_F_USER_COLUMN, "to", "to_uri",        \
      "To URI of the INVITE")                                                                      \
    X(const char *, from_tag, REC_STR | REC_F_READ_EMPTY, NULL, "from_tag", "From tag")            \
    X(const char *, to_tag, REC_STR | REC_F_READ_EMPTY, NULL, "to_tag", "To tag")                  \
    X(const char *, user_agent, REC_STR | REC_F_READ_EMPTY, NULL, "user_agent",                    \
      "The caller's User-Agent, may be empty")                                                     \
    X(net_endpoint_t, caller, REC_ENDPOINT, "caller", "caller",                                    \
      "The caller's signalling address (from the IP header)")                                      \
    X(net_endpoint_t, callee, REC_ENDPOINT, "callee", "callee",                                    \
      "The callee's signalling address (from the IP header)")                                      \
    X(call_state_t, state, REC_CALL_STATE, "state", "state",                                       \
      "State as Wireshark's VoIP calls name it")                                                   \
    X(uint16_t, final_status, REC_STATUS, "final_status", "final_status",                          \
      "Final response status of the INVITE; null before one")                                      \
    X(int64_t, invite_ns, REC_TIME, "invite_time", "invite_time", "Time of the INVITE")            \
    X(int64_t, ringing_ns, REC_TIME, "ringing_time", "ringing_time", "Time of the first 18x")      \
    X(int64_t, answer_ns, REC_TIME, "answer_time", "answer_time", "Time of the 2xx answer")        \
    X(int64_t, end_ns, REC_TIME, "end_time", "end_time",                                           \
      "Time the call ended (BYE, CANCEL, final)")                                                  \
    X(int64_t, post_dial_delay_ns, REC_SPAN_MS, "post_dial_delay_ms", "post_dial_delay_ms",        \
      "Post-dial delay: INVITE to the first 18x, or to the final answer without one")              \
    X(int64_t, duration_ns, REC_SPAN_S, "duration_s", "duration_s", "Answer to BYE")               \
    X(bool, one_way, REC_BOOL, "one_way", "one_way",                                               \
      "An answered call whose media flowed in one direction only")                                 \
    X(bool, nat, REC_BOOL, "nat", "nat",                                                           \
      "A stream's real source differs from the address its SDP announced")                         \
    X(uint32_t, sip_messages, REC_UINT, "sip_messages", "sip_messages",                            \
      "SIP messages of the call")                                                                  \
    X(double, mos, REC_MOS, "mos", "mos",                                                          \
      "The worst stream's MOS (ITU-T G.107 E-model); null without media")                          \
    X(verdict_t, verdict, REC_VERDICT, "verdict", "verdict",                                       \
      "The call in a word (docs/verdict.md): good, degraded, poor, one_way, no_media, failed")     \
    X(const char *, reasons, REC_REASONS, "reasons", "reasons",                                    \
      "Why the verdict is not good, with the evidence (docs/verdict.md); empty for good")          \
    X(bool, active, REC_BOOL | REC_F_API_TAIL, "active", "active",                                 \
      "In progress in a capture that is running (setup, ringing, in_call): the row is a "          \
      "snapshot, rewritten at least every 2 s and finished in place when the call ends")           \
    X(bool, interrupted, REC_BOOL | REC_F_API_TAIL, "interrupted", "interrupted",                  \
      "The capture stopped abruptly (crash, kill -9) while the call was in progress: its "         \
      "figures are those of its last snapshot")

typedef struct {
    CALL_RECORD_FIELDS(REC_MEMBER_, REC_NO_MEMBER_)
} call_record_t;

/* One SSRC from one source address to one destination address. */
#define STREAM_RECORD_FIELDS(X, V)                                                                 \
    X(int64_t, id, REC_INT | REC_F_API_TAIL, "id", "id", "Row id of the stream")                   \
    X(int64_t, call_row, REC_ROW | REC_F_API_TAIL, "call", "call_row",                             \
      "Row id of the call whose SDP announced the stream; null when none did")                     \
    X(const char *, call_id, REC_STR, "call_id", "call_id",                                        \
      "SIP Call-ID of that call; null when no SDP announced the stream")                           \
    X(net_endpoint_t, src, REC_ENDPOINT, "src", "src", "Source address")                           \
    X(net_endpoint_t, dst, REC_ENDPOINT, "dst", "dst", "Destination address")                      \
    X(uint32_t, ssrc, REC_SSRC, "ssrc", "ssrc", "RTP synchronisation source")                      \
    X(uint8_t, payload_type, REC_UINT, "payload_type", "payload_type", "RTP payload type")         \
    X(const char *, codec, REC_STR_EMPTY, "codec", "codec",                                        \
      "Codec name from the SDP or the static payload type (\"PCMU\", \"opus\"), may be empty")     \
    X(uint32_t, clock_rate, REC_UINT, "clock_rate", "clock_rate", "RTP clock rate in Hz")          \
    X(int64_t, first_ns, REC_TIME, "first_time", "first_time", "Arrival of the first packet")      \
    X(int64_t, last_ns, REC_TIME, "last_time", "last_time", "Arrival of the last packet")          \
    X(uint64_t, packets, REC_UINT, "packets", "packets", "Packets received")                       \
    X(int64_t, lost, REC_INT, "lost", "lost",                                                      \
      "Expected minus received (RFC 3550 A.3); negative when duplicates exceed losses")            \
    X(uint64_t, duplicates, REC_UINT, "duplicates", "duplicates", "Duplicate packets")             \
    X(uint64_t, out_of_order, REC_UINT, "out_of_order", "out_of_order", "Packets out of order")    \
    X(uint64_t, seq_errors, REC_UINT, "seq_errors", "seq_errors", "Sequence number errors")        \
    X(double, max_delta_ms, REC_MS3, "max_delta_ms", "max_delta_ms",                               \
      "Largest gap between consecutive packets' arrival times")                                    \
    X(double, mean_jitter_ms, REC_MS3, "mean_jitter_ms", "mean_jitter_ms",                         \
      "Mean RFC 3550 interarrival jitter")                                                         \
    X(double, max_jitter_ms, REC_MS3, "max_jitter_ms", "max_jitter_ms",                            \
      "Maximum RFC 3550 interarrival jitter")                                                      \
    X(double, mos, REC_MOS2, "mos", "mos", "Listening-quality MOS (ITU-T G.107 E-model)")          \
    X(bool, sdp_mismatch, REC_BOOL, "sdp_mismatch", "sdp_mismatch",                                \
      "The real source differs from what the SDP announced (NAT)")                                 \
    X(bool, srtp, REC_BOOL, "srtp", "srtp",                                                        \
      "SRTP: the SDP that announced the stream offered keys (a=crypto) or DTLS-SRTP")              \
    X(const char *, srtp_suite, REC_STR_EMPTY, "srtp_suite", "srtp_suite",                         \
      "The negotiated SRTP crypto suite (the answer's a=crypto), \"DTLS-SRTP\", or empty; "        \
      "the keys themselves are never kept")                                                        \
    X(bool, have_rtcp, REC_PRESENT, "rtcp", NULL,                                                  \
      "RTCP as the far end reports about this stream; present only when reports were seen")        \
    X(double, rtcp_fraction_lost, REC_F64 | REC_F_GROUP, "fraction_lost", "rtcp_fraction_lost",    \
      "Fraction lost (0..1) of the last report")                                                   \
    X(int64_t, rtcp_cumulative_lost, REC_INT | REC_F_GROUP, "cumulative_lost",                     \
      "rtcp_cumulative_lost", "Cumulative number of packets lost")                                 \
    X(double, rtcp_jitter_ms, REC_MS3 | REC_F_GROUP, "jitter_ms", "rtcp_jitter_ms",                \
      "Interarrival jitter as reported")                                                           \
    X(double, rtcp_rtt_ms, REC_MS3_OPT | REC_F_GROUP, "rtt_ms", "rtcp_rtt_ms",                     \
      "Round-trip time from the LSR/DLSR of the reports")                                          \
    X(bool, has_probe, REC_PRESENT, NULL, NULL, "false: measured here")                            \
    X(uint32_t, probe_id, REC_UINT | REC_F_GROUP, "probe", "probe",                                \
      "HEP capture agent id of the probe whose quality reports gave the figures (run "             \
      "--hep-in); null when measured by this sipscope")                                            \
    X(bool, active, REC_BOOL | REC_F_API_TAIL, "active", "active",                                 \
      "Still receiving in a capture that is running: the row is a snapshot, figures so far")

typedef struct {
    STREAM_RECORD_FIELDS(REC_MEMBER_, REC_NO_MEMBER_)
} stream_record_t;

/* Quality over one interval of a stream (for charts). */
#define SAMPLE_RECORD_FIELDS(X, V)                                                                 \
    X(int64_t, stream_row, REC_INT, NULL, "stream_row", "Row id of the stream")                    \
    X(int64_t, start_ns, REC_TIME | REC_F_KEY, "time", "start_time", "Start of the interval")      \
    X(uint32_t, packets, REC_UINT, "packets", "packets", "Packets received in the interval")       \
    X(int32_t, lost, REC_INT, "lost", "lost", "Packets lost in the interval")                      \
    X(double, jitter_ms, REC_F64, "jitter_ms", "jitter_ms", "Jitter at the end of the interval")   \
    X(double, max_jitter_ms, REC_F64, "max_jitter_ms", "max_jitter_ms",                            \
      "Largest jitter in the interval")                                                            \
    X(double, mos, REC_F64, "mos", "mos", "MOS of the interval")

typedef struct {
    SAMPLE_RECORD_FIELDS(REC_MEMBER_, REC_NO_MEMBER_)
} sample_record_t;

#define MESSAGE_RECORD_FIELDS(X, V)                                                                \
    X(int64_t, id, REC_ROW, NULL, "id",                                                            \
      "Row id of the message; 0: the store picks one (the API sends it beside the record)")        \
    X(int64_t, call_row, REC_ROW, NULL, "call_row",                                                \
      "Row id of the call, 0 if the message belongs to no call (REGISTER ...)")                    \
    X(const char *, call_id, REC_STR, NULL, "call_id", "SIP Call-ID")                              \
    X(int64_t, ts_ns, REC_TIME, "time", "time", "Capture time")                                    \
    X(net_endpoint_t, src, REC_ENDPOINT, "src", "src", "Source address")                           \
    X(net_endpoint_t, dst, REC_ENDPOINT, "dst", "dst", "Destination address")                      \
    X(uint8_t, transport, REC_TRANSPORT, "transport", "transport", "Transport (IP protocol)")      \
    X(const char *, via, REC_STR_EMPTY, "via", "via",                                              \
      "How it came inside the TCP stream: \"ws\" (WebSocket), \"tls\" (decrypted with a key "      \
      "log), \"wss\" (both), or empty")                                                            \
    X(bool, is_request, REC_BOOL, "request", "is_request", "A request (else a response)")          \
    X(const char *, method, REC_STR_EMPTY, "method", "method",                                     \
      "Request method, or the CSeq method of a response")                                          \
    X(uint16_t, status, REC_STATUS, "status", "status", "Response status; null for requests")      \
    X(uint32_t, cseq, REC_UINT, "cseq", "cseq", "CSeq number")                                     \
    X(bool, has_probe, REC_PRESENT, NULL, NULL, "false: captured here")                            \
    X(uint32_t, probe_id, REC_UINT | REC_F_GROUP, "probe", "probe",                                \
      "HEP capture agent id of the probe that saw the message (run --hep-in); null when "          \
      "captured by this sipscope")                                                                 \
    V(raw, REC_SUMMARY, "summary", "The start line (at most 160 bytes)")                           \
    V(raw, REC_HAS_SDP, "sdp", "Carries an SDP body")                                              \
    X(const char *, raw, REC_RAW, "raw", "raw", "The whole SIP message")                           \
    X(uint32_t, raw_len, REC_RAW_LEN, NULL, NULL, "Bytes of raw (not NUL-terminated)")

typedef struct {
    MESSAGE_RECORD_FIELDS(REC_MEMBER_, REC_NO_MEMBER_)
} message_record_t;

/* One DTMF digit of a call: an RFC 4733 telephone event (its packets grouped) or a SIP INFO
 * (application/dtmf-relay, application/dtmf). */
#define DTMF_RECORD_FIELDS(X, V)                                                                   \
    X(int64_t, call_row, REC_ROW, NULL, "call_row", "Row id of the call")                          \
    X(const char *, call_id, REC_STR, "call_id", "call_id", "SIP Call-ID of the call")             \
    X(int64_t, ts_ns, REC_TIME, "time", "time",                                                    \
      "Start: arrival of the event's first RTP packet, or of the INFO")                            \
    X(const char *, digit, REC_STR_EMPTY, "digit", "digit", "0-9, *, #, A-D or flash")             \
    X(uint32_t, duration_ms, REC_UINT, "duration_ms", "duration_ms",                               \
      "Duration: the event's largest duration field at its clock rate, or the INFO's Duration")    \
    X(int64_t, stream_row, REC_ROW, "stream", "stream_row",                                        \
      "Row id of the RTP stream that carried it; null for SIP INFO")                               \
    X(uint8_t, volume, REC_UINT, "volume", "volume",                                               \
      "Power level in -dBm0 (0..63, RFC 4733); 0 for SIP INFO")                                    \
    X(bool, ended, REC_BOOL, "ended", "ended",                                                     \
      "Its end packet was seen (false: cut short by the next event or the stream's end; true "     \
      "for SIP INFO)")                                                                             \
    X(const char *, via, REC_STR_EMPTY, "via", "via", "\"rtp\" (RFC 4733) or \"info\" (SIP INFO)")

typedef struct {
    DTMF_RECORD_FIELDS(REC_MEMBER_, REC_NO_MEMBER_)
} dtmf_record_t;

/* ---- Security monitor records (correlator/secmon.h produces them, store/security.c keeps them,
 * docs/security.md, "Registrations" and "Alerts"). Strings are borrowed as above. */

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

/* One registration binding: an address-of-record (the To URI of REGISTER) with one Contact.
 * Emitted when the binding changes, lapses or is forgotten, not per REGISTER. id is
 * registrations.id when read from the store, 0 from secmon. */
#define REGISTRATION_RECORD_FIELDS(X, V)                                                           \
    X(int64_t, id, REC_INT, "id", "id", "Row id of the binding")                                   \
    X(const char *, aor, REC_STR | REC_F_READ_EMPTY, "aor", "aor",                                 \
      "Address of record: \"sip:user@host\" (host lower-cased), \"tel:NUMBER\" for tel")           \
    X(const char *, aor_user, REC_STR | REC_F_READ_EMPTY | REC_F_SQL_EMPTY, "user", "aor_user",    \
      "The user part of aor, may be empty")                                                        \
    X(const char *, contact, REC_STR | REC_F_READ_EMPTY | REC_F_SQL_EMPTY, "contact", "contact",   \
      "Contact URI without <> or parameters; empty for none")                                      \
    X(const char *, user_agent, REC_STR | REC_F_READ_EMPTY | REC_F_SQL_EMPTY, "user_agent",        \
      "user_agent", "User-Agent of the last REGISTER, may be empty")                               \
    X(net_endpoint_t, source, REC_ENDPOINT, "source", "source",                                    \
      "Where the last REGISTER came from (IP header)")                                             \
    X(uint32_t, expires, REC_UINT, "expires", "expires",                                           \
      "Seconds granted by the last 2xx, else requested")                                           \
    X(int64_t, expires_ns, REC_TIME, "expires_time", "$.expires_time",                             \
      "When the binding lapses (or lapsed): last 2xx + expires; null when it never had a 2xx or "  \
      "was removed (expires 0)")                                                                   \
    X(uint16_t, last_status, REC_STATUS, "last_status", "last_status",                             \
      "Final status of the last REGISTER; null when none was seen")                                \
    V(last_status, REC_OUTCOME, "outcome",                                                         \
      "The last status in a word: ok (2xx), challenge (401/407), forbidden (403), none, failed")   \
    X(bool, active, REC_BOOL, "active", "active",                                                  \
      "Bound: a 2xx with expires > 0, not lapsed or removed")                                      \
    X(uint32_t, attempts, REC_UINT, "attempts", "$.attempts", "REGISTER requests")                 \
    X(uint32_t, challenges, REC_UINT, "challenges", "$.challenges",                                \
      "401/407 to a REGISTER without credentials (the normal first step of digest "                \
      "authentication)")                                                                           \
    X(uint32_t, failures, REC_UINT, "failures", "$.failures",                                      \
      "403, 404, and 401/407 to a REGISTER that carried credentials")                              \
    X(int64_t, first_ns, REC_TIME, "first_time", "first_time",                                     \
      "First REGISTER or answer of the binding")                                                   \
    X(int64_t, last_ns, REC_TIME, "last_time", "last_time",                                        \
      "Last REGISTER or answer of the binding")

typedef struct {
    REGISTRATION_RECORD_FIELDS(REC_MEMBER_, REC_NO_MEMBER_)
} registration_record_t;

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
    ALERT_DET_INVITE_FLOOD = 0,    /* -> ALERT_INVITE_FLOOD */
    ALERT_DET_REGISTER_FLOOD,      /* -> ALERT_REGISTER_FLOOD */
    ALERT_DET_AUTH_FAILURE,        /* -> ALERT_AUTH_FAILURE (one source) */
    ALERT_DET_TARGET_AUTH_FAILURE, /* -> ALERT_AUTH_FAILURE (one AOR, from several sources) */
    ALERT_DET_USER_ENUMERATION,    /* -> ALERT_USER_ENUMERATION */
    ALERT_DET_UNUSUAL_DESTINATION, /* -> ALERT_UNUSUAL_DESTINATION */
    ALERT_DET_SCANNER_USER_AGENT,  /* -> ALERT_SCANNER */
    ALERT_DET_OPTIONS_SWEEP,       /* -> ALERT_SCANNER */
    ALERT_DET_COUNT
} alert_detector_t;

static inline const char *alert_type_name(alert_type_t t)
{
    static const char *const names[ALERT_TYPE_COUNT] = {
        "invite_flood",     "register_flood",      "auth_failure",
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

/* The first messages of an alert, from the moment it was raised (times, or sip_messages ids). */
typedef int64_t alert_samples_t[ALERT_MAX_SAMPLES];

/* One alert: an episode of offending traffic from one source (or, for target_auth_failure,
 * against one AOR from several sources). Raised once, then updated with the same id until it
 * closes (open false) after the source has been quiet for a while. */
#define ALERT_RECORD_FIELDS(X, V)                                                                  \
    X(int64_t, id, REC_INT, "id", "id", "Row id of the alert, assigned by the security monitor")   \
    X(alert_type_t, type, REC_ALERT_TYPE, "type", "type",                                          \
      "The most severe detector that fired in the episode")                                        \
    X(uint32_t, indicators, REC_INDICATORS, "indicators", "$.indicators",                          \
      "Every detector that fired in the episode")                                                  \
    X(net_addr_t, source, REC_ADDR, "source", "source",                                            \
      "The offending IP; null for a per-AOR alert (target_auth_failure)")                          \
    X(const char *, target, REC_STR | REC_F_READ_EMPTY | REC_F_SQL_EMPTY, "target", "target",      \
      "AOR, dialled number, or empty (a sample when there are many)")                              \
    X(const char *, user_agent, REC_STR | REC_F_READ_EMPTY | REC_F_SQL_EMPTY, "user_agent",        \
      "$.user_agent", "The source's User-Agent, may be empty")                                     \
    X(bool, open, REC_BOOL, "open", "$.open", "The episode is still going on")                     \
    X(uint64_t, count, REC_UINT, "count", "count",                                                 \
      "Requests from the source in the episode; per-AOR alerts: failed attempts against the AOR")  \
    X(uint32_t, registers, REC_UINT, "registers", "$.registers", "REGISTER requests (of count)")   \
    X(uint32_t, invites, REC_UINT, "invites", "$.invites", "INVITE requests (of count)")           \
    X(uint32_t, options, REC_UINT, "options", "$.options", "OPTIONS requests (of count)")          \
    X(uint32_t, r2xx, REC_UINT, "r2xx", "$.r2xx", "2xx answers to the source")                     \
    X(uint32_t, r401, REC_UINT, "r401", "$.r401", "401 and 407 answers to the source")             \
    X(uint32_t, r403, REC_UINT, "r403", "$.r403", "403 answers to the source")                     \
    X(uint32_t, r404, REC_UINT, "r404", "$.r404", "404 answers to the source")                     \
    X(uint32_t, distinct_users, REC_UINT, "distinct_users", "$.distinct_users",                    \
      "Users (AORs) that answered 403/404 or rejected credentials")                                \
    X(uint32_t, distinct_targets, REC_UINT, "distinct_targets", "$.distinct_targets",              \
      "Destination IPs of the source's OPTIONS requests")                                          \
    X(uint32_t, distinct_sources, REC_UINT, "distinct_sources", "$.distinct_sources",              \
      "Per-AOR alerts: sources of the failed attempts")                                            \
    X(int64_t, first_ns, REC_TIME, "first_time", "first_time",                                     \
      "First message of the episode (requests from the source and answers to it)")                 \
    X(int64_t, last_ns, REC_TIME, "last_time", "last_time", "Last message of the episode")         \
    X(uint32_t, n_samples, REC_COUNT_OF, NULL, NULL, "Entries of sample_ns and sample_ids")        \
    X(alert_samples_t, sample_ns, REC_TIME_ARRAY, NULL, "$.sample_times",                          \
      "Times of the first messages from the moment the alert was raised")                          \
    X(alert_samples_t, sample_ids, REC_ID_ARRAY, "sample_message_ids", "sample_message_ids",       \
      "Ids of those messages (sip_messages.id) where known")

typedef struct {
    ALERT_RECORD_FIELDS(REC_MEMBER_, REC_NO_MEMBER_)
} alert_record_t;

#endif
