/* capsink: a cap_ packet sink that records what the capture layer delivers, for the capture
 * suites (check_link, check_ip, check_tcp, check_pcapfile). */
#ifndef SIPSCOPE_CAPSINK_H
#define SIPSCOPE_CAPSINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cap.h"
#include "frames.h"

/* What the sink consumes of a TCP stream: everything, whole SIP messages (the default),
 * nothing, or at most S.fixed bytes. */
enum { TCP_ALL, TCP_SIP, TCP_NONE, TCP_FIXED };

#define MAX_RECS 512
#define MAX_MSGS 512

/* One delivered packet: its payload copied, its pointers into the frame kept as they were. */
typedef struct {
    uint8_t proto;
    char src[NET_ENDPOINT_STRLEN], dst[NET_ENDPOINT_STRLEN];
    uint16_t vlan;
    bool reassembled;
    int64_t ts_ns;
    size_t len;
    uint8_t *data;
    const uint8_t *l3;
    size_t l3_len;
    uint8_t l3_first;
    const uint8_t *frame;
    uint32_t frame_caplen, frame_len;
    int frame_dlt;
} rec_t;

typedef struct {
    bool record;
    int tcp_mode;
    size_t fixed;
    rec_t recs[MAX_RECS];
    size_t nrecs, calls;
    char *msgs[MAX_MSGS];
    size_t msg_len[MAX_MSGS];
    size_t nmsgs;
    /* Classification, for whole files. */
    uint64_t sip_udp, other_udp, reassembled, tcp_calls, udp_calls;
    int64_t first_ts, first_sip_ts;
    bool have_first_ts, have_first_sip, sub_us;
    uint64_t vlan_mismatch;
    uint16_t want_vlan;
    size_t max_tcp_offer;
} capsink_t;

/* The sink's state, which the tests read and set directly (one test per process under Check's
 * fork mode; sink_reset between cases in one test). */
extern capsink_t S;

/* Frees what was recorded and starts over: recording on, TCP_SIP. */
void sink_reset(void);
/* Check fixtures: sink_reset before, and sink_reset plus guard_release after each test. */
void sink_setup(void);
void sink_teardown(void);
/* Length of the first whole SIP message in p[0, n) by its Content-Length, or 0 if it is
 * incomplete. */
size_t sip_message_len(const uint8_t *p, size_t n);

/* A cap_ that delivers to the sink; a failure fails the test. Caller frees with cap_free. */
cap_t *new_cap_cfg(const cap_cfg_t *cfg);
cap_t *new_cap(void);

#define T0 1705312800000000000LL /* 2024-01-15 10:00:00 UTC */

/* Feed k as one frame (at ts, or T0) and free it. */
void feed_at(cap_t *cap, int dlt, int64_t ts, pkt_t *k);
void feed(cap_t *cap, int dlt, pkt_t *k);
/* IPv4 UDP 192.0.2.1:5060 -> 198.51.100.2:5062 with no link header, the usual test packet.
 * Caller frees (feed does). */
pkt_t *udp4(const char *payload);

#endif
