/* classify: nDPI flow classification for UDP flows no SDP announced. */
#include "classify.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <ndpi/ndpi_api.h>

#include "hash.h"

/* nDPI decides SIP/RTP/RTCP within a handful of packets; a flow it has not placed after this
 * many is left to the header heuristics for good. */
#define INSPECT_PACKETS 8

typedef struct {
    net_endpoint_t a, b; /* ordered so that both directions share one slot */
    bool used;
    uint8_t inspected;
    classify_verdict_t verdict;
    struct ndpi_flow_struct *flow; /* preallocated, reset when the slot is reused */
} flow_slot_t;

struct classify {
    struct ndpi_detection_module_struct *ndpi;
    flow_slot_t *slots;
    size_t mask;
    classify_stats_t stats;
};

static size_t round_pow2(size_t n)
{
    size_t p = 1;
    while (p < n && p < ((size_t)1 << 30))
        p <<= 1;
    return p;
}

classify_t *classify_new(size_t max_flows)
{
    classify_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    size_t n = round_pow2(max_flows ? max_flows : 4096);
    c->mask = n - 1;
    c->slots = calloc(n, sizeof(*c->slots));
    c->ndpi = ndpi_init_detection_module(ndpi_no_prefs);
    if (c->slots == NULL || c->ndpi == NULL)
        goto fail;
    NDPI_PROTOCOL_BITMASK all;
    NDPI_BITMASK_SET_ALL(all);
    ndpi_set_protocol_detection_bitmask2(c->ndpi, &all);
    ndpi_finalize_initialization(c->ndpi);
    return c;
fail:
    classify_free(c);
    return NULL;
}

void classify_free(classify_t *c)
{
    if (c == NULL)
        return;
    if (c->slots != NULL) {
        for (size_t i = 0; i <= c->mask; i++) {
            if (c->slots[i].flow != NULL) {
                ndpi_free_flow_data(c->slots[i].flow);
                free(c->slots[i].flow);
            }
        }
        free(c->slots);
    }
    if (c->ndpi != NULL)
        ndpi_exit_detection_module(c->ndpi);
    free(c);
}

static int endpoint_cmp(const net_endpoint_t *x, const net_endpoint_t *y)
{
    int r = memcmp(&x->addr, &y->addr, sizeof(x->addr));
    if (r != 0)
        return r;
    return (int)x->port - (int)y->port;
}

static classify_verdict_t verdict_of(ndpi_protocol proto)
{
    uint16_t ids[2] = {proto.app_protocol, proto.master_protocol};
    for (int i = 0; i < 2; i++) {
        switch (ids[i]) {
            case NDPI_PROTOCOL_SIP:
                return CLASSIFY_SIP;
            case NDPI_PROTOCOL_RTP:
                return CLASSIFY_RTP;
            case NDPI_PROTOCOL_RTCP:
                return CLASSIFY_RTCP;
            default:
                break;
        }
    }
    if (proto.app_protocol == NDPI_PROTOCOL_UNKNOWN &&
        proto.master_protocol == NDPI_PROTOCOL_UNKNOWN)
        return CLASSIFY_UNKNOWN;
    /* Other VoIP protocols (WhatsApp, Zoom, Teams ...) often carry RTP underneath: leave them to
     * the RTP header heuristics rather than ruling media out. */
    if (proto.category == NDPI_PROTOCOL_CATEGORY_VOIP)
        return CLASSIFY_UNKNOWN;
    return CLASSIFY_OTHER;
}

classify_verdict_t classify_packet(classify_t *c, const net_endpoint_t *src,
                                   const net_endpoint_t *dst, const uint8_t *l3, size_t l3_len,
                                   int64_t ts_ns)
{
    const net_endpoint_t *lo = src, *hi = dst;
    if (endpoint_cmp(src, dst) > 0) {
        lo = dst;
        hi = src;
    }
    uint64_t h = net_endpoint_hash(lo) ^ (net_endpoint_hash(hi) * 0x9e3779b97f4a7c15ULL);
    flow_slot_t *s = &c->slots[hash_mix(h) & c->mask];
    if (!s->used || !net_endpoint_eq(&s->a, lo) || !net_endpoint_eq(&s->b, hi)) {
        /* Direct-mapped: a colliding newcomer replaces the old flow. Bounded memory matters
         * more than remembering every short-lived flow; the evicted flow is simply
         * re-inspected if it comes back. */
        if (s->used) {
            c->stats.flows_evicted++;
            if (s->inspected < INSPECT_PACKETS && s->verdict == CLASSIFY_UNKNOWN)
                c->stats.flows_classified[CLASSIFY_UNKNOWN]++;
        }
        if (s->flow == NULL && (s->flow = calloc(1, SIZEOF_FLOW_STRUCT)) == NULL)
            return CLASSIFY_UNKNOWN;
        else if (s->used)
            ndpi_free_flow_data(s->flow); /* what nDPI allocated inside the old flow */
        memset(s->flow, 0, SIZEOF_FLOW_STRUCT);
        s->a = *lo;
        s->b = *hi;
        s->used = true;
        s->inspected = 0;
        s->verdict = CLASSIFY_UNKNOWN;
    }
    if (s->verdict != CLASSIFY_UNKNOWN || s->inspected >= INSPECT_PACKETS || l3 == NULL ||
        l3_len == 0 || l3_len > 65535)
        return s->verdict;
    s->inspected++;
    c->stats.packets_inspected++;
    ndpi_protocol proto = ndpi_detection_process_packet(
        c->ndpi, s->flow, l3, (unsigned short)l3_len, (uint64_t)(ts_ns / 1000000));
    s->verdict = verdict_of(proto);
    if (s->verdict != CLASSIFY_UNKNOWN)
        c->stats.flows_classified[s->verdict]++;
    else if (s->inspected == INSPECT_PACKETS)
        c->stats.flows_classified[CLASSIFY_UNKNOWN]++;
    return s->verdict;
}

const char *classify_verdict_name(classify_verdict_t v)
{
    static const char *const names[CLASSIFY_COUNT] = {"unknown", "sip", "rtp", "rtcp", "other"};
    return (unsigned)v < CLASSIFY_COUNT ? names[v] : "unknown";
}

const classify_stats_t *classify_stats(const classify_t *c)
{
    return &c->stats;
}
