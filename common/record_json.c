/* record_json: one loop over a record's descriptor writes its JSON; the kinds say how. */
#include "record_json.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sv.h"

#define SUMMARY_MAX 160 /* bytes of a message's first line shown in listings */

double record_json_seconds(int64_t ns)
{
    /* Round to whole microseconds: the contract's precision. */
    int64_t us = ns >= 0 ? (ns + 500) / 1000 : (ns - 500) / 1000;
    return (double)us / 1e6;
}

json_t *record_json_time(int64_t ns)
{
    return ns > 0 ? json_real(record_json_seconds(ns)) : json_null();
}

json_t *record_json_endpoint(const net_endpoint_t *e)
{
    if (e->addr.family == 0)
        return json_null();
    char buf[NET_ENDPOINT_STRLEN];
    return json_string(net_endpoint_str(e, buf, sizeof(buf)));
}

json_t *record_json_text(const char *p, size_t n)
{
    json_t *s = json_stringn(p, n);
    if (s != NULL)
        return s;
    char *copy = malloc(n + 1);
    if (copy == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        copy[i] = ((unsigned char)p[i] >= 0x80 || p[i] == '\0') ? '?' : p[i];
    s = json_stringn(copy, n);
    free(copy);
    return s;
}

/* Round to 3 decimals, as tshark prints, so reports diff cleanly. */
static json_t *ms_json(double v)
{
    return json_real((double)(int64_t)(v * 1000.0 + (v >= 0 ? 0.5 : -0.5)) / 1000.0);
}

static json_t *string_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

/* The text of the REC_RAW member at offset (the REC_RAW_LEN field follows it in the list). */
static sv_t raw_text(const record_desc_t *d, const void *rec, uint32_t offset)
{
    for (size_t i = 0; i + 1 < d->n_fields; i++) {
        const record_field_t *f = &d->fields[i];
        if (f->kind == REC_RAW && !(f->flags & REC_F_VIRTUAL) && f->offset == offset) {
            const char *p = record_get_str(rec, f);
            size_t n = p != NULL ? (size_t)record_get_int(rec, &d->fields[i + 1]) : 0;
            return sv_make(p, n);
        }
    }
    return SV_NULL;
}

/* The first line of a message, at most SUMMARY_MAX bytes. */
static json_t *summary_json(sv_t raw)
{
    size_t n = 0;
    while (n < raw.len && n < SUMMARY_MAX && raw.p[n] != '\r' && raw.p[n] != '\n')
        n++;
    return record_json_text(raw.p != NULL ? raw.p : "", n);
}

/* Does the message carry an SDP body (RFC 8866 bodies start with "v=")? */
static bool has_sdp(sv_t raw)
{
    if (raw.p == NULL)
        return false;
    for (size_t i = 0; i + 5 < raw.len; i++) {
        if (memcmp(raw.p + i, "\r\n\r\n", 4) == 0)
            return raw.p[i + 4] == 'v' && raw.p[i + 5] == '=';
    }
    return false;
}

static json_t *indicators_json(uint32_t bits)
{
    json_t *a = json_array();
    for (int d = 0; a != NULL && d < ALERT_DET_COUNT; d++) {
        if (bits & (1u << d))
            json_array_append_new(a, json_string(alert_detector_name((alert_detector_t)d)));
    }
    return a;
}

/* The known ids (> 0) among the first n of the array. */
static json_t *ids_json(const void *rec, const record_field_t *f, uint32_t n)
{
    json_t *a = json_array();
    int64_t v;
    for (uint32_t i = 0; a != NULL && i < n && i < f->size / sizeof(v); i++) {
        memcpy(&v, (const char *)rec + f->offset + i * sizeof(v), sizeof(v));
        if (v > 0)
            json_array_append_new(a, json_integer(v));
    }
    return a;
}

/* A JSON array's text as the array; NULL, "" or anything but an array reads as []. */
static json_t *reasons_json(const char *text)
{
    json_t *a =
        text != NULL && text[0] != '\0' ? json_loads(text, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (a != NULL && json_is_array(a))
        return a;
    json_decref(a);
    return json_array();
}

/* State of one pass over the fields. */
typedef struct {
    const record_desc_t *d;
    const void *rec;
    unsigned opts;
    uint32_t count;  /* of the last REC_COUNT_OF */
    json_t *group;   /* where REC_F_GROUP fields go: an object, the record's, or NULL (none) */
    bool group_null; /* an inline group that is absent: its fields are null */
    bool oom;
} writer_t;

/* The JSON value of field f (a new reference, NULL when jansson refuses it); NULL with *skip for
 * a field that has no key in this shape. */
static json_t *value_json(writer_t *w, const record_field_t *f, bool *skip)
{
    const void *rec = w->rec;
    *skip = false;
    switch ((rec_kind_t)f->kind) {
        case REC_INT:
        case REC_UINT:
            return json_integer((json_int_t)record_get_int(rec, f));
        case REC_BOOL:
            return json_boolean(record_get_bool(rec, f));
        case REC_F64:
            return json_real(record_get_double(rec, f));
        case REC_MS3:
            return ms_json(record_get_double(rec, f));
        case REC_MS3_OPT: {
            double v = record_get_double(rec, f);
            return v >= 0 ? ms_json(v) : json_null();
        }
        case REC_MOS: {
            double v = record_get_double(rec, f);
            return v > 0 ? json_real(v) : json_null();
        }
        case REC_MOS2:
            return json_real((double)(int64_t)(record_get_double(rec, f) * 100 + 0.5) / 100.0);
        case REC_STR:
            return string_or_null(record_get_str(rec, f));
        case REC_STR_EMPTY: {
            const char *s = record_get_str(rec, f);
            return json_string(s != NULL ? s : "");
        }
        case REC_RAW: {
            if (!(w->opts & RECORD_JSON_RAW)) {
                *skip = true;
                return NULL;
            }
            sv_t raw = raw_text(w->d, rec, f->offset);
            json_t *t = record_json_text(raw.p != NULL ? raw.p : "", raw.len);
            return t != NULL ? t : json_string("");
        }
        case REC_TIME:
            return record_json_time(record_get_int(rec, f));
        case REC_SPAN_MS: {
            int64_t ns = record_get_int(rec, f);
            return ns >= 0 ? ms_json((double)ns / 1e6) : json_null();
        }
        case REC_SPAN_S: {
            int64_t ns = record_get_int(rec, f);
            return ns >= 0 ? json_real(record_json_seconds(ns)) : json_null();
        }
        case REC_ENDPOINT:
            return record_json_endpoint(record_member(rec, f));
        case REC_ADDR: {
            const net_addr_t *a = record_member(rec, f);
            char buf[NET_ADDR_STRLEN];
            return a->family ? json_string(net_addr_str(a, buf, sizeof(buf))) : json_null();
        }
        case REC_CALL_STATE:
            return json_string(call_state_name((call_state_t)record_get_int(rec, f)));
        case REC_ALERT_TYPE:
            return json_string(alert_type_name((alert_type_t)record_get_int(rec, f)));
        case REC_VERDICT:
            return json_string(verdict_name((verdict_t)record_get_int(rec, f)));
        case REC_REASONS:
            return reasons_json(record_get_str(rec, f));
        case REC_STATUS:
        case REC_ROW: {
            int64_t v = record_get_int(rec, f);
            return v > 0 ? json_integer(v) : json_null();
        }
        case REC_SSRC: {
            char buf[16];
            snprintf(buf, sizeof(buf), "0x%08x", (unsigned)record_get_int(rec, f));
            return json_string(buf);
        }
        case REC_TRANSPORT:
            return json_string(record_get_int(rec, f) == 6 ? "tcp" : "udp");
        case REC_INDICATORS:
            return indicators_json((uint32_t)record_get_int(rec, f));
        case REC_ID_ARRAY:
            return ids_json(rec, f, w->count);
        case REC_OUTCOME:
            return json_string(registration_outcome((uint16_t)record_get_int(rec, f)));
        case REC_SUMMARY:
            return summary_json(raw_text(w->d, rec, f->offset));
        case REC_HAS_SDP:
            return json_boolean(has_sdp(raw_text(w->d, rec, f->offset)));
        case REC_PRESENT:
        case REC_COUNT_OF:
        case REC_RAW_LEN:
        case REC_TIME_ARRAY:
        case REC_KIND_COUNT:
            break;
    }
    *skip = true;
    return NULL;
}

/* A REC_PRESENT field opens its group. */
static void open_group(writer_t *w, json_t *o, const record_field_t *f)
{
    bool present = record_get_bool(w->rec, f);
    w->group_null = false;
    if (f->name == NULL) {
        w->group = o;
        w->group_null = !present;
    } else if (present) {
        w->group = json_object();
        if (w->group == NULL)
            w->oom = true;
        json_object_set_new(o, f->name, w->group);
    } else {
        w->group = NULL;
    }
}

static void add_field(writer_t *w, json_t *o, const record_field_t *f)
{
    if (f->kind == REC_COUNT_OF) {
        w->count = (uint32_t)record_get_int(w->rec, f);
        return;
    }
    if (f->kind == REC_PRESENT) {
        open_group(w, o, f);
        return;
    }
    if (f->name == NULL)
        return;
    json_t *into = o;
    if (f->flags & REC_F_GROUP) {
        into = w->group;
        if (into == NULL)
            return; /* an object group that is absent */
        if (w->group_null) {
            json_object_set_new(into, f->name, json_null());
            return;
        }
    }
    bool skip;
    json_t *v = value_json(w, f, &skip);
    if (skip)
        return;
    if (v == NULL &&
        (f->kind == REC_INDICATORS || f->kind == REC_ID_ARRAY || f->kind == REC_REASONS))
        w->oom = true;
    json_object_set_new(into, f->name, v);
}

int record_json_add(json_t *o, const record_desc_t *d, const void *rec, unsigned opts)
{
    writer_t w = {.d = d, .rec = rec, .opts = opts};
    for (size_t i = 0; i < d->n_fields; i++) {
        if (!(d->fields[i].flags & REC_F_API_TAIL))
            add_field(&w, o, &d->fields[i]);
    }
    /* Row ids last: the API added them to the report's shape, so that is where they are. */
    for (size_t i = 0; (opts & RECORD_JSON_API) && i < d->n_fields; i++) {
        if (d->fields[i].flags & REC_F_API_TAIL)
            add_field(&w, o, &d->fields[i]);
    }
    return w.oom ? -ENOMEM : 0;
}

json_t *record_json(const record_desc_t *d, const void *rec, unsigned opts)
{
    json_t *o = json_object();
    if (o != NULL && record_json_add(o, d, rec, opts) != 0) {
        json_decref(o);
        o = NULL;
    }
    return o;
}
