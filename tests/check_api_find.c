/* check_api_find: finding calls and messages through the API (issue 17): the call list's
 * filters, full-text search, the message list, alerts' evidence, and the exports. The
 * database is made by the real program from samples/small.pcap (10 calls, 4 alerts). */
#include <check.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api.h"
#include "api_int.h"
#include "store.h"
#include "httpc.h"
#include "testdata.h"

static char tmpdir[256];
static pid_t owner;
static char small_db[320], small_report[320];

static int run(const char *cmd)
{
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void fill_database(void)
{
    if (tmpdir[0] != '\0')
        return;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_api_find.XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    owner = getpid();
    snprintf(small_db, sizeof(small_db), "%s/small.db", tmpdir);
    snprintf(small_report, sizeof(small_report), "%s/small.json", tmpdir);
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "'%s' analyze -q --db '%s' --json '%s' > '%s'", SIPSCOPE_BINARY,
             small_db, testdata_path("samples/small.pcap"), small_report);
    if (run(cmd) != 0) {
        fprintf(stderr, "check_api_find: %s failed\n", cmd);
        exit(1);
    }
}

static void remove_database(void)
{
    if (tmpdir[0] == '\0' || getpid() != owner)
        return;
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    run(cmd);
    tmpdir[0] = '\0';
}

static api_server_t *srv;
static uint16_t port;

static void start_server(void)
{
    api_cfg_t cfg = {.db_path = small_db, .listen = "127.0.0.1:0", .threads = 2};
    char err[256];
    int rc = api_server_start(&cfg, &srv, err, sizeof(err));
    ck_assert_msg(rc == 0, "server start: %s", err);
    port = api_server_port(srv);
}

static void stop_server(void)
{
    api_server_stop(srv);
    srv = NULL;
}

static void get(const char *target, resp_t *r)
{
    char req[2048];
    int len = snprintf(req, sizeof(req),
                       "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", target);
    ck_assert(len > 0 && (size_t)len < sizeof(req));
    http_exchange(AF_INET, port, req, (size_t)len, false, 20, r);
}

/* GET target, expect status; returns the JSON body (borrowed from r). */
static json_t *get_json(const char *target, int status, resp_t *r)
{
    get(target, r);
    ck_assert_msg(r->status == status, "GET %s: status %d, want %d: %.300s", target, r->status,
                  status, r->body ? r->body : "");
    ck_assert_msg(r->json != NULL, "GET %s: body is not JSON: %.200s", target,
                  r->body ? r->body : "");
    return r->json;
}

/* ---- The call list's filters. Each case: the query, and the Call-IDs' first 8 characters of
 * every call it must list (any order), worked out from the report of samples/small.pcap. */

typedef struct {
    const char *query;
    const char *want; /* space-separated Call-ID prefixes, "" for none */
} find_case_t;

static const find_case_t find_cases[] = {
    {"one_way=true", "bb6daced 36d6cee5"},
    {"nat=true", "bb6daced 6745fb1b"},
    {"one_way=true&nat=true", "bb6daced"},
    {"one_way=false&nat=false&state=completed", "015b2503 6b608f2d 0ee1289b 62b79a60 45225281"},
    /* negative flags alone: counted as all calls minus the flagged ones */
    {"nat=false", "015b2503 6b608f2d 0ee1289b 62b79a60 45225281 893412f5 4512cebc 36d6cee5"},
    {"one_way=false&active=false",
     "015b2503 6b608f2d 0ee1289b 62b79a60 45225281 893412f5 4512cebc 6745fb1b"},
    {"final_status=4xx", "893412f5 4512cebc"},
    {"final_status=404", "893412f5"},
    {"final_status=487", "4512cebc"},
    {"final_status=6xx", ""},
    {"final_status=2XX&max_mos=3.9", "36d6cee5 6745fb1b"},
    /* ip: the caller, the callee, or a stream's address */
    {"ip=192.0.2.12", "45225281"},
    {"ip=198.51.100.27", "36d6cee5"},
    {"ip=203.0.113.0/24", "bb6daced 6745fb1b"},
    {"ip=203.0.113.112/32", "6745fb1b"},
    {"ip=198.51.100.0/30", ""},
    {"ip=198.51.100.16/28", "45225281 36d6cee5"}, /* .21 and .27 */
    {"ip=2001:db8::/32", "893412f5 0ee1289b"},
    {"ip=2001:db8:2::ec", "0ee1289b"},
    {"ip=%5B2001:db8:1::e3%5D", "893412f5"},
    {"ip=2001:db8:2::/48", "893412f5 0ee1289b"},
    {"ip=10.0.0.0/8", ""},
    /* beside another indexed term: a list of the network's calls, probed */
    {"ip=203.0.113.0/24&final_status=2xx", "bb6daced 6745fb1b"},
    {"ip=203.0.113.0/24&one_way=true", "bb6daced"},
    {"ip=198.51.100.16/28&min_duration=3.5", "45225281"},
    {"ip=2001:db8::/32&final_status=4xx", "893412f5"},
    {"ip=198.51.100.27&verdict=one_way&since=1000000000", "36d6cee5"},
    {"codec=g729", "36d6cee5 6745fb1b"},
    {"codec=PCMA", "0ee1289b"},
    {"codec=opus&nat=true", "bb6daced"},
    {"min_loss=2", "015b2503 6745fb1b 45225281"},
    {"min_loss=2.9&codec=g729", "6745fb1b"}, /* 4 of 134 */
    {"min_duration=3.5", "6b608f2d 45225281"},
    {"min_pdd=2800", "6b608f2d 4512cebc"},
    {"min_pdd=2800&min_duration=1", "6b608f2d"},
    {"probe=7", ""}, /* captured here: no HEP probe */
    {"verdict=one_way", "bb6daced 36d6cee5"},
    {"verdict=failed,good", "893412f5 6b608f2d 4512cebc 62b79a60"},
    {"verdict=degraded&nat=true", "6745fb1b"},
    {"verdict=poor", ""},
    /* full text over the messages (indexed or not yet: the same answers), headers and SDP */
    {"search=2159", "893412f5"},
    {"search=opus&state=completed", "bb6daced 62b79a60 45225281"},
    {"search=%2B1555", "893412f5 bb6daced 4512cebc 0ee1289b 62b79a60 45225281 6745fb1b"},
    {"search=example.net%20%2B15551207954", "0ee1289b"},
    {"search=Linphone&final_status=4xx", ""},
    {"search=friendly-scanner", ""}, /* the scanners' REGISTERs belong to no call */
    {"codecs=opus", NULL},
};

/* Does the page list exactly the calls of want? */
static void assert_calls(const char *query, json_t *page, const char *want)
{
    json_t *calls = json_object_get(page, "calls");
    size_t n_want = 0;
    for (const char *p = want; *p != '\0';) {
        while (*p == ' ')
            p++;
        if (*p == '\0')
            break;
        const char *e = strchr(p, ' ');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        bool found = false;
        size_t i;
        json_t *c;
        json_array_foreach (calls, i, c)
            found = found || strncmp(json_string_value(json_object_get(c, "call_id")), p, len) == 0;
        ck_assert_msg(found, "%s: call %.*s not listed", query, (int)len, p);
        n_want++;
        p += len;
    }
    ck_assert_msg(json_array_size(calls) == n_want, "%s: %zu calls, want %zu", query,
                  json_array_size(calls), n_want);
    ck_assert_int_eq(json_integer_value(json_object_get(page, "total")), (json_int_t)n_want);
}

START_TEST(test_call_filters)
{
    const find_case_t *fc = &find_cases[_i];
    char target[512];
    snprintf(target, sizeof(target), "/api/v1/calls?%s", fc->query);
    resp_t r;
    if (fc->want == NULL) { /* an unknown parameter */
        get(target, &r);
        ck_assert_int_eq(r.status, 400);
    } else {
        assert_calls(fc->query, get_json(target, 200, &r), fc->want);
    }
    resp_free(&r);
}
END_TEST

/* Bad values: 400 with an error naming the parameter. */
static const char *const bad_filters[] = {
    "one_way=yes",        "nat=2",           "final_status=99",
    "final_status=7xx",   "final_status=4x", "final_status=4000",
    "ip=10.0.0",          "ip=10.0.0.0/33",  "ip=2001:db8::/129",
    "ip=10.0.0.0/",       "ip=example.com",  "probe=-1",
    "probe=4294967296",   "min_loss=101",    "min_loss=x",
    "max_mos=6",          "min_duration=-1", "verdict=bad",
    "verdict=good,,poor", "search=%2B%2B",   "search=a%20b%20c%20d%20e%20f%20g%20h%20i",
    "min_pdd=abc",
};

START_TEST(test_call_filters_bad)
{
    char target[256];
    snprintf(target, sizeof(target), "/api/v1/calls?%s", bad_filters[_i]);
    resp_t r;
    json_t *j = get_json(target, 400, &r);
    const char *err = json_string_value(json_object_get(j, "error"));
    char name[32];
    snprintf(name, sizeof(name), "%.*s", (int)strcspn(bad_filters[_i], "="), bad_filters[_i]);
    ck_assert_msg(err != NULL && strstr(err, name) != NULL, "%s: error '%s' does not name %s",
                  bad_filters[_i], err ? err : "(none)", name);
    resp_free(&r);
}
END_TEST

/* ---- Messages. samples/small.pcap holds 187 SIP messages: 67 of its 10 calls, 120 of none
 * (80 REGISTER requests and answers from two scanners, OPTIONS sweeps). */

static json_int_t total_of(const char *target)
{
    resp_t r;
    json_int_t n = json_integer_value(json_object_get(get_json(target, 200, &r), "total"));
    resp_free(&r);
    return n;
}

/* The user part of a "sip:user@host" URI value of message m's key, or "". */
static void uri_user(json_t *m, const char *key, char *out, size_t cap)
{
    const char *uri = json_string_value(json_object_get(m, key));
    out[0] = '\0';
    if (uri != NULL && strncmp(uri, "sip:", 4) == 0)
        snprintf(out, cap, "%.*s", (int)strcspn(uri + 4, "@"), uri + 4);
}

START_TEST(test_messages_list)
{
    ck_assert_int_eq(total_of("/api/v1/messages"), 187);
    ck_assert_int_eq(total_of("/api/v1/messages?in_call=false"), 120);
    ck_assert_int_eq(total_of("/api/v1/messages?in_call=true"), 67);
    ck_assert_int_eq(total_of("/api/v1/messages?method=REGISTER"), 80);
    ck_assert_int_eq(total_of("/api/v1/messages?method=REGISTER,OPTIONS&in_call=false"), 120);
    ck_assert_int_eq(total_of("/api/v1/messages?method=SUBSCRIBE"), 0);
    /* Each filter keeps what it says, newest first. */
    resp_t r;
    json_t *page = get_json("/api/v1/messages?user=1001&limit=1000", 200, &r);
    json_t *msgs = json_object_get(page, "messages");
    ck_assert_int_gt(json_array_size(msgs), 0);
    size_t i;
    json_t *m;
    double prev = 1e18;
    json_array_foreach (msgs, i, m) {
        char from[64], to[64];
        uri_user(m, "from", from, sizeof(from));
        uri_user(m, "to", to, sizeof(to));
        ck_assert_msg(strcmp(from, "1001") == 0 || strcmp(to, "1001") == 0, "user 1001: %s / %s",
                      from, to);
        ck_assert(json_is_null(json_object_get(m, "call")));
        ck_assert_ptr_null(json_object_get(m, "raw")); /* the list has no text */
        double t = json_real_value(json_object_get(m, "time"));
        ck_assert(t <= prev);
        prev = t;
    }
    resp_free(&r);
    page = get_json("/api/v1/messages?src=203.0.113.0/24&status=4xx&limit=1000", 200, &r);
    ck_assert_int_eq(json_integer_value(json_object_get(page, "total")),
                     0); /* answers go *to* it */
    resp_free(&r);
    page = get_json("/api/v1/messages?src=198.51.100.5&status=4xx&limit=1000", 200, &r);
    msgs = json_object_get(page, "messages");
    ck_assert_int_gt(json_array_size(msgs), 0);
    json_array_foreach (msgs, i, m) {
        json_int_t st = json_integer_value(json_object_get(m, "status"));
        ck_assert(st >= 400 && st <= 499);
        ck_assert(strncmp(json_string_value(json_object_get(m, "src")), "198.51.100.5:", 13) == 0);
        ck_assert_int_eq(json_is_false(json_object_get(m, "request")), 1);
    }
    resp_free(&r);
    /* Full text: the scanner's 36 requests by their User-Agent, and the 5 answers that name it
     * too (41 messages hold the words); none of them in a call. Words of one message together. */
    page = get_json("/api/v1/messages?search=friendly-scanner&limit=1000", 200, &r);
    msgs = json_object_get(page, "messages");
    ck_assert_int_eq(json_array_size(msgs), 41);
    int by_agent = 0;
    json_array_foreach (msgs, i, m) {
        const char *ua = json_string_value(json_object_get(m, "user_agent"));
        by_agent += ua != NULL && strstr(ua, "friendly-scanner") != NULL;
    }
    ck_assert_int_eq(by_agent, 36);
    resp_free(&r);
    ck_assert_int_eq(total_of("/api/v1/messages?search=friendly-scanner&in_call=true"), 0);
    ck_assert_int_eq(total_of("/api/v1/messages?search=sipvicious&method=OPTIONS"),
                     19); /* LIKE: 19 */
    ck_assert_int_eq(total_of("/api/v1/messages?search=sipvicious%20Linphone"), 0);
    /* A call's messages name their call. */
    page = get_json("/api/v1/messages?in_call=true&method=INVITE&limit=1", 200, &r);
    m = json_array_get(json_object_get(page, "messages"), 0);
    ck_assert(json_integer_value(json_object_get(m, "call")) > 0);
    ck_assert_ptr_nonnull(json_string_value(json_object_get(m, "call_id")));
    resp_free(&r);
}
END_TEST

START_TEST(test_message_detail)
{
    resp_t r;
    json_t *page = get_json("/api/v1/messages?method=REGISTER&user=1001&limit=1", 200, &r);
    json_t *m = json_deep_copy(json_array_get(json_object_get(page, "messages"), 0));
    resp_free(&r);
    char target[64];
    snprintf(target, sizeof(target), "/api/v1/messages/%lld",
             (long long)json_integer_value(json_object_get(m, "id")));
    json_t *d = get_json(target, 200, &r);
    const char *raw = json_string_value(json_object_get(d, "raw"));
    ck_assert_ptr_nonnull(raw);
    ck_assert(strstr(raw, "1001") != NULL);
    /* The detail is the list's object plus the text. */
    json_object_del(d, "raw");
    ck_assert(json_equal(d, m));
    json_decref(m);
    resp_free(&r);
    get("/api/v1/messages/999999", &r);
    ck_assert_int_eq(r.status, 404);
    resp_free(&r);
}
END_TEST

static const char *const bad_message_params[] = {
    "method=REG%20ISTER",
    "method=",
    "method=A,B,C,D,E,F,G,H,I",
    "status=99",
    "status=4xy",
    "src=10.0.0.0/40",
    "in_call=maybe",
    "since=yesterday",
    "search=%2B%2B",
    "search=a%20b%20c%20d%20e%20f%20g%20h%20i",
};

START_TEST(test_messages_bad)
{
    char target[256];
    snprintf(target, sizeof(target), "/api/v1/messages?%s", bad_message_params[_i]);
    resp_t r;
    get(target, &r);
    /* An empty value is no parameter. */
    ck_assert_int_eq(r.status, strcmp(bad_message_params[_i], "method=") == 0 ? 200 : 400);
    resp_free(&r);
}
END_TEST

/* ---- Alerts: every alert's evidence is stored and served, and its messages are the alert's. */

START_TEST(test_alert_evidence)
{
    resp_t r;
    json_t *page = get_json("/api/v1/alerts?limit=1000", 200, &r);
    json_t *alerts = json_object_get(page, "alerts");
    ck_assert_int_ge(json_array_size(alerts), 4);
    size_t i, k;
    json_t *a, *id;
    json_array_foreach (alerts, i, a) {
        json_t *ids = json_object_get(a, "sample_message_ids");
        ck_assert_msg(json_array_size(ids) > 0, "alert %lld has no samples",
                      (long long)json_integer_value(json_object_get(a, "id")));
        const char *source = json_string_value(json_object_get(a, "source"));
        double first = json_real_value(json_object_get(a, "first_time"));
        double last = json_real_value(json_object_get(a, "last_time"));
        json_array_foreach (ids, k, id) {
            char target[64];
            snprintf(target, sizeof(target), "/api/v1/messages/%lld",
                     (long long)json_integer_value(id));
            resp_t mr;
            json_t *m = get_json(target, 200, &mr);
            double t = json_real_value(json_object_get(m, "time"));
            ck_assert(t >= first - 1e-6 && t <= last + 1e-6);
            if (source != NULL) {
                size_t n = strlen(source);
                const char *src = json_string_value(json_object_get(m, "src"));
                const char *dst = json_string_value(json_object_get(m, "dst"));
                ck_assert_msg((strncmp(src, source, n) == 0 && src[n] == ':') ||
                                  (strncmp(dst, source, n) == 0 && dst[n] == ':'),
                              "message %s of alert from %s: %s -> %s", target, source, src, dst);
            }
            resp_free(&mr);
        }
    }
    resp_free(&r);
}
END_TEST

START_TEST(test_alert_filters)
{
    ck_assert_int_eq(total_of("/api/v1/alerts"), 4);
    ck_assert_int_eq(total_of("/api/v1/alerts?type=scanner"), 2);
    ck_assert_int_eq(total_of("/api/v1/alerts?type=scanner,auth_failure"), 4);
    ck_assert_int_eq(total_of("/api/v1/alerts?type=invite_flood"), 0);
    ck_assert_int_eq(total_of("/api/v1/alerts?source=203.0.113.240"), 1);
    ck_assert_int_eq(total_of("/api/v1/alerts?source=203.0.113.240&type=auth_failure"), 0);
    /* since: still going at or after; until: begun before */
    ck_assert_int_eq(total_of("/api/v1/alerts?until=1705312808"), 1);
    ck_assert_int_eq(total_of("/api/v1/alerts?since=1705312808.9"), 2);
    ck_assert_int_eq(total_of("/api/v1/alerts?limit=1&offset=3"), 4);
    resp_t r;
    get("/api/v1/alerts?type=flood", &r);
    ck_assert_int_eq(r.status, 400);
    resp_free(&r);
    get("/api/v1/alerts?source=203.0.113", &r);
    ck_assert_int_eq(r.status, 400);
    resp_free(&r);
}
END_TEST

/* ---- Exports. */

/* Lines of text (CRLF or LF ended). */
static int count_lines(const char *text)
{
    int n = 0;
    for (const char *p = text; (p = strchr(p, '\n')) != NULL; p++)
        n++;
    return n;
}

START_TEST(test_calls_csv)
{
    resp_t r;
    get("/api/v1/calls.csv?state=completed&sort=mos&order=asc", &r);
    ck_assert_int_eq(r.status, 200);
    char ct[128], total[32];
    ck_assert_ptr_nonnull(resp_header(&r, "Content-Type", ct, sizeof(ct)));
    ck_assert(strncmp(ct, "text/csv", 8) == 0);
    ck_assert_ptr_nonnull(resp_header(&r, "X-Sipscope-Total", total, sizeof(total)));
    ck_assert_str_eq(total, "8");
    ck_assert_int_eq(count_lines(r.body), 9); /* the header and 8 calls, CRLF each */
    ck_assert(strncmp(r.body, "call_id,from,to,caller,callee,state,", 36) == 0);
    ck_assert(strstr(r.body, "\r\n") != NULL);
    /* text quoted, times ISO 8601 UTC, worst MOS first: 6745fb1b (3.33) */
    const char *row1 = strstr(r.body, "\r\n") + 2;
    ck_assert_msg(strncmp(row1, "\"6745fb1b", 9) == 0, "first row %.40s", row1);
    ck_assert(strstr(row1, ",2024-01-15T10:00:12.398562Z,") != NULL);
    resp_free(&r);
    get("/api/v1/calls.csv?final_status=9xx", &r);
    ck_assert_int_eq(r.status, 400);
    resp_free(&r);
}
END_TEST

/* Quoting and formula injection, on calls written for it. */
START_TEST(test_calls_csv_quoting)
{
    char db[400];
    snprintf(db, sizeof(db), "%s/crafted.db", tmpdir);
    store_t *st = NULL;
    ck_assert_int_eq(store_open(db, &st), 0);
    call_record_t c = {.id = 1,
                       .call_id = "=HYPERLINK(\"http://x\")",
                       .from_uri = "sip:a,b@example.com",
                       .to_uri = "-2+3",
                       .state = CALL_COMPLETED,
                       .invite_ns = INT64_C(1705312800) * 1000000000};
    ck_assert_int_eq(store_put_call(st, &c), 0);
    ck_assert_int_eq(store_close(st), 0);
    api_server_t *other;
    api_cfg_t cfg = {.db_path = db, .listen = "127.0.0.1:0", .threads = 1};
    char err[256];
    ck_assert_int_eq(api_server_start(&cfg, &other, err, sizeof(err)), 0);
    uint16_t keep = port;
    port = api_server_port(other);
    resp_t r;
    get("/api/v1/calls.csv", &r);
    port = keep;
    api_server_stop(other);
    ck_assert_int_eq(r.status, 200);
    const char *row = strstr(r.body, "\r\n") + 2;
    const char *want = "\"'=HYPERLINK(\"\"http://x\"\")\",\"sip:a,b@example.com\",\"'-2+3\",";
    ck_assert_msg(strncmp(row, want, strlen(want)) == 0, "row: %s", row);
    resp_free(&r);
}
END_TEST

START_TEST(test_ladder_txt)
{
    resp_t r;
    json_t *page =
        get_json("/api/v1/calls?call_id=bb6daced096c608c24b703d5%40192.168.240.118", 200, &r);
    json_int_t id = json_integer_value(
        json_object_get(json_array_get(json_object_get(page, "calls"), 0), "id"));
    resp_free(&r);
    char target[64];
    snprintf(target, sizeof(target), "/api/v1/calls/%lld/ladder.txt", (long long)id);
    get(target, &r);
    ck_assert_int_eq(r.status, 200);
    char ct[128];
    ck_assert_ptr_nonnull(resp_header(&r, "Content-Type", ct, sizeof(ct)));
    ck_assert(strncmp(ct, "text/plain", 10) == 0);
    ck_assert(strstr(r.body, "203.0.113.111:6237") != NULL);
    ck_assert(strstr(r.body, "198.51.100.55:5060") != NULL);
    ck_assert(strstr(r.body, "10:00:01.116531  |--INVITE (SDP)---") != NULL);
    ck_assert(strstr(r.body, "10:00:01.120590  |<-100 Trying---") != NULL);
    int arrows = 0;
    for (const char *p = r.body; (p = strstr(p, "-|\n")) != NULL || false; p++)
        arrows++;
    for (const char *p = r.body; (p = strstr(p, "->|\n")) != NULL; p++)
        arrows++;
    ck_assert_int_eq(arrows, 7); /* one line per message */
    resp_free(&r);
    get("/api/v1/calls/99999/ladder.txt", &r);
    ck_assert_int_eq(r.status, 404);
    resp_free(&r);
}
END_TEST

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

START_TEST(test_calls_pcap)
{
    resp_t r;
    get("/api/v1/calls/pcap?state=completed", &r);
    ck_assert_int_eq(r.status, 200);
    char n[32];
    ck_assert_ptr_nonnull(resp_header(&r, "X-Sipscope-Calls", n, sizeof(n)));
    ck_assert_str_eq(n, "8");
    const unsigned char *p = (const unsigned char *)r.body;
    ck_assert_uint_ge(r.body_len, 24);
    ck_assert_uint_eq(rd32(p), 0xa1b23c4du); /* nanosecond */
    ck_assert_uint_eq(rd32(p + 20), 101);    /* LINKTYPE_RAW */
    size_t off = 24, packets = 0, v4 = 0, v6 = 0;
    uint64_t prev = 0;
    while (off + 16 <= r.body_len) {
        uint64_t t = (uint64_t)rd32(p + off) * 1000000000u + rd32(p + off + 4);
        uint32_t cap = rd32(p + off + 8);
        ck_assert_msg(t >= prev, "packet %zu out of time order", packets);
        prev = t;
        ck_assert_uint_le(off + 16 + cap, r.body_len);
        v4 += (p[off + 16] >> 4) == 4;
        v6 += (p[off + 16] >> 4) == 6;
        off += 16 + cap;
        packets++;
    }
    ck_assert_uint_eq(off, r.body_len);
    /* 8 calls of 7 messages (SIP rebuilt: no per-call files), and 2 TCP handshakes */
    ck_assert_uint_eq(packets, 8 * 7 + 2 * 3);
    ck_assert_uint_eq(v4 + v6, packets);
    ck_assert_uint_gt(v6, 0);
    resp_free(&r);
    get("/api/v1/calls/pcap?state=in_call", &r); /* none: an empty pcap */
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body_len, 24);
    resp_free(&r);
    get("/api/v1/calls/pcap?limit=10", &r);
    ck_assert_int_eq(r.status, 400);
    resp_free(&r);
}
END_TEST

/* ---- The full-text index: searching before the messages are indexed (LIKE over the rows
 * beyond fts.indexed_id) and after (FTS5) gives the same calls. */

static int count_call(void *ctx, const call_record_t *c)
{
    (void)c;
    (*(int *)ctx)++;
    return 0;
}

static int count_message(void *ctx, int64_t id, const message_record_t *m)
{
    (void)id;
    (void)m;
    (*(int *)ctx)++;
    return 0;
}

static int message_search_count(store_t *st, const char *text)
{
    store_message_filter_t f = {.search = text};
    int n = 0;
    int64_t total = 0;
    ck_assert_int_eq(store_query_messages(st, &f, 1000, 0, count_message, &n, &total), 0);
    ck_assert_int_eq(total, n);
    return n;
}

static int search_count(store_t *st, const char *text)
{
    store_call_filter_t f = {.search = text};
    int n = 0;
    int64_t total = 0;
    ck_assert_int_eq(store_query_calls(st, &f, 1000, 0, count_call, &n, &total), 0);
    ck_assert_int_eq(total, n);
    return n;
}

START_TEST(test_fts_catch_up)
{
    char db[400], cmd[1024];
    snprintf(db, sizeof(db), "%s/fts.db", tmpdir);
    snprintf(cmd, sizeof(cmd), "'%s' analyze -q --db '%s' '%s' > /dev/null", SIPSCOPE_BINARY, db,
             testdata_path("samples/small.pcap"));
    ck_assert_int_eq(run(cmd), 0);
    store_t *st = NULL;
    ck_assert_int_eq(store_open(db, &st), 0);
    static const char *const words[] = {
        "2159", "opus", "+1555", "INVITE", "example.net 2989", "Linphone", "192.0.2.12"};
    int before[sizeof(words) / sizeof(words[0])], msg_before[sizeof(words) / sizeof(words[0])];
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        before[i] = search_count(st, words[i]);
        msg_before[i] = message_search_count(st, words[i]);
    }
    int64_t n = 0, all = 0;
    do {
        ck_assert_int_eq(store_fts_catch_up(st, 50, &n), 0);
        all += n;
    } while (n > 0);
    ck_assert_int_eq(all, 187);
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        ck_assert_msg(search_count(st, words[i]) == before[i], "%s: %d indexed, %d before",
                      words[i], search_count(st, words[i]), before[i]);
        ck_assert_msg(message_search_count(st, words[i]) == msg_before[i],
                      "%s: %d messages indexed, %d before", words[i],
                      message_search_count(st, words[i]), msg_before[i]);
    }
    ck_assert_int_eq(msg_before[3], 47); /* as many as hold the word (sqlite3 LIKE: 47) */
    ck_assert_int_eq(before[0], 1);
    ck_assert_int_eq(before[3], 10);
    ck_assert_int_eq(before[4], 1);
    ck_assert_int_eq(before[6], 1);
    /* Deleting indexed messages takes them out of the index (the delete trigger). */
    ck_assert_int_eq(store_prune(st, INT64_C(1705312900) * 1000000000, 0, NULL), 0);
    ck_assert_int_eq(search_count(st, "INVITE"), 0);
    ck_assert_int_eq(store_fts_catch_up(st, 50, &n), 0);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(store_close(st), 0);
    /* and the index agrees with its content (FTS5's own check, with the sqlite3 shell) */
    if (run("command -v sqlite3 > /dev/null") == 0) {
        snprintf(cmd, sizeof(cmd),
                 "sqlite3 '%s' \"INSERT INTO sip_messages_fts (sip_messages_fts, rank)"
                 " VALUES ('integrity-check', 1)\"",
                 db);
        ck_assert_int_eq(run(cmd), 0);
    }
}
END_TEST

/* sort=worst, both ways, lists the calls in the order worked out here: verdict severity, then
 * MOS (calls without one first), then id, all reversed with order=asc. */
typedef struct {
    int64_t id;
    int severity;
    bool has_mos;
    double mos;
} worst_key_t;

static int cmp_worst_desc(const void *pa, const void *pb)
{
    const worst_key_t *a = pa, *b = pb;
    if (a->severity != b->severity)
        return a->severity > b->severity ? -1 : 1;
    if (a->has_mos != b->has_mos)
        return a->has_mos ? 1 : -1;
    if (a->has_mos && a->mos != b->mos)
        return a->mos < b->mos ? -1 : 1;
    return a->id > b->id ? -1 : a->id < b->id;
}

static size_t worst_keys(json_t *calls, worst_key_t *keys, size_t cap)
{
    size_t i, n = 0;
    json_t *c;
    json_array_foreach (calls, i, c) {
        if (n == cap)
            break;
        verdict_t v = VERDICT_GOOD;
        ck_assert(verdict_parse(json_string_value(json_object_get(c, "verdict")), &v));
        json_t *mos = json_object_get(c, "mos");
        keys[n++] = (worst_key_t){json_integer_value(json_object_get(c, "id")), verdict_severity(v),
                                  json_is_number(mos), json_number_value(mos)};
    }
    return n;
}

START_TEST(test_sort_worst_order)
{
    worst_key_t want[64], got[64];
    resp_t r;
    size_t n =
        worst_keys(json_object_get(get_json("/api/v1/calls?limit=64", 200, &r), "calls"), want, 64);
    resp_free(&r);
    ck_assert_int_gt(n, 5);
    qsort(want, n, sizeof(*want), cmp_worst_desc);
    for (int asc = 0; asc < 2; asc++) {
        const char *path = asc ? "/api/v1/calls?sort=worst&order=asc&limit=64"
                               : "/api/v1/calls?sort=worst&limit=64";
        size_t m = worst_keys(json_object_get(get_json(path, 200, &r), "calls"), got, 64);
        resp_free(&r);
        ck_assert_int_eq(m, n);
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(got[i].id == want[asc ? n - 1 - i : i].id, "%s: call %zu is id %lld",
                          path, i, (long long)got[i].id);
    }
}
END_TEST

/* The same answers once the indexes serve adds are there (other plans: ip as a list beside
 * another index, sort=worst from calls_worst, the streams' covering endpoint indexes). */
static void start_server_indexed(void)
{
    store_t *st = NULL;
    ck_assert_int_eq(store_open(small_db, &st), 0);
    ck_assert_int_eq(store_add_query_indexes(st), 0);
    ck_assert_int_eq(store_close(st), 0);
    start_server();
}

Suite *api_find_suite(void)
{
    fill_database();
    atexit(remove_database);
    Suite *s = suite_create("api_find");
    TCase *tc = tcase_create("calls");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, start_server, stop_server);
    tcase_add_loop_test(tc, test_call_filters, 0,
                        (int)(sizeof(find_cases) / sizeof(find_cases[0])));
    tcase_add_loop_test(tc, test_call_filters_bad, 0,
                        (int)(sizeof(bad_filters) / sizeof(bad_filters[0])));
    tcase_add_test(tc, test_messages_list);
    tcase_add_test(tc, test_message_detail);
    tcase_add_loop_test(tc, test_messages_bad, 0,
                        (int)(sizeof(bad_message_params) / sizeof(bad_message_params[0])));
    tcase_add_test(tc, test_alert_evidence);
    tcase_add_test(tc, test_alert_filters);
    tcase_add_test(tc, test_calls_csv);
    tcase_add_test(tc, test_calls_csv_quoting);
    tcase_add_test(tc, test_ladder_txt);
    tcase_add_test(tc, test_calls_pcap);
    tcase_add_test(tc, test_fts_catch_up);
    tcase_add_test(tc, test_sort_worst_order);
    suite_add_tcase(s, tc);
    TCase *indexed = tcase_create("calls_indexed");
    tcase_set_timeout(indexed, 60);
    tcase_add_checked_fixture(indexed, start_server_indexed, stop_server);
    tcase_add_loop_test(indexed, test_call_filters, 0,
                        (int)(sizeof(find_cases) / sizeof(find_cases[0])));
    tcase_add_test(indexed, test_sort_worst_order);
    suite_add_tcase(s, indexed);
    return s;
}
