/* security: registrations and alerts in SQLite: upserts, filtered and paged reads. */
#include "store.h"

#include <errno.h>
#include <stdio.h>

#include <sqlite3.h>

#include "store_int.h"

/* Writes join the store's open batch transaction when there is one (same connection) and
 * commit on their own otherwise; errors are recorded for store_errmsg like the rest of the
 * store's. */

/* The connection of an open store (writable when write), or NULL with *err set. */
static sqlite3 *open_db(store_t *s, bool write, const char *what, int *err)
{
    *err = s == NULL ? -EINVAL : store_int_check_open(s);
    if (*err != 0)
        return NULL;
    sqlite3 *db = store_int_db(s);
    if (write && sqlite3_db_readonly(db, "main") == 1) {
        *err = store_int_fail_msg(s, -EROFS, what, "opened read-only");
        return NULL;
    }
    return db;
}

static int prepare(store_t *s, const char *sql, sqlite3_stmt **st, const char *what)
{
    int rc = sqlite3_prepare_v2(store_int_db(s), sql, -1, st, NULL);
    if (rc != SQLITE_OK) {
        *st = NULL;
        return store_int_fail_sql(s, rc, what);
    }
    return 0;
}

/* Run a bound write statement, then finalize it. */
static int run_write(store_t *s, binder_t *b, const char *what)
{
    int err;
    if (b->rc != SQLITE_OK) {
        err = store_int_fail_sql(s, b->rc, what);
    } else {
        int rc = sqlite3_step(b->st);
        err = rc == SQLITE_DONE ? 0 : store_int_fail_sql(s, rc, what);
    }
    sqlite3_finalize(b->st);
    return err;
}

/* ---- Writing: the upserts' SQL and binds come from the records' descriptors
 * (store_write.c, put_tables); the details JSON holds the fields whose column is "$.key". */

/* Prepare the upsert which (ST_PUT_REGISTRATION or ST_PUT_ALERT), bind rec and run it. */
static int put(store_t *s, int which, const void *rec, const char *what)
{
    binder_t b = {0};
    int err = prepare(s, store_int_put_sql(which), &b.st, what);
    if (err != 0)
        return err;
    store_int_put_bind(&b, which, rec);
    return run_write(s, &b, what);
}

int store_put_registration(store_t *s, const registration_record_t *r)
{
    int err;
    sqlite3 *db = open_db(s, true, "put registration", &err);
    if (db == NULL)
        return err;
    if (r == NULL || r->aor == NULL || r->aor[0] == '\0')
        return store_int_fail_msg(s, -EINVAL, "put registration", "no AOR");
    return put(s, ST_PUT_REGISTRATION, r, "put registration");
}

int store_put_alert(store_t *s, const alert_record_t *a)
{
    int err;
    sqlite3 *db = open_db(s, true, "put alert", &err);
    if (db == NULL)
        return err;
    if (a == NULL || a->id <= 0 || (unsigned)a->type >= ALERT_TYPE_COUNT ||
        a->n_samples > ALERT_MAX_SAMPLES)
        return store_int_fail_msg(s, -EINVAL, "put alert", "bad record");
    return put(s, ST_PUT_ALERT, a, "put alert");
}

int64_t store_next_alert_id(store_t *s)
{
    int err;
    sqlite3 *db = open_db(s, false, "next alert id", &err);
    if (db == NULL)
        return 0;
    sqlite3_stmt *st;
    if (prepare(s, "SELECT coalesce(max(id), 0) + 1 FROM alerts", &st, "next alert id") != 0)
        return 0;
    int rc = sqlite3_step(st);
    int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    if (rc != SQLITE_ROW)
        store_int_fail_sql(s, rc, "next alert id");
    sqlite3_finalize(st);
    return v;
}

/* ---- Reading. */

/* The typed callback of a walk (one of the two is set). */
typedef struct {
    store_registration_record_cb reg;
    store_alert_record_cb alert;
    void *ctx;
} walker_t;

typedef int (*row_fn)(sqlite3_stmt *st, const walker_t *w);

/* Count the matches (when total is wanted), then walk one page of them in order. */
static int query_paged(store_t *s, const char *what, const char *cols, const char *table,
                       const qw_t *w, const char *order, int64_t limit, int64_t offset, row_fn row,
                       const walker_t *wk, int64_t *total)
{
    int err;
    sqlite3 *db = open_db(s, false, what, &err);
    if (db == NULL)
        return err;
    if (offset < 0 || (wk->reg == NULL && wk->alert == NULL && limit != 0))
        return store_int_fail_msg(s, -EINVAL, what, "bad paging or no callback");
    if (w->overflow)
        return store_int_fail_msg(s, -EINVAL, what, "filter too complex");
    char sql[2048];
    sqlite3_stmt *st = NULL;
    if (total != NULL) {
        int n = snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s%s", table, w->sql);
        if (n < 0 || (size_t)n >= sizeof(sql))
            return store_int_fail_msg(s, -EINVAL, what, "query too long");
        err = prepare(s, sql, &st, what);
        if (err == 0)
            err = qw_bind(s, st, w, what);
        if (err == 0) {
            int rc = sqlite3_step(st);
            if (rc == SQLITE_ROW)
                *total = sqlite3_column_int64(st, 0);
            else
                err = store_int_fail_sql(s, rc, what);
        }
        sqlite3_finalize(st);
        if (err != 0)
            return err;
    }
    if (limit == 0)
        return 0;
    int n = snprintf(sql, sizeof(sql), "SELECT %s FROM %s%s ORDER BY %s LIMIT ? OFFSET ?", cols,
                     table, w->sql, order);
    if (n < 0 || (size_t)n >= sizeof(sql))
        return store_int_fail_msg(s, -EINVAL, what, "query too long");
    err = prepare(s, sql, &st, what);
    if (err == 0)
        err = qw_bind(s, st, w, what);
    if (err != 0) {
        sqlite3_finalize(st);
        return err;
    }
    sqlite3_bind_int64(st, w->nparams + 1, limit < 0 ? -1 : limit);
    sqlite3_bind_int64(st, w->nparams + 2, offset);
    int ret = 0, rc = SQLITE_DONE;
    while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW)
        ret = row(st, wk);
    if (ret == 0 && rc != SQLITE_DONE)
        ret = store_int_fail_sql(s, rc, what);
    sqlite3_finalize(st);
    return ret;
}

/* Rows of store_int_columns of the record, details keys included. */
static int row_registration(sqlite3_stmt *st, const walker_t *wk)
{
    registration_record_t r;
    store_int_row_read(st, 0, &registration_record_desc, &r);
    return wk->reg(wk->ctx, &r);
}

int store_query_registration_records(store_t *s, const store_registration_filter_t *f,
                                     int64_t limit, int64_t offset, store_registration_record_cb cb,
                                     void *ctx, int64_t *total)
{
    qw_t w = {0};
    if (f != NULL) {
        if (f->user != NULL) {
            qw_cond(&w, f->user_exact ? "aor_user = ?" : "instr(lower(aor_user), lower(?)) > 0");
            qw_text(&w, f->user);
        }
        if (f->aor != NULL) {
            qw_cond(&w, "aor = ?");
            qw_text(&w, f->aor);
        }
        if (f->has_active) {
            qw_cond(&w, "active = ?");
            qw_i64(&w, f->active ? 1 : 0);
        }
        if (f->since_ns != 0) {
            qw_cond(&w, "last_time >= ?");
            qw_dbl(&w, store_int_ns_to_sec(f->since_ns));
        }
    }
    return query_paged(s, "query registrations", store_int_columns(&registration_record_desc),
                       "registrations", &w, "last_time DESC, id DESC", limit, offset,
                       row_registration, &(walker_t){.reg = cb, .ctx = ctx}, total);
}

static int row_alert(sqlite3_stmt *st, const walker_t *wk)
{
    alert_record_t a;
    store_int_row_read(st, 0, &alert_record_desc, &a);
    return wk->alert(wk->ctx, &a);
}

int store_query_alert_records(store_t *s, const store_alert_filter_t *f, int64_t limit,
                              int64_t offset, store_alert_record_cb cb, void *ctx, int64_t *total)
{
    qw_t w = {0};
    char types[256], ind[512];
    if (f != NULL) {
        if (f->since_ns != 0) {
            qw_cond(&w, "last_time >= ?");
            qw_dbl(&w, store_int_ns_to_sec(f->since_ns));
        }
        if (f->until_ns != 0) {
            qw_cond(&w, "first_time < ?");
            qw_dbl(&w, store_int_ns_to_sec(f->until_ns));
        }
        if (f->type_mask != 0) {
            /* type IN ('a', 'b'): names are fixed identifiers, written into the SQL. */
            size_t len = 0;
            for (int t = 0; t < ALERT_TYPE_COUNT; t++) {
                if (!(f->type_mask & (1u << t)))
                    continue;
                int n = snprintf(types + len, sizeof(types) - len, "%s'%s'", len ? ", " : "",
                                 alert_type_name((alert_type_t)t));
                if (n > 0 && (size_t)n < sizeof(types) - len)
                    len += (size_t)n;
            }
            if (len == 0)
                return store_int_fail_msg(s, -EINVAL, "query alerts", "no such type");
            char cond[300];
            snprintf(cond, sizeof(cond), "type IN (%s)", types);
            qw_cond(&w, cond);
        }
        if (f->indicator_mask != 0) {
            size_t len = 0;
            for (int d = 0; d < ALERT_DET_COUNT; d++) {
                if (!(f->indicator_mask & (1u << d)))
                    continue;
                int n = snprintf(ind + len, sizeof(ind) - len, "%s'%s'", len ? ", " : "",
                                 alert_detector_name((alert_detector_t)d));
                if (n > 0 && (size_t)n < sizeof(ind) - len)
                    len += (size_t)n;
            }
            if (len == 0)
                return store_int_fail_msg(s, -EINVAL, "query alerts", "no such indicator");
            char cond[600];
            snprintf(cond, sizeof(cond),
                     "EXISTS (SELECT 1 FROM json_each(alerts.details, '$.indicators')"
                     " WHERE value IN (%s))",
                     ind);
            qw_cond(&w, cond);
        }
        if (f->source != NULL) {
            qw_cond(&w, "source = ?");
            qw_text(&w, f->source);
        }
        if (f->open_only)
            qw_cond(&w, "json_extract(details, '$.open') = 1");
        if (f->with_source)
            qw_cond(&w, "source IS NOT NULL");
    }
    return query_paged(s, "query alerts", store_int_columns(&alert_record_desc), "alerts", &w,
                       "last_time DESC, id DESC", limit, offset, row_alert,
                       &(walker_t){.alert = cb, .ctx = ctx}, total);
}
