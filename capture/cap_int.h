/* cap_int: the capture module's private state and the decoders' shared entry points. */
#ifndef SIPSCOPE_CAP_INT_H
#define SIPSCOPE_CAP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cap.h"
#include "ipfrag.h"
#include "tcp_reasm.h"

/* Tunnels (IP-in-IP, GRE, ERSPAN, VXLAN) one frame may nest. Real deployments use one or two;
 * the bound stops "tunnel bombs" from recursing through a 64 KB frame. */
#define CAP_MAX_DEPTH 4

/* The frame being decoded, on the stack, one per cap_process_frame call. The packet view is
 * filled as the layers are peeled: the frame fields first, the VLAN when a tag is seen, the
 * addresses and l3 by each IP header (so the innermost one wins), the rest by the transport.
 * Building it in place means no copies between layers on the hot path. */
typedef struct {
    cap_packet_t pkt;
    bool have_vlan; /* pkt.vlan holds the first (outermost) tag */
    bool tunneled;  /* stats.tunnels already counted for this frame */
    uint8_t depth;  /* tunnels entered so far */
} cap_decode_t;

struct cap {
    cap_cfg_t cfg;
    cap_sink_fn sink;
    void *ctx;
    cap_stats_t stats;
    int64_t next_expire_ns;
    bool expire_armed;
    ipfrag_t *frag;
    tcpreasm_t *tcp;
    /* Reassembled datagrams, one per tunnel depth so that a datagram being delivered is never
     * overwritten by one completing inside it. Allocated on first use. */
    uint8_t *dgram[CAP_MAX_DEPTH + 1];
    /* cap_set_lookahead */
    cap_hint_fn hint;
    cap_prefetch_fn prefetch;
    void *hint_ctx;
};

/* link.c: a frame of link type dlt; an Ethernet frame (also inside tunnels); the payload of
 * an EtherType (VLAN tags are peeled here). */
void cap_link(cap_t *cap, cap_decode_t *fr, int dlt, const uint8_t *p, size_t len);
void cap_ether(cap_t *cap, cap_decode_t *fr, const uint8_t *p, size_t len);
void cap_ethertype(cap_t *cap, cap_decode_t *fr, uint16_t type, const uint8_t *p, size_t len);

/* ip.c: IPv4 and IPv6 packets; a transport payload of protocol proto (UDP, TCP or a tunnel)
 * of the IP packet last decoded into fr->pkt. */
void cap_ip4(cap_t *cap, cap_decode_t *fr, const uint8_t *p, size_t len);
void cap_ip6(cap_t *cap, cap_decode_t *fr, const uint8_t *p, size_t len);
void cap_transport(cap_t *cap, cap_decode_t *fr, uint8_t proto, const uint8_t *p, size_t len,
                   bool reassembled);

/* tunnel.c: enter a tunnel (false, counted, when too deep) and leave it; GRE (IP protocol 47)
 * and VXLAN (true when p was a VXLAN packet and has been decoded). */
bool cap_tunnel_enter(cap_t *cap, cap_decode_t *fr);
void cap_tunnel_leave(cap_decode_t *fr);
void cap_gre(cap_t *cap, cap_decode_t *fr, const uint8_t *p, size_t len);
bool cap_vxlan(cap_t *cap, cap_decode_t *fr, const uint8_t *p, size_t len);

/* Hand one transport payload to the sink; returns what it consumed (at most len). */
static inline size_t cap_deliver(cap_t *cap, cap_decode_t *fr, uint8_t proto, uint16_t sport,
                                 uint16_t dport, const uint8_t *p, size_t len, bool reassembled)
{
    cap_packet_t *pkt = &fr->pkt;
    pkt->ip_proto = proto;
    pkt->src.port = sport;
    pkt->dst.port = dport;
    pkt->payload = p;
    pkt->len = len;
    pkt->reassembled = reassembled;
    if (cap->sink == NULL)
        return len;
    size_t used = cap->sink(cap->ctx, pkt);
    return used > len ? len : used;
}

#endif
