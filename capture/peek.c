/* peek: a stateless look at a frame's plain UDP datagram, for look-ahead hints. */
#include "cap_int.h"

#include <pcap/dlt.h>

#define LINKTYPE_RAW 101

/* The read-ahead thread peeks at every frame: one function, no calls (CAP_INLINE). */

CAP_INLINE bool peek_udp(packet_view_t *out, const uint8_t *p, size_t len)
{
    if (len < 8)
        return false;
    size_t udp_len = cap_be16(p + 4);
    if (udp_len < 8 || udp_len > len)
        return false;
    out->ip_proto = CAP_PROTO_UDP;
    out->src.port = cap_be16(p);
    out->dst.port = cap_be16(p + 2);
    out->payload = p + 8;
    out->len = udp_len - 8;
    return true;
}

/* An IP packet; want 4 or 6 for link types that carry only that version, else 0. */
CAP_INLINE bool peek_ip(packet_view_t *out, const uint8_t *p, size_t len, int want)
{
    if (len == 0 || (want != 0 && (p[0] >> 4) != want))
        return false;
    out->l3 = p;
    if (len >= 20 && (p[0] >> 4) == 4) {
        size_t ihl = (size_t)(p[0] & 0x0f) * 4;
        size_t total = cap_be16(p + 2);
        if (ihl < 20 || total < ihl || total > len || p[9] != CAP_PROTO_UDP ||
            (cap_be16(p + 6) & 0x3fff) != 0)
            return false;
        cap_addrs_ip4(out, p);
        out->l3_len = total;
        return peek_udp(out, p + ihl, total - ihl);
    }
    if (len >= 40 && (p[0] >> 4) == 6 && p[6] == CAP_PROTO_UDP) {
        size_t payload = cap_be16(p + 4);
        if (payload > len - 40)
            return false;
        cap_addrs_ip6(out, p);
        out->l3_len = 40 + payload;
        return peek_udp(out, p + 40, payload);
    }
    return false;
}

/* An EtherType payload, after at most two VLAN tags. */
CAP_INLINE bool peek_ethertype(packet_view_t *out, uint16_t type, const uint8_t *p, size_t len)
{
    out->vlan = 0;
    for (int tags = 0; tags < 2 && (type == 0x8100 || type == 0x88a8); tags++) {
        if (len < 4)
            return false;
        if (tags == 0)
            out->vlan = cap_be16(p) & 0x0fff;
        type = cap_be16(p + 2);
        p += 4;
        len -= 4;
    }
    return (type == 0x0800 || type == 0x86dd) && peek_ip(out, p, len, type == 0x0800 ? 4 : 6);
}

bool cap_peek_udp(int dlt, const uint8_t *frame, size_t caplen, packet_view_t *out)
{
    switch (dlt) {
        case DLT_EN10MB:
            return caplen >= 14 &&
                   peek_ethertype(out, cap_be16(frame + 12), frame + 14, caplen - 14);
        case DLT_LINUX_SLL:
            return caplen >= 16 &&
                   peek_ethertype(out, cap_be16(frame + 14), frame + 16, caplen - 16);
        case DLT_LINUX_SLL2:
            return caplen >= 20 && peek_ethertype(out, cap_be16(frame), frame + 20, caplen - 20);
        case 12:
        case 14:
        case LINKTYPE_RAW:
            out->vlan = 0;
            return peek_ip(out, frame, caplen, 0);
        case DLT_IPV4:
            out->vlan = 0;
            return peek_ip(out, frame, caplen, 4);
        case DLT_IPV6:
            out->vlan = 0;
            return peek_ip(out, frame, caplen, 6);
        default:
            return false;
    }
}
