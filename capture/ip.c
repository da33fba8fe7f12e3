/* ip: IPv4 and IPv6 headers, extension headers and fragments, then UDP and TCP. */
#include "cap_int.h"

#include <stdlib.h>
#include <string.h>

#include "cursor.h"

enum {
    IPP_HOPOPTS = 0,
    IPP_IPIP = 4,
    IPP_TCP = 6,
    IPP_UDP = 17,
    IPP_IPV6 = 41,
    IPP_ROUTING = 43,
    IPP_FRAGMENT = 44,
    IPP_GRE = 47,
    IPP_AH = 51,
    IPP_NONE = 59,
    IPP_DSTOPTS = 60,
};

/* Extension headers walked before giving up (RFC 8200 §4.1 expects at most one of each, two
 * destination options headers, so 8 leaves room for AH and a tunnel's own). */
#define IP6_MAX_EXT 8

static inline uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The buffer for a datagram completing at this tunnel depth. */
static uint8_t *dgram_buffer(cap_t *cap, const cap_decode_t *fr)
{
    if (cap->dgram[fr->depth] == NULL)
        cap->dgram[fr->depth] = malloc(IPFRAG_MAX_DGRAM);
    return cap->dgram[fr->depth];
}

/* Feed one fragment to the reassembler. Returns the whole payload (and its length in *n) once
 * the datagram is complete, else NULL. */
static const uint8_t *reassemble(cap_t *cap, cap_decode_t *fr, const ipfrag_key_t *key,
                                 uint32_t off, bool more, const uint8_t *p, size_t len,
                                 uint32_t max_end, size_t *n)
{
    cap->stats.ip_fragments++;
    uint8_t *out = dgram_buffer(cap, fr);
    if (out == NULL) {
        cap->stats.frag_dropped++;
        return NULL;
    }
    ipfrag_verdict_t v =
        ipfrag_add(cap->frag, key, fr->pkt.ts_ns, off, p, (uint32_t)len, more, max_end, out, n);
    switch (v) {
        case IPFRAG_DONE:
            cap->stats.ip_reassembled++;
            return out;
        case IPFRAG_BAD:
            cap->stats.bad_header++;
            return NULL;
        default:
            return NULL;
    }
}

/* An IPv4 fragment (MF set or a non-zero offset) of the packet p with header length ihl. The
 * reassembled payload goes on as if it had arrived whole, under the last fragment's header. */
static void ip4_fragment(cap_t *cap, cap_decode_t *fr, const uint8_t *p, size_t ihl, size_t total)
{
    uint16_t frag = cap_be16(p + 6);
    ipfrag_key_t key;
    memset(&key, 0, sizeof(key));
    memcpy(key.src, p + 12, 4);
    memcpy(key.dst, p + 16, 4);
    key.id = cap_be16(p + 4);
    key.vlan = fr->pkt.vlan;
    key.family = 4;
    key.proto = p[9];
    size_t n;
    const uint8_t *whole =
        reassemble(cap, fr, &key, (uint32_t)(frag & 0x1fff) * 8, (frag & 0x2000) != 0, p + ihl,
                   total - ihl, (uint32_t)(IPFRAG_MAX_DGRAM - ihl), &n);
    if (whole != NULL)
        cap_transport(cap, fr, key.proto, whole, n, true);
}

/* IPv4 header (RFC 791 §3.1):
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |Version|  IHL  |Type of Service|          Total Length         |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |         Identification        |Flags|      Fragment Offset    |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |  Time to Live |    Protocol   |         Header Checksum       |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                       Source Address                          |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                    Destination Address                        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                    Options (IHL > 5)                          |
 *
 * Flags: reserved, DF, MF. The total length trims Ethernet padding and trailers; a frame
 * shorter than it was cut by the snap length. Checksums are not verified: offloading makes
 * them wrong in captures taken on the sending host. */
void cap_ip4(cap_t *cap, cap_decode_t *fr, const uint8_t *p, size_t len)
{
    if (len < 20) {
        cap->stats.truncated++;
        return;
    }
    size_t ihl = (size_t)(p[0] & 0x0f) * 4;
    size_t total = cap_be16(p + 2);
    if ((p[0] >> 4) != 4 || ihl < 20 || total < ihl) {
        cap->stats.bad_header++;
        return;
    }
    if (total > len) {
        cap->stats.truncated++;
        return;
    }
    packet_view_t *pkt = &fr->pkt;
    cap_addrs_ip4(pkt, p);
    pkt->l3 = p;
    pkt->l3_len = total;
    if ((cap_be16(p + 6) & 0x3fff) == 0) /* neither MF nor an offset: not a fragment */
        cap_transport(cap, fr, p[9], p + ihl, total - ihl, false);
    else
        ip4_fragment(cap, fr, p, ihl, total);
}

/* After the fixed IPv6 header: extension headers (RFC 8200 §4), then the upper layer.
 *
 * Hop-by-Hop (0), Routing (43), Destination Options (60), RFC 8200 §4.3-4.6:
 *   +---------------+---------------+-------------------------------+
 *   |  Next Header  |  Hdr Ext Len  |  ... (8 + Hdr Ext Len * 8)    |
 *
 * Authentication Header (51), RFC 4302 §2: the same two bytes, but its length counts 4-byte
 * words minus 2.
 *
 * Fragment (44), RFC 8200 §4.5:
 *   +---------------+---------------+-------------------------+-+-+-+
 *   |  Next Header  |   Reserved    |      Fragment Offset    |Res|M|
 *   +---------------+---------------+-------------------------+-+-+-+
 *   |                         Identification                        |
 *
 * A fragment with offset 0 and M clear is an atomic fragment (RFC 6946): processed as is.
 * After reassembly the walk resumes on the reassembled fragmentable part. */
static void ip6_upper(cap_t *cap, cap_decode_t *fr, uint8_t nh, const uint8_t *p, size_t len,
                      bool reassembled)
{
    cur_t c = cur_make(p, len);
    for (int i = 0; i <= IP6_MAX_EXT; i++) { /* IP6_MAX_EXT headers, then the upper layer */
        switch (nh) {
            case IPP_HOPOPTS:
            case IPP_ROUTING:
            case IPP_DSTOPTS: {
                uint8_t next = cur_u8(&c);
                size_t hlen = (size_t)cur_u8(&c) * 8 + 6;
                cur_skip(&c, hlen);
                nh = next;
                break;
            }
            case IPP_AH: {
                uint8_t next = cur_u8(&c);
                size_t hlen = ((size_t)cur_u8(&c) + 2) * 4 - 2;
                cur_skip(&c, hlen);
                nh = next;
                break;
            }
            case IPP_FRAGMENT: {
                uint8_t next = cur_u8(&c);
                cur_skip(&c, 1);
                uint16_t offm = cur_be16(&c);
                uint32_t id = cur_be32(&c);
                if (c.err)
                    break;
                nh = next;
                if ((offm & 0xfff9) == 0)
                    break; /* atomic fragment */
                if (reassembled) {
                    cap->stats.bad_header++; /* a fragment inside a reassembled datagram */
                    return;
                }
                ipfrag_key_t key;
                memset(&key, 0, sizeof(key));
                memcpy(key.src, fr->pkt.src.addr.bytes, 16);
                memcpy(key.dst, fr->pkt.dst.addr.bytes, 16);
                key.id = id;
                key.vlan = fr->pkt.vlan;
                key.family = 6;
                key.proto = next;
                /* The payload length field (16 bits) covers the unfragmentable headers,
                 * this fragment header and the reassembled part. */
                size_t unfrag = (size_t)(c.p - (fr->pkt.l3 + 40));
                size_t n;
                const uint8_t *whole =
                    reassemble(cap, fr, &key, offm & 0xfff8, (offm & 1) != 0, c.p, cur_left(&c),
                               (uint32_t)(IPFRAG_MAX_DGRAM - unfrag), &n);
                if (whole != NULL)
                    ip6_upper(cap, fr, next, whole, n, true);
                return;
            }
            case IPP_NONE:
                cap->stats.other_ip_proto++;
                return;
            default:
                cap_transport(cap, fr, nh, c.p, cur_left(&c), reassembled);
                return;
        }
        if (c.err) {
            cap->stats.truncated++;
            return;
        }
    }
    cap->stats.bad_header++; /* an endless chain of extension headers */
}

/* IPv6 header (RFC 8200 §3):
 *
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |Version| Traffic Class |           Flow Label                  |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |         Payload Length        |  Next Header  |   Hop Limit   |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                  Source Address (128 bits)                    |
 *   |                Destination Address (128 bits)                 |
 *
 * Jumbograms (payload length 0, RFC 2675) never carry SIP and are not supported. */
void cap_ip6(cap_t *cap, cap_decode_t *fr, const uint8_t *p, size_t len)
{
    if (len < 40) {
        cap->stats.truncated++;
        return;
    }
    if ((p[0] >> 4) != 6) {
        cap->stats.bad_header++;
        return;
    }
    size_t plen = cap_be16(p + 4);
    if (40 + plen > len) {
        cap->stats.truncated++;
        return;
    }
    packet_view_t *pkt = &fr->pkt;
    cap_addrs_ip6(pkt, p);
    pkt->l3 = p;
    pkt->l3_len = 40 + plen;
    ip6_upper(cap, fr, p[6], p + 40, plen, false);
}

/* UDP header (RFC 768):
 *
 *   +--------+--------+--------+--------+
 *   |   Source Port   |   Dest Port     |
 *   +--------+--------+--------+--------+
 *   |     Length      |    Checksum     |
 *   +--------+--------+--------+--------+
 *
 * The length trims whatever the IP layer carried after the datagram. The IP payload is
 * complete here (a snapped packet stops at the IP layer), so a header that does not fit is
 * "truncated" and a length field that overstates it is a "bad header". */
static void udp(cap_t *cap, cap_decode_t *fr, const uint8_t *p, size_t len, bool reassembled)
{
    if (len < 8) {
        cap->stats.truncated++;
        return;
    }
    size_t ulen = cap_be16(p + 4);
    if (ulen < 8) {
        cap->stats.bad_header++;
        return;
    }
    if (ulen > len) {
        cap->stats.bad_header++; /* longer than the (complete) IP payload: a lie */
        return;
    }
    uint16_t sport = cap_be16(p), dport = cap_be16(p + 2);
    if (dport == CAP_VXLAN_PORT && cap_vxlan(cap, fr, p + 8, ulen - 8))
        return;
    if (dport == CAP_GTPU_PORT && cap_gtpu(cap, fr, p + 8, ulen - 8))
        return;
    cap->stats.udp_packets++;
    cap_deliver(cap, fr, CAP_PROTO_UDP, sport, dport, p + 8, ulen - 8, reassembled);
}

/* What the TCP reassembler needs to reach the sink. */
typedef struct {
    cap_t *cap;
    cap_decode_t *fr;
    uint16_t sport, dport;
    bool ip_reassembled; /* the segment itself came from IP fragments */
} tcp_ctx_t;

static size_t tcp_deliver(void *ctx, const uint8_t *data, size_t len, bool reassembled)
{
    const tcp_ctx_t *t = ctx;
    return cap_deliver(t->cap, t->fr, CAP_PROTO_TCP, t->sport, t->dport, data, len,
                       reassembled || t->ip_reassembled);
}

/* TCP header (RFC 9293 §3.1):
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |          Source Port          |       Destination Port        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                        Sequence Number                        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                    Acknowledgment Number                      |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |  Data |       |C|E|U|A|P|R|S|F|                               |
 *   | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |           Checksum            |         Urgent Pointer        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                    Options (Data Offset > 5)                  |
 */
static void tcp(cap_t *cap, cap_decode_t *fr, const uint8_t *p, size_t len, bool reassembled)
{
    if (len < 20) {
        cap->stats.truncated++;
        return;
    }
    size_t doff = (size_t)(p[12] >> 4) * 4;
    if (doff < 20) {
        cap->stats.bad_header++;
        return;
    }
    if (doff > len) {
        cap->stats.bad_header++;
        return;
    }
    cap->stats.tcp_segments++;
    tcp_ctx_t ctx = {cap, fr, cap_be16(p), cap_be16(p + 2), reassembled};
    tcpreasm_key_t key;
    memset(&key, 0, sizeof(key));
    memcpy(key.src, fr->pkt.src.addr.bytes, 16);
    memcpy(key.dst, fr->pkt.dst.addr.bytes, 16);
    key.sport = ctx.sport;
    key.dport = ctx.dport;
    key.vlan = fr->pkt.vlan;
    key.family = fr->pkt.src.addr.family;
    tcpreasm_segment(cap->tcp, &key, fr->pkt.ts_ns, be32(p + 4), p[13] & 0x07, p + doff, len - doff,
                     tcp_deliver, &ctx);
}

/* The calls link.c -> ip.c -> tunnel.c -> link.c (and ip.c -> ip.c for IP-in-IP) form a cycle
 * on purpose: it is the natural recursion of tunnels, a frame inside a frame. It is bounded:
 * every way back down (IP-in-IP and GRE here, VXLAN and GTP-U in udp, MPLS pseudowires in
 * link.c) goes through cap_tunnel_enter, which refuses beyond CAP_MAX_DEPTH (4) tunnels, so the
 * stack holds at most that many nested decodes. */
void cap_transport(cap_t *cap, cap_decode_t *fr, uint8_t proto, const uint8_t *p, size_t len,
                   bool reassembled)
{
    switch (proto) {
        case IPP_UDP:
            udp(cap, fr, p, len, reassembled);
            break;
        case IPP_TCP:
            tcp(cap, fr, p, len, reassembled);
            break;
        case IPP_IPIP: /* RFC 2003 */
        case IPP_IPV6: /* RFC 4213 §3.5 (6in4), RFC 2473 (in IPv6) */
            if (cap_tunnel_enter(cap, fr)) {
                if (proto == IPP_IPIP)
                    cap_ip4(cap, fr, p, len);
                else
                    cap_ip6(cap, fr, p, len);
                cap_tunnel_leave(fr);
            }
            break;
        case IPP_GRE:
            if (cap_tunnel_enter(cap, fr)) {
                cap_gre(cap, fr, p, len);
                cap_tunnel_leave(fr);
            }
            break;
        default:
            cap->stats.other_ip_proto++;
            break;
    }
}
