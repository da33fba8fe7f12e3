/* messages: GET /api/v1/messages (every stored SIP message, REGISTER, OPTIONS, SUBSCRIBE,
 * NOTIFY, MESSAGE... and those of calls, filtered and paged) and /api/v1/messages/{id}. */
#include "api_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "record_json.h"
#include "sip_peek.h"
#include "sv.h"

/* A header-derived value as a JSON string, null when absent. */
static json_t *peek_json(sv_t v)
{
    return v.len > 0 ? record_json_text(v.p, v.len) : json_null();
}

json_t *api_message_row_json(int64_t id, const message_record_t *m, bool with_raw)
{
    json_t *o = api_message_json(id, m, with_raw);
    if (o == NULL)
        return NULL;
    sv_t raw = m->raw ? sv_make(m->raw, m->raw_len) : SV_NULL;
    json_object_set_new(o, "call", m->call_row > 0 ? json_integer(m->call_row) : json_null());
    json_object_set_new(o, "call_id",
                        m->call_id && m->call_id[0] ? json_string(m->call_id) : json_null());
    json_object_set_new(o, "from", peek_json(sip_peek_uri(sip_peek_header(raw, "From", 'f'))));
    json_object_set_new(o, "to", peek_json(sip_peek_uri(sip_peek_header(raw, "To", 't'))));
    json_object_set_new(o, "user_agent", peek_json(sip_peek_header(raw, "User-Agent", 0)));
    return o;
}

typedef struct {
    api_collect_t c;
    bool with_raw;
} collect_rows_t;

static int add_message(void *ctx, int64_t id, const message_record_t *m)
{
    collect_rows_t *rows = ctx;
    api_collect_push(&rows->c, api_message_row_json(id, m, rows->with_raw));
    return rows->c.oom ? -ENOMEM : 0;
}

/* "REGISTER,OPTIONS" into f's methods, cut in place in buf (a copy of the value, which the
 * methods then point into); false after replying 400. */
static bool parse_methods(api_req_t *req, store_message_filter_t *f, char buf[API_MAX_VALUE + 1])
{
    const char *v = api_param(req, "method");
    if (v == NULL)
        return true;
    snprintf(buf, API_MAX_VALUE + 1, "%s", v);
    for (char *item = buf, *next; item != NULL; item = next) {
        next = strchr(item, ',');
        if (next != NULL)
            *next++ = '\0';
        size_t n = strlen(item);
        bool token = n > 0 && n <= 32 &&
                     strspn(item, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  "abcdefghijklmnopqrstuvwxyz0123456789-_") == n;
        if (!token || f->n_methods == STORE_MAX_METHODS) {
            api_reply_error(req, 400,
                            "method: a SIP method or a comma-separated list of at most %d "
                            "(REGISTER,OPTIONS)",
                            STORE_MAX_METHODS);
            return false;
        }
        f->methods[f->n_methods++] = item;
    }
    return true;
}

static bool parse_status(api_req_t *req, store_message_filter_t *f)
{
    const char *v = api_param(req, "status");
    if (v == NULL)
        return true;
    if (!api_parse_status(v, &f->status_min, &f->status_max)) {
        api_reply_error(req, 400, "status: a status code (100 to 699) or a class (1xx to 6xx)");
        return false;
    }
    return true;
}

static bool parse_src(api_req_t *req, store_message_filter_t *f)
{
    const char *v = api_param(req, "src");
    if (v != NULL && !api_parse_net(v, &f->src, &f->src_prefix)) {
        api_reply_error(req, 400,
                        "src: an IPv4 or IPv6 address, or a network in CIDR notation "
                        "(10.0.0.0/8, 2001:db8::/32)");
        return false;
    }
    return true;
}

void api_h_messages(api_req_t *req)
{
    store_message_filter_t f = {0};
    int64_t limit, offset;
    char methods[API_MAX_VALUE + 1];
    if (!parse_methods(req, &f, methods) || !parse_status(req, &f) || !parse_src(req, &f) ||
        !api_param_range(req, &f.since_ns, &f.until_ns) ||
        !api_param_bool(req, "in_call", &f.in_call, &f.has_in_call) ||
        !api_param_search(req, &f.search) || !api_param_paging(req, &limit, &offset))
        return;
    f.user = api_param(req, "user");
    store_t *s = api_store(req);
    if (s == NULL)
        return;
    collect_rows_t rows = {.c.array = json_array()};
    int64_t total = 0;
    int err = rows.c.array ? store_query_messages(s, &f, limit, offset, add_message, &rows, &total)
                           : -ENOMEM;
    api_reply_page(req, err, "messages", rows.c.array, total, limit, offset);
}

void api_h_message(api_req_t *req)
{
    store_t *s = api_store(req);
    if (s == NULL)
        return;
    collect_rows_t rows = {.c.array = json_array(), .with_raw = true};
    int err = rows.c.array ? store_get_message(s, req->id, add_message, &rows) : -ENOMEM;
    api_reply_one(req, err, "message", rows.c.array);
}
