/* check_agg: the per-minute call aggregate behind /api/v1/stats (store/agg.h) answers exactly
 * what a scan of the calls answers, for aligned and unaligned ranges and steps, after calls are
 * rewritten in place, deleted by retention, while calls are in progress (active) and once a
 * crash's are closed, rebuilt after SQL by hand and from an older sipscope's triggers. The
 * truth is computed here, in C, from the calls the test wrote. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "agg.h"
#include "store.h"

#define T0     INT64_C(1700000040000000000) /* a whole minute, in ns */
#define SEC    INT64_C(1000000000)
#define NCALLS 3000
#define SPAN   (6 * 3600 * SEC)

static char tmpdir[64];
static char dbpath[96];

static void tmp_setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_agg.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(dbpath, sizeof(dbpath), "%s/t.db", tmpdir);
}

static void tmp_teardown(void)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    char p[128];
    for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
        snprintf(p, sizeof(p), "%s%s", dbpath, suffix[i]);
        unlink(p);
    }
    rmdir(tmpdir);
}

/* The calls as the test wrote them; alive false once deleted. */
typedef struct {
    call_record_t c;
    bool alive, active;
    int verdict; /* -1: none */
} truth_t;

static truth_t calls[NCALLS];
static uint64_t rng = 88172645463325252ull;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int64_t rand_below(int64_t n)
{
    return (int64_t)(next_rand() % (uint64_t)n);
}

/* A call at a random microsecond of the span, with random figures. */
static call_record_t random_call(int64_t id)
{
    call_record_t c = {.id = id, .call_id = "x", .from_uri = "sip:a@x", .to_uri = "sip:b@x"};
    c.state = (call_state_t)rand_below(CALL_STATE_COUNT);
    c.invite_ns = T0 + rand_below(SPAN / 1000) * 1000;
    /* Some exactly on a minute's edge, where a step may start. */
    if (rand_below(10) == 0)
        c.invite_ns -= (c.invite_ns - T0) % (60 * SEC);
    c.answer_ns = rand_below(2) ? c.invite_ns + SEC : 0;
    c.duration_ns = c.answer_ns && rand_below(2) ? rand_below(600) * SEC : -1;
    c.post_dial_delay_ns = rand_below(3) ? rand_below(4000) * 1000000 : -1;
    c.mos = rand_below(4) ? 1.0 + (double)rand_below(4001) / 1000.0 : 0;
    c.one_way = rand_below(10) == 0;
    c.nat = rand_below(7) == 0;
    c.verdict = (verdict_t)rand_below(VERDICT_COUNT);
    return c;
}

/* The test's truth for a call written by store_put_call: its verdict's index. */
static truth_t written(call_record_t c)
{
    truth_t t = {.c = c, .alive = true, .verdict = -1};
    for (int i = 0; i < STORE_AGG_VERDICTS; i++) {
        if (strcmp(verdict_name(c.verdict), store_agg_verdict_names[i]) == 0)
            t.verdict = i;
    }
    return t;
}

/* The expected series: per step, from the test's own records. */
typedef struct {
    int64_t calls, answered, with_duration, with_mos, by_state[CALL_STATE_COUNT];
    double duration_sum, mos_sum;
} expect_t;

static void expect_totals(int64_t since, int64_t until, int64_t step, expect_t *steps,
                          size_t nsteps, store_agg_totals_t *t)
{
    memset(steps, 0, nsteps * sizeof(*steps));
    memset(t, 0, sizeof(*t));
    for (int i = 0; i < NCALLS; i++) {
        const truth_t *k = &calls[i];
        const call_record_t *c = &k->c;
        if (!k->alive || k->active || c->invite_ns < since || c->invite_ns >= until)
            continue;
        expect_t *e = &steps[(c->invite_ns - since) / step];
        e->calls++;
        e->by_state[c->state]++;
        t->calls.calls++;
        t->calls.by_state[c->state]++;
        if (c->answer_ns) {
            e->answered++;
            t->calls.answered++;
        }
        if (c->duration_ns >= 0) {
            e->with_duration++;
            e->duration_sum += (double)c->duration_ns / 1e9;
        }
        if (c->post_dial_delay_ns >= 0) {
            t->calls.with_pdd++;
            t->calls.pdd_sum_ms += (double)c->post_dial_delay_ns / 1e6;
        }
        if (c->mos > 0) {
            e->with_mos++;
            e->mos_sum += c->mos;
            int bin = (int)((c->mos - 1.0) / 0.5);
            t->calls.mos_bins[bin < 0 ? 0 : bin > 7 ? 7 : bin]++;
        }
        t->one_way += c->one_way;
        t->nat += c->nat;
        if (k->verdict >= 0)
            t->verdicts[k->verdict]++;
    }
}

typedef struct {
    int64_t since, step;
    expect_t *steps;
    size_t nsteps, seen;
} got_t;

static int check_step(void *ctx, const store_bucket_t *b)
{
    got_t *g = ctx;
    int64_t i = (b->start_ns - g->since) / g->step;
    ck_assert(i >= 0 && (size_t)i < g->nsteps);
    const expect_t *e = &g->steps[i];
    ck_assert_int_eq(b->calls, e->calls);
    ck_assert_int_eq(b->answered, e->answered);
    ck_assert_int_eq(b->with_duration, e->with_duration);
    ck_assert_int_eq(b->with_mos, e->with_mos);
    for (int k = 0; k < CALL_STATE_COUNT; k++)
        ck_assert_int_eq(b->by_state[k], e->by_state[k]);
    ck_assert(fabs(b->duration_sum_s - e->duration_sum) < 1e-3);
    ck_assert(fabs(b->mos_sum - e->mos_sum) < 1e-6);
    g->seen += (size_t)b->calls;
    return 0;
}

/* One range: the aggregate's answer equals the truth, step by step and in total. */
static void check_range(store_t *s, int64_t since, int64_t until, int64_t step, bool verdicts)
{
    size_t n = (size_t)((until - since + step - 1) / step);
    expect_t *steps = calloc(n, sizeof(*steps));
    ck_assert_ptr_nonnull(steps);
    store_agg_totals_t want, got;
    expect_totals(since, until, step, steps, n, &want);
    got_t g = {since, step, steps, n, 0};
    int rc = store_agg_series(s, since, until, step, &got, check_step, &g);
    ck_assert_msg(rc == 0, "%d %s", rc, store_errmsg(s));
    ck_assert_int_eq((int64_t)g.seen, want.calls.calls);
    ck_assert_int_eq(got.calls.calls, want.calls.calls);
    ck_assert_int_eq(got.calls.with_pdd, want.calls.with_pdd);
    ck_assert(fabs(got.calls.pdd_sum_ms - want.calls.pdd_sum_ms) < 1e-3);
    for (int i = 0; i < STORE_MOS_BINS; i++)
        ck_assert_int_eq(got.calls.mos_bins[i], want.calls.mos_bins[i]);
    ck_assert_int_eq(got.one_way, want.one_way);
    ck_assert_int_eq(got.nat, want.nat);
    ck_assert(got.have_verdicts == verdicts);
    for (int i = 0; verdicts && i < STORE_AGG_VERDICTS; i++)
        ck_assert_int_eq(got.verdicts[i], want.verdicts[i]);
    free(steps);
}

/* Ranges of every kind: whole minutes and steps, arbitrary nanoseconds, steps under a minute,
 * a range inside one minute, a step larger than the range. */
static void check_many(store_t *s, bool verdicts)
{
    static const int64_t steps_s[] = {1, 7, 45, 60, 90, 150, 300, 3600, 86400};
    const int64_t nsteps = (int64_t)(sizeof(steps_s) / sizeof(steps_s[0]));
    check_range(s, T0, T0 + SPAN, 60 * SEC, verdicts);
    check_range(s, T0 - 3600 * SEC, T0 + SPAN + 1, 3600 * SEC, verdicts);
    check_range(s, T0 + 10 * SEC + 1, T0 + 50 * SEC, 60 * SEC, verdicts);
    for (int k = 0; k < 90; k++) {
        int64_t step = steps_s[rand_below(nsteps)] * SEC;
        int64_t since = T0 - 600 * SEC + rand_below(SPAN / SEC) * SEC;
        if (k % 2)
            since += rand_below(SEC); /* not a whole second */
        int64_t span = step * (1 + rand_below(step < 60 * SEC ? 400 : 200));
        int64_t until = since + span - (k % 3 ? rand_below(step) : 0);
        if (until <= since)
            until = since + 1;
        check_range(s, since, until, step, verdicts);
    }
}

static void put_all(store_t *s)
{
    for (int i = 0; i < NCALLS; i++)
        ck_assert_int_eq(store_put_call(s, &calls[i].c), 0);
    ck_assert_int_eq(store_flush(s), 0);
}

START_TEST(test_agg_matches_calls)
{
    for (int i = 0; i < NCALLS; i++)
        calls[i] = written(random_call(i + 1));
    store_t *s = NULL;
    ck_assert_int_eq(store_open(dbpath, &s), 0);
    ck_assert(store_agg_current(s));
    put_all(s);
    check_many(s, true);

    /* Calls rewritten in place (another state, minute, MOS...): taken back, then added. */
    for (int i = 0; i < NCALLS; i += 3) {
        calls[i] = written(random_call(calls[i].c.id));
        ck_assert_int_eq(store_put_call(s, &calls[i].c), 0);
    }
    ck_assert_int_eq(store_flush(s), 0);
    check_many(s, true);

    /* Retention deletes the calls of the first hour. */
    int64_t deleted = 0;
    ck_assert_int_eq(store_prune(s, T0 + 3600 * SEC, 0, &deleted), 0);
    for (int i = 0; i < NCALLS; i++)
        calls[i].alive = calls[i].c.invite_ns >= T0 + 3600 * SEC;
    ck_assert_int_gt(deleted, 0);
    check_many(s, true);
    store_close(s);
}
END_TEST

/* Calls in progress (active, rewritten in place) count only once finished, and calls a crash
 * left in progress once closed as interrupted; verdicts set afterwards. */
START_TEST(test_agg_verdict_and_active)
{
    for (int i = 0; i < NCALLS; i++)
        calls[i] = written(random_call(i + 1));
    store_t *s = NULL;
    ck_assert_int_eq(store_open(dbpath, &s), 0);
    put_all(s);
    for (int i = 0; i < NCALLS; i++) {
        calls[i].c.verdict = (verdict_t)rand_below(VERDICT_COUNT);
        calls[i].c.active = rand_below(5) == 0;
        bool active = calls[i].c.active;
        calls[i] = written(calls[i].c);
        calls[i].active = active;
    }
    put_all(s);
    check_many(s, true);
    /* Calls in progress finish in place. */
    for (int i = 0; i < NCALLS; i++) {
        if (calls[i].active && calls[i].c.id % 2 == 0) {
            calls[i].c.active = calls[i].active = false;
            ck_assert_int_eq(store_put_call(s, &calls[i].c), 0);
        }
    }
    ck_assert_int_eq(store_flush(s), 0);
    check_many(s, true);
    store_close(s);

    /* The run stopped abruptly: the next one closes its calls in progress as interrupted. */
    s = NULL;
    ck_assert_int_eq(store_open(dbpath, &s), 0);
    int64_t interrupted = 0;
    ck_assert_int_eq(store_close_interrupted(s, &interrupted), 0);
    ck_assert_int_gt(interrupted, 0);
    for (int i = 0; i < NCALLS; i++)
        calls[i].active = false;
    check_many(s, true);
    store_close(s);
}
END_TEST

/* Calls changed by hand (SQL, some verdicts NULL) are counted again once the tables are dropped
 * and a writer opens the store. */
START_TEST(test_agg_rebuilt_after_sql)
{
    for (int i = 0; i < NCALLS; i++)
        calls[i] = written(random_call(i + 1));
    store_t *s = NULL;
    ck_assert_int_eq(store_open(dbpath, &s), 0);
    put_all(s);
    store_close(s);

    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db, "UPDATE calls SET verdict = ?, active = ? WHERE id = ?",
                                        -1, &st, NULL),
                     SQLITE_OK);
    for (int i = 0; i < NCALLS; i++) {
        calls[i].verdict = (int)rand_below(STORE_AGG_VERDICTS + 1) - 1;
        calls[i].active = rand_below(5) == 0;
        if (calls[i].verdict >= 0)
            sqlite3_bind_text(st, 1, store_agg_verdict_names[calls[i].verdict], -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 1);
        sqlite3_bind_int(st, 2, calls[i].active);
        sqlite3_bind_int64(st, 3, calls[i].c.id);
        ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    ck_assert_int_eq(
        sqlite3_exec(db, "DROP TABLE call_minutes; DROP TABLE call_hours;", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);

    s = NULL;
    ck_assert_int_eq(store_open(dbpath, &s), 0);
    ck_assert(store_agg_current(s));
    check_many(s, true);
    store_close(s);
}
END_TEST

/* The tables kept by an older sipscope's triggers are rebuilt, and its triggers dropped, when
 * this one opens the store to write; read-only, they are used as they are. */
START_TEST(test_agg_from_triggers)
{
    for (int i = 0; i < NCALLS; i++)
        calls[i] = written(random_call(i + 1));
    store_t *s = NULL;
    ck_assert_int_eq(store_open(dbpath, &s), 0);
    put_all(s);
    store_close(s);
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    /* Triggers named as version 2's were (their bodies do not matter here), and tables that
     * count nothing: as current for a reader, stale for a writer. */
    ck_assert_int_eq(sqlite3_exec(db,
                                  "DELETE FROM call_minutes; DELETE FROM call_hours;"
                                  "CREATE TRIGGER call_minutes_ins_2va AFTER INSERT ON calls"
                                  " BEGIN SELECT 1; END;"
                                  "CREATE TRIGGER call_minutes_del_2va AFTER DELETE ON calls"
                                  " BEGIN SELECT 1; END;"
                                  "CREATE TRIGGER call_minutes_upd_2va AFTER UPDATE ON calls"
                                  " BEGIN SELECT 1; END;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    store_opts_t ro = {.read_only = true};
    s = NULL;
    ck_assert_int_eq(store_open_opts(dbpath, &ro, &s), 0);
    ck_assert(store_agg_current(s));
    store_close(s);
    s = NULL;
    ck_assert_int_eq(store_open(dbpath, &s), 0);
    ck_assert(store_agg_current(s));
    check_many(s, true);
    ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db,
                                        "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"
                                        " AND name LIKE 'call_minutes_%'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(st, 0), 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    store_close(s);
}
END_TEST

/* A call the database refuses (here a trigger that aborts its write) leaves the aggregate as it
 * was: its row did not change, and the batch goes on with the others. */
START_TEST(test_agg_refused_write)
{
    for (int i = 0; i < NCALLS; i++)
        calls[i] = written(random_call(i + 1));
    store_t *s = NULL;
    ck_assert_int_eq(store_open(dbpath, &s), 0);
    put_all(s);
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    ck_assert_int_eq(
        sqlite3_exec(db,
                     "CREATE TRIGGER refuse_upd BEFORE UPDATE ON calls WHEN NEW.mos = 1.0"
                     " BEGIN SELECT RAISE(ABORT, 'refused'); END;"
                     "CREATE TRIGGER refuse_ins BEFORE INSERT ON calls WHEN NEW.mos = 1.0"
                     " BEGIN SELECT RAISE(ABORT, 'refused'); END;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    for (int i = 0; i < NCALLS; i += 2) {
        call_record_t c = random_call(calls[i].c.id);
        bool refused = i % 4 == 0;
        if (refused)
            c.mos = 1.0;
        else if (c.mos == 1.0)
            c.mos = 1.5;
        int rc = store_put_call(s, &c);
        if (refused) {
            ck_assert_int_ne(rc, 0);
        } else {
            ck_assert_int_eq(rc, 0);
            calls[i] = written(c);
        }
    }
    ck_assert_int_eq(store_flush(s), 0);
    check_many(s, true);
    store_close(s);
}
END_TEST

static int always_gone(void *ctx)
{
    (void)ctx;
    return 1;
}

/* A database from before the aggregate, opened read-only: the calls are read instead. */
START_TEST(test_agg_absent_reads_calls)
{
    for (int i = 0; i < NCALLS; i++)
        calls[i] = written(random_call(i + 1));
    store_t *s = NULL;
    ck_assert_int_eq(store_open(dbpath, &s), 0);
    put_all(s);
    store_close(s);
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    for (;;) { /* every trigger of the aggregate, whatever the columns made it */
        sqlite3_stmt *st = NULL;
        ck_assert_int_eq(sqlite3_prepare_v2(db,
                                            "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                            "AND name LIKE 'call_minutes_%'",
                                            -1, &st, NULL),
                         SQLITE_OK);
        char sql[128] = "";
        if (sqlite3_step(st) == SQLITE_ROW)
            snprintf(sql, sizeof(sql), "DROP TRIGGER \"%s\"", sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        if (sql[0] == '\0')
            break;
        ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    }
    ck_assert_int_eq(
        sqlite3_exec(db, "DROP TABLE call_minutes; DROP TABLE call_hours;", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    store_opts_t ro = {.read_only = true};
    s = NULL;
    ck_assert_int_eq(store_open_opts(dbpath, &ro, &s), 0);
    ck_assert(!store_agg_current(s));
    check_many(s, true);
    /* A query whose client has gone is interrupted (the API's store_set_interrupt). */
    store_set_interrupt(s, always_gone, NULL);
    ck_assert_int_eq(store_agg_series(s, T0, T0 + 19999 * SEC, SEC, NULL, NULL, NULL), -EINTR);
    store_set_interrupt(s, NULL, NULL);
    ck_assert_int_eq(store_agg_series(s, T0, T0 + SPAN, 60 * SEC, NULL, NULL, NULL), 0);
    store_close(s);
}
END_TEST

Suite *agg_suite(void);
Suite *agg_suite(void)
{
    Suite *s = suite_create("agg");
    TCase *tc = tcase_create("agg");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_agg_matches_calls);
    tcase_add_test(tc, test_agg_verdict_and_active);
    tcase_add_test(tc, test_agg_rebuilt_after_sql);
    tcase_add_test(tc, test_agg_from_triggers);
    tcase_add_test(tc, test_agg_refused_write);
    tcase_add_test(tc, test_agg_absent_reads_calls);
    suite_add_tcase(s, tc);
    return s;
}
