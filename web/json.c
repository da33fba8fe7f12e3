/* json: JSON conversion of call and stream records, one shape for the report and the API. */
#include "json.h"

#include <stdio.h>

double api_time(int64_t ns)
{
    /* Round to whole microseconds: the contract's precision. */
    int64_t us = ns >= 0 ? (ns + 500) / 1000 : (ns - 500) / 1000;
    return (double)us / 1e6;
}

json_t *api_time_json(int64_t ns)
{
    return ns > 0 ? json_real(api_time(ns)) : json_null();
}

json_t *api_endpoint_json(const net_endpoint_t *e)
{
    if (e->addr.family == 0)
        return json_null();
    char buf[NET_ENDPOINT_STRLEN];
    return json_string(net_endpoint_str(e, buf, sizeof(buf)));
}

static json_t *string_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

/* Round to 3 decimals, as tshark prints, so reports diff cleanly. */
static json_t *ms_json(double v)
{
    return json_real((double)(int64_t)(v * 1000.0 + (v >= 0 ? 0.5 : -0.5)) / 1000.0);
}

json_t *api_call_json(const call_record_t *c)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "call_id", string_or_null(c->call_id));
    json_object_set_new(o, "from", string_or_null(c->from_uri));
    json_object_set_new(o, "to", string_or_null(c->to_uri));
    json_object_set_new(o, "caller", api_endpoint_json(&c->caller));
    json_object_set_new(o, "callee", api_endpoint_json(&c->callee));
    json_object_set_new(o, "state", json_string(call_state_name(c->state)));
    json_object_set_new(o, "final_status",
                        c->final_status ? json_integer(c->final_status) : json_null());
    json_object_set_new(o, "invite_time", api_time_json(c->invite_ns));
    json_object_set_new(o, "ringing_time", api_time_json(c->ringing_ns));
    json_object_set_new(o, "answer_time", api_time_json(c->answer_ns));
    json_object_set_new(o, "end_time", api_time_json(c->end_ns));
    json_object_set_new(o, "post_dial_delay_ms",
                        c->post_dial_delay_ns >= 0 ? ms_json((double)c->post_dial_delay_ns / 1e6)
                                                   : json_null());
    json_object_set_new(o, "duration_s",
                        c->duration_ns >= 0 ? json_real(api_time(c->duration_ns)) : json_null());
    json_object_set_new(o, "one_way", json_boolean(c->one_way));
    json_object_set_new(o, "nat", json_boolean(c->nat));
    json_object_set_new(o, "sip_messages", json_integer(c->sip_messages));
    json_object_set_new(o, "mos", c->mos > 0 ? json_real(c->mos) : json_null());
    return o;
}

json_t *api_stream_json(const stream_record_t *s)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    char ssrc[16];
    snprintf(ssrc, sizeof(ssrc), "0x%08x", s->ssrc);
    json_object_set_new(o, "call_id", string_or_null(s->call_id));
    json_object_set_new(o, "src", api_endpoint_json(&s->src));
    json_object_set_new(o, "dst", api_endpoint_json(&s->dst));
    json_object_set_new(o, "ssrc", json_string(ssrc));
    json_object_set_new(o, "payload_type", json_integer(s->payload_type));
    json_object_set_new(o, "codec", json_string(s->codec ? s->codec : ""));
    json_object_set_new(o, "clock_rate", json_integer(s->clock_rate));
    json_object_set_new(o, "first_time", api_time_json(s->first_ns));
    json_object_set_new(o, "last_time", api_time_json(s->last_ns));
    json_object_set_new(o, "packets", json_integer((json_int_t)s->packets));
    json_object_set_new(o, "lost", json_integer(s->lost));
    json_object_set_new(o, "duplicates", json_integer((json_int_t)s->duplicates));
    json_object_set_new(o, "out_of_order", json_integer((json_int_t)s->out_of_order));
    json_object_set_new(o, "seq_errors", json_integer((json_int_t)s->seq_errors));
    json_object_set_new(o, "max_delta_ms", ms_json(s->max_delta_ms));
    json_object_set_new(o, "mean_jitter_ms", ms_json(s->mean_jitter_ms));
    json_object_set_new(o, "max_jitter_ms", ms_json(s->max_jitter_ms));
    json_object_set_new(o, "mos", json_real((double)(int64_t)(s->mos * 100 + 0.5) / 100.0));
    json_object_set_new(o, "sdp_mismatch", json_boolean(s->sdp_mismatch));
    if (s->have_rtcp) {
        json_t *r = json_object();
        json_object_set_new(r, "fraction_lost", json_real(s->rtcp_fraction_lost));
        json_object_set_new(r, "cumulative_lost", json_integer(s->rtcp_cumulative_lost));
        json_object_set_new(r, "jitter_ms", ms_json(s->rtcp_jitter_ms));
        json_object_set_new(r, "rtt_ms",
                            s->rtcp_rtt_ms >= 0 ? ms_json(s->rtcp_rtt_ms) : json_null());
        json_object_set_new(o, "rtcp", r);
    }
    return o;
}

json_t *api_alert_json(const alert_record_t *a)
{
    json_t *o = json_object();
    json_t *ind = json_array();
    json_t *ids = json_array();
    if (o == NULL || ind == NULL || ids == NULL) {
        json_decref(o);
        json_decref(ind);
        json_decref(ids);
        return NULL;
    }
    for (int d = 0; d < ALERT_DET_COUNT; d++) {
        if (a->indicators & (1u << d))
            json_array_append_new(ind, json_string(alert_detector_name((alert_detector_t)d)));
    }
    for (uint32_t i = 0; i < a->n_samples && i < ALERT_MAX_SAMPLES; i++) {
        if (a->sample_ids[i] > 0)
            json_array_append_new(ids, json_integer(a->sample_ids[i]));
    }
    char src[NET_ADDR_STRLEN];
    json_object_set_new(o, "id", json_integer(a->id));
    json_object_set_new(o, "type", json_string(alert_type_name(a->type)));
    json_object_set_new(o, "indicators", ind);
    json_object_set_new(o, "source",
                        a->source.family ? json_string(net_addr_str(&a->source, src, sizeof(src)))
                                         : json_null());
    json_object_set_new(o, "target", string_or_null(a->target));
    json_object_set_new(o, "user_agent", string_or_null(a->user_agent));
    json_object_set_new(o, "open", json_boolean(a->open));
    json_object_set_new(o, "count", json_integer((json_int_t)a->count));
    json_object_set_new(o, "registers", json_integer(a->registers));
    json_object_set_new(o, "invites", json_integer(a->invites));
    json_object_set_new(o, "options", json_integer(a->options));
    json_object_set_new(o, "r2xx", json_integer(a->r2xx));
    json_object_set_new(o, "r401", json_integer(a->r401));
    json_object_set_new(o, "r403", json_integer(a->r403));
    json_object_set_new(o, "r404", json_integer(a->r404));
    json_object_set_new(o, "distinct_users", json_integer(a->distinct_users));
    json_object_set_new(o, "distinct_targets", json_integer(a->distinct_targets));
    json_object_set_new(o, "distinct_sources", json_integer(a->distinct_sources));
    json_object_set_new(o, "first_time", api_time_json(a->first_ns));
    json_object_set_new(o, "last_time", api_time_json(a->last_ns));
    json_object_set_new(o, "sample_message_ids", ids);
    return o;
}

json_t *api_registration_json(const registration_record_t *r)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "id", json_integer(r->id));
    json_object_set_new(o, "aor", string_or_null(r->aor));
    json_object_set_new(o, "user", string_or_null(r->aor_user));
    json_object_set_new(o, "contact", string_or_null(r->contact));
    json_object_set_new(o, "user_agent", string_or_null(r->user_agent));
    json_object_set_new(o, "source", api_endpoint_json(&r->source));
    json_object_set_new(o, "expires", json_integer(r->expires));
    json_object_set_new(o, "expires_time", api_time_json(r->expires_ns));
    json_object_set_new(o, "last_status",
                        r->last_status ? json_integer(r->last_status) : json_null());
    json_object_set_new(o, "outcome", json_string(registration_outcome(r->last_status)));
    json_object_set_new(o, "active", json_boolean(r->active));
    json_object_set_new(o, "attempts", json_integer(r->attempts));
    json_object_set_new(o, "challenges", json_integer(r->challenges));
    json_object_set_new(o, "failures", json_integer(r->failures));
    json_object_set_new(o, "first_time", api_time_json(r->first_ns));
    json_object_set_new(o, "last_time", api_time_json(r->last_ns));
    return o;
}
