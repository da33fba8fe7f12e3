/* check_writer: the store writer thread (store/writer.c): batching, wrap-around, back-pressure and
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

#include "record_desc.h"
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

/* A snapshot (active) is held back until the batch commits: alone, it is still committed by
 * the idle flush; superseded by its row's final record within the batch, only the final one is
 * written (one row write, not two), and a message that came between is committed with it. */
START_TEST(snapshots_held_until_commit)
{
    call_record_t c = {.id = 5, .call_id = "held@x", .state = CALL_IN_CALL, .active = true};
    ck_assert_int_eq(writer_put_call(W, &c), 0);
    double t0 = now_s();
    while (count("SELECT count(*) FROM calls") == 0 && now_s() - t0 < 5.0)
        sleep_ms(50);
    ck_assert_int_eq(count("SELECT count(*) FROM calls WHERE id = 5 AND active = 1"), 1);

    store_stats_t before, after;
    writer_stats_t ws;
    store_get_stats(S, &before);
    call_record_t d = {.id = 6, .call_id = "short@x", .state = CALL_SETUP, .active = true};
    ck_assert_int_eq(writer_put_call(W, &d), 0);
    stream_record_t st = {.id = 7, .call_row = 6, .ssrc = 1, .packets = 3, .active = true};
    ck_assert_int_eq(writer_put_stream(W, &st), 0);
    message_record_t m = {.call_row = 6,
                          .call_id = "short@x",
                          .ts_ns = 1000000000,
                          .is_request = true,
                          .method = "INVITE",
                          .raw = "INVITE",
                          .raw_len = 6};
    ck_assert_int_eq(writer_put_message(W, &m), 0);
    st.active = false;
    st.packets = 9;
    ck_assert_int_eq(writer_put_stream(W, &st), 0);
    d.state = CALL_COMPLETED;
    d.active = false;
    ck_assert_int_eq(writer_put_call(W, &d), 0);
    ck_assert_int_eq(writer_stop(W, &ws, NULL, 0), 0);
    W = NULL;
    store_get_stats(S, &after);
    ck_assert_uint_eq(after.rows_committed - before.rows_committed, 3);
    ck_assert_int_eq(count("SELECT count(*) FROM calls WHERE id = 6 AND active = 0"
                           " AND state = 'completed'"),
                     1);
    ck_assert_int_eq(count("SELECT packets FROM rtp_streams WHERE id = 7 AND active = 0"), 9);
    ck_assert_int_eq(count("SELECT count(*) FROM sip_messages WHERE call_row = 6"), 1);
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

/* ---- Every string member, as the descriptors name them, through the queue and the store. */

/* What reading back should give for a string member written as want: a NULL comes back as ""
 * where the kind or its flags say so. */
static void check_strings(const record_desc_t *d, const void *want, const void *got)
{
    for (size_t i = 0; i < d->n_fields; i++) {
        const record_field_t *f = &d->fields[i];
        if (!record_kind_is_string(f->kind) || (f->flags & REC_F_VIRTUAL))
            continue;
        const char *w = record_get_str(want, f), *g = record_get_str(got, f);
        if (f->kind == REC_RAW) {
            size_t wn = (size_t)record_get_int(want, &d->fields[i + 1]);
            size_t gn = (size_t)record_get_int(got, &d->fields[i + 1]);
            ck_assert_msg(wn == gn, "%s.%s: %zu bytes, not %zu", d->name, f->member, gn, wn);
            ck_assert_msg(g != NULL && memcmp(w, g, wn) == 0, "%s.%s", d->name, f->member);
            continue;
        }
        bool empty =
            f->kind == REC_STR_EMPTY || f->kind == REC_REASONS || (f->flags & REC_F_READ_EMPTY);
        const char *expect = w != NULL ? w : empty ? "" : NULL;
        if (expect == NULL)
            ck_assert_msg(g == NULL, "%s.%s: \"%s\", not NULL", d->name, f->member, g);
        else
            ck_assert_msg(g != NULL && strcmp(g, expect) == 0, "%s.%s: \"%s\", not \"%s\"", d->name,
                          f->member, g ? g : "(null)", expect);
    }
}

static const call_record_t rt_call = {
    .id = 1,
    .call_id = "rt-1@example.com",
    .from_uri = "sip:alice@example.com",
    .to_uri = "sip:bob@example.com",
    .from_tag = "ft1",
    .to_tag = NULL, /* not answered */
    .user_agent = "Phone \xc3\xa9 1.0",
    .reasons = "[{\"code\":\"rejected\",\"text\":\"\u00e9\"}]",
    .state = CALL_SETUP,
    .invite_ns = 1700000000000000000LL,
    .post_dial_delay_ns = -1,
    .duration_ns = -1,
};
static const stream_record_t rt_stream = {
    .id = 2, .call_row = 0, .call_id = NULL, .codec = "opus", .first_ns = 1700000000000000000LL};
/* Raw text holds a NUL and a byte that is not UTF-8: it is copied by length. */
static const char rt_raw[] = "OPTIONS sip:x SIP/2.0\r\nX: \0\xff\r\n\r\n";
static const message_record_t rt_message = {
    .call_id = NULL,
    .ts_ns = 1700000000000000000LL,
    .method = "OPTIONS",
    .is_request = true,
    .raw = rt_raw,
    .raw_len = sizeof(rt_raw) - 1,
};
static const registration_record_t rt_reg = {
    .aor = "sip:carol@example.com",
    .aor_user = "carol",
    .contact = NULL,
    .user_agent = "",
    .first_ns = 1700000000000000000LL,
    .last_ns = 1700000001000000000LL,
};
static const alert_record_t rt_alert = {
    .id = 3,
    .type = ALERT_SCANNER,
    .target = "sip:100@example.com",
    .user_agent = NULL,
    .first_ns = 1700000000000000000LL,
    .last_ns = 1700000001000000000LL,
};

static int seen;

static int got_call(void *ctx, const call_record_t *c)
{
    (void)ctx;
    check_strings(&call_record_desc, &rt_call, c);
    return ++seen, 0;
}

static int got_stream(void *ctx, const stream_record_t *r)
{
    (void)ctx;
    check_strings(&stream_record_desc, &rt_stream, r);
    return ++seen, 0;
}

static int got_message(void *ctx, int64_t id, const message_record_t *m)
{
    (void)ctx;
    (void)id;
    check_strings(&message_record_desc, &rt_message, m);
    return ++seen, 0;
}

static int got_reg(void *ctx, const registration_record_t *r)
{
    (void)ctx;
    check_strings(&registration_record_desc, &rt_reg, r);
    return ++seen, 0;
}

static int got_alert(void *ctx, const alert_record_t *a)
{
    (void)ctx;
    check_strings(&alert_record_desc, &rt_alert, a);
    return ++seen, 0;
}

START_TEST(every_string_survives_the_queue)
{
    ck_assert_int_eq(writer_put_call(W, &rt_call), 0);
    ck_assert_int_eq(writer_put_stream(W, &rt_stream), 0);
    ck_assert_int_eq(writer_put_message(W, &rt_message), 0);
    ck_assert_int_eq(writer_put_registration(W, &rt_reg), 0);
    ck_assert_int_eq(writer_put_alert(W, &rt_alert), 0);
    char err[256] = "";
    ck_assert_int_eq(writer_stop(W, NULL, err, sizeof(err)), 0);
    W = NULL;
    seen = 0;
    ck_assert_int_eq(store_foreach_call(S, got_call, NULL), 0);
    ck_assert_int_eq(store_foreach_stream(S, -1, got_stream, NULL), 0);
    ck_assert_int_eq(store_foreach_message(S, -1, got_message, NULL), 0);
    ck_assert_int_eq(store_query_registration_records(S, NULL, -1, 0, got_reg, NULL, NULL), 0);
    ck_assert_int_eq(store_query_alert_records(S, NULL, -1, 0, got_alert, NULL, NULL), 0);
    ck_assert_int_eq(seen, 5);
}
END_TEST

/* The descriptors follow the rules the generic code relies on (record_desc.h). */
START_TEST(descriptors_well_formed)
{
    for (const record_desc_t *const *dp = record_descs; *dp != NULL; dp++) {
        const record_desc_t *d = *dp;
        bool in_group = false, have_count = false;
        for (size_t i = 0; i < d->n_fields; i++) {
            const record_field_t *f = &d->fields[i];
            bool virt = f->kind == REC_OUTCOME || f->kind == REC_SUMMARY || f->kind == REC_HAS_SDP;
            ck_assert_msg(virt == ((f->flags & REC_F_VIRTUAL) != 0), "%s: field %zu", d->name, i);
            ck_assert_uint_le(f->offset + f->size, d->size);
            ck_assert_ptr_nonnull(f->doc);
            if (f->kind == REC_RAW)
                ck_assert_msg(i + 1 < d->n_fields && d->fields[i + 1].kind == REC_RAW_LEN,
                              "%s.%s: REC_RAW_LEN must follow", d->name, f->member);
            if (f->kind == REC_PRESENT)
                in_group = true;
            else if (!(f->flags & REC_F_GROUP))
                in_group = false;
            ck_assert_msg(!(f->flags & REC_F_GROUP) || in_group, "%s.%s: group without REC_PRESENT",
                          d->name, f->member);
            if (f->kind == REC_COUNT_OF)
                have_count = true;
            if (f->kind == REC_TIME_ARRAY || f->kind == REC_ID_ARRAY)
                ck_assert_msg(have_count, "%s.%s: no REC_COUNT_OF before", d->name, f->member);
            /* Keys are unique in their object, columns in their table. */
            for (size_t j = 0; j < i; j++) {
                const record_field_t *g = &d->fields[j];
                bool same_object =
                    ((f->flags & REC_F_GROUP) != 0) == ((g->flags & REC_F_GROUP) != 0);
                if (f->name && g->name && same_object)
                    ck_assert_msg(strcmp(f->name, g->name) != 0, "%s: key %s twice", d->name,
                                  f->name);
                if (f->column && g->column)
                    ck_assert_msg(strcmp(f->column, g->column) != 0, "%s: column %s twice", d->name,
                                  f->column);
            }
        }
    }
}
END_TEST

Suite *writer_suite(void)
{
    Suite *s = suite_create("writer");
    TCase *tc = tcase_create("writer");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, single_record_committed_while_idle);
    tcase_add_test(tc, snapshots_held_until_commit);
    tcase_add_test(tc, trickle_committed_by_time);
    tcase_add_test(tc, wraps_and_back_pressure_lose_nothing);
    tcase_add_test(tc, every_string_survives_the_queue);
    tcase_add_test(tc, descriptors_well_formed);
    suite_add_tcase(s, tc);
    return s;
}
