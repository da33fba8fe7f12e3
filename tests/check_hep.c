/* check_hep: HEPv3 decoder and encoder: examples, every truncation, malformed table, round trips,
 * a second encoder written from the specification, and tshark reading what we encode. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guard.h"
#include "hep.h"
#include "skip.h"

/* A SIP BYE over IPv4/UDP as a probe would send it (every generic chunk but 13 and 16). */
static const uint8_t example_v4[] = {
    'H',  'E',  'P',  '3',  0x00, 0x90,             /* magic, total length 144 */
    0x00, 0x00, 0x00, 0x01, 0x00, 0x07, 0x02,       /* chunk 1 IP family: 2 (IPv4) */
    0x00, 0x00, 0x00, 0x02, 0x00, 0x07, 0x11,       /* chunk 2 IP protocol: 17 (UDP) */
    0x00, 0x00, 0x00, 0x03, 0x00, 0x0a,             /* chunk 3 IPv4 source */
    0xc0, 0xa8, 0x01, 0x01,                         /*   192.168.1.1 */
    0x00, 0x00, 0x00, 0x04, 0x00, 0x0a,             /* chunk 4 IPv4 destination */
    0xc0, 0xa8, 0x01, 0x02,                         /*   192.168.1.2 */
    0x00, 0x00, 0x00, 0x07, 0x00, 0x08, 0x13, 0xc4, /* chunk 7 source port 5060 */
    0x00, 0x00, 0x00, 0x08, 0x00, 0x08, 0x13, 0xd8, /* chunk 8 destination port 5080 */
    0x00, 0x00, 0x00, 0x09, 0x00, 0x0a,             /* chunk 9 timestamp seconds */
    0x5f, 0x5e, 0x10, 0x00,                         /*   1600000000 */
    0x00, 0x00, 0x00, 0x0a, 0x00, 0x0a,             /* chunk 10 timestamp microseconds */
    0x00, 0x01, 0xe2, 0x40,                         /*   123456 */
    0x00, 0x00, 0x00, 0x0b, 0x00, 0x07, 0x01,       /* chunk 11 protocol type: 1 (SIP) */
    0x00, 0x00, 0x00, 0x0c, 0x00, 0x0a,             /* chunk 12 capture agent id */
    0x00, 0x00, 0x07, 0xd1,                         /*   2001 */
    0x00, 0x00, 0x00, 0x0e, 0x00, 0x0b,             /* chunk 14 auth key, 5 bytes */
    'm',  'y',  'H',  'e',  'p',                    /*   "myHep" */
    0x00, 0x00, 0x00, 0x11, 0x00, 0x0b,             /* chunk 17 correlation id, 5 bytes */
    'a',  'b',  'c',  '@',  'h',                    /*   "abc@h" */
    0x00, 0x00, 0x00, 0x0f, 0x00, 0x1d,             /* chunk 15 payload, 23 bytes */
    'B',  'Y',  'E',  ' ',  's',  'i',  'p',  ':',  /*   "BYE sip: */
    'b',  '@',  'h',  ' ',  'S',  'I',  'P',  '/',  /*   b@h SIP/ */
    '2',  '.',  '0',  '\r', '\n', '\r', '\n',       /*   2.0\r\n\r\n" */
};
_Static_assert(sizeof(example_v4) == 144, "total length field says 144");

/* ---- a second encoder, deliberately simple, written from the HEP3 specification ----
 * Chunks are appended one by one; the total length is patched in at the end. */

typedef struct {
    uint8_t b[70000];
    size_t n;
} tb_t;

static void tb_bytes(tb_t *t, const void *p, size_t n)
{
    memcpy(t->b + t->n, p, n);
    t->n += n;
}

static void tb_be16(tb_t *t, unsigned v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    tb_bytes(t, x, 2);
}

static void tb_begin(tb_t *t)
{
    t->n = 0;
    tb_bytes(t, "HEP3", 4);
    tb_be16(t, 0);
}

/* vendor, type, 6 + n, then the n value bytes. */
static void tb_chunk(tb_t *t, unsigned vendor, unsigned type, const void *v, size_t n)
{
    tb_be16(t, vendor);
    tb_be16(t, type);
    tb_be16(t, (unsigned)(6 + n));
    tb_bytes(t, v, n);
}

static void tb_u8(tb_t *t, unsigned type, uint8_t v)
{
    tb_chunk(t, 0, type, &v, 1);
}

static void tb_u16(tb_t *t, unsigned type, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    tb_chunk(t, 0, type, x, 2);
}

static void tb_u32(tb_t *t, unsigned type, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    tb_chunk(t, 0, type, x, 4);
}

static size_t tb_end(tb_t *t)
{
    t->b[4] = (uint8_t)(t->n >> 8);
    t->b[5] = (uint8_t)t->n;
    return t->n;
}

static const char sip_invite[] = "INVITE sip:bob@example.com SIP/2.0\r\n"
                                 "Call-ID: a84b4c76e66710@pc33\r\n"
                                 "Content-Length: 0\r\n\r\n";

/* The standard test packet: IPv4 10.0.0.1:5060 -> 10.0.0.2:5062, ts 1700000000.5, SIP,
 * agent 7, correlation "a84b4c76e66710@pc33", in hep_encode's chunk order. Chunk types whose
 * bit is in omit are left out. */
static void tb_standard(tb_t *t, uint32_t omit)
{
    static const uint8_t a[4] = {10, 0, 0, 1}, b[4] = {10, 0, 0, 2};
#define WANT(type) (!(omit & (1u << (type))))
    tb_begin(t);
    if (WANT(1))
        tb_u8(t, 1, 2);
    if (WANT(2))
        tb_u8(t, 2, 17);
    if (WANT(3))
        tb_chunk(t, 0, 3, a, 4);
    if (WANT(4))
        tb_chunk(t, 0, 4, b, 4);
    if (WANT(7))
        tb_u16(t, 7, 5060);
    if (WANT(8))
        tb_u16(t, 8, 5062);
    if (WANT(9))
        tb_u32(t, 9, 1700000000);
    if (WANT(10))
        tb_u32(t, 10, 500000);
    if (WANT(11))
        tb_u8(t, 11, 1);
    if (WANT(12))
        tb_u32(t, 12, 7);
    if (WANT(17))
        tb_chunk(t, 0, 17, "a84b4c76e66710@pc33", 19);
    if (WANT(15))
        tb_chunk(t, 0, 15, sip_invite, strlen(sip_invite));
#undef WANT
}

/* ---- decoding ---- */

START_TEST(test_example_v4)
{
    hep_msg_t m;
    const uint8_t *p = guard_place(example_v4, sizeof(example_v4));
    ck_assert_int_eq(hep_parse(p, sizeof(example_v4), &m), 144);
    ck_assert_ptr_null(m.reason);
    ck_assert_int_eq(m.src.addr.family, 4);
    ck_assert_mem_eq(m.src.addr.bytes, ((uint8_t[]){192, 168, 1, 1}), 4);
    ck_assert_mem_eq(m.dst.addr.bytes, ((uint8_t[]){192, 168, 1, 2}), 4);
    ck_assert_uint_eq(m.src.port, 5060);
    ck_assert_uint_eq(m.dst.port, 5080);
    ck_assert_uint_eq(m.ip_proto, 17);
    ck_assert_uint_eq(m.ts_sec, 1600000000u);
    ck_assert_uint_eq(m.ts_usec, 123456);
    ck_assert_uint_eq(m.proto_type, HEP_PROTO_SIP);
    ck_assert_uint_eq(m.agent_id, 2001);
    ck_assert(sv_eq(m.auth_key, SV_LIT("myHep")));
    ck_assert(sv_eq(m.correlation_id, SV_LIT("abc@h")));
    ck_assert_uint_eq(m.payload_len, 23);
    ck_assert_mem_eq(m.payload, "BYE sip:b@h SIP/2.0\r\n\r\n", 23);
    ck_assert(!m.compressed);
    ck_assert_uint_eq(m.n_chunks, 13);
    ck_assert_uint_eq(m.n_unknown, 0);
    /* The payload borrows from the input. */
    ck_assert(m.payload >= p && m.payload + m.payload_len <= p + sizeof(example_v4));
    guard_release();
}
END_TEST

/* The spec-built packet and hep_encode agree byte for byte when given the same fields. */
START_TEST(test_encoder_matches_reference)
{
    tb_t *t = malloc(sizeof(*t));
    tb_standard(t, 0);
    size_t n = tb_end(t);
    hep_msg_t m = {
        .ip_proto = 17,
        .ts_sec = 1700000000,
        .ts_usec = 500000,
        .proto_type = HEP_PROTO_SIP,
        .agent_id = 7,
        .payload = (const uint8_t *)sip_invite,
        .payload_len = strlen(sip_invite),
        .correlation_id = SV_LIT("a84b4c76e66710@pc33"),
    };
    net_addr_v4(&m.src.addr, (const uint8_t[]){10, 0, 0, 1});
    net_addr_v4(&m.dst.addr, (const uint8_t[]){10, 0, 0, 2});
    m.src.port = 5060;
    m.dst.port = 5062;
    uint8_t out[512];
    ck_assert_uint_eq(hep_encoded_len(&m), n);
    ck_assert_int_eq(hep_encode(&m, out, sizeof(out)), (int)n);
    ck_assert_mem_eq(out, t->b, n);
    free(t);
}
END_TEST

/* The independent encoder in another shape: IPv6, chunks in a different order, another
 * vendor's chunk, generic types hep.c does not know (18 VLAN, 32 MOS), keep-alive, the
 * compressed payload, and a second packet right behind the first. */
START_TEST(test_independent_encoder_accepted)
{
    static const uint8_t a6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    static const uint8_t b6[16] = {0x20, 0x01, 0x0d, 0xb8, [14] = 0xbe, [15] = 0xef};
    static const uint8_t rtcp[] = {0x80, 0xc9, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef}; /* RR */
    tb_t *t = malloc(sizeof(*t));
    tb_begin(t);
    tb_chunk(t, 0, 15, rtcp, sizeof(rtcp)); /* payload first */
    tb_chunk(t, 0x0003, 1, "\x05", 1);      /* vendor 3 (OpenSIPS) chunk 1: skipped */
    tb_u32(t, 12, 0xfffffffe);
    tb_chunk(t, 0, 6, b6, 16);
    tb_chunk(t, 0, 5, a6, 16);
    tb_u16(t, 18, 100); /* VLAN: not read, skipped */
    tb_u8(t, 11, 5);
    tb_u16(t, 8, 40001);
    tb_u16(t, 7, 40000);
    tb_u16(t, 13, 60); /* keep-alive timer */
    tb_u32(t, 10, 999999);
    tb_u32(t, 9, 0xffffffff);
    tb_u16(t, 32, 420); /* MOS: skipped */
    tb_u8(t, 1, 10);
    size_t first = tb_end(t);
    /* Second packet: IPv4 SIP with a compressed payload (counted, not inflated), minimal. */
    tb_t *u = malloc(sizeof(*u));
    tb_begin(u);
    tb_u8(u, 1, 2);
    tb_chunk(u, 0, 3, "\x7f\x00\x00\x01", 4);
    tb_chunk(u, 0, 4, "\x7f\x00\x00\x02", 4);
    tb_u16(u, 7, 1);
    tb_u16(u, 8, 2);
    tb_u32(u, 9, 3);
    tb_u8(u, 11, 1);
    tb_chunk(u, 0, 16, "\x1f\x8b\x08\x00", 4);
    size_t second = tb_end(u);
    memcpy(t->b + first, u->b, second);

    const uint8_t *p = guard_place(t->b, first + second);
    hep_msg_t m;
    ck_assert_int_eq(hep_parse(p, first + second, &m), (int)first);
    ck_assert_int_eq(m.src.addr.family, 6);
    ck_assert_mem_eq(m.src.addr.bytes, a6, 16);
    ck_assert_mem_eq(m.dst.addr.bytes, b6, 16);
    ck_assert_uint_eq(m.src.port, 40000);
    ck_assert_uint_eq(m.dst.port, 40001);
    ck_assert_uint_eq(m.ip_proto, 0); /* chunk 2 absent */
    ck_assert_uint_eq(m.ts_sec, 0xffffffffu);
    ck_assert_uint_eq(m.ts_usec, 999999);
    ck_assert_uint_eq(m.proto_type, HEP_PROTO_RTCP);
    ck_assert_uint_eq(m.agent_id, 0xfffffffeu);
    ck_assert_uint_eq(m.payload_len, sizeof(rtcp));
    ck_assert_mem_eq(m.payload, rtcp, sizeof(rtcp));
    ck_assert_uint_eq(m.auth_key.len, 0);
    ck_assert_uint_eq(m.n_chunks, 14);
    ck_assert_uint_eq(m.n_unknown, 3);

    ck_assert_int_eq(hep_frame_len(p + first, second), (int)second);
    ck_assert_int_eq(hep_parse(p + first, second, &m), (int)second);
    ck_assert(m.compressed);
    ck_assert_uint_eq(m.payload_len, 4);
    ck_assert_uint_eq(m.agent_id, 0);
    guard_release();
    free(t);
    free(u);
}
END_TEST

START_TEST(test_frame_len)
{
    ck_assert_int_eq(hep_frame_len((const uint8_t *)"", 0), HEP_PARTIAL);
    ck_assert_int_eq(hep_frame_len((const uint8_t *)"HE", 2), HEP_PARTIAL);
    ck_assert_int_eq(hep_frame_len((const uint8_t *)"HEP3\x01", 5), HEP_PARTIAL);
    ck_assert_int_eq(hep_frame_len((const uint8_t *)"HX", 2), HEP_INVALID);
    ck_assert_int_eq(hep_frame_len((const uint8_t *)"HEP2\x00\x10", 6), HEP_INVALID);
    ck_assert_int_eq(hep_frame_len((const uint8_t *)"HEP3\x00\x05", 6), HEP_INVALID);
    ck_assert_int_eq(hep_frame_len((const uint8_t *)"HEP3\x00\x06", 6), 6);
    ck_assert_int_eq(hep_frame_len((const uint8_t *)"HEP3\xff\xff", 6), 65535);
    /* INVITE on a HEP port is not HEP. */
    ck_assert_int_eq(hep_frame_len((const uint8_t *)sip_invite, 6), HEP_INVALID);
}
END_TEST

/* ---- truncation: every prefix against a guard page ---- */

static void check_every_prefix(const uint8_t *pkt, size_t len)
{
    hep_msg_t m;
    for (size_t cut = 0; cut < len; cut++) {
        const uint8_t *p = guard_place(pkt, cut);
        int rc = hep_parse(p, cut, &m);
        ck_assert_msg(rc == HEP_PARTIAL, "prefix of %zu/%zu bytes: %d", cut, len, rc);
        ck_assert_ptr_nonnull(m.reason);
    }
    const uint8_t *p = guard_place(pkt, len);
    ck_assert_int_eq(hep_parse(p, len, &m), (int)len);
    guard_release();
}

START_TEST(test_every_prefix_is_partial)
{
    check_every_prefix(example_v4, sizeof(example_v4));
    tb_t *t = malloc(sizeof(*t));
    tb_standard(t, 0);
    check_every_prefix(t->b, tb_end(t));
    free(t);
}
END_TEST

/* A packet cut short whose total length was rewritten to match: now the chunks themselves
 * overrun. Every cut must be rejected, except a cut at a chunk boundary after which every
 * mandatory chunk is already in (the payload is last, so there is none here). */
START_TEST(test_every_cut_with_total_rewritten)
{
    uint8_t buf[sizeof(example_v4)];
    hep_msg_t m;
    for (size_t cut = 6; cut < sizeof(example_v4); cut++) {
        memcpy(buf, example_v4, cut);
        buf[4] = (uint8_t)(cut >> 8);
        buf[5] = (uint8_t)cut;
        const uint8_t *p = guard_place(buf, cut);
        int rc = hep_parse(p, cut, &m);
        ck_assert_msg(rc == HEP_INVALID, "cut at %zu: %d", cut, rc);
        ck_assert_ptr_nonnull(m.reason);
    }
    guard_release();
}
END_TEST

/* ---- malformed packets, table-driven ---- */

typedef struct {
    const char *name;
    void (*build)(tb_t *t);
    int expect;
    const char *reason; /* a substring of m.reason */
} bad_case_t;

#define OMIT(t) (1u << (t))

static void bad_magic(tb_t *t)
{
    tb_standard(t, 0);
    tb_end(t);
    t->b[3] = '2'; /* "HEP2" */
}

static void total_below_6(tb_t *t)
{
    tb_standard(t, 0);
    tb_end(t);
    t->b[4] = 0;
    t->b[5] = 5;
}

static void total_beyond_bytes(tb_t *t)
{
    tb_standard(t, 0);
    tb_end(t);
    t->b[5] = (uint8_t)(t->b[5] + 1); /* one byte more than there is */
}

static void chunk_length_5(tb_t *t)
{
    tb_standard(t, 0);
    tb_be16(t, 0);
    tb_be16(t, 99);
    tb_be16(t, 5); /* chunk length below its own header */
    tb_end(t);
}

static void chunk_length_0(tb_t *t)
{
    tb_begin(t);
    tb_be16(t, 0);
    tb_be16(t, 1);
    tb_be16(t, 0);
    tb_end(t);
}

static void chunk_past_end(tb_t *t)
{
    tb_standard(t, 0);
    tb_end(t);
    t->b[t->n - strlen(sip_invite) - 1]++; /* the payload chunk claims one byte more */
}

static void chunk_header_cut(tb_t *t)
{
    tb_standard(t, 0);
    tb_bytes(t, "\x00\x00\x00", 3); /* 3 stray bytes inside the total length */
    tb_end(t);
}

static void ipv4_wrong_size(tb_t *t)
{
    tb_standard(t, OMIT(3));
    tb_chunk(t, 0, 3, "\x0a\x00\x00\x01\x00", 5);
    tb_end(t);
}

static void ipv6_wrong_size(tb_t *t)
{
    tb_standard(t, 0);
    tb_chunk(t, 0, 5, "\x0a\x00\x00\x01", 4);
    tb_end(t);
}

static void port_wrong_size(tb_t *t)
{
    tb_standard(t, OMIT(7));
    tb_u32(t, 7, 5060);
    tb_end(t);
}

static void family_byte_twice(tb_t *t)
{
    tb_standard(t, OMIT(1));
    tb_chunk(t, 0, 1, "\x02\x02", 2);
    tb_end(t);
}

static void unknown_family(tb_t *t)
{
    tb_standard(t, OMIT(1));
    tb_u8(t, 1, 3);
    tb_end(t);
}

static void no_family(tb_t *t)
{
    tb_standard(t, OMIT(1));
    tb_end(t);
}

static void no_ipv4_src(tb_t *t)
{
    tb_standard(t, OMIT(3));
    tb_end(t);
}

static void family6_with_ipv4(tb_t *t)
{
    tb_standard(t, OMIT(1));
    tb_u8(t, 1, 10);
    tb_end(t);
}

static void no_dst_port(tb_t *t)
{
    tb_standard(t, OMIT(8));
    tb_end(t);
}

static void no_timestamp(tb_t *t)
{
    tb_standard(t, OMIT(9));
    tb_end(t);
}

static void no_proto_type(tb_t *t)
{
    tb_standard(t, OMIT(11));
    tb_end(t);
}

static void payload_absent(tb_t *t)
{
    tb_standard(t, OMIT(15));
    tb_end(t);
}

static void payload_empty(tb_t *t)
{
    tb_standard(t, OMIT(15));
    tb_chunk(t, 0, 15, "", 0);
    tb_end(t);
}

static void payload_twice(tb_t *t)
{
    tb_standard(t, 0);
    tb_chunk(t, 0, 15, "x", 1);
    tb_end(t);
}

static void payload_and_compressed(tb_t *t)
{
    tb_standard(t, 0);
    tb_chunk(t, 0, 16, "\x1f\x8b", 2);
    tb_end(t);
}

static void usec_too_big(tb_t *t)
{
    tb_standard(t, OMIT(10));
    tb_u32(t, 10, 1000000);
    tb_end(t);
}

static void header_only(tb_t *t)
{
    tb_begin(t);
    tb_end(t);
}

static const bad_case_t bad_cases[] = {
    {"bad magic", bad_magic, HEP_INVALID, "not HEP3"},
    {"total length < 6", total_below_6, HEP_INVALID, "below 6"},
    {"total length > bytes present", total_beyond_bytes, HEP_PARTIAL, "beyond"},
    {"chunk length 5", chunk_length_5, HEP_INVALID, "chunk length below 6"},
    {"chunk length 0", chunk_length_0, HEP_INVALID, "chunk length below 6"},
    {"chunk past end", chunk_past_end, HEP_INVALID, "chunk past the end"},
    {"chunk header cut", chunk_header_cut, HEP_INVALID, "chunk header past the end"},
    {"IPv4 chunk of 5 bytes", ipv4_wrong_size, HEP_INVALID, "wrong size"},
    {"IPv6 chunk of 4 bytes", ipv6_wrong_size, HEP_INVALID, "wrong size"},
    {"port chunk of 4 bytes", port_wrong_size, HEP_INVALID, "wrong size"},
    {"family chunk of 2 bytes", family_byte_twice, HEP_INVALID, "wrong size"},
    {"unknown family 3", unknown_family, HEP_INVALID, "unknown IP family"},
    {"no family", no_family, HEP_INVALID, "no IP family"},
    {"no IPv4 source", no_ipv4_src, HEP_INVALID, "no IPv4"},
    {"IPv6 family, IPv4 addresses", family6_with_ipv4, HEP_INVALID, "no IPv6"},
    {"no destination port", no_dst_port, HEP_INVALID, "no ports"},
    {"no timestamp", no_timestamp, HEP_INVALID, "no timestamp"},
    {"no protocol type", no_proto_type, HEP_INVALID, "no protocol type"},
    {"payload absent", payload_absent, HEP_INVALID, "no payload"},
    {"payload empty", payload_empty, HEP_INVALID, "empty payload"},
    {"payload twice", payload_twice, HEP_INVALID, "duplicate"},
    {"payload and compressed", payload_and_compressed, HEP_INVALID, "both"},
    {"usec 10^6", usec_too_big, HEP_INVALID, "microseconds"},
    {"header only", header_only, HEP_INVALID, "no IP family"},
};

START_TEST(test_malformed)
{
    const bad_case_t *bc = &bad_cases[_i];
    tb_t *t = malloc(sizeof(*t));
    bc->build(t);
    hep_msg_t m;
    const uint8_t *p = guard_place(t->b, t->n);
    int rc = hep_parse(p, t->n, &m);
    ck_assert_msg(rc == bc->expect, "%s: rc %d", bc->name, rc);
    ck_assert_msg(m.reason != NULL && strstr(m.reason, bc->reason) != NULL, "%s: reason \"%s\"",
                  bc->name, m.reason ? m.reason : "(null)");
    guard_release();
    free(t);
}
END_TEST

/* ---- round trips ---- */

static void make_msg(hep_msg_t *m, int family, uint8_t proto, bool extras)
{
    static const char rtcp[] = "\x81\xc8\x00\x06"
                               "ssrcntpsntpfrtp_pkt_octs"; /* SR, 28 bytes */
    memset(m, 0, sizeof(*m));
    if (family == 4) {
        net_addr_v4(&m->src.addr, (const uint8_t[]){172, 16, 0, 1});
        net_addr_v4(&m->dst.addr, (const uint8_t[]){172, 16, 0, 254});
    } else {
        net_addr_v6(&m->src.addr, (const uint8_t[16]){0xfe, 0x80, [15] = 1});
        net_addr_v6(&m->dst.addr, (const uint8_t[16]){0xfe, 0x80, [14] = 0xff, [15] = 2});
    }
    m->src.port = 5060;
    m->dst.port = 65535;
    m->ip_proto = proto == HEP_PROTO_SIP ? 6 : 17;
    m->ts_sec = 1234567890;
    m->ts_usec = 999999;
    m->proto_type = proto;
    m->agent_id = 0x01020304;
    if (proto == HEP_PROTO_SIP) {
        m->payload = (const uint8_t *)sip_invite;
        m->payload_len = strlen(sip_invite);
    } else {
        m->payload = (const uint8_t *)rtcp;
        m->payload_len = 28;
    }
    if (extras) {
        m->auth_key = SV_LIT("s3cret");
        m->correlation_id = SV_LIT("a84b4c76e66710@pc33");
    }
}

static void assert_same(const hep_msg_t *a, const hep_msg_t *b)
{
    ck_assert(net_endpoint_eq(&a->src, &b->src));
    ck_assert(net_endpoint_eq(&a->dst, &b->dst));
    ck_assert_uint_eq(a->ip_proto, b->ip_proto);
    ck_assert_uint_eq(a->ts_sec, b->ts_sec);
    ck_assert_uint_eq(a->ts_usec, b->ts_usec);
    ck_assert_uint_eq(a->proto_type, b->proto_type);
    ck_assert_uint_eq(a->agent_id, b->agent_id);
    ck_assert_uint_eq(a->payload_len, b->payload_len);
    ck_assert_mem_eq(a->payload, b->payload, a->payload_len);
    ck_assert(a->compressed == b->compressed);
    ck_assert(sv_eq(a->auth_key, b->auth_key));
    ck_assert(sv_eq(a->correlation_id, b->correlation_id));
}

/* _i: bit 0 family (IPv4/IPv6), bit 1 protocol (SIP/RTCP), bit 2 key + correlation id,
 * bit 3 compressed. */
START_TEST(test_roundtrip)
{
    hep_msg_t in, out;
    make_msg(&in, (_i & 1) ? 6 : 4, (_i & 2) ? HEP_PROTO_RTCP : HEP_PROTO_SIP, (_i & 4) != 0);
    in.compressed = (_i & 8) != 0;
    uint8_t buf[1024];
    int n = hep_encode(&in, buf, sizeof(buf));
    ck_assert_int_gt(n, 0);
    ck_assert_uint_eq((size_t)n, hep_encoded_len(&in));
    const uint8_t *p = guard_place(buf, (size_t)n);
    ck_assert_int_eq(hep_parse(p, (size_t)n, &out), n);
    assert_same(&in, &out);
    ck_assert_uint_eq(out.n_unknown, 0);
    check_every_prefix(buf, (size_t)n);
    guard_release();
}
END_TEST

START_TEST(test_encode_errors)
{
    hep_msg_t m;
    make_msg(&m, 6, HEP_PROTO_SIP, true);
    uint8_t buf[1024];
    size_t need = hep_encoded_len(&m);
    for (size_t cap = 0; cap < need; cap++)
        ck_assert_int_eq(hep_encode(&m, buf, cap), -ENOSPC);
    ck_assert_int_eq(hep_encode(&m, buf, need), (int)need);

    hep_msg_t bad = m;
    net_addr_v4(&bad.dst.addr, (const uint8_t[]){1, 2, 3, 4}); /* IPv6 -> IPv4 */
    ck_assert_int_eq(hep_encode(&bad, buf, sizeof(buf)), -EINVAL);
    bad = m;
    memset(&bad.src.addr, 0, sizeof(bad.src.addr));
    memset(&bad.dst.addr, 0, sizeof(bad.dst.addr));
    ck_assert_int_eq(hep_encode(&bad, buf, sizeof(buf)), -EINVAL);
    bad = m;
    bad.payload_len = 0;
    ck_assert_int_eq(hep_encode(&bad, buf, sizeof(buf)), -EINVAL);
    bad = m;
    bad.correlation_id = sv_make(NULL, 3);
    ck_assert_int_eq(hep_encode(&bad, buf, sizeof(buf)), -EINVAL);

    /* The largest payload that fits, and one byte more. */
    size_t overhead = need - m.payload_len;
    uint8_t *big = calloc(1, HEP_MAX_LEN), *out = malloc(HEP_MAX_LEN + 16);
    bad = m;
    bad.payload = big;
    bad.payload_len = HEP_MAX_LEN - overhead;
    ck_assert_int_eq(hep_encode(&bad, out, HEP_MAX_LEN + 16), (int)HEP_MAX_LEN);
    hep_msg_t back;
    ck_assert_int_eq(hep_parse(out, HEP_MAX_LEN, &back), (int)HEP_MAX_LEN);
    bad.payload_len++;
    ck_assert_int_eq(hep_encode(&bad, out, HEP_MAX_LEN + 16), -EMSGSIZE);
    free(big);
    free(out);
}
END_TEST

START_TEST(test_proto_names)
{
    ck_assert_str_eq(hep_proto_name(HEP_PROTO_SIP), "SIP");
    ck_assert_str_eq(hep_proto_name(HEP_PROTO_RTCP), "RTCP");
    ck_assert_str_eq(hep_proto_name(200), "unknown");
}
END_TEST

/* ---- tshark reads what hep_encode writes ----
 *
 * The packets go into a pcap as Ethernet/IPv4/UDP 127.0.0.1:40000 -> 127.0.0.1:9060 and tshark
 * is asked for the Call-ID of the SIP inside. Debian 12's tshark (4.0) has no HEP dissector of
 * its own (Wireshark's HEP support is sipcapture's Lua plugin), so when tshark does not know
 * "hep" the test gives it this one, written from the HEP3 specification: it walks the chunks,
 * shows the agent id and hands the payload chunk of a SIP packet to tshark's SIP dissector. */
static const char hep_lua[] =
    "local hep = Proto('hep', 'HEPv3 (sipscope test dissector)')\n"
    "local f_agent = ProtoField.uint32('hep.agent_id', 'Capture agent id')\n"
    "local f_type = ProtoField.uint8('hep.proto_type', 'Protocol type')\n"
    "hep.fields = {f_agent, f_type}\n"
    "function hep.dissector(tvb, pinfo, tree)\n"
    "  if tvb:len() < 6 or tvb(0, 4):string() ~= 'HEP3' then return 0 end\n"
    "  local total = tvb(4, 2):uint()\n"
    "  if total > tvb:len() then return 0 end\n"
    "  local t = tree:add(hep, tvb(0, total))\n"
    "  local off, payload, ptype = 6, nil, 0\n"
    "  while off + 6 <= total do\n"
    "    local vendor, ctype = tvb(off, 2):uint(), tvb(off + 2, 2):uint()\n"
    "    local clen = tvb(off + 4, 2):uint()\n"
    "    if clen < 6 or off + clen > total then return 0 end\n"
    "    if vendor == 0 and ctype == 11 then\n"
    "      ptype = tvb(off + 6, 1):uint(); t:add(f_type, tvb(off + 6, 1))\n"
    "    end\n"
    "    if vendor == 0 and ctype == 12 then t:add(f_agent, tvb(off + 6, 4)) end\n"
    "    if vendor == 0 and ctype == 15 and clen > 6 then payload = tvb(off + 6, clen - 6) end\n"
    "    off = off + clen\n"
    "  end\n"
    "  pinfo.cols.protocol = 'HEP3'\n"
    "  if payload and ptype == 1 then Dissector.get('sip'):call(payload:tvb(), pinfo, tree) end\n"
    "  return total\n"
    "end\n"
    "DissectorTable.get('udp.port'):add_for_decode_as(hep)\n";

static void put_be16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* One Ethernet/IPv4/UDP frame carrying data, as a pcap record. */
static void pcap_write_udp(FILE *f, uint32_t ts, const uint8_t *data, size_t len)
{
    uint8_t rec[16], hdr[42] = {0};
    size_t frame = sizeof(hdr) + len;
    put_le32(rec, ts);
    put_le32(rec + 4, 0);
    put_le32(rec + 8, (uint32_t)frame);
    put_le32(rec + 12, (uint32_t)frame);
    put_be16(hdr + 12, 0x0800); /* Ethernet: IPv4 */
    uint8_t *ip = hdr + 14, *udp = hdr + 34;
    ip[0] = 0x45; /* version 4, IHL 5 */
    put_be16(ip + 2, (unsigned)(20 + 8 + len));
    ip[8] = 64; /* TTL */
    ip[9] = 17; /* UDP */
    memcpy(ip + 12, "\x7f\x00\x00\x01\x7f\x00\x00\x01", 8);
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2)
        sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    put_be16(ip + 10, ~sum & 0xffff);
    put_be16(udp, 40000);
    put_be16(udp + 2, 9060);
    put_be16(udp + 4, (unsigned)(8 + len)); /* checksum 0: none */
    ck_assert_uint_eq(fwrite(rec, 1, sizeof(rec), f), sizeof(rec));
    ck_assert_uint_eq(fwrite(hdr, 1, sizeof(hdr), f), sizeof(hdr));
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
}

static bool tshark_knows_hep(void)
{
    FILE *p = popen("tshark -G protocols 2>/dev/null", "r");
    if (p == NULL)
        return false;
    char line[512];
    bool found = false;
    while (fgets(line, sizeof(line), p) != NULL) {
        char *tab = strrchr(line, '\t');
        if (tab != NULL && strcmp(tab + 1, "hep\n") == 0)
            found = true;
    }
    pclose(p);
    return found;
}

START_TEST(test_tshark_decodes_encoded)
{
    if (system("command -v tshark >/dev/null 2>&1") != 0) {
        fprintf(stderr, "check_hep: tshark not installed, skipping the tshark test\n");
        test_skip("test_tshark_decodes_encoded needs tshark");
        return;
    }
    char pcap[] = "/tmp/check_hep_XXXXXX", lua[] = "/tmp/check_hep_lua_XXXXXX";
    int fd = mkstemp(pcap);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "wb");
    uint8_t gh[24] = {0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0}; /* pcap v2.4, microseconds */
    put_le32(gh + 16, 65535);                              /* snaplen */
    put_le32(gh + 20, 1);                                  /* LINKTYPE_ETHERNET */
    ck_assert_uint_eq(fwrite(gh, 1, sizeof(gh), f), sizeof(gh));
    static const char *const ids[] = {"first-call@10.0.0.1", "second-call@[2001:db8::1]",
                                      "third-call-rtcp-none"};
    char sip[512];
    uint8_t buf[1024];
    for (int i = 0; i < 3; i++) {
        hep_msg_t m;
        make_msg(&m, i == 1 ? 6 : 4, HEP_PROTO_SIP, i == 0);
        int sl = snprintf(sip, sizeof(sip),
                          "OPTIONS sip:probe@example.com SIP/2.0\r\n"
                          "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK%d\r\n"
                          "From: <sip:a@example.com>;tag=%d\r\nTo: <sip:probe@example.com>\r\n"
                          "Call-ID: %s\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
                          i, i, ids[i]);
        ck_assert(sl > 0 && (size_t)sl < sizeof(sip));
        m.payload = (const uint8_t *)sip;
        m.payload_len = (size_t)sl;
        m.agent_id = 100 + (uint32_t)i;
        m.correlation_id = sv_from_cstr(ids[i]);
        int n = hep_encode(&m, buf, sizeof(buf));
        ck_assert_int_gt(n, 0);
        pcap_write_udp(f, 1700000000u + (uint32_t)i, buf, (size_t)n);
    }
    fclose(f);

    char extra[128] = "";
    if (!tshark_knows_hep()) {
        int lfd = mkstemp(lua);
        ck_assert_int_ge(lfd, 0);
        ck_assert_int_eq(write(lfd, hep_lua, strlen(hep_lua)), (ssize_t)strlen(hep_lua));
        close(lfd);
        snprintf(extra, sizeof(extra), "-X lua_script:%s", lua);
    }
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "tshark %s -r %s -d udp.port==9060,hep -Y sip -T fields -e sip.Call-ID "
             "-e sip.Method 2>/dev/null",
             extra, pcap);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char line[512];
    int got = 0;
    while (fgets(line, sizeof(line), p) != NULL && got < 3) {
        char want[256];
        snprintf(want, sizeof(want), "%s\tOPTIONS\n", ids[got]);
        ck_assert_str_eq(line, want);
        got++;
    }
    pclose(p);
    unlink(pcap);
    if (extra[0] != '\0')
        unlink(lua);
    ck_assert_int_eq(got, 3);
}
END_TEST

Suite *hep_suite(void)
{
    Suite *s = suite_create("hep");
    TCase *tc = tcase_create("decode");
    tcase_add_test(tc, test_example_v4);
    tcase_add_test(tc, test_encoder_matches_reference);
    tcase_add_test(tc, test_independent_encoder_accepted);
    tcase_add_test(tc, test_frame_len);
    suite_add_tcase(s, tc);

    tc = tcase_create("truncation");
    tcase_add_test(tc, test_every_prefix_is_partial);
    tcase_add_test(tc, test_every_cut_with_total_rewritten);
    suite_add_tcase(s, tc);

    tc = tcase_create("malformed");
    tcase_add_loop_test(tc, test_malformed, 0, (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
    suite_add_tcase(s, tc);

    tc = tcase_create("roundtrip");
    tcase_add_loop_test(tc, test_roundtrip, 0, 16);
    tcase_add_test(tc, test_encode_errors);
    tcase_add_test(tc, test_proto_names);
    suite_add_tcase(s, tc);

    tc = tcase_create("tshark");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_tshark_decodes_encoded);
    suite_add_tcase(s, tc);
    return s;
}
