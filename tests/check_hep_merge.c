/* check_hep_merge: several probes' messages back in capture-time order, on a clock the test
 * drives: watermarks, the wait for a silent probe, the start-up hold, the cap, late messages. */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hep_merge.h"

#define MS (1000000LL)
#define T0 (1700000000LL * 1000 * MS) /* capture times: some day in 2023 */
#define W0 (5000 * MS)                /* the wall clock (monotonic) at the start */

typedef struct {
    int64_t ts[256];
    uint32_t probe[256];
    char text[256][16];
    size_t n;
} out_t;

static void collect(void *ctx, const packet_view_t *pkt, uint64_t tag)
{
    out_t *o = ctx;
    ck_assert_uint_eq(tag, pkt->probe_id * 1000u); /* the tag comes back with its message */
    ck_assert_uint_lt(o->n, 256);
    o->ts[o->n] = pkt->ts_ns;
    o->probe[o->n] = pkt->probe_id;
    snprintf(o->text[o->n], sizeof(o->text[0]), "%.*s", (int)pkt->len, (const char *)pkt->payload);
    o->n++;
}

static net_addr_t loopback(void)
{
    net_addr_t a;
    net_addr_v4(&a, (const uint8_t[4]){127, 0, 0, 1});
    return a;
}

/* Probe id sends a message at capture time T0 + at_ms, arriving at wall W0 + now_ms. The
 * payload is its own copy of text, scribbled over afterwards: a held message must own its
 * bytes. */
static void send_msg(hep_merge_t *m, uint32_t id, int64_t at_ms, int64_t now_ms, const char *text)
{
    char buf[16];
    snprintf(buf, sizeof(buf), "%s", text);
    net_addr_t from = loopback();
    packet_view_t pkt = {.ts_ns = T0 + at_ms * MS,
                         .ip_proto = PKT_PROTO_UDP,
                         .payload = (const uint8_t *)buf,
                         .len = strlen(buf),
                         .kind = PKT_KIND_SIP,
                         .has_probe = true,
                         .probe_id = id};
    hep_merge_saw(m, id, &from, pkt.ts_ns, W0 + now_ms * MS);
    hep_merge_push(m, &pkt, (uint64_t)id * 1000u, W0 + now_ms * MS);
    memset(buf, 'x', sizeof(buf));
}

static hep_merge_t *new_merge(out_t *o, uint32_t wait_ms, size_t max_held)
{
    hep_merge_cfg_t cfg;
    hep_merge_cfg_init(&cfg);
    cfg.wait_ms = wait_ms;
    if (max_held > 0)
        cfg.max_held = max_held;
    memset(o, 0, sizeof(*o));
    hep_merge_t *m = hep_merge_new(&cfg, collect, o);
    ck_assert_ptr_nonnull(m);
    return m;
}

/* Releasing at wall time W0 + now_ms returns due (ms to the next deadline, -1 for none) and
 * leaves `out` messages out in all. */
static void expect_release(hep_merge_t *m, const out_t *o, int64_t now_ms, int due, size_t out)
{
    ck_assert_int_eq(hep_merge_release(m, W0 + now_ms * MS), due);
    ck_assert_uint_eq(o->n, out);
}

/* Both probes known and past the start-up hold (4 messages out, both last heard at 600 ms,
 * both at capture time 5): from here a message goes on once the other probe has sent
 * something at least as late. */
static void warm_up(hep_merge_t *m, out_t *o)
{
    send_msg(m, 11, 0, 0, "a0");
    send_msg(m, 12, 1, 0, "b1");
    send_msg(m, 11, 5, 600, "a5");
    send_msg(m, 12, 5, 600, "b5");
    ck_assert_uint_eq(o->n, 0);
    expect_release(m, o, 1000, -1, 4);
}

/* A merge with wait 1000 ms (and max_held, 0 for the default) past warm_up. */
static hep_merge_t *new_warm_merge(out_t *o, size_t max_held)
{
    hep_merge_t *m = new_merge(o, 1000, max_held);
    warm_up(m, o);
    return m;
}

/* The messages out from position `from` on have these texts (a NULL-ended list). */
static void expect_texts(const out_t *o, size_t from, ...)
{
    va_list ap;
    va_start(ap, from);
    for (const char *want; (want = va_arg(ap, const char *)) != NULL; from++)
        ck_assert_str_eq(o->text[from], want);
    va_end(ap);
}

static hep_merge_stats_t merge_stats(hep_merge_t *m)
{
    hep_merge_stats_t st;
    hep_merge_stats(m, &st);
    return st;
}

START_TEST(test_watermarks_order_two_probes)
{
    out_t o;
    hep_merge_t *m = new_warm_merge(&o, 0);
    /* Probe 11 runs ahead (capture time 100..300); probe 12 delivers 150 and 250 later. */
    send_msg(m, 11, 100, 1010, "a100");
    send_msg(m, 11, 200, 1011, "a200");
    send_msg(m, 11, 300, 1012, "a300");
    ck_assert_uint_eq(o.n, 4); /* 12 is at 5: all wait */
    send_msg(m, 12, 150, 1013, "b150");
    ck_assert_uint_eq(o.n, 6); /* a100, b150 */
    send_msg(m, 12, 250, 1014, "b250");
    ck_assert_uint_eq(o.n, 8); /* a200, b250 */
    expect_texts(&o, 4, "a100", "b150", "a200", "b250", NULL);
    hep_merge_stats_t st = merge_stats(m);
    ck_assert_uint_eq(st.held, 1); /* a300, until 12 passes it or the wait ends */
    ck_assert_uint_eq(st.probes, 2);
    ck_assert_uint_eq(st.late, 0);
    ck_assert_uint_eq(st.waited, 0);
    hep_merge_free(m);
}
END_TEST

/* A probe that keeps sending but lags behind is waited for at most wait_ms per message. */
START_TEST(test_lagging_probe_bounded_wait)
{
    out_t o;
    hep_merge_t *m = new_warm_merge(&o, 0);
    send_msg(m, 11, 100, 1100, "a100");
    int due = hep_merge_release(m, W0 + 1100 * MS);
    ck_assert_int_eq(due, 1000);
    send_msg(m, 12, 6, 1400, "b6");
    send_msg(m, 12, 7, 1800, "b7");
    ck_assert_uint_eq(o.n, 6); /* b6, b7: nothing held comes before them */
    expect_release(m, &o, 2099, 1, 6);
    expect_release(m, &o, 2100, -1, 7);
    expect_texts(&o, 6, "a100", NULL);
    hep_merge_stats_t st = merge_stats(m);
    ck_assert_uint_eq(st.waited, 1);
    ck_assert_uint_eq(st.hold_ns_max, 1000 * MS);
    ck_assert_int_eq(st.lag_ns, 0);
    ck_assert_uint_eq(st.lag_ns_max, 95 * MS); /* 100 in while 5 was the last out */
    hep_merge_free(m);
}
END_TEST

/* A probe that falls silent counts as active for wait_ms after its last message, then not;
 * when it comes back with something older than what went on, that is late. */
START_TEST(test_silent_probe)
{
    out_t o;
    hep_merge_t *m = new_warm_merge(&o, 0); /* 12 last heard at 600 */
    send_msg(m, 11, 100, 1100, "a100");
    expect_release(m, &o, 1599, 501, 4);
    expect_release(m, &o, 1600, -1, 5);
    send_msg(m, 11, 200, 1700, "a200"); /* 12 silent: on at once */
    ck_assert_uint_eq(o.n, 6);
    hep_merge_stats_t st = merge_stats(m);
    ck_assert_uint_eq(st.probes, 1);
    ck_assert_uint_eq(st.waited, 0);
    send_msg(m, 12, 150, 1800, "b150");
    ck_assert_uint_eq(o.n, 7);
    expect_texts(&o, 6, "b150", NULL);
    ck_assert_uint_eq(merge_stats(m).late, 1);
    hep_merge_free(m);
}
END_TEST

/* One probe alone: nothing waits once traffic runs, and it keeps its own order. */
START_TEST(test_single_probe_no_hold)
{
    out_t o;
    hep_merge_t *m = new_merge(&o, 1000, 0);
    send_msg(m, 7, 0, 0, "first");
    send_msg(m, 7, 1, 900, "second");
    expect_release(m, &o, 1000, -1, 2);
    for (int i = 2; i <= 50; i++)
        send_msg(m, 7, i, 1000 + i, "n");
    ck_assert_uint_eq(o.n, 51);
    hep_merge_stats_t st = merge_stats(m);
    ck_assert_uint_eq(st.held_total, 2); /* the start-up hold */
    ck_assert_uint_eq(st.held, 0);
    hep_merge_free(m);
}
END_TEST

/* When traffic starts, a probe starting a little after another still gets its turn. */
START_TEST(test_start_up_hold)
{
    out_t o;
    hep_merge_t *m = new_merge(&o, 1000, 0);
    send_msg(m, 11, 10, 0, "a10");
    send_msg(m, 11, 30, 1, "a30");
    send_msg(m, 12, 20, 300, "b20"); /* starts 300 ms after 11 */
    ck_assert_uint_eq(o.n, 0);
    expect_release(m, &o, 1001, -1, 3);
    expect_texts(&o, 0, "a10", "b20", "a30", NULL);
    hep_merge_free(m);
}
END_TEST

/* Equal capture times go in arrival order; a message two probes sent is the caller's business
 * (hep_in's duplicate filter), but its copy still moves the watermark (hep_merge_saw). */
START_TEST(test_ties_and_watermark_from_copy)
{
    out_t o;
    hep_merge_t *m = new_warm_merge(&o, 0);
    send_msg(m, 11, 100, 1010, "first");
    send_msg(m, 11, 100, 1011, "second");
    ck_assert_uint_eq(o.n, 4);
    net_addr_t from = loopback();
    hep_merge_saw(m, 12, &from, T0 + 100 * MS, W0 + 1012 * MS); /* 12's copy, dropped */
    expect_release(m, &o, 1012, -1, 6);
    expect_texts(&o, 4, "first", "second", NULL);
    hep_merge_free(m);
}
END_TEST

/* The hold is bounded: past max_held the earliest goes on (counted), in order. */
START_TEST(test_cap_overflow)
{
    out_t o;
    hep_merge_t *m = new_warm_merge(&o, 4);
    for (int i = 0; i < 10; i++)
        send_msg(m, 11, 100 + i, 1010 + i, "a");
    hep_merge_stats_t st = merge_stats(m);
    ck_assert_uint_eq(st.held, 4);
    ck_assert_uint_eq(st.overflow, 6);
    ck_assert_uint_eq(st.held_peak, 4);
    hep_merge_flush(m);
    ck_assert_uint_eq(o.n, 14);
    for (size_t i = 5; i < o.n; i++)
        ck_assert_int_ge(o.ts[i], o.ts[i - 1]);
    hep_merge_free(m);
}
END_TEST

/* wait 0: no merging, everything on as it comes (out of order counted as late). */
START_TEST(test_no_merge)
{
    out_t o;
    hep_merge_t *m = new_merge(&o, 0, 0);
    send_msg(m, 11, 100, 0, "a100");
    send_msg(m, 12, 50, 0, "b50");
    ck_assert_uint_eq(o.n, 2);
    ck_assert_int_eq(hep_merge_release(m, W0), -1);
    hep_merge_stats_t st = merge_stats(m);
    ck_assert_uint_eq(st.late, 1);
    ck_assert_uint_eq(st.held_total, 0);
    hep_merge_free(m);
}
END_TEST

/* Many probes, shuffled arrival: merged output is sorted. */
START_TEST(test_many_probes_sorted)
{
    out_t o;
    hep_merge_t *m = new_merge(&o, 1000, 0);
    for (uint32_t p = 0; p < 8; p++)
        send_msg(m, p, 0, 0, "z");
    /* probe p sends capture times p, p+8, p+16, ... but probes take turns in bursts */
    int64_t now = 400;
    for (int round = 0; round < 6; round++)
        for (uint32_t p = 0; p < 8; p++)
            for (int k = 0; k < 3; k++)
                send_msg(m, p, 1 + (int64_t)(round * 3 + k) * 8 + p, now++, "m");
    ck_assert_uint_eq(o.n, 0); /* the start-up hold */
    hep_merge_release(m, W0 + 1100 * MS);
    /* Out: the z's, and what no probe can precede any more: up to probe 0's last, 137. */
    ck_assert_uint_eq(o.n, 8 + 137);
    hep_merge_flush(m);
    ck_assert_uint_eq(o.n, 8 + 6 * 8 * 3);
    for (size_t i = 9; i < o.n; i++)
        ck_assert_int_gt(o.ts[i], o.ts[i - 1]);
    ck_assert_uint_eq(merge_stats(m).late, 0);
    hep_merge_free(m);
}
END_TEST

Suite *hep_merge_suite(void)
{
    Suite *s = suite_create("hep_merge");
    TCase *tc = tcase_create("merge");
    tcase_add_test(tc, test_watermarks_order_two_probes);
    tcase_add_test(tc, test_lagging_probe_bounded_wait);
    tcase_add_test(tc, test_silent_probe);
    tcase_add_test(tc, test_single_probe_no_hold);
    tcase_add_test(tc, test_start_up_hold);
    tcase_add_test(tc, test_ties_and_watermark_from_copy);
    tcase_add_test(tc, test_cap_overflow);
    tcase_add_test(tc, test_no_merge);
    tcase_add_test(tc, test_many_probes_sorted);
    suite_add_tcase(s, tc);
    return s;
}
