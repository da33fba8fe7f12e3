/* check_rtpstat: per-stream RTP statistics against synthetic streams, tshark 4.0 and simcalls. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mos.h"
#include "rtpstat.h"
#include "skip.h"
#include "testdata.h"

#define MS         1000000LL
#define T0         1700000000000000000LL /* 2023-11-14 22:13:20 UTC, a multiple of 5 s */
#define TSHARK_TOL 0.0011                /* ms: tshark prints 3 decimals */

/* ---------------------------------------------------------------------------------------------
 * Synthetic streams: rtp_hdr_t built directly (decoders/rtp.c is not needed here).
 */

static rtp_hdr_t hdr(uint16_t seq, uint32_t ts, uint8_t pt, bool marker)
{
    rtp_hdr_t h;
    memset(&h, 0, sizeof(h));
    h.version = 2;
    h.marker = marker;
    h.payload_type = pt;
    h.seq = seq;
    h.timestamp = ts;
    h.ssrc = 0x1234;
    return h;
}

/* Feed n packets of a 20 ms PCMU stream, packet i has seq seq0+i, ts ts0+160i, arrives at
 * T0 + 20i ms + extra_ms[i]; the packets are fed in the order given by order[] (NULL: in order). */
static void feed_pcmu(rtpstat_t *st, int n, uint16_t seq0, uint32_t ts0, const double *extra_ms,
                      const int *order)
{
    for (int k = 0; k < n; k++) {
        int i = order != NULL ? order[k] : k;
        rtp_hdr_t h = hdr((uint16_t)(seq0 + i), ts0 + 160u * (uint32_t)i, 0, i == 0);
        int64_t t = T0 + i * 20 * MS + (extra_ms != NULL ? (int64_t)llround(extra_ms[i] * MS) : 0);
        rtpstat_add(st, t, &h, false);
    }
}

START_TEST(test_perfect_stream)
{
    rtpstat_t st;
    rtpstat_result_t r;
    rtpstat_init(&st, 8000, "PCMU");
    feed_pcmu(&st, 500, 1000, 12345, NULL, NULL);
    rtpstat_result(&st, &r);
    ck_assert_uint_eq(r.packets, 500);
    ck_assert_int_eq(r.expected, 500);
    ck_assert_int_eq(r.lost, 0);
    ck_assert_uint_eq(r.duplicates, 0);
    ck_assert_uint_eq(r.out_of_order, 0);
    ck_assert_uint_eq(r.seq_errors, 0);
    ck_assert_double_eq(r.max_jitter_ms, 0.0);
    ck_assert_double_eq(r.mean_jitter_ms, 0.0);
    ck_assert_double_eq(r.last_jitter_ms, 0.0);
    ck_assert_double_eq(r.max_delta_ms, 20.0);
    ck_assert_int_eq(r.first_ns, T0);
    ck_assert_int_eq(r.last_ns, T0 + 499 * 20 * MS);
    ck_assert_double_eq(r.loss_ratio, 0.0);
    ck_assert_double_eq_tol(r.r_factor, 93.2, 1e-9);
    ck_assert_double_eq_tol(r.mos, 4.409, 0.001);
    ck_assert_double_eq_tol(r.mos_adaptive, r.mos, 1e-12);
}
END_TEST

START_TEST(test_gap_is_lost)
{
    rtpstat_t st;
    rtpstat_result_t r;
    rtpstat_init(&st, 8000, "PCMA");
    for (int i = 0; i < 100; i++) {
        if (i >= 40 && i < 43) /* seq 140..142 never arrive */
            continue;
        rtp_hdr_t h = hdr((uint16_t)(100 + i), (uint32_t)(160 * i), 8, i == 0);
        rtpstat_add(&st, T0 + i * 20 * MS, &h, false);
    }
    rtpstat_result(&st, &r);
    ck_assert_uint_eq(r.packets, 97);
    ck_assert_int_eq(r.lost, 3);
    ck_assert_uint_eq(r.seq_errors, 1);
    ck_assert_uint_eq(r.out_of_order, 0);
    ck_assert_double_eq(r.max_delta_ms, 80.0); /* the gap */
    ck_assert_double_eq(r.max_jitter_ms, 0.0); /* timestamps advance with time */
    ck_assert_double_eq_tol(r.loss_ratio, 0.03, 1e-12);
    ck_assert_double_gt(r.burst_ratio, 1.0); /* one burst of three: not random */
    ck_assert_double_lt(r.mos, 4.2);
}
END_TEST

START_TEST(test_duplicates_make_lost_negative)
{
    rtpstat_t st;
    rtpstat_result_t r;
    rtpstat_init(&st, 8000, "PCMU");
    for (int i = 0; i < 50; i++) {
        rtp_hdr_t h = hdr((uint16_t)(7 + i), (uint32_t)(160 * i), 0, i == 0);
        rtpstat_add(&st, T0 + i * 20 * MS, &h, false);
        if (i % 10 == 5) /* a copy 1 ms later */
            rtpstat_add(&st, T0 + i * 20 * MS + MS, &h, false);
    }
    rtpstat_result(&st, &r);
    ck_assert_uint_eq(r.packets, 55);
    ck_assert_int_eq(r.expected, 50);
    ck_assert_int_eq(r.lost, -5);
    ck_assert_uint_eq(r.duplicates, 5);
    ck_assert_uint_eq(r.out_of_order, 0);
    ck_assert_uint_eq(r.seq_errors, 5);
    ck_assert_double_eq(r.loss_ratio, 0.0); /* a duplicate is not played twice */
}
END_TEST

START_TEST(test_reorder)
{
    /* Packets 10 and 11 swap arrival, and 30 arrives after 33 (60 ms late). */
    int order[60];
    for (int i = 0; i < 60; i++)
        order[i] = i;
    order[10] = 11, order[11] = 10;
    order[30] = 31, order[31] = 32, order[32] = 33, order[33] = 30;
    double extra[60] = {0};
    extra[10] = 21.0; /* arrives 1 ms after 11 */
    extra[30] = 61.0;
    rtpstat_t st;
    rtpstat_result_t r;
    rtpstat_init(&st, 8000, "PCMU");
    feed_pcmu(&st, 60, 500, 0, extra, order);
    rtpstat_result(&st, &r);
    ck_assert_uint_eq(r.packets, 60);
    ck_assert_int_eq(r.lost, 0);
    ck_assert_uint_eq(r.duplicates, 0);
    ck_assert_uint_eq(r.out_of_order, 2);
    ck_assert_uint_eq(r.seq_errors, 4); /* two gaps, two late packets, as Wireshark counts */
    ck_assert_double_gt(r.max_jitter_ms, 0.0);
    /* the 61 ms late packet is discarded by the 50 ms buffer, the 21 ms one is not */
    ck_assert_uint_eq(r.late_fixed, 1);
    ck_assert_double_eq_tol(r.loss_ratio, 1.0 / 60.0, 1e-12);
}
END_TEST

START_TEST(test_sequence_wrap)
{
    rtpstat_t st;
    rtpstat_result_t r;
    rtpstat_init(&st, 8000, "PCMU");
    feed_pcmu(&st, 300, 65400, 0, NULL, NULL); /* 65400 .. 65535, 0 .. 163 */
    rtpstat_result(&st, &r);
    ck_assert_int_eq(r.expected, 300);
    ck_assert_int_eq(r.lost, 0);
    ck_assert_uint_eq(r.seq_errors, 0);

    /* Reordered across the wrap: 65535 arrives after 0. tshark 4.0 counts a second cycle here
     * and reports 65536 lost; RFC 3550 A.1 does not. */
    int order[20];
    for (int i = 0; i < 20; i++)
        order[i] = i;
    order[5] = 6, order[6] = 5; /* seq0 + 5 = 65535 */
    double extra[20] = {0};
    extra[5] = 21.0;
    rtpstat_init(&st, 8000, "PCMU");
    feed_pcmu(&st, 20, 65530, 0, extra, order);
    rtpstat_result(&st, &r);
    ck_assert_int_eq(r.lost, 0);
    ck_assert_uint_eq(r.out_of_order, 1);
}
END_TEST

START_TEST(test_large_jump_and_restart)
{
    rtpstat_t st;
    rtpstat_result_t r;
    /* A forward jump of 1000: counted as loss (as Wireshark does), one sequence error. */
    rtpstat_init(&st, 8000, "PCMU");
    for (int i = 0; i < 40; i++) {
        uint16_t seq = (uint16_t)(i < 20 ? 100 + i : 1100 + i);
        rtp_hdr_t h = hdr(seq, (uint32_t)(160 * i), 0, i == 0);
        rtpstat_add(&st, T0 + i * 20 * MS, &h, false);
    }
    rtpstat_result(&st, &r);
    ck_assert_int_eq(r.lost, 1000);
    ck_assert_uint_eq(r.seq_errors, 1);

    /* The sender restarts its sequence 30000 lower (RFC 3550 A.1): two sequential packets far
     * behind start a new segment; nothing is lost (tshark 4.0 reports a large negative loss). */
    rtpstat_init(&st, 8000, "PCMU");
    for (int i = 0; i < 40; i++) {
        uint16_t seq = (uint16_t)(i < 20 ? 40000 + i : 10000 + i);
        rtp_hdr_t h = hdr(seq, (uint32_t)(160 * i), 0, i == 0);
        rtpstat_add(&st, T0 + i * 20 * MS, &h, false);
    }
    rtpstat_result(&st, &r);
    ck_assert_uint_eq(r.packets, 40);
    ck_assert_int_eq(r.expected, 40);
    ck_assert_int_eq(r.lost, 0);
    ck_assert_uint_eq(r.out_of_order, 0);
    ck_assert_uint_eq(r.seq_errors, 1);
    ck_assert_double_eq(r.loss_ratio, 0.0);

    /* Single stray packets far behind or far ahead: out of order, not a restart, no loss. */
    rtpstat_init(&st, 8000, "PCMU");
    for (int i = 0; i < 40; i++) {
        uint16_t seq = (uint16_t)(i == 20 ? 30000 : i == 30 ? 50000 : 40000 + i);
        rtp_hdr_t h = hdr(seq, (uint32_t)(160 * i), 0, i == 0);
        rtpstat_add(&st, T0 + i * 20 * MS, &h, false);
    }
    rtpstat_result(&st, &r);
    ck_assert_int_eq(r.expected, 40);
    ck_assert_int_eq(r.lost, 0); /* 40020 and 40030 missing, the strays counted as received */
    ck_assert_uint_eq(r.out_of_order, 2);

    /* A jump of 5000 confirmed by the next packet is loss, as in Wireshark. */
    rtpstat_init(&st, 8000, "PCMU");
    for (int i = 0; i < 40; i++) {
        uint16_t seq = (uint16_t)(i < 20 ? 100 + i : 5100 + i);
        rtp_hdr_t h = hdr(seq, (uint32_t)(160 * i), 0, i == 0);
        rtpstat_add(&st, T0 + i * 20 * MS, &h, false);
    }
    rtpstat_result(&st, &r);
    ck_assert_int_eq(r.lost, 5000);
    ck_assert_uint_eq(r.out_of_order, 0);
    ck_assert_uint_eq(r.seq_errors, 1);
    ck_assert_double_eq_tol(r.loss_ratio, 5000.0 / 5040.0, 1e-12);
}
END_TEST

START_TEST(test_first_packet_reordered)
{
    /* seq 1001 arrives before 1000: the segment starts at 1000 (tshark 4.0: lost -1). */
    rtpstat_t st;
    rtpstat_result_t r;
    int order[10] = {1, 0, 2, 3, 4, 5, 6, 7, 8, 9};
    double extra[10] = {25.0};
    rtpstat_init(&st, 8000, "PCMU");
    feed_pcmu(&st, 10, 1000, 0, extra, order);
    rtpstat_result(&st, &r);
    ck_assert_int_eq(r.expected, 10);
    ck_assert_int_eq(r.lost, 0);
    ck_assert_uint_eq(r.out_of_order, 1);
}
END_TEST

START_TEST(test_ssrc_is_the_callers)
{
    /* Two SSRCs interleaved on one 5-tuple: the caller keys streams by SSRC, one rtpstat_t each;
     * both are then perfect. */
    rtpstat_t a, b;
    rtpstat_result_t ra, rb;
    rtpstat_init(&a, 8000, "PCMU");
    rtpstat_init(&b, 8000, "PCMU");
    for (int i = 0; i < 100; i++) {
        rtp_hdr_t ha = hdr((uint16_t)(10 + i), (uint32_t)(160 * i), 0, i == 0);
        rtp_hdr_t hb = hdr((uint16_t)(50000 + i), 999u + (uint32_t)(160 * i), 0, i == 0);
        hb.ssrc = 0xabcd;
        rtpstat_t *sa = ha.ssrc == 0x1234 ? &a : &b, *sb = hb.ssrc == 0x1234 ? &a : &b;
        rtpstat_add(sa, T0 + i * 20 * MS, &ha, false);
        rtpstat_add(sb, T0 + i * 20 * MS + 7 * MS, &hb, false);
    }
    rtpstat_result(&a, &ra);
    rtpstat_result(&b, &rb);
    ck_assert_int_eq(ra.lost, 0);
    ck_assert_int_eq(rb.lost, 0);
    ck_assert_double_eq(ra.max_jitter_ms, 0.0);
    ck_assert_double_eq(rb.max_jitter_ms, 0.0);
    ck_assert_uint_eq(ra.packets + rb.packets, 200);
}
END_TEST

START_TEST(test_timestamp_wrap)
{
    rtpstat_t st;
    rtpstat_result_t r;
    rtpstat_init(&st, 8000, "PCMU");
    feed_pcmu(&st, 200, 1, 0xffffe000u, NULL, NULL); /* wraps after 51 packets */
    rtpstat_result(&st, &r);
    ck_assert_int_eq(r.lost, 0);
    ck_assert_double_eq(r.max_jitter_ms, 0.0);
    ck_assert_double_eq(r.last_jitter_ms, 0.0);
    ck_assert_double_eq(r.max_delta_ms, 20.0);
    ck_assert_uint_eq(r.late_fixed, 0);
}
END_TEST

START_TEST(test_jitter_exact)
{
    /* Arrival offsets cycle through 0, 3.1, 0.7, 5.003 ms; the reference recursions below are
     * RFC 3550 A.8 (all packets) and Wireshark's (max over packets 2..N, mean over them). */
    static const double off[4] = {0.0, 3.1, 0.7, 5.003};
    double extra[400];
    for (int i = 0; i < 400; i++)
        extra[i] = off[i % 4];
    rtpstat_t st;
    rtpstat_result_t r;
    rtpstat_init(&st, 8000, "PCMU");
    feed_pcmu(&st, 400, 3, 0, extra, NULL);
    rtpstat_result(&st, &r);
    double j = 0, jmax = 0, sum = 0, dmax = 0;
    for (int i = 1; i < 400; i++) {
        double d = fabs(extra[i] - extra[i - 1]);
        dmax = 20.0 + extra[i] - extra[i - 1] > dmax ? 20.0 + extra[i] - extra[i - 1] : dmax;
        j += (d - j) / 16.0;
        jmax = j > jmax ? j : jmax;
        sum += j;
    }
    ck_assert_double_eq_tol(r.last_jitter_ms, j, 1e-9);
    ck_assert_double_eq_tol(r.rfc_max_jitter_ms, jmax, 1e-9);
    ck_assert_double_eq_tol(r.max_jitter_ms, jmax, 1e-9);
    ck_assert_double_eq_tol(r.mean_jitter_ms, sum / 399.0, 1e-9);
    ck_assert_double_eq_tol(r.max_delta_ms, dmax, 1e-9);
}
END_TEST

/* A 48 kHz clock (Opus): 960 ticks per 20 ms; exact integer arithmetic keeps jitter at 0. */
START_TEST(test_jitter_opus_clock)
{
    rtpstat_t st;
    rtpstat_result_t r;
    rtpstat_init(&st, 48000, "opus");
    for (int i = 0; i < 3000; i++) {
        rtp_hdr_t h = hdr((uint16_t)i, 4000000000u + 960u * (uint32_t)i, 111, i == 0);
        rtpstat_add(&st, T0 + i * 20 * MS, &h, false);
    }
    rtpstat_result(&st, &r);
    ck_assert_double_eq(r.max_jitter_ms, 0.0);
    ck_assert_double_eq(r.last_jitter_ms, 0.0);
    ck_assert_int_eq(r.lost, 0);
}
END_TEST

START_TEST(test_unknown_clock)
{
    /* Dynamic PT without a known clock: jitter 0 (as tshark), delta still measured. */
    rtpstat_t st;
    rtpstat_result_t r;
    rtpstat_init(&st, 0, NULL);
    for (int i = 0; i < 50; i++) {
        rtp_hdr_t h = hdr((uint16_t)i, 960u * (uint32_t)i, 111, i == 0);
        rtpstat_add(&st, T0 + i * 20 * MS + (i % 3) * 4 * MS, &h, false);
    }
    rtpstat_result(&st, &r);
    ck_assert_double_eq(r.max_jitter_ms, 0.0);
    ck_assert_double_eq(r.mean_jitter_ms, 0.0);
    ck_assert_double_eq(r.last_jitter_ms, 0.0);
    ck_assert_double_eq(r.max_delta_ms, 24.0);
    ck_assert_double_eq_tol(r.mos, 4.409, 0.001); /* no loss, unknown codec: G.711 values */
}
END_TEST

START_TEST(test_telephone_events)
{
    /* 20 PCMU packets, a DTMF digit as 5 RFC 4733 packets 50 ms apart (timestamp fixed at the
     * event start, marker on the first), then 20 PCMU packets with the timestamp advanced by the
     * 240 ms that passed. The stream is perfectly timed. tshark 4.0.17 prints for it (pcap made
     * with the same numbers): 45 packets, lost 0, max delta 50.000, max jitter 13.750, mean
     * jitter 3.625, because its arrival reference moves to the last event packet while its
     * timestamp reference stays on the last PCMU packet. The RFC jitter stays 0. */
    rtpstat_t st;
    rtpstat_result_t r;
    rtpstat_init(&st, 8000, "PCMU");
    for (int i = 0; i < 20; i++) {
        rtp_hdr_t h = hdr((uint16_t)(1 + i), 1000u + 160u * (uint32_t)i, 0, i == 0);
        rtpstat_add(&st, T0 + i * 20 * MS, &h, false);
    }
    for (int j = 0; j < 5; j++) {
        rtp_hdr_t h = hdr((uint16_t)(21 + j), 1000u + 20u * 160u, 101, j == 0);
        rtpstat_add(&st, T0 + 400 * MS + j * 50 * MS, &h, true);
    }
    for (int k = 0; k < 20; k++) {
        rtp_hdr_t h = hdr((uint16_t)(26 + k), 1000u + (32u + (uint32_t)k) * 160u, 0, false);
        rtpstat_add(&st, T0 + 640 * MS + k * 20 * MS, &h, false);
    }
    rtpstat_result(&st, &r);
    ck_assert_uint_eq(r.packets, 45);
    ck_assert_int_eq(r.lost, 0);
    ck_assert_double_eq_tol(r.max_delta_ms, 50.0, TSHARK_TOL);
    ck_assert_double_eq_tol(r.max_jitter_ms, 13.750, TSHARK_TOL);
    ck_assert_double_eq_tol(r.mean_jitter_ms, 3.625, TSHARK_TOL);
    ck_assert_double_eq(r.last_jitter_ms, 0.0);
    ck_assert_double_eq(r.rfc_max_jitter_ms, 0.0);
    ck_assert_uint_eq(r.late_fixed, 0);

    /* A stream of events only has no jitter samples. */
    rtpstat_init(&st, 8000, NULL);
    for (int j = 0; j < 12; j++) {
        rtp_hdr_t h = hdr((uint16_t)(300 + j), 5000u, 101, j == 0);
        rtpstat_add(&st, T0 + j * 50 * MS + (j % 2) * 9 * MS, &h, true);
    }
    rtpstat_result(&st, &r);
    ck_assert_uint_eq(r.packets, 12);
    ck_assert_double_eq(r.max_jitter_ms, 0.0);
    ck_assert_double_eq(r.last_jitter_ms, 0.0);
    ck_assert_double_eq(r.max_delta_ms, 59.0);
}
END_TEST

START_TEST(test_comfort_noise)
{
    /* 10 PCMU, 3 CN packets 200 ms apart, 10 PCMU (the 5th of them 3 ms late). tshark 4.0.17 on
     * the same numbers: max delta 23.000, max jitter 0.363, mean jitter 0.081 (the CN packets and
     * the one after them are left out of max and mean). */
    rtpstat_t st;
    rtpstat_result_t r;
    rtpstat_init(&st, 8000, "PCMU");
    int64_t t = T0;
    uint32_t ts = 0;
    uint16_t seq = 1;
    for (int i = 0; i < 10; i++, t += 20 * MS, ts += 160, seq++) {
        rtp_hdr_t h = hdr(seq, ts, 0, i == 0);
        rtpstat_add(&st, t, &h, false);
    }
    for (int i = 0; i < 3; i++, t += 200 * MS, ts += 1600, seq++) {
        rtp_hdr_t h = hdr(seq, ts, 13, false);
        rtpstat_add(&st, t, &h, false);
    }
    for (int i = 0; i < 10; i++, t += 20 * MS, ts += 160, seq++) {
        rtp_hdr_t h = hdr(seq, ts, 0, false);
        rtpstat_add(&st, t + (i == 4 ? 3 * MS : 0), &h, false);
    }
    rtpstat_result(&st, &r);
    ck_assert_uint_eq(r.packets, 23);
    ck_assert_double_eq_tol(r.max_delta_ms, 23.0, TSHARK_TOL);
    ck_assert_double_eq_tol(r.max_jitter_ms, 0.363, TSHARK_TOL);
    ck_assert_double_eq_tol(r.mean_jitter_ms, 0.081, TSHARK_TOL);
}
END_TEST

START_TEST(test_timestamp_before_first)
{
    /* A packet whose timestamp precedes the first packet's is left out of the tshark figures. */
    rtpstat_t st;
    rtpstat_result_t r;
    rtpstat_init(&st, 8000, "PCMU");
    feed_pcmu(&st, 10, 100, 8000, NULL, NULL);
    rtp_hdr_t h = hdr(90, 8000 - 1600, 0, false);
    rtpstat_add(&st, T0 + 500 * MS, &h, false); /* 300 ms after the last: no delta counted */
    rtpstat_result(&st, &r);
    ck_assert_uint_eq(r.packets, 11);
    ck_assert_double_eq(r.max_delta_ms, 20.0);
    ck_assert_double_eq(r.max_jitter_ms, 0.0);
}
END_TEST

START_TEST(test_samples)
{
    /* 12.01 s of 20 ms packets starting 1 s into a 5 s boundary; packets 300..309 lost. */
    rtpstat_t st;
    rtpstat_sample_t s, all[4];
    int n = 0;
    rtpstat_init(&st, 8000, "PCMU");
    ck_assert(!rtpstat_take_sample(&st, &s));
    for (int i = 0; i <= 600; i++) {
        if (i >= 300 && i < 310)
            continue;
        rtp_hdr_t h = hdr((uint16_t)i, 160u * (uint32_t)i, 0, i == 0);
        if (rtpstat_add(&st, T0 + 1000 * MS + i * 20 * MS, &h, false)) {
            ck_assert(rtpstat_take_sample(&st, &all[n]));
            n++;
        }
        ck_assert(!rtpstat_take_sample(&st, &s));
    }
    ck_assert(rtpstat_finish_sample(&st, &all[n]));
    n++;
    ck_assert(!rtpstat_finish_sample(&st, &s));
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(all[0].start_ns, T0);
    ck_assert_int_eq(all[0].end_ns, T0 + 5000 * MS);
    ck_assert_int_eq(all[1].start_ns, T0 + 5000 * MS);
    ck_assert_int_eq(all[2].start_ns, T0 + 10000 * MS);
    ck_assert_int_eq(all[2].end_ns, T0 + 13000 * MS);
    ck_assert_uint_eq(all[0].packets, 200); /* 1.00 .. 4.98 s */
    ck_assert_uint_eq(all[1].packets, 240); /* 5.00 .. 9.98 s minus the 10 lost */
    ck_assert_uint_eq(all[2].packets, 151);
    ck_assert_int_eq(all[0].lost + all[1].lost + all[2].lost, 10);
    ck_assert_int_eq(all[1].lost, 10);
    ck_assert_double_eq_tol(all[0].mos, 4.409, 0.001);
    ck_assert_double_lt(all[1].mos, all[0].mos); /* the loss pulls the middle interval down */
    ck_assert_double_eq(all[1].max_jitter_ms, 0.0);
    rtpstat_result_t r;
    rtpstat_result(&st, &r);
    ck_assert_uint_eq(r.packets, (uint64_t)all[0].packets + all[1].packets + all[2].packets);
    ck_assert_double_lt(r.mos, all[0].mos);
    ck_assert_uint_eq(st.samples_dropped, 0);

    /* Untaken samples are replaced and counted. */
    rtpstat_init(&st, 8000, "PCMU");
    rtpstat_set_interval(&st, 1000);
    feed_pcmu(&st, 200, 0, 0, NULL, NULL); /* 4 s */
    ck_assert_uint_eq(st.samples_dropped, 2);
    ck_assert(rtpstat_take_sample(&st, &s));
    ck_assert_int_eq(s.start_ns, T0 + 2000 * MS);
    ck_assert_uint_eq(s.packets, 50);
}
END_TEST

START_TEST(test_jitter_buffer_discards_late)
{
    /* One packet of a perfect stream arrives 120 ms late: received (no network loss), but a
     * 50 ms buffer has played past it, so the MOS counts it lost. */
    double extra[250] = {0};
    extra[100] = 120.0;
    int order[250];
    for (int i = 0; i < 250; i++)
        order[i] = i;
    for (int i = 100; i < 106; i++) /* 100 arrives after 101..106 */
        order[i] = i + 1;
    order[106] = 100;
    rtpstat_t st;
    rtpstat_result_t r;
    rtpstat_init(&st, 8000, "PCMU");
    feed_pcmu(&st, 250, 40, 0, extra, order);
    rtpstat_result(&st, &r);
    ck_assert_int_eq(r.lost, 0);
    ck_assert_uint_eq(r.out_of_order, 1);
    ck_assert_uint_eq(r.late_fixed, 1);
    ck_assert_uint_eq(r.late_adaptive, 1);
    ck_assert_double_eq_tol(r.loss_ratio, 1.0 / 250.0, 1e-12);
    double want = mos_compute(MOS_CODEC_G711, 1.0 / 250.0, mos_burst_ratio(250, 1, 1), -1.0);
    ck_assert_double_eq_tol(r.mos, want, 1e-9);
    ck_assert_double_lt(r.mos, 4.40);

    /* 30 ms late: inside the fixed buffer, outside the adaptive one sized for a calm stream. */
    extra[100] = 30.0;
    order[101] = 100, order[102] = 102, order[103] = 103, order[104] = 104;
    order[105] = 105, order[106] = 106;
    order[100] = 101;
    rtpstat_init(&st, 8000, "PCMU");
    feed_pcmu(&st, 250, 40, 0, extra, order);
    rtpstat_result(&st, &r);
    ck_assert_uint_eq(r.late_fixed, 0);
    ck_assert_uint_eq(r.late_adaptive, 1);
    ck_assert_double_eq_tol(r.mos, 4.409, 0.001);
    ck_assert_double_lt(r.mos_adaptive, r.mos);
}
END_TEST

START_TEST(test_rtt_delay_term)
{
    rtpstat_t st;
    rtpstat_result_t r0, r1;
    rtpstat_init(&st, 8000, "PCMU");
    feed_pcmu(&st, 100, 0, 0, NULL, NULL);
    rtpstat_result(&st, &r0);
    rtpstat_set_rtt(&st, 400.0); /* 200 ms + 50 ms buffer + 20 ms packets one way */
    rtpstat_result(&st, &r1);
    ck_assert_double_eq_tol(r1.r_factor, 93.2 - mos_delay_impairment(270.0), 1e-9);
    ck_assert_double_lt(r1.mos, r0.mos);
}
END_TEST

START_TEST(test_state_size)
{
    fprintf(stderr, "notice: sizeof(rtpstat_t) = %zu bytes\n", sizeof(rtpstat_t));
    ck_assert_uint_le(sizeof(rtpstat_t), 2048);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * MOS
 */

START_TEST(test_mos_known_points)
{
    ck_assert_double_eq_tol(mos_r_factor(MOS_CODEC_G711, 0.0, 1.0, -1.0), 93.2, 1e-12);
    ck_assert_double_eq_tol(mos_compute(MOS_CODEC_G711, 0.0, 1.0, -1.0), 4.4093, 0.0001);
    ck_assert_double_eq_tol(mos_r_factor(MOS_CODEC_G729, 0.0, 1.0, -1.0), 82.2, 1e-12);
    ck_assert_double_eq_tol(mos_compute(MOS_CODEC_G729, 0.0, 1.0, -1.0), 4.1044, 0.0001);
    ck_assert_double_eq_tol(mos_r_factor(MOS_CODEC_G723, 0.0, 1.0, -1.0), 78.2, 1e-12);
    /* 5% random loss, G.711 with PLC: Ie,eff = 95 * 5 / (5 + 25.1) = 15.78 */
    ck_assert_double_eq_tol(mos_ie_eff(MOS_CODEC_G711, 0.05, 1.0), 95.0 * 5 / 30.1, 1e-9);
    ck_assert_double_eq_tol(mos_r_factor(MOS_CODEC_G711, 0.05, 1.0, -1.0), 77.419, 0.001);
    ck_assert_double_eq_tol(mos_compute(MOS_CODEC_G711, 0.05, 1.0, -1.0), 3.923, 0.001);
    /* without PLC the same loss is far worse */
    ck_assert_double_lt(mos_compute(MOS_CODEC_G711_NOPLC, 0.05, 1.0, -1.0), 2.5);
    /* burstier loss hurts more */
    ck_assert_double_lt(mos_compute(MOS_CODEC_G711, 0.05, 3.0, -1.0),
                        mos_compute(MOS_CODEC_G711, 0.05, 1.0, -1.0));
}
END_TEST

START_TEST(test_mos_monotonic_and_clamped)
{
    for (int c = 0; c < MOS_CODEC_COUNT; c++) {
        double prev = 5.0;
        for (int i = 0; i <= 100; i++) {
            double m = mos_compute((mos_codec_t)c, i / 100.0, 1.0, -1.0);
            ck_assert_double_le(m, prev);
            ck_assert_double_ge(m, 1.0);
            ck_assert_double_le(m, 4.5);
            prev = m;
        }
        ck_assert_double_eq(mos_compute((mos_codec_t)c, 1.0, 1.0, 2000.0), 1.0);
    }
    ck_assert_double_eq(mos_from_r(-20.0), 1.0);
    ck_assert_double_eq(mos_from_r(0.0), 1.0);
    ck_assert_double_eq(mos_from_r(3.0), 1.0); /* the cubic dips below 1 here */
    ck_assert_double_eq(mos_from_r(100.0), 4.5);
    ck_assert_double_eq(mos_from_r(130.0), 4.5);
    ck_assert_double_eq(mos_from_r(NAN), 1.0);
    ck_assert_double_eq(mos_ie_eff(MOS_CODEC_G729, NAN, 1.0), 11.0);
    ck_assert_double_eq(mos_ie_eff(MOS_CODEC_G711, 7.0, 1.0), mos_ie_eff(MOS_CODEC_G711, 1.0, 1.0));
}
END_TEST

START_TEST(test_mos_delay)
{
    ck_assert_double_eq(mos_delay_impairment(-1.0), 0.0);
    ck_assert_double_eq(mos_delay_impairment(0.0), 0.0);
    double prev = 0.0;
    for (int t = 10; t <= 600; t += 10) {
        double id = mos_delay_impairment(t);
        ck_assert_double_ge(id, prev);
        prev = id;
    }
    /* G.107 at default parameters: small below 150 ms, Idd grows fast beyond (about 20 at 300) */
    ck_assert_double_lt(mos_delay_impairment(100.0), 3.0);
    ck_assert_double_lt(mos_delay_impairment(150.0), 4.5);
    ck_assert_double_gt(mos_delay_impairment(300.0), 15.0);
    ck_assert_double_lt(mos_delay_impairment(300.0), 25.0);
    ck_assert_double_lt(mos_compute(MOS_CODEC_G711, 0.0, 1.0, 400.0), 3.8);
}
END_TEST

START_TEST(test_mos_codecs_and_bursts)
{
    ck_assert_int_eq(mos_codec_from_name("PCMU"), MOS_CODEC_G711);
    ck_assert_int_eq(mos_codec_from_name("pcma"), MOS_CODEC_G711);
    ck_assert_int_eq(mos_codec_from_name("G729"), MOS_CODEC_G729);
    ck_assert_int_eq(mos_codec_from_name("OPUS"), MOS_CODEC_OPUS);
    ck_assert_int_eq(mos_codec_from_name("H264"), MOS_CODEC_UNKNOWN);
    ck_assert_int_eq(mos_codec_from_name(""), MOS_CODEC_UNKNOWN);
    ck_assert_int_eq(mos_codec_from_name(NULL), MOS_CODEC_UNKNOWN);
    ck_assert_int_eq(mos_codec_from_pt(18), MOS_CODEC_G729);
    ck_assert_int_eq(mos_codec_from_pt(96), MOS_CODEC_UNKNOWN);
    ck_assert_ptr_nonnull(mos_codec_info((mos_codec_t)99));
    ck_assert_double_eq(mos_codec_info(MOS_CODEC_G723)->bpl, 16.1);
    ck_assert_double_eq(mos_burst_ratio(1000, 0, 0), 1.0);
    /* 10 isolated losses in 1000: p = 10/990, q = 1 -> about 1 */
    ck_assert_double_eq_tol(mos_burst_ratio(1000, 10, 10), 1.0 / (10.0 / 990 + 1.0), 1e-12);
    /* one burst of 10: q = 0.1 -> about 9.9 */
    ck_assert_double_eq_tol(mos_burst_ratio(1000, 10, 1), 1.0 / (1.0 / 990 + 0.1), 1e-12);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * Packet dumps: `tshark -T fields` lines (tests/data/rtp-vectors/README.md) grouped into streams.
 */

typedef struct {
    int64_t t_ns;
    rtp_hdr_t h;
    bool is_event;
    int stream;
} row_t;

typedef struct {
    char src[64], dst[64]; /* "IP:PORT", "[v6]:PORT" like tshark-ref */
    uint32_t ssrc;
    uint64_t pt_count[128];
} stream_key_t;

typedef struct {
    row_t *rows;
    size_t nrows;
    stream_key_t *streams;
    int nstreams;
} dump_t;

static bool parse_uint(const char *s, size_t len, unsigned base, uint64_t *out)
{
    uint64_t v = 0;
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned d;
        char c = s[i];
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (base == 16 && c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (base == 16 && c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            return false;
        if (v > (UINT64_MAX - d) / base)
            return false;
        v = v * base + d;
    }
    *out = v;
    return true;
}

/* "1228468967.439987000" -> ns, exactly */
static bool parse_epoch_ns(const char *s, size_t len, int64_t *out)
{
    const char *dot = memchr(s, '.', len);
    uint64_t sec, frac = 0;
    size_t flen = dot != NULL ? len - (size_t)(dot - s) - 1 : 0;
    if (!parse_uint(s, dot != NULL ? (size_t)(dot - s) : len, 10, &sec) || flen > 9)
        return false;
    if (flen > 0 && !parse_uint(dot + 1, flen, 10, &frac))
        return false;
    for (size_t i = flen; i < 9; i++)
        frac *= 10;
    *out = (int64_t)(sec * 1000000000u + frac);
    return true;
}

static void addr_port(char *buf, size_t cap, const char *ip, size_t iplen, const char *port,
                      size_t portlen)
{
    bool v6 = memchr(ip, ':', iplen) != NULL;
    int n =
        snprintf(buf, cap, v6 ? "[%.*s]:%.*s" : "%.*s:%.*s", (int)iplen, ip, (int)portlen, port);
    ck_assert(n > 0 && (size_t)n < cap);
}

static int find_stream(dump_t *d, const char *src, const char *dst, uint32_t ssrc, bool add)
{
    for (int i = 0; i < d->nstreams; i++)
        if (d->streams[i].ssrc == ssrc && strcmp(d->streams[i].src, src) == 0 &&
            strcmp(d->streams[i].dst, dst) == 0)
            return i;
    if (!add)
        return -1;
    d->streams = realloc(d->streams, (size_t)(d->nstreams + 1) * sizeof(*d->streams));
    ck_assert_ptr_nonnull(d->streams);
    stream_key_t *k = &d->streams[d->nstreams];
    memset(k, 0, sizeof(*k));
    ck_assert_uint_lt(strlen(src), sizeof(k->src));
    ck_assert_uint_lt(strlen(dst), sizeof(k->dst));
    memcpy(k->src, src, strlen(src) + 1);
    memcpy(k->dst, dst, strlen(dst) + 1);
    k->ssrc = ssrc;
    return d->nstreams++;
}

/* Columns: time_epoch ip.src ipv6.src udp.srcport ip.dst ipv6.dst udp.dstport rtp.ssrc rtp.seq
 * rtp.timestamp rtp.p_type rtp.marker rtpevent.event_id */
static void dump_load(dump_t *d, const char *path)
{
    size_t len;
    char *text = testdata_read(path, &len);
    ck_assert_msg(text != NULL, "cannot read %s", path);
    memset(d, 0, sizeof(*d));
    size_t cap = 0;
    for (size_t pos = 0; pos < len;) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t llen = nl != NULL ? (size_t)(nl - line) : len - pos;
        pos += llen + 1;
        if (llen == 0)
            continue;
        const char *f[13];
        size_t fl[13];
        int nf = 0;
        for (size_t i = 0, start = 0; i <= llen && nf < 13; i++) {
            if (i == llen || line[i] == '\t') {
                f[nf] = line + start;
                fl[nf] = i - start;
                nf++;
                start = i + 1;
            }
        }
        ck_assert_msg(nf >= 12, "%s: short line", path);
        if (fl[8] == 0 || strncmp(f[7], "0x", 2) != 0)
            continue; /* not an RTP header (tshark printed no fields) */
        row_t row;
        memset(&row, 0, sizeof(row));
        uint64_t ssrc, seq, ts, pt;
        ck_assert(parse_epoch_ns(f[0], fl[0], &row.t_ns));
        ck_assert(parse_uint(f[7] + 2, fl[7] - 2, 16, &ssrc));
        ck_assert(parse_uint(f[8], fl[8], 10, &seq));
        ck_assert(parse_uint(f[9], fl[9], 10, &ts));
        ck_assert(parse_uint(f[10], fl[10], 10, &pt));
        row.h.version = 2;
        row.h.seq = (uint16_t)seq;
        row.h.timestamp = (uint32_t)ts;
        row.h.payload_type = (uint8_t)(pt & 0x7f);
        row.h.ssrc = (uint32_t)ssrc;
        row.h.marker = fl[11] > 0 && (f[11][0] == '1' || f[11][0] == 'T');
        row.is_event = nf > 12 && fl[12] > 0;
        char src[64], dst[64];
        bool v6 = fl[1] == 0;
        addr_port(src, sizeof(src), v6 ? f[2] : f[1], v6 ? fl[2] : fl[1], f[3], fl[3]);
        v6 = fl[4] == 0;
        addr_port(dst, sizeof(dst), v6 ? f[5] : f[4], v6 ? fl[5] : fl[4], f[6], fl[6]);
        row.stream = find_stream(d, src, dst, (uint32_t)ssrc, true);
        d->streams[row.stream].pt_count[row.h.payload_type]++;
        if (d->nrows == cap) {
            cap = cap ? cap * 2 : 1024;
            d->rows = realloc(d->rows, cap * sizeof(*d->rows));
            ck_assert_ptr_nonnull(d->rows);
        }
        d->rows[d->nrows++] = row;
    }
    free(text);
}

static void dump_free(dump_t *d)
{
    free(d->rows);
    free(d->streams);
    memset(d, 0, sizeof(*d));
}

/* The stream's main payload type: the most frequent one that is not comfort noise. */
static uint8_t main_pt(const stream_key_t *k)
{
    uint8_t best = 0;
    for (int pt = 1; pt < 128; pt++)
        if (pt != 13 && pt != 19 && k->pt_count[pt] > k->pt_count[best])
            best = (uint8_t)pt;
    return best;
}

/* Run one stream of a dump through rtpstat. clock_rate/codec as a correlator would set them. */
static void dump_run(const dump_t *d, int stream, uint32_t clock_rate, const char *codec,
                     rtpstat_result_t *r)
{
    rtpstat_t st;
    rtpstat_init(&st, clock_rate, codec);
    for (size_t i = 0; i < d->nrows; i++) {
        if (d->rows[i].stream != stream)
            continue;
        if (rtpstat_add(&st, d->rows[i].t_ns, &d->rows[i].h, d->rows[i].is_event)) {
            rtpstat_sample_t s;
            ck_assert(rtpstat_take_sample(&st, &s));
        }
    }
    rtpstat_result(&st, r);
}

/* ---------------------------------------------------------------------------------------------
 * A small JSON reader for tshark-ref and simcalls truth files (objects, arrays, strings without
 * escapes beyond \" and \\, numbers, literals).
 */

enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

typedef struct {
    int type;
    const char *key, *s; /* into the text, not NUL-terminated */
    size_t klen, slen;
    double num;
    int child, next; /* first child, next sibling; -1 = none */
} jnode_t;

typedef struct {
    char *text;
    const char *p;
    jnode_t *n;
    int count, cap;
    bool err;
} json_t;

static void jws(json_t *j)
{
    while (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t')
        j->p++;
}

static int jnew(json_t *j, int type)
{
    if (j->count == j->cap) {
        j->cap = j->cap ? j->cap * 2 : 256;
        j->n = realloc(j->n, (size_t)j->cap * sizeof(*j->n));
        ck_assert_ptr_nonnull(j->n);
    }
    jnode_t *n = &j->n[j->count];
    memset(n, 0, sizeof(*n));
    n->type = type;
    n->child = n->next = -1;
    return j->count++;
}

static bool jstring(json_t *j, const char **s, size_t *len)
{
    if (*j->p != '"')
        return false;
    const char *start = ++j->p;
    while (*j->p != '"') {
        if (*j->p == 0)
            return false;
        j->p += (*j->p == '\\' && j->p[1] != 0) ? 2 : 1;
    }
    *s = start;
    *len = (size_t)(j->p - start);
    j->p++;
    return true;
}

static int jvalue(json_t *j, int depth)
{
    jws(j);
    if (depth > 32 || j->err)
        goto fail;
    char c = *j->p;
    if (c == '{' || c == '[') {
        int node = jnew(j, c == '{' ? J_OBJ : J_ARR), last = -1;
        char close = c == '{' ? '}' : ']';
        j->p++;
        jws(j);
        if (*j->p == close) {
            j->p++;
            return node;
        }
        for (;;) {
            const char *key = NULL;
            size_t klen = 0;
            if (close == '}') {
                jws(j);
                if (!jstring(j, &key, &klen))
                    goto fail;
                jws(j);
                if (*j->p++ != ':')
                    goto fail;
            }
            int child = jvalue(j, depth + 1);
            if (child < 0)
                goto fail;
            j->n[child].key = key;
            j->n[child].klen = klen;
            if (last < 0)
                j->n[node].child = child;
            else
                j->n[last].next = child;
            last = child;
            jws(j);
            if (*j->p == ',') {
                j->p++;
                continue;
            }
            if (*j->p++ != close)
                goto fail;
            return node;
        }
    }
    if (c == '"') {
        int node = jnew(j, J_STR);
        if (!jstring(j, &j->n[node].s, &j->n[node].slen))
            goto fail;
        return node;
    }
    if (strncmp(j->p, "null", 4) == 0 || strncmp(j->p, "true", 4) == 0 ||
        strncmp(j->p, "false", 5) == 0) {
        int node = jnew(j, c == 'n' ? J_NULL : J_BOOL);
        j->n[node].num = c == 't';
        j->p += c == 'f' ? 5 : 4;
        return node;
    }
    char *end;
    errno = 0;
    double v = strtod(j->p, &end);
    if (end == j->p || errno != 0)
        goto fail;
    int node = jnew(j, J_NUM);
    j->n[node].num = v;
    j->p = end;
    return node;
fail:
    j->err = true;
    return -1;
}

static void json_load(json_t *j, const char *path)
{
    size_t len;
    char *raw = testdata_read(path, &len);
    ck_assert_msg(raw != NULL, "cannot read %s", path);
    memset(j, 0, sizeof(*j));
    j->text = malloc(len + 1);
    ck_assert_ptr_nonnull(j->text);
    memcpy(j->text, raw, len);
    j->text[len] = 0;
    free(raw);
    j->p = j->text;
    ck_assert_msg(jvalue(j, 0) == 0 && !j->err, "%s: bad JSON near offset %td", path,
                  j->p - j->text);
}

static void json_free(json_t *j)
{
    free(j->n);
    free(j->text);
}

static int jget(const json_t *j, int obj, const char *key)
{
    size_t kl = strlen(key);
    if (obj < 0 || j->n[obj].type != J_OBJ)
        return -1;
    for (int c = j->n[obj].child; c >= 0; c = j->n[c].next)
        if (j->n[c].klen == kl && memcmp(j->n[c].key, key, kl) == 0)
            return c;
    return -1;
}

static double jnum(const json_t *j, int obj, const char *key)
{
    int c = jget(j, obj, key);
    ck_assert_msg(c >= 0 && j->n[c].type == J_NUM, "JSON: no number \"%s\"", key);
    return j->n[c].num;
}

static void jstr(const json_t *j, int obj, const char *key, char *buf, size_t cap)
{
    int c = jget(j, obj, key);
    ck_assert_msg(c >= 0 && j->n[c].type == J_STR && j->n[c].slen < cap, "JSON: no \"%s\"", key);
    memcpy(buf, j->n[c].s, j->n[c].slen);
    buf[j->n[c].slen] = 0;
}

static double worst_dev(double worst, double got, double want)
{
    double d = fabs(got - want);
    return d > worst ? d : worst;
}

/* ---------------------------------------------------------------------------------------------
 * Real captures: every stream tshark finds with its RTP heuristic, against tshark-ref's JSON.
 */

static const char *const real_captures[] = {
    "ndpi-FAX-Call-t38-CA-TDM-SIP-FB-1",
    "ndpi-rtp",
    "ndpi-sip",
};

START_TEST(test_real_captures_vs_tshark)
{
    char path[512];
    int compared = 0;
    double worst = 0.0;
    for (size_t f = 0; f < sizeof(real_captures) / sizeof(real_captures[0]); f++) {
        dump_t d;
        json_t j;
        ck_assert(snprintf(path, sizeof(path), "tests/data/rtp-vectors/%s.tsv", real_captures[f]) <
                  (int)sizeof(path));
        dump_load(&d, testdata_path(path));
        ck_assert(snprintf(path, sizeof(path), "tests/pcap/real/%s.tshark.json", real_captures[f]) <
                  (int)sizeof(path));
        json_load(&j, testdata_path(path));
        int arr = jget(&j, 0, "rtp_streams_heuristic");
        ck_assert_int_ge(arr, 0);
        int nref = 0;
        for (int s = j.n[arr].child; s >= 0; s = j.n[s].next, nref++) {
            char src[64], dst[64];
            jstr(&j, s, "src", src, sizeof(src));
            jstr(&j, s, "dst", dst, sizeof(dst));
            uint32_t ssrc = (uint32_t)jnum(&j, s, "ssrc");
            int k = find_stream(&d, src, dst, ssrc, false);
            ck_assert_msg(k >= 0, "%s: stream %s -> %s 0x%08x not in the dump", real_captures[f],
                          src, dst, ssrc);
            /* clock_rate matters only for a dynamic media type; these heuristic streams have no
             * SDP, so 0 there (tshark: no clock, jitter 0). 8000 for the static ones checks that
             * rtpstat keeps RFC 3551's rate (90 kHz for H.263) and gives none to the other
             * dynamic types in the stream (PT 100 and 102 in the FAX call). */
            uint8_t pt = main_pt(&d.streams[k]);
            uint32_t rate = pt >= 96 ? 0 : 8000;
            rtpstat_result_t r;
            dump_run(&d, k, rate, NULL, &r);
            ck_assert_uint_eq(r.packets, (uint64_t)jnum(&j, s, "packets"));
            ck_assert_int_eq(r.lost, (int64_t)jnum(&j, s, "lost"));
            double want[3] = {jnum(&j, s, "max_delta_ms"), jnum(&j, s, "max_jitter_ms"),
                              jnum(&j, s, "mean_jitter_ms")};
            double got[3] = {r.max_delta_ms, r.max_jitter_ms, r.mean_jitter_ms};
            for (int i = 0; i < 3; i++) {
                ck_assert_msg(fabs(got[i] - want[i]) <= TSHARK_TOL,
                              "%s 0x%08x figure %d: %.6f, tshark %.3f", real_captures[f], ssrc, i,
                              got[i], want[i]);
                worst = worst_dev(worst, got[i], want[i]);
            }
            ck_assert_double_ge(r.mos, 1.0);
            ck_assert_double_le(r.mos, 4.5);
            compared++;
        }
        ck_assert_int_eq(nref, d.nstreams); /* and no stream tshark did not report */
        json_free(&j);
        dump_free(&d);
    }
    ck_assert_int_eq(compared, 8);
    fprintf(stderr, "notice: real captures: %d streams match tshark 4.0, worst deviation %.2g ms\n",
            compared, worst);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * simcalls ground truth (needs ../shared and tshark; skipped with a notice otherwise).
 */

/* Run argv with stdout to out_path (NULL: /dev/null) and stderr to /dev/null. Exit status, 127
 * when the program could not be started, -1 on other errors. */
static int run_cmd(char *const argv[], const char *out_path)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int out = out_path != NULL ? open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600)
                                   : open("/dev/null", O_WRONLY);
        int null = open("/dev/null", O_WRONLY);
        if (out < 0 || null < 0 || dup2(out, 1) < 0 || dup2(null, 2) < 0)
            _exit(126);
        execvp(argv[0], argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char *const tshark_fields[] = {
    "-T", "fields",     "-e", "frame.time_epoch",  "-e", "ip.src",
    "-e", "ipv6.src",   "-e", "udp.srcport",       "-e", "ip.dst",
    "-e", "ipv6.dst",   "-e", "udp.dstport",       "-e", "rtp.ssrc",
    "-e", "rtp.seq",    "-e", "rtp.timestamp",     "-e", "rtp.p_type",
    "-e", "rtp.marker", "-e", "rtpevent.event_id",
};

static bool tshark_dump(const char *pcap, const char *out)
{
    char *argv[64];
    int n = 0;
    argv[n++] = "tshark";
    argv[n++] = "-r";
    argv[n++] = (char *)pcap;
    argv[n++] = "--enable-heuristic";
    argv[n++] = "rtp_udp";
    argv[n++] = "-Y";
    argv[n++] = "rtp";
    for (size_t i = 0; i < sizeof(tshark_fields) / sizeof(tshark_fields[0]); i++)
        argv[n++] = tshark_fields[i];
    argv[n] = NULL;
    return run_cmd(argv, out) == 0;
}

typedef struct {
    const char *name;
    const char *args[16];
    bool calm; /* delays of at most 12 ms: few late packets */
} sim_case_t;

static const sim_case_t sim_cases[] = {
    {"us",
     {"--loss", "0.03", "--jitter-ms", "4", "--reorder", "0.02", "--dup", "0.01", "--seed", "11",
      NULL},
     true},
    {"ns",
     {"--loss", "0.03", "--jitter-ms", "4", "--reorder", "0.02", "--dup", "0.01", "--seed", "12",
      "--nanosecond", NULL},
     true},
    {"rough",
     {"--loss", "0.05", "--jitter-ms", "12", "--reorder", "0.05", "--dup", "0.03", "--seed", "13",
      "--ipv6-ratio", "0.5", NULL},
     false},
};

static int sim_streams_compared;
static double sim_worst_tshark, sim_worst_rfc;

static void sim_compare(const char *dir, const sim_case_t *sc)
{
    char pcap[256], truth[256], tsv[256];
    ck_assert(snprintf(pcap, sizeof(pcap), "%s/%s.pcap", dir, sc->name) < (int)sizeof(pcap));
    ck_assert(snprintf(truth, sizeof(truth), "%s/%s.json", dir, sc->name) < (int)sizeof(truth));
    ck_assert(snprintf(tsv, sizeof(tsv), "%s/%s.tsv", dir, sc->name) < (int)sizeof(tsv));

    char *argv[40];
    int n = 0;
    argv[n++] = (char *)testdata_shared("tools/simcalls");
    static char *const common[] = {"--calls", "6",   "--duration",    "8",
                                   "--codec", "mix", "--concurrency", "3"};
    for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
        argv[n++] = common[i];
    for (int i = 0; sc->args[i] != NULL; i++)
        argv[n++] = (char *)sc->args[i];
    argv[n++] = "-w";
    argv[n++] = pcap;
    argv[n++] = "--truth";
    argv[n++] = truth;
    argv[n] = NULL;
    ck_assert_msg(run_cmd(argv, NULL) == 0, "simcalls failed");
    ck_assert_msg(tshark_dump(pcap, tsv), "tshark failed on %s", pcap);

    dump_t d;
    json_t j;
    dump_load(&d, tsv);
    json_load(&j, truth);
    int calls = jget(&j, 0, "calls"), found = 0;
    ck_assert_int_ge(calls, 0);
    for (int c = j.n[calls].child; c >= 0; c = j.n[c].next) {
        int streams = jget(&j, c, "rtp_streams");
        for (int s = streams >= 0 ? j.n[streams].child : -1; s >= 0; s = j.n[s].next) {
            char ip[64], port[16], src[64], dst[64], codec[32];
            jstr(&j, s, "src_ip", ip, sizeof(ip));
            ck_assert(snprintf(port, sizeof(port), "%.0f", jnum(&j, s, "src_port")) > 0);
            addr_port(src, sizeof(src), ip, strlen(ip), port, strlen(port));
            jstr(&j, s, "dst_ip", ip, sizeof(ip));
            ck_assert(snprintf(port, sizeof(port), "%.0f", jnum(&j, s, "dst_port")) > 0);
            addr_port(dst, sizeof(dst), ip, strlen(ip), port, strlen(port));
            jstr(&j, s, "codec", codec, sizeof(codec));
            uint32_t ssrc = (uint32_t)jnum(&j, s, "ssrc");
            int k = find_stream(&d, src, dst, ssrc, false);
            ck_assert_msg(k >= 0, "%s: %s -> %s 0x%08x missing", sc->name, src, dst, ssrc);

            rtpstat_result_t r;
            dump_run(&d, k, (uint32_t)jnum(&j, s, "clock_rate"), codec, &r);
            int tk = jget(&j, s, "tshark");
            ck_assert_uint_eq(r.packets, (uint64_t)jnum(&j, s, "packets"));
            ck_assert_int_eq(r.lost, (int64_t)jnum(&j, s, "lost"));
            ck_assert_int_eq(r.lost, (int64_t)jnum(&j, tk, "lost"));
            ck_assert_uint_eq(r.duplicates, (uint64_t)jnum(&j, s, "duplicated"));
            ck_assert_uint_eq(r.out_of_order, (uint64_t)jnum(&j, s, "misordered"));
            const char *names[5] = {"tshark max_jitter_ms", "tshark mean_jitter_ms",
                                    "tshark max_delta_ms", "jitter_ms", "max_jitter_ms"};
            double want[5] = {jnum(&j, tk, "max_jitter_ms"), jnum(&j, tk, "mean_jitter_ms"),
                              jnum(&j, tk, "max_delta_ms"), jnum(&j, s, "jitter_ms"),
                              jnum(&j, s, "max_jitter_ms")};
            double got[5] = {r.max_jitter_ms, r.mean_jitter_ms, r.max_delta_ms, r.last_jitter_ms,
                             r.rfc_max_jitter_ms};
            for (int i = 0; i < 5; i++) {
                ck_assert_msg(fabs(got[i] - want[i]) <= TSHARK_TOL,
                              "%s %s 0x%08x %s: %.6f, truth %.6f", sc->name, codec, ssrc, names[i],
                              got[i], want[i]);
                if (i < 3)
                    sim_worst_tshark = worst_dev(sim_worst_tshark, got[i], want[i]);
                else
                    sim_worst_rfc = worst_dev(sim_worst_rfc, got[i], want[i]);
            }
            /* The fixed buffer loses the dropped packets and those it finds late. simcalls'
             * reordering makes a packet arrive one packet time early, which lowers the transit
             * reference, so even its calm cases see a few packets over 50 ms. */
            double dropped = jnum(&j, s, "dropped");
            ck_assert_double_eq_tol(r.loss_ratio * (double)r.expected,
                                    dropped + (double)r.late_fixed, 1e-6);
            ck_assert_uint_le(r.late_fixed * (sc->calm ? 50 : 5), r.packets);
            ck_assert_uint_le(r.late_adaptive * (sc->calm ? 20 : 5), r.packets);
            ck_assert_double_ge(r.mos, 1.0);
            ck_assert_double_le(r.mos, 4.5);
            found++;
        }
    }
    ck_assert_int_eq(found, d.nstreams); /* and tshark saw no other stream */
    sim_streams_compared += found;
    json_free(&j);
    dump_free(&d);
    unlink(pcap);
    unlink(truth);
    unlink(tsv);
}

START_TEST(test_simcalls_truth)
{
    const char *sim = testdata_shared("tools/simcalls");
    if (sim == NULL || access(sim, X_OK) != 0) {
        fprintf(stderr, "notice: simcalls not available; simcalls comparison skipped\n");
        test_skip("test_simcalls_truth needs ../shared/tools/simcalls");
        return;
    }
    char *version[] = {"tshark", "--version", NULL};
    if (run_cmd(version, NULL) != 0) {
        fprintf(stderr, "notice: tshark not available; simcalls comparison skipped\n");
        test_skip("test_simcalls_truth needs tshark");
        return;
    }
    char dir[] = "/tmp/check_rtpstat.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    for (size_t i = 0; i < sizeof(sim_cases) / sizeof(sim_cases[0]); i++)
        sim_compare(dir, &sim_cases[i]);
    rmdir(dir);
    fprintf(stderr,
            "notice: simcalls: %d streams match the truth; worst deviation %.2g ms from tshark's "
            "figures, %.2g ms from RFC 3550\n",
            sim_streams_compared, sim_worst_tshark, sim_worst_rfc);
}
END_TEST

Suite *rtpstat_suite(void)
{
    Suite *s = suite_create("rtpstat");
    TCase *tc = tcase_create("synthetic");
    tcase_add_test(tc, test_perfect_stream);
    tcase_add_test(tc, test_gap_is_lost);
    tcase_add_test(tc, test_duplicates_make_lost_negative);
    tcase_add_test(tc, test_reorder);
    tcase_add_test(tc, test_sequence_wrap);
    tcase_add_test(tc, test_large_jump_and_restart);
    tcase_add_test(tc, test_first_packet_reordered);
    tcase_add_test(tc, test_ssrc_is_the_callers);
    tcase_add_test(tc, test_timestamp_wrap);
    tcase_add_test(tc, test_jitter_exact);
    tcase_add_test(tc, test_jitter_opus_clock);
    tcase_add_test(tc, test_unknown_clock);
    tcase_add_test(tc, test_telephone_events);
    tcase_add_test(tc, test_comfort_noise);
    tcase_add_test(tc, test_timestamp_before_first);
    tcase_add_test(tc, test_samples);
    tcase_add_test(tc, test_jitter_buffer_discards_late);
    tcase_add_test(tc, test_rtt_delay_term);
    tcase_add_test(tc, test_state_size);
    suite_add_tcase(s, tc);

    tc = tcase_create("mos");
    tcase_add_test(tc, test_mos_known_points);
    tcase_add_test(tc, test_mos_monotonic_and_clamped);
    tcase_add_test(tc, test_mos_delay);
    tcase_add_test(tc, test_mos_codecs_and_bursts);
    suite_add_tcase(s, tc);

    tc = tcase_create("reference");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_real_captures_vs_tshark);
    tcase_add_test(tc, test_simcalls_truth);
    suite_add_tcase(s, tc);
    return s;
}
