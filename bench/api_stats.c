/* api_stats: /api/v1/stats over a million calls, from the per-minute aggregate against the scan
 * of the calls it replaced, and /healthz while 200 clients ask for stats or walk away from slow
 * requests. Every figure is printed beside a baseline measured in the same run. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agg.h"
#include "api.h"
#include "defs.h"
#include "store.h"

#define REPEAT      9
#define MAX_SAMPLES 100000

static const char usage[] =
    "usage: api_stats [--db PATH] [--clients N] [--seconds S]\n"
    "PATH (default bench/out/api_query.db) is a database of calls, e.g. the million that\n"
    "build/bench/api_query fills. Prints the time of /api/v1/stats's totals and series through\n"
    "the store (the aggregate, and the scan of the calls as before), then /healthz latency alone,\n"
    "with N clients (default 200) asking for stats for S seconds (default 5), and after N\n"
    "clients sent a slow request and went away.\n";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median and 99th percentile of n samples (sorted in place). */
static void pct(double *v, size_t n, double *p50, double *p99)
{
    qsort(v, n, sizeof(*v), cmp_double);
    *p50 = n ? v[n / 2] : 0;
    *p99 = n ? v[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] : 0;
}

/* ---- Through the store */

static double time_series(store_t *s, bool agg, int64_t since, int64_t until, int64_t step,
                          int64_t *calls)
{
    double ms[REPEAT];
    for (int r = 0; r < REPEAT; r++) {
        double t = now_s();
        int err;
        if (agg) {
            store_agg_totals_t tot;
            err = store_agg_series(s, since, until, step, &tot, NULL, NULL);
            *calls = tot.calls.calls;
        } else {
            store_call_stats_t tot;
            err = store_call_series(s, since, until, step, &tot, NULL, NULL);
            *calls = tot.calls;
        }
        ms[r] = (now_s() - t) * 1e3;
        if (err != 0) {
            fprintf(stderr, "api_stats: %s\n", store_errmsg(s));
            return -1;
        }
    }
    double p50, p99;
    pct(ms, REPEAT, &p50, &p99);
    return p50;
}

static int time_store(const char *path)
{
    store_t *s = NULL;
    double t = now_s();
    if (store_open(path, &s) != 0) { /* read-write: makes the aggregate when it is missing */
        fprintf(stderr, "api_stats: %s: %s\n", path, store_errmsg(s));
        store_close(s);
        return 1;
    }
    printf("opened %s in %.2f s (building the aggregate if it was missing)\n", path, now_s() - t);
    int64_t first = 0, last = 0;
    store_call_time_range(s, &first, &last);
    if (first == 0) {
        fprintf(stderr, "api_stats: %s holds no calls\n", path);
        store_close(s);
        return 1;
    }
    int64_t all_since = first - first % (6 * 3600 * NS_PER_S);
    struct {
        const char *what;
        int64_t since, until, step;
    } ranges[] = {
        {"everything, 6 h steps", all_since, last + 1, 6 * 3600 * NS_PER_S},
        {"everything, 5 min steps", all_since, last + 1, 300 * NS_PER_S},
        {"a day, 5 min steps", all_since + 86400 * NS_PER_S, all_since + 2 * 86400 * NS_PER_S,
         300 * NS_PER_S},
        {"an hour, 1 min steps", all_since + 90000 * NS_PER_S, all_since + 93600 * NS_PER_S,
         60 * NS_PER_S},
        {"7 days from x.123456789 s, 1 h steps", all_since + 12345678912,
         all_since + 12345678912 + 7 * 86400 * NS_PER_S, 3600 * NS_PER_S},
        {"everything from x.5 s, 5 min steps", all_since + 500000000, last + 1, 300 * NS_PER_S},
        {"a day, 90 s steps", all_since + 86400 * NS_PER_S, all_since + 2 * 86400 * NS_PER_S,
         90 * NS_PER_S},
        {"6 days, 1 min steps", all_since, all_since + 6 * 86400 * NS_PER_S, 60 * NS_PER_S},
        {"6 days from x:20 s, 1 min steps", all_since + 20 * NS_PER_S,
         all_since + (6 * 86400 + 20) * NS_PER_S, 60 * NS_PER_S},
        {"6 days from x:00.5 s, 1 min steps", all_since + NS_PER_S / 2,
         all_since + 6 * 86400 * NS_PER_S + NS_PER_S / 2, 60 * NS_PER_S},
    };
    printf("\n/api/v1/stats's totals and series through the store (median of %d):\n", REPEAT);
    printf("  %-40s %10s %12s %12s %8s\n", "range", "calls", "scan (ms)", "aggregate", "ratio");
    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
        int64_t n_scan = 0, n_agg = 0;
        double scan =
            time_series(s, false, ranges[i].since, ranges[i].until, ranges[i].step, &n_scan);
        double agg = time_series(s, true, ranges[i].since, ranges[i].until, ranges[i].step, &n_agg);
        printf("  %-40s %10lld %12.2f %12.2f %7.0fx%s\n", ranges[i].what, (long long)n_agg, scan,
               agg, agg > 0 ? scan / agg : 0, n_scan == n_agg ? "" : "  MISMATCH");
    }
    store_close(s);
    return 0;
}

/* ---- Through HTTP */

/* GET target on a new connection; the status, 0 on failure. With walk_away, the connection is
 * closed once the request is sent. */
static int http_get(uint16_t port, const char *target, bool walk_away)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {60, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return 0;
    }
    char req[512];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", target);
    if (n <= 0 || (size_t)n >= sizeof(req) || send(fd, req, (size_t)n, 0) != n) {
        close(fd);
        return 0;
    }
    if (walk_away) {
        close(fd);
        return 200;
    }
    char buf[16384], head[32] = "";
    size_t got = 0;
    ssize_t r;
    while ((r = recv(fd, buf, sizeof(buf), 0)) > 0) {
        if (got < sizeof(head) - 1)
            memcpy(head + got, buf,
                   (size_t)r < sizeof(head) - 1 - got ? (size_t)r : sizeof(head) - 1 - got);
        got += (size_t)r;
    }
    close(fd);
    int status = 0;
    return sscanf(head, "HTTP/1.%*d %d", &status) == 1 ? status : 0;
}

typedef struct {
    uint16_t port;
    int64_t first_s, span_s;
    int index;
    _Atomic bool *stop;
    _Atomic long *done, *busy, *failed;
} client_t;

/* One stats client: ranges that differ from request to request, until told to stop. */
static void *stats_client(void *arg)
{
    client_t *c = arg;
    unsigned seed = (unsigned)c->index * 2654435761u;
    while (!atomic_load(c->stop)) {
        int64_t since = c->first_s + (int64_t)(rand_r(&seed) % (unsigned)(c->span_s / 2));
        int64_t len = 3600 + (int64_t)(rand_r(&seed) % (unsigned)(c->span_s / 2));
        char target[160];
        snprintf(target, sizeof(target), "/api/v1/stats?since=%lld&until=%lld", (long long)since,
                 (long long)(since + len));
        int code = http_get(c->port, target, false);
        atomic_fetch_add(code == 200 ? c->done : code == 503 ? c->busy : c->failed, 1);
        if (code == 503)
            usleep(100000); /* Retry-After says 1 s; a tenth keeps the pressure on */
    }
    return NULL;
}

/* /healthz latencies for seconds (or count requests): p50, p99 in ms. */
static void probe_healthz(uint16_t port, double seconds, size_t count, double *p50, double *p99)
{
    static double ms[MAX_SAMPLES];
    size_t n = 0;
    double end = now_s() + seconds;
    while (n < MAX_SAMPLES && (count ? n < count : now_s() < end)) {
        double t = now_s();
        if (http_get(port, "/healthz", false) != 200)
            fprintf(stderr, "api_stats: /healthz failed\n");
        ms[n++] = (now_s() - t) * 1e3;
        if (!count)
            usleep(20000);
    }
    pct(ms, n, p50, p99);
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int time_http(const char *path, int clients, double seconds)
{
    api_cfg_t cfg = {.db_path = path, .listen = "127.0.0.1:0"};
    api_server_t *srv = NULL;
    char err[256];
    if (api_server_start(&cfg, &srv, err, sizeof(err)) != 0) {
        fprintf(stderr, "api_stats: server: %s\n", err);
        return 1;
    }
    uint16_t port = api_server_port(srv);
    store_t *s = NULL;
    int64_t first = 0, last = 0;
    store_opts_t ro = {.read_only = true};
    if (store_open_opts(path, &ro, &s) == 0)
        store_call_time_range(s, &first, &last);
    store_close(s);

    double b50, b99;
    probe_healthz(port, 0, 200, &b50, &b99);
    printf("\n/healthz alone (200 requests, 4 server threads): p50 %.2f ms, p99 %.2f ms\n", b50,
           b99);

    _Atomic bool stop = false;
    _Atomic long done = 0, busy = 0, failed = 0;
    client_t *cs = calloc((size_t)clients, sizeof(*cs));
    pthread_t *ts = calloc((size_t)clients, sizeof(*ts));
    if (cs == NULL || ts == NULL)
        return 1;
    for (int i = 0; i < clients; i++) {
        cs[i] = (client_t){port,  first / NS_PER_S, (last - first) / NS_PER_S + 1, i, &stop, &done,
                           &busy, &failed};
        pthread_create(&ts[i], NULL, stats_client, &cs[i]);
    }
    double h50, h99;
    double t0 = now_s();
    probe_healthz(port, seconds, 0, &h50, &h99);
    atomic_store(&stop, true);
    for (int i = 0; i < clients; i++)
        pthread_join(ts[i], NULL);
    double took = now_s() - t0;
    printf("with %d clients asking for stats (each a different range) for %.0f s: %.0f stats "
           "answered/s, %.0f/s told 503 busy (%ld failed); /healthz p50 %.2f ms (%.1fx alone), "
           "p99 %.2f ms (%.1fx)\n",
           clients, seconds, (double)atomic_load(&done) / took, (double)atomic_load(&busy) / took,
           (long)atomic_load(&failed), h50, h50 / b50, h99, h99 / b99);

    /* Slow requests whose clients leave at once: a substring search scans every call. */
    double cpu0 = cpu_s();
    for (int i = 0; i < clients; i++) {
        char target[96];
        snprintf(target, sizeof(target), "/api/v1/calls?q=nomatch%d", i);
        http_get(port, target, true);
    }
    usleep(200000);
    probe_healthz(port, 2.0, 0, &h50, &h99);
    printf("after %d clients sent a full-scan search and went away: /healthz p50 %.2f ms "
           "(%.1fx alone), p99 %.2f ms (%.1fx); server CPU in those 2.2 s: %.2f s\n",
           clients, h50, h50 / b50, h99, h99 / b99, cpu_s() - cpu0);
    free(cs);
    free(ts);
    api_server_stop(srv);
    return 0;
}

int main(int argc, char **argv)
{
    const char *path = "bench/out/api_query.db";
    int clients = 200;
    double seconds = 5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (strcmp(argv[i], "--clients") == 0 && i + 1 < argc) {
            char *end;
            errno = 0;
            long v = strtol(argv[++i], &end, 10);
            clients =
                (errno != 0 || *end != '\0' || end == argv[i] || v < 1 || v > 250) ? 0 : (int)v;
        } else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            char *end;
            errno = 0;
            seconds = strtod(argv[++i], &end);
            if (errno != 0 || *end != '\0' || end == argv[i])
                seconds = 0; /* refused below */
        } else {
            fputs(usage, strcmp(argv[i], "--help") == 0 ? stdout : stderr);
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    if (clients < 1 || clients > 250 || seconds <= 0 || seconds > 600) {
        fputs(usage, stderr);
        return 2;
    }
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "api_stats: %s: %s (fill it first: build/bench/api_query)\n", path,
                strerror(errno));
        return 1;
    }
    if (time_store(path) != 0)
        return 1;
    return time_http(path, clients, seconds);
}
