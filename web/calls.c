/* calls: handlers of /api/v1/calls, /streams, /alerts and /registrations. */
#include "api_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "record_json.h"
#include "callpcap.h"
#include "sv.h"

/* ---- Collectors: store callbacks that append JSON to an array. */

void api_collect_push(api_collect_t *c, json_t *o)
{
    if (o == NULL || json_array_append_new(c->array, o) != 0)
        c->oom = true;
}

static int add_call(void *ctx, const call_record_t *r)
{
    api_collect_t *c = ctx;
    api_collect_push(c, api_call_row_json(r));
    return c->oom ? -ENOMEM : 0;
}

static int add_stream(void *ctx, const stream_record_t *r)
{
    api_collect_t *c = ctx;
    api_collect_push(c, api_stream_row_json(r));
    return c->oom ? -ENOMEM : 0;
}

typedef struct {
    api_collect_t c;
    bool with_raw;
} messages_t;

static int add_message(void *ctx, int64_t id, const message_record_t *m)
{
    messages_t *ms = ctx;
    json_t *o = api_message_json(id, m, ms->with_raw);
    api_collect_push(&ms->c, o);
    return ms->c.oom ? -ENOMEM : 0;
}

/* A page: {"total": N, "limit": L, "offset": O, key: array}; takes ownership of array. */
void api_reply_page(api_req_t *req, int err, const char *key, json_t *array, int64_t total,
                    int64_t limit, int64_t offset)
{
    if (err != 0) {
        json_decref(array);
        api_reply_store_error(req, err, key);
        return;
    }
    json_t *o = json_object();
    if (o != NULL) {
        json_object_set_new(o, "total", json_integer(total));
        json_object_set_new(o, "limit", json_integer(limit));
        json_object_set_new(o, "offset", json_integer(offset));
        json_object_set_new(o, key, array);
    } else {
        json_decref(array);
    }
    api_reply_json(req, 200, o);
}

void api_reply_one(api_req_t *req, int err, const char *what, json_t *array)
{
    if (err != 0) {
        json_decref(array);
        api_reply_store_error(req, err, what);
        return;
    }
    json_t *o = json_incref(json_array_get(array, 0));
    json_decref(array);
    api_reply_json(req, 200, o);
}

/* ---- A call's reasons name their message by its time (correlator/verdict.h): its row id here. */

static void resolve_reasons(store_t *s, json_t *call)
{
    json_int_t row = json_integer_value(json_object_get(call, "id"));
    json_t *reasons = json_object_get(call, "reasons");
    size_t i;
    json_t *r;
    json_array_foreach (reasons, i, r) {
        json_t *t = json_object_get(r, "message_time");
        int64_t id = 0;
        if (json_is_number(t) && row > 0 &&
            store_message_at(s, (int64_t)row, json_number_value(t), &id) == 0 && id > 0)
            json_object_set_new(r, "message", json_integer(id));
    }
}

static void resolve_all_reasons(store_t *s, json_t *calls)
{
    size_t i;
    json_t *call;
    json_array_foreach (calls, i, call)
        resolve_reasons(s, call);
}

/* ---- /api/v1/calls */

void api_h_calls(api_req_t *req)
{
    store_call_filter_t f;
    int64_t limit, offset;
    store_call_sort_t sort;
    bool asc;
    if (!api_call_filter(req, &f, &sort, &asc) || !api_param_paging(req, &limit, &offset))
        return;
    store_t *s = api_store(req);
    if (s == NULL)
        return;
    api_collect_t c = {.array = json_array()};
    int64_t total = 0;
    int err = c.array
                  ? store_query_calls_sorted(s, &f, sort, asc, limit, offset, add_call, &c, &total)
                  : -ENOMEM;
    if (err == 0)
        resolve_all_reasons(s, c.array);
    api_reply_page(req, err, "calls", c.array, total, limit, offset);
}

/* ---- /api/v1/calls/{id} */

static int take_call(void *ctx, const call_record_t *r)
{
    json_t **out = ctx;
    *out = api_call_row_json(r);
    return *out ? 0 : -ENOMEM;
}

/* The call object of req->id, or NULL after replying (404, 500). */
static json_t *load_call(api_req_t *req, store_t *s)
{
    json_t *call = NULL;
    int err = store_get_call(s, req->id, take_call, &call);
    if (err != 0) {
        json_decref(call);
        api_reply_store_error(req, err, "call");
        return NULL;
    }
    resolve_reasons(s, call);
    return call;
}

static int add_dtmf(void *ctx, const dtmf_record_t *d)
{
    api_collect_t *c = ctx;
    api_collect_push(c, record_json(&dtmf_record_desc, d, RECORD_JSON_API));
    return c->oom ? -ENOMEM : 0;
}

void api_h_call(api_req_t *req)
{
    store_t *s = api_store(req);
    json_t *call = s ? load_call(req, s) : NULL;
    if (call == NULL)
        return;
    api_collect_t streams = {.array = json_array()};
    messages_t msgs = {.c.array = json_array(), .with_raw = false};
    int err = streams.array && msgs.c.array ? 0 : -ENOMEM;
    if (err == 0)
        err = store_foreach_stream(s, req->id, add_stream, &streams);
    if (err == 0)
        err = store_foreach_message(s, req->id, add_message, &msgs);
    api_collect_t dtmf = {.array = json_array()};
    if (err == 0)
        err = dtmf.array ? store_foreach_dtmf(s, req->id, add_dtmf, &dtmf) : -ENOMEM;
    json_object_set_new(call, "dtmf", dtmf.array ? dtmf.array : json_array());
    json_object_set_new(call, "streams", streams.array ? streams.array : json_array());
    json_object_set_new(call, "messages", msgs.c.array ? msgs.c.array : json_array());
    if (err != 0) {
        json_decref(call);
        api_reply_store_error(req, err, "call");
        return;
    }
    api_reply_json(req, 200, call);
}

void api_h_call_messages(api_req_t *req)
{
    store_t *s = api_store(req);
    json_t *call = s ? load_call(req, s) : NULL;
    if (call == NULL)
        return;
    json_decref(call);
    messages_t msgs = {.c.array = json_array(), .with_raw = true};
    int err = msgs.c.array ? store_foreach_message(s, req->id, add_message, &msgs) : -ENOMEM;
    if (err != 0) {
        json_decref(msgs.c.array);
        api_reply_store_error(req, err, "call");
        return;
    }
    api_reply_json(req, 200, msgs.c.array);
}

void api_h_call_pcap(api_req_t *req)
{
    store_t *s = api_store(req);
    if (s == NULL)
        return;
    store_call_pcap_t pcap;
    int err = store_call_pcap_open(s, req->id, NULL, &pcap);
    if (err != 0) {
        store_call_pcap_close(&pcap);
        api_reply_store_error(req, err, "call");
        return;
    }
    /* A ROW.pcap.gz goes out decompressed: the same pcap whatever --pcap-compress was, so a
     * browser saves a .pcap that Wireshark opens on a double click. */
    if ((err = store_call_pcap_as(&pcap, false)) != 0) {
        store_call_pcap_close(&pcap);
        api_reply_error(req, 500, "decompressing the call's pcap: %s", strerror(-err));
        return;
    }
    if (!pcap.rebuilt) {
        api_reply_fd(req, 200, "application/vnd.tcpdump.pcap", pcap.fd, pcap.size);
        pcap.fd = -1; /* the reply owns it now */
        api_reply_header(req, "X-Sipscope-Pcap-Content",
                         "every packet of the call as captured (SIP and RTP; RTP payloads cut "
                         "when captured with --rtp-pcap header), per-call file");
    } else {
        api_reply_take(req, 200, "application/vnd.tcpdump.pcap", pcap.data, pcap.size);
        pcap.data = NULL;
        /* Said in the response too, so that whoever opens the file knows what is missing. */
        api_reply_header(req, "X-Sipscope-Pcap-Content", STORE_CALL_PCAP_REBUILT_NOTE);
    }
    char disp[96];
    snprintf(disp, sizeof(disp), "attachment; filename=\"sipscope-call-%lld.pcap\"",
             (long long)req->id);
    api_reply_header(req, "Content-Disposition", disp);
    if (pcap.skipped > 0) {
        char n[32];
        snprintf(n, sizeof(n), "%zu", pcap.skipped);
        api_reply_header(req, "X-Sipscope-Pcap-Skipped", n);
    }
    store_call_pcap_close(&pcap);
}

/* ---- /api/v1/streams */

void api_h_streams(api_req_t *req)
{
    store_stream_filter_t f = {0};
    int64_t limit, offset;
    if (!api_param_paging(req, &limit, &offset) ||
        !api_param_double(req, "min_loss", 0, 100, &f.min_loss_pct, &f.has_min_loss) ||
        !api_param_double(req, "max_mos", 0, 5, &f.max_mos, &f.has_max_mos))
        return;
    f.call_id = api_param(req, "call_id");
    store_t *s = api_store(req);
    if (s == NULL)
        return;
    api_collect_t c = {.array = json_array()};
    int64_t total = 0;
    int err = c.array ? store_query_streams(s, &f, limit, offset, add_stream, &c, &total) : -ENOMEM;
    api_reply_page(req, err, "streams", c.array, total, limit, offset);
}

void api_h_stream(api_req_t *req)
{
    store_t *s = api_store(req);
    if (s == NULL)
        return;
    api_collect_t c = {.array = json_array()};
    int err = c.array ? store_get_stream(s, req->id, add_stream, &c) : -ENOMEM;
    api_reply_one(req, err, "stream", c.array);
}

static int add_sample(void *ctx, const sample_record_t *r)
{
    api_collect_t *c = ctx;
    api_collect_push(c, api_sample_json(r));
    return c->oom ? -ENOMEM : 0;
}

static int ignore_stream(void *ctx, const stream_record_t *r)
{
    (void)ctx;
    (void)r;
    return 0;
}

void api_h_stream_samples(api_req_t *req)
{
    store_t *s = api_store(req);
    if (s == NULL)
        return;
    int err = store_get_stream(s, req->id, ignore_stream, NULL);
    if (err != 0) {
        api_reply_store_error(req, err, "stream");
        return;
    }
    api_collect_t c = {.array = json_array()};
    err = c.array ? store_foreach_sample(s, req->id, add_sample, &c) : -ENOMEM;
    if (err != 0) {
        json_decref(c.array);
        api_reply_store_error(req, err, "stream");
        return;
    }
    api_reply_json(req, 200,
                   json_pack("{s:I, s:o}", "stream", (json_int_t)req->id, "samples", c.array));
}

/* ---- /api/v1/alerts and /api/v1/registrations (rows of the security monitor). */

static int add_alert(void *ctx, const alert_record_t *a)
{
    api_collect_t *c = ctx;
    api_collect_push(c, api_alert_json(a));
    return c->oom ? -ENOMEM : 0;
}

static const char *alert_type_text(int i)
{
    return alert_type_name((alert_type_t)i);
}

/* source: an IP address, compared in its canonical text (as the store keeps it). */
static bool parse_alert_source(api_req_t *req, char text[NET_ADDR_STRLEN], const char **out)
{
    const char *v = api_param(req, "source");
    *out = NULL;
    if (v == NULL)
        return true;
    net_addr_t a = {0};
    if (!net_addr_parse(sv_from_cstr(v), &a)) {
        api_reply_error(req, 400, "source: an IPv4 or IPv6 address");
        return false;
    }
    *out = net_addr_str(&a, text, NET_ADDR_STRLEN);
    return true;
}

void api_h_alerts(api_req_t *req)
{
    store_alert_filter_t f = {0};
    int64_t limit, offset;
    char source[NET_ADDR_STRLEN];
    if (!api_param_paging(req, &limit, &offset) ||
        !api_param_range(req, &f.since_ns, &f.until_ns) ||
        !api_param_names(req, "type", alert_type_text, ALERT_TYPE_COUNT, &f.type_mask) ||
        !parse_alert_source(req, source, &f.source))
        return;
    store_t *s = api_store(req);
    if (s == NULL)
        return;
    api_collect_t c = {.array = json_array()};
    int64_t total = 0;
    int err =
        c.array ? store_query_alert_records(s, &f, limit, offset, add_alert, &c, &total) : -ENOMEM;
    api_reply_page(req, err, "alerts", c.array, total, limit, offset);
}

static int add_registration(void *ctx, const registration_record_t *r)
{
    api_collect_t *c = ctx;
    api_collect_push(c, api_registration_json(r));
    return c->oom ? -ENOMEM : 0;
}

void api_h_registrations(api_req_t *req)
{
    store_registration_filter_t f = {.user_exact = true};
    int64_t limit, offset;
    if (!api_param_paging(req, &limit, &offset) ||
        !api_param_bool(req, "active", &f.active, &f.has_active))
        return;
    f.user = api_param(req, "user");
    store_t *s = api_store(req);
    if (s == NULL)
        return;
    api_collect_t c = {.array = json_array()};
    int64_t total = 0;
    int err = c.array ? store_query_registration_records(s, &f, limit, offset, add_registration, &c,
                                                         &total)
                      : -ENOMEM;
    api_reply_page(req, err, "registrations", c.array, total, limit, offset);
}
