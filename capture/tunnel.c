/* tunnel: GRE (with TEB, ERSPAN II/III and PPTP's PPP), VXLAN and GTP-U decapsulation,
 * with bounded nesting. */
#include "cap_int.h"

#include "cursor.h"

enum {
    GRE_CSUM = 0x8000,    /* C: checksum and reserved1 present (RFC 2784 §2.1) */
    GRE_ROUTING = 0x4000, /* R: RFC 1701 source routing, deprecated by RFC 2784 */
    GRE_KEY = 0x2000,     /* K: key present (RFC 2890 §2) */
    GRE_SEQ = 0x1000,     /* S: sequence number present (RFC 2890 §2) */
    GRE_ACK = 0x0080,     /* A: acknowledgment number present (RFC 2637 §4.1, version 1) */
    GRE_VERSION = 0x0007,
};

enum {
    GRE_IPV4 = 0x0800,
    GRE_IPV6 = 0x86dd,
    GRE_TEB = 0x6558,     /* transparent Ethernet bridging */
    GRE_ERSPAN2 = 0x88be, /* ERSPAN type I (no header) or II */
    GRE_ERSPAN3 = 0x22eb,
    GRE_PPP = 0x880b, /* PPTP (RFC 2637) */
};

bool cap_tunnel_enter(cap_t *cap, cap_decode_t *fr)
{
    if (fr->depth >= CAP_MAX_DEPTH) {
        cap->stats.bad_header++;
        return false;
    }
    if (!fr->tunneled) {
        fr->tunneled = true;
        cap->stats.tunnels++;
    }
    fr->depth++;
    return true;
}

void cap_tunnel_leave(cap_decode_t *fr)
{
    fr->depth--;
}

/* ERSPAN type II header (draft-foschiano-erspan-03 §4.1), after a GRE header with S set:
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |  Ver  |          VLAN         | COS | En|T|    Session ID     |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |      Reserved         |                  Index                |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Type I (Ver absent) uses the same protocol type without S and with no header at all. The
 * mirrored Ethernet frame follows. */
static void erspan2(cap_t *cap, cap_decode_t *fr, bool seq, cur_t *c)
{
    if (seq) {
        uint8_t ver = (uint8_t)(cur_u8(c) >> 4);
        cur_skip(c, 7);
        if (c->err) {
            cap->stats.truncated++;
            return;
        }
        if (ver != 1) {
            cap->stats.bad_header++;
            return;
        }
    }
    cap_ether(cap, fr, c->p, cur_left(c));
}

/* ERSPAN type III header (draft-foschiano-erspan-03 §4.2):
 *
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |  Ver  |          VLAN         | COS |BSO|T|     Session ID    |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                          Timestamp                            |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |             SGT               |P|    FT   |   Hw ID   |D|Gra|O|
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |        Platform Specific SubHeader (8 octets, when O is set)  |
 *
 * FT (frame type) 0 is Ethernet, the only one switches send; others are counted as non-IP. */
static void erspan3(cap_t *cap, cap_decode_t *fr, cur_t *c)
{
    uint8_t ver = (uint8_t)(cur_u8(c) >> 4);
    cur_skip(c, 9);
    uint16_t bits = cur_be16(c);
    if (bits & 0x0001)
        cur_skip(c, 8);
    if (c->err) {
        cap->stats.truncated++;
        return;
    }
    if (ver != 2) {
        cap->stats.bad_header++;
        return;
    }
    if (((bits >> 10) & 0x1f) != 0) {
        cap->stats.non_ip++;
        return;
    }
    cap_ether(cap, fr, c->p, cur_left(c));
}

/* PPTP's enhanced GRE header (RFC 2637 §4.1), version 1, protocol 0x880b (PPP):
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |C|R|K|S|s|Recur|A| Flags | Ver |         Protocol Type         |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |    Key (HW) Payload Length    |       Key (LW) Call ID        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                  Sequence Number (Optional)                   |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |               Acknowledgment Number (Optional)                |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * K is always set (a version 1 header without it is not decoded, like other versions); C and R
 * never are (a header with them is a bad one). The payload length
 * trims the PPP frame; a packet with no payload is an acknowledgment alone (nothing to do). c
 * stands after the protocol type. */
static void pptp_gre(cap_t *cap, cap_decode_t *fr, uint16_t flags, cur_t *c)
{
    uint16_t plen = cur_be16(c);
    cur_skip(c, 2); /* call ID */
    if (flags & GRE_SEQ)
        cur_skip(c, 4);
    if (flags & GRE_ACK)
        cur_skip(c, 4);
    if (c->err) {
        cap->stats.truncated++;
        return;
    }
    if ((flags & (GRE_CSUM | GRE_ROUTING)) != 0) {
        cap->stats.bad_header++;
        return;
    }
    if (plen == 0 && (flags & GRE_SEQ) == 0)
        return;
    if (plen > cur_left(c)) {
        cap->stats.truncated++;
        return;
    }
    cap->stats.gre_ppp++;
    cap_ppp(cap, fr, c->p, plen);
}

/* GRE header (RFC 2784 §2, with RFC 2890's key and sequence number):
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |C|R|K|S| Reserved0       | Ver |         Protocol Type         |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |      Checksum (optional)      |       Reserved1 (Optional)    |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                         Key (optional)                        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                 Sequence Number (Optional)                    |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Version 1 is PPTP's enhanced GRE (pptp_gre above). */
void cap_gre(cap_t *cap, cap_decode_t *fr, const uint8_t *p, size_t len)
{
    cur_t c = cur_make(p, len);
    uint16_t flags = cur_be16(&c);
    uint16_t proto = cur_be16(&c);
    if (!c.err && (flags & (GRE_VERSION | GRE_KEY)) == (1 | GRE_KEY) && proto == GRE_PPP) {
        pptp_gre(cap, fr, flags, &c);
        return;
    }
    if (flags & GRE_CSUM)
        cur_skip(&c, 4);
    if (flags & GRE_KEY)
        cur_skip(&c, 4);
    if (flags & GRE_SEQ)
        cur_skip(&c, 4);
    if (c.err) {
        cap->stats.truncated++;
        return;
    }
    if ((flags & GRE_VERSION) != 0 || (flags & GRE_ROUTING) != 0) {
        cap->stats.other_ip_proto++;
        return;
    }
    switch (proto) {
        case GRE_IPV4:
            cap_ip4(cap, fr, c.p, cur_left(&c));
            break;
        case GRE_IPV6:
            cap_ip6(cap, fr, c.p, cur_left(&c));
            break;
        case GRE_TEB:
            cap_ether(cap, fr, c.p, cur_left(&c));
            break;
        case GRE_ERSPAN2:
            erspan2(cap, fr, (flags & GRE_SEQ) != 0, &c);
            break;
        case GRE_ERSPAN3:
            erspan3(cap, fr, &c);
            break;
        default:
            cap->stats.non_ip++;
            break;
    }
}

/* VXLAN header (RFC 7348 §5), in UDP to port 4789:
 *
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |R|R|R|R|I|R|R|R|            Reserved                           |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                VXLAN Network Identifier (VNI) |   Reserved    |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * then an Ethernet frame. Without the I flag it is not VXLAN: the datagram stays plain UDP. */
bool cap_vxlan(cap_t *cap, cap_decode_t *fr, const uint8_t *p, size_t len)
{
    if (len < 8 || (p[0] & 0x08) == 0)
        return false;
    if (cap_tunnel_enter(cap, fr)) {
        cap_ether(cap, fr, p + 8, len - 8);
        cap_tunnel_leave(fr);
    }
    return true;
}

/* GTP-U header (3GPP TS 29.281 §5.1), in UDP to port 2152:
 *
 *     Bits  8   7   6   5   4   3   2   1
 *          +-----------+---+---+---+---+---+
 *   Oct 1  |  Version  |PT | * | E | S |PN |   version 1, PT 1 (GTP, not GTP')
 *          +-----------+---+---+---+---+---+
 *   Oct 2  |         Message Type          |   255: G-PDU, a user packet
 *          +-------------------------------+
 *   Oct 3-4|   Length (after octet 8)      |
 *          +-------------------------------+
 *   Oct 5-8| Tunnel Endpoint Identifier    |
 *          +-------------------------------+   present when any of E, S, PN is set:
 *   9-10   | Sequence Number               |
 *   11     | N-PDU Number                  |
 *   12     | Next Extension Header Type    |
 *          +-------------------------------+
 *
 * Each extension header (§5.2.1) is a length in 4-octet units (0 is invalid), its content,
 * and the next header's type in its last octet; type 0 ends the chain. The T-PDU is an IPv4 or
 * IPv6 packet, told apart by its version nibble. Other message types (echo, error indication,
 * end marker) carry no user packet and are counted as non-IP; a datagram that is not GTP-U
 * version 1 stays plain UDP (false). */
bool cap_gtpu(cap_t *cap, cap_decode_t *fr, const uint8_t *p, size_t len)
{
    if (len < 8 || (p[0] & 0xf0) != 0x30)
        return false;
    cur_t c = cur_make(p, len);
    uint8_t flags = cur_u8(&c);
    uint8_t type = cur_u8(&c);
    size_t glen = cur_be16(&c);
    cur_skip(&c, 4); /* TEID */
    if (glen > cur_left(&c)) {
        cap->stats.truncated++;
        return true;
    }
    c.end = c.p + glen;
    if (type != 255) {
        cap->stats.non_ip++;
        return true;
    }
    if (flags & 0x07) {
        cur_skip(&c, 3);
        uint8_t next = cur_u8(&c);
        while (next != 0 && !c.err) {
            size_t units = cur_u8(&c);
            if (units == 0) {
                cap->stats.bad_header++;
                return true;
            }
            cur_skip(&c, units * 4 - 2);
            next = cur_u8(&c);
        }
        if (c.err) {
            cap->stats.truncated++;
            return true;
        }
    }
    cap->stats.gtpu++;
    size_t left = cur_left(&c);
    int version = left > 0 ? c.p[0] >> 4 : 0;
    if (version != 4 && version != 6) {
        cap->stats.non_ip++;
        return true;
    }
    if (cap_tunnel_enter(cap, fr)) {
        if (version == 4)
            cap_ip4(cap, fr, c.p, left);
        else
            cap_ip6(cap, fr, c.p, left);
        cap_tunnel_leave(fr);
    }
    return true;
}
