/* check_store: the SQLite store: schema and migrations, round trips, batching, queries, prune. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "rtp_figures.h"
#include "store.h"
#include "store_int.h"

/* ---- Fixtures: each test (forked by Check) gets its own temporary directory. */

/* snprintf "%s" that must fit. */
static void copy(char *dst, size_t cap, const char *src)
{
    int n = snprintf(dst, cap, "%s", src);
    ck_assert(n >= 0 && (size_t)n < cap);
}

static char tmpdir[64];
/* What migrations after v7 added, undone to make an older database (each later migration adds
 * its own undo here, newest first). */
#define UNDO_AFTER_V7                                                                              \
    "DROP TRIGGER sip_messages_fts_delete; DROP TABLE sip_messages_fts;"                           \
    "DELETE FROM meta WHERE key = 'fts.indexed_id';"                                               \
    "DROP TABLE dtmf_events;"                                                                      \
    "DROP INDEX calls_active; DROP INDEX rtp_streams_active;"                                      \
    "ALTER TABLE calls DROP COLUMN active; ALTER TABLE calls DROP COLUMN interrupted;"             \
    "ALTER TABLE rtp_streams DROP COLUMN active;"

static char dbpath[96];

static void tmp_setup(void)
{
    copy(tmpdir, sizeof(tmpdir), "/tmp/check_store.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    int n = snprintf(dbpath, sizeof(dbpath), "%s/t.db", tmpdir);
    ck_assert(n > 0 && (size_t)n < sizeof(dbpath));
}

static void tmp_teardown(void)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    char p[128];
    for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
        if (snprintf(p, sizeof(p), "%s%s", dbpath, suffix[i]) > 0)
            unlink(p);
    }
    rmdir(tmpdir);
}

/* ---- Helpers. */

#define T0  INT64_C(1700000000000000000) /* 2023-11-14, a microsecond-aligned epoch in ns */
#define US  INT64_C(1000)
#define MS  INT64_C(1000000)
#define SEC INT64_C(1000000000)

static store_t *open_ok(const char *path)
{
    store_t *s = NULL;
    int rc = store_open(path, &s);
    ck_assert_msg(rc == 0, "store_open(%s): %d %s", path, rc, store_errmsg(s));
    return s;
}

static store_t *open_batch(const char *path, uint32_t batch)
{
    store_opts_t o = {.batch_rows = batch};
    store_t *s = NULL;
    int rc = store_open_opts(path, &o, &s);
    ck_assert_msg(rc == 0, "store_open_opts: %d %s", rc, store_errmsg(s));
    return s;
}

static net_endpoint_t ep4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port)
{
    net_endpoint_t e;
    memset(&e, 0, sizeof(e));
    net_addr_v4(&e.addr, (const uint8_t[4]){a, b, c, d});
    e.port = port;
    return e;
}

static net_endpoint_t ep6(const char *text, uint16_t port)
{
    net_endpoint_t e;
    memset(&e, 0, sizeof(e));
    ck_assert(net_addr_parse(sv_from_cstr(text), &e.addr));
    e.port = port;
    return e;
}

static void assert_ep_eq(const net_endpoint_t *a, const net_endpoint_t *b)
{
    char x[NET_ENDPOINT_STRLEN], y[NET_ENDPOINT_STRLEN];
    ck_assert_msg(net_endpoint_eq(a, b) && a->addr.family == b->addr.family, "%s != %s",
                  net_endpoint_str(a, x, sizeof(x)), net_endpoint_str(b, y, sizeof(y)));
}

/* One SQL integer from a raw connection on path (to look under the store's hood). */
static int64_t raw_i64(const char *path, const char *sql)
{
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s",
                  sqlite3_errmsg(db));
    int64_t v = -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void raw_text(const char *path, const char *sql, char *buf, size_t cap)
{
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    buf[0] = '\0';
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        copy(buf, cap, (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK, "%s", sqlite3_errmsg(db));
    sqlite3_close(db);
}

/* Make the database at path look older: without the call aggregate (store/agg.h), whose
 * triggers would also keep a column they read from being dropped. */
static void drop_aggregate(const char *path)
{
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    for (;;) {
        sqlite3_stmt *st;
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
    sqlite3_close(db);
}

/* Whether the database at path has a table or index of that name. */
static bool schema_has(const char *path, const char *type, const char *name)
{
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(db,
                                        "SELECT count(*) FROM sqlite_schema"
                                        " WHERE type = ?1 AND name = ?2",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    bool found = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 1;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return found;
}

static int64_t count(store_t *s, int (*fn)(store_t *, int64_t *))
{
    int64_t n = -1;
    ck_assert_int_eq(fn(s, &n), 0);
    return n;
}

/* A call with every field set, times relative to T0 + k seconds. */
static call_record_t sample_call(int64_t id, int k)
{
    call_record_t c = {
        .id = id,
        .call_id = "a84b4c76e66710@pc33.atlanta.com",
        .from_uri = "sip:alice@atlanta.com",
        .to_uri = "sip:bob@biloxi.com",
        .from_tag = "1928301774",
        .to_tag = "a6c85cf",
        .user_agent = "Linphone \"Desktop\" 5.0 – ünïcode",
        .caller = ep4(192, 0, 2, 10, 5060),
        .callee = ep6("2001:db8::20", 5062),
        .state = CALL_COMPLETED,
        .final_status = 200,
        .invite_ns = T0 + k * SEC + 123456 * US,
        .ringing_ns = T0 + k * SEC + 400 * MS,
        .answer_ns = T0 + k * SEC + 2 * SEC,
        .end_ns = T0 + k * SEC + 62 * SEC + 1 * US,
        .post_dial_delay_ns = 276544 * US,
        .duration_ns = 60 * SEC + 1 * US,
        .one_way = true,
        .nat = true,
        .sip_messages = 7,
        .mos = 4.125,
        .verdict = VERDICT_ONE_WAY,
        .reasons = "[{\"code\":\"one_way\",\"text\":\"The callee sent no RTP\"}]",
    };
    return c;
}

static void assert_call_eq(const call_record_t *a, const call_record_t *b)
{
    ck_assert_int_eq(a->id, b->id);
    ck_assert_str_eq(a->call_id, b->call_id);
    ck_assert_str_eq(a->from_uri, b->from_uri);
    ck_assert_str_eq(a->to_uri, b->to_uri);
    ck_assert_str_eq(a->from_tag, b->from_tag);
    ck_assert_str_eq(a->to_tag, b->to_tag);
    ck_assert_str_eq(a->user_agent, b->user_agent);
    assert_ep_eq(&a->caller, &b->caller);
    assert_ep_eq(&a->callee, &b->callee);
    ck_assert_int_eq(a->state, b->state);
    ck_assert_int_eq(a->final_status, b->final_status);
    ck_assert_int_eq(a->invite_ns, b->invite_ns);
    ck_assert_int_eq(a->ringing_ns, b->ringing_ns);
    ck_assert_int_eq(a->answer_ns, b->answer_ns);
    ck_assert_int_eq(a->end_ns, b->end_ns);
    ck_assert_int_eq(a->post_dial_delay_ns, b->post_dial_delay_ns);
    ck_assert_int_eq(a->duration_ns, b->duration_ns);
    ck_assert_int_eq(a->one_way, b->one_way);
    ck_assert_int_eq(a->nat, b->nat);
    ck_assert_int_eq(a->sip_messages, b->sip_messages);
    ck_assert(a->mos == b->mos);
    ck_assert_int_eq(a->verdict, b->verdict);
    ck_assert_str_eq(a->reasons, b->reasons);
}

typedef struct {
    call_record_t call;
    char strs[7][256];
    int n;
} call_copy_t;

static int keep_call(void *ctx, const call_record_t *c)
{
    call_copy_t *cc = ctx;
    cc->call = *c;
    const char *src[7] = {c->call_id, c->from_uri,   c->to_uri, c->from_tag,
                          c->to_tag,  c->user_agent, c->reasons};
    const char **dst[7] = {&cc->call.call_id,  &cc->call.from_uri, &cc->call.to_uri,
                           &cc->call.from_tag, &cc->call.to_tag,   &cc->call.user_agent,
                           &cc->call.reasons};
    for (int i = 0; i < 7; i++) {
        ck_assert_ptr_nonnull(src[i]);
        copy(cc->strs[i], sizeof(cc->strs[i]), src[i]);
        *dst[i] = cc->strs[i];
    }
    cc->n++;
    return 0;
}

/* ---- Schema and migrations. */

static const char *const tables[] = {
    "calls", "sip_messages", "rtp_streams", "stream_samples", "registrations", "alerts", "meta"};

START_TEST(test_schema_memory)
{
    store_t *s = open_ok(":memory:");
    int64_t n = -1;
    ck_assert_int_eq(store_count_calls(s, &n), 0);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(store_count_streams(s, &n), 0);
    ck_assert_int_eq(store_count_samples(s, &n), 0);
    ck_assert_int_eq(store_count_messages(s, &n), 0);
    ck_assert_str_eq(store_errmsg(s), "no error");
    ck_assert_int_eq(store_close(s), 0);
    ck_assert_int_eq(store_close(NULL), 0);
}
END_TEST

START_TEST(test_schema_file)
{
    store_t *s = open_ok(dbpath);
    ck_assert_int_eq(store_close(s), 0);
    ck_assert_int_eq(raw_i64(dbpath, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    ck_assert_int_eq(raw_i64(dbpath, "PRAGMA auto_vacuum"), 2); /* incremental */
    char mode[32];
    raw_text(dbpath, "PRAGMA journal_mode", mode, sizeof(mode));
    ck_assert_str_eq(mode, "wal");
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        ck_assert_msg(schema_has(dbpath, "table", tables[i]), "table %s", tables[i]);
    }
    static const char *const indexes[] = {
        "calls_invite_time", "calls_state",   "calls_call_id",     "calls_mos",
        "calls_from_user",   "calls_to_user", "sip_messages_call", "rtp_streams_call",
    };
    for (size_t i = 0; i < sizeof(indexes) / sizeof(indexes[0]); i++) {
        ck_assert_msg(schema_has(dbpath, "index", indexes[i]), "index %s", indexes[i]);
    }
    /* The API's common query walks the invite_time index backwards, with no sort step. */
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(db,
                                        "EXPLAIN QUERY PLAN SELECT id FROM calls"
                                        " ORDER BY invite_time DESC, id DESC LIMIT 5",
                                        -1, &st, NULL),
                     SQLITE_OK);
    bool sorts = false, uses_index = false;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *d = (const char *)sqlite3_column_text(st, 3);
        sorts |= strstr(d, "TEMP B-TREE") != NULL;
        uses_index |= strstr(d, "calls_invite_time") != NULL;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    ck_assert(uses_index && !sorts);
}
END_TEST

/* A page whose walk along the sort key's index runs out of time is finished by the other plan
 * (the matches fetched and sorted), with the same calls in the same order, also when the walk
 * had handed over part of the page already. */
typedef struct {
    int64_t ids[6000];
    size_t n;
} ids_t;

static int collect_page_id(void *ctx, const call_record_t *c)
{
    ids_t *ids = ctx;
    ck_assert_uint_lt(ids->n, sizeof(ids->ids) / sizeof(ids->ids[0]));
    ids->ids[ids->n++] = c->id;
    return 0;
}

static void put_calls_for_walk(store_t *s, int n)
{
    for (int i = 1; i <= n; i++) {
        bool rejected = i % 7 == 0;
        call_record_t c = {.id = i, .call_id = "w", .from_uri = "sip:a@x", .to_uri = "sip:b@x"};
        c.invite_ns = (1700000000 + (int64_t)i) * 1000000000;
        c.state = rejected ? CALL_REJECTED : CALL_COMPLETED;
        c.final_status = rejected ? 486 : 200;
        c.mos = rejected ? 0 : 1.0 + (double)((i * 7919) % 3400) / 1000.0;
        c.verdict = rejected      ? VERDICT_FAILED
                    : c.mos < 3.1 ? VERDICT_POOR
                    : c.mos < 3.6 ? VERDICT_DEGRADED
                                  : VERDICT_GOOD;
        ck_assert_int_eq(store_put_call(s, &c), 0);
    }
    ck_assert_int_eq(store_flush(s), 0);
}

START_TEST(test_walk_gives_up)
{
    store_t *s = open_ok(dbpath);
    put_calls_for_walk(s, 20000);
    ck_assert_int_eq(store_add_query_indexes(s), 0);
    static const struct {
        unsigned state_mask;
        int64_t limit, offset;
    } pages[] = {
        /* the rejected calls come after every call with media: no match for a while */
        {1u << CALL_REJECTED, 50, 0},
        {1u << CALL_REJECTED, 20, 300},
        /* matches from the start: part of the page is handed over before the walk stops */
        {1u << CALL_COMPLETED, 5000, 0},
    };
    static ids_t walked, finished;
    for (size_t k = 0; k < sizeof(pages) / sizeof(pages[0]); k++) {
        store_call_filter_t f = {.state_mask = pages[k].state_mask};
        int64_t total = 0, total2 = 0;
        walked.n = finished.n = 0;
        store_int_walk_budget_ns = -1;
        ck_assert_int_eq(store_query_calls_sorted(s, &f, STORE_SORT_WORST, false, pages[k].limit,
                                                  pages[k].offset, collect_page_id, &walked,
                                                  &total),
                         0);
        uint64_t gave_up = atomic_load(&store_int_walks_given_up);
        store_int_walk_budget_ns = 1; /* spent at the first look */
        ck_assert_int_eq(store_query_calls_sorted(s, &f, STORE_SORT_WORST, false, pages[k].limit,
                                                  pages[k].offset, collect_page_id, &finished,
                                                  &total2),
                         0);
        store_int_walk_budget_ns = -1;
        ck_assert_uint_eq(atomic_load(&store_int_walks_given_up), gave_up + 1);
        ck_assert_int_eq(total, total2);
        ck_assert_uint_eq(walked.n, (size_t)pages[k].limit);
        ck_assert_uint_eq(finished.n, walked.n);
        for (size_t i = 0; i < walked.n; i++)
            ck_assert_int_eq(finished.ids[i], walked.ids[i]);
    }
    ck_assert_int_eq(store_close(s), 0);
}
END_TEST

START_TEST(test_migrate_empty_and_reopen)
{
    /* A zero-byte file and a database holding someone's table at user_version 0 both migrate. */
    FILE *f = fopen(dbpath, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    store_t *s = open_ok(dbpath);
    ck_assert_int_eq(store_set_meta_i64(s, "packets", 42), 0);
    ck_assert_int_eq(store_close(s), 0);
    ck_assert_int_eq(raw_i64(dbpath, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    /* Reopening at the current version changes nothing and keeps the data. */
    s = open_ok(dbpath);
    int64_t v = 0;
    ck_assert_int_eq(store_get_meta_i64(s, "packets", &v), 0);
    ck_assert_int_eq(v, 42);
    store_close(s);
    ck_assert_int_eq(raw_i64(dbpath, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
}
END_TEST

START_TEST(test_migrate_foreign_v0)
{
    raw_exec(dbpath, "CREATE TABLE other (x); INSERT INTO other VALUES (1);");
    store_t *s = open_ok(dbpath);
    store_close(s);
    ck_assert_int_eq(raw_i64(dbpath, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    ck_assert_int_eq(raw_i64(dbpath, "SELECT count(*) FROM other"), 1);
    ck_assert_int_eq(raw_i64(dbpath, "SELECT count(*) FROM calls"), 0);
}
END_TEST

START_TEST(test_refuse_future_version)
{
    raw_exec(dbpath, "CREATE TABLE calls (id INTEGER PRIMARY KEY); PRAGMA user_version = 99;");
    store_t *s = NULL;
    int rc = store_open(dbpath, &s);
    ck_assert_int_eq(rc, -ENOTSUP);
    ck_assert_ptr_nonnull(s);
    ck_assert_msg(strstr(store_errmsg(s), "v99") && strstr(store_errmsg(s), "newer"), "%s",
                  store_errmsg(s));
    /* A failed handle refuses work but closes cleanly. */
    ck_assert_int_eq(store_flush(s), -EINVAL);
    ck_assert_int_eq(store_close(s), 0);
    ck_assert_int_eq(raw_i64(dbpath, "PRAGMA user_version"), 99); /* untouched */
}
END_TEST

START_TEST(test_open_errors)
{
    store_t *s = NULL;
    int rc = store_open("/nonexistent-dir/sub/x.db", &s);
    ck_assert_int_lt(rc, 0);
    ck_assert_msg(strstr(store_errmsg(s), "/nonexistent-dir/sub/x.db") != NULL, "%s",
                  store_errmsg(s));
    store_close(s);

    FILE *f = fopen(dbpath, "w");
    ck_assert_ptr_nonnull(f);
    fputs("this is not an SQLite database, just some text long enough to have a header......"
          "................................................................................",
          f);
    fclose(f);
    rc = store_open(dbpath, &s);
    ck_assert_int_eq(rc, -EIO);
    ck_assert_msg(strstr(store_errmsg(s), "not a database") != NULL, "%s", store_errmsg(s));
    store_close(s);

    ck_assert_str_eq(store_errmsg(NULL), "out of memory");
}
END_TEST

/* ---- Round trips. */

START_TEST(test_call_roundtrip)
{
    store_t *s = open_ok(":memory:");
    call_record_t full = sample_call(1, 0);
    /* Nothing after the INVITE: NULL times, unknown PDD and duration, no media, no status. */
    call_record_t bare = {
        .id = 2,
        .call_id = "it's \"quoted\"; DROP TABLE calls; --",
        .from_uri = "sips:o'brien@example.org",
        .to_uri = "tel:+15551234567;phone-context=example.org",
        .from_tag = "",
        .to_tag = "",
        .user_agent = "",
        .reasons = "", /* (NULL is written as NULL and read back as "", like user_agent) */
        .caller = ep6("fe80::1", 5060),
        .callee = ep4(10, 0, 0, 1, 65535),
        .state = CALL_SETUP,
        .invite_ns = T0 + 5 * SEC,
        .post_dial_delay_ns = -1,
        .duration_ns = -1,
    };
    ck_assert_int_eq(store_put_call(s, &full), 0);
    ck_assert_int_eq(store_put_call(s, &bare), 0);
    ck_assert_int_eq(store_flush(s), 0);

    call_copy_t got = {0};
    ck_assert_int_eq(store_get_call(s, 1, keep_call, &got), 0);
    assert_call_eq(&got.call, &full);
    memset(&got, 0, sizeof(got));
    ck_assert_int_eq(store_get_call(s, 2, keep_call, &got), 0);
    assert_call_eq(&got.call, &bare);
    ck_assert_int_eq(got.call.ringing_ns, 0);
    ck_assert_int_eq(got.call.post_dial_delay_ns, -1);
    ck_assert(got.call.mos == 0);
    ck_assert_int_eq(store_get_call(s, 3, keep_call, &got), -ENOENT);
    store_close(s);
}
END_TEST

static int count_call(void *ctx, const call_record_t *c)
{
    int64_t *ids = ctx;
    ids[++ids[0]] = c->id;
    return 0;
}

START_TEST(test_call_foreach_order)
{
    store_t *s = open_ok(":memory:");
    int order[] = {3, 1, 2};
    for (int i = 0; i < 3; i++) {
        call_record_t c = sample_call(10 + i, order[i]);
        ck_assert_int_eq(store_put_call(s, &c), 0);
    }
    int64_t ids[8] = {0};
    ck_assert_int_eq(store_foreach_call(s, count_call, ids), 0); /* unflushed rows are visible */
    ck_assert_int_eq(ids[0], 3);
    ck_assert_int_eq(ids[1], 11);
    ck_assert_int_eq(ids[2], 12);
    ck_assert_int_eq(ids[3], 10);
    store_close(s);
}
END_TEST

static int stop_at_first(void *ctx, const call_record_t *c)
{
    (void)c;
    (*(int *)ctx)++;
    return 7;
}

START_TEST(test_callback_stop)
{
    store_t *s = open_ok(":memory:");
    for (int i = 0; i < 3; i++) {
        call_record_t c = sample_call(i + 1, i);
        ck_assert_int_eq(store_put_call(s, &c), 0);
    }
    int calls = 0;
    ck_assert_int_eq(store_foreach_call(s, stop_at_first, &calls), 7);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(store_foreach_call(s, NULL, NULL), -EINVAL);
    store_close(s);
}
END_TEST

static stream_record_t sample_stream(int64_t id, int64_t call_row)
{
    stream_record_t r = {
        .id = id,
        .call_row = call_row,
        .call_id = call_row ? "a84b4c76e66710@pc33.atlanta.com" : NULL,
        .src = ep6("2001:db8:0:1::5", 40000),
        .dst = ep4(198, 51, 100, 7, 20000),
        .ssrc = 0xdeadbeef,
        .payload_type = 111,
        .codec = "opus",
        .clock_rate = 48000,
        .first_ns = T0 + 3 * SEC,
        .last_ns = T0 + 63 * SEC + 20 * MS,
        .packets = 3001,
        .lost = -2,
        .duplicates = 5,
        .out_of_order = 1,
        .seq_errors = 2,
        .max_delta_ms = 61.25,
        .mean_jitter_ms = 1.5,
        .max_jitter_ms = 9.75,
        .mos = 4.31,
        .sdp_mismatch = true,
        .have_rtcp = true,
        .rtcp_fraction_lost = 0.0390625,
        .rtcp_cumulative_lost = -1,
        .rtcp_jitter_ms = 2.25,
        .rtcp_rtt_ms = 35.5,
    };
    return r;
}

typedef struct {
    stream_record_t r[4];
    char call_id[4][64];
    char codec[4][16];
    bool call_id_null[4];
    int n;
} streams_t;

static int keep_stream(void *ctx, const stream_record_t *r)
{
    streams_t *ss = ctx;
    ck_assert_int_lt(ss->n, 4);
    int i = ss->n++;
    ss->r[i] = *r;
    ss->call_id_null[i] = r->call_id == NULL;
    copy(ss->call_id[i], sizeof(ss->call_id[i]), r->call_id ? r->call_id : "");
    copy(ss->codec[i], sizeof(ss->codec[i]), r->codec);
    return 0;
}

static void assert_stream_eq(const stream_record_t *a, const stream_record_t *b)
{
    ck_assert_int_eq(a->id, b->id);
    ck_assert_int_eq(a->call_row, b->call_row);
    assert_ep_eq(&a->src, &b->src);
    assert_ep_eq(&a->dst, &b->dst);
    ASSERT_RTP_FIGURES_EQ(a, b);
    ck_assert_int_eq(a->sdp_mismatch, b->sdp_mismatch);
    ck_assert_int_eq(a->have_rtcp, b->have_rtcp);
    if (a->have_rtcp)
        ASSERT_RTCP_FIGURES_EQ(a, b);
}

START_TEST(test_stream_roundtrip)
{
    store_t *s = open_ok(":memory:");
    stream_record_t a = sample_stream(100, 1);
    stream_record_t b = sample_stream(101, 0); /* unsignalled, no RTCP, PCMU */
    b.first_ns = T0 + 1 * SEC;
    b.have_rtcp = false;
    b.rtcp_fraction_lost = 0;
    b.rtcp_cumulative_lost = 0;
    b.rtcp_jitter_ms = 0;
    b.rtcp_rtt_ms = -1;
    b.codec = "";
    b.lost = 0;
    b.sdp_mismatch = false;
    stream_record_t c = sample_stream(102, 1);
    c.first_ns = T0 + 4 * SEC;
    c.rtcp_rtt_ms = -1; /* RTCP seen, RTT unknown */
    ck_assert_int_eq(store_put_stream(s, &a), 0);
    ck_assert_int_eq(store_put_stream(s, &b), 0);
    ck_assert_int_eq(store_put_stream(s, &c), 0);

    streams_t got = {0};
    ck_assert_int_eq(store_foreach_stream(s, -1, keep_stream, &got), 0);
    ck_assert_int_eq(got.n, 3);
    assert_stream_eq(&got.r[0], &b); /* by first time */
    ck_assert(got.call_id_null[0]);
    ck_assert_str_eq(got.codec[0], "");
    assert_stream_eq(&got.r[1], &a);
    ck_assert_str_eq(got.call_id[1], a.call_id);
    ck_assert_str_eq(got.codec[1], "opus");
    assert_stream_eq(&got.r[2], &c);
    ck_assert(got.r[2].rtcp_rtt_ms == -1);

    memset(&got, 0, sizeof(got));
    ck_assert_int_eq(store_foreach_stream(s, 1, keep_stream, &got), 0);
    ck_assert_int_eq(got.n, 2);
    memset(&got, 0, sizeof(got));
    ck_assert_int_eq(store_foreach_stream(s, 0, keep_stream, &got), 0);
    ck_assert_int_eq(got.n, 1);
    ck_assert_int_eq(got.r[0].id, 101);
    ck_assert_int_eq(count(s, store_count_streams), 3);
    store_close(s);
}
END_TEST

typedef struct {
    sample_record_t r[8];
    int n;
} samples_t;

static int keep_sample(void *ctx, const sample_record_t *r)
{
    samples_t *ss = ctx;
    ck_assert_int_lt(ss->n, 8);
    ss->r[ss->n++] = *r;
    return 0;
}

START_TEST(test_sample_roundtrip)
{
    store_t *s = open_ok(":memory:");
    sample_record_t a = {.stream_row = 100,
                         .start_ns = T0 + 10 * SEC,
                         .packets = 250,
                         .lost = -1,
                         .jitter_ms = 1.25,
                         .max_jitter_ms = 3.5,
                         .mos = 4.2};
    sample_record_t b = a;
    b.start_ns = T0 + 5 * SEC;
    b.lost = 12;
    sample_record_t other = a;
    other.stream_row = 200;
    ck_assert_int_eq(store_put_sample(s, &a), 0);
    ck_assert_int_eq(store_put_sample(s, &b), 0);
    ck_assert_int_eq(store_put_sample(s, &other), 0);
    /* Same key again replaces. */
    a.packets = 251;
    ck_assert_int_eq(store_put_sample(s, &a), 0);
    samples_t got = {0};
    ck_assert_int_eq(store_foreach_sample(s, 100, keep_sample, &got), 0);
    ck_assert_int_eq(got.n, 2);
    ck_assert_int_eq(got.r[0].start_ns, b.start_ns);
    ck_assert_int_eq(got.r[0].lost, 12);
    ck_assert_int_eq(got.r[1].stream_row, 100);
    ck_assert_int_eq(got.r[1].start_ns, a.start_ns);
    ck_assert_uint_eq(got.r[1].packets, 251);
    ck_assert_int_eq(got.r[1].lost, -1);
    ck_assert(got.r[1].jitter_ms == 1.25 && got.r[1].max_jitter_ms == 3.5 && got.r[1].mos == 4.2);
    ck_assert_int_eq(count(s, store_count_samples), 3);
    store_close(s);
}
END_TEST

/* INVITE with quotes, UTF-8 and CRLFs (RFC 3261 §7). */
static const char invite_text[] =
    "INVITE sip:bob@biloxi.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n"
    "From: \"Alice O'Hara – ☎\" <sip:alice@atlanta.com>;tag=1928301774\r\n"
    "To: Bob <sip:bob@biloxi.com>\r\n"
    "Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Subject: '; DROP TABLE sip_messages; --\r\n"
    "Content-Length: 0\r\n\r\n";

typedef struct {
    int64_t id[4];
    message_record_t m[4];
    char raw[4][512];
    char method[4][16];
    bool call_id_null[4];
    int n;
} messages_t;

static int keep_message(void *ctx, int64_t id, const message_record_t *m)
{
    messages_t *ms = ctx;
    ck_assert_int_lt(ms->n, 4);
    int i = ms->n++;
    ms->id[i] = id;
    ms->m[i] = *m;
    ck_assert_uint_lt(m->raw_len, sizeof(ms->raw[i]));
    memcpy(ms->raw[i], m->raw, m->raw_len);
    ms->raw[i][m->raw_len] = '\0';
    copy(ms->method[i], sizeof(ms->method[i]), m->method);
    ms->call_id_null[i] = m->call_id == NULL;
    return 0;
}

START_TEST(test_message_roundtrip)
{
    store_t *s = open_ok(":memory:");
    message_record_t inv = {
        .call_row = 1,
        .call_id = "a84b4c76e66710@pc33.atlanta.com",
        .ts_ns = T0 + 123456 * US,
        .src = ep4(192, 0, 2, 10, 5060),
        .dst = ep6("2001:db8::20", 5062),
        .transport = 17,
        .is_request = true,
        .method = "INVITE",
        .status = 0,
        .cseq = 314159,
        .raw = invite_text,
        .raw_len = sizeof(invite_text) - 1,
    };
    /* raw is not NUL-terminated at raw_len: only raw_len bytes are stored. */
    static const char resp_buf[] = "SIP/2.0 180 Ringing\r\n\r\nGARBAGE AFTER";
    message_record_t ring = inv;
    ring.ts_ns = T0 + 400 * MS;
    ring.src = inv.dst;
    ring.dst = inv.src;
    ring.transport = 6;
    ring.is_request = false;
    ring.status = 180;
    ring.raw = resp_buf;
    ring.raw_len = (uint32_t)strlen("SIP/2.0 180 Ringing\r\n\r\n");
    message_record_t reg = {
        .call_row = 0,
        .call_id = NULL,
        .ts_ns = T0,
        .src = ep4(203, 0, 113, 9, 5060),
        .dst = ep4(203, 0, 113, 1, 5060),
        .transport = 17,
        .is_request = true,
        .method = "REGISTER",
        .cseq = 1,
        .raw = "REGISTER sip:x SIP/2.0\r\n\r\n",
        .raw_len = 26,
    };
    int64_t id1 = 0, id2 = 0, id3 = 0;
    ck_assert_int_eq(store_put_message_id(s, &ring, &id2), 0);
    ck_assert_int_eq(store_put_message_id(s, &inv, &id1), 0);
    ck_assert_int_eq(store_put_message_id(s, &reg, &id3), 0);
    ck_assert(id1 > 0 && id2 > 0 && id3 > 0 && id1 != id2 && id2 != id3);
    ck_assert_int_eq(store_put_message(s, &reg), 0);

    messages_t got = {0};
    ck_assert_int_eq(store_foreach_message(s, 1, keep_message, &got), 0);
    ck_assert_int_eq(got.n, 2);
    /* by time: INVITE first although written second */
    ck_assert_int_eq(got.id[0], id1);
    ck_assert_int_eq(got.m[0].call_row, 1);
    ck_assert_int_eq(got.m[0].ts_ns, inv.ts_ns);
    assert_ep_eq(&got.m[0].src, &inv.src);
    assert_ep_eq(&got.m[0].dst, &inv.dst);
    ck_assert_uint_eq(got.m[0].transport, 17);
    ck_assert(got.m[0].is_request);
    ck_assert_str_eq(got.method[0], "INVITE");
    ck_assert_uint_eq(got.m[0].status, 0);
    ck_assert_uint_eq(got.m[0].cseq, 314159);
    ck_assert_uint_eq(got.m[0].raw_len, inv.raw_len);
    ck_assert_str_eq(got.raw[0], invite_text);
    ck_assert_int_eq(got.id[1], id2);
    ck_assert(!got.m[1].is_request);
    ck_assert_uint_eq(got.m[1].status, 180);
    ck_assert_uint_eq(got.m[1].transport, 6);
    ck_assert_str_eq(got.raw[1], "SIP/2.0 180 Ringing\r\n\r\n");

    memset(&got, 0, sizeof(got));
    ck_assert_int_eq(store_foreach_message(s, 0, keep_message, &got), 0);
    ck_assert_int_eq(got.n, 2);
    ck_assert(got.call_id_null[0]);
    ck_assert_int_eq(got.m[0].call_row, 0);
    ck_assert_str_eq(got.method[0], "REGISTER");
    memset(&got, 0, sizeof(got));
    ck_assert_int_eq(store_foreach_message(s, -1, keep_message, &got), 0);
    ck_assert_int_eq(got.n, 4);
    ck_assert_int_eq(count(s, store_count_messages), 4);
    store_close(s);
}
END_TEST

START_TEST(test_meta)
{
    store_t *s = open_ok(":memory:");
    static const char *const keys[] = {"packets",     "bytes",        "sip_messages",
                                       "rtp_packets", "rtcp_packets", "malformed"};
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(store_set_meta_i64(s, keys[i], INT64_C(5000000000) + i), 0);
    ck_assert_int_eq(store_set_meta(s, "source", "it's a \"file\".pcap"), 0);
    ck_assert_int_eq(store_set_meta(s, "neg", "-42"), 0);
    ck_assert_int_eq(store_set_meta(s, "word", "abc"), 0);
    for (int i = 0; i < 6; i++) {
        int64_t v = 0;
        ck_assert_int_eq(store_get_meta_i64(s, keys[i], &v), 0);
        ck_assert_int_eq(v, INT64_C(5000000000) + i);
    }
    char buf[64];
    ck_assert_int_eq(store_get_meta(s, "source", buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "it's a \"file\".pcap");
    ck_assert_int_eq(store_get_meta(s, "packets", buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "5000000000");
    int64_t v = 0;
    ck_assert_int_eq(store_get_meta_i64(s, "neg", &v), 0);
    ck_assert_int_eq(v, -42);
    ck_assert_int_eq(store_get_meta_i64(s, "word", &v), -EINVAL);
    ck_assert_int_eq(store_get_meta(s, "missing", buf, sizeof(buf)), -ENOENT);
    ck_assert_int_eq(store_get_meta_i64(s, "missing", &v), -ENOENT);
    char small[4];
    ck_assert_int_eq(store_get_meta(s, "source", small, sizeof(small)), -ENOSPC);
    ck_assert_str_eq(small, "it'");
    /* Overwrite. */
    ck_assert_int_eq(store_set_meta_i64(s, "packets", 7), 0);
    ck_assert_int_eq(store_get_meta_i64(s, "packets", &v), 0);
    ck_assert_int_eq(v, 7);
    store_close(s);
}
END_TEST

START_TEST(test_totals_and_next_id)
{
    store_t *s = open_ok(":memory:");
    ck_assert_int_eq(store_next_id(s), 1);
    store_meta_t t = {0};
    ck_assert_int_eq(store_get_totals(s, &t), 0); /* nothing yet: zeros */
    ck_assert_uint_eq(t.packets, 0);
    store_meta_t run1 = {.packets = 10,
                         .bytes = 5000000000ULL,
                         .sip_messages = 3,
                         .rtp_packets = 6,
                         .rtcp_packets = 1,
                         .malformed = 0};
    store_meta_t run2 = {.packets = 5,
                         .bytes = 1,
                         .sip_messages = 1,
                         .rtp_packets = 2,
                         .rtcp_packets = 0,
                         .malformed = 2};
    ck_assert_int_eq(store_add_totals(s, &run1), 0);
    ck_assert_int_eq(store_add_totals(s, &run2), 0);
    ck_assert_int_eq(store_get_totals(s, &t), 0);
    ck_assert_uint_eq(t.packets, 15);
    ck_assert_uint_eq(t.bytes, 5000000001ULL);
    ck_assert_uint_eq(t.sip_messages, 4);
    ck_assert_uint_eq(t.rtp_packets, 8);
    ck_assert_uint_eq(t.rtcp_packets, 1);
    ck_assert_uint_eq(t.malformed, 2);
    int64_t v = 0;
    ck_assert_int_eq(store_get_meta_i64(s, "bytes", &v), 0);
    ck_assert_int_eq(v, INT64_C(5000000001));

    /* Calls and streams share the id counter: the next id is past both. */
    call_record_t c = sample_call(5, 0);
    ck_assert_int_eq(store_put_call(s, &c), 0);
    ck_assert_int_eq(store_next_id(s), 6);
    stream_record_t r = sample_stream(9, 5);
    ck_assert_int_eq(store_put_stream(s, &r), 0);
    ck_assert_int_eq(store_next_id(s), 10);
    /* Rows that name an id whose own row is missing (an older sipscope's crash) keep it taken. */
    message_record_t m = {.call_row = 40,
                          .call_id = "x",
                          .ts_ns = 1000000000,
                          .is_request = true,
                          .method = "INVITE",
                          .raw = "INVITE",
                          .raw_len = 6};
    ck_assert_int_eq(store_put_message(s, &m), 0);
    ck_assert_int_eq(store_next_id(s), 41);
    sample_record_t smp = {.stream_row = 77, .start_ns = 1000000000, .packets = 1};
    ck_assert_int_eq(store_put_sample(s, &smp), 0);
    ck_assert_int_eq(store_next_id(s), 78);
    r = sample_stream(80, 90);
    ck_assert_int_eq(store_put_stream(s, &r), 0);
    ck_assert_int_eq(store_next_id(s), 91);
    store_close(s);
}
END_TEST

/* Calls a crashed writer left active become interrupted (and inactive) at the next writer's
 * open; finished calls are untouched; a second pass finds nothing. */
START_TEST(test_close_interrupted)
{
    store_t *s = open_ok(dbpath);
    call_record_t live = sample_call(1, 0), done = sample_call(2, 1);
    live.active = true;
    live.state = CALL_IN_CALL;
    ck_assert_int_eq(store_put_call(s, &live), 0);
    ck_assert_int_eq(store_put_call(s, &done), 0);
    stream_record_t st = sample_stream(3, 1);
    st.active = true;
    ck_assert_int_eq(store_put_stream(s, &st), 0);
    ck_assert_int_eq(store_close(s), 0);
    s = open_ok(dbpath);
    int64_t n = -1;
    ck_assert_int_eq(store_close_interrupted(s, &n), 0);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(store_close_interrupted(s, &n), 0);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(store_close(s), 0);
    ck_assert_int_eq(raw_i64(dbpath, "SELECT count(*) FROM calls WHERE active = 1"), 0);
    ck_assert_int_eq(raw_i64(dbpath, "SELECT interrupted FROM calls WHERE id = 1"), 1);
    ck_assert_int_eq(raw_i64(dbpath, "SELECT interrupted FROM calls WHERE id = 2"), 0);
    ck_assert_int_eq(raw_i64(dbpath, "SELECT state = 'in_call' FROM calls WHERE id = 1"), 1);
    ck_assert_int_eq(raw_i64(dbpath, "SELECT active FROM rtp_streams WHERE id = 3"), 0);
    /* An active snapshot then its final record: one row, finished in place. */
    s = open_ok(dbpath);
    live.id = 4;
    ck_assert_int_eq(store_put_call(s, &live), 0);
    live.active = false;
    live.state = CALL_COMPLETED;
    ck_assert_int_eq(store_put_call(s, &live), 0);
    ck_assert_int_eq(store_close(s), 0);
    ck_assert_int_eq(raw_i64(dbpath, "SELECT count(*) FROM calls WHERE id = 4 AND active = 0"
                                     " AND state = 'completed' AND interrupted = 0"),
                     1);
}
END_TEST

/* A v7 database gains active and interrupted, its calls neither. */
START_TEST(test_active_migration_from_v7)
{
    store_t *s = open_ok(dbpath);
    call_record_t c = sample_call(1, 0);
    ck_assert_int_eq(store_put_call(s, &c), 0);
    ck_assert_int_eq(store_close(s), 0);
    drop_aggregate(dbpath);
    raw_exec(dbpath, UNDO_AFTER_V7 "PRAGMA user_version = 7;");
    s = open_ok(dbpath);
    ck_assert_int_eq(raw_i64(dbpath, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    ck_assert_int_eq(store_close(s), 0);
    ck_assert_int_eq(raw_i64(dbpath, "SELECT active + interrupted FROM calls WHERE id = 1"), 0);
}
END_TEST

START_TEST(test_replace_updates)
{
    store_t *s = open_ok(":memory:");
    call_record_t c = sample_call(5, 0);
    c.state = CALL_RINGING;
    c.answer_ns = c.end_ns = 0;
    c.duration_ns = -1;
    c.mos = 0;
    ck_assert_int_eq(store_put_call(s, &c), 0);
    call_record_t c2 = sample_call(5, 0); /* later: answered and ended */
    c2.from_uri = "sip:carol@chicago.com";
    ck_assert_int_eq(store_put_call(s, &c2), 0);
    ck_assert_int_eq(count(s, store_count_calls), 1);
    call_copy_t got = {0};
    ck_assert_int_eq(store_get_call(s, 5, keep_call, &got), 0);
    assert_call_eq(&got.call, &c2);
    /* from_user follows the new URI */
    store_call_filter_t f = {.from_user = "carol", .user_exact = true};
    int64_t total = -1;
    ck_assert_int_eq(store_query_calls(s, &f, 0, 0, NULL, NULL, &total), 0);
    ck_assert_int_eq(total, 1);
    f.from_user = "alice";
    ck_assert_int_eq(store_query_calls(s, &f, 0, 0, NULL, NULL, &total), 0);
    ck_assert_int_eq(total, 0);

    stream_record_t r = sample_stream(9, 5);
    ck_assert_int_eq(store_put_stream(s, &r), 0);
    r.packets = 9999;
    r.lost = 17;
    r.have_rtcp = false;
    ck_assert_int_eq(store_put_stream(s, &r), 0);
    ck_assert_int_eq(count(s, store_count_streams), 1);
    streams_t gs = {0};
    ck_assert_int_eq(store_foreach_stream(s, 5, keep_stream, &gs), 0);
    ck_assert_int_eq(gs.n, 1);
    assert_stream_eq(&gs.r[0], &r);
    store_close(s);
}
END_TEST

/* ---- Batching, WAL, files. */

START_TEST(test_batching)
{
    store_t *s = open_batch(dbpath, 10);
    store_opts_t ro = {.read_only = true};
    store_t *r = NULL;
    ck_assert_int_eq(store_open_opts(dbpath, &ro, &r), 0);

    message_record_t m = {.call_row = 1,
                          .ts_ns = T0,
                          .is_request = true,
                          .method = "OPTIONS",
                          .raw = "OPTIONS sip:x SIP/2.0\r\n\r\n",
                          .raw_len = 25};
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(store_put_message(s, &m), 0);
    ck_assert_int_eq(count(s, store_count_messages), 5); /* the writer sees its own batch */
    ck_assert_int_eq(count(r, store_count_messages), 0); /* another connection doesn't yet */
    ck_assert_int_eq(store_flush(s), 0);
    ck_assert_int_eq(count(r, store_count_messages), 5);
    ck_assert_int_eq(store_flush(s), 0); /* nothing pending: fine */

    for (int i = 0; i < 9; i++)
        ck_assert_int_eq(store_put_message(s, &m), 0);
    ck_assert_int_eq(count(r, store_count_messages), 5);
    ck_assert_int_eq(store_put_message(s, &m), 0); /* the 10th row commits the batch */
    ck_assert_int_eq(count(r, store_count_messages), 15);

    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(store_put_message(s, &m), 0);
    store_stats_t st;
    store_get_stats(s, &st);
    ck_assert_uint_eq(st.rows_committed, 15);
    ck_assert_uint_eq(st.commits, 2);
    ck_assert_uint_eq(st.rows_dropped, 0);

    /* The read-only store refuses writes. */
    ck_assert_int_eq(store_put_message(r, &m), -EROFS);
    ck_assert_int_eq(store_set_meta(r, "k", "v"), -EROFS);
    ck_assert_int_eq(store_prune(r, T0, 0, NULL), -EROFS);
    store_close(r);

    ck_assert_int_eq(store_close(s), 0); /* flushes the last 3 */
    s = open_ok(dbpath);
    ck_assert_int_eq(count(s, store_count_messages), 18);
    store_close(s);
    char mode[32];
    raw_text(dbpath, "PRAGMA journal_mode", mode, sizeof(mode));
    ck_assert_str_eq(mode, "wal");
}
END_TEST

START_TEST(test_read_only_needs_schema)
{
    FILE *f = fopen(dbpath, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    store_opts_t ro = {.read_only = true};
    store_t *r = NULL;
    ck_assert_int_eq(store_open_opts(dbpath, &ro, &r), -ENOTSUP);
    ck_assert_msg(strstr(store_errmsg(r), "older") != NULL, "%s", store_errmsg(r));
    store_close(r);
}
END_TEST

/* ---- Queries. */

typedef struct {
    int64_t ids[64];
    int n;
} idlist_t;

static int collect_id(void *ctx, const call_record_t *c)
{
    idlist_t *l = ctx;
    ck_assert_int_lt(l->n, 64);
    l->ids[l->n++] = c->id;
    return 0;
}

static void put_query_call(store_t *s, int64_t id, call_state_t state, const char *from,
                           const char *to, int64_t invite_ns, double mos, const char *call_id)
{
    call_record_t c = sample_call(id, 0);
    c.state = state;
    c.from_uri = from;
    c.to_uri = to;
    c.invite_ns = invite_ns;
    c.mos = mos;
    c.call_id = call_id;
    ck_assert_int_eq(store_put_call(s, &c), 0);
}

/* Run a query, return the ids and check the total. */
static idlist_t query(store_t *s, const store_call_filter_t *f, int64_t limit, int64_t offset,
                      int64_t expect_total)
{
    idlist_t l = {0};
    int64_t total = -1;
    int rc = store_query_calls(s, f, limit, offset, collect_id, &l, &total);
    ck_assert_msg(rc == 0, "query: %d %s", rc, store_errmsg(s));
    ck_assert_int_eq(total, expect_total);
    return l;
}

static void assert_ids(const idlist_t *l, int n, const int64_t *ids)
{
    ck_assert_int_eq(l->n, n);
    for (int i = 0; i < n; i++)
        ck_assert_msg(l->ids[i] == ids[i], "row %d: id %lld, expected %lld", i,
                      (long long)l->ids[i], (long long)ids[i]);
}

static store_t *query_fixture(void)
{
    store_t *s = open_ok(":memory:");
    put_query_call(s, 1, CALL_COMPLETED, "sip:alice@a.com", "sip:bob@b.com", T0 + 1 * SEC, 4.2,
                   "cid-1@a.com");
    put_query_call(s, 2, CALL_REJECTED, "sip:alice2@a.com", "sip:carol@c.com", T0 + 2 * SEC, 0,
                   "cid-2@a.com");
    put_query_call(s, 3, CALL_IN_CALL, "sip:Bob@b.com", "sip:alice@a.com", T0 + 3 * SEC, 3.1,
                   "CID-3@B.COM");
    put_query_call(s, 4, CALL_CANCELLED, "<sips:malice:pw@evil.com>", "tel:+15551234;ext=1",
                   T0 + 3 * SEC, 2.5, "cid-4"); /* same invite time as 3: id breaks the tie */
    put_query_call(s, 5, CALL_COMPLETED, "sip:100%_off@shop.com", "sip:o'neil@x.com", T0 + 5 * SEC,
                   4.4, "50%_sale'; DROP TABLE calls; --");
    put_query_call(s, 6, CALL_SETUP, "sip:example.com", "sip:bob@b.com", T0 + 6 * SEC, 0, "cid-6");
    ck_assert_int_eq(store_flush(s), 0);
    return s;
}

START_TEST(test_query_filters)
{
    store_t *s = query_fixture();
    idlist_t l = query(s, NULL, -1, 0, 6);
    assert_ids(&l, 6, (int64_t[]){6, 5, 4, 3, 2, 1});

    store_call_filter_t f = {.state_mask = 1u << CALL_COMPLETED};
    l = query(s, &f, -1, 0, 2);
    assert_ids(&l, 2, (int64_t[]){5, 1});
    f.state_mask = 1u << CALL_REJECTED | 1u << CALL_CANCELLED;
    l = query(s, &f, -1, 0, 2);
    assert_ids(&l, 2, (int64_t[]){4, 2});

    f = (store_call_filter_t){.from_user = "alice", .user_exact = true};
    l = query(s, &f, -1, 0, 1);
    assert_ids(&l, 1, (int64_t[]){1});
    f.user_exact = false; /* substring, case-insensitive: alice, alice2, malice */
    l = query(s, &f, -1, 0, 3);
    assert_ids(&l, 3, (int64_t[]){4, 2, 1});
    f = (store_call_filter_t){.from_user = "bob", .user_exact = true}; /* case-sensitive */
    l = query(s, &f, -1, 0, 0);
    f.user_exact = false;
    l = query(s, &f, -1, 0, 1);
    assert_ids(&l, 1, (int64_t[]){3});
    f = (store_call_filter_t){.to_user = "+15551234", .user_exact = true};
    l = query(s, &f, -1, 0, 1);
    assert_ids(&l, 1, (int64_t[]){4});
    f = (store_call_filter_t){.from_user = "", .user_exact = true}; /* URI without a user */
    l = query(s, &f, -1, 0, 1);
    assert_ids(&l, 1, (int64_t[]){6});
    f = (store_call_filter_t){.from_user = "malice", .to_user = "+1555", .user_exact = false};
    l = query(s, &f, -1, 0, 1);
    assert_ids(&l, 1, (int64_t[]){4});

    f = (store_call_filter_t){.since_ns = T0 + 2 * SEC, .until_ns = T0 + 5 * SEC};
    l = query(s, &f, -1, 0, 3);
    assert_ids(&l, 3, (int64_t[]){4, 3, 2});

    f = (store_call_filter_t){.has_min_mos = true, .min_mos = 3.1};
    l = query(s, &f, -1, 0, 3); /* 3.1 inclusive; calls without media never match */
    assert_ids(&l, 3, (int64_t[]){5, 3, 1});
    f = (store_call_filter_t){.has_max_mos = true, .max_mos = 3.5};
    l = query(s, &f, -1, 0, 2);
    assert_ids(&l, 2, (int64_t[]){4, 3});
    f.has_min_mos = true;
    f.min_mos = 3.0;
    l = query(s, &f, -1, 0, 1);
    assert_ids(&l, 1, (int64_t[]){3});

    f = (store_call_filter_t){.q = "cid-3@b"}; /* case-insensitive on Call-ID */
    l = query(s, &f, -1, 0, 1);
    assert_ids(&l, 1, (int64_t[]){3});
    f.q = "B.COM"; /* URIs too: calls 1 and 6 (To), 3 (From, Call-ID) */
    l = query(s, &f, -1, 0, 3);
    assert_ids(&l, 3, (int64_t[]){6, 3, 1});
    f = (store_call_filter_t){.call_id = "cid-2@a.com"};
    l = query(s, &f, -1, 0, 1);
    assert_ids(&l, 1, (int64_t[]){2});

    /* Everything at once. */
    f = (store_call_filter_t){.state_mask = 1u << CALL_COMPLETED | 1u << CALL_IN_CALL,
                              .to_user = "ALICE",
                              .since_ns = T0,
                              .until_ns = T0 + 10 * SEC,
                              .has_min_mos = true,
                              .min_mos = 1,
                              .has_max_mos = true,
                              .max_mos = 5,
                              .q = "b.com"};
    l = query(s, &f, -1, 0, 1);
    assert_ids(&l, 1, (int64_t[]){3});
    store_close(s);
}
END_TEST

START_TEST(test_query_paging)
{
    store_t *s = query_fixture();
    idlist_t l = query(s, NULL, 2, 0, 6);
    assert_ids(&l, 2, (int64_t[]){6, 5});
    l = query(s, NULL, 2, 2, 6);
    assert_ids(&l, 2, (int64_t[]){4, 3});
    l = query(s, NULL, 2, 4, 6);
    assert_ids(&l, 2, (int64_t[]){2, 1});
    l = query(s, NULL, 2, 6, 6);
    ck_assert_int_eq(l.n, 0);
    l = query(s, NULL, 0, 0, 6); /* count only */
    ck_assert_int_eq(l.n, 0);
    store_call_filter_t f = {.state_mask = 1u << CALL_COMPLETED};
    l = query(s, &f, 1, 1, 2);
    assert_ids(&l, 1, (int64_t[]){1});
    /* total is optional */
    idlist_t m = {0};
    ck_assert_int_eq(store_query_calls(s, NULL, 3, 0, collect_id, &m, NULL), 0);
    ck_assert_int_eq(m.n, 3);
    /* bad arguments */
    ck_assert_int_eq(store_query_calls(s, NULL, 3, -1, collect_id, &m, NULL), -EINVAL);
    f = (store_call_filter_t){.has_min_mos = true, .min_mos = NAN};
    ck_assert_int_eq(store_query_calls(s, &f, 3, 0, collect_id, &m, NULL), -EINVAL);
    f = (store_call_filter_t){.state_mask = 1u << 20};
    ck_assert_int_eq(store_query_calls(s, &f, 3, 0, collect_id, &m, NULL), -EINVAL);
    store_close(s);
}
END_TEST

/* Filter text is data: quotes, LIKE wildcards and SQL match only themselves. */
START_TEST(test_query_hostile)
{
    store_t *s = query_fixture();
    store_call_filter_t f = {.q = "%"};
    idlist_t l = query(s, &f, -1, 0, 1);
    assert_ids(&l, 1, (int64_t[]){5});
    f.q = "_";
    l = query(s, &f, -1, 0, 1);
    assert_ids(&l, 1, (int64_t[]){5});
    f.q = "'";
    l = query(s, &f, -1, 0, 1);
    assert_ids(&l, 1, (int64_t[]){5});
    f.q = "'; DROP TABLE calls; --";
    l = query(s, &f, -1, 0, 1);
    assert_ids(&l, 1, (int64_t[]){5});
    f.q = "\" OR 1=1 --";
    l = query(s, &f, -1, 0, 0);
    f.q = "' OR '1'='1";
    l = query(s, &f, -1, 0, 0);
    f.q = "%%";
    l = query(s, &f, -1, 0, 0);

    f = (store_call_filter_t){.from_user = "100%_off", .user_exact = true};
    l = query(s, &f, -1, 0, 1);
    assert_ids(&l, 1, (int64_t[]){5});
    f.from_user = "100__off";
    l = query(s, &f, -1, 0, 0);
    f.user_exact = false;
    f.from_user = "%";
    l = query(s, &f, -1, 0, 1);
    f = (store_call_filter_t){.to_user = "o'neil", .user_exact = true};
    l = query(s, &f, -1, 0, 1);
    assert_ids(&l, 1, (int64_t[]){5});
    f = (store_call_filter_t){.call_id = "x' OR '1'='1"};
    l = query(s, &f, -1, 0, 0);
    f.call_id = "50%_sale'; DROP TABLE calls; --";
    l = query(s, &f, -1, 0, 1);
    assert_ids(&l, 1, (int64_t[]){5});
    ck_assert_int_eq(count(s, store_count_calls), 6); /* the table is still there */
    store_close(s);
}
END_TEST

/* ---- Retention. */

/* Call k at T0 + k minutes, with 3 messages, 2 streams of 2 samples each. */
static void put_full_call(store_t *s, int k, size_t raw_len)
{
    static char raw[4096];
    memset(raw, 'x', sizeof(raw));
    ck_assert_uint_le(raw_len, sizeof(raw));
    int64_t t = T0 + k * 60 * SEC;
    call_record_t c = sample_call(k, 0);
    c.invite_ns = t;
    c.ringing_ns = c.answer_ns = c.end_ns = 0;
    ck_assert_int_eq(store_put_call(s, &c), 0);
    for (int i = 0; i < 3; i++) {
        message_record_t m = {.call_row = k,
                              .call_id = c.call_id,
                              .ts_ns = t + i * SEC,
                              .is_request = true,
                              .method = "INVITE",
                              .raw = raw,
                              .raw_len = (uint32_t)raw_len};
        ck_assert_int_eq(store_put_message(s, &m), 0);
    }
    for (int i = 0; i < 2; i++) {
        stream_record_t r = sample_stream(k * 10 + i, k);
        r.first_ns = t;
        r.last_ns = t + 30 * SEC;
        ck_assert_int_eq(store_put_stream(s, &r), 0);
        for (int j = 0; j < 2; j++) {
            sample_record_t smp = {.stream_row = r.id, .start_ns = t + j * 10 * SEC};
            ck_assert_int_eq(store_put_sample(s, &smp), 0);
        }
    }
}

/* The one DTMF digit test_prune_age keeps: call 8's INFO '5'. */
static int count_dtmf(void *ctx, const dtmf_record_t *d)
{
    int *n = ctx;
    ck_assert_int_eq(d->call_row, 8);
    ck_assert_str_eq(d->call_id, "c2");
    ck_assert_str_eq(d->digit, "5");
    ck_assert_int_eq(d->ts_ns, T0 + 8 * 60 * SEC);
    ck_assert_uint_eq(d->duration_ms, 160);
    ck_assert_int_eq(d->stream_row, 0);
    ck_assert_uint_eq(d->volume, 10);
    ck_assert(d->ended);
    ck_assert_str_eq(d->via, "info");
    (*n)++;
    return 0;
}

START_TEST(test_prune_age)
{
    store_t *s = open_ok(":memory:");
    for (int k = 1; k <= 10; k++)
        put_full_call(s, k, 100);
    /* Rows of no call: a REGISTER at minute 2 and one at minute 9, unsignalled streams too. */
    message_record_t reg = {.ts_ns = T0 + 2 * 60 * SEC,
                            .is_request = true,
                            .method = "REGISTER",
                            .raw = "R",
                            .raw_len = 1};
    ck_assert_int_eq(store_put_message(s, &reg), 0);
    reg.ts_ns = T0 + 9 * 60 * SEC;
    ck_assert_int_eq(store_put_message(s, &reg), 0);
    stream_record_t lone = sample_stream(1000, 0);
    lone.last_ns = T0 + 2 * 60 * SEC;
    ck_assert_int_eq(store_put_stream(s, &lone), 0);
    sample_record_t smp = {.stream_row = 1000, .start_ns = lone.last_ns};
    ck_assert_int_eq(store_put_sample(s, &smp), 0);
    lone.id = 1001;
    lone.last_ns = T0 + 9 * 60 * SEC;
    ck_assert_int_eq(store_put_stream(s, &lone), 0);

    /* A DTMF digit of call 2 (pruned) and one of call 8 (kept). */
    dtmf_record_t dt = {.call_row = 2,
                        .call_id = "c2",
                        .ts_ns = T0 + 2 * 60 * SEC + 1500 * MS,
                        .digit = "#",
                        .duration_ms = 160,
                        .stream_row = 20,
                        .volume = 10,
                        .ended = true,
                        .via = "rtp"};
    ck_assert_int_eq(store_put_dtmf(s, &dt), 0);
    dt.call_row = 8;
    dt.ts_ns = T0 + 8 * 60 * SEC;
    dt.digit = "5";
    dt.stream_row = 0;
    dt.via = "info";
    ck_assert_int_eq(store_put_dtmf(s, &dt), 0);

    int64_t deleted = -1;
    /* Before minute 4: calls 1..3 go, with their children, and the early lone rows. */
    ck_assert_int_eq(store_prune(s, T0 + 4 * 60 * SEC, 0, &deleted), 0);
    ck_assert_int_eq(deleted, 3);
    ck_assert_int_eq(count(s, store_count_calls), 7);
    ck_assert_int_eq(count(s, store_count_messages), 7 * 3 + 1);
    ck_assert_int_eq(count(s, store_count_streams), 7 * 2 + 1);
    ck_assert_int_eq(count(s, store_count_samples), 7 * 2 * 2);
    idlist_t l = query(s, NULL, -1, 0, 7);
    ck_assert_int_eq(l.ids[6], 4);
    streams_t gs = {0};
    ck_assert_int_eq(store_foreach_stream(s, 0, keep_stream, &gs), 0);
    ck_assert_int_eq(gs.n, 1);
    ck_assert_int_eq(gs.r[0].id, 1001);
    samples_t ss = {0};
    ck_assert_int_eq(store_foreach_sample(s, 10, keep_sample, &ss), 0);
    ck_assert_int_eq(ss.n, 0);
    int nd = 0;
    ck_assert_int_eq(store_foreach_dtmf(s, 2, count_dtmf, &nd), 0);
    ck_assert_int_eq(nd, 0);
    ck_assert_int_eq(store_foreach_dtmf(s, 8, count_dtmf, &nd), 0);
    ck_assert_int_eq(nd, 1);

    /* Nothing older: no-op. */
    ck_assert_int_eq(store_prune(s, T0 + 4 * 60 * SEC, 0, &deleted), 0);
    ck_assert_int_eq(deleted, 0);
    ck_assert_int_eq(store_prune(s, -1, 0, NULL), -EINVAL);
    store_close(s);
}
END_TEST

START_TEST(test_prune_size)
{
    store_t *s = open_ok(dbpath);
    /* 600 calls x 3 messages x 2 KB: about 4 MB. */
    for (int k = 1; k <= 600; k++)
        put_full_call(s, k, 2048);
    ck_assert_int_eq(store_flush(s), 0);
    int64_t before = 0, after = 0, deleted = 0;
    ck_assert_int_eq(store_used_bytes(s, &before), 0);
    ck_assert_int_gt(before, 3 * 1024 * 1024);
    const int64_t cap = 1024 * 1024;
    ck_assert_int_eq(store_prune(s, 0, cap, &deleted), 0);
    ck_assert_int_eq(store_used_bytes(s, &after), 0);
    ck_assert_int_le(after, cap);
    ck_assert_int_gt(deleted, 300);
    int64_t left = count(s, store_count_calls);
    ck_assert_int_eq(left + deleted, 600);
    ck_assert_int_gt(left, 0);
    /* The newest survive, oldest first out; children went with their calls. */
    idlist_t l = query(s, NULL, 1, 0, left);
    ck_assert_int_eq(l.ids[0], 600);
    ck_assert_int_eq(count(s, store_count_messages), left * 3);
    ck_assert_int_eq(count(s, store_count_streams), left * 2);
    ck_assert_int_eq(count(s, store_count_samples), left * 4);
    /* incremental_vacuum handed the pages back: no free pages left in the file. */
    store_close(s);
    ck_assert_int_eq(raw_i64(dbpath, "PRAGMA freelist_count"), 0);
    ck_assert_int_le(raw_i64(dbpath, "PRAGMA page_count") * raw_i64(dbpath, "PRAGMA page_size"),
                     cap + 64 * 1024);
}
END_TEST

/* ---- Captures analysed into the store (store/captures.c). */

/* Write len bytes of a fixed pattern (byte i is (i * 7 + seed) & 0xff) to path. */
static void write_pattern(const char *path, size_t len, unsigned seed)
{
    unsigned char *buf = malloc(len);
    ck_assert_ptr_nonnull(buf);
    for (size_t i = 0; i < len; i++)
        buf[i] = (unsigned char)((i * 7 + seed) & 0xff);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
    free(buf);
}

/* Overwrite one byte of the file at path. */
static void poke(const char *path, long at, int value)
{
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, at, SEEK_SET), 0);
    ck_assert_int_ne(fputc(value, f), EOF);
    ck_assert_int_eq(fclose(f), 0);
}

static void tmp_file(char *buf, size_t cap, const char *name)
{
    int n = snprintf(buf, cap, "%s/%s", tmpdir, name);
    ck_assert(n > 0 && (size_t)n < cap);
}

START_TEST(test_capture_identity)
{
    char a[128], b[128], small[128];
    tmp_file(a, sizeof(a), "a.pcap");
    tmp_file(b, sizeof(b), "b.pcap");
    tmp_file(small, sizeof(small), "small.pcap");
    size_t len = 2 * STORE_CAPTURE_HEAD_BYTES;
    write_pattern(a, len, 1);
    write_pattern(b, len, 1); /* a copy under another name */
    write_pattern(small, 10, 1);

    char ida[STORE_CAPTURE_ID_LEN], idb[STORE_CAPTURE_ID_LEN], idsmall[STORE_CAPTURE_ID_LEN];
    int64_t size = 0;
    ck_assert_int_eq(store_capture_identify(a, ida, &size), 0);
    ck_assert_int_eq(size, (int64_t)len);
    ck_assert_msg(strncmp(ida, "v1:2097152:", 11) == 0 && strlen(ida) == 11 + 32, "%s", ida);
    ck_assert_int_eq(store_capture_identify(b, idb, NULL), 0);
    ck_assert_str_eq(ida, idb);
    ck_assert_int_eq(store_capture_identify(small, idsmall, &size), 0);
    ck_assert_int_eq(size, 10);
    ck_assert_msg(strncmp(idsmall, "v1:10:", 6) == 0, "%s", idsmall);

    /* One byte changed in the head: another capture. */
    poke(b, 1000, 0x55);
    ck_assert_int_eq(store_capture_identify(b, idb, NULL), 0);
    ck_assert_str_ne(ida, idb);
    /* The same bytes, one fewer: another capture (the size is part of the identity). */
    write_pattern(b, len - 1, 1);
    ck_assert_int_eq(store_capture_identify(b, idb, NULL), 0);
    ck_assert_str_ne(ida, idb);
    /* The documented limit: past the head, only the size counts. */
    write_pattern(b, len, 1);
    poke(b, (long)STORE_CAPTURE_HEAD_BYTES + 10, 0x55);
    ck_assert_int_eq(store_capture_identify(b, idb, NULL), 0);
    ck_assert_str_eq(ida, idb);

    /* Stdin and what is not a regular file are never identified; a missing file says why. */
    ck_assert_int_eq(store_capture_identify("-", ida, NULL), -EINVAL);
    ck_assert_int_eq(store_capture_identify(tmpdir, ida, NULL), -EINVAL);
    char fifo[128];
    tmp_file(fifo, sizeof(fifo), "fifo");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    ck_assert_int_eq(store_capture_identify(fifo, ida, NULL), -EINVAL); /* without waiting */
    unlink(fifo);
    tmp_file(b, sizeof(b), "missing.pcap");
    ck_assert_int_eq(store_capture_identify(b, ida, NULL), -ENOENT);
    tmp_file(b, sizeof(b), "b.pcap");
    unlink(a);
    unlink(b);
    unlink(small);
}
END_TEST

typedef struct {
    int n;
    store_capture_t rows[4];
    char names[4][64];
} capture_list_t;

static int collect_capture(void *ctx, const store_capture_t *c)
{
    capture_list_t *l = ctx;
    ck_assert_int_lt(l->n, 4);
    l->rows[l->n] = *c;
    copy(l->names[l->n], sizeof(l->names[0]), c->name);
    l->rows[l->n].name = l->names[l->n];
    l->rows[l->n].identity = NULL; /* borrowed from the statement: not kept */
    l->n++;
    return 0;
}

START_TEST(test_capture_rows)
{
    store_t *s = open_ok(dbpath);
    ck_assert(schema_has(dbpath, "table", "captures"));
    ck_assert(schema_has(dbpath, "index", "captures_identity"));
    int64_t at = -1;
    ck_assert_int_eq(store_find_capture(s, "v1:1:00", &at), -ENOENT);
    ck_assert_int_eq(at, -1);

    store_capture_t c = {.identity = "v1:100:aa",
                         .name = "first.pcap",
                         .size = 100,
                         .packets = 7,
                         .first_ns = T0 + 5 * US,
                         .last_ns = T0 + 3 * SEC,
                         .analysed_ns = T0 + 10 * SEC};
    ck_assert_int_eq(store_put_capture(s, &c), 0);
    c.name = "again.pcap"; /* the same capture analysed again (--force), later */
    c.analysed_ns = T0 + 20 * SEC;
    ck_assert_int_eq(store_put_capture(s, &c), 0);
    store_capture_t other = {.identity = "v1:5:bb",
                             .name = "other.pcap",
                             .size = 5,
                             .analysed_ns = T0 + 30 * SEC}; /* no packets: no times */
    ck_assert_int_eq(store_put_capture(s, &other), 0);

    ck_assert_int_eq(store_find_capture(s, "v1:100:aa", &at), 0);
    /* The latest analysis. */
    ck_assert_int_eq(at, T0 + 20 * SEC);
    ck_assert_int_eq(store_find_capture(s, "v1:100:a", NULL), -ENOENT); /* exact match only */
    ck_assert_int_eq(store_find_capture(s, NULL, NULL), -EINVAL);

    capture_list_t l = {0};
    ck_assert_int_eq(store_foreach_capture(s, "v1:100:aa", collect_capture, &l), 0);
    ck_assert_int_eq(l.n, 2);
    ck_assert_str_eq(l.rows[0].name, "again.pcap");
    ck_assert_str_eq(l.rows[1].name, "first.pcap");
    ck_assert_int_gt(l.rows[1].id, 0);
    ck_assert_int_eq(l.rows[1].size, 100);
    ck_assert_uint_eq(l.rows[1].packets, 7);
    ck_assert_int_eq(l.rows[1].first_ns, T0 + 5 * US);
    ck_assert_int_eq(l.rows[1].last_ns, T0 + 3 * SEC);
    ck_assert_int_eq(l.rows[1].analysed_ns, T0 + 10 * SEC);
    memset(&l, 0, sizeof(l));
    ck_assert_int_eq(store_foreach_capture(s, NULL, collect_capture, &l), 0);
    ck_assert_int_eq(l.n, 3);
    ck_assert_str_eq(l.rows[0].name, "other.pcap");
    ck_assert_int_eq(l.rows[0].first_ns, 0);
    ck_assert_int_eq(l.rows[0].last_ns, 0);
    ck_assert_int_eq(raw_i64(dbpath, "SELECT count(*) FROM captures WHERE first_time IS NULL"), 1);
    ck_assert_int_eq(store_put_capture(s, &(store_capture_t){.name = "x"}), -EINVAL);
    ck_assert_int_eq(store_close(s), 0);

    /* A reader sees them; it may not add any. */
    store_opts_t ro = {.read_only = true};
    store_t *r = NULL;
    ck_assert_int_eq(store_open_opts(dbpath, &ro, &r), 0);
    ck_assert_int_eq(store_find_capture(r, "v1:5:bb", &at), 0);
    ck_assert_int_eq(at, T0 + 30 * SEC);
    ck_assert_int_eq(store_put_capture(r, &other), -EROFS);
    store_close(r);
}
END_TEST

/* A database of schema v3 (before captures) gains the table, its rows untouched. */
START_TEST(test_capture_migration_from_v3)
{
    store_t *s = open_ok(dbpath);
    ck_assert_int_eq(store_set_meta(s, "kept", "yes"), 0);
    ck_assert_int_eq(store_close(s), 0);
    drop_aggregate(dbpath);
    raw_exec(dbpath,
             UNDO_AFTER_V7 "DROP INDEX calls_verdict; ALTER TABLE calls DROP COLUMN verdict;"
                           "ALTER TABLE calls DROP COLUMN reasons;"
                           "DROP TABLE captures;"
                           "ALTER TABLE rtp_streams DROP COLUMN probe;"
                           "ALTER TABLE rtp_streams DROP COLUMN srtp;"
                           "ALTER TABLE rtp_streams DROP COLUMN srtp_suite;"
                           "ALTER TABLE sip_messages DROP COLUMN via; PRAGMA user_version = 3;");
    ck_assert(!schema_has(dbpath, "table", "captures"));
    s = open_ok(dbpath);
    ck_assert_int_eq(raw_i64(dbpath, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    ck_assert(schema_has(dbpath, "table", "captures"));
    char v[8];
    ck_assert_int_eq(store_get_meta(s, "kept", v, sizeof(v)), 0);
    ck_assert_str_eq(v, "yes");
    ck_assert_int_eq(store_close(s), 0);
}
END_TEST

/* SRTP and via (v5) round trip: the fact and the suite of a stream, how a message came. */
static int check_srtp_stream(void *ctx, const stream_record_t *r)
{
    int *n = ctx;
    ck_assert(r->srtp == (*n == 0));
    ck_assert_str_eq(r->srtp_suite, *n == 0 ? "AES_CM_128_HMAC_SHA1_80" : "");
    (*n)++;
    return 0;
}

static int check_via_message(void *ctx, int64_t id, const message_record_t *m)
{
    (void)id;
    int *n = ctx;
    ck_assert_str_eq(m->via, *n == 0 ? "wss" : "");
    (*n)++;
    return 0;
}

static void put_srtp_rows(store_t *s)
{
    stream_record_t a = sample_stream(100, 1);
    a.srtp = true;
    a.srtp_suite = "AES_CM_128_HMAC_SHA1_80";
    stream_record_t b = sample_stream(101, 1);
    b.first_ns = a.first_ns + SEC;
    ck_assert_int_eq(store_put_stream(s, &a), 0);
    ck_assert_int_eq(store_put_stream(s, &b), 0);
    message_record_t m = {.call_row = 1,
                          .ts_ns = T0,
                          .transport = 6,
                          .via = "wss",
                          .is_request = true,
                          .method = "INVITE",
                          .raw = "INVITE",
                          .raw_len = 6};
    ck_assert_int_eq(store_put_message(s, &m), 0);
    m.ts_ns = T0 + SEC;
    m.via = "";
    ck_assert_int_eq(store_put_message(s, &m), 0);
}

START_TEST(test_srtp_via_roundtrip)
{
    store_t *s = open_ok(":memory:");
    put_srtp_rows(s);
    int n = 0;
    ck_assert_int_eq(store_foreach_stream(s, 1, check_srtp_stream, &n), 0);
    ck_assert_int_eq(n, 2);
    n = 0;
    ck_assert_int_eq(store_foreach_message(s, 1, check_via_message, &n), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(store_close(s), 0);
}
END_TEST

/* The probe of a stream (v6): a remote stream keeps its probe id, a local one reads back
 * without one; a v5 database gains the column and its rows read as local. */
static int check_probe_stream(void *ctx, const stream_record_t *r)
{
    int *n = ctx;
    ck_assert(r->has_probe == (*n == 0));
    ck_assert_uint_eq(r->probe_id, *n == 0 ? 4000000000u : 0);
    (*n)++;
    return 0;
}

START_TEST(test_stream_probe_roundtrip_and_migration)
{
    store_t *s = open_ok(dbpath);
    stream_record_t a = sample_stream(100, 1);
    a.has_probe = true;
    a.probe_id = 4000000000u;
    stream_record_t b = sample_stream(101, 1);
    b.first_ns = a.first_ns + SEC;
    ck_assert_int_eq(store_put_stream(s, &a), 0);
    ck_assert_int_eq(store_put_stream(s, &b), 0);
    int n = 0;
    ck_assert_int_eq(store_foreach_stream(s, 1, check_probe_stream, &n), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(store_close(s), 0);
    drop_aggregate(dbpath);
    raw_exec(dbpath, UNDO_AFTER_V7
             "DROP INDEX calls_verdict; ALTER TABLE calls DROP COLUMN verdict;"
             "ALTER TABLE calls DROP COLUMN reasons;"
             "DELETE FROM rtp_streams; ALTER TABLE rtp_streams DROP COLUMN probe;"
             "INSERT INTO rtp_streams (call_row, ssrc, first_time) VALUES (1, 7, 1.0);"
             "PRAGMA user_version = 5;");
    s = open_ok(dbpath);
    ck_assert_int_eq(raw_i64(dbpath, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    ck_assert_int_eq(raw_i64(dbpath, "SELECT count(*) FROM rtp_streams WHERE probe IS NULL"), 1);
    n = 1;
    ck_assert_int_eq(store_foreach_stream(s, 1, check_probe_stream, &n), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(store_close(s), 0);
}
END_TEST

/* A database of schema v4 gains srtp, srtp_suite and via; its rows read as plain and "". */
START_TEST(test_srtp_via_migration_from_v4)
{
    store_t *s = open_ok(dbpath);
    ck_assert_int_eq(store_close(s), 0);
    drop_aggregate(dbpath);
    raw_exec(dbpath, UNDO_AFTER_V7
             "DROP INDEX calls_verdict; ALTER TABLE calls DROP COLUMN verdict;"
             "ALTER TABLE calls DROP COLUMN reasons;"
             "ALTER TABLE rtp_streams DROP COLUMN probe;"
             "ALTER TABLE rtp_streams DROP COLUMN srtp;"
             "ALTER TABLE rtp_streams DROP COLUMN srtp_suite;"
             "ALTER TABLE sip_messages DROP COLUMN via;"
             "INSERT INTO rtp_streams (call_row, ssrc, first_time) VALUES (1, 7, 1.0);"
             "INSERT INTO sip_messages (call_row, time, is_request, method, raw)"
             " VALUES (1, 1.0, 1, 'INVITE', 'INVITE');"
             "PRAGMA user_version = 4;");
    ck_assert_int_eq(raw_i64(dbpath, "SELECT count(*) FROM pragma_table_info('rtp_streams')"
                                     " WHERE name = 'srtp'"),
                     0);
    s = open_ok(dbpath);
    ck_assert_int_eq(raw_i64(dbpath, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    ck_assert_int_eq(raw_i64(dbpath, "SELECT srtp FROM rtp_streams"), 0);
    int n = 1; /* the callbacks' "not the first": plain, "" */
    ck_assert_int_eq(store_foreach_stream(s, 1, check_srtp_stream, &n), 0);
    ck_assert_int_eq(n, 2);
    n = 1;
    ck_assert_int_eq(store_foreach_message(s, 1, check_via_message, &n), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(store_close(s), 0);
}
END_TEST

/* A database of schema v6 gains verdict and reasons; its calls get a verdict from their stored
 * figures (state, one_way, MOS) and one reason saying so. */
START_TEST(test_verdict_migration_from_v6)
{
    store_t *s = open_ok(dbpath);
    ck_assert_int_eq(store_close(s), 0);
    drop_aggregate(dbpath);
    raw_exec(dbpath, UNDO_AFTER_V7
             "DROP INDEX calls_verdict; ALTER TABLE calls DROP COLUMN verdict;"
             "ALTER TABLE calls DROP COLUMN reasons;"
             "INSERT INTO calls (id, state, answer_time, end_time, one_way, mos) VALUES"
             " (1, 'rejected', NULL, 2.0, 0, NULL), (2, 'cancelled', NULL, 2.0, 0, NULL),"
             " (3, 'completed', 1.0, 2.0, 1, 4.2), (4, 'completed', 1.0, 2.0, 0, NULL),"
             " (5, 'completed', 1.0, 2.0, 0, 2.9), (6, 'completed', 1.0, 2.0, 0, 3.5),"
             " (7, 'completed', 1.0, 2.0, 0, 4.3);"
             "PRAGMA user_version = 6;");
    s = open_ok(dbpath);
    ck_assert_int_eq(raw_i64(dbpath, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    char v[256];
    raw_text(dbpath,
             "SELECT group_concat(verdict, ',') FROM (SELECT verdict FROM calls ORDER BY id)", v,
             sizeof(v));
    ck_assert_str_eq(v, "failed,good,one_way,no_media,poor,degraded,good");
    raw_text(dbpath, "SELECT reasons FROM calls WHERE id = 7", v, sizeof(v));
    ck_assert_str_eq(v, "[]");
    raw_text(dbpath,
             "SELECT json_extract(reasons, '$[0].code') || json_extract(reasons, '$[0].value')"
             " FROM calls WHERE id = 5",
             v, sizeof(v));
    ck_assert_str_eq(v, "stored_before_verdicts2.9");
    ck_assert(schema_has(dbpath, "index", "calls_verdict"));
    ck_assert_int_eq(store_close(s), 0);
}
END_TEST

START_TEST(test_capture_run)
{
    char a[128], copy_of_a[128], b[128], missing[128], err[256] = "";
    tmp_file(a, sizeof(a), "a.pcap");
    tmp_file(copy_of_a, sizeof(copy_of_a), "copy.pcap");
    tmp_file(b, sizeof(b), "b.pcap");
    tmp_file(missing, sizeof(missing), "missing.pcap");
    write_pattern(a, 5000, 1);
    write_pattern(copy_of_a, 5000, 1);
    write_pattern(b, 5000, 2);

    /* No database, or one in memory: everything is read, nothing recorded. */
    store_capture_run_t *r = (store_capture_run_t *)&r;
    ck_assert_int_eq(store_capture_run_new(NULL, false, &r, err, sizeof(err)), 0);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(store_capture_run_new(":memory:", false, &r, err, sizeof(err)), 0);
    ck_assert_ptr_null(r);
    ck_assert(store_capture_run_want(NULL, a));
    store_capture_run_read(NULL, 0, 1, 0, 0);
    ck_assert_int_eq(store_capture_run_commit(NULL, err, sizeof(err)), 0);
    store_capture_run_free(NULL);

    ck_assert_int_eq(store_capture_run_new(dbpath, false, &r, err, sizeof(err)), 0);
    ck_assert(store_capture_run_want(r, a));
    store_capture_run_read(r, 0, 12, T0, T0 + SEC);
    ck_assert(!store_capture_run_want(r, copy_of_a)); /* the same capture, given twice */
    ck_assert(store_capture_run_want(r, "-"));        /* stdin: always read, never recorded */
    store_capture_run_read(r, 0, 3, T0, T0);
    ck_assert(store_capture_run_want(r, missing)); /* the reader says what is wrong */
    store_capture_run_read(r, -ENOENT, 0, 0, 0);
    ck_assert(store_capture_run_want(r, b));
    store_capture_run_read(r, -EIO, 0, 0, 0); /* failed before any packet: not recorded */
    ck_assert_int_eq(store_capture_run_commit(r, err, sizeof(err)), 0);
    store_capture_run_free(r);
    ck_assert_int_eq(raw_i64(dbpath, "SELECT count(*) FROM captures"), 1);
    char name[128];
    raw_text(dbpath, "SELECT name FROM captures", name, sizeof(name));
    ck_assert_str_eq(name, a);
    ck_assert_int_eq(raw_i64(dbpath, "SELECT packets FROM captures"), 12);
    ck_assert_int_eq(raw_i64(dbpath, "SELECT size FROM captures"), 5000);

    /* The next analysis skips it under either name; b, never stored, is read. */
    ck_assert_int_eq(store_capture_run_new(dbpath, false, &r, err, sizeof(err)), 0);
    ck_assert(!store_capture_run_want(r, a));
    ck_assert(!store_capture_run_want(r, copy_of_a));
    ck_assert(store_capture_run_want(r, b));
    store_capture_run_read(r, -EIO, 4, T0, T0 + MS); /* truncated after 4 packets: stored */
    ck_assert_int_eq(store_capture_run_commit(r, err, sizeof(err)), 0);
    store_capture_run_free(r);
    ck_assert_int_eq(raw_i64(dbpath, "SELECT count(*) FROM captures"), 2);

    /* With force everything is read again, and recorded again. */
    ck_assert_int_eq(store_capture_run_new(dbpath, true, &r, err, sizeof(err)), 0);
    ck_assert(store_capture_run_want(r, a));
    store_capture_run_read(r, 0, 12, T0, T0 + SEC);
    ck_assert(store_capture_run_want(r, copy_of_a));
    store_capture_run_read(r, 0, 12, T0, T0 + SEC);
    ck_assert_int_eq(store_capture_run_commit(r, err, sizeof(err)), 0);
    store_capture_run_free(r);
    ck_assert_int_eq(raw_i64(dbpath, "SELECT count(*) FROM captures"), 4);

    /* A database that cannot be opened is an error that says where. */
    ck_assert_int_ne(store_capture_run_new("/nonexistent/dir/x.db", false, &r, err, sizeof(err)),
                     0);
    ck_assert_ptr_null(r);
    ck_assert_msg(strstr(err, "/nonexistent/dir/x.db") != NULL, "%s", err);
    unlink(a);
    unlink(copy_of_a);
    unlink(b);
}
END_TEST

Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("schema");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, test_schema_memory);
    tcase_add_test(tc, test_schema_file);
    tcase_add_test(tc, test_walk_gives_up);
    tcase_add_test(tc, test_migrate_empty_and_reopen);
    tcase_add_test(tc, test_migrate_foreign_v0);
    tcase_add_test(tc, test_refuse_future_version);
    tcase_add_test(tc, test_open_errors);
    tcase_add_test(tc, test_read_only_needs_schema);
    suite_add_tcase(s, tc);

    tc = tcase_create("roundtrip");
    tcase_add_test(tc, test_call_roundtrip);
    tcase_add_test(tc, test_call_foreach_order);
    tcase_add_test(tc, test_callback_stop);
    tcase_add_test(tc, test_stream_roundtrip);
    tcase_add_test(tc, test_sample_roundtrip);
    tcase_add_test(tc, test_message_roundtrip);
    tcase_add_test(tc, test_meta);
    tcase_add_test(tc, test_totals_and_next_id);
    tcase_add_test(tc, test_replace_updates);
    suite_add_tcase(s, tc);

    tc = tcase_create("batching");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, test_batching);
    suite_add_tcase(s, tc);

    tc = tcase_create("query");
    tcase_add_test(tc, test_query_filters);
    tcase_add_test(tc, test_query_paging);
    tcase_add_test(tc, test_query_hostile);
    suite_add_tcase(s, tc);

    tc = tcase_create("prune");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_prune_age);
    tcase_add_test(tc, test_prune_size);
    suite_add_tcase(s, tc);

    tc = tcase_create("captures");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, test_capture_identity);
    tcase_add_test(tc, test_capture_rows);
    tcase_add_test(tc, test_capture_migration_from_v3);
    tcase_add_test(tc, test_srtp_via_migration_from_v4);
    tcase_add_test(tc, test_active_migration_from_v7);
    tcase_add_test(tc, test_close_interrupted);
    tcase_add_test(tc, test_verdict_migration_from_v6);
    tcase_add_test(tc, test_srtp_via_roundtrip);
    tcase_add_test(tc, test_stream_probe_roundtrip_and_migration);
    tcase_add_test(tc, test_capture_run);
    suite_add_tcase(s, tc);
    return s;
}
