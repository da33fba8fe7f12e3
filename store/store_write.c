/* store_write: calls, streams, samples and messages into the batch, their statements and binds
 * generated from the records' descriptors; the capture totals. */
#include "store.h"

#include <errno.h>
#include <pthread.h>
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
 * columns in list order, a REC_F_USER_COLUMN URI followed by its user column; the schema
 * (schema.c) must have them all. */

typedef struct {
    int which; /* ST_* */
    const record_desc_t *desc;
    const char *table;
    const char *verb; /* "INSERT" or "INSERT OR REPLACE" */
    const char *key;  /* the upsert's conflict column, NULL for none */
} put_table_t;

/* Calls and streams are rewritten as they change: UPSERT rather than INSERT OR REPLACE, same
 * result for the caller, but REPLACE deletes and re-inserts the row (touching every index
 * entry), while DO UPDATE rewrites it in place. A sample's interval is written once (REPLACE
 * only for a repeated one), a message only ever inserted (its row id is new). */
static const put_table_t put_tables[] = {
    {ST_PUT_CALL, &call_record_desc, "calls", "INSERT", "id"},
    {ST_PUT_STREAM, &stream_record_desc, "rtp_streams", "INSERT", "id"},
    {ST_PUT_SAMPLE, &sample_record_desc, "stream_samples", "INSERT OR REPLACE", NULL},
    {ST_PUT_MESSAGE, &message_record_desc, "sip_messages", "INSERT", NULL},
};

#define MAX_COLUMNS 48
#define COLUMN_MAX  48

/* The columns of d in order; user columns are written into users. Returns how many. */
static size_t put_columns(const record_desc_t *d, const char *names[MAX_COLUMNS],
                          char users[][COLUMN_MAX])
{
    size_t n = 0, nu = 0;
    for (size_t i = 0; i < d->n_fields && n + 2 <= MAX_COLUMNS; i++) {
        const record_field_t *f = &d->fields[i];
        if (!store_int_field_stored(f))
            continue;
        names[n++] = f->column;
        if (f->flags & REC_F_USER_COLUMN) {
            /* "from_uri" -> "from_user" */
            size_t len = strlen(f->column);
            int stem =
                len > 4 && strcmp(f->column + len - 4, "_uri") == 0 ? (int)(len - 4) : (int)len;
            snprintf(users[nu], COLUMN_MAX, "%.*s_user", stem, f->column);
            names[n++] = users[nu++];
        }
    }
    return n;
}

/* A bounded text that remembers whether everything fitted. */
typedef struct {
    char *buf;
    size_t cap, len;
    bool ok;
} sql_text_t;

static void add(sql_text_t *t, const char *s)
{
    size_t n = strlen(s);
    if (!t->ok || t->len + n >= t->cap) {
        t->ok = false;
        return;
    }
    memcpy(t->buf + t->len, s, n + 1);
    t->len += n;
}

/* "INSERT INTO t (c, ...) VALUES (?, ...) [ON CONFLICT (key) DO UPDATE SET c = excluded.c, ...]" */
static bool put_sql(const put_table_t *p, char *buf, size_t cap)
{
    const char *names[MAX_COLUMNS];
    char users[MAX_COLUMNS][COLUMN_MAX];
    size_t n = put_columns(p->desc, names, users);
    sql_text_t t = {buf, cap, 0, true};
    add(&t, p->verb);
    add(&t, " INTO ");
    add(&t, p->table);
    add(&t, " (");
    for (size_t i = 0; i < n; i++) {
        add(&t, i ? ", " : "");
        add(&t, names[i]);
    }
    add(&t, ") VALUES (");
    for (size_t i = 0; i < n; i++)
        add(&t, i ? ",?" : "?");
    add(&t, ")");
    if (p->key != NULL) {
        add(&t, " ON CONFLICT (");
        add(&t, p->key);
        add(&t, ") DO UPDATE SET ");
        for (size_t i = 0, k = 0; i < n; i++) {
            if (strcmp(names[i], p->key) == 0)
                continue;
            add(&t, k++ ? ", " : "");
            add(&t, names[i]);
            add(&t, " = excluded.");
            add(&t, names[i]);
        }
    }
    return t.ok;
}

static char put_sql_text[ARRAY_LEN(put_tables)][2048];
static pthread_once_t put_sql_once = PTHREAD_ONCE_INIT;

static void build_put_sql(void)
{
    for (size_t i = 0; i < ARRAY_LEN(put_tables); i++) {
        if (!put_sql(&put_tables[i], put_sql_text[i], sizeof(put_sql_text[i])))
            snprintf(put_sql_text[i], sizeof(put_sql_text[i]), "statement too long");
        /* (not SQL: store_open fails to prepare it, loudly) */
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

/* ---- Binds from the descriptors, in the order of put_columns. */

static void bind_field(binder_t *b, const record_field_t *f, const void *rec)
{
    switch ((rec_kind_t)f->kind) {
        case REC_INT:
        case REC_UINT:
        case REC_SSRC:
        case REC_TRANSPORT:
            b_i64(b, record_get_int(rec, f));
            return;
        case REC_BOOL:
            b_i64(b, record_get_bool(rec, f));
            return;
        case REC_STATUS:
        case REC_ROW: {
            int64_t v = record_get_int(rec, f);
            if (v != 0)
                b_i64(b, v);
            else
                b_null(b);
            return;
        }
        case REC_F64:
        case REC_MS3:
        case REC_MOS2:
            b_dbl(b, record_get_double(rec, f));
            return;
        case REC_MS3_OPT:
        case REC_MOS: {
            double v = record_get_double(rec, f);
            /* unknown (negative) RTT, no MOS (0): NULL */
            if (f->kind == REC_MOS ? v > 0 : v >= 0)
                b_dbl(b, v);
            else
                b_null(b);
            return;
        }
        case REC_STR:
        case REC_STR_EMPTY: {
            const char *p = record_get_str(rec, f);
            b_str(b, p == NULL && (f->flags & REC_F_SQL_EMPTY) ? "" : p);
            return;
        }
        case REC_RAW: {
            const char *p = record_get_str(rec, f);
            b_text(b, p, p ? (size_t)record_get_int(rec, f + 1) : 0); /* REC_RAW_LEN follows */
            return;
        }
        case REC_TIME: {
            int64_t ns = record_get_int(rec, f);
            if (f->flags & REC_F_KEY)
                b_dbl(b, store_int_ns_to_sec(ns)); /* part of the key: never NULL */
            else
                b_time(b, ns);
            return;
        }
        case REC_SPAN_MS:
        case REC_SPAN_S: {
            int64_t ns = record_get_int(rec, f);
            if (ns >= 0)
                b_dbl(b, (double)ns / (f->kind == REC_SPAN_MS ? 1e6 : 1e9));
            else
                b_null(b);
            return;
        }
        case REC_ENDPOINT:
            b_endpoint(b, record_member(rec, f));
            return;
        case REC_CALL_STATE:
            b_str(b, call_state_name((call_state_t)record_get_int(rec, f)));
            return;
        case REC_ALERT_TYPE:
            b_str(b, alert_type_name((alert_type_t)record_get_int(rec, f)));
            return;
        default:
            /* Addresses, indicator sets and sample arrays are kept by store/security.c (in
             * its details JSON): a column of theirs here is a mistake in a field list. */
            b->i++;
            b_rc(b, SQLITE_MISUSE);
            return;
    }
}

/* Bind rec's columns. A group's columns are NULL when its REC_PRESENT flag is false. */
static void bind_record(binder_t *b, const record_desc_t *d, const void *rec)
{
    bool present = true;
    for (size_t i = 0; i < d->n_fields; i++) {
        const record_field_t *f = &d->fields[i];
        if (f->kind == REC_PRESENT) {
            present = record_get_bool(rec, f);
            continue;
        }
        if (!(f->flags & REC_F_GROUP))
            present = true;
        if (!store_int_field_stored(f))
            continue;
        if (!present) {
            b_null(b);
            continue;
        }
        bind_field(b, f, rec);
        if (f->flags & REC_F_USER_COLUMN) {
            const char *uri = record_get_str(rec, f);
            sv_t user = uri_user(uri);
            b_text(b, uri ? user.p : NULL, user.len);
        }
    }
}

static int put_record(store_t *s, int which, const record_desc_t *d, const void *rec,
                      const char *what)
{
    binder_t b;
    int err = store_int_put_begin(s, which, &b);
    if (err != 0)
        return err;
    bind_record(&b, d, rec);
    return store_int_put_end(s, &b, what);
}

/* ---- Records. */

int store_put_call(store_t *s, const call_record_t *c)
{
    return put_record(s, ST_PUT_CALL, &call_record_desc, c, "put call");
}

int store_put_stream(store_t *s, const stream_record_t *r)
{
    return put_record(s, ST_PUT_STREAM, &stream_record_desc, r, "put stream");
}

int store_put_sample(store_t *s, const sample_record_t *r)
{
    return put_record(s, ST_PUT_SAMPLE, &sample_record_desc, r, "put sample");
}

int store_put_message(store_t *s, const message_record_t *m)
{
    return store_put_message_id(s, m, NULL);
}

int store_put_message_id(store_t *s, const message_record_t *m, int64_t *id_out)
{
    int err = put_record(s, ST_PUT_MESSAGE, &message_record_desc, m, "put message");
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

int64_t store_next_id(store_t *s)
{
    int64_t max = 0;
    int err = store_int_check_open(s);
    if (err == 0)
        err = store_int_query_i64(s,
                                  "SELECT max(coalesce((SELECT max(id) FROM calls), 0),"
                                  " coalesce((SELECT max(id) FROM rtp_streams), 0))",
                                  &max);
    return err == 0 && max < INT64_MAX ? max + 1 : 0;
}
