/* query: the store's reads for the HTTP API: sorted call pages, streams, stats, metrics. */
#include "store.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* ---- Statements built from fixed fragments. Every value travels as a bound parameter; the only
 * text that reaches SQL is chosen here from constants, never taken from a filter. */

/* Run a prepared "SELECT count(*) ..." into *out; finalizes st. */
static int step_count(store_t *s, sqlite3_stmt *st, const char *what, int64_t *out)
{
    int err = 0;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else
        err = store_int_fail_sql(s, rc, what);
    sqlite3_finalize(st);
    return err;
}

static int count_sql(store_t *s, const char *sql, int64_t *out)
{
    int err = store_int_check_open(s);
    if (err != 0)
        return err;
    qw_t w = {0};
    qw_add(&w, sql);
    sqlite3_stmt *st;
    err = qw_prepare(s, &w, "count", &st);
    return err != 0 ? err : step_count(s, st, "count", out);
}

static int check_paging(store_t *s, int64_t limit, int64_t offset, bool have_cb, const char *what)
{
    int err = store_int_check_open(s);
    if (err == 0 && (offset < 0 || (!have_cb && limit != 0)))
        err = store_int_fail_msg(s, -EINVAL, what, "bad paging or no callback");
    return err;
}

/* ---- Indexes. */

/* sort=worst: verdict_severity (records.c) in SQL, then the MOS the other way round with calls
 * without one first ("mos ASC" when descending), as a key sorting the same way as the first, so
 * that one index (calls_worst) walks both in either direction without sorting. */
#define WORST_SEVERITY_SQL                                                                         \
    "CASE verdict WHEN 'one_way' THEN 5 WHEN 'no_media' THEN 4 WHEN 'poor' THEN 3 WHEN "           \
    "'degraded' THEN 2 WHEN 'failed' THEN 1 ELSE 0 END"
#define WORST_MOS_SQL "coalesce(-mos, 100)"

int store_add_query_indexes(store_t *s)
{
    static const char sql[] =
        "CREATE INDEX IF NOT EXISTS calls_state_mos ON calls(state, mos);"
        "CREATE INDEX IF NOT EXISTS calls_duration ON calls(duration_s);"
        "CREATE INDEX IF NOT EXISTS calls_pdd ON calls(post_dial_delay_ms);"
        "CREATE INDEX IF NOT EXISTS rtp_streams_first_time ON rtp_streams(first_time);"
        /* the filters of GET /api/v1/calls: one_way, nat (partial: only the few flagged calls),
         * final_status, ip (text ranges of the endpoints), probe (HEP messages and streams only),
         * verdict */
        "CREATE INDEX IF NOT EXISTS calls_one_way ON calls(invite_time) WHERE one_way = 1;"
        "CREATE INDEX IF NOT EXISTS calls_nat ON calls(invite_time) WHERE nat = 1;"
        "CREATE INDEX IF NOT EXISTS calls_final_status ON calls(final_status, invite_time);"
        "CREATE INDEX IF NOT EXISTS calls_caller ON calls(caller);"
        "CREATE INDEX IF NOT EXISTS calls_callee ON calls(callee);"
        /* the streams' endpoints with their call: the ip filter's list of calls is read from
         * the index alone (was (src) and (dst): a row read per stream, 17,000 random reads for
         * a /16 of 1M calls) */
        "DROP INDEX IF EXISTS rtp_streams_src;"
        "DROP INDEX IF EXISTS rtp_streams_dst;"
        "CREATE INDEX IF NOT EXISTS rtp_streams_src_call ON rtp_streams(src, call_row);"
        "CREATE INDEX IF NOT EXISTS rtp_streams_dst_call ON rtp_streams(dst, call_row);"
        "CREATE INDEX IF NOT EXISTS sip_messages_time ON sip_messages(time);"
        "CREATE INDEX IF NOT EXISTS sip_messages_probe ON sip_messages(probe, call_row)"
        " WHERE probe IS NOT NULL;"
        "CREATE INDEX IF NOT EXISTS rtp_streams_probe ON rtp_streams(probe, call_row)"
        " WHERE probe IS NOT NULL;"
        "CREATE INDEX IF NOT EXISTS calls_verdict ON calls(verdict, invite_time);"
        /* sort=worst (was a sort of every match: 200-450 ms for a page over 1M calls) */
        "CREATE INDEX IF NOT EXISTS calls_worst ON calls(" WORST_SEVERITY_SQL ", " WORST_MOS_SQL
        ");";
    int err = store_int_check_open(s);
    if (err != 0)
        return err;
    /* Commit whatever the caller had batched first: the DDL runs in its own transaction. */
    err = store_flush(s);
    if (err != 0)
        return err;
    int rc = sqlite3_exec(store_int_db(s), sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : store_int_fail_sql(s, rc, "create query indexes");
}

/* ---- Calls. */

/* Sort keys, their columns and the index that walks them in order. */
static const char *const sort_col[STORE_SORT_COUNT] = {
    [STORE_SORT_INVITE_TIME] = "invite_time", [STORE_SORT_MOS] = "mos",
    [STORE_SORT_DURATION] = "duration_s",     [STORE_SORT_PDD] = "post_dial_delay_ms",
    [STORE_SORT_WORST] = WORST_SEVERITY_SQL,
};

static int count_where(store_t *s, const store_call_filter_t *filter, const call_where_t *cw,
                       store_call_sort_t sort, int64_t *n)
{
    sqlite3_stmt *st;
    qw_t w = {0};
    qw_add(&w, "SELECT count(*) FROM calls");
    store_int_call_where(filter, cw, false, sort, &w);
    int err = qw_prepare(s, &w, "count calls", &st);
    return err != 0 ? err : step_count(s, st, "count calls", n);
}

/* The flags one_way=false, nat=false, active=false match most calls and have no index (their
 * partial indexes hold the few flagged ones): counted, they read every row (110 ms over 1M
 * calls). When the rest of the filter reads indexes only, the count is the inclusion-exclusion
 * of counts with those flags left out or set true instead (0 and 1 are their only values):
 * nat=false is all calls minus nat=true. negative_flags: the has_ field of flag i of f when it
 * asks for false, else NULL. */
static bool *negative_flags(store_call_filter_t *f, int i)
{
    bool *flags[][2] = {
        {&f->has_one_way, &f->one_way}, {&f->has_nat, &f->nat}, {&f->has_active, &f->active}};
    return *flags[i][0] && !*flags[i][1] ? flags[i][0] : NULL;
}

static bool count_by_flags_pays(const store_call_filter_t *f)
{
    return f->q == NULL && f->user_agent == NULL &&
           (f->user_exact || (f->from_user == NULL && f->to_user == NULL)) && f->codec == NULL &&
           !f->has_min_loss && !f->has_probe && f->search == NULL;
}

static int count_by_flags(store_t *s, const store_call_filter_t *filter, const call_where_t *cw,
                          store_call_sort_t sort, int64_t *total)
{
    store_call_filter_t f = *filter;
    int idx[3], k = 0;
    for (int i = 0; i < 3; i++) {
        if (negative_flags(&f, i) != NULL)
            idx[k++] = i;
    }
    *total = 0;
    int err = 0;
    for (unsigned set = 0; err == 0 && set < (1u << k); set++) {
        store_call_filter_t g = *filter;
        int sign = 1;
        for (int j = 0; j < k; j++) {
            bool *has = negative_flags(&g, idx[j]);
            has[0] = (set >> j) & 1u; /* left out, or ... */
            sign = (set >> j) & 1u ? -sign : sign;
        }
        for (int j = 0; j < k; j++) { /* ... set true */
            bool *flags[] = {&g.one_way, &g.nat, &g.active};
            *flags[idx[j]] = true;
        }
        int64_t n = 0;
        err = count_where(s, &g, cw, sort, &n);
        *total += sign * n;
    }
    return err;
}

/* The number of calls matching filter into *total, and max(id) into *rows. */
static int count_matches(store_t *s, const store_call_filter_t *filter, const call_where_t *cw,
                         store_call_sort_t sort, int64_t *total, int64_t *rows)
{
    bool negative = false;
    store_call_filter_t f = filter != NULL ? *filter : (store_call_filter_t){0};
    for (int i = 0; i < 3; i++)
        negative = negative || negative_flags(&f, i) != NULL;
    int err = negative && count_by_flags_pays(&f) ? count_by_flags(s, &f, cw, sort, total)
                                                  : count_where(s, filter, cw, sort, total);
    if (err == 0) {
        qw_t m = {0};
        sqlite3_stmt *st;
        qw_add(&m, "SELECT coalesce(max(id), 0) FROM calls");
        err = qw_prepare(s, &m, "count calls", &st);
        if (err == 0)
            err = step_count(s, st, "count calls", rows);
    }
    return err;
}

/* A page of calls: the plan walk_order says (store_int_call_where), offset and limit as
 * store_query_calls_sorted's; *delivered counts the calls handed to cb. */
typedef struct {
    const store_call_filter_t *filter;
    const call_where_t *cw;
    store_call_sort_t sort;
    bool ascending;
    store_call_cb cb;
    void *ctx;
} page_t;

static int query_page(store_t *s, const page_t *p, bool walk, int64_t limit, int64_t offset,
                      int64_t *delivered)
{
    qw_t w = {0};
    qw_add(&w, "SELECT ");
    qw_add(&w, store_int_columns(&call_record_desc));
    qw_add(&w, " FROM calls");
    store_int_call_where(p->filter, p->cw, walk, p->sort, &w);
    /* "key DIR, id DIR": every key's index holds rowids in order within equal keys, so SQLite
     * walks it (either way) without sorting. NULL keys are SQLite's lowest values. */
    const char *dir = p->ascending ? " ASC" : " DESC";
    qw_add(&w, " ORDER BY ");
    qw_add(&w, sort_col[p->sort]);
    qw_add(&w, dir);
    if (p->sort == STORE_SORT_WORST) { /* then the lowest MOS first among the worst */
        qw_add(&w, ", " WORST_MOS_SQL);
        qw_add(&w, dir);
    }
    qw_add(&w, ", id");
    qw_add(&w, dir);
    qw_add(&w, " LIMIT ? OFFSET ?");
    qw_i64(&w, limit < 0 ? -1 : limit);
    qw_i64(&w, offset);
    sqlite3_stmt *st;
    int err = qw_prepare(s, &w, "query calls", &st);
    if (err != 0)
        return err;
    int ret = 0, rc;
    while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        call_record_t c;
        store_int_row_call(st, &c);
        (*delivered)++;
        ret = p->cb(p->ctx, &c);
    }
    if (ret == 0 && rc == SQLITE_INTERRUPT && store_int_over_budget(s))
        ret = -ETIMEDOUT; /* not a failure: the caller takes the other plan */
    else if (ret == 0 && rc != SQLITE_DONE)
        ret = store_int_fail_sql(s, rc, "query calls");
    sqlite3_finalize(st);
    return ret;
}

/* Walking the sort key's index costs about (offset + limit) * rows / matches row visits when
 * the matches spread evenly along the key; where they gather at its far end (sort=worst of the
 * rejected calls: after every call with media, 2 s over 1M calls) the walk is stopped once it
 * has taken about what fetching and sorting the matches would, and that plan finishes the page
 * (the time a match costs it, measured: 1-3 us). */
#define WALK_NS_PER_MATCH 1000
#define WALK_NS_MIN       (5 * 1000000)

int64_t store_int_walk_budget_ns = -1;
_Atomic uint64_t store_int_walks_given_up;
int store_query_calls_sorted(store_t *s, const store_call_filter_t *filter, store_call_sort_t sort,
                             bool ascending, int64_t limit, int64_t offset, store_call_cb cb,
                             void *ctx, int64_t *total)
{
    int err = check_paging(s, limit, offset, cb != NULL, "query calls");
    if (err != 0)
        return err;
    if ((unsigned)sort >= STORE_SORT_COUNT)
        return store_int_fail_msg(s, -EINVAL, "query calls", "bad sort key");
    call_where_t cw;
    err = store_int_call_where_init(s, filter, &cw);
    if (err != 0)
        return err;
    /* With the count known, pick the page's plan: walking the sort key's index and filtering
     * (above), or fetching the matches by the filter's indexes and sorting them, about `matches`.
     * max(id) stands in for the row count (ids are dense, and it costs one b-tree descent). */
    bool walk = true;
    int64_t budget = 0;
    if (total != NULL) {
        int64_t rows = 0;
        err = count_matches(s, filter, &cw, sort, total, &rows);
        if (err != 0 || *total == 0 || limit == 0 || offset >= *total) {
            store_int_call_where_free(&cw);
            return err; /* nothing to page through */
        }
        double want = limit < 0 ? (double)rows : (double)(offset + limit);
        walk = (double)*total * (double)*total > want * (double)rows;
        /* sort=worst of some verdicts: the walk reads every call of the worse ones first */
        walk = walk && !(sort == STORE_SORT_WORST && filter != NULL && filter->verdict_mask != 0);
        budget = walk ? WALK_NS_MIN + WALK_NS_PER_MATCH * *total : 0;
        if (walk && store_int_walk_budget_ns >= 0)
            budget = store_int_walk_budget_ns;
    }
    if (limit == 0) {
        store_int_call_where_free(&cw);
        return 0;
    }
    page_t page = {filter, &cw, sort, ascending, cb, ctx};
    int64_t delivered = 0;
    store_int_set_budget(s, budget);
    err = query_page(s, &page, walk, limit, offset, &delivered);
    bool give_up = err == -ETIMEDOUT && store_int_over_budget(s);
    store_int_set_budget(s, 0);
    if (give_up) /* the calls handed over so far come first in the other plan too */
        atomic_fetch_add(&store_int_walks_given_up, 1);
    if (give_up)
        err = query_page(s, &page, false, limit < 0 ? -1 : limit - delivered, offset + delivered,
                         &delivered);
    store_int_call_where_free(&cw);
    return err;
}

int store_query_calls(store_t *s, const store_call_filter_t *filter, int64_t limit, int64_t offset,
                      store_call_cb cb, void *ctx, int64_t *total)
{
    /* Newest invite first, id descending on ties. */
    return store_query_calls_sorted(s, filter, STORE_SORT_INVITE_TIME, false, limit, offset, cb,
                                    ctx, total);
}

int store_call_time_range(store_t *s, int64_t *first_ns, int64_t *last_ns)
{
    *first_ns = *last_ns = 0;
    int err = store_int_check_open(s);
    if (err != 0)
        return err;
    qw_t w = {0};
    /* Two subqueries: each reads one end of the invite_time index (min and max together in one
     * SELECT would walk all of it: 0.1-0.2 s per million calls, on every /healthz). */
    qw_add(&w, "SELECT (SELECT min(invite_time) FROM calls), (SELECT max(invite_time) FROM calls)");
    sqlite3_stmt *st;
    err = qw_prepare(s, &w, "call time range", &st);
    if (err != 0)
        return err;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (sqlite3_column_type(st, 0) != SQLITE_NULL) {
            *first_ns = store_int_sec_to_ns(sqlite3_column_double(st, 0));
            *last_ns = store_int_sec_to_ns(sqlite3_column_double(st, 1));
        }
    } else {
        err = store_int_fail_sql(s, rc, "call time range");
    }
    sqlite3_finalize(st);
    return err;
}

/* Conditions on a time column for the bounds that are set (0 = unbounded); ge and lt are the
 * column's "col >= ?" and "col < ?" fragments. */
static void time_where(qw_t *w, const char *ge, const char *lt, int64_t since_ns, int64_t until_ns)
{
    if (since_ns != 0) {
        qw_cond(w, ge);
        qw_dbl(w, store_int_ns_to_sec(since_ns));
    }
    if (until_ns != 0) {
        qw_cond(w, lt);
        qw_dbl(w, store_int_ns_to_sec(until_ns));
    }
}

#define INVITE_RANGE "invite_time >= ?", "invite_time < ?"

static int state_index(const char *name)
{
    call_state_t st;
    return name != NULL && call_state_parse(name, &st) ? (int)st : -1;
}

/* The MOS histogram's bins as columns: count of calls per bin, 0.5 wide from 1.0, clamped at
 * both ends (so that one pass gives the histogram with everything else). */
#define MOS_BIN(lo, hi) "count(CASE WHEN mos >= " lo " AND mos < " hi " THEN 1 END)"
#define MOS_BINS_SQL                                                                               \
    "count(CASE WHEN mos < 1.5 THEN 1 END), " MOS_BIN("1.5", "2.0") ", " MOS_BIN(                  \
        "2.0",                                                                                     \
        "2.5") ", " MOS_BIN("2.5",                                                                 \
                            "3.0") ", " MOS_BIN("3.0",                                             \
                                                "3.5") ", " MOS_BIN("3.5",                         \
                                                                    "4.0") ", " MOS_BIN("4.0",     \
                                                                                        "4.5") "," \
                                                                                               " " \
                                                                                               "c" \
                                                                                               "o" \
                                                                                               "u" \
                                                                                               "n" \
                                                                                               "t" \
                                                                                               "(" \
                                                                                               "C" \
                                                                                               "A" \
                                                                                               "S" \
                                                                                               "E" \
                                                                                               " " \
                                                                                               "W" \
                                                                                               "H" \
                                                                                               "E" \
                                                                                               "N" \
                                                                                               " " \
                                                                                               "m" \
                                                                                               "o" \
                                                                                               "s" \
                                                                                               " " \
                                                                                               ">" \
                                                                                               "=" \
                                                                                               " " \
                                                                                               "4" \
                                                                                               "." \
                                                                                               "5" \
                                                                                               " " \
                                                                                               "T" \
                                                                                               "H" \
                                                                                               "E" \
                                                                                               "N" \
                                                                                               " " \
                                                                                               "1" \
                                                                                               " " \
                                                                                               "E" \
                                                                                               "N" \
                                                                                               "D" \
                                                                                               ")"

_Static_assert(STORE_MOS_BINS == 8, "MOS_BINS_SQL has 8 bins");

int store_call_series(store_t *s, int64_t since_ns, int64_t until_ns, int64_t step_ns,
                      store_call_stats_t *totals, store_bucket_cb cb, void *ctx)
{
    if (totals != NULL)
        memset(totals, 0, sizeof(*totals));
    int err = store_int_check_open(s);
    if (err != 0)
        return err;
    if (since_ns <= 0 || step_ns <= 0)
        return store_int_fail_msg(s, -EINVAL, "call series", "bad range or step");
    qw_t w = {0};
    /* (t - since) / step >= 0 inside the range, so the integer cast is a floor. One row per
     * (step, state): the states' counts come from the grouping, the rest is summed in C. */
    qw_add(&w, "SELECT CAST((invite_time - ?) / ? AS INTEGER) AS b, state, count(*),"
               " count(answer_time), count(duration_s), total(duration_s),"
               " count(post_dial_delay_ms), total(post_dial_delay_ms), count(mos), "
               "total(mos), " MOS_BINS_SQL " FROM calls");
    qw_dbl(&w, store_int_ns_to_sec(since_ns));
    qw_dbl(&w, (double)step_ns / 1e9);
    time_where(&w, INVITE_RANGE, since_ns, until_ns);
    qw_add(&w, " GROUP BY b, state ORDER BY b");
    sqlite3_stmt *st;
    err = qw_prepare(s, &w, "call series", &st);
    if (err != 0)
        return err;
    store_bucket_t b;
    bool open = false;
    int ret = 0, rc;
    while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t idx = sqlite3_column_int64(st, 0);
        int64_t start = since_ns + idx * step_ns;
        if (open && start != b.start_ns) {
            ret = cb ? cb(ctx, &b) : 0;
            open = false;
        }
        if (!open) {
            memset(&b, 0, sizeof(b));
            b.start_ns = start;
            open = true;
        }
        int64_t n = sqlite3_column_int64(st, 2);
        int i = state_index((const char *)sqlite3_column_text(st, 1));
        if (i >= 0)
            b.by_state[i] += n;
        b.calls += n;
        b.answered += sqlite3_column_int64(st, 3);
        b.with_duration += sqlite3_column_int64(st, 4);
        b.duration_sum_s += sqlite3_column_double(st, 5);
        b.with_mos += sqlite3_column_int64(st, 8);
        b.mos_sum += sqlite3_column_double(st, 9);
        if (totals != NULL) {
            if (i >= 0)
                totals->by_state[i] += n;
            totals->calls += n;
            totals->answered += sqlite3_column_int64(st, 3);
            totals->with_duration += sqlite3_column_int64(st, 4);
            totals->duration_sum_s += sqlite3_column_double(st, 5);
            totals->with_pdd += sqlite3_column_int64(st, 6);
            totals->pdd_sum_ms += sqlite3_column_double(st, 7);
            totals->with_mos += sqlite3_column_int64(st, 8);
            totals->mos_sum += sqlite3_column_double(st, 9);
            for (int k = 0; k < STORE_MOS_BINS; k++)
                totals->mos_bins[k] += sqlite3_column_int64(st, 10 + k);
        }
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = store_int_fail_sql(s, rc, "call series");
    if (ret == 0 && open && cb != NULL)
        ret = cb(ctx, &b);
    sqlite3_finalize(st);
    return ret;
}

int store_call_stats(store_t *s, int64_t since_ns, int64_t until_ns, store_call_stats_t *out)
{
    /* One step as wide as any range: the totals of the single pass. */
    return store_call_series(s, since_ns > 0 ? since_ns : 1, until_ns, INT64_C(1) << 62, out, NULL,
                             NULL);
}

int store_count_calls_by_state(store_t *s, int64_t out[CALL_STATE_COUNT])
{
    memset(out, 0, sizeof(int64_t) * CALL_STATE_COUNT);
    int err = store_int_check_open(s);
    if (err != 0)
        return err;
    qw_t w = {0};
    qw_add(&w, "SELECT state, count(*) FROM calls GROUP BY state");
    sqlite3_stmt *st;
    err = qw_prepare(s, &w, "count calls", &st);
    if (err != 0)
        return err;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int i = state_index((const char *)sqlite3_column_text(st, 0));
        if (i >= 0)
            out[i] += sqlite3_column_int64(st, 1);
    }
    if (rc != SQLITE_DONE)
        err = store_int_fail_sql(s, rc, "count calls");
    sqlite3_finalize(st);
    return err;
}

/* ---- Messages. */

int store_count_messages_by_kind(store_t *s, store_message_kind_cb cb, void *ctx)
{
    int err = store_int_check_open(s);
    if (err != 0)
        return err;
    if (cb == NULL)
        return store_int_fail_msg(s, -EINVAL, "count messages", "no callback");
    qw_t w = {0};
    qw_add(&w, "SELECT is_request, method, coalesce(status, 0), count(*) FROM sip_messages"
               " GROUP BY is_request, method, status");
    sqlite3_stmt *st;
    err = qw_prepare(s, &w, "count messages", &st);
    if (err != 0)
        return err;
    int ret = 0, rc;
    while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *m = sqlite3_column_text(st, 1);
        ret = cb(ctx, sqlite3_column_int(st, 0) != 0, m ? (const char *)m : "",
                 sqlite3_column_int(st, 2), sqlite3_column_int64(st, 3));
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = store_int_fail_sql(s, rc, "count messages");
    sqlite3_finalize(st);
    return ret;
}

/* ---- Streams. */

static int walk_streams(store_t *s, sqlite3_stmt *st, store_stream_cb cb, void *ctx, int64_t *rows)
{
    int ret = 0, rc;
    int64_t n = 0;
    while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        stream_record_t r;
        store_int_row_stream(st, &r);
        n++;
        ret = cb(ctx, &r);
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = store_int_fail_sql(s, rc, "query streams");
    sqlite3_finalize(st);
    if (rows != NULL)
        *rows = n;
    return ret;
}

static int stream_where(store_t *s, const store_stream_filter_t *f, qw_t *w)
{
    if (f == NULL)
        return 0;
    if ((f->has_min_loss && isnan(f->min_loss_pct)) || (f->has_max_mos && isnan(f->max_mos)))
        return store_int_fail_msg(s, -EINVAL, "query streams", "bad filter");
    if (f->call_id != NULL) {
        qw_cond(w, "call_id = ?");
        qw_text(w, f->call_id);
    }
    if (f->call_row > 0) {
        qw_cond(w, "call_row = ?");
        qw_i64(w, f->call_row);
    }
    if (f->has_min_loss) {
        /* lost / expected as a percentage, without dividing (expected may be 0). */
        qw_cond(w, "lost * 100.0 >= ? * (packets + lost) AND packets + lost > 0");
        qw_dbl(w, f->min_loss_pct);
    }
    if (f->has_max_mos) {
        qw_cond(w, "mos <= ?");
        qw_dbl(w, f->max_mos);
    }
    return 0;
}

int store_query_streams(store_t *s, const store_stream_filter_t *filter, int64_t limit,
                        int64_t offset, store_stream_cb cb, void *ctx, int64_t *total)
{
    int err = check_paging(s, limit, offset, cb != NULL, "query streams");
    if (err != 0)
        return err;
    sqlite3_stmt *st;
    if (total != NULL) {
        qw_t w = {0};
        qw_add(&w, "SELECT count(*) FROM rtp_streams");
        err = stream_where(s, filter, &w);
        if (err == 0)
            err = qw_prepare(s, &w, "count streams", &st);
        if (err == 0)
            err = step_count(s, st, "count streams", total);
        if (err != 0)
            return err;
    }
    if (limit == 0)
        return 0;
    qw_t w = {0};
    qw_add(&w, "SELECT ");
    qw_add(&w, store_int_columns(&stream_record_desc));
    qw_add(&w, " FROM rtp_streams");
    err = stream_where(s, filter, &w);
    if (err != 0)
        return err;
    qw_add(&w, " ORDER BY first_time DESC, id DESC LIMIT ? OFFSET ?");
    qw_i64(&w, limit < 0 ? -1 : limit);
    qw_i64(&w, offset);
    err = qw_prepare(s, &w, "query streams", &st);
    return err != 0 ? err : walk_streams(s, st, cb, ctx, NULL);
}

int store_get_stream(store_t *s, int64_t id, store_stream_cb cb, void *ctx)
{
    int err = check_paging(s, 1, 0, cb != NULL, "get stream");
    if (err != 0)
        return err;
    qw_t w = {0};
    qw_add(&w, "SELECT ");
    qw_add(&w, store_int_columns(&stream_record_desc));
    qw_add(&w, " FROM rtp_streams WHERE id = ?");
    qw_i64(&w, id);
    sqlite3_stmt *st;
    err = qw_prepare(s, &w, "get stream", &st);
    int64_t rows = 0;
    if (err == 0)
        err = walk_streams(s, st, cb, ctx, &rows);
    if (err == 0 && rows == 0)
        err = store_int_fail_msg(s, -ENOENT, "get stream", "no such stream");
    return err;
}

/* ---- Meta. */

int store_foreach_meta_i64(store_t *s, store_meta_cb cb, void *ctx)
{
    int err = store_int_check_open(s);
    if (err != 0)
        return err;
    if (cb == NULL)
        return store_int_fail_msg(s, -EINVAL, "read meta", "no callback");
    qw_t w = {0};
    qw_add(&w, "SELECT key, value FROM meta WHERE typeof(value) = 'integer' ORDER BY key");
    sqlite3_stmt *st;
    err = qw_prepare(s, &w, "read meta", &st);
    if (err != 0)
        return err;
    int ret = 0, rc;
    while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *k = sqlite3_column_text(st, 0);
        ret = cb(ctx, k ? (const char *)k : "", sqlite3_column_int64(st, 1));
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = store_int_fail_sql(s, rc, "read meta");
    sqlite3_finalize(st);
    return ret;
}

/* ---- Security tables (written by store/security.c). */

int store_count_alerts(store_t *s, int64_t *out)
{
    return count_sql(s, "SELECT count(*) FROM alerts", out);
}

int store_count_registrations(store_t *s, int64_t *out)
{
    return count_sql(s, "SELECT count(*) FROM registrations", out);
}
