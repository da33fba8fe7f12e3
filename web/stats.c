/* stats: handlers of /api/v1/stats, /metrics (Prometheus text format) and /healthz. */
#include "api_int.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agg.h"
#include "defs.h"
#include "json.h"

#define MAX_BUCKETS  10000 /* an explicit step that makes more is refused */
#define AUTO_BUCKETS 360   /* the default step is the first nice one giving at most this many */

/* ---- /api/v1/stats */

/* Counters the capture pipeline published ("capture.kernel_drops", "corr.calls_evicted" ...),
 * as one JSON object for /api/v1/stats. */
static int put_counter(void *ctx, const char *key, int64_t value)
{
    if (strchr(key, '.') != NULL && strlen(key) <= 100)
        json_object_set_new((json_t *)ctx, key, json_integer(value));
    return 0;
}

static json_t *mean_json(double sum, int64_t n)
{
    return n > 0 ? json_real(sum / (double)n) : json_null();
}

static json_t *states_json(const int64_t by_state[CALL_STATE_COUNT])
{
    json_t *o = json_object();
    for (int i = 0; o != NULL && i < CALL_STATE_COUNT; i++)
        json_object_set_new(o, call_state_name((call_state_t)i), json_integer(by_state[i]));
    return o;
}

/* {"good": n, ...}: every verdict once the calls have them, else {}. */
static json_t *verdicts_json(const store_agg_totals_t *agg)
{
    json_t *o = json_object();
    for (int i = 0; o != NULL && agg->have_verdicts && i < STORE_AGG_VERDICTS; i++)
        json_object_set_new(o, store_agg_verdict_names[i], json_integer(agg->verdicts[i]));
    return o;
}

typedef struct {
    int64_t since_ns, step_ns;
    size_t n;
    store_bucket_t *buckets; /* dense: n steps from since_ns */
} series_t;

static int put_bucket(void *ctx, const store_bucket_t *b)
{
    series_t *s = ctx;
    int64_t i = (b->start_ns - s->since_ns) / s->step_ns;
    if (i >= 0 && (size_t)i < s->n)
        s->buckets[i] = *b;
    return 0;
}

static json_t *bucket_json(const store_bucket_t *b, int64_t start_ns)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "time", json_real(api_time(start_ns)));
    json_object_set_new(o, "calls", json_integer(b->calls));
    json_object_set_new(o, "answered", json_integer(b->answered));
    json_object_set_new(
        o, "asr", b->calls > 0 ? json_real((double)b->answered / (double)b->calls) : json_null());
    json_object_set_new(o, "acd_s", mean_json(b->duration_sum_s, b->with_duration));
    json_object_set_new(o, "mean_mos", mean_json(b->mos_sum, b->with_mos));
    json_object_set_new(o, "by_state", states_json(b->by_state));
    return o;
}

/* The first nice step giving at most AUTO_BUCKETS steps over span_ns. */
static int64_t auto_step(int64_t span_ns)
{
    static const int64_t steps_s[] = {60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400};
    for (size_t i = 0; i < ARRAY_LEN(steps_s); i++) {
        if (span_ns / (steps_s[i] * NS_PER_S) < AUTO_BUCKETS)
            return steps_s[i] * NS_PER_S;
    }
    return (span_ns / AUTO_BUCKETS / NS_PER_S + 1) * NS_PER_S;
}

static void stats_reply(api_req_t *req)
{
    int64_t since, until, step_s = 0;
    bool have_step;
    if (!api_param_range(req, &since, &until) ||
        !api_param_i64(req, "step", 1, 366 * 86400, &step_s, &have_step))
        return;
    store_t *s = api_store(req);
    if (s == NULL)
        return;
    /* Unbounded ends default to the stored calls' range, aligned to whole steps (so that the
     * steps of a dashboard fall on whole minutes, hours...). */
    int64_t first = 0, last = 0;
    int err = store_call_time_range(s, &first, &last);
    if (err != 0) {
        api_reply_store_error(req, err, "stats");
        return;
    }
    bool open_since = since == 0, open_until = until == 0;
    if (open_since)
        since = first;
    if (open_until)
        until = last > 0 ? last + 1 : 0;
    if (since == 0 && until != 0)
        since = until;
    if (until == 0 && since != 0)
        until = since;
    if (until < since) {
        api_reply_error(req, 400, "since is after the last call (give until too)");
        return;
    }
    int64_t step = have_step ? step_s * NS_PER_S : auto_step(until - since);
    if (open_since && since > 0)
        since -= since % step;
    if (open_until && until > 0 && until % step != 0)
        until += step - until % step;
    int64_t nbuckets = since > 0 ? (until - since + step - 1) / step : 0;
    if (nbuckets > MAX_BUCKETS) {
        api_reply_error(req, 400, "step: too small for the range (more than %d steps)",
                        MAX_BUCKETS);
        return;
    }

    /* Totals and series in one pass over the range: the per-minute aggregate, and the calls
     * themselves only at the edges of the steps that cut a minute (store/agg.h). */
    store_agg_totals_t agg = {0};
    store_call_stats_t st;
    series_t series = {.since_ns = since, .step_ns = step, .n = (size_t)nbuckets};
    if (series.n > 0) {
        series.buckets = calloc(series.n, sizeof(*series.buckets));
        err = series.buckets ? store_agg_series(s, since, until, step, &agg, put_bucket, &series)
                             : -ENOMEM;
        st = agg.calls;
    } else {
        err = store_call_stats(s, since, until, &st);
    }
    /* In progress now, whatever the range: a running capture's snapshots. */
    int64_t active = 0;
    if (err == 0)
        err = store_count_active_calls(s, &active);
    if (err != 0) {
        free(series.buckets);
        api_reply_store_error(req, err, "stats");
        return;
    }
    json_t *o = json_object();
    json_t *hist = json_array();
    json_t *ser = json_array();
    for (int i = 0; hist != NULL && i < STORE_MOS_BINS; i++)
        json_array_append_new(hist, json_pack("{s:f, s:f, s:I}", "from", 1.0 + 0.5 * i, "to",
                                              1.5 + 0.5 * i, "count", (json_int_t)st.mos_bins[i]));
    for (size_t i = 0; ser != NULL && i < series.n; i++)
        json_array_append_new(ser, bucket_json(&series.buckets[i], since + (int64_t)i * step));
    free(series.buckets);
    if (o == NULL || hist == NULL || ser == NULL) {
        json_decref(o);
        json_decref(hist);
        json_decref(ser);
        api_reply_json(req, 500, NULL);
        return;
    }
    json_object_set_new(o, "since", api_time_json(since));
    json_object_set_new(o, "until", api_time_json(until));
    json_object_set_new(o, "step", json_integer(step / NS_PER_S));
    json_object_set_new(o, "calls", json_integer(st.calls));
    json_object_set_new(o, "active_calls", json_integer(active));
    json_object_set_new(o, "answered", json_integer(st.answered));
    json_object_set_new(
        o, "asr", st.calls > 0 ? json_real((double)st.answered / (double)st.calls) : json_null());
    json_object_set_new(o, "acd_s", mean_json(st.duration_sum_s, st.with_duration));
    json_object_set_new(o, "mean_pdd_ms", mean_json(st.pdd_sum_ms, st.with_pdd));
    json_object_set_new(o, "mean_mos", mean_json(st.mos_sum, st.with_mos));
    json_object_set_new(o, "with_mos", json_integer(st.with_mos));
    json_object_set_new(o, "by_state", states_json(st.by_state));
    json_object_set_new(o, "one_way_calls", json_integer(agg.one_way));
    json_object_set_new(o, "nat_calls", json_integer(agg.nat));
    json_object_set_new(o, "verdicts", verdicts_json(&agg));
    json_object_set_new(o, "first_time", api_time_json(first));
    json_object_set_new(o, "last_time", api_time_json(last));
    json_object_set_new(o, "mos_histogram", hist);
    json_object_set_new(o, "series", ser);
    /* Drops (kernel, interface, sipscope's own queue), evictions and the like, kept apart from
     * network loss; empty until a capture has published them. */
    json_t *counters = json_object();
    if (counters != NULL && store_foreach_meta_i64(s, put_counter, counters) == 0)
        json_object_set_new(o, "counters", counters);
    else
        json_decref(counters);
    api_reply_json(req, 200, o);
}

/* Statistics computed at once, at most (the HTTP threads are 4 by default). A request beyond
 * that waits a moment for a slot (with the per-minute aggregate a statistic takes milliseconds,
 * so a dashboard's three requests plus a zoom's fit), then is answered 503 with Retry-After, so
 * that a crowd of dashboards cannot hold every thread and /healthz, the call list and the UI
 * stay fast. */
#define STATS_AT_ONCE   3
#define STATS_WAIT_MS   250
#define STATS_WAIT_STEP 5

static bool stats_slot(atomic_int *running)
{
    for (int waited = 0;; waited += STATS_WAIT_STEP) {
        if (atomic_fetch_add(running, 1) < STATS_AT_ONCE)
            return true;
        atomic_fetch_sub(running, 1);
        if (waited >= STATS_WAIT_MS)
            return false;
        struct timespec ts = {0, STATS_WAIT_STEP * 1000000L};
        nanosleep(&ts, NULL);
    }
}

void api_h_stats(api_req_t *req)
{
    static atomic_int running;
    if (!stats_slot(&running)) {
        api_reply_error(req, 503, "busy: %d statistics are being computed; retry shortly",
                        STATS_AT_ONCE);
        api_reply_header(req, "Retry-After", "1");
        return;
    }
    stats_reply(req);
    atomic_fetch_sub(&running, 1);
}

/* ---- /metrics */

/* A label value with '\', '"' and newlines escaped (Prometheus text format 0.0.4). */
static void label(FILE *f, const char *v)
{
    for (const char *p = v; *p; p++) {
        if (*p == '\\' || *p == '"')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else
            fputc(*p, f);
    }
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

typedef struct {
    FILE *req, *resp; /* two families, written one after the other */
} kinds_t;

static int put_kind(void *ctx, bool is_request, const char *method, int status, int64_t n)
{
    kinds_t *k = ctx;
    FILE *f = is_request ? k->req : k->resp;
    fputs(is_request ? "sipscope_sip_requests{method=\"" : "sipscope_sip_responses{method=\"", f);
    label(f, method);
    if (is_request)
        fprintf(f, "\"} %lld\n", (long long)n);
    else
        fprintf(f, "\",status=\"%d\"} %lld\n", status, (long long)n);
    return 0;
}

static int put_published(void *ctx, const char *key, int64_t value)
{
    FILE *f = ctx;
    if (strchr(key, '.') == NULL || strlen(key) > 100)
        return 0; /* the capture totals above, or not ours */
    char name[128] = "sipscope_";
    size_t n = strlen(name);
    for (const char *p = key; *p && n + 1 < sizeof(name); p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        name[n++] = ok ? c : '_';
    }
    name[n] = '\0';
    fprintf(f, "# HELP %s Published by the capture pipeline as %s.\n# TYPE %s untyped\n", name, key,
            name);
    fprintf(f, "%s %lld\n", name, (long long)value);
    return 0;
}

/* Append the stream g to f (g is a memstream's buffer). */
static void append(FILE *f, FILE *g, char **buf, size_t *len)
{
    fclose(g);
    if (*buf != NULL)
        fwrite(*buf, 1, *len, f);
    free(*buf);
    *buf = NULL;
}

/* sipscope_calls: the stored calls by state. */
static int write_call_states(store_t *s, FILE *f)
{
    int64_t states[CALL_STATE_COUNT];
    int err = store_count_calls_by_state(s, states);
    if (err != 0)
        return err;
    family(f, "sipscope_calls", "gauge", "Calls stored, by state.");
    for (int i = 0; i < CALL_STATE_COUNT; i++)
        fprintf(f, "sipscope_calls{state=\"%s\"} %lld\n", call_state_name((call_state_t)i),
                (long long)states[i]);
    int64_t active = 0;
    if ((err = store_count_active_calls(s, &active)) != 0)
        return err;
    family(f, "sipscope_active_calls", "gauge",
           "Calls in progress in a running capture (as of its last checkpoint).");
    fprintf(f, "sipscope_active_calls %lld\n", (long long)active);
    return 0;
}

/* sipscope_sip_requests and sipscope_sip_responses. One scan of the messages yields both
 * families interleaved: each goes to a memstream of its own, and they are written one after
 * the other (even when the scan failed part way, as far as it got). */
static int write_message_kinds(store_t *s, FILE *f)
{
    char *rb = NULL, *pb = NULL;
    size_t rl = 0, pl = 0;
    kinds_t k = {open_memstream(&rb, &rl), open_memstream(&pb, &pl)};
    if (k.req == NULL || k.resp == NULL) {
        if (k.req)
            fclose(k.req);
        if (k.resp)
            fclose(k.resp);
        free(rb);
        free(pb);
        return -ENOMEM;
    }
    int err = store_count_messages_by_kind(s, put_kind, &k);
    family(f, "sipscope_sip_requests", "gauge", "SIP requests stored, by method.");
    append(f, k.req, &rb, &rl);
    family(f, "sipscope_sip_responses", "gauge",
           "SIP responses stored, by CSeq method and status code.");
    append(f, k.resp, &pb, &pl);
    return err;
}

/* sipscope_store_rows by table, then sipscope_rtp_streams and sipscope_store_bytes (the latter
 * left out when the store cannot tell). */
static int write_store_rows(store_t *s, FILE *f)
{
    static const struct {
        const char *table;
        int (*count)(store_t *, int64_t *);
    } tables[] = {
        {"calls", store_count_calls},
        {"sip_messages", store_count_messages},
        {"rtp_streams", store_count_streams},
        {"stream_samples", store_count_samples},
        {"registrations", store_count_registrations},
        {"alerts", store_count_alerts},
    };
    family(f, "sipscope_store_rows", "gauge", "Rows in the database, by table.");
    int64_t streams = 0;
    for (size_t i = 0; i < ARRAY_LEN(tables); i++) {
        int64_t n = 0;
        int err = tables[i].count(s, &n);
        if (err != 0)
            return err;
        if (strcmp(tables[i].table, "rtp_streams") == 0)
            streams = n;
        fprintf(f, "sipscope_store_rows{table=\"%s\"} %lld\n", tables[i].table, (long long)n);
    }
    family(f, "sipscope_rtp_streams", "gauge", "RTP streams stored.");
    fprintf(f, "sipscope_rtp_streams %lld\n", (long long)streams);
    int64_t bytes = 0;
    if (store_used_bytes(s, &bytes) == 0) {
        family(f, "sipscope_store_bytes", "gauge", "Bytes used by the database.");
        fprintf(f, "sipscope_store_bytes %lld\n", (long long)bytes);
    }
    return 0;
}

/* Totals of every capture analysed into this database (kept by the store). */
static int write_capture_totals(store_t *s, FILE *f)
{
    store_meta_t m;
    int err = store_get_totals(s, &m);
    if (err != 0)
        return err;
    static const struct {
        const char *name, *help;
        size_t off;
    } totals[] = {
        {"sipscope_capture_packets_total", "Packets read from captures.",
         offsetof(store_meta_t, packets)},
        {"sipscope_capture_bytes_total", "Bytes of the packets read (frame lengths).",
         offsetof(store_meta_t, bytes)},
        {"sipscope_capture_sip_messages_total", "SIP messages decoded.",
         offsetof(store_meta_t, sip_messages)},
        {"sipscope_capture_rtp_packets_total", "RTP packets decoded.",
         offsetof(store_meta_t, rtp_packets)},
        {"sipscope_capture_rtcp_packets_total", "RTCP datagrams decoded.",
         offsetof(store_meta_t, rtcp_packets)},
        {"sipscope_capture_malformed_total", "Malformed SIP, RTP/RTCP or truncated frames.",
         offsetof(store_meta_t, malformed)},
    };
    for (size_t i = 0; i < ARRAY_LEN(totals); i++) {
        uint64_t v;
        memcpy(&v, (const char *)&m + totals[i].off, sizeof(v));
        family(f, totals[i].name, "counter", totals[i].help);
        fprintf(f, "%s %llu\n", totals[i].name, (unsigned long long)v);
    }
    return 0;
}

/* This server's own: requests answered by status code, uptime and version. */
static void write_server(api_server_t *srv, FILE *f)
{
    static const char *const codes[API_CODE_COUNT] = {
        [API_CODE_200] = "200", [API_CODE_304] = "304", [API_CODE_400] = "400",
        [API_CODE_401] = "401", [API_CODE_404] = "404", [API_CODE_405] = "405",
        [API_CODE_414] = "414", [API_CODE_5XX] = "5xx", [API_CODE_OTHER] = "other",
    };
    family(f, "sipscope_http_requests_total", "counter",
           "HTTP requests answered by this server, by status code.");
    for (int i = 0; i < API_CODE_COUNT; i++)
        fprintf(f, "sipscope_http_requests_total{code=\"%s\"} %llu\n", codes[i],
                (unsigned long long)atomic_load(&srv->by_code[i]));
    family(f, "sipscope_uptime_seconds", "gauge", "Seconds since this server started.");
    fprintf(f, "sipscope_uptime_seconds %.3f\n", (double)(api_now_ns() - srv->started_ns) / 1e9);
    family(f, "sipscope_build_info", "gauge", "The running version.");
    fprintf(f, "sipscope_build_info{version=\"%s\"} 1\n", SIPSCOPE_VERSION);
}

/* The whole /metrics body, family by family; the first store error ends it. */
static int write_metrics(api_server_t *srv, store_t *s, FILE *f)
{
    int err = write_call_states(s, f);
    if (err == 0)
        err = write_message_kinds(s, f);
    if (err == 0)
        err = write_store_rows(s, f);
    if (err == 0)
        err = write_capture_totals(s, f);
    /* Counters a running capture publishes ("capture.kernel_drops", "corr.calls_evicted"...):
     * each dotted key as sipscope_<key> with non-alphanumerics as '_'. */
    if (err == 0)
        err = store_foreach_meta_i64(s, put_published, f);
    if (err != 0)
        return err;
    write_server(srv, f);
    return 0;
}

void api_h_metrics(api_req_t *req)
{
    static const char ctype[] = "text/plain; version=0.0.4; charset=utf-8";
    api_server_t *srv = req->srv;
    /* Counting messages by kind scans the table: on a big database that is worth caching for a
     * few seconds (Prometheus scrapes every 15 s or so). */
    int64_t now = api_now_ns();
    pthread_mutex_lock(&srv->metrics_mu);
    if (srv->metrics_body != NULL && now - srv->metrics_at_ns < API_METRICS_TTL_NS) {
        char *copy = malloc(srv->metrics_len);
        if (copy != NULL)
            memcpy(copy, srv->metrics_body, srv->metrics_len);
        size_t len = srv->metrics_len;
        pthread_mutex_unlock(&srv->metrics_mu);
        if (copy == NULL)
            api_reply_error(req, 500, "out of memory");
        else
            api_reply_take(req, 200, ctype, copy, len);
        return;
    }
    pthread_mutex_unlock(&srv->metrics_mu);

    store_t *s = api_store(req);
    if (s == NULL)
        return;
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    int err = f ? write_metrics(srv, s, f) : -ENOMEM;
    if (f != NULL && fclose(f) != 0 && err == 0)
        err = -ENOMEM;
    if (err != 0) {
        free(body);
        api_reply_store_error(req, err, "metrics");
        return;
    }
    char *copy = malloc(len ? len : 1);
    if (copy != NULL) {
        memcpy(copy, body, len);
        pthread_mutex_lock(&srv->metrics_mu);
        free(srv->metrics_body);
        srv->metrics_body = copy;
        srv->metrics_len = len;
        srv->metrics_at_ns = now;
        pthread_mutex_unlock(&srv->metrics_mu);
    }
    api_reply_take(req, 200, ctype, body, len);
}

/* ---- /healthz: the server answers and its database opens. */

void api_h_healthz(api_req_t *req)
{
    store_t *s = api_store(req);
    if (s == NULL)
        return; /* 503 already */
    int64_t first, last;
    int err = store_call_time_range(s, &first, &last);
    if (err != 0) {
        api_reply_error(req, 503, "database error: %s", store_errmsg(s));
        return;
    }
    api_reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
}
