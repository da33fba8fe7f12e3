/* cap: the capture pipeline: configuration, the per-frame entry point, expiry and the sink. */
#include "cap.h"

#include <stdlib.h>
#include <string.h>

#include "cap_int.h"

/* cap_expire runs when capture time has advanced this much since the last run. */
#define EXPIRE_EVERY_NS 1000000000LL

void cap_cfg_init(cap_cfg_t *cfg)
{
    cfg->frag_max_bytes = 4u << 20;
    cfg->frag_timeout_ms = 30000;
    cfg->tcp_max_flows = 16384;
    cfg->tcp_max_buffer = 256u << 10;
    cfg->tcp_timeout_ms = 300000;
}

cap_t *cap_new(const cap_cfg_t *cfg, cap_sink_fn sink, void *ctx)
{
    cap_t *cap = calloc(1, sizeof(*cap));
    if (cap == NULL)
        return NULL;
    if (cfg != NULL)
        cap->cfg = *cfg;
    else
        cap_cfg_init(&cap->cfg);
    cap->sink = sink;
    cap->ctx = ctx;
    cap->frag = ipfrag_new(cap->cfg.frag_max_bytes, cap->cfg.frag_timeout_ms, &cap->stats);
    cap->tcp = tcpreasm_new(cap->cfg.tcp_max_flows, cap->cfg.tcp_max_buffer,
                            cap->cfg.tcp_timeout_ms, &cap->stats);
    if (cap->frag == NULL || cap->tcp == NULL) {
        cap_free(cap);
        return NULL;
    }
    return cap;
}

void cap_free(cap_t *cap)
{
    if (cap == NULL)
        return;
    ipfrag_free(cap->frag);
    tcpreasm_free(cap->tcp);
    for (int i = 0; i <= CAP_MAX_DEPTH; i++)
        free(cap->dgram[i]);
    free(cap);
}

void cap_process_frame(cap_t *cap, int dlt, int64_t ts_ns, const uint8_t *frame, uint32_t caplen,
                       uint32_t wirelen)
{
    cap_process_frame_hinted(cap, dlt, ts_ns, frame, caplen, wirelen, 0);
}

/* What every frame does first: count it, run expiry, and start its packet view. */
static inline void frame_begin(cap_t *cap, cap_decode_t *fr, int dlt, int64_t ts_ns,
                               const uint8_t *frame, uint32_t caplen, uint32_t wirelen,
                               uint64_t hint)
{
    cap->stats.frames++;
    cap->stats.bytes += wirelen;
    /* Expiry follows capture time, not the wall clock, so a file replays the same way at any
     * speed. A clock that jumps back (merged files) rearms at the new time. */
    if (!cap->expire_armed || ts_ns >= cap->next_expire_ns ||
        (uint64_t)cap->next_expire_ns - (uint64_t)ts_ns > 2 * EXPIRE_EVERY_NS) {
        cap_expire(cap, ts_ns);
        cap->expire_armed = true;
        cap->next_expire_ns =
            ts_ns > INT64_MAX - EXPIRE_EVERY_NS ? INT64_MAX : ts_ns + EXPIRE_EVERY_NS;
    }
    fr->pkt.ts_ns = ts_ns;
    fr->pkt.vlan = 0;
    fr->pkt.frame = frame;
    fr->pkt.frame_caplen = caplen;
    fr->pkt.frame_len = wirelen;
    fr->pkt.frame_dlt = dlt;
    fr->pkt.hint = hint;
    fr->have_vlan = false;
    fr->tunneled = false;
    fr->depth = 0;
}

void cap_process_frame_hinted(cap_t *cap, int dlt, int64_t ts_ns, const uint8_t *frame,
                              uint32_t caplen, uint32_t wirelen, uint64_t hint)
{
    if (frame == NULL)
        caplen = 0;
    cap_decode_t fr;
    frame_begin(cap, &fr, dlt, ts_ns, frame, caplen, wirelen, hint);
    cap_link(cap, &fr, dlt, frame, caplen);
}

static inline uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

void cap_process_ring_frame(cap_t *cap, const cap_ring_hdr_t *hdr, const uint8_t *frame)
{
    /* The producer checked every length of a peeked frame (cap_peek_udp) on these same bytes:
     * here the headers are only read. VXLAN's port is left to the full decoding. */
    const uint8_t *l3 = NULL, *udp = NULL;
    bool v4 = false;
    if (hdr->peeked) {
        l3 = frame + hdr->l3_off;
        v4 = (l3[0] >> 4) == 4;
        udp = v4 ? l3 + (size_t)(l3[0] & 0x0f) * 4 : l3 + 40;
    }
    if (udp == NULL || be16(udp + 2) == CAP_VXLAN_PORT) {
        cap_process_frame_hinted(cap, hdr->dlt, hdr->ts_ns, frame, hdr->caplen, hdr->wirelen,
                                 hdr->hint);
        return;
    }
    uint16_t dport = be16(udp + 2);
    cap_decode_t fr;
    frame_begin(cap, &fr, hdr->dlt, hdr->ts_ns, frame, hdr->caplen, hdr->wirelen, hdr->hint);
    cap_packet_t *pkt = &fr.pkt;
    pkt->vlan = hdr->vlan;
    pkt->l3 = l3;
    if (v4) {
        memset(&pkt->src.addr, 0, sizeof(pkt->src.addr));
        memset(&pkt->dst.addr, 0, sizeof(pkt->dst.addr));
        pkt->src.addr.family = pkt->dst.addr.family = 4;
        memcpy(pkt->src.addr.bytes, l3 + 12, 4);
        memcpy(pkt->dst.addr.bytes, l3 + 16, 4);
        pkt->l3_len = be16(l3 + 2);
    } else {
        pkt->src.addr.family = pkt->dst.addr.family = 6;
        memcpy(pkt->src.addr.bytes, l3 + 8, 16);
        memcpy(pkt->dst.addr.bytes, l3 + 24, 16);
        pkt->l3_len = 40 + (size_t)be16(l3 + 4);
    }
    cap->stats.udp_packets++;
    cap_deliver(cap, &fr, CAP_PROTO_UDP, be16(udp), dport, udp + 8, be16(udp + 4) - 8u, false);
}

void cap_expire(cap_t *cap, int64_t now_ns)
{
    ipfrag_expire(cap->frag, now_ns);
    tcpreasm_expire(cap->tcp, now_ns);
}

void cap_flush(cap_t *cap)
{
    ipfrag_reset(cap->frag);
    tcpreasm_reset(cap->tcp);
    cap->expire_armed = false;
}

const cap_stats_t *cap_stats(const cap_t *cap)
{
    return &cap->stats;
}

void cap_set_lookahead(cap_t *cap, cap_hint_fn hint, cap_prefetch_fn prefetch, void *ctx)
{
    cap->hint = hint;
    cap->prefetch = prefetch;
    cap->hint_ctx = ctx;
}

void cap_process_frame_peeked(cap_t *cap, const cap_frame_t *f)
{
    cap_ring_hdr_t hdr = {f->ts_ns, f->caplen, f->wirelen, f->hint, f->dlt, f->vlan, f->l3_off,
                          (uint8_t)f->peeked};
    cap_process_ring_frame(cap, &hdr, f->data);
}
