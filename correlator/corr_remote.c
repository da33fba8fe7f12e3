/* corr_remote: streams measured elsewhere. A probe's quality report (HEP type 34, run --hep-in)
 * becomes a stream of the live call with its Call-ID; later reports of the same stream update
 * it in place; it is emitted with its call like a stream measured here. Remote streams live
 * only in their call's list (not in the flow table, nor in the idle queue): their call bounds
 * their life, CALL_MAX_REMOTE their number per call, max_streams their total. */
#include "corr.h"

#include <string.h>

#include "corr_int.h"

/* The call's remote stream with rep's source, destination and SSRC (from any probe), or NULL;
 * *count: the call's remote streams. */
static stream_t *remote_find(call_t *call, const media_flow_t *key, int *count)
{
    *count = 0;
    for (stream_t *s = call->streams; s != NULL; s = s->call_next) {
        if (!s->remote)
            continue;
        (*count)++;
        if (s->flow.key.ssrc == key->key.ssrc && media_key_eq(&s->flow.key.src, &key->key.src) &&
            media_key_eq(&s->flow.key.dst, &key->key.dst))
            return s;
    }
    return NULL;
}

/* The side that sends s: through the endpoints the call's SDP announced (its destination first,
 * as stream_match does), else what the probe said. */
static void remote_match(corr_t *c, call_t *call, stream_t *s, int party)
{
    net_endpoint_t src, dst;
    media_key_to(&s->flow.key.src, &src);
    media_key_to(&s->flow.key.dst, &dst);
    const media_ent_t *e = media_idx_find(c->idx, &dst);
    bool by_dst = e != NULL && e->owner == call;
    if (!by_dst) {
        e = media_idx_find(c->idx, &src);
        if (e != NULL && e->owner != call)
            e = NULL;
    }
    s->dir = (int8_t)(party == 0 || party == 1 ? party : -1);
    s->by_dst = by_dst;
    if (e == NULL)
        return;
    s->dir = (int8_t)(by_dst ? 1 - e->side : e->side);
    for (int i = 0; i < call->n_eps; i++) {
        if (media_idx_get(c->idx, call->eps[i]) == e)
            s->mline = call->eps_mline[i];
    }
}

static stream_t *remote_create(corr_t *c, call_t *call, const media_flow_t *key, uint32_t probe_id,
                               int party)
{
    stream_t *s = media_pool_get(&c->streams);
    if (s == NULL) {
        c->stats.streams_refused++;
        return NULL;
    }
    s->flow.key = key->key;
    s->remote = true;
    s->probe_id = probe_id;
    s->id = new_id(c);
    s->call = call;
    s->rtcp_rtt_ms = -1;
    s->nat_checked = true;
    rtpstat_init(&s->st, 0, ""); /* unused, but valid for anyone who reads it */
    remote_match(c, call, s, party);
    s->call_next = call->streams;
    call->streams = s;
    c->stats.streams_created++;
    c->stats.remote_streams++;
    c->stats.live_streams++;
    return s;
}

bool corr_remote_pending(const call_t *call)
{
    for (const stream_t *s = call->streams; s != NULL; s = s->call_next)
        if (s->remote && !s->rem_final)
            return true;
    return false;
}

/* Take rep's figures (cumulative: they replace the last report's). */
static void remote_update(stream_t *s, uint32_t probe_id, bool final, const stream_record_t *rep)
{
    s->rem_final = final;
    s->dirty = true; /* the next checkpoint's snapshot shows the new figures (corr_live.c) */
    s->probe_id = probe_id;
    s->pt = rep->payload_type;
    s->have_pt = true;
    s->clock = rep->clock_rate;
    sv_copy(sv_from_cstr(rep->codec != NULL ? rep->codec : ""), s->codec, sizeof(s->codec));
    if (rep->first_ns != 0 && (s->first_ns == 0 || rep->first_ns < s->first_ns))
        s->first_ns = rep->first_ns;
    if (rep->last_ns > s->last_ns)
        s->last_ns = rep->last_ns;
    s->sdp_mismatch = rep->sdp_mismatch;
    s->have_rtcp = rep->have_rtcp;
    s->rtcp_fraction = rep->rtcp_fraction_lost;
    s->rtcp_cum_lost = (int32_t)rep->rtcp_cumulative_lost;
    s->rtcp_jitter_ms = rep->rtcp_jitter_ms;
    s->rtcp_rtt_ms = rep->have_rtcp ? rep->rtcp_rtt_ms : -1;
    s->rem = (remote_fig_t){
        .packets = rep->packets,
        .duplicates = rep->duplicates,
        .out_of_order = rep->out_of_order,
        .seq_errors = rep->seq_errors,
        .lost = rep->lost,
        .max_delta_ms = rep->max_delta_ms,
        .mean_jitter_ms = rep->mean_jitter_ms,
        .max_jitter_ms = rep->max_jitter_ms,
        .mos = rep->mos,
    };
}

/* The remote stream of rep's source, destination and SSRC in the live call call_id: found, or
 * made (NULL when the call is not live or the stream cannot be made, counted); *found says
 * which. */
static stream_t *remote_stream(corr_t *c, sv_t call_id, const stream_record_t *rep,
                               uint32_t probe_id, int party, call_t **call, bool *found)
{
    c->stats.remote_reports++;
    *call = corr_call_lookup(c, call_id);
    if (*call == NULL) {
        c->stats.remote_orphans++;
        return NULL;
    }
    media_flow_t key;
    memset(&key, 0, sizeof(key));
    media_key_from(&key.key.src, &rep->src);
    media_key_from(&key.key.dst, &rep->dst);
    key.key.ssrc = rep->ssrc;
    int count;
    stream_t *s = remote_find(*call, &key, &count);
    *found = s != NULL;
    if (s != NULL)
        return s;
    if (count >= CALL_MAX_REMOTE) {
        c->stats.streams_refused++;
        return NULL;
    }
    return remote_create(c, *call, &key, probe_id, party);
}

call_ref_t corr_on_stream_report(corr_t *c, uint32_t probe_id, sv_t call_id, int party, bool final,
                                 const stream_record_t *rep)
{
    call_t *call;
    bool found;
    stream_t *s = remote_stream(c, call_id, rep, probe_id, party, &call, &found);
    if (s == NULL || (found && s->probe_id != probe_id && rep->packets < s->rem.packets))
        return ref_of(call); /* (or another probe saw more of it) */
    remote_update(s, probe_id, final, rep);
    return ref_of(call);
}

call_ref_t corr_on_stream_sample(corr_t *c, uint32_t probe_id, sv_t call_id,
                                 const stream_record_t *rep, const sample_record_t *sample)
{
    call_t *call;
    bool found;
    stream_t *s = remote_stream(c, call_id, rep, probe_id, -1, &call, &found);
    if (s == NULL || (found && s->probe_id != probe_id))
        return ref_of(call); /* the samples of the probe whose figures the stream has */
    if (s->rem_samples >= REMOTE_MAX_SAMPLES) {
        c->stats.remote_samples_refused++;
        return ref_of(call);
    }
    s->rem_samples++;
    sample_record_t rec = *sample;
    corr_stream_emit_sample_record(c, s, &rec);
    return ref_of(call);
}
