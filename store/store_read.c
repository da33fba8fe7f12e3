/* store_read: rows back into records, walked in order; the row counts. */
#include "store.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <sqlite3.h>

#include "store_int.h"

/* ---- Rows into records. Strings are borrowed from the statement until its next step. */

/* A double holding a count of ns-multiples (ms or s) back to ns; 0 for garbage. */
static int64_t scaled_to_ns(double v, double ns_per_unit)
{
    double ns = v * ns_per_unit;
    if (!isfinite(ns) || fabs(ns) > 9.0e18)
        return 0;
    return llround(ns);
}

void store_int_row_call(sqlite3_stmt *st, call_record_t *c)
{
    memset(c, 0, sizeof(*c));
    c->id = sqlite3_column_int64(st, 0);
    c->call_id = col_text(st, 1);
    c->from_uri = col_text(st, 2);
    c->to_uri = col_text(st, 3);
    c->from_tag = col_text(st, 4);
    c->to_tag = col_text(st, 5);
    c->user_agent = col_text(st, 6);
    col_endpoint(st, 7, &c->caller);
    col_endpoint(st, 8, &c->callee);
    if (!call_state_parse(col_text(st, 9), &c->state))
        c->state = CALL_SETUP;
    c->final_status = (uint16_t)sqlite3_column_int(st, 10);
    c->invite_ns = col_time(st, 11);
    c->ringing_ns = col_time(st, 12);
    c->answer_ns = col_time(st, 13);
    c->end_ns = col_time(st, 14);
    c->post_dial_delay_ns =
        col_is_null(st, 15) ? -1 : scaled_to_ns(sqlite3_column_double(st, 15), 1e6);
    c->duration_ns = col_is_null(st, 16) ? -1 : scaled_to_ns(sqlite3_column_double(st, 16), 1e9);
    c->one_way = sqlite3_column_int(st, 17) != 0;
    c->nat = sqlite3_column_int(st, 18) != 0;
    c->sip_messages = (uint32_t)sqlite3_column_int64(st, 19);
    c->mos = sqlite3_column_double(st, 20); /* NULL reads as 0: no media */
}

void store_int_row_stream(sqlite3_stmt *st, stream_record_t *r)
{
    memset(r, 0, sizeof(*r));
    r->id = sqlite3_column_int64(st, 0);
    r->call_row = sqlite3_column_int64(st, 1);
    r->call_id = col_text_or_null(st, 2);
    col_endpoint(st, 3, &r->src);
    col_endpoint(st, 4, &r->dst);
    r->ssrc = (uint32_t)sqlite3_column_int64(st, 5);
    r->payload_type = (uint8_t)sqlite3_column_int(st, 6);
    r->codec = col_text(st, 7);
    r->clock_rate = (uint32_t)sqlite3_column_int64(st, 8);
    r->first_ns = col_time(st, 9);
    r->last_ns = col_time(st, 10);
    r->packets = (uint64_t)sqlite3_column_int64(st, 11);
    r->lost = sqlite3_column_int64(st, 12);
    r->duplicates = (uint64_t)sqlite3_column_int64(st, 13);
    r->out_of_order = (uint64_t)sqlite3_column_int64(st, 14);
    r->seq_errors = (uint64_t)sqlite3_column_int64(st, 15);
    r->max_delta_ms = sqlite3_column_double(st, 16);
    r->mean_jitter_ms = sqlite3_column_double(st, 17);
    r->max_jitter_ms = sqlite3_column_double(st, 18);
    r->mos = sqlite3_column_double(st, 19);
    r->sdp_mismatch = sqlite3_column_int(st, 20) != 0;
    r->have_rtcp = !col_is_null(st, 21);
    r->rtcp_fraction_lost = sqlite3_column_double(st, 21);
    r->rtcp_cumulative_lost = sqlite3_column_int64(st, 22);
    r->rtcp_jitter_ms = sqlite3_column_double(st, 23);
    r->rtcp_rtt_ms = col_is_null(st, 24) ? -1 : sqlite3_column_double(st, 24);
}

static void row_message(sqlite3_stmt *st, message_record_t *m)
{
    memset(m, 0, sizeof(*m));
    m->call_row = sqlite3_column_int64(st, 1);
    m->call_id = col_text_or_null(st, 2);
    m->ts_ns = col_time(st, 3);
    col_endpoint(st, 4, &m->src);
    col_endpoint(st, 5, &m->dst);
    m->transport = (uint8_t)sqlite3_column_int(st, 6);
    m->is_request = sqlite3_column_int(st, 7) != 0;
    m->method = col_text(st, 8);
    m->status = (uint16_t)sqlite3_column_int(st, 9);
    m->cseq = (uint32_t)sqlite3_column_int64(st, 10);
    m->raw = col_text(st, 11);
    m->raw_len = (uint32_t)sqlite3_column_bytes(st, 11);
    m->has_probe = !col_is_null(st, 12);
    m->probe_id = (uint32_t)sqlite3_column_int64(st, 12);
}

/* ---- Walks: every row of a query to a typed callback. */

typedef enum { ROW_CALL, ROW_STREAM, ROW_SAMPLE, ROW_MESSAGE } row_kind_t;

typedef struct {
    row_kind_t kind;
    union {
        store_call_cb call;
        store_stream_cb stream;
        store_sample_cb sample;
        store_message_cb message;
    } cb; /* the member matching kind */
    void *ctx;
} walker_t;

/* Step a prepared, bound statement to its end, handing each row to the walker's callback;
 * finalizes st. Returns the first nonzero callback result, or 0, or -errno. */
static int walk(store_t *s, sqlite3_stmt *st, const walker_t *w, int64_t *rows)
{
    int ret = 0, rc = SQLITE_DONE;
    int64_t n = 0;
    while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        n++;
        switch (w->kind) {
            case ROW_CALL: {
                call_record_t c;
                store_int_row_call(st, &c);
                ret = w->cb.call(w->ctx, &c);
                break;
            }
            case ROW_STREAM: {
                stream_record_t r;
                store_int_row_stream(st, &r);
                ret = w->cb.stream(w->ctx, &r);
                break;
            }
            case ROW_SAMPLE: {
                sample_record_t r = {
                    .stream_row = sqlite3_column_int64(st, 0),
                    .start_ns = store_int_sec_to_ns(sqlite3_column_double(st, 1)),
                    .packets = (uint32_t)sqlite3_column_int64(st, 2),
                    .lost = (int32_t)sqlite3_column_int64(st, 3),
                    .jitter_ms = sqlite3_column_double(st, 4),
                    .max_jitter_ms = sqlite3_column_double(st, 5),
                    .mos = sqlite3_column_double(st, 6),
                };
                ret = w->cb.sample(w->ctx, &r);
                break;
            }
            case ROW_MESSAGE: {
                message_record_t m;
                row_message(st, &m);
                ret = w->cb.message(w->ctx, sqlite3_column_int64(st, 0), &m);
                break;
            }
        }
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = store_int_fail_sql(s, rc, "read");
    sqlite3_finalize(st);
    if (rows != NULL)
        *rows = n;
    return ret;
}

/* Walk sql, binding id to ?1 when bind_id. */
static int walk_sql(store_t *s, const char *sql, bool bind_id, int64_t id, const walker_t *w,
                    int64_t *rows)
{
    int err = store_int_check_open(s);
    if (err != 0)
        return err;
    bool have_cb = (w->kind == ROW_CALL && w->cb.call) || (w->kind == ROW_STREAM && w->cb.stream) ||
                   (w->kind == ROW_SAMPLE && w->cb.sample) ||
                   (w->kind == ROW_MESSAGE && w->cb.message);
    if (!have_cb)
        return store_int_fail_msg(s, -EINVAL, "read", "no callback");
    sqlite3_stmt *st;
    err = store_int_prepare(s, sql, &st);
    if (err != 0)
        return err;
    if (bind_id)
        sqlite3_bind_int64(st, 1, id);
    return walk(s, st, w, rows);
}

#define WALK_CALLS(f, c)    (&(walker_t){.kind = ROW_CALL, .cb.call = (f), .ctx = (c)})
#define WALK_STREAMS(f, c)  (&(walker_t){.kind = ROW_STREAM, .cb.stream = (f), .ctx = (c)})
#define WALK_SAMPLES(f, c)  (&(walker_t){.kind = ROW_SAMPLE, .cb.sample = (f), .ctx = (c)})
#define WALK_MESSAGES(f, c) (&(walker_t){.kind = ROW_MESSAGE, .cb.message = (f), .ctx = (c)})

int store_foreach_call(store_t *s, store_call_cb cb, void *ctx)
{
    return walk_sql(s, "SELECT " CALL_COLS " FROM calls ORDER BY invite_time, id", false, 0,
                    WALK_CALLS(cb, ctx), NULL);
}

int store_get_call(store_t *s, int64_t id, store_call_cb cb, void *ctx)
{
    int64_t rows = 0;
    int err = walk_sql(s, "SELECT " CALL_COLS " FROM calls WHERE id = ?1", true, id,
                       WALK_CALLS(cb, ctx), &rows);
    if (err == 0 && rows == 0)
        err = store_int_fail_msg(s, -ENOENT, "get call", "no such call");
    return err;
}

int store_foreach_stream(store_t *s, int64_t call_row, store_stream_cb cb, void *ctx)
{
    const char *sql = call_row > 0 ? "SELECT " STREAM_COLS " FROM rtp_streams WHERE call_row = ?1"
                                     " ORDER BY first_time, id"
                      : call_row == 0
                          ? "SELECT " STREAM_COLS " FROM rtp_streams WHERE call_row IS NULL"
                            " ORDER BY first_time, id"
                          : "SELECT " STREAM_COLS " FROM rtp_streams ORDER BY first_time, id";
    return walk_sql(s, sql, call_row > 0, call_row, WALK_STREAMS(cb, ctx), NULL);
}

int store_foreach_sample(store_t *s, int64_t stream_row, store_sample_cb cb, void *ctx)
{
    return walk_sql(s,
                    "SELECT stream_row, start_time, packets, lost, jitter_ms, max_jitter_ms, mos"
                    " FROM stream_samples WHERE stream_row = ?1 ORDER BY start_time",
                    true, stream_row, WALK_SAMPLES(cb, ctx), NULL);
}

int store_foreach_message(store_t *s, int64_t call_row, store_message_cb cb, void *ctx)
{
    const char *sql = call_row > 0 ? "SELECT " MESSAGE_COLS " FROM sip_messages WHERE call_row = ?1"
                                     " ORDER BY time, id"
                      : call_row == 0
                          ? "SELECT " MESSAGE_COLS " FROM sip_messages WHERE call_row IS NULL"
                            " ORDER BY time, id"
                          : "SELECT " MESSAGE_COLS " FROM sip_messages ORDER BY time, id";
    return walk_sql(s, sql, call_row > 0, call_row, WALK_MESSAGES(cb, ctx), NULL);
}

/* ---- Counts. */

static int count_rows(store_t *s, const char *sql, int64_t *out)
{
    int err = store_int_check_open(s);
    return err != 0 ? err : store_int_query_i64(s, sql, out);
}

int store_count_calls(store_t *s, int64_t *out)
{
    return count_rows(s, "SELECT count(*) FROM calls", out);
}

int store_count_streams(store_t *s, int64_t *out)
{
    return count_rows(s, "SELECT count(*) FROM rtp_streams", out);
}

int store_count_samples(store_t *s, int64_t *out)
{
    return count_rows(s, "SELECT count(*) FROM stream_samples", out);
}

int store_count_messages(store_t *s, int64_t *out)
{
    return count_rows(s, "SELECT count(*) FROM sip_messages", out);
}
