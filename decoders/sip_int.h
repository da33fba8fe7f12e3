/* sip_int: private to the SIP decoder: RFC 3261 §25.1 character classes, the inline scanners
 * every part of the parser runs on, and the calls between sip.c, sip_uri.c and sip_hdr.c. */
#ifndef SIPSCOPE_SIP_INT_H
#define SIPSCOPE_SIP_INT_H

#include "sip.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
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
    C_WORD = 1u << 1,
    C_DIGIT = 1u << 2,
    C_HOST = 1u << 3,
    C_LWS = 1u << 4,
    C_URI = 1u << 5,
    C_HEX = 1u << 6,
    C_WSP = 1u << 7,
    C_LIST = 1u << 8,
    C_PSEP = 1u << 9,
    C_USPEC = 1u << 10,
    C_GENV = 1u << 11,
    C_UPLAIN = 1u << 12,
};

/* Class bits of every octet (defined in sip.c). */
extern const uint16_t sip_cclass[256];

/* ---- scanners --------------------------------------------------------------------------
 * static inline here: they sit in the inner loops of all three files, where a call each would
 * cost more than their bodies. */

static inline bool is_c(char c, unsigned cls)
{
    return (sip_cclass[(unsigned char)c] & cls) != 0;
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
static inline bool ci_eq(const char *p, const char *lit, size_t n)
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
static inline bool digits_u64(const char *p, size_t n, uint64_t *out)
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

static inline bool digits_u32(sv_t s, uint32_t *out)
{
    uint64_t v;
    if (!digits_u64(s.p, s.len, &v) || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* Byte after a quoted-string that starts at p (p[0] == '"'), or NULL if it never closes.
 * quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F) (RFC 3261 §25.1). */
static inline const char *quoted_end(const char *p, const char *e)
{
    for (p++; p < e; p++) {
        if (*p == '"')
            return p + 1;
        if (*p == '\\' && p + 1 < e)
            p++;
    }
    return NULL;
}

/* ---- between the files ----------------------------------------------------------------- */

/* sip_uri.c: the generic-param walk behind sip_param_get, for callers that know the name's
 * length; see there. */
bool sip_params_walk(sv_t params, const char *name, size_t nlen, bool name_lc, sv_t *val,
                     bool *found);

/* sip_uri.c: sip_nameaddr_parse with the reason for a refusal, as NA_* bits (NA_OK = 0):
 * NA_SYNTAX for the name-addr and its params, NA_URI for the URI inside. *out holds the
 * best-effort split either way. */
enum { NA_OK = 0, NA_SYNTAX = 1, NA_URI = 2 };
int sip_nameaddr_split(sv_t text, sip_nameaddr_t *out);

/* Per-parse state beside the output (sip.c owns it; sip_hdr.c fills it header by header). */
typedef struct {
    sip_msg_t *m;
    const char *msg; /* first byte of the start line, for the header-section cap */
    bool datagram;
    uint32_t seen; /* bit per sip_hdr_id_t already met */
    bool cl_valid; /* content_length usable for framing */
    sv_t server;   /* Server, used when there is no User-Agent */
} sip_pstate_t;

/* sip_hdr.c: one logical header line [line, ve), continuation lines included: stored in
 * st->m->hdrs and, for the headers a monitor needs, parsed into st->m. Returns 0, or
 * SIP_INVALID when a stream could not be framed within the caps (Content-Length). */
int sip_header_line(sip_pstate_t *st, const char *line, const char *ve);

#endif
