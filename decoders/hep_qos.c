/* hep_qos: the JSON RTP quality report of HEP type 34: a writer, and a bounded reader for flat
 * JSON objects (no allocation; strings into fixed buffers). */
#include "hep_qos.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "defs.h"
#include "sv.h"

/* ------------------------------------------------------------------ writer */

typedef struct {
    char *buf;
    size_t cap, len;
    bool full;
} jw_t;

__attribute__((format(printf, 2, 3))) static void jw_raw(jw_t *w, const char *fmt, ...)
{
    if (w->full)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(w->buf + w->len, w->cap - w->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= w->cap - w->len) {
        w->full = true;
        return;
    }
    w->len += (size_t)n;
}

/* A JSON string. Bytes of 0x80 and above are written as \u0080..\u00ff (the reader turns them
 * back into those bytes), so that any Call-ID comes back byte for byte. */
static void jw_str(jw_t *w, const char *s, size_t n)
{
    jw_raw(w, "\"");
    for (size_t i = 0; i < n && !w->full; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\')
            jw_raw(w, "\\%c", ch);
        else if (ch < 0x20 || ch >= 0x7f)
            jw_raw(w, "\\u%04x", ch);
        else
            jw_raw(w, "%c", ch);
    }
    jw_raw(w, "\"");
}

static void jw_key(jw_t *w, const char *key)
{
    jw_raw(w, w->len > 1 ? ",\"%s\":" : "\"%s\":", key);
}

static void jw_u64(jw_t *w, const char *key, uint64_t v)
{
    jw_key(w, key);
    jw_raw(w, "%" PRIu64, v);
}

static void jw_i64(jw_t *w, const char *key, int64_t v)
{
    jw_key(w, key);
    jw_raw(w, "%" PRId64, v);
}

/* Doubles with 17 significant digits: they read back exactly. */
static void jw_f64(jw_t *w, const char *key, double v)
{
    jw_key(w, key);
    jw_raw(w, "%.17g", isfinite(v) ? v : 0.0);
}

static void jw_endpoint(jw_t *w, const char *ip_key, const char *port_key, const net_endpoint_t *ep)
{
    char ip[64];
    net_addr_str(&ep->addr, ip, sizeof(ip));
    jw_key(w, ip_key);
    jw_str(w, ip, strlen(ip));
    jw_u64(w, port_key, ep->port);
}

static void jw_interval(jw_t *w, const sample_record_t *in)
{
    jw_i64(w, "SAMPLE_START_US", in->start_ns / NS_PER_US);
    jw_u64(w, "SAMPLE_PK", in->packets);
    jw_i64(w, "SAMPLE_LOST", in->lost);
    jw_f64(w, "SAMPLE_JITTER", in->jitter_ms);
    jw_f64(w, "SAMPLE_MAX_JITTER", in->max_jitter_ms);
    jw_f64(w, "SAMPLE_MOS", in->mos);
}

int hep_qos_encode(const hep_qos_t *q, char *buf, size_t cap)
{
    jw_t w = {.buf = buf, .cap = cap};
    if (cap == 0)
        return -ENOSPC;
    jw_raw(&w, "{");
    jw_key(&w, "CORRELATION_ID");
    jw_str(&w, q->call_id, q->call_id_len);
    jw_key(&w, "RTP_SIP_CALL_ID");
    jw_str(&w, q->call_id, q->call_id_len);
    jw_key(&w, "TYPE");
    const char *type = q->sample ? "SAMPLE" : q->final ? "FINAL" : "PERIODIC";
    jw_str(&w, type, strlen(type));
    jw_i64(&w, "REPORT_TS", q->last_ns / NS_PER_S);
    jw_i64(&w, "REPORT_START", q->first_ns / NS_PER_S);
    jw_i64(&w, "REPORT_END", q->last_ns / NS_PER_S);
    jw_i64(&w, "FIRST_TS_US", q->first_ns / NS_PER_US);
    jw_i64(&w, "LAST_TS_US", q->last_ns / NS_PER_US);
    if (q->src.addr.family != 0 && q->dst.addr.family != 0) {
        jw_endpoint(&w, "SRC_IP", "SRC_PORT", &q->src);
        jw_endpoint(&w, "DST_IP", "DST_PORT", &q->dst);
    }
    char ssrc[16];
    snprintf(ssrc, sizeof(ssrc), "0x%08" PRIx32, q->ssrc);
    jw_key(&w, "SSRC");
    jw_str(&w, ssrc, strlen(ssrc));
    jw_u64(&w, "CODEC_PT", q->payload_type);
    jw_key(&w, "CODEC_NAME");
    jw_str(&w, q->codec, strnlen(q->codec, sizeof(q->codec)));
    jw_u64(&w, "CLOCK", q->clock_rate);
    if (q->sample) {
        jw_interval(&w, &q->interval);
        jw_raw(&w, "}");
        return w.full ? -ENOSPC : (int)w.len;
    }
    jw_u64(&w, "TOTAL_PK", q->packets);
    const int64_t half = INT64_MAX / 2;
    if (q->packets <= (uint64_t)half && q->lost <= half && q->lost >= -(int64_t)q->packets)
        jw_i64(&w, "EXPECTED_PK", (int64_t)q->packets + q->lost);
    jw_i64(&w, "PACKET_LOSS", q->lost);
    jw_u64(&w, "DUPLICATES", q->duplicates);
    jw_u64(&w, "OUT_ORDER", q->out_of_order);
    jw_u64(&w, "SEQ_ERRORS", q->seq_errors);
    jw_f64(&w, "MAX_DELTA", q->max_delta_ms);
    jw_f64(&w, "JITTER", q->mean_jitter_ms);
    jw_f64(&w, "MEAN_JITTER", q->mean_jitter_ms);
    jw_f64(&w, "MAX_JITTER", q->max_jitter_ms);
    jw_f64(&w, "MOS", q->mos);
    jw_f64(&w, "MEAN_MOS", q->mos);
    if (q->party == 0 || q->party == 1) {
        jw_u64(&w, "PARTY", (uint64_t)q->party);
        jw_u64(&w, "DIR", (uint64_t)q->party);
    }
    jw_u64(&w, "SDP_MISMATCH", q->sdp_mismatch ? 1 : 0);
    if (q->have_rtcp) {
        jw_f64(&w, "RTCP_FRACTION_LOST", q->rtcp_fraction_lost);
        jw_i64(&w, "RTCP_CUM_LOST", q->rtcp_cumulative_lost);
        jw_f64(&w, "RTCP_JITTER", q->rtcp_jitter_ms);
        if (q->rtcp_rtt_ms >= 0)
            jw_f64(&w, "RTCP_RTT", q->rtcp_rtt_ms);
    }
    jw_raw(&w, "}");
    return w.full ? -ENOSPC : (int)w.len;
}

/* ------------------------------------------------------------------ reader */

#define JR_MAX_DEPTH 8
#define JR_KEY_MAX   32
#define JR_NUM_MAX   40

typedef struct {
    const uint8_t *p, *end;
    const char *why;
} jr_t;

typedef enum { JV_NONE = 0, JV_STR, JV_NUM, JV_BOOL, JV_SKIPPED } jv_kind_t;

typedef struct {
    jv_kind_t kind;
    char str[HEP_QOS_CALL_ID_MAX + 1];
    size_t len;
    bool is_int; /* a number without fraction or exponent that fits int64 */
    int64_t i;
    double d;
} jv_t;

static bool jr_fail(jr_t *r, const char *why)
{
    if (r->why == NULL)
        r->why = why;
    return false;
}

static void jr_ws(jr_t *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static bool jr_eat(jr_t *r, char ch)
{
    jr_ws(r);
    if (r->p < r->end && *r->p == (uint8_t)ch) {
        r->p++;
        return true;
    }
    return false;
}

static int hexval(uint8_t ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Append code point cp: U+0000..U+00FF as that byte (the writer's convention), others as
 * UTF-8. */
static bool put_cp(char *out, size_t cap, size_t *n, uint32_t cp)
{
    uint8_t b[4];
    size_t k;
    if (cp <= 0xff) {
        b[0] = (uint8_t)cp;
        k = 1;
    } else if (cp < 0x800) {
        b[0] = (uint8_t)(0xc0 | cp >> 6);
        b[1] = (uint8_t)(0x80 | (cp & 0x3f));
        k = 2;
    } else {
        b[0] = (uint8_t)(0xe0 | cp >> 12);
        b[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
        b[2] = (uint8_t)(0x80 | (cp & 0x3f));
        k = 3;
    }
    if (*n + k > cap)
        return false;
    memcpy(out + *n, b, k);
    *n += k;
    return true;
}

/* A string after its opening quote, into out (cap bytes, NUL-terminated), or only skipped when
 * out is NULL. */
static bool jr_string(jr_t *r, char *out, size_t cap, size_t *len)
{
    size_t n = 0;
    while (r->p < r->end) {
        uint8_t ch = *r->p++;
        if (ch == '"') {
            if (out != NULL)
                out[n] = '\0';
            if (len != NULL)
                *len = n;
            return true;
        }
        if (ch < 0x20)
            return jr_fail(r, "control character in a string");
        uint32_t cp = ch;
        if (ch == '\\') {
            if (r->p >= r->end)
                break;
            uint8_t esc = *r->p++;
            static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
            const char *at = memchr(from, esc, sizeof(from) - 1);
            if (at != NULL) {
                cp = (uint8_t)to[at - from];
            } else if (esc == 'u' && r->end - r->p >= 4) {
                cp = 0;
                for (int i = 0; i < 4; i++) {
                    int h = hexval(*r->p++);
                    if (h < 0)
                        return jr_fail(r, "bad \\u escape");
                    cp = cp << 4 | (uint32_t)h;
                }
            } else {
                return jr_fail(r, "bad escape");
            }
        }
        if (out != NULL && !put_cp(out, cap - 1, &n, cp))
            return jr_fail(r, "string too long");
    }
    return jr_fail(r, "unterminated string");
}

static bool jr_number(jr_t *r, jv_t *v)
{
    char tok[JR_NUM_MAX + 1];
    size_t n = 0;
    bool integer = true;
    while (r->p < r->end && strchr("+-0123456789.eE", *r->p) != NULL && *r->p != '\0') {
        if (n >= JR_NUM_MAX)
            return jr_fail(r, "number too long");
        if (*r->p == '.' || *r->p == 'e' || *r->p == 'E')
            integer = false;
        tok[n++] = (char)*r->p++;
    }
    tok[n] = '\0';
    char *end;
    errno = 0;
    v->d = strtod(tok, &end);
    if (n == 0 || *end != '\0' || !isfinite(v->d))
        return jr_fail(r, "bad number");
    v->kind = JV_NUM;
    v->is_int = false;
    if (integer) {
        errno = 0;
        long long i = strtoll(tok, &end, 10);
        v->is_int = errno == 0 && *end == '\0';
        v->i = i;
    }
    return true;
}

static bool jr_literal(jr_t *r, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, lit, n) != 0)
        return jr_fail(r, "bad literal");
    r->p += n;
    return true;
}

/* Skip an object or array whose opening bracket was read, up to JR_MAX_DEPTH deep. */
static bool jr_skip_nested(jr_t *r)
{
    int depth = 1;
    while (r->p < r->end) {
        uint8_t ch = *r->p++;
        if (ch == '"') {
            if (!jr_string(r, NULL, 0, NULL))
                return false;
        } else if (ch == '{' || ch == '[') {
            if (++depth > JR_MAX_DEPTH)
                return jr_fail(r, "nested too deep");
        } else if (ch == '}' || ch == ']') {
            if (--depth == 0)
                return true;
        }
    }
    return jr_fail(r, "unterminated value");
}

static bool jr_value(jr_t *r, jv_t *v)
{
    jr_ws(r);
    if (r->p >= r->end)
        return jr_fail(r, "value missing");
    uint8_t ch = *r->p;
    v->kind = JV_NONE;
    if (ch == '"') {
        r->p++;
        v->kind = JV_STR;
        return jr_string(r, v->str, sizeof(v->str), &v->len);
    }
    if (ch == '{' || ch == '[') {
        r->p++;
        v->kind = JV_SKIPPED;
        return jr_skip_nested(r);
    }
    if (ch == 't' || ch == 'f') {
        v->kind = JV_BOOL;
        v->i = ch == 't';
        v->d = (double)v->i;
        v->is_int = true;
        return jr_literal(r, ch == 't' ? "true" : "false");
    }
    if (ch == 'n')
        return jr_literal(r, "null");
    return jr_number(r, v);
}

/* ------------------------------------------------------------------ report fields */

enum {
    K_CALL_ID = 0,
    K_TYPE,
    K_FIRST_US,
    K_LAST_US,
    K_START_S,
    K_END_S,
    K_SRC_IP,
    K_SRC_PORT,
    K_DST_IP,
    K_DST_PORT,
    K_SSRC,
    K_PT,
    K_CODEC,
    K_CLOCK,
    K_PACKETS,
    K_LOST,
    K_DUPLICATES,
    K_OUT_ORDER,
    K_SEQ_ERRORS,
    K_MAX_DELTA,
    K_JITTER,
    K_MAX_JITTER,
    K_MOS,
    K_PARTY,
    K_SDP_MISMATCH,
    K_RTCP_FRACTION,
    K_RTCP_CUM_LOST,
    K_RTCP_JITTER,
    K_RTCP_RTT,
    K_SAMPLE_START,
    K_SAMPLE_PK,
    K_SAMPLE_LOST,
    K_SAMPLE_JITTER,
    K_SAMPLE_MAX_JITTER,
    K_SAMPLE_MOS,
    K_COUNT
};

static const struct {
    const char *key;
    int field;
} keys[] = {
    {"CORRELATION_ID", K_CALL_ID},
    {"RTP_SIP_CALL_ID", K_CALL_ID},
    {"TYPE", K_TYPE},
    {"FIRST_TS_US", K_FIRST_US},
    {"LAST_TS_US", K_LAST_US},
    {"REPORT_START", K_START_S},
    {"REPORT_END", K_END_S},
    {"SRC_IP", K_SRC_IP},
    {"SRC_PORT", K_SRC_PORT},
    {"DST_IP", K_DST_IP},
    {"DST_PORT", K_DST_PORT},
    {"SSRC", K_SSRC},
    {"CODEC_PT", K_PT},
    {"CODEC_NAME", K_CODEC},
    {"CLOCK", K_CLOCK},
    {"TOTAL_PK", K_PACKETS},
    {"TOTAL_PACKETS", K_PACKETS},
    {"PACKET_LOSS", K_LOST},
    {"TOTAL_PACKET_LOSS", K_LOST},
    {"DUPLICATES", K_DUPLICATES},
    {"OUT_ORDER", K_OUT_ORDER},
    {"SEQ_ERRORS", K_SEQ_ERRORS},
    {"MAX_DELTA", K_MAX_DELTA},
    {"MEAN_JITTER", K_JITTER},
    {"JITTER", K_JITTER},
    {"MAX_JITTER", K_MAX_JITTER},
    {"MEAN_MOS", K_MOS},
    {"MOS", K_MOS},
    {"PARTY", K_PARTY},
    {"SDP_MISMATCH", K_SDP_MISMATCH},
    {"RTCP_FRACTION_LOST", K_RTCP_FRACTION},
    {"RTCP_CUM_LOST", K_RTCP_CUM_LOST},
    {"RTCP_JITTER", K_RTCP_JITTER},
    {"RTCP_RTT", K_RTCP_RTT},
    {"SAMPLE_START_US", K_SAMPLE_START},
    {"SAMPLE_PK", K_SAMPLE_PK},
    {"SAMPLE_LOST", K_SAMPLE_LOST},
    {"SAMPLE_JITTER", K_SAMPLE_JITTER},
    {"SAMPLE_MAX_JITTER", K_SAMPLE_MAX_JITTER},
    {"SAMPLE_MOS", K_SAMPLE_MOS},
};

static int key_field(const char *key)
{
    for (size_t i = 0; i < ARRAY_LEN(keys); i++)
        if (strcmp(keys[i].key, key) == 0)
            return keys[i].field;
    return -1;
}

/* A number in [lo, hi] (integers exactly; others truncated toward zero). */
static bool num_in(const jv_t *v, double lo, double hi, int64_t *out)
{
    if (v->kind == JV_STR) {
        /* Some agents quote numbers: "12" */
        char *end;
        errno = 0;
        long long i = strtoll(v->str, &end, 0);
        if (v->len == 0 || *end != '\0' || errno != 0 || (double)i < lo || (double)i > hi)
            return false;
        *out = i;
        return true;
    }
    if (v->kind != JV_NUM && v->kind != JV_BOOL)
        return false;
    if (v->is_int) {
        if ((double)v->i < lo || (double)v->i > hi)
            return false;
        *out = v->i;
        return true;
    }
    if (!(v->d >= lo && v->d <= hi))
        return false;
    *out = (int64_t)v->d;
    return true;
}

static bool real_in(const jv_t *v, double lo, double hi, double *out)
{
    if (v->kind != JV_NUM || !(v->d >= lo && v->d <= hi))
        return false;
    *out = v->d;
    return true;
}

static bool set_endpoint_addr(net_endpoint_t *ep, const jv_t *v)
{
    return v->kind == JV_STR && net_addr_parse(sv_make(v->str, v->len), &ep->addr);
}

/* What RTCP said of the stream: any of these keys means a report was seen. */
/* An interval's figures (TYPE "SAMPLE"): false when the value does not fit its field. */
static bool set_sample_field(hep_qos_t *q, int field, const jv_t *v)
{
    sample_record_t *in = &q->interval;
    int64_t i = 0;
    bool ok = false;
    switch (field) {
        case K_SAMPLE_START:
            ok = num_in(v, 0, 9.2e15, &i);
            in->start_ns = i * NS_PER_US;
            break;
        case K_SAMPLE_PK:
            ok = num_in(v, 0, 4294967295.0, &i);
            in->packets = (uint32_t)i;
            break;
        case K_SAMPLE_LOST:
            ok = num_in(v, -2147483648.0, 2147483647.0, &i);
            in->lost = (int32_t)i;
            break;
        case K_SAMPLE_JITTER:
        case K_SAMPLE_MAX_JITTER:
            ok = real_in(v, 0, 1e9, field == K_SAMPLE_JITTER ? &in->jitter_ms : &in->max_jitter_ms);
            break;
        case K_SAMPLE_MOS:
            ok = real_in(v, 0, 5, &in->mos);
            break;
        default:
            return true;
    }
    return ok;
}

static bool set_rtcp_field(hep_qos_t *q, int field, const jv_t *v)
{
    int64_t i = 0;
    bool ok = false;
    switch (field) {
        case K_RTCP_FRACTION:
            ok = real_in(v, 0, 1, &q->rtcp_fraction_lost);
            break;
        case K_RTCP_CUM_LOST:
            ok = num_in(v, -8388608, 8388607, &i);
            q->rtcp_cumulative_lost = i;
            break;
        case K_RTCP_JITTER:
            ok = real_in(v, 0, 1e9, &q->rtcp_jitter_ms);
            break;
        case K_RTCP_RTT:
            ok = real_in(v, 0, 1e9, &q->rtcp_rtt_ms);
            break;
        default:
            return set_sample_field(q, field, v);
    }
    q->have_rtcp = q->have_rtcp || ok;
    return ok;
}

/* Figures and addresses: false when the value does not fit its field. */
static bool set_number_field(hep_qos_t *q, int field, const jv_t *v)
{
    const double u32 = 4294967295.0, big = 9.2e18;
    int64_t i = 0;
    bool ok = true;
    switch (field) {
        case K_FIRST_US:
        case K_LAST_US:
        case K_START_S:
        case K_END_S: {
            bool us = field == K_FIRST_US || field == K_LAST_US;
            ok = num_in(v, 0, us ? 9.2e15 : 9.2e9, &i);
            int64_t ns = us ? i * NS_PER_US : i * NS_PER_S;
            int64_t *at = field == K_FIRST_US || field == K_START_S ? &q->first_ns : &q->last_ns;
            if (ok && (us || *at == 0)) /* the microsecond keys win over the second ones */
                *at = ns;
            break;
        }
        case K_SRC_PORT:
        case K_DST_PORT:
            ok = num_in(v, 0, 65535, &i);
            (field == K_SRC_PORT ? &q->src : &q->dst)->port = (uint16_t)i;
            break;
        case K_SSRC:
            ok = num_in(v, 0, u32, &i);
            q->ssrc = (uint32_t)i;
            break;
        case K_PT:
            ok = num_in(v, 0, 127, &i);
            q->payload_type = (uint8_t)i;
            break;
        case K_CLOCK:
            ok = num_in(v, 0, u32, &i);
            q->clock_rate = (uint32_t)i;
            break;
        case K_PACKETS:
        case K_DUPLICATES:
        case K_OUT_ORDER:
        case K_SEQ_ERRORS:
            ok = num_in(v, 0, big, &i);
            *(field == K_PACKETS      ? &q->packets
              : field == K_DUPLICATES ? &q->duplicates
              : field == K_OUT_ORDER  ? &q->out_of_order
                                      : &q->seq_errors) = (uint64_t)i;
            break;
        case K_LOST:
            ok = num_in(v, -big, big, &i);
            q->lost = i;
            break;
        case K_MAX_DELTA:
        case K_JITTER:
        case K_MAX_JITTER:
            ok = real_in(v, 0, 1e9,
                         field == K_MAX_DELTA ? &q->max_delta_ms
                         : field == K_JITTER  ? &q->mean_jitter_ms
                                              : &q->max_jitter_ms);
            break;
        case K_MOS:
            ok = real_in(v, 0, 5, &q->mos);
            break;
        case K_PARTY:
            ok = num_in(v, 0, 1, &i);
            q->party = (int8_t)i;
            break;
        case K_SDP_MISMATCH:
            ok = num_in(v, 0, 1, &i);
            q->sdp_mismatch = i != 0;
            break;
        default:
            return set_rtcp_field(q, field, v);
    }
    return ok;
}

static bool set_field(hep_qos_t *q, int field, const jv_t *v)
{
    switch (field) {
        case K_CALL_ID:
            if (v->kind != JV_STR || v->len == 0)
                return false;
            memcpy(q->call_id, v->str, v->len + 1);
            q->call_id_len = v->len;
            return true;
        case K_TYPE:
            q->final = v->kind == JV_STR &&
                       (strcmp(v->str, "FINAL") == 0 || strcmp(v->str, "HANGUP") == 0);
            q->sample = v->kind == JV_STR && strcmp(v->str, "SAMPLE") == 0;
            return true;
        case K_SRC_IP:
            return set_endpoint_addr(&q->src, v);
        case K_DST_IP:
            return set_endpoint_addr(&q->dst, v);
        case K_CODEC:
            if (v->kind != JV_STR || v->len >= sizeof(q->codec))
                return false;
            memcpy(q->codec, v->str, v->len + 1);
            return true;
        default:
            return set_number_field(q, field, v);
    }
}

static bool parse_members(jr_t *r, hep_qos_t *q, uint64_t *seen)
{
    jv_t v;
    if (jr_eat(r, '}'))
        return true;
    for (;;) {
        char key[JR_KEY_MAX + 1];
        size_t klen = 0;
        if (!jr_eat(r, '"'))
            return jr_fail(r, "key expected");
        /* A longer key is none of ours: read it whole (bounded), then ignore it. */
        jr_t save = *r;
        bool ours = jr_string(r, key, sizeof(key), &klen);
        if (!ours) {
            *r = save;
            r->why = NULL;
            if (!jr_string(r, NULL, 0, NULL))
                return false;
        }
        if (!jr_eat(r, ':'))
            return jr_fail(r, "':' expected");
        if (!jr_value(r, &v))
            return false;
        int field = ours ? key_field(key) : -1;
        if (field >= 0 && v.kind != JV_NONE && v.kind != JV_SKIPPED) {
            if (!set_field(q, field, &v))
                return jr_fail(r, "a value does not fit its field");
            *seen |= UINT64_C(1) << field;
        }
        if (jr_eat(r, '}'))
            return true;
        if (!jr_eat(r, ','))
            return jr_fail(r, "',' or '}' expected");
    }
}

#define KEY_BIT(k) (UINT64_C(1) << (k))
#define ADDR_KEYS                                                                                  \
    (KEY_BIT(K_SRC_IP) | KEY_BIT(K_SRC_PORT) | KEY_BIT(K_DST_IP) | KEY_BIT(K_DST_PORT))
#define SAMPLE_KEYS (KEY_BIT(K_SAMPLE_START) | KEY_BIT(K_SAMPLE_PK))
_Static_assert(K_COUNT <= 64, "a bit of 'seen' per key");

int hep_qos_parse(const uint8_t *p, size_t len, hep_qos_t *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    out->party = -1;
    out->rtcp_rtt_ms = -1;
    jr_t r = {.p = p, .end = p + len};
    const char *reason = NULL;
    uint64_t seen = 0;
    if (len > HEP_QOS_MAX_INPUT)
        reason = "report too long";
    else if (!jr_eat(&r, '{'))
        reason = "not a JSON object";
    else if (!parse_members(&r, out, &seen))
        reason = r.why != NULL ? r.why : "malformed";
    else if ((jr_ws(&r), r.p != r.end))
        reason = "bytes after the object";
    else if (!(seen & KEY_BIT(K_CALL_ID)))
        reason = "no Call-ID (CORRELATION_ID, RTP_SIP_CALL_ID)";
    else if ((seen & ADDR_KEYS) != 0 && (seen & ADDR_KEYS) != ADDR_KEYS)
        reason = "addresses in part (SRC_IP, SRC_PORT, DST_IP, DST_PORT: all or none)";
    else if (out->src.addr.family != out->dst.addr.family)
        reason = "source and destination of different families";
    else if (out->sample && (seen & SAMPLE_KEYS) != SAMPLE_KEYS)
        reason = "a sample without SAMPLE_START_US or SAMPLE_PK";
    else if (!out->sample && !(seen & KEY_BIT(K_PACKETS)))
        reason = "no packet count (TOTAL_PK)";
    if (why != NULL)
        *why = reason;
    return reason == NULL ? 0 : -1;
}
