/* check_dtmf: decoders/dtmf.c: RFC 4733 telephone-event packets grouped into digits (built here
 * packet by packet: no public capture with DTMF is at hand), and SIP INFO DTMF bodies. */
#include <check.h>
#include <string.h>

#include "dtmf.h"

static uint8_t raw[16];
static rtp_hdr_t H;

/* The header of a telephone-event packet at RTP time ts. */
static const rtp_hdr_t *ev(uint32_t ts, uint8_t event, bool end, uint8_t volume, uint16_t dur)
{
    memset(raw, 0, sizeof(raw));
    raw[0] = 0x80;
    raw[1] = 101;
    raw[12] = event;
    raw[13] = (uint8_t)((end ? 0x80 : 0) | volume);
    raw[14] = (uint8_t)(dur >> 8);
    raw[15] = (uint8_t)dur;
    ck_assert_int_eq(rtp_parse(raw, sizeof(raw), &H), RTP_OK);
    H.timestamp = ts;
    return &H;
}

START_TEST(names)
{
    static const char *const want = "0123456789*#ABCD";
    for (uint8_t e = 0; e < 16; e++) {
        char s[2] = {want[e], '\0'};
        ck_assert_str_eq(dtmf_event_name(e), s);
    }
    ck_assert_str_eq(dtmf_event_name(16), "flash");
    ck_assert_ptr_null(dtmf_event_name(17));
    ck_assert_ptr_null(dtmf_event_name(255));
}
END_TEST

START_TEST(one_digit_with_retransmitted_end)
{
    dtmf_track_t t = {0};
    dtmf_event_t out;
    ck_assert(!dtmf_track_packet(&t, 100, ev(1000, 7, false, 10, 160), &out));
    ck_assert(!dtmf_track_packet(&t, 120, ev(1000, 7, false, 11, 320), &out));
    ck_assert(dtmf_track_packet(&t, 140, ev(1000, 7, true, 11, 480), &out));
    ck_assert_uint_eq(out.event, 7);
    ck_assert_int_eq(out.start_ns, 100);
    ck_assert_uint_eq(out.duration, 480);
    ck_assert_uint_eq(out.volume, 11);
    ck_assert(out.ended);
    ck_assert(!dtmf_track_packet(&t, 150, ev(1000, 7, true, 11, 480), &out));
    ck_assert(!dtmf_track_packet(&t, 160, ev(1000, 7, true, 11, 480), &out));
    ck_assert(!dtmf_track_flush(&t, &out));
}
END_TEST

START_TEST(lost_end_and_flush)
{
    dtmf_track_t t = {0};
    dtmf_event_t out;
    ck_assert(!dtmf_track_packet(&t, 100, ev(1000, 1, false, 5, 160), &out));
    /* The next digit starts: the first one is out, cut short. */
    ck_assert(dtmf_track_packet(&t, 500, ev(5000, 2, false, 5, 160), &out));
    ck_assert_uint_eq(out.event, 1);
    ck_assert(!out.ended);
    /* A next digit whose first packet is already its end: the previous comes out now, this one
     * at the next packet (or the flush). */
    ck_assert(dtmf_track_packet(&t, 900, ev(9000, 3, true, 5, 800), &out));
    ck_assert_uint_eq(out.event, 2);
    ck_assert(dtmf_track_flush(&t, &out));
    ck_assert_uint_eq(out.event, 3);
    ck_assert(out.ended);
    ck_assert_uint_eq(out.duration, 800);
    ck_assert(!dtmf_track_flush(&t, &out));
}
END_TEST

START_TEST(not_dtmf_and_short_payloads)
{
    dtmf_track_t t = {0};
    dtmf_event_t out;
    ck_assert(!dtmf_track_packet(&t, 100, ev(1000, 70, true, 5, 160), &out)); /* a tone */
    ck_assert(!dtmf_track_flush(&t, &out));
    rtp_hdr_t h = *ev(2000, 1, true, 5, 160);
    h.payload_len = 3;
    ck_assert(!dtmf_track_packet(&t, 200, &h, &out));
    ck_assert(!dtmf_track_flush(&t, &out));
}
END_TEST

static int info(const char *ct, const char *body, uint8_t *e, uint32_t *ms)
{
    return dtmf_info_parse(ct, strlen(ct), body, strlen(body), e, ms);
}

START_TEST(sip_info_bodies)
{
    uint8_t e;
    uint32_t ms;
    ck_assert_int_eq(info("application/dtmf-relay", "Signal=5\r\nDuration=160\r\n", &e, &ms),
                     DTMF_OK);
    ck_assert_uint_eq(e, 5);
    ck_assert_uint_eq(ms, 160);
    ck_assert_int_eq(info("Application/DTMF-Relay", "duration = 90\nsignal = #", &e, &ms), DTMF_OK);
    ck_assert_uint_eq(e, 11);
    ck_assert_uint_eq(ms, 90);
    ck_assert_int_eq(info("application/dtmf-relay", "Signal=10\r\n", &e, &ms), DTMF_OK);
    ck_assert_uint_eq(e, 10); /* '*' as a number */
    ck_assert_uint_eq(ms, 0);
    ck_assert_int_eq(info("application/dtmf-relay", "Signal=d", &e, &ms), DTMF_OK);
    ck_assert_uint_eq(e, 15);
    ck_assert_int_eq(info("application/dtmf", "7", &e, &ms), DTMF_OK);
    ck_assert_uint_eq(e, 7);
    ck_assert_int_eq(info("application/dtmf-relay", "Signal=flash", &e, &ms), DTMF_OK);
    ck_assert_uint_eq(e, 16);
    ck_assert_int_eq(info("application/dtmf-relay", "Duration=100", &e, &ms), DTMF_INVALID);
    ck_assert_int_eq(info("application/dtmf-relay", "Signal=55", &e, &ms), DTMF_INVALID);
    ck_assert_int_eq(info("application/dtmf-relay", "Signal=x", &e, &ms), DTMF_INVALID);
    ck_assert_int_eq(info("application/sdp", "Signal=5", &e, &ms), DTMF_INVALID);
    ck_assert_int_eq(info("application/dtmfx", "5", &e, &ms), DTMF_INVALID);
    ck_assert_int_eq(dtmf_info_parse("application/dtmf", 16, NULL, 0, &e, &ms), DTMF_INVALID);
}
END_TEST

Suite *dtmf_suite(void)
{
    Suite *s = suite_create("dtmf");
    TCase *tc = tcase_create("dtmf");
    tcase_add_test(tc, names);
    tcase_add_test(tc, one_digit_with_retransmitted_end);
    tcase_add_test(tc, lost_end_and_flush);
    tcase_add_test(tc, not_dtmf_and_short_payloads);
    tcase_add_test(tc, sip_info_bodies);
    suite_add_tcase(s, tc);
    return s;
}
