/* check_verdict: correlator/verdict.c: the verdict of a call and its reasons from call facts and
 * stream facts (the correlator's side is in check_corr). */
#include <check.h>
#include <jansson.h>
#include <string.h>

#include "sdp.h"
#include "verdict.h"

#define SEC 1000000000LL
#define T0  (1705312800LL * SEC)

static char buf[4096];
static json_t *reasons;

static void teardown(void)
{
    json_decref(reasons);
    reasons = NULL;
}

/* Decide, check that the reasons are a JSON array of complete objects, keep them. */
static verdict_t decide(const verdict_call_t *c, const verdict_acc_t *acc)
{
    verdict_t v = verdict_decide(c, acc, buf, sizeof(buf));
    json_decref(reasons);
    json_error_t err;
    reasons = json_loads(buf, 0, &err);
    ck_assert_msg(json_is_array(reasons), "not a JSON array (%s): %s", err.text, buf);
    size_t i;
    json_t *r;
    json_array_foreach (reasons, i, r) {
        static const char *const keys[] = {"code",   "text",  "stream",      "message",
                                           "figure", "value", "message_time"};
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
            ck_assert_msg(json_object_get(r, keys[k]) != NULL, "reason %zu lacks %s", i, keys[k]);
        ck_assert(json_is_null(json_object_get(r, "message")));
    }
    ck_assert_int_eq(json_array_size(reasons) == 0, v == VERDICT_GOOD);
    return v;
}

/* The reason with this code, or NULL. */
static json_t *reason(const char *code)
{
    size_t i;
    json_t *r;
    json_array_foreach (reasons, i, r) {
        if (strcmp(json_string_value(json_object_get(r, "code")), code) == 0)
            return r;
    }
    return NULL;
}

static net_endpoint_t ep(uint8_t last, uint16_t port)
{
    net_endpoint_t e = {.addr = {.family = 4, .bytes = {192, 0, 2, last}}, .port = port};
    return e;
}

static verdict_call_t answered(void)
{
    verdict_call_t c = {.state = CALL_COMPLETED,
                        .final_status = 200,
                        .final_ns = T0 + 2 * SEC,
                        .answer_ns = T0 + 2 * SEC,
                        .now_ns = T0 + 60 * SEC};
    return c;
}

/* A clean stream of n packets from side. */
static verdict_stream_t stream(int64_t id, int side, uint64_t n)
{
    verdict_stream_t s = {.id = id,
                          .side = side,
                          .src = ep(side == 0 ? 10 : 20, 4000),
                          .dst = ep(side == 0 ? 20 : 10, 4000),
                          .packets = n,
                          .audio_packets = n,
                          .expected = (int64_t)n,
                          .mean_jitter_ms = 2.0,
                          .mos = 4.3,
                          .rtt_ms = -1};
    return s;
}

static void add(verdict_acc_t *acc, verdict_stream_t s)
{
    verdict_acc_add(acc, &s);
}

START_TEST(good_call)
{
    verdict_call_t c = answered();
    verdict_acc_t acc = {0};
    add(&acc, stream(1, 0, 500));
    add(&acc, stream(2, 1, 490));
    ck_assert_int_eq(decide(&c, &acc), VERDICT_GOOD);
    ck_assert_str_eq(buf, "[]");
}
END_TEST

START_TEST(rejected_is_failed_with_its_final_response)
{
    verdict_call_t c = {.state = CALL_REJECTED, .final_status = 486, .final_ns = T0 + 3 * SEC};
    verdict_acc_t acc = {0};
    ck_assert_int_eq(decide(&c, &acc), VERDICT_FAILED);
    json_t *r = reason("rejected");
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(json_string_value(json_object_get(r, "figure")), "final_status");
    ck_assert(json_real_value(json_object_get(r, "value")) == 486);
    ck_assert(json_real_value(json_object_get(r, "message_time")) == 1705312803.0);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(r, "text")), "486 (busy)"));
}
END_TEST

START_TEST(cancelled_is_not_failed)
{
    verdict_call_t c = {.state = CALL_CANCELLED, .final_status = 487, .final_ns = T0 + SEC};
    verdict_acc_t acc = {0};
    ck_assert_int_eq(decide(&c, &acc), VERDICT_GOOD);
}
END_TEST

START_TEST(no_answer_failed_unless_in_progress)
{
    verdict_call_t c = {.state = CALL_RINGING};
    verdict_acc_t acc = {0};
    ck_assert_int_eq(decide(&c, &acc), VERDICT_FAILED);
    ck_assert_ptr_nonnull(reason("no_answer"));
    c.in_progress = true;
    ck_assert_int_eq(decide(&c, &acc), VERDICT_GOOD);
}
END_TEST

START_TEST(no_media_after_grace)
{
    verdict_call_t c = answered();
    verdict_acc_t acc = {0};
    ck_assert_int_eq(decide(&c, &acc), VERDICT_NO_MEDIA);
    ck_assert_ptr_nonnull(reason("no_media"));
    ck_assert_ptr_nonnull(reason("no_sdp"));
    /* In progress, answered 2 s ago: no media yet is no verdict yet; 10 s: no_media. */
    c.in_progress = true;
    c.state = CALL_IN_CALL;
    c.now_ns = c.answer_ns + 2 * SEC;
    ck_assert_int_eq(decide(&c, &acc), VERDICT_GOOD);
    c.now_ns = c.answer_ns + 10 * SEC;
    ck_assert_int_eq(decide(&c, &acc), VERDICT_NO_MEDIA);
}
END_TEST

START_TEST(one_way_by_sdp_direction)
{
    verdict_call_t c = answered();
    c.side[0].dir = SDP_DIR_SENDONLY;
    c.side[0].sdp_ns = T0;
    c.side[1].dir = SDP_DIR_RECVONLY;
    c.side[1].sdp_ns = T0 + 2 * SEC;
    verdict_acc_t acc = {0};
    add(&acc, stream(7, 0, 300));
    ck_assert_int_eq(decide(&c, &acc), VERDICT_ONE_WAY);
    json_t *r = reason("one_way");
    ck_assert_int_eq(json_integer_value(json_object_get(r, "stream")), 7);
    ck_assert(json_real_value(json_object_get(r, "value")) == 0);
    ck_assert_str_eq(json_string_value(json_object_get(r, "text")),
                     "The callee sent no RTP (the caller sent 300 packets)");
    r = reason("sdp_direction");
    ck_assert_ptr_nonnull(r);
    ck_assert(json_real_value(json_object_get(r, "message_time")) == 1705312802.0);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(r, "text")), "a=recvonly"));
}
END_TEST

START_TEST(one_way_never_good_whatever_the_mos)
{
    verdict_call_t c = answered();
    verdict_acc_t acc = {0};
    add(&acc, stream(1, 0, 1000));
    add(&acc, stream(2, 1, 40)); /* 4 %: below 1/20 */
    ck_assert_int_eq(decide(&c, &acc), VERDICT_ONE_WAY);
    ck_assert_ptr_nonnull(strstr(buf, "sent only 40 RTP packets"));
    /* The correlator's flag alone (sides unknown) is enough too. */
    verdict_acc_t none = {0};
    verdict_stream_t s = stream(3, -1, 100);
    verdict_acc_add(&none, &s);
    c.one_way = true;
    ck_assert_int_eq(decide(&c, &none), VERDICT_ONE_WAY);
}
END_TEST

START_TEST(comfort_noise_only_is_one_way)
{
    verdict_call_t c = answered();
    verdict_acc_t acc = {0};
    add(&acc, stream(1, 0, 500));
    verdict_stream_t cn = stream(2, 1, 60); /* 60 packets: not one-way by packets alone */
    cn.audio_packets = 0;
    cn.cn_packets = 60;
    verdict_acc_add(&acc, &cn);
    ck_assert_int_eq(decide(&c, &acc), VERDICT_ONE_WAY);
    json_t *r = reason("comfort_noise_only");
    ck_assert_int_eq(json_integer_value(json_object_get(r, "stream")), 2);
    ck_assert(json_real_value(json_object_get(r, "value")) == 60);
}
END_TEST

START_TEST(one_way_nat_and_rtcp_evidence)
{
    verdict_call_t c = answered();
    c.side[1].nat_ns = T0 + 2 * SEC;
    c.side[1].nat_private = (net_addr_t){.family = 4, .bytes = {10, 0, 0, 5}};
    c.side[1].nat_public = (net_addr_t){.family = 4, .bytes = {203, 0, 113, 5}};
    c.side[0].rtcp_empty_ns = T0 + 10 * SEC; /* the caller received nothing */
    verdict_acc_t acc = {0};
    verdict_stream_t s = stream(5, 0, 400);
    s.dst_unannounced = true;
    verdict_acc_add(&acc, &s);
    verdict_stream_t m = stream(6, 1, 10);
    m.sdp_mismatch = true;
    m.src = ep(99, 4002);
    m.announced = ep(98, 4000);
    verdict_acc_add(&acc, &m);
    ck_assert_int_eq(decide(&c, &acc), VERDICT_ONE_WAY);
    ck_assert_str_eq(json_string_value(json_object_get(reason("nat_source_mismatch"), "text")),
                     "RTP from 192.0.2.99:4002 but the SDP announced 192.0.2.98:4000 (NAT: the far "
                     "end may send to the announced address, which does not reach it)");
    ck_assert_int_eq(json_integer_value(json_object_get(reason("nat_source_mismatch"), "stream")),
                     6);
    ck_assert_ptr_nonnull(
        strstr(json_string_value(json_object_get(reason("nat_private_sdp"), "text")),
               "private address 10.0.0.5 in a message from 203.0.113.5"));
    ck_assert_int_eq(json_integer_value(json_object_get(reason("rtp_to_unannounced"), "stream")),
                     5);
    ck_assert_ptr_nonnull(
        strstr(json_string_value(json_object_get(reason("rtcp_received_nothing"), "text")),
               "The caller's RTCP carries no reception report"));
}
END_TEST

START_TEST(media_moved_by_reinvite)
{
    verdict_call_t c = answered();
    c.side[1].moved_ns = T0 + 20 * SEC;
    c.side[1].moved_from = ep(20, 4000);
    c.side[1].moved_to = ep(21, 5000);
    verdict_acc_t acc = {0};
    verdict_stream_t s = stream(3, 0, 900);
    s.to_moved_from = true; /* still to the old address after the move */
    verdict_acc_add(&acc, &s);
    ck_assert_int_eq(decide(&c, &acc), VERDICT_ONE_WAY);
    json_t *r = reason("media_moved");
    ck_assert_int_eq(json_integer_value(json_object_get(r, "stream")), 3);
    ck_assert(json_real_value(json_object_get(r, "message_time")) == 1705312820.0);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(r, "text")),
                                 "from 192.0.2.20:4000 to 192.0.2.21:5000"));
    /* RTP that did go to the new address: no such reason. */
    s.to_moved_from = false;
    s.to_moved = true;
    verdict_acc_t ok = {0};
    verdict_acc_add(&ok, &s);
    decide(&c, &ok);
    ck_assert_ptr_null(reason("media_moved"));
}
END_TEST

START_TEST(quality_levels_and_worst_stream)
{
    verdict_call_t c = answered();
    verdict_acc_t acc = {0};
    verdict_stream_t a = stream(1, 0, 500), b = stream(2, 1, 500);
    a.lost = 30; /* 6 %: poor */
    a.expected = 500;
    b.mos = 3.4; /* degraded */
    b.have_rtcp = true;
    b.rtcp_fraction_lost = 0.02; /* far end: 2 %, degraded: worse than the 0 % seen here */
    verdict_acc_add(&acc, &a);
    verdict_acc_add(&acc, &b);
    ck_assert_int_eq(decide(&c, &acc), VERDICT_POOR);
    json_t *loss = reason("packet_loss");
    ck_assert_int_eq(json_integer_value(json_object_get(loss, "stream")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(loss, "figure")), "lost_pct");
    ck_assert(json_real_value(json_object_get(loss, "value")) == 6.0);
    ck_assert_int_eq(json_integer_value(json_object_get(reason("low_mos"), "stream")), 2);
    /* The far end's 2 % is no worse a level than the 6 % seen here: not repeated. */
    ck_assert_ptr_null(reason("far_end_loss"));
    /* A 5-packet stream's figures say nothing. */
    verdict_acc_t tiny = {0};
    verdict_stream_t t = stream(3, 0, 5), u = stream(4, 1, 5);
    t.mos = 1.0;
    t.lost = 3;
    verdict_acc_add(&tiny, &t);
    verdict_acc_add(&tiny, &u);
    ck_assert_int_eq(decide(&c, &tiny), VERDICT_GOOD);
}
END_TEST

START_TEST(far_end_loss_when_none_seen_here)
{
    verdict_call_t c = answered();
    verdict_acc_t acc = {0};
    verdict_stream_t a = stream(1, 0, 500), b = stream(2, 1, 500);
    a.have_rtcp = true;
    a.rtcp_fraction_lost = 0.08;
    a.mean_jitter_ms = 35;
    verdict_acc_add(&acc, &a);
    verdict_acc_add(&acc, &b);
    ck_assert_int_eq(decide(&c, &acc), VERDICT_POOR);
    ck_assert_str_eq(json_string_value(json_object_get(reason("far_end_loss"), "figure")),
                     "rtcp_lost_pct");
    ck_assert_ptr_nonnull(reason("jitter"));
}
END_TEST

START_TEST(small_buffer_stays_valid_json)
{
    verdict_call_t c = answered();
    c.side[1].dir = SDP_DIR_RECVONLY;
    verdict_acc_t acc = {0};
    add(&acc, stream(1, 0, 100));
    char small[200];
    for (size_t cap = 0; cap <= sizeof(small); cap += 7) {
        memset(small, 'x', sizeof(small));
        verdict_t v = verdict_decide(&c, &acc, small, cap);
        ck_assert_int_eq(v, cap < 3 ? VERDICT_GOOD : VERDICT_ONE_WAY);
        if (cap == 0)
            continue;
        ck_assert_uint_lt(strlen(small), cap);
        if (cap >= 3) {
            json_t *a = json_loads(small, 0, NULL);
            ck_assert_msg(json_is_array(a), "cap %zu: %s", cap, small);
            json_decref(a);
        }
    }
}
END_TEST

START_TEST(text_is_escaped)
{
    /* IPv6 endpoints and every text go through the escaper: still JSON. */
    verdict_call_t c = answered();
    verdict_acc_t acc = {0};
    verdict_stream_t s = stream(1, 0, 100);
    s.sdp_mismatch = true;
    s.src = (net_endpoint_t){.addr = {.family = 6, .bytes = {0x20, 0x01, 0x0d, 0xb8, [15] = 1}},
                             .port = 9};
    verdict_acc_add(&acc, &s);
    ck_assert_int_eq(decide(&c, &acc), VERDICT_ONE_WAY);
    ck_assert_ptr_nonnull(
        strstr(json_string_value(json_object_get(reason("nat_source_mismatch"), "text")),
               "[2001:db8::1]:9"));
}
END_TEST

START_TEST(names_and_severity)
{
    for (int v = 0; v < VERDICT_COUNT; v++) {
        verdict_t back;
        ck_assert(verdict_parse(verdict_name((verdict_t)v), &back));
        ck_assert_int_eq(back, v);
    }
    verdict_t out;
    ck_assert(!verdict_parse("bad", &out));
    ck_assert_int_gt(verdict_severity(VERDICT_ONE_WAY), verdict_severity(VERDICT_NO_MEDIA));
    ck_assert_int_gt(verdict_severity(VERDICT_NO_MEDIA), verdict_severity(VERDICT_POOR));
    ck_assert_int_gt(verdict_severity(VERDICT_POOR), verdict_severity(VERDICT_DEGRADED));
    ck_assert_int_gt(verdict_severity(VERDICT_DEGRADED), verdict_severity(VERDICT_FAILED));
    ck_assert_int_gt(verdict_severity(VERDICT_FAILED), verdict_severity(VERDICT_GOOD));
}
END_TEST

Suite *verdict_suite(void)
{
    Suite *s = suite_create("verdict");
    TCase *tc = tcase_create("verdict");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, good_call);
    tcase_add_test(tc, rejected_is_failed_with_its_final_response);
    tcase_add_test(tc, cancelled_is_not_failed);
    tcase_add_test(tc, no_answer_failed_unless_in_progress);
    tcase_add_test(tc, no_media_after_grace);
    tcase_add_test(tc, one_way_by_sdp_direction);
    tcase_add_test(tc, one_way_never_good_whatever_the_mos);
    tcase_add_test(tc, comfort_noise_only_is_one_way);
    tcase_add_test(tc, one_way_nat_and_rtcp_evidence);
    tcase_add_test(tc, media_moved_by_reinvite);
    tcase_add_test(tc, quality_levels_and_worst_stream);
    tcase_add_test(tc, far_end_loss_when_none_seen_here);
    tcase_add_test(tc, small_buffer_stays_valid_json);
    tcase_add_test(tc, text_is_escaped);
    tcase_add_test(tc, names_and_severity);
    suite_add_tcase(s, tc);
    return s;
}
