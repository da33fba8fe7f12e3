/* check_writer: the store writer thread (app/writer.c): batching, wrap-around, back-pressure and
 * commit latency, read back through a second SQLite connection as a reader would. */
#include <check.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "writer.h"

static char dir[64], path[96];
static store_t *S;
static writer_t *W;

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/check_writer_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/w.db", dir);
    ck_assert_int_eq(store_open(path, &S), 0);
    W = writer_start(S, 0);
    ck_assert_ptr_nonnull(W);
}

static void teardown(void)
{
    if (W != NULL)
        writer_stop(W, NULL, NULL, 0);
    W = NULL;
    if (S != NULL)
        store_close(S);
    S = NULL;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* A count through an independent connection: only committed rows are visible to it. */
static int64_t count(const char *sql)
{
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 2000);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static sample_record_t sample(int64_t stream, int i)
{
    sample_record_t r = {.stream_row = stream,
                         .start_ns = 1700000000000000000LL + (int64_t)i * 5000000000LL,
                         .packets = (uint32_t)i,
                         .lost = i % 7,
                         .jitter_ms = 0.5,
                         .max_jitter_ms = 1.5,
                         .mos = 4.2};
    return r;
}

/* One record alone (below the batch that wakes the writer) is still stored and committed soon:
 * a live server's readers see it within the idle commit. */
START_TEST(single_record_committed_while_idle)
{
    sample_record_t r = sample(1, 1);
    ck_assert_int_eq(writer_put_sample(W, &r), 0);
    double t0 = now_s();
    while (count("SELECT count(*) FROM stream_samples") == 0 && now_s() - t0 < 5.0)
        sleep_ms(50);
    ck_assert_int_eq(count("SELECT count(*) FROM stream_samples"), 1);
    ck_assert_msg(now_s() - t0 < 3.0, "committed after %.2f s", now_s() - t0);
}
END_TEST

/* A steady trickle never leaves the writer idle for the idle commit: it commits by time. */
START_TEST(trickle_committed_by_time)
{
    double t0 = now_s();
    int put = 0;
    int64_t seen = 0;
    while (now_s() - t0 < 3.0) {
        sample_record_t r = sample(2, put++);
        ck_assert_int_eq(writer_put_sample(W, &r), 0);
        sleep_ms(100);
        seen = count("SELECT count(*) FROM stream_samples");
    }
    ck_assert_msg(seen > 0 && seen <= put, "seen %lld of %d", (long long)seen, put);
}
END_TEST

/* Far more than the queue holds, messages of every size up to 200 KB: the producer waits, the
 * ring wraps many times, and every record arrives intact and in order. */
START_TEST(wraps_and_back_pressure_lose_nothing)
{
    enum { N = 3000 };
    static char raw[200 * 1024];
    for (size_t i = 0; i < sizeof(raw); i++)
        raw[i] = (char)('a' + i % 26);
    uint64_t bytes = 0;
    for (int i = 0; i < N; i++) {
        message_record_t m;
        memset(&m, 0, sizeof(m));
        m.call_id = "wrap@test";
        m.ts_ns = 1700000000000000000LL + i;
        m.method = "INVITE";
        m.is_request = true;
        m.cseq = (uint32_t)i;
        m.raw = raw;
        m.raw_len = (uint32_t)((i * 7919u) % (i % 50 == 0 ? sizeof(raw) : 4096u));
        bytes += m.raw_len;
        ck_assert_int_eq(writer_put_message(W, &m), 0);
        if (i % 3 == 0) {
            sample_record_t r = sample(3, i);
            ck_assert_int_eq(writer_put_sample(W, &r), 0);
        }
    }
    writer_stats_t ws;
    writer_get_stats(W, &ws);
    ck_assert_uint_gt(ws.producer_waits, 0); /* the 4 MB queue filled */
    char err[256] = "";
    writer_stats_t final;
    ck_assert_int_eq(writer_stop(W, &final, err, sizeof(err)), 0);
    ck_assert_uint_eq(final.written, final.queued);
    ck_assert_int_gt(final.cpu_ns, 0);
    W = NULL;
    ck_assert_int_eq(count("SELECT count(*) FROM sip_messages"), N);
    ck_assert_int_eq(count("SELECT count(*) FROM stream_samples"), (N + 2) / 3);
    ck_assert_int_eq(count("SELECT sum(length(raw)) FROM sip_messages"), (int64_t)bytes);
    /* In order: cseq rises with the row id. */
    ck_assert_int_eq(count("SELECT count(*) FROM sip_messages a JOIN sip_messages b"
                           " ON b.id = a.id + 1 WHERE b.cseq != a.cseq + 1"),
                     0);
    ck_assert_int_eq(count("SELECT count(*) FROM sip_messages WHERE substr(raw, 1, 3) != 'abc'"
                           " AND length(raw) >= 3"),
                     0);
}
END_TEST

Suite *writer_suite(void)
{
    Suite *s = suite_create("writer");
    TCase *tc = tcase_create("writer");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, single_record_committed_while_idle);
    tcase_add_test(tc, trickle_committed_by_time);
    tcase_add_test(tc, wraps_and_back_pressure_lose_nothing);
    suite_add_tcase(s, tc);
    return s;
}
