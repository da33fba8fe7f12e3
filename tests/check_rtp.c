/* check_rtp: RTP header decoder, heuristic, RFC 4733 events and the RFC 3551 static table. */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "guard.h"
#include "rtp.h"

/* Real packets from tests/pcap/real/ndpi-rtp.pcapng (tshark -e udp.payload). */

/* Frame 11: the smallest H.263 packet, no CSRC, no extension, no padding.
 *   V=2 P=0 X=0 CC=0 | M=1 PT=34 (H263) | seq 282 | ts 667440 | SSRC 0x00001646
 *   payload: 12 bytes of H.263 (RFC 2190 mode A header 0x00700000 ...) */
static const uint8_t rtp_h263_small[] = {
    0x80, 0xa2, 0x01, 0x1a,             /* V=2, M=1 PT=34, seq=282 */
    0x00, 0x0a, 0x2f, 0x30,             /* timestamp 667440 */
    0x00, 0x00, 0x16, 0x46,             /* SSRC 0x00001646 */
    0x00, 0x70, 0x00, 0x00, 0x61, 0x7f, /* payload */
    0x5b, 0x58, 0x2f, 0x42, 0xd9, 0xd0,
};

/* Frame 7: H.263 with padding: P=1, the last byte says 1 padding octet (itself).
 *   V=2 P=1 X=0 CC=0 | M=1 PT=34 | seq 278 | ts 661140 | SSRC 0x00001646 | 111 + 1 bytes */
static const uint8_t rtp_h263_padded[] = {
    0xa0, 0xa2, 0x01, 0x16, 0x00, 0x0a, 0x16, 0x94, 0x00, 0x00, 0x16, 0x46, 0x00, 0x70, 0x00, 0x00,
    0x75, 0xad, 0x3b, 0x74, 0x3b, 0x1c, 0xe0, 0xcc, 0x3f, 0x16, 0x85, 0xdd, 0xef, 0x0b, 0xe0, 0x25,
    0x64, 0x61, 0x80, 0xfc, 0x60, 0x17, 0xc2, 0x65, 0x9c, 0x3f, 0x38, 0x17, 0xc0, 0x79, 0xc0, 0xbe,
    0x46, 0x2b, 0x17, 0xe1, 0xcf, 0x8f, 0xde, 0x2f, 0x78, 0xfd, 0xfa, 0xbd, 0x2d, 0xec, 0x45, 0xb1,
    0x23, 0x27, 0xbe, 0x22, 0x5a, 0x9e, 0x94, 0x52, 0xc3, 0xe1, 0x7c, 0x67, 0xd0, 0xbc, 0x2f, 0x9c,
    0x28, 0x04, 0xd1, 0xfa, 0x10, 0x45, 0x3e, 0x17, 0xd3, 0x36, 0xc6, 0x9a, 0x08, 0xc2, 0xdf, 0xc8,
    0xbf, 0x12, 0xe9, 0x6b, 0x43, 0x3e, 0x87, 0x24, 0x62, 0xb1, 0xfe, 0x52, 0x70, 0xbf, 0x02, 0xc7,
    0x0b, 0xe3, 0xc2, 0xf9, 0xa3, 0x22, 0xf1, 0x40, 0x5f, 0x3c, 0x34, 0x01, /* ... padding count 1
                                                                             */
};

/* Frame 69: RFC 8285 one-byte header extension (profile 0xBEDE, 1 word).
 *   V=2 P=0 X=1 CC=0 | M=0 PT=120 | seq 18618 | ts 3514780789 | SSRC 0x001a7e73
 *   ext: profile 0xbede, length 1 word: a4 c0 16 eb | 23 bytes payload */
static const uint8_t rtp_ext[] = {
    0x90, 0x78, 0x48, 0xba,             /* V=2 X=1, PT=120, seq=18618 */
    0xd1, 0x7f, 0x4c, 0x75,             /* timestamp 3514780789 */
    0x00, 0x1a, 0x7e, 0x73,             /* SSRC */
    0xbe, 0xde, 0x00, 0x01,             /* extension profile 0xBEDE, 1 word */
    0xa4, 0xc0, 0x16, 0xeb,             /* id=10 len=5 ... */
    0x75, 0x8b, 0xe2, 0x70, 0x62, 0x4d, /* payload, 23 bytes */
    0xa7, 0xa9, 0x9d, 0x37, 0x3f, 0xdf, 0xbc, 0xcd, 0xe8,
    0x9b, 0x2a, 0xbb, 0x48, 0xf3, 0x35, 0x01, 0x80,
};

/* Frame 84: one CSRC.
 *   V=2 P=0 X=0 CC=1 | M=0 PT=111 | seq 52690 | ts 508637695 | SSRC 0xb80974d8 | CSRC 0x11c */
static const uint8_t rtp_csrc[] = {
    0x81, 0x6f, 0xcd, 0xd2,                         /* V=2 CC=1, PT=111, seq=52690 */
    0x1e, 0x51, 0x31, 0xff,                         /* timestamp 508637695 */
    0xb8, 0x09, 0x74, 0xd8,                         /* SSRC */
    0x00, 0x00, 0x01, 0x1c,                         /* CSRC[0] */
    0x48, 0x0b, 0xe4, 0x55, 0xbf, 0x14, 0x98, 0x7c, /* payload (opus) */
};

/* Built: CC=2, X=1 with 2 words, P=1 with 3 padding octets, an RFC 4733 event as payload.
 *   V=2 P=1 X=1 CC=2 | M=1 PT=101 | seq 65535 | ts 0xffffffff | SSRC 0xdeadbeef
 *   CSRC 1, 2 | ext profile 0x1000, 2 words | event 5 E=1 vol 10 dur 800 | pad 00 00 03 */
static const uint8_t rtp_all[] = {
    0xb2, 0xe5, 0xff, 0xff, /* V=2 P=1 X=1 CC=2, M=1 PT=101, seq=65535 */
    0xff, 0xff, 0xff, 0xff, /* timestamp */
    0xde, 0xad, 0xbe, 0xef, /* SSRC */
    0x00, 0x00, 0x00, 0x01, /* CSRC 1 */
    0x00, 0x00, 0x00, 0x02, /* CSRC 2 */
    0x10, 0x00, 0x00, 0x02, /* extension profile 0x1000, 2 words */
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
    0x07, 0x08, 0x05, 0x8a, 0x03, 0x20, /* event 5, E=1 R=0 volume 10, duration 800 */
    0x00, 0x00, 0x03,                   /* padding: 3 octets */
};

/* Built: 15 CSRCs (the most CC can say), nothing else. */
static const uint8_t rtp_15csrc[12 + 60] = {
    0x8f, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, [12 + 56] = 0x00,
    0x00, 0x00, 0x0f, /* the last CSRC is 15 */
};

/* Built: padding that is the whole payload (P=1, 4 octets, count 4). */
static const uint8_t rtp_all_padding[] = {
    0xa0, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x04,
};

static const struct {
    const char *name;
    const uint8_t *buf;
    size_t len;
} valid[] = {
    {"h263_small", rtp_h263_small, sizeof(rtp_h263_small)},
    {"h263_padded", rtp_h263_padded, sizeof(rtp_h263_padded)},
    {"ext", rtp_ext, sizeof(rtp_ext)},
    {"csrc", rtp_csrc, sizeof(rtp_csrc)},
    {"all", rtp_all, sizeof(rtp_all)},
    {"15csrc", rtp_15csrc, sizeof(rtp_15csrc)},
    {"all_padding", rtp_all_padding, sizeof(rtp_all_padding)},
};
#define N_VALID (sizeof(valid) / sizeof(valid[0]))

/* Parse a copy placed against the guard page. */
static int parse_guarded(const uint8_t *buf, size_t len, rtp_hdr_t *h, const uint8_t **at)
{
    const uint8_t *g = guard_place(buf, len);
    if (at != NULL)
        *at = g;
    return rtp_parse(g, len, h);
}

START_TEST(test_small)
{
    rtp_hdr_t h;
    const uint8_t *g;
    ck_assert_int_eq(parse_guarded(rtp_h263_small, sizeof(rtp_h263_small), &h, &g), RTP_OK);
    ck_assert_uint_eq(h.version, 2);
    ck_assert(!h.padding && !h.extension && h.marker);
    ck_assert_uint_eq(h.csrc_count, 0);
    ck_assert_uint_eq(h.payload_type, 34);
    ck_assert_uint_eq(h.seq, 282);
    ck_assert_uint_eq(h.timestamp, 667440);
    ck_assert_uint_eq(h.ssrc, 0x1646);
    ck_assert_ptr_eq(h.payload, g + 12);
    ck_assert_uint_eq(h.payload_len, 12);
    ck_assert_uint_eq(h.padding_len, 0);
    ck_assert_ptr_null(h.ext_data);
    ck_assert_uint_eq(h.ext_len, 0);
}
END_TEST

START_TEST(test_padded)
{
    rtp_hdr_t h;
    ck_assert_int_eq(parse_guarded(rtp_h263_padded, sizeof(rtp_h263_padded), &h, NULL), RTP_OK);
    ck_assert(h.padding);
    ck_assert_uint_eq(h.seq, 278);
    ck_assert_uint_eq(h.timestamp, 661140);
    ck_assert_uint_eq(h.padding_len, 1);
    ck_assert_uint_eq(h.payload_len, sizeof(rtp_h263_padded) - 12 - 1);
}
END_TEST

START_TEST(test_extension)
{
    rtp_hdr_t h;
    const uint8_t *g;
    ck_assert_int_eq(parse_guarded(rtp_ext, sizeof(rtp_ext), &h, &g), RTP_OK);
    ck_assert(h.extension && !h.marker);
    ck_assert_uint_eq(h.payload_type, 120);
    ck_assert_uint_eq(h.seq, 18618);
    ck_assert_uint_eq(h.timestamp, 3514780789u);
    ck_assert_uint_eq(h.ssrc, 0x001a7e73);
    ck_assert_uint_eq(h.ext_profile, 0xbede);
    ck_assert_ptr_eq(h.ext_data, g + 16);
    ck_assert_uint_eq(h.ext_len, 4);
    ck_assert_ptr_eq(h.payload, g + 20);
    ck_assert_uint_eq(h.payload_len, 23);
}
END_TEST

START_TEST(test_csrc)
{
    rtp_hdr_t h;
    ck_assert_int_eq(parse_guarded(rtp_csrc, sizeof(rtp_csrc), &h, NULL), RTP_OK);
    ck_assert_uint_eq(h.csrc_count, 1);
    ck_assert_uint_eq(h.csrc[0], 0x11c);
    ck_assert_uint_eq(h.payload_type, 111);
    ck_assert_uint_eq(h.ssrc, 0xb80974d8u);
    ck_assert_uint_eq(h.payload_len, 8);

    ck_assert_int_eq(parse_guarded(rtp_15csrc, sizeof(rtp_15csrc), &h, NULL), RTP_OK);
    ck_assert_uint_eq(h.csrc_count, 15);
    ck_assert_uint_eq(h.csrc[14], 15);
    ck_assert_uint_eq(h.payload_len, 0);
}
END_TEST

START_TEST(test_all_fields)
{
    rtp_hdr_t h;
    const uint8_t *g;
    ck_assert_int_eq(parse_guarded(rtp_all, sizeof(rtp_all), &h, &g), RTP_OK);
    ck_assert(h.padding && h.extension && h.marker);
    ck_assert_uint_eq(h.csrc_count, 2);
    ck_assert_uint_eq(h.csrc[0], 1);
    ck_assert_uint_eq(h.csrc[1], 2);
    ck_assert_uint_eq(h.payload_type, 101);
    ck_assert_uint_eq(h.seq, 65535);
    ck_assert_uint_eq(h.timestamp, 0xffffffffu);
    ck_assert_uint_eq(h.ssrc, 0xdeadbeefu);
    ck_assert_uint_eq(h.ext_profile, 0x1000);
    ck_assert_uint_eq(h.ext_len, 8);
    ck_assert_ptr_eq(h.payload, g + 32);
    ck_assert_uint_eq(h.payload_len, 4);
    ck_assert_uint_eq(h.padding_len, 3);

    rtp_event_t ev;
    ck_assert_int_eq(rtp_event_parse(h.payload, h.payload_len, &ev), RTP_OK);
    ck_assert_uint_eq(ev.event, 5);
    ck_assert(ev.end);
    ck_assert_uint_eq(ev.volume, 10);
    ck_assert_uint_eq(ev.duration, 800);

    ck_assert_int_eq(parse_guarded(rtp_all_padding, sizeof(rtp_all_padding), &h, NULL), RTP_OK);
    ck_assert_uint_eq(h.payload_len, 0);
    ck_assert_uint_eq(h.padding_len, 4);
}
END_TEST

/* Malformed packets: each must be RTP_INVALID and not rtp_looks_like. */
static const struct {
    const char *why;
    uint8_t bytes[40];
    size_t len;
} bad[] = {
    {"empty", {0}, 0},
    {"11 bytes", {0x80, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0}, 11},
    {"version 0 (STUN binding request)",
     {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12},
     20},
    {"version 1", {0x40, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}, 12},
    {"version 3", {0xc0, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xaa}, 13},
    {"CC=2, one CSRC present", {0x82, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9}, 16},
    {"CC=15, header only", {0x8f, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}, 12},
    {"X=1, extension header cut", {0x90, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde}, 14},
    {"X=1, 2 words announced, 1 present",
     {0x90, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0, 2, 1, 2, 3, 4},
     20},
    {"X=1, 65535 words announced",
     {0x90, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0xff, 0xff, 1, 2, 3, 4},
     20},
    {"P=1, no payload to hold the count", {0xa0, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}, 12},
    {"P=1, count 0", {0xa0, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xaa, 0x00}, 14},
    {"P=1, count 3 over 2 bytes", {0xa0, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xaa, 0x03}, 14},
    {"P=1, count 255", {0xa0, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 0xff}, 16},
    {"P=1 X=1, padding count reaches into the extension",
     {0xb0, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0, 1, 1, 2, 3, 4, 0xaa, 0x03},
     22},
};

START_TEST(test_malformed)
{
    rtp_hdr_t h;
    const uint8_t *g = guard_place(bad[_i].bytes, bad[_i].len);
    ck_assert_msg(rtp_parse(g, bad[_i].len, &h) == RTP_INVALID, "%s", bad[_i].why);
    ck_assert_msg(!rtp_looks_like(g, bad[_i].len), "%s", bad[_i].why);
}
END_TEST

START_TEST(test_null)
{
    rtp_hdr_t h;
    rtp_event_t ev;
    ck_assert_int_eq(rtp_parse(NULL, 0, &h), RTP_INVALID);
    ck_assert(!rtp_looks_like(NULL, 0));
    ck_assert_int_eq(rtp_event_parse(NULL, 0, &ev), RTP_INVALID);
}
END_TEST

/* Every prefix of every valid packet: INVALID, or OK with payload and padding ending exactly at
 * the prefix end (nothing reported beyond what is present). The guard page catches over-reads. */
START_TEST(test_every_prefix)
{
    const uint8_t *full = valid[_i].buf;
    for (size_t n = 0; n <= valid[_i].len; n++) {
        rtp_hdr_t h;
        const uint8_t *g = guard_place(full, n);
        int rc = rtp_parse(g, n, &h);
        bool looks = rtp_looks_like(g, n);
        if (rc == RTP_INVALID) {
            ck_assert_msg(!looks, "%s/%zu", valid[_i].name, n);
            continue;
        }
        ck_assert_int_eq(rc, RTP_OK);
        ck_assert_uint_ge(n, 12u + 4u * h.csrc_count + (h.extension ? 4u + h.ext_len : 0u));
        ck_assert_ptr_eq(h.payload + h.payload_len + h.padding_len, g + n);
        if (h.extension)
            ck_assert_ptr_eq(h.ext_data + h.ext_len, h.payload);
        rtp_event_t ev;
        int erc = rtp_event_parse(h.payload, h.payload_len, &ev);
        ck_assert_int_eq(erc, h.payload_len >= 4 ? RTP_OK : RTP_INVALID);
    }
    guard_release();
}
END_TEST

START_TEST(test_looks_like)
{
    for (size_t i = 0; i < N_VALID; i++) {
        const uint8_t *g = guard_place(valid[i].buf, valid[i].len);
        ck_assert_msg(rtp_looks_like(g, valid[i].len), "%s", valid[i].name);
    }

    /* RTCP SR+SDES from ndpi-rtcp_multiple_pkts_in_the_same_datagram.pcap, first 28 bytes:
     * V=2 RC=1 PT=200 (SR) reads as M=1 PT=72. */
    static const uint8_t rtcp_sr[] = {
        0x81, 0xc8, 0x00, 0x06, 0x5d, 0x93, 0x15, 0x34, 0xdd, 0x3a, 0xc1, 0x70, 0x4d, 0x61,
        0x4d, 0xf8, 0x00, 0x00, 0x7d, 0x00, 0x00, 0x00, 0x00, 0xc8, 0x00, 0x00, 0x7d, 0x00,
    };
    ck_assert(!rtp_looks_like(rtcp_sr, sizeof(rtcp_sr)));
    /* ... though rtp_parse alone accepts it: the heuristic is what tells them apart. */
    rtp_hdr_t h;
    ck_assert_int_eq(rtp_parse(rtcp_sr, sizeof(rtcp_sr), &h), RTP_OK);

    /* Each RTCP type 192..223 (marker + PT 64..95) is refused; PT 96 and 63 pass. */
    uint8_t pkt[16] = {0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4};
    for (unsigned t = 192; t <= 223; t++) {
        pkt[1] = (uint8_t)t;
        ck_assert_msg(!rtp_looks_like(pkt, sizeof(pkt)), "type %u", t);
        pkt[1] = (uint8_t)(t & 0x7f); /* the same PT without the marker */
        ck_assert_msg(!rtp_looks_like(pkt, sizeof(pkt)), "pt %u", t & 0x7f);
    }
    pkt[1] = 96;
    ck_assert(rtp_looks_like(pkt, sizeof(pkt)));
    pkt[1] = 63 | 0x80;
    ck_assert(rtp_looks_like(pkt, sizeof(pkt)));

    /* Not RTP at all: frame 83 of ndpi-rtp.pcapng (version 0), DTLS, TURN ChannelData. */
    static const uint8_t v0[] = {0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x1c};
    static const uint8_t dtls[] = {0x16, 0xfe, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00,
                                   0x00, 0x00, 0x00, 0x00, 0x10, 0x01, 0x00, 0x00};
    static const uint8_t turn[] = {0x40, 0x00, 0x00, 0x0c, 0x80, 0x00, 0x00, 0x01,
                                   0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01};
    ck_assert(!rtp_looks_like(v0, sizeof(v0)));
    ck_assert(!rtp_looks_like(dtls, sizeof(dtls)));
    ck_assert(!rtp_looks_like(turn, sizeof(turn)));
}
END_TEST

START_TEST(test_event)
{
    rtp_event_t ev;
    /* '#' (event 11), not the end, R bit set (ignored), volume 63, duration 65535 */
    static const uint8_t hash[] = {0x0b, 0x7f, 0xff, 0xff};
    ck_assert_int_eq(rtp_event_parse(hash, sizeof(hash), &ev), RTP_OK);
    ck_assert_uint_eq(ev.event, 11);
    ck_assert(!ev.end);
    ck_assert_uint_eq(ev.volume, 63);
    ck_assert_uint_eq(ev.duration, 65535);

    /* flash (16), E=1, volume 0, duration 0 */
    static const uint8_t flash[] = {0x10, 0x80, 0x00, 0x00};
    ck_assert_int_eq(rtp_event_parse(flash, sizeof(flash), &ev), RTP_OK);
    ck_assert_uint_eq(ev.event, 16);
    ck_assert(ev.end);
    ck_assert_uint_eq(ev.volume, 0);

    for (size_t n = 0; n < 4; n++) {
        const uint8_t *g = guard_place(hash, n);
        ck_assert_int_eq(rtp_event_parse(g, n, &ev), RTP_INVALID);
    }
    guard_release();
}
END_TEST

/* RFC 3551 6, tables 4 and 5, written out again independently of rtp.c. */
static const struct {
    uint8_t pt;
    const char *name;
    uint32_t clock;
} static_expect[] = {
    {0, "PCMU", 8000},   {3, "GSM", 8000},    {4, "G723", 8000},   {5, "DVI4", 8000},
    {6, "DVI4", 16000},  {7, "LPC", 8000},    {8, "PCMA", 8000},   {9, "G722", 8000},
    {10, "L16", 44100},  {11, "L16", 44100},  {12, "QCELP", 8000}, {13, "CN", 8000},
    {14, "MPA", 90000},  {15, "G728", 8000},  {16, "DVI4", 11025}, {17, "DVI4", 22050},
    {18, "G729", 8000},  {25, "CelB", 90000}, {26, "JPEG", 90000}, {28, "nv", 90000},
    {31, "H261", 90000}, {32, "MPV", 90000},  {33, "MP2T", 90000}, {34, "H263", 90000},
};

START_TEST(test_static_table)
{
    unsigned pt = (unsigned)_i;
    const char *name = NULL;
    uint32_t clock = 0;
    for (size_t k = 0; k < sizeof(static_expect) / sizeof(static_expect[0]); k++) {
        if (static_expect[k].pt == pt) {
            name = static_expect[k].name;
            clock = static_expect[k].clock;
        }
    }
    const char *got = rtp_static_codec((uint8_t)pt);
    if (name == NULL)
        ck_assert_msg(got == NULL, "pt %u: %s", pt, got);
    else
        ck_assert_msg(got != NULL && strcmp(got, name) == 0, "pt %u: %s", pt, got ? got : "NULL");
    ck_assert_uint_eq(rtp_static_clock_rate((uint8_t)pt), clock);
}
END_TEST

Suite *rtp_suite(void)
{
    Suite *s = suite_create("rtp");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_small);
    tcase_add_test(tc, test_padded);
    tcase_add_test(tc, test_extension);
    tcase_add_test(tc, test_csrc);
    tcase_add_test(tc, test_all_fields);
    tcase_add_test(tc, test_null);
    tcase_add_loop_test(tc, test_malformed, 0, (int)(sizeof(bad) / sizeof(bad[0])));
    tcase_add_loop_test(tc, test_every_prefix, 0, (int)N_VALID);
    suite_add_tcase(s, tc);

    TCase *th = tcase_create("heuristic");
    tcase_add_test(th, test_looks_like);
    suite_add_tcase(s, th);

    TCase *te = tcase_create("events_and_types");
    tcase_add_test(te, test_event);
    tcase_add_loop_test(te, test_static_table, 0, 256);
    suite_add_tcase(s, te);
    return s;
}
