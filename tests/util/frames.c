/* frames: test frames built in code, each w_* call prepending one header. */
#include "frames.h"

#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

pkt_t *pk_new(const void *payload, size_t len)
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

pkt_t *pk_str(const char *s)
{
    return pk_new(s, strlen(s));
}

uint8_t *pk_push(pkt_t *k, size_t n)
{
    ck_assert_uint_ge(k->start, n);
    k->start -= n;
    memset(k->buf + k->start, 0, n);
    return k->buf + k->start;
}

void pk_append(pkt_t *k, const void *p, size_t n)
{
    ck_assert_uint_le(k->end + n, PKT_MAX);
    memcpy(k->buf + k->end, p, n);
    k->end += n;
}

const uint8_t *pk_data(const pkt_t *k)
{
    return k->buf + k->start;
}

size_t pk_len(const pkt_t *k)
{
    return k->end - k->start;
}

void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v & 0xffff);
}

void addr4(uint8_t *out, const char *text)
{
    ck_assert_int_eq(inet_pton(AF_INET, text, out), 1);
}

void addr6(uint8_t *out, const char *text)
{
    ck_assert_int_eq(inet_pton(AF_INET6, text, out), 1);
}

void w_udp(pkt_t *k, uint16_t sport, uint16_t dport)
{
    size_t len = pk_len(k) + 8;
    uint8_t *h = pk_push(k, 8);
    put16(h, sport);
    put16(h + 2, dport);
    put16(h + 4, (uint32_t)len);
}

void w_tcp(pkt_t *k, uint16_t sport, uint16_t dport, uint32_t seq, uint8_t flags)
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
void w_ip4x(pkt_t *k, uint8_t proto, const char *src, const char *dst, uint16_t id, uint16_t frag,
            size_t optlen)
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

void w_ip4(pkt_t *k, uint8_t proto, const char *src, const char *dst)
{
    w_ip4x(k, proto, src, dst, 0x1234, 0x4000, 0);
}

void w_ip6(pkt_t *k, uint8_t nh, const char *src, const char *dst)
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
void w_ext6(pkt_t *k, uint8_t nh, uint8_t units)
{
    uint8_t *h = pk_push(k, 8 * (1 + (size_t)units));
    h[0] = nh;
    h[1] = units;
    h[2] = 1; /* PadN option */
    h[3] = (uint8_t)(8 * (1 + (size_t)units) - 4);
}

/* Authentication header with a 4-byte ICV: 16 bytes, length field 16/4 - 2 = 2. */
void w_ah6(pkt_t *k, uint8_t nh)
{
    uint8_t *h = pk_push(k, 16);
    h[0] = nh;
    h[1] = 2;
    put32(h + 4, 0x100);
    put32(h + 8, 1);
}

void w_frag6(pkt_t *k, uint8_t nh, uint32_t off, bool more, uint32_t id)
{
    uint8_t *h = pk_push(k, 8);
    h[0] = nh;
    put16(h + 2, (off & 0xfff8) | (more ? 1 : 0));
    put32(h + 4, id);
}

void w_eth(pkt_t *k, uint16_t type)
{
    uint8_t *h = pk_push(k, 14);
    memcpy(h, "\x00\x11\x22\x33\x44\x55\x00\x66\x77\x88\x99\xaa", 12);
    put16(h + 12, type);
}

/* An 802.1Q tag: TCI then the type that follows it; the TPID is the next outer type. */
void w_vlan(pkt_t *k, uint16_t vid, uint16_t inner_type)
{
    uint8_t *h = pk_push(k, 4);
    put16(h, (5u << 13) | vid);
    put16(h + 2, inner_type);
}

void w_sll(pkt_t *k, uint16_t proto)
{
    uint8_t *h = pk_push(k, 16);
    put16(h, 0);     /* PACKET_HOST */
    put16(h + 2, 1); /* ARPHRD_ETHER */
    put16(h + 4, 6);
    memcpy(h + 6, "\x00\x11\x22\x33\x44\x55", 6);
    put16(h + 14, proto);
}

void w_sll2(pkt_t *k, uint16_t proto)
{
    uint8_t *h = pk_push(k, 20);
    put16(h, proto);
    put32(h + 4, 2); /* interface index */
    put16(h + 8, 1);
    h[10] = 4; /* PACKET_OUTGOING */
    h[11] = 6;
    memcpy(h + 12, "\x00\x11\x22\x33\x44\x55", 6);
}

void w_null(pkt_t *k, uint32_t af, bool big_endian)
{
    uint8_t *h = pk_push(k, 4);
    if (big_endian) {
        put32(h, af);
    } else {
        h[0] = (uint8_t)af;
        h[1] = (uint8_t)(af >> 8);
    }
}

void w_gre(pkt_t *k, uint16_t proto, uint16_t flags)
{
    size_t n = 4 + (flags & GRE_C ? 4 : 0) + (flags & GRE_K ? 4 : 0) + (flags & GRE_S ? 4 : 0);
    uint8_t *h = pk_push(k, n);
    put16(h, flags);
    put16(h + 2, proto);
    for (size_t i = 4; i < n; i += 4)
        put32(h + i, 0xabcd0000u + (uint32_t)i);
}

void w_erspan2(pkt_t *k)
{
    uint8_t *h = pk_push(k, 8);
    put16(h, (1u << 12) | 77); /* Ver 1, VLAN 77 */
    put16(h + 2, 0x0123);      /* session */
    put32(h + 4, 42);          /* index */
}

void w_erspan3(pkt_t *k, bool subheader, uint8_t ft)
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

void w_vxlan(pkt_t *k, bool i_flag)
{
    uint8_t *h = pk_push(k, 8);
    h[0] = i_flag ? 0x08 : 0x00;
    h[4] = 0x12;
    h[5] = 0x34;
    h[6] = 0x56;
}

void w_gtpu(pkt_t *k, uint8_t type, bool opt, unsigned n_ext)
{
    for (unsigned i = 0; i < n_ext; i++) {
        uint8_t *e = pk_push(k, 4);
        e[0] = 1;                    /* 4 bytes */
        e[1] = 0x10;                 /* PDU type 1 (UL), QFI ... */
        e[2] = 9;                    /* QFI 9 */
        e[3] = i == 0 ? 0x00 : 0x85; /* next extension header */
    }
    if (opt || n_ext > 0) {
        uint8_t *o = pk_push(k, 4);
        put16(o, 0x0102);
        o[2] = 0;
        o[3] = n_ext > 0 ? 0x85 : 0x00;
    }
    uint8_t *h = pk_push(k, 8);
    h[0] = (uint8_t)(0x30 | (n_ext > 0 ? 0x04 : 0) | (opt ? 0x02 : 0));
    h[1] = type;
    put16(h + 2, (uint32_t)(pk_len(k) - 8));
    put32(h + 4, 0x11223344u);
}

void w_ppp(pkt_t *k, uint16_t proto, bool acfc, bool pfc)
{
    if (pfc && proto < 0x100) {
        *pk_push(k, 1) = (uint8_t)proto;
    } else {
        put16(pk_push(k, 2), proto);
    }
    if (!acfc) {
        uint8_t *a = pk_push(k, 2);
        a[0] = 0xff;
        a[1] = 0x03;
    }
}

void w_pppoe(pkt_t *k)
{
    size_t n = pk_len(k);
    uint8_t *h = pk_push(k, 6);
    h[0] = 0x11;
    h[1] = 0;
    put16(h + 2, 0x1234);
    put16(h + 4, (uint32_t)n);
}

void w_gre_pptp(pkt_t *k, bool seq, bool ack)
{
    size_t n = pk_len(k);
    if (ack)
        put32(pk_push(k, 4), 7);
    if (seq)
        put32(pk_push(k, 4), 8);
    uint8_t *h = pk_push(k, 8);
    put16(h, 0x2001u | (seq ? 0x1000u : 0) | (ack ? 0x0080u : 0));
    put16(h + 2, 0x880b);
    put16(h + 4, (uint32_t)n); /* payload length */
    put16(h + 6, 0x0042);      /* call ID */
}

void w_mpls(pkt_t *k, uint32_t label, bool bos)
{
    put32(pk_push(k, 4), label << 12 | (bos ? 0x100u : 0) | 64u);
}
