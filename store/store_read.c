/* store_read: rows back into records (the columns and their decoding from the records'
 * descriptors), walked in order; the row counts. */
#include "store.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "defs.h"
#include "store_int.h"

/* ---- Rows into records. Strings are borrowed from the statement until its next step. */

/* A double holding a count of ns-multiples (ms or s) back to ns; 0 for garbage. */
static int64_t scaled_to_ns(double v, double ns_per_unit)
{
    double ns = v * ns_per_unit;
    if (!isfinite(ns) || fabs(ns) > 9.0e18)
        return 0;
    return llround(ns);
}

static void set_double(void *rec, const record_field_t *f, double v)
{
    memcpy((char *)rec + f->offset, &v, sizeof(v));
}

/* ---- The security records' kinds (registrations, alerts). */

/* Numbers of a flat JSON array ("[1,2.5,3]") into v (at most cap); returns how many. */
static uint32_t json_numbers(const char *text, double *v, uint32_t cap)
{
    uint32_t n = 0;
    const char *p = text;
    while (*p && *p != '[')
        p++;
    while (*p && n < cap) {
        p++;
        while (*p == ' ')
            p++;
        if (*p == ']' || *p == '\0')
            break;
        char *end = NULL;
        double d = strtod(p, &end);
        if (end == p)
            break;
        v[n++] = d;
        p = end;
        while (*p == ' ')
            p++;
        if (*p != ',')
            break;
    }
    return n;
}

/* The REC_COUNT_OF field before f in d (the entries of the arrays after it), or NULL. */
static const record_field_t *count_of(const record_desc_t *d, const record_field_t *f)
{
    while (f-- > d->fields) {
        if (f->kind == REC_COUNT_OF)
            return f;
    }
    return NULL;
}

/* A JSON array of times (s) or row ids into the array f; its count becomes at least their
 * number. */
static void read_array(const char *text, const record_desc_t *d, const record_field_t *f, void *rec)
{
    const record_field_t *count = count_of(d, f);
    double v[ALERT_MAX_SAMPLES];
    uint32_t n = json_numbers(text, v, ALERT_MAX_SAMPLES);
    if (count == NULL || f->size < sizeof(alert_samples_t))
        return;
    for (uint32_t i = 0; i < n; i++) {
        int64_t x = f->kind == REC_TIME_ARRAY ? store_int_sec_to_ns(v[i]) : (int64_t)v[i];
        memcpy((char *)rec + f->offset + i * sizeof(int64_t), &x, sizeof(x));
    }
    if (record_get_int(rec, count) < n)
        record_set_int(rec, count, n);
}

/* Only the known ids were stored: they line up with the times only when every sample had one,
 * so ids fewer than the samples are dropped. */
static void fix_id_arrays(const record_desc_t *d, void *rec)
{
    for (size_t i = 0; i < d->n_fields; i++) {
        const record_field_t *f = &d->fields[i];
        const record_field_t *count = f->kind == REC_ID_ARRAY ? count_of(d, f) : NULL;
        if (count == NULL || f->size < sizeof(alert_samples_t))
            continue;
        int64_t ids[ALERT_MAX_SAMPLES];
        memcpy(ids, record_member(rec, f), sizeof(ids));
        int64_t n = record_get_int(rec, count), known = 0;
        while (known < n && known < ALERT_MAX_SAMPLES && ids[known] != 0)
            known++;
        if (known != n)
            memset((char *)rec + f->offset, 0, sizeof(ids));
    }
}

/* Column col into field f of d's record rec, for the kinds only the security records have. */
static void read_rare(sqlite3_stmt *st, int col, const record_desc_t *d, const record_field_t *f,
                      void *rec)
{
    switch ((rec_kind_t)f->kind) {
        case REC_ADDR: {
            net_addr_t a;
            if (!net_addr_parse(sv_from_cstr(col_text(st, col)), &a))
                memset(&a, 0, sizeof(a));
            memcpy((char *)rec + f->offset, &a, sizeof(a));
            return;
        }
        case REC_ALERT_TYPE: {
            const char *name = col_text(st, col);
            alert_type_t type = ALERT_SCANNER; /* (unknown) */
            for (int t = 0; t < ALERT_TYPE_COUNT; t++) {
                if (strcmp(name, alert_type_name((alert_type_t)t)) == 0)
                    type = (alert_type_t)t;
            }
            record_set_int(rec, f, type);
            return;
        }
        case REC_INDICATORS: {
            /* A JSON array of detector names. */
            const char *names = col_text(st, col);
            uint32_t bits = 0;
            for (int det = 0; det < ALERT_DET_COUNT; det++) {
                char quoted[48];
                int n = snprintf(quoted, sizeof(quoted), "\"%s\"",
                                 alert_detector_name((alert_detector_t)det));
                if (n > 0 && (size_t)n < sizeof(quoted) && strstr(names, quoted) != NULL)
                    bits |= 1u << det;
            }
            record_set_int(rec, f, bits);
            return;
        }
        case REC_TIME_ARRAY:
        case REC_ID_ARRAY:
            read_array(col_text(st, col), d, f, rec);
            return;
        default:
            return; /* no SQL form */
    }
}

/* Column col into field f of d's record rec, as bind_record (store_write.c) wrote it. */
static void read_field(sqlite3_stmt *st, int col, const record_desc_t *d, const record_field_t *f,
                       void *rec)
{
    switch ((rec_kind_t)f->kind) {
        case REC_INT:
        case REC_UINT:
        case REC_SSRC:
        case REC_TRANSPORT:
        case REC_STATUS:
        case REC_ROW:
            record_set_int(rec, f, sqlite3_column_int64(st, col)); /* NULL reads as 0 */
            return;
        case REC_BOOL:
            record_set_int(rec, f, sqlite3_column_int(st, col) != 0);
            return;
        case REC_F64:
        case REC_MS3:
        case REC_MOS:
        case REC_MOS2:
            set_double(rec, f, sqlite3_column_double(st, col)); /* NULL (no MOS) reads as 0 */
            return;
        case REC_MS3_OPT:
            set_double(rec, f, col_is_null(st, col) ? -1 : sqlite3_column_double(st, col));
            return;
        case REC_STR:
            record_set_str(rec, f,
                           (f->flags & REC_F_READ_EMPTY) ? col_text(st, col)
                                                         : col_text_or_null(st, col));
            return;
        case REC_STR_EMPTY:
        case REC_REASONS:
            record_set_str(rec, f, col_text(st, col));
            return;
        case REC_RAW: {
            record_set_str(rec, f, col_text(st, col));
            /* Its length is the REC_RAW_LEN field after it. */
            record_set_int(rec, f + 1, (uint32_t)sqlite3_column_bytes(st, col));
            return;
        }
        case REC_TIME:
            record_set_int(rec, f,
                           (f->flags & REC_F_KEY)
                               ? store_int_sec_to_ns(sqlite3_column_double(st, col))
                               : col_time(st, col));
            return;
        case REC_SPAN_MS:
        case REC_SPAN_S:
            record_set_int(rec, f,
                           col_is_null(st, col) ? -1
                                                : scaled_to_ns(sqlite3_column_double(st, col),
                                                               f->kind == REC_SPAN_MS ? 1e6 : 1e9));
            return;
        case REC_ENDPOINT:
            col_endpoint(st, col, (net_endpoint_t *)((char *)rec + f->offset));
            return;
        case REC_CALL_STATE: {
            call_state_t state;
            if (!call_state_parse(col_text(st, col), &state))
                state = CALL_SETUP;
            record_set_int(rec, f, state);
            return;
        }
        case REC_VERDICT: {
            verdict_t v;
            if (!verdict_parse(col_text(st, col), &v))
                v = VERDICT_GOOD;
            record_set_int(rec, f, v);
            return;
        }
        default:
            read_rare(st, col, d, f, rec);
            return;
    }
}

void store_int_row_read(sqlite3_stmt *st, int col, const record_desc_t *d, void *rec)
{
    memset(rec, 0, d->size);
    const record_field_t *group = NULL; /* a REC_PRESENT whose first column is still to come */
    for (size_t i = 0; i < d->n_fields; i++) {
        const record_field_t *f = &d->fields[i];
        if (f->kind == REC_PRESENT) {
            group = f;
            continue;
        }
        if (!store_int_field_stored(f))
            continue;
        if (group != NULL && (f->flags & REC_F_GROUP)) {
            /* A group was present when its first column is not NULL. */
            record_set_int(rec, group, !col_is_null(st, col));
            group = NULL;
        }
        read_field(st, col++, d, f, rec);
    }
    const record_field_t *keys[64];
    size_t n = store_int_details(d, keys, ARRAY_LEN(keys));
    for (size_t k = 0; k < n; k++)
        read_field(st, col++, d, keys[k], rec);
    fix_id_arrays(d, rec);
}

void store_int_row_call(sqlite3_stmt *st, call_record_t *c)
{
    store_int_row_read(st, 0, &call_record_desc, c);
}

void store_int_row_stream(sqlite3_stmt *st, stream_record_t *r)
{
    store_int_row_read(st, 0, &stream_record_desc, r);
}

/* ---- The columns read: the stored ones in descriptor order (the user columns of URIs are only
 * written), then the details keys in their order. */

size_t store_int_details(const record_desc_t *d, const record_field_t **out, size_t cap)
{
    /* Field order, the times last: the order the details objects have always had, so that the
     * stored JSON stays the same text (registrations' expires_time came after the counts). */
    size_t n = 0;
    for (int times = 0; times < 2; times++) {
        for (size_t i = 0; i < d->n_fields && n < cap; i++) {
            const record_field_t *f = &d->fields[i];
            bool is_time = f->kind == REC_TIME || f->kind == REC_TIME_ARRAY;
            if (store_int_field_detail(f) && is_time == (times == 1))
                out[n++] = f;
        }
    }
    return n;
}

static const record_desc_t *const read_descs[] = {
    &call_record_desc,         &stream_record_desc, &sample_record_desc, &message_record_desc,
    &registration_record_desc, &alert_record_desc,  &dtmf_record_desc};
static char read_columns[ARRAY_LEN(read_descs)][1024];
static pthread_once_t read_columns_once = PTHREAD_ONCE_INIT;

/* d's columns into buf; false when they do not fit. */
static bool build_columns(const record_desc_t *d, char *buf, size_t cap)
{
    size_t len = 0;
    const record_field_t *keys[64];
    size_t nk = store_int_details(d, keys, ARRAY_LEN(keys));
    for (size_t i = 0; i < d->n_fields + nk; i++) {
        const record_field_t *f = i < d->n_fields ? &d->fields[i] : keys[i - d->n_fields];
        int n;
        if (i >= d->n_fields)
            n = snprintf(buf + len, cap - len, "%sjson_extract(" STORE_DETAILS_COLUMN ", '%s')",
                         len ? ", " : "", f->column);
        else if (store_int_field_stored(f))
            n = snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", f->column);
        else
            continue;
        if (n < 0 || (size_t)n >= cap - len)
            return false;
        len += (size_t)n;
    }
    return true;
}

static void build_read_columns(void)
{
    for (size_t k = 0; k < ARRAY_LEN(read_descs); k++) {
        if (!build_columns(read_descs[k], read_columns[k], sizeof(read_columns[k]))) {
            /* (not SQL: every query of it fails, loudly) */
            snprintf(read_columns[k], sizeof(read_columns[k]), "columns too long");
        }
    }
}

const char *store_int_columns(const record_desc_t *d)
{
    pthread_once(&read_columns_once, build_read_columns);
    for (size_t k = 0; k < ARRAY_LEN(read_descs); k++) {
        if (read_descs[k] == d)
            return read_columns[k];
    }
    return "no such record";
}

/* ---- Walks: every row of a query to a typed callback. */

typedef enum { ROW_CALL, ROW_STREAM, ROW_SAMPLE, ROW_MESSAGE } row_kind_t;

typedef struct {
    row_kind_t kind;
    union {
        store_call_cb call;
        store_stream_cb stream;
        store_sample_cb sample;
        store_message_cb message;
    } cb; /* the member matching kind */
    void *ctx;
} walker_t;

/* Step a prepared, bound statement to its end, handing each row to the walker's callback;
 * finalizes st. Returns the first nonzero callback result, or 0, or -errno. */
static int walk(store_t *s, sqlite3_stmt *st, const walker_t *w, int64_t *rows)
{
    int ret = 0, rc = SQLITE_DONE;
    int64_t n = 0;
    while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        n++;
        switch (w->kind) {
            case ROW_CALL: {
                call_record_t c;
                store_int_row_call(st, &c);
                ret = w->cb.call(w->ctx, &c);
                break;
            }
            case ROW_STREAM: {
                stream_record_t r;
                store_int_row_stream(st, &r);
                ret = w->cb.stream(w->ctx, &r);
                break;
            }
            case ROW_SAMPLE: {
                sample_record_t r;
                store_int_row_read(st, 0, &sample_record_desc, &r);
                ret = w->cb.sample(w->ctx, &r);
                break;
            }
            case ROW_MESSAGE: {
                /* The row id first: messages carry none of their own. */
                message_record_t m;
                store_int_row_read(st, 1, &message_record_desc, &m);
                ret = w->cb.message(w->ctx, sqlite3_column_int64(st, 0), &m);
                break;
            }
        }
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = store_int_fail_sql(s, rc, "read");
    sqlite3_finalize(st);
    if (rows != NULL)
        *rows = n;
    return ret;
}

/* Walk "SELECT <the walker's columns> FROM from", binding id to ?1 when bind_id. */
static int walk_sql(store_t *s, const char *from, bool bind_id, int64_t id, const walker_t *w,
                    int64_t *rows)
{
    int err = store_int_check_open(s);
    if (err != 0)
        return err;
    bool have_cb = (w->kind == ROW_CALL && w->cb.call) || (w->kind == ROW_STREAM && w->cb.stream) ||
                   (w->kind == ROW_SAMPLE && w->cb.sample) ||
                   (w->kind == ROW_MESSAGE && w->cb.message);
    if (!have_cb)
        return store_int_fail_msg(s, -EINVAL, "read", "no callback");
    static const record_desc_t *const descs[] = {
        [ROW_CALL] = &call_record_desc,
        [ROW_STREAM] = &stream_record_desc,
        [ROW_SAMPLE] = &sample_record_desc,
        [ROW_MESSAGE] = &message_record_desc,
    };
    char sql[1536];
    int n = snprintf(sql, sizeof(sql), "SELECT %s%s FROM %s", w->kind == ROW_MESSAGE ? "id, " : "",
                     store_int_columns(descs[w->kind]), from);
    if (n < 0 || (size_t)n >= sizeof(sql))
        return store_int_fail_msg(s, -EINVAL, "read", "query too long");
    sqlite3_stmt *st;
    err = store_int_prepare(s, sql, &st);
    if (err != 0)
        return err;
    if (bind_id)
        sqlite3_bind_int64(st, 1, id);
    return walk(s, st, w, rows);
}

#define WALK_CALLS(f, c)    (&(walker_t){.kind = ROW_CALL, .cb.call = (f), .ctx = (c)})
#define WALK_STREAMS(f, c)  (&(walker_t){.kind = ROW_STREAM, .cb.stream = (f), .ctx = (c)})
#define WALK_SAMPLES(f, c)  (&(walker_t){.kind = ROW_SAMPLE, .cb.sample = (f), .ctx = (c)})
#define WALK_MESSAGES(f, c) (&(walker_t){.kind = ROW_MESSAGE, .cb.message = (f), .ctx = (c)})

int store_foreach_call(store_t *s, store_call_cb cb, void *ctx)
{
    return walk_sql(s, "calls ORDER BY invite_time, id", false, 0, WALK_CALLS(cb, ctx), NULL);
}

int store_get_call(store_t *s, int64_t id, store_call_cb cb, void *ctx)
{
    int64_t rows = 0;
    int err = walk_sql(s, "calls WHERE id = ?1", true, id, WALK_CALLS(cb, ctx), &rows);
    if (err == 0 && rows == 0)
        err = store_int_fail_msg(s, -ENOENT, "get call", "no such call");
    return err;
}

int store_foreach_stream(store_t *s, int64_t call_row, store_stream_cb cb, void *ctx)
{
    const char *from = call_row > 0 ? "rtp_streams WHERE call_row = ?1 ORDER BY first_time, id"
                       : call_row == 0
                           ? "rtp_streams WHERE call_row IS NULL ORDER BY first_time, id"
                           : "rtp_streams ORDER BY first_time, id";
    return walk_sql(s, from, call_row > 0, call_row, WALK_STREAMS(cb, ctx), NULL);
}

int store_foreach_sample(store_t *s, int64_t stream_row, store_sample_cb cb, void *ctx)
{
    return walk_sql(s, "stream_samples WHERE stream_row = ?1 ORDER BY start_time", true, stream_row,
                    WALK_SAMPLES(cb, ctx), NULL);
}

int store_foreach_message(store_t *s, int64_t call_row, store_message_cb cb, void *ctx)
{
    const char *from = call_row > 0    ? "sip_messages WHERE call_row = ?1 ORDER BY time, id"
                       : call_row == 0 ? "sip_messages WHERE call_row IS NULL ORDER BY time, id"
                                       : "sip_messages ORDER BY time, id";
    return walk_sql(s, from, call_row > 0, call_row, WALK_MESSAGES(cb, ctx), NULL);
}

int store_message_at(store_t *s, int64_t call_row, double time_s, int64_t *id)
{
    *id = 0;
    int err = store_int_check_open(s);
    if (err != 0)
        return err;
    sqlite3_stmt *st;
    err = store_int_prepare(s,
                            "SELECT id FROM sip_messages WHERE call_row = ?1 AND time BETWEEN ?2 - "
                            "0.001 AND ?2 + 0.001 ORDER BY abs(time - ?2), id LIMIT 1",
                            &st);
    if (err != 0)
        return err;
    sqlite3_bind_int64(st, 1, call_row);
    sqlite3_bind_double(st, 2, time_s);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(st, 0);
    else if (rc == SQLITE_DONE)
        err = store_int_fail_msg(s, -ENOENT, "message at", "no such message");
    else
        err = store_int_fail_sql(s, rc, "message at");
    sqlite3_finalize(st);
    return err;
}

/* ---- Counts. */

static int count_rows(store_t *s, const char *sql, int64_t *out)
{
    int err = store_int_check_open(s);
    return err != 0 ? err : store_int_query_i64(s, sql, out);
}

int store_count_calls(store_t *s, int64_t *out)
{
    return count_rows(s, "SELECT count(*) FROM calls", out);
}

int store_count_active_calls(store_t *s, int64_t *out)
{
    return count_rows(s, "SELECT count(*) FROM calls WHERE active = 1", out);
}

int store_count_streams(store_t *s, int64_t *out)
{
    return count_rows(s, "SELECT count(*) FROM rtp_streams", out);
}

int store_count_samples(store_t *s, int64_t *out)
{
    return count_rows(s, "SELECT count(*) FROM stream_samples", out);
}

int store_count_messages(store_t *s, int64_t *out)
{
    return count_rows(s, "SELECT count(*) FROM sip_messages", out);
}
