/* check_rtcp: compound RTCP decoder (SR, RR, SDES, BYE, APP, RTPFB/PSFB, XR) and heuristic. */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "guard.h"
#include "rtcp.h"

/* Frame 1 of tests/pcap/real/ndpi-rtcp_multiple_pkts_in_the_same_datagram.pcap (FreeSWITCH):
 * SR (RC=1) + SDES (CNAME "5d931534", NOTE). */
static const uint8_t real_sr_sdes[] = {
    0x81, 0xc8, 0x00, 0x0c,                         /* V=2 RC=1 SR, length 12 (52 bytes) */
    0x5d, 0x93, 0x15, 0x34,                         /* sender SSRC 0x5d931534 */
    0xdd, 0x3a, 0xc1, 0x70, 0x4d, 0x61, 0x4d, 0xf8, /* NTP 2017-08-13 12:15:44.302 UTC */
    0x00, 0x00, 0x7d, 0x00,                         /* RTP timestamp 32000 */
    0x00, 0x00, 0x00, 0xc8,                         /* sender's packet count 200 */
    0x00, 0x00, 0x7d, 0x00,                         /* sender's octet count 32000 */
    0x00, 0x00, 0x00, 0x00,                         /* report 1: SSRC 0 */
    0x00, 0x00, 0x00, 0x01,                         /*   fraction 0, cumulative lost 1 */
    0x00, 0x00, 0x00, 0x00,                         /*   ext. highest seq 0 */
    0x00, 0x00, 0x00, 0x00,                         /*   jitter 0 */
    0x00, 0x00, 0x00, 0x00,                         /*   LSR 0 */
    0x00, 0x00, 0x00, 0x00,                         /*   DLSR 0 */
    0x81, 0xca, 0x00, 0x0e, 0x5d, 0x93, 0x15, 0x34, /* SDES SC=1, length 14; SSRC */
    0x01, 0x08, 0x35, 0x64, 0x39, 0x33, 0x31, 0x35, /* CNAME len 8 "5d9315 */
    0x33, 0x34, 0x07, 0x25, 0x46, 0x72, 0x65, 0x65, /* 34" NOTE len 37 "Free */
    0x53, 0x57, 0x49, 0x54, 0x43, 0x48, 0x2e, 0x6f, /* SWITCH.o */
    0x72, 0x67, 0x20, 0x2d, 0x2d, 0x20, 0x43, 0x6f, /* rg -- Co */
    0x6d, 0x65, 0x20, 0x74, 0x6f, 0x20, 0x43, 0x6c, /* me to Cl */
    0x75, 0x65, 0x43, 0x6f, 0x6e, 0x2e, 0x63, 0x6f, /* ueCon.co */
    0x6d, 0x00, 0x00, 0x00,                         /* m" END, null octets */
};

/* Frame 4 of the same capture: RR (RC=1) + SDES (CNAME "1932db4", NOTE). */
static const uint8_t real_rr_sdes[] = {
    0x81, 0xc9, 0x00, 0x07,                         /* V=2 RC=1 RR, length 7 (32 bytes) */
    0x01, 0x93, 0x2d, 0xb4,                         /* sender SSRC 0x01932db4 */
    0x5d, 0x93, 0x15, 0x34,                         /* report 1: SSRC 0x5d931534 */
    0x00, 0x00, 0x00, 0x01,                         /*   fraction 0, cumulative lost 1 */
    0x00, 0x00, 0xbf, 0x8b,                         /*   ext. highest seq 49035 */
    0x00, 0x00, 0x00, 0x06,                         /*   jitter 6 */
    0xc1, 0x70, 0x4d, 0x61,                         /*   LSR 0xc1704d61 */
    0x00, 0x04, 0x05, 0x1c,                         /*   DLSR 263452 (4.019 s) */
    0x81, 0xca, 0x00, 0x0e, 0x01, 0x93, 0x2d, 0xb4, /* SDES SC=1, length 14; SSRC */
    0x01, 0x07, 0x31, 0x39, 0x33, 0x32, 0x64, 0x62, /* CNAME len 7 "1932db */
    0x34, 0x07, 0x25, 0x46, 0x72, 0x65, 0x65, 0x53, /* 4" NOTE len 37 "FreeS */
    0x57, 0x49, 0x54, 0x43, 0x48, 0x2e, 0x6f, 0x72, /* WITCH.or */
    0x67, 0x20, 0x2d, 0x2d, 0x20, 0x43, 0x6f, 0x6d, /* g -- Com */
    0x65, 0x20, 0x74, 0x6f, 0x20, 0x43, 0x6c, 0x75, /* e to Clu */
    0x65, 0x43, 0x6f, 0x6e, 0x2e, 0x63, 0x6f, 0x6d, /* eCon.com" */
    0x00, 0x00, 0x00, 0x00,                         /* END, null octets */
};

/* Built: SR with two report blocks whose cumulative lost counts are negative (24-bit signed). */
static const uint8_t sr_two_reports[] = {
    0x82, 0xc8, 0x00, 0x12,                         /* V=2 RC=2 SR, length 18 (76 bytes) */
    0x11, 0x22, 0x33, 0x44,                         /* sender SSRC */
    0xe0, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, /* NTP 0xe0000000.80000000 */
    0x00, 0x02, 0x71, 0x00,                         /* RTP timestamp 160000 */
    0x00, 0x00, 0x03, 0xe8,                         /* packets 1000 */
    0x00, 0x02, 0x71, 0x00,                         /* octets 160000 */
    0xaa, 0xaa, 0xaa, 0xaa,                         /* report 1: SSRC 0xaaaaaaaa */
    0x40, 0xff, 0xff, 0xff,                         /*   fraction 64/256, lost -1 */
    0x00, 0x01, 0xff, 0xff,                         /*   ext. highest seq: cycle 1, 65535 */
    0x00, 0x00, 0x00, 0x25,                         /*   jitter 37 */
    0x12, 0x34, 0x56, 0x78,                         /*   LSR */
    0x00, 0x01, 0x00, 0x00,                         /*   DLSR 1 s */
    0xbb, 0xbb, 0xbb, 0xbb,                         /* report 2: SSRC 0xbbbbbbbb */
    0xff, 0x80, 0x00, 0x00,                         /*   fraction 255/256, lost -8388608 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /*   ext. highest seq 0, jitter 0 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /*   LSR 0, DLSR 0 */
};

/* Built: one of each type, XR last and padded. */
static const uint8_t compound_all[] = {
    /* RR with no report blocks */
    0x80, 0xc9, 0x00, 0x01, /* V=2 RC=0 RR, length 1 */
    0x01, 0x02, 0x03, 0x04, /* sender SSRC */
    /* SDES, two chunks: the CNAME is in the second */
    0x82, 0xca, 0x00, 0x07,              /* V=2 SC=2 SDES, length 7 */
    0x01, 0x02, 0x03, 0x04,              /* chunk 1: SSRC */
    0x02, 0x03, 'b', 'o', 'b',           /*   NAME len 3 "bob" */
    0x00, 0x00, 0x00,                    /*   END + null octets to the boundary */
    0x05, 0x06, 0x07, 0x08,              /* chunk 2: CSRC */
    0x01, 0x05, 'a', '@', 'b', '.', 'c', /*   CNAME len 5 "a@b.c" */
    0x06, 0x02, 'x', '1',                /*   TOOL len 2 "x1" */
    0x00,                                /*   END, already aligned */
    /* BYE with a reason */
    0x81, 0xcb, 0x00, 0x03,                     /* V=2 SC=1 BYE, length 3 */
    0x01, 0x02, 0x03, 0x04,                     /* SSRC */
    0x04, 'g', 'o', 'n', 'e', 0x00, 0x00, 0x00, /* reason len 4 "gone" */
    /* APP */
    0x83, 0xcc, 0x00, 0x03, /* V=2 subtype 3 APP, length 3 */
    0x01, 0x02, 0x03, 0x04, /* SSRC */
    'P', 'I', 'N', 'G',     /* name */
    0xde, 0xad, 0xbe, 0xef, /* application data */
    /* RTPFB generic NACK (RFC 4585 6.2.1) */
    0x81, 0xcd, 0x00, 0x03, /* V=2 FMT=1 RTPFB, length 3 */
    0x01, 0x02, 0x03, 0x04, /* sender SSRC */
    0x05, 0x06, 0x07, 0x08, /* media SSRC */
    0x00, 0x10, 0x00, 0x00, /* PID 16, BLP 0 */
    /* PSFB picture loss indication (RFC 4585 6.3.1) */
    0x81, 0xce, 0x00, 0x02, /* V=2 FMT=1 PSFB, length 2 */
    0x01, 0x02, 0x03, 0x04, /* sender SSRC */
    0x05, 0x06, 0x07, 0x08, /* media SSRC */
    /* XR with padding: receiver reference time (BT=4) + VoIP metrics (BT=7) */
    0xa0, 0xcf, 0x00, 0x0e,                         /* V=2 P=1 XR, length 14 */
    0x01, 0x02, 0x03, 0x04,                         /* SSRC */
    0x04, 0x00, 0x00, 0x02,                         /* BT=4, length 2 */
    0xe0, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, /*   NTP timestamp */
    0x07, 0x00, 0x00, 0x08,                         /* BT=7 VoIP metrics, length 8 */
    0x05, 0x06, 0x07, 0x08,                         /*   SSRC of source */
    0x0c, 0x03, 0x40, 0x02,                         /*   loss 12, discard 3, burst 64, gap 2 */
    0x00, 0x78, 0x27, 0x10,                         /*   burst duration 120, gap 10000 */
    0x00, 0x32, 0x00, 0x64,                         /*   round trip 50, end system 100 */
    0xec, 0xba, 0x7f, 0x10,                         /*   signal -20, noise -70, RERL 127, Gmin 16 */
    0x5d, 0x7f, 0x2a, 0x29,                         /*   R 93, ext R 127, MOS-LQ 4.2, MOS-CQ 4.1 */
    0x82, 0x00, 0x00, 0x3c,                         /*   RX config, reserved, JB nominal 60 */
    0x00, 0x78, 0x00, 0xc8,                         /*   JB maximum 120, JB abs max 200 */
    0x00, 0x00, 0x00, 0x04,                         /* padding: 4 octets */
};

static const struct {
    const char *name;
    const uint8_t *buf;
    size_t len;
} valid[] = {
    {"real_sr_sdes", real_sr_sdes, sizeof(real_sr_sdes)},
    {"real_rr_sdes", real_rr_sdes, sizeof(real_rr_sdes)},
    {"sr_two_reports", sr_two_reports, sizeof(sr_two_reports)},
    {"compound_all", compound_all, sizeof(compound_all)},
};
#define N_VALID (sizeof(valid) / sizeof(valid[0]))

static int parse_guarded(const uint8_t *buf, size_t len, rtcp_compound_t *out, const uint8_t **at)
{
    const uint8_t *g = guard_place(buf, len);
    if (at != NULL)
        *at = g;
    return rtcp_parse(g, len, out);
}

static void assert_sv(sv_t v, const char *lit)
{
    ck_assert_msg(v.len == strlen(lit) && memcmp(v.p, lit, v.len) == 0, "'%.*s' != '%s'", SV_ARG(v),
                  lit);
}

START_TEST(test_real_sr_sdes)
{
    rtcp_compound_t rc;
    const uint8_t *g;
    ck_assert_int_eq(parse_guarded(real_sr_sdes, sizeof(real_sr_sdes), &rc, &g), RTCP_OK);
    ck_assert_uint_eq(rc.n_packets, 2);
    ck_assert(!rc.truncated && !rc.malformed);
    const rtcp_packet_t *sr = &rc.packets[0];
    ck_assert_uint_eq(sr->type, RTCP_SR);
    ck_assert_uint_eq(sr->count, 1);
    ck_assert_uint_eq(sr->ssrc, 0x5d931534u);
    ck_assert_uint_eq(sr->ntp, 0xdd3ac1704d614df8ull);
    ck_assert_uint_eq(sr->rtp_ts, 32000);
    ck_assert_uint_eq(sr->sender_packets, 200);
    ck_assert_uint_eq(sr->sender_octets, 32000);
    ck_assert_uint_eq(sr->n_reports, 1);
    ck_assert_uint_eq(sr->reports[0].ssrc, 0);
    ck_assert_int_eq(sr->reports[0].cumulative_lost, 1);
    const rtcp_packet_t *sdes = &rc.packets[1];
    ck_assert_uint_eq(sdes->type, RTCP_SDES);
    ck_assert_uint_eq(sdes->ssrc, 0x5d931534u);
    assert_sv(sdes->cname, "5d931534");
    ck_assert_ptr_eq(sdes->cname.p, (const char *)g + 52 + 10);
}
END_TEST

START_TEST(test_real_rr_sdes)
{
    rtcp_compound_t rc;
    ck_assert_int_eq(parse_guarded(real_rr_sdes, sizeof(real_rr_sdes), &rc, NULL), RTCP_OK);
    ck_assert_uint_eq(rc.n_packets, 2);
    ck_assert(!rc.truncated && !rc.malformed);
    const rtcp_packet_t *rr = &rc.packets[0];
    ck_assert_uint_eq(rr->type, RTCP_RR);
    ck_assert_uint_eq(rr->ssrc, 0x01932db4u);
    ck_assert_uint_eq(rr->ntp, 0);
    ck_assert_uint_eq(rr->n_reports, 1);
    const rtcp_report_t *r = &rr->reports[0];
    ck_assert_uint_eq(r->ssrc, 0x5d931534u);
    ck_assert_uint_eq(r->fraction_lost, 0);
    ck_assert_int_eq(r->cumulative_lost, 1);
    ck_assert_uint_eq(r->ext_highest_seq, 49035);
    ck_assert_uint_eq(r->jitter, 6);
    ck_assert_uint_eq(r->lsr, 0xc1704d61u);
    ck_assert_uint_eq(r->dlsr, 263452);
    assert_sv(rc.packets[1].cname, "1932db4");
    ck_assert(rtcp_looks_like(real_rr_sdes, sizeof(real_rr_sdes)));
}
END_TEST

START_TEST(test_sr_signed_lost)
{
    rtcp_compound_t rc;
    ck_assert_int_eq(parse_guarded(sr_two_reports, sizeof(sr_two_reports), &rc, NULL), RTCP_OK);
    ck_assert_uint_eq(rc.n_packets, 1);
    ck_assert(!rc.malformed);
    const rtcp_packet_t *sr = &rc.packets[0];
    ck_assert_uint_eq(sr->ntp, 0xe000000080000000ull);
    ck_assert_uint_eq(sr->rtp_ts, 160000);
    ck_assert_uint_eq(sr->sender_packets, 1000);
    ck_assert_uint_eq(sr->n_reports, 2);
    ck_assert_uint_eq(sr->reports[0].ssrc, 0xaaaaaaaau);
    ck_assert_uint_eq(sr->reports[0].fraction_lost, 64);
    ck_assert_int_eq(sr->reports[0].cumulative_lost, -1);
    ck_assert_uint_eq(sr->reports[0].ext_highest_seq, 0x1ffff);
    ck_assert_uint_eq(sr->reports[0].jitter, 37);
    ck_assert_uint_eq(sr->reports[0].dlsr, 65536);
    ck_assert_uint_eq(sr->reports[1].fraction_lost, 255);
    ck_assert_int_eq(sr->reports[1].cumulative_lost, -8388608);
}
END_TEST

/* 24-bit signed cumulative lost (RFC 3550 6.4.1), every boundary. */
static const struct {
    uint8_t b[3];
    int32_t want;
} lost_cases[] = {
    {{0x00, 0x00, 0x00}, 0},        {{0x00, 0x00, 0x01}, 1},      {{0x7f, 0xff, 0xff}, 8388607},
    {{0x80, 0x00, 0x00}, -8388608}, {{0xff, 0xff, 0xff}, -1},     {{0xff, 0xff, 0xfe}, -2},
    {{0x00, 0xff, 0xff}, 65535},    {{0xff, 0x00, 0x00}, -65536},
};

START_TEST(test_cumulative_lost)
{
    uint8_t pkt[32] = {0x81, 0xc9, 0x00, 0x07, 0, 0, 0, 1, 0, 0, 0, 2, 0x00};
    memcpy(pkt + 13, lost_cases[_i].b, 3);
    rtcp_compound_t rc;
    ck_assert_int_eq(parse_guarded(pkt, sizeof(pkt), &rc, NULL), RTCP_OK);
    ck_assert_uint_eq(rc.packets[0].n_reports, 1);
    ck_assert_int_eq(rc.packets[0].reports[0].cumulative_lost, lost_cases[_i].want);
}
END_TEST

START_TEST(test_compound_all)
{
    rtcp_compound_t rc;
    const uint8_t *g;
    ck_assert_int_eq(parse_guarded(compound_all, sizeof(compound_all), &rc, &g), RTCP_OK);
    ck_assert(!rc.truncated && !rc.malformed);
    ck_assert_uint_eq(rc.n_packets, 7);
    static const uint8_t types[] = {RTCP_RR,    RTCP_SDES, RTCP_BYE, RTCP_APP,
                                    RTCP_RTPFB, RTCP_PSFB, RTCP_XR};
    for (size_t i = 0; i < 7; i++) {
        ck_assert_uint_eq(rc.packets[i].type, types[i]);
        ck_assert_uint_eq(rc.packets[i].ssrc, 0x01020304u);
    }
    ck_assert_uint_eq(rc.packets[0].n_reports, 0);
    ck_assert_uint_eq(rc.packets[1].count, 2);
    assert_sv(rc.packets[1].cname, "a@b.c");
    ck_assert_ptr_eq(rc.packets[1].cname.p, (const char *)g + 8 + 4 + 12 + 6);
    ck_assert_uint_eq(rc.packets[2].count, 1);
    ck_assert_uint_eq(rc.packets[3].count, 3);
    ck_assert_str_eq(rc.packets[3].app_name, "PING");
    ck_assert_uint_eq(rc.packets[4].count, 1);
    ck_assert_uint_eq(rc.packets[5].count, 1);

    const rtcp_packet_t *xr = &rc.packets[6];
    ck_assert_uint_eq(xr->n_xr_blocks, 2);
    ck_assert(xr->has_voip_metrics);
    const rtcp_xr_voip_t *v = &xr->voip;
    ck_assert_uint_eq(v->ssrc, 0x05060708u);
    ck_assert_uint_eq(v->loss_rate, 12);
    ck_assert_uint_eq(v->discard_rate, 3);
    ck_assert_uint_eq(v->burst_density, 64);
    ck_assert_uint_eq(v->gap_density, 2);
    ck_assert_uint_eq(v->burst_duration, 120);
    ck_assert_uint_eq(v->gap_duration, 10000);
    ck_assert_uint_eq(v->round_trip_delay, 50);
    ck_assert_uint_eq(v->end_system_delay, 100);
    ck_assert_int_eq((int8_t)v->signal_level, -20);
    ck_assert_int_eq((int8_t)v->noise_level, -70);
    ck_assert_uint_eq(v->rerl, 127);
    ck_assert_uint_eq(v->gmin, 16);
    ck_assert_uint_eq(v->r_factor, 93);
    ck_assert_uint_eq(v->ext_r_factor, 127);
    ck_assert_uint_eq(v->mos_lq, 42);
    ck_assert_uint_eq(v->mos_cq, 41);
    ck_assert_uint_eq(v->rx_config, 0x82);
    ck_assert_uint_eq(v->jb_nominal, 60);
    ck_assert_uint_eq(v->jb_maximum, 120);
    ck_assert_uint_eq(v->jb_abs_max, 200);
    ck_assert(rtcp_looks_like(g, sizeof(compound_all)));
}
END_TEST

/* Not RTCP at all, or a broken first packet: RTCP_INVALID and not rtcp_looks_like. */
static const struct {
    const char *why;
    uint8_t bytes[32];
    size_t len;
} bad[] = {
    {"empty", {0}, 0},
    {"3 bytes", {0x80, 0xc9, 0x00}, 3},
    {"version 1", {0x40, 0xc9, 0x00, 0x01, 0, 0, 0, 1}, 8},
    {"version 0 (STUN)", {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42}, 8},
    {"RTP, PT 0", {0x80, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 1}, 12},
    {"type 191", {0x80, 0xbf, 0x00, 0x01, 0, 0, 0, 1}, 8},
    {"type 224", {0x80, 0xe0, 0x00, 0x01, 0, 0, 0, 1}, 8},
    {"length 2 words, 1 present", {0x80, 0xc9, 0x00, 0x02, 0, 0, 0, 1}, 8},
    {"length 65535 words", {0x80, 0xc9, 0xff, 0xff, 0, 0, 0, 1}, 8},
    {"P=1, length 0", {0xa0, 0xc9, 0x00, 0x00}, 4},
    {"P=1, count 0", {0xa0, 0xc9, 0x00, 0x01, 0, 0, 0, 0}, 8},
    {"P=1, count 5 over 4", {0xa0, 0xc9, 0x00, 0x01, 0, 0, 0, 5}, 8},
    {"P=1, count 255", {0xa0, 0xc9, 0x00, 0x01, 0, 0, 0, 0xff}, 8},
};

START_TEST(test_invalid)
{
    rtcp_compound_t rc;
    const uint8_t *g = guard_place(bad[_i].bytes, bad[_i].len);
    ck_assert_msg(rtcp_parse(g, bad[_i].len, &rc) == RTCP_INVALID, "%s", bad[_i].why);
    ck_assert_uint_eq(rc.n_packets, 0);
    ck_assert_msg(!rtcp_looks_like(g, bad[_i].len), "%s", bad[_i].why);
}
END_TEST

/* A good first packet, then something off: RTCP_OK with flags, and only complete parts kept. */
static const struct {
    const char *why;
    uint8_t bytes[48];
    size_t len;
    size_t n_packets;
    bool truncated, malformed;
} odd[] = {
    /* clang-format off */
    {"RR + 2 stray bytes",
     {0x80, 0xc9, 0x00, 0x01, 0, 0, 0, 1, 0x81, 0xca}, 10, 1, true, false},
    {"RR + header of a packet that is not there",
     {0x80, 0xc9, 0x00, 0x01, 0, 0, 0, 1, 0x80, 0xc9, 0x00, 0x01}, 12, 1, true, false},
    {"RR + version 0 packet",
     {0x80, 0xc9, 0x00, 0x01, 0, 0, 0, 1, 0x00, 0xc9, 0x00, 0x01, 0, 0, 0, 1}, 16, 1, false, true},
    {"RR + RTP-looking packet",
     {0x80, 0xc9, 0x00, 0x01, 0, 0, 0, 1, 0x80, 0x00, 0x00, 0x01, 0, 0, 0, 1}, 16, 1, false, true},
    {"RR + bad padding",
     {0x80, 0xc9, 0x00, 0x01, 0, 0, 0, 1, 0xa0, 0xc9, 0x00, 0x01, 0, 0, 0, 9}, 16, 1, false, true},
    {"RR RC=1 without room for its block",
     {0x81, 0xc9, 0x00, 0x01, 0, 0, 0, 1}, 8, 1, false, true},
    {"SR without room for its sender info",
     {0x80, 0xc8, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3}, 16, 1, false, true},
    {"SR with a zero length",
     {0x80, 0xc8, 0x00, 0x00}, 4, 1, false, true},
    {"SDES CNAME longer than the packet",
     {0x81, 0xca, 0x00, 0x02, 0, 0, 0, 1, 0x01, 0xc8, 'a', 'b'}, 12, 1, false, true},
    {"SDES chunk without END",
     {0x81, 0xca, 0x00, 0x02, 0, 0, 0, 1, 0x01, 0x02, 'a', 'b'}, 12, 1, false, true},
    {"SDES SC=2 with one chunk",
     {0x82, 0xca, 0x00, 0x02, 0, 0, 0, 1, 0x01, 0x01, 'a', 0x00}, 12, 1, false, true},
    {"BYE SC=3 with one SSRC",
     {0x83, 0xcb, 0x00, 0x01, 0, 0, 0, 1}, 8, 1, false, true},
    {"APP without its name",
     {0x80, 0xcc, 0x00, 0x01, 0, 0, 0, 1}, 8, 1, false, true},
    {"XR block longer than the packet",
     {0x80, 0xcf, 0x00, 0x02, 0, 0, 0, 1, 0x07, 0x00, 0x00, 0x08}, 12, 1, false, true},
    {"XR VoIP metrics block of 2 words",
     {0x80, 0xcf, 0x00, 0x04, 0, 0, 0, 1, 0x07, 0x00, 0x00, 0x02, 1, 2, 3, 4, 5, 6, 7, 8},
     20, 1, false, true},
    {"XR second block header with a length past the packet",
     {0x80, 0xcf, 0x00, 0x03, 0, 0, 0, 1, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x01},
     16, 1, false, true},
    {"RR + unknown type 210 (counted)",
     {0x80, 0xc9, 0x00, 0x01, 0, 0, 0, 1, 0x80, 0xd2, 0x00, 0x01, 0, 0, 0, 1}, 16, 2, false, false},
    /* clang-format on */
};

START_TEST(test_odd)
{
    rtcp_compound_t rc;
    const uint8_t *g = guard_place(odd[_i].bytes, odd[_i].len);
    ck_assert_msg(rtcp_parse(g, odd[_i].len, &rc) == RTCP_OK, "%s", odd[_i].why);
    ck_assert_msg(rc.n_packets == odd[_i].n_packets, "%s: %zu packets", odd[_i].why, rc.n_packets);
    ck_assert_msg(rc.truncated == odd[_i].truncated, "%s: truncated", odd[_i].why);
    ck_assert_msg(rc.malformed == odd[_i].malformed, "%s: malformed", odd[_i].why);
    for (size_t i = 0; i < rc.n_packets; i++) {
        const rtcp_packet_t *p = &rc.packets[i];
        ck_assert_uint_le(p->ssrc, 1); /* every SSRC here is 1; 0 where it is missing */
        if (p->cname.len > 0)
            ck_assert((const uint8_t *)p->cname.p >= g &&
                      (const uint8_t *)p->cname.p + p->cname.len <= g + odd[_i].len);
        ck_assert(!p->has_voip_metrics);
    }
}
END_TEST

START_TEST(test_odd_details)
{
    rtcp_compound_t rc;
    /* SR without its sender info: SSRC kept, the rest reads as absent. */
    static const uint8_t short_sr[] = {0x81, 0xc8, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3};
    ck_assert_int_eq(parse_guarded(short_sr, sizeof(short_sr), &rc, NULL), RTCP_OK);
    ck_assert_uint_eq(rc.packets[0].ssrc, 1);
    ck_assert_uint_eq(rc.packets[0].ntp, 0);
    ck_assert_uint_eq(rc.packets[0].n_reports, 0);

    /* SDES whose chunk has no END: the complete CNAME item is still kept. */
    static const uint8_t no_end[] = {0x81, 0xca, 0x00, 0x02, 0, 0, 0, 1, 0x01, 0x02, 'a', 'b'};
    ck_assert_int_eq(parse_guarded(no_end, sizeof(no_end), &rc, NULL), RTCP_OK);
    assert_sv(rc.packets[0].cname, "ab");

    /* RR RC=2, one block present: that one is kept. */
    uint8_t rr[32] = {0x82, 0xc9, 0x00, 0x07, 0, 0, 0, 1, 0, 0, 0, 9};
    ck_assert_int_eq(parse_guarded(rr, sizeof(rr), &rc, NULL), RTCP_OK);
    ck_assert(rc.malformed);
    ck_assert_uint_eq(rc.packets[0].n_reports, 1);
    ck_assert_uint_eq(rc.packets[0].reports[0].ssrc, 9);

    /* An empty CNAME counts as the first CNAME. */
    static const uint8_t empty_cname[] = {0x81, 0xca, 0x00, 0x02, 0,    0,
                                          0,    1,    0x01, 0x00, 0x00, 0x00};
    const uint8_t *g;
    ck_assert_int_eq(parse_guarded(empty_cname, sizeof(empty_cname), &rc, &g), RTCP_OK);
    ck_assert(!rc.malformed);
    ck_assert_uint_eq(rc.packets[0].cname.len, 0);
    ck_assert_ptr_eq(rc.packets[0].cname.p, (const char *)g + 10);
}
END_TEST

START_TEST(test_max_packets)
{
    /* 17 minimal RRs: 16 kept, truncated. */
    uint8_t buf[17 * 8];
    for (size_t i = 0; i < 17; i++) {
        static const uint8_t rr[8] = {0x80, 0xc9, 0x00, 0x01, 0, 0, 0, 1};
        memcpy(buf + i * 8, rr, 8);
    }
    rtcp_compound_t rc;
    ck_assert_int_eq(parse_guarded(buf, sizeof(buf), &rc, NULL), RTCP_OK);
    ck_assert_uint_eq(rc.n_packets, RTCP_MAX_PACKETS);
    ck_assert(rc.truncated && !rc.malformed);
    ck_assert_int_eq(parse_guarded(buf, 16 * 8, &rc, NULL), RTCP_OK);
    ck_assert_uint_eq(rc.n_packets, RTCP_MAX_PACKETS);
    ck_assert(!rc.truncated);

    /* RC=31 report blocks, the most a header can announce. */
    static uint8_t big[8 + 31 * 24];
    big[0] = 0x9f;
    big[1] = 0xc9;
    big[3] = 1 + 31 * 6;
    big[8 + 30 * 24 + 3] = 31; /* SSRC of the last block */
    ck_assert_int_eq(parse_guarded(big, sizeof(big), &rc, NULL), RTCP_OK);
    ck_assert_uint_eq(rc.packets[0].n_reports, 31);
    ck_assert_uint_eq(rc.packets[0].reports[30].ssrc, 31);
}
END_TEST

/* Every prefix of every valid compound: INVALID while the first packet is incomplete, then
 * exactly the complete packets, decoded as in the full parse, with truncated set when bytes of
 * a next packet are there. The guard page catches any over-read. */
START_TEST(test_every_prefix)
{
    const uint8_t *full = valid[_i].buf;
    size_t len = valid[_i].len;
    rtcp_compound_t whole;
    ck_assert_int_eq(rtcp_parse(full, len, &whole), RTCP_OK);
    ck_assert(!whole.truncated && !whole.malformed);

    for (size_t n = 0; n <= len; n++) {
        size_t complete = 0, end = 0;
        while (end + 4 <= n) {
            size_t sz = (((size_t)full[end + 2] << 8 | full[end + 3]) + 1) * 4;
            if (end + sz > n)
                break;
            end += sz;
            complete++;
        }
        rtcp_compound_t rc;
        const uint8_t *g = guard_place(full, n);
        int r = rtcp_parse(g, n, &rc);
        bool looks = rtcp_looks_like(g, n);
        if (complete == 0) {
            ck_assert_msg(r == RTCP_INVALID, "%s/%zu", valid[_i].name, n);
            ck_assert(!looks);
            continue;
        }
        ck_assert_msg(r == RTCP_OK, "%s/%zu", valid[_i].name, n);
        ck_assert_uint_eq(rc.n_packets, complete);
        ck_assert(rc.truncated == (end < n));
        ck_assert(!rc.malformed);
        ck_assert(looks == (end == n));
        for (size_t i = 0; i < complete; i++) {
            const rtcp_packet_t *a = &rc.packets[i], *b = &whole.packets[i];
            ck_assert_uint_eq(a->type, b->type);
            ck_assert_uint_eq(a->ssrc, b->ssrc);
            ck_assert_uint_eq(a->n_reports, b->n_reports);
            ck_assert_uint_eq(a->cname.len, b->cname.len);
            ck_assert_uint_eq(a->n_xr_blocks, b->n_xr_blocks);
            if (a->cname.len > 0)
                ck_assert((const uint8_t *)a->cname.p + a->cname.len <= g + n);
        }
    }
    guard_release();
}
END_TEST

START_TEST(test_looks_like)
{
    for (size_t i = 0; i < N_VALID; i++)
        ck_assert_msg(rtcp_looks_like(valid[i].buf, valid[i].len), "%s", valid[i].name);

    /* SRTCP: the same compound plus E|index and an 80-bit tag (RFC 3711 3.4). */
    uint8_t srtcp[sizeof(real_rr_sdes) + 14];
    memcpy(srtcp, real_rr_sdes, sizeof(real_rr_sdes));
    memset(srtcp + sizeof(real_rr_sdes), 0xa5, 14);
    ck_assert(!rtcp_looks_like(srtcp, sizeof(srtcp)));
    rtcp_compound_t rc;
    ck_assert_int_eq(rtcp_parse(srtcp, sizeof(srtcp), &rc), RTCP_OK); /* ...still decodable */

    /* RFC 5506 reduced-size RTCP: a lone PSFB PLI. */
    static const uint8_t pli[] = {0x81, 0xce, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 2};
    ck_assert(rtcp_looks_like(pli, sizeof(pli)));

    /* First packets too short for what they announce. */
    static const uint8_t sr0[] = {0x80, 0xc8, 0x00, 0x01, 0, 0, 0, 1};
    static const uint8_t rr1[] = {0x81, 0xc9, 0x00, 0x01, 0, 0, 0, 1};
    static const uint8_t app1[] = {0x80, 0xcc, 0x00, 0x01, 0, 0, 0, 1};
    ck_assert(!rtcp_looks_like(sr0, sizeof(sr0)));
    ck_assert(!rtcp_looks_like(rr1, sizeof(rr1)));
    ck_assert(!rtcp_looks_like(app1, sizeof(app1)));

    /* First type outside 200..207 (in RFC 5761's 192..223, but not a first packet). */
    static const uint8_t t199[] = {0x80, 0xc7, 0x00, 0x01, 0, 0, 0, 1};
    ck_assert(!rtcp_looks_like(t199, sizeof(t199)));

    /* RTP from ndpi-rtp.pcapng frame 11 (M=1 PT=34 reads as type 162). */
    static const uint8_t rtp[] = {0x80, 0xa2, 0x01, 0x1a, 0x00, 0x0a, 0x2f, 0x30,
                                  0x00, 0x00, 0x16, 0x46, 0x00, 0x70, 0x00, 0x00};
    ck_assert(!rtcp_looks_like(rtp, sizeof(rtp)));
    ck_assert_int_eq(rtcp_parse(rtp, sizeof(rtp), &rc), RTCP_INVALID);
    ck_assert(!rtcp_looks_like(NULL, 0));
    ck_assert_int_eq(rtcp_parse(NULL, 0, &rc), RTCP_INVALID);
}
END_TEST

Suite *rtcp_suite(void)
{
    Suite *s = suite_create("rtcp");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_real_sr_sdes);
    tcase_add_test(tc, test_real_rr_sdes);
    tcase_add_test(tc, test_sr_signed_lost);
    tcase_add_loop_test(tc, test_cumulative_lost, 0,
                        (int)(sizeof(lost_cases) / sizeof(lost_cases[0])));
    tcase_add_test(tc, test_compound_all);
    tcase_add_test(tc, test_max_packets);
    suite_add_tcase(s, tc);

    TCase *tm = tcase_create("malformed");
    tcase_add_loop_test(tm, test_invalid, 0, (int)(sizeof(bad) / sizeof(bad[0])));
    tcase_add_loop_test(tm, test_odd, 0, (int)(sizeof(odd) / sizeof(odd[0])));
    tcase_add_test(tm, test_odd_details);
    tcase_add_loop_test(tm, test_every_prefix, 0, (int)N_VALID);
    suite_add_tcase(s, tm);

    TCase *th = tcase_create("heuristic");
    tcase_add_test(th, test_looks_like);
    suite_add_tcase(s, th);
    return s;
}
