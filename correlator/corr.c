/* corr: the correlator's table: configuration, lifetime, row ids, timeouts, flush and counters.
 * SIP into calls is in corr_call.c, RTP/RTCP into streams in corr_stream.c. */
#include "corr.h"

#include <stdlib.h>
#include <string.h>

#include "corr_int.h"

/* ------------------------------------------------------------------ config and lifetime */

void corr_cfg_init(corr_cfg_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_calls = 65536;
    cfg->max_streams = 131072;
    /* An unanswered INVITE lives at most ~3.5 min (Timer C is 3 min, plus retransmissions);
     * 5 minutes of silence means we missed the final response. */
    cfg->setup_timeout_s = 300;
    /* An answered call without any SIP or media for an hour: its BYE was lost (or its media is
     * not in the capture and it has no session timer: RFC 4028 refreshes are at most every
     * ~30 min by default, so live calls with timers are refreshed well within this). */
    cfg->call_idle_timeout_s = 3600;
    /* After BYE or a final failure: long enough for retransmissions of the 200/ACK (Timer J is
     * 32 s for non-INVITE but they stop as soon as answered, usually within a second) and for
     * RTP still in flight to be counted into the call's streams. */
    cfg->linger_s = 5;
    cfg->stream_idle_timeout_s = 60;
    cfg->sample_interval_s = 5;
}

corr_t *corr_new(const corr_cfg_t *cfg, const corr_sink_t *sink)
{
    corr_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    corr_cfg_init(&c->cfg);
    if (cfg != NULL) {
        c->cfg = *cfg;
        if (c->cfg.max_calls == 0)
            c->cfg.max_calls = 65536;
        if (c->cfg.max_streams == 0)
            c->cfg.max_streams = 131072;
    }
    if (sink != NULL)
        c->sink = *sink;
    c->next_id = 1;
    /* The hash seed varies with the address of c (ASLR), so Call-IDs crafted to collide on one
     * run do not collide on the next; chain caps bound the damage either way. */
    c->seed = hash_mix((uint64_t)(uintptr_t)c ^ 0x5eed5c09eULL);
    size_t nb = media_pow2(c->cfg.max_calls);
    c->buckets = calloc(nb, sizeof(*c->buckets));
    c->mask = nb - 1;
    media_pool_init(&c->calls, sizeof(call_t), c->cfg.max_calls);
    media_pool_init(&c->streams, sizeof(stream_t), c->cfg.max_streams);
    /* Each entry of the index is held by exactly one call, in that call's ring of CALL_MAX_EPS
     * handles, so max_calls * CALL_MAX_EPS entries can never run out; the entries array grows
     * on demand, the buckets are sized for ~4 endpoints per call. */
    c->idx = media_idx_new(c->cfg.max_calls * CALL_MAX_EPS, c->cfg.max_calls * 4, c->seed ^ 0x1d);
    int frc = media_flows_init(&c->flows, c->cfg.max_streams, c->seed ^ 0xf1);
    if (c->buckets == NULL || c->idx == NULL || frc != 0) {
        corr_free(c);
        return NULL;
    }
    return c;
}

void corr_free(corr_t *c)
{
    if (c == NULL)
        return;
    media_pool_reset(&c->calls);
    media_pool_reset(&c->streams);
    media_idx_free(c->idx);
    media_flows_reset(&c->flows);
    free(c->buckets);
    free(c);
}

void corr_set_first_id(corr_t *c, int64_t first_id)
{
    if (first_id > 0)
        c->next_id = first_id;
}

void corr_set_first_message_id(corr_t *c, int64_t first_id)
{
    c->next_message_id = first_id > 0 ? first_id : 0;
}

int64_t corr_last_message_id(const corr_t *c)
{
    return c->last_message_id;
}

const corr_stats_t *corr_stats(const corr_t *c)
{
    return &c->stats;
}

/* ------------------------------------------------------------------ time */

static void expire_calls(corr_t *c, int q, uint32_t timeout_s, fin_t why, int64_t now)
{
    int64_t t = (int64_t)timeout_s * NS_PER_S;
    while (c->q[q].head != NULL) {
        call_t *call = CONTAINER_OF(c->q[q].head, call_t, qnode);
        if (call->queued_ns + t > now)
            break;
        int64_t active = call_active_ns(call);
        if (active + t > now) {
            /* Media moved it on since it was queued: back to the tail, in order enough (it
             * was active within the last timeout, like everything behind it). */
            list_remove(&c->q[q], &call->qnode);
            call->queued_ns = active;
            list_push_tail(&c->q[q], &call->qnode);
            continue;
        }
        if (q == Q_ENDED && !call->report_waited && corr_remote_pending(call)) {
            /* Probes' final reports of its streams are still to come: wait once more. */
            call->report_waited = true;
            list_remove(&c->q[q], &call->qnode);
            call->queued_ns += (int64_t)REMOTE_FINAL_WAIT_S * NS_PER_S;
            list_push_tail(&c->q[q], &call->qnode);
            continue;
        }
        corr_call_finish(c, call, why);
    }
}

static void expire_streams(corr_t *c, int64_t now)
{
    int64_t t = (int64_t)c->cfg.stream_idle_timeout_s * NS_PER_S;
    while (c->stream_q.head != NULL) {
        stream_t *s = CONTAINER_OF(c->stream_q.head, stream_t, qnode);
        if (s->queued_ns + t > now)
            break;
        if (s->last_ns + t > now) {
            list_remove(&c->stream_q, &s->qnode);
            s->queued_ns = s->last_ns;
            list_push_tail(&c->stream_q, &s->qnode);
            continue;
        }
        corr_stream_finish(c, s, FIN_TIMEOUT);
    }
}

void corr_tick(corr_t *c, int64_t now_ns)
{
    advance(c, now_ns);
    int64_t now = c->now_ns;
    expire_calls(c, Q_EARLY, c->cfg.setup_timeout_s, FIN_TIMEOUT, now);
    expire_calls(c, Q_CONFIRMED, c->cfg.call_idle_timeout_s, FIN_TIMEOUT, now);
    expire_calls(c, Q_ENDED, c->cfg.linger_s, FIN_ENDED, now);
    expire_streams(c, now);
}

void corr_flush(corr_t *c)
{
    for (int q = Q_ENDED; q >= Q_EARLY; q--) {
        while (c->q[q].head != NULL)
            corr_call_finish(c, CONTAINER_OF(c->q[q].head, call_t, qnode), FIN_FLUSH);
    }
    while (c->stream_q.head != NULL)
        corr_stream_finish(c, CONTAINER_OF(c->stream_q.head, stream_t, qnode), FIN_FLUSH);
}
