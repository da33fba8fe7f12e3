/* check_analyze: the sipscope program end to end, against tshark's answers and simcalls truth. */
#include <check.h>
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testdata.h"

/* Run a shell command; capture stdout (caller frees) and the exit status. */
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

static void list_captures(void)
{
    if (n_captures > 0)
        return;
    DIR *d = opendir(testdata_path("tests/pcap/real"));
    ck_assert(d != NULL);
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n_captures < MAX_CAPTURES) {
        size_t len = strlen(e->d_name);
        bool is_capture = (len > 5 && strcmp(e->d_name + len - 5, ".pcap") == 0) ||
                          (len > 7 && strcmp(e->d_name + len - 7, ".pcapng") == 0);
        if (is_capture)
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

START_TEST(real_capture_sip_count_matches_tshark)
{
    list_captures();
    if (_i >= n_captures)
        return;
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
    ck_assert_msg(ours == theirs, "%s: %lld SIP messages, tshark says %lld", name,
                  (long long)ours, (long long)theirs);
    json_decref(report);
    json_decref(ref);
}
END_TEST

/* ---- command line contract ---- */

static int run_status(const char *args)
{
    char cmd[8192];
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

Suite *analyze_suite(void)
{
    Suite *s = suite_create("analyze");
    TCase *tc = tcase_create("real_captures");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, real_capture_sip_count_matches_tshark, 0, MAX_CAPTURES);
    suite_add_tcase(s, tc);

    tc = tcase_create("cli");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, cli_help_version_usage);
    tcase_add_test(tc, cli_missing_and_non_pcap_files);
    tcase_add_test(tc, cli_truncated_pcap_reports_what_was_read);
    tcase_add_test(tc, cli_reads_stdin_and_several_files);
    suite_add_tcase(s, tc);

    tc = tcase_create("sample");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, sample_totals_match_truth);
    suite_add_tcase(s, tc);
    return s;
}
