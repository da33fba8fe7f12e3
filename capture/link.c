/* link: link layers (Ethernet, 802.1Q/QinQ, MPLS, PPPoE and PPP, Linux SLL/SLL2, BSD loopback,
 * raw IP) to IP. */
#include "cap_int.h"

#include <pcap/dlt.h>

#include "cursor.h"

/* LINKTYPE_RAW as written in files; libpcap maps it to DLT_RAW (12, or 14 on OpenBSD), but
 * frames handed to cap_process_frame directly may use either number. */
#define LINKTYPE_RAW 101

enum {
    ETH_IPV4 = 0x0800,
    ETH_IPV6 = 0x86dd,
    ETH_VLAN = 0x8100,     /* IEEE 802.1Q C-tag */
    ETH_QINQ = 0x88a8,     /* IEEE 802.1ad S-tag */
    ETH_QINQ_OLD = 0x9100, /* pre-standard QinQ */
    ETH_QINQ_OLD2 = 0x9200,
    ETH_MPLS = 0x8847, /* RFC 3032 §5, unicast */
    ETH_MPLS_MC = 0x8848,
    ETH_PPPOE_DISC = 0x8863, /* RFC 2516 discovery stage: no IP */
    ETH_PPPOE_SESS = 0x8864, /* RFC 2516 session stage */
};

enum {
    PPP_IPV4 = 0x0021, /* RFC 1332 */
    PPP_IPV6 = 0x0057, /* RFC 5072 */
};

/* Ethernet II (IEEE 802.3 §3.1.1; RFC 894 for IP):
 *
 *   +----------------+----------------+-----------+---------------
 *   | destination(6) |   source(6)    | type(2)   | payload ...
 *   +----------------+----------------+-----------+---------------
 *
 * A type below 0x0600 is an 802.3 length (LLC follows: never IP in practice). */
void cap_ether(cap_t *cap, cap_decode_t *fr, const uint8_t *p, size_t len)
{
    if (len < 14) {
        cap->stats.truncated++;
        return;
    }
    uint16_t type = (uint16_t)(p[12] << 8 | p[13]);
    if (type < 0x0600) {
        cap->stats.non_ip++;
        return;
    }
    cap_ethertype(cap, fr, type, p + 14, len - 14);
}

static void pppoe(cap_t *cap, cap_decode_t *fr, const uint8_t *p, size_t len);

/* 802.1Q tags (IEEE 802.1Q-2018 §9.6), any number of them, each followed by the next type:
 *
 *   +-----------+-----+-+-----------+-----------+
 *   | TPID(2)   | PCP |D|  VID(12)  | type(2)   |   TPID 0x8100, 0x88a8, 0x9100
 *   +-----------+-----+-+-----------+-----------+
 *
 * The TPID is the type field just read; the loop ends when the frame does. */
void cap_ethertype(cap_t *cap, cap_decode_t *fr, uint16_t type, const uint8_t *p, size_t len)
{
    cur_t c = cur_make(p, len);
    while (type == ETH_VLAN || type == ETH_QINQ || type == ETH_QINQ_OLD || type == ETH_QINQ_OLD2) {
        uint16_t tci = cur_be16(&c);
        type = cur_be16(&c);
        if (c.err) {
            cap->stats.truncated++;
            return;
        }
        if (!fr->have_vlan) {
            fr->pkt.vlan = tci & 0x0fff;
            fr->have_vlan = true;
        }
    }
    if (type == ETH_IPV4)
        cap_ip4(cap, fr, c.p, cur_left(&c));
    else if (type == ETH_IPV6)
        cap_ip6(cap, fr, c.p, cur_left(&c));
    else if (type == ETH_MPLS || type == ETH_MPLS_MC)
        cap_mpls(cap, fr, c.p, cur_left(&c));
    else if (type == ETH_PPPOE_SESS)
        pppoe(cap, fr, c.p, cur_left(&c));
    else
        cap->stats.non_ip++; /* ARP, PPPoE discovery, LLDP, ... */
}

/* PPP (RFC 1661 §2, in HDLC-like framing, RFC 1662 §3.1, without flags and FCS):
 *
 *   +----------+----------+----------+-------------
 *   | ff (addr)| 03 (ctrl)| protocol | information ...
 *   +----------+----------+----------+-------------
 *
 * Address and control are absent when compressed (LCP's ACFC, and always in PPPoE); the
 * protocol is one octet when compressed (PFC, RFC 1661 §6.5): a protocol's first octet is even
 * and its last odd, so an odd first octet is a one-octet protocol. IPv4 and IPv6 are decoded;
 * LCP, IPCP, CHAP and the rest are counted as non-IP. */
void cap_ppp(cap_t *cap, cap_decode_t *fr, const uint8_t *p, size_t len)
{
    cur_t c = cur_make(p, len);
    if (len >= 2 && p[0] == 0xff && p[1] == 0x03)
        cur_skip(&c, 2);
    uint16_t proto = cur_u8(&c);
    if ((proto & 1) == 0)
        proto = (uint16_t)(proto << 8 | cur_u8(&c));
    if (c.err) {
        cap->stats.truncated++;
        return;
    }
    if (proto == PPP_IPV4)
        cap_ip4(cap, fr, c.p, cur_left(&c));
    else if (proto == PPP_IPV6)
        cap_ip6(cap, fr, c.p, cur_left(&c));
    else
        cap->stats.non_ip++;
}

/* PPPoE session stage (RFC 2516 §4):
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |  VER  | TYPE  |      CODE     |          SESSION_ID           |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |            LENGTH             |           payload             ~
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * VER and TYPE are 1, CODE 0 in a session; the payload is a PPP frame whose LENGTH trims the
 * Ethernet padding. */
static void pppoe(cap_t *cap, cap_decode_t *fr, const uint8_t *p, size_t len)
{
    cur_t c = cur_make(p, len);
    uint8_t vt = cur_u8(&c);
    uint8_t code = cur_u8(&c);
    cur_skip(&c, 2);
    size_t plen = cur_be16(&c);
    if (c.err || plen > cur_left(&c)) {
        cap->stats.truncated++;
        return;
    }
    if (vt != 0x11 || code != 0) {
        cap->stats.bad_header++;
        return;
    }
    cap->stats.pppoe++;
    cap_ppp(cap, fr, c.p, plen);
}

/* Is this an Ethernet frame one can recognise (a pseudowire's payload)? Its type field must be
 * an EtherType, not an 802.3 length, and one decoded here. */
static bool looks_ether(const uint8_t *p, size_t len)
{
    if (len < 14)
        return false;
    uint16_t type = cap_be16(p + 12);
    return type == ETH_IPV4 || type == ETH_IPV6 || type == ETH_VLAN || type == ETH_QINQ ||
           type == ETH_MPLS || type == ETH_MPLS_MC || type == ETH_PPPOE_SESS ||
           type == ETH_PPPOE_DISC || type == 0x0806 /* ARP */;
}

/* An MPLS label stack (RFC 3032 §2.1), entries until the one with S (bottom of stack) set:
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                Label                  | TC  |S|      TTL      |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Nothing says what follows the stack: as routers and tshark do, the first nibble tells. 4 and 6
 * are IPv4 and IPv6 (so are labels 0 and 2, the explicit nulls); 0 is a pseudowire control word
 * (RFC 4385 §3, 4 octets) and an Ethernet frame after it (RFC 4448) when one is recognisable;
 * an Ethernet pseudowire without control word is tried last. Anything else is counted non-IP. */
void cap_mpls(cap_t *cap, cap_decode_t *fr, const uint8_t *p, size_t len)
{
    cur_t c = cur_make(p, len);
    uint32_t entry = 0;
    do
        entry = cur_be32(&c);
    while (!c.err && (entry & 0x100) == 0);
    if (c.err) {
        cap->stats.truncated++;
        return;
    }
    cap->stats.mpls++;
    uint32_t label = entry >> 12;
    size_t left = cur_left(&c);
    int nibble = left > 0 ? c.p[0] >> 4 : -1;
    if (label == 0 || (label != 2 && nibble == 4)) {
        cap_ip4(cap, fr, c.p, left);
        return;
    }
    if (label == 2 || nibble == 6) {
        cap_ip6(cap, fr, c.p, left);
        return;
    }
    const uint8_t *eth = c.p;
    if (nibble == 0 && left >= 4 && looks_ether(eth + 4, left - 4)) {
        eth += 4;
        left -= 4;
    } else if (!looks_ether(eth, left)) {
        cap->stats.non_ip++;
        return;
    }
    if (cap_tunnel_enter(cap, fr)) {
        cap_ether(cap, fr, eth, left);
        cap_tunnel_leave(fr);
    }
}

/* Raw IP: the version nibble tells IPv4 from IPv6. */
static void raw_ip(cap_t *cap, cap_decode_t *fr, const uint8_t *p, size_t len, int want)
{
    if (len < 1) {
        cap->stats.truncated++;
        return;
    }
    int version = p[0] >> 4;
    if (want != 0 && version != want) {
        cap->stats.bad_header++;
        return;
    }
    if (version == 4)
        cap_ip4(cap, fr, p, len);
    else if (version == 6)
        cap_ip6(cap, fr, p, len);
    else
        cap->stats.non_ip++;
}

/* Linux cooked capture v1 (DLT_LINUX_SLL; tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html):
 *
 *   +-----------+-----------+-----------+------------------+-----------+
 *   | pkttype(2)| ARPHRD(2) | addrlen(2)| address (8)      | proto(2)  |
 *   +-----------+-----------+-----------+------------------+-----------+
 *
 * and v2 (DLT_LINUX_SLL2, LINKTYPE_LINUX_SLL2.html), 20 bytes with the protocol first:
 *
 *   +-----------+-----------+-----------------------+-----------+------+------+-------------+
 *   | proto(2)  | reserved  | interface index(4)    | ARPHRD(2) |pkttyp|addrln| address (8) |
 *   +-----------+-----------+-----------------------+-----------+------+------+-------------+
 *
 * The protocol is an EtherType for IP (and may be a VLAN TPID when tags were not stripped);
 * values below 0x0600 are Linux-internal (802.2, CAN, ...) and never IP. */
static void sll(cap_t *cap, cap_decode_t *fr, const uint8_t *p, size_t len, bool v2)
{
    size_t hdr = v2 ? 20 : 16;
    if (len < hdr) {
        cap->stats.truncated++;
        return;
    }
    const uint8_t *proto = v2 ? p : p + 14;
    uint16_t type = (uint16_t)(proto[0] << 8 | proto[1]);
    if (type < 0x0600) {
        cap->stats.non_ip++;
        return;
    }
    cap_ethertype(cap, fr, type, p + hdr, len - hdr);
}

/* BSD loopback (DLT_NULL in the capturing host's byte order, DLT_LOOP in network order): a
 * 4-byte address family. AF_INET is 2 everywhere; AF_INET6 is 24 (NetBSD, OpenBSD, BSD/OS),
 * 28 (FreeBSD, DragonFly) or 30 (macOS), and files travel between hosts, so both byte orders
 * and all three values are accepted for either link type. */
static void loopback(cap_t *cap, cap_decode_t *fr, const uint8_t *p, size_t len)
{
    cur_t c = cur_make(p, len);
    uint32_t af = cur_le32(&c);
    if (c.err) {
        cap->stats.truncated++;
        return;
    }
    if (af > 0xffff)
        af = (af >> 24) | ((af >> 8) & 0xff00); /* written big-endian */
    if (af == 2)
        cap_ip4(cap, fr, c.p, cur_left(&c));
    else if (af == 24 || af == 28 || af == 30)
        cap_ip6(cap, fr, c.p, cur_left(&c));
    else
        cap->stats.non_ip++;
}

void cap_link(cap_t *cap, cap_decode_t *fr, int dlt, const uint8_t *p, size_t len)
{
    switch (dlt) {
        case DLT_EN10MB:
            cap_ether(cap, fr, p, len);
            break;
        case DLT_LINUX_SLL:
            sll(cap, fr, p, len, false);
            break;
        case DLT_LINUX_SLL2:
            sll(cap, fr, p, len, true);
            break;
        case 12: /* DLT_RAW elsewhere; DLT_LOOP on OpenBSD is rarely seen in files */
        case 14: /* DLT_RAW on OpenBSD and BSD/OS */
        case LINKTYPE_RAW:
            raw_ip(cap, fr, p, len, 0);
            break;
        case DLT_IPV4:
            raw_ip(cap, fr, p, len, 4);
            break;
        case DLT_IPV6:
            raw_ip(cap, fr, p, len, 6);
            break;
        case DLT_NULL:
        case 108: /* DLT_LOOP outside OpenBSD */
            loopback(cap, fr, p, len);
            break;
        default:
            cap->stats.unknown_link++;
            break;
    }
}
