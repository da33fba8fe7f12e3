/* check_ip: IPv4 and IPv6 through cap_: header checks, IPv6 extension headers, tunnels (IP-in-IP,
 * GRE, ERSPAN, VXLAN), IP fragment reassembly, and frames truncated at every byte. */
#include <check.h>
#include <pcap/dlt.h>
#include <stdlib.h>
#include <string.h>

#include "capsink.h"
#include "frames.h"
#include "guard.h"

START_TEST(test_ipv4_header_checks)
{
    cap_t *cap = new_cap();
    const cap_stats_t *st = cap_stats(cap);

    /* Options (IHL 7), and a 4-byte FCS trailer that the total length trims. */
    pkt_t *k = pk_str("opts");
    w_udp(k, 1, 2);
    w_ip4x(k, 17, "192.0.2.1", "192.0.2.2", 1, 0, 8);
    w_eth(k, 0x0800);
    pk_append(k, "\xde\xad\xbe\xef", 4);
    feed(cap, DLT_EN10MB, k);
    ck_assert_uint_eq(S.nrecs, 1);
    ck_assert_uint_eq(S.recs[0].len, 4);
    ck_assert_str_eq((char *)S.recs[0].data, "opts");
    ck_assert_uint_eq(S.recs[0].l3_len, 28 + 8 + 4);

    /* IHL below 5. */
    k = udp4("x");
    k->buf[k->start] = 0x44;
    feed(cap, DLT_RAW, k);
    ck_assert_uint_eq(st->bad_header, 1);
    /* Total length shorter than the header. */
    k = udp4("x");
    put16(k->buf + k->start + 2, 16);
    feed(cap, DLT_RAW, k);
    ck_assert_uint_eq(st->bad_header, 2);
    /* IHL beyond the total length. */
    k = udp4("x");
    k->buf[k->start] = 0x4f;
    feed(cap, DLT_RAW, k);
    ck_assert_uint_eq(st->bad_header, 3);
    /* Total length beyond the frame: cut by the snap length. */
    k = udp4("x");
    put16(k->buf + k->start + 2, 1000);
    feed(cap, DLT_RAW, k);
    ck_assert_uint_eq(st->truncated, 1);
    /* UDP length below 8, and beyond the IP payload. */
    k = udp4("x");
    put16(k->buf + k->start + 24, 7);
    feed(cap, DLT_RAW, k);
    ck_assert_uint_eq(st->bad_header, 4);
    k = udp4("x");
    put16(k->buf + k->start + 24, 10);
    feed(cap, DLT_RAW, k);
    ck_assert_uint_eq(st->bad_header, 5);
    /* An IP payload too short for a UDP header. */
    k = pk_str("1234567");
    w_ip4(k, 17, "192.0.2.1", "192.0.2.2");
    feed(cap, DLT_RAW, k);
    ck_assert_uint_eq(st->truncated, 2);
    /* UDP length shorter than the IP payload: the rest is not payload. */
    k = udp4("xyz");
    put16(k->buf + k->start + 24, 9);
    feed(cap, DLT_RAW, k);
    ck_assert_uint_eq(S.nrecs, 2);
    ck_assert_uint_eq(S.recs[1].len, 1);
    /* TCP data offset below 5. */
    k = pk_str("t");
    w_tcp(k, 1, 2, 0, F_ACK);
    k->buf[k->start + 12] = 4 << 4;
    w_ip4(k, 6, "192.0.2.1", "192.0.2.2");
    feed(cap, DLT_RAW, k);
    ck_assert_uint_eq(st->bad_header, 6);
    /* TCP data offset beyond the segment. */
    k = pk_str("");
    w_tcp(k, 1, 2, 0, F_ACK);
    k->buf[k->start + 12] = 6 << 4;
    w_ip4(k, 6, "192.0.2.1", "192.0.2.2");
    feed(cap, DLT_RAW, k);
    ck_assert_uint_eq(st->bad_header, 7);
    ck_assert_uint_eq(st->tcp_segments, 0);
    ck_assert_uint_eq(S.nrecs, 2);
    cap_free(cap);
}
END_TEST

START_TEST(test_ipv6_extension_headers)
{
    cap_t *cap = new_cap();
    const cap_stats_t *st = cap_stats(cap);
    pkt_t *k = pk_str("ext");
    w_udp(k, 5060, 5060);
    w_ah6(k, 17);
    w_ext6(k, 51, 1); /* routing -> AH */
    w_ext6(k, 43, 0); /* destination options -> routing */
    w_ext6(k, 60, 2); /* hop-by-hop -> destination options */
    w_ip6(k, 0, "2001:db8::1", "2001:db8::2");
    w_eth(k, 0x86dd);
    feed(cap, DLT_EN10MB, k);
    ck_assert_uint_eq(S.nrecs, 1);
    ck_assert_str_eq((char *)S.recs[0].data, "ext");

    /* Atomic fragment (RFC 6946): offset 0, M clear. */
    k = pk_str("atomic");
    w_udp(k, 5060, 5060);
    w_frag6(k, 17, 0, false, 99);
    w_ip6(k, 44, "2001:db8::1", "2001:db8::2");
    feed(cap, DLT_RAW, k);
    ck_assert_uint_eq(S.nrecs, 2);
    ck_assert(!S.recs[1].reassembled);
    ck_assert_uint_eq(st->ip_fragments, 0);

    /* Eight destination options headers are walked; nine are more than the walk allows. */
    for (int count = 8; count <= 9; count++) {
        k = pk_str("many");
        w_udp(k, 5060, 5060);
        uint8_t nh = 17;
        for (int i = 0; i < count; i++) {
            w_ext6(k, nh, 0);
            nh = 60;
        }
        w_ip6(k, 60, "2001:db8::1", "2001:db8::2");
        feed(cap, DLT_RAW, k);
    }
    ck_assert_uint_eq(st->bad_header, 1);
    ck_assert_uint_eq(S.nrecs, 3);

    /* No next header. */
    k = pk_str("");
    w_ip6(k, 59, "2001:db8::1", "2001:db8::2");
    feed(cap, DLT_RAW, k);
    ck_assert_uint_eq(st->other_ip_proto, 1);

    /* An extension header longer than the packet. */
    k = pk_str("");
    w_ext6(k, 17, 0);
    k->buf[k->start + 1] = 9;
    w_ip6(k, 0, "2001:db8::1", "2001:db8::2");
    feed(cap, DLT_RAW, k);
    ck_assert_uint_eq(st->truncated, 1);

    /* Payload length beyond the frame. */
    k = pk_str("x");
    w_udp(k, 1, 2);
    w_ip6(k, 17, "2001:db8::1", "2001:db8::2");
    put16(k->buf + k->start + 4, 100);
    feed(cap, DLT_RAW, k);
    ck_assert_uint_eq(st->truncated, 2);
    ck_assert_uint_eq(S.nrecs, 3);
    cap_free(cap);
}
END_TEST

/* ---- tunnels ----------------------------------------------------------------------------------
 */

enum {
    TUN_IPIP,
    TUN_6IN4,
    TUN_4IN6,
    TUN_GRE,
    TUN_GRE_CKS,
    TUN_GRE_V6,
    TUN_GRE_TEB,
    TUN_ERSPAN1,
    TUN_ERSPAN2,
    TUN_ERSPAN3,
    TUN_ERSPAN3_SUB,
    TUN_VXLAN,
    TUN_GRE_IN_V6,
    TUN_VXLAN_IN_GRE,
    TUN_COUNT
};

static const char *const tun_names[TUN_COUNT] = {
    "ipip",           "6in4",    "4in6",      "gre",         "gre-cks",
    "gre-v6",         "gre-teb", "erspan-i",  "erspan-ii",   "erspan-iii",
    "erspan-iii-sub", "vxlan",   "gre-in-v6", "vxlan-in-gre"};

/* The inner packet of every tunnel case: UDP in IPv4 (IPv6 for 6in4 and gre-v6). */
static pkt_t *tunnel_inner(int kind, bool v6)
{
    pkt_t *k = pk_str(tun_names[kind]);
    w_udp(k, 1111, 2222);
    if (v6)
        w_ip6(k, 17, "fd00::1", "fd00::2");
    else
        w_ip4(k, 17, "10.0.0.1", "10.0.0.2");
    return k;
}

START_TEST(test_tunnels)
{
    int kind = _i;
    cap_t *cap = new_cap();
    bool inner_v6 = kind == TUN_6IN4 || kind == TUN_GRE_V6;
    pkt_t *k = tunnel_inner(kind, inner_v6);
    size_t inner_len = pk_len(k);
    switch (kind) {
        case TUN_IPIP:
            w_ip4(k, 4, "192.0.2.1", "192.0.2.2");
            break;
        case TUN_6IN4:
            w_ip4(k, 41, "192.0.2.1", "192.0.2.2");
            break;
        case TUN_4IN6:
            w_ip6(k, 4, "2001:db8::1", "2001:db8::2");
            break;
        case TUN_GRE:
            w_gre(k, 0x0800, 0);
            w_ip4(k, 47, "192.0.2.1", "192.0.2.2");
            break;
        case TUN_GRE_CKS:
            w_gre(k, 0x0800, GRE_C | GRE_K | GRE_S);
            w_ip4(k, 47, "192.0.2.1", "192.0.2.2");
            break;
        case TUN_GRE_V6:
            w_gre(k, 0x86dd, GRE_K);
            w_ip4(k, 47, "192.0.2.1", "192.0.2.2");
            break;
        case TUN_GRE_TEB:
            w_eth(k, 0x0800);
            w_gre(k, 0x6558, GRE_K);
            w_ip4(k, 47, "192.0.2.1", "192.0.2.2");
            break;
        case TUN_ERSPAN1:
            w_eth(k, 0x0800);
            w_gre(k, 0x88be, 0);
            w_ip4(k, 47, "192.0.2.1", "192.0.2.2");
            break;
        case TUN_ERSPAN2:
            w_vlan(k, 300, 0x0800);
            w_eth(k, 0x8100);
            w_erspan2(k);
            w_gre(k, 0x88be, GRE_S);
            w_ip4(k, 47, "192.0.2.1", "192.0.2.2");
            break;
        case TUN_ERSPAN3:
            w_eth(k, 0x0800);
            w_erspan3(k, false, 0);
            w_gre(k, 0x22eb, GRE_S);
            w_ip4(k, 47, "192.0.2.1", "192.0.2.2");
            break;
        case TUN_ERSPAN3_SUB:
            w_eth(k, 0x0800);
            w_erspan3(k, true, 0);
            w_gre(k, 0x22eb, GRE_S);
            w_ip4(k, 47, "192.0.2.1", "192.0.2.2");
            break;
        case TUN_VXLAN:
            w_eth(k, 0x0800);
            w_vxlan(k, true);
            w_udp(k, 49152, 4789);
            w_ip4(k, 17, "192.0.2.1", "192.0.2.2");
            break;
        case TUN_GRE_IN_V6:
            w_gre(k, 0x0800, 0);
            w_ip6(k, 47, "2001:db8::1", "2001:db8::2");
            break;
        case TUN_VXLAN_IN_GRE:
            w_eth(k, 0x0800);
            w_vxlan(k, true);
            w_udp(k, 49152, 4789);
            w_ip4(k, 17, "192.0.2.3", "192.0.2.4");
            w_gre(k, 0x0800, 0);
            w_ip4(k, 47, "192.0.2.1", "192.0.2.2");
            break;
        default:
            ck_abort();
    }
    w_eth(k, (k->buf[k->start] >> 4) == 6 ? 0x86dd : 0x0800);
    const uint8_t *frame = pk_data(k);
    size_t flen = pk_len(k);
    cap_process_frame(cap, DLT_EN10MB, T0, frame, (uint32_t)flen, (uint32_t)flen);
    ck_assert_uint_eq(S.nrecs, 1);
    rec_t *r = &S.recs[0];
    ck_assert_str_eq((char *)r->data, tun_names[kind]);
    if (inner_v6) {
        ck_assert_str_eq(r->src, "[fd00::1]:1111");
        ck_assert_str_eq(r->dst, "[fd00::2]:2222");
    } else {
        ck_assert_str_eq(r->src, "10.0.0.1:1111");
        ck_assert_str_eq(r->dst, "10.0.0.2:2222");
    }
    /* l3 is the innermost IP header, at the end of the frame. */
    ck_assert_uint_eq(r->l3_first >> 4, inner_v6 ? 6 : 4);
    ck_assert_ptr_eq(r->l3, frame + flen - inner_len);
    ck_assert_uint_eq(r->l3_len, inner_len);
    ck_assert_uint_eq(r->vlan, kind == TUN_ERSPAN2 ? 300 : 0);
    ck_assert_uint_eq(r->frame_caplen, flen);
    const cap_stats_t *st = cap_stats(cap);
    ck_assert_uint_eq(st->tunnels, 1);
    ck_assert_uint_eq(st->udp_packets, 1);
    free(k);
    cap_free(cap);
}
END_TEST

/* A truncated or malformed tunnel header is counted, not followed. */
START_TEST(test_tunnel_malformed)
{
    cap_t *cap = new_cap();
    const cap_stats_t *st = cap_stats(cap);
    pkt_t *k = pk_str("");
    w_gre(k, 0x0800, GRE_C | GRE_K);
    k->end -= 2; /* key cut short */
    w_ip4(k, 47, "192.0.2.1", "192.0.2.2");
    feed(cap, DLT_RAW, k);
    ck_assert_uint_eq(st->truncated, 1);
    k = tunnel_inner(TUN_ERSPAN2, false);
    w_eth(k, 0x0800);
    w_erspan2(k);
    k->buf[k->start] = 0x70; /* version 7 */
    w_gre(k, 0x88be, GRE_S);
    w_ip4(k, 47, "192.0.2.1", "192.0.2.2");
    feed(cap, DLT_RAW, k);
    ck_assert_uint_eq(st->bad_header, 1);
    k = tunnel_inner(TUN_ERSPAN3, false);
    w_eth(k, 0x0800);
    w_erspan3(k, false, 2); /* frame type 2: not Ethernet */
    w_gre(k, 0x22eb, GRE_S);
    w_ip4(k, 47, "192.0.2.1", "192.0.2.2");
    feed(cap, DLT_RAW, k);
    ck_assert_uint_eq(st->non_ip, 1);
    /* VXLAN port without the I flag: plain UDP to port 4789. */
    k = pk_str("plain udp");
    w_udp(k, 1, 4789);
    w_ip4(k, 17, "192.0.2.1", "192.0.2.2");
    feed(cap, DLT_RAW, k);
    ck_assert_uint_eq(S.nrecs, 1);
    ck_assert_str_eq(S.recs[0].dst, "192.0.2.2:4789");
    ck_assert_uint_eq(st->tunnels, 3);
    cap_free(cap);
}
END_TEST

/* IP-in-IP nested n deep: 4 tunnels are followed, a 5th is a tunnel bomb. */
START_TEST(test_tunnel_depth)
{
    cap_t *cap = new_cap();
    for (int depth = 4; depth <= 5; depth++) {
        pkt_t *k = pk_str("nested");
        w_udp(k, 1, 2);
        w_ip4(k, 17, "10.0.0.1", "10.0.0.2");
        for (int i = 0; i < depth; i++)
            w_ip4(k, 4, "192.0.2.1", "192.0.2.2");
        feed(cap, DLT_RAW, k);
    }
    ck_assert_uint_eq(S.nrecs, 1);
    ck_assert_uint_eq(cap_stats(cap)->bad_header, 1);
    ck_assert_uint_eq(cap_stats(cap)->tunnels, 2);
    cap_free(cap);
}
END_TEST

/* ---- IP fragments --------------------------------------------------------------------------- */

#define DGRAM_LEN 3000

/* A UDP datagram (header included) of DGRAM_LEN bytes with a recognisable pattern. */
static uint8_t *make_dgram(size_t payload_len)
{
    uint8_t *d = malloc(payload_len + 8);
    ck_assert_ptr_nonnull(d);
    put16(d, 5060);
    put16(d + 2, 5080);
    put16(d + 4, (uint32_t)(payload_len + 8));
    put16(d + 6, 0);
    for (size_t i = 0; i < payload_len; i++)
        d[8 + i] = (uint8_t)(i * 7 + (i >> 8));
    return d;
}

/* The IPv4 fragment [off, off+len) of d in an Ethernet frame. */
static pkt_t *frag4(const uint8_t *d, size_t off, size_t len, bool more, uint16_t id)
{
    pkt_t *k = pk_new(d + off, len);
    w_ip4x(k, 17, "192.0.2.1", "198.51.100.2", id, (uint16_t)((more ? 0x2000 : 0) | off / 8), 0);
    w_eth(k, 0x0800);
    return k;
}

static void check_dgram(const rec_t *r, const uint8_t *d, size_t payload_len)
{
    ck_assert_uint_eq(r->proto, CAP_PROTO_UDP);
    ck_assert_str_eq(r->src, "192.0.2.1:5060");
    ck_assert_str_eq(r->dst, "198.51.100.2:5080");
    ck_assert(r->reassembled);
    ck_assert_uint_eq(r->len, payload_len);
    ck_assert_mem_eq(r->data, d + 8, payload_len);
}

/* Fragment orders: 0 in order, 1 reversed, 2 middle first, 3 every fragment twice. */
START_TEST(test_frag4_orders)
{
    cap_t *cap = new_cap();
    size_t plen = DGRAM_LEN - 8;
    uint8_t *d = make_dgram(plen);
    static const size_t offs[] = {0, 1480, 2960};
    static const size_t lens[] = {1480, 1480, DGRAM_LEN - 2960};
    static const int orders[4][6] = {
        {0, 1, 2, -1}, {2, 1, 0, -1}, {1, 2, 0, -1}, {0, 0, 1, 2, 1, -1}};
    size_t sent = 0;
    for (int j = 0; orders[_i][j] >= 0; j++, sent++) {
        int f = orders[_i][j];
        feed(cap, DLT_EN10MB, frag4(d, offs[f], lens[f], f != 2, 77));
    }
    ck_assert_uint_eq(S.nrecs, 1);
    check_dgram(&S.recs[0], d, plen);
    const cap_stats_t *st = cap_stats(cap);
    ck_assert_uint_eq(st->ip_fragments, sent);
    ck_assert_uint_eq(st->ip_reassembled, 1);
    ck_assert_uint_eq(st->udp_packets, 1);
    ck_assert_uint_eq(st->frag_dropped, 0);
    ck_assert_uint_eq(st->frag_overlaps, _i == 3 ? 1 : 0);
    /* l3 is the completing fragment's header. */
    ck_assert_uint_eq(S.recs[0].l3_first, 0x45);
    free(d);
    cap_free(cap);
}
END_TEST

/* Overlaps keep the bytes that came first (IPv4). */
START_TEST(test_frag4_overlap_first_wins)
{
    cap_t *cap = new_cap();
    size_t plen = DGRAM_LEN - 8;
    uint8_t *d = make_dgram(plen);
    uint8_t *rogue = malloc(DGRAM_LEN);
    memset(rogue, 0xee, DGRAM_LEN);
    feed(cap, DLT_EN10MB, frag4(d, 0, 1480, true, 9));
    feed(cap, DLT_EN10MB, frag4(rogue, 1472, 16, true, 9)); /* 8 old bytes, 8 new */
    feed(cap, DLT_EN10MB, frag4(d, 1480, 1480, true, 9));   /* its first 8 bytes are old */
    feed(cap, DLT_EN10MB, frag4(d, 2960, DGRAM_LEN - 2960, false, 9));
    ck_assert_uint_eq(S.nrecs, 1);
    uint8_t *want = malloc(DGRAM_LEN);
    memcpy(want, d, DGRAM_LEN);
    memset(want + 1480, 0xee, 8);
    check_dgram(&S.recs[0], want, plen);
    ck_assert_uint_eq(cap_stats(cap)->frag_overlaps, 2);
    free(want);
    free(rogue);
    free(d);
    cap_free(cap);
}
END_TEST

/* A missing fragment: nothing is delivered and the datagram times out in capture time. */
START_TEST(test_frag4_missing_times_out)
{
    cap_cfg_t cfg;
    cap_cfg_init(&cfg);
    cfg.frag_timeout_ms = 2000;
    cap_t *cap = new_cap_cfg(&cfg);
    uint8_t *d = make_dgram(DGRAM_LEN - 8);
    feed_at(cap, DLT_EN10MB, T0, frag4(d, 0, 1480, true, 5));
    feed_at(cap, DLT_EN10MB, T0, frag4(d, 2960, DGRAM_LEN - 2960, false, 5));
    ck_assert_uint_eq(S.nrecs, 0);
    feed_at(cap, DLT_RAW, T0 + 1500000000LL, udp4("tick"));
    ck_assert_uint_eq(cap_stats(cap)->frag_timeouts, 0);
    feed_at(cap, DLT_RAW, T0 + 2500000000LL, udp4("tick"));
    ck_assert_uint_eq(cap_stats(cap)->frag_timeouts, 1);
    /* The middle fragment now starts a new datagram that cannot complete. */
    feed_at(cap, DLT_EN10MB, T0 + 2600000000LL, frag4(d, 1480, 1480, true, 5));
    ck_assert_uint_eq(S.nrecs, 2);
    ck_assert_uint_eq(cap_stats(cap)->ip_reassembled, 0);
    cap_expire(cap, T0 + 10000000000LL);
    ck_assert_uint_eq(cap_stats(cap)->frag_timeouts, 2);
    free(d);
    cap_free(cap);
}
END_TEST

/* Memory cap: 8 KB holds four 2 KB blocks; older datagrams are evicted for newer ones. */
START_TEST(test_frag4_memory_cap)
{
    cap_cfg_t cfg;
    cap_cfg_init(&cfg);
    cfg.frag_max_bytes = 8192;
    cap_t *cap = new_cap_cfg(&cfg);
    uint8_t *d = make_dgram(DGRAM_LEN - 8);
    for (uint16_t id = 1; id <= 6; id++)
        feed(cap, DLT_EN10MB, frag4(d, 0, 1480, true, id));
    const cap_stats_t *st = cap_stats(cap);
    ck_assert_uint_eq(st->frag_dropped, 2);
    feed(cap, DLT_EN10MB, frag4(d, 1480, 1480, true, 6));
    feed(cap, DLT_EN10MB, frag4(d, 2960, DGRAM_LEN - 2960, false, 6));
    ck_assert_uint_eq(S.nrecs, 1);
    check_dgram(&S.recs[0], d, DGRAM_LEN - 8);
    ck_assert_uint_eq(st->frag_dropped, 3);
    /* Datagram 1 lost its first fragment to eviction. */
    feed(cap, DLT_EN10MB, frag4(d, 1480, 1480, true, 1));
    feed(cap, DLT_EN10MB, frag4(d, 2960, DGRAM_LEN - 2960, false, 1));
    ck_assert_uint_eq(S.nrecs, 1);
    /* A datagram larger than the whole pool cannot be held at all. */
    cap_free(cap);
    cfg.frag_max_bytes = 2048;
    cap = new_cap_cfg(&cfg);
    feed(cap, DLT_EN10MB, frag4(d, 0, 1480, true, 7));
    feed(cap, DLT_EN10MB, frag4(d, 1480, 1480, true, 7));
    feed(cap, DLT_EN10MB, frag4(d, 2960, DGRAM_LEN - 2960, false, 7));
    ck_assert_uint_eq(S.nrecs, 1);
    ck_assert_uint_ge(cap_stats(cap)->frag_dropped, 1);
    free(d);
    cap_free(cap);
}
END_TEST

START_TEST(test_frag4_bad)
{
    cap_t *cap = new_cap();
    const cap_stats_t *st = cap_stats(cap);
    uint8_t *d = make_dgram(DGRAM_LEN - 8);
    /* More fragments follow, but the length is not a multiple of 8. */
    feed(cap, DLT_EN10MB, frag4(d, 0, 1001, true, 1));
    ck_assert_uint_eq(st->bad_header, 1);
    /* Offset 65528 + 100 bytes: beyond 65535 ("ping of death"). */
    pkt_t *k = pk_new(d, 100);
    w_ip4x(k, 17, "192.0.2.1", "198.51.100.2", 3, 0x1fff, 0);
    w_eth(k, 0x0800);
    feed(cap, DLT_EN10MB, k);
    ck_assert_uint_eq(st->frag_dropped, 1);
    /* Two last fragments that disagree on the length. */
    feed(cap, DLT_EN10MB, frag4(d, 1480, 1480, false, 4));
    feed(cap, DLT_EN10MB, frag4(d, 1480, 8, false, 4));
    ck_assert_uint_eq(st->frag_dropped, 2);
    /* A middle fragment beyond the end the last one set. */
    feed(cap, DLT_EN10MB, frag4(d, 1480, 8, false, 5));
    feed(cap, DLT_EN10MB, frag4(d, 1480, 16, true, 5));
    ck_assert_uint_eq(st->frag_dropped, 3);
    /* A first fragment bigger than an existing last fragment's end. */
    feed(cap, DLT_EN10MB, frag4(d, 8, 8, false, 6));
    feed(cap, DLT_EN10MB, frag4(d, 0, 24, true, 6));
    ck_assert_uint_eq(st->frag_dropped, 4);
    ck_assert_uint_eq(S.nrecs, 0);
    free(d);
    cap_free(cap);
}
END_TEST

/* cap_flush forgets partial datagrams. */
START_TEST(test_frag4_flush)
{
    cap_t *cap = new_cap();
    uint8_t *d = make_dgram(DGRAM_LEN - 8);
    feed(cap, DLT_EN10MB, frag4(d, 0, 1480, true, 1));
    cap_flush(cap);
    feed(cap, DLT_EN10MB, frag4(d, 1480, 1480, true, 1));
    feed(cap, DLT_EN10MB, frag4(d, 2960, DGRAM_LEN - 2960, false, 1));
    ck_assert_uint_eq(S.nrecs, 0);
    feed(cap, DLT_EN10MB, frag4(d, 0, 1480, true, 1));
    ck_assert_uint_eq(S.nrecs, 1);
    free(d);
    cap_free(cap);
}
END_TEST

/* IPv6 fragment [off, off+len) of d, behind a hop-by-hop header (unfragmentable part). */
static pkt_t *frag6(const uint8_t *d, size_t off, size_t len, bool more, uint32_t id)
{
    pkt_t *k = pk_new(d + off, len);
    w_frag6(k, 17, (uint32_t)off, more, id);
    w_ext6(k, 44, 0);
    w_ip6(k, 0, "2001:db8::1", "2001:db8::2");
    w_vlan(k, 12, 0x86dd);
    w_eth(k, 0x8100);
    return k;
}

/* 0 in order, 1 reversed, 2 with an exact duplicate, 3 with a conflicting overlap (dropped). */
START_TEST(test_frag6)
{
    cap_t *cap = new_cap();
    size_t plen = DGRAM_LEN - 8;
    uint8_t *d = make_dgram(plen);
    static const size_t offs[] = {0, 1448, 2896};
    static const size_t lens[] = {1448, 1448, DGRAM_LEN - 2896};
    static const int orders[4][6] = {
        {0, 1, 2, -1}, {2, 1, 0, -1}, {0, 1, 1, 2, -1}, {0, 3, 1, 2, -1}};
    for (int j = 0; orders[_i][j] >= 0; j++) {
        int f = orders[_i][j];
        if (f == 3)
            feed(cap, DLT_EN10MB, frag6(d, 8, 1448, true, 0xb0647780)); /* overlaps 0 and 1 */
        else
            feed(cap, DLT_EN10MB, frag6(d, offs[f], lens[f], f != 2, 0xb0647780));
    }
    const cap_stats_t *st = cap_stats(cap);
    if (_i == 3) {
        ck_assert_uint_eq(S.nrecs, 0);
        ck_assert_uint_ge(st->frag_dropped, 1);
    } else {
        ck_assert_uint_eq(S.nrecs, 1);
        rec_t *r = &S.recs[0];
        ck_assert_str_eq(r->src, "[2001:db8::1]:5060");
        ck_assert_str_eq(r->dst, "[2001:db8::2]:5080");
        ck_assert(r->reassembled);
        ck_assert_uint_eq(r->vlan, 12);
        ck_assert_uint_eq(r->len, plen);
        ck_assert_mem_eq(r->data, d + 8, plen);
        ck_assert_uint_eq(r->l3_first >> 4, 6);
        ck_assert_uint_eq(st->ip_reassembled, 1);
        ck_assert_uint_eq(st->frag_dropped, 0);
    }
    free(d);
    cap_free(cap);
}
END_TEST

/* The same fragments on two VLANs reassemble separately (mirror of both sides). */
START_TEST(test_frag_vlan_key)
{
    cap_t *cap = new_cap();
    uint8_t *d = make_dgram(DGRAM_LEN - 8);
    for (int part = 0; part < 2; part++) {
        for (uint16_t vid = 10; vid <= 20; vid += 10) {
            pkt_t *k = part == 0 ? pk_new(d, 1480) : pk_new(d + 1480, DGRAM_LEN - 1480);
            w_ip4x(k, 17, "192.0.2.1", "198.51.100.2", 50, part == 0 ? 0x2000 : 1480 / 8, 0);
            w_vlan(k, vid, 0x0800);
            w_eth(k, 0x8100);
            feed(cap, DLT_EN10MB, k);
        }
    }
    ck_assert_uint_eq(S.nrecs, 2);
    ck_assert_uint_eq(S.recs[0].vlan, 10);
    ck_assert_uint_eq(S.recs[1].vlan, 20);
    ck_assert_uint_eq(cap_stats(cap)->frag_overlaps, 0);
    free(d);
    cap_free(cap);
}
END_TEST

/* ---- truncation at every byte -----------------------------------------------------------------
 */

typedef struct {
    int dlt;
    pkt_t *k;
} frame_case_t;

static size_t truncation_cases(frame_case_t *out)
{
    size_t n = 0;
    pkt_t *k = udp4("hello, truncation");
    w_vlan(k, 7, 0x0800);
    w_eth(k, 0x8100);
    out[n++] = (frame_case_t){DLT_EN10MB, k};

    k = pk_str("v6 with extension headers");
    w_udp(k, 1, 2);
    w_ah6(k, 17);
    w_ext6(k, 51, 1);
    w_ip6(k, 0, "2001:db8::1", "2001:db8::2");
    w_sll2(k, 0x86dd);
    out[n++] = (frame_case_t){DLT_LINUX_SLL2, k};

    k = pk_str("tcp payload");
    w_tcp(k, 1, 2, 3, F_ACK);
    w_ip4x(k, 6, "192.0.2.1", "192.0.2.2", 1, 0, 12);
    w_null(k, 2, false);
    out[n++] = (frame_case_t){DLT_NULL, k};

    k = tunnel_inner(TUN_ERSPAN3_SUB, false);
    w_eth(k, 0x0800);
    w_erspan3(k, true, 0);
    w_gre(k, 0x22eb, GRE_S | GRE_K | GRE_C);
    w_ip4(k, 47, "192.0.2.1", "192.0.2.2");
    w_sll(k, 0x0800);
    out[n++] = (frame_case_t){DLT_LINUX_SLL, k};

    k = tunnel_inner(TUN_VXLAN, false);
    w_eth(k, 0x0800);
    w_vxlan(k, true);
    w_udp(k, 1, 4789);
    w_ip6(k, 17, "2001:db8::1", "2001:db8::2");
    w_eth(k, 0x86dd);
    out[n++] = (frame_case_t){DLT_EN10MB, k};

    k = pk_str("fragment!");
    w_frag6(k, 17, 1448, false, 1);
    w_ip6(k, 44, "2001:db8::1", "2001:db8::2");
    out[n++] = (frame_case_t){DLT_RAW, k};
    return n;
}

START_TEST(test_truncated_every_byte)
{
    frame_case_t cases[8];
    size_t ncases = truncation_cases(cases);
    for (size_t c = 0; c < ncases; c++) {
        sink_reset();
        cap_t *cap = new_cap();
        const cap_stats_t *st = cap_stats(cap);
        size_t len = pk_len(cases[c].k);
        for (size_t cut = 0; cut < len; cut++) {
            const uint8_t *p = guard_place(pk_data(cases[c].k), cut);
            cap_process_frame(cap, cases[c].dlt, T0, p, (uint32_t)cut, (uint32_t)len);
            ck_assert_msg(st->truncated == cut + 1, "case %zu cut %zu: not counted", c, cut);
        }
        ck_assert_uint_eq(S.nrecs, 0);
        ck_assert_uint_eq(st->bad_header + st->non_ip + st->ip_fragments, 0);
        const uint8_t *p = guard_place(pk_data(cases[c].k), len);
        cap_process_frame(cap, cases[c].dlt, T0, p, (uint32_t)len, (uint32_t)len);
        if (c == 5)
            ck_assert_uint_eq(st->ip_fragments, 1); /* a last fragment alone: held */
        else
            ck_assert_uint_eq(S.nrecs, 1);
        free(cases[c].k);
        cap_free(cap);
    }
}
END_TEST

/* ---- GTP-U and PPTP's GRE ---------------------------------------------------------------------
 */

/* GTP-U G-PDUs to port 2152: the plain header, with the optional word, with a chain of
 * extension headers; inner IPv4 and IPv6. */
START_TEST(test_gtpu)
{
    cap_t *cap = new_cap();
    const cap_stats_t *st = cap_stats(cap);
    for (int v = 0; v < 4; v++) {
        pkt_t *k = tunnel_inner(TUN_IPIP, v == 3);
        w_gtpu(k, 255, v == 1, v >= 2 ? (unsigned)v : 0);
        w_udp(k, 40000, 2152);
        w_ip4(k, 17, "192.0.2.1", "192.0.2.2");
        feed(cap, DLT_RAW, k);
        ck_assert_uint_eq(S.nrecs, (size_t)v + 1);
        ck_assert_str_eq(S.recs[v].src, v == 3 ? "[fd00::1]:1111" : "10.0.0.1:1111");
        ck_assert_uint_eq(S.recs[v].len, 4);
    }
    ck_assert_uint_eq(st->gtpu, 4);
    ck_assert_uint_eq(st->tunnels, 4);
    ck_assert_uint_eq(st->udp_packets, 4); /* the inner ones */
    ck_assert_uint_eq(st->truncated + st->bad_header + st->non_ip, 0);
    cap_free(cap);
}
END_TEST

/* GTP-U that is not a user packet (echo: non-IP), not GTP-U version 1 (plain UDP on port 2152),
 * and every way its header can be short or wrong: counted, nothing delivered. */
START_TEST(test_gtpu_malformed)
{
    cap_t *cap = new_cap();
    const cap_stats_t *st = cap_stats(cap);
    pkt_t *k = pk_str("");
    w_gtpu(k, 1, true, 0); /* echo request */
    w_udp(k, 2152, 2152);
    w_ip4(k, 17, "192.0.2.1", "192.0.2.2");
    feed(cap, DLT_RAW, k);
    ck_assert_uint_eq(st->non_ip, 1);
    k = pk_str("\x48\x01\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00"); /* GTPv2-C */
    w_udp(k, 2152, 2152);
    w_ip4(k, 17, "192.0.2.1", "192.0.2.2");
    feed(cap, DLT_RAW, k);
    ck_assert_uint_eq(S.nrecs, 1);
    ck_assert_str_eq(S.recs[0].dst, "192.0.2.2:2152");
    /* Not an IP packet inside. */
    k = pk_str("\x00\x01\x02\x03");
    w_gtpu(k, 255, false, 0);
    w_udp(k, 2152, 2152);
    w_ip4(k, 17, "192.0.2.1", "192.0.2.2");
    feed(cap, DLT_RAW, k);
    ck_assert_uint_eq(st->non_ip, 2);
    /* Length past the datagram; extension chain running off the end; extension length 0. */
    k = tunnel_inner(TUN_IPIP, false);
    w_gtpu(k, 255, false, 0);
    put16(k->buf + k->start + 2, 999);
    w_udp(k, 2152, 2152);
    w_ip4(k, 17, "192.0.2.1", "192.0.2.2");
    feed(cap, DLT_RAW, k);
    k = pk_new("\x02\x00", 2);
    w_gtpu(k, 255, false, 1);
    k->buf[k->start + 8 + 4 + 3] = 0x85; /* the last extension says another follows */
    w_udp(k, 2152, 2152);
    w_ip4(k, 17, "192.0.2.1", "192.0.2.2");
    feed(cap, DLT_RAW, k);
    ck_assert_uint_eq(st->truncated, 2);
    k = tunnel_inner(TUN_IPIP, false);
    w_gtpu(k, 255, false, 1);
    k->buf[k->start + 8 + 4] = 0;
    w_udp(k, 2152, 2152);
    w_ip4(k, 17, "192.0.2.1", "192.0.2.2");
    feed(cap, DLT_RAW, k);
    ck_assert_uint_eq(st->bad_header, 1);
    ck_assert_uint_eq(st->gtpu, 1);
    ck_assert_uint_eq(S.nrecs, 1);
    cap_free(cap);
}
END_TEST

/* The VoLTE case: SIP over TCP over IPv6 inside GTP-U, Linux cooked capture, the message split
 * over two segments: reassembled into one message from the inner addresses. */
START_TEST(test_gtpu_tcp)
{
    static const char msg[] = "OPTIONS sip:ims.example SIP/2.0\r\nCall-ID: volte\r\n"
                              "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    cap_t *cap = new_cap();
    size_t half = 20, n = strlen(msg);
    for (int i = 0; i < 2; i++) {
        pkt_t *k = i == 0 ? pk_new(msg, half) : pk_new(msg + half, n - half);
        w_tcp(k, 40000, 5060, 1 + (uint32_t)(i * half), F_ACK);
        w_ip6(k, 6, "2001:db8:e::1", "2001:db8:c::2");
        w_gtpu(k, 255, true, 1);
        w_udp(k, 2152, 2152);
        w_ip4(k, 17, "192.0.2.1", "192.0.2.2");
        w_sll(k, 0x0800);
        feed(cap, DLT_LINUX_SLL, k);
    }
    ck_assert_uint_eq(S.nmsgs, 1);
    ck_assert_str_eq(S.recs[S.nrecs - 1].src, "[2001:db8:e::1]:40000");
    ck_assert_uint_eq(cap_stats(cap)->gtpu, 2);
    ck_assert_uint_eq(cap_stats(cap)->tcp_segments, 2);
    cap_free(cap);
}
END_TEST

/* A frame from a ring marked as peeked plain UDP but sent to GTP-U's port: decoded in full, as
 * the tunnel it is. */
START_TEST(test_gtpu_peeked)
{
    cap_t *cap = new_cap();
    pkt_t *k = tunnel_inner(TUN_IPIP, false);
    w_gtpu(k, 255, false, 0);
    w_udp(k, 2152, 2152);
    w_ip4(k, 17, "192.0.2.1", "192.0.2.2");
    cap_frame_t f;
    memset(&f, 0, sizeof(f));
    f.info.ts_ns = T0;
    f.info.caplen = f.info.wirelen = (uint32_t)pk_len(k);
    f.info.dlt = DLT_RAW;
    f.info.peeked = true;
    f.data = pk_data(k);
    cap_process_frame_peeked(cap, &f);
    ck_assert_uint_eq(S.nrecs, 1);
    ck_assert_str_eq(S.recs[0].src, "10.0.0.1:1111");
    ck_assert_uint_eq(cap_stats(cap)->gtpu, 1);
    free(k);
    cap_free(cap);
}
END_TEST

/* PPP in PPTP's enhanced GRE: with sequence and acknowledgment numbers or not, PPP with and
 * without address/control and protocol-field compression, IPv4 and IPv6; an acknowledgment
 * alone carries nothing; short headers and bad flags counted. */
START_TEST(test_gre_ppp)
{
    cap_t *cap = new_cap();
    const cap_stats_t *st = cap_stats(cap);
    for (int v = 0; v < 4; v++) {
        pkt_t *k = tunnel_inner(TUN_GRE, v == 3);
        w_ppp(k, v == 3 ? 0x0057 : 0x0021, v >= 2, v >= 1);
        w_gre_pptp(k, v != 2, v == 1 || v == 3);
        w_ip4(k, 47, "192.0.2.1", "192.0.2.2");
        feed(cap, DLT_RAW, k);
        ck_assert_uint_eq(S.nrecs, (size_t)v + 1);
        ck_assert_str_eq(S.recs[v].dst, v == 3 ? "[fd00::2]:2222" : "10.0.0.2:2222");
    }
    ck_assert_uint_eq(st->gre_ppp, 4);
    ck_assert_uint_eq(st->tunnels, 4);
    pkt_t *k = pk_str("");
    w_gre_pptp(k, false, true); /* an acknowledgment alone */
    w_ip4(k, 47, "192.0.2.1", "192.0.2.2");
    feed(cap, DLT_RAW, k);
    ck_assert_uint_eq(st->truncated + st->bad_header + st->non_ip + st->other_ip_proto, 0);
    k = pk_str("lcp");
    w_ppp(k, 0xc021, false, false);
    w_gre_pptp(k, true, false);
    w_ip4(k, 47, "192.0.2.1", "192.0.2.2");
    feed(cap, DLT_RAW, k);
    ck_assert_uint_eq(st->non_ip, 1);
    k = pk_new("\x30\x81\x88\x0b\x00\x10\x00", 7); /* cut in the call ID */
    w_ip4(k, 47, "192.0.2.1", "192.0.2.2");
    feed(cap, DLT_RAW, k);
    k = pk_str("");
    w_gre_pptp(k, true, false);
    put16(k->buf + k->start + 4, 100); /* payload past the packet */
    w_ip4(k, 47, "192.0.2.1", "192.0.2.2");
    feed(cap, DLT_RAW, k);
    k = pk_str(""); /* a sequence number but no PPP at all */
    w_gre_pptp(k, true, false);
    w_ip4(k, 47, "192.0.2.1", "192.0.2.2");
    feed(cap, DLT_RAW, k);
    ck_assert_uint_eq(st->truncated, 3);
    k = tunnel_inner(TUN_GRE, false);
    w_ppp(k, 0x0021, false, false);
    w_gre_pptp(k, true, false);
    k->buf[k->start] |= 0x80; /* checksum bit: never in PPTP */
    w_ip4(k, 47, "192.0.2.1", "192.0.2.2");
    feed(cap, DLT_RAW, k);
    ck_assert_uint_eq(st->bad_header, 1);
    ck_assert_uint_eq(S.nrecs, 4);
    cap_free(cap);
}
END_TEST

Suite *ip_suite(void)
{
    Suite *s = suite_create("ip");
    TCase *tc = tcase_create("ip");
    tcase_add_checked_fixture(tc, sink_setup, sink_teardown);
    tcase_add_test(tc, test_ipv4_header_checks);
    tcase_add_test(tc, test_ipv6_extension_headers);
    tcase_add_test(tc, test_truncated_every_byte);
    suite_add_tcase(s, tc);

    tc = tcase_create("tunnel");
    tcase_add_checked_fixture(tc, sink_setup, sink_teardown);
    tcase_add_loop_test(tc, test_tunnels, 0, TUN_COUNT);
    tcase_add_test(tc, test_tunnel_malformed);
    tcase_add_test(tc, test_tunnel_depth);
    tcase_add_test(tc, test_gtpu);
    tcase_add_test(tc, test_gtpu_malformed);
    tcase_add_test(tc, test_gtpu_peeked);
    tcase_add_test(tc, test_gtpu_tcp);
    tcase_add_test(tc, test_gre_ppp);
    suite_add_tcase(s, tc);

    tc = tcase_create("ipfrag");
    tcase_add_checked_fixture(tc, sink_setup, sink_teardown);
    tcase_add_loop_test(tc, test_frag4_orders, 0, 4);
    tcase_add_test(tc, test_frag4_overlap_first_wins);
    tcase_add_test(tc, test_frag4_missing_times_out);
    tcase_add_test(tc, test_frag4_memory_cap);
    tcase_add_test(tc, test_frag4_bad);
    tcase_add_test(tc, test_frag4_flush);
    tcase_add_loop_test(tc, test_frag6, 0, 4);
    tcase_add_test(tc, test_frag_vlan_key);
    suite_add_tcase(s, tc);
    return s;
}
