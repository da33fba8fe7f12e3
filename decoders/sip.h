/* sip: zero-copy RFC 3261 message parser with a picohttpparser-like contract. */
#ifndef SIPSCOPE_SIP_H
#define SIPSCOPE_SIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sv.h"

#define SIP_INVALID (-1)
#define SIP_PARTIAL (-2)

/* Caps checked up front (Redis PROTO_INLINE_MAX_SIZE style): a longer line or body is invalid. */
#define SIP_MAX_HEADERS 96
#define SIP_MAX_LINE    8192
#define SIP_MAX_BODY    (1u << 20)
#define SIP_MAX_MESSAGE (SIP_MAX_BODY + 65536u)

typedef enum {
    SIP_METHOD_UNKNOWN = 0,
    SIP_METHOD_INVITE,
    SIP_METHOD_ACK,
    SIP_METHOD_BYE,
    SIP_METHOD_CANCEL,
    SIP_METHOD_REGISTER,
    SIP_METHOD_OPTIONS,
    SIP_METHOD_PRACK,
    SIP_METHOD_SUBSCRIBE,
    SIP_METHOD_NOTIFY,
    SIP_METHOD_PUBLISH,
    SIP_METHOD_INFO,
    SIP_METHOD_REFER,
    SIP_METHOD_MESSAGE,
    SIP_METHOD_UPDATE,
    SIP_METHOD_COUNT
} sip_method_t;

/* Header ids for the headers sipscope reads; compact forms map to the same id. */
typedef enum {
    SIP_HDR_OTHER = 0,
    SIP_HDR_VIA,     /* v */
    SIP_HDR_FROM,    /* f */
    SIP_HDR_TO,      /* t */
    SIP_HDR_CALL_ID, /* i */
    SIP_HDR_CSEQ,
    SIP_HDR_CONTACT,          /* m */
    SIP_HDR_CONTENT_LENGTH,   /* l */
    SIP_HDR_CONTENT_TYPE,     /* c */
    SIP_HDR_CONTENT_ENCODING, /* e */
    SIP_HDR_SUPPORTED,        /* k */
    SIP_HDR_SUBJECT,          /* s */
    SIP_HDR_EVENT,            /* o */
    SIP_HDR_ALLOW_EVENTS,     /* u */
    SIP_HDR_REFER_TO,         /* r */
    SIP_HDR_MAX_FORWARDS,
    SIP_HDR_USER_AGENT,
    SIP_HDR_SERVER,
    SIP_HDR_EXPIRES,
    SIP_HDR_AUTHORIZATION,
    SIP_HDR_PROXY_AUTHORIZATION,
    SIP_HDR_WWW_AUTHENTICATE,
    SIP_HDR_PROXY_AUTHENTICATE,
    SIP_HDR_ROUTE,
    SIP_HDR_RECORD_ROUTE,
    SIP_HDR_REASON,
    SIP_HDR_COUNT
} sip_hdr_id_t;

/* One header line. value is trimmed of surrounding LWS but may still contain folding
 * (CRLF followed by SP/HTAB); treat such runs as a single space. */
typedef struct {
    sv_t name;
    sv_t value;
    sip_hdr_id_t id;
} sip_hdr_t;

typedef enum { SIP_SCHEME_OTHER = 0, SIP_SCHEME_SIP, SIP_SCHEME_SIPS, SIP_SCHEME_TEL } sip_scheme_t;

/* A URI split into parts; every part borrows from the message. */
typedef struct {
    sv_t raw; /* the whole URI */
    sip_scheme_t scheme;
    sv_t user; /* user part (sip/sips) or the number (tel); may be empty */
    sv_t password;
    sv_t host;     /* without brackets for IPv6 references */
    uint16_t port; /* 0 when absent */
    sv_t params;   /* after the first ';' up to '?' (without the leading ';') */
    sv_t headers;  /* after '?' */
} sip_uri_t;

/* name-addr or addr-spec with header parameters (From, To, Contact, Route ...). */
typedef struct {
    sv_t display; /* without quotes; may be empty */
    sip_uri_t uri;
    sv_t params; /* header params after the URI (without the leading ';') */
    sv_t tag;    /* value of the tag param, empty if none */
} sip_nameaddr_t;

/* Defects a liberal parser tolerates but reports (bit set in sip_msg_t.defects). */
enum {
    SIP_DEFECT_BAD_VERSION = 1u << 0, /* not SIP/2.0 */
    SIP_DEFECT_NO_CALL_ID = 1u << 1,
    SIP_DEFECT_NO_FROM = 1u << 2,
    SIP_DEFECT_NO_TO = 1u << 3,
    SIP_DEFECT_NO_CSEQ = 1u << 4,
    SIP_DEFECT_NO_VIA = 1u << 5,
    SIP_DEFECT_BAD_CSEQ = 1u << 6,       /* unparsable or > 2^32-1, or method mismatch */
    SIP_DEFECT_DUP_HEADER = 1u << 7,     /* duplicated single-value header (Call-ID, CSeq...) */
    SIP_DEFECT_BAD_LENGTH = 1u << 8,     /* Content-Length larger than the datagram, or bad */
    SIP_DEFECT_BAD_START_LINE = 1u << 9, /* extra LWS, LWS in Request-URI, ... */
    SIP_DEFECT_BAD_HEADER = 1u << 10,    /* a header line without ':' or with bad syntax */
    SIP_DEFECT_BAD_URI = 1u << 11,
    SIP_DEFECT_BAD_NUMBER = 1u << 12,       /* Max-Forwards/Expires out of range */
    SIP_DEFECT_TOO_MANY_HEADERS = 1u << 13, /* more than SIP_MAX_HEADERS: the rest were skipped */
    SIP_DEFECT_NO_HEADER_END = 1u << 14,    /* datagram ended without the empty line */
};

typedef struct {
    bool is_request;
    /* request line */
    sv_t method;
    sip_method_t method_id;
    sv_t request_uri;
    /* status line */
    uint16_t status_code;
    sv_t reason;
    sv_t version;

    sip_hdr_t hdrs[SIP_MAX_HEADERS];
    size_t n_hdrs;

    /* First occurrence of the headers a monitor needs, already parsed. */
    sv_t call_id;
    sip_nameaddr_t from, to;
    uint32_t cseq;
    sv_t cseq_method;
    sip_method_t cseq_method_id;
    sv_t via;           /* the top Via value (first of the first Via header) */
    sv_t via_transport; /* "UDP", "TCP", ... */
    sv_t via_sent_by;   /* host[:port] */
    sv_t via_branch;    /* empty if none */
    sv_t contact;       /* raw value of the first Contact (its first comma-separated value) */
    sv_t user_agent;    /* User-Agent, or Server in responses */
    sv_t content_type;
    int64_t content_length; /* -1 when absent */
    int64_t expires;        /* -1 when absent */
    uint32_t max_forwards;  /* UINT32_MAX when absent */

    sv_t body;
    size_t header_len; /* bytes from buf up to and including the empty line */
    uint32_t defects;  /* SIP_DEFECT_* bits */
} sip_msg_t;

/* Parse one message from a byte stream (TCP). A message without Content-Length has no body.
 * Returns bytes consumed (> 0), SIP_PARTIAL when more bytes are needed, or SIP_INVALID when
 * the bytes are not a SIP message. out borrows from buf.
 * CRLFs before the start line are skipped and counted (RFC 3261 7.5, keep-alives), so the
 * return value is always out->header_len + out->body.len, both measured from buf. A buffer of
 * nothing but CRLFs is SIP_PARTIAL. A Content-Length above SIP_MAX_BODY, a line above
 * SIP_MAX_LINE or a header section above SIP_MAX_MESSAGE - SIP_MAX_BODY is SIP_INVALID as soon
 * as it is seen. Work is linear in the bytes examined. On SIP_PARTIAL/SIP_INVALID *out is
 * unspecified. */
int sip_parse(const char *buf, size_t len, sip_msg_t *out);

/* Parse a whole datagram (UDP): without Content-Length the body is the rest of the datagram;
 * a Content-Length larger than what is left sets SIP_DEFECT_BAD_LENGTH and takes what is there;
 * trailing bytes after the body are ignored (RFC 3261 18.3). Returns bytes consumed or
 * SIP_INVALID (never SIP_PARTIAL). A datagram without the empty line after the headers is
 * parsed with SIP_DEFECT_NO_HEADER_END and an empty body. len above SIP_MAX_MESSAGE is
 * SIP_INVALID. */
int sip_parse_datagram(const char *buf, size_t len, sip_msg_t *out);

/* Cheap content test: does buf begin like a SIP request or status line? Used to recognise SIP on
 * any port before a full parse. */
bool sip_looks_like(const uint8_t *buf, size_t len);

/* Id of a method token; method names are case-sensitive (RFC 3261 7.1). UNKNOWN otherwise. */
sip_method_t sip_method_from_sv(sv_t method);
/* "INVITE", "ACK", ...; "UNKNOWN" for SIP_METHOD_UNKNOWN or out of range. Static string. */
const char *sip_method_name(sip_method_t m);

/* Parse a URI (sip, sips, tel, or any absoluteURI). False if malformed. */
bool sip_uri_parse(sv_t text, sip_uri_t *out);
/* Parse a name-addr or addr-spec with params (From/To/Contact value). False if malformed; *out
 * then holds a best-effort split (e.g. the URI and tag of an unquoted display name with ','). */
bool sip_nameaddr_parse(sv_t text, sip_nameaddr_t *out);
/* Value of param name in a ';'-separated param list (case-insensitive name); *found tells
 * whether it was present (a param without '=' gives an empty value). found may be NULL.
 * LWS around ';' and '=' is skipped; a quoted value keeps its quotes. */
sv_t sip_param_get(sv_t params, const char *name, bool *found);
/* Next header with id after prev (NULL to start), or NULL. Borrowed. */
const sip_hdr_t *sip_header_find(const sip_msg_t *msg, sip_hdr_id_t id, const sip_hdr_t *prev);

/* One Via value (RFC 3261 20.42): sent-protocol, sent-by and via-params; parts borrow from it. */
typedef struct {
    sv_t protocol;  /* "SIP" */
    sv_t version;   /* "2.0" */
    sv_t transport; /* "UDP", "TCP", "TLS", "SCTP", "WS", ... as written */
    sv_t sent_by;   /* host[:port] as written */
    sv_t host;      /* without brackets for IPv6 references */
    uint16_t port;  /* 0 when absent */
    sv_t params;    /* after the first ';' (without it): branch, received, rport, ... */
    sv_t branch;    /* value of the branch param, empty if none */
} sip_via_t;

/* Parse one Via value (one element of a comma-separated Via header; see sip_list_next).
 * False if malformed; *out then holds whatever parts were recognised. */
bool sip_via_parse(sv_t text, sip_via_t *out);

/* Walk the comma-separated values of a header (RFC 3261 7.3.1: Via, Contact, Route ...),
 * ignoring commas inside quoted strings and <...>. Start with *rest = the header value; each
 * call puts the next value, trimmed of LWS, in *item and returns true, or returns false at the
 * end. Empty values between commas ("a,,b") are returned; an empty value or a trailing comma
 * yields nothing. Borrowed, no allocation. */
bool sip_list_next(sv_t *rest, sv_t *item);

#endif
