/* packet_view: the one view of a packet that every stage passes along: a captured frame's
 * decoded datagram (capture/), a message a probe sent as HEP (capture/hep_in.c), or one SIP
 * message cut out of a TCP stream (engine/). Everything is borrowed and valid only during the
 * call that hands it over. */
#ifndef SIPSCOPE_PACKET_VIEW_H
#define SIPSCOPE_PACKET_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"

enum { PKT_PROTO_TCP = 6, PKT_PROTO_UDP = 17 };

/* What the source says the payload is: captures leave it to the engine (PKT_KIND_ANY); HEP
 * carries the protocol type with each message. PKT_KIND_QOS: a probe's JSON quality report of
 * one RTP stream (HEP type 34, decoders/hep_qos.h); src/dst are the stream's. */
enum { PKT_KIND_ANY = 0, PKT_KIND_SIP, PKT_KIND_RTCP, PKT_KIND_QOS };

/* How a message cut out of a TCP stream was carried (packet_view_t.carried). */
enum { PKT_CARRIED_WS = 1 << 0, PKT_CARRIED_TLS = 1 << 1 };

/* UDP: payload is the UDP payload of one datagram (after IP reassembly when fragmented).
 * TCP: payload is all in-order, not yet consumed bytes of this direction of the connection
 *      (the capture sink returns how many it consumed; the rest is offered again with the
 *      next segment). Handed to the correlator, payload is exactly one SIP message.
 * HEP: payload is the one message the probe sent; ip_proto says how the probe saw it. */
typedef struct {
    int64_t ts_ns;    /* capture time, ns since the epoch */
    uint8_t ip_proto; /* PKT_PROTO_UDP or PKT_PROTO_TCP */
    net_endpoint_t src, dst;
    const uint8_t *payload;
    size_t len;
    const uint8_t *l3; /* IP header of the (innermost) packet, for classifiers; for a
                          reassembled datagram it is the last fragment's header;
                          NULL for HEP */
    size_t l3_len;
    /* These four are next to each other so that a capture resets them in one store. */
    uint16_t vlan;     /* outermost 802.1Q VLAN id, 0 if none */
    uint8_t kind;      /* PKT_KIND_* */
    bool has_probe;    /* came as HEP from a probe (probe_id); false: captured here */
    uint32_t probe_id; /* HEP capture agent id of that probe */
    bool reassembled;  /* built from IP fragments or several TCP segments */
    uint8_t carried;   /* PKT_CARRIED_* bits: a message cut out of a TCP stream that came in
                          WebSocket frames and/or TLS records (decrypted with a key log); 0 for
                          plain TCP and UDP, and for HEP */
    uint64_t hint;     /* the frame's look-ahead hint (cap_set_lookahead) when this
                          is its own plain UDP datagram, else 0 */
    /* The frame as captured (of the last fragment/segment), for per-call pcaps; NULL for HEP. */
    const uint8_t *frame;
    uint32_t frame_caplen, frame_len;
    int frame_dlt;
} packet_view_t;

#endif
