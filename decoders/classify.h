/* classify: which protocol a UDP flow carries when no SDP announced it, with nDPI's verdict
 * cached per flow in a bounded table. */
#ifndef SIPSCOPE_CLASSIFY_H
#define SIPSCOPE_CLASSIFY_H

#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"

typedef struct classify classify_t;

typedef enum {
    CLASSIFY_UNKNOWN = 0, /* nDPI has not decided (yet): let the header heuristics decide */
    CLASSIFY_SIP,
    CLASSIFY_RTP,
    CLASSIFY_RTCP,
    CLASSIFY_OTHER, /* nDPI recognised another protocol: not media, not SIP */
    CLASSIFY_COUNT
} classify_verdict_t;

typedef struct {
    uint64_t flows_classified[CLASSIFY_COUNT]; /* flows by final verdict */
    uint64_t packets_inspected;                /* packets handed to nDPI */
    uint64_t flows_evicted;                    /* table full: an older flow forgotten */
} classify_stats_t;

/* max_flows is rounded up to a power of two. NULL when nDPI cannot start or memory is short.
 * Caller frees with classify_free. */
classify_t *classify_new(size_t max_flows);
void classify_free(classify_t *c);

/* Verdict for the flow src -> dst (direction-independent) of this packet. l3 is the packet's IP
 * header and what follows (nDPI inspects it), ts_ns its time. Only the first few packets of a
 * flow are inspected; after that the cached verdict is returned at the cost of a hash lookup. */
classify_verdict_t classify_packet(classify_t *c, const net_endpoint_t *src,
                                   const net_endpoint_t *dst, const uint8_t *l3, size_t l3_len,
                                   int64_t ts_ns);

const char *classify_verdict_name(classify_verdict_t v);
const classify_stats_t *classify_stats(const classify_t *c);

#endif
