/* record_desc: the descriptor tables of the records, generated from the field lists of
 * records.h, with a compile-time check that each member's C type suits its kind. */
#include "record_desc.h"

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "defs.h"

/* ---- The check: a type code per C type (_Generic), a mask of the codes each kind accepts.
 * Enums are compatible with an integer type of the compiler's choosing (unsigned int for ours
 * in gcc and clang), so they are matched as that. */
enum {
    TY_I64 = 1 << 0,
    TY_U64 = 1 << 1,
    TY_I32 = 1 << 2,
    TY_U32 = 1 << 3,
    TY_U16 = 1 << 4,
    TY_U8 = 1 << 5,
    TY_BOOL = 1 << 6,
    TY_F64 = 1 << 7,
    TY_STR = 1 << 8,
    TY_EP = 1 << 9,
    TY_ADDR = 1 << 10,
    TY_I64_ARRAY = 1 << 11, /* an array member, converted to a pointer to its first element */
};

#define TYPE_CODE(e)                                                                               \
    _Generic((e), int64_t: TY_I64, uint64_t: TY_U64, int32_t: TY_I32, uint32_t: TY_U32,            \
        uint16_t: TY_U16, uint8_t: TY_U8, bool: TY_BOOL, double: TY_F64, const char *: TY_STR,     \
        net_endpoint_t: TY_EP, net_addr_t: TY_ADDR, int64_t *: TY_I64_ARRAY, default: 0)

#define K_(k) ((k)&REC_KIND_MASK)
/* clang-format off */
#define KIND_TYPES(k)                                                                              \
    (K_(k) == REC_INT                                  ? TY_I64 | TY_I32                           \
     : K_(k) == REC_UINT                               ? TY_U64 | TY_U32 | TY_U16 | TY_U8          \
     : K_(k) == REC_BOOL || K_(k) == REC_PRESENT       ? TY_BOOL                                   \
     : K_(k) == REC_F64 || K_(k) == REC_MS3 || K_(k) == REC_MS3_OPT || K_(k) == REC_MOS ||         \
             K_(k) == REC_MOS2                         ? TY_F64                                    \
     : K_(k) == REC_STR || K_(k) == REC_STR_EMPTY || K_(k) == REC_RAW ||                           \
             K_(k) == REC_REASONS                      ? TY_STR                                    \
     : K_(k) == REC_TIME || K_(k) == REC_SPAN_MS || K_(k) == REC_SPAN_S || K_(k) == REC_ROW        \
                                                       ? TY_I64                                    \
     : K_(k) == REC_ENDPOINT                           ? TY_EP                                     \
     : K_(k) == REC_ADDR                               ? TY_ADDR                                   \
     : K_(k) == REC_CALL_STATE || K_(k) == REC_ALERT_TYPE ||                                       \
             K_(k) == REC_VERDICT                      ? TY_U32 | TY_I32                           \
     : K_(k) == REC_STATUS                             ? TY_U16                                    \
     : K_(k) == REC_TRANSPORT                          ? TY_U8                                     \
     : K_(k) == REC_SSRC || K_(k) == REC_INDICATORS || K_(k) == REC_COUNT_OF ||                    \
             K_(k) == REC_RAW_LEN                      ? TY_U32                                    \
     : K_(k) == REC_TIME_ARRAY || K_(k) == REC_ID_ARRAY ? TY_I64_ARRAY                             \
                                                       : 0)
/* clang-format on */

/* Virtual kinds and the kinds of the members they derive from. */
#define VIRTUAL_OF(k)                                                                              \
    (K_(k) == REC_OUTCOME                           ? REC_STATUS                                   \
     : K_(k) == REC_SUMMARY || K_(k) == REC_HAS_SDP ? REC_RAW                                      \
                                                    : REC_KIND_COUNT)

/* ---- Generators: REC_T is the record type of the list being expanded. */
#define FIELD(type, member, k, json, column, doc)                                                  \
    {json,                                                                                         \
     column,                                                                                       \
     K_(k),                                                                                        \
     (k) & ~REC_KIND_MASK,                                                                         \
     offsetof(REC_T, member),                                                                      \
     sizeof(((REC_T *)0)->member),                                                                 \
     #member,                                                                                      \
     doc},
#define VIRTUAL(of, k, json, doc)                                                                  \
    {json,                                                                                         \
     NULL,                                                                                         \
     K_(k),                                                                                        \
     ((k) & ~REC_KIND_MASK) | REC_F_VIRTUAL,                                                       \
     offsetof(REC_T, of),                                                                          \
     sizeof(((REC_T *)0)->of),                                                                     \
     "",                                                                                           \
     doc},

#define CHECK(type, member, k, json, column, doc)                                                  \
    _Static_assert(KIND_TYPES(k) & TYPE_CODE(((REC_T *)0)->member),                                \
                   "the kind of " #member " does not suit its C type");
#define CHECK_VIRTUAL(of, k, json, doc)                                                            \
    _Static_assert(VIRTUAL_OF(k) != REC_KIND_COUNT, "not a virtual kind: " #k);

/* record_strings_t holds every string member of a record: const char * members are exactly
 * those of the string kinds (the check above). */
#define COUNT_STR(type, member, k, json, column, doc) +(TYPE_CODE(((REC_T *)0)->member) == TY_STR)
#define COUNT_NONE(of, k, json, doc)
#define CHECK_STRINGS(list)                                                                        \
    _Static_assert((0 list(COUNT_STR, COUNT_NONE)) <= RECORD_MAX_STRINGS,                          \
                   "more string members than RECORD_MAX_STRINGS");

#define DESC(var, rec_name, schema_name, fields)                                                   \
    const record_desc_t var = {rec_name, schema_name, fields, ARRAY_LEN(fields), sizeof(REC_T)};

#define REC_T call_record_t
static const record_field_t call_fields[] = {CALL_RECORD_FIELDS(FIELD, VIRTUAL)};
CALL_RECORD_FIELDS(CHECK, CHECK_VIRTUAL)
CHECK_STRINGS(CALL_RECORD_FIELDS)
DESC(call_record_desc, "call", "Call", call_fields)
#undef REC_T

#define REC_T stream_record_t
static const record_field_t stream_fields[] = {STREAM_RECORD_FIELDS(FIELD, VIRTUAL)};
STREAM_RECORD_FIELDS(CHECK, CHECK_VIRTUAL)
CHECK_STRINGS(STREAM_RECORD_FIELDS)
DESC(stream_record_desc, "stream", "Stream", stream_fields)
#undef REC_T

#define REC_T sample_record_t
static const record_field_t sample_fields[] = {SAMPLE_RECORD_FIELDS(FIELD, VIRTUAL)};
SAMPLE_RECORD_FIELDS(CHECK, CHECK_VIRTUAL)
CHECK_STRINGS(SAMPLE_RECORD_FIELDS)
DESC(sample_record_desc, "sample", "Sample", sample_fields)
#undef REC_T

#define REC_T message_record_t
static const record_field_t message_fields[] = {MESSAGE_RECORD_FIELDS(FIELD, VIRTUAL)};
MESSAGE_RECORD_FIELDS(CHECK, CHECK_VIRTUAL)
CHECK_STRINGS(MESSAGE_RECORD_FIELDS)
DESC(message_record_desc, "message", "Message", message_fields)
#undef REC_T

#define REC_T registration_record_t
static const record_field_t registration_fields[] = {REGISTRATION_RECORD_FIELDS(FIELD, VIRTUAL)};
REGISTRATION_RECORD_FIELDS(CHECK, CHECK_VIRTUAL)
CHECK_STRINGS(REGISTRATION_RECORD_FIELDS)
DESC(registration_record_desc, "registration", "Registration", registration_fields)
#undef REC_T

#define REC_T alert_record_t
static const record_field_t alert_fields[] = {ALERT_RECORD_FIELDS(FIELD, VIRTUAL)};
ALERT_RECORD_FIELDS(CHECK, CHECK_VIRTUAL)
CHECK_STRINGS(ALERT_RECORD_FIELDS)
DESC(alert_record_desc, "alert", "Alert", alert_fields)
#undef REC_T

#define REC_T dtmf_record_t
static const record_field_t dtmf_fields[] = {DTMF_RECORD_FIELDS(FIELD, VIRTUAL)};
DTMF_RECORD_FIELDS(CHECK, CHECK_VIRTUAL)
CHECK_STRINGS(DTMF_RECORD_FIELDS)
DESC(dtmf_record_desc, "dtmf", "Dtmf", dtmf_fields)
#undef REC_T

const record_desc_t *const record_descs[] = {
    &call_record_desc,         &stream_record_desc, &sample_record_desc, &message_record_desc,
    &registration_record_desc, &alert_record_desc,  &dtmf_record_desc,   NULL,
};

const record_field_t *record_field_find(const record_desc_t *d, const char *name)
{
    for (size_t i = 0; i < d->n_fields; i++) {
        const record_field_t *f = &d->fields[i];
        if ((f->name != NULL && strcmp(f->name, name) == 0) || strcmp(f->member, name) == 0)
            return f;
    }
    return NULL;
}

void record_strings_init(record_strings_t *out, const record_desc_t *d)
{
    out->n = 0;
    for (size_t i = 0; i < d->n_fields; i++) {
        const record_field_t *f = &d->fields[i];
        if (!record_kind_is_string(f->kind) || (f->flags & REC_F_VIRTUAL))
            continue;
        assert(out->n < RECORD_MAX_STRINGS); /* (checked at compile time: CHECK_STRINGS) */
        record_string_t *s = &out->s[out->n++];
        s->offset = f->offset;
        s->len_offset = RECORD_STR_NUL;
        if (f->kind == REC_RAW) {
            /* Its length is the REC_RAW_LEN field right after it. */
            assert(i + 1 < d->n_fields && d->fields[i + 1].kind == REC_RAW_LEN);
            s->len_offset = d->fields[i + 1].offset;
        }
    }
}
