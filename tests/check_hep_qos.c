/* check_hep_qos: the JSON RTP quality report of HEP type 34: exact round trip, reports as other
 * agents write them (heplify-server's RTP agent keys), and hostile input. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hep_qos.h"
#include "rtp_figures.h"

static net_endpoint_t ep(const char *ip, uint16_t port)
{
    net_endpoint_t e;
    memset(&e, 0, sizeof(e));
    ck_assert(net_addr_parse(sv_from_cstr(ip), &e.addr));
    e.port = port;
    return e;
}

/* A report with every field set to something that could go wrong. */
static hep_qos_t sample(bool v6)
{
    hep_qos_t q;
    memset(&q, 0, sizeof(q));
    q.final = v6;
    /* A Call-ID word may hold '"', '\\', and we take any byte (control, 8-bit) back whole. */
    static const char id[] = "a\"b\\c/{}[]:%\x01\x7f\x80\xc3\xa9\xff@host";
    memcpy(q.call_id, id, sizeof(id) - 1);
    q.call_id_len = sizeof(id) - 1;
    q.src = v6 ? ep("2001:db8::5", 40000) : ep("192.0.2.10", 4000);
    q.dst = v6 ? ep("2001:db8::7", 65535) : ep("198.51.100.20", 1);
    q.ssrc = 0xdeadbeef;
    q.payload_type = 111;
    snprintf(q.codec, sizeof(q.codec), "opus");
    q.clock_rate = 48000;
    q.first_ns = 1705312800123456000LL;
    q.last_ns = 1705312861987654000LL;
    q.packets = 3001;
    q.lost = -2;
    q.duplicates = 5;
    q.out_of_order = 1;
    q.seq_errors = 2;
    q.max_delta_ms = 61.123456789012345;
    q.mean_jitter_ms = 1.0 / 3.0;
    q.max_jitter_ms = 9.75;
    q.mos = 4.3098765432101;
    q.party = v6 ? 1 : -1;
    q.sdp_mismatch = !v6;
    q.rtcp_rtt_ms = -1;
    if (v6) {
        q.have_rtcp = true;
        q.rtcp_fraction_lost = 17 / 256.0;
        q.rtcp_cumulative_lost = -3;
        q.rtcp_jitter_ms = 0.123456789;
        q.rtcp_rtt_ms = 12.5;
    }
    return q;
}

static void assert_same(const hep_qos_t *a, const hep_qos_t *b)
{
    ck_assert(a->final == b->final);
    ck_assert_uint_eq(a->call_id_len, b->call_id_len);
    ck_assert(memcmp(a->call_id, b->call_id, a->call_id_len) == 0);
    ck_assert(net_endpoint_eq(&a->src, &b->src));
    ck_assert(net_endpoint_eq(&a->dst, &b->dst));
    ck_assert_str_eq(a->codec, b->codec);
    ASSERT_RTP_FIGURES_EQ(a, b);
    ck_assert_int_eq(a->party, b->party);
    ck_assert(a->sdp_mismatch == b->sdp_mismatch);
    ck_assert(a->have_rtcp == b->have_rtcp);
    ASSERT_RTCP_FIGURES_EQ(a, b);
}

START_TEST(roundtrip_exact)
{
    hep_qos_t in = sample(_i == 1), out;
    char buf[HEP_QOS_MAX_LEN];
    int n = hep_qos_encode(&in, buf, sizeof(buf));
    ck_assert_int_gt(n, 0);
    ck_assert_uint_eq(strlen(buf), (size_t)n);
    const char *why = "unset";
    ck_assert_int_eq(hep_qos_parse((const uint8_t *)buf, (size_t)n, &out, &why), 0);
    ck_assert_ptr_null(why);
    assert_same(&in, &out);
    /* Homer's keys are there for heplify-server. */
    ck_assert_ptr_nonnull(strstr(buf, "\"CORRELATION_ID\":"));
    ck_assert_ptr_nonnull(strstr(buf, "\"TOTAL_PK\":3001"));
    ck_assert_ptr_nonnull(strstr(buf, "\"PACKET_LOSS\":-2"));
    ck_assert_ptr_nonnull(strstr(buf, "\"SSRC\":\"0xdeadbeef\""));
    ck_assert_ptr_nonnull(strstr(buf, _i == 1 ? "\"TYPE\":\"FINAL\"" : "\"TYPE\":\"PERIODIC\""));
}
END_TEST

/* A sample report: the stream's identity and one interval, exactly, without the cumulative
 * figures (a central must not take it for the stream's report). */
START_TEST(sample_roundtrip)
{
    hep_qos_t in = sample(_i == 1), out;
    in.sample = true;
    in.interval = (sample_record_t){.start_ns = 1705312805000000000LL,
                                    .packets = 250,
                                    .lost = -1,
                                    .jitter_ms = 1.0 / 7.0,
                                    .max_jitter_ms = 2.25,
                                    .mos = 4.123456789};
    char buf[HEP_QOS_MAX_LEN];
    int n = hep_qos_encode(&in, buf, sizeof(buf));
    ck_assert_int_gt(n, 0);
    ck_assert_ptr_nonnull(strstr(buf, "\"TYPE\":\"SAMPLE\""));
    ck_assert_ptr_null(strstr(buf, "TOTAL_PK"));
    const char *why = "unset";
    ck_assert_int_eq(hep_qos_parse((const uint8_t *)buf, (size_t)n, &out, &why), 0);
    ck_assert_ptr_null(why);
    ck_assert(out.sample && !out.final);
    ck_assert_uint_eq(out.call_id_len, in.call_id_len);
    ck_assert(memcmp(out.call_id, in.call_id, in.call_id_len) == 0);
    ck_assert(net_endpoint_eq(&out.src, &in.src));
    ck_assert(net_endpoint_eq(&out.dst, &in.dst));
    ck_assert_uint_eq(out.ssrc, in.ssrc);
    ck_assert_int_eq(out.interval.start_ns, in.interval.start_ns);
    ck_assert_uint_eq(out.interval.packets, 250);
    ck_assert_int_eq(out.interval.lost, -1);
    ck_assert(out.interval.jitter_ms == in.interval.jitter_ms);
    ck_assert(out.interval.max_jitter_ms == in.interval.max_jitter_ms);
    ck_assert(out.interval.mos == in.interval.mos);
    ck_assert_uint_eq(out.packets, 0);

    static const struct {
        const char *json, *why;
    } refused[] = {
        {"{\"CORRELATION_ID\":\"a\",\"TYPE\":\"SAMPLE\",\"SAMPLE_PK\":1}", "SAMPLE_START_US"},
        {"{\"CORRELATION_ID\":\"a\",\"TYPE\":\"SAMPLE\",\"SAMPLE_START_US\":1}", "SAMPLE_PK"},
        {"{\"CORRELATION_ID\":\"a\",\"TYPE\":\"SAMPLE\",\"SAMPLE_START_US\":1,\"SAMPLE_PK\":-1}",
         "fit"},
        {"{\"CORRELATION_ID\":\"a\",\"TYPE\":\"SAMPLE\",\"SAMPLE_START_US\":1,\"SAMPLE_PK\":1,"
         "\"SAMPLE_MOS\":6}",
         "fit"},
        {"{\"CORRELATION_ID\":\"a\",\"TYPE\":\"SAMPLE\",\"SAMPLE_START_US\":1,\"SAMPLE_PK\":1,"
         "\"SAMPLE_LOST\":2147483648}",
         "fit"},
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        why = NULL;
        ck_assert_int_eq(
            hep_qos_parse((const uint8_t *)refused[i].json, strlen(refused[i].json), &out, &why),
            -1);
        ck_assert_msg(why != NULL && strstr(why, refused[i].why) != NULL, "%s: %s", refused[i].json,
                      why);
    }
}
END_TEST

/* The longest Call-ID, every byte escaped, fits HEP_QOS_MAX_LEN; a buffer one short does not. */
START_TEST(worst_case_size)
{
    hep_qos_t in = sample(true), out;
    memset(in.call_id, 0x01, HEP_QOS_CALL_ID_MAX);
    in.call_id_len = HEP_QOS_CALL_ID_MAX;
    memset(in.codec, 'x', sizeof(in.codec) - 1);
    char buf[HEP_QOS_MAX_LEN];
    int n = hep_qos_encode(&in, buf, sizeof(buf));
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(hep_qos_parse((const uint8_t *)buf, (size_t)n, &out, NULL), 0);
    assert_same(&in, &out);
    char small[64];
    ck_assert_int_eq(hep_qos_encode(&in, small, sizeof(small)), -ENOSPC);
    ck_assert_int_eq(hep_qos_encode(&in, buf, (size_t)n), -ENOSPC); /* no room for the NUL */
}
END_TEST

/* A report as a RTP agent writes it (hepagent's periodic report), and a final report without
 * addresses or our extra keys (the HEP header's addresses are the stream's then). */
START_TEST(other_agents_reports)
{
    static const char periodic[] =
        "{\"CORRELATION_ID\":\"abc@h\",\"RTP_SIP_CALL_ID\":\"abc@h\",\"DELTA\":19.98,"
        "\"JITTER\":0.5,\"REPORT_TS\":1705312800,\"TL_BYTE\":160000,\"SKEW\":0.1,"
        "\"TOTAL_PK\":1000,\"EXPECTED_PK\":1004,\"PACKET_LOSS\":4,\"SEQ\":0,"
        "\"MAX_JITTER\":2.5,\"MAX_DELTA\":40.0,\"MAX_SKEW\":1.0,\"MEAN_JITTER\":0.75,"
        "\"MIN_MOS\":4.1,\"MEAN_MOS\":4.2,\"MOS\":4.3,\"RFACTOR\":90.1,\"SRC_IP\":\"10.0.0.1\","
        "\"SRC_PORT\":4000,\"DST_IP\":\"10.0.0.2\",\"DST_PORT\":5000,\"SRC_MAC\":\"00-00\","
        "\"OUT_ORDER\":3,\"SSRC\":\"12345\",\"SSRC_CHG\":0,\"CODEC_PT\":8,\"CLOCK\":8000,"
        "\"CODEC_NAME\":\"PCMA\",\"DIR\":0,\"REPORT_NAME\":\"x\",\"PARTY\":1,"
        "\"TYPE\":\"PERIODIC\", \"EXTRA\": {\"nested\": [1, {\"a\": \"}]\"}]}}";
    hep_qos_t q;
    const char *why = NULL;
    ck_assert_msg(hep_qos_parse((const uint8_t *)periodic, strlen(periodic), &q, &why) == 0, "%s",
                  why);
    ck_assert_str_eq(q.call_id, "abc@h");
    ck_assert(!q.final);
    ck_assert_uint_eq(q.packets, 1000);
    ck_assert_int_eq(q.lost, 4);
    ck_assert(q.mos == 4.3); /* MOS after MEAN_MOS: the last wins */
    ck_assert(q.mean_jitter_ms == 0.75);
    ck_assert(q.max_delta_ms == 40.0);
    ck_assert_uint_eq(q.ssrc, 12345);
    ck_assert_uint_eq(q.out_of_order, 3);
    ck_assert_int_eq(q.party, 1);
    ck_assert_str_eq(q.codec, "PCMA");
    ck_assert_int_eq(q.first_ns, 0);
    net_endpoint_t s = ep("10.0.0.1", 4000);
    ck_assert(net_endpoint_eq(&q.src, &s));

    static const char final[] =
        " {\"CORRELATION_ID\":\"abc@h\",\"TOTAL_BYTES\":1,\"TOTAL_PACKETS\":5000,"
        "\"TOTAL_EXPECTED_PK\":5010,\"TOTAL_PACKET_LOSS\":10,\"MEAN_JITTER\":1.5,"
        "\"MEAN_MOS\":3.5,\"SSRC\":\"0x0000abcd\",\"TYPE\":\"FINAL\"}\n";
    ck_assert_int_eq(hep_qos_parse((const uint8_t *) final, strlen(final), &q, &why), 0);
    ck_assert(q.final);
    ck_assert_uint_eq(q.packets, 5000);
    ck_assert_int_eq(q.lost, 10);
    ck_assert(q.mos == 3.5);
    ck_assert_uint_eq(q.ssrc, 0xabcd);
    ck_assert_int_eq(q.src.addr.family, 0);
    ck_assert_int_eq(q.party, -1);
}
END_TEST

static const struct {
    const char *json;
    const char *why; /* a word of the reason */
} bad[] = {
    {"", "object"},
    {"[]", "object"},
    {"{", "key"},
    {"{\"CORRELATION_ID\":\"a\",\"TOTAL_PK\":1", "expected"},
    {"{\"CORRELATION_ID\":}", "number"},
    {"{\"CORRELATION_ID\":\"abc", "unterminated"},
    {"{\"CORRELATION_ID\":\"a\\qb\",\"TOTAL_PK\":1}", "escape"},
    {"{\"CORRELATION_ID\":\"a\\u12G4\",\"TOTAL_PK\":1}", "escape"},
    {"{\"CORRELATION_ID\":\"a\nb\",\"TOTAL_PK\":1}", "control"},
    {"{\"TOTAL_PK\":1}", "Call-ID"},
    {"{\"CORRELATION_ID\":\"\",\"TOTAL_PK\":1}", "fit"},
    {"{\"CORRELATION_ID\":\"a\"}", "packet"},
    {"{\"CORRELATION_ID\":\"a\",\"TOTAL_PK\":-1}", "fit"},
    {"{\"CORRELATION_ID\":\"a\",\"TOTAL_PK\":1e999}", "number"},
    {"{\"CORRELATION_ID\":\"a\",\"TOTAL_PK\":1-2}", "number"},
    {"{\"CORRELATION_ID\":\"a\",\"TOTAL_PK\":12345678901234567890123456789012345678901}", "long"},
    {"{\"CORRELATION_ID\":\"a\",\"TOTAL_PK\":1,\"MOS\":7}", "fit"},
    {"{\"CORRELATION_ID\":\"a\",\"TOTAL_PK\":1,\"RTCP_FRACTION_LOST\":1.5}", "fit"},
    {"{\"CORRELATION_ID\":\"a\",\"TOTAL_PK\":1,\"RTCP_CUM_LOST\":8388608}", "fit"},
    {"{\"CORRELATION_ID\":\"a\",\"TOTAL_PK\":1,\"MOS\":\"4\"}", "fit"},
    {"{\"CORRELATION_ID\":\"a\",\"TOTAL_PK\":1,\"CODEC_PT\":128}", "fit"},
    {"{\"CORRELATION_ID\":\"a\",\"TOTAL_PK\":1,\"SSRC\":\"0x1ffffffff\"}", "fit"},
    {"{\"CORRELATION_ID\":\"a\",\"TOTAL_PK\":1,\"SRC_IP\":\"10.0.0.1\"}", "part"},
    {"{\"CORRELATION_ID\":\"a\",\"TOTAL_PK\":1,\"SRC_IP\":\"10.0.0.1\",\"SRC_PORT\":1,"
     "\"DST_IP\":\"::1\",\"DST_PORT\":2}",
     "famil"},
    {"{\"CORRELATION_ID\":\"a\",\"TOTAL_PK\":1,\"SRC_IP\":\"10.0.0.300\",\"SRC_PORT\":1,"
     "\"DST_IP\":\"10.0.0.2\",\"DST_PORT\":2}",
     "fit"},
    {"{\"CORRELATION_ID\":\"a\",\"TOTAL_PK\":1,\"SRC_PORT\":65536}", "fit"},
    {"{\"CORRELATION_ID\":\"a\",\"TOTAL_PK\":1} x", "after"},
    {"{\"CORRELATION_ID\":\"a\",\"TOTAL_PK\":1,\"X\":[[[[[[[[[1]]]]]]]]]}", "deep"},
    {"{\"CORRELATION_ID\":\"a\",\"TOTAL_PK\":1,\"X\":[{\"a\":1}}", "expected"},
    {"{\"CORRELATION_ID\":\"a\",\"TOTAL_PK\":1,\"X\":[{\"a\":1}", "unterminated"},
    {"{\"CORRELATION_ID\":\"a\",\"TOTAL_PK\":1,\"X\":tru}", "literal"},
    {"{\"CORRELATION_ID\":\"a\" \"TOTAL_PK\":1}", "expected"},
    {"{\"CORRELATION_ID\" \"a\",\"TOTAL_PK\":1}", "':'"},
    {"{1:2}", "key"},
};

START_TEST(hostile_input)
{
    hep_qos_t q;
    const char *why = NULL;
    const char *json = bad[_i].json;
    ck_assert_int_eq(hep_qos_parse((const uint8_t *)json, strlen(json), &q, &why), -1);
    ck_assert_ptr_nonnull(why);
    ck_assert_msg(strstr(why, bad[_i].why) != NULL, "case %d: reason \"%s\", expected \"%s\"", _i,
                  why, bad[_i].why);
}
END_TEST

/* Strings longer than their field, and a report over the size limit, are refused; a key too
 * long to be ours is skipped. */
START_TEST(hostile_lengths)
{
    static char buf[HEP_QOS_MAX_INPUT + 64];
    hep_qos_t q;
    const char *why = NULL;
    int n = snprintf(buf, sizeof(buf), "{\"CORRELATION_ID\":\"%0*d\",\"TOTAL_PK\":1}",
                     HEP_QOS_CALL_ID_MAX + 1, 0);
    ck_assert_int_eq(hep_qos_parse((const uint8_t *)buf, (size_t)n, &q, &why), -1);
    ck_assert_str_eq(why, "string too long");
    n = snprintf(buf, sizeof(buf),
                 "{\"CORRELATION_ID\":\"a\",\"TOTAL_PK\":1,\"CODEC_NAME\":\"%0*d\"}",
                 HEP_QOS_CODEC_MAX, 0);
    ck_assert_int_eq(hep_qos_parse((const uint8_t *)buf, (size_t)n, &q, &why), -1);
    n = snprintf(buf, sizeof(buf), "{\"%0*d\":1,\"CORRELATION_ID\":\"a\",\"TOTAL_PK\":1}", 5000, 0);
    ck_assert_int_eq(hep_qos_parse((const uint8_t *)buf, (size_t)n, &q, &why), 0);
    memset(buf, ' ', sizeof(buf));
    memcpy(buf, "{\"CORRELATION_ID\":\"a\",\"TOTAL_PK\":1}", 35);
    ck_assert_int_eq(hep_qos_parse((const uint8_t *)buf, HEP_QOS_MAX_INPUT, &q, &why), 0);
    ck_assert_int_eq(hep_qos_parse((const uint8_t *)buf, HEP_QOS_MAX_INPUT + 1, &q, &why), -1);
    ck_assert_str_eq(why, "report too long");
}
END_TEST

/* Every prefix of a valid report and every single-byte change of it: a clean answer, never a
 * read past the end (ASan: each input is its own exactly sized copy). */
START_TEST(every_prefix_and_flip)
{
    hep_qos_t in = sample(true), out;
    char buf[HEP_QOS_MAX_LEN];
    int n = hep_qos_encode(&in, buf, sizeof(buf));
    ck_assert_int_gt(n, 0);
    for (int len = 0; len < n; len++) {
        uint8_t *copy = malloc((size_t)len + 1);
        memcpy(copy, buf, (size_t)len);
        const char *why = NULL;
        ck_assert_int_eq(hep_qos_parse(copy, (size_t)len, &out, &why), -1);
        ck_assert_ptr_nonnull(why);
        free(copy);
    }
    for (int at = 0; at < n; at++) {
        uint8_t *copy = malloc((size_t)n);
        memcpy(copy, buf, (size_t)n);
        copy[at] ^= (uint8_t)(0x5a + at);
        const char *why = NULL;
        int rc = hep_qos_parse(copy, (size_t)n, &out, &why);
        ck_assert(rc == 0 ? why == NULL : (rc == -1 && why != NULL));
        free(copy);
    }
}
END_TEST

Suite *hep_qos_suite(void)
{
    Suite *s = suite_create("hep_qos");
    TCase *tc = tcase_create("roundtrip");
    tcase_add_loop_test(tc, roundtrip_exact, 0, 2);
    tcase_add_loop_test(tc, sample_roundtrip, 0, 2);
    tcase_add_test(tc, worst_case_size);
    tcase_add_test(tc, other_agents_reports);
    suite_add_tcase(s, tc);
    tc = tcase_create("hostile");
    tcase_add_loop_test(tc, hostile_input, 0, (int)(sizeof(bad) / sizeof(bad[0])));
    tcase_add_test(tc, hostile_lengths);
    tcase_add_test(tc, every_prefix_and_flip);
    suite_add_tcase(s, tc);
    return s;
}
