/* store_write: calls, streams, samples and messages into the batch, their statements and binds
 * (and those of registrations and alerts, for security.c) generated from the records'
 * descriptors; the capture totals. */
#include "store.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "defs.h"
#include "record_desc.h"
#include "store_int.h"
#include "sv.h"

/* The user part of a SIP/SIPS/TEL URI: "sip:alice:pw@host;x" -> "alice",
 * "sip:+1555;npdi@host" -> "+1555", "tel:+1555;phone-context=x" -> "+1555", "sip:host" -> "".
 * Tolerates a name-addr ("Bob <sip:bob@x>"). A view into uri; empty if none. */
static sv_t uri_user(const char *uri)
{
    sv_t s = sv_from_cstr(uri);
    size_t lt = sv_index(s, '<');
    if (lt != SIZE_MAX)
        s = sv_slice(s, lt + 1, SIZE_MAX);
    s = sv_trim(s);
    size_t colon = sv_index(s, ':');
    bool tel = false;
    if (colon != SIZE_MAX) {
        sv_t scheme = sv_slice(s, 0, colon);
        if (sv_eq_ci(scheme, "sip") || sv_eq_ci(scheme, "sips") || sv_eq_ci(scheme, "tel")) {
            tel = sv_eq_ci(scheme, "tel");
            s = sv_slice(s, colon + 1, SIZE_MAX);
        }
    }
    /* The userinfo ends at the first '@' before any header part or closing '>'. */
    size_t end = 0;
    while (end < s.len && s.p[end] != '@' && s.p[end] != '>' && s.p[end] != '?')
        end++;
    sv_t user;
    if (end < s.len && s.p[end] == '@')
        user = sv_slice(s, 0, end);
    else if (tel)
        user = sv_slice(s, 0, end);
    else
        return sv_make(s.p, 0);
    /* Drop a password (':') and user parameters (';'). */
    size_t cut = 0;
    while (cut < user.len && user.p[cut] != ':' && user.p[cut] != ';')
        cut++;
    return sv_slice(user, 0, cut);
}

/* ---- Statements from the descriptors (common/record_desc.h). A record's columns are its fields'
 * columns in list order, a REC_F_USER_COLUMN URI followed by its user column, then its details
 * column when it has "$.key" fields; the schema (schema.c) must have them all. */

/* An update of the upsert other than "column = excluded.column". */
typedef struct {
    const char *column;
    const char *expr;
} put_set_t;

typedef struct {
    int which; /* ST_* */
    const record_desc_t *desc;
    const char *table;
    const char *verb;     /* "INSERT" or "INSERT OR REPLACE" */
    const char *key;      /* the upsert's conflict columns ("a, b"), NULL for none */
    const char *rowid;    /* a column SQLite assigns: never written; NULL for none */
    const put_set_t *set; /* exceptions to "c = excluded.c", ended by {NULL}; or NULL */
    const char *where;    /* the condition of the upsert's update, or NULL */
} put_table_t;

/* A later analysis of an earlier capture must not roll a binding back: the row changes only
 * for a record at least as recent as what it holds (first_time only ever moves earlier). */
static const put_set_t registration_set[] = {
    {"first_time", "min(coalesce(registrations.first_time, excluded.first_time),"
                   " coalesce(excluded.first_time, registrations.first_time))"},
    {NULL, NULL},
};

/* Calls and streams are rewritten as they change: UPSERT rather than INSERT OR REPLACE, same
 * result for the caller, but REPLACE deletes and re-inserts the row (touching every index
 * entry), while DO UPDATE rewrites it in place. A sample's interval is written once (REPLACE
 * only for a repeated one), a message only ever inserted (its row id is new). A registration
 * is one per binding (its row id SQLite's), an alert one per id (the security monitor's). */
enum { PUT_CALL, PUT_STREAM, PUT_SAMPLE, PUT_MESSAGE, PUT_REGISTRATION, PUT_ALERT, PUT_DTMF };

static const put_table_t put_tables[] = {
    [PUT_CALL] = {ST_PUT_CALL, &call_record_desc, "calls", "INSERT", "id", NULL, NULL, NULL},
    [PUT_STREAM] = {ST_PUT_STREAM, &stream_record_desc, "rtp_streams", "INSERT", "id", NULL, NULL,
                    NULL},
    [PUT_SAMPLE] = {ST_PUT_SAMPLE, &sample_record_desc, "stream_samples", "INSERT OR REPLACE", NULL,
                    NULL, NULL, NULL},
    [PUT_MESSAGE] = {ST_PUT_MESSAGE, &message_record_desc, "sip_messages", "INSERT", NULL, NULL,
                     NULL, NULL},
    [PUT_REGISTRATION] =
        {ST_PUT_REGISTRATION, &registration_record_desc, "registrations", "INSERT", "aor, contact",
         "id", registration_set,
         "coalesce(excluded.last_time, 0) >= coalesce(registrations.last_time, 0)"},
    [PUT_ALERT] = {ST_PUT_ALERT, &alert_record_desc, "alerts", "INSERT", "id", NULL, NULL, NULL},
    [PUT_DTMF] = {ST_PUT_DTMF, &dtmf_record_desc, "dtmf_events", "INSERT", NULL, NULL, NULL, NULL},
};

#define MAX_COLUMNS 48
#define COLUMN_MAX  48

/* name is one of the columns of list ("a, b, c"). */
static bool in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p != NULL && *p != '\0';) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ", ");
        if (len == n && memcmp(p, name, n) == 0)
            return true;
        p += len;
    }
    return false;
}

/* Field f of p's record is written in a column of its own. */
static bool put_stored(const put_table_t *p, const record_field_t *f)
{
    return store_int_field_stored(f) && !in_list(p->rowid, f->column);
}

/* The SQL value of a field's '?': JSON text (arrays, a details flag) goes in through json() so
 * that it is kept as JSON, not as a string. */
static const char *put_value(const record_field_t *f)
{
    bool json = f->kind == REC_INDICATORS || f->kind == REC_TIME_ARRAY || f->kind == REC_ID_ARRAY ||
                (f->kind == REC_BOOL && store_int_field_detail(f));
    return json ? "json(?)" : "?";
}

/* The columns of p's record in order, with the SQL of their values (NULL for the details
 * column); user columns are written into users. Returns how many. */
static size_t put_columns(const put_table_t *p, const char *names[MAX_COLUMNS],
                          const char *values[MAX_COLUMNS], char users[][COLUMN_MAX])
{
    const record_desc_t *d = p->desc;
    size_t n = 0, nu = 0;
    bool details = false;
    for (size_t i = 0; i < d->n_fields && n + 3 <= MAX_COLUMNS; i++) {
        const record_field_t *f = &d->fields[i];
        details = details || store_int_field_detail(f);
        if (!put_stored(p, f))
            continue;
        values[n] = put_value(f);
        names[n++] = f->column;
        if (f->flags & REC_F_USER_COLUMN) {
            /* "from_uri" -> "from_user" */
            size_t len = strlen(f->column);
            int stem =
                len > 4 && strcmp(f->column + len - 4, "_uri") == 0 ? (int)(len - 4) : (int)len;
            snprintf(users[nu], COLUMN_MAX, "%.*s_user", stem, f->column);
            values[n] = "?";
            names[n++] = users[nu++];
        }
    }
    if (details) {
        values[n] = NULL;
        names[n++] = STORE_DETAILS_COLUMN;
    }
    return n;
}

/* A bounded text that remembers whether everything fitted: the statements' SQL, and the JSON
 * arrays of the security records. */
typedef struct {
    char *buf;
    size_t cap, len;
    bool ok;
} text_t;

__attribute__((format(printf, 2, 3))) static void t_add(text_t *t, const char *f, ...)
{
    if (!t->ok)
        return;
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(t->buf + t->len, t->cap - t->len, f, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= t->cap - t->len)
        t->ok = false;
    else
        t->len += (size_t)n;
}

/* Append the string s. */
static void add(text_t *t, const char *s)
{
    t_add(t, "%s", s);
}

/* "json_object('k', ?, ...)" of d's details keys ("$.k"). */
static void add_details(text_t *t, const record_desc_t *d)
{
    const record_field_t *keys[MAX_COLUMNS];
    size_t n = store_int_details(d, keys, MAX_COLUMNS);
    add(t, "json_object(");
    for (size_t i = 0; i < n; i++) {
        add(t, i ? ", '" : "'");
        add(t, keys[i]->column + 2);
        add(t, "', ");
        add(t, put_value(keys[i]));
    }
    add(t, ")");
}

/* " ON CONFLICT (key) DO UPDATE SET c = excluded.c, ... [WHERE where]" */
static void add_upsert(text_t *t, const put_table_t *p, const char *const *names, size_t n)
{
    add(t, " ON CONFLICT (");
    add(t, p->key);
    add(t, ") DO UPDATE SET ");
    for (size_t i = 0, k = 0; i < n; i++) {
        if (in_list(p->key, names[i]))
            continue;
        const char *expr = NULL;
        for (const put_set_t *e = p->set; e != NULL && e->column != NULL; e++) {
            if (strcmp(e->column, names[i]) == 0)
                expr = e->expr;
        }
        add(t, k++ ? ", " : "");
        add(t, names[i]);
        add(t, expr != NULL ? " = " : " = excluded.");
        add(t, expr != NULL ? expr : names[i]);
    }
    if (p->where != NULL) {
        add(t, " WHERE ");
        add(t, p->where);
    }
}

/* "INSERT INTO t (c, ...) VALUES (?, ...) [ON CONFLICT ...]" */
static bool put_sql(const put_table_t *p, char *buf, size_t cap)
{
    const char *names[MAX_COLUMNS], *values[MAX_COLUMNS];
    char users[MAX_COLUMNS][COLUMN_MAX];
    size_t n = put_columns(p, names, values, users);
    text_t t = {buf, cap, 0, true};
    add(&t, p->verb);
    add(&t, " INTO ");
    add(&t, p->table);
    add(&t, " (");
    for (size_t i = 0; i < n; i++) {
        add(&t, i ? ", " : "");
        add(&t, names[i]);
    }
    add(&t, ") VALUES (");
    for (size_t i = 0; i < n; i++) {
        add(&t, i ? "," : "");
        if (values[i] != NULL)
            add(&t, values[i]);
        else
            add_details(&t, p->desc);
    }
    add(&t, ")");
    if (p->key != NULL)
        add_upsert(&t, p, names, n);
    return t.ok;
}

/* ---- Binds from the descriptors, in the order of put_columns. Each column's step is resolved
 * once from its field (kind, member size, flags), so that a row costs one switch per column
 * and a load of the member's own size. */

typedef enum {
    B_I64,           /* a signed 8-byte integer as is */
    B_U64,           /* an unsigned 8-byte integer, above INT64_MAX as INT64_MAX */
    B_I32,           /* a signed 4-byte integer */
    B_U32,           /* an unsigned 4-byte integer (an SSRC, a count) */
    B_U16,           /* an unsigned 2-byte integer */
    B_U8,            /* an unsigned byte: a payload type, a transport, a bool */
    B_ROW,           /* int64_t row id, 0 -> NULL */
    B_STATUS,        /* uint16_t SIP status, 0 -> NULL */
    B_DBL,           /* a double as is */
    B_MOS,           /* a double, no MOS (0) -> NULL */
    B_MS3_OPT,       /* a double, unknown (negative) -> NULL */
    B_STR,           /* a string, NULL -> NULL */
    B_STR_SQL_EMPTY, /* a string, NULL -> '' */
    B_USER,          /* the user part of the URI string at offset (its own column) */
    B_RAW,           /* a REC_RAW text of the length at aux */
    B_TIME,          /* ns as seconds, 0 -> NULL */
    B_TIME_KEY,      /* ns as seconds, never NULL (part of the key) */
    B_SPAN_MS,       /* ns as ms, negative -> NULL */
    B_SPAN_S,        /* ns as s, negative -> NULL */
    B_ENDPOINT,      /* net_endpoint_t as "IP:PORT", family 0 -> NULL */
    B_CALL_STATE,    /* call_state_t by name */
    B_VERDICT,       /* verdict_t by name */
    B_ALERT_TYPE,    /* alert_type_t by name */
    B_ADDR,          /* net_addr_t as "IP", family 0 -> NULL */
    B_JSON_BOOL,     /* a bool as JSON 'true' / 'false' (a details key) */
    B_INDICATORS,    /* a detector bitmask as a JSON array of names */
    B_TIME_ARRAY,    /* times as a JSON array of seconds; aux: offset of the REC_COUNT_OF */
    B_ID_ARRAY,      /* row ids as a JSON array of the known ones; aux as B_TIME_ARRAY */
    B_GROUP,         /* a REC_PRESENT (no column): when false, the aux steps after it bind NULL */
    B_MISUSE,        /* a kind the store does not keep in a column: fails the row */
} bind_op_t;

typedef struct {
    uint8_t op;      /* bind_op_t */
    uint32_t offset; /* of the member */
    uint32_t aux;    /* B_RAW, B_*_ARRAY: offset of the length; B_GROUP: the steps of the group */
} bind_step_t;

typedef struct {
    size_t n;
    bind_step_t steps[MAX_COLUMNS * 2]; /* a column each, plus the B_GROUP steps */
} bind_plan_t;

/* The integer op for an integer member of size bytes, signed or not. */
static bind_op_t int_op(size_t size, bool sign)
{
    switch (size) {
        case 8:
            return sign ? B_I64 : B_U64;
        case 4:
            return sign ? B_I32 : B_U32;
        case 2:
            return sign ? B_MISUSE : B_U16; /* (no signed 2-byte member: the check of records) */
        case 1:
            return sign ? B_MISUSE : B_U8;
        default:
            return B_MISUSE;
    }
}

/* The REC_COUNT_OF field before field i of d (the entries of the arrays after it), or NULL. */
static const record_field_t *count_of(const record_desc_t *d, size_t i)
{
    while (i-- > 0) {
        if (d->fields[i].kind == REC_COUNT_OF)
            return &d->fields[i];
    }
    return NULL;
}

/* The step binding field i's column (or details key). */
static bind_step_t field_step(const record_desc_t *d, size_t i)
{
    const record_field_t *f = &d->fields[i];
    bind_step_t st = {B_MISUSE, f->offset, 0};
    switch ((rec_kind_t)f->kind) {
        case REC_BOOL: /* (a bool's byte is 0 or 1) */
            st.op = store_int_field_detail(f) ? B_JSON_BOOL : int_op(f->size, false);
            break;
        case REC_INT:
        case REC_UINT:
        case REC_SSRC:
        case REC_TRANSPORT:
            st.op = int_op(f->size, record_kind_is_signed(f->kind));
            break;
        case REC_STATUS:
            st.op = f->size == sizeof(uint16_t) ? B_STATUS : B_MISUSE;
            break;
        case REC_ROW:
            st.op = f->size == sizeof(int64_t) ? B_ROW : B_MISUSE;
            break;
        case REC_F64:
        case REC_MS3:
        case REC_MOS2:
            st.op = B_DBL;
            break;
        case REC_MOS:
            st.op = B_MOS;
            break;
        case REC_MS3_OPT:
            st.op = B_MS3_OPT;
            break;
        case REC_STR:
        case REC_STR_EMPTY:
        case REC_REASONS:
            st.op = (f->flags & REC_F_SQL_EMPTY) ? B_STR_SQL_EMPTY : B_STR;
            break;
        case REC_RAW:
            /* Its length is the REC_RAW_LEN field after it. */
            if (i + 1 < d->n_fields && d->fields[i + 1].kind == REC_RAW_LEN) {
                st.op = B_RAW;
                st.aux = d->fields[i + 1].offset;
            }
            break;
        case REC_TIME:
            st.op = (f->flags & REC_F_KEY) ? B_TIME_KEY : B_TIME;
            break;
        case REC_SPAN_MS:
            st.op = B_SPAN_MS;
            break;
        case REC_SPAN_S:
            st.op = B_SPAN_S;
            break;
        case REC_ENDPOINT:
            st.op = B_ENDPOINT;
            break;
        case REC_CALL_STATE:
            st.op = f->size == sizeof(call_state_t) ? B_CALL_STATE : B_MISUSE;
            break;
        case REC_ALERT_TYPE:
            st.op = f->size == sizeof(alert_type_t) ? B_ALERT_TYPE : B_MISUSE;
            break;
        case REC_VERDICT:
            st.op = f->size == sizeof(verdict_t) ? B_VERDICT : B_MISUSE;
            break;
        case REC_ADDR:
            st.op = B_ADDR;
            break;
        case REC_INDICATORS:
            st.op = f->size == sizeof(uint32_t) ? B_INDICATORS : B_MISUSE;
            break;
        case REC_TIME_ARRAY:
        case REC_ID_ARRAY: {
            const record_field_t *count = count_of(d, i);
            if (count != NULL && count->size == sizeof(uint32_t)) {
                st.op = f->kind == REC_TIME_ARRAY ? B_TIME_ARRAY : B_ID_ARRAY;
                st.aux = count->offset;
            }
            break;
        }
        default:
            /* A kind with no SQL form (REC_PRESENT, lengths, counts, virtual fields): a column
             * of theirs is a mistake in a field list. */
            break;
    }
    return st;
}

/* p's steps, in the order of put_columns: the columns, then the keys of the details column in
 * their order. A group is the run of REC_F_GROUP fields right after its REC_PRESENT; its
 * columns are NULL when the flag is false. */
static void plan_binds(const put_table_t *p, bind_plan_t *plan)
{
    const record_desc_t *d = p->desc;
    size_t group = SIZE_MAX; /* the open group's B_GROUP step */
    plan->n = 0;
    for (size_t i = 0; i < d->n_fields && plan->n + 3 <= ARRAY_LEN(plan->steps); i++) {
        const record_field_t *f = &d->fields[i];
        if (f->kind == REC_PRESENT) {
            group = plan->n;
            plan->steps[plan->n++] = (bind_step_t){B_GROUP, f->offset, 0};
            continue;
        }
        if (!(f->flags & REC_F_GROUP))
            group = SIZE_MAX;
        if (!put_stored(p, f))
            continue;
        size_t first = plan->n;
        plan->steps[plan->n++] = field_step(d, i);
        if (f->flags & REC_F_USER_COLUMN)
            plan->steps[plan->n++] = (bind_step_t){B_USER, f->offset, 0};
        if (group != SIZE_MAX)
            plan->steps[group].aux += (uint32_t)(plan->n - first);
    }
    const record_field_t *keys[MAX_COLUMNS];
    size_t n = store_int_details(d, keys, MAX_COLUMNS);
    for (size_t k = 0; k < n && plan->n < ARRAY_LEN(plan->steps); k++)
        plan->steps[plan->n++] = field_step(d, (size_t)(keys[k] - d->fields));
}

/* Members of the sizes the plan found. */
static inline int64_t m_int(const char *m, size_t size, bool sign)
{
    return record_load_int(m, size, sign);
}

static inline double m_dbl(const char *m)
{
    double v;
    memcpy(&v, m, sizeof(v));
    return v;
}

static inline const char *m_str(const char *m)
{
    const char *p;
    memcpy(&p, m, sizeof(p));
    return p;
}

/* ---- The security records' ops (registrations and alerts: rare, so out of bind_record's
 * switch). Their JSON text is bound as a copy (SQLITE_TRANSIENT): a few hundred bytes, an
 * allocation SQLite makes per alert. */

/* JSON array text of a B_INDICATORS, B_TIME_ARRAY or B_ID_ARRAY member: the detectors' names
 * (plain identifiers, no escaping needed), the times as seconds to the microsecond, the known
 * ids (> 0). */
static void json_array(text_t *t, const bind_step_t *st, const void *rec)
{
    const char *m = (const char *)rec + st->offset;
    t_add(t, "[");
    if (st->op == B_INDICATORS) {
        uint32_t bits = (uint32_t)m_int(m, 4, false);
        for (int d = 0, k = 0; d < ALERT_DET_COUNT; d++) {
            if (bits & (1u << d))
                t_add(t, "%s\"%s\"", k++ ? "," : "", alert_detector_name((alert_detector_t)d));
        }
    } else {
        uint32_t n = (uint32_t)m_int((const char *)rec + st->aux, 4, false);
        for (uint32_t i = 0, k = 0; i < n && i < ALERT_MAX_SAMPLES; i++) {
            int64_t v = m_int(m + i * sizeof(int64_t), 8, true);
            if (st->op == B_TIME_ARRAY)
                t_add(t, "%s%.6f", k++ ? "," : "", store_int_ns_to_sec(v));
            else if (v > 0)
                t_add(t, "%s%lld", k++ ? "," : "", (long long)v);
        }
    }
    t_add(t, "]");
}

static void bind_rare(binder_t *b, const bind_step_t *st, const void *rec)
{
    const char *m = (const char *)rec + st->offset;
    switch ((bind_op_t)st->op) {
        case B_ADDR: {
            net_addr_t a;
            memcpy(&a, m, sizeof(a));
            if (a.family == 0 || b->nep >= (int)ARRAY_LEN(b->ep)) {
                /* (no address; or no room left, which is a mistake in a field list) */
                b_null(b);
                if (a.family != 0)
                    b_rc(b, SQLITE_MISUSE);
                break;
            }
            b_str(b, net_addr_str(&a, b->ep[b->nep++], sizeof(b->ep[0])));
            break;
        }
        case B_ALERT_TYPE:
            b_str(b, alert_type_name((alert_type_t)m_int(m, sizeof(alert_type_t), false)));
            break;
        case B_JSON_BOOL:
            b_str(b, m_int(m, 1, false) ? "true" : "false");
            break;
        case B_INDICATORS:
        case B_TIME_ARRAY:
        case B_ID_ARRAY: {
            char buf[ALERT_MAX_SAMPLES * 24 + 256];
            text_t t = {buf, sizeof(buf), 0, true};
            json_array(&t, st, rec);
            b->i++;
            b_rc(b, t.ok ? sqlite3_bind_text(b->st, b->i, buf, (int)t.len, SQLITE_TRANSIENT)
                         : SQLITE_TOOBIG);
            break;
        }
        default: /* B_MISUSE */
            b->i++;
            b_rc(b, SQLITE_MISUSE);
            break;
    }
}

/* Bind rec's columns by plan. */
static void bind_record(binder_t *b, const bind_plan_t *plan, const void *rec)
{
    const bind_step_t *st = plan->steps, *end = st + plan->n;
    for (; st < end; st++) {
        const char *m = (const char *)rec + st->offset;
        switch ((bind_op_t)st->op) {
            case B_I64:
                b_i64(b, m_int(m, 8, true));
                break;
            case B_U64: /* (read as int64_t, a value above INT64_MAX is negative) */
                b_i64(b, m_int(m, 8, false) < 0 ? INT64_MAX : m_int(m, 8, false));
                break;
            case B_I32:
                b_i64(b, m_int(m, 4, true));
                break;
            case B_U32:
                b_i64(b, m_int(m, 4, false));
                break;
            case B_U16:
                b_i64(b, m_int(m, 2, false));
                break;
            case B_U8:
                b_i64(b, m_int(m, 1, false));
                break;
            case B_ROW:
            case B_STATUS: {
                int64_t v = st->op == B_ROW ? m_int(m, 8, true) : m_int(m, 2, false);
                if (v != 0)
                    b_i64(b, v);
                else
                    b_null(b);
                break;
            }
            case B_DBL:
                b_dbl(b, m_dbl(m));
                break;
            case B_MOS:
            case B_MS3_OPT: {
                double v = m_dbl(m);
                /* no MOS (0), unknown (negative) RTT: NULL */
                if (st->op == B_MOS ? v > 0 : v >= 0)
                    b_dbl(b, v);
                else
                    b_null(b);
                break;
            }
            case B_STR:
                b_str(b, m_str(m));
                break;
            case B_STR_SQL_EMPTY: {
                const char *p = m_str(m);
                b_str(b, p != NULL ? p : "");
                break;
            }
            case B_USER: {
                const char *uri = m_str(m);
                sv_t user = uri_user(uri);
                b_text(b, uri ? user.p : NULL, user.len);
                break;
            }
            case B_RAW: {
                const char *p = m_str(m);
                b_text(b, p, p ? (size_t)m_int((const char *)rec + st->aux, 4, false) : 0);
                break;
            }
            case B_TIME:
                b_time(b, m_int(m, 8, true));
                break;
            case B_TIME_KEY:
                b_dbl(b, store_int_ns_to_sec(m_int(m, 8, true)));
                break;
            case B_SPAN_MS:
            case B_SPAN_S: {
                int64_t ns = m_int(m, 8, true);
                if (ns >= 0)
                    b_dbl(b, (double)ns / (st->op == B_SPAN_MS ? 1e6 : 1e9));
                else
                    b_null(b);
                break;
            }
            case B_ENDPOINT:
                b_endpoint(b, (const net_endpoint_t *)(const void *)m);
                break;
            case B_CALL_STATE:
                b_str(b, call_state_name((call_state_t)m_int(m, sizeof(call_state_t), false)));
                break;
            case B_VERDICT:
                b_str(b, verdict_name((verdict_t)m_int(m, sizeof(verdict_t), false)));
                break;
            case B_GROUP:
                if (!(bool)m_int(m, 1, false)) {
                    for (uint32_t k = 0; k < st->aux; k++)
                        b_null(b);
                    st += st->aux;
                }
                break;
            default:
                bind_rare(b, st, rec);
                break;
        }
    }
}

/* ---- The statements' SQL and bind plans, built once (store_open asks for the SQL of each
 * statement before any row is put). */

static char put_sql_text[ARRAY_LEN(put_tables)][2048];
static bind_plan_t put_plans[ARRAY_LEN(put_tables)];
static pthread_once_t put_sql_once = PTHREAD_ONCE_INIT;

static void build_put_sql(void)
{
    for (size_t i = 0; i < ARRAY_LEN(put_tables); i++) {
        if (!put_sql(&put_tables[i], put_sql_text[i], sizeof(put_sql_text[i])))
            snprintf(put_sql_text[i], sizeof(put_sql_text[i]), "statement too long");
        /* (not SQL: store_open fails to prepare it, loudly) */
        plan_binds(&put_tables[i], &put_plans[i]);
    }
}

const char *store_int_put_sql(int which)
{
    pthread_once(&put_sql_once, build_put_sql);
    for (size_t i = 0; i < ARRAY_LEN(put_tables); i++) {
        if (put_tables[i].which == which)
            return put_sql_text[i];
    }
    return NULL;
}

void store_int_put_bind(binder_t *b, int which, const void *rec)
{
    pthread_once(&put_sql_once, build_put_sql);
    for (size_t i = 0; i < ARRAY_LEN(put_tables); i++) {
        if (put_tables[i].which == which) {
            bind_record(b, &put_plans[i], rec);
            return;
        }
    }
    b_rc(b, SQLITE_MISUSE);
}

/* Put rec, of put_tables[k]. Its plan is built: the statement it binds was prepared from
 * store_int_put_sql, at store_open (put_begin fails on a store that has none). */
static int put_record(store_t *s, size_t k, const void *rec, const char *what)
{
    binder_t b;
    int err = store_int_put_begin(s, put_tables[k].which, &b);
    if (err != 0)
        return err;
    assert(put_plans[k].n > 0);
    bind_record(&b, &put_plans[k], rec);
    return store_int_put_end(s, &b, what);
}

/* ---- Records. */

/* A call, and the aggregate of the finished calls (agg.h): what its row counted before is given
 * back and what it counts now added, in the same batch. */
int store_put_call(store_t *s, const call_record_t *c)
{
    binder_t b;
    int err = store_int_put_begin(s, ST_PUT_CALL, &b);
    if (err == 0)
        err = store_agg_take(s, c->id, -1);
    if (err != 0)
        return err;
    assert(put_plans[PUT_CALL].n > 0);
    bind_record(&b, &put_plans[PUT_CALL], c);
    err = store_int_put_step(s, &b, "put call");
    if (err != 0) {
        /* The row is as it was: it counts again; unless the batch is gone (SQLite rolled it
         * back), and its sums with it. */
        if (!sqlite3_get_autocommit(store_int_db(s)))
            store_agg_take(s, c->id, 1);
        return err;
    }
    err = store_agg_take(s, c->id, 1);
    return err != 0 ? err : store_int_commit_if_full(s);
}

int store_put_stream(store_t *s, const stream_record_t *r)
{
    return put_record(s, PUT_STREAM, r, "put stream");
}

int store_put_sample(store_t *s, const sample_record_t *r)
{
    return put_record(s, PUT_SAMPLE, r, "put sample");
}

int store_put_message(store_t *s, const message_record_t *m)
{
    return store_put_message_id(s, m, NULL);
}

int store_put_message_id(store_t *s, const message_record_t *m, int64_t *id_out)
{
    int err = put_record(s, PUT_MESSAGE, m, "put message");
    if (err == 0 && id_out != NULL)
        *id_out = sqlite3_last_insert_rowid(store_int_db(s));
    return err;
}

/* ---- Totals: counters added up across captures, kept in meta.
 *
 * The totals and their meta keys, in one place. */
static const struct {
    const char *key;
    size_t off;
} totals[] = {
    {"packets", offsetof(store_meta_t, packets)},
    {"bytes", offsetof(store_meta_t, bytes)},
    {"sip_messages", offsetof(store_meta_t, sip_messages)},
    {"rtp_packets", offsetof(store_meta_t, rtp_packets)},
    {"rtcp_packets", offsetof(store_meta_t, rtcp_packets)},
    {"malformed", offsetof(store_meta_t, malformed)},
};

#define NTOTALS ARRAY_LEN(totals)

int store_add_totals(store_t *s, const store_meta_t *m)
{
    int err = 0;
    for (size_t i = 0; err == 0 && i < NTOTALS; i++) {
        uint64_t v;
        memcpy(&v, (const char *)m + totals[i].off, sizeof(v));
        binder_t b;
        err = store_int_put_begin(s, ST_ADD_META, &b);
        if (err == 0) {
            b_str(&b, totals[i].key);
            b_i64(&b, v > INT64_MAX ? INT64_MAX : (int64_t)v);
            err = store_int_put_end(s, &b, "add totals");
        }
    }
    return err;
}

int store_get_totals(store_t *s, store_meta_t *out)
{
    int err = 0;
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; err == 0 && i < NTOTALS; i++) {
        int64_t v = 0;
        err = store_get_meta_i64(s, totals[i].key, &v);
        if (err == -ENOENT)
            err = 0;
        uint64_t u = v > 0 ? (uint64_t)v : 0;
        memcpy((char *)out + totals[i].off, &u, sizeof(u));
    }
    return err;
}

/* ---- Ids. */

int64_t store_next_message_id(store_t *s)
{
    int64_t max = 0;
    int err = store_int_check_open(s);
    if (err == 0)
        err = store_int_query_i64(s, "SELECT coalesce(max(id), 0) FROM sip_messages", &max);
    return err == 0 && max < INT64_MAX ? max + 1 : 0;
}

int64_t store_next_id(store_t *s)
{
    int64_t max = 0;
    int err = store_int_check_open(s);
    /* Every column that names a call or stream id counts, not only the rows themselves: rows
     * that point at an id whose own row was never stored (a crash of an older sipscope, which
     * stored a call only when it ended) must not be joined by a new call reusing that id. Each
     * max() is one step down an index. */
    if (err == 0)
        err = store_int_query_i64(s,
                                  "SELECT max(coalesce((SELECT max(id) FROM calls), 0),"
                                  " coalesce((SELECT max(id) FROM rtp_streams), 0),"
                                  " coalesce((SELECT max(call_row) FROM sip_messages), 0),"
                                  " coalesce((SELECT max(call_row) FROM rtp_streams), 0),"
                                  " coalesce((SELECT max(stream_row) FROM stream_samples), 0))",
                                  &max);
    return err == 0 && max < INT64_MAX ? max + 1 : 0;
}

int store_close_interrupted(store_t *s, int64_t *calls_out)
{
    int64_t n = 0;
    int err = store_flush(s);
    if (err == 0)
        err = store_int_query_i64(s, "SELECT count(*) FROM calls WHERE active = 1", &n);
    if (err == 0 && n > 0)
        err = store_int_exec(s, "BEGIN IMMEDIATE", "close interrupted calls");
    /* They count in the call aggregate once closed (agg.h). */
    if (err == 0 && n > 0)
        err = store_agg_add_active(s);
    if (err == 0 && n > 0)
        err = store_int_exec(s,
                             "UPDATE calls SET active = 0, interrupted = 1 WHERE active = 1;"
                             "UPDATE rtp_streams SET active = 0 WHERE active = 1;"
                             "COMMIT;",
                             "close interrupted calls");
    if (err != 0 && !sqlite3_get_autocommit(store_int_db(s)))
        sqlite3_exec(store_int_db(s), "ROLLBACK", NULL, NULL, NULL);
    if (calls_out != NULL)
        *calls_out = err == 0 ? n : 0;
    return err;
}
