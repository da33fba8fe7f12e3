/* cap: frames to packet views: link layers, tunnels, IP reassembly, TCP streams, pcap files. */
#ifndef SIPSCOPE_CAP_H
#define SIPSCOPE_CAP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"
#include "packet_view.h"

typedef struct cap cap_t;

enum { CAP_PROTO_TCP = PKT_PROTO_TCP, CAP_PROTO_UDP = PKT_PROTO_UDP };

/* The sink gets packet views (common/packet_view.h). */

/* Returns, for TCP, the number of payload bytes consumed (0..len); ignored for UDP. */
typedef size_t (*cap_sink_fn)(void *ctx, const packet_view_t *pkt);

typedef struct {
    size_t frag_max_bytes;    /* memory for incomplete IP datagrams (default 4 MB) */
    uint32_t frag_timeout_ms; /* incomplete datagram lifetime (default 30 s of capture time) */
    size_t tcp_max_flows;     /* concurrent TCP directions buffered (default 16384) */
    size_t tcp_max_buffer;    /* per-direction reassembly buffer (default 256 KB) */
    uint32_t tcp_timeout_ms;  /* idle TCP direction lifetime (default 300 s) */
    /* Borrowed; NULL (default) = never. Once *stop is non-zero, reading a file stops before the
     * next frame (a pipe or FIFO with no data waiting stops too): cap_read_file returns -EINTR.
     * A signal handler may set it (a lock-free atomic store). */
    const atomic_int *stop;
} cap_cfg_t;

/* Defaults for every field. */
void cap_cfg_init(cap_cfg_t *cfg);

/* Counters; all monotonic. "Unknown" frames are ones we do not decode (ARP, other link types,
 * other IP protocols); "truncated" are frames shorter than their headers say. */
typedef struct {
    uint64_t frames;
    uint64_t bytes; /* sum of wire lengths */
    uint64_t unknown_link;
    uint64_t non_ip;
    uint64_t other_ip_proto;
    uint64_t truncated;
    uint64_t bad_header;
    uint64_t tunnels; /* frames that carried IP-in-IP, GRE, ERSPAN, VXLAN, GTP-U or MPLS PW */
    uint64_t ip_fragments;
    uint64_t ip_reassembled;
    uint64_t frag_timeouts;
    uint64_t frag_dropped; /* evicted for memory, overlapping or oversized */
    uint64_t udp_packets;
    uint64_t tcp_segments;
    uint64_t tcp_retransmissions;
    uint64_t tcp_out_of_order;
    uint64_t tcp_gaps; /* data given up on (hole never filled, buffer full) */
    uint64_t tcp_flows_evicted;
    uint64_t read_errors; /* truncated files and the like */
    /* Added after the first contract; existing fields keep their meaning. */
    uint64_t frag_overlaps;       /* fragments overlapping bytes already held (duplicates too) */
    uint64_t tcp_flows_timed_out; /* TCP directions forgotten after tcp_timeout_ms idle */
    uint64_t readahead_cpu_ns;    /* CPU time of the read-ahead threads (files) */
    /* Encapsulations, one count per header decoded (a frame nesting two counts twice); what
     * they carry that is not IP is counted in non_ip, short headers in truncated. */
    uint64_t gtpu;    /* GTP-U G-PDUs (UDP port 2152) */
    uint64_t pppoe;   /* PPPoE session frames (EtherType 0x8864) */
    uint64_t gre_ppp; /* PPP in PPTP's enhanced GRE (version 1, protocol 0x880b) */
    uint64_t mpls;    /* MPLS label stacks (EtherType 0x8847/0x8848) */
} cap_stats_t;

/* Returns NULL on allocation failure. Caller frees with cap_free. */
cap_t *cap_new(const cap_cfg_t *cfg, cap_sink_fn sink, void *ctx);
void cap_free(cap_t *cap);

/* Decode one captured frame of link type dlt (DLT_* values of pcap) and feed the sink. Never
 * fails: what cannot be decoded is counted. */
void cap_process_frame(cap_t *cap, int dlt, int64_t ts_ns, const uint8_t *frame, uint32_t caplen,
                       uint32_t wirelen);
/* A frame as one thread hands it to another (the read-ahead and live-capture rings store this
 * as each frame's header), with what the producer's look-ahead found when it queued the frame
 * (cap_set_lookahead): its hint, and when peeked, where the IP header of its plain UDP datagram
 * starts and its VLAN (cap_peek_udp on these same bytes). */
typedef struct {
    int64_t ts_ns;
    uint32_t caplen, wirelen;
    uint64_t hint; /* reaches the sink as pkt->hint; 0 = none */
    int32_t dlt;
    uint16_t vlan;  /* peeked: outermost 802.1Q VLAN id, 0 if none */
    uint8_t l3_off; /* peeked: where the IP header starts in the frame */
    bool peeked;    /* a plain UDP datagram (cap_peek_udp); else the frame is decoded in full */
} cap_frame_info_t;

typedef struct {
    cap_frame_info_t info;
    const uint8_t *data;
} cap_frame_t;

/* cap_process_frame for such a frame: a peeked one reaches the sink without a second walk
 * through its layers. The same packets and counters either way. */
void cap_process_frame_peeked(cap_t *cap, const cap_frame_t *f);

/* Read a pcap or pcapng file (path "-" = stdin) to the end, feeding every frame to
 * cap_process_frame. Returns 0; -ENOENT/-EINVAL/-EIO with a human-readable reason in err when
 * the file is missing, not a capture, or truncated (frames before the damage are processed);
 * -EINTR ("interrupted after N packets") when cfg.stop asked to stop before the end. */
int cap_read_file(cap_t *cap, const char *path, char *err, size_t errlen);

/* libpcap's handle (pcap_t is struct pcap), so that this header needs no <pcap.h>. */
struct pcap;

/* Read every frame from an open libpcap handle (a savefile from pcap_fopen_offline, or a live
 * handle: it returns after pcap_breakloop) through cap_process_frame. Timestamps follow the
 * handle's precision (pcap_get_tstamp_precision). The handle stays the caller's. Returns 0 at
 * the end, -EIO with "truncated after N packets: ..." in err on a read error, or -EINTR when
 * cfg.stop asked to stop. This is what
 * cap_read_file uses after opening the file. */
int cap_read_pcap(cap_t *cap, struct pcap *handle, char *err, size_t errlen);
/* The same, with libpcap reading on a second thread a little ahead of the decoding (files: the
 * reading then costs no time on the decoding thread). Frames are handed over in order through
 * a bounded lock-free ring; nothing is dropped. Used by cap_read_file. */
int cap_read_pcap_readahead(cap_t *cap, struct pcap *handle, char *err, size_t errlen);

/* Look-ahead (optional; files read with read-ahead only). With thousands of concurrent streams
 * the state a packet needs is a cache miss; knowing early which state that will be lets the
 * decoding thread ask for it a few frames before it is needed.
 *
 * hint runs on the read-ahead thread for every frame that holds a plain UDP datagram (no
 * tunnel, no fragment; pkt has ts_ns, addresses, ports and payload): it must only read state
 * that does not change while the file is read. A non-zero result travels with the frame (and
 * reaches the sink as pkt->hint), and prefetch(ctx, hint, stage) is called on the decoding
 * thread before the frame is decoded:
 * stage 0 about CAP_LOOKAHEAD_FAR frames ahead, stage 1 about CAP_LOOKAHEAD_NEAR frames ahead.
 * Neither may change what decoding does: they are hints. */
#define CAP_LOOKAHEAD_FAR  16
#define CAP_LOOKAHEAD_NEAR 6
typedef uint64_t (*cap_hint_fn)(void *ctx, const packet_view_t *pkt);
typedef void (*cap_prefetch_fn)(void *ctx, uint64_t hint, int stage);
void cap_set_lookahead(cap_t *cap, cap_hint_fn hint, cap_prefetch_fn prefetch, void *ctx);

/* The frame's UDP datagram when it is a plain one (Ethernet with up to two VLAN tags, SLL,
 * SLL2 or raw IP; IPv4 not fragmented, or IPv6 without extension headers): fills out's
 * addresses, ports, payload, len, l3, l3_len and vlan as the full decoding would. Stateless and
 * counts nothing; false for anything else. */
bool cap_peek_udp(int dlt, const uint8_t *frame, size_t caplen, packet_view_t *out);

/* Drop state older than the timeouts, as of capture time now_ns (called on its own from
 * cap_process_frame about once per second of capture time). */
void cap_expire(cap_t *cap, int64_t now_ns);

/* Flush: deliver nothing more; release all reassembly state (end of input). */
void cap_flush(cap_t *cap);

const cap_stats_t *cap_stats(const cap_t *cap);

#endif
