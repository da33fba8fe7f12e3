/* store: SQLite persistence of calls, messages, streams and samples, with batched writes. */
#ifndef SIPSCOPE_STORE_H
#define SIPSCOPE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "records.h"

/* One store_t is one SQLite connection. It holds no global state, but a store_t must be used by
 * one thread at a time: give the writer thread its own and each reader (HTTP API) its own.
 * Readers on other connections see rows once the writer's batch commits (WAL: readers never
 * block the writer, nor the writer them).
 *
 * Results are 0 (or a count where stated) on success and a negative errno value on failure:
 *   -EINVAL bad argument, -ENOMEM, -EBUSY database locked beyond the busy timeout,
 *   -EROFS write on a read-only store, -ENOENT no such row/key, -ENOTSUP schema version this
 *   program cannot use, -ENOSPC disk full, -EIO any other SQLite error.
 * After a failure store_errmsg() says what went wrong.
 *
 * Times: records carry ns since the epoch (0 = none); the database keeps REAL epoch seconds
 * (NULL = none), so times read back are rounded to the microsecond, the report's resolution. */
typedef struct store store_t;

#define STORE_SCHEMA_VERSION   10    /* PRAGMA user_version this code creates and reads */
#define STORE_DEFAULT_BATCH    4096  /* rows per write transaction */
#define STORE_DEFAULT_BUSY_MS  5000  /* how long to wait for another connection's lock */
#define STORE_DEFAULT_CACHE_KB 16384 /* SQLite's page cache per connection */

typedef struct {
    uint32_t batch_rows;      /* rows per write transaction; 0 = STORE_DEFAULT_BATCH */
    uint32_t busy_timeout_ms; /* 0 = STORE_DEFAULT_BUSY_MS */
    bool read_only;           /* no writes, no migration: the schema must already be current */
    uint32_t cache_kb;        /* page cache; 0 = STORE_DEFAULT_CACHE_KB */
} store_opts_t;

/* Open (creating if needed) the database at path; ":memory:" gives a private in-memory one.
 * Sets WAL mode (files), synchronous=NORMAL, the busy timeout, and migrates the schema to
 * STORE_SCHEMA_VERSION, each migration in its own transaction. A database written by a newer
 * program (user_version above STORE_SCHEMA_VERSION) is refused with -ENOTSUP.
 * path is borrowed. On success *out is a new store the caller releases with store_close.
 * On failure *out is NULL only for -ENOMEM; otherwise it is a failed handle that accepts
 * nothing but store_errmsg and store_close, so the caller can print why, then close it. */
int store_open(const char *path, store_t **out);
/* Same with options; opts may be NULL for the defaults. */
int store_open_opts(const char *path, const store_opts_t *opts, store_t **out);
/* Commit pending rows, then close and free. NULL is a no-op. Returns the flush's result (the
 * store is freed either way). */
int store_close(store_t *s);
/* The last error's message, owned by the store, valid until its next call; never NULL
 * (store_errmsg(NULL) explains a NULL handle as out of memory). */
const char *store_errmsg(const store_t *s);
/* While gone is set, SQLite calls gone(ctx) about every millisecond of a query on s; nonzero
 * interrupts the query, which then fails with -EINTR (the API: a client that went away stops
 * costing CPU). NULL clears it. */
void store_set_interrupt(store_t *s, int (*gone)(void *ctx), void *ctx);

/* Counters of the write path (for /metrics). */
typedef struct {
    uint64_t rows_committed; /* rows whose batch committed */
    uint64_t rows_dropped;   /* rows lost because their batch failed to commit */
    uint64_t commits;        /* batches committed */
    uint64_t errors;         /* failed calls of any store function */
} store_stats_t;

void store_get_stats(const store_t *s, store_stats_t *out);

/* ---- Writing. Every put joins the open batch (a write transaction, begun on demand); the batch
 * commits after batch_rows rows, on store_flush and on store_close. Records and their strings
 * are borrowed for the duration of the call. A failed put leaves the batch intact. When a
 * commit fails its rows are rolled back and counted in rows_dropped. */

/* Insert the call, or update every column of the row with the same id (a call is written
 * again each time it changes). from_user/to_user are extracted from the URIs for lookups. */
int store_put_call(store_t *s, const call_record_t *c);
/* Insert or update by id, as store_put_call. */
int store_put_stream(store_t *s, const stream_record_t *r);
/* Insert, or replace the sample with the same (stream_row, start_ns). */
int store_put_sample(store_t *s, const sample_record_t *r);
/* Append a message. */
int store_put_message(store_t *s, const message_record_t *m);
/* Same; *id_out (may be NULL) receives the message's row id (for alerts' sample ids). */
int store_put_message_id(store_t *s, const message_record_t *m, int64_t *id_out);
/* The first row id free in sip_messages (1 + the largest, 1 for none), or 0 on error: seeds
 * the message ids the correlator assigns (message_record_t.id), which alerts' samples name. */
int64_t store_next_message_id(store_t *s);
/* Set a meta key (key and value borrowed; value text or integer). */
int store_set_meta(store_t *s, const char *key, const char *value);
int store_set_meta_i64(store_t *s, const char *key, int64_t value);
/* Capture totals, accumulated in meta under the same key names, so that after several analyses
 * into one database the figures describe all of its content. */
typedef struct {
    uint64_t packets, bytes;
    uint64_t sip_messages, rtp_packets, rtcp_packets;
    uint64_t malformed;
} store_meta_t;

/* Add each figure to its meta key (an absent key counts as 0). m is borrowed. */
int store_add_totals(store_t *s, const store_meta_t *m);
/* Read the accumulated totals (absent keys read as 0). */
int store_get_totals(store_t *s, store_meta_t *out);
/* Commit the open batch, if any. */
int store_flush(store_t *s);
/* fn runs right before every commit of a batch (store_flush, a full batch, store_close), even
 * with no batch open, to write what its owner held back (the writer's deferred snapshots,
 * store/deferred.h): the rows it writes go into the batch being committed (no commit by row
 * count while it runs). NULL: none. */
void store_set_precommit(store_t *s, int (*fn)(void *ctx), void *ctx);
/* The first row id free in both calls and rtp_streams (their ids share one counter in the
 * correlator): 1 + the largest id stored, or 1 for an empty database, or 0 on error (see
 * store_errmsg). Use it to seed the correlator so that a new analysis appended to an existing
 * database never overwrites its rows. */
int64_t store_next_id(store_t *s);
/* After an abrupt stop (crash, kill -9) of the sipscope that wrote them, calls still marked
 * active are left as their last snapshot: mark them active = 0, interrupted = 1 (and their
 * streams inactive). A command that writes calls runs this when it opens the store, before it
 * writes anything (so it assumes no other writer is running on the same database). *calls_out
 * (may be NULL): how many calls. 0 or a negative errno-style code. */
int store_close_interrupted(store_t *s, int64_t *calls_out);

/* ---- Reading. Callbacks get records whose strings (and the record) are valid only during the
 * callback. They return 0 to go on; anything else stops the walk and is returned by it.
 * Text columns come back as "" when absent, except stream/message call_id, which is NULL when
 * the row belongs to no call. Reads see this store's own uncommitted batch. A callback must not
 * write to the same store. */
typedef int (*store_call_cb)(void *ctx, const call_record_t *c);
typedef int (*store_stream_cb)(void *ctx, const stream_record_t *r);
typedef int (*store_sample_cb)(void *ctx, const sample_record_t *r);
typedef int (*store_message_cb)(void *ctx, int64_t id, const message_record_t *m);

/* All calls by invite time, then id. */
int store_foreach_call(store_t *s, store_call_cb cb, void *ctx);
/* The call with this id; -ENOENT if none. */
int store_get_call(store_t *s, int64_t id, store_call_cb cb, void *ctx);
/* Streams by first time, then id: call_row > 0 that call's, 0 those no call announced,
 * negative all of them. */
int store_foreach_stream(store_t *s, int64_t call_row, store_stream_cb cb, void *ctx);
/* One stream's samples by start time. */
int store_foreach_sample(store_t *s, int64_t stream_row, store_sample_cb cb, void *ctx);
/* Messages by time, then id; call_row as for streams. */
int store_foreach_message(store_t *s, int64_t call_row, store_message_cb cb, void *ctx);
/* The row id of call_row's message at time_s (epoch seconds, within 1 ms; the first by id when
 * several are as near): how a call's reasons name their messages (they know only the time).
 * -ENOENT (*id 0) when there is none. */
int store_message_at(store_t *s, int64_t call_row, double time_s, int64_t *id);

/* DTMF digits (store/dtmf.c): append one (joins the open batch); a call's in time order. */
int store_put_dtmf(store_t *s, const dtmf_record_t *d);
typedef int (*store_dtmf_cb)(void *ctx, const dtmf_record_t *d);
int store_foreach_dtmf(store_t *s, int64_t call_row, store_dtmf_cb cb, void *ctx);

/* Copy a meta value as text into buf (cap bytes, NUL-terminated). -ENOENT if the key is absent,
 * -ENOSPC if buf is too small (buf then holds a truncated copy). */
int store_get_meta(store_t *s, const char *key, char *buf, size_t cap);
/* A meta value as an integer; -ENOENT if absent, -EINVAL if it is not an integer. */
int store_get_meta_i64(store_t *s, const char *key, int64_t *out);

/* Row counts into *out. */
int store_count_calls(store_t *s, int64_t *out);
/* Calls in progress (active snapshots of a running capture): a look-up in calls_active. */
int store_count_active_calls(store_t *s, int64_t *out);
int store_count_streams(store_t *s, int64_t *out);
int store_count_samples(store_t *s, int64_t *out);
int store_count_messages(store_t *s, int64_t *out);

/* Filter of store_query_calls. Zero-initialised means "every call"; each set field narrows.
 * Strings are borrowed, matched as plain data (no wildcards, no SQL), and must be NUL-free. */
typedef struct {
    unsigned state_mask;   /* bits 1u << call_state_t; 0 = any state */
    const char *call_id;   /* exact Call-ID, or NULL */
    const char *from_user; /* user part of From (the URI's user, e.g. "alice"), or NULL */
    const char *to_user;   /* likewise for To */
    bool user_exact;       /* from_user/to_user: true exact (case-sensitive, indexed),
                            * false substring (ASCII case-insensitive) */
    int64_t since_ns;      /* invite time >= since_ns; 0 = unbounded */
    int64_t until_ns;      /* invite time < until_ns; 0 = unbounded */
    bool has_min_mos, has_max_mos;
    double min_mos, max_mos;   /* inclusive; calls without media (no MOS) never match */
    const char *q;             /* substring (ASCII case-insensitive) of Call-ID, From or To URI */
    bool has_one_way, one_way; /* one_way flag equal to one_way */
    bool has_nat, nat;         /* nat flag equal to nat */
    /* final_status in [status_min, status_max]; both 0 = any (486..486 one code, 400..499 a
     * class) */
    uint16_t status_min, status_max;
    /* caller, callee, or any stream's source or destination address in ip / ip_prefix bits
     * (32 or 128 for one address); ip.family 0 = any */
    net_addr_t ip;
    unsigned ip_prefix;
    const char *user_agent; /* substring (ASCII case-insensitive) of the caller's User-Agent */
    const char *codec;      /* a stream's codec name, ASCII case-insensitive ("PCMU", "opus") */
    bool has_probe; /* a message of the call, or a stream's quality report, came from probe */
    uint32_t probe;
    bool has_min_loss; /* a stream lost at least min_loss_pct percent of its expected packets */
    double min_loss_pct;
    bool has_min_duration; /* duration_s >= min_duration_s */
    double min_duration_s;
    bool has_min_pdd; /* post_dial_delay_ms >= min_pdd_ms */
    double min_pdd_ms;
    unsigned verdict_mask; /* bits 1u << verdict_t; 0 = any verdict */
    /* Full text over every stored SIP message of the call (headers and body; SQLite FTS5, see
     * store_fts_query): words separated by spaces, each matched as a prefix of a word of the
     * message, all of them in one message. NULL = any. */
    const char *search;
    bool has_active; /* filter on active: */
    bool active;     /*   true = calls in progress (snapshots), false = the others */
} store_call_filter_t;

/* Full-text index of the messages (schema v10): index up to max_rows of the messages not yet
 * indexed, in id order, in one transaction; *indexed (may be NULL) receives how many. Needs a
 * writable store; meant for a background thread (the API server's), not the capture's writer.
 * 0 or -errno. */
int store_fts_catch_up(store_t *s, int64_t max_rows, int64_t *indexed);

/* The FTS5 query of a search text (store_call_filter_t.search): each word separated by spaces
 * as a quoted phrase with a prefix star ("word"*), all of them required; words without a
 * letter or digit are left out. NULL when nothing is left to search for (or out of memory).
 * Caller frees. */
char *store_fts_query(const char *text);
#define STORE_MAX_SEARCH_WORDS      8   /* words of a search (more are refused) */
#define STORE_MAX_SEARCH_WORD_BYTES 128 /* a longer word is cut for the unindexed rows */

/* Calls matching filter (NULL = all), newest invite first, id descending on ties; skip offset
 * rows, hand at most limit (negative = no limit; 0 = none, for counting only). *total (may be
 * NULL) receives the number of matches before paging. -EINVAL for a negative offset or NaN MOS
 * bounds. */
int store_query_calls(store_t *s, const store_call_filter_t *filter, int64_t limit, int64_t offset,
                      store_call_cb cb, void *ctx, int64_t *total);

/* Filter of store_query_messages; zero-initialised means every message. Strings borrowed. */
#define STORE_MAX_METHODS 8
typedef struct {
    const char *methods[STORE_MAX_METHODS]; /* method (of a request, or a response's CSeq), exact */
    int n_methods;                          /* 0 = any method */
    const char *user; /* the user part of the From or To URI, exact, or NULL */
    net_addr_t src;   /* source address in src / src_prefix bits; family 0 = any */
    unsigned src_prefix;
    uint16_t status_min, status_max; /* responses whose status is in the range; 0, 0 = any */
    int64_t since_ns, until_ns;      /* time >= since, time < until; 0 = unbounded */
    bool has_in_call;                /* true: only messages of a call; false: of none */
    bool in_call;
    const char *search; /* full text, as store_call_filter_t's (store_fts_query), or NULL */
} store_message_filter_t;

/* Messages matching filter (NULL = all), newest first (time, then id, descending); paging and
 * *total as store_query_calls. The callback gets each message's row id beside it. */
int store_query_messages(store_t *s, const store_message_filter_t *filter, int64_t limit,
                         int64_t offset, store_message_cb cb, void *ctx, int64_t *total);
/* The message with this row id; -ENOENT if none. */
int store_get_message(store_t *s, int64_t id, store_message_cb cb, void *ctx);

/* Retention. Deletes, oldest first:
 *   - calls whose invite time is before older_than_ns (an absolute epoch-ns cutoff; 0 = no age
 *     limit), with their messages, streams and the streams' samples; also messages and streams
 *     of no call, registrations and alerts last seen before the cutoff;
 *   - then, while the database's used size exceeds max_bytes (0 = no size limit), the oldest
 *     rows of the same kinds, a slice at a time, until it fits or nothing is left.
 * Work is done in transactions of a bounded number of calls so that no lock is held for long
 * (readers are never blocked in WAL mode; another writer waits at most one slice). The open
 * batch is flushed first. Freed pages are returned to the file system by
 * PRAGMA incremental_vacuum (databases created by this code use auto_vacuum=INCREMENTAL) and
 * the WAL is checkpointed (PASSIVE: it never waits for readers; journal_size_limit caps the
 * WAL file's size). *calls_deleted (may be NULL) receives the number of calls removed. */
int store_prune(store_t *s, int64_t older_than_ns, int64_t max_bytes, int64_t *calls_deleted);

/* Bytes in use by the database ((page_count - freelist_count) * page_size) into *out. */
int store_used_bytes(store_t *s, int64_t *out);

/* ==== Reads for the HTTP API (store/query.c) ============================================
 * Same conventions as above: 0 or a count on success, negative errno on failure (see
 * store_errmsg), records and strings borrowed for the duration of a callback, every value of a
 * filter bound as a parameter (no request text ever becomes SQL). */

/* Create, if absent, the indexes the API's counting and sorting lean on: calls(state, mos),
 * calls(duration_s), calls(post_dial_delay_ms), rtp_streams(first_time). Idempotent and cheap
 * once they exist; the first run on a million calls takes a few seconds. Needs a writable
 * store. Not part of the migrations: a database without them is still fully usable, only
 * slower to sort and count (so an old database served read-only still works). */
int store_add_query_indexes(store_t *s);

typedef enum {
    STORE_SORT_INVITE_TIME = 0,
    STORE_SORT_MOS,
    STORE_SORT_DURATION,
    STORE_SORT_PDD,   /* post-dial delay */
    STORE_SORT_WORST, /* verdict_severity, then MOS the other way (worst first when descending) */
    STORE_SORT_COUNT
} store_call_sort_t;

/* store_query_calls with a choice of order: by sort key, ascending or not, id in the same
 * direction on ties (stable paging). A call without a value for the key (no MOS, not answered,
 * no PDD) sorts as the lowest value. Filter, paging and *total as for store_query_calls. */
int store_query_calls_sorted(store_t *s, const store_call_filter_t *filter, store_call_sort_t sort,
                             bool ascending, int64_t limit, int64_t offset, store_call_cb cb,
                             void *ctx, int64_t *total);

/* Filter of store_query_streams; zero-initialised means every stream. */
typedef struct {
    const char *call_id; /* exact SIP Call-ID, or NULL (borrowed) */
    int64_t call_row;    /* > 0: only that call's streams */
    bool has_min_loss;   /* lost * 100 / (packets + lost) >= min_loss_pct */
    double min_loss_pct;
    bool has_max_mos; /* mos <= max_mos */
    double max_mos;
} store_stream_filter_t;

/* Streams matching filter (NULL = all), newest first time first, id descending on ties; paging
 * and *total as store_query_calls. */
int store_query_streams(store_t *s, const store_stream_filter_t *filter, int64_t limit,
                        int64_t offset, store_stream_cb cb, void *ctx, int64_t *total);
/* The stream with this id; -ENOENT if none. */
int store_get_stream(store_t *s, int64_t id, store_stream_cb cb, void *ctx);

/* Earliest and latest invite time of the stored calls (both 0 when there are none). */
int store_call_time_range(store_t *s, int64_t *first_ns, int64_t *last_ns);

#define STORE_MOS_BINS                                                                             \
    8 /* MOS histogram: [1.0,1.5) [1.5,2.0) ... [4.5,5.0]; below 1 counts in                       \
       * the first bin */

/* Aggregates over the calls whose invite time is in [since_ns, until_ns) (0 = unbounded). */
typedef struct {
    int64_t calls;
    int64_t by_state[CALL_STATE_COUNT];
    int64_t answered;      /* calls with an answer time */
    int64_t with_duration; /* calls with a duration (answered and ended) */
    double duration_sum_s;
    int64_t with_pdd;
    double pdd_sum_ms;
    int64_t with_mos;
    double mos_sum;
    int64_t mos_bins[STORE_MOS_BINS];
} store_call_stats_t;

int store_call_stats(store_t *s, int64_t since_ns, int64_t until_ns, store_call_stats_t *out);

/* One step of a time series: the calls whose invite time is in [start_ns, start_ns + step). */
typedef struct {
    int64_t start_ns;
    int64_t calls;
    int64_t by_state[CALL_STATE_COUNT];
    int64_t answered;
    int64_t with_duration;
    double duration_sum_s;
    int64_t with_mos;
    double mos_sum;
} store_bucket_t;

typedef int (*store_bucket_cb)(void *ctx, const store_bucket_t *b);

/* The non-empty steps of [since_ns, until_ns) in time order (steps start at since_ns, which
 * must be > 0, as must step_ns; until_ns 0 = unbounded). totals (may be NULL) receives the
 * aggregates of the whole range, as store_call_stats gives them, from the same single pass over
 * the calls. cb may be NULL when only the totals are wanted. Callback results as the other
 * walks. */
int store_call_series(store_t *s, int64_t since_ns, int64_t until_ns, int64_t step_ns,
                      store_call_stats_t *totals, store_bucket_cb cb, void *ctx);

/* Calls by state into out[CALL_STATE_COUNT]. */
int store_count_calls_by_state(store_t *s, int64_t out[CALL_STATE_COUNT]);

/* Messages grouped by kind: method is the request method (or the CSeq method of a response),
 * status 0 for requests. */
typedef int (*store_message_kind_cb)(void *ctx, bool is_request, const char *method, int status,
                                     int64_t count);
int store_count_messages_by_kind(store_t *s, store_message_kind_cb cb, void *ctx);

/* Every meta key whose value is an integer (the capture totals, and the counters a running
 * capture publishes: "capture.kernel_drops", "corr.calls_evicted"...), by key. */
typedef int (*store_meta_cb)(void *ctx, const char *key, int64_t value);
int store_foreach_meta_i64(store_t *s, store_meta_cb cb, void *ctx);

/* Row counts of the security monitor's tables. */
int store_count_alerts(store_t *s, int64_t *out);
int store_count_registrations(store_t *s, int64_t *out);

/* ==== Security: registrations and alerts (store/security.c) ===================================
 * The rows of the security monitor (correlator/secmon.h), for GET /api/v1/registrations,
 * GET /api/v1/alerts and `sipscope alerts`. Same conventions as above (0 or -errno, borrowed
 * records, callbacks that return nonzero to stop, store_errmsg after a failure).
 * store_query_alerts / store_query_registrations above read the v1 columns only; the *_records
 * queries here read everything secmon writes (indicators, counts, open, samples) into the
 * records of common/records.h and filter on more: prefer them for the API.
 *
 * Columns (schema v2 adds `details`, a JSON object, to both tables):
 *   registrations: id, aor, aor_user, contact, user_agent, source ("IP:PORT"), expires (s),
 *     last_status, first_time, last_time, active (0/1), details {attempts, challenges,
 *     failures, expires_time}; one row per (aor, contact).
 *   alerts: id, type, source ("IP", NULL for a per-AOR alert), target, count, first_time,
 *     last_time, sample_message_ids (JSON array of sip_messages.id), details {indicators
 *     [detector names], user_agent, open, registers, invites, options, r2xx, r401, r403, r404,
 *     distinct_users, distinct_targets, distinct_sources, sample_times [epoch s]}.
 * Writes join the open batch transaction when there is one, and commit on their own otherwise;
 * they are not counted in store_stats_t. */

/* Upsert a binding by (aor, contact): insert it, or update the row with the record's fields when
 * the record's last time is not older than the row's (so an earlier capture analysed later does
 * not roll a binding back; first_time keeps the earliest). aor must be non-empty. */
int store_put_registration(store_t *s, const registration_record_t *r);
/* Insert the alert, or update every column of the row with the same id (id > 0; secmon assigns
 * ids, seed them with store_next_alert_id). Ids in sample_ids <= 0 are not written. */
int store_put_alert(store_t *s, const alert_record_t *a);
/* 1 + the largest alert id stored (1 for none), or 0 on error. */
int64_t store_next_alert_id(store_t *s);

typedef int (*store_registration_record_cb)(void *ctx, const registration_record_t *r);
typedef int (*store_alert_record_cb)(void *ctx, const alert_record_t *a);

/* Filter of store_query_registration_records; zero-initialised means all. Strings are borrowed. */
typedef struct {
    const char *user; /* aor_user, exact (indexed) when user_exact, else substring (ASCII
                       * case-insensitive); NULL = any */
    bool user_exact;
    const char *aor;  /* exact AOR ("sip:1001@example.com"), or NULL */
    bool has_active;  /* filter on active: */
    bool active;      /*   true = bindings active when last written, false = inactive */
    int64_t since_ns; /* last_time >= since_ns; 0 = unbounded */
} store_registration_filter_t;

/* Bindings matching filter (NULL = all), most recently active first (last_time, then id,
 * descending); paging and *total as store_query_calls. The records' id is the row id; source,
 * times and counts as written (times to the microsecond). */
int store_query_registration_records(store_t *s, const store_registration_filter_t *filter,
                                     int64_t limit, int64_t offset, store_registration_record_cb cb,
                                     void *ctx, int64_t *total);

/* Filter of store_query_alert_records; zero-initialised means all. */
typedef struct {
    int64_t since_ns;        /* last_time >= since_ns (still going at or after it); 0 = any */
    int64_t until_ns;        /* first_time < until_ns; 0 = unbounded */
    unsigned type_mask;      /* bits 1u << alert_type_t of the alert's type; 0 = any */
    unsigned indicator_mask; /* bits 1u << alert_detector_t: any of them fired; 0 = any */
    const char *source;      /* exact source IP as text ("203.0.113.7", "2001:db8::1"), or NULL */
    bool open_only;          /* only alerts whose episode was still open when last written */
    bool with_source;        /* only alerts with a source (not per-AOR ones): blocklists */
} store_alert_filter_t;

/* Alerts matching filter (NULL = all), most recent first (last_time, then id, descending);
 * paging and *total as store_query_calls. In the records, sample_ns come back for every sample
 * and sample_ids only when all of them were known (else 0). */
int store_query_alert_records(store_t *s, const store_alert_filter_t *filter, int64_t limit,
                              int64_t offset, store_alert_record_cb cb, void *ctx, int64_t *total);

/* ==== Captures analysed into the store (store/captures.c) ===============================
 * Analysing a capture twice into one database would store its calls twice. Each file read
 * into a database leaves a row in the table captures, under an identity that recognises the
 * same capture later, whatever its name or path. */

/* The identity: "v1:SIZE:HASH", SIZE the file's size in bytes and HASH 128 bits (32 hex digits)
 * of its first STORE_CAPTURE_HEAD_BYTES bytes (all of a smaller file). Why that is enough: those
 * bytes hold the file header and thousands of packets with their capture times to the
 * microsecond, so two different captures of one size agree on them only if one is a copy of the
 * other cut to the same length; a capture that grew (a ring buffer's file still being written)
 * has a new size and is a new capture. Reading the head costs about 1 ms whatever the file's
 * size. Hashing the whole file is not cheap: it must be done before the analysis (to skip it),
 * and reading and hashing a 285 MB capture took 0.18-0.27 s here, as long as analysing it
 * without a database. */
#define STORE_CAPTURE_HEAD_BYTES ((size_t)1 << 20)
#define STORE_CAPTURE_ID_LEN     64 /* room for an identity and its NUL */

/* The identity of the file at path (borrowed) into identity, its size into *size (may be NULL).
 * 0; -EINVAL when path is not a regular file (stdin, a pipe: they cannot be read twice, so
 * they are never recognised); another -errno when it cannot be opened or read. */
int store_capture_identify(const char *path, char identity[STORE_CAPTURE_ID_LEN], int64_t *size);

/* One row of captures: one analysis of one file. Strings are borrowed. */
typedef struct {
    int64_t id;           /* row id (reading; ignored when writing) */
    const char *identity; /* store_capture_identify's text */
    const char *name;     /* the path it was read from, as given */
    int64_t size;         /* bytes */
    uint64_t packets;     /* frames read from it */
    int64_t first_ns;     /* capture times of its first and last packet; 0 = none */
    int64_t last_ns;
    int64_t analysed_ns; /* wall-clock time of the analysis */
} store_capture_t;

typedef int (*store_capture_cb)(void *ctx, const store_capture_t *c);

/* Add a row (c borrowed). It joins the open batch if there is one, else commits at once. */
int store_put_capture(store_t *s, const store_capture_t *c);
/* Rows with this identity (NULL: all), latest analysis first; callbacks as for the reads above.
 * Returns the callback's non-zero result, or 0. */
int store_foreach_capture(store_t *s, const char *identity, store_capture_cb cb, void *ctx);
/* When the capture with this identity was last analysed: 0 and *analysed_ns, or -ENOENT. */
int store_find_capture(store_t *s, const char *identity, int64_t *analysed_ns);

/* The bookkeeping of one analysis of files into a database (analyze, run -r): which files to
 * skip as already stored, and afterwards a row for each file read. It has its own connection. */
typedef struct store_capture_run store_capture_run_t;

/* db_path NULL or ":memory:" keeps nothing (each analysis has a store of its own): *out is NULL,
 * which the functions below take as "read everything, record nothing". With force, files
 * already stored are read again (and recorded again). 0, or -errno with the reason in err. */
int store_capture_run_new(const char *db_path, bool force, store_capture_run_t **out, char *err,
                          size_t errlen);
/* Whether to read path: true; or false after a notice on stderr, when the database already
 * holds the capture ("sipscope: FILE: already in DB (analysed at ...); skipped (use --force to
 * analyse it again)") or this run read it under another name, and not force. Stdin ("-") and
 * other files that are not regular files are always read. */
bool store_capture_run_want(store_capture_run_t *r, const char *path);
/* What was read of the file store_capture_run_want last said yes to: rc is the reader's result
 * (a file that failed to open or held nothing readable is not recorded; one truncated after
 * some packets is, as what was read of it is stored). */
void store_capture_run_read(store_capture_run_t *r, int rc, uint64_t packets, int64_t first_ns,
                            int64_t last_ns);
/* Call once everything read is stored: a row for each file read. 0, or -errno with the reason
 * in err. */
int store_capture_run_commit(store_capture_run_t *r, char *err, size_t errlen);
/* NULL is a no-op. */
void store_capture_run_free(store_capture_run_t *r);

#endif
