/* record_desc: the records of records.h as data: one descriptor per field, generated from the
 * same field lists as the structs, for the code that handles every field alike (JSON, the
 * writer's string copies, SQL, OpenAPI). */
#ifndef SIPSCOPE_RECORD_DESC_H
#define SIPSCOPE_RECORD_DESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "records.h"

/* How a value is represented. "null" is JSON null and SQL NULL; the store reads NULL back as
 * the C value that wrote it. */
typedef enum {
    REC_INT,        /* signed integer of the member's size */
    REC_UINT,       /* unsigned integer of the member's size */
    REC_BOOL,       /* JSON true/false, SQL 0/1 */
    REC_F64,        /* double, as is */
    REC_MS3,        /* double in ms; JSON rounded to 3 decimals (as tshark prints) */
    REC_MS3_OPT,    /* REC_MS3, negative (unknown) -> null */
    REC_MOS,        /* double MOS, 0 (no media) -> null */
    REC_MOS2,       /* double MOS; JSON rounded to 2 decimals */
    REC_STR,        /* const char *, NULL -> null */
    REC_STR_EMPTY,  /* const char *, NULL -> "" in JSON; stored NULL, read back as "" */
    REC_RAW,        /* const char * of the next field's (REC_RAW_LEN) bytes, may hold NULs; in
                       JSON only when asked for (RECORD_JSON_RAW) */
    REC_RAW_LEN,    /* uint32_t length of the REC_RAW before it */
    REC_TIME,       /* int64_t ns since the epoch, 0 -> null; JSON epoch seconds rounded to the
                       microsecond, SQL REAL seconds */
    REC_SPAN_MS,    /* int64_t ns as ms (JSON rounded to 3 decimals), negative -> null */
    REC_SPAN_S,     /* int64_t ns as s (JSON rounded to the microsecond), negative -> null */
    REC_ENDPOINT,   /* net_endpoint_t as "IP:PORT" / "[IPv6]:PORT", family 0 -> null */
    REC_ADDR,       /* net_addr_t as "IP", family 0 -> null */
    REC_CALL_STATE, /* call_state_t by name */
    REC_ALERT_TYPE, /* alert_type_t by name */
    REC_STATUS,     /* uint16_t SIP status, 0 -> null */
    REC_ROW,        /* int64_t row id of another record, 0 -> null */
    REC_SSRC,       /* uint32_t; JSON "0x%08x", SQL integer */
    REC_TRANSPORT,  /* uint8_t IP protocol; JSON "tcp" (6) or "udp" */
    REC_PRESENT,    /* bool: the REC_F_GROUP fields after it hold values. With a JSON key they
                       are an object under it, left out when false; without one they are keys
                       of their own, null when false. Not stored: a group's first column is
                       NULL when false. */
    REC_INDICATORS, /* uint32_t bitmask of alert_detector_t, JSON array of detector names */
    REC_COUNT_OF,   /* uint32_t entries used in the array fields after it */
    REC_TIME_ARRAY, /* alert_samples_t of times in ns */
    REC_ID_ARRAY,   /* alert_samples_t of row ids; JSON lists the known ones (> 0) */
    REC_VERDICT,    /* verdict_t by name */
    REC_REASONS,    /* const char * of a JSON array's text (a call's reasons, written by
                       correlator/verdict.c); JSON the array itself (NULL or not an array: []),
                       SQL the text */
    /* Virtual (V entries): JSON values derived from another member. */
    REC_OUTCOME, /* of a REC_STATUS: registration_outcome() */
    REC_SUMMARY, /* of a REC_RAW: its first line, at most 160 bytes */
    REC_HAS_SDP, /* of a REC_RAW: true when the body is SDP (starts with "v=") */
    REC_KIND_COUNT
} rec_kind_t;

/* Flags, or-ed into the kind in the field lists. */
#define REC_KIND_MASK 0xffu
/* Served by the API after the other keys (row ids, the live state of a row); not in the report
 * of analyze --json (whose records are all final). */
#define REC_F_API_TAIL 0x100u
/* In the group of the last REC_PRESENT. */
#define REC_F_GROUP 0x200u
/* A REC_STR read back from a NULL column as "". */
#define REC_F_READ_EMPTY 0x400u
/* A REC_STR stored as '' when NULL. */
#define REC_F_SQL_EMPTY 0x800u
/* A URI whose user part is also stored, in the column named like it with "_user" for "_uri"
 * (calls.from_user). */
#define REC_F_USER_COLUMN 0x1000u
/* Part of the SQL key: a REC_TIME 0 is stored as 0, not NULL. */
#define REC_F_KEY 0x2000u
/* A V entry: offset is that of the member it derives from. */
#define REC_F_VIRTUAL 0x4000u

typedef struct {
    const char *name;   /* JSON key; NULL when not in the JSON shape */
    const char *column; /* SQL column, "$.key" for a key of the row's details JSON, or NULL */
    uint16_t kind;      /* rec_kind_t */
    uint16_t flags;     /* REC_F_* */
    uint32_t offset;    /* of the member in the record (for a virtual field, of the member it
                           derives from) */
    uint32_t size;      /* of that member */
    const char *member; /* C name of the member ("" for a virtual field) */
    const char *doc;    /* one line for the API docs */
} record_field_t;

typedef struct {
    const char *name;   /* "call", "stream", ... */
    const char *schema; /* OpenAPI schema name: "Call", "Stream", ... */
    const record_field_t *fields;
    size_t n_fields;
    size_t size; /* of the record struct */
} record_desc_t;

extern const record_desc_t call_record_desc;
extern const record_desc_t stream_record_desc;
extern const record_desc_t sample_record_desc;
extern const record_desc_t message_record_desc;
extern const record_desc_t registration_record_desc;
extern const record_desc_t alert_record_desc;
extern const record_desc_t dtmf_record_desc;

/* Every descriptor above, NULL-terminated. */
extern const record_desc_t *const record_descs[];

/* The field of d whose JSON key or member is name, or NULL. Borrowed. */
const record_field_t *record_field_find(const record_desc_t *d, const char *name);

/* Members by type; f must be of a kind of that C type. */
static inline const void *record_member(const void *rec, const record_field_t *f)
{
    return (const char *)rec + f->offset;
}

/* Signed integer kinds; the other integer kinds are unsigned (enums included: gcc and clang
 * make ours unsigned int). */
static inline bool record_kind_is_signed(unsigned kind)
{
    return kind == REC_INT || kind == REC_TIME || kind == REC_SPAN_MS || kind == REC_SPAN_S ||
           kind == REC_ROW;
}

/* An integer member of size bytes at p, as int64_t: unsigned 64-bit values above INT64_MAX
 * wrap, as a cast would. Inline so that a caller with a constant size or sign keeps one load. */
static inline int64_t record_load_int(const void *p, size_t size, bool sign)
{
    switch (size) {
        case 8: {
            int64_t v;
            memcpy(&v, p, sizeof(v));
            return v;
        }
        case 4: {
            uint32_t v;
            memcpy(&v, p, sizeof(v));
            return sign ? (int64_t)(int32_t)v : (int64_t)v;
        }
        case 2: {
            uint16_t v;
            memcpy(&v, p, sizeof(v));
            return sign ? (int64_t)(int16_t)v : (int64_t)v;
        }
        case 1: {
            uint8_t v;
            memcpy(&v, p, sizeof(v));
            return sign ? (int64_t)(int8_t)v : (int64_t)v;
        }
        default:
            return 0;
    }
}

/* Integer members of any size (REC_INT, REC_UINT and the integer-valued kinds), as int64_t. */
static inline int64_t record_get_int(const void *rec, const record_field_t *f)
{
    return record_load_int(record_member(rec, f), f->size, record_kind_is_signed(f->kind));
}

/* Store v in an integer member of f's size (REC_BOOL and REC_PRESENT as 0/1). */
static inline void record_set_int(void *rec, const record_field_t *f, int64_t v)
{
    char *p = (char *)rec + f->offset;
    if (f->kind == REC_BOOL || f->kind == REC_PRESENT)
        v = v != 0;
    switch (f->size) {
        case 8:
            memcpy(p, &v, sizeof(v));
            break;
        case 4: {
            uint32_t u = (uint32_t)v;
            memcpy(p, &u, sizeof(u));
            break;
        }
        case 2: {
            uint16_t u = (uint16_t)v;
            memcpy(p, &u, sizeof(u));
            break;
        }
        case 1: {
            uint8_t u = (uint8_t)v;
            memcpy(p, &u, sizeof(u));
            break;
        }
        default:
            break;
    }
}

static inline double record_get_double(const void *rec, const record_field_t *f)
{
    double v;
    memcpy(&v, record_member(rec, f), sizeof(v));
    return v;
}

static inline const char *record_get_str(const void *rec, const record_field_t *f)
{
    const char *s;
    memcpy(&s, record_member(rec, f), sizeof(s));
    return s;
}

static inline void record_set_str(void *rec, const record_field_t *f, const char *s)
{
    memcpy((char *)rec + f->offset, &s, sizeof(s));
}

static inline bool record_get_bool(const void *rec, const record_field_t *f)
{
    bool b;
    memcpy(&b, record_member(rec, f), sizeof(b));
    return b;
}

/* Kinds whose member is a const char * (REC_STR, REC_STR_EMPTY, REC_RAW, REC_REASONS). */
static inline bool record_kind_is_string(unsigned kind)
{
    return kind == REC_STR || kind == REC_STR_EMPTY || kind == REC_RAW || kind == REC_REASONS;
}

/* ---- The string members of a record, for code that copies them (store/writer.c): the
 * descriptor's REC_STR, REC_STR_EMPTY and REC_RAW members (not virtual fields), in list order,
 * found once so that a copy walks its 2-6 strings instead of every field. */

/* len_offset of a NUL-terminated string. */
#define RECORD_STR_NUL UINT32_MAX
/* The most string members a record may have (checked when the list is built). */
#define RECORD_MAX_STRINGS 8

typedef struct {
    uint32_t offset;     /* of the const char * member */
    uint32_t len_offset; /* REC_RAW: of its uint32_t REC_RAW_LEN member; else RECORD_STR_NUL */
} record_string_t;

typedef struct {
    size_t n;
    record_string_t s[RECORD_MAX_STRINGS];
} record_strings_t;

/* Find the string members of d (a few dozen instructions a field: done once, by whoever copies
 * records often, into storage it keeps). */
void record_strings_init(record_strings_t *out, const record_desc_t *d);

/* The bytes string s of rec takes in a copy: a NUL-terminated string with its NUL, a REC_RAW
 * text its length exactly (it may hold NULs and is not terminated); 0 for NULL. */
static inline size_t record_string_size(const void *rec, const record_string_t *s)
{
    const char *p;
    memcpy(&p, (const char *)rec + s->offset, sizeof(p));
    if (p == NULL)
        return 0;
    if (s->len_offset == RECORD_STR_NUL)
        return strlen(p) + 1;
    uint32_t n;
    memcpy(&n, (const char *)rec + s->len_offset, sizeof(n));
    return n;
}

#endif
