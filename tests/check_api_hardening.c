/* check_api_hardening: the API against hostile clients: Host names (DNS rebinding), request
 * limits, NUL bytes in credentials, the order of 401 and 405, and browser sessions. Raw HTTP
 * over loopback sockets, so that every header can be set. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <ifaddrs.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "api_int.h"
#include "clock.h"
#include "httpc.h"
#include "skip.h"
#include "store.h"

/* ---- Fixture: one database with a call and its INVITE, made before Check forks. */

#define MARKER "rebinding-marker-7f3a" /* in the stored SIP text: seen means data leaked */

static char tmpdir[256], db_path[320];
static pid_t owner;

static void make_database(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_api_hardening.XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    owner = getpid();
    snprintf(db_path, sizeof(db_path), "%s/api.db", tmpdir);
    store_t *s = NULL;
    if (store_open(db_path, &s) != 0) {
        fprintf(stderr, "check_api_hardening: %s: %s\n", db_path, store_errmsg(s));
        exit(1);
    }
    static const char raw[] = "INVITE sip:" MARKER "@example.com SIP/2.0\r\n"
                              "Call-ID: hardening@example.com\r\n"
                              "CSeq: 1 INVITE\r\n"
                              "Content-Length: 0\r\n\r\n";
    const int64_t t0 = INT64_C(1705312800) * NS_PER_S;
    call_record_t c = {.id = 1,
                       .call_id = "hardening@example.com",
                       .from_uri = "sip:alice@example.com",
                       .to_uri = "sip:" MARKER "@example.com",
                       .state = CALL_REJECTED,
                       .final_status = 404,
                       .invite_ns = t0,
                       .end_ns = t0 + NS_PER_S};
    message_record_t m = {.call_row = 1,
                          .call_id = "hardening@example.com",
                          .ts_ns = t0,
                          .transport = 17,
                          .is_request = true,
                          .method = "INVITE",
                          .cseq = 1,
                          .raw = raw,
                          .raw_len = sizeof(raw) - 1};
    if (store_put_call(s, &c) != 0 || store_put_message(s, &m) != 0 || store_close(s) != 0) {
        fprintf(stderr, "check_api_hardening: filling %s failed\n", db_path);
        exit(1);
    }
}

static void remove_database(void)
{
    if (tmpdir[0] == '\0' || getpid() != owner)
        return;
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "check_api_hardening: could not remove %s\n", tmpdir);
    tmpdir[0] = '\0';
}

/* ---- A server per test (Check forks each test; threads don't survive a fork). */

static api_server_t *srv;
static uint16_t port;

static void start_cfg(api_cfg_t cfg)
{
    cfg.db_path = db_path;
    cfg.threads = 2;
    char err[256];
    int rc = api_server_start(&cfg, &srv, err, sizeof(err));
    ck_assert_msg(rc == 0, "server start: %s", err);
    port = api_server_port(srv);
}

static void start(const char *listen, const char *token)
{
    start_cfg((api_cfg_t){.listen = listen, .token = token});
}

static pid_t serve_pid; /* a `sipscope serve` the test started, stopped after it either way */

static void stop_server(void)
{
    api_server_stop(srv);
    srv = NULL;
    if (serve_pid > 0) {
        kill(serve_pid, SIGKILL);
        waitpid(serve_pid, NULL, 0);
        serve_pid = 0;
    }
}

/* ---- Requests through the shared client (tests/util/httpc.h). */

/* Send raw bytes to the server over family's loopback, read the answer until the server
 * closes; every read is bounded by 10 s. */
static void http_raw(int family, const char *req, size_t len, resp_t *r)
{
    http_exchange(family, port, req, len, false, 10, r);
}

/* METHOD target with a Host header (none when host is NULL) and extra header lines. */
static void http_on(int family, const char *method, const char *target, const char *host,
                    const char *extra, resp_t *r)
{
    size_t cap = strlen(target) + (extra ? strlen(extra) : 0) + 512;
    char *req = malloc(cap);
    ck_assert_ptr_nonnull(req);
    int len =
        snprintf(req, cap, "%s %s HTTP/1.1\r\n%s%s%sConnection: close\r\n%s\r\n", method, target,
                 host ? "Host: " : "", host ? host : "", host ? "\r\n" : "", extra ? extra : "");
    ck_assert(len > 0 && (size_t)len < cap);
    http_raw(family, req, (size_t)len, r);
    free(req);
}

static void http(const char *method, const char *target, const char *host, const char *extra,
                 resp_t *r)
{
    http_on(AF_INET, method, target, host, extra, r);
}

/* GET target with Host: localhost and extra headers; returns the status. */
static int get_status(const char *target, const char *extra)
{
    resp_t r;
    http("GET", target, "localhost", extra, &r);
    int status = r.status;
    resp_free(&r);
    return status;
}

/* The body is {"error": "<non-empty text>"} and holds want, when given. */
static void assert_error_body(const resp_t *r, const char *want)
{
    ck_assert_msg(json_is_object(r->json), "error body is not a JSON object: %.200s",
                  r->body ? r->body : "");
    const char *e = json_string_value(json_object_get(r->json, "error"));
    ck_assert_msg(e != NULL && e[0] != '\0', "no error text");
    ck_assert_msg(want == NULL || strstr(e, want) != NULL, "error '%s' lacks '%s'", e, want);
}

/* Expect status for GET target sent with this Host. */
static void expect_host(int family, const char *target, const char *host, int status)
{
    resp_t r;
    http_on(family, "GET", target, host, NULL, &r);
    ck_assert_msg(r.status == status, "GET %s with Host '%s': status %d, want %d: %.200s", target,
                  host ? host : "(none)", r.status, status, r.body ? r.body : "");
    if (status == 421) {
        assert_error_body(&r, "misdirected request");
        ck_assert_msg(strstr(r.body, MARKER) == NULL, "421 leaked data");
    }
    resp_free(&r);
}

static char *with_port(const char *host, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s:%u", host, (unsigned)port);
    return buf;
}

/* ---- Host names: DNS rebinding. */

START_TEST(test_host_rebinding_refused)
{
    start("127.0.0.1:0", NULL);
    /* A page on evil.example re-pointed at 127.0.0.1 reads nothing, not even the raw SIP. */
    static const char *const targets[] = {
        "/api/v1/calls", "/api/v1/calls/1/messages", "/", "/metrics",
        "/nope",         "/api/v1/calls?bogus=1"};
    char buf[64];
    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        expect_host(AF_INET, targets[i], "evil.example", 421);
        expect_host(AF_INET, targets[i], with_port("evil.example", buf, sizeof(buf)), 421);
    }
    static const char *const refused[] = {"127.0.0.1.evil.example",
                                          "localhost.evil.example",
                                          "127.0.0.2",
                                          "[::1]",
                                          "::1",
                                          "127.0.0.1:http",
                                          "127.0.0.1:99999",
                                          "",
                                          "local host",
                                          "[127.0.0.1]",
                                          "localhost:8080:1",
                                          "127.1"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        expect_host(AF_INET, "/api/v1/calls", refused[i], 421);
    expect_host(AF_INET, "/api/v1/calls", NULL, 421); /* no Host at all */
    /* Any method: the Host comes first. */
    resp_t r;
    http("POST", "/api/v1/calls", "evil.example", "Content-Length: 0\r\n", &r);
    ck_assert_int_eq(r.status, 421);
    resp_free(&r);
    /* /healthz answers whatever the Host (load balancers probe it by address or by name). */
    expect_host(AF_INET, "/healthz", "evil.example", 200);
    expect_host(AF_INET, "/healthz", NULL, 200);
}
END_TEST

START_TEST(test_host_loopback_names)
{
    start("127.0.0.1:0", NULL);
    char buf[64];
    static const char *const names[] = {"localhost", "LocalHost", "localhost.", "127.0.0.1"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        expect_host(AF_INET, "/api/v1/calls", names[i], 200);
        expect_host(AF_INET, "/api/v1/calls", with_port(names[i], buf, sizeof(buf)), 200);
    }
    /* The port is not compared: an ssh tunnel (-L 9000:127.0.0.1:8080) changes it. */
    expect_host(AF_INET, "/api/v1/calls", "localhost:9000", 200);
    /* And the data is there for the right name. */
    resp_t r;
    http("GET", "/api/v1/calls/1/messages", "127.0.0.1", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body, MARKER));
    resp_free(&r);
}
END_TEST

START_TEST(test_host_allowed_list)
{
    static const char *const allowed[] = {"sipscope.example.org", "[2001:db8::7]", "192.0.2.9",
                                          "Mon.Example.NET.", NULL};
    start_cfg((api_cfg_t){.listen = "127.0.0.1:0", .allowed_hosts = allowed});
    expect_host(AF_INET, "/api/v1/calls", "sipscope.example.org", 200);
    expect_host(AF_INET, "/api/v1/calls", "SIPSCOPE.example.org:443", 200);
    expect_host(AF_INET, "/api/v1/calls", "[2001:db8:0:0::7]:8080", 200); /* same address */
    expect_host(AF_INET, "/api/v1/calls", "192.0.2.9", 200);
    expect_host(AF_INET, "/api/v1/calls", "mon.example.net", 200);
    expect_host(AF_INET, "/api/v1/calls", "localhost", 200); /* still */
    expect_host(AF_INET, "/api/v1/calls", "example.org", 421);
    expect_host(AF_INET, "/api/v1/calls", "x.sipscope.example.org", 421);
    expect_host(AF_INET, "/api/v1/calls", "192.0.2.90", 421);
    expect_host(AF_INET, "/api/v1/calls", "[2001:db8::8]", 421);
}
END_TEST

START_TEST(test_host_allowed_config)
{
    ck_assert(api_allowed_host_ok("monitor.example.com"));
    ck_assert(api_allowed_host_ok("192.0.2.1"));
    ck_assert(api_allowed_host_ok("[2001:db8::1]"));
    static const char *const bad[] = {"",       "a b",          "monitor.example.com:8080",
                                      "::1",    "[::1]:80",     "[not-v6]",
                                      "evil/x", "host\r\nX: y", "[1.2.3.4]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(!api_allowed_host_ok(bad[i]), "'%s' accepted", bad[i]);
        const char *list[] = {bad[i], NULL};
        api_cfg_t cfg = {.db_path = db_path, .listen = "127.0.0.1:0", .allowed_hosts = list};
        api_server_t *s = NULL;
        char err[256];
        ck_assert_int_eq(api_server_start(&cfg, &s, err, sizeof(err)), -EINVAL);
        ck_assert_ptr_null(s);
        ck_assert_ptr_nonnull(strstr(err, "allowed host"));
    }
    /* At most API_MAX_ALLOWED_HOSTS. */
    const char *many[API_MAX_ALLOWED_HOSTS + 2];
    for (int i = 0; i <= API_MAX_ALLOWED_HOSTS; i++)
        many[i] = "monitor.example.com";
    many[API_MAX_ALLOWED_HOSTS + 1] = NULL;
    api_cfg_t cfg = {.db_path = db_path, .listen = "127.0.0.1:0", .allowed_hosts = many};
    api_server_t *s = NULL;
    char err[256];
    ck_assert_int_eq(api_server_start(&cfg, &s, err, sizeof(err)), -EINVAL);
    many[API_MAX_ALLOWED_HOSTS] = NULL;
    ck_assert_int_eq(api_server_start(&cfg, &s, err, sizeof(err)), 0);
    api_server_stop(s);
}
END_TEST

/* An IPv4 address of this machine other than loopback, or false. */
static bool machine_ipv4(char *buf, size_t cap, bool (*want)(const struct in_addr *))
{
    struct ifaddrs *ifs = NULL;
    bool found = false;
    if (getifaddrs(&ifs) != 0)
        return false;
    for (struct ifaddrs *i = ifs; i != NULL && !found; i = i->ifa_next) {
        if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET)
            continue;
        const struct in_addr *a = &((const struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr;
        found = want(a) && inet_ntop(AF_INET, a, buf, (socklen_t)cap) != NULL;
    }
    freeifaddrs(ifs);
    return found;
}

static bool not_loopback(const struct in_addr *a)
{
    return (ntohl(a->s_addr) >> 24) != 127;
}

static bool is_203_0_113_77(const struct in_addr *a)
{
    return ntohl(a->s_addr) == 0xcb00714du;
}

START_TEST(test_host_wildcard)
{
    /* 0.0.0.0 answers on every address: a Host naming any of them is fine, localhost too when
     * the connection came over loopback; names are not. */
    start("0.0.0.0:0", NULL);
    expect_host(AF_INET, "/api/v1/calls", "127.0.0.1", 200);
    expect_host(AF_INET, "/api/v1/calls", "localhost", 200);
    expect_host(AF_INET, "/api/v1/calls", "evil.example", 421);
    char other[64];
    if (!machine_ipv4(other, sizeof(other), is_203_0_113_77))
        expect_host(AF_INET, "/api/v1/calls", "203.0.113.77", 421); /* not ours */
    char mine[64];
    if (machine_ipv4(mine, sizeof(mine), not_loopback))
        expect_host(AF_INET, "/api/v1/calls", mine, 200);
    else
        test_skip("no non-loopback IPv4 address here: a wildcard listener's other addresses");
}
END_TEST

START_TEST(test_host_ipv6)
{
    if (!have_ipv6_loopback()) {
        test_skip("no IPv6 loopback here: Host names of an [::1] listener");
        return;
    }
    start("[::1]:0", NULL);
    char buf[64];
    expect_host(AF_INET6, "/api/v1/calls", "[::1]", 200);
    expect_host(AF_INET6, "/api/v1/calls", with_port("[::1]", buf, sizeof(buf)), 200);
    expect_host(AF_INET6, "/api/v1/calls", "[0:0::1]", 200);
    expect_host(AF_INET6, "/api/v1/calls", "localhost", 200);
    expect_host(AF_INET6, "/api/v1/calls", "127.0.0.1", 421);
    expect_host(AF_INET6, "/api/v1/calls", "::1", 421);
    expect_host(AF_INET6, "/api/v1/calls", "[::1", 421);
    expect_host(AF_INET6, "/api/v1/calls", "[::2]", 421);
}
END_TEST

/* ---- Request limits. */

/* GET /api/v1/calls?<n fields "aI=1"> with Host localhost. */
static void get_many(int n, const char *token, resp_t *r)
{
    size_t cap = (size_t)n * 16 + 256;
    char *target = malloc(cap);
    ck_assert_ptr_nonnull(target);
    size_t len = (size_t)snprintf(target, cap, "/api/v1/calls?%s%s", token ? "access_token=" : "",
                                  token ? token : "");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(target + len, cap - len, "%sa%d=1", len > 14 ? "&" : "", i);
    http("GET", target, "localhost", NULL, r);
    free(target);
}

START_TEST(test_many_parameters)
{
    start("127.0.0.1:0", NULL);
    /* libmicrohttpd alone closed the connection without a word from about 460 of these. */
    static const int counts[] = {17, 800, 1000};
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        resp_t r;
        int64_t t0 = clock_ns(CLOCK_MONOTONIC);
        get_many(counts[i], NULL, &r);
        ck_assert_msg(r.status == 400, "%d parameters: status %d", counts[i], r.status);
        assert_error_body(&r, "too many query parameters (at most 16)");
        ck_assert_msg(clock_ns(CLOCK_MONOTONIC) - t0 < 5 * NS_PER_S, "answered late");
        resp_free(&r);
    }
    /* Empty fields count too: MHD would record each. */
    char target[6000] = "/api/v1/calls?limit=1";
    memset(target + strlen(target), '&', 5000);
    target[21 + 5000] = '\0';
    resp_t r;
    http("GET", target, "localhost", NULL, &r);
    ck_assert_int_eq(r.status, 400);
    assert_error_body(&r, "too many query parameters");
    resp_free(&r);
    /* Under the count, requests are judged as before: 14 known parameters (and a trailing '&',
     * which adds none) are answered; 16 unknown ones get the name of the first, not the count. */
    ck_assert_int_eq(get_status("/api/v1/calls?limit=5&offset=0&order=desc&sort=invite_time&"
                                "state=rejected&q=hardening&min_mos=0&max_mos=5&since=1&"
                                "until=9000000000&from=alice&call_id=hardening@example.com&"
                                "to=" MARKER "&access_token=x&",
                                NULL),
                     200);
    resp_t r16;
    get_many(16, NULL, &r16);
    ck_assert_int_eq(r16.status, 400);
    assert_error_body(&r16, "unknown parameter: a0");
    resp_free(&r16);
    /* With a token and no credentials: the limit first (the query can't be read for one). */
    stop_server();
    start("127.0.0.1:0", "s3cret");
    get_many(1000, "s3cret", &r);
    ck_assert_int_eq(r.status, 400);
    resp_free(&r);
    /* The server is still fine. */
    ck_assert_int_eq(get_status("/healthz", NULL), 200);
}
END_TEST

START_TEST(test_long_target)
{
    start("127.0.0.1:0", NULL);
    /* Over API_MAX_TARGET bytes as sent: 414 with a JSON body. */
    size_t n = API_MAX_TARGET + 100;
    char *target = malloc(n + 32);
    ck_assert_ptr_nonnull(target);
    int len = snprintf(target, n + 32, "/api/v1/calls?q=");
    memset(target + len, 'a', n - (size_t)len);
    target[n] = '\0';
    resp_t r;
    http("GET", target, "localhost", NULL, &r);
    ck_assert_int_eq(r.status, 414);
    assert_error_body(&r, "request target too long (at most 8192 bytes)");
    resp_free(&r);
    /* Without a query as well. */
    target[13] = '/';
    http("GET", target, "localhost", NULL, &r);
    ck_assert_int_eq(r.status, 414);
    assert_error_body(&r, "request target too long");
    resp_free(&r);
    /* Just under it: judged by the parameter rules instead (a value over 512 bytes). */
    target[13] = '?';
    target[API_MAX_TARGET] = '\0';
    http("GET", target, "localhost", NULL, &r);
    ck_assert_int_eq(r.status, 400);
    assert_error_body(&r, "value too long");
    resp_free(&r);
    free(target);
}
END_TEST

/* A name that is not UTF-8 is quoted as '?' in the 400, not turned into a 500. */
START_TEST(test_error_text_not_utf8)
{
    start("127.0.0.1:0", NULL);
    resp_t r;
    http("GET", "/api/v1/calls?%ff%fe=1", "localhost", NULL, &r);
    ck_assert_int_eq(r.status, 400);
    assert_error_body(&r, "unknown parameter: ??");
    resp_free(&r);
}
END_TEST

/* ---- Credentials. */

START_TEST(test_token_with_nul)
{
    start("127.0.0.1:0", "s3cret");
    ck_assert_int_eq(get_status("/api/v1/calls?access_token=s3cret", NULL), 200);
    static const char *const refused[] = {
        "/api/v1/calls?access_token=s3cret%00x", "/api/v1/calls?access_token=s3cret%00",
        "/api/v1/calls?access_token=s3c%00ret",  "/api/v1/calls?access_token=%00s3cret",
        "/api/v1/calls?access_token=s3cretx",    "/api/v1/calls?access_token=s3cre"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        ck_assert_msg(get_status(refused[i], NULL) == 401, "%s let in", refused[i]);
    /* The first access_token counts, wherever it is; a NUL elsewhere is then a 400. */
    ck_assert_int_eq(get_status("/api/v1/calls?bogus=1&access_token=s3cret", NULL), 400);
    ck_assert_int_eq(get_status("/api/v1/calls?q=a%00b&access_token=s3cret", NULL), 400);
    ck_assert_int_eq(get_status("/api/v1/calls?a%00b=1&access_token=s3cret", NULL), 400);
    /* The header is compared in full too. (A raw NUL byte inside a header line, which is not
     * HTTP, is cut by libmicrohttpd 0.9.75 before the server sees the header: docs/security.md.) */
    ck_assert_int_eq(get_status("/api/v1/calls", "Authorization: Bearer s3cret\r\n"), 200);
    ck_assert_int_eq(get_status("/api/v1/calls", "Authorization: Bearer s3cretx\r\n"), 401);
    ck_assert_int_eq(get_status("/api/v1/calls", "Authorization: Bearer s3cret x\r\n"), 401);
}
END_TEST

START_TEST(test_params_with_nul)
{
    start("127.0.0.1:0", NULL);
    resp_t r;
    http("GET", "/api/v1/calls?q=ab%00cd", "localhost", NULL, &r);
    ck_assert_int_eq(r.status, 400);
    assert_error_body(&r, "NUL byte");
    resp_free(&r);
    http("GET", "/api/v1/calls?li%00mit=1", "localhost", NULL, &r);
    ck_assert_int_eq(r.status, 400);
    assert_error_body(&r, "NUL byte");
    resp_free(&r);
}
END_TEST

START_TEST(test_credentials_before_method)
{
    start("127.0.0.1:0", "s3cret");
    static const char *const methods[] = {"POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
    static const char *const targets[] = {"/api/v1/calls", "/nope"};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        for (size_t t = 0; t < 2; t++) {
            resp_t r;
            char allow[64];
            /* No credentials: 401, and not a word about methods. */
            http(methods[i], targets[t], "localhost", "Content-Length: 0\r\n", &r);
            ck_assert_msg(r.status == 401, "%s %s: %d", methods[i], targets[t], r.status);
            ck_assert_ptr_null(resp_header(&r, "Allow", allow, sizeof(allow)));
            ck_assert_ptr_nonnull(resp_header(&r, "WWW-Authenticate", allow, sizeof(allow)));
            assert_error_body(&r, "bearer token");
            resp_free(&r);
            /* With them: 405. */
            http(methods[i], targets[t], "localhost",
                 "Content-Length: 0\r\nAuthorization: Bearer s3cret\r\n", &r);
            ck_assert_msg(r.status == 405, "%s %s with the token: %d", methods[i], targets[t],
                          r.status);
            ck_assert_ptr_nonnull(resp_header(&r, "Allow", allow, sizeof(allow)));
            ck_assert_str_eq(allow, "GET, HEAD");
            resp_free(&r);
        }
    }
    /* A body is refused without being read, after the credentials too. */
    resp_t r;
    http("POST", "/api/v1/calls", "localhost", "Content-Length: 5\r\nContent-Type: text/plain\r\n",
         &r);
    ck_assert_int_eq(r.status, 401);
    resp_free(&r);
    /* /healthz needs no credentials: 405 straight away. */
    http("POST", "/healthz", "localhost", "Content-Length: 0\r\n", &r);
    ck_assert_int_eq(r.status, 405);
    resp_free(&r);
}
END_TEST

/* Log in with ?access_token=; returns the session value from Set-Cookie (into buf). */
static const char *login(char *buf, size_t cap)
{
    resp_t r;
    http("GET", "/?access_token=s3cret", "localhost", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    char cookie[256];
    ck_assert_ptr_nonnull(resp_header(&r, "Set-Cookie", cookie, sizeof(cookie)));
    resp_free(&r);
    ck_assert_msg(strncmp(cookie, "sipscope_session=", 17) == 0, "cookie: %s", cookie);
    const char *v = cookie + 17;
    size_t len = strcspn(v, ";");
    ck_assert_uint_eq(len, 32);
    ck_assert_uint_eq(strspn(v, "0123456789abcdef"), 32);
    ck_assert_uint_lt(len, cap);
    memcpy(buf, v, len);
    buf[len] = '\0';
    ck_assert_ptr_nonnull(strstr(cookie, "; HttpOnly"));
    ck_assert_ptr_nonnull(strstr(cookie, "; SameSite=Strict"));
    ck_assert_ptr_nonnull(strstr(cookie, "; Path=/"));
    ck_assert_ptr_null(strstr(cookie, "s3cret"));
    return buf;
}

static int get_with_session(const char *session)
{
    char hdr[128];
    snprintf(hdr, sizeof(hdr), "Cookie: sipscope_session=%s\r\n", session);
    return get_status("/api/v1/calls", hdr);
}

START_TEST(test_session_cookie)
{
    start("127.0.0.1:0", "s3cret");
    char a[64], b[64];
    login(a, sizeof(a));
    login(b, sizeof(b));
    ck_assert_str_ne(a, b);
    ck_assert_int_eq(get_with_session(a), 200);
    ck_assert_int_eq(get_with_session(b), 200);
    /* The cookie's attributes: 12 hours. */
    resp_t r;
    http("GET", "/?access_token=s3cret", "localhost", NULL, &r);
    char cookie[256];
    ck_assert_ptr_nonnull(resp_header(&r, "Set-Cookie", cookie, sizeof(cookie)));
    ck_assert_ptr_nonnull(strstr(cookie, "; Max-Age=43200"));
    resp_free(&r);
    /* A request let in by its cookie or the header gets no new session. */
    char hdr[128];
    snprintf(hdr, sizeof(hdr), "Cookie: sipscope_session=%s\r\n", a);
    http("GET", "/api/v1/calls", "localhost", hdr, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_null(resp_header(&r, "Set-Cookie", cookie, sizeof(cookie)));
    resp_free(&r);
    http("GET", "/api/v1/calls", "localhost", "Authorization: Bearer s3cret\r\n", &r);
    ck_assert_ptr_null(resp_header(&r, "Set-Cookie", cookie, sizeof(cookie)));
    resp_free(&r);
    /* Unknown, altered or partial sessions, and the raw token as a cookie, are refused. */
    ck_assert_int_eq(get_with_session("00112233445566778899aabbccddeeff"), 401);
    char altered[80];
    snprintf(altered, sizeof(altered), "%.32s", a);
    altered[31] = altered[31] == '0' ? '1' : '0';
    ck_assert_int_eq(get_with_session(altered), 401);
    snprintf(altered, sizeof(altered), "%.32s0", a);
    ck_assert_int_eq(get_with_session(altered), 401);
    snprintf(altered, sizeof(altered), "%.31s", a);
    ck_assert_int_eq(get_with_session(altered), 401);
    ck_assert_int_eq(get_with_session(""), 401);
    ck_assert_int_eq(get_with_session("s3cret"), 401);
    ck_assert_int_eq(get_status("/api/v1/calls", "Cookie: sipscope_token=s3cret\r\n"), 401);
    /* Sessions belong to the server that made them. */
    stop_server();
    start("127.0.0.1:0", "s3cret");
    ck_assert_int_eq(get_with_session(a), 401);
}
END_TEST

START_TEST(test_sessions_bounded)
{
    start("127.0.0.1:0", "s3cret");
    char first[64], second[64], last[64];
    login(first, sizeof(first));
    login(second, sizeof(second));
    for (int i = 2; i < API_MAX_SESSIONS; i++)
        login(last, sizeof(last));
    /* 64 sessions: all live. */
    ck_assert_int_eq(get_with_session(first), 200);
    /* The 65th replaces the oldest. */
    login(last, sizeof(last));
    ck_assert_int_eq(get_with_session(first), 401);
    ck_assert_int_eq(get_with_session(second), 200);
    ck_assert_int_eq(get_with_session(last), 200);
}
END_TEST

START_TEST(test_session_expiry)
{
    start_cfg((api_cfg_t){.listen = "127.0.0.1:0", .token = "s3cret", .session_ttl_s = 2});
    int64_t t0 = clock_ns(CLOCK_MONOTONIC);
    char s[64];
    login(s, sizeof(s));
    int status = get_with_session(s);
    /* Fresh, it lets in (unless this machine took the whole lifetime to get here). */
    if (clock_ns(CLOCK_MONOTONIC) - t0 < 2 * NS_PER_S)
        ck_assert_int_eq(status, 200);
    struct timespec nap = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
    while (clock_ns(CLOCK_MONOTONIC) - t0 < 2 * NS_PER_S + 200 * 1000 * 1000)
        nanosleep(&nap, NULL);
    ck_assert_int_eq(get_with_session(s), 401);
    /* The token still works, and makes a new session. */
    login(s, sizeof(s));
    ck_assert_int_eq(get_with_session(s), 200);
}
END_TEST

/* ---- The command line: serve --allow-host. */

static int run_status(const char *cmd)
{
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

START_TEST(test_cli_allow_host)
{
    char cmd[1024];
    static const char *const bad[] = {"'a b'", "mon.example:8080", "''"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(cmd, sizeof(cmd), "'%s' serve --db '%s' --allow-host %s 2>/dev/null",
                 SIPSCOPE_BINARY, db_path, bad[i]);
        ck_assert_msg(run_status(cmd) == 2, "%s: not a usage error", cmd);
    }
    /* A running serve answers to its --allow-host names and refuses others. */
    int out[2];
    ck_assert_int_eq(pipe(out), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    serve_pid = pid;
    if (pid == 0) {
        dup2(out[1], STDERR_FILENO);
        close(out[0]);
        close(out[1]);
        execl(SIPSCOPE_BINARY, "sipscope", "serve", "--db", db_path, "--listen", "127.0.0.1:0",
              "--allow-host", "mon.example", "--allow-host", "[2001:db8::5]", (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    /* "sipscope: serving DB at http://127.0.0.1:PORT/ ..." gives the port. */
    FILE *f = fdopen(out[0], "r");
    ck_assert_ptr_nonnull(f);
    char line[1024] = "";
    unsigned p = 0;
    while (p == 0 && fgets(line, sizeof(line), f) != NULL) {
        const char *at = strstr(line, "http://127.0.0.1:");
        if (at != NULL)
            p = (unsigned)strtoul(at + 17, NULL, 10);
    }
    ck_assert_msg(p > 0 && p < 65536, "no URL from serve: %s", line);
    port = (uint16_t)p;
    expect_host(AF_INET, "/api/v1/calls", "mon.example", 200);
    expect_host(AF_INET, "/api/v1/calls", "MON.example:80", 200);
    expect_host(AF_INET, "/api/v1/calls", "[2001:db8::5]", 200);
    expect_host(AF_INET, "/api/v1/calls", "127.0.0.1", 200);
    expect_host(AF_INET, "/api/v1/calls", "evil.example", 421);
    kill(pid, SIGTERM);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    serve_pid = 0;
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    fclose(f);
}
END_TEST

Suite *api_hardening_suite(void);

Suite *api_hardening_suite(void)
{
    Suite *s = suite_create("api_hardening");
    TCase *tc = tcase_create("api_hardening");
    tcase_add_unchecked_fixture(tc, make_database, remove_database);
    tcase_add_checked_fixture(tc, NULL, stop_server);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_host_rebinding_refused);
    tcase_add_test(tc, test_host_loopback_names);
    tcase_add_test(tc, test_host_allowed_list);
    tcase_add_test(tc, test_host_allowed_config);
    tcase_add_test(tc, test_host_wildcard);
    tcase_add_test(tc, test_host_ipv6);
    tcase_add_test(tc, test_many_parameters);
    tcase_add_test(tc, test_long_target);
    tcase_add_test(tc, test_error_text_not_utf8);
    tcase_add_test(tc, test_token_with_nul);
    tcase_add_test(tc, test_params_with_nul);
    tcase_add_test(tc, test_credentials_before_method);
    tcase_add_test(tc, test_session_cookie);
    tcase_add_test(tc, test_sessions_bounded);
    tcase_add_test(tc, test_session_expiry);
    tcase_add_test(tc, test_cli_allow_host);
    suite_add_tcase(s, tc);
    return s;
}
