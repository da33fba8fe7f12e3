/* cap_int: the capture module's private state and the decoders' shared entry points. */
#ifndef SIPSCOPE_CAP_INT_H
#define SIPSCOPE_CAP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

/* ---- Hand-over rings (readahead.c, live.c): a producing thread copies frames in, one decoding
 * thread takes them out. Each frame is this header, then caplen bytes, padded to 8. Positions
 * only grow (ring offset = position % ring size); a frame never straddles the end: the producer
 * skips the rest of the ring, writing a header with caplen CAP_RING_WRAP when one fits. */
typedef struct {
    int64_t ts_ns;
    uint32_t caplen, wirelen;
    uint32_t len;  /* whole record, header included */
    int32_t dlt;
    uint64_t hint; /* the look-ahead's (cap_ring_hint), 0 = none */
} cap_ring_hdr_t;

#define CAP_RING_WRAP UINT32_MAX
#define CAP_ALIGN8(n) (((n) + 7u) & ~(size_t)7u)

/* The frame at *pos, skipping wrap gaps, as long as *pos has not reached end (the producer's
 * position when last read): true with *hdr filled and *pos on the frame; false at end. */
static inline bool cap_ring_at(const uint8_t *ring, size_t ring_bytes, size_t *pos, size_t end,
                               cap_ring_hdr_t *hdr)
{
    while (*pos != end) {
        size_t off = *pos % ring_bytes, at_end = ring_bytes - off;
        if (at_end < sizeof(*hdr)) {
            *pos += at_end;
            continue;
        }
        memcpy(hdr, ring + off, sizeof(*hdr));
        if (hdr->caplen == CAP_RING_WRAP) {
            *pos += hdr->len;
            continue;
        }
        return true;
    }
    return false;
}

/* lookahead.c. Producer side: the hint of one frame (0 without a hint function, or when the
 * frame is no plain UDP datagram). */
uint64_t cap_ring_hint(cap_hint_fn hint, void *ctx, int dlt, const uint8_t *frame, size_t caplen,
                       int64_t ts_ns);

/* Consumer side: cursors CAP_LOOKAHEAD_FAR (stage 0) and CAP_LOOKAHEAD_NEAR (stage 1) frames
 * ahead of the decoding. Zero-initialised. */
typedef struct {
    struct {
        size_t pos;     /* the next frame to hint at */
        unsigned ahead; /* frames between the decoding position and pos */
    } stage[2];
} cap_lookahead_t;

/* Before decoding the frame at pos (frames are complete up to end): prefetch the hints of the
 * frames that came into reach. */
void cap_lookahead_run(cap_lookahead_t *la, const uint8_t *ring, size_t ring_bytes, size_t pos,
                       size_t end, cap_prefetch_fn prefetch, void *ctx);
/* After the frame at the decoding position was consumed. */
void cap_lookahead_consumed(cap_lookahead_t *la);

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
    if (reassembled || fr->depth > 0)
        pkt->hint = 0; /* the frame's hint was for its outer (or a single) datagram */
    if (cap->sink == NULL)
        return len;
    size_t used = cap->sink(cap->ctx, pkt);
    return used > len ? len : used;
}

#endif
