/* api_int: what the web module's files share: the server, one request, replies, parameters. */
#ifndef SIPSCOPE_API_INT_H
#define SIPSCOPE_API_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api.h"
#include "defs.h"
#include "netaddr.h"
#include "store.h"

#define API_MAX_URL       2048 /* longest path accepted (414 beyond) */
#define API_MAX_TARGET    8192 /* longest request target (path and query) as sent (414 beyond) */
#define API_MAX_PARAMS    16   /* query parameters per request (400 beyond) */
#define API_MAX_VALUE     512  /* longest parameter value (400 beyond) */
#define API_DEFAULT_LIMIT 50
#define API_MAX_LIMIT     1000
#define API_POOL_MAX      16 /* idle read-only connections kept */
/* /metrics is recomputed at most this often */
#define API_METRICS_TTL_NS (5 * NS_PER_S)
/* Browser sessions: a cookie naming 128 random bits (hex), set when ?access_token= logs in. */
#define API_SESSION_COOKIE "sipscope_session"
#define API_SESSION_HEX    32
#define API_MAX_SESSIONS   64 /* at once; a new one replaces the oldest */
#define API_SESSION_TTL_S  (12 * 3600)
#define API_HOST_MAX       253 /* longest host name in a Host header or --allow-host */

/* Status codes counted for /metrics. */
enum {
    API_CODE_200,
    API_CODE_304,
    API_CODE_400,
    API_CODE_401,
    API_CODE_404,
    API_CODE_405,
    API_CODE_414,
    API_CODE_5XX,
    API_CODE_OTHER,
    API_CODE_COUNT
};

/* A host as a Host header names it: an address (addr.family 4 or 6), or a name (family 0) in
 * lower case without a final dot. */
typedef struct {
    net_addr_t addr;
    char name[API_HOST_MAX + 1];
} api_host_t;

typedef struct {
    char id[API_SESSION_HEX]; /* hex digits, not NUL-terminated */
    int64_t expires_ns;       /* CLOCK_MONOTONIC; 0: a free slot */
} api_session_t;

/* The thread that keeps the messages' full-text index caught up (fts_indexer.c). */
typedef struct api_fts_indexer api_fts_indexer_t;
/* Start it on its own read-write connection to db_path; NULL when the database can't be
 * written (searches then read every message with LIKE) or out of memory. */
api_fts_indexer_t *api_fts_indexer_start(const char *db_path);
/* Stop it (a batch in flight finishes first) and free; NULL is a no-op. */
void api_fts_indexer_stop(api_fts_indexer_t *x);

struct api_server {
    struct MHD_Daemon *daemon;
    api_fts_indexer_t *fts; /* NULL when the database is served read-only */
    char *db_path;
    char *token; /* NULL when none */
    uint16_t port;
    net_addr_t listen_addr; /* all zero bytes: a wildcard listener (0.0.0.0, [::]) */
    api_host_t allowed[API_MAX_ALLOWED_HOSTS]; /* the configured Host names */
    int nallowed;
    pthread_mutex_t sessions_mu;
    api_session_t sessions[API_MAX_SESSIONS];
    int64_t session_ttl_ns;
    /* Read-only store connections not in use (a store_t serves one thread at a time). */
    pthread_mutex_t pool_mu;
    store_t *pool[API_POOL_MAX];
    int npool;
    /* /metrics body cache */
    pthread_mutex_t metrics_mu;
    char *metrics_body;
    size_t metrics_len;
    int64_t metrics_at_ns;
    /* counters */
    atomic_uint_fast64_t requests;
    atomic_uint_fast64_t by_code[API_CODE_COUNT];
    int64_t started_ns;
};

typedef struct {
    const char *name, *value; /* borrowed from the connection */
} api_param_t;

/* What a handler answers. Bodies are owned by the reply unless body_static. */
typedef struct {
    int status;
    const char *content_type; /* static */
    char *body;
    size_t len;
    bool body_static;
    bool has_fd; /* the body is the file fd (len bytes), owned by the reply */
    int fd;
    int nheaders;
    struct {
        char name[32];
        char value[192];
    } headers[4];
} api_reply_t;

typedef struct api_req {
    api_server_t *srv;
    struct MHD_Connection *conn;
    const char *path; /* decoded path, borrowed */
    int64_t id;       /* the {id} of the route, when it has one */
    const char *rest; /* the {path} of the route, when it has one */
    store_t *store;   /* acquired on demand by api_store, released after the reply */
    api_param_t params[API_MAX_PARAMS];
    int nparams;
    api_reply_t reply;
} api_req_t;

typedef void (*api_handler_t)(api_req_t *req);
/* Whether the client of req (an api_req_t) has closed or reset its connection (client.c): the
 * store's interrupt while the request runs, so that a query nobody waits for stops. */
int api_client_gone(void *req);

/* ---- Routes (routes.c). Paths are OpenAPI templates: "{id}" matches a positive decimal row
 * id and "{path}" the rest of the URL. Every route takes GET and HEAD. */
typedef struct {
    const char *path;
    api_handler_t handler;
    const char *const *params; /* allowed query parameters, NULL-terminated */
    bool open;                 /* served without the token */
} api_route_t;

/* The route of req->path (filling req->id / req->rest), or NULL. */
const api_route_t *api_find_route(api_req_t *req);
/* No route: takes no parameter (to collect an unknown route's parameters). */
extern const api_route_t api_route_none;

/* ---- Replies and the request's parameters (server.c). Each reply replaces any earlier reply
 * of the request. */

/* JSON reply; takes ownership of body (NULL means out of memory: 500). */
void api_reply_json(api_req_t *req, int status, json_t *body);
/* {"error": "..."} with the given status; the text is formatted like printf. */
void api_reply_error(api_req_t *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A body of len bytes; takes ownership of body (malloc'd). */
void api_reply_take(api_req_t *req, int status, const char *content_type, char *body, size_t len);
/* A static body (never freed). */
void api_reply_static(api_req_t *req, int status, const char *content_type, const void *body,
                      size_t len);
/* The len bytes of an open file; takes ownership of fd (closed after sending). */
void api_reply_fd(api_req_t *req, int status, const char *content_type, int fd, size_t len);
/* Add a response header (name and value copied; too long ones are dropped with a warning). */
void api_reply_header(api_req_t *req, const char *name, const char *value);
/* The database connection for this request (read-only, one per request at a time), or NULL
 * after having replied 503. */
store_t *api_store(api_req_t *req);
/* Map a store error to a reply: -ENOENT 404 (what), anything else 500 with store_errmsg. */
void api_reply_store_error(api_req_t *req, int err, const char *what);
/* The value of query parameter name as the client sent it, after URL decoding (borrowed from
 * the connection), or NULL when absent or empty. The parameters were collected by server.c. */
const char *api_param(const api_req_t *req, const char *name);

/* ---- Parameters (params.c), typed on top of api_param: params.c uses server.c, never the
 * reverse. An empty value counts as absent. Each parser returns false after having replied 400. */

/* Integer in [min, max]; *out untouched when absent. */
bool api_param_i64(api_req_t *req, const char *name, int64_t min, int64_t max, int64_t *out,
                   bool *present);
/* Finite decimal number in [min, max]. */
bool api_param_double(api_req_t *req, const char *name, double min, double max, double *out,
                      bool *present);
/* A time: epoch seconds (fractions allowed) or RFC 3339 ("2024-01-15T10:00:00Z", offsets and
 * fractions allowed); *out_ns in ns since the epoch. */
bool api_param_time(api_req_t *req, const char *name, int64_t *out_ns, bool *present);
/* "true"/"false"/"1"/"0". */
bool api_param_bool(api_req_t *req, const char *name, bool *out, bool *present);
/* A comma-separated list of names (e.g. "completed,rejected") into a mask: bit i for the name
 * name_of(i) gives, for i below count (at most 32). Absent: *mask = 0. An unknown or empty
 * name gets 400 naming the parameter, the name and the known ones. */
bool api_param_names(api_req_t *req, const char *name, const char *(*name_of)(int), int count,
                     unsigned *mask);
/* limit (default API_DEFAULT_LIMIT, at most API_MAX_LIMIT) and offset (default 0). */
bool api_param_paging(api_req_t *req, int64_t *limit, int64_t *offset);
/* since/until as times, since <= until when both are given (0 when absent). */
bool api_param_range(api_req_t *req, int64_t *since_ns, int64_t *until_ns);

/* The filter of GET /api/v1/calls and its exports (call_filter.c) from the request's
 * parameters, and (sort not NULL) its sort and order. False after replying 400. */
bool api_call_filter(api_req_t *req, store_call_filter_t *f, store_call_sort_t *sort, bool *asc);
/* The "search" parameter (full text over the SIP messages, store_fts_query) into *search
 * (NULL when absent); false after replying 400 (no word, more than STORE_MAX_SEARCH_WORDS). */
bool api_param_search(api_req_t *req, const char **search);
/* A status code ("486", 100 to 699) or class ("4xx") into a range; false if neither. */
bool api_parse_status(const char *text, uint16_t *lo, uint16_t *hi);
/* A collector: store callbacks append JSON to array; oom once an append failed. */
typedef struct {
    json_t *array;
    bool oom;
} api_collect_t;
/* Append o (taken; NULL counts as out of memory). */
void api_collect_push(api_collect_t *c, json_t *o);
/* A page: {"total": N, "limit": L, "offset": O, key: array} (takes array); when err is not 0,
 * the store error of err instead (as api_reply_store_error, naming key). */
void api_reply_page(api_req_t *req, int err, const char *key, json_t *array, int64_t total,
                    int64_t limit, int64_t offset);
/* One record: the first element of array (takes array); when err is not 0, the store error
 * of err instead (as api_reply_store_error, naming what). */
void api_reply_one(api_req_t *req, int err, const char *what, json_t *array);
/* A message of the message list: api_message_json plus "call" (row or null), "call_id",
 * "from", "to" (URIs) and "user_agent" read from its text (null when absent). */
json_t *api_message_row_json(int64_t id, const message_record_t *m, bool with_raw);
/* "10.0.0.5", "10.0.0.0/8", "2001:db8::/32", "[2001:db8::1]" into an address and a prefix
 * length (the address's full length without "/N"); false if malformed. */
bool api_parse_net(const char *text, net_addr_t *addr, unsigned *prefix);

/* Parse a time as api_param_time does; false if malformed. Exposed for the tests. */
bool api_parse_time(const char *text, int64_t *out_ns);

/* ---- Handlers (calls.c, stats.c, pcap.c, static.c). */

void api_h_calls(api_req_t *req);
void api_h_call(api_req_t *req);
void api_h_call_messages(api_req_t *req);
void api_h_call_pcap(api_req_t *req);
void api_h_streams(api_req_t *req);
void api_h_stream(api_req_t *req);
void api_h_stream_samples(api_req_t *req);
void api_h_stats(api_req_t *req);
void api_h_alerts(api_req_t *req);
void api_h_messages(api_req_t *req);
void api_h_calls_csv(api_req_t *req);
void api_h_call_ladder_txt(api_req_t *req);
void api_h_calls_pcap(api_req_t *req);
void api_h_message(api_req_t *req);
void api_h_registrations(api_req_t *req);
void api_h_metrics(api_req_t *req);
void api_h_healthz(api_req_t *req);
void api_h_openapi(api_req_t *req);
void api_h_index(api_req_t *req);
void api_h_static(api_req_t *req);

/* ---- Embedded files (generated at build time). */

typedef struct {
    const char *name; /* path under web/static, e.g. "app.js", "vendor/uPlot.min.css" */
    const unsigned char *data;
    size_t len;
} api_file_t;

extern const api_file_t api_files[];
extern const size_t api_nfiles;

/* The file with this exact name, or NULL. */
const api_file_t *api_file_find(const char *name);

/* Monotonic-ish wall clock in ns (CLOCK_REALTIME), for the metrics cache and uptime. */
int64_t api_now_ns(void);

#endif
