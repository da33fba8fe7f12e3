/* store: the SQLite connection (open, close, errors), its statements, batched writes and meta.
 *
 * The rest of the store: schema.c (migrations), store_write.c (records in), store_read.c
 * (records out), prune.c (retention), query.c (filtered reads for the API), security.c
 * (registrations and alerts); store_int.h is what they share. */
#include "store.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "defs.h"
#include "agg.h"
#include "store_int.h"
#include "sv.h"

/* ---- Statements prepared once at open (write path), indexed by the ST_* of store_int.h.
 *
 * UPSERT rather than INSERT OR REPLACE: same result for the caller, but REPLACE deletes and
 * re-inserts the row (touching every index entry), while DO UPDATE rewrites it in place. */
static const char *const write_sql[ST_COUNT] = {
    /* IMMEDIATE takes the write lock up front, so a busy database shows at BEGIN (where the
     * busy timeout applies) and never as a deadlock when a read transaction upgrades. */
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    /* [ST_PUT_CALL .. ST_PUT_MESSAGE]: store_int_put_sql, from the records' descriptors */
    [ST_SET_META] = "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
    /* A non-integer value under the key (set by hand) is replaced, not added to. */
    [ST_ADD_META] = "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE"
                    " SET value = CASE typeof(value) WHEN 'integer' THEN value + excluded.value"
                    " ELSE excluded.value END",
};

struct store {
    sqlite3 *db; /* NULL once closed or failed */
    bool read_only;
    bool in_txn; /* a batch transaction is open */
    uint32_t batch_rows;
    uint32_t pending;            /* rows in the open batch */
    int (*precommit)(void *ctx); /* store_set_precommit */
    void *precommit_ctx;
    bool in_precommit;
    store_agg_t *agg; /* the call aggregate's sums (writable stores) */
    sqlite3_stmt *st[ST_COUNT];
    store_stats_t stats;
    char err[256];
    int (*gone)(void *ctx); /* store_set_interrupt */
    void *gone_ctx;
    int64_t deadline_ns; /* store_int_set_budget: CLOCK_MONOTONIC; 0 = no budget */
    bool over_budget;
};

/* SQLite virtual-machine steps between two looks of store_set_interrupt's function: about a
 * millisecond of a query. */
#define STORE_INTERRUPT_STEPS 100000

/* ---- Errors. */

static int errno_of(int sqlite_rc)
{
    switch (sqlite_rc & 0xff) {
        case SQLITE_NOMEM:
            return -ENOMEM;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
            return -EBUSY;
        case SQLITE_READONLY:
            return -EROFS;
        case SQLITE_FULL:
            return -ENOSPC;
        case SQLITE_TOOBIG:
        case SQLITE_RANGE:
        case SQLITE_MISUSE:
            return -EINVAL;
        case SQLITE_INTERRUPT:
            return -EINTR;
        default:
            return -EIO;
    }
}

/* Record a failure with our own words; returns err. */
int store_int_fail_msg(store_t *s, int err, const char *what, const char *why)
{
    s->stats.errors++;
    if (snprintf(s->err, sizeof(s->err), "%s: %s", what, why) < 0)
        s->err[0] = '\0';
    return err;
}

/* Record a failure of SQLite (sqlite_rc, message from the connection); returns -errno. */
int store_int_fail_sql(store_t *s, int sqlite_rc, const char *what)
{
    const char *why = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(sqlite_rc);
    return store_int_fail_msg(s, errno_of(sqlite_rc), what, why);
}

int store_int_check_open(store_t *s)
{
    if (s == NULL)
        return -EINVAL;
    if (s->db == NULL)
        return store_int_fail_msg(s, -EINVAL, "store", "not open");
    return 0;
}

int store_int_check_writable(store_t *s)
{
    int rc = store_int_check_open(s);
    if (rc == 0 && s->read_only)
        rc = store_int_fail_msg(s, -EROFS, "store", "opened read-only");
    return rc;
}

/* ---- Conversions between records and columns. */

/* ns -> seconds in two parts, so the double is rounded once (to ~0.12 us near 2025). */
double store_int_ns_to_sec(int64_t ns)
{
    return (double)(ns / NS_PER_S) + (double)(ns % NS_PER_S) / 1e9;
}

/* seconds -> ns, rounded to the microsecond (exact for microsecond inputs of ns_to_sec). */
int64_t store_int_sec_to_ns(double sec)
{
    if (!isfinite(sec) || fabs(sec) > 9.0e9)
        return 0;
    double whole = floor(sec);
    int64_t us = llround((sec - whole) * 1e6);
    return (int64_t)whole * NS_PER_S + us * NS_PER_US;
}

/* ---- Small helpers around statements. */

int store_int_prepare(store_t *s, const char *sql, sqlite3_stmt **st)
{
    int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
    if (rc != SQLITE_OK) {
        *st = NULL;
        return store_int_fail_sql(s, rc, "prepare");
    }
    return 0;
}

int store_int_exec(store_t *s, const char *sql, const char *what)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : store_int_fail_sql(s, rc, what);
}

/* Run a statement that returns no rows (or whose rows don't matter), then reset it. */
int store_int_run(store_t *s, sqlite3_stmt *st, const char *what)
{
    int rc;
    do {
        rc = sqlite3_step(st);
    } while (rc == SQLITE_ROW);
    int err = rc == SQLITE_DONE ? 0 : store_int_fail_sql(s, rc, what);
    sqlite3_reset(st);
    return err;
}

/* First column of the first row of sql as an integer (0 when no row). */
int store_int_query_i64(store_t *s, const char *sql, int64_t *out)
{
    sqlite3_stmt *st;
    int err = store_int_prepare(s, sql, &st);
    if (err != 0)
        return err;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else if (rc == SQLITE_DONE)
        *out = 0;
    else
        err = store_int_fail_sql(s, rc, "query");
    sqlite3_finalize(st);
    return err;
}

/* ---- Batches. */

/* The open transaction is gone (SQLite rolls back by itself after some I/O errors, or the
 * commit failed): its rows are lost. */
static void batch_lost(store_t *s)
{
    store_agg_discard(s);
    s->stats.rows_dropped += s->pending;
    s->pending = 0;
    s->in_txn = false;
}

static int batch_begin(store_t *s)
{
    if (s->in_txn)
        return 0;
    int err = store_int_run(s, s->st[ST_BEGIN], "begin batch");
    if (err == 0)
        s->in_txn = true;
    return err;
}

void store_set_precommit(store_t *s, int (*fn)(void *ctx), void *ctx)
{
    s->precommit = fn;
    s->precommit_ctx = ctx;
}

int store_int_batch_commit(store_t *s)
{
    if (s->precommit != NULL && !s->in_precommit) {
        /* What the owner held back goes into this batch (even a batch it opens itself). */
        s->in_precommit = true;
        int err = s->precommit(s->precommit_ctx);
        s->in_precommit = false;
        if (err != 0)
            return err;
    }
    if (!s->in_txn)
        return 0;
    int err = store_agg_flush(s);
    if (err != 0) {
        /* The batch's sums are gone: its rows go too, so the aggregate stays their sum. */
        if (!sqlite3_get_autocommit(s->db))
            store_int_run(s, s->st[ST_ROLLBACK], "rollback batch");
        batch_lost(s);
        return err;
    }
    int rc = sqlite3_step(s->st[ST_COMMIT]);
    err = rc == SQLITE_DONE ? 0 : store_int_fail_sql(s, rc, "commit batch");
    sqlite3_reset(s->st[ST_COMMIT]);
    if (err == 0) {
        s->stats.rows_committed += s->pending;
        s->stats.commits++;
        s->pending = 0;
        s->in_txn = false;
    } else if ((rc & 0xff) == SQLITE_BUSY && !sqlite3_get_autocommit(s->db)) {
        /* Still open: keep the rows, a later flush retries. */
    } else {
        if (!sqlite3_get_autocommit(s->db))
            store_int_run(s, s->st[ST_ROLLBACK], "rollback batch");
        batch_lost(s);
    }
    return err;
}

/* Begin the batch if needed and reset the statement's bindings for a new row. */
int store_int_put_begin(store_t *s, int which, binder_t *b)
{
    memset(b, 0, offsetof(binder_t, ep));
    int err = store_int_check_writable(s);
    if (err == 0)
        err = batch_begin(s);
    if (err == 0)
        b->st = s->st[which];
    return err;
}

/* Run a bound write statement in the batch (no commit). */
int store_int_put_step(store_t *s, binder_t *b, const char *what)
{
    int err;
    if (b->rc != SQLITE_OK) {
        err = store_int_fail_sql(s, b->rc, what);
    } else {
        int rc = sqlite3_step(b->st);
        err = rc == SQLITE_DONE ? 0 : store_int_fail_sql(s, rc, what);
    }
    sqlite3_reset(b->st);
    if (err != 0) {
        if (s->in_txn && sqlite3_get_autocommit(s->db))
            batch_lost(s); /* SQLite rolled the whole batch back (I/O error, disk full) */
        return err;
    }
    s->pending++;
    return 0;
}

int store_int_commit_if_full(store_t *s)
{
    if (s->pending >= s->batch_rows && !s->in_precommit)
        return store_int_batch_commit(s);
    return 0;
}

/* Run a bound write statement in the batch; commit when the batch is full. */
int store_int_put_end(store_t *s, binder_t *b, const char *what)
{
    int err = store_int_put_step(s, b, what);
    return err != 0 ? err : store_int_commit_if_full(s);
}

int store_flush(store_t *s)
{
    int err = store_int_check_open(s);
    if (err == 0 && !s->read_only)
        err = store_int_batch_commit(s);
    return err;
}

/* ---- Open and close. */

static void store_release(store_t *s)
{
    store_agg_writer_free(s->agg);
    s->agg = NULL;
    for (int i = 0; i < ST_COUNT; i++) {
        sqlite3_finalize(s->st[i]);
        s->st[i] = NULL;
    }
    if (s->db != NULL)
        sqlite3_close_v2(s->db);
    s->db = NULL;
}

int store_open(const char *path, store_t **out)
{
    return store_open_opts(path, NULL, out);
}

int store_open_opts(const char *path, const store_opts_t *opts, store_t **out)
{
    static const store_opts_t defaults = {0};
    if (opts == NULL)
        opts = &defaults;
    *out = NULL;
    store_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return -ENOMEM;
    int err = 0, rc, flags;
    s->read_only = opts->read_only;
    s->batch_rows = opts->batch_rows ? opts->batch_rows : STORE_DEFAULT_BATCH;
    if (path == NULL) {
        err = store_int_fail_msg(s, -EINVAL, "store", "no path");
        goto fail;
    }
    /* NOMUTEX: a store_t belongs to one thread at a time, so SQLite's per-connection mutex
     * is pure overhead. */
    flags = SQLITE_OPEN_NOMUTEX |
            (s->read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    rc = sqlite3_open_v2(path, &s->db, flags, NULL);
    if (rc != SQLITE_OK) {
        err = store_int_fail_sql(s, rc, path);
        goto fail;
    }
    sqlite3_busy_timeout(s->db, opts->busy_timeout_ms ? (int)opts->busy_timeout_ms
                                                      : STORE_DEFAULT_BUSY_MS);
    err = store_int_register_functions(s);
    if (err != 0)
        goto fail;
    /* Refuse a newer schema before touching anything (journal mode included). */
    err = store_int_check_not_newer(s);
    if (err != 0)
        goto fail;
    if (!s->read_only) {
        /* page_size and auto_vacuum only take on a database without tables (a new one), so
         * they must come before the first migration; elsewhere they are harmless no-ops.
         * 16 KB pages hold about 35 stored SIP messages each (fewer pages written per row);
         * INCREMENTAL lets store_prune hand free pages back in bounded steps. */
        err = store_int_exec(s, "PRAGMA page_size = 16384; PRAGMA auto_vacuum = INCREMENTAL", path);
        if (err == 0)
            err = store_int_exec(s, "PRAGMA journal_mode = WAL", path);
        /* Keep a checkpointed WAL from staying at its high-water mark. */
        if (err == 0)
            err = store_int_exec(s, "PRAGMA journal_size_limit = 67108864", path);
        if (err != 0)
            goto fail;
    }
    /* NORMAL in WAL mode: durable across application crashes, may lose the last commits on
     * power loss, never corrupts. Foreign keys stay off: see the schema's comment. */
    char pragmas[160];
    snprintf(pragmas, sizeof(pragmas),
             "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF;"
             " PRAGMA temp_store = MEMORY; PRAGMA cache_size = -%u",
             (unsigned)(opts->cache_kb ? opts->cache_kb : STORE_DEFAULT_CACHE_KB));
    err = store_int_exec(s, pragmas, path);
    if (err != 0)
        goto fail;
    bool migrated = false;
    err = s->read_only ? store_int_check_version(s) : store_int_migrate(s, &migrated);
    /* The per-minute aggregate of the calls for /api/v1/stats (derived data, agg.h): a
     * migration may have rewritten calls, so it is rebuilt after one. */
    if (err == 0 && !s->read_only)
        err = store_agg_ensure(s, migrated);
    if (err != 0)
        goto fail;
    if (!s->read_only) {
        for (int i = 0; i < ST_COUNT; i++) {
            const char *sql = write_sql[i] != NULL ? write_sql[i] : store_int_put_sql(i);
            rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL);
            if (rc != SQLITE_OK) {
                err = store_int_fail_sql(s, rc, "prepare");
                goto fail;
            }
        }
    }
    *out = s;
    return 0;
fail:
    store_release(s); /* keeps s->err for store_errmsg */
    *out = s;
    return err;
}

int store_close(store_t *s)
{
    if (s == NULL)
        return 0;
    int err = s->db != NULL && !s->read_only ? store_int_batch_commit(s) : 0;
    store_release(s);
    free(s);
    return err;
}

const char *store_errmsg(const store_t *s)
{
    if (s == NULL)
        return "out of memory";
    return s->err[0] ? s->err : "no error";
}

void store_get_stats(const store_t *s, store_stats_t *out)
{
    if (s == NULL)
        memset(out, 0, sizeof(*out));
    else
        *out = s->stats;
}

/* ---- Meta: a key-value table (totals, capture facts, settings). */

int store_set_meta(store_t *s, const char *key, const char *value)
{
    if (key == NULL)
        return -EINVAL;
    binder_t b;
    int err = store_int_put_begin(s, ST_SET_META, &b);
    if (err != 0)
        return err;
    b_str(&b, key);
    b_str(&b, value);
    return store_int_put_end(s, &b, "set meta");
}

int store_set_meta_i64(store_t *s, const char *key, int64_t value)
{
    if (key == NULL)
        return -EINVAL;
    binder_t b;
    int err = store_int_put_begin(s, ST_SET_META, &b);
    if (err != 0)
        return err;
    b_str(&b, key);
    b_i64(&b, value);
    return store_int_put_end(s, &b, "set meta");
}

/* Run the meta lookup; on success *st is positioned on the row (caller finalizes). */
static int meta_row(store_t *s, const char *key, sqlite3_stmt **st)
{
    *st = NULL;
    int err = store_int_check_open(s);
    if (err == 0 && key == NULL)
        err = store_int_fail_msg(s, -EINVAL, "get meta", "no key");
    if (err == 0)
        err = store_int_prepare(s, "SELECT value FROM meta WHERE key = ?1", st);
    if (err != 0)
        return err;
    sqlite3_bind_text(*st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(*st);
    if (rc == SQLITE_DONE || (rc == SQLITE_ROW && col_is_null(*st, 0)))
        err = store_int_fail_msg(s, -ENOENT, key, "no such meta key");
    else if (rc != SQLITE_ROW)
        err = store_int_fail_sql(s, rc, "get meta");
    if (err != 0) {
        sqlite3_finalize(*st);
        *st = NULL;
    }
    return err;
}

int store_get_meta(store_t *s, const char *key, char *buf, size_t cap)
{
    if (buf == NULL || cap == 0)
        return -EINVAL;
    buf[0] = '\0';
    sqlite3_stmt *st;
    int err = meta_row(s, key, &st);
    if (err != 0)
        return err;
    const char *t = col_text(st, 0);
    size_t len = (size_t)sqlite3_column_bytes(st, 0);
    sv_copy(sv_make(t, len), buf, cap);
    if (len >= cap)
        err = store_int_fail_msg(s, -ENOSPC, key, "meta value longer than the buffer");
    sqlite3_finalize(st);
    return err;
}

int store_get_meta_i64(store_t *s, const char *key, int64_t *out)
{
    sqlite3_stmt *st;
    int err = meta_row(s, key, &st);
    if (err != 0)
        return err;
    if (sqlite3_column_type(st, 0) == SQLITE_INTEGER) {
        *out = sqlite3_column_int64(st, 0);
    } else {
        /* Text written by store_set_meta: accept an optional '-' and decimal digits. */
        sv_t t = sv_make(col_text(st, 0), (size_t)sqlite3_column_bytes(st, 0));
        bool neg = t.len > 0 && t.p[0] == '-';
        uint64_t v;
        if (sv_to_u64(sv_slice(t, neg ? 1 : 0, SIZE_MAX), &v) &&
            v <= (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX))
            *out = neg ? (int64_t)(0 - v) : (int64_t)v;
        else
            err = store_int_fail_msg(s, -EINVAL, key, "meta value is not an integer");
    }
    sqlite3_finalize(st);
    return err;
}

/* ---- Internals for the store's other files (store_int.h). */

sqlite3 *store_int_db(store_t *s)
{
    return s->db;
}

store_agg_t *store_int_agg(store_t *s)
{
    return s->agg;
}

void store_int_set_agg(store_t *s, store_agg_t *a)
{
    store_agg_writer_free(s->agg);
    s->agg = a;
}

int store_int_run_st(store_t *s, int which, const char *what)
{
    assert(which >= 0 && which < ST_COUNT && s->st[which] != NULL);
    return store_int_run(s, s->st[which], what);
}

static int64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The progress handler: the statement's budget spent, or the caller gone, interrupts it. */
static int progress(void *ctx)
{
    store_t *s = ctx;
    if (s->deadline_ns != 0 && monotonic_ns() > s->deadline_ns) {
        s->over_budget = true;
        return 1;
    }
    return s->gone != NULL ? s->gone(s->gone_ctx) : 0;
}

/* With a budget the handler runs 10 times as often: a walk that reads a row per few steps
 * (random pages) can take 50 ms per 100,000 steps. */
static void install_progress(store_t *s)
{
    bool any = s->gone != NULL || s->deadline_ns != 0;
    int steps = s->deadline_ns != 0 ? STORE_INTERRUPT_STEPS / 10 : STORE_INTERRUPT_STEPS;
    sqlite3_progress_handler(s->db, any ? steps : 0, any ? progress : NULL, s);
}

void store_set_interrupt(store_t *s, int (*gone)(void *ctx), void *ctx)
{
    if (s == NULL || s->db == NULL)
        return;
    s->gone = gone;
    s->gone_ctx = ctx;
    install_progress(s);
}

void store_int_set_budget(store_t *s, int64_t ns)
{
    s->deadline_ns = ns > 0 ? monotonic_ns() + ns : 0;
    s->over_budget = false;
    install_progress(s);
}

bool store_int_over_budget(const store_t *s)
{
    return s->over_budget;
}
