/* lookahead: hints computed where frames are copied in, prefetches issued where they are
 * decoded (cap_set_lookahead; used by the read-ahead and live-capture rings). */
#include "cap_int.h"

uint64_t cap_ring_hint(cap_hint_fn hint, void *ctx, int dlt, const uint8_t *frame, size_t caplen,
                       int64_t ts_ns)
{
    cap_packet_t peek;
    if (hint == NULL || !cap_peek_udp(dlt, frame, caplen, &peek))
        return 0;
    peek.ts_ns = ts_ns;
    return hint(ctx, &peek);
}

void cap_lookahead_run(cap_lookahead_t *la, const uint8_t *ring, size_t ring_bytes, size_t pos,
                       size_t end, cap_prefetch_fn prefetch, void *ctx)
{
    static const unsigned want[2] = {CAP_LOOKAHEAD_FAR, CAP_LOOKAHEAD_NEAR};
    for (int s = 0; s < 2; s++) {
        size_t *at = &la->stage[s].pos;
        unsigned *ahead = &la->stage[s].ahead;
        if (*at < pos) { /* behind the decoding (a fresh start): catch up */
            *at = pos;
            *ahead = 0;
        }
        cap_ring_hdr_t h;
        while (*ahead < want[s] && cap_ring_at(ring, ring_bytes, at, end, &h)) {
            *at += h.len;
            (*ahead)++;
            if (h.hint != 0)
                prefetch(ctx, h.hint, s);
        }
    }
}

void cap_lookahead_consumed(cap_lookahead_t *la)
{
    for (int s = 0; s < 2; s++)
        if (la->stage[s].ahead > 0)
            la->stage[s].ahead--;
}
