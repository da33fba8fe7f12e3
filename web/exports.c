/* exports: the call list as CSV (GET /api/v1/calls.csv) and a call's ladder as plain text
 * (GET /api/v1/calls/{id}/ladder.txt). The merged pcap of a filtered set is pcap_merge.c. */
#include "api_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "textbuf.h"

#define CSV_DEFAULT_ROWS 100000 /* calls in one CSV unless limit says fewer */
#define CSV_MAX_BYTES    (256u << 20)

/* "2024-01-15T10:00:02.158608Z" of epoch seconds t. */
static void iso_time(double t, char *out, size_t cap)
{
    double whole = floor(t);
    long long us = llround((t - whole) * 1e6);
    time_t secs = (time_t)whole;
    if (us >= 1000000) {
        secs++;
        us -= 1000000;
    }
    struct tm tm;
    gmtime_r(&secs, &tm);
    char day[32];
    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, cap, "%s.%06lldZ", day, us);
}

/* One CSV cell (RFC 4180): text always quoted, quotes doubled; text that a spreadsheet would
 * take for a formula (starting with = + - @, a tab or a CR) gets a leading apostrophe inside
 * the quotes (OWASP's CSV injection advice). Times ("..._time") as ISO 8601 UTC; null empty. */
static void csv_cell(textbuf_t *b, const char *key, json_t *v)
{
    size_t klen = strlen(key);
    bool is_time = klen > 5 && strcmp(key + klen - 5, "_time") == 0;
    if (json_is_null(v) || v == NULL)
        return;
    if (json_is_boolean(v)) {
        tb_printf(b, "%s", json_is_true(v) ? "true" : "false");
    } else if (json_is_integer(v)) {
        tb_printf(b, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v) && is_time) {
        char t[48];
        iso_time(json_real_value(v), t, sizeof(t));
        tb_printf(b, "%s", t);
    } else if (json_is_real(v)) {
        tb_printf(b, "%.16g", json_real_value(v));
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        tb_put(b, "\"", 1);
        if (s[0] != '\0' && strchr("=+-@\t\r", s[0]) != NULL)
            tb_put(b, "'", 1);
        for (const char *q; (q = strchr(s, '"')) != NULL; s = q + 1) {
            tb_put(b, s, (size_t)(q - s));
            tb_put(b, "\"\"", 2);
        }
        tb_put(b, s, strlen(s));
        tb_put(b, "\"", 1);
    } else {
        char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        json_t *str = text ? json_string(text) : NULL;
        free(text);
        csv_cell(b, "", str); /* arrays and objects as their JSON text */
        json_decref(str);
    }
}

/* The columns: the keys of a call object, in its order. */
static json_t *csv_columns(void)
{
    call_record_t zero = {0};
    return api_call_row_json(&zero);
}

static void csv_row(textbuf_t *b, json_t *columns, json_t *call)
{
    const char *key;
    json_t *v;
    bool first = true;
    json_object_foreach (columns, key, v) {
        (void)v;
        if (!first)
            tb_put(b, ",", 1);
        first = false;
        csv_cell(b, key, json_object_get(call, key));
    }
    tb_put(b, "\r\n", 2);
}

typedef struct {
    textbuf_t b;
    json_t *columns;
} csv_t;

static int add_csv_call(void *ctx, const call_record_t *r)
{
    csv_t *c = ctx;
    json_t *o = api_call_row_json(r);
    if (o == NULL)
        return -ENOMEM;
    csv_row(&c->b, c->columns, o);
    json_decref(o);
    return c->b.failed ? -ENOMEM : 0;
}

void api_h_calls_csv(api_req_t *req)
{
    store_call_filter_t f;
    store_call_sort_t sort;
    bool asc;
    int64_t limit = CSV_DEFAULT_ROWS, offset = 0;
    if (!api_call_filter(req, &f, &sort, &asc) ||
        !api_param_i64(req, "limit", 1, CSV_DEFAULT_ROWS, &limit, NULL) ||
        !api_param_i64(req, "offset", 0, INT64_C(1000000000000), &offset, NULL))
        return;
    store_t *s = api_store(req);
    if (s == NULL)
        return;
    csv_t c = {.b = {.max = CSV_MAX_BYTES}, .columns = csv_columns()};
    if (c.columns == NULL) {
        api_reply_error(req, 500, "out of memory");
        return;
    }
    const char *key;
    json_t *v;
    bool first = true;
    json_object_foreach (c.columns, key, v) {
        tb_printf(&c.b, "%s%s", first ? "" : ",", key);
        first = false;
    }
    tb_put(&c.b, "\r\n", 2);
    int64_t total = 0;
    int err = store_query_calls_sorted(s, &f, sort, asc, limit, offset, add_csv_call, &c, &total);
    json_decref(c.columns);
    if (err == 0 && c.b.failed)
        err = -ENOMEM;
    if (err != 0) {
        tb_free(&c.b);
        api_reply_store_error(req, err, "calls");
        return;
    }
    api_reply_take(req, 200, "text/csv; charset=utf-8", c.b.p, c.b.len);
    api_reply_header(req, "Content-Disposition", "attachment; filename=\"sipscope-calls.csv\"");
    char n[32];
    snprintf(n, sizeof(n), "%lld", (long long)total);
    api_reply_header(req, "X-Sipscope-Total", n);
}

/* ---- The ladder as text: one column per address, in the order they first appear, and one
 * line per message in time order, its arrow labelled with its start line. */

#define LADDER_MAX_COLUMNS  10
#define LADDER_TIME_WIDTH   17 /* "10:00:14.711051  " */
#define LADDER_MAX_MESSAGES 10000

typedef struct {
    json_t *messages; /* the call's message objects, in time order */
    char cols[LADDER_MAX_COLUMNS][NET_ENDPOINT_STRLEN];
    int ncols;
    bool too_many; /* more addresses than columns */
} ladder_t;

static int add_ladder_message(void *ctx, int64_t id, const message_record_t *m)
{
    ladder_t *l = ctx;
    if (json_array_size(l->messages) >= LADDER_MAX_MESSAGES)
        return 0;
    json_t *o = api_message_json(id, m, false);
    return o != NULL && json_array_append_new(l->messages, o) == 0 ? 0 : -ENOMEM;
}

/* The column of an address, added when new; -1 when there is no room. */
static int ladder_column(ladder_t *l, const char *addr)
{
    for (int i = 0; i < l->ncols; i++)
        if (strcmp(l->cols[i], addr) == 0)
            return i;
    if (l->ncols == LADDER_MAX_COLUMNS) {
        l->too_many = true;
        return -1;
    }
    snprintf(l->cols[l->ncols], sizeof(l->cols[0]), "%s", addr);
    return l->ncols++;
}

static const char *jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* One message's line: lifelines, the arrow from column a to b with its label. */
static void ladder_line(textbuf_t *b, const ladder_t *l, int width, int a, int bcol,
                        const char *label)
{
    int span = LADDER_TIME_WIDTH + (l->ncols - 1) * width + 1;
    char line[LADDER_TIME_WIDTH + LADDER_MAX_COLUMNS * 64 + 2];
    memset(line, ' ', (size_t)span);
    for (int i = 0; i < l->ncols; i++)
        line[LADDER_TIME_WIDTH + i * width] = '|';
    int lo = a < bcol ? a : bcol, hi = a < bcol ? bcol : a;
    int x0 = LADDER_TIME_WIDTH + lo * width, x1 = LADDER_TIME_WIDTH + hi * width;
    int text_at = x0 + 3, room = x1 - x0 - 5;
    if (a != bcol) {
        for (int x = x0 + 1; x < x1; x++)
            line[x] = '-';
        if (a < bcol)
            line[x1 - 1] = '>';
        else
            line[x0 + 1] = '<';
    } else { /* to itself: the label beside the lifeline */
        text_at = x0 + 2;
        room = span - text_at;
    }
    int n = (int)strlen(label);
    if (n > room)
        n = room > 0 ? room : 0;
    memcpy(line + text_at, label, (size_t)n);
    int end = span;
    if (a == bcol && text_at + n > end)
        end = text_at + n;
    while (end > 0 && line[end - 1] == ' ')
        end--;
    tb_put(b, line, (size_t)end);
    tb_put(b, "\n", 1);
}

static void ladder_render(textbuf_t *b, ladder_t *l, json_t *call)
{
    size_t i;
    json_t *m;
    json_array_foreach (l->messages, i, m) {
        ladder_column(l, jstr(m, "src"));
        ladder_column(l, jstr(m, "dst"));
    }
    int width = 30;
    for (int c = 0; c < l->ncols; c++)
        if ((int)strlen(l->cols[c]) + 2 > width)
            width = (int)strlen(l->cols[c]) + 2;
    char when[48] = "";
    json_t *t0 = json_object_get(call, "invite_time");
    if (json_is_number(t0))
        iso_time(json_number_value(t0), when, sizeof(when));
    tb_printf(b, "Call %lld: %s\n%s -> %s\nstate %s, final status %lld; times UTC, %.10s\n\n",
              (long long)json_integer_value(json_object_get(call, "id")), jstr(call, "call_id"),
              jstr(call, "from"), jstr(call, "to"), jstr(call, "state"),
              (long long)json_integer_value(json_object_get(call, "final_status")), when);
    tb_printf(b, "%-*s", LADDER_TIME_WIDTH, "time");
    for (int c = 0; c < l->ncols; c++)
        tb_printf(b, c + 1 < l->ncols ? "%-*s" : "%.*s", width, l->cols[c]);
    tb_put(b, "\n", 1);
    json_array_foreach (l->messages, i, m) {
        int a = ladder_column(l, jstr(m, "src")), c = ladder_column(l, jstr(m, "dst"));
        char t[48], label[200];
        iso_time(json_number_value(json_object_get(m, "time")), t, sizeof(t));
        /* a request by its method, an answer by its status and reason */
        const char *what =
            json_is_true(json_object_get(m, "request")) ? jstr(m, "method") : jstr(m, "summary");
        if (strncmp(what, "SIP/2.0 ", 8) == 0)
            what += 8;
        snprintf(label, sizeof(label), "%s%s%s", what,
                 json_is_true(json_object_get(m, "sdp")) ? " (SDP)" : "",
                 strcmp(jstr(m, "transport"), "tcp") == 0 ? " [TCP]" : "");
        tb_printf(b, "%-*.15s", LADDER_TIME_WIDTH, t + 11);
        b->len -= LADDER_TIME_WIDTH; /* ladder_line writes the whole line, time column too */
        textbuf_t row = {0};
        if (a < 0 || c < 0) {
            tb_printf(&row, "%-*.15s%s -> %s  %s\n", LADDER_TIME_WIDTH, t + 11, jstr(m, "src"),
                      jstr(m, "dst"), label);
        } else {
            ladder_line(&row, l, width, a, c, label);
            if (row.p != NULL)
                memcpy(row.p, t + 11, 15);
        }
        tb_put(b, row.p ? row.p : "", row.len);
        b->failed = b->failed || row.failed;
        tb_free(&row);
    }
    if (json_array_size(l->messages) >= LADDER_MAX_MESSAGES)
        tb_printf(b, "(only the first %d messages)\n", LADDER_MAX_MESSAGES);
    if (l->too_many)
        tb_printf(b, "(more than %d addresses: the others' messages are listed, not drawn)\n",
                  LADDER_MAX_COLUMNS);
}

static int take_call(void *ctx, const call_record_t *r)
{
    json_t **out = ctx;
    *out = api_call_row_json(r);
    return *out ? 0 : -ENOMEM;
}

void api_h_call_ladder_txt(api_req_t *req)
{
    store_t *s = api_store(req);
    if (s == NULL)
        return;
    json_t *call = NULL;
    ladder_t l = {.messages = json_array()};
    int err = l.messages ? store_get_call(s, req->id, take_call, &call) : -ENOMEM;
    if (err == 0)
        err = store_foreach_message(s, req->id, add_ladder_message, &l);
    textbuf_t b = {.max = 16u << 20};
    if (err == 0) {
        ladder_render(&b, &l, call);
        if (b.failed)
            err = -ENOMEM;
    }
    json_decref(call);
    json_decref(l.messages);
    if (err != 0) {
        tb_free(&b);
        api_reply_store_error(req, err, "call");
        return;
    }
    api_reply_take(req, 200, "text/plain; charset=utf-8", b.p, b.len);
}
