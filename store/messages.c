/* messages: the SIP message list of the HTTP API (GET /api/v1/messages): filtered pages of
 * sip_messages, newest first, and one message by id. */
#include "store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* What the WHERE clause binds, owned for the statement's life. */
typedef struct {
    store_search_t search; /* the filter's search (zeroed: none) */
    char net[NET_ADDR_STRLEN];
} msg_where_t;

static int msg_where(store_t *s, const store_message_filter_t *f, msg_where_t *mw, qw_t *w)
{
    if (f == NULL)
        return 0;
    if (f->n_methods < 0 || f->n_methods > STORE_MAX_METHODS ||
        (f->src.family != 0 && f->src.family != 4 && f->src.family != 6))
        return store_int_fail_msg(s, -EINVAL, "query messages", "bad filter");
    if (f->n_methods > 0) {
        qw_cond(w, "method IN (?");
        qw_text(w, f->methods[0]);
        for (int i = 1; i < f->n_methods; i++) {
            qw_add(w, ", ?");
            qw_text(w, f->methods[i]);
        }
        qw_add(w, ")");
    }
    if (f->since_ns != 0) {
        qw_cond(w, "time >= ?");
        qw_dbl(w, store_int_ns_to_sec(f->since_ns));
    }
    if (f->until_ns != 0) {
        qw_cond(w, "time < ?");
        qw_dbl(w, store_int_ns_to_sec(f->until_ns));
    }
    if (f->status_min != 0 || f->status_max != 0) {
        qw_cond(w, "status BETWEEN ? AND ?");
        qw_i64(w, f->status_min);
        qw_i64(w, f->status_max);
    }
    if (f->has_in_call)
        qw_cond(w, f->in_call ? "call_row IS NOT NULL" : "call_row IS NULL");
    if (f->src.family != 0) {
        unsigned bits = f->src.family == 4 ? 32 : 128;
        net_addr_str(&f->src, mw->net, sizeof(mw->net));
        qw_cond(w, "sipscope_ip_in(src, ?, ?)");
        qw_text(w, mw->net);
        qw_i64(w, f->src_prefix > bits ? bits : f->src_prefix);
    }
    if (f->user != NULL) {
        qw_cond(w, "sipscope_sip_user_is(raw, ?)");
        qw_text(w, f->user);
    }
    if (f->search != NULL) {
        int err = store_int_search_init(s, f->search, "query messages", &mw->search);
        if (err != 0)
            return err;
        qw_cond(w, "");
        store_int_search_cond(w, &mw->search);
    }
    return 0;
}

/* Step st, handing each row (id, then the message's columns) to cb; finalizes st. */
static int walk_messages(store_t *s, sqlite3_stmt *st, store_message_cb cb, void *ctx,
                         int64_t *rows)
{
    int ret = 0, rc;
    int64_t n = 0;
    while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        message_record_t m;
        store_int_row_read(st, 1, &message_record_desc, &m);
        n++;
        ret = cb(ctx, sqlite3_column_int64(st, 0), &m);
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = store_int_fail_sql(s, rc, "query messages");
    sqlite3_finalize(st);
    if (rows != NULL)
        *rows = n;
    return ret;
}

static int count_messages(store_t *s, const store_message_filter_t *f, int64_t *total)
{
    msg_where_t mw = {0};
    qw_t w = {0};
    qw_add(&w, "SELECT count(*) FROM sip_messages");
    int err = msg_where(s, f, &mw, &w);
    sqlite3_stmt *st = NULL;
    if (err == 0)
        err = qw_prepare(s, &w, "count messages", &st);
    if (err == 0) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            *total = sqlite3_column_int64(st, 0);
        else
            err = store_int_fail_sql(s, rc, "count messages");
        sqlite3_finalize(st);
    }
    store_int_search_free(&mw.search);
    return err;
}

int store_query_messages(store_t *s, const store_message_filter_t *filter, int64_t limit,
                         int64_t offset, store_message_cb cb, void *ctx, int64_t *total)
{
    int err = store_int_check_open(s);
    if (err == 0 && (offset < 0 || (cb == NULL && limit != 0)))
        err = store_int_fail_msg(s, -EINVAL, "query messages", "bad paging or no callback");
    if (err == 0 && total != NULL)
        err = count_messages(s, filter, total);
    if (err != 0 || limit == 0 || (total != NULL && offset >= *total))
        return err;
    msg_where_t mw = {0};
    qw_t w = {0};
    qw_add(&w, "SELECT id, ");
    qw_add(&w, store_int_columns(&message_record_desc));
    qw_add(&w, " FROM sip_messages");
    err = msg_where(s, filter, &mw, &w);
    qw_add(&w, " ORDER BY time DESC, id DESC LIMIT ? OFFSET ?");
    qw_i64(&w, limit < 0 ? -1 : limit);
    qw_i64(&w, offset);
    sqlite3_stmt *st;
    if (err == 0)
        err = qw_prepare(s, &w, "query messages", &st);
    if (err == 0)
        err = walk_messages(s, st, cb, ctx, NULL);
    store_int_search_free(&mw.search);
    return err;
}

int store_get_message(store_t *s, int64_t id, store_message_cb cb, void *ctx)
{
    int err = store_int_check_open(s);
    if (err == 0 && cb == NULL)
        err = store_int_fail_msg(s, -EINVAL, "get message", "no callback");
    if (err != 0)
        return err;
    qw_t w = {0};
    qw_add(&w, "SELECT id, ");
    qw_add(&w, store_int_columns(&message_record_desc));
    qw_add(&w, " FROM sip_messages WHERE id = ?");
    qw_i64(&w, id);
    sqlite3_stmt *st;
    int64_t rows = 0;
    err = qw_prepare(s, &w, "get message", &st);
    if (err == 0)
        err = walk_messages(s, st, cb, ctx, &rows);
    if (err == 0 && rows == 0)
        err = store_int_fail_msg(s, -ENOENT, "get message", "no such message");
    return err;
}
