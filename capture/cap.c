/* cap: the capture pipeline: configuration, the per-frame entry point, expiry and the sink. */
#include "cap.h"

#include <stdlib.h>
#include <string.h>

#include "cap_int.h"

void cap_cfg_init(cap_cfg_t *cfg)
{
    cfg->frag_max_bytes = 4u << 20;
    cfg->frag_timeout_ms = 30000;
    cfg->tcp_max_flows = 16384;
    cfg->tcp_max_buffer = 256u << 10;
    cfg->tcp_timeout_ms = 300000;
    cfg->stop = NULL;
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

void cap_process_frame_hinted(cap_t *cap, int dlt, int64_t ts_ns, const uint8_t *frame,
                              uint32_t caplen, uint32_t wirelen, uint64_t hint)
{
    if (frame == NULL)
        caplen = 0;
    cap_decode_t fr;
    cap_frame_begin(cap, &fr, dlt, ts_ns, frame, caplen, wirelen, hint);
    cap_link(cap, &fr, dlt, frame, caplen);
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
    cap_process_ring_frame(cap, &f->info, f->data);
}
