/* sip_hdr: SIP header lines: names (long and compact forms) to ids, and the values a monitor
 * needs (Via, Contact, From, To, CSeq, Call-ID, Content-Length, ...) parsed into sip_msg_t. */
#include "sip_int.h"

#include <stddef.h>
#include <string.h>

/* ---- header names ---------------------------------------------------------------------- */

/* Header id from its name: compact forms (RFC 3261 7.3.3 and the IANA registry) by their
 * letter, long names by first letter then length, so a name costs one or two compares.
 * The name is a token, so token_eq_lc applies; literals are lowercase. */
static sip_hdr_id_t hdr_lookup(const char *p, size_t n)
{
#define IS(lit, id)                                                                                \
    if (n == sizeof(lit) - 1 && token_eq_lc(p, lit, n))                                            \
        return id;
    char c0 = lower(p[0]);
    if (n == 1) {
        switch (c0) {
            case 'i':
                return SIP_HDR_CALL_ID;
            case 'f':
                return SIP_HDR_FROM;
            case 't':
                return SIP_HDR_TO;
            case 'v':
                return SIP_HDR_VIA;
            case 'm':
                return SIP_HDR_CONTACT;
            case 'l':
                return SIP_HDR_CONTENT_LENGTH;
            case 'c':
                return SIP_HDR_CONTENT_TYPE;
            case 'k':
                return SIP_HDR_SUPPORTED;
            case 's':
                return SIP_HDR_SUBJECT;
            case 'e':
                return SIP_HDR_CONTENT_ENCODING;
            case 'o':
                return SIP_HDR_EVENT;
            case 'u':
                return SIP_HDR_ALLOW_EVENTS;
            case 'r':
                return SIP_HDR_REFER_TO;
            default:
                return SIP_HDR_OTHER;
        }
    }
    switch (c0) {
        case 'a':
            IS("authorization", SIP_HDR_AUTHORIZATION)
            IS("allow-events", SIP_HDR_ALLOW_EVENTS)
            break;
        case 'c':
            IS("cseq", SIP_HDR_CSEQ)
            IS("call-id", SIP_HDR_CALL_ID)
            IS("contact", SIP_HDR_CONTACT)
            IS("content-length", SIP_HDR_CONTENT_LENGTH)
            IS("content-type", SIP_HDR_CONTENT_TYPE)
            IS("content-encoding", SIP_HDR_CONTENT_ENCODING)
            break;
        case 'e':
            IS("event", SIP_HDR_EVENT)
            IS("expires", SIP_HDR_EXPIRES)
            break;
        case 'f':
            IS("from", SIP_HDR_FROM)
            break;
        case 'm':
            IS("max-forwards", SIP_HDR_MAX_FORWARDS)
            break;
        case 'p':
            IS("proxy-authorization", SIP_HDR_PROXY_AUTHORIZATION)
            IS("proxy-authenticate", SIP_HDR_PROXY_AUTHENTICATE)
            break;
        case 'r':
            IS("route", SIP_HDR_ROUTE)
            IS("record-route", SIP_HDR_RECORD_ROUTE)
            IS("refer-to", SIP_HDR_REFER_TO)
            IS("reason", SIP_HDR_REASON)
            break;
        case 's':
            IS("server", SIP_HDR_SERVER)
            IS("subject", SIP_HDR_SUBJECT)
            IS("supported", SIP_HDR_SUPPORTED)
            break;
        case 't':
            IS("to", SIP_HDR_TO)
            break;
        case 'u':
            IS("user-agent", SIP_HDR_USER_AGENT)
            break;
        case 'v':
            IS("via", SIP_HDR_VIA)
            break;
        case 'w':
            IS("www-authenticate", SIP_HDR_WWW_AUTHENTICATE)
            break;
        default:
            break;
    }
#undef IS
    return SIP_HDR_OTHER;
}

/* ---- header values --------------------------------------------------------------------- */

/* The values of a comma-separated header (RFC 3261 7.3.1). Most Via and Contact headers hold
 * one value: a value without any ',' costs one memchr instead of a split. v is trimmed. */
typedef struct {
    sv_t rest;
    bool single;
} vals_t;

static inline void vals_init(vals_t *it, sv_t v)
{
    it->rest = v;
    it->single = v.len > 0 && memchr(v.p, ',', v.len) == NULL;
}

static inline bool vals_next(vals_t *it, sv_t *item)
{
    if (it->single) {
        it->single = false;
        *item = it->rest;
        it->rest = SV_NULL;
        return true;
    }
    return sip_list_next(&it->rest, item);
}

/* Via: every value is checked; the first value of the first Via fills the quick fields. */
static void hdr_via(sip_pstate_t *st, sv_t v, bool first_hdr)
{
    sip_msg_t *m = st->m;
    vals_t it;
    sv_t item;
    bool any = false;
    vals_init(&it, v);
    while (vals_next(&it, &item)) {
        sip_via_t via;
        if (!sip_via_parse(item, &via))
            m->defects |= SIP_DEFECT_BAD_HEADER;
        else if (via.protocol.len != 3 || !token_eq_lc(via.protocol.p, "sip", 3) ||
                 !sv_eq(via.version, SV_LIT("2.0")))
            m->defects |= SIP_DEFECT_BAD_VERSION;
        if (first_hdr && !any) {
            m->via = item;
            m->via_transport = via.transport;
            m->via_sent_by = via.sent_by;
            m->via_branch = via.branch;
        }
        any = true;
    }
    if (!any || v.p[v.len - 1] == ',')
        m->defects |= SIP_DEFECT_BAD_HEADER;
}

/* Contact: "*" or a list of name-addr/addr-spec with contact-params (RFC 3261 20.10). */
static void hdr_contact(sip_pstate_t *st, sv_t v, bool first_hdr)
{
    sip_msg_t *m = st->m;
    vals_t it;
    sv_t item;
    bool any = false;
    vals_init(&it, v);
    while (vals_next(&it, &item)) {
        if (first_hdr && !any)
            m->contact = item;
        any = true;
        if (item.len == 1 && item.p[0] == '*')
            continue;
        sip_nameaddr_t na;
        int rc = sip_nameaddr_split(item, &na);
        if (rc & NA_SYNTAX)
            m->defects |= SIP_DEFECT_BAD_HEADER;
        if (rc & NA_URI)
            m->defects |= SIP_DEFECT_BAD_URI;
        bool found;
        sv_t exp;
        (void)sip_params_walk(na.params, "expires", 7, true, &exp, &found);
        uint32_t n;
        if (found && !digits_u32(exp, &n))
            m->defects |= SIP_DEFECT_BAD_NUMBER; /* delta-seconds > 2^32-1 (RFC 4475 3.1.2.4) */
    }
    if (!any || v.p[v.len - 1] == ',')
        m->defects |= SIP_DEFECT_BAD_HEADER;
}

static void hdr_nameaddr(sip_msg_t *m, sv_t v, sip_nameaddr_t *out)
{
    int rc = sip_nameaddr_split(v, out);
    if (rc & NA_SYNTAX)
        m->defects |= SIP_DEFECT_BAD_HEADER;
    if (rc & NA_URI)
        m->defects |= SIP_DEFECT_BAD_URI;
}

/* CSeq = 1*DIGIT LWS Method (RFC 3261 20.16); the number must fit 32 bits. */
static void hdr_cseq(sip_msg_t *m, sv_t v)
{
    const char *p = v.p, *e = v.p + v.len;
    const char *d = skip_class(p, e, C_DIGIT);
    if (d == p || !digits_u32(span(p, d), &m->cseq))
        m->defects |= SIP_DEFECT_BAD_CSEQ;
    const char *q = skip_lws(d, e);
    const char *t = skip_class(q, e, C_TOKEN);
    m->cseq_method = span(q, t);
    m->cseq_method_id = sip_method_from_sv(m->cseq_method);
    if (q == d || t == q || t != e)
        m->defects |= SIP_DEFECT_BAD_CSEQ;
}

/* Content-Length = 1*DIGIT (RFC 3261 20.14), checked against SIP_MAX_BODY before any body
 * is awaited. Returns SIP_INVALID when a stream could not be framed within the caps. */
static int hdr_content_length(sip_pstate_t *st, sv_t v, bool dup)
{
    sip_msg_t *m = st->m;
    uint64_t n = 0;
    bool digits = v.len > 0 && skip_class(v.p, v.p + v.len, C_DIGIT) == v.p + v.len;
    bool ok = digits && digits_u64(v.p, v.len, &n) && n <= INT64_MAX;
    if (dup) {
        if (!ok || !st->cl_valid || (int64_t)n != m->content_length)
            m->defects |= SIP_DEFECT_BAD_LENGTH;
        return 0;
    }
    if (!digits) {
        m->defects |= SIP_DEFECT_BAD_LENGTH; /* "Content-Length: bad": no framing info */
        return 0;
    }
    if (!ok || n > SIP_MAX_BODY) {
        if (!st->datagram)
            return SIP_INVALID;
        m->defects |= SIP_DEFECT_BAD_LENGTH; /* a datagram is bounded anyway: take the rest */
        m->content_length = ok ? (int64_t)n : INT64_MAX;
        st->cl_valid = true;
        return 0;
    }
    m->content_length = (int64_t)n;
    st->cl_valid = true;
    return 0;
}

/* Call-ID = word [ "@" word ] (RFC 3261 20.8): no LWS, no CTLs, no octets above 0x7e. */
static void hdr_call_id(sip_msg_t *m, sv_t v)
{
    m->call_id = v;
    if (v.len == 0)
        m->defects |= SIP_DEFECT_BAD_HEADER;
    for (size_t i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)v.p[i];
        if (c <= 0x20 || c >= 0x7f) {
            m->defects |= SIP_DEFECT_BAD_HEADER;
            break;
        }
    }
}

/* Headers that may appear only once (RFC 3261 7.3.1, RFC 4475 3.3.8). */
#define SINGLE_HDRS                                                                                \
    ((1u << SIP_HDR_CALL_ID) | (1u << SIP_HDR_CSEQ) | (1u << SIP_HDR_FROM) | (1u << SIP_HDR_TO) |  \
     (1u << SIP_HDR_MAX_FORWARDS) | (1u << SIP_HDR_CONTENT_LENGTH) |                               \
     (1u << SIP_HDR_CONTENT_TYPE) | (1u << SIP_HDR_EXPIRES))

/* One logical header line [line, ve), continuation lines included (RFC 3261 7.3.1):
 *   header = field-name HCOLON field-value;  HCOLON = *( SP / HTAB ) ":" SWS */
int sip_header_line(sip_pstate_t *st, const char *line, const char *ve)
{
    sip_msg_t *m = st->m;
    const char *q = skip_class(line, ve, C_TOKEN);
    const char *colon = skip_lws(q, ve);
    if (q == line || colon == ve || *colon != ':') {
        m->defects |= SIP_DEFECT_BAD_HEADER; /* e.g. "Foobar roobar" */
        return 0;
    }
    sv_t name = span(line, q);
    sv_t value = trim_lws(span(colon + 1, ve));
    sip_hdr_id_t id = hdr_lookup(line, name.len);
    if (m->n_hdrs < SIP_MAX_HEADERS) {
        sip_hdr_t *h = &m->hdrs[m->n_hdrs++];
        h->name = name;
        h->value = value;
        h->id = id;
    } else {
        /* Still read it below: a Content-Length past the cap must frame the message. */
        m->defects |= SIP_DEFECT_TOO_MANY_HEADERS;
    }
    if (id == SIP_HDR_OTHER)
        return 0;
    uint32_t bit = 1u << id;
    bool dup = (st->seen & bit) != 0;
    st->seen |= bit;
    if (dup && (bit & SINGLE_HDRS))
        m->defects |= SIP_DEFECT_DUP_HEADER;
    switch (id) {
        case SIP_HDR_VIA:
            hdr_via(st, value, !dup);
            break;
        case SIP_HDR_CONTACT:
            hdr_contact(st, value, !dup);
            break;
        case SIP_HDR_CONTENT_LENGTH:
            return hdr_content_length(st, value, dup);
        default:
            break;
    }
    if (dup)
        return 0;
    switch (id) {
        case SIP_HDR_CALL_ID:
            hdr_call_id(m, value);
            break;
        case SIP_HDR_FROM:
            hdr_nameaddr(m, value, &m->from);
            break;
        case SIP_HDR_TO:
            hdr_nameaddr(m, value, &m->to);
            break;
        case SIP_HDR_CSEQ:
            hdr_cseq(m, value);
            break;
        case SIP_HDR_MAX_FORWARDS: {
            /* 0-255 (RFC 3261 20.22); out of range reads as absent (RFC 4475 3.1.2.4) */
            uint32_t n;
            if (digits_u32(value, &n) && n <= 255)
                m->max_forwards = n;
            else
                m->defects |= SIP_DEFECT_BAD_NUMBER;
            break;
        }
        case SIP_HDR_EXPIRES: {
            uint32_t n; /* delta-seconds up to 2^32-1 (RFC 3261 20.19) */
            if (digits_u32(value, &n))
                m->expires = n;
            else
                m->defects |= SIP_DEFECT_BAD_NUMBER;
            break;
        }
        case SIP_HDR_CONTENT_TYPE:
            m->content_type = value;
            break;
        case SIP_HDR_USER_AGENT:
            m->user_agent = value;
            break;
        case SIP_HDR_SERVER:
            st->server = value;
            break;
        default:
            break;
    }
    return 0;
}
