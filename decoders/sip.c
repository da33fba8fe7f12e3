/* sip: zero-copy RFC 3261 message parser: start line, headers (compact forms, folding), body. */
#include "sip.h"

#include <stddef.h>
#include <string.h>

/* Character classes of RFC 3261 §25.1, one bit each.
 *   C_TOKEN  token    = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
 *   C_WORD   word     = token chars plus ( ) < > : \ DQUOTE / [ ] ? { }   (Call-ID)
 *   C_DIGIT  DIGIT
 *   C_HOST   hostname = alphanum / "-" / "." (plus "_", seen in the wild)
 *   C_LWS    SP / HTAB / CR / LF (LWS with its folding CRLF, §25.1)
 *   C_URI    unreserved / reserved / "%" / "[" / "]" (SIP-URI and absoluteURI chars, §25.1)
 *   C_HEX    HEXDIG
 *   C_WSP    SP / HTAB
 * and four for the scanners, so their inner loops are one lookup per byte:
 *   C_LIST   "," DQUOTE "<"  (where a comma-separated header value needs a closer look, §7.3.1)
 *   C_PSEP   ";" DQUOTE      (where a parameter list needs a closer look)
 *   C_USPEC  "%" "@" ";" "?" (where a URI needs a closer look, §19.1.1)
 *   C_GENV   token / ":" / "[" / "]"  (gen-value = token / host, IPv6 references included)
 *   C_UPLAIN C_URI but not C_USPEC */
enum {
    C_TOKEN = 1u << 0,
    C_WORD  = 1u << 1,
    C_DIGIT = 1u << 2,
    C_HOST  = 1u << 3,
    C_LWS   = 1u << 4,
    C_URI   = 1u << 5,
    C_HEX   = 1u << 6,
    C_WSP   = 1u << 7,
    C_LIST  = 1u << 8,
    C_PSEP  = 1u << 9,
    C_USPEC = 1u << 10,
    C_GENV  = 1u << 11,
    C_UPLAIN = 1u << 12,
};

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
static const uint16_t cclass[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, L|S, L, 0, 0, L, 0, 0,               /* 00 ................ */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,                 /* 10 ................ */
    L|S, T|W|U, W|LI|PS, 0, U, T|W|UX|US, U, T|W|U,                 /* 20  !"#$%&'         */
    W|U, W|U, T|W|U, T|W|U, U|LI, AL, AL, W|U,                      /* 28 ()*+,-./         */
    DG, DG, DG, DG, DG, DG, DG, DG,                                 /* 30 01234567         */
    DG, DG, W|U|GV, UX|PS|US, W|LI, U, W, W|UX|US,                  /* 38 89:;<=>?         */
    UX|US, HX, HX, HX, HX, HX, HX, AL, AL, AL, AL, AL, AL, AL, AL, AL,  /* 40 @ABCDEFGHIJKLMNO */
    AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, W|U|GV, W, W|U|GV, 0, AL, /* 50 PQRSTUVWXYZ[\]^_ */
    T|W, HX, HX, HX, HX, HX, HX, AL, AL, AL, AL, AL, AL, AL, AL, AL, /* 60 `abcdefghijklmno */
    AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, AL, W, 0, W, T|W|U, 0,  /* 70 pqrstuvwxyz{|}~. */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,                 /* 80 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,                 /* 90 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,                 /* a0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,                 /* b0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,                 /* c0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,                 /* d0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,                 /* e0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,                 /* f0 */
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

static inline bool is_c(char c, unsigned cls)
{
    return (cclass[(unsigned char)c] & cls) != 0;
}

static inline char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

static inline sv_t span(const char *a, const char *b)
{
    return sv_make(a, (size_t)(b - a));
}

static inline const char *skip_class(const char *p, const char *e, unsigned cls)
{
    while (p < e && is_c(*p, cls))
        p++;
    return p;
}

static inline const char *skip_lws(const char *p, const char *e)
{
    return skip_class(p, e, C_LWS);
}

/* LWS (SP, HTAB and the CR LF of folding) stripped at both ends; sv_trim, but inlined. */
static inline sv_t trim_lws(sv_t s)
{
    if (s.len == 0)
        return s;
    const char *p = s.p, *e = s.p + s.len;
    p = skip_lws(p, e);
    while (e > p && is_c(e[-1], C_LWS))
        e--;
    return sv_make(p, (size_t)(e - p));
}

/* Case-insensitive compare of n bytes of p with a literal (either case). */
static bool ci_eq(const char *p, const char *lit, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (lower(p[i]) != lower(lit[i]))
            return false;
    }
    return true;
}

/* Compare a token (RFC 3261 §25.1) with a literal of lowercase letters and '-'. For token
 * chars, c | 0x20 is such a letter or '-' only when c is that letter in either case or '-', so
 * one OR replaces two case conversions, and eight bytes go at a time. */
static inline bool token_eq_lc(const char *p, const char *lc, size_t n)
{
    if (n >= 8) {
        /* whole words, the last one overlapping the one before */
        uint64_t a, b;
        for (size_t i = 0;; i += 8) {
            if (i > n - 8)
                i = n - 8;
            memcpy(&a, p + i, 8);
            memcpy(&b, lc + i, 8);
            if ((a | 0x2020202020202020u) != b)
                return false;
            if (i == n - 8)
                return true;
        }
    }
    if (n >= 4) {
        uint32_t a, b, c, d;
        memcpy(&a, p, 4);
        memcpy(&b, lc, 4);
        memcpy(&c, p + n - 4, 4);
        memcpy(&d, lc + n - 4, 4);
        return (a | 0x20202020u) == b && (c | 0x20202020u) == d;
    }
    for (size_t i = 0; i < n; i++) {
        if ((char)(p[i] | 0x20) != lc[i])
            return false;
    }
    return true;
}

/* 1*DIGIT, overflow-checked against constants (no division per digit as in sv_to_u64);
 * leading zeros are fine (RFC 4475 3.1.1.1 writes CSeq 0009). */
static bool digits_u64(const char *p, size_t n, uint64_t *out)
{
    if (n == 0)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(unsigned char)p[i] - '0';
        if (d > 9)
            return false;
        if (v > UINT64_MAX / 10 || (v == UINT64_MAX / 10 && d > UINT64_MAX % 10))
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static bool digits_u32(sv_t s, uint32_t *out)
{
    uint64_t v;
    if (!digits_u64(s.p, s.len, &v) || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* Byte after a quoted-string that starts at p (p[0] == '"'), or NULL if it never closes.
 * quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F) (RFC 3261 §25.1). */
static const char *quoted_end(const char *p, const char *e)
{
    for (p++; p < e; p++) {
        if (*p == '"')
            return p + 1;
        if (*p == '\\' && p + 1 < e)
            p++;
    }
    return NULL;
}

/* ---- methods and header names ---------------------------------------------------------- */

static const char *const method_names[SIP_METHOD_COUNT] = {
    [SIP_METHOD_UNKNOWN] = "UNKNOWN",     [SIP_METHOD_INVITE] = "INVITE",
    [SIP_METHOD_ACK] = "ACK",             [SIP_METHOD_BYE] = "BYE",
    [SIP_METHOD_CANCEL] = "CANCEL",       [SIP_METHOD_REGISTER] = "REGISTER",
    [SIP_METHOD_OPTIONS] = "OPTIONS",     [SIP_METHOD_PRACK] = "PRACK",
    [SIP_METHOD_SUBSCRIBE] = "SUBSCRIBE", [SIP_METHOD_NOTIFY] = "NOTIFY",
    [SIP_METHOD_PUBLISH] = "PUBLISH",     [SIP_METHOD_INFO] = "INFO",
    [SIP_METHOD_REFER] = "REFER",         [SIP_METHOD_MESSAGE] = "MESSAGE",
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
#define M(lit, id)                                                                      \
    if (memcmp(s.p, lit, sizeof(lit) - 1) == 0)                                         \
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

/* Header id from its name: compact forms (RFC 3261 7.3.3 and the IANA registry) by their
 * letter, long names by first letter then length, so a name costs one or two compares.
 * The name is a token, so token_eq_lc applies; literals are lowercase. */
static sip_hdr_id_t hdr_lookup(const char *p, size_t n)
{
#define IS(lit, id)                                                                     \
    if (n == sizeof(lit) - 1 && token_eq_lc(p, lit, n))                                 \
        return id;
    char c0 = lower(p[0]);
    if (n == 1) {
        switch (c0) {
            case 'i': return SIP_HDR_CALL_ID;
            case 'f': return SIP_HDR_FROM;
            case 't': return SIP_HDR_TO;
            case 'v': return SIP_HDR_VIA;
            case 'm': return SIP_HDR_CONTACT;
            case 'l': return SIP_HDR_CONTENT_LENGTH;
            case 'c': return SIP_HDR_CONTENT_TYPE;
            case 'k': return SIP_HDR_SUPPORTED;
            case 's': return SIP_HDR_SUBJECT;
            case 'e': return SIP_HDR_CONTENT_ENCODING;
            case 'o': return SIP_HDR_EVENT;
            case 'u': return SIP_HDR_ALLOW_EVENTS;
            case 'r': return SIP_HDR_REFER_TO;
            default: return SIP_HDR_OTHER;
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

/* ---- parameters and lists -------------------------------------------------------------- */

/* The next ';' at top level (not inside a quoted string), or e. */
static const char *param_end(const char *p, const char *e)
{
    for (;;) {
        while (p < e && !is_c(*p, C_PSEP))
            p++;
        if (p == e || *p == ';')
            return p;
        const char *q = quoted_end(p, e);
        p = q ? q : e;
    }
}

/* One walk over a ';'-separated parameter list that both checks it and finds one param, so
 * a Via or a From is read once (RFC 3261 §25.1):
 *   generic-param = token [ EQUAL gen-value ];  gen-value = token / host / quoted-string
 * with LWS allowed around ';' and '='. Returns false on an empty param (";;"), a missing value
 * after '=' or stray bytes, but keeps walking so the lookup still works. When name is given,
 * *val gets its value (trimmed; quotes kept; empty for a bare name) and *found says whether
 * it was there; the first occurrence wins (name_lc: name is lowercase letters and '-', which
 * allows the fast compare). URI params (paramchar, §25.1, which allows more
 * than gen-value) walk the same way: their values are found whole, only flagged. */
static bool params_walk(sv_t params, const char *name, size_t nlen, bool name_lc, sv_t *val,
                        bool *found)
{
    bool ok = true, hit = false;
    if (val)
        *val = SV_NULL;
    if (params.p == NULL) {
        if (found)
            *found = false;
        return false;
    }
    const char *p = params.p, *e = params.p + params.len;
    for (;;) {
        const char *n0 = skip_lws(p, e);
        const char *n1 = skip_class(n0, e, C_TOKEN);
        const char *q = skip_lws(n1, e);
        sv_t v = sv_make(n1, 0);
        if (n1 == n0)
            ok = false;
        if (q < e && *q == '=') {
            const char *v0 = skip_lws(q + 1, e);
            if (v0 < e && *v0 == '"') {
                q = quoted_end(v0, e);
                if (q == NULL) {
                    ok = false;
                    q = e;
                }
            } else {
                q = skip_class(v0, e, C_GENV);
                if (q == v0)
                    ok = false;
            }
            v = span(v0, q);
            q = skip_lws(q, e);
            if (q < e && *q != ';') {
                /* stray bytes: the value runs to the next ';' for the lookup */
                ok = false;
                q = param_end(q, e);
                v = trim_lws(span(v0, q));
            }
        } else if (q < e && *q != ';') {
            ok = false;
            q = param_end(q, e);
        }
        if (name && !hit && (size_t)(n1 - n0) == nlen &&
            (name_lc ? token_eq_lc(n0, name, nlen) : ci_eq(n0, name, nlen))) {
            hit = true;
            if (val)
                *val = v;
        }
        if (q == e)
            break;
        p = q + 1;
    }
    if (found)
        *found = hit;
    return ok;
}

sv_t sip_param_get(sv_t params, const char *name, bool *found)
{
    sv_t v = SV_NULL;
    if (name == NULL) {
        if (found)
            *found = false;
        return v;
    }
    /* strlen on the caller's literal, never on packet data */
    (void)params_walk(params, name, strlen(name), false, &v, found);
    return v;
}

bool sip_list_next(sv_t *rest, sv_t *item)
{
    if (rest->p == NULL)
        return false;
    const char *e = rest->p + rest->len;
    const char *s = skip_lws(rest->p, e);
    if (s == e) {
        *rest = SV_NULL;
        return false;
    }
    const char *q = s;
    for (;;) {
        while (q < e && !is_c(*q, C_LIST))
            q++;
        if (q == e || *q == ',')
            break;
        if (*q == '"') {
            const char *qe = quoted_end(q, e);
            q = qe ? qe : e;
        } else {
            const char *gt = memchr(q, '>', (size_t)(e - q));
            q = gt ? gt + 1 : e;
        }
    }
    *item = trim_lws(span(s, q));
    *rest = q < e ? span(q + 1, e) : SV_NULL;
    return true;
}

/* ---- URIs ------------------------------------------------------------------------------ */

/* host = hostname / IPv4address / IPv6reference (RFC 3261 §25.1). On success *p is past it. */
static bool parse_host(const char **pp, const char *e, sv_t *host)
{
    const char *p = *pp;
    if (p >= e)
        return false;
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(e - p));
        if (rb == NULL || rb == p + 1)
            return false;
        for (const char *q = p + 1; q < rb; q++) {
            if (!is_c(*q, C_HEX) && *q != ':' && *q != '.')
                return false;
        }
        *host = span(p + 1, rb);
        *pp = rb + 1;
        return true;
    }
    const char *t = skip_class(p, e, C_HOST);
    if (t == p)
        return false;
    *host = span(p, t);
    *pp = t;
    return true;
}

/* port = 1*DIGIT, at most 65535. */
static bool parse_port(sv_t s, uint16_t *port)
{
    uint32_t v;
    if (s.len > 5 || !digits_u32(s, &v) || v > 65535)
        return false;
    *port = (uint16_t)v;
    return true;
}

/* hostport = host [ ":" port ], spanning exactly [p, e). */
static bool parse_hostport(const char *p, const char *e, sv_t *host, uint16_t *port)
{
    if (!parse_host(&p, e, host))
        return false;
    if (p == e)
        return true;
    if (*p != ':')
        return false;
    return parse_port(span(p + 1, e), port);
}

/* uri-parameters = *( ";" uri-parameter ): no empty names. */
static bool uri_params_ok(sv_t params)
{
    const char *p = params.p, *e = params.p + params.len;
    for (;;) {
        const char *pe = memchr(p, ';', (size_t)(e - p));
        if (pe == NULL)
            pe = e;
        if (pe == p || *p == '=')
            return false;
        if (pe == e)
            return true;
        p = pe + 1;
    }
}

bool sip_uri_parse(sv_t text, sip_uri_t *out)
{
    memset(out, 0, sizeof(*out));
    out->raw = text;
    if (text.p == NULL || text.len == 0)
        return false;
    const char *p = text.p, *e = text.p + text.len;
    /* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
    if (!is_c(*p, C_HOST) || is_c(*p, C_DIGIT) || *p == '-' || *p == '.' || *p == '_')
        return false;
    const char *s = p + 1;
    while (s < e && (is_c(*s, C_HOST) || *s == '+') && *s != '_')
        s++;
    if (s == e || *s != ':')
        return false;
    size_t slen = (size_t)(s - p);
    const char *r = s + 1;
    if (slen == 3 && token_eq_lc(p, "sip", 3))
        out->scheme = SIP_SCHEME_SIP;
    else if (slen == 4 && token_eq_lc(p, "sips", 4))
        out->scheme = SIP_SCHEME_SIPS;
    else if (slen == 3 && token_eq_lc(p, "tel", 3))
        out->scheme = SIP_SCHEME_TEL;
    else
        out->scheme = SIP_SCHEME_OTHER;

    /* One pass over the rest: every byte a URI char, every escape "%" HEXDIG HEXDIG, and
     * where the first '@' is and the first ';' and '?' after it. '@' cannot appear unescaped
     * after the userinfo, so the first '@' ends it even when the user part holds ';' or '?'
     * (RFC 4475 3.1.1.2, 3.1.1.9). */
    const char *at = NULL, *semi = NULL, *qm = NULL;
    for (const char *q = r;; q++) {
        q = skip_class(q, e, C_UPLAIN);
        if (q == e)
            break;
        if (!is_c(*q, C_USPEC))
            return false; /* not a URI char at all */
        switch (*q) {
            case '%':
                if (e - q < 3 || !is_c(q[1], C_HEX) || !is_c(q[2], C_HEX))
                    return false;
                q += 2;
                break;
            case '@':
                if (at == NULL) {
                    at = q;
                    semi = qm = NULL;
                }
                break;
            case ';':
                if (semi == NULL && qm == NULL)
                    semi = q;
                break;
            default: /* '?' */
                if (qm == NULL)
                    qm = q;
                break;
        }
    }

    if (out->scheme == SIP_SCHEME_TEL) {
        /* RFC 3966: telephone-subscriber, then ;params */
        const char *semi1 = memchr(r, ';', (size_t)(e - r));
        out->user = span(r, semi1 ? semi1 : e);
        if (semi1) {
            out->params = span(semi1 + 1, e);
            if (!uri_params_ok(out->params))
                return false;
        }
        return out->user.len > 0;
    }
    if (out->scheme == SIP_SCHEME_OTHER) {
        /* absoluteURI = scheme ":" ( hier-part / opaque-part ) (RFC 3261 §25.1, RFC 2396);
         * for "//authority" forms pick out the host for the caller's convenience. */
        if (r == e)
            return false;
        if (e - r >= 2 && r[0] == '/' && r[1] == '/') {
            const char *a = r + 2, *ae = a;
            while (ae < e && *ae != '/' && *ae != '?')
                ae++;
            const char *a_at = memchr(a, '@', (size_t)(ae - a));
            if (a_at)
                a = a_at + 1;
            sv_t host = SV_NULL;
            uint16_t port = 0;
            if (a < ae && parse_hostport(a, ae, &host, &port)) {
                out->host = host;
                out->port = port;
            }
        }
        return true;
    }

    /* SIP-URI = "sip:" [ userinfo ] hostport uri-parameters [ headers ] (RFC 3261 19.1.1) */
    const char *h = r;
    if (at) {
        const char *colon = memchr(r, ':', (size_t)(at - r));
        out->user = span(r, colon ? colon : at);
        if (colon)
            out->password = span(colon + 1, at);
        if (out->user.len == 0)
            return false;
        h = at + 1;
    }
    const char *he = semi ? semi : qm ? qm : e;
    if (!parse_hostport(h, he, &out->host, &out->port))
        return false;
    if (semi) {
        out->params = span(semi + 1, qm ? qm : e);
        if (!uri_params_ok(out->params))
            return false;
    }
    if (qm) {
        out->headers = span(qm + 1, e);
        if (out->headers.len == 0)
            return false;
    }
    return true;
}

/* ---- name-addr, Via -------------------------------------------------------------------- */

enum { NA_OK = 0, NA_SYNTAX = 1, NA_URI = 2 };

/* name-addr / addr-spec with header params (RFC 3261 20.10, 20.20, 20.39 and §25.1):
 *   ( name-addr / addr-spec ) *( SEMI param );  name-addr = [ display-name ] LAQUOT addr-spec RAQUOT
 * Returns NA_* bits; *out holds the best-effort split either way. */
static int nameaddr_parse(sv_t text, sip_nameaddr_t *out)
{
    memset(out, 0, sizeof(*out));
    text = trim_lws(text);
    if (text.p == NULL || text.len == 0)
        return NA_SYNTAX;
    int rc = NA_OK;
    const char *p = text.p, *e = text.p + text.len;
    const char *lt = NULL, *after;
    if (*p == '"') {
        const char *q = quoted_end(p, e);
        if (q == NULL)
            return NA_SYNTAX;
        out->display = span(p + 1, q - 1);
        q = skip_lws(q, e);
        if (q == e || *q != '<')
            return NA_SYNTAX;
        lt = q;
    } else {
        lt = memchr(p, '<', (size_t)(e - p));
        if (lt) {
            /* display-name = *(token LWS) when unquoted: ',' and friends need quotes
             * (RFC 4475 3.1.2.15), but keep going to give the caller the URI and tag. */
            out->display = trim_lws(span(p, lt));
            for (size_t i = 0; i < out->display.len; i++) {
                if (!is_c(out->display.p[i], C_TOKEN | C_LWS)) {
                    rc |= NA_SYNTAX;
                    break;
                }
            }
        }
    }
    if (lt) {
        const char *gt = memchr(lt, '>', (size_t)(e - lt));
        if (gt == NULL)
            return rc | NA_SYNTAX;
        if (!sip_uri_parse(span(lt + 1, gt), &out->uri))
            rc |= NA_URI;
        after = gt + 1;
    } else {
        /* addr-spec: its ';' parameters are header parameters, and a URI with ',', '?' or ';'
         * must be enclosed in <> (RFC 3261 20; RFC 4475 3.1.2.13, 3.3.12). */
        const char *q = p;
        while (q < e && *q != ';' && !is_c(*q, C_LWS))
            q++;
        sv_t u = span(p, q);
        if (!sip_uri_parse(u, &out->uri) || memchr(u.p, '?', u.len) || memchr(u.p, ',', u.len))
            rc |= NA_URI;
        after = q;
    }
    after = skip_lws(after, e);
    if (after < e) {
        if (*after != ';')
            return rc | NA_SYNTAX;
        out->params = trim_lws(span(after + 1, e));
        if (!params_walk(out->params, "tag", 3, true, &out->tag, NULL))
            rc |= NA_SYNTAX;
    }
    return rc;
}

bool sip_nameaddr_parse(sv_t text, sip_nameaddr_t *out)
{
    return nameaddr_parse(text, out) == NA_OK;
}

/* sent-protocol SWS "/" SWS ... : the token after an optional slash. */
static const char *via_token(const char *p, const char *e, bool slash, sv_t *tok)
{
    p = skip_lws(p, e);
    if (slash) {
        if (p == e || *p != '/')
            return NULL;
        p = skip_lws(p + 1, e);
    }
    const char *t = skip_class(p, e, C_TOKEN);
    if (t == p)
        return NULL;
    *tok = span(p, t);
    return t;
}

bool sip_via_parse(sv_t text, sip_via_t *out)
{
    /* via-parm = sent-protocol LWS sent-by *( SEMI via-params ) (RFC 3261 20.42, §25.1);
     * SLASH, COLON and SEMI allow LWS (with folding) on both sides (RFC 4475 3.1.1.1). */
    memset(out, 0, sizeof(*out));
    text = trim_lws(text);
    if (text.p == NULL || text.len == 0)
        return false;
    const char *p = text.p, *e = text.p + text.len;
    if ((p = via_token(p, e, false, &out->protocol)) == NULL ||
        (p = via_token(p, e, true, &out->version)) == NULL ||
        (p = via_token(p, e, true, &out->transport)) == NULL)
        return false;
    const char *h = skip_lws(p, e);
    if (h == p || h == e)
        return false;
    p = h;
    if (!parse_host(&p, e, &out->host))
        return false;
    const char *sb_end = p;
    const char *q = skip_lws(p, e);
    if (q < e && *q == ':') {
        q = skip_lws(q + 1, e);
        const char *d = skip_class(q, e, C_DIGIT);
        if (!parse_port(span(q, d), &out->port))
            return false;
        sb_end = q = d;
    }
    out->sent_by = span(h, sb_end);
    q = skip_lws(q, e);
    if (q == e)
        return true;
    if (*q != ';')
        return false;
    out->params = trim_lws(span(q + 1, e));
    return params_walk(out->params, "branch", 6, true, &out->branch, NULL);
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

/* Per-parse state beside the output. */
typedef struct {
    sip_msg_t *m;
    bool datagram;
    uint32_t seen;   /* bit per sip_hdr_id_t already met */
    bool cl_valid;   /* content_length usable for framing */
    sv_t server;     /* Server, used when there is no User-Agent */
} pstate_t;

static void msg_reset(sip_msg_t *m)
{
    /* Everything but hdrs[]: a few hundred bytes instead of four kilobytes per message. */
    memset(m, 0, offsetof(sip_msg_t, hdrs));
    memset(&m->n_hdrs, 0, sizeof(*m) - offsetof(sip_msg_t, n_hdrs));
    m->content_length = -1;
    m->expires = -1;
    m->max_forwards = UINT32_MAX;
}

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
static void hdr_via(pstate_t *st, sv_t v, bool first_hdr)
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
static void hdr_contact(pstate_t *st, sv_t v, bool first_hdr)
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
        int rc = nameaddr_parse(item, &na);
        if (rc & NA_SYNTAX)
            m->defects |= SIP_DEFECT_BAD_HEADER;
        if (rc & NA_URI)
            m->defects |= SIP_DEFECT_BAD_URI;
        bool found;
        sv_t exp;
        (void)params_walk(na.params, "expires", 7, true, &exp, &found);
        uint32_t n;
        if (found && !digits_u32(exp, &n))
            m->defects |= SIP_DEFECT_BAD_NUMBER; /* delta-seconds > 2^32-1 (RFC 4475 3.1.2.4) */
    }
    if (!any || v.p[v.len - 1] == ',')
        m->defects |= SIP_DEFECT_BAD_HEADER;
}

static void hdr_nameaddr(sip_msg_t *m, sv_t v, sip_nameaddr_t *out)
{
    int rc = nameaddr_parse(v, out);
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
static int hdr_content_length(pstate_t *st, sv_t v, bool dup)
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
#define SINGLE_HDRS                                                                             \
    ((1u << SIP_HDR_CALL_ID) | (1u << SIP_HDR_CSEQ) | (1u << SIP_HDR_FROM) | (1u << SIP_HDR_TO) | \
     (1u << SIP_HDR_MAX_FORWARDS) | (1u << SIP_HDR_CONTENT_LENGTH) |                              \
     (1u << SIP_HDR_CONTENT_TYPE) | (1u << SIP_HDR_EXPIRES))

/* One logical header line [line, ve), continuation lines included (RFC 3261 7.3.1):
 *   header = field-name HCOLON field-value;  HCOLON = *( SP / HTAB ) ":" SWS */
static int on_header(pstate_t *st, const char *line, const char *ve)
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

/* Strip a trailing CR from a line cut by the end of a datagram. */
static const char *open_line_end(const char *p, const char *e)
{
    return (e > p && e[-1] == '\r') ? e - 1 : e;
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
    const char *msg = p;

    const char *ce = NULL, *nx = NULL;
    int r = find_line(p, e, &ce, &nx);
    if (r == LINE_LONG)
        return SIP_INVALID;
    if (r == LINE_OPEN) {
        if (!datagram)
            return start_prefix_ok(p, e) ? SIP_PARTIAL : SIP_INVALID;
        ce = open_line_end(p, e);
        nx = e;
    }
    start_line_t sl;
    if (!parse_start_line(&sl, p, ce))
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
    p = nx;

    pstate_t st = {.m = m, .datagram = datagram};
    bool terminated = false;
    while (p < e) {
        if ((size_t)(p - msg) > SIP_MAX_HEADER_BYTES)
            return SIP_INVALID;
        r = find_line(p, e, &ce, &nx);
        if (r == LINE_LONG)
            return SIP_INVALID;
        if (r == LINE_OPEN) {
            if (!datagram)
                return SIP_PARTIAL;
            ce = open_line_end(p, e);
            nx = e;
        }
        if (ce == p) {
            terminated = r == LINE_OK;
            p = nx;
            break;
        }
        /* Continuation lines start with SP or HTAB (RFC 3261 7.3.1). Whether the next line
         * continues this one is only known once its first byte is here. */
        const char *ve = ce;
        while (nx < e && (*nx == ' ' || *nx == '\t')) {
            if ((size_t)(nx - msg) > SIP_MAX_HEADER_BYTES)
                return SIP_INVALID;
            const char *nx2 = NULL;
            r = find_line(nx, e, &ce, &nx2);
            if (r == LINE_LONG)
                return SIP_INVALID;
            if (r == LINE_OPEN) {
                if (!datagram)
                    return SIP_PARTIAL;
                ce = open_line_end(nx, e);
                nx2 = e;
            }
            ve = ce;
            nx = nx2;
        }
        if (nx == e && !datagram)
            return SIP_PARTIAL;
        if (on_header(&st, p, ve) != 0)
            return SIP_INVALID;
        p = nx;
    }
    if ((size_t)(p - msg) > SIP_MAX_HEADER_BYTES)
        return SIP_INVALID;
    if (!terminated) {
        if (!datagram)
            return SIP_PARTIAL;
        m->defects |= SIP_DEFECT_NO_HEADER_END;
    }
    m->header_len = (size_t)(p - buf);

    /* Body (RFC 3261 18.3, 20.14): on a stream Content-Length frames the message (absent
     * means no body); in a datagram it is checked against what is there. */
    size_t rest = (size_t)(e - p);
    size_t blen = 0;
    if (!terminated) {
        blen = 0;
    } else if (st.cl_valid) {
        uint64_t cl = (uint64_t)m->content_length;
        if (cl > rest) {
            if (!datagram)
                return SIP_PARTIAL;
            m->defects |= SIP_DEFECT_BAD_LENGTH;
            blen = rest;
        } else {
            blen = (size_t)cl;
        }
    } else if (datagram) {
        blen = rest;
    }
    m->body = sv_make(p, blen);

    /* Mandatory headers (RFC 3261 8.1.1; RFC 4475 3.3.1). */
    if (!(st.seen & (1u << SIP_HDR_CALL_ID)))
        m->defects |= SIP_DEFECT_NO_CALL_ID;
    if (!(st.seen & (1u << SIP_HDR_FROM)))
        m->defects |= SIP_DEFECT_NO_FROM;
    if (!(st.seen & (1u << SIP_HDR_TO)))
        m->defects |= SIP_DEFECT_NO_TO;
    if (!(st.seen & (1u << SIP_HDR_CSEQ)))
        m->defects |= SIP_DEFECT_NO_CSEQ;
    if (!(st.seen & (1u << SIP_HDR_VIA)))
        m->defects |= SIP_DEFECT_NO_VIA;
    /* The CSeq method of a request is its own method (RFC 3261 8.1.1.5; RFC 4475 3.1.2.18). */
    if (m->is_request && (st.seen & (1u << SIP_HDR_CSEQ)) && !sv_eq(m->cseq_method, m->method))
        m->defects |= SIP_DEFECT_BAD_CSEQ;
    if (m->user_agent.p == NULL)
        m->user_agent = st.server;
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
    return parse_start_line(&sl, p, ce);
}
