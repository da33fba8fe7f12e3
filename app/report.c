/* report: JSON report of analyze --json, built with jansson one record at a time. */
#include "report.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct report {
    FILE *calls;      /* spooled ",\n"-joined JSON objects */
    FILE *streams;
    unsigned long n_calls, n_streams;
    int error;
};

double report_time(int64_t ns)
{
    /* Round to whole microseconds: the contract's precision. */
    int64_t us = ns >= 0 ? (ns + 500) / 1000 : (ns - 500) / 1000;
    return (double)us / 1e6;
}

static json_t *time_or_null(int64_t ns)
{
    return ns > 0 ? json_real(report_time(ns)) : json_null();
}

static json_t *endpoint_json(const net_endpoint_t *e)
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

static json_t *call_json(const call_record_t *c)
{
    json_t *o = json_object();
    json_object_set_new(o, "call_id", string_or_null(c->call_id));
    json_object_set_new(o, "from", string_or_null(c->from_uri));
    json_object_set_new(o, "to", string_or_null(c->to_uri));
    json_object_set_new(o, "caller", endpoint_json(&c->caller));
    json_object_set_new(o, "callee", endpoint_json(&c->callee));
    json_object_set_new(o, "state", json_string(call_state_name(c->state)));
    json_object_set_new(o, "final_status", c->final_status ? json_integer(c->final_status)
                                                           : json_null());
    json_object_set_new(o, "invite_time", time_or_null(c->invite_ns));
    json_object_set_new(o, "ringing_time", time_or_null(c->ringing_ns));
    json_object_set_new(o, "answer_time", time_or_null(c->answer_ns));
    json_object_set_new(o, "end_time", time_or_null(c->end_ns));
    json_object_set_new(o, "post_dial_delay_ms",
                        c->post_dial_delay_ns >= 0 ? ms_json((double)c->post_dial_delay_ns / 1e6)
                                                   : json_null());
    json_object_set_new(o, "duration_s",
                        c->duration_ns >= 0 ? json_real(report_time(c->duration_ns))
                                            : json_null());
    json_object_set_new(o, "one_way", json_boolean(c->one_way));
    json_object_set_new(o, "nat", json_boolean(c->nat));
    json_object_set_new(o, "sip_messages", json_integer(c->sip_messages));
    json_object_set_new(o, "mos", c->mos > 0 ? json_real(c->mos) : json_null());
    return o;
}

static json_t *stream_json(const stream_record_t *s)
{
    json_t *o = json_object();
    char ssrc[16];
    snprintf(ssrc, sizeof(ssrc), "0x%08x", s->ssrc);
    json_object_set_new(o, "call_id", string_or_null(s->call_id));
    json_object_set_new(o, "src", endpoint_json(&s->src));
    json_object_set_new(o, "dst", endpoint_json(&s->dst));
    json_object_set_new(o, "ssrc", json_string(ssrc));
    json_object_set_new(o, "payload_type", json_integer(s->payload_type));
    json_object_set_new(o, "codec", json_string(s->codec ? s->codec : ""));
    json_object_set_new(o, "clock_rate", json_integer(s->clock_rate));
    json_object_set_new(o, "first_time", time_or_null(s->first_ns));
    json_object_set_new(o, "last_time", time_or_null(s->last_ns));
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
        json_object_set_new(r, "rtt_ms", s->rtcp_rtt_ms >= 0 ? ms_json(s->rtcp_rtt_ms)
                                                             : json_null());
        json_object_set_new(o, "rtcp", r);
    }
    return o;
}

report_t *report_new(void)
{
    report_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->calls = tmpfile();
    r->streams = tmpfile();
    if (r->calls == NULL || r->streams == NULL) {
        report_free(r);
        return NULL;
    }
    return r;
}

void report_free(report_t *r)
{
    if (r == NULL)
        return;
    if (r->calls)
        fclose(r->calls);
    if (r->streams)
        fclose(r->streams);
    free(r);
}

static void spool(report_t *r, FILE *f, unsigned long *count, json_t *o)
{
    if (o == NULL) {
        r->error = -ENOMEM;
        return;
    }
    if (*count > 0)
        fputs(",\n", f);
    if (json_dumpf(o, f, JSON_COMPACT | JSON_REAL_PRECISION(16)) != 0)
        r->error = -EIO;
    (*count)++;
    json_decref(o);
}

void report_add_call(report_t *r, const call_record_t *call)
{
    spool(r, r->calls, &r->n_calls, call_json(call));
}

void report_add_stream(report_t *r, const stream_record_t *stream)
{
    spool(r, r->streams, &r->n_streams, stream_json(stream));
}

static int copy_spool(FILE *from, FILE *to)
{
    char buf[65536];
    size_t n;
    rewind(from);
    while ((n = fread(buf, 1, sizeof(buf), from)) > 0) {
        if (fwrite(buf, 1, n, to) != n)
            return -EIO;
    }
    return ferror(from) ? -EIO : 0;
}

int report_write(report_t *r, const pipeline_totals_t *t, FILE *out)
{
    if (r->error != 0)
        return r->error;
    fprintf(out,
            "{\"packets\": %llu, \"bytes\": %llu, \"sip_messages\": %llu, \"rtp_packets\": %llu, "
            "\"rtcp_packets\": %llu, \"malformed\": %llu,\n\"calls\": [\n",
            (unsigned long long)t->packets, (unsigned long long)t->bytes,
            (unsigned long long)t->sip_messages, (unsigned long long)t->rtp_packets,
            (unsigned long long)t->rtcp_packets, (unsigned long long)t->malformed);
    int rc = copy_spool(r->calls, out);
    fputs("\n],\n\"streams\": [\n", out);
    if (rc == 0)
        rc = copy_spool(r->streams, out);
    fputs("\n],\n\"alerts\": []\n}\n", out);
    if (fflush(out) != 0 || ferror(out))
        rc = -EIO;
    return rc;
}
