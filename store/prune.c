/* prune: retention by age and by size, a bounded transaction at a time, then space handed back. */
#include "store.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "defs.h"
#include "store_int.h"

#define PRUNE_CALLS  256  /* calls (with their children) per transaction */
#define PRUNE_ROWS   4096 /* rows of the other kinds per transaction */
#define VACUUM_PAGES 1024 /* pages handed back per incremental_vacuum step */

enum {
    PR_CALL_IDS,     /* ?1 cutoff, ?2 limit -> call ids */
    PR_CALL_MSGS,    /* ?1 call id */
    PR_CALL_DTMF,    /* ?1 call id */
    PR_CALL_STREAMS, /* ?1 call id -> stream ids */
    PR_STREAM_SAMPLES,
    PR_STREAM,
    PR_CALL,
    PR_ORPHAN_MSGS,    /* ?1 cutoff, ?2 limit */
    PR_ORPHAN_STREAMS, /* ?1 cutoff, ?2 limit -> stream ids */
    PR_REGISTRATIONS,
    PR_ALERTS,
    PR_COUNT
};

static const char *const prune_sql[PR_COUNT] = {
    /* Calls with no invite time fall back on their other times; none at all counts as old. */
    [PR_CALL_IDS] = "SELECT id FROM calls WHERE invite_time < ?1"
                    " UNION ALL SELECT id FROM calls WHERE invite_time IS NULL"
                    " AND coalesce(end_time, answer_time, ringing_time, 0) < ?1 LIMIT ?2",
    [PR_CALL_MSGS] = "DELETE FROM sip_messages WHERE call_row = ?1",
    [PR_CALL_DTMF] = "DELETE FROM dtmf_events WHERE call_row = ?1",
    [PR_CALL_STREAMS] = "SELECT id FROM rtp_streams WHERE call_row = ?1",
    [PR_STREAM_SAMPLES] = "DELETE FROM stream_samples WHERE stream_row = ?1",
    [PR_STREAM] = "DELETE FROM rtp_streams WHERE id = ?1",
    [PR_CALL] = "DELETE FROM calls WHERE id = ?1",
    [PR_ORPHAN_MSGS] = "DELETE FROM sip_messages WHERE id IN (SELECT id FROM sip_messages"
                       " WHERE call_row IS NULL AND time < ?1 LIMIT ?2)",
    [PR_ORPHAN_STREAMS] = "SELECT id FROM rtp_streams WHERE call_row IS NULL AND last_time < ?1"
                          " LIMIT ?2",
    [PR_REGISTRATIONS] = "DELETE FROM registrations WHERE id IN (SELECT id FROM registrations"
                         " WHERE last_time < ?1 LIMIT ?2)",
    [PR_ALERTS] = "DELETE FROM alerts WHERE id IN (SELECT id FROM alerts"
                  " WHERE last_time < ?1 LIMIT ?2)",
};

typedef struct {
    sqlite3_stmt *st[PR_COUNT];
    int64_t calls; /* calls deleted so far */
} pruner_t;

/* Ids from a SELECT bound with (cutoff, limit) or (id); at most cap of them. */
static int collect_ids(store_t *s, sqlite3_stmt *st, int64_t *ids, int cap, int *n)
{
    int rc = SQLITE_DONE;
    *n = 0;
    while (*n < cap && (rc = sqlite3_step(st)) == SQLITE_ROW)
        ids[(*n)++] = sqlite3_column_int64(st, 0);
    int err = (*n == cap || rc == SQLITE_DONE) ? 0 : store_int_fail_sql(s, rc, "prune");
    sqlite3_reset(st);
    return err;
}

static int run_id(store_t *s, sqlite3_stmt *st, int64_t id)
{
    sqlite3_bind_int64(st, 1, id);
    return store_int_run(s, st, "prune");
}

/* A stream and its samples. */
static int prune_stream(store_t *s, pruner_t *p, int64_t id)
{
    int err = run_id(s, p->st[PR_STREAM_SAMPLES], id);
    return err != 0 ? err : run_id(s, p->st[PR_STREAM], id);
}

/* A call, its messages, its streams and their samples. */
static int prune_call(store_t *s, pruner_t *p, int64_t id)
{
    int64_t streams[64];
    int n, err;
    do { /* a call rarely has more than a few streams; loop for the ones that do */
        sqlite3_bind_int64(p->st[PR_CALL_STREAMS], 1, id);
        err = collect_ids(s, p->st[PR_CALL_STREAMS], streams, 64, &n);
        for (int i = 0; err == 0 && i < n; i++)
            err = prune_stream(s, p, streams[i]);
    } while (err == 0 && n == 64);
    if (err == 0)
        err = run_id(s, p->st[PR_CALL_MSGS], id);
    if (err == 0)
        err = run_id(s, p->st[PR_CALL_DTMF], id);
    if (err == 0) /* given back by the call aggregate (agg.h) */
        err = store_agg_take(s, id, -1);
    if (err == 0)
        err = run_id(s, p->st[PR_CALL], id);
    return err;
}

/* One transaction: up to PRUNE_CALLS calls before cutoff with their children, and up to
 * PRUNE_ROWS rows of each other kind. *deleted receives the rows removed (0: nothing left). */
static int prune_slice(store_t *s, pruner_t *p, double cutoff, int64_t *deleted)
{
    int64_t ids[PRUNE_CALLS];
    int n = 0;
    *deleted = 0;
    int err = store_int_run_st(s, ST_BEGIN, "prune");
    if (err != 0)
        return err;
    int64_t before = sqlite3_total_changes64(store_int_db(s));
    sqlite3_stmt *st = p->st[PR_CALL_IDS];
    sqlite3_bind_double(st, 1, cutoff);
    sqlite3_bind_int64(st, 2, PRUNE_CALLS);
    err = collect_ids(s, st, ids, PRUNE_CALLS, &n);
    for (int i = 0; err == 0 && i < n; i++)
        err = prune_call(s, p, ids[i]);
    if (err == 0)
        p->calls += n;

    if (err == 0) {
        st = p->st[PR_ORPHAN_STREAMS];
        sqlite3_bind_double(st, 1, cutoff);
        sqlite3_bind_int64(st, 2, PRUNE_CALLS);
        err = collect_ids(s, st, ids, PRUNE_CALLS, &n);
        for (int i = 0; err == 0 && i < n; i++)
            err = prune_stream(s, p, ids[i]);
    }
    static const int bulk[] = {PR_ORPHAN_MSGS, PR_REGISTRATIONS, PR_ALERTS};
    for (size_t i = 0; err == 0 && i < ARRAY_LEN(bulk); i++) {
        st = p->st[bulk[i]];
        sqlite3_bind_double(st, 1, cutoff);
        sqlite3_bind_int64(st, 2, PRUNE_ROWS);
        err = store_int_run(s, st, "prune");
    }
    if (err == 0) {
        *deleted = sqlite3_total_changes64(store_int_db(s)) - before;
        err = store_agg_flush(s);
    }
    if (err == 0)
        err = store_int_run_st(s, ST_COMMIT, "prune");
    if (err != 0) {
        store_agg_discard(s);
        if (!sqlite3_get_autocommit(store_int_db(s)))
            store_int_run_st(s, ST_ROLLBACK, "prune");
        *deleted = 0;
    }
    return err;
}

/* Slices until one finds nothing before cutoff. *total accumulates the rows removed. */
static int prune_before(store_t *s, pruner_t *p, double cutoff, int64_t *total)
{
    int64_t n;
    int err;
    do {
        err = prune_slice(s, p, cutoff, &n);
        *total += n;
    } while (err == 0 && n > 0);
    return err;
}

/* For size pruning: a time cutoff that removes about the share of rows by which the database is
 * over max_bytes, plus 2% of max_bytes so that a round or two converge even though deleting
 * rows frees somewhat fewer pages than their share. It is the smallest such time over the kinds of
 * dated rows, so a round never removes much more than intended from any of them; each round removes
 * at least the oldest row of one kind. *any is false when no dated row is left. */
static int size_cutoff(store_t *s, int64_t used, int64_t max_bytes, double *cutoff, bool *any)
{
    static const struct {
        const char *count, *kth;
    } kinds[] = {
        {"SELECT count(*) FROM calls WHERE invite_time IS NOT NULL",
         "SELECT invite_time FROM calls WHERE invite_time IS NOT NULL"
         " ORDER BY invite_time LIMIT 1 OFFSET ?1"},
        {"SELECT count(*) FROM sip_messages WHERE call_row IS NULL AND time IS NOT NULL",
         "SELECT time FROM sip_messages WHERE call_row IS NULL AND time IS NOT NULL"
         " ORDER BY time LIMIT 1 OFFSET ?1"},
        {"SELECT count(*) FROM rtp_streams WHERE call_row IS NULL AND last_time IS NOT NULL",
         "SELECT last_time FROM rtp_streams WHERE call_row IS NULL AND last_time IS NOT NULL"
         " ORDER BY last_time LIMIT 1 OFFSET ?1"},
    };
    double share = (double)(used - max_bytes + max_bytes / 50) / (double)used;
    *cutoff = DBL_MAX;
    *any = false;
    for (size_t i = 0; i < ARRAY_LEN(kinds); i++) {
        int64_t n = 0;
        int err = store_int_query_i64(s, kinds[i].count, &n);
        if (err != 0)
            return err;
        if (n == 0)
            continue;
        *any = true;
        double want = ceil(share * (double)n); /* rows to delete, 1..n */
        int64_t del = want >= (double)n ? n : want < 1 ? 1 : (int64_t)want;
        sqlite3_stmt *st;
        err = store_int_prepare(s, kinds[i].kth, &st);
        if (err != 0)
            return err;
        sqlite3_bind_int64(st, 1, del - 1); /* past the del-th oldest */
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            double t = nextafter(sqlite3_column_double(st, 0), DBL_MAX);
            if (t < *cutoff)
                *cutoff = t;
        } else if (rc != SQLITE_DONE) {
            err = store_int_fail_sql(s, rc, "prune");
        }
        sqlite3_finalize(st);
        if (err != 0)
            return err;
    }
    return 0;
}

int store_used_bytes(store_t *s, int64_t *out)
{
    int err = store_int_check_open(s);
    return err != 0 ? err
                    : store_int_query_i64(s,
                                          "SELECT (p.page_count - f.freelist_count) * z.page_size"
                                          " FROM pragma_page_count() p, pragma_freelist_count() f,"
                                          " pragma_page_size() z",
                                          out);
}

/* Hand free pages back to the file system a bounded step at a time (a no-op unless the
 * database has auto_vacuum=INCREMENTAL), then checkpoint the WAL without waiting for readers. */
static int release_space(store_t *s)
{
    int64_t free_pages = 0;
    int err = store_int_query_i64(s, "PRAGMA freelist_count", &free_pages);
    while (err == 0 && free_pages > 0) {
        err = store_int_exec(s, "PRAGMA incremental_vacuum(" STR(VACUUM_PAGES) ")", "vacuum");
        int64_t left = 0;
        if (err == 0)
            err = store_int_query_i64(s, "PRAGMA freelist_count", &left);
        if (err == 0 && left >= free_pages)
            break; /* auto_vacuum is off: nothing to do */
        free_pages = left;
    }
    if (err == 0)
        err = store_int_exec(s, "PRAGMA wal_checkpoint(PASSIVE)", "checkpoint");
    return err;
}

int store_prune(store_t *s, int64_t older_than_ns, int64_t max_bytes, int64_t *calls_deleted)
{
    if (calls_deleted != NULL)
        *calls_deleted = 0;
    int err = store_int_check_writable(s);
    if (err != 0)
        return err;
    if (older_than_ns < 0 || max_bytes < 0)
        return store_int_fail_msg(s, -EINVAL, "prune", "negative limit");
    err = store_int_batch_commit(s);
    if (err != 0)
        return err;
    pruner_t p = {0};
    int64_t rows = 0;
    for (int i = 0; i < PR_COUNT; i++) {
        err = store_int_prepare(s, prune_sql[i], &p.st[i]);
        if (err != 0)
            goto out;
    }
    if (older_than_ns > 0) {
        err = prune_before(s, &p, store_int_ns_to_sec(older_than_ns), &rows);
        if (err != 0)
            goto out;
    }
    while (max_bytes > 0) {
        int64_t used = 0;
        double cutoff = DBL_MAX;
        bool any = false;
        err = store_used_bytes(s, &used);
        if (err == 0 && used > max_bytes)
            err = size_cutoff(s, used, max_bytes, &cutoff, &any);
        if (err != 0 || !any)
            break; /* fits, or nothing left that we know how to delete */
        int64_t removed = 0;
        err = prune_before(s, &p, cutoff, &removed);
        rows += removed;
        if (err != 0 || removed == 0)
            break; /* nothing left that we know how to delete */
    }
    if (err == 0 && rows > 0)
        err = release_space(s);
out:
    for (int i = 0; i < PR_COUNT; i++)
        sqlite3_finalize(p.st[i]);
    if (calls_deleted != NULL)
        *calls_deleted = p.calls;
    return err;
}
