/* check_analyze: the sipscope program end to end, against tshark's answers and simcalls truth. */
#include <check.h>
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "skip.h"
#include "testdata.h"

/* Run a shell command; capture stdout (caller frees) and the exit status. */

/* The next non-empty line of the text at *cursor, NUL-terminated in place, or NULL at its end;
 * *cursor moves past it (strtok's job, without its hidden state). */
static char *take_line(char **cursor)
{
    char *p = *cursor;
    while (*p == '\n')
        p++;
    if (*p == '\0') {
        *cursor = p;
        return NULL;
    }
    char *nl = strchr(p, '\n');
    if (nl != NULL) {
        *nl = '\0';
        *cursor = nl + 1;
    } else {
        *cursor = p + strlen(p);
    }
    return p;
}
static char *run_capture(const char *cmd, int *status)
{
    FILE *f = popen(cmd, "r");
    ck_assert_msg(f != NULL, "popen failed: %s", cmd);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    buf[n] = '\0';
    int rc = pclose(f);
    *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    return buf;
}

static json_t *analyze_json(const char *capture, int *status)
{
    char cmd[8192];
    int n = snprintf(cmd, sizeof(cmd), "'%s' analyze --db :memory: --json '%s' 2>/dev/null",
                     SIPSCOPE_BINARY, capture);
    ck_assert(n > 0 && (size_t)n < sizeof(cmd));
    char *out = run_capture(cmd, status);
    json_error_t jerr;
    json_t *doc = json_loads(out, 0, &jerr);
    ck_assert_msg(doc != NULL, "%s: report is not JSON (%s): %.200s", capture, jerr.text, out);
    free(out);
    return doc;
}

static json_int_t int_field(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    ck_assert_msg(json_is_integer(v), "field %s missing or not an integer", key);
    return json_integer_value(v);
}

/* ---- real captures: tests/pcap/real/NAME with NAME.tshark.json beside it ---- */

#define MAX_CAPTURES 64
static char capture_names[MAX_CAPTURES][256];
static int n_captures;
static bool captures_unlisted; /* the folder could not be read, or held over MAX_CAPTURES */

/* Called when the suite is built, so that the loop test has one index per capture (the tests
 * are forked from there and inherit the list): no index that checks nothing and shows as a
 * pass. Failures are left for the test to report. */
static void list_captures(void)
{
    DIR *d = opendir(testdata_path("tests/pcap/real"));
    if (d == NULL) {
        captures_unlisted = true;
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        bool is_capture = (len > 5 && strcmp(e->d_name + len - 5, ".pcap") == 0) ||
                          (len > 7 && strcmp(e->d_name + len - 7, ".pcapng") == 0);
        if (!is_capture)
            continue;
        if (n_captures == MAX_CAPTURES) {
            captures_unlisted = true;
            break;
        }
        snprintf(capture_names[n_captures++], sizeof(capture_names[0]), "%s", e->d_name);
    }
    closedir(d);
    /* A stable order for the loop test's indexes. */
    qsort(capture_names, (size_t)n_captures, sizeof(capture_names[0]),
          (int (*)(const void *, const void *))strcmp);
}

static json_t *tshark_reference(const char *name)
{
    char path[4096];
    const char *dot = strrchr(name, '.');
    snprintf(path, sizeof(path), "%s/%.*s.tshark.json", testdata_path("tests/pcap/real"),
             (int)(dot - name), name);
    json_error_t jerr;
    json_t *ref = json_load_file(path, 0, &jerr);
    ck_assert_msg(ref != NULL, "%s: %s", path, jerr.text);
    return ref;
}

/* Within 0.01 ms or 1% of tshark's figure (tshark prints 3 decimals). */
static bool close_to_tshark(double ours, double theirs)
{
    double diff = fabs(ours - theirs);
    return diff <= 0.01 || diff <= 0.01 * fabs(theirs);
}

/* The stream with this source, destination and SSRC (hex, any case), or NULL. */
static json_t *find_stream(json_t *streams, const char *src, const char *dst, const char *ssrc)
{
    size_t i;
    json_t *s;
    json_array_foreach (streams, i, s) {
        if (strcmp(json_string_value(json_object_get(s, "src")), src) == 0 &&
            strcmp(json_string_value(json_object_get(s, "dst")), dst) == 0 &&
            strcasecmp(json_string_value(json_object_get(s, "ssrc")), ssrc) == 0)
            return s;
    }
    return NULL;
}

/* Where tshark is wrong, named with the reason (tcpdump's TESTLIST style: one row per capture).
 * ndpi-FAX: from frame 1435 on, a MEGACO SDP announces "image 16756 UDPTL", so tshark decodes
 * the next 27 packets of this stream as (malformed) T.38, although they are RTP continuing it
 * (PT 8, sequence 1844 on). sipscope counts them; the lost count agrees either way. */
static const struct {
    const char *capture, *ssrc, *field;
} tshark_exceptions[] = {
    {"ndpi-FAX-Call-t38-CA-TDM-SIP-FB-1.pcap", "0x0eaf0eaf", "packets"},
};

static bool tshark_is_wrong(const char *capture, const char *ssrc, const char *field)
{
    for (size_t i = 0; i < sizeof(tshark_exceptions) / sizeof(tshark_exceptions[0]); i++) {
        if (strcmp(tshark_exceptions[i].capture, capture) == 0 &&
            strcasecmp(tshark_exceptions[i].ssrc, ssrc) == 0 &&
            strcmp(tshark_exceptions[i].field, field) == 0)
            return true;
    }
    return false;
}

/* Every RTP stream tshark reports (RTP heuristic on) is one of ours with the same figures. */
static void check_streams_against_tshark(const char *name, json_t *ours, json_t *theirs)
{
    size_t i;
    json_t *t;
    json_array_foreach (theirs, i, t) {
        const char *src = json_string_value(json_object_get(t, "src"));
        const char *dst = json_string_value(json_object_get(t, "dst"));
        const char *ssrc = json_string_value(json_object_get(t, "ssrc_hex"));
        json_t *s = find_stream(ours, src, dst, ssrc);
        ck_assert_msg(s != NULL, "%s: stream %s -> %s %s (tshark) missing", name, src, dst, ssrc);
        ck_assert_msg(int_field(s, "packets") == int_field(t, "packets") ||
                          tshark_is_wrong(name, ssrc, "packets"),
                      "%s: stream %s -> %s %s: %lld packets, tshark %lld", name, src, dst, ssrc,
                      (long long)int_field(s, "packets"), (long long)int_field(t, "packets"));
        ck_assert_msg(int_field(s, "lost") == int_field(t, "lost"),
                      "%s: stream %s -> %s %s: lost %lld, tshark %lld", name, src, dst, ssrc,
                      (long long)int_field(s, "lost"), (long long)int_field(t, "lost"));
        static const char *const figures[][2] = {
            {"max_jitter_ms", "max_jitter_ms"},
            {"mean_jitter_ms", "mean_jitter_ms"},
            {"max_delta_ms", "max_delta_ms"},
        };
        for (size_t k = 0; k < 3; k++) {
            double a = json_number_value(json_object_get(s, figures[k][0]));
            double b = json_number_value(json_object_get(t, figures[k][1]));
            ck_assert_msg(close_to_tshark(a, b), "%s: stream %s -> %s %s: %s %.3f, tshark %.3f",
                          name, src, dst, ssrc, figures[k][0], a, b);
        }
    }
}

START_TEST(real_capture_matches_tshark)
{
    ck_assert_msg(!captures_unlisted && n_captures > 0,
                  "tests/pcap/real: unreadable, empty or over %d captures", MAX_CAPTURES);
    ck_assert_int_lt(_i, n_captures);
    const char *name = capture_names[_i];
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", testdata_path("tests/pcap/real"), name);
    int status;
    json_t *report = analyze_json(path, &status);
    json_t *ref = tshark_reference(name);
    ck_assert_msg(status == 0, "%s: exit %d", name, status);
    ck_assert_int_eq(int_field(report, "packets"), int_field(ref, "packets"));
    json_int_t ours = int_field(report, "sip_messages");
    json_int_t theirs = int_field(ref, "sip_messages");
    ck_assert_msg(ours == theirs, "%s: %lld SIP messages, tshark says %lld", name, (long long)ours,
                  (long long)theirs);
    check_streams_against_tshark(name, json_object_get(report, "streams"),
                                 json_object_get(ref, "rtp_streams_heuristic"));
    json_decref(report);
    json_decref(ref);
}
END_TEST

/* ---- command line contract ---- */

static int run_status(const char *args)
{
    char cmd[16384];
    snprintf(cmd, sizeof(cmd), "'%s' %s >/dev/null 2>&1", SIPSCOPE_BINARY, args);
    int status;
    free(run_capture(cmd, &status));
    return status;
}

START_TEST(cli_help_version_usage)
{
    ck_assert_int_eq(run_status("--help"), 0);
    ck_assert_int_eq(run_status("--version"), 0);
    ck_assert_int_eq(run_status(""), 2);
    ck_assert_int_eq(run_status("frobnicate"), 2);
    ck_assert_int_eq(run_status("analyze"), 2);
    ck_assert_int_eq(run_status("analyze --no-such-option x.pcap"), 2);
    ck_assert_int_eq(run_status("analyze --max-calls -5 x.pcap"), 2);
}
END_TEST

START_TEST(cli_missing_and_non_pcap_files)
{
    char args[4096];
    snprintf(args, sizeof(args), "analyze --db :memory: /nonexistent/x.pcap");
    ck_assert_int_eq(run_status(args), 1);
    snprintf(args, sizeof(args), "analyze --db :memory: '%s'", testdata_path("README.md"));
    ck_assert_int_eq(run_status(args), 1);
    /* The error names the file and says why, in the house form. */
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "'%s' analyze --db :memory: /nonexistent/x.pcap 2>&1",
             SIPSCOPE_BINARY);
    int status;
    char *out = run_capture(cmd, &status);
    ck_assert_msg(strstr(out, "sipscope: /nonexistent/x.pcap:") != NULL, "got: %s", out);
    free(out);
}
END_TEST

START_TEST(cli_truncated_pcap_reports_what_was_read)
{
    /* Cut samples/small.pcap in the middle of a record. */
    size_t len;
    char *whole = testdata_read(testdata_path("samples/small.pcap"), &len);
    ck_assert(whole != NULL && len > 100000);
    char path[] = "/tmp/sipscope-trunc-XXXXXX";
    int fd = mkstemp(path);
    ck_assert(fd >= 0);
    ck_assert(write(fd, whole, 100003) == 100003);
    close(fd);
    free(whole);
    int status;
    json_t *report = analyze_json(path, &status);
    ck_assert_int_eq(status, 1);
    ck_assert_int_gt(int_field(report, "packets"), 100);
    ck_assert_int_gt(int_field(report, "sip_messages"), 0);
    json_decref(report);
    unlink(path);
}
END_TEST

START_TEST(cli_reads_stdin_and_several_files)
{
    const char *sample = testdata_path("samples/small.pcap");
    char cmd[8192];
    snprintf(cmd, sizeof(cmd), "'%s' analyze --db :memory: --json - < '%s' 2>/dev/null",
             SIPSCOPE_BINARY, sample);
    int status;
    char *out = run_capture(cmd, &status);
    ck_assert_int_eq(status, 0);
    json_t *once = json_loads(out, 0, NULL);
    free(out);
    ck_assert(once != NULL);
    snprintf(cmd, sizeof(cmd), "'%s' analyze --db :memory: --json '%s' '%s' 2>/dev/null",
             SIPSCOPE_BINARY, sample, sample);
    out = run_capture(cmd, &status);
    ck_assert_int_eq(status, 0);
    json_t *twice = json_loads(out, 0, NULL);
    free(out);
    ck_assert(twice != NULL);
    ck_assert_int_eq(int_field(twice, "packets"), 2 * int_field(once, "packets"));
    ck_assert_int_eq(int_field(twice, "sip_messages"), 2 * int_field(once, "sip_messages"));
    json_decref(once);
    json_decref(twice);
}
END_TEST

/* ---- simcalls ground truth (the bundled sample) ---- */

START_TEST(sample_totals_match_truth)
{
    json_t *truth = json_load_file(testdata_path("samples/small.truth.json"), 0, NULL);
    ck_assert(truth != NULL);
    json_t *totals = json_object_get(truth, "totals");
    int status;
    json_t *report = analyze_json(testdata_path("samples/small.pcap"), &status);
    ck_assert_int_eq(status, 0);
    ck_assert_int_eq(int_field(report, "packets"), int_field(totals, "packets"));
    ck_assert_int_eq(int_field(report, "bytes"), int_field(totals, "bytes"));
    ck_assert_int_eq(int_field(report, "sip_messages"), int_field(totals, "sip_messages"));
    ck_assert_int_eq(int_field(report, "rtp_packets"), int_field(totals, "rtp_packets"));
    ck_assert_int_eq(int_field(report, "rtcp_packets"), int_field(totals, "rtcp_packets"));
    ck_assert_int_eq(int_field(report, "malformed"), 0);
    json_decref(report);
    json_decref(truth);
}
END_TEST

/* ---- calls and streams against simcalls ground truth ---- */

static json_t *find_by_string(json_t *array, const char *key, const char *value)
{
    size_t i;
    json_t *item;
    json_array_foreach (array, i, item) {
        const char *v = json_string_value(json_object_get(item, key));
        if (v != NULL && strcmp(v, value) == 0)
            return item;
    }
    return NULL;
}

static void endpoint_text(json_t *o, const char *ip_key, const char *port_key, char *buf,
                          size_t cap)
{
    const char *ip = json_string_value(json_object_get(o, ip_key));
    json_int_t port = json_integer_value(json_object_get(o, port_key));
    snprintf(buf, cap, strchr(ip, ':') ? "[%s]:%lld" : "%s:%lld", ip, (long long)port);
}

static void assert_close(const char *what, const char *who, double ours, double truth, double tol)
{
    ck_assert_msg(fabs(ours - truth) <= tol, "%s %s: ours %.6f, truth %.6f", who, what, ours,
                  truth);
}

/* Every call and stream of the truth file is in the report with the same figures, and the
 * report has no extra call; only the truth's one-way/NAT calls are flagged. */
static void check_report_against_truth(json_t *report, json_t *truth)
{
    json_t *calls = json_object_get(report, "calls");
    json_t *streams = json_object_get(report, "streams");
    json_t *truth_calls = json_object_get(truth, "calls");
    ck_assert_int_eq(json_array_size(calls), json_array_size(truth_calls));
    size_t i;
    json_t *tc;
    json_array_foreach (truth_calls, i, tc) {
        const char *call_id = json_string_value(json_object_get(tc, "call_id"));
        json_t *c = find_by_string(calls, "call_id", call_id);
        ck_assert_msg(c != NULL, "call %s missing", call_id);
        ck_assert_str_eq(json_string_value(json_object_get(c, "state")),
                         json_string_value(json_object_get(tc, "state")));
        ck_assert_int_eq(int_field(c, "final_status"), int_field(tc, "final_code"));
        assert_close("post_dial_delay_ms", call_id,
                     json_number_value(json_object_get(c, "post_dial_delay_ms")),
                     json_number_value(json_object_get(tc, "post_dial_delay")) * 1000.0, 0.002);
        if (json_is_true(json_object_get(tc, "answered")))
            assert_close("duration_s", call_id, json_number_value(json_object_get(c, "duration_s")),
                         json_number_value(json_object_get(tc, "duration")), 2e-6);
        ck_assert_msg(json_is_true(json_object_get(c, "one_way")) ==
                          !json_is_null(json_object_get(tc, "one_way")),
                      "call %s one_way flag", call_id);
        ck_assert_msg(json_is_true(json_object_get(c, "nat")) ==
                          !json_is_null(json_object_get(tc, "nat")),
                      "call %s nat flag", call_id);

        size_t j;
        json_t *ts;
        json_array_foreach (json_object_get(tc, "rtp_streams"), j, ts) {
            char src[64], dst[64], who[200];
            endpoint_text(ts, "src_ip", "src_port", src, sizeof(src));
            endpoint_text(ts, "dst_ip", "dst_port", dst, sizeof(dst));
            const char *ssrc = json_string_value(json_object_get(ts, "ssrc_hex"));
            json_t *s = find_stream(streams, src, dst, ssrc);
            snprintf(who, sizeof(who), "stream %s -> %s %s", src, dst, ssrc);
            ck_assert_msg(s != NULL, "%s missing", who);
            ck_assert_str_eq(json_string_value(json_object_get(s, "call_id")), call_id);
            ck_assert_int_eq(int_field(s, "packets"), int_field(ts, "packets"));
            ck_assert_int_eq(int_field(s, "lost"), int_field(ts, "lost"));
            json_t *tshark = json_object_get(ts, "tshark");
            assert_close("max_jitter_ms", who,
                         json_number_value(json_object_get(s, "max_jitter_ms")),
                         json_number_value(json_object_get(tshark, "max_jitter_ms")), 0.0011);
            assert_close("mean_jitter_ms", who,
                         json_number_value(json_object_get(s, "mean_jitter_ms")),
                         json_number_value(json_object_get(tshark, "mean_jitter_ms")), 0.0011);
            assert_close("max_delta_ms", who, json_number_value(json_object_get(s, "max_delta_ms")),
                         json_number_value(json_object_get(tshark, "max_delta_ms")), 0.0011);
            ck_assert_msg(json_is_true(json_object_get(s, "sdp_mismatch")) ==
                              json_is_true(json_object_get(ts, "nat")),
                          "%s sdp_mismatch", who);
        }
    }
}

START_TEST(sample_calls_and_streams_match_truth)
{
    json_t *truth = json_load_file(testdata_path("samples/small.truth.json"), 0, NULL);
    ck_assert(truth != NULL);
    int status;
    json_t *report = analyze_json(testdata_path("samples/small.pcap"), &status);
    ck_assert_int_eq(status, 0);
    check_report_against_truth(report, truth);
    json_decref(report);
    json_decref(truth);
}
END_TEST

/* Captures generated with simcalls at test time (needs ../shared), one per variant. */
static const char *const simcalls_variants[] = {
    "--calls 20 --concurrency 5 --duration 10 --seed 7 --loss 0.02 --jitter-ms 3 "
    "--reorder 0.01 --dup 0.005 --fail-ratio 0.1 --cancel-ratio 0.1 --oneway-ratio 0.1 "
    "--nat-ratio 0.2 --ipv6-ratio 0.2 --fragment-ratio 0.2 --tcp-ratio 0.2 --register-flood 100",
    "--calls 12 --concurrency 4 --duration 6 --seed 11 --codec mix --loss 0.03 --jitter-ms 8 "
    "--dup 0.02 --reorder 0.03 --vlan 42 --nanosecond --fragment-ratio 0.3 --tcp-ratio 0.3",
    "--calls 12 --concurrency 6 --duration 5 --seed 5 --linktype sll --ipv6-ratio 0.5 "
    "--oneway-ratio 0.3 --nat-ratio 0.3 --fail-ratio 0.2 --cancel-ratio 0.2 --tcp-ratio 0.3",
    "--calls 4 --concurrency 2 --duration 1400 --seed 3 --codec pcma --loss 0.01",
};

START_TEST(simcalls_variants_match_truth)
{
    const char *simcalls = testdata_shared("tools/simcalls");
    if (simcalls == NULL || access(simcalls, X_OK) != 0) {
        test_skip("simcalls_variants_match_truth needs ../shared/tools/simcalls");
        return;
    }
    char dir[] = "/tmp/sipscope-sim-XXXXXX";
    ck_assert(mkdtemp(dir) != NULL);
    char cmd[8192];
    snprintf(cmd, sizeof(cmd), "'%s' %s -w %s/t.pcap --truth %s/t.json >/dev/null 2>&1", simcalls,
             simcalls_variants[_i], dir, dir);
    ck_assert_msg(system(cmd) == 0, "simcalls failed: %s", cmd);
    char pcap[512], truth_path[512];
    snprintf(pcap, sizeof(pcap), "%s/t.pcap", dir);
    snprintf(truth_path, sizeof(truth_path), "%s/t.json", dir);
    json_t *truth = json_load_file(truth_path, 0, NULL);
    ck_assert(truth != NULL);
    int status;
    json_t *report = analyze_json(pcap, &status);
    ck_assert_int_eq(status, 0);
    json_t *totals = json_object_get(truth, "totals");
    ck_assert_int_eq(int_field(report, "sip_messages"), int_field(totals, "sip_messages"));
    ck_assert_int_eq(int_field(report, "rtp_packets"), int_field(totals, "rtp_packets"));
    ck_assert_int_eq(int_field(report, "rtcp_packets"), int_field(totals, "rtcp_packets"));
    check_report_against_truth(report, truth);
    json_decref(report);
    json_decref(truth);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert(system(cmd) == 0);
}
END_TEST

/* ---- per-call pcaps and export ---- */

START_TEST(export_per_call_pcaps_open_in_tshark)
{
    if (system("command -v tshark >/dev/null 2>&1") != 0) {
        fprintf(stderr, "notice: tshark is absent: per-call pcap check skipped\n");
        test_skip("export_per_call_pcaps_open_in_tshark needs tshark");
        return;
    }
    char dir[] = "/tmp/sipscope-export-XXXXXX";
    ck_assert(mkdtemp(dir) != NULL);
    char cmd[8192];
    snprintf(cmd, sizeof(cmd),
             "'%s' analyze --db %s/s.db --pcap-dir %s/pcaps --json '%s' 2>/dev/null",
             SIPSCOPE_BINARY, dir, dir, testdata_path("samples/small.pcap"));
    int status;
    char *out = run_capture(cmd, &status);
    ck_assert_int_eq(status, 0);
    json_t *report = json_loads(out, 0, NULL);
    free(out);
    ck_assert(report != NULL);
    size_t i;
    json_t *call;
    json_array_foreach (json_object_get(report, "calls"), i, call) {
        const char *call_id = json_string_value(json_object_get(call, "call_id"));
        snprintf(cmd, sizeof(cmd),
                 "'%s' export --db %s/s.db '%s' -o %s/one.pcap && "
                 "tshark -r %s/one.pcap -Y sip 2>/dev/null | wc -l",
                 SIPSCOPE_BINARY, dir, call_id, dir, dir);
        out = run_capture(cmd, &status);
        ck_assert_msg(status == 0, "export of %s failed", call_id);
        long sip = strtol(out, NULL, 10);
        free(out);
        ck_assert_msg(sip == int_field(call, "sip_messages"),
                      "%s: tshark reads %ld SIP messages in the export, the call has %lld", call_id,
                      sip, (long long)int_field(call, "sip_messages"));
    }
    ck_assert_int_eq(run_status("export --db /nonexistent.db x -o /tmp/x.pcap"), 1);
    char args[256];
    snprintf(args, sizeof(args), "export --db %s/s.db no-such-call -o %s/x.pcap", dir, dir);
    ck_assert_int_eq(run_status(args), 1);
    ck_assert_int_eq(run_status("export x"), 2);
    json_decref(report);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert(system(cmd) == 0);
}
END_TEST

/* Without --pcap-dir, export falls back as the API's pcap route does: the call's SIP messages
 * rebuilt from the database (one opener, store_call_pcap_open, for both). */
START_TEST(export_without_pcap_dir_rebuilds_sip)
{
    if (system("command -v tshark >/dev/null 2>&1") != 0) {
        fprintf(stderr, "notice: tshark is absent: rebuilt export check skipped\n");
        test_skip("export_without_pcap_dir_rebuilds_sip needs tshark");
        return;
    }
    char dir[] = "/tmp/sipscope-export-XXXXXX";
    ck_assert(mkdtemp(dir) != NULL);
    char cmd[8192];
    snprintf(cmd, sizeof(cmd), "'%s' analyze --db %s/s.db --json '%s' 2>/dev/null", SIPSCOPE_BINARY,
             dir, testdata_path("samples/small.pcap"));
    int status;
    char *out = run_capture(cmd, &status);
    ck_assert_int_eq(status, 0);
    json_t *report = json_loads(out, 0, NULL);
    free(out);
    ck_assert(report != NULL);
    size_t i;
    json_t *call;
    size_t checked = 0;
    json_array_foreach (json_object_get(report, "calls"), i, call) {
        const char *call_id = json_string_value(json_object_get(call, "call_id"));
        snprintf(cmd, sizeof(cmd),
                 "'%s' export --db %s/s.db '%s' -o %s/one.pcap 2>%s/err && "
                 "grep -q 'SIP only, rebuilt' %s/err && "
                 "tshark -r %s/one.pcap -Y sip 2>/dev/null | wc -l",
                 SIPSCOPE_BINARY, dir, call_id, dir, dir, dir, dir);
        out = run_capture(cmd, &status);
        ck_assert_msg(status == 0, "rebuilt export of %s failed or did not say so", call_id);
        long sip = strtol(out, NULL, 10);
        free(out);
        ck_assert_msg(sip == int_field(call, "sip_messages"),
                      "%s: tshark reads %ld SIP messages in the rebuilt export, the call has %lld",
                      call_id, sip, (long long)int_field(call, "sip_messages"));
        checked++;
    }
    ck_assert_uint_gt(checked, 0);
    json_decref(report);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert(system(cmd) == 0);
}
END_TEST

/* ---- per-call pcaps: --rtp-pcap modes and gzip ---- */

/* The output of a shell command made from fmt (caller frees); fails the test unless it exits 0. */
__attribute__((format(printf, 1, 0))) static char *shell_vout(const char *fmt, va_list ap)
{
    char cmd[8192];
    int n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
    ck_assert(n > 0 && (size_t)n < sizeof(cmd));
    int status;
    char *out = run_capture(cmd, &status);
    ck_assert_msg(status == 0, "exit %d: %s", status, cmd);
    return out;
}

__attribute__((format(printf, 1, 2))) static char *shell_out(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *out = shell_vout(fmt, ap);
    va_end(ap);
    return out;
}

/* The number a shell command prints. */
__attribute__((format(printf, 1, 2))) static long shell_long(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *out = shell_vout(fmt, ap);
    va_end(ap);
    long v = strtol(out, NULL, 10);
    free(out);
    return v;
}

/* analyze the sample with opts, its per-call pcaps into dir/sub. */
static void analyze_into(const char *dir, const char *sub, const char *opts)
{
    free(shell_out("'%s' analyze -q --db :memory: --pcap-dir '%s/%s' %s '%s'", SIPSCOPE_BINARY, dir,
                   sub, opts, testdata_path("samples/small.pcap")));
}

/* Frames of a capture that tshark's display filter takes. */
static long tshark_count(const char *path, const char *filter)
{
    return shell_long("tshark -n -r '%s' -Y '%s' 2>/dev/null | wc -l", path, filter);
}

/* tshark's view of a per-call file: per frame "caplen\tlen\tprotocols\tseq\tssrc\ttimestamp\t
 * malformed", then its rtp,streams table (caller frees). */
static char *tshark_frames(const char *path)
{
    return shell_out("tshark -n -r '%s' -o rtp.heuristic_rtp:TRUE -T fields -e frame.cap_len "
                     "-e frame.len -e frame.protocols -e rtp.seq -e rtp.ssrc -e rtp.timestamp "
                     "-e _ws.malformed -z rtp,streams 2>/dev/null",
                     path);
}

typedef struct {
    long frames, rtp, rtcp, sip, cut;
} frame_counts_t;

/* Go through one frame line of tshark_frames; *rest: the line after its caplen. */
static void count_frame(char *line, frame_counts_t *n, char **rest)
{
    char *tab = strchr(line, '\t');
    ck_assert_msg(tab != NULL, "not a frame line: %s", line);
    long caplen = strtol(line, NULL, 10), len = strtol(tab + 1, NULL, 10);
    *rest = tab + 1;
    n->frames++;
    n->rtp += strstr(*rest, ":rtp") != NULL && strstr(*rest, ":rtcp") == NULL;
    n->rtcp += strstr(*rest, ":rtcp") != NULL;
    n->sip += strstr(*rest, ":sip") != NULL;
    n->cut += caplen < len;
    ck_assert_msg(line[strlen(line) - 1] == '\t', "malformed frame: %s", line);
}

/* Header mode keeps every RTP header and all of RTCP and SIP: frame by frame tshark decodes the
 * same protocols, RTP sequence numbers, SSRCs and timestamps in it as in the full file, and its
 * rtp,streams table (packets, loss, sequence errors, delta and jitter) is the same, while every
 * RTP record holds less than the packet's length. none (and its old name --no-rtp-pcap) keeps
 * the SIP only. */
START_TEST(per_call_pcap_header_mode_keeps_rtp_figures)
{
    if (system("command -v tshark >/dev/null 2>&1") != 0) {
        test_skip("per_call_pcap_header_mode_keeps_rtp_figures needs tshark");
        return;
    }
    char dir[] = "/tmp/sipscope-rtppcap-XXXXXX";
    ck_assert(mkdtemp(dir) != NULL);
    analyze_into(dir, "full", "");
    analyze_into(dir, "header", "--rtp-pcap header");
    analyze_into(dir, "none", "--rtp-pcap none");
    analyze_into(dir, "alias", "--no-rtp-pcap");
    char *files = shell_out("cd '%s/full' && find . -type f | sort", dir);
    char *header_files = shell_out("cd '%s/header' && find . -type f | sort", dir);
    ck_assert_str_eq(files, header_files);
    free(header_files);
    frame_counts_t full_n = {0}, hdr_n = {0}, none_n = {0};
    long streams = 0, checked = 0;
    char *cursor = files;
    for (char *name; (name = take_line(&cursor)) != NULL;) {
        char path[512];
        snprintf(path, sizeof(path), "%s/full/%s", dir, name);
        char *full = tshark_frames(path);
        snprintf(path, sizeof(path), "%s/header/%s", dir, name);
        char *hdr = tshark_frames(path);
        snprintf(path, sizeof(path), "%s/none/%s", dir, name);
        char *none = tshark_frames(path);
        /* The rtp,streams tables: the same. */
        char *ft = strstr(full, "====="), *ht = strstr(hdr, "=====");
        ck_assert(ft != NULL && ht != NULL);
        ck_assert_msg(strcmp(ft, ht) == 0, "%s: rtp,streams differ:\n%s\n---\n%s", name, ft, ht);
        for (char *p = ft; (p = strstr(p, " 0x")) != NULL; p++)
            streams++;
        *ft = *ht = '\0';
        /* Frame by frame: all but the bytes kept the same. */
        char *fs = full, *hs = hdr;
        char *fl = take_line(&fs), *hl = take_line(&hs);
        for (; fl && hl; fl = take_line(&fs), hl = take_line(&hs)) {
            char *frest, *hrest;
            long cut = hdr_n.cut, rtp = hdr_n.rtp;
            count_frame(fl, &full_n, &frest);
            count_frame(hl, &hdr_n, &hrest);
            ck_assert_msg(strcmp(frest, hrest) == 0, "%s: %s\n  became %s", name, frest, hrest);
            /* Cut exactly when it is RTP. */
            ck_assert_msg(hdr_n.cut - cut == hdr_n.rtp - rtp, "%s: %s", name, hl);
        }
        ck_assert_msg(fl == NULL && hl == NULL, "%s: frame counts differ", name);
        char *ns = none;
        for (char *nl = take_line(&ns); nl && strncmp(nl, "=====", 5) != 0; nl = take_line(&ns)) {
            char *rest;
            count_frame(nl, &none_n, &rest);
        }
        free(full);
        free(hdr);
        free(none);
        checked++;
    }
    free(files);
    ck_assert_int_ge(checked, 5);
    ck_assert_int_ge(streams, 5);
    ck_assert_int_gt(full_n.rtp, 1000);
    ck_assert_int_eq(full_n.cut, 0);
    ck_assert_int_eq(hdr_n.cut, full_n.rtp);
    ck_assert_int_gt(full_n.rtcp, 0);
    ck_assert_int_gt(full_n.sip, 0);
    ck_assert_int_eq(none_n.sip, full_n.sip);
    ck_assert_int_eq(none_n.frames, full_n.sip);
    ck_assert_int_eq(none_n.rtp + none_n.rtcp, 0);
    /* --no-rtp-pcap is --rtp-pcap none, byte for byte. */
    free(shell_out("diff -r '%s/none' '%s/alias'", dir, dir));
    long full_b = shell_long("du -sb '%s/full' | cut -f1", dir);
    long hdr_b = shell_long("du -sb '%s/header' | cut -f1", dir);
    long none_b = shell_long("du -sb '%s/none' | cut -f1", dir);
    ck_assert_int_lt(hdr_b, full_b * 6 / 10);
    ck_assert_int_lt(none_b, hdr_b);
    ck_assert_int_eq(run_status("analyze --db :memory: --rtp-pcap bogus x.pcap"), 2);
    ck_assert_int_eq(run_status("analyze --db :memory: --pcap-compress zip x.pcap"), 2);
    free(shell_out("rm -rf '%s'", dir));
}
END_TEST

/* --pcap-compress gzip: every file is ID.pcap.gz, complete (gzip -t), holding exactly the
 * plain file's bytes; tshark opens it as it is. export writes a pcap, or with -o *.gz the
 * stored gzip file as it is (and compresses a plain or rebuilt one). */
START_TEST(per_call_pcap_gzip_opens_in_tshark_and_exports)
{
    if (system("command -v tshark >/dev/null 2>&1 && command -v gzip >/dev/null 2>&1") != 0) {
        test_skip("per_call_pcap_gzip_opens_in_tshark_and_exports needs tshark and gzip");
        return;
    }
    char dir[] = "/tmp/sipscope-gzpcap-XXXXXX";
    ck_assert(mkdtemp(dir) != NULL);
    const char *sample = testdata_path("samples/small.pcap");
    free(shell_out("'%s' analyze -q --db %s/p.db --pcap-dir %s/plain '%s'", SIPSCOPE_BINARY, dir,
                   dir, sample));
    free(shell_out("'%s' analyze -q --db %s/r.db '%s'", SIPSCOPE_BINARY, dir, sample));
    char *out = shell_out("'%s' analyze --db %s/g.db --pcap-dir %s/gz --pcap-compress gzip "
                          "--json '%s' 2>/dev/null",
                          SIPSCOPE_BINARY, dir, dir, sample);
    json_t *report = json_loads(out, 0, NULL);
    free(out);
    ck_assert(report != NULL);
    /* The same files, each name with .gz, each a complete gzip stream of the plain bytes. */
    char *plain = shell_out("cd %s/plain && find . -type f | sort", dir);
    char *gz = shell_out("cd %s/gz && find . -type f | sed 's/\\.gz$//' | sort", dir);
    ck_assert_str_eq(plain, gz);
    free(gz);
    ck_assert_int_eq(shell_long("find '%s/gz' -type f ! -name '*.pcap.gz' | wc -l", dir), 0);
    int files = 0;
    char *cursor = plain;
    for (char *line; (line = take_line(&cursor)) != NULL; files++)
        free(shell_out("gzip -t %s/gz/%s.gz && gzip -dc %s/gz/%s.gz | cmp -s - %s/plain/%s", dir,
                       line, dir, line, dir, line));
    ck_assert_int_ge(files, 5);
    free(plain);
    ck_assert_int_lt(shell_long("du -sb '%s/gz' | cut -f1", dir),
                     shell_long("du -sb '%s/plain' | cut -f1", dir));
    size_t i;
    json_t *call;
    json_array_foreach (json_object_get(report, "calls"), i, call) {
        const char *cid = json_string_value(json_object_get(call, "call_id"));
        long sip = (long)int_field(call, "sip_messages");
        /* From the gzip store: a pcap, the same bytes as the plain store's; tshark reads both
         * the export and the .gz export as they are. */
        free(shell_out("'%s' export --db %s/g.db '%s' -o %s/g.pcap && "
                       "'%s' export --db %s/p.db '%s' -o %s/p.pcap && cmp %s/g.pcap %s/p.pcap",
                       SIPSCOPE_BINARY, dir, cid, dir, SIPSCOPE_BINARY, dir, cid, dir, dir, dir));
        free(shell_out("'%s' export --db %s/g.db '%s' -o %s/g.pcap.gz && gzip -t %s/g.pcap.gz && "
                       "gzip -dc %s/g.pcap.gz | cmp -s - %s/p.pcap",
                       SIPSCOPE_BINARY, dir, cid, dir, dir, dir, dir));
        char gzpath[128];
        snprintf(gzpath, sizeof(gzpath), "%s/g.pcap.gz", dir);
        ck_assert_int_eq(tshark_count(gzpath, "sip"), sip);
        /* ... and is the stored file, as it is. */
        ck_assert_int_eq(shell_long("find %s/gz -type f -exec cmp -s {} %s/g.pcap.gz \\; -print "
                                    "| wc -l",
                                    dir, dir),
                         1);
        /* A plain file and a rebuilt one are compressed when OUT ends in .gz. */
        free(shell_out("'%s' export --db %s/p.db '%s' -o %s/p2.pcap.gz && "
                       "gzip -dc %s/p2.pcap.gz | cmp -s - %s/p.pcap",
                       SIPSCOPE_BINARY, dir, cid, dir, dir, dir));
        free(shell_out("'%s' export --db %s/r.db '%s' -o %s/r.pcap 2>/dev/null && "
                       "'%s' export --db %s/r.db '%s' -o %s/r.pcap.gz 2>/dev/null && "
                       "gzip -t %s/r.pcap.gz && gzip -dc %s/r.pcap.gz | cmp -s - %s/r.pcap",
                       SIPSCOPE_BINARY, dir, cid, dir, SIPSCOPE_BINARY, dir, cid, dir, dir, dir,
                       dir));
    }
    json_decref(report);
    free(shell_out("rm -rf '%s'", dir));
}
END_TEST

/* A port nobody listens on now (the kernel's pick; free again when this returns). */
static unsigned free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* The API's download of a call kept as ID.pcap.gz is the plain pcap (what a browser saves and
 * Wireshark opens on a double click), byte for byte what export writes. */
START_TEST(api_serves_gzip_per_call_pcap_as_pcap)
{
    if (system("command -v curl >/dev/null 2>&1") != 0) {
        test_skip("api_serves_gzip_per_call_pcap_as_pcap needs curl");
        return;
    }
    char dir[] = "/tmp/sipscope-gzapi-XXXXXX";
    ck_assert(mkdtemp(dir) != NULL);
    free(shell_out("'%s' analyze -q --db %s/g.db --pcap-dir %s/gz --pcap-compress gzip '%s'",
                   SIPSCOPE_BINARY, dir, dir, testdata_path("samples/small.pcap")));
    free(shell_out("'%s' export --db %s/g.db 2 -o %s/want.pcap", SIPSCOPE_BINARY, dir, dir));
    char db[128], listen[64];
    snprintf(db, sizeof(db), "%s/g.db", dir);
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", free_port());
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execl(SIPSCOPE_BINARY, SIPSCOPE_BINARY, "serve", "-q", "--db", db, "--listen", listen,
              (char *)NULL);
        _exit(127);
    }
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "for i in $(seq 100); do curl -sf -D %s/headers -o %s/got.pcap "
             "http://%s/api/v1/calls/2/pcap && exit 0; sleep 0.1; done; exit 1",
             dir, dir, listen);
    int got = system(cmd);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    ck_assert_msg(got == 0, "no answer from sipscope serve on %s", listen);
    free(shell_out("cmp %s/got.pcap %s/want.pcap", dir, dir));
    free(shell_out("grep -qi '^Content-Type: application/vnd.tcpdump.pcap' %s/headers && "
                   "grep -qi 'filename=\"sipscope-call-2.pcap\"' %s/headers",
                   dir, dir));
    free(shell_out("rm -rf '%s'", dir));
}
END_TEST

/* ---- what cannot be decoded, and captures already stored ---- */

/* A pcap of link type dlt holding n copies of frame (len bytes). */
static void write_pcap(const char *path, uint32_t dlt, const uint8_t *const *frames,
                       const uint32_t *lens, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    /* magic, version 2.4, thiszone, sigfigs, snaplen, link type (host byte order) */
    uint32_t hdr[6] = {0xa1b2c3d4, 2 | (4u << 16), 0, 0, 65535, dlt};
    ck_assert_uint_eq(fwrite(hdr, sizeof(hdr), 1, f), 1);
    for (size_t i = 0; i < n; i++) {
        uint32_t rec[4] = {1705312800 + (uint32_t)i, 0, lens[i], lens[i]};
        ck_assert_uint_eq(fwrite(rec, sizeof(rec), 1, f), 1);
        ck_assert_uint_eq(fwrite(frames[i], lens[i], 1, f), 1);
    }
    ck_assert_int_eq(fclose(f), 0);
}

/* Run cmd (a shell command whose stderr goes to errpath); its stdout as JSON (NULL if none). */
static json_t *run_json(const char *cmd, int *status)
{
    char *out = run_capture(cmd, status);
    json_t *doc = out[0] ? json_loads(out, 0, NULL) : NULL;
    free(out);
    return doc;
}

static bool file_has(const char *path, const char *needle)
{
    size_t len;
    char *text = testdata_read(path, &len);
    bool found = text != NULL && strstr(text, needle) != NULL;
    if (!found)
        fprintf(stderr, "%s does not hold \"%s\"; it holds: %s\n", path, needle,
                text ? text : "(nothing)");
    free(text);
    return found;
}

/* A capture of a link type sipscope does not decode (802.11) exits 0 as before, but warns,
 * naming the type, and counts every frame as undecoded. */
START_TEST(cli_unknown_link_type_warns_and_counts)
{
    char dir[] = "/tmp/sipscope-link-XXXXXX";
    ck_assert(mkdtemp(dir) != NULL);
    char pcap[128], errpath[128], cmd[1024];
    snprintf(pcap, sizeof(pcap), "%s/wifi.pcap", dir);
    snprintf(errpath, sizeof(errpath), "%s/err", dir);
    static const uint8_t beacon[24] = {0x80, 0x00}; /* an 802.11 management frame header */
    const uint8_t *frames[5] = {beacon, beacon, beacon, beacon, beacon};
    const uint32_t lens[5] = {24, 24, 24, 24, 24};
    write_pcap(pcap, 105 /* DLT_IEEE802_11 */, frames, lens, 5);
    snprintf(cmd, sizeof(cmd), "'%s' analyze --db :memory: --json '%s' 2>'%s'", SIPSCOPE_BINARY,
             pcap, errpath);
    int status;
    json_t *report = run_json(cmd, &status);
    ck_assert_int_eq(status, 0);
    ck_assert_ptr_nonnull(report);
    ck_assert_int_eq(int_field(report, "packets"), 5);
    ck_assert_int_eq(int_field(report, "undecoded"), 5);
    ck_assert_int_eq(int_field(report, "malformed"), 0);
    ck_assert_int_eq(int_field(report, "sip_messages"), 0);
    json_decref(report);
    char want[256];
    snprintf(want, sizeof(want),
             "sipscope: %s: link type IEEE802_11 (105) is not decoded: 5 frames skipped", pcap);
    ck_assert(file_has(errpath, want));

    /* A type libpcap has no name for is named by its number; the summary counts it too. */
    write_pcap(pcap, 147 /* DLT_USER0 */, frames, lens, 1);
    snprintf(cmd, sizeof(cmd), "'%s' analyze --db :memory: '%s' 2>'%s'", SIPSCOPE_BINARY, pcap,
             errpath);
    free(run_capture(cmd, &status));
    ck_assert_int_eq(status, 0);
    ck_assert(file_has(errpath, "link type 147 is not decoded: 1 frame skipped"));
    ck_assert(file_has(errpath, "0 malformed, 1 undecoded"));

    /* Ethernet is decoded; ARP and ICMP in it are counted as undecoded, without a warning. */
    static const uint8_t arp[42] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0,    0, 0, 0, 1, 0x08, 0x06, /* Ethernet, ARP */
        0x00, 0x01, 0x08, 0x00, 6,    4,    0x00, 0x01,                         /* request */
    };
    static const uint8_t icmp[42] = {
        0x02, 0, 0,    0,    0,   2, 0x02, 0, 0,  0, 0, 1, 0x08, 0x00, /* Ethernet, IPv4 */
        0x45, 0, 0,    28,   0,   1, 0,    0, 64, 1, 0, 0, /* IPv4, 28 bytes, protocol 1 */
        192,  0, 2,    1,    192, 0, 2,    2,              /* 192.0.2.1 -> 192.0.2.2 */
        8,    0, 0xf7, 0xff, 0,   0, 0,    0,              /* ICMP echo request */
    };
    const uint8_t *eth[2] = {arp, icmp};
    const uint32_t eth_lens[2] = {42, 42};
    write_pcap(pcap, 1 /* DLT_EN10MB */, eth, eth_lens, 2);
    snprintf(cmd, sizeof(cmd), "'%s' analyze --db :memory: --json '%s' 2>'%s'", SIPSCOPE_BINARY,
             pcap, errpath);
    report = run_json(cmd, &status);
    ck_assert_int_eq(status, 0);
    ck_assert_ptr_nonnull(report);
    ck_assert_int_eq(int_field(report, "packets"), 2);
    ck_assert_int_eq(int_field(report, "undecoded"), 2);
    ck_assert_int_eq(int_field(report, "malformed"), 0);
    json_decref(report);
    size_t len;
    char *err = testdata_read(errpath, &len);
    ck_assert_msg(err != NULL && strstr(err, "link type") == NULL, "%s", err ? err : "");
    free(err);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert(system(cmd) == 0);
}
END_TEST

/* How many alerts the database holds for the source 203.0.113.200 (the sample's first password
 * guesser): one per analysis of the sample, so it tells how often the sample was stored. */
static json_int_t stored_alerts(const char *db)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "'%s' alerts --db '%s' --format json", SIPSCOPE_BINARY, db);
    int status;
    json_t *doc = run_json(cmd, &status);
    ck_assert_int_eq(status, 0);
    ck_assert_ptr_nonnull(doc);
    json_int_t n = -1;
    size_t i;
    json_t *src;
    json_array_foreach (json_object_get(doc, "sources"), i, src) {
        if (strcmp(json_string_value(json_object_get(src, "source")), "203.0.113.200") == 0)
            n = int_field(src, "alerts");
    }
    json_decref(doc);
    ck_assert_int_ge(n, 1);
    return n;
}

/* A capture already in the database is skipped with a notice (exit 0), whatever its name;
 * --force reads it again; standard input cannot be recognised and is always read. */
START_TEST(cli_capture_already_stored_is_skipped)
{
    char dir[] = "/tmp/sipscope-again-XXXXXX";
    ck_assert(mkdtemp(dir) != NULL);
    char db[128], copy[128], errpath[128], cmd[8192];
    snprintf(db, sizeof(db), "%s/s.db", dir);
    snprintf(copy, sizeof(copy), "%s/renamed.pcap", dir);
    snprintf(errpath, sizeof(errpath), "%s/err", dir);
    char sample[4096];
    snprintf(sample, sizeof(sample), "%s", testdata_path("samples/small.pcap"));
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", sample, copy);
    ck_assert(system(cmd) == 0);

    snprintf(cmd, sizeof(cmd), "'%s' analyze -q --db '%s' '%s'", SIPSCOPE_BINARY, db, sample);
    int status;
    free(run_capture(cmd, &status));
    ck_assert_int_eq(status, 0);
    ck_assert_int_eq(stored_alerts(db), 1);

    /* Again, under another name: skipped, and the report holds nothing. */
    snprintf(cmd, sizeof(cmd), "'%s' analyze --db '%s' --json '%s' 2>'%s'", SIPSCOPE_BINARY, db,
             copy, errpath);
    json_t *report = run_json(cmd, &status);
    ck_assert_int_eq(status, 0);
    ck_assert_ptr_nonnull(report);
    ck_assert_int_eq(int_field(report, "packets"), 0);
    json_decref(report);
    char want[4500]; /* two paths: a copy's and the sample's (up to 4 KB) */
    snprintf(want, sizeof(want), "sipscope: %s: already in DB (analysed at 20", copy);
    ck_assert(file_has(errpath, want));
    ck_assert(file_has(errpath, "Z); skipped (use --force to analyse it again)\n"));
    ck_assert_int_eq(stored_alerts(db), 1);

    /* Given twice in one run, into another database: read once. */
    char db2[128];
    snprintf(db2, sizeof(db2), "%s/two.db", dir);
    snprintf(cmd, sizeof(cmd), "'%s' analyze --db '%s' --json '%s' '%s' 2>'%s'", SIPSCOPE_BINARY,
             db2, sample, copy, errpath);
    report = run_json(cmd, &status);
    ck_assert_int_eq(status, 0);
    ck_assert_ptr_nonnull(report);
    ck_assert_int_eq(int_field(report, "packets"), 2403);
    json_decref(report);
    snprintf(want, sizeof(want), "sipscope: %s: the same capture as %s, read before; skipped", copy,
             sample);
    ck_assert(file_has(errpath, want));
    ck_assert_int_eq(stored_alerts(db2), 1);

    /* --force reads it again. */
    snprintf(cmd, sizeof(cmd), "'%s' analyze --db '%s' --force --json '%s' 2>'%s'", SIPSCOPE_BINARY,
             db, copy, errpath);
    report = run_json(cmd, &status);
    ck_assert_int_eq(status, 0);
    ck_assert_ptr_nonnull(report);
    ck_assert_int_eq(int_field(report, "packets"), 2403);
    json_decref(report);
    ck_assert_int_eq(stored_alerts(db), 2);

    /* Standard input is always read. */
    snprintf(cmd, sizeof(cmd), "'%s' analyze --db '%s' --json - < '%s' 2>'%s'", SIPSCOPE_BINARY, db,
             sample, errpath);
    report = run_json(cmd, &status);
    ck_assert_int_eq(status, 0);
    ck_assert_ptr_nonnull(report);
    ck_assert_int_eq(int_field(report, "packets"), 2403);
    json_decref(report);
    ck_assert_int_eq(stored_alerts(db), 3);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert(system(cmd) == 0);
}
END_TEST

/* run -r keeps to the same rule: skip what is stored unless --force. It serves until SIGTERM:
 * the test waits for the line that says it serves, then stops it. */
static void run_r_then_stop(const char *db, const char *capture, const char *extra,
                            const char *errpath)
{
    char cmd[8192];
    unlink(errpath); /* else the wait below may see the previous run's line */
    snprintf(cmd, sizeof(cmd),
             "'%s' run -r '%s' %s --db '%s' --listen 127.0.0.1:0 2>'%s' & pid=$!; "
             "i=0; while [ $i -lt 1200 ] && ! grep -qs 'serving' '%s'; do "
             "kill -0 $pid 2>/dev/null || break; sleep 0.05; i=$((i+1)); done; "
             "kill -TERM $pid; wait $pid",
             SIPSCOPE_BINARY, capture, extra, db, errpath, errpath);
    int status;
    free(run_capture(cmd, &status));
    ck_assert_msg(status == 0, "run -r exited %d", status);
    ck_assert(file_has(errpath, "serving"));
}

START_TEST(cli_run_r_skips_stored_capture_unless_forced)
{
    char dir[] = "/tmp/sipscope-runr-XXXXXX";
    ck_assert(mkdtemp(dir) != NULL);
    char db[128], errpath[128], cmd[1024];
    snprintf(db, sizeof(db), "%s/s.db", dir);
    snprintf(errpath, sizeof(errpath), "%s/err", dir);
    char sample[4096];
    snprintf(sample, sizeof(sample), "%s", testdata_path("samples/small.pcap"));
    run_r_then_stop(db, sample, "", errpath);
    ck_assert(file_has(errpath, "analysed 1 file: 2403 packets"));
    ck_assert_int_eq(stored_alerts(db), 1);
    run_r_then_stop(db, sample, "", errpath);
    ck_assert(file_has(errpath, ": already in DB (analysed at "));
    ck_assert(file_has(errpath, "analysed 0 files: 0 packets"));
    ck_assert_int_eq(stored_alerts(db), 1);
    run_r_then_stop(db, sample, "--force", errpath);
    ck_assert(file_has(errpath, "analysed 1 file: 2403 packets"));
    ck_assert_int_eq(stored_alerts(db), 2);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert(system(cmd) == 0);
}
END_TEST

Suite *analyze_suite(void)
{
    Suite *s = suite_create("analyze");
    TCase *tc = tcase_create("real_captures");
    tcase_set_timeout(tc, 120);
    list_captures();
    /* At least one index, so that a missing or empty folder fails instead of running nothing. */
    tcase_add_loop_test(tc, real_capture_matches_tshark, 0, n_captures > 0 ? n_captures : 1);
    suite_add_tcase(s, tc);

    tc = tcase_create("cli");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, cli_help_version_usage);
    tcase_add_test(tc, cli_missing_and_non_pcap_files);
    tcase_add_test(tc, cli_truncated_pcap_reports_what_was_read);
    tcase_add_test(tc, cli_reads_stdin_and_several_files);
    tcase_add_test(tc, cli_unknown_link_type_warns_and_counts);
    tcase_add_test(tc, cli_capture_already_stored_is_skipped);
    tcase_add_test(tc, cli_run_r_skips_stored_capture_unless_forced);
    suite_add_tcase(s, tc);

    tc = tcase_create("sample");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, sample_totals_match_truth);
    tcase_add_test(tc, sample_calls_and_streams_match_truth);
    tcase_add_test(tc, export_per_call_pcaps_open_in_tshark);
    tcase_add_test(tc, export_without_pcap_dir_rebuilds_sip);
    suite_add_tcase(s, tc);

    /* Dozens of tshark runs each: more time than the sample's tests on a loaded machine. */
    tc = tcase_create("per_call_pcaps");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, per_call_pcap_header_mode_keeps_rtp_figures);
    tcase_add_test(tc, per_call_pcap_gzip_opens_in_tshark_and_exports);
    tcase_add_test(tc, api_serves_gzip_per_call_pcap_as_pcap);
    suite_add_tcase(s, tc);

    /* Tagged "shared": ctest runs it as analyze.shared, skipped where ../shared is absent. */
    tc = tcase_create("simcalls");
    tcase_set_tags(tc, "shared");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, simcalls_variants_match_truth, 0,
                        (int)(sizeof(simcalls_variants) / sizeof(simcalls_variants[0])));
    suite_add_tcase(s, tc);
    return s;
}
