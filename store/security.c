/* security: registrations and alerts in SQLite: upserts, filtered and paged reads. */
#include "store.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store_int.h"
#include "sv.h"

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

/* ---- Writing. */

/* A later analysis of an earlier capture must not roll a binding back: the row changes only
 * for a record at least as recent as what it holds (first_time only ever moves earlier). */
static const char reg_upsert[] =
    "INSERT INTO registrations (aor, aor_user, contact, user_agent, source, expires, last_status,"
    " first_time, last_time, active, details) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
    " json_object('attempts', ?11, 'challenges', ?12, 'failures', ?13, 'expires_time', ?14))"
    " ON CONFLICT (aor, contact) DO UPDATE SET aor_user = excluded.aor_user,"
    " user_agent = excluded.user_agent, source = excluded.source, expires = excluded.expires,"
    " last_status = excluded.last_status,"
    " first_time = min(coalesce(registrations.first_time, excluded.first_time),"
    "                  coalesce(excluded.first_time, registrations.first_time)),"
    " last_time = excluded.last_time, active = excluded.active, details = excluded.details"
    " WHERE coalesce(excluded.last_time, 0) >= coalesce(registrations.last_time, 0)";

int store_put_registration(store_t *s, const registration_record_t *r)
{
    int err;
    sqlite3 *db = open_db(s, true, "put registration", &err);
    if (db == NULL)
        return err;
    if (r == NULL || r->aor == NULL || r->aor[0] == '\0')
        return store_int_fail_msg(s, -EINVAL, "put registration", "no AOR");
    binder_t b = {0};
    err = prepare(s, reg_upsert, &b.st, "put registration");
    if (err != 0)
        return err;
    b_str(&b, r->aor);
    b_str(&b, r->aor_user ? r->aor_user : "");
    b_str(&b, r->contact ? r->contact : "");
    b_str(&b, r->user_agent ? r->user_agent : "");
    b_endpoint(&b, &r->source);
    b_i64(&b, r->expires);
    if (r->last_status)
        b_i64(&b, r->last_status);
    else
        b_null(&b);
    b_time(&b, r->first_ns);
    b_time(&b, r->last_ns);
    b_i64(&b, r->active);
    b_i64(&b, r->attempts);
    b_i64(&b, r->challenges);
    b_i64(&b, r->failures);
    b_time(&b, r->expires_ns);
    return run_write(s, &b, "put registration");
}

static const char alert_upsert[] =
    "INSERT INTO alerts (id, type, source, target, count, first_time, last_time,"
    " sample_message_ids, details) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, json(?8),"
    " json_object('indicators', json(?9), 'user_agent', ?10, 'open', json(?11),"
    " 'registers', ?12, 'invites', ?13, 'options', ?14, 'r2xx', ?15, 'r401', ?16, 'r403', ?17,"
    " 'r404', ?18, 'distinct_users', ?19, 'distinct_targets', ?20, 'distinct_sources', ?21,"
    " 'sample_times', json(?22)))"
    " ON CONFLICT (id) DO UPDATE SET type = excluded.type, source = excluded.source,"
    " target = excluded.target, count = excluded.count, first_time = excluded.first_time,"
    " last_time = excluded.last_time, sample_message_ids = excluded.sample_message_ids,"
    " details = excluded.details";

/* A bounded text buffer that remembers whether everything fitted. */
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

/* JSON arrays of the sample ids (the known ones) and times, and of the indicators' names
 * (plain identifiers, no escaping needed). */
static bool json_ids(char *buf, size_t cap, const int64_t *v, uint32_t n)
{
    text_t t = {buf, cap, 0, true};
    t_add(&t, "[");
    for (uint32_t i = 0, k = 0; i < n; i++)
        if (v[i] > 0)
            t_add(&t, "%s%lld", k++ ? "," : "", (long long)v[i]);
    t_add(&t, "]");
    return t.ok;
}

static bool json_times(char *buf, size_t cap, const int64_t *v, uint32_t n)
{
    text_t t = {buf, cap, 0, true};
    t_add(&t, "[");
    for (uint32_t i = 0; i < n; i++)
        t_add(&t, "%s%.6f", i ? "," : "", store_int_ns_to_sec(v[i]));
    t_add(&t, "]");
    return t.ok;
}

static bool json_indicators(char *buf, size_t cap, uint32_t bits)
{
    text_t t = {buf, cap, 0, true};
    t_add(&t, "[");
    for (int d = 0, k = 0; d < ALERT_DET_COUNT; d++)
        if (bits & (1u << d))
            t_add(&t, "%s\"%s\"", k++ ? "," : "", alert_detector_name((alert_detector_t)d));
    t_add(&t, "]");
    return t.ok;
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
    char ids[ALERT_MAX_SAMPLES * 21 + 4], times[ALERT_MAX_SAMPLES * 24 + 4], ind[256];
    if (!json_ids(ids, sizeof(ids), a->sample_ids, a->n_samples) ||
        !json_times(times, sizeof(times), a->sample_ns, a->n_samples) ||
        !json_indicators(ind, sizeof(ind), a->indicators))
        return store_int_fail_msg(s, -EINVAL, "put alert", "bad samples");
    binder_t b = {0};
    err = prepare(s, alert_upsert, &b.st, "put alert");
    if (err != 0)
        return err;
    char src[NET_ADDR_STRLEN];
    b_i64(&b, a->id);
    b_str(&b, alert_type_name(a->type));
    b_str(&b, a->source.family ? net_addr_str(&a->source, src, sizeof(src)) : NULL);
    b_str(&b, a->target ? a->target : "");
    b_i64(&b, a->count > INT64_MAX ? INT64_MAX : (int64_t)a->count);
    b_time(&b, a->first_ns);
    b_time(&b, a->last_ns);
    b_str(&b, ids);
    b_str(&b, ind);
    b_str(&b, a->user_agent ? a->user_agent : "");
    b_str(&b, a->open ? "true" : "false");
    b_i64(&b, a->registers);
    b_i64(&b, a->invites);
    b_i64(&b, a->options);
    b_i64(&b, a->r2xx);
    b_i64(&b, a->r401);
    b_i64(&b, a->r403);
    b_i64(&b, a->r404);
    b_i64(&b, a->distinct_users);
    b_i64(&b, a->distinct_targets);
    b_i64(&b, a->distinct_sources);
    b_str(&b, times);
    return run_write(s, &b, "put alert");
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

static uint32_t col_u32(sqlite3_stmt *st, int i)
{
    int64_t v = sqlite3_column_int64(st, i);
    return v < 0 ? 0 : v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

#define REG_COLS                                                                                   \
    "id, aor, aor_user, contact, user_agent, source, expires, last_status, first_time, last_time," \
    " active, json_extract(details, '$.attempts'), json_extract(details, '$.challenges'),"         \
    " json_extract(details, '$.failures'), json_extract(details, '$.expires_time')"

static int row_registration(sqlite3_stmt *st, const walker_t *wk)
{
    registration_record_t r = {
        .id = sqlite3_column_int64(st, 0),
        .aor = col_text(st, 1),
        .aor_user = col_text(st, 2),
        .contact = col_text(st, 3),
        .user_agent = col_text(st, 4),
        .expires = col_u32(st, 6),
        .last_status = (uint16_t)col_u32(st, 7),
        .first_ns = col_time(st, 8),
        .last_ns = col_time(st, 9),
        .active = sqlite3_column_int(st, 10) != 0,
        .attempts = col_u32(st, 11),
        .challenges = col_u32(st, 12),
        .failures = col_u32(st, 13),
        .expires_ns = col_time(st, 14),
    };
    net_endpoint_parse(sv_from_cstr(col_text(st, 5)), &r.source);
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
    return query_paged(s, "query registrations", REG_COLS, "registrations", &w,
                       "last_time DESC, id DESC", limit, offset, row_registration,
                       &(walker_t){.reg = cb, .ctx = ctx}, total);
}

#define ALERT_COLS                                                                                 \
    "id, type, source, target, count, first_time, last_time, sample_message_ids,"                  \
    " json_extract(details, '$.indicators'), json_extract(details, '$.user_agent'),"               \
    " json_extract(details, '$.open'), json_extract(details, '$.registers'),"                      \
    " json_extract(details, '$.invites'), json_extract(details, '$.options'),"                     \
    " json_extract(details, '$.r2xx'), json_extract(details, '$.r401'),"                           \
    " json_extract(details, '$.r403'), json_extract(details, '$.r404'),"                           \
    " json_extract(details, '$.distinct_users'), json_extract(details, '$.distinct_targets'),"     \
    " json_extract(details, '$.distinct_sources'), json_extract(details, '$.sample_times')"

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

static int row_alert(sqlite3_stmt *st, const walker_t *wk)
{
    alert_record_t a;
    memset(&a, 0, sizeof(a));
    a.id = sqlite3_column_int64(st, 0);
    const char *type = col_text(st, 1);
    a.type = ALERT_SCANNER;
    for (int t = 0; t < ALERT_TYPE_COUNT; t++)
        if (strcmp(type, alert_type_name((alert_type_t)t)) == 0)
            a.type = (alert_type_t)t;
    if (!net_addr_parse(sv_from_cstr(col_text(st, 2)), &a.source))
        memset(&a.source, 0, sizeof(a.source));
    a.target = col_text(st, 3);
    int64_t count = sqlite3_column_int64(st, 4);
    a.count = count < 0 ? 0 : (uint64_t)count;
    a.first_ns = col_time(st, 5);
    a.last_ns = col_time(st, 6);
    const char *ind = col_text(st, 8);
    for (int d = 0; d < ALERT_DET_COUNT; d++) {
        char quoted[48];
        int n =
            snprintf(quoted, sizeof(quoted), "\"%s\"", alert_detector_name((alert_detector_t)d));
        if (n > 0 && (size_t)n < sizeof(quoted) && strstr(ind, quoted) != NULL)
            a.indicators |= 1u << d;
    }
    a.user_agent = col_text(st, 9);
    a.open = sqlite3_column_int(st, 10) != 0; /* json_extract gives 1/0 for true/false */
    a.registers = col_u32(st, 11);
    a.invites = col_u32(st, 12);
    a.options = col_u32(st, 13);
    a.r2xx = col_u32(st, 14);
    a.r401 = col_u32(st, 15);
    a.r403 = col_u32(st, 16);
    a.r404 = col_u32(st, 17);
    a.distinct_users = col_u32(st, 18);
    a.distinct_targets = col_u32(st, 19);
    a.distinct_sources = col_u32(st, 20);
    double times[ALERT_MAX_SAMPLES], ids[ALERT_MAX_SAMPLES];
    uint32_t nt = json_numbers(col_text(st, 21), times, ALERT_MAX_SAMPLES);
    uint32_t ni = json_numbers(col_text(st, 7), ids, ALERT_MAX_SAMPLES);
    a.n_samples = nt > ni ? nt : ni;
    for (uint32_t i = 0; i < a.n_samples; i++) {
        a.sample_ns[i] = i < nt ? store_int_sec_to_ns(times[i]) : 0;
        /* Ids line up with times only when every sample had one. */
        a.sample_ids[i] = ni == a.n_samples ? (int64_t)ids[i] : 0;
    }
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
    return query_paged(s, "query alerts", ALERT_COLS, "alerts", &w, "last_time DESC, id DESC",
                       limit, offset, row_alert, &(walker_t){.alert = cb, .ctx = ctx}, total);
}
