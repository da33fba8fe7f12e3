/* store_int: internals shared by the store's own files (store.c, query.c); no other module. */
#ifndef SIPSCOPE_STORE_INT_H
#define SIPSCOPE_STORE_INT_H

#include <stdint.h>

#include <sqlite3.h>

#include "store.h"

/* Column lists of the read path; the row decoders read them by position. */
#define CALL_COLS                                                                                  \
    "id, call_id, from_uri, to_uri, from_tag, to_tag, user_agent, caller, callee, state,"          \
    " final_status, invite_time, ringing_time, answer_time, end_time, post_dial_delay_ms,"         \
    " duration_s, one_way, nat, sip_messages, mos"
#define STREAM_COLS                                                                                \
    "id, call_row, call_id, src, dst, ssrc, payload_type, codec, clock_rate, first_time,"          \
    " last_time, packets, lost, duplicates, out_of_order, seq_errors, max_delta_ms,"               \
    " mean_jitter_ms, max_jitter_ms, mos, sdp_mismatch, rtcp_fraction_lost,"                       \
    " rtcp_cumulative_lost, rtcp_jitter_ms, rtcp_rtt_ms"
#define MESSAGE_COLS                                                                               \
    "id, call_row, call_id, time, src, dst, transport, is_request, method, status, cseq, raw,"   \
    " probe"

/* The connection (borrowed; NULL once closed or failed). */
sqlite3 *store_int_db(store_t *s);
/* 0 if s is open, else -EINVAL with the reason recorded. */
int store_int_check_open(store_t *s);
/* Record a failure (counted in stats.errors, text for store_errmsg); return the -errno value. */
int store_int_fail_sql(store_t *s, int sqlite_rc, const char *what);
int store_int_fail_msg(store_t *s, int err, const char *what, const char *why);
/* Decode the current row of a "SELECT CALL_COLS" / "SELECT STREAM_COLS" statement. Strings are
 * borrowed from the statement until its next step. */
void store_int_row_call(sqlite3_stmt *st, call_record_t *c);
void store_int_row_stream(sqlite3_stmt *st, stream_record_t *r);
/* Times as the schema keeps them: REAL epoch seconds <-> ns (rounded to the microsecond). */
double store_int_ns_to_sec(int64_t ns);
int64_t store_int_sec_to_ns(double sec);


/* ---- WHERE clauses (store/where.c): SQL only from fixed fragments, values only as bound
 * parameters, so no filter text can change a query. */
#define QW_MAX_PARAMS 20

typedef enum { QP_TEXT, QP_DBL, QP_I64 } qparam_kind_t;

typedef struct {
    char sql[1536];
    size_t len;
    bool overflow;
    bool have_where;
    int nparams;
    struct {
        qparam_kind_t kind;
        const char *text;
        double dbl;
        int64_t i64;
    } params[QW_MAX_PARAMS];
} qw_t;

/* Append a fixed SQL fragment. Overflow of the buffer sets w->overflow (the query then fails). */
void qw_add(qw_t *w, const char *frag);
/* A condition: " WHERE frag" for the first, " AND frag" after. */
void qw_cond(qw_t *w, const char *frag);
/* The value of the next '?'. */
void qw_text(qw_t *w, const char *text);
void qw_dbl(qw_t *w, double v);
void qw_i64(qw_t *w, int64_t v);
/* Bind w's parameters to st, prepared from a text containing w->sql. 0 or -errno. */
int qw_bind(store_t *s, sqlite3_stmt *st, const qw_t *w, const char *what);
/* Prepare w->sql and bind; *st is NULL on failure. 0 or -errno. */
int qw_prepare(store_t *s, const qw_t *w, const char *what, sqlite3_stmt **st);


/* ---- Binding (store/bind.c). Text is bound SQLITE_STATIC: it must stay valid until the
 * statement has run (caller's records, the function's own buffers, the binder's endpoints). */
/* Binds parameters in order, remembering the first failure (so a too-big value is never
 * silently left unbound). Endpoint text lives in the binder until the statement has run. */
typedef struct {
    sqlite3_stmt *st;
    int i;
    int rc;
    int nep;
    char ep[2][NET_ENDPOINT_STRLEN];
} binder_t;

void b_rc(binder_t *b, int rc);
void b_null(binder_t *b);
void b_i64(binder_t *b, int64_t v);
void b_dbl(binder_t *b, double v);
/* Text of len bytes (NULL p binds NULL). */
void b_text(binder_t *b, const char *p, size_t len);
void b_str(binder_t *b, const char *p);
/* A time in ns; 0 (none) binds NULL. */
void b_time(binder_t *b, int64_t ns);
/* An endpoint as "IP:PORT"; family 0 (none) binds NULL. At most two per binder. */
void b_endpoint(binder_t *b, const net_endpoint_t *e);

#endif
