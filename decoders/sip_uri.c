/* sip_uri: the value grammar of SIP headers (RFC 3261 §25.1): generic-param lists,
 * comma-separated values, URIs (sip, sips, tel, absoluteURI), name-addr and Via. */
#include "sip_int.h"

#include <stddef.h>
#include <string.h>

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
bool sip_params_walk(sv_t params, const char *name, size_t nlen, bool name_lc, sv_t *val,
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
    (void)sip_params_walk(params, name, strlen(name), false, &v, found);
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

/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" (RFC 3261 §25.1, RFC 2396 3.1).
 * Returns the byte after the ':', or NULL (and *scheme untouched) when there is no scheme. */
static const char *uri_scheme(const char *p, const char *e, sip_scheme_t *scheme)
{
    if (!is_c(*p, C_HOST) || is_c(*p, C_DIGIT) || *p == '-' || *p == '.' || *p == '_')
        return NULL;
    const char *s = p + 1;
    while (s < e && (is_c(*s, C_HOST) || *s == '+') && *s != '_')
        s++;
    if (s == e || *s != ':')
        return NULL;
    size_t slen = (size_t)(s - p);
    if (slen == 3 && token_eq_lc(p, "sip", 3))
        *scheme = SIP_SCHEME_SIP;
    else if (slen == 4 && token_eq_lc(p, "sips", 4))
        *scheme = SIP_SCHEME_SIPS;
    else if (slen == 3 && token_eq_lc(p, "tel", 3))
        *scheme = SIP_SCHEME_TEL;
    else
        *scheme = SIP_SCHEME_OTHER;
    return s + 1;
}

/* Where a URI's parts begin: the first '@', and the first ';' and '?' after it. */
typedef struct {
    const char *at, *semi, *qm; /* NULL when absent */
} uri_marks_t;

/* One pass over what follows the scheme: every byte a URI char, every escape "%" HEXDIG
 * HEXDIG, and the marks. '@' cannot appear unescaped after the userinfo, so the first '@' ends
 * it even when the user part holds ';' or '?' (RFC 4475 3.1.1.2, 3.1.1.9). */
static bool uri_scan(const char *r, const char *e, uri_marks_t *mk)
{
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
    mk->at = at;
    mk->semi = semi;
    mk->qm = qm;
    return true;
}

/* RFC 3966: telephone-subscriber, then ;params. [r, e) follows "tel:". */
static bool uri_tel(sip_uri_t *out, const char *r, const char *e)
{
    const char *semi1 = memchr(r, ';', (size_t)(e - r));
    out->user = span(r, semi1 ? semi1 : e);
    if (semi1) {
        out->params = span(semi1 + 1, e);
        if (!uri_params_ok(out->params))
            return false;
    }
    return out->user.len > 0;
}

/* absoluteURI = scheme ":" ( hier-part / opaque-part ) (RFC 3261 §25.1, RFC 2396); for
 * "//authority" forms pick out the host for the caller's convenience. */
static bool uri_absolute(sip_uri_t *out, const char *r, const char *e)
{
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

/* SIP-URI = "sip:" [ userinfo ] hostport uri-parameters [ headers ] (RFC 3261 19.1.1). */
static bool uri_sip(sip_uri_t *out, const char *r, const char *e, const uri_marks_t *mk)
{
    const char *h = r;
    if (mk->at) {
        const char *colon = memchr(r, ':', (size_t)(mk->at - r));
        out->user = span(r, colon ? colon : mk->at);
        if (colon)
            out->password = span(colon + 1, mk->at);
        if (out->user.len == 0)
            return false;
        h = mk->at + 1;
    }
    const char *he = mk->semi ? mk->semi : mk->qm ? mk->qm : e;
    if (!parse_hostport(h, he, &out->host, &out->port))
        return false;
    if (mk->semi) {
        out->params = span(mk->semi + 1, mk->qm ? mk->qm : e);
        if (!uri_params_ok(out->params))
            return false;
    }
    if (mk->qm) {
        out->headers = span(mk->qm + 1, e);
        if (out->headers.len == 0)
            return false;
    }
    return true;
}

bool sip_uri_parse(sv_t text, sip_uri_t *out)
{
    memset(out, 0, sizeof(*out));
    out->raw = text;
    if (text.p == NULL || text.len == 0)
        return false;
    const char *e = text.p + text.len;
    const char *r = uri_scheme(text.p, e, &out->scheme);
    uri_marks_t mk;
    if (r == NULL || !uri_scan(r, e, &mk))
        return false;
    switch (out->scheme) {
        case SIP_SCHEME_TEL:
            return uri_tel(out, r, e);
        case SIP_SCHEME_OTHER:
            return uri_absolute(out, r, e);
        default:
            return uri_sip(out, r, e, &mk);
    }
}

/* ---- name-addr, Via -------------------------------------------------------------------- */

/* name-addr / addr-spec with header params (RFC 3261 20.10, 20.20, 20.39 and §25.1):
 *   ( name-addr / addr-spec ) *( SEMI param );  name-addr = [ display-name ] LAQUOT addr-spec
 * RAQUOT Returns NA_* bits; *out holds the best-effort split either way. */
int sip_nameaddr_split(sv_t text, sip_nameaddr_t *out)
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
        if (!sip_params_walk(out->params, "tag", 3, true, &out->tag, NULL))
            rc |= NA_SYNTAX;
    }
    return rc;
}

bool sip_nameaddr_parse(sv_t text, sip_nameaddr_t *out)
{
    return sip_nameaddr_split(text, out) == NA_OK;
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
    return sip_params_walk(out->params, "branch", 6, true, &out->branch, NULL);
}
