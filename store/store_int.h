/* store_int: internals shared by the store's own files (store.c, schema.c, store_write.c,
 * store_read.c, prune.c, query.c, security.c, where.c, bind.c, callpcap.c, callpcap_read.c); no
 * other module. */
#ifndef SIPSCOPE_STORE_INT_H
#define SIPSCOPE_STORE_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "netaddr.h"
#include "record_desc.h"
#include "store.h"
#include "sv.h"

#define STR_(x) #x
#define STR(x)  STR_(x)

/* ---- The Internet checksum of the IP, UDP and TCP headers the per-call pcaps write
 * (callpcap.c, callpcap_read.c). */

/* RFC 1071 one's complement sum of p's n bytes (big-endian 16-bit words), continued from sum. */
static inline uint32_t store_int_csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        sum += (uint32_t)p[n - 1] << 8;
    return sum;
}

/* The checksum of a sum: carries folded in, complemented. */
static inline uint16_t store_int_csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* ---- Records and their columns, from the descriptors of common/record_desc.h. A record's
 * columns are its stored fields' columns in list order, then, when it has "$.key" fields
 * (registrations, alerts), its details column: one JSON object of those keys. */

/* The column of the JSON object of a record's "$.key" fields. */
#define STORE_DETAILS_COLUMN "details"

/* A field kept in a column of its record's table (not a "$.key" of a details JSON). */
static inline bool store_int_field_stored(const record_field_t *f)
{
    return f->column != NULL && f->column[0] != '$';
}

/* A key of its record's details JSON: column "$.key". */
static inline bool store_int_field_detail(const record_field_t *f)
{
    return f->column != NULL && f->column[0] == '$';
}

/* The details keys of d in the order of the JSON object (and of the columns read back), at
 * most cap of them into out; returns how many (store/store_read.c). */
size_t store_int_details(const record_desc_t *d, const record_field_t **out, size_t cap);
/* "c1, c2, ...": the columns the row readers read, in order, a details key as
 * json_extract(details, '$.key') (store/store_read.c). Static. */
const char *store_int_columns(const record_desc_t *d);
/* The INSERT of statement which (ST_PUT_*), NULL for the others (store/store_write.c). Static. */
const char *store_int_put_sql(int which);

/* ---- The connection, errors, statements and batches (store/store.c). */

/* Statements prepared once at open (write path); their SQL is write_sql in store.c. */
enum {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_PUT_CALL,
    ST_PUT_STREAM,
    ST_PUT_SAMPLE,
    ST_PUT_MESSAGE,
    ST_SET_META,
    ST_ADD_META,
    ST_COUNT
};

/* Upserts security.c prepares for each write (rare: not kept prepared), their SQL and binds
 * from the descriptors as for the ST_PUT_* above. */
enum { ST_PUT_REGISTRATION = ST_COUNT, ST_PUT_ALERT, ST_PUT_DTMF };

/* The connection (borrowed; NULL once closed or failed). */
sqlite3 *store_int_db(store_t *s);
/* 0 if s is open, else -EINVAL with the reason recorded. */
int store_int_check_open(store_t *s);
/* A budget for the statements that follow: once ns of wall time have passed the running
 * statement is interrupted (SQLITE_INTERRUPT) and store_int_over_budget says so; 0 removes it.
 * Lets a query try a plan that is usually fast and give up on it for a surer one. */
void store_int_set_budget(store_t *s, int64_t ns);
/* For tests: a walk's budget in ns when >= 0 (store_query_calls_sorted), and how many walks
 * gave up for the other plan. */
extern int64_t store_int_walk_budget_ns;
extern _Atomic uint64_t store_int_walks_given_up;
bool store_int_over_budget(const store_t *s);
/* 0 if s is open read-write, else -EINVAL or -EROFS with the reason recorded. */
int store_int_check_writable(store_t *s);
/* Record a failure (counted in stats.errors, text for store_errmsg); return the -errno value. */
int store_int_fail_sql(store_t *s, int sqlite_rc, const char *what);
int store_int_fail_msg(store_t *s, int err, const char *what, const char *why);

/* Prepare sql; *st is NULL on failure (recorded as "prepare"). 0 or -errno. */
int store_int_prepare(store_t *s, const char *sql, sqlite3_stmt **st);
/* Run sql (any number of statements, no rows wanted). 0 or -errno. */
int store_int_exec(store_t *s, const char *sql, const char *what);
/* Step st to its end (rows ignored), then reset it. 0 or -errno. */
int store_int_run(store_t *s, sqlite3_stmt *st, const char *what);
/* store_int_run on the statement prepared at open, which is one of ST_*. */
int store_int_run_st(store_t *s, int which, const char *what);
/* First column of the first row of sql as an integer (0 when no row). 0 or -errno. */
int store_int_query_i64(store_t *s, const char *sql, int64_t *out);

/* Commit the open batch, if any. 0 or -errno (on -EBUSY the batch stays open for a retry). */
int store_int_batch_commit(store_t *s);

/* ---- The call aggregate kept by a writable store (store/agg.c, agg.h). */

typedef struct store_agg store_agg_t;
/* The store's (NULL: read-only, or not open yet); set once by store_agg_ensure. */
store_agg_t *store_int_agg(store_t *s);
void store_int_set_agg(store_t *s, store_agg_t *a);
void store_agg_writer_free(store_agg_t *a);
/* What the call row call_id counts now (nothing if none, or not finished), times sign (+1, -1),
 * into the sums of the open batch. 0 or -errno (then the batch's sums are wrong, and
 * store_agg_flush fails: the batch is rolled back rather than committed with them). */
int store_agg_take(store_t *s, int64_t call_id, int sign);
/* Add the batch's sums to the tables (in the open transaction, right before its COMMIT), then
 * forget them; store_agg_discard forgets them (the transaction was rolled back). */
int store_agg_flush(store_t *s);
void store_agg_discard(store_t *s);
/* Count the calls still active, as they are about to be closed (store_close_interrupted), in
 * the open transaction. 0 or -errno. */
int store_agg_add_active(store_t *s);

/* Times as the schema keeps them: REAL epoch seconds <-> ns (rounded to the microsecond). */
double store_int_ns_to_sec(int64_t ns);
int64_t store_int_sec_to_ns(double sec);

/* ---- Schema (store/schema.c). Each 0 or -errno, with the reason recorded. */

/* Refuse a database written by a newer sipscope (-ENOTSUP). */
int store_int_check_not_newer(store_t *s);
/* For a read-only store: the schema must be exactly ours (-ENOTSUP otherwise). */
int store_int_check_version(store_t *s);
/* Bring the schema up to STORE_SCHEMA_VERSION, one transaction per step; *migrated says
 * whether a step ran. */
int store_int_migrate(store_t *s, bool *migrated);

/* ---- Column readers. Text is borrowed from the statement until its next step. */

/* Text, or "" for NULL. */
static inline const char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

static inline const char *col_text_or_null(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

static inline bool col_is_null(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL;
}

/* A time in ns; NULL reads as 0 (none). */
static inline int64_t col_time(sqlite3_stmt *st, int i)
{
    return col_is_null(st, i) ? 0 : store_int_sec_to_ns(sqlite3_column_double(st, i));
}

/* An "IP:PORT" column; NULL (none) and anything unparsable both give a zeroed endpoint. */
static inline void col_endpoint(sqlite3_stmt *st, int i, net_endpoint_t *e)
{
    const char *t = col_text_or_null(st, i);
    net_endpoint_parse(t ? sv_make(t, (size_t)sqlite3_column_bytes(st, i)) : SV_NULL, e);
}

/* Decode the record d of the current row, whose columns from col on are store_int_columns(d)
 * (store/store_read.c). Strings are borrowed from the statement until its next step. */
void store_int_row_read(sqlite3_stmt *st, int col, const record_desc_t *d, void *rec);
/* The same for a row that starts with store_int_columns of calls / streams. */
void store_int_row_call(sqlite3_stmt *st, call_record_t *c);
void store_int_row_stream(sqlite3_stmt *st, stream_record_t *r);

/* ---- WHERE clauses (store/where.c): SQL only from fixed fragments, values only as bound
 * parameters, so no filter text can change a query. */
#define QW_MAX_PARAMS 64

typedef enum { QP_TEXT, QP_DBL, QP_I64 } qparam_kind_t;

typedef struct {
    char sql[4096];
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

/* ---- A full-text search of the SIP messages (store/call_where.c): the FTS5 index up to
 * fts.indexed_id, the words' substrings in the messages beyond it. */
typedef struct {
    char *fts;                          /* the search as an FTS5 query (store_fts_query) */
    char *like[STORE_MAX_SEARCH_WORDS]; /* its words as LIKE patterns (rows not indexed) */
    int n_like;
} store_search_t;

/* Build se from text (what names the query in the store's error). 0; -EINVAL (nothing to
 * search for, more than STORE_MAX_SEARCH_WORDS words) or -ENOMEM, with the store's error set and
 * nothing to free. */
int store_int_search_init(store_t *s, const char *text, const char *what, store_search_t *se);
/* Append "(...)": true for a row of sip_messages (its id and raw) that se matches. */
void store_int_search_cond(qw_t *w, const store_search_t *se);
void store_int_search_free(store_search_t *se);

/* ---- The WHERE clause of a call filter (store/call_where.c). */
typedef struct {
    char *q_like;  /* the filter's q as a LIKE pattern, or NULL */
    char *ua_like; /* its user_agent likewise */
    bool has_search;
    store_search_t search; /* its search, when has_search */
    char ip_text[NET_ADDR_STRLEN];
    unsigned ip_prefix;
    char ip_lo[NET_ADDR_STRLEN + 4], ip_hi[NET_ADDR_STRLEN + 4]; /* text range of ip's endpoints */
} call_where_t;

/* Check filter f and build what its clause binds into cw (freed by store_int_call_where_free,
 * also after a failure). 0, -EINVAL (bad filter), -ENOMEM. */
int store_int_call_where_init(store_t *s, const store_call_filter_t *f, call_where_t *cw);
void store_int_call_where_free(call_where_t *cw);
/* Append f's conditions to w (walk_order: the page walks sort's index; see call_where.c). */
void store_int_call_where(const store_call_filter_t *f, const call_where_t *cw, bool walk_order,
                          store_call_sort_t sort, qw_t *w);

/* ---- SQL functions (store/sqlfn.c), registered on every connection. */
int store_int_register_functions(store_t *s);
/* Does a lie in net/prefix (same family)? */
bool store_int_addr_in_net(const net_addr_t *a, const net_addr_t *net, unsigned prefix);

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

/* ---- Batched writes (store/store.c): put_begin, bind the row with b_*, put_end. */

/* Begin the batch if needed and point b at the statement which (one of ST_*), reset for a new
 * row. 0 or -errno (s not writable, BEGIN failed). */
int store_int_put_begin(store_t *s, int which, binder_t *b);
/* Run the bound statement in the batch; commit when the batch is full. 0 or -errno. */
int store_int_put_end(store_t *s, binder_t *b, const char *what);
/* put_end in two: run the bound statement in the batch, then commit if the batch is full. */
int store_int_put_step(store_t *s, binder_t *b, const char *what);
int store_int_commit_if_full(store_t *s);
/* Bind the row rec of statement which (an ST_PUT_*, prepared from store_int_put_sql) to b
 * (store/store_write.c); a failure is left in b->rc. */
void store_int_put_bind(binder_t *b, int which, const void *rec);

#endif
