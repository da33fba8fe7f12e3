/* openapi: the record schemas of the OpenAPI description, generated from the records'
 * descriptors and merged into the embedded web/openapi.json once, when first served. */
#include "openapi.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "api_int.h"

/* ---- One property per field, from its kind. */

/* What a kind's JSON value looks like, said after the field's own description. */
static const char *kind_note(unsigned kind)
{
    switch (kind) {
        case REC_TIME:
            return "Unix epoch seconds with microseconds; null when none";
        case REC_SPAN_MS:
            return "milliseconds, 3 decimals; null when unknown";
        case REC_SPAN_S:
            return "seconds with microseconds; null when unknown";
        case REC_MS3:
            return "milliseconds, 3 decimals";
        case REC_MS3_OPT:
            return "milliseconds, 3 decimals; null when unknown";
        case REC_MOS2:
            return "2 decimals";
        case REC_ENDPOINT:
            return "\"IP:PORT\", IPv6 as \"[IP]:PORT\"; null when none";
        case REC_SSRC:
            return "hexadecimal";
        default:
            return NULL;
    }
}

static bool kind_nullable(const record_field_t *f)
{
    switch (f->kind) {
        case REC_STR:
            return !(f->flags & REC_F_READ_EMPTY); /* read from the store: "" rather than null */
        case REC_MS3_OPT:
        case REC_MOS:
        case REC_TIME:
        case REC_SPAN_MS:
        case REC_SPAN_S:
        case REC_ENDPOINT:
        case REC_ADDR:
        case REC_STATUS:
        case REC_ROW:
            return true;
        default:
            return false;
    }
}

/* An array of the names f(0) .. f(n - 1), each once. */
static json_t *names_enum(const char *(*name)(int i), int n)
{
    json_t *a = json_array();
    for (int i = 0; a != NULL && i < n; i++) {
        const char *s = name(i);
        bool seen = false;
        size_t k;
        json_t *v;
        json_array_foreach (a, k, v)
            seen = seen || strcmp(json_string_value(v), s) == 0;
        if (!seen)
            json_array_append_new(a, json_string(s));
    }
    return a;
}

static const char *state_at(int i)
{
    return call_state_name((call_state_t)i);
}

static const char *verdict_at(int i)
{
    return verdict_name((verdict_t)i);
}

/* One entry of a call's reasons (correlator/verdict.c writes them, docs/verdict.md). */
static json_t *reason_schema(void)
{
    return json_pack(
        "{s:s, s:[s,s,s,s,s,s], s:{s:{s:s}, s:{s:s}, s:{s:s, s:s, s:b}, s:{s:s, s:s, s:b}, "
        "s:{s:s, s:s, s:b}, s:{s:s, s:b}, s:{s:s, s:s, s:b}}}",
        "type", "object", "required", "code", "text", "stream", "message", "figure", "value",
        "properties", "code", "type", "string", "text", "type", "string", "stream", "type",
        "integer", "format", "int64", "nullable", 1, "message", "type", "integer", "format",
        "int64", "nullable", 1, "message_time", "type", "number", "format", "double", "nullable", 1,
        "figure", "type", "string", "nullable", 1, "value", "type", "number", "format", "double",
        "nullable", 1);
}

static const char *type_at(int i)
{
    return alert_type_name((alert_type_t)i);
}

static const char *detector_at(int i)
{
    return alert_detector_name((alert_detector_t)i);
}

static const char *transport_at(int i)
{
    return i == 0 ? "udp" : "tcp"; /* REC_TRANSPORT: 6 is tcp, anything else udp */
}

/* registration_outcome of a status of each class it tells apart. */
static const char *outcome_at(int i)
{
    static const uint16_t statuses[] = {200, 401, 403, 0, 500};
    return registration_outcome(statuses[i]);
}

/* "type" (and "format") of a kind. */
static void set_type(json_t *p, const record_field_t *f)
{
    const char *type = "string", *format = NULL;
    switch ((rec_kind_t)f->kind) {
        case REC_INT:
        case REC_UINT:
        case REC_STATUS:
        case REC_ROW:
            type = "integer";
            /* Unsigned 32-bit values go beyond int32. */
            format = f->size == 8 || (f->size == 4 && f->kind == REC_UINT) ? "int64" : "int32";
            break;
        case REC_BOOL:
        case REC_HAS_SDP:
            type = "boolean";
            break;
        case REC_F64:
        case REC_MS3:
        case REC_MS3_OPT:
        case REC_MOS:
        case REC_MOS2:
        case REC_TIME:
        case REC_SPAN_MS:
        case REC_SPAN_S:
            type = "number";
            format = "double";
            break;
        case REC_INDICATORS:
        case REC_ID_ARRAY:
        case REC_REASONS:
            type = "array";
            break;
        default:
            break;
    }
    json_object_set_new(p, "type", json_string(type));
    if (format != NULL)
        json_object_set_new(p, "format", json_string(format));
}

static json_t *field_schema(const record_field_t *f)
{
    json_t *p = json_object();
    if (p == NULL)
        return NULL;
    set_type(p, f);
    if (kind_nullable(f))
        json_object_set_new(p, "nullable", json_true());
    switch ((rec_kind_t)f->kind) {
        case REC_CALL_STATE:
            json_object_set_new(p, "enum", names_enum(state_at, CALL_STATE_COUNT));
            break;
        case REC_ALERT_TYPE:
            json_object_set_new(p, "enum", names_enum(type_at, ALERT_TYPE_COUNT));
            break;
        case REC_VERDICT:
            json_object_set_new(p, "enum", names_enum(verdict_at, VERDICT_COUNT));
            break;
        case REC_REASONS:
            json_object_set_new(p, "items", reason_schema());
            break;
        case REC_TRANSPORT:
            json_object_set_new(p, "enum", names_enum(transport_at, 2));
            break;
        case REC_OUTCOME:
            json_object_set_new(p, "enum", names_enum(outcome_at, 5));
            break;
        case REC_INDICATORS:
            json_object_set_new(p, "items",
                                json_pack("{s:s, s:o}", "type", "string", "enum",
                                          names_enum(detector_at, ALERT_DET_COUNT)));
            break;
        case REC_ID_ARRAY:
            json_object_set_new(p, "items",
                                json_pack("{s:s, s:s}", "type", "integer", "format", "int64"));
            break;
        case REC_SSRC:
            json_object_set_new(p, "pattern", json_string("^0x[0-9a-f]{8}$"));
            json_object_set_new(p, "example", json_string("0x1a2b3c4d"));
            break;
        case REC_ENDPOINT:
            json_object_set_new(p, "example", json_string("192.0.2.10:5060"));
            break;
        case REC_ADDR:
            json_object_set_new(p, "example", json_string("192.0.2.10"));
            break;
        default:
            break;
    }
    const char *note = kind_note(f->kind);
    char doc[512];
    if (note != NULL && snprintf(doc, sizeof(doc), "%s (%s)", f->doc, note) < (int)sizeof(doc))
        json_object_set_new(p, "description", json_string(doc));
    else
        json_object_set_new(p, "description", json_string(f->doc));
    return p;
}

/* ---- A record's schema: the keys record_json writes, in its order (common/record_json.c). */

static json_t *object_schema(const char *doc)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "type", json_string("object"));
    if (doc != NULL)
        json_object_set_new(o, "description", json_string(doc));
    json_object_set_new(o, "properties", json_object());
    json_object_set_new(o, "required", json_array());
    return o;
}

/* A property of schema o, required when it is always there. */
static void add_property(json_t *o, const char *name, json_t *p, bool required)
{
    json_object_set_new(json_object_get(o, "properties"), name, p);
    if (required)
        json_array_append_new(json_object_get(o, "required"), json_string(name));
}

json_t *api_openapi_schema(const record_desc_t *d, bool raw_only)
{
    json_t *o = object_schema(NULL);
    if (o == NULL)
        return NULL;
    json_t *group = NULL;      /* the schema of an object group (borrowed from o) */
    bool inline_group = false; /* in a group of keys of their own, null when absent */
    /* The same two passes as the writer: the row ids (REC_F_API_TAIL) last. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < d->n_fields; i++) {
            const record_field_t *f = &d->fields[i];
            if (((f->flags & REC_F_API_TAIL) != 0) != (pass == 1))
                continue;
            if (f->kind == REC_PRESENT) {
                group = NULL;
                inline_group = f->name == NULL;
                if (!inline_group && !raw_only) {
                    /* There only when present: not required. */
                    group = object_schema(f->doc);
                    add_property(o, f->name, group, false);
                }
                continue;
            }
            if (!(f->flags & REC_F_GROUP)) {
                group = NULL;
                inline_group = false;
            }
            if (f->name == NULL || (f->kind == REC_RAW) != raw_only)
                continue;
            json_t *p = field_schema(f);
            if (inline_group && p != NULL)
                json_object_set_new(p, "nullable", json_true());
            add_property(group != NULL ? group : o, f->name, p, true);
        }
    }
    if (json_array_size(json_object_get(o, "required")) == 0)
        json_object_del(o, "required");
    return o;
}

/* ---- Merging into the embedded document. */

/* hand (a schema object of openapi.json, borrowed, may be NULL) with gen's properties and
 * required keys (gen borrowed). The hand-written properties gen doesn't have come first: they
 * are the keys the record doesn't hold (a message's row id). New reference. */
static json_t *merged(json_t *hand, json_t *gen)
{
    json_t *out = json_object();
    json_t *props = json_object(), *required = json_array();
    json_t *gprops = json_object_get(gen, "properties");
    json_t *greq = json_object_get(gen, "required");
    const char *key;
    json_t *v;
    size_t i;
    json_object_set_new(out, "type", json_string("object"));
    json_object_foreach (hand, key, v) {
        if (strcmp(key, "type") != 0 && strcmp(key, "properties") != 0 &&
            strcmp(key, "required") != 0)
            json_object_set(out, key, v);
    }
    json_object_foreach (json_object_get(hand, "properties"), key, v) {
        if (json_object_get(gprops, key) == NULL)
            json_object_set(props, key, v);
    }
    json_object_update(props, gprops);
    json_array_foreach (json_object_get(hand, "required"), i, v) {
        if (json_object_get(gprops, json_string_value(v)) == NULL)
            json_array_append(required, v);
    }
    json_array_extend(required, greq);
    json_object_set_new(out, "properties", props);
    if (json_array_size(required) > 0)
        json_object_set_new(out, "required", required);
    else
        json_decref(required);
    return out;
}

/* Replace schemas[name] by its merge with gen (taken). */
static void merge_into(json_t *schemas, const char *name, json_t *gen)
{
    json_object_set_new(schemas, name, merged(json_object_get(schemas, name), gen));
    json_decref(gen);
}

/* The embedded document with the generated schemas, as text; NULL on failure. */
static char *build(void)
{
    const api_file_t *f = api_file_find("openapi.json");
    if (f == NULL)
        return NULL;
    json_t *doc = json_loadb((const char *)f->data, f->len, 0, NULL);
    json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
    if (!json_is_object(schemas)) {
        json_decref(doc);
        return NULL;
    }
    for (const record_desc_t *const *d = record_descs; *d != NULL; d++)
        merge_into(schemas, (*d)->schema, api_openapi_schema(*d, false));
    /* RawMessage is a Message with the raw text: the second part of its allOf. */
    json_t *raw =
        json_array_get(json_object_get(json_object_get(schemas, "RawMessage"), "allOf"), 1);
    if (json_is_object(raw)) {
        json_t *gen = api_openapi_schema(&message_record_desc, true);
        json_t *m = merged(raw, gen);
        json_object_clear(raw);
        json_object_update(raw, m);
        json_decref(m);
        json_decref(gen);
    }
    char *text = json_dumps(doc, JSON_INDENT(1) | JSON_REAL_PRECISION(16));
    json_decref(doc);
    return text;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char *doc_text; /* built once, kept for the life of the process */

static void build_once(void)
{
    doc_text = build();
}

const char *api_openapi_doc(size_t *len)
{
    pthread_once(&once, build_once);
    if (doc_text != NULL) {
        if (len != NULL)
            *len = strlen(doc_text);
        return doc_text;
    }
    const api_file_t *f = api_file_find("openapi.json");
    if (len != NULL)
        *len = f ? f->len : 2;
    return f ? (const char *)f->data : "{}";
}
