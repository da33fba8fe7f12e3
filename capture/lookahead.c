/* lookahead: hints computed where frames are copied in, prefetches issued where they are
 * decoded (cap_set_lookahead; used by the read-ahead and live-capture rings). */
#include "cap_int.h"

#include <string.h>

void cap_ring_peek(cap_hint_fn hint, void *ctx, cap_ring_hdr_t *hdr, const uint8_t *frame)
{
    packet_view_t peek;
    hdr->hint = 0;
    hdr->vlan = 0;
    hdr->l3_off = 0;
    hdr->peeked = false;
    if (hint == NULL || !cap_peek_udp(hdr->dlt, frame, hdr->caplen, &peek))
        return;
    peek.ts_ns = hdr->ts_ns;
    hdr->hint = hint(ctx, &peek);
    hdr->vlan = peek.vlan;
    hdr->l3_off = (uint8_t)(peek.l3 - frame);
    hdr->peeked = true;
}

void cap_lookahead_init(cap_lookahead_t *la, size_t pos)
{
    memset(la, 0, sizeof(*la));
    la->pos = pos;
}

const cap_ring_hdr_t *cap_lookahead_next(cap_lookahead_t *la, const uint8_t *ring,
                                         size_t ring_bytes, size_t end, cap_prefetch_fn prefetch,
                                         void *ctx, size_t *pos)
{
    cap_ring_hdr_t h;
    while (la->queued - la->taken < CAP_LOOKAHEAD_FAR &&
           cap_ring_at(ring, ring_bytes, &la->pos, end, &h)) {
        unsigned slot = (unsigned)(la->queued % CAP_LOOKAHEAD_QUEUE);
        la->q[slot].hdr = h;
        la->q[slot].pos = la->pos;
        la->pos += cap_ring_len(&h);
        la->queued++;
        if (prefetch != NULL && h.hint != 0)
            prefetch(ctx, h.hint, 0);
    }
    if (la->taken == la->queued)
        return NULL;
    uint64_t near_end = la->taken + CAP_LOOKAHEAD_NEAR + 1;
    if (near_end > la->queued)
        near_end = la->queued;
    if (prefetch != NULL) {
        for (; la->near < near_end; la->near++) {
            uint64_t hint = la->q[la->near % CAP_LOOKAHEAD_QUEUE].hdr.hint;
            if (hint != 0)
                prefetch(ctx, hint, 1);
        }
    }
    unsigned slot = (unsigned)(la->taken % CAP_LOOKAHEAD_QUEUE);
    *pos = la->q[slot].pos;
    la->taken++;
    return &la->q[slot].hdr;
}
