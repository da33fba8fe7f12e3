/* sip: zero-copy RFC 3261 message parser: start line, headers (compact forms, folding), body.
 * Header values are read in sip_hdr.c, URIs, name-addr and Via in sip_uri.c. */
#include "sip.h"

#include <stddef.h>
#include <string.h>

#include "sip_int.h"

/* ---- character classes ----------------------------------------------------------------- */

/* The classes are described in sip_int.h; these short names keep the table at one line per
 * eight or sixteen octets. */
#define T  (C_TOKEN | C_GENV)
#define W  C_WORD
#define L  C_LWS
#define U  (C_URI | C_UPLAIN)
#define UX C_URI /* a URI char that needs a closer look (with US) */
#define S  C_WSP
#define AL (T | C_WORD | C_HOST | U)         /* letters without hex value */
#define HX (T | C_WORD | C_HOST | U | C_HEX) /* a-f, A-F */
#define DG (T | C_WORD | C_DIGIT | C_HOST | U | C_HEX)
#define LI C_LIST
#define PS C_PSEP
#define US C_USPEC
#define GV C_GENV

/* 256 entries so any octet indexes it; everything above 0x7e is in no class (RFC 3261 §25.1
 * allows UTF-8 only in quoted strings, comments, reason phrases and header values). */
const uint16_t sip_cclass[256] = {
    0,           0,
    0,           0,
    0,           0,
    0,           0,
    0,           L | S,
    L,           0,
    0,           L,
    0,           0, /* 00 ................ */
    0,           0,
    0,           0,
    0,           0,
    0,           0,
    0,           0,
    0,           0,
    0,           0,
    0,           0, /* 10 ................ */
    L | S,       T | W | U,
    W | LI | PS, 0,
    U,           T | W | UX | US,
    U,           T | W | U, /* 20  !"#$%&'         */
    W | U,       W | U,
    T | W | U,   T | W | U,
    U | LI,      AL,
    AL,          W | U, /* 28 ()*+,-./         */
    DG,          DG,
    DG,          DG,
    DG,          DG,
    DG,          DG, /* 30 01234567         */
    DG,          DG,
    W | U | GV,  UX | PS | US,
    W | LI,      U,
    W,           W | UX | US, /* 38 89:;<=>?         */
    UX | US,     HX,
    HX,          HX,
    HX,          HX,
    HX,          AL,
    AL,          AL,
    AL,          AL,
    AL,          AL,
    AL,          AL, /* 40 @ABCDEFGHIJKLMNO */
    AL,          AL,
    AL,          AL,
    AL,          AL,
    AL,          AL,
    AL,          AL,
    AL,          W | U | GV,
    W,           W | U | GV,
    0,           AL, /* 50 PQRSTUVWXYZ[\]^_ */
    T | W,       HX,
    HX,          HX,
    HX,          HX,
    HX,          AL,
    AL,          AL,
    AL,          AL,
    AL,          AL,
    AL,          AL, /* 60 `abcdefghijklmno */
    AL,          AL,
    AL,          AL,
    AL,          AL,
    AL,          AL,
    AL,          AL,
    AL,          W,
    0,           W,
    T | W | U,   0, /* 70 pqrstuvwxyz{|}~. */
    0,           0,
    0,           0,
    0,           0,
    0,           0,
    0,           0,
    0,           0,
    0,           0,
    0,           0, /* 80 */
    0,           0,
    0,           0,
    0,           0,
    0,           0,
    0,           0,
    0,           0,
    0,           0,
    0,           0, /* 90 */
    0,           0,
    0,           0,
    0,           0,
    0,           0,
    0,           0,
    0,           0,
    0,           0,
    0,           0, /* a0 */
    0,           0,
    0,           0,
    0,           0,
    0,           0,
    0,           0,
    0,           0,
    0,           0,
    0,           0, /* b0 */
    0,           0,
    0,           0,
    0,           0,
    0,           0,
    0,           0,
    0,           0,
    0,           0,
    0,           0, /* c0 */
    0,           0,
    0,           0,
    0,           0,
    0,           0,
    0,           0,
    0,           0,
    0,           0,
    0,           0, /* d0 */
    0,           0,
    0,           0,
    0,           0,
    0,           0,
    0,           0,
    0,           0,
    0,           0,
    0,           0, /* e0 */
    0,           0,
    0,           0,
    0,           0,
    0,           0,
    0,           0,
    0,           0,
    0,           0,
    0,           0, /* f0 */
};

#undef T
#undef W
#undef L
#undef U
#undef UX
#undef S
#undef AL
#undef HX
#undef DG
#undef LI
#undef PS
#undef US
#undef GV

/* The header section may use what SIP_MAX_MESSAGE leaves beside the largest body. */
#define SIP_MAX_HEADER_BYTES ((size_t)(SIP_MAX_MESSAGE - SIP_MAX_BODY))

/* ---- methods --------------------------------------------------------------------------- */

static const char *const method_names[SIP_METHOD_COUNT] = {
    [SIP_METHOD_UNKNOWN] = "UNKNOWN",
    [SIP_METHOD_INVITE] = "INVITE",
    [SIP_METHOD_ACK] = "ACK",
    [SIP_METHOD_BYE] = "BYE",
    [SIP_METHOD_CANCEL] = "CANCEL",
    [SIP_METHOD_REGISTER] = "REGISTER",
    [SIP_METHOD_OPTIONS] = "OPTIONS",
    [SIP_METHOD_PRACK] = "PRACK",
    [SIP_METHOD_SUBSCRIBE] = "SUBSCRIBE",
    [SIP_METHOD_NOTIFY] = "NOTIFY",
    [SIP_METHOD_PUBLISH] = "PUBLISH",
    [SIP_METHOD_INFO] = "INFO",
    [SIP_METHOD_REFER] = "REFER",
    [SIP_METHOD_MESSAGE] = "MESSAGE",
    [SIP_METHOD_UPDATE] = "UPDATE",
};

const char *sip_method_name(sip_method_t m)
{
    if ((unsigned)m >= SIP_METHOD_COUNT)
        return method_names[SIP_METHOD_UNKNOWN];
    return method_names[m];
}

sip_method_t sip_method_from_sv(sv_t s)
{
    /* Method names are case-sensitive (RFC 3261 7.1): an exact match by length, then bytes. */
#define M(lit, id)                                                                                 \
    if (memcmp(s.p, lit, sizeof(lit) - 1) == 0)                                                    \
        return id;
    if (s.p == NULL)
        return SIP_METHOD_UNKNOWN;
    switch (s.len) {
        case 3:
            M("ACK", SIP_METHOD_ACK)
            M("BYE", SIP_METHOD_BYE)
            break;
        case 4:
            M("INFO", SIP_METHOD_INFO)
            break;
        case 5:
            M("PRACK", SIP_METHOD_PRACK)
            M("REFER", SIP_METHOD_REFER)
            break;
        case 6:
            M("INVITE", SIP_METHOD_INVITE)
            M("CANCEL", SIP_METHOD_CANCEL)
            M("NOTIFY", SIP_METHOD_NOTIFY)
            M("UPDATE", SIP_METHOD_UPDATE)
            break;
        case 7:
            M("OPTIONS", SIP_METHOD_OPTIONS)
            M("PUBLISH", SIP_METHOD_PUBLISH)
            M("MESSAGE", SIP_METHOD_MESSAGE)
            break;
        case 8:
            M("REGISTER", SIP_METHOD_REGISTER)
            break;
        case 9:
            M("SUBSCRIBE", SIP_METHOD_SUBSCRIBE)
            break;
        default:
            break;
    }
#undef M
    return SIP_METHOD_UNKNOWN;
}

/* ---- message --------------------------------------------------------------------------- */

const sip_hdr_t *sip_header_find(const sip_msg_t *msg, sip_hdr_id_t id, const sip_hdr_t *prev)
{
    size_t n = msg->n_hdrs < SIP_MAX_HEADERS ? msg->n_hdrs : SIP_MAX_HEADERS;
    size_t i = 0;
    if (prev != NULL) {
        if (prev < msg->hdrs || prev >= msg->hdrs + n)
            return NULL;
        i = (size_t)(prev - msg->hdrs) + 1;
    }
    for (; i < n; i++) {
        if (msg->hdrs[i].id == id)
            return &msg->hdrs[i];
    }
    return NULL;
}

/* The start line, parsed apart from the message so sip_looks_like can share it. */
typedef struct {
    bool is_request;
    sv_t method, request_uri, version, reason;
    uint16_t status_code;
    uint32_t defects;
} start_line_t;

/* SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT (§25.1, case-insensitive as all ABNF literals).
 * Anything else is not SIP; a version other than 2.0 is SIP with a defect (RFC 4475 3.1.2.16). */
static bool version_ok(sv_t v, uint32_t *defects)
{
    if (v.len < 5 || !ci_eq(v.p, "SIP/", 4) || !is_c(v.p[4], C_DIGIT))
        return false;
    if (v.len != 7 || memcmp(v.p + 4, "2.0", 3) != 0)
        *defects |= SIP_DEFECT_BAD_VERSION;
    return true;
}

/* Status-Line = SIP-Version SP Status-Code SP Reason-Phrase (RFC 3261 7.2). */
static bool parse_status_line(start_line_t *sl, const char *p, const char *e)
{
    const char *v = p;
    while (v < e && !is_c(*v, C_WSP))
        v++;
    sl->version = span(p, v);
    if (!version_ok(sl->version, &sl->defects))
        return false;
    const char *c = skip_class(v, e, C_WSP);
    if (c - v != 1 || *v != ' ')
        sl->defects |= SIP_DEFECT_BAD_START_LINE;
    if (e - c < 3 || !is_c(c[0], C_DIGIT) || !is_c(c[1], C_DIGIT) || !is_c(c[2], C_DIGIT))
        return false;
    if (e - c > 3 && !is_c(c[3], C_WSP))
        return false;
    sl->status_code = (uint16_t)((c[0] - '0') * 100 + (c[1] - '0') * 10 + (c[2] - '0'));
    if (sl->status_code < 100 || sl->status_code > 699)
        sl->defects |= SIP_DEFECT_BAD_START_LINE;
    c += 3;
    if (c == e) {
        sl->defects |= SIP_DEFECT_BAD_START_LINE; /* SP before the Reason-Phrase is required */
        sl->reason = sv_make(e, 0);
    } else {
        if (*c != ' ')
            sl->defects |= SIP_DEFECT_BAD_START_LINE;
        sl->reason = span(c + 1, e);
    }
    sl->is_request = false;
    return true;
}

/* Request-Line = Method SP Request-URI SP SIP-Version (RFC 3261 7.1). The version is taken
 * from the end of the line so LWS inside the Request-URI (RFC 4475 3.1.2.8) or extra SP
 * between elements (3.1.2.9, 3.1.2.10) still give the liberal reading, with a defect. */
static bool parse_request_line(start_line_t *sl, const char *p, const char *e)
{
    const char *m = skip_class(p, e, C_TOKEN);
    if (m == p || m == e || !is_c(*m, C_WSP))
        return false;
    sl->method = span(p, m);
    const char *t = e;
    while (t > m && is_c(t[-1], C_WSP))
        t--;
    if (t != e)
        sl->defects |= SIP_DEFECT_BAD_START_LINE;
    const char *v = t;
    while (v > m && !is_c(v[-1], C_WSP))
        v--;
    sl->version = span(v, t);
    if (v == m || !version_ok(sl->version, &sl->defects))
        return false;
    const char *u0 = skip_class(m, v, C_WSP);
    const char *u1 = v;
    while (u1 > u0 && is_c(u1[-1], C_WSP))
        u1--;
    if (u0 == u1)
        return false;
    if (u0 - m != 1 || *m != ' ' || v - u1 != 1 || *u1 != ' ')
        sl->defects |= SIP_DEFECT_BAD_START_LINE;
    sl->request_uri = span(u0, u1);
    for (const char *q = u0; q < u1; q++) {
        if (is_c(*q, C_WSP)) {
            sl->defects |= SIP_DEFECT_BAD_START_LINE;
            break;
        }
    }
    sl->is_request = true;
    return true;
}

static bool parse_start_line(start_line_t *sl, const char *p, const char *e)
{
    memset(sl, 0, sizeof(*sl));
    if (e - p >= 4 && ci_eq(p, "SIP/", 4))
        return parse_status_line(sl, p, e);
    return parse_request_line(sl, p, e);
}

/* Could [p, e) still grow into a start line? Lets a stream reject junk before a whole line
 * has arrived instead of waiting for SIP_MAX_LINE bytes. */
static bool start_prefix_ok(const char *p, const char *e)
{
    size_t n = (size_t)(e - p) < 4 ? (size_t)(e - p) : 4;
    if (ci_eq(p, "SIP/", n))
        return true;
    const char *t = skip_class(p, e, C_TOKEN);
    return t > p && (t == e || is_c(*t, C_WSP));
}

enum { LINE_OK, LINE_OPEN, LINE_LONG };

/* Find the LF that ends the physical line at p (RFC 3261 7: CRLF; a bare LF is accepted).
 * The memchr never looks further than SIP_MAX_LINE (+CRLF): an endless line costs at most
 * that, and is refused up front. On LINE_OK, *ce is the end of the content (before CR LF)
 * and *next the byte after the LF. */
static int find_line(const char *p, const char *e, const char **ce, const char **next)
{
    size_t rem = (size_t)(e - p);
    size_t n = rem < SIP_MAX_LINE + 2 ? rem : SIP_MAX_LINE + 2;
    const char *lf = n ? memchr(p, '\n', n) : NULL;
    if (lf == NULL)
        return rem >= SIP_MAX_LINE + 2 ? LINE_LONG : LINE_OPEN;
    const char *c = (lf > p && lf[-1] == '\r') ? lf - 1 : lf;
    if ((size_t)(c - p) > SIP_MAX_LINE)
        return LINE_LONG;
    *ce = c;
    *next = lf + 1;
    return LINE_OK;
}

/* Strip a trailing CR from a line cut by the end of a datagram. */
static const char *open_line_end(const char *p, const char *e)
{
    return (e > p && e[-1] == '\r') ? e - 1 : e;
}

/* find_line for a header line: a line cut by the end of a datagram ends there, one cut by the
 * end of a stream's bytes so far waits for more. Returns LINE_OK or LINE_OPEN with *ce and
 * *next set, or the verdict SIP_INVALID / SIP_PARTIAL (both negative). */
static int next_line(const char *p, const char *e, bool datagram, const char **ce,
                     const char **next)
{
    int r = find_line(p, e, ce, next);
    if (r == LINE_LONG)
        return SIP_INVALID;
    if (r == LINE_OPEN) {
        if (!datagram)
            return SIP_PARTIAL;
        *ce = open_line_end(p, e);
        *next = e;
    }
    return r;
}

static void msg_reset(sip_msg_t *m)
{
    /* Everything but hdrs[]: a few hundred bytes instead of four kilobytes per message. */
    memset(m, 0, offsetof(sip_msg_t, hdrs));
    memset(&m->n_hdrs, 0, sizeof(*m) - offsetof(sip_msg_t, n_hdrs));
    m->content_length = -1;
    m->expires = -1;
    m->max_forwards = UINT32_MAX;
}

/* A start line ended by a bare CR, the next line right after it ("SIP/2.0\rVia: ..."), as
 * some stacks send: the line ends at the CR, as tshark reads it (its find_line_end takes CR,
 * LF and CRLF alike), rather than the message being no SIP at all. Only the start line is cut
 * so: header lines keep the one memchr per line. [p, *ce) is the line found so far, e the end
 * of the bytes; a CR that is the last byte may still get its LF. True when cut. */
static bool cut_at_bare_cr(const char *p, const char *e, const char **ce, const char **nx)
{
    const char *cr = *ce > p ? memchr(p, '\r', (size_t)(*ce - p)) : NULL;
    if (cr == NULL || cr + 1 >= e || cr[1] == '\n')
        return false;
    *ce = cr;
    *nx = cr + 1;
    return true;
}

/* The start line at *pp into st->m; on success *pp is the first header line. Returns 0 or a
 * verdict. A stream may stop in the middle of the line: SIP_PARTIAL while it can still become
 * one, so junk is refused before SIP_MAX_LINE bytes have arrived. */
static int read_start_line(sip_pstate_t *st, const char **pp, const char *e)
{
    sip_msg_t *m = st->m;
    const char *p = *pp, *ce = NULL, *nx = NULL;
    int r = find_line(p, e, &ce, &nx);
    if (r == LINE_LONG)
        return SIP_INVALID;
    if (r == LINE_OPEN) {
        ce = open_line_end(p, e);
        nx = e;
        if (!st->datagram && !cut_at_bare_cr(p, e, &ce, &nx))
            return start_prefix_ok(p, e) ? SIP_PARTIAL : SIP_INVALID;
    }
    /* A bare CR is looked for only when the line as found is no start line, or a status line
     * whose reason phrase runs on over one (a reason takes any text): the usual message pays
     * nothing for it. */
    start_line_t sl;
    bool ok = parse_start_line(&sl, p, ce);
    if ((!ok || (!sl.is_request && sv_index(sl.reason, '\r') != SIZE_MAX)) &&
        !(cut_at_bare_cr(p, e, &ce, &nx) && parse_start_line(&sl, p, ce)))
        return SIP_INVALID;
    m->is_request = sl.is_request;
    m->method = sl.method;
    m->method_id = sip_method_from_sv(sl.method);
    m->request_uri = sl.request_uri;
    m->status_code = sl.status_code;
    m->reason = sl.reason;
    m->version = sl.version;
    m->defects = sl.defects;
    if (m->is_request) {
        /* Headers are not allowed in a Request-URI (RFC 3261 19.1.5; RFC 4475 3.1.2.11). */
        sip_uri_t ru;
        if (!sip_uri_parse(m->request_uri, &ru) ||
            ((ru.scheme == SIP_SCHEME_SIP || ru.scheme == SIP_SCHEME_SIPS) && ru.headers.len > 0))
            m->defects |= SIP_DEFECT_BAD_URI;
    }
    *pp = nx;
    return 0;
}

/* Continuation lines start with SP or HTAB (RFC 3261 7.3.1): extend the logical line whose
 * content ends at *ve and whose next line is at *nx over them. Whether the next line continues
 * this one is only known once its first byte is here. Returns 0 or a verdict. */
static int fold_continuations(const sip_pstate_t *st, const char *e, const char **ve,
                              const char **nx)
{
    const char *n = *nx;
    while (n < e && (*n == ' ' || *n == '\t')) {
        if ((size_t)(n - st->msg) > SIP_MAX_HEADER_BYTES)
            return SIP_INVALID;
        const char *ce = NULL, *n2 = NULL;
        int r = next_line(n, e, st->datagram, &ce, &n2);
        if (r < 0)
            return r;
        *ve = ce;
        n = n2;
    }
    *nx = n;
    return 0;
}

/* The header lines from *pp up to and including the empty line; on success *pp is the first
 * byte of the body and *terminated says whether the empty line was there (a datagram may end
 * without it: SIP_DEFECT_NO_HEADER_END). Returns 0 or a verdict. */
static int read_headers(sip_pstate_t *st, const char **pp, const char *e, bool *terminated)
{
    const char *p = *pp;
    *terminated = false;
    while (p < e) {
        if ((size_t)(p - st->msg) > SIP_MAX_HEADER_BYTES)
            return SIP_INVALID;
        const char *ce = NULL, *nx = NULL;
        int r = next_line(p, e, st->datagram, &ce, &nx);
        if (r < 0)
            return r;
        if (ce == p) {
            *terminated = r == LINE_OK;
            p = nx;
            break;
        }
        r = fold_continuations(st, e, &ce, &nx);
        if (r < 0)
            return r;
        if (nx == e && !st->datagram)
            return SIP_PARTIAL;
        if (sip_header_line(st, p, ce) != 0)
            return SIP_INVALID;
        p = nx;
    }
    if ((size_t)(p - st->msg) > SIP_MAX_HEADER_BYTES)
        return SIP_INVALID;
    if (!*terminated) {
        if (!st->datagram)
            return SIP_PARTIAL;
        st->m->defects |= SIP_DEFECT_NO_HEADER_END;
    }
    *pp = p;
    return 0;
}

/* Body (RFC 3261 18.3, 20.14): on a stream Content-Length frames the message (absent means no
 * body); in a datagram it is checked against what is there. p is the first byte after the
 * headers. Returns 0 with *blen set, or SIP_PARTIAL. */
static int frame_body(const sip_pstate_t *st, const char *p, const char *e, bool terminated,
                      size_t *blen)
{
    sip_msg_t *m = st->m;
    size_t rest = (size_t)(e - p);
    *blen = 0;
    if (!terminated)
        return 0;
    if (st->cl_valid) {
        uint64_t cl = (uint64_t)m->content_length;
        if (cl > rest) {
            if (!st->datagram)
                return SIP_PARTIAL;
            m->defects |= SIP_DEFECT_BAD_LENGTH;
            *blen = rest;
        } else {
            *blen = (size_t)cl;
        }
    } else if (st->datagram) {
        *blen = rest;
    }
    return 0;
}

/* What the message as a whole must have, once every header is read. */
static void check_message(const sip_pstate_t *st)
{
    sip_msg_t *m = st->m;
    /* Mandatory headers (RFC 3261 8.1.1; RFC 4475 3.3.1). */
    if (!(st->seen & (1u << SIP_HDR_CALL_ID)))
        m->defects |= SIP_DEFECT_NO_CALL_ID;
    if (!(st->seen & (1u << SIP_HDR_FROM)))
        m->defects |= SIP_DEFECT_NO_FROM;
    if (!(st->seen & (1u << SIP_HDR_TO)))
        m->defects |= SIP_DEFECT_NO_TO;
    if (!(st->seen & (1u << SIP_HDR_CSEQ)))
        m->defects |= SIP_DEFECT_NO_CSEQ;
    if (!(st->seen & (1u << SIP_HDR_VIA)))
        m->defects |= SIP_DEFECT_NO_VIA;
    /* The CSeq method of a request is its own method (RFC 3261 8.1.1.5; RFC 4475 3.1.2.18). */
    if (m->is_request && (st->seen & (1u << SIP_HDR_CSEQ)) && !sv_eq(m->cseq_method, m->method))
        m->defects |= SIP_DEFECT_BAD_CSEQ;
    if (m->user_agent.p == NULL)
        m->user_agent = st->server;
}

static int parse_message(const char *buf, size_t len, sip_msg_t *m, bool datagram)
{
    msg_reset(m);
    if (buf == NULL)
        return datagram ? SIP_INVALID : SIP_PARTIAL;
    const char *e = buf + len, *p = buf;
    /* CRLFs before the start line are ignored (RFC 3261 7.5; RFC 5626 keep-alives). */
    while (p < e && (*p == '\r' || *p == '\n')) {
        if ((size_t)(++p - buf) > SIP_MAX_LINE)
            return SIP_INVALID;
    }
    if (p == e)
        return datagram ? SIP_INVALID : SIP_PARTIAL;

    sip_pstate_t st = {.m = m, .msg = p, .datagram = datagram};
    bool terminated = false;
    int rc = read_start_line(&st, &p, e);
    if (rc == 0)
        rc = read_headers(&st, &p, e, &terminated);
    if (rc != 0)
        return rc;
    m->header_len = (size_t)(p - buf);
    size_t blen;
    if ((rc = frame_body(&st, p, e, terminated, &blen)) != 0)
        return rc;
    m->body = sv_make(p, blen);
    check_message(&st);
    return (int)(m->header_len + blen);
}

int sip_parse(const char *buf, size_t len, sip_msg_t *out)
{
    return parse_message(buf, len, out, false);
}

int sip_parse_datagram(const char *buf, size_t len, sip_msg_t *out)
{
    if (len > SIP_MAX_MESSAGE) {
        msg_reset(out);
        return SIP_INVALID;
    }
    return parse_message(buf, len, out, true);
}

bool sip_looks_like(const uint8_t *buf, size_t len)
{
    if (buf == NULL)
        return false;
    const char *p = (const char *)buf, *e = p + len;
    while (p < e && (*p == '\r' || *p == '\n') && (size_t)(p - (const char *)buf) < SIP_MAX_LINE)
        p++;
    if (p == e)
        return false;
    /* Both start lines open with a token (a method, or "SIP/2.0"): one table look-up turns away
     * RTP, RTCP and most binary payloads before any scan for the line end. */
    if (!is_c(*p, C_TOKEN))
        return false;
    /* Only the start line decides: the same rules as the parser, so anything accepted here
     * will not be refused as SIP_INVALID for its start line. A line cut by the end of the
     * buffer is judged on what there is. */
    const char *ce = NULL, *nx = NULL;
    int r = find_line(p, e, &ce, &nx);
    if (r == LINE_LONG)
        return false;
    if (r == LINE_OPEN)
        ce = open_line_end(p, e);
    start_line_t sl;
    return parse_start_line(&sl, p, ce) ||
           (cut_at_bare_cr(p, e, &ce, &nx) && parse_start_line(&sl, p, ce));
}
