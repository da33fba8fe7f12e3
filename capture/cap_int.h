/* cap_int: the capture module's private state and the decoders' shared entry points. */
#ifndef SIPSCOPE_CAP_INT_H
#define SIPSCOPE_CAP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cap.h"
#include "defs.h"
#include "ipfrag.h"
#include "tcp_reasm.h"

/* Tunnels (IP-in-IP, GRE, ERSPAN, VXLAN, GTP-U, MPLS pseudowires) one frame may nest. Real
 * deployments use one or two; the bound stops "tunnel bombs" from recursing through a 64 KB frame.
 */
#define CAP_MAX_DEPTH 4

/* For the small helpers that run on every frame (the peek, the addresses): no call. */
#define CAP_INLINE static inline __attribute__((always_inline))

/* UDP ports of VXLAN (RFC 7348) and GTP-U (3GPP TS 29.281 §4.4.2), decoded as tunnels. */
#define CAP_VXLAN_PORT 4789
#define CAP_GTPU_PORT  2152

/* The frame being decoded, on the stack, one per cap_process_frame call. The packet view is
 * filled as the layers are peeled: the frame fields first, the VLAN when a tag is seen, the
 * addresses and l3 by each IP header (so the innermost one wins), the rest by the transport.
 * Building it in place means no copies between layers on the hot path. */
typedef struct {
    packet_view_t pkt;
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
/* link.c: a PPP frame (address/control and protocol-field compression accepted) to IP; an MPLS
 * label stack and what its bottom carries. */
void cap_ppp(cap_t *cap, cap_decode_t *fr, const uint8_t *p, size_t len);
void cap_mpls(cap_t *cap, cap_decode_t *fr, const uint8_t *p, size_t len);

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
/* GTP-U (true when p was a GTP-U packet: decoded, or counted). */
bool cap_gtpu(cap_t *cap, cap_decode_t *fr, const uint8_t *p, size_t len);

/* ---- Hand-over rings (readahead.c, live.c): a producing thread copies frames in, one decoding
 * thread takes them out. Each frame is its cap_frame_info_t (cap.h) as header, then caplen
 * bytes, padded to 8 (cap_ring_len). Positions only grow (ring offset = position % ring size); a
 * frame never straddles the end: the producer skips the rest of the ring, writing a header with
 * caplen CAP_RING_WRAP (and the bytes skipped in wirelen) when one fits.
 *
 * With look-ahead on, the producer also peeks at the frame (cap_ring_peek): when it holds a
 * plain UDP datagram, peeked is set with the offset of its IP header and its VLAN, and the
 * decoding thread takes it without walking the layers again (cap_process_ring_frame). */
typedef cap_frame_info_t cap_ring_hdr_t;

_Static_assert(sizeof(cap_ring_hdr_t) == 32, "ring headers are 32 bytes");

#define CAP_RING_WRAP UINT32_MAX
#define CAP_ALIGN8(n) (((n) + 7u) & ~(size_t)7u)

/* Bytes from this header to the next one. */
static inline size_t cap_ring_len(const cap_ring_hdr_t *hdr)
{
    return hdr->caplen == CAP_RING_WRAP ? hdr->wirelen
                                        : CAP_ALIGN8(sizeof(*hdr) + (size_t)hdr->caplen);
}

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
            *pos += hdr->wirelen;
            continue;
        }
        return true;
    }
    return false;
}

/* A wrap marker skipping `skip` bytes. */
static inline cap_ring_hdr_t cap_ring_wrap_mark(size_t skip)
{
    cap_ring_hdr_t mark;
    memset(&mark, 0, sizeof(mark));
    mark.caplen = CAP_RING_WRAP;
    mark.wirelen = (uint32_t)skip;
    return mark;
}

/* ---- Reading libpcap handles. The dependency runs one way: pcapfile.c (opening files, the
 * reader on the calling thread, cap_read_pcap_readahead choosing between the two) uses
 * readahead.c (the reader on its own thread), which uses nothing of pcapfile.c. What both
 * need is here. */

/* Capture time in ns from libpcap's timeval (tv_sec, tv_usec), whose tv_usec holds µs
 * (unit_ns 1000) or ns (unit_ns 1) depending on the handle's precision. Savefile fields are not
 * validated by libpcap, so both are clamped: ±9e9 s (year 2255) keeps the product inside
 * int64_t. */
static inline int64_t cap_pcap_ts_ns(int64_t s, int64_t frac, int64_t unit_ns)
{
    const int64_t max_s = 9000000000LL, max_frac = 100000000000LL;
    s = s > max_s ? max_s : s < -max_s ? -max_s : s;
    frac = frac > max_frac ? max_frac : frac < -max_frac ? -max_frac : frac;
    return s * NS_PER_S + frac * unit_ns;
}

/* readahead.c: cap_read_pcap_readahead's reading, libpcap on a second thread. Returns as
 * cap_read_pcap does, or -EAGAIN with nothing read when the ring or the thread cannot be had
 * (the caller then reads on its own thread). */
int cap_readahead_run(cap_t *cap, struct pcap *handle, char *err, size_t errlen);

/* Whether cfg.stop asks reading to stop (one relaxed load). */
static inline bool cap_stop_asked(const atomic_int *stop)
{
    return stop != NULL && atomic_load_explicit(stop, memory_order_relaxed) != 0;
}
/* readahead.c: the descriptor to wait on before each frame of handle, or -1: a pipe, FIFO,
 * socket or terminal when stop can ask to stop (a regular file never waits long). */
int cap_input_wait_fd(const atomic_int *stop, struct pcap *handle);
/* readahead.c: cap_input_ready's wait, for fd >= 0. */
bool cap_input_wait(const atomic_int *stop, struct pcap *handle, int fd);
/* With fd >= 0, wait until fd has data (or its end) or stop asks to stop; false when stopping.
 * Data already in handle's stdio buffer needs no wait. Inline: a file (fd < 0) asks this before
 * every frame, and only the stop flag is to be read. */
static inline bool cap_input_ready(const atomic_int *stop, struct pcap *handle, int fd)
{
    return fd < 0 ? !cap_stop_asked(stop) : cap_input_wait(stop, handle, fd);
}

/* cap_process_frame with the frame's look-ahead hint (it reaches the sink in pkt->hint). */
void cap_process_frame_hinted(cap_t *cap, int dlt, int64_t ts_ns, const uint8_t *frame,
                              uint32_t caplen, uint32_t wirelen, uint64_t hint);

/* lookahead.c. Producer side, for a header with ts_ns, caplen and dlt set: when the frame is
 * a plain UDP datagram, set peeked, l3_off and vlan, and the hint (0 when hint is NULL or says
 * 0); otherwise clear them all. Without a hint function nothing is peeked. */
void cap_ring_peek(cap_hint_fn hint, void *ctx, cap_ring_hdr_t *hdr, const uint8_t *frame);

/* Consumer side: the frames of a ring in order, each header read once. Frames are queued up to
 * CAP_LOOKAHEAD_FAR ahead of the one handed out, and their hints prefetched twice: stage 0
 * when queued, stage 1 CAP_LOOKAHEAD_NEAR frames before the frame is handed out. */
#define CAP_LOOKAHEAD_QUEUE 32 /* a power of two above CAP_LOOKAHEAD_FAR */
typedef struct {
    size_t pos;             /* ring position after the last frame queued (and wrap gaps) */
    uint64_t queued, taken; /* frames queued, and handed out, so far */
    uint64_t near;          /* the next frame to get stage 1 */
    struct {
        cap_ring_hdr_t hdr;
        size_t pos; /* where the frame starts */
    } q[CAP_LOOKAHEAD_QUEUE];
} cap_lookahead_t;

_Static_assert(CAP_LOOKAHEAD_QUEUE > CAP_LOOKAHEAD_FAR &&
                   (CAP_LOOKAHEAD_QUEUE & (CAP_LOOKAHEAD_QUEUE - 1)) == 0,
               "the queue holds the look-ahead");

/* Start reading a ring at position pos. */
void cap_lookahead_init(cap_lookahead_t *la, size_t pos);

/* The next frame of the ring (complete up to end, the producer's position when last read):
 * its header (valid until the next call) and its position in *pos. NULL when every frame before
 * end has been handed out: la->pos is then where the consumed part of the ring ends. prefetch
 * may be NULL. */
const cap_ring_hdr_t *cap_lookahead_next(cap_lookahead_t *la, const uint8_t *ring,
                                         size_t ring_bytes, size_t end, cap_prefetch_fn prefetch,
                                         void *ctx, size_t *pos);

/* Hand one transport payload to the sink; returns what it consumed (at most len). */
static inline size_t cap_deliver(cap_t *cap, cap_decode_t *fr, uint8_t proto, uint16_t sport,
                                 uint16_t dport, const uint8_t *p, size_t len, bool reassembled)
{
    packet_view_t *pkt = &fr->pkt;
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

/* cap_expire runs when capture time has advanced this much since the last run. */
#define CAP_EXPIRE_EVERY_NS 1000000000LL

static inline uint16_t cap_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* The packet's addresses, from the IPv4 or the IPv6 header at ip. */
CAP_INLINE void cap_addrs_ip4(packet_view_t *pkt, const uint8_t *ip)
{
    net_addr_v4(&pkt->src.addr, ip + 12);
    net_addr_v4(&pkt->dst.addr, ip + 16);
}

CAP_INLINE void cap_addrs_ip6(packet_view_t *pkt, const uint8_t *ip)
{
    net_addr_v6(&pkt->src.addr, ip + 8);
    net_addr_v6(&pkt->dst.addr, ip + 24);
}

/* What every frame does first: count it, run expiry, and start its packet view. */
static inline void cap_frame_begin(cap_t *cap, cap_decode_t *fr, int dlt, int64_t ts_ns,
                                   const uint8_t *frame, uint32_t caplen, uint32_t wirelen,
                                   uint64_t hint)
{
    cap->stats.frames++;
    cap->stats.bytes += wirelen;
    /* Expiry follows capture time, not the wall clock, so a file replays the same way at any
     * speed. A clock that jumps back (merged files) rearms at the new time. */
    if (!cap->expire_armed || ts_ns >= cap->next_expire_ns ||
        (uint64_t)cap->next_expire_ns - (uint64_t)ts_ns > 2 * CAP_EXPIRE_EVERY_NS) {
        cap_expire(cap, ts_ns);
        cap->expire_armed = true;
        cap->next_expire_ns =
            ts_ns > INT64_MAX - CAP_EXPIRE_EVERY_NS ? INT64_MAX : ts_ns + CAP_EXPIRE_EVERY_NS;
    }
    fr->pkt.ts_ns = ts_ns;
    fr->pkt.vlan = 0;
    fr->pkt.kind = PKT_KIND_ANY; /* captured: the engine decides what it is */
    fr->pkt.has_probe = false;
    fr->pkt.probe_id = 0;
    fr->pkt.carried = 0;
    fr->pkt.frame = frame;
    fr->pkt.frame_caplen = caplen;
    fr->pkt.frame_len = wirelen;
    fr->pkt.frame_dlt = dlt;
    fr->pkt.hint = hint;
    fr->have_vlan = false;
    fr->tunneled = false;
    fr->depth = 0;
}

/* Decode a frame taken from a ring: a peeked one straight to the sink, any other in full
 * (cap_process_frame_hinted). The same packets and counters either way. Inline: the read-ahead
 * loop calls it for every frame. */
static inline void cap_process_ring_frame(cap_t *cap, const cap_ring_hdr_t *hdr,
                                          const uint8_t *frame)
{
    /* The producer checked every length of a peeked frame (cap_peek_udp) on these same bytes:
     * here the headers are only read. The tunnels' ports (VXLAN, GTP-U) are left to the full
     * decoding. */
    const uint8_t *l3 = NULL, *udp = NULL;
    bool v4 = false;
    if (hdr->peeked) {
        l3 = frame + hdr->l3_off;
        v4 = (l3[0] >> 4) == 4;
        udp = v4 ? l3 + (size_t)(l3[0] & 0x0f) * 4 : l3 + 40;
    }
    uint16_t dport = udp == NULL ? 0 : cap_be16(udp + 2);
    if (udp == NULL || dport == CAP_VXLAN_PORT || dport == CAP_GTPU_PORT) {
        cap_process_frame_hinted(cap, hdr->dlt, hdr->ts_ns, frame, hdr->caplen, hdr->wirelen,
                                 hdr->hint);
        return;
    }
    cap_decode_t fr;
    cap_frame_begin(cap, &fr, hdr->dlt, hdr->ts_ns, frame, hdr->caplen, hdr->wirelen, hdr->hint);
    packet_view_t *pkt = &fr.pkt;
    pkt->vlan = hdr->vlan;
    pkt->l3 = l3;
    if (v4) {
        cap_addrs_ip4(pkt, l3);
        pkt->l3_len = cap_be16(l3 + 2);
    } else {
        cap_addrs_ip6(pkt, l3);
        pkt->l3_len = 40 + (size_t)cap_be16(l3 + 4);
    }
    cap->stats.udp_packets++;
    cap_deliver(cap, &fr, CAP_PROTO_UDP, cap_be16(udp), dport, udp + 8, cap_be16(udp + 4) - 8u,
                false);
}

#endif
