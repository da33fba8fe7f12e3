/* api_query: time filtered pages of 50 calls over a million stored calls, through the store's
 * query functions and through HTTP. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "defs.h"
#include "store.h"

#define T0     INT64_C(1700000000) /* first invite, epoch seconds */
#define SPAN_S (30 * 86400)        /* the calls spread over 30 days */
#define REPEAT 15                  /* timed runs per query (the median is reported) */

static const char usage[] =
    "usage: api_query [--calls N] [--db PATH] [--fresh]\n"
    "Fills PATH (default bench/out/api_query.db; kept, and reused when it already holds N\n"
    "calls) with N synthetic calls (default 1000000) through store_put_call, then prints the\n"
    "median and worst time of filtered pages of 50 (with their total) through the store's query\n"
    "functions and through HTTP (sipscope's own server on 127.0.0.1).\n";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t next_rand(void)
{
    /* xorshift64*: reproducible data from run to run */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1du;
}

static double uniform(double lo, double hi)
{
    return lo + (hi - lo) * (double)(next_rand() >> 11) / 9007199254740992.0;
}

/* Call i's Call-ID, kept reproducible so that a query can name one. */
static void call_id_of(uint64_t r, int64_t i, char *buf, size_t cap)
{
    snprintf(buf, cap, "%016llx@host%lld.example.com", (unsigned long long)r, (long long)(i % 97));
}

/* Bumped when fill() makes other data: a database filled before is then filled again. */
#define FILL_VERSION 2

/* An IPv4 endpoint a.b.c.d:port. */
static void v4(net_endpoint_t *e, int a, int b, int c, int d, uint16_t port)
{
    memset(e, 0, sizeof(*e));
    e->addr.family = 4;
    e->addr.bytes[0] = (uint8_t)a;
    e->addr.bytes[1] = (uint8_t)b;
    e->addr.bytes[2] = (uint8_t)c;
    e->addr.bytes[3] = (uint8_t)d;
    e->port = port;
}

/* The parties of call i: callers spread over 10.0.0.0/8 (a few of them behind a NAT at
 * 203.0.113.x), one IPv6 caller in 50; callees in 198.51.100.0/24. */
static void fill_parties(call_record_t *c, int64_t i)
{
    uint64_t r = next_rand();
    if (c->nat)
        v4(&c->caller, 203, 0, 113, (int)(r % 200) + 1, 5060);
    else
        v4(&c->caller, 10, (int)(r % 64), (int)((r >> 8) % 256), (int)((r >> 16) % 254) + 1, 5060);
    if (r % 50 == 7) {
        memset(&c->caller, 0, sizeof(c->caller));
        c->caller.addr.family = 6;
        c->caller.addr.bytes[0] = 0x20;
        c->caller.addr.bytes[1] = 0x01;
        c->caller.addr.bytes[2] = 0x0d;
        c->caller.addr.bytes[3] = 0xb8;
        c->caller.addr.bytes[15] = (uint8_t)(i & 0xff);
        c->caller.port = 5060;
    }
    v4(&c->callee, 198, 51, 100, (int)((r >> 24) % 254) + 1, 5060);
}

/* The verdict the correlator would give (verdict.md): failed setups, one-way, no media, by MOS. */
static verdict_t verdict_of(const call_record_t *c, bool answered)
{
    if (!answered)
        return c->state == CALL_REJECTED ? VERDICT_FAILED : VERDICT_GOOD;
    if (c->one_way)
        return VERDICT_ONE_WAY;
    if (c->mos <= 0)
        return VERDICT_NO_MEDIA;
    return c->mos < 3.1 ? VERDICT_POOR : c->mos < 3.6 ? VERDICT_DEGRADED : VERDICT_GOOD;
}

/* Call i's record (strings in the caller's buffers). */
static void make_call(int64_t i, int64_t n, call_record_t *c, char *cid, char *from, char *to)
{
    static const call_state_t states[20] = {
        CALL_COMPLETED, CALL_COMPLETED, CALL_COMPLETED, CALL_COMPLETED, CALL_COMPLETED,
        CALL_COMPLETED, CALL_COMPLETED, CALL_COMPLETED, CALL_COMPLETED, CALL_COMPLETED,
        CALL_COMPLETED, CALL_REJECTED,  CALL_REJECTED,  CALL_REJECTED,  CALL_CANCELLED,
        CALL_CANCELLED, CALL_IN_CALL,   CALL_SETUP,     CALL_RINGING,   CALL_COMPLETED,
    };
    static const uint16_t rejections[4] = {486, 486, 404, 503};
    call_id_of(next_rand(), i, cid, 64);
    snprintf(from, 64, "sip:user%05llu@example.com", (unsigned long long)(next_rand() % 20000));
    snprintf(to, 64, "sip:%llu@example.net", (unsigned long long)(2000 + next_rand() % 10000));
    call_state_t st = states[next_rand() % 20];
    bool answered = st == CALL_COMPLETED || st == CALL_IN_CALL;
    int64_t invite = (T0 + (int64_t)((double)SPAN_S * (double)i / (double)n)) * NS_PER_S +
                     (int64_t)(next_rand() % NS_PER_S);
    int64_t pdd = st == CALL_SETUP ? -1 : (int64_t)(uniform(50, 5000) * 1e6);
    int64_t dur = st == CALL_COMPLETED ? (int64_t)(uniform(5, 600) * 1e9) : -1;
    uint64_t r = next_rand();
    *c = (call_record_t){
        .id = i,
        .call_id = cid,
        .from_uri = from,
        .to_uri = to,
        .from_tag = "a1b2c3",
        .to_tag = answered ? "d4e5f6" : "",
        .user_agent = "bench",
        .state = st,
        .final_status = answered               ? 200
                        : st == CALL_REJECTED  ? rejections[r % 4]
                        : st == CALL_CANCELLED ? 487
                                               : 0,
        .invite_ns = invite,
        .ringing_ns = st == CALL_SETUP ? 0 : invite + NS_PER_S,
        .answer_ns = answered ? invite + 3 * NS_PER_S : 0,
        .end_ns = dur >= 0 ? invite + 3 * NS_PER_S + dur : 0,
        .post_dial_delay_ns = pdd,
        .duration_ns = dur,
        .sip_messages = answered ? 7 : 4,
        /* one answered call in 50 without media, one in 33 one-way */
        .mos = answered && (r >> 8) % 50 != 0 ? uniform(1.0, 4.4) : 0,
        .one_way = answered && (r >> 16) % 33 == 0,
        .nat = (r >> 24) % 10 == 0,
    };
    fill_parties(c, i);
    c->verdict = verdict_of(c, answered);
}

/* The two RTP streams of an answered call: caller to callee and back, most without loss. */
static int put_streams(store_t *s, const call_record_t *c)
{
    for (int dir = 0; dir < 2; dir++) {
        uint64_t r = next_rand();
        stream_record_t st = {
            .id = 2 * c->id - 1 + dir,
            .call_row = c->id,
            .call_id = c->call_id,
            .src = dir == 0 ? c->caller : c->callee,
            .dst = dir == 0 ? c->callee : c->caller,
            .ssrc = (uint32_t)r,
            .payload_type = 0,
            .codec = r % 4 == 0 ? "G729" : "PCMU",
            .clock_rate = 8000,
            .first_ns = c->answer_ns,
            .last_ns = c->end_ns > 0 ? c->end_ns : c->answer_ns + NS_PER_S,
            .packets = 50 * (uint64_t)(c->duration_ns > 0 ? c->duration_ns / NS_PER_S : 1),
            .mos = c->mos,
        };
        st.src.port = st.dst.port = (uint16_t)(20000 + 2 * (r >> 40) % 10000);
        /* 70% without loss; the rest up to 10% */
        st.lost = (r >> 32) % 10 < 7 ? 0 : (int64_t)((double)st.packets * uniform(0, 0.1));
        if (c->one_way && dir == 1)
            st.packets = 0;
        int err = store_put_stream(s, &st);
        if (err != 0)
            return err;
    }
    return 0;
}

/* The INVITE of call c (the full-text search's haystack). */
static int put_invite(store_t *s, const call_record_t *c)
{
    char raw[512];
    int len = snprintf(raw, sizeof(raw),
                       "INVITE %s SIP/2.0\r\nVia: SIP/2.0/UDP 10.1.1.1:5060;branch=z9hG4bK%llx\r\n"
                       "From: <%s>;tag=%s\r\nTo: <%s>\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\n"
                       "User-Agent: bench-%lld\r\nContent-Length: 0\r\n\r\n",
                       c->to_uri, (unsigned long long)next_rand(), c->from_uri, c->from_tag,
                       c->to_uri, c->call_id, (long long)(c->id % 1000));
    message_record_t m = {
        .call_row = c->id,
        .call_id = c->call_id,
        .ts_ns = c->invite_ns,
        .src = c->caller,
        .dst = c->callee,
        .transport = 17,
        .is_request = true,
        .method = "INVITE",
        .cseq = 1,
        .raw = raw,
        .raw_len = (uint32_t)(len < (int)sizeof(raw) ? len : (int)sizeof(raw) - 1),
    };
    return store_put_message(s, &m);
}

static int fill(const char *path, int64_t n)
{
    store_opts_t opts = {.batch_rows = 50000};
    store_t *s = NULL;
    int err = store_open_opts(path, &opts, &s);
    if (err != 0) {
        fprintf(stderr, "api_query: %s: %s\n", path, store_errmsg(s));
        store_close(s);
        return err;
    }
    double t = now_s();
    for (int64_t i = 1; i <= n && err == 0; i++) {
        char cid[64], from[64], to[64];
        call_record_t c;
        make_call(i, n, &c, cid, from, to);
        err = store_put_call(s, &c);
        if (err == 0 && c.answer_ns != 0)
            err = put_streams(s, &c);
        if (err == 0)
            err = put_invite(s, &c);
    }
    if (err == 0)
        err = store_flush(s);
    double filled = now_s();
    if (err == 0)
        err = store_add_query_indexes(s);
    double indexed = now_s();
    for (int64_t done = 1; err == 0 && done > 0;)
        err = store_fts_catch_up(s, 100000, &done);
    if (err == 0)
        err = store_set_meta_i64(s, "bench.calls", n);
    if (err == 0)
        err = store_set_meta_i64(s, "bench.fill", FILL_VERSION);
    if (err != 0)
        fprintf(stderr, "api_query: filling %s: %s\n", path, store_errmsg(s));
    store_close(s);
    if (err == 0)
        printf("filled %lld calls (with their streams and INVITEs) in %.1f s (%.0f calls/s), "
               "query indexes in %.1f s, full-text index in %.1f s\n",
               (long long)n, filled - t, (double)n / (filled - t), indexed - filled,
               now_s() - indexed);
    return err;
}

/* ---- Timing. */

typedef struct {
    const char *name;
    store_call_filter_t f;
    store_call_sort_t sort;
    bool asc;
    int64_t offset;
    const char *query; /* the same through HTTP */
} bench_query_t;

static int count_cb(void *ctx, const call_record_t *c)
{
    (void)c;
    (*(int *)ctx)++;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* A tiny HTTP/1.1 GET on a new connection; returns the status (0 on failure). */
static int http_get(uint16_t port, const char *target, size_t *body_len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return 0;
    }
    char req[1024];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", target);
    if (n <= 0 || (size_t)n >= sizeof(req) || send(fd, req, (size_t)n, 0) != n) {
        close(fd);
        return 0;
    }
    static char buf[1 << 20];
    size_t got = 0;
    ssize_t r;
    while ((r = recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) > 0 && got < sizeof(buf) - 1)
        got += (size_t)r;
    close(fd);
    buf[got] = '\0';
    int status = 0;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        status = 0;
    *body_len = got;
    return status;
}

static void report(const char *what, double *ms, int n, const char *extra)
{
    qsort(ms, (size_t)n, sizeof(double), cmp_double);
    printf("  %-48s median %8.2f ms   worst %8.2f ms   %s\n", what, ms[n / 2], ms[n - 1], extra);
}

typedef struct {
    char cid_part[16]; /* 10 characters of a Call-ID: matches that call (and maybe a few) */
    char from_user[32];
} picked_t;

static int pick_cb(void *ctx, const call_record_t *c)
{
    picked_t *p = ctx;
    snprintf(p->cid_part, sizeof(p->cid_part), "%.10s", c->call_id + 3);
    const char *u = strchr(c->from_uri, ':'), *at = strchr(c->from_uri, '@');
    if (u != NULL && at != NULL && at > u)
        snprintf(p->from_user, sizeof(p->from_user), "%.*s", (int)(at - u - 1), u + 1);
    return 0;
}

/* ---- The run. */

#define DEFAULT_DB "bench/out/api_query.db"

typedef struct {
    const char *path;
    int64_t n; /* calls */
    bool fresh;
} bench_opts_t;

/* -1 to go on with *o filled, else the exit status (0 for --help, 2 for a usage error). */
static int parse_args(int argc, char **argv, bench_opts_t *o)
{
    *o = (bench_opts_t){.path = DEFAULT_DB, .n = 1000000, .fresh = false};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--calls") == 0 && i + 1 < argc) {
            char *end;
            o->n = strtoll(argv[++i], &end, 10);
            if (*end != '\0' || o->n < 1000) {
                fputs(usage, stderr);
                return 2;
            }
        } else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            o->path = argv[++i];
        } else if (strcmp(argv[i], "--fresh") == 0) {
            o->fresh = true;
        } else {
            fputs(usage, stderr);
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    return -1;
}

/* Reuses the database when it already holds the same calls (unless --fresh); otherwise removes
 * it with its WAL files and fills it again. 0 or fill()'s error. */
static int prepare_db(const bench_opts_t *o)
{
    if (strcmp(o->path, DEFAULT_DB) == 0) {
        mkdir("bench", 0755);
        mkdir("bench/out", 0755);
    }
    store_t *s = NULL;
    int64_t have = 0;
    struct stat sb;
    int64_t version = 0;
    if (!o->fresh && stat(o->path, &sb) == 0 && store_open(o->path, &s) == 0) {
        store_get_meta_i64(s, "bench.calls", &have);
        store_get_meta_i64(s, "bench.fill", &version);
    }
    store_close(s);
    if (have == o->n && version == FILL_VERSION) {
        printf("reusing %s (%lld calls; --fresh rebuilds it)\n", o->path, (long long)o->n);
        /* the indexes of this build's serve (a no-op when they are there) */
        int err = store_open(o->path, &s);
        if (err == 0)
            err = store_add_query_indexes(s);
        if (err != 0)
            fprintf(stderr, "api_query: %s: %s\n", o->path, store_errmsg(s));
        store_close(s);
        return err;
    }
    char wal[512];
    unlink(o->path);
    snprintf(wal, sizeof(wal), "%s-wal", o->path);
    unlink(wal);
    snprintf(wal, sizeof(wal), "%s-shm", o->path);
    unlink(wal);
    return fill(o->path, o->n);
}

/* The day and the hour that the time-bounded queries ask for, epoch seconds. */
#define QUERY_DAY   (T0 + 10 * 86400)
#define QUERY_HOUR  (T0 + 20 * 86400 + 7200)
#define MAX_QUERIES 16 /* room in a plan; plan_queries checks its list against it */

/* What is timed: the store queries, and the HTTP targets built from them. The queries point
 * into pick and the target buffers, so a plan stays where plan_queries filled it. */
typedef struct {
    picked_t pick; /* names that exist in the data */
    char q_target[128], from_target[128];
    bench_query_t q[MAX_QUERIES];
    size_t nq;
} bench_plan_t;

/* Fills p's queries from p->pick; they and the HTTP targets point into *p. */
static void plan_queries(bench_plan_t *p)
{
    snprintf(p->q_target, sizeof(p->q_target), "/api/v1/calls?q=%s", p->pick.cid_part);
    snprintf(p->from_target, sizeof(p->from_target), "/api/v1/calls?from=%s", p->pick.from_user);
    const int64_t day = QUERY_DAY, hour = QUERY_HOUR;
    const bench_query_t queries[] = {
        {"no filter (newest first)", {0}, STORE_SORT_INVITE_TIME, false, 0, "/api/v1/calls"},
        {"state=completed&min_mos=3.5",
         {.state_mask = 1u << CALL_COMPLETED, .has_min_mos = true, .min_mos = 3.5},
         STORE_SORT_INVITE_TIME,
         false,
         0,
         "/api/v1/calls?state=completed&min_mos=3.5"},
        {"from=USER (exact user part)",
         {.from_user = p->pick.from_user, .user_exact = true},
         STORE_SORT_INVITE_TIME,
         false,
         0,
         p->from_target},
        {"since/until: one hour",
         {.since_ns = hour * NS_PER_S, .until_ns = (hour + 3600) * NS_PER_S},
         STORE_SORT_INVITE_TIME,
         false,
         0,
         NULL},
        {"state=completed&min_mos=3.5, one day",
         {.state_mask = 1u << CALL_COMPLETED,
          .has_min_mos = true,
          .min_mos = 3.5,
          .since_ns = day * NS_PER_S,
          .until_ns = (day + 86400) * NS_PER_S},
         STORE_SORT_INVITE_TIME,
         false,
         0,
         NULL},
        {"state=rejected,cancelled&max_mos=2 (none match)",
         {.state_mask = (1u << CALL_REJECTED) | (1u << CALL_CANCELLED),
          .has_max_mos = true,
          .max_mos = 2.0},
         STORE_SORT_INVITE_TIME,
         false,
         0,
         "/api/v1/calls?state=rejected,cancelled&max_mos=2"},
        {"worst MOS first (sort=mos&order=asc&min_mos=0)",
         {.has_min_mos = true, .min_mos = 0},
         STORE_SORT_MOS,
         true,
         0,
         "/api/v1/calls?sort=mos&order=asc&min_mos=0"},
        {"state=completed, longest first (sort=duration)",
         {.state_mask = 1u << CALL_COMPLETED},
         STORE_SORT_DURATION,
         false,
         0,
         "/api/v1/calls?state=completed&sort=duration"},
        {"deep page (offset=100000)",
         {0},
         STORE_SORT_INVITE_TIME,
         false,
         100000,
         "/api/v1/calls?offset=100000"},
        {"q=CALLID-PART (substring, full scan)",
         {.q = p->pick.cid_part},
         STORE_SORT_INVITE_TIME,
         false,
         0,
         p->q_target},
    };
    _Static_assert(ARRAY_LEN(queries) <= MAX_QUERIES, "raise MAX_QUERIES");
    memcpy(p->q, queries, sizeof(queries));
    p->nq = ARRAY_LEN(queries);
}

/* Opens the database read-only and picks names from call n/3 into p->pick (part of its
 * Call-ID, its caller's user). The store (caller closes with store_close), or NULL after
 * saying why on stderr. */
static store_t *open_and_pick(const bench_opts_t *o, bench_plan_t *p)
{
    store_t *s = NULL;
    store_opts_t ro = {.read_only = true};
    if (store_open_opts(o->path, &ro, &s) != 0) {
        fprintf(stderr, "api_query: %s: %s\n", o->path, store_errmsg(s));
        store_close(s);
        return NULL;
    }
    p->pick = (picked_t){"", ""};
    if (store_get_call(s, o->n / 3, pick_cb, &p->pick) != 0) {
        fprintf(stderr, "api_query: call %lld: %s\n", (long long)(o->n / 3), store_errmsg(s));
        store_close(s);
        return NULL;
    }
    return s;
}

/* Times each query through store_query_calls_sorted and prints a line for it. 0, or 1 after
 * saying on stderr which query failed. */
static int time_store_queries(store_t *s, const bench_plan_t *p, int64_t n)
{
    printf("\nstore_query_calls_sorted, page of 50 with its total, %lld calls (%d runs each):\n",
           (long long)n, REPEAT);
    for (size_t i = 0; i < p->nq; i++) {
        const bench_query_t *q = &p->q[i];
        double ms[REPEAT];
        int rows = 0;
        int64_t total = 0;
        for (int r = 0; r < REPEAT; r++) {
            rows = 0;
            double t = now_s();
            int err = store_query_calls_sorted(s, &q->f, q->sort, q->asc, 50, q->offset, count_cb,
                                               &rows, &total);
            ms[r] = (now_s() - t) * 1e3;
            if (err != 0) {
                fprintf(stderr, "api_query: %s: %s\n", q->name, store_errmsg(s));
                return 1;
            }
        }
        char extra[64];
        snprintf(extra, sizeof(extra), "%d rows of %lld", rows, (long long)total);
        report(q->name, ms, REPEAT, extra);
    }
    return 0;
}

/* Times GET of one target; prints its line, with the median as a fraction of base_ms (when
 * > 0). The median, or -1 when a response was not 200 (the line is still printed, from the
 * runs made until then). */
static double time_http_target(uint16_t port, const char *target, double base_ms)
{
    double ms[REPEAT];
    size_t len = 0;
    int runs = 0;
    bool ok = true;
    for (int r = 0; r < REPEAT; r++) {
        double t = now_s();
        int code = http_get(port, target, &len);
        ms[runs++] = (now_s() - t) * 1e3;
        if (code != 200) {
            fprintf(stderr, "api_query: GET %s: status %d\n", target, code);
            ok = false;
            break;
        }
    }
    char extra[64];
    qsort(ms, (size_t)runs, sizeof(double), cmp_double);
    if (base_ms > 0)
        snprintf(extra, sizeof(extra), "%zu bytes, %.3f x scan", len, ms[runs / 2] / base_ms);
    else
        snprintf(extra, sizeof(extra), "%zu bytes", len);
    report(target, ms, runs, extra);
    return ok ? ms[runs / 2] : -1;
}

/* The call list's filters, sorts and deep pages over the million calls (bench fill's data:
 * 10.5.0.0/16 holds about 1.3% of the callers, 203.0.113.0/24 the NAT ones, 486 7.5%). */
static const char *const matrix[] = {
    "/api/v1/calls?final_status=486&ip=10.5.0.0/16",
    "/api/v1/calls?final_status=486&ip=203.0.113.5",
    "/api/v1/calls?final_status=4xx&ip=10.5.7.0/24",
    "/api/v1/calls?ip=10.5.0.0/16",
    "/api/v1/calls?ip=203.0.113.0/24",
    "/api/v1/calls?ip=2001:db8::/32&since=1700864000&until=1700950400",
    "/api/v1/calls?one_way=true&nat=true&ip=203.0.113.0/24",
    "/api/v1/calls?sort=worst",
    "/api/v1/calls?sort=worst&order=asc",
    "/api/v1/calls?sort=worst&offset=100000",
    "/api/v1/calls?sort=worst&nat=true",
    "/api/v1/calls?sort=worst&final_status=200",
    "/api/v1/calls?sort=worst&max_mos=2",
    "/api/v1/calls?sort=worst&final_status=486",
    "/api/v1/calls?sort=worst&verdict=good",
    "/api/v1/calls?one_way=true",
    "/api/v1/calls?nat=false",
    "/api/v1/calls?verdict=poor&nat=true",
    "/api/v1/calls?max_mos=2&offset=100000",
    "/api/v1/calls?final_status=4xx&offset=100000",
    "/api/v1/calls?min_loss=5",
    "/api/v1/calls?codec=G729",
    "/api/v1/calls?search=bench-7",
    "/api/v1/calls?search=user00123",
};

/* The same queries through sipscope's HTTP server (JSON encoding, the socket, a new connection
 * per request), then time bounds, the stats route and the matrix above, each beside a full scan
 * of the calls (a substring that matches nothing) timed in the same run. 0, or 1 when the
 * server did not start or a request failed. */
static int time_http_queries(const char *path, const bench_plan_t *p)
{
    api_cfg_t cfg = {.db_path = path, .listen = "127.0.0.1:0"};
    api_server_t *srv = NULL;
    char err[256];
    if (api_server_start(&cfg, &srv, err, sizeof(err)) != 0) {
        fprintf(stderr, "api_query: server: %s\n", err);
        return 1;
    }
    uint16_t port = api_server_port(srv);
    printf("\nGET through HTTP on 127.0.0.1 (new connection each time), against a full scan:\n");
    double scan = time_http_target(port, "/api/v1/calls?q=no-such-call", 0);
    const long long day = QUERY_DAY, hour = QUERY_HOUR;
    char since_hour[160], day_q[200], stats_day[160];
    snprintf(since_hour, sizeof(since_hour), "/api/v1/calls?since=%lld&until=%lld", hour,
             hour + 3600);
    snprintf(day_q, sizeof(day_q),
             "/api/v1/calls?state=completed&min_mos=3.5&since=%lld&until=%lld", day, day + 86400);
    snprintf(stats_day, sizeof(stats_day), "/api/v1/stats?since=%lld&until=%lld", day, day + 86400);
    const char *targets[MAX_QUERIES + 4 + ARRAY_LEN(matrix)];
    size_t nt = 0;
    for (size_t i = 0; i < p->nq; i++) {
        if (p->q[i].query != NULL)
            targets[nt++] = p->q[i].query;
    }
    targets[nt++] = since_hour;
    targets[nt++] = day_q;
    targets[nt++] = stats_day;
    targets[nt++] = "/api/v1/stats";
    for (size_t i = 0; i < ARRAY_LEN(matrix); i++)
        targets[nt++] = matrix[i];
    int status = scan < 0;
    for (size_t i = 0; i < nt; i++)
        status |= time_http_target(port, targets[i], scan) < 0;
    api_server_stop(srv);
    return status;
}

int main(int argc, char **argv)
{
    bench_opts_t o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    if (prepare_db(&o) != 0)
        return 1;
    bench_plan_t plan;
    store_t *s = open_and_pick(&o, &plan);
    if (s == NULL)
        return 1;
    plan_queries(&plan);
    rc = time_store_queries(s, &plan, o.n);
    store_close(s);
    if (rc != 0)
        return rc;
    return time_http_queries(o.path, &plan);
}
