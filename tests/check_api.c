/* check_api: the HTTP API over real sockets, against stores filled by analysing real captures. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api.h"
#include "api_int.h"
#include "httpc.h"
#include "skip.h"
#include "testdata.h"

/* ---- Fixture: databases made by the real program, once per run (before Check forks). */

static char tmpdir[256];
static pid_t owner; /* the process that made tmpdir (Check's forked children leave it alone) */
static char small_db[320], small_report[320], real_db[320], kept_db[320], kept_dir[320];

/* Captures of ../shared/pcaps (copied into tests/pcap/real) that hold calls or SIP. */
static const char *const real_captures[] = {
    "tests/pcap/real/ndpi-sip.pcap",
    "tests/pcap/real/sv-sip-tcp.pcap",
    "tests/pcap/real/sngrep-ipv6frag.pcap",
    "tests/pcap/real/sv-cloudshark-sip-s0.pcap",
    "tests/pcap/real/ndpi-FAX-Call-t38-CA-TDM-SIP-FB-1.pcap",
    "tests/pcap/real/ndpi-rtp.pcapng",
    "tests/pcap/real/zeek-sip-long-request-response-paths.pcap",
};

static int run(const char *cmd)
{
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void fill_databases(void)
{
    if (tmpdir[0] != '\0')
        return;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_api.XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    owner = getpid();
    snprintf(small_db, sizeof(small_db), "%s/small.db", tmpdir);
    snprintf(small_report, sizeof(small_report), "%s/small.json", tmpdir);
    snprintf(real_db, sizeof(real_db), "%s/real.db", tmpdir);
    snprintf(kept_db, sizeof(kept_db), "%s/kept.db", tmpdir);
    snprintf(kept_dir, sizeof(kept_dir), "%s/pcaps", tmpdir);
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "'%s' analyze -q --db '%s' --json '%s' > '%s'", SIPSCOPE_BINARY,
             small_db, testdata_path("samples/small.pcap"), small_report);
    if (run(cmd) != 0) {
        fprintf(stderr, "check_api: %s failed\n", cmd);
        exit(1);
    }
    /* The same capture with per-call pcap files kept. */
    snprintf(cmd, sizeof(cmd), "'%s' analyze -q --db '%s' --pcap-dir '%s' '%s'", SIPSCOPE_BINARY,
             kept_db, kept_dir, testdata_path("samples/small.pcap"));
    if (run(cmd) != 0) {
        fprintf(stderr, "check_api: %s failed\n", cmd);
        exit(1);
    }
    /* The real captures one after the other into one database (damaged ones may exit 1). */
    for (size_t i = 0; i < sizeof(real_captures) / sizeof(real_captures[0]); i++) {
        snprintf(cmd, sizeof(cmd), "'%s' analyze -q --db '%s' '%s' 2>/dev/null", SIPSCOPE_BINARY,
                 real_db, testdata_path(real_captures[i]));
        int rc = run(cmd);
        if (rc != 0 && rc != 1) {
            fprintf(stderr, "check_api: %s exited %d\n", cmd, rc);
            exit(1);
        }
    }
}

static void remove_databases(void)
{
    if (tmpdir[0] == '\0' || getpid() != owner)
        return;
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    run(cmd);
    tmpdir[0] = '\0';
}

/* ---- A server per test (Check forks each test; threads don't survive a fork). */

static api_server_t *srv;
static uint16_t port;

static void start_on(const char *db, const char *listen, const char *token)
{
    api_cfg_t cfg = {.db_path = db, .listen = listen, .token = token, .threads = 4};
    char err[256];
    int rc = api_server_start(&cfg, &srv, err, sizeof(err));
    ck_assert_msg(rc == 0, "server start: %s", err);
    port = api_server_port(srv);
    ck_assert_uint_ne(port, 0);
}

static void start_small(void)
{
    start_on(small_db, "127.0.0.1:0", NULL);
}

static void start_real(void)
{
    start_on(real_db, "127.0.0.1:0", NULL);
}

static void stop_server(void)
{
    api_server_stop(srv);
    srv = NULL;
}

/* ---- Requests through the shared client (tests/util/httpc.h). */

/* Send raw bytes to the server at family/port, read until it closes. A request the server can't
 * finish (cut short on purpose, half_close) may be held until the server's connection timeout:
 * don't wait for that. */
static void http_raw_on(int family, const char *req, size_t len, bool half_close, resp_t *r)
{
    http_exchange(family, port, req, len, half_close, half_close ? 3 : 20, r);
}

/* METHOD target with optional extra header lines ("Name: value\r\n..."). */
static void http_on(int family, const char *method, const char *target, const char *extra,
                    resp_t *r)
{
    size_t cap = strlen(target) + (extra ? strlen(extra) : 0) + 256;
    char *req = malloc(cap);
    int len = snprintf(req, cap, "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n%s\r\n",
                       method, target, extra ? extra : "");
    ck_assert(len > 0 && (size_t)len < cap);
    http_raw_on(family, req, (size_t)len, false, r);
    free(req);
}

static void http(const char *method, const char *target, const char *extra, resp_t *r)
{
    http_on(AF_INET, method, target, extra, r);
}

/* GET target, expect status; returns the JSON body (borrowed from r). */
static json_t *get_json(const char *target, int status, resp_t *r)
{
    http("GET", target, NULL, r);
    ck_assert_msg(r->status == status, "GET %s: status %d, want %d: %.300s", target, r->status,
                  status, r->body ? r->body : "");
    ck_assert_msg(r->json != NULL, "GET %s: body is not JSON: %.200s", target,
                  r->body ? r->body : "");
    return r->json;
}

static json_int_t jint(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    ck_assert_msg(json_is_integer(v), "%s is not an integer", key);
    return json_integer_value(v);
}

static void assert_error_body(const resp_t *r)
{
    ck_assert_msg(json_is_object(r->json), "error body is not a JSON object: %.200s",
                  r->body ? r->body : "");
    json_t *e = json_object_get(r->json, "error");
    ck_assert_msg(json_is_string(e) && json_string_length(e) > 0, "no error text");
}

/* ---- Basics. */

START_TEST(test_healthz)
{
    resp_t r;
    json_t *j = get_json("/healthz", 200, &r);
    ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "ok");
    char ct[128];
    ck_assert_ptr_nonnull(resp_header(&r, "Content-Type", ct, sizeof(ct)));
    ck_assert_str_eq(ct, "application/json");
    resp_free(&r);
}
END_TEST

/* The API resolves a reason's message_time to the row id of the call's message at that time (the
 * report, with no store, leaves it null): check it against the call's messages, then null it.
 * Returns the number of messages resolved. */
static int resolved_reasons(json_t *call)
{
    json_t *reasons = json_object_get(call, "reasons");
    ck_assert(json_is_array(reasons));
    json_t *detail = NULL;
    resp_t r;
    int n = 0;
    size_t i;
    json_t *reason;
    json_array_foreach (reasons, i, reason) {
        json_t *t = json_object_get(reason, "message_time");
        json_t *m = json_object_get(reason, "message");
        if (json_is_null(t)) {
            ck_assert(json_is_null(m));
            continue;
        }
        ck_assert_msg(json_is_integer(m), "message_time without its message");
        if (detail == NULL) {
            char path[64];
            snprintf(path, sizeof(path), "/api/v1/calls/%lld", (long long)jint(call, "id"));
            detail = get_json(path, 200, &r);
        }
        bool found = false;
        size_t k;
        json_t *msg;
        json_array_foreach (json_object_get(detail, "messages"), k, msg) {
            if (jint(msg, "id") == json_integer_value(m)) {
                found = fabs(json_number_value(json_object_get(msg, "time")) -
                             json_number_value(t)) < 1e-6;
            }
        }
        ck_assert_msg(found, "message %lld is not the call's at %f",
                      (long long)json_integer_value(m), json_number_value(t));
        json_object_set_new(reason, "message", json_null());
        n++;
    }
    if (detail != NULL)
        resp_free(&r);
    return n;
}

/* sort=worst: verdict severity (one_way first), then MOS ascending (none first); order=asc
 * reverses. */
static int severity_of(json_t *call)
{
    verdict_t v;
    ck_assert(verdict_parse(json_string_value(json_object_get(call, "verdict")), &v));
    return verdict_severity(v);
}

START_TEST(test_calls_sort_worst)
{
    static const char *const paths[] = {"/api/v1/calls?sort=worst&limit=1000",
                                        "/api/v1/calls?sort=worst&order=asc&limit=1000"};
    for (int k = 0; k < 2; k++) {
        resp_t r;
        json_t *page = get_json(paths[k], 200, &r);
        json_t *calls = json_object_get(page, "calls");
        ck_assert_int_gt(json_array_size(calls), 2);
        if (k == 0)
            ck_assert_str_eq(
                json_string_value(json_object_get(json_array_get(calls, 0), "verdict")), "one_way");
        for (size_t i = 1; i < json_array_size(calls); i++) {
            json_t *a = json_array_get(calls, i - 1), *b = json_array_get(calls, i);
            int sa = severity_of(a), sb = severity_of(b);
            ck_assert(k == 0 ? sa >= sb : sa <= sb);
            double ma = json_number_value(json_object_get(a, "mos"));
            double mb = json_number_value(json_object_get(b, "mos"));
            bool a_mos = json_is_number(json_object_get(a, "mos"));
            bool b_mos = json_is_number(json_object_get(b, "mos"));
            if (sa == sb && a_mos && b_mos)
                ck_assert(k == 0 ? ma <= mb : ma >= mb);
            /* calls without a MOS first among their verdict's (last with order=asc) */
            if (sa == sb && a_mos != b_mos)
                ck_assert(k == 0 ? b_mos : a_mos);
        }
        resp_free(&r);
    }
}
END_TEST

/* Calls of the API are the report's calls plus "id" (one shape for both). */
START_TEST(test_calls_match_report)
{
    size_t len;
    char *text = testdata_read(small_report, &len);
    ck_assert_ptr_nonnull(text);
    json_t *report = json_loads(text, 0, NULL);
    free(text);
    ck_assert_ptr_nonnull(report);
    json_t *want = json_object_get(report, "calls");
    resp_t r;
    json_t *page = get_json("/api/v1/calls?limit=1000", 200, &r);
    json_t *calls = json_object_get(page, "calls");
    ck_assert_int_eq(jint(page, "total"), (json_int_t)json_array_size(want));
    ck_assert_int_eq(json_array_size(calls), json_array_size(want));
    size_t i;
    json_t *c;
    int resolved = 0;
    json_array_foreach (calls, i, c) {
        ck_assert_int_gt(jint(c, "id"), 0);
        json_t *copy = json_deep_copy(c);
        resolved += resolved_reasons(copy);
        json_object_del(copy, "id");
        /* API only: the live state of the row (a finished analysis: neither). */
        ck_assert(json_is_false(json_object_get(copy, "active")));
        ck_assert(json_is_false(json_object_get(copy, "interrupted")));
        json_object_del(copy, "active");
        json_object_del(copy, "interrupted");
        const char *cid = json_string_value(json_object_get(c, "call_id"));
        json_t *match = NULL, *w;
        size_t k;
        json_array_foreach (want, k, w) {
            if (strcmp(json_string_value(json_object_get(w, "call_id")), cid) == 0)
                match = w;
        }
        ck_assert_msg(match != NULL, "call %s not in the report", cid);
        char *a = json_dumps(copy, JSON_SORT_KEYS), *b = json_dumps(match, JSON_SORT_KEYS);
        ck_assert_msg(json_equal(copy, match), "call %s differs:\napi    %s\nreport %s", cid, a, b);
        free(a);
        free(b);
        json_decref(copy);
    }
    ck_assert_int_gt(resolved, 0); /* small.pcap: a 404, an a=recvonly, NAT in SDP */
    /* Newest first by default. */
    double prev = INFINITY;
    json_array_foreach (calls, i, c) {
        double t = json_real_value(json_object_get(c, "invite_time"));
        ck_assert(t <= prev);
        prev = t;
    }
    resp_free(&r);
    json_decref(report);
}
END_TEST

/* Filters: each narrows to what the calls' own fields say. */
typedef struct {
    const char *query;
    json_int_t total;
} filter_case_t;

static const filter_case_t filter_cases[] = {
    {"", 10},
    {"state=completed", 8},
    {"state=rejected,cancelled", 2},
    {"state=in_call", 0},
    {"from=1712", 1},
    {"to=2989", 1},
    {"from=%2B15550802687", 1},
    {"from=nobody", 0},
    {"q=015B2503", 1},     /* Call-ID substring, any case */
    {"q=example.net", 10}, /* To URI substring */
    {"q=%25", 0},          /* '%' is a plain character, not a wildcard */
    {"call_id=015b25031c0db40ae647c111%40192.0.2.185", 1},
    {"min_mos=4.1", 4},
    {"max_mos=4.0", 3},
    {"min_mos=3.9&max_mos=4.1", 2},
    {"min_mos=0", 8}, /* calls without media never match a MOS bound */
    {"since=1705312805&until=1705312812", 3},
    {"since=2024-01-15T10:00:05Z&until=2024-01-15T10:00:12Z", 3},
    {"since=2024-01-15T11:00:05%2B01:00&until=2024-01-15T10:00:12.000Z", 3},
    {"until=1705312801", 1},
    {"state=completed&min_mos=4.1&since=1705312803", 3},
    {"state=", 10}, /* empty means "not given" */
};

START_TEST(test_calls_filters)
{
    const filter_case_t *fc = &filter_cases[_i];
    char target[512];
    snprintf(target, sizeof(target), "/api/v1/calls?%s", fc->query);
    resp_t r;
    json_t *page = get_json(target, 200, &r);
    ck_assert_msg(jint(page, "total") == fc->total, "%s: total %lld, want %lld", fc->query,
                  (long long)jint(page, "total"), (long long)fc->total);
    ck_assert_int_eq(json_array_size(json_object_get(page, "calls")),
                     fc->total < 50 ? fc->total : 50);
    resp_free(&r);
}
END_TEST

START_TEST(test_calls_paging)
{
    resp_t all;
    json_t *everything = json_object_get(get_json("/api/v1/calls", 200, &all), "calls");
    ck_assert_int_eq(json_array_size(everything), 10);
    /* Pages of 3 put together are the whole list, in the same order. */
    size_t seen = 0;
    for (int off = 0; off < 12; off += 3) {
        char target[128];
        snprintf(target, sizeof(target), "/api/v1/calls?limit=3&offset=%d", off);
        resp_t r;
        json_t *page = get_json(target, 200, &r);
        ck_assert_int_eq(jint(page, "total"), 10);
        ck_assert_int_eq(jint(page, "limit"), 3);
        ck_assert_int_eq(jint(page, "offset"), off);
        json_t *calls = json_object_get(page, "calls");
        ck_assert_int_eq(json_array_size(calls), off + 3 <= 10 ? 3 : (off < 10 ? 10 - off : 0));
        size_t i;
        json_t *c;
        json_array_foreach (calls, i, c) {
            ck_assert_int_eq(jint(c, "id"), jint(json_array_get(everything, seen), "id"));
            seen++;
        }
        resp_free(&r);
    }
    ck_assert_int_eq(seen, 10);
    resp_free(&all);
}
END_TEST

/* Each sort key orders its values (nulls lowest), both ways. */
START_TEST(test_calls_sort)
{
    static const struct {
        const char *sort, *field;
    } keys[] = {
        {"invite_time", "invite_time"},
        {"mos", "mos"},
        {"duration", "duration_s"},
        {"pdd", "post_dial_delay_ms"},
    };
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        for (int asc = 0; asc < 2; asc++) {
            char target[128];
            snprintf(target, sizeof(target), "/api/v1/calls?sort=%s&order=%s", keys[k].sort,
                     asc ? "asc" : "desc");
            resp_t r;
            json_t *calls = json_object_get(get_json(target, 200, &r), "calls");
            ck_assert_int_eq(json_array_size(calls), 10);
            double prev = asc ? -INFINITY : INFINITY;
            size_t i;
            json_t *c;
            json_array_foreach (calls, i, c) {
                json_t *v = json_object_get(c, keys[k].field);
                double x = json_is_null(v) ? -1e300 : json_number_value(v);
                ck_assert_msg(asc ? x >= prev : x <= prev, "%s: out of order at %zu", target, i);
                prev = x;
            }
            resp_free(&r);
        }
    }
}
END_TEST

/* ---- Bad input. */

static const char *const bad_requests[] = {
    "/api/v1/calls?limit=abc",
    "/api/v1/calls?limit=0",
    "/api/v1/calls?limit=1001",
    "/api/v1/calls?limit=12abc",
    "/api/v1/calls?limit=%2012",
    "/api/v1/calls?offset=-1",
    "/api/v1/calls?offset=1e3",
    "/api/v1/calls?state=foo",
    "/api/v1/calls?state=completed,,rejected",
    "/api/v1/calls?since=1705312812&until=1705312805",
    "/api/v1/calls?since=yesterday",
    "/api/v1/calls?since=2024-13-01T00:00:00Z",
    "/api/v1/calls?until=-5",
    "/api/v1/calls?min_mos=abc",
    "/api/v1/calls?min_mos=6",
    "/api/v1/calls?min_mos=nan",
    "/api/v1/calls?max_mos=inf",
    "/api/v1/calls?min_mos=4&max_mos=3",
    "/api/v1/calls?sort=bogus",
    "/api/v1/calls?order=up",
    "/api/v1/calls?bogus=1",
    "/api/v1/calls?limit=1&limit=2",
    "/api/v1/calls?=x",
    "/api/v1/calls/1?limit=5",
    "/api/v1/streams?min_loss=101",
    "/api/v1/streams?max_mos=x",
    "/api/v1/stats?step=0",
    "/api/v1/stats?step=1&since=1000000000&until=1705312812",
    "/api/v1/stats?until=1000&since=2000",
    "/api/v1/alerts?since=never",
    "/api/v1/alerts?type=nonsense",
    "/api/v1/registrations?active=maybe",
    "/api/v1/registrations?limit=-3",
    "/metrics?x=1",
};

START_TEST(test_bad_parameters)
{
    resp_t r;
    http("GET", bad_requests[_i], NULL, &r);
    ck_assert_msg(r.status == 400, "%s: status %d: %.200s", bad_requests[_i], r.status,
                  r.body ? r.body : "");
    assert_error_body(&r);
    resp_free(&r);
}
END_TEST

START_TEST(test_too_long_value)
{
    char target[1200] = "/api/v1/calls?q=";
    size_t n = strlen(target);
    memset(target + n, 'a', 700);
    target[n + 700] = '\0';
    resp_t r;
    http("GET", target, NULL, &r);
    ck_assert_int_eq(r.status, 400);
    assert_error_body(&r);
    resp_free(&r);
}
END_TEST

static const char *const not_found[] = {
    "/nope",
    "/api",
    "/api/v1",
    "/api/v1/",
    "/api/v1/calls/",
    "/api/v1/calls/999999",
    "/api/v1/calls/0",
    "/api/v1/calls/-1",
    "/api/v1/calls/abc",
    "/api/v1/calls/1x",
    "/api/v1/calls/99999999999999999999999",
    "/api/v1/calls/1/nope",
    "/api/v1/calls/999999/messages",
    "/api/v1/calls/999999/pcap",
    "/api/v1/streams/999999",
    "/api/v1/streams/999999/samples",
    "/api/v2/calls",
    "/static/",
    "/static/nope.js",
    "/index.html",
};

START_TEST(test_not_found)
{
    resp_t r;
    http("GET", not_found[_i], NULL, &r);
    ck_assert_msg(r.status == 404, "%s: status %d", not_found[_i], r.status);
    assert_error_body(&r);
    resp_free(&r);
}
END_TEST

/* Only the embedded files are served, whatever the path says. */
static const char *const escapes[] = {
    "/static/../../../../etc/passwd",
    "/static/..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/static/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
    "/static//etc/passwd",
    "/static/vendor/../app.js",
    "/static/./app.js",
    "/static/%252e%252e/etc/passwd",
    "/../../../../etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/static/....//....//etc/passwd",
    "/static/..\\..\\etc\\passwd",
    "/static/CMakeLists.txt",
    "/static/../CMakeLists.txt",
};

START_TEST(test_no_path_escape)
{
    resp_t r;
    http("GET", escapes[_i], NULL, &r);
    ck_assert_msg(r.status == 404 || r.status == 400, "%s: status %d", escapes[_i], r.status);
    ck_assert_msg(r.body == NULL || strstr(r.body, "root:") == NULL, "%s leaked a file",
                  escapes[_i]);
    resp_free(&r);
}
END_TEST

START_TEST(test_methods)
{
    static const char *const methods[] = {"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        resp_t r;
        http(methods[i], "/api/v1/calls", "Content-Length: 0\r\n", &r);
        ck_assert_msg(r.status == 405, "%s: status %d", methods[i], r.status);
        char allow[64];
        ck_assert_ptr_nonnull(resp_header(&r, "Allow", allow, sizeof(allow)));
        ck_assert_str_eq(allow, "GET, HEAD");
        resp_free(&r);
    }
    /* A body is refused without being read. */
    resp_t r;
    http("POST", "/api/v1/calls", "Content-Length: 5\r\nContent-Type: text/plain\r\n", &r);
    ck_assert_int_eq(r.status, 405);
    resp_free(&r);
}
END_TEST

START_TEST(test_head)
{
    resp_t r;
    http("HEAD", "/api/v1/calls", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body_len, 0);
    char len[32];
    ck_assert_ptr_nonnull(resp_header(&r, "Content-Length", len, sizeof(len)));
    ck_assert_int_gt(strtol(len, NULL, 10), 100);
    resp_free(&r);
}
END_TEST

START_TEST(test_oversized_requests)
{
    /* A URL too long for the route table: 414 from us. */
    char *target = malloc(4000);
    snprintf(target, 4000, "/api/v1/calls/");
    memset(target + strlen(target), 'x', 3000);
    target[3014] = '\0';
    resp_t r;
    http("GET", target, NULL, &r);
    ck_assert_msg(r.status == 414, "long URL: status %d", r.status);
    resp_free(&r);
    free(target);
    /* Beyond the connection's memory: refused by libmicrohttpd (414/431) or cut off. */
    size_t big = 100000;
    target = malloc(big + 16);
    memcpy(target, "/", 2);
    memset(target + 1, 'a', big);
    target[big] = '\0';
    http("GET", target, NULL, &r);
    ck_assert_msg(r.status == 0 || r.status == 414 || r.status == 431 || r.status == 400,
                  "huge URL: status %d", r.status);
    resp_free(&r);
    char *hdr = malloc(big + 64);
    snprintf(hdr, big + 64, "X-Big: ");
    memset(hdr + 7, 'b', big - 16);
    memcpy(hdr + big - 9, "\r\n", 3);
    http("GET", "/api/v1/calls", hdr, &r);
    ck_assert_msg(r.status == 0 || r.status == 431 || r.status == 400 || r.status == 413,
                  "huge header: status %d", r.status);
    resp_free(&r);
    free(hdr);
    free(target);
    /* The server is still fine. */
    get_json("/healthz", 200, &r);
    resp_free(&r);
}
END_TEST

static const char *const malformed[] = {
    "GARBAGE\r\n\r\n",
    "GET\r\n\r\n",
    "GET /api/v1/calls HTTP/9.9\r\nHost: x\r\n\r\n",
    "GET /api/v1/calls HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n",
    "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", /* a TLS ClientHello */
};

START_TEST(test_malformed_requests)
{
    resp_t r;
    http_raw_on(AF_INET, malformed[_i], strlen(malformed[_i]), true, &r);
    ck_assert_msg(r.status == 0 || r.status >= 400, "request %d answered %d", _i, r.status);
    resp_free(&r);
    get_json("/healthz", 200, &r);
    resp_free(&r);
}
END_TEST

/* ---- One call. */

/* The id of the call with this Call-ID prefix (small.pcap). */
static json_int_t call_row(const char *cid_prefix)
{
    resp_t r;
    char target[256];
    snprintf(target, sizeof(target), "/api/v1/calls?q=%s", cid_prefix);
    json_t *calls = json_object_get(get_json(target, 200, &r), "calls");
    ck_assert_int_eq(json_array_size(calls), 1);
    json_int_t id = jint(json_array_get(calls, 0), "id");
    resp_free(&r);
    return id;
}

START_TEST(test_call_detail)
{
    json_int_t id = call_row("015b25031c0db40ae647c111"); /* SIP over TCP, 2 streams */
    char target[128];
    snprintf(target, sizeof(target), "/api/v1/calls/%lld", (long long)id);
    resp_t r;
    json_t *call = get_json(target, 200, &r);
    ck_assert_int_eq(jint(call, "id"), id);
    ck_assert_str_eq(json_string_value(json_object_get(call, "state")), "completed");
    json_t *streams = json_object_get(call, "streams");
    ck_assert_int_eq(json_array_size(streams), 2);
    size_t i;
    json_t *s;
    json_array_foreach (streams, i, s) {
        ck_assert_int_gt(jint(s, "id"), 0);
        ck_assert_int_eq(jint(s, "call"), id);
        ck_assert_ptr_nonnull(json_object_get(s, "mos"));
        ck_assert_ptr_nonnull(json_object_get(s, "ssrc"));
    }
    json_t *msgs = json_object_get(call, "messages");
    ck_assert_int_eq(json_array_size(msgs), jint(call, "sip_messages"));
    double prev = 0;
    json_t *m;
    json_array_foreach (msgs, i, m) {
        ck_assert_ptr_null(json_object_get(m, "raw"));
        ck_assert_str_eq(json_string_value(json_object_get(m, "transport")), "tcp");
        double t = json_real_value(json_object_get(m, "time"));
        ck_assert(t >= prev);
        prev = t;
        ck_assert(json_is_string(json_object_get(m, "src")));
        ck_assert(json_is_integer(json_object_get(m, "cseq")));
    }
    json_t *first = json_array_get(msgs, 0);
    ck_assert_str_eq(json_string_value(json_object_get(first, "method")), "INVITE");
    ck_assert(json_is_true(json_object_get(first, "request")));
    ck_assert(json_is_true(json_object_get(first, "sdp")));
    ck_assert(json_is_null(json_object_get(first, "status")));
    json_t *second = json_array_get(msgs, 1);
    ck_assert_int_eq(jint(second, "status"), 100);
    ck_assert_str_eq(json_string_value(json_object_get(second, "summary")), "SIP/2.0 100 Trying");

    /* The raw messages: the same ones, with their text. */
    snprintf(target, sizeof(target), "/api/v1/calls/%lld/messages", (long long)id);
    resp_t rr;
    json_t *raws = get_json(target, 200, &rr);
    ck_assert(json_is_array(raws));
    ck_assert_int_eq(json_array_size(raws), json_array_size(msgs));
    json_array_foreach (raws, i, m) {
        const char *raw = json_string_value(json_object_get(m, "raw"));
        ck_assert_ptr_nonnull(raw);
        const char *summary = json_string_value(json_object_get(m, "summary"));
        ck_assert(strncmp(raw, summary, strlen(summary)) == 0);
        ck_assert_int_eq(jint(m, "id"), jint(json_array_get(msgs, i), "id"));
    }
    ck_assert_ptr_nonnull(
        strstr(json_string_value(json_object_get(json_array_get(raws, 0), "raw")), "\r\n\r\nv=0"));
    resp_free(&rr);
    resp_free(&r);
}
END_TEST

START_TEST(test_streams)
{
    resp_t r;
    json_t *page = get_json("/api/v1/streams", 200, &r);
    json_int_t total = jint(page, "total");
    ck_assert_int_eq(total, 14);
    json_t *first = json_array_get(json_object_get(page, "streams"), 0);
    json_int_t sid = jint(first, "id");
    resp_free(&r);

    page = get_json("/api/v1/streams?call_id=015b25031c0db40ae647c111%40192.0.2.185", 200, &r);
    ck_assert_int_eq(jint(page, "total"), 2);
    resp_free(&r);
    page = get_json("/api/v1/streams?limit=5&offset=10", 200, &r);
    ck_assert_int_eq(jint(page, "total"), 14);
    ck_assert_int_eq(json_array_size(json_object_get(page, "streams")), 4);
    resp_free(&r);
    /* min_loss is a percentage of the expected packets. */
    page = get_json("/api/v1/streams?min_loss=2", 200, &r);
    size_t i;
    json_t *s;
    json_array_foreach (json_object_get(page, "streams"), i, s) {
        double lost = (double)jint(s, "lost"), pk = (double)jint(s, "packets");
        ck_assert(lost * 100 >= 2 * (pk + lost));
    }
    json_int_t lossy = jint(page, "total");
    resp_free(&r);
    page = get_json("/api/v1/streams?min_loss=0", 200, &r);
    ck_assert_int_ge(jint(page, "total"), lossy);
    resp_free(&r);
    page = get_json("/api/v1/streams?max_mos=4.0", 200, &r);
    json_array_foreach (json_object_get(page, "streams"), i, s) {
        ck_assert(json_number_value(json_object_get(s, "mos")) <= 4.0);
    }
    resp_free(&r);

    char target[128];
    snprintf(target, sizeof(target), "/api/v1/streams/%lld", (long long)sid);
    json_t *one = get_json(target, 200, &r);
    ck_assert_int_eq(jint(one, "id"), sid);
    resp_free(&r);
    snprintf(target, sizeof(target), "/api/v1/streams/%lld/samples", (long long)sid);
    json_t *samples = get_json(target, 200, &r);
    ck_assert_int_eq(jint(samples, "stream"), sid);
    json_t *arr = json_object_get(samples, "samples");
    ck_assert_int_gt(json_array_size(arr), 0);
    json_t *p = json_array_get(arr, 0);
    ck_assert(json_is_number(json_object_get(p, "time")));
    ck_assert(json_is_number(json_object_get(p, "jitter_ms")));
    ck_assert(json_is_number(json_object_get(p, "mos")));
    ck_assert(json_is_integer(json_object_get(p, "lost")));
    resp_free(&r);
}
END_TEST

START_TEST(test_stats)
{
    resp_t r;
    json_t *st = get_json("/api/v1/stats", 200, &r);
    ck_assert_int_eq(jint(st, "calls"), 10);
    ck_assert_int_eq(jint(st, "answered"), 8);
    ck_assert(fabs(json_real_value(json_object_get(st, "asr")) - 0.8) < 1e-9);
    ck_assert(json_is_number(json_object_get(st, "acd_s")));
    ck_assert(json_is_number(json_object_get(st, "mean_pdd_ms")));
    ck_assert(json_is_number(json_object_get(st, "mean_mos")));
    json_t *by = json_object_get(st, "by_state");
    ck_assert_int_eq(jint(by, "completed"), 8);
    ck_assert_int_eq(jint(by, "rejected"), 1);
    ck_assert_int_eq(jint(by, "cancelled"), 1);
    /* small.pcap's two one-way and two NAT calls; the oldest and newest INVITE stored. */
    ck_assert_int_eq(jint(st, "one_way_calls"), 2);
    ck_assert_int_eq(jint(st, "nat_calls"), 2);
    ck_assert(json_is_object(json_object_get(st, "verdicts")));
    ck_assert(fabs(json_real_value(json_object_get(st, "first_time")) - 1705312800.209592) < 1e-6);
    ck_assert(fabs(json_real_value(json_object_get(st, "last_time")) - 1705312814.711051) < 1e-6);
    json_int_t hist = 0, series_calls = 0;
    size_t i;
    json_t *b;
    json_array_foreach (json_object_get(st, "mos_histogram"), i, b)
        hist += jint(b, "count");
    ck_assert_int_eq(hist, jint(st, "with_mos"));
    ck_assert_int_eq(hist, 8);
    json_array_foreach (json_object_get(st, "series"), i, b)
        series_calls += jint(b, "calls");
    ck_assert_int_eq(series_calls, 10);
    resp_free(&r);

    /* One-second steps over [10:00:00, 10:00:15): 15 entries, empty ones included. */
    st = get_json("/api/v1/stats?since=1705312800&until=1705312815&step=1", 200, &r);
    ck_assert_int_eq(jint(st, "step"), 1);
    json_t *series = json_object_get(st, "series");
    ck_assert_int_eq(json_array_size(series), 15);
    series_calls = 0;
    json_array_foreach (series, i, b) {
        ck_assert(fabs(json_real_value(json_object_get(b, "time")) - (1705312800.0 + (double)i)) <
                  1e-6);
        series_calls += jint(b, "calls");
    }
    ck_assert_int_eq(series_calls, jint(st, "calls"));
    ck_assert_int_eq(jint(st, "calls"), 10);
    resp_free(&r);

    /* A range with no calls. */
    st = get_json("/api/v1/stats?since=1600000000&until=1600000600", 200, &r);
    ck_assert_int_eq(jint(st, "calls"), 0);
    ck_assert(json_is_null(json_object_get(st, "asr")));
    resp_free(&r);
}
END_TEST

START_TEST(test_alerts_registrations)
{
    static const char *const targets[] = {
        "/api/v1/alerts",
        "/api/v1/alerts?since=1705312800&type=scanner&limit=5&offset=5",
        "/api/v1/registrations",
        "/api/v1/registrations?user=alice&active=true&limit=1000",
    };
    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        resp_t r;
        json_t *page = get_json(targets[i], 200, &r);
        ck_assert(json_is_integer(json_object_get(page, "total")));
        const char *key = strstr(targets[i], "alerts") ? "alerts" : "registrations";
        ck_assert(json_is_array(json_object_get(page, key)));
        ck_assert_int_le(json_array_size(json_object_get(page, key)), 1000);
        resp_free(&r);
    }
}
END_TEST

START_TEST(test_metrics)
{
    resp_t r;
    http("GET", "/metrics", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    char ct[128];
    ck_assert_ptr_nonnull(resp_header(&r, "Content-Type", ct, sizeof(ct)));
    ck_assert_ptr_nonnull(strstr(ct, "text/plain"));
    static const char *const lines[] = {
        "sipscope_calls{state=\"completed\"} 8\n",
        "sipscope_calls{state=\"rejected\"} 1\n",
        "sipscope_sip_requests{method=\"INVITE\"} 10\n",
        "sipscope_sip_responses{method=\"INVITE\",status=\"200\"} 8\n",
        "sipscope_rtp_streams 14\n",
        "sipscope_store_rows{table=\"sip_messages\"} 187\n",
        "sipscope_capture_packets_total 2403\n",
        "# TYPE sipscope_http_requests_total counter\n",
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        ck_assert_msg(strstr(r.body, lines[i]) != NULL, "missing: %s", lines[i]);
    resp_free(&r);
}
END_TEST

/* The OpenAPI description lists exactly the routes the router knows. */
START_TEST(test_openapi_complete)
{
    resp_t r;
    json_t *doc = get_json("/api/v1/openapi.json", 200, &r);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "openapi")), "3.0.3");
    json_t *paths = json_object_get(doc, "paths");
    ck_assert(json_is_object(paths));
    for (size_t i = 0; i < api_route_count(); i++) {
        json_t *p = json_object_get(paths, api_route_path(i));
        ck_assert_msg(p != NULL, "route %s is not in openapi.json", api_route_path(i));
        ck_assert_msg(json_object_get(p, "get") != NULL, "%s: no get operation", api_route_path(i));
    }
    const char *key;
    json_t *v;
    json_object_foreach (paths, key, v) {
        bool known = false;
        for (size_t i = 0; i < api_route_count() && !known; i++)
            known = strcmp(api_route_path(i), key) == 0;
        ck_assert_msg(known, "openapi.json documents %s, which the router does not know", key);
    }
    ck_assert_int_eq(json_object_size(paths), api_route_count());
    /* The embedded copy is the same document. */
    json_t *embedded = json_loads(api_openapi_json(), 0, NULL);
    ck_assert(json_equal(embedded, doc));
    json_decref(embedded);
    resp_free(&r);
}
END_TEST

/* ---- Every object the routes return against its schema in the served OpenAPI description
 * (whose record schemas web/openapi.c generates from the records' descriptors). */

static json_t *schema_named(json_t *doc, const char *name)
{
    json_t *s =
        json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"), name);
    ck_assert_msg(json_is_object(s), "openapi.json: no schema %s", name);
    return s;
}

/* A schema itself, or the one its "$ref" names. */
static json_t *resolve(json_t *doc, json_t *schema)
{
    json_t *ref = json_object_get(schema, "$ref");
    if (!json_is_string(ref))
        return schema;
    const char *r = json_string_value(ref);
    ck_assert_msg(strncmp(r, "#/components/schemas/", 21) == 0, "ref %s", r);
    return schema_named(doc, r + 21);
}

/* The properties and required keys of an object schema, following $ref and allOf, added to
 * props (name -> property schema) and required (name -> true). */
static void collect(json_t *doc, json_t *schema, json_t *props, json_t *required)
{
    schema = resolve(doc, schema);
    size_t i;
    const char *k;
    json_t *v;
    json_array_foreach (json_object_get(schema, "allOf"), i, v)
        collect(doc, v, props, required);
    json_object_foreach (json_object_get(schema, "properties"), k, v)
        json_object_set(props, k, v);
    json_array_foreach (json_object_get(schema, "required"), i, v)
        json_object_set(required, json_string_value(v), json_true());
}

static void check_object(json_t *doc, json_t *schema, json_t *o, const char *where);

/* One value against its property schema: type (an integer is a number too), null only where
 * nullable, enum; arrays item by item, objects key by key. */
static void check_value(json_t *doc, json_t *prop, json_t *v, const char *where, const char *key)
{
    prop = resolve(doc, prop);
    if (json_is_null(v)) {
        ck_assert_msg(json_is_true(json_object_get(prop, "nullable")),
                      "%s: %s is null, and its schema is not nullable", where, key);
        return;
    }
    const char *type = json_string_value(json_object_get(prop, "type"));
    if (type == NULL && json_object_get(prop, "allOf") != NULL)
        type = "object";
    ck_assert_msg(type != NULL, "%s: %s: schema without a type", where, key);
    bool ok = strcmp(type, "integer") == 0   ? json_is_integer(v)
              : strcmp(type, "number") == 0  ? json_is_number(v)
              : strcmp(type, "string") == 0  ? json_is_string(v)
              : strcmp(type, "boolean") == 0 ? json_is_boolean(v)
              : strcmp(type, "array") == 0   ? json_is_array(v)
              : strcmp(type, "object") == 0  ? json_is_object(v)
                                             : false;
    ck_assert_msg(ok, "%s: %s is not of type %s", where, key, type);
    json_t *e = json_object_get(prop, "enum");
    if (e != NULL) {
        bool found = false;
        size_t i;
        json_t *x;
        json_array_foreach (e, i, x)
            found = found || json_equal(x, v);
        ck_assert_msg(found, "%s: %s is not one of its enum", where, key);
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach (v, i, x)
            check_value(doc, json_object_get(prop, "items"), x, where, key);
    } else if (json_is_object(v)) {
        check_object(doc, prop, v, where);
    }
}

/* Every key of o is a property of schema, every required property is in o. */
static void check_object(json_t *doc, json_t *schema, json_t *o, const char *where)
{
    ck_assert_msg(json_is_object(o), "%s: not an object", where);
    json_t *props = json_object(), *required = json_object();
    collect(doc, schema, props, required);
    const char *k;
    json_t *v;
    json_object_foreach (o, k, v) {
        json_t *prop = json_object_get(props, k);
        ck_assert_msg(prop != NULL, "%s: key %s is not in its schema", where, k);
        check_value(doc, prop, v, where, k);
    }
    json_object_foreach (required, k, v)
        ck_assert_msg(json_object_get(o, k) != NULL, "%s: required key %s is missing", where, k);
    json_decref(props);
    json_decref(required);
}

/* Each object of array against the schema name; returns how many. */
static size_t check_each(json_t *doc, json_t *array, const char *name, const char *where)
{
    ck_assert_msg(json_is_array(array), "%s: not an array", where);
    size_t i;
    json_t *o;
    json_array_foreach (array, i, o)
        check_object(doc, schema_named(doc, name), o, where);
    return json_array_size(array);
}

/* The counts of objects checked, by kind. */
typedef struct {
    size_t calls, details, streams, samples, messages, raw_messages, rtcp, alerts, registrations;
} schema_counts_t;

static void check_routes_against_schemas(schema_counts_t *n)
{
    memset(n, 0, sizeof(*n));
    resp_t d;
    json_t *doc = get_json("/api/v1/openapi.json", 200, &d);
    char target[128];
    resp_t r, x;

    json_t *page = get_json("/api/v1/calls?limit=1000", 200, &r);
    n->calls = check_each(doc, json_object_get(page, "calls"), "Call", "/api/v1/calls");
    size_t i;
    json_t *c;
    json_array_foreach (json_object_get(page, "calls"), i, c) {
        snprintf(target, sizeof(target), "/api/v1/calls/%lld", (long long)jint(c, "id"));
        json_t *call = get_json(target, 200, &x);
        check_object(doc, schema_named(doc, "CallDetail"), call, target);
        n->details++;
        n->messages += json_array_size(json_object_get(call, "messages"));
        resp_free(&x);
        snprintf(target, sizeof(target), "/api/v1/calls/%lld/messages", (long long)jint(c, "id"));
        n->raw_messages += check_each(doc, get_json(target, 200, &x), "RawMessage", target);
        resp_free(&x);
    }
    resp_free(&r);

    page = get_json("/api/v1/streams?limit=1000", 200, &r);
    n->streams = check_each(doc, json_object_get(page, "streams"), "Stream", "/api/v1/streams");
    json_t *s;
    json_array_foreach (json_object_get(page, "streams"), i, s) {
        n->rtcp += json_object_get(s, "rtcp") != NULL;
        snprintf(target, sizeof(target), "/api/v1/streams/%lld", (long long)jint(s, "id"));
        check_object(doc, schema_named(doc, "Stream"), get_json(target, 200, &x), target);
        resp_free(&x);
        snprintf(target, sizeof(target), "/api/v1/streams/%lld/samples", (long long)jint(s, "id"));
        json_t *samples = json_object_get(get_json(target, 200, &x), "samples");
        n->samples += check_each(doc, samples, "Sample", target);
        resp_free(&x);
    }
    resp_free(&r);

    page = get_json("/api/v1/alerts?limit=1000", 200, &r);
    n->alerts = check_each(doc, json_object_get(page, "alerts"), "Alert", "/api/v1/alerts");
    resp_free(&r);
    page = get_json("/api/v1/registrations?limit=1000", 200, &r);
    n->registrations = check_each(doc, json_object_get(page, "registrations"), "Registration",
                                  "/api/v1/registrations");
    resp_free(&r);
    resp_free(&d);
}

/* samples/small.pcap has some of every kind of object, RTCP reports, alerts and registrations
 * included. */
START_TEST(test_objects_match_openapi)
{
    schema_counts_t n;
    check_routes_against_schemas(&n);
    ck_assert_uint_gt(n.calls, 0);
    ck_assert_uint_eq(n.details, n.calls);
    ck_assert_uint_gt(n.streams, 0);
    ck_assert_uint_gt(n.samples, 0);
    ck_assert_uint_gt(n.messages, 0);
    ck_assert_uint_eq(n.raw_messages, n.messages);
    ck_assert_uint_gt(n.rtcp, 0);
    ck_assert_uint_gt(n.alerts, 0);
    ck_assert_uint_gt(n.registrations, 0);
}
END_TEST

/* The real captures: IPv6, TCP, streams no SDP announced, registrations without alerts. */
START_TEST(test_real_objects_match_openapi)
{
    schema_counts_t n;
    check_routes_against_schemas(&n);
    ck_assert_uint_gt(n.calls, 0);
    ck_assert_uint_gt(n.streams, 0);
    ck_assert_uint_gt(n.registrations, 0);
}
END_TEST

START_TEST(test_static_files)
{
    resp_t r;
    http("GET", "/", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    char buf[512];
    ck_assert_ptr_nonnull(resp_header(&r, "Content-Type", buf, sizeof(buf)));
    ck_assert_str_eq(buf, "text/html; charset=utf-8");
    ck_assert_ptr_nonnull(resp_header(&r, "Content-Security-Policy", buf, sizeof(buf)));
    ck_assert_ptr_nonnull(strstr(r.body, "<title>sipscope</title>"));
    resp_free(&r);
    static const struct {
        const char *path, *type, *contains;
    } files[] = {
        {"/static/app.js", "text/javascript; charset=utf-8", "renderCalls"},
        {"/static/style.css", "text/css; charset=utf-8", ".ladder"},
        {"/static/vendor/uPlot.iife.min.js", "text/javascript; charset=utf-8", "uPlot"},
        {"/static/vendor/uPlot.min.css", "text/css; charset=utf-8", ".uplot"},
    };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        http("GET", files[i].path, NULL, &r);
        ck_assert_msg(r.status == 200, "%s: %d", files[i].path, r.status);
        ck_assert_str_eq(resp_header(&r, "Content-Type", buf, sizeof(buf)), files[i].type);
        ck_assert_ptr_nonnull(strstr(r.body, files[i].contains));
        resp_free(&r);
    }
}
END_TEST

/* ---- The token. */

START_TEST(test_token)
{
    stop_server();
    start_on(small_db, "127.0.0.1:0", "s3cret-Token_1");
    static const char *const guarded[] = {
        "/api/v1/calls",        "/",     "/static/app.js", "/metrics",
        "/api/v1/openapi.json", "/nope", "/api/v1/calls/1"};
    char buf[256];
    for (size_t i = 0; i < sizeof(guarded) / sizeof(guarded[0]); i++) {
        resp_t r;
        http("GET", guarded[i], NULL, &r);
        ck_assert_msg(r.status == 401, "%s without token: %d", guarded[i], r.status);
        ck_assert_ptr_nonnull(resp_header(&r, "WWW-Authenticate", buf, sizeof(buf)));
        ck_assert(strncmp(buf, "Bearer", 6) == 0);
        assert_error_body(&r);
        resp_free(&r);
        http("GET", guarded[i], "Authorization: Bearer wrong\r\n", &r);
        ck_assert_int_eq(r.status, 401);
        resp_free(&r);
        http("GET", guarded[i], "Authorization: Bearer s3cret-Token_\r\n", &r);
        ck_assert_int_eq(r.status, 401);
        resp_free(&r);
    }
    resp_t r;
    http("GET", "/api/v1/calls", "Authorization: Bearer s3cret-Token_1\r\n", &r);
    ck_assert_int_eq(r.status, 200);
    resp_free(&r);
    http("GET", "/api/v1/calls", "Authorization: bearer s3cret-Token_1\r\n", &r);
    ck_assert_int_eq(r.status, 200); /* the scheme is case-insensitive (RFC 7235) */
    resp_free(&r);
    http("GET", "/nope", "Authorization: Bearer s3cret-Token_1\r\n", &r);
    ck_assert_int_eq(r.status, 404);
    resp_free(&r);
    /* /healthz stays open. */
    http("GET", "/healthz", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    resp_free(&r);
    /* A browser: ?access_token= once, then the cookie it sets. */
    http("GET", "/?access_token=s3cret-Token_1", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(resp_header(&r, "Set-Cookie", buf, sizeof(buf)));
    /* A random session, not the token itself (check_api_hardening tests sessions in full). */
    ck_assert_int_eq(strncmp(buf, "sipscope_session=", 17), 0);
    ck_assert_ptr_null(strstr(buf, "s3cret-Token_1"));
    ck_assert_ptr_nonnull(strstr(buf, "HttpOnly"));
    char cookie[96];
    snprintf(cookie, sizeof(cookie), "Cookie: %.*s\r\n", (int)strcspn(buf, ";"), buf);
    resp_free(&r);
    http("GET", "/api/v1/calls?access_token=wrong", NULL, &r);
    ck_assert_int_eq(r.status, 401);
    resp_free(&r);
    http("GET", "/api/v1/calls?limit=2", cookie, &r);
    ck_assert_int_eq(r.status, 200);
    resp_free(&r);
    http("GET", "/api/v1/calls", "Cookie: sipscope_token=nope\r\n", &r);
    ck_assert_int_eq(r.status, 401);
    resp_free(&r);
}
END_TEST

START_TEST(test_bad_config)
{
    api_server_t *s = NULL;
    char err[256];
    api_cfg_t cfg = {.db_path = small_db, .listen = "127.0.0.1"};
    ck_assert_int_eq(api_server_start(&cfg, &s, err, sizeof(err)), -EINVAL);
    cfg.listen = "[::1:80";
    ck_assert_int_eq(api_server_start(&cfg, &s, err, sizeof(err)), -EINVAL);
    cfg.listen = "127.0.0.1:99999";
    ck_assert_int_eq(api_server_start(&cfg, &s, err, sizeof(err)), -EINVAL);
    cfg.listen = "127.0.0.1:0";
    cfg.token = "has space";
    ck_assert_int_eq(api_server_start(&cfg, &s, err, sizeof(err)), -EINVAL);
    cfg.token = NULL;
    cfg.db_path = "/nonexistent/dir/x.db";
    ck_assert_int_ne(api_server_start(&cfg, &s, err, sizeof(err)), 0);
    ck_assert_ptr_null(s);
    /* The port in use. */
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", (unsigned)port);
    cfg.db_path = small_db;
    cfg.listen = listen;
    ck_assert_int_lt(api_server_start(&cfg, &s, err, sizeof(err)), 0);
    ck_assert_ptr_nonnull(strstr(err, "in use"));
}
END_TEST

START_TEST(test_ipv6)
{
    if (!have_ipv6_loopback()) {
        test_skip("test_ipv6 needs an IPv6 loopback");
        return;
    }
    stop_server();
    start_on(small_db, "[::1]:0", NULL);
    resp_t r;
    http_on(AF_INET6, "GET", "/api/v1/calls?limit=1", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(jint(r.json, "total"), 10);
    resp_free(&r);
}
END_TEST

/* Several clients at once, each request on its own connection (per-thread store connections). */
static void *hammer(void *arg)
{
    (void)arg;
    static const char *const targets[] = {"/api/v1/calls", "/api/v1/stats", "/metrics",
                                          "/api/v1/calls/2", "/api/v1/streams"};
    long failures = 0;
    for (int i = 0; i < 40; i++) {
        resp_t r;
        http("GET", targets[i % 5], NULL, &r);
        if (r.status != 200)
            failures++;
        resp_free(&r);
    }
    return (void *)failures;
}

START_TEST(test_concurrent_clients)
{
    pthread_t t[6];
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, hammer, NULL), 0);
    long failures = 0;
    for (int i = 0; i < 6; i++) {
        void *ret;
        pthread_join(t[i], &ret);
        failures += (long)ret;
    }
    ck_assert_int_eq(failures, 0);
}
END_TEST

/* Keep-alive: two requests on one connection. */
START_TEST(test_keep_alive)
{
    const char req[] =
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"
        "GET /api/v1/calls?limit=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    resp_t r;
    http_raw_on(AF_INET, req, sizeof(req) - 1, false, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body, "HTTP/1.1 200"));
    ck_assert_ptr_nonnull(strstr(r.body, "\"total\":10"));
    resp_free(&r);
}
END_TEST

/* ---- pcap download. */

static bool have_tshark(void)
{
    return run("command -v tshark >/dev/null 2>&1") == 0;
}

/* Count lines of a shell command's output. */
static long count_lines(const char *cmd)
{
    FILE *f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    long n = 0;
    int c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    pclose(f);
    return n;
}

/* Download every call's pcap; check its header, and with tshark that it holds exactly the
 * call's stored messages, with no bad checksum nor malformed packet. Returns calls checked. */
static int check_pcaps(bool tshark)
{
    resp_t lr;
    json_t *calls = json_object_get(get_json("/api/v1/calls?limit=1000", 200, &lr), "calls");
    size_t i;
    json_t *c;
    int checked = 0;
    json_array_foreach (calls, i, c) {
        json_int_t id = jint(c, "id");
        char target[128];
        snprintf(target, sizeof(target), "/api/v1/calls/%lld/messages", (long long)id);
        resp_t mr;
        size_t stored = json_array_size(get_json(target, 200, &mr));
        resp_free(&mr);
        snprintf(target, sizeof(target), "/api/v1/calls/%lld/pcap", (long long)id);
        resp_t r;
        http("GET", target, NULL, &r);
        ck_assert_int_eq(r.status, 200);
        char buf[256];
        ck_assert_str_eq(resp_header(&r, "Content-Type", buf, sizeof(buf)),
                         "application/vnd.tcpdump.pcap");
        ck_assert_ptr_nonnull(resp_header(&r, "X-Sipscope-Pcap-Content", buf, sizeof(buf)));
        ck_assert_ptr_nonnull(resp_header(&r, "Content-Disposition", buf, sizeof(buf)));
        ck_assert_uint_ge(r.body_len, 24);
        static const unsigned char magic[4] = {0xd4, 0xc3, 0xb2, 0xa1};
        ck_assert(memcmp(r.body, magic, 4) == 0);
        size_t skipped = 0;
        if (resp_header(&r, "X-Sipscope-Pcap-Skipped", buf, sizeof(buf)))
            skipped = (size_t)strtoul(buf, NULL, 10);
        if (tshark) {
            char path[400];
            snprintf(path, sizeof(path), "%s/call-%lld.pcap", tmpdir, (long long)id);
            FILE *f = fopen(path, "wb");
            ck_assert_ptr_nonnull(f);
            ck_assert_uint_eq(fwrite(r.body, 1, r.body_len, f), r.body_len);
            fclose(f);
            char cmd[1024];
            snprintf(cmd, sizeof(cmd), "tshark -n -r '%s' -Y sip 2>/dev/null", path);
            long sip = count_lines(cmd);
            ck_assert_msg((size_t)sip + skipped == stored,
                          "call %lld: tshark sees %ld SIP messages (+%zu skipped), stored %zu",
                          (long long)id, sip, skipped, stored);
            snprintf(cmd, sizeof(cmd),
                     "tshark -n -r '%s' -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE "
                     "-o tcp.check_checksum:TRUE -Y 'ip.checksum.status == 0 || "
                     "udp.checksum.status == 0 || tcp.checksum.status == 0 || _ws.malformed' "
                     "2>/dev/null",
                     path);
            ck_assert_msg(count_lines(cmd) == 0, "call %lld: bad checksums or malformed frames",
                          (long long)id);
        }
        resp_free(&r);
        checked++;
    }
    resp_free(&lr);
    return checked;
}

START_TEST(test_pcap_small)
{
    bool tshark = have_tshark();
    if (!tshark)
        fprintf(stderr, "check_api: tshark not installed: pcap files checked by header only\n");
    ck_assert_int_eq(check_pcaps(tshark), 10);
}
END_TEST

/* With per-call pcap files (analyze --pcap-dir), the route sends the call's own file: every
 * packet as captured, RTP included. */
START_TEST(test_pcap_per_call_file)
{
    stop_server();
    start_on(kept_db, "127.0.0.1:0", NULL);
    json_int_t id = call_row("015b25031c0db40ae647c111"); /* answered, SIP over TCP */
    char target[128];
    snprintf(target, sizeof(target), "/api/v1/calls/%lld/messages", (long long)id);
    resp_t mr;
    size_t stored = json_array_size(get_json(target, 200, &mr));
    resp_free(&mr);
    snprintf(target, sizeof(target), "/api/v1/calls/%lld/pcap", (long long)id);
    resp_t r;
    http("GET", target, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    char buf[256];
    ck_assert_ptr_nonnull(resp_header(&r, "X-Sipscope-Pcap-Content", buf, sizeof(buf)));
    ck_assert_msg(strncmp(buf, "every packet", 12) == 0, "content: %s", buf);
    ck_assert_uint_gt(r.body_len, 10000); /* RTP makes it big */
    if (have_tshark()) {
        char path[400], cmd[1024];
        snprintf(path, sizeof(path), "%s/kept-%lld.pcap", tmpdir, (long long)id);
        FILE *f = fopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(r.body, 1, r.body_len, f), r.body_len);
        fclose(f);
        snprintf(cmd, sizeof(cmd), "tshark -n -r '%s' -Y sip 2>/dev/null", path);
        ck_assert_int_eq(count_lines(cmd), (long)stored);
        snprintf(cmd, sizeof(cmd), "tshark -n -r '%s' 2>/dev/null", path);
        ck_assert_int_gt(count_lines(cmd), (long)stored + 100);
    }
    resp_free(&r);
}
END_TEST

/* ---- The real captures. */

START_TEST(test_real_captures)
{
    resp_t r;
    json_t *page = get_json("/api/v1/calls?limit=1000", 200, &r);
    json_int_t total = jint(page, "total");
    ck_assert_int_gt(total, 0);
    json_t *calls = json_object_get(page, "calls");
    ck_assert_int_eq((json_int_t)json_array_size(calls), total);
    size_t i;
    json_t *c;
    json_array_foreach (calls, i, c) {
        char target[128];
        snprintf(target, sizeof(target), "/api/v1/calls/%lld", (long long)jint(c, "id"));
        resp_t cr;
        json_t *call = get_json(target, 200, &cr);
        ck_assert(json_is_array(json_object_get(call, "messages")));
        ck_assert_int_gt(json_array_size(json_object_get(call, "messages")), 0);
        resp_free(&cr);
    }
    resp_free(&r);
    page = get_json("/api/v1/stats", 200, &r);
    ck_assert_int_eq(jint(page, "calls"), total);
    resp_free(&r);
    page = get_json("/api/v1/streams?limit=1000", 200, &r);
    ck_assert_int_gt(jint(page, "total"), 0);
    resp_free(&r);
    /* Both transports and both IP versions are among them (sv-sip-tcp, sngrep-ipv6frag). */
    ck_assert_int_gt(check_pcaps(have_tshark()), 0);
}
END_TEST

/* ---- Units without a server. */

START_TEST(test_parse_time)
{
    int64_t ns;
    ck_assert(api_parse_time("1705312800", &ns) && ns == INT64_C(1705312800000000000));
    ck_assert(api_parse_time("1705312800.25", &ns) && ns == INT64_C(1705312800250000000));
    ck_assert(api_parse_time("2024-01-15T10:00:00Z", &ns) && ns == INT64_C(1705312800000000000));
    ck_assert(api_parse_time("2024-01-15t10:00:00.5z", &ns) && ns == INT64_C(1705312800500000000));
    ck_assert(api_parse_time("2024-01-15T12:00:00+02:00", &ns) &&
              ns == INT64_C(1705312800000000000));
    ck_assert(api_parse_time("2024-01-15T09:30:00-00:30", &ns) &&
              ns == INT64_C(1705312800000000000));
    static const char *const bad[] = {"",
                                      "x",
                                      "-1",
                                      "0",
                                      "1e9",
                                      "2024-01-15",
                                      "2024-01-15T10:00Z",
                                      "2024-02-30X10:00:00Z",
                                      "2024-01-15T25:00:00Z",
                                      "2024-01-15T10:00:00",
                                      "2024-01-15T10:00:00+2:00",
                                      "2024-01-15T10:00:00Zjunk",
                                      " 1705312800",
                                      "99999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(!api_parse_time(bad[i], &ns), "accepted '%s'", bad[i]);
}
END_TEST

START_TEST(test_parse_listen)
{
    struct sockaddr_storage ss;
    unsigned len;
    ck_assert(api_parse_listen("127.0.0.1:8080", (struct sockaddr *)&ss, &len));
    ck_assert_int_eq(ss.ss_family, AF_INET);
    ck_assert(api_parse_listen("[::1]:8080", (struct sockaddr *)&ss, &len));
    ck_assert_int_eq(ss.ss_family, AF_INET6);
    ck_assert(api_parse_listen("0.0.0.0:0", (struct sockaddr *)&ss, &len));
    static const char *const bad[] = {
        "",       "8080",  ":8080",   "127.0.0.1:", "127.0.0.1:65536", "localhost:80",
        "::1:80", "[::1]", "[::1]:x", "1.2.3:80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(!api_parse_listen(bad[i], (struct sockaddr *)&ss, &len), "accepted '%s'",
                      bad[i]);
}
END_TEST

Suite *api_suite(void)
{
    Suite *s = suite_create("api");
    fill_databases();
    atexit(remove_databases);

    TCase *tc = tcase_create("small");
    tcase_add_checked_fixture(tc, start_small, stop_server);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_healthz);
    tcase_add_test(tc, test_calls_match_report);
    tcase_add_test(tc, test_calls_sort_worst);
    tcase_add_loop_test(tc, test_calls_filters, 0,
                        (int)(sizeof(filter_cases) / sizeof(filter_cases[0])));
    tcase_add_test(tc, test_calls_paging);
    tcase_add_test(tc, test_calls_sort);
    tcase_add_loop_test(tc, test_bad_parameters, 0,
                        (int)(sizeof(bad_requests) / sizeof(bad_requests[0])));
    tcase_add_test(tc, test_too_long_value);
    tcase_add_loop_test(tc, test_not_found, 0, (int)(sizeof(not_found) / sizeof(not_found[0])));
    tcase_add_loop_test(tc, test_no_path_escape, 0, (int)(sizeof(escapes) / sizeof(escapes[0])));
    tcase_add_test(tc, test_methods);
    tcase_add_test(tc, test_head);
    tcase_add_test(tc, test_oversized_requests);
    tcase_add_loop_test(tc, test_malformed_requests, 0,
                        (int)(sizeof(malformed) / sizeof(malformed[0])));
    tcase_add_test(tc, test_call_detail);
    tcase_add_test(tc, test_streams);
    tcase_add_test(tc, test_stats);
    tcase_add_test(tc, test_alerts_registrations);
    tcase_add_test(tc, test_metrics);
    tcase_add_test(tc, test_openapi_complete);
    tcase_add_test(tc, test_objects_match_openapi);
    tcase_add_test(tc, test_static_files);
    tcase_add_test(tc, test_token);
    tcase_add_test(tc, test_bad_config);
    tcase_add_test(tc, test_ipv6);
    tcase_add_test(tc, test_concurrent_clients);
    tcase_add_test(tc, test_keep_alive);
    tcase_add_test(tc, test_pcap_small);
    tcase_add_test(tc, test_pcap_per_call_file);
    suite_add_tcase(s, tc);

    TCase *real = tcase_create("real");
    tcase_add_checked_fixture(real, start_real, stop_server);
    tcase_set_timeout(real, 300);
    tcase_add_test(real, test_real_captures);
    tcase_add_test(real, test_real_objects_match_openapi);
    suite_add_tcase(s, real);

    TCase *unit = tcase_create("unit");
    tcase_add_test(unit, test_parse_time);
    tcase_add_test(unit, test_parse_listen);
    suite_add_tcase(s, unit);
    return s;
}
