/* check_capture: link layers, tunnels, IP reassembly, TCP streams and pcap files through cap_. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <pcap/dlt.h>
#include <pcap/pcap.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cap.h"
#include "guard.h"
#include "sv.h"
#include "testdata.h"

/* ---- frames built in code ----------------------------------------------------------------
 * A packet grows towards the front: start with the payload, then wrap it in UDP, IP, tunnels
 * and a link header, each w_* call prepending one header. */

#define HEADROOM 2048
#define PKT_MAX  (HEADROOM + 70000)

typedef struct {
    uint8_t buf[PKT_MAX];
    size_t start, end;
} pkt_t;

static pkt_t *pk_new(const void *payload, size_t len)
{
    pkt_t *k = malloc(sizeof(*k));
    ck_assert_ptr_nonnull(k);
    ck_assert_uint_le(len, PKT_MAX - HEADROOM);
    k->start = HEADROOM;
    k->end = HEADROOM + len;
    if (len > 0)
        memcpy(k->buf + HEADROOM, payload, len);
    return k;
}

static pkt_t *pk_str(const char *s)
{
    return pk_new(s, strlen(s));
}

static uint8_t *pk_push(pkt_t *k, size_t n)
{
    ck_assert_uint_ge(k->start, n);
    k->start -= n;
    memset(k->buf + k->start, 0, n);
    return k->buf + k->start;
}

static void pk_append(pkt_t *k, const void *p, size_t n)
{
    ck_assert_uint_le(k->end + n, PKT_MAX);
    memcpy(k->buf + k->end, p, n);
    k->end += n;
}

static const uint8_t *pk_data(const pkt_t *k)
{
    return k->buf + k->start;
}

static size_t pk_len(const pkt_t *k)
{
    return k->end - k->start;
}

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v & 0xffff);
}

static void addr4(uint8_t *out, const char *text)
{
    ck_assert_int_eq(inet_pton(AF_INET, text, out), 1);
}

static void addr6(uint8_t *out, const char *text)
{
    ck_assert_int_eq(inet_pton(AF_INET6, text, out), 1);
}

static void w_udp(pkt_t *k, uint16_t sport, uint16_t dport)
{
    size_t len = pk_len(k) + 8;
    uint8_t *h = pk_push(k, 8);
    put16(h, sport);
    put16(h + 2, dport);
    put16(h + 4, (uint32_t)len);
}

enum { F_FIN = 0x01, F_SYN = 0x02, F_RST = 0x04, F_PSH = 0x08, F_ACK = 0x10 };

static void w_tcp(pkt_t *k, uint16_t sport, uint16_t dport, uint32_t seq, uint8_t flags)
{
    uint8_t *h = pk_push(k, 20);
    put16(h, sport);
    put16(h + 2, dport);
    put32(h + 4, seq);
    h[12] = 5 << 4;
    h[13] = flags;
    put16(h + 14, 65535);
}

/* IPv4 with identification, the flags/fragment-offset field and optlen bytes of NOP options. */
static void w_ip4x(pkt_t *k, uint8_t proto, const char *src, const char *dst, uint16_t id,
                   uint16_t frag, size_t optlen)
{
    size_t hl = 20 + optlen;
    size_t total = pk_len(k) + hl;
    uint8_t *h = pk_push(k, hl);
    h[0] = (uint8_t)(0x40 | (hl / 4));
    put16(h + 2, (uint32_t)total);
    put16(h + 4, id);
    put16(h + 6, frag);
    h[8] = 64;
    h[9] = proto;
    addr4(h + 12, src);
    addr4(h + 16, dst);
    memset(h + 20, 1, optlen);
}

static void w_ip4(pkt_t *k, uint8_t proto, const char *src, const char *dst)
{
    w_ip4x(k, proto, src, dst, 0x1234, 0x4000, 0);
}

static void w_ip6(pkt_t *k, uint8_t nh, const char *src, const char *dst)
{
    size_t plen = pk_len(k);
    uint8_t *h = pk_push(k, 40);
    h[0] = 0x60;
    put16(h + 4, (uint32_t)plen);
    h[6] = nh;
    h[7] = 64;
    addr6(h + 8, src);
    addr6(h + 24, dst);
}

/* Hop-by-hop, routing or destination options header of 8 * (1 + units) bytes. */
static void w_ext6(pkt_t *k, uint8_t nh, uint8_t units)
{
    uint8_t *h = pk_push(k, 8 * (1 + (size_t)units));
    h[0] = nh;
    h[1] = units;
    h[2] = 1; /* PadN option */
    h[3] = (uint8_t)(8 * (1 + (size_t)units) - 4);
}

/* Authentication header with a 4-byte ICV: 16 bytes, length field 16/4 - 2 = 2. */
static void w_ah6(pkt_t *k, uint8_t nh)
{
    uint8_t *h = pk_push(k, 16);
    h[0] = nh;
    h[1] = 2;
    put32(h + 4, 0x100);
    put32(h + 8, 1);
}

static void w_frag6(pkt_t *k, uint8_t nh, uint32_t off, bool more, uint32_t id)
{
    uint8_t *h = pk_push(k, 8);
    h[0] = nh;
    put16(h + 2, (off & 0xfff8) | (more ? 1 : 0));
    put32(h + 4, id);
}

static void w_eth(pkt_t *k, uint16_t type)
{
    uint8_t *h = pk_push(k, 14);
    memcpy(h, "\x00\x11\x22\x33\x44\x55\x00\x66\x77\x88\x99\xaa", 12);
    put16(h + 12, type);
}

/* An 802.1Q tag: TCI then the type that follows it; the TPID is the next outer type. */
static void w_vlan(pkt_t *k, uint16_t vid, uint16_t inner_type)
{
    uint8_t *h = pk_push(k, 4);
    put16(h, (5u << 13) | vid);
    put16(h + 2, inner_type);
}

static void w_sll(pkt_t *k, uint16_t proto)
{
    uint8_t *h = pk_push(k, 16);
    put16(h, 0);     /* PACKET_HOST */
    put16(h + 2, 1); /* ARPHRD_ETHER */
    put16(h + 4, 6);
    memcpy(h + 6, "\x00\x11\x22\x33\x44\x55", 6);
    put16(h + 14, proto);
}

static void w_sll2(pkt_t *k, uint16_t proto)
{
    uint8_t *h = pk_push(k, 20);
    put16(h, proto);
    put32(h + 4, 2); /* interface index */
    put16(h + 8, 1);
    h[10] = 4; /* PACKET_OUTGOING */
    h[11] = 6;
    memcpy(h + 12, "\x00\x11\x22\x33\x44\x55", 6);
}

static void w_null(pkt_t *k, uint32_t af, bool big_endian)
{
    uint8_t *h = pk_push(k, 4);
    if (big_endian) {
        put32(h, af);
    } else {
        h[0] = (uint8_t)af;
        h[1] = (uint8_t)(af >> 8);
    }
}

enum { GRE_C = 0x8000, GRE_K = 0x2000, GRE_S = 0x1000 };

static void w_gre(pkt_t *k, uint16_t proto, uint16_t flags)
{
    size_t n = 4 + (flags & GRE_C ? 4 : 0) + (flags & GRE_K ? 4 : 0) + (flags & GRE_S ? 4 : 0);
    uint8_t *h = pk_push(k, n);
    put16(h, flags);
    put16(h + 2, proto);
    for (size_t i = 4; i < n; i += 4)
        put32(h + i, 0xabcd0000u + (uint32_t)i);
}

static void w_erspan2(pkt_t *k)
{
    uint8_t *h = pk_push(k, 8);
    put16(h, (1u << 12) | 77); /* Ver 1, VLAN 77 */
    put16(h + 2, 0x0123);      /* session */
    put32(h + 4, 42);          /* index */
}

static void w_erspan3(pkt_t *k, bool subheader, uint8_t ft)
{
    if (subheader) {
        uint8_t *sub = pk_push(k, 8);
        memset(sub, 0xee, 8);
    }
    uint8_t *h = pk_push(k, 12);
    put16(h, (2u << 12) | 77); /* Ver 2 */
    put16(h + 2, 0x0123);
    put32(h + 4, 0xdeadbeef); /* timestamp */
    put16(h + 8, 0x5555);     /* SGT */
    put16(h + 10, ((uint32_t)ft << 10) | (subheader ? 1 : 0));
}

static void w_vxlan(pkt_t *k, bool i_flag)
{
    uint8_t *h = pk_push(k, 8);
    h[0] = i_flag ? 0x08 : 0x00;
    h[4] = 0x12;
    h[5] = 0x34;
    h[6] = 0x56;
}

/* ---- the sink ------------------------------------------------------------------------------ */

enum { TCP_ALL, TCP_SIP, TCP_NONE, TCP_FIXED };

#define MAX_RECS 512
#define MAX_MSGS 512

typedef struct {
    uint8_t proto;
    char src[NET_ENDPOINT_STRLEN], dst[NET_ENDPOINT_STRLEN];
    uint16_t vlan;
    bool reassembled;
    int64_t ts_ns;
    size_t len;
    uint8_t *data;
    const uint8_t *l3;
    size_t l3_len;
    uint8_t l3_first;
    const uint8_t *frame;
    uint32_t frame_caplen, frame_len;
    int frame_dlt;
} rec_t;

static struct {
    bool record;
    int tcp_mode;
    size_t fixed;
    rec_t recs[MAX_RECS];
    size_t nrecs, calls;
    char *msgs[MAX_MSGS];
    size_t msg_len[MAX_MSGS];
    size_t nmsgs;
    /* Classification, for whole files. */
    uint64_t sip_udp, other_udp, reassembled, tcp_calls, udp_calls;
    int64_t first_ts, first_sip_ts;
    bool have_first_ts, have_first_sip, sub_us;
    uint64_t vlan_mismatch;
    uint16_t want_vlan;
    size_t max_tcp_offer;
} S;

static void sink_reset(void)
{
    for (size_t i = 0; i < S.nrecs; i++)
        free(S.recs[i].data);
    for (size_t i = 0; i < S.nmsgs; i++)
        free(S.msgs[i]);
    memset(&S, 0, sizeof(S));
    S.record = true;
    S.tcp_mode = TCP_SIP;
}

static void setup(void)
{
    memset(&S, 0, sizeof(S));
    sink_reset();
}

static void teardown(void)
{
    sink_reset();
    guard_release();
}

/* Case-insensitive search for a header name at a line start within hdr[0, n). */
static bool find_clen(const char *hdr, size_t n, size_t *clen)
{
    for (size_t i = 0; i + 2 < n; i++) {
        if (hdr[i] != '\n')
            continue;
        sv_t line = sv_make(hdr + i + 1, n - i - 1);
        size_t colon = sv_index(line, ':');
        size_t eol = sv_index(line, '\r');
        if (colon == SIZE_MAX || eol == SIZE_MAX || colon > eol)
            continue;
        sv_t name = sv_trim(sv_slice(line, 0, colon));
        if (sv_eq_ci(name, "content-length") || sv_eq_ci(name, "l")) {
            uint32_t v;
            if (!sv_to_u32(sv_trim(sv_slice(line, colon + 1, eol - colon - 1)), &v))
                return false;
            *clen = v;
            return true;
        }
    }
    *clen = 0;
    return true;
}

/* Length of the first whole SIP message in p[0, n), or 0 if it is incomplete. */
static size_t sip_message_len(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 4 <= n; i++) {
        if (memcmp(p + i, "\r\n\r\n", 4) != 0)
            continue;
        size_t clen;
        if (!find_clen((const char *)p, i + 2, &clen))
            return 0;
        return i + 4 + clen <= n ? i + 4 + clen : 0;
    }
    return 0;
}

static bool looks_like_sip(const uint8_t *p, size_t n)
{
    if (n >= 8 && memcmp(p, "SIP/2.0 ", 8) == 0)
        return true;
    for (size_t i = 0; i + 1 < n && i < 512; i++)
        if (p[i] == '\r' && p[i + 1] == '\n')
            return i >= 8 && memcmp(p + i - 8, " SIP/2.0", 8) == 0;
    return false;
}

static void note_sip(int64_t ts_ns)
{
    if (!S.have_first_sip) {
        S.first_sip_ts = ts_ns;
        S.have_first_sip = true;
    }
}

static size_t sink(void *ctx, const packet_view_t *pkt)
{
    (void)ctx;
    S.calls++;
    if (!S.have_first_ts) {
        S.first_ts = pkt->ts_ns;
        S.have_first_ts = true;
    }
    if (pkt->ts_ns % 1000 != 0)
        S.sub_us = true;
    if (pkt->vlan != S.want_vlan)
        S.vlan_mismatch++;
    if (pkt->reassembled)
        S.reassembled++;
    /* The l3 view must contain the whole payload of this packet when not reassembled. */
    ck_assert_ptr_nonnull(pkt->l3);
    ck_assert_uint_ge(pkt->l3_len, 20);
    ck_assert_ptr_nonnull(pkt->frame);
    ck_assert(pkt->l3 >= pkt->frame && pkt->l3 + pkt->l3_len <= pkt->frame + pkt->frame_caplen);
    if (S.record && S.nrecs < MAX_RECS) {
        rec_t *r = &S.recs[S.nrecs++];
        r->proto = pkt->ip_proto;
        net_endpoint_str(&pkt->src, r->src, sizeof(r->src));
        net_endpoint_str(&pkt->dst, r->dst, sizeof(r->dst));
        r->vlan = pkt->vlan;
        r->reassembled = pkt->reassembled;
        r->ts_ns = pkt->ts_ns;
        r->len = pkt->len;
        r->data = malloc(pkt->len + 1);
        ck_assert_ptr_nonnull(r->data);
        if (pkt->len > 0)
            memcpy(r->data, pkt->payload, pkt->len);
        r->data[pkt->len] = 0;
        r->l3 = pkt->l3;
        r->l3_len = pkt->l3_len;
        r->l3_first = pkt->l3[0];
        r->frame = pkt->frame;
        r->frame_caplen = pkt->frame_caplen;
        r->frame_len = pkt->frame_len;
        r->frame_dlt = pkt->frame_dlt;
    }
    if (pkt->ip_proto == CAP_PROTO_UDP) {
        S.udp_calls++;
        if (looks_like_sip(pkt->payload, pkt->len)) {
            S.sip_udp++;
            note_sip(pkt->ts_ns);
        } else
            S.other_udp++;
        return 0;
    }
    ck_assert_uint_eq(pkt->ip_proto, CAP_PROTO_TCP);
    ck_assert_uint_gt(pkt->len, 0); /* never called for a pure ACK */
    S.tcp_calls++;
    if (pkt->len > S.max_tcp_offer)
        S.max_tcp_offer = pkt->len;
    switch (S.tcp_mode) {
        case TCP_ALL:
            return pkt->len;
        case TCP_NONE:
            return 0;
        case TCP_FIXED:
            return pkt->len < S.fixed ? pkt->len : S.fixed;
        default:
            break;
    }
    size_t used = 0, n;
    while ((n = sip_message_len(pkt->payload + used, pkt->len - used)) > 0) {
        if (S.nmsgs < MAX_MSGS) {
            S.msgs[S.nmsgs] = malloc(n + 1);
            ck_assert_ptr_nonnull(S.msgs[S.nmsgs]);
            memcpy(S.msgs[S.nmsgs], pkt->payload + used, n);
            S.msgs[S.nmsgs][n] = 0;
            S.msg_len[S.nmsgs] = n;
        }
        S.nmsgs++;
        note_sip(pkt->ts_ns);
        used += n;
    }
    return used;
}

static cap_t *new_cap_cfg(const cap_cfg_t *cfg)
{
    cap_t *cap = cap_new(cfg, sink, NULL);
    ck_assert_ptr_nonnull(cap);
    return cap;
}

static cap_t *new_cap(void)
{
    cap_cfg_t cfg;
    cap_cfg_init(&cfg);
    return new_cap_cfg(&cfg);
}

#define T0 1705312800000000000LL /* 2024-01-15 10:00:00 UTC */

/* Feed k as one frame and free it. */
static void feed_at(cap_t *cap, int dlt, int64_t ts, pkt_t *k)
{
    cap_process_frame(cap, dlt, ts, pk_data(k), (uint32_t)pk_len(k), (uint32_t)pk_len(k));
    free(k);
}

static void feed(cap_t *cap, int dlt, pkt_t *k)
{
    feed_at(cap, dlt, T0, k);
}

/* IPv4 UDP in Ethernet, the usual test frame. */
static pkt_t *udp4(const char *payload)
{
    pkt_t *k = pk_str(payload);
    w_udp(k, 5060, 5062);
    w_ip4(k, 17, "192.0.2.1", "198.51.100.2");
    return k;
}

/* ---- link layers ---------------------------------------------------------------------------- */

START_TEST(test_ethernet_ipv4_udp)
{
    cap_t *cap = new_cap();
    pkt_t *k = udp4("hello");
    w_eth(k, 0x0800);
    static const uint8_t zeros[60];
    size_t pad = 60 - pk_len(k); /* 14 + 20 + 8 + 5 = 47: padded to the 60-byte minimum */
    pk_append(k, zeros, pad);
    const uint8_t *frame = pk_data(k);
    cap_process_frame(cap, DLT_EN10MB, T0 + 123, frame, 60, 64);
    ck_assert_uint_eq(S.nrecs, 1);
    rec_t *r = &S.recs[0];
    ck_assert_uint_eq(r->proto, CAP_PROTO_UDP);
    ck_assert_str_eq(r->src, "192.0.2.1:5060");
    ck_assert_str_eq(r->dst, "198.51.100.2:5062");
    ck_assert_uint_eq(r->len, 5);
    ck_assert_str_eq((char *)r->data, "hello");
    ck_assert_uint_eq(r->vlan, 0);
    ck_assert(!r->reassembled);
    ck_assert_int_eq(r->ts_ns, T0 + 123);
    ck_assert_ptr_eq(r->l3, frame + 14);
    ck_assert_uint_eq(r->l3_len, 33);
    ck_assert_ptr_eq(r->frame, frame);
    ck_assert_uint_eq(r->frame_caplen, 60);
    ck_assert_uint_eq(r->frame_len, 64);
    ck_assert_int_eq(r->frame_dlt, DLT_EN10MB);
    const cap_stats_t *st = cap_stats(cap);
    ck_assert_uint_eq(st->frames, 1);
    ck_assert_uint_eq(st->bytes, 64);
    ck_assert_uint_eq(st->udp_packets, 1);
    ck_assert_uint_eq(st->truncated + st->bad_header + st->non_ip, 0);
    free(k);
    cap_free(cap);
}
END_TEST

/* 802.1Q, 802.1ad and the old 0x9100 TPID, stacked: the outermost id is reported. */
START_TEST(test_vlan_stacks)
{
    cap_t *cap = new_cap();
    pkt_t *k = udp4("q");
    w_vlan(k, 200, 0x0800);
    w_eth(k, 0x8100);
    feed(cap, DLT_EN10MB, k);

    k = udp4("qinq");
    w_vlan(k, 200, 0x0800);
    w_vlan(k, 100, 0x8100);
    w_eth(k, 0x88a8);
    feed(cap, DLT_EN10MB, k);

    k = udp4("deep");
    w_vlan(k, 5, 0x0800);
    w_vlan(k, 4, 0x8100);
    w_vlan(k, 3, 0x8100);
    w_vlan(k, 2, 0x88a8);
    w_vlan(k, 1, 0x9100);
    w_eth(k, 0x9100);
    feed(cap, DLT_EN10MB, k);

    k = udp4("vid0");
    w_vlan(k, 0, 0x0800); /* priority tag */
    w_eth(k, 0x8100);
    feed(cap, DLT_EN10MB, k);

    ck_assert_uint_eq(S.nrecs, 4);
    ck_assert_uint_eq(S.recs[0].vlan, 200);
    ck_assert_uint_eq(S.recs[1].vlan, 100);
    ck_assert_str_eq((char *)S.recs[1].data, "qinq");
    ck_assert_uint_eq(S.recs[2].vlan, 1);
    ck_assert_str_eq((char *)S.recs[2].data, "deep");
    ck_assert_uint_eq(S.recs[3].vlan, 0);
    cap_free(cap);
}
END_TEST

START_TEST(test_linux_cooked)
{
    cap_t *cap = new_cap();
    pkt_t *k = udp4("sll");
    w_sll(k, 0x0800);
    feed(cap, DLT_LINUX_SLL, k);

    k = pk_str("sll2-v6");
    w_udp(k, 5060, 5060);
    w_ip6(k, 17, "2001:db8::1", "2001:db8::2");
    w_sll2(k, 0x86dd);
    feed(cap, DLT_LINUX_SLL2, k);

    k = udp4("sll-vlan");
    w_vlan(k, 42, 0x0800);
    w_sll(k, 0x8100);
    feed(cap, DLT_LINUX_SLL, k);

    k = udp4("sll2-vlan");
    w_vlan(k, 43, 0x0800);
    w_sll2(k, 0x8100);
    feed(cap, DLT_LINUX_SLL2, k);

    k = udp4("llc");
    w_sll(k, 0x0004); /* ETH_P_802_2 */
    feed(cap, DLT_LINUX_SLL, k);

    ck_assert_uint_eq(S.nrecs, 4);
    ck_assert_str_eq((char *)S.recs[0].data, "sll");
    ck_assert_str_eq(S.recs[1].src, "[2001:db8::1]:5060");
    ck_assert_uint_eq(S.recs[2].vlan, 42);
    ck_assert_uint_eq(S.recs[3].vlan, 43);
    ck_assert_uint_eq(cap_stats(cap)->non_ip, 1);
    cap_free(cap);
}
END_TEST

/* BSD loopback: AF_INET 2 and AF_INET6 24/28/30, either byte order, DLT_NULL and DLT_LOOP. */
START_TEST(test_loopback)
{
    cap_t *cap = new_cap();
    static const int dlts[] = {DLT_NULL, 108};
    static const uint32_t afs[] = {2, 24, 28, 30};
    for (size_t d = 0; d < 2; d++) {
        for (size_t a = 0; a < 4; a++) {
            for (int be = 0; be < 2; be++) {
                pkt_t *k = pk_str("lo");
                w_udp(k, 1000, 2000);
                if (afs[a] == 2)
                    w_ip4(k, 17, "127.0.0.1", "127.0.0.2");
                else
                    w_ip6(k, 17, "::1", "::2");
                w_null(k, afs[a], be != 0);
                feed(cap, dlts[d], k);
            }
        }
    }
    ck_assert_uint_eq(S.nrecs, 16);
    ck_assert_str_eq(S.recs[0].src, "127.0.0.1:1000");
    ck_assert_str_eq(S.recs[2].src, "[::1]:1000");
    pkt_t *k = udp4("x");
    w_null(k, 7, false);
    feed(cap, DLT_NULL, k);
    ck_assert_uint_eq(cap_stats(cap)->non_ip, 1);
    ck_assert_uint_eq(S.nrecs, 16);
    cap_free(cap);
}
END_TEST

START_TEST(test_raw_ip)
{
    cap_t *cap = new_cap();
    feed(cap, DLT_RAW, udp4("raw"));
    feed(cap, 101, udp4("linktype-raw"));
    feed(cap, 14, udp4("openbsd-raw"));
    feed(cap, DLT_IPV4, udp4("ipv4"));
    pkt_t *k = pk_str("ipv6");
    w_udp(k, 1, 2);
    w_ip6(k, 17, "2001:db8::1", "2001:db8::2");
    feed(cap, DLT_IPV6, k);
    ck_assert_uint_eq(S.nrecs, 5);
    ck_assert_str_eq((char *)S.recs[4].data, "ipv6");
    ck_assert_ptr_eq(S.recs[0].l3, S.recs[0].frame);

    k = pk_str("v6 in ipv4 dlt");
    w_udp(k, 1, 2);
    w_ip6(k, 17, "2001:db8::1", "2001:db8::2");
    feed(cap, DLT_IPV4, k);
    ck_assert_uint_eq(cap_stats(cap)->bad_header, 1);
    feed(cap, 9999, udp4("unknown link"));
    ck_assert_uint_eq(cap_stats(cap)->unknown_link, 1);
    ck_assert_uint_eq(S.nrecs, 5);
    cap_free(cap);
}
END_TEST

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

START_TEST(test_not_decoded)
{
    cap_t *cap = new_cap();
    const cap_stats_t *st = cap_stats(cap);
    pkt_t *k = pk_str("arp arp arp arp arp arp arp");
    w_eth(k, 0x0806);
    feed(cap, DLT_EN10MB, k);
    k = pk_str("\xaa\xaa\x03llc");
    w_eth(k, 7); /* 802.3 length */
    feed(cap, DLT_EN10MB, k);
    ck_assert_uint_eq(st->non_ip, 2);
    k = pk_str("icmp echo");
    w_ip4(k, 1, "192.0.2.1", "192.0.2.2");
    feed(cap, DLT_RAW, k);
    k = pk_str("esp");
    w_ip6(k, 50, "2001:db8::1", "2001:db8::2");
    feed(cap, DLT_RAW, k);
    ck_assert_uint_eq(st->other_ip_proto, 2);
    k = pk_str("ppp");
    w_gre(k, 0x880b, 0x0001); /* enhanced GRE, version 1 (PPTP) */
    w_ip4(k, 47, "192.0.2.1", "192.0.2.2");
    feed(cap, DLT_RAW, k);
    ck_assert_uint_eq(st->other_ip_proto, 3);
    k = pk_str("mpls");
    w_gre(k, 0x8847, 0);
    w_ip4(k, 47, "192.0.2.1", "192.0.2.2");
    feed(cap, DLT_RAW, k);
    ck_assert_uint_eq(st->non_ip, 3);
    cap_process_frame(cap, DLT_EN10MB, T0, NULL, 0, 0);
    ck_assert_uint_eq(st->truncated, 1);
    ck_assert_uint_eq(S.nrecs, 0);
    ck_assert_uint_eq(st->frames, 7);
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

/* ---- TCP ------------------------------------------------------------------------------------ */

static const char M1[] = "INVITE sip:bob@example.com SIP/2.0\r\n"
                         "Via: SIP/2.0/TCP 192.0.2.10:5060;branch=z9hG4bK1\r\n"
                         "Call-ID: one@example.com\r\n"
                         "CSeq: 1 INVITE\r\n"
                         "Content-Length: 10\r\n"
                         "\r\n"
                         "0123456789";
static const char M2[] = "SIP/2.0 100 Trying\r\nCall-ID: two\r\nContent-Length: 0\r\n\r\n";
static const char M3[] = "BYE sip:bob@example.com SIP/2.0\r\nl: 3\r\n\r\nabc";

#define CLI_SEQ 1000u

/* A segment of the client's direction 192.0.2.10:40000 -> 198.51.100.20:5060. */
static pkt_t *seg(uint32_t seq, uint8_t flags, const void *data, size_t len)
{
    pkt_t *k = pk_new(data, len);
    w_tcp(k, 40000, 5060, seq, flags);
    w_ip4(k, 6, "192.0.2.10", "198.51.100.20");
    w_eth(k, 0x0800);
    return k;
}

/* The same from the server side. */
static pkt_t *seg_rev(uint32_t seq, uint8_t flags, const void *data, size_t len)
{
    pkt_t *k = pk_new(data, len);
    w_tcp(k, 5060, 40000, seq, flags);
    w_ip4(k, 6, "198.51.100.20", "192.0.2.10");
    w_eth(k, 0x0800);
    return k;
}

static void send_seg(cap_t *cap, uint32_t seq, uint8_t flags, const void *data, size_t len)
{
    feed(cap, DLT_EN10MB, seg(seq, flags, data, len));
}

START_TEST(test_tcp_two_messages_one_segment)
{
    cap_t *cap = new_cap();
    char buf[512];
    int n = snprintf(buf, sizeof(buf), "%s%s", M1, M2);
    ck_assert_int_gt(n, 0);
    send_seg(cap, CLI_SEQ - 1, F_SYN, NULL, 0);
    feed(cap, DLT_EN10MB, seg_rev(5000, F_SYN | F_ACK, NULL, 0));
    send_seg(cap, CLI_SEQ, F_ACK, NULL, 0);
    ck_assert_uint_eq(S.nrecs, 0);
    send_seg(cap, CLI_SEQ, F_ACK | F_PSH, buf, (size_t)n);
    ck_assert_uint_eq(S.nrecs, 1);
    ck_assert_uint_eq(S.nmsgs, 2);
    ck_assert_str_eq(S.msgs[0], M1);
    ck_assert_str_eq(S.msgs[1], M2);
    rec_t *r = &S.recs[0];
    ck_assert_uint_eq(r->proto, CAP_PROTO_TCP);
    ck_assert_str_eq(r->src, "192.0.2.10:40000");
    ck_assert_str_eq(r->dst, "198.51.100.20:5060");
    ck_assert(!r->reassembled);
    ck_assert_uint_eq(cap_stats(cap)->tcp_segments, 4);
    cap_free(cap);
}
END_TEST

START_TEST(test_tcp_split_message)
{
    cap_t *cap = new_cap();
    size_t len = strlen(M1);
    send_seg(cap, CLI_SEQ, F_ACK, M1, 40);
    send_seg(cap, CLI_SEQ + 40, F_ACK, M1 + 40, 60);
    feed(cap, DLT_EN10MB, seg_rev(5000, F_ACK, NULL, 0)); /* pure ACK */
    send_seg(cap, CLI_SEQ + 100, F_ACK | F_PSH, M1 + 100, len - 100);
    ck_assert_uint_eq(S.nrecs, 3);
    ck_assert_uint_eq(S.nmsgs, 1);
    ck_assert_str_eq(S.msgs[0], M1);
    ck_assert(!S.recs[0].reassembled);
    ck_assert_uint_eq(S.recs[1].len, 100);
    ck_assert(S.recs[2].reassembled);
    ck_assert_uint_eq(S.recs[2].len, len);
    /* A second message right after the first arrives alone (the buffer is empty again). */
    send_seg(cap, CLI_SEQ + (uint32_t)len, F_ACK, M2, strlen(M2));
    ck_assert_uint_eq(S.nmsgs, 2);
    ck_assert(!S.recs[3].reassembled);
    cap_free(cap);
}
END_TEST

START_TEST(test_tcp_retransmission)
{
    cap_t *cap = new_cap();
    const cap_stats_t *st = cap_stats(cap);
    size_t l1 = strlen(M1), l2 = strlen(M2);
    send_seg(cap, CLI_SEQ, F_ACK, M1, l1);
    send_seg(cap, CLI_SEQ, F_ACK, M1, l1); /* all old */
    ck_assert_uint_eq(st->tcp_retransmissions, 1);
    ck_assert_uint_eq(S.nrecs, 1);
    /* The last 10 bytes of M1 again, then M2: only M2 is new. */
    char buf[512];
    memcpy(buf, M1 + l1 - 10, 10);
    memcpy(buf + 10, M2, l2);
    send_seg(cap, CLI_SEQ + (uint32_t)l1 - 10, F_ACK, buf, 10 + l2);
    ck_assert_uint_eq(st->tcp_retransmissions, 2);
    ck_assert_uint_eq(S.nmsgs, 2);
    ck_assert_str_eq(S.msgs[1], M2);
    ck_assert_uint_eq(S.recs[1].len, l2);
    cap_free(cap);
}
END_TEST

START_TEST(test_tcp_out_of_order)
{
    cap_t *cap = new_cap();
    size_t len = strlen(M1);
    send_seg(cap, CLI_SEQ, F_ACK, M1, 30);                 /* A */
    send_seg(cap, CLI_SEQ + 80, F_ACK, M1 + 80, len - 80); /* C */
    send_seg(cap, CLI_SEQ + 50, F_ACK, M1 + 50, 20);       /* B2 */
    ck_assert_uint_eq(S.nrecs, 1);
    send_seg(cap, CLI_SEQ + 30, F_ACK, M1 + 30, 20); /* B1 */
    ck_assert_uint_eq(S.nmsgs, 0);                   /* [70, 80) missing */
    send_seg(cap, CLI_SEQ + 65, F_ACK, M1 + 65, 20); /* overlaps both sides */
    ck_assert_uint_eq(S.nmsgs, 1);
    ck_assert_str_eq(S.msgs[0], M1);
    ck_assert_uint_eq(cap_stats(cap)->tcp_out_of_order, 2);
    ck_assert_uint_eq(cap_stats(cap)->tcp_gaps, 0);
    /* Everything was consumed: the next message goes straight through. */
    send_seg(cap, CLI_SEQ + (uint32_t)len, F_ACK, M2, strlen(M2));
    ck_assert_uint_eq(S.nmsgs, 2);
    cap_free(cap);
}
END_TEST

/* A hole that never fills is given up after GAP_WAIT (3 s of capture time). */
START_TEST(test_tcp_gap_timeout)
{
    cap_t *cap = new_cap();
    size_t l1 = strlen(M1), l2 = strlen(M2), l3 = strlen(M3);
    feed_at(cap, DLT_EN10MB, T0, seg(CLI_SEQ, F_ACK, M1, 40)); /* M1[40..] is lost */
    uint32_t s2 = CLI_SEQ + (uint32_t)l1;
    feed_at(cap, DLT_EN10MB, T0 + 1000000, seg(s2, F_ACK, M2, l2));
    ck_assert_uint_eq(S.nmsgs, 0);
    feed_at(cap, DLT_EN10MB, T0 + 4000000000LL, seg(s2 + (uint32_t)l2, F_ACK, M3, l3));
    ck_assert_uint_eq(S.nmsgs, 2);
    ck_assert_str_eq(S.msgs[0], M2);
    ck_assert_str_eq(S.msgs[1], M3);
    ck_assert_uint_eq(cap_stats(cap)->tcp_gaps, 1);
    cap_free(cap);
}
END_TEST

/* Waiting for a hole has limits: separate ranges kept, segments seen, capture time. */
START_TEST(test_tcp_gap_limits)
{
    cap_t *cap = new_cap();
    S.tcp_mode = TCP_ALL;
    const cap_stats_t *st = cap_stats(cap);
    char data[16];
    memset(data, 'x', sizeof(data));
    send_seg(cap, CLI_SEQ, F_ACK, data, 8);
    /* Nine future ranges with holes between them: the 9th is not kept. */
    for (uint32_t i = 1; i <= 9; i++)
        send_seg(cap, CLI_SEQ + 8 + 32 * i, F_ACK, data, 16);
    ck_assert_uint_eq(st->tcp_gaps, 1);
    ck_assert_uint_eq(st->tcp_out_of_order, 9);
    ck_assert_uint_eq(S.nrecs, 1);
    /* The first hole fills: the first range follows, the next hole waits. */
    send_seg(cap, CLI_SEQ + 8, F_ACK, data, 16);
    send_seg(cap, CLI_SEQ + 24, F_ACK, data, 16);
    ck_assert_uint_eq(S.nrecs, 3);
    ck_assert_uint_eq(S.recs[2].len, 32);
    cap_free(cap);

    sink_reset();
    S.tcp_mode = TCP_ALL;
    cap = new_cap();
    st = cap_stats(cap);
    send_seg(cap, CLI_SEQ, F_ACK, data, 8);
    /* 70 adjacent segments behind one hole: one range, but patience runs out after 64. */
    for (uint32_t i = 0; i < 70; i++)
        send_seg(cap, CLI_SEQ + 100 + 16 * i, F_ACK, data, 16);
    ck_assert_uint_eq(st->tcp_gaps, 1);
    ck_assert_uint_eq(S.nrecs, 1 + 1 + 6);
    ck_assert_uint_eq(S.recs[1].len, 64 * 16);
    /* A segment far ahead, beyond the buffer, is dropped while the hole is young... */
    size_t nrecs = S.nrecs;
    feed_at(cap, DLT_EN10MB, T0, seg(CLI_SEQ + 100000000, F_ACK, data, 16));
    ck_assert_uint_eq(st->tcp_gaps, 2);
    ck_assert_uint_eq(S.nrecs, nrecs);
    /* ...and followed once it is old. */
    feed_at(cap, DLT_EN10MB, T0 + 4000000000LL, seg(CLI_SEQ + 100000016, F_ACK, data, 16));
    ck_assert_uint_eq(st->tcp_gaps, 3);
    ck_assert_uint_eq(S.nrecs, nrecs + 1);
    cap_free(cap);
}
END_TEST

/* A sink that never consumes: the buffer stops at its cap and starts over. */
START_TEST(test_tcp_buffer_cap)
{
    cap_cfg_t cfg;
    cap_cfg_init(&cfg);
    cfg.tcp_max_buffer = 1024;
    cap_t *cap = new_cap_cfg(&cfg);
    S.tcp_mode = TCP_NONE;
    char data[300];
    memset(data, 'y', sizeof(data));
    for (uint32_t i = 0; i < 20; i++)
        send_seg(cap, CLI_SEQ + 300 * i, F_ACK, data, sizeof(data));
    ck_assert_uint_ge(cap_stats(cap)->tcp_gaps, 5);
    ck_assert_uint_le(S.max_tcp_offer, 1024);
    ck_assert_uint_eq(S.nrecs, 20);
    /* A single segment larger than the buffer is offered once and dropped. */
    char big[2000];
    memset(big, 'z', sizeof(big));
    uint64_t gaps = cap_stats(cap)->tcp_gaps;
    send_seg(cap, 90000, F_SYN, NULL, 0);
    send_seg(cap, 90001, F_ACK, big, sizeof(big));
    ck_assert_uint_eq(S.recs[20].len, sizeof(big));
    ck_assert_uint_gt(cap_stats(cap)->tcp_gaps, gaps);
    cap_free(cap);
}
END_TEST

/* A sink consuming a fixed amount: the rest is offered again with the next segment. */
START_TEST(test_tcp_partial_consume)
{
    cap_t *cap = new_cap();
    S.tcp_mode = TCP_FIXED;
    S.fixed = 5;
    send_seg(cap, CLI_SEQ, F_ACK, "0123456789", 10);
    send_seg(cap, CLI_SEQ + 10, F_ACK, "abcdef", 6);
    ck_assert_uint_eq(S.nrecs, 2);
    ck_assert_str_eq((char *)S.recs[1].data, "56789abcdef");
    send_seg(cap, CLI_SEQ + 16, F_ACK, "!", 1);
    ck_assert_str_eq((char *)S.recs[2].data, "abcdef!");
    cap_free(cap);
}
END_TEST

/* FIN and RST forget the buffered partial message. */
START_TEST(test_tcp_fin_rst)
{
    cap_t *cap = new_cap();
    const cap_stats_t *st = cap_stats(cap);
    send_seg(cap, CLI_SEQ, F_ACK, M1, 30);
    send_seg(cap, CLI_SEQ + 30, F_ACK | F_FIN, M1 + 30, 10);
    ck_assert_uint_eq(S.recs[1].len, 40);
    /* Old data again: with the state gone it is a new stream, not a retransmission. */
    send_seg(cap, CLI_SEQ, F_ACK, M1, 30);
    ck_assert_uint_eq(st->tcp_retransmissions, 0);
    ck_assert_uint_eq(S.recs[2].len, 30);
    /* RST from the other side ends this direction too. */
    feed(cap, DLT_EN10MB, seg_rev(5000, F_RST, NULL, 0));
    send_seg(cap, CLI_SEQ + 30, F_ACK, M1 + 30, 10);
    ck_assert_uint_eq(S.recs[3].len, 10);
    ck_assert_uint_eq(st->tcp_retransmissions, 0);
    cap_free(cap);
}
END_TEST

/* A new SYN on the same 4-tuple restarts the direction at its ISN. */
START_TEST(test_tcp_syn_restarts)
{
    cap_t *cap = new_cap();
    send_seg(cap, 100, F_SYN, NULL, 0);
    send_seg(cap, 101, F_ACK, M1, 30);
    send_seg(cap, 100, F_SYN, NULL, 0); /* retransmitted SYN: nothing changes */
    send_seg(cap, 131, F_ACK, M1 + 30, strlen(M1) - 30);
    ck_assert_uint_eq(S.nmsgs, 1);
    send_seg(cap, 7000, F_SYN, NULL, 0);
    send_seg(cap, 7001, F_ACK, M2, strlen(M2));
    ck_assert_uint_eq(S.nmsgs, 2);
    ck_assert_uint_eq(cap_stats(cap)->tcp_gaps, 0);
    cap_free(cap);
}
END_TEST

START_TEST(test_tcp_seq_wrap)
{
    cap_t *cap = new_cap();
    send_seg(cap, 0xffffffe0u, F_SYN, NULL, 0);
    send_seg(cap, 0xffffffe1u, F_ACK, M1, 50);
    send_seg(cap, 0xffffffe1u + 50, F_ACK, M1 + 50, strlen(M1) - 50);
    ck_assert_uint_eq(S.nmsgs, 1);
    ck_assert_str_eq(S.msgs[0], M1);
    cap_free(cap);
}
END_TEST

START_TEST(test_tcp_ipv6)
{
    cap_t *cap = new_cap();
    for (int i = 0; i < 2; i++) {
        pkt_t *k = i == 0 ? pk_new(M1, 20) : pk_new(M1 + 20, strlen(M1) - 20);
        w_tcp(k, 40000, 5061, 1 + 20 * (uint32_t)i, F_ACK);
        w_ip6(k, 6, "2001:db8::a", "2001:db8::b");
        feed(cap, DLT_RAW, k);
    }
    ck_assert_uint_eq(S.nmsgs, 1);
    ck_assert_str_eq(S.recs[1].src, "[2001:db8::a]:40000");
    cap_free(cap);
}
END_TEST

/* A TCP segment carried in IPv4 fragments is reassembled first. */
START_TEST(test_tcp_in_fragments)
{
    cap_t *cap = new_cap();
    uint8_t seg_bytes[600];
    size_t l1 = strlen(M1);
    memset(seg_bytes, 0, 20);
    put16(seg_bytes, 40000);
    put16(seg_bytes + 2, 5060);
    put32(seg_bytes + 4, CLI_SEQ);
    seg_bytes[12] = 5 << 4;
    seg_bytes[13] = F_ACK;
    memcpy(seg_bytes + 20, M1, l1);
    size_t total = 20 + l1;
    pkt_t *k = pk_new(seg_bytes + 96, total - 96);
    w_ip4x(k, 6, "192.0.2.10", "198.51.100.20", 8, 96 / 8, 0);
    feed(cap, DLT_RAW, k);
    k = pk_new(seg_bytes, 96);
    w_ip4x(k, 6, "192.0.2.10", "198.51.100.20", 8, 0x2000, 0);
    feed(cap, DLT_RAW, k);
    ck_assert_uint_eq(S.nmsgs, 1);
    ck_assert(S.recs[0].reassembled);
    ck_assert_uint_eq(cap_stats(cap)->tcp_segments, 1);
    cap_free(cap);
}
END_TEST

START_TEST(test_tcp_flow_limits)
{
    cap_cfg_t cfg;
    cap_cfg_init(&cfg);
    cfg.tcp_max_flows = 2;
    cfg.tcp_timeout_ms = 1000;
    cap_t *cap = new_cap_cfg(&cfg);
    const cap_stats_t *st = cap_stats(cap);
    for (uint16_t port = 1; port <= 3; port++) {
        pkt_t *k = pk_new(M1, 10);
        w_tcp(k, port, 5060, 1, F_ACK);
        w_ip4(k, 6, "192.0.2.10", "198.51.100.20");
        feed_at(cap, DLT_RAW, T0, k);
    }
    ck_assert_uint_eq(st->tcp_flows_evicted, 1);
    /* Port 1 was evicted: its continuation starts a new stream of its own. */
    pkt_t *k = pk_new(M1 + 10, 5);
    w_tcp(k, 1, 5060, 11, F_ACK);
    w_ip4(k, 6, "192.0.2.10", "198.51.100.20");
    feed_at(cap, DLT_RAW, T0, k);
    ck_assert_uint_eq(S.recs[3].len, 5);
    ck_assert_uint_eq(st->tcp_flows_evicted, 2);
    /* Idle for more than a second of capture time. */
    feed_at(cap, DLT_RAW, T0 + 3000000000LL, udp4("tick"));
    ck_assert_uint_eq(st->tcp_flows_timed_out, 2);
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

/* ---- peek (look-ahead hints) ----------------------------------------------------------------- */

/* Whatever cap_peek_udp accepts, the full decoding delivers as the same datagram. */
static void peek_agrees(int dlt, pkt_t *k, bool plain)
{
    sink_reset();
    cap_t *cap = new_cap();
    size_t len = pk_len(k);
    const uint8_t *p = guard_place(pk_data(k), len);
    packet_view_t peek;
    memset(&peek, 0, sizeof(peek));
    bool ok = cap_peek_udp(dlt, p, len, &peek);
    ck_assert_msg(ok == plain, "dlt %d: peek %d, expected %d", dlt, ok, plain);
    cap_process_frame(cap, dlt, T0, p, (uint32_t)len, (uint32_t)len);
    if (plain) {
        ck_assert_uint_eq(S.nrecs, 1);
        char src[NET_ENDPOINT_STRLEN], dst[NET_ENDPOINT_STRLEN];
        net_endpoint_str(&peek.src, src, sizeof(src));
        net_endpoint_str(&peek.dst, dst, sizeof(dst));
        ck_assert_str_eq(src, S.recs[0].src);
        ck_assert_str_eq(dst, S.recs[0].dst);
        ck_assert_uint_eq(peek.ip_proto, CAP_PROTO_UDP);
        ck_assert_uint_eq(peek.len, S.recs[0].len);
        ck_assert_mem_eq(peek.payload, S.recs[0].data, peek.len);
        ck_assert_ptr_eq(peek.l3, S.recs[0].l3);
        ck_assert_uint_eq(peek.l3_len, S.recs[0].l3_len);
        ck_assert_uint_eq(peek.vlan, S.recs[0].vlan);
        /* Cut anywhere, it is not a whole datagram any more, and nothing is read past the cut. */
        for (size_t cut = 0; cut < len; cut++) {
            const uint8_t *q = guard_place(pk_data(k), cut);
            ck_assert_msg(!cap_peek_udp(dlt, q, cut, &peek), "dlt %d cut %zu", dlt, cut);
        }
    }
    free(k);
    cap_free(cap);
}

START_TEST(test_peek_udp)
{
    pkt_t *k = udp4("plain");
    w_eth(k, 0x0800);
    peek_agrees(DLT_EN10MB, k, true);

    k = udp4("two tags");
    w_vlan(k, 7, 0x0800);
    w_vlan(k, 8, 0x8100);
    w_eth(k, 0x88a8);
    peek_agrees(DLT_EN10MB, k, true);

    k = pk_str("v6 cooked");
    w_udp(k, 4000, 4002);
    w_ip6(k, 17, "2001:db8::1", "2001:db8::2");
    w_sll2(k, 0x86dd);
    peek_agrees(DLT_LINUX_SLL2, k, true);

    k = udp4("cooked v1");
    w_sll(k, 0x0800);
    peek_agrees(DLT_LINUX_SLL, k, true);

    k = udp4("raw");
    peek_agrees(DLT_RAW, k, true);

    /* Not plain: left to the full decoding. */
    k = pk_str("tcp payload");
    w_tcp(k, 1, 2, 3, F_ACK);
    w_ip4x(k, 6, "192.0.2.1", "192.0.2.2", 1, 0, 12);
    peek_agrees(DLT_RAW, k, false);

    k = pk_str("fragment!");
    w_frag6(k, 17, 1448, false, 1);
    w_ip6(k, 44, "2001:db8::1", "2001:db8::2");
    peek_agrees(DLT_RAW, k, false);

    k = pk_str("v6 with extension headers");
    w_udp(k, 1, 2);
    w_ext6(k, 17, 1);
    w_ip6(k, 0, "2001:db8::1", "2001:db8::2");
    peek_agrees(DLT_RAW, k, false);

    k = udp4("loopback");
    w_null(k, 2, false);
    peek_agrees(DLT_NULL, k, false);

    /* A link type for one IP version carries only that version. */
    k = pk_str("v6 where v4 was promised");
    w_udp(k, 4000, 4002);
    w_ip6(k, 17, "2001:db8::1", "2001:db8::2");
    peek_agrees(DLT_IPV4, k, false);
}
END_TEST

/* ---- the ring's fast path: peeked frames skip the layer walk ----------------------------------
 */

/* What a read delivered, folded into one number per field group, so that two reads of a file can
 * be compared packet by packet without keeping the packets. */
static struct {
    uint64_t packets, digest;
} RD;

static uint64_t fold(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

static size_t digest_sink(void *ctx, const packet_view_t *pkt)
{
    (void)ctx;
    uint64_t h = RD.digest ^ RD.packets;
    char src[NET_ENDPOINT_STRLEN], dst[NET_ENDPOINT_STRLEN];
    net_endpoint_str(&pkt->src, src, sizeof(src));
    net_endpoint_str(&pkt->dst, dst, sizeof(dst));
    size_t l3_at = pkt->l3 != NULL && pkt->frame != NULL && pkt->l3 >= pkt->frame &&
                           pkt->l3 < pkt->frame + pkt->frame_caplen
                       ? (size_t)(pkt->l3 - pkt->frame)
                       : SIZE_MAX; /* a reassembled datagram's own buffer */
    uint64_t fields[] = {pkt->ip_proto,
                         (uint64_t)pkt->ts_ns,
                         pkt->len,
                         pkt->vlan,
                         pkt->reassembled,
                         l3_at,
                         pkt->l3_len,
                         pkt->frame_caplen,
                         pkt->frame_len,
                         (uint64_t)pkt->frame_dlt,
                         pkt->src.addr.family,
                         pkt->dst.addr.family};
    h = fold(h, fields, sizeof(fields));
    h = fold(h, src, strlen(src));
    h = fold(h, dst, strlen(dst));
    h = fold(h, pkt->payload, pkt->len);
    RD.digest = h;
    RD.packets++;
    return pkt->len;
}

static uint64_t any_hint(void *ctx, const packet_view_t *pkt)
{
    (void)ctx;
    return pkt->len & 1 ? 0 : 1 + pkt->dst.port; /* some frames without a hint too */
}

static void no_prefetch(void *ctx, uint64_t hint, int stage)
{
    (void)ctx;
    (void)hint;
    (void)stage;
}

/* Read path with and without look-ahead: the same packets, in the same order, and the same
 * counters (the read-ahead thread's CPU time aside). */
static uint64_t same_with_lookahead(const char *path)
{
    uint64_t digest[2], packets[2];
    cap_stats_t stats[2];
    for (int la = 0; la < 2; la++) {
        memset(&RD, 0, sizeof(RD));
        cap_t *cap = cap_new(NULL, digest_sink, NULL);
        ck_assert_ptr_nonnull(cap);
        if (la)
            cap_set_lookahead(cap, any_hint, no_prefetch, NULL);
        char err[256] = "";
        ck_assert_msg(cap_read_file(cap, path, err, sizeof(err)) == 0, "%s: %s", path, err);
        stats[la] = *cap_stats(cap);
        stats[la].readahead_cpu_ns = 0;
        digest[la] = RD.digest;
        packets[la] = RD.packets;
        cap_free(cap);
    }
    ck_assert_uint_eq(packets[0], packets[1]);
    ck_assert_msg(digest[0] == digest[1], "%s: the fast path delivered something else", path);
    ck_assert_msg(memcmp(&stats[0], &stats[1], sizeof(stats[0])) == 0, "%s: counters differ", path);
    return packets[0];
}

static void dump_frame(pcap_dumper_t *d, pkt_t *k, int64_t i)
{
    struct pcap_pkthdr h;
    memset(&h, 0, sizeof(h));
    h.ts.tv_sec = 1705312800 + i;
    h.caplen = h.len = (uint32_t)pk_len(k);
    pcap_dump((u_char *)d, &h, pk_data(k));
    free(k);
}

/* Frames of every kind the fast path must take, or leave to the full decoding, 3 rounds, in
 * an Ethernet savefile at path. */
static void write_mixed_frames(const char *path)
{
    pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
    ck_assert_ptr_nonnull(dead);
    pcap_dumper_t *d = pcap_dump_open(dead, path);
    ck_assert_ptr_nonnull(d);
    int64_t n = 0;
    for (int round = 0; round < 3; round++) {
        pkt_t *k = udp4("plain");
        w_eth(k, 0x0800);
        dump_frame(d, k, n++);
        k = udp4("one tag");
        w_vlan(k, 7, 0x0800);
        w_eth(k, 0x8100);
        dump_frame(d, k, n++);
        k = udp4("two tags, odd");
        w_vlan(k, 7, 0x0800);
        w_vlan(k, 4095, 0x8100);
        w_eth(k, 0x88a8);
        dump_frame(d, k, n++);
        k = pk_str("v6");
        w_udp(k, 4000, 4002);
        w_ip6(k, 17, "2001:db8::1", "2001:db8::2");
        w_eth(k, 0x86dd);
        dump_frame(d, k, n++);
        k = pk_str("v6 with extension headers");
        w_udp(k, 1, 2);
        w_ext6(k, 17, 1);
        w_ip6(k, 0, "2001:db8::1", "2001:db8::2");
        w_eth(k, 0x86dd);
        dump_frame(d, k, n++);
        k = pk_str("inner");
        w_udp(k, 5060, 5062);
        w_ip4(k, 17, "10.0.0.1", "10.0.0.2");
        w_eth(k, 0x0800);
        w_vxlan(k, true);
        w_udp(k, 49152, 4789);
        w_ip4(k, 17, "192.0.2.1", "192.0.2.2");
        w_eth(k, 0x0800);
        dump_frame(d, k, n++);
        k = pk_str("not vxlan inside");
        w_udp(k, 49152, 4789);
        w_ip4(k, 17, "192.0.2.1", "192.0.2.2");
        w_eth(k, 0x0800);
        dump_frame(d, k, n++);
        k = pk_str("options");
        w_udp(k, 7078, 7080);
        w_ip4x(k, 17, "192.0.2.1", "192.0.2.2", 1, 0, 12);
        w_eth(k, 0x0800);
        dump_frame(d, k, n++);
        k = pk_str("tcp");
        w_tcp(k, 1, 2, 3, F_ACK);
        w_ip4(k, 6, "192.0.2.1", "192.0.2.2");
        w_eth(k, 0x0800);
        dump_frame(d, k, n++);
        k = pk_str("first half|");
        w_ip4x(k, 17, "192.0.2.1", "192.0.2.2", (uint16_t)(100 + round), 0x2000, 0);
        w_eth(k, 0x0800);
        dump_frame(d, k, n++);
        k = pk_str("udp length that lies");
        w_udp(k, 1, 2);
        put16(k->buf + k->start + 4, 200);
        w_ip4(k, 17, "192.0.2.1", "192.0.2.2");
        w_eth(k, 0x0800);
        dump_frame(d, k, n++);
        k = pk_str("arp-ish");
        w_eth(k, 0x0806);
        dump_frame(d, k, n++);
    }
    pcap_dump_close(d);
    pcap_close(dead);
}

START_TEST(test_ring_fast_path)
{
    char path[] = "/tmp/sipscope-ring-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    write_mixed_frames(path);
    /* Per round 7 datagrams (the VXLAN frame's inner one included; "not vxlan inside" has the
     * I flag of a VXLAN header and decodes to nothing). The TCP segment comes once, then as
     * retransmissions; the fragment is held, the lying length and ARP are counted. */
    ck_assert_uint_eq(same_with_lookahead(path), 3 * 7 + 1);
    unlink(path);
}
END_TEST

/* A frame from the live ring (cap_process_frame_peeked): the same packets and counters as
 * cap_process_frame, whether the producer peeked or not. */
START_TEST(test_frame_peeked)
{
    char path[] = "/tmp/sipscope-peeked-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    write_mixed_frames(path);
    uint64_t digest[2], packets[2], peeked = 0;
    cap_stats_t stats[2];
    for (int way = 0; way < 2; way++) {
        memset(&RD, 0, sizeof(RD));
        cap_t *cap = cap_new(NULL, digest_sink, NULL);
        ck_assert_ptr_nonnull(cap);
        char err[PCAP_ERRBUF_SIZE];
        pcap_t *in = pcap_open_offline(path, err);
        ck_assert_ptr_nonnull(in);
        struct pcap_pkthdr *h;
        const u_char *data;
        while (pcap_next_ex(in, &h, &data) == 1) {
            int64_t ts = (int64_t)h->ts.tv_sec * 1000000000 + (int64_t)h->ts.tv_usec * 1000;
            if (way == 0) {
                cap_process_frame(cap, DLT_EN10MB, ts, data, h->caplen, h->len);
                continue;
            }
            cap_frame_t f = {
                .info = {.ts_ns = ts, .caplen = h->caplen, .wirelen = h->len, .dlt = DLT_EN10MB},
                .data = data};
            packet_view_t peek;
            if (cap_peek_udp(f.info.dlt, data, f.info.caplen, &peek)) {
                f.info.peeked = true;
                f.info.l3_off = (uint8_t)(peek.l3 - data);
                f.info.vlan = peek.vlan;
                peeked++;
            }
            cap_process_frame_peeked(cap, &f);
        }
        pcap_close(in);
        stats[way] = *cap_stats(cap);
        digest[way] = RD.digest;
        packets[way] = RD.packets;
        cap_free(cap);
    }
    unlink(path);
    ck_assert_uint_eq(peeked, 3 * 7); /* all but the extension headers, TCP, fragment, ... */
    ck_assert_uint_eq(packets[0], 3 * 7 + 1);
    ck_assert_uint_eq(packets[0], packets[1]);
    ck_assert(digest[0] == digest[1]);
    ck_assert_mem_eq(&stats[0], &stats[1], sizeof(stats[0]));
}
END_TEST

/* Look-ahead through a real read: every plain UDP frame gets its hint computed on the reader
 * thread, and both prefetch stages see it before the sink sees the frame. */
#define LA_SLOTS 65536

static struct {
    uint64_t key[LA_SLOTS];
    uint32_t stage_seen[LA_SLOTS][2];
    uint32_t delivered[LA_SLOTS];
    uint64_t prefetches[2], checked, late;
} LA;
static _Atomic uint64_t la_hints;

static uint64_t la_hint_of(const packet_view_t *pkt)
{
    uint64_t h = 1469598103934665603ULL ^ ((uint64_t)pkt->src.port << 16 | pkt->dst.port);
    for (size_t i = 0; i < pkt->len && i < 16; i++)
        h = (h ^ pkt->payload[i]) * 1099511628211ULL;
    return h | 1;
}

static uint32_t la_slot(uint64_t hint)
{
    uint32_t i = (uint32_t)(hint >> 7) & (LA_SLOTS - 1);
    while (LA.key[i] != 0 && LA.key[i] != hint)
        i = (i + 1) & (LA_SLOTS - 1);
    LA.key[i] = hint;
    return i;
}

static uint64_t la_hint(void *ctx, const packet_view_t *pkt)
{
    (void)ctx;
    atomic_fetch_add(&la_hints, 1);
    return la_hint_of(pkt);
}

static void la_prefetch(void *ctx, uint64_t hint, int stage)
{
    (void)ctx;
    ck_assert(stage == 0 || stage == 1);
    LA.prefetches[stage]++;
    LA.stage_seen[la_slot(hint)][stage]++;
}

static size_t la_sink(void *ctx, const packet_view_t *pkt)
{
    (void)ctx;
    if (pkt->ip_proto != CAP_PROTO_UDP || pkt->reassembled) {
        ck_assert_uint_eq(pkt->hint, 0); /* not the frame's own datagram */
        return pkt->len;
    }
    packet_view_t peek;
    if (!cap_peek_udp(pkt->frame_dlt, pkt->frame, pkt->frame_caplen, &peek))
        return pkt->len;
    ck_assert_uint_eq(pkt->hint, la_hint_of(pkt)); /* the hint travels with its frame */
    uint32_t i = la_slot(la_hint_of(pkt));
    LA.delivered[i]++;
    LA.checked++;
    if (LA.stage_seen[i][0] < LA.delivered[i] || LA.stage_seen[i][1] < LA.delivered[i])
        LA.late++;
    return pkt->len;
}

START_TEST(test_lookahead)
{
    memset(&LA, 0, sizeof(LA));
    atomic_store(&la_hints, 0);
    cap_cfg_t cfg;
    cap_cfg_init(&cfg);
    cap_t *cap = cap_new(&cfg, la_sink, NULL);
    ck_assert_ptr_nonnull(cap);
    cap_set_lookahead(cap, la_hint, la_prefetch, NULL);
    char err[256];
    ck_assert_int_eq(cap_read_file(cap, testdata_path("samples/small.pcap"), err, sizeof(err)), 0);
    uint64_t hints = atomic_load(&la_hints);
    ck_assert_uint_gt(hints, 1000);
    ck_assert_uint_eq(LA.prefetches[0], hints);
    ck_assert_uint_eq(LA.prefetches[1], hints);
    ck_assert_uint_gt(LA.checked, 1000);
    ck_assert_uint_eq(LA.late, 0);
    cap_free(cap);
}
END_TEST

/* ---- files ------------------------------------------------------------------------------------
 */

static int read_file(cap_t *cap, const char *path, char *err, size_t errlen)
{
    return cap_read_file(cap, path, err, errlen);
}

/* Where the value of the first "key" in json starts (pretty-printed or compact). */
static const char *json_value(const char *json, const char *key)
{
    char pat[64];
    int n = snprintf(pat, sizeof(pat), "\"%s\":", key);
    ck_assert(n > 0 && (size_t)n < sizeof(pat));
    const char *at = strstr(json, pat);
    ck_assert_msg(at != NULL, "no %s in the truth file", key);
    at += n;
    while (*at == ' ')
        at++;
    return at;
}

/* A number in the truth file: the first "key": N after "totals". */
static uint64_t truth_total(const char *json, const char *key)
{
    const char *totals = strstr(json, "\"totals\"");
    ck_assert_ptr_nonnull(totals);
    const char *at = json_value(totals, key);
    size_t digits = 0;
    while (at[digits] >= '0' && at[digits] <= '9')
        digits++;
    uint64_t v;
    ck_assert(sv_to_u64(sv_make(at, digits), &v));
    return v;
}

/* Seconds with µs as written by simcalls ("first_packet_time": 1705312800.209592) in ns. */
static int64_t truth_time_ns(const char *json, const char *key)
{
    const char *at = json_value(json, key);
    const char *dot = strchr(at, '.');
    ck_assert_ptr_nonnull(dot);
    uint64_t s, us;
    ck_assert(sv_to_u64(sv_make(at, (size_t)(dot - at)), &s));
    size_t digits = 0;
    while (dot[1 + digits] >= '0' && dot[1 + digits] <= '9')
        digits++;
    ck_assert(sv_to_u64(sv_make(dot + 1, digits), &us));
    for (size_t i = digits; i < 6; i++)
        us *= 10;
    return (int64_t)(s * 1000000000ULL + us * 1000ULL);
}

typedef struct {
    const char *path;
    uint64_t frames, udp, tcp, fragments, reassembled, bad;
    int64_t first_ts; /* of the first packet delivered, when it is the first frame */
} real_file_t;

static const real_file_t real_files[] = {
    {"ndpi-FAX-Call-t38-CA-TDM-SIP-FB-1.pcap", 1552, 1552, 0, 0, 0, 0, 0},
    {"ndpi-http_on_sip_port.pcap", 4, 0, 4, 0, 0, 0, 0},
    {"ndpi-rtcp_multiple_pkts_in_the_same_datagram.pcap", 5, 5, 0, 0, 0, 0, 1502626544321377000LL},
    {"ndpi-sip.pcap", 112, 112, 0, 0, 0, 0, 0},
    {"sngrep-ipv6frag.pcap", 34, 32, 0, 4, 2, 0, 0},
    {"sv-cloudshark-sip-s0.pcap", 10, 10, 0, 0, 0, 0, 0},
    {"sv-sip-body-large.pcap", 16, 0, 16, 0, 0, 0, 0},
    {"sv-sip-compact-form.pcap", 1, 1, 0, 0, 0, 0, 0},
    {"sv-sip-tcp.pcap", 11, 0, 11, 0, 0, 0, 0},
    {"sv-ssdp.pcap", 1, 1, 0, 0, 0, 0, 0},
    {"zeek-invalid-content-length.pcap", 2, 2, 0, 0, 0, 0, 0},
    {"zeek-sip-long-request-response-paths.pcap", 2, 2, 0, 0, 0, 0, 1786134717096083000LL},
    {"ndpi-rtp.pcapng", 112, 75, 37, 0, 0, 0, 1332741131936370000LL},
    {"ndpi-sip_hello.pcapng", 30, 30, 0, 0, 0, 0, 1645515834707950000LL},
    /* A fuzzed frame: UDP length 57343 in a 37-byte IP packet (tshark: "bogus"). */
    {"tcpdump-rtp-seg-fault-1.pcapng", 1, 0, 0, 0, 0, 1, 0},
};

/* Every real capture: frame, UDP and TCP counts as tshark sees them; nothing unknown. */
START_TEST(test_real_files)
{
    const real_file_t *f = &real_files[_i];
    char rel[256];
    snprintf(rel, sizeof(rel), "tests/pcap/real/%s", f->path);
    S.record = false;
    cap_t *cap = new_cap();
    char err[256] = "";
    ck_assert_msg(read_file(cap, testdata_path(rel), err, sizeof(err)) == 0, "%s", err);
    const cap_stats_t *st = cap_stats(cap);
    ck_assert_uint_eq(st->frames, f->frames);
    ck_assert_uint_eq(st->udp_packets, f->udp);
    ck_assert_uint_eq(st->tcp_segments, f->tcp);
    ck_assert_uint_eq(st->ip_fragments, f->fragments);
    ck_assert_uint_eq(st->ip_reassembled, f->reassembled);
    ck_assert_uint_eq(st->bad_header, f->bad);
    ck_assert_uint_eq(st->unknown_link + st->truncated + st->read_errors, 0);
    if (f->first_ts != 0)
        ck_assert_int_eq(S.first_ts, f->first_ts);
    cap_free(cap);
}
END_TEST

START_TEST(test_ring_fast_path_real)
{
    ck_assert_uint_gt(same_with_lookahead(testdata_path("samples/small.pcap")), 1000);
    for (size_t i = 0; i < sizeof(real_files) / sizeof(real_files[0]); i++) {
        char rel[512];
        snprintf(rel, sizeof(rel), "tests/pcap/real/%s", real_files[i].path);
        same_with_lookahead(testdata_path(rel));
    }
}
END_TEST

START_TEST(test_file_ipv6_fragments)
{
    S.record = true;
    cap_t *cap = new_cap();
    char err[256];
    ck_assert_int_eq(
        read_file(cap, testdata_path("tests/pcap/real/sngrep-ipv6frag.pcap"), err, sizeof(err)), 0);
    ck_assert_uint_eq(S.sip_udp, 32);
    ck_assert_uint_eq(S.reassembled, 2);
    /* Both reassembled INVITEs are whole: their Content-Length matches the body. */
    size_t whole = 0;
    for (size_t i = 0; i < S.nrecs; i++)
        if (S.recs[i].reassembled &&
            sip_message_len(S.recs[i].data, S.recs[i].len) == S.recs[i].len &&
            memcmp(S.recs[i].data, "INVITE ", 7) == 0)
            whole++;
    ck_assert_uint_eq(whole, 2);
    cap_free(cap);
}
END_TEST

START_TEST(test_file_sip_tcp)
{
    cap_t *cap = new_cap();
    char err[256];
    ck_assert_int_eq(
        read_file(cap, testdata_path("tests/pcap/real/sv-sip-tcp.pcap"), err, sizeof(err)), 0);
    ck_assert_uint_eq(S.nmsgs, 2);
    ck_assert_mem_eq(S.msgs[0], "REGISTER sip:", 13);
    ck_assert_uint_eq(S.msg_len[0], 585);
    ck_assert_mem_eq(S.msgs[1], "SIP/2.0 200 OK", 14);
    ck_assert_uint_eq(S.msg_len[1], 491);
    ck_assert_uint_eq(S.tcp_calls, 3); /* 400 bytes, then 400 + 185, then the 200 OK */
    ck_assert(S.recs[1].reassembled);
    cap_free(cap);
}
END_TEST

/* samples/small.pcap against its truth file: every frame, fragment and SIP message. */
START_TEST(test_file_small_sample)
{
    const char *pcap = testdata_path("samples/small.pcap");
    char pcap_path[4096];
    snprintf(pcap_path, sizeof(pcap_path), "%s", pcap);
    char *truth = testdata_read(testdata_path("samples/small.truth.json"), NULL);
    ck_assert_ptr_nonnull(truth);
    S.record = false;
    cap_t *cap = new_cap();
    char err[256];
    ck_assert_int_eq(read_file(cap, pcap_path, err, sizeof(err)), 0);
    const cap_stats_t *st = cap_stats(cap);
    ck_assert_uint_eq(st->frames, truth_total(truth, "packets"));
    ck_assert_uint_eq(st->bytes, truth_total(truth, "bytes"));
    ck_assert_uint_eq(st->ip_fragments, truth_total(truth, "ip_fragments"));
    ck_assert_uint_eq(st->tcp_segments, truth_total(truth, "tcp_packets"));
    ck_assert_uint_eq(st->ip_reassembled, 2);
    ck_assert_uint_eq(S.sip_udp + S.nmsgs, truth_total(truth, "sip_messages"));
    ck_assert_uint_eq(S.other_udp,
                      truth_total(truth, "rtp_packets") + truth_total(truth, "rtcp_packets"));
    ck_assert_uint_eq(st->unknown_link + st->non_ip + st->truncated + st->bad_header, 0);
    ck_assert_int_eq(S.first_ts, truth_time_ns(truth, "first_packet_time"));
    ck_assert(!S.sub_us);
    free(truth);
    cap_free(cap);
}
END_TEST

static char *temp_file(const void *data, size_t len)
{
    char *path = malloc(64);
    ck_assert_ptr_nonnull(path);
    snprintf(path, 64, "/tmp/check_capture_XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

START_TEST(test_file_errors)
{
    cap_t *cap = new_cap();
    char err[512] = "";
    ck_assert_int_eq(read_file(cap, "/nonexistent/x.pcap", err, sizeof(err)), -ENOENT);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/x.pcap"));
    char *path = temp_file("this is not a capture file, just text\n", 38);
    ck_assert_int_eq(read_file(cap, path, err, sizeof(err)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "not a pcap"));
    unlink(path);
    free(path);
    path = temp_file("", 0);
    ck_assert_int_eq(read_file(cap, path, err, sizeof(err)), -EINVAL);
    unlink(path);
    free(path);
    ck_assert_uint_eq(cap_stats(cap)->frames, 0);
    cap_free(cap);
}
END_TEST

/* Number of whole records in the first cut bytes of a little-endian classic pcap. */
static uint64_t pcap_records_before(const uint8_t *p, size_t cut)
{
    size_t off = 24;
    uint64_t n = 0;
    while (off + 16 <= cut) {
        uint32_t caplen = (uint32_t)p[off + 8] | (uint32_t)p[off + 9] << 8 |
                          (uint32_t)p[off + 10] << 16 | (uint32_t)p[off + 11] << 24;
        if (off + 16 + caplen > cut)
            break;
        off += 16 + caplen;
        n++;
    }
    return n;
}

/* A capture cut in the middle: the frames before the damage count, then -EIO. */
START_TEST(test_file_truncated)
{
    size_t len;
    uint8_t *data = (uint8_t *)testdata_read(testdata_path("samples/small.pcap"), &len);
    ck_assert_ptr_nonnull(data);
    size_t cuts[] = {len / 2, len / 3 + 5, 24 + 10};
    for (size_t c = 0; c < sizeof(cuts) / sizeof(cuts[0]); c++) {
        uint64_t want = pcap_records_before(data, cuts[c]);
        char *path = temp_file(data, cuts[c]);
        sink_reset();
        S.record = false;
        cap_t *cap = new_cap();
        char err[512] = "";
        ck_assert_int_eq(read_file(cap, path, err, sizeof(err)), -EIO);
        char expect[64];
        snprintf(expect, sizeof(expect), "truncated after %llu packets", (unsigned long long)want);
        ck_assert_msg(strstr(err, expect) != NULL, "err \"%s\", want \"%s\"", err, expect);
        ck_assert_uint_eq(cap_stats(cap)->frames, want);
        ck_assert_uint_eq(cap_stats(cap)->read_errors, 1);
        cap_free(cap);
        unlink(path);
        free(path);
    }
    free(data);
}
END_TEST

START_TEST(test_file_stdin)
{
    ck_assert_ptr_nonnull(
        freopen(testdata_path("tests/pcap/real/ndpi-sip_hello.pcapng"), "rb", stdin));
    S.record = false;
    cap_t *cap = new_cap();
    char err[256];
    ck_assert_int_eq(read_file(cap, "-", err, sizeof(err)), 0);
    ck_assert_uint_eq(cap_stats(cap)->frames, 30);
    cap_free(cap);
}
END_TEST

/* ---- captures generated by simcalls (skipped without ../shared) ------------------------------ */

typedef struct {
    const char *args;
    uint16_t vlan;
    bool nanosecond;
} simcase_t;

static const simcase_t simcases[] = {
    {"--calls 8 --concurrency 4 --duration 2 --seed 3 --linktype sll --nanosecond "
     "--jitter-ms 2 --fragment-ratio 1 --ipv6-ratio 0.5",
     0, true},
    {"--calls 8 --concurrency 4 --duration 2 --seed 6 --vlan 42 --nanosecond --jitter-ms 2 "
     "--fragment-ratio 0.5 --tcp-ratio 0.5",
     42, true},
    {"--calls 8 --concurrency 4 --duration 2 --seed 4 --tcp-ratio 1 --fragment-ratio 0.5 "
     "--ipv6-ratio 0.25",
     0, false},
    {"--calls 6 --concurrency 3 --duration 2 --seed 5 --vlan --fragment-ratio 1 "
     "--ipv6-ratio 1 --register-flood 20",
     100, false},
};

START_TEST(test_simcalls)
{
    const char *tool = testdata_shared("tools/simcalls");
    struct stat st_tool;
    if (tool == NULL || stat(tool, &st_tool) != 0) {
        fprintf(stderr, "notice: simcalls absent; test_simcalls skipped\n");
        return;
    }
    const simcase_t *sc = &simcases[_i];
    char dir[] = "/tmp/check_capture_simXXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char cmd[2048], pcap[256], json[256];
    snprintf(pcap, sizeof(pcap), "%s/t.pcap", dir);
    snprintf(json, sizeof(json), "%s/t.json", dir);
    int n = snprintf(cmd, sizeof(cmd), "python3 '%s' %s -w '%s' --truth '%s'", tool, sc->args, pcap,
                     json);
    ck_assert(n > 0 && (size_t)n < sizeof(cmd));
    ck_assert_int_eq(system(cmd), 0);
    char *truth = testdata_read(json, NULL);
    ck_assert_ptr_nonnull(truth);
    S.record = false;
    S.want_vlan = sc->vlan;
    cap_t *cap = new_cap();
    char err[256];
    ck_assert_msg(read_file(cap, pcap, err, sizeof(err)) == 0, "%s", err);
    const cap_stats_t *st = cap_stats(cap);
    uint64_t frames = truth_total(truth, "packets"), frags = truth_total(truth, "ip_fragments");
    uint64_t tcp = truth_total(truth, "tcp_packets");
    ck_assert_uint_eq(st->frames, frames);
    ck_assert_uint_eq(st->bytes, truth_total(truth, "bytes"));
    ck_assert_uint_eq(st->ip_fragments, frags);
    ck_assert_uint_eq(st->tcp_segments, tcp);
    ck_assert_uint_eq(S.sip_udp + S.nmsgs, truth_total(truth, "sip_messages"));
    ck_assert_uint_eq(S.other_udp,
                      truth_total(truth, "rtp_packets") + truth_total(truth, "rtcp_packets"));
    /* Every UDP frame is one datagram, except fragments: n fragments make one. */
    ck_assert_uint_eq(st->udp_packets, frames - tcp - frags + st->ip_reassembled);
    ck_assert((frags > 0) == (st->ip_reassembled > 0));
    ck_assert_uint_eq(st->frag_dropped + st->frag_timeouts + st->tcp_gaps, 0);
    ck_assert_uint_eq(st->unknown_link + st->non_ip + st->truncated + st->bad_header, 0);
    ck_assert_uint_eq(S.vlan_mismatch, 0);
    /* The first call's INVITE is the first SIP message; its time is that of the frame that
     * completes it (the truth file truncates ns to µs). */
    ck_assert_int_eq(S.first_sip_ts / 1000 * 1000, truth_time_ns(truth, "invite"));
    ck_assert(S.sub_us == sc->nanosecond);
    free(truth);
    cap_free(cap);
    unlink(pcap);
    unlink(json);
    rmdir(dir);
}
END_TEST

Suite *capture_suite(void)
{
    Suite *s = suite_create("capture");
    TCase *tc = tcase_create("link");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_ethernet_ipv4_udp);
    tcase_add_test(tc, test_vlan_stacks);
    tcase_add_test(tc, test_linux_cooked);
    tcase_add_test(tc, test_loopback);
    tcase_add_test(tc, test_raw_ip);
    tcase_add_test(tc, test_ipv4_header_checks);
    tcase_add_test(tc, test_ipv6_extension_headers);
    tcase_add_test(tc, test_not_decoded);
    tcase_add_test(tc, test_truncated_every_byte);
    tcase_add_test(tc, test_peek_udp);
    tcase_add_test(tc, test_ring_fast_path);
    tcase_add_test(tc, test_frame_peeked);
    tcase_add_test(tc, test_ring_fast_path_real);
    suite_add_tcase(s, tc);

    tc = tcase_create("tunnel");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_tunnels, 0, TUN_COUNT);
    tcase_add_test(tc, test_tunnel_malformed);
    tcase_add_test(tc, test_tunnel_depth);
    suite_add_tcase(s, tc);

    tc = tcase_create("ipfrag");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_frag4_orders, 0, 4);
    tcase_add_test(tc, test_frag4_overlap_first_wins);
    tcase_add_test(tc, test_frag4_missing_times_out);
    tcase_add_test(tc, test_frag4_memory_cap);
    tcase_add_test(tc, test_frag4_bad);
    tcase_add_test(tc, test_frag4_flush);
    tcase_add_loop_test(tc, test_frag6, 0, 4);
    tcase_add_test(tc, test_frag_vlan_key);
    suite_add_tcase(s, tc);

    tc = tcase_create("tcp");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_tcp_two_messages_one_segment);
    tcase_add_test(tc, test_tcp_split_message);
    tcase_add_test(tc, test_tcp_retransmission);
    tcase_add_test(tc, test_tcp_out_of_order);
    tcase_add_test(tc, test_tcp_gap_timeout);
    tcase_add_test(tc, test_tcp_gap_limits);
    tcase_add_test(tc, test_tcp_buffer_cap);
    tcase_add_test(tc, test_tcp_partial_consume);
    tcase_add_test(tc, test_tcp_fin_rst);
    tcase_add_test(tc, test_tcp_syn_restarts);
    tcase_add_test(tc, test_tcp_seq_wrap);
    tcase_add_test(tc, test_tcp_ipv6);
    tcase_add_test(tc, test_tcp_in_fragments);
    tcase_add_test(tc, test_tcp_flow_limits);
    suite_add_tcase(s, tc);

    tc = tcase_create("file");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_real_files, 0, sizeof(real_files) / sizeof(real_files[0]));
    tcase_add_test(tc, test_file_ipv6_fragments);
    tcase_add_test(tc, test_file_sip_tcp);
    tcase_add_test(tc, test_file_small_sample);
    tcase_add_test(tc, test_lookahead);
    tcase_add_test(tc, test_file_errors);
    tcase_add_test(tc, test_file_truncated);
    tcase_add_test(tc, test_file_stdin);
    tcase_add_loop_test(tc, test_simcalls, 0, sizeof(simcases) / sizeof(simcases[0]));
    suite_add_tcase(s, tc);
    return s;
}
