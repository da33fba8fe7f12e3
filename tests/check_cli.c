/* check_cli: the command line's errors end to end, on the real program: usage errors (exit 2,
 * "sipscope: CMD: ..." and the Try line), each command's --help, and the runtime errors found at
 * start (exit 1) before anything is read or created. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "skip.h"
#include "testdata.h"

/* ---- running the program ---- */

/* A scratch folder per test (0755, so that a test may run the program as nobody in it). */
static char tmp[64];

static void tmp_setup(void)
{
    snprintf(tmp, sizeof(tmp), "/tmp/sipscope-cli-XXXXXX");
    ck_assert(mkdtemp(tmp) != NULL);
    ck_assert_int_eq(chmod(tmp, 0755), 0);
}

static void tmp_teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "check_cli: could not remove %s\n", tmp);
}

static char *path_in_tmp(const char *name)
{
    static char buf[4][256];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, sizeof(buf[0]), "%s/%s", tmp, name);
    return p;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* The whole file as a string ("" when it cannot be read). Caller frees. */
static char *slurp(const char *path)
{
    size_t len = 0;
    char *s = testdata_read(path, &len);
    char *z = malloc(len + 1);
    ck_assert(z != NULL);
    if (len > 0)
        memcpy(z, s, len);
    z[len] = '\0';
    free(s);
    return z;
}

/* What a run printed, and how it ended. */
typedef struct {
    int status; /* exit status, or -1 when killed by a signal */
    char *out, *err;
} result_t;

static void result_free(result_t *r)
{
    free(r->out);
    free(r->err);
}

/* Run "sipscope ARGS" (ARGS a shell fragment) from the scratch folder, at most 60 s (a command
 * that would serve forever fails the test instead of hanging it). prefix goes before the
 * program (e.g. "setpriv ... "). */
__attribute__((format(printf, 2, 3))) static result_t run_prefixed(const char *prefix,
                                                                   const char *fmt, ...)
{
    char args[8192], cmd[16384];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    ck_assert(n > 0 && (size_t)n < sizeof(args));
    n = snprintf(cmd, sizeof(cmd),
                 "cd '%s' && %s timeout -s KILL 60 '%s' %s >'%s/.out' 2>'%s/.err'", tmp, prefix,
                 SIPSCOPE_BINARY, args, tmp, tmp);
    ck_assert(n > 0 && (size_t)n < sizeof(cmd));
    int rc = system(cmd);
    result_t r = {.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1};
    r.out = slurp(path_in_tmp(".out"));
    r.err = slurp(path_in_tmp(".err"));
    unlink(path_in_tmp(".out"));
    unlink(path_in_tmp(".err"));
    ck_assert_msg(r.status != 137, "killed after 60 s: %s", args); /* timeout -s KILL */
    return r;
}

#define run(...) run_prefixed("", __VA_ARGS__)

static unsigned count_of(const char *hay, const char *needle)
{
    unsigned n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

#define assert_has(hay, needle)                                                                    \
    ck_assert_msg(strstr((hay), (needle)) != NULL, "expected \"%s\" in:\n%s", (needle), (hay))

/* A TCP (or UDP) socket on 127.0.0.1 with a free port; listening for TCP. Returns the fd. */
static int hold_port(int type, unsigned *port)
{
    int fd = socket(AF_INET, type, 0);
    ck_assert(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    if (type == SOCK_STREAM)
        ck_assert_int_eq(listen(fd, 1), 0);
    socklen_t len = sizeof(a);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static const char *sample(void)
{
    return testdata_path("samples/small.pcap");
}

/* ---- help ---- */

static const char *const commands[] = {"analyze", "capture", "run", "serve", "export", "alerts"};
#define N_COMMANDS (int)(sizeof(commands) / sizeof(commands[0]))

START_TEST(help_lists_every_command)
{
    result_t r = run("--help");
    ck_assert_int_eq(r.status, 0);
    for (int i = 0; i < N_COMMANDS; i++) {
        char line[64];
        snprintf(line, sizeof(line), "\n  %s ", commands[i]);
        ck_assert_msg(count_of(r.out, line) == 1, "%s not listed once in:\n%s", commands[i], r.out);
    }
    result_free(&r);
}
END_TEST

/* The long options each command takes when this was written: each must be in its --help. */
static const char *const command_options[][40] = {
    {"analyze", "db", "json", "pcap-dir", "no-rtp-pcap", "hep-out", "hep-id", "hep-key", "hep-rtcp",
     "max-calls", "max-streams", "quiet", "verbose", "help"},
    {"capture",     "interface",
     "filter",      "buffer-mb",
     "ring-mb",     "max-calls",
     "max-streams", "log",
     "pcap-dir",    "no-rtp-pcap",
     "retain-days", "max-db-mb",
     "max-pcap-mb", "retention-interval",
     "hep-out",     "hep-id",
     "hep-key",     "hep-rtcp",
     "db",          "config",
     "quiet",       "verbose",
     "help"},
    {"run",
     "db",
     "listen",
     "token",
     "threads",
     "hep-in",
     "hep-in-key",
     "quiet",
     "verbose",
     "help",
     "interface",
     "filter",
     "buffer-mb",
     "ring-mb",
     "max-calls",
     "max-streams",
     "log",
     "pcap-dir",
     "no-rtp-pcap",
     "retain-days",
     "max-db-mb",
     "max-pcap-mb",
     "retention-interval",
     "hep-out",
     "hep-id",
     "hep-key",
     "hep-rtcp"},
    {"serve", "db", "listen", "token", "threads", "quiet", "verbose", "help"},
    {"export", "db", "pcap-dir", "output", "help"},
    {"alerts", "db", "since", "type", "format", "help"},
};

/* Each command's --help is its own: it names the command and every option it takes. */
START_TEST(each_command_help_is_its_own)
{
    result_t top = run("--help");
    for (int i = 0; i < N_COMMANDS; i++) {
        const char *const *opts = command_options[i];
        result_t r = run("%s --help", opts[0]);
        ck_assert_int_eq(r.status, 0);
        char usage[64];
        snprintf(usage, sizeof(usage), "usage: sipscope %s ", opts[0]);
        ck_assert_msg(strncmp(r.out, usage, strlen(usage)) == 0, "%s --help:\n%s", opts[0], r.out);
        ck_assert_str_ne(r.out, top.out);
        for (int k = 1; opts[k] != NULL; k++) {
            char opt[64];
            snprintf(opt, sizeof(opt), "--%s", opts[k]);
            ck_assert_msg(strstr(r.out, opt) != NULL, "%s --help does not mention %s", opts[0],
                          opt);
        }
        result_free(&r);
    }
    result_free(&top);
}
END_TEST

/* The other way round: every option a --help text lists (an option line: "  --name" or
 * "  -x, --name") is one the command takes. Given as "--name=x --help", each is either taken
 * (the help follows) or refused for its value, never unknown; and nothing is created. */
START_TEST(every_option_in_a_help_is_taken)
{
    regex_t re;
    ck_assert_int_eq(regcomp(&re, "^  (-[a-zA-Z], )?--([a-z0-9-]+)", REG_EXTENDED | REG_NEWLINE),
                     0);
    for (int i = 0; i < N_COMMANDS; i++) {
        result_t help = run("%s --help", commands[i]);
        unsigned found = 0;
        regmatch_t m[3];
        for (const char *p = help.out; regexec(&re, p, 3, m, p == help.out ? 0 : REG_NOTBOL) == 0;
             p += m[0].rm_eo) {
            int len = (int)(m[2].rm_eo - m[2].rm_so);
            result_t r = run("%s '--%.*s=x' --help", commands[i], len, p + m[2].rm_so);
            ck_assert_msg(strstr(r.err, "unrecognized") == NULL &&
                              strstr(r.err, "ambiguous") == NULL,
                          "%s --help lists --%.*s, which it does not take: %s", commands[i], len,
                          p + m[2].rm_so, r.err);
            result_free(&r);
            found++;
        }
        ck_assert_msg(found >= 4, "%s --help: only %u option lines", commands[i], found);
        result_free(&help);
    }
    regfree(&re);
    /* "--db=x --help", "--log=x --help", ...: help only, no file. */
    ck_assert(!exists(path_in_tmp("x")));
}
END_TEST

/* ---- usage errors: exit 2, "sipscope: CMD: ...", and where to look ---- */

START_TEST(unknown_option_of_every_command)
{
    for (int i = 0; i < N_COMMANDS; i++) {
        result_t r = run("%s --bogus x", commands[i]);
        char want[256];
        snprintf(want, sizeof(want),
                 "sipscope: %s: unrecognized option '--bogus'\nTry 'sipscope %s --help'.\n",
                 commands[i], commands[i]);
        ck_assert_int_eq(r.status, 2);
        ck_assert_str_eq(r.err, want);
        result_free(&r);
    }
}
END_TEST

static const struct {
    const char *args, *err;
} usage_errors[] = {
    {"analyze --db", "sipscope: analyze: option '--db' requires an argument\n"},
    {"analyze --json=1 x.pcap", "sipscope: analyze: option '--json' doesn't allow an argument\n"},
    {"analyze --max x.pcap", "sipscope: analyze: option '--max' is ambiguous\n"},
    {"analyze -x x.pcap", "sipscope: analyze: invalid option -- 'x'\n"},
    {"run -r", "sipscope: run: option requires an argument -- 'r'\n"},
    {"capture -i", "sipscope: capture: option requires an argument -- 'i'\n"},
    {"analyze", "sipscope: analyze: no capture file given\n"},
    {"analyze --max-calls -5 x.pcap", "sipscope: analyze: --max-calls: not a positive number"},
    {"capture -i lo --ring-mb 0", "sipscope: capture: --ring-mb: not a size in MB: 0\n"},
    {"analyze --hep-out nohost x.pcap",
     "sipscope: analyze: --hep-out nohost: expected HOST:PORT[,transport=udp|tcp][,qos=on|off]\n"},
    {"capture -i lo --hep-out host:5060,transport=sctp",
     "sipscope: capture: --hep-out host:5060,transport=sctp: expected HOST:PORT"},
    {"analyze --hep-id x x.pcap", "sipscope: analyze: --hep-id x: not a number"},
    {"run --hep-in nohost", "sipscope: run: --hep-in: want ADDR:PORT or [IPv6]:PORT: nohost\n"},
    {"serve --token 'bad token!'", "sipscope: serve: --token: want 1 to 128 characters"},
    {"run -r x.pcap --token 'bad token!'", "sipscope: run: --token: want 1 to 128 characters"},
    {"serve --threads 0", "sipscope: serve: --threads: want 1 to 64: 0\n"},
    {"frobnicate", "sipscope: unknown command 'frobnicate'\n"},
};

START_TEST(usage_errors_exit_2_in_house_form)
{
    const char *args = usage_errors[_i].args;
    result_t r = run("%s", args);
    ck_assert_msg(r.status == 2, "%s: exit %d", args, r.status);
    ck_assert_msg(strncmp(r.err, usage_errors[_i].err, strlen(usage_errors[_i].err)) == 0,
                  "%s: got\n%s", args, r.err);
    /* Then where to look: the command's own help. */
    const char *cmd_end = strchr(args, ' ');
    char try_line[128];
    if (strcmp(args, "frobnicate") == 0)
        snprintf(try_line, sizeof(try_line), "Try 'sipscope --help'.\n");
    else
        snprintf(try_line, sizeof(try_line), "Try 'sipscope %.*s --help'.\n",
                 (int)(cmd_end ? cmd_end - args : (long)strlen(args)), args);
    ck_assert_msg(strstr(r.err, try_line) != NULL, "%s: no \"%s\" in\n%s", args, try_line, r.err);
    /* A token is meant to be secret: not echoed. */
    ck_assert(strstr(r.err, "bad token!") == NULL);
    result_free(&r);
}
END_TEST

START_TEST(token_from_environment_checked_too)
{
    result_t r = run_prefixed("SIPSCOPE_TOKEN='bad token!'", "serve --db x.db");
    ck_assert_int_eq(r.status, 2);
    assert_has(r.err, "sipscope: serve: SIPSCOPE_TOKEN: want 1 to 128 characters");
    result_free(&r);
}
END_TEST

/* ---- run -r: nothing served, nothing created, when it cannot read or cannot serve ---- */

START_TEST(run_missing_or_not_a_capture_exits_before_serving)
{
    result_t r = run("run -r missing.pcap --db r.db --listen 127.0.0.1:0");
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.err, "sipscope: missing.pcap: No such file or directory\n");
    ck_assert(!exists(path_in_tmp("r.db")));
    result_free(&r);

    r = run("run -r '%s' --db r.db --listen 127.0.0.1:0", testdata_path("README.md"));
    ck_assert_int_eq(r.status, 1);
    assert_has(r.err, "README.md: not a pcap or pcapng file\n");
    ck_assert(!exists(path_in_tmp("r.db")));
    result_free(&r);

    /* Standard input that is no capture: read, refused, not served. */
    r = run("run -r - --db r.db --listen 127.0.0.1:0 < '%s'", testdata_path("README.md"));
    ck_assert_int_eq(r.status, 1);
    assert_has(r.err, "-: not a pcap or pcapng file");
    ck_assert(strstr(r.err, "serving") == NULL);
    result_free(&r);
}
END_TEST

START_TEST(run_with_its_port_in_use_fails_before_reading)
{
    unsigned port;
    int fd = hold_port(SOCK_STREAM, &port);
    result_t r = run("run -r '%s' --db r.db --listen 127.0.0.1:%u", sample(), port);
    close(fd);
    ck_assert_int_eq(r.status, 1);
    char want[128];
    snprintf(want, sizeof(want), "sipscope: run: --listen 127.0.0.1:%u: Address already in use\n",
             port);
    ck_assert_str_eq(r.err, want);
    /* Failed before the file was read: no database, let alone calls in it. */
    ck_assert(!exists(path_in_tmp("r.db")));
    result_free(&r);
}
END_TEST

/* ---- paths checked at start ---- */

START_TEST(pcap_dir_not_a_directory)
{
    FILE *f = fopen(path_in_tmp("file"), "w");
    ck_assert(f != NULL);
    fclose(f);
    /* Each with the sample after it (capture reads none). */
    static const struct {
        const char *args, *sample, *why;
    } cases[] = {
        {"analyze --db a.db --pcap-dir file", "", "sipscope: --pcap-dir file: not a directory\n"},
        {"capture -i lo --db a.db --pcap-dir file", NULL,
         "sipscope: --pcap-dir file: not a directory\n"},
        {"run --db a.db --listen 127.0.0.1:0 --pcap-dir file", "-r",
         "sipscope: --pcap-dir file: not a directory\n"},
        {"analyze --db a.db --pcap-dir file/sub", "",
         "sipscope: --pcap-dir file/sub: Not a directory\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        result_t r = cases[i].sample == NULL
                         ? run("%s", cases[i].args)
                         : run("%s %s '%s'", cases[i].args, cases[i].sample, sample());
        ck_assert_msg(r.status == 1, "%s: exit %d", cases[i].args, r.status);
        ck_assert_str_eq(r.err, cases[i].why);
        ck_assert_msg(!exists(path_in_tmp("a.db")), "%s created the database", cases[i].args);
        result_free(&r);
    }
    /* A directory still to be made (with its parents) is fine. */
    result_t r = run("analyze -q --db :memory: --pcap-dir new/pcaps '%s'", sample());
    ck_assert_int_eq(r.status, 0);
    ck_assert(exists(path_in_tmp("new/pcaps")));
    result_free(&r);
}
END_TEST

/* The program as user nobody where we are root (root may write anywhere), else as we are with
 * the folder made read-only. NULL (the test skipped) when neither can be arranged. */
static const char *unprivileged_in(const char *rodir)
{
    ck_assert_int_eq(mkdir(rodir, 0755), 0);
    if (geteuid() != 0) {
        ck_assert_int_eq(chmod(rodir, 0555), 0);
        return "";
    }
    if (system("command -v setpriv >/dev/null 2>&1") != 0) {
        test_skip("root, and no setpriv to run the program as nobody");
        return NULL;
    }
    return "setpriv --reuid=65534 --regid=65534 --clear-groups";
}

START_TEST(read_only_places_say_why_once)
{
    const char *as = unprivileged_in(path_in_tmp("rodir"));
    if (as == NULL)
        return;
    result_t r = run_prefixed(as, "analyze --db rodir/x.db '%s'", sample());
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.err, "sipscope: --db rodir/x.db: cannot create it in rodir: Permission "
                            "denied\n");
    ck_assert(!exists(path_in_tmp("rodir/x.db")));
    result_free(&r);

    r = run_prefixed(as, "analyze --db :memory: --pcap-dir rodir/pcaps '%s'", sample());
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.err, "sipscope: --pcap-dir rodir/pcaps: cannot create it in rodir: "
                            "Permission denied\n");
    result_free(&r);

    r = run_prefixed(as, "analyze --db :memory: --pcap-dir rodir '%s'", sample());
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.err, "sipscope: --pcap-dir rodir: Permission denied\n");
    result_free(&r);
}
END_TEST

START_TEST(database_errors_name_the_path_once)
{
    result_t r = run("analyze --db nodir/x.db '%s'", sample());
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.err, "sipscope: --db nodir/x.db: cannot create it in nodir: No such file "
                            "or directory\n");
    result_free(&r);

    /* Readers: a database that is not there. */
    r = run("export --db missing.db some-call -o out.pcap");
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(count_of(r.err, "missing.db") == 1, "%s", r.err);
    result_free(&r);
    r = run("alerts --db missing.db");
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(count_of(r.err, "missing.db") == 1, "%s", r.err);
    result_free(&r);
    ck_assert(!exists(path_in_tmp("missing.db")));

    /* A file that is not a database: the store's reason, the path once. */
    r = run("analyze --db '%s' '%s'", testdata_path("README.md"), sample());
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(count_of(r.err, "README.md") == 1, "%s", r.err);
    assert_has(r.err, "not a database");
    result_free(&r);
}
END_TEST

/* ---- live capture: the interface first, then the database ---- */

START_TEST(missing_interface_creates_no_database)
{
    result_t r = run("capture -i nosuch0 --db c.db");
    ck_assert_int_eq(r.status, 1);
    assert_has(r.err, "sipscope: capture: nosuch0");
    ck_assert(!exists(path_in_tmp("c.db")));
    result_free(&r);

    r = run("run -i nosuch0 --db c.db --listen 127.0.0.1:0");
    ck_assert_int_eq(r.status, 1);
    assert_has(r.err, "sipscope: run: nosuch0");
    ck_assert(strstr(r.err, "serving") == NULL);
    ck_assert(!exists(path_in_tmp("c.db")));
    result_free(&r);
}
END_TEST

/* ---- config file and log ---- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert(f != NULL);
    ck_assert(fputs(text, f) >= 0);
    ck_assert_int_eq(fclose(f), 0);
}

START_TEST(config_errors_name_file_and_line)
{
    write_file(path_in_tmp("a.conf"), "# comment\ninterface = lo\nbogus = 1\n");
    result_t r = run("capture --config a.conf");
    ck_assert_int_eq(r.status, 2);
    ck_assert_str_eq(r.err, "sipscope: a.conf:3: unknown key 'bogus'\n");
    result_free(&r);

    write_file(path_in_tmp("b.conf"), "[capture]\nquiet = yes\n");
    r = run("capture --config b.conf -i lo");
    ck_assert_int_eq(r.status, 2);
    assert_has(r.err, "sipscope: b.conf:2: 'quiet' is a flag");
    result_free(&r);

    write_file(path_in_tmp("c.conf"), "interface\n");
    r = run("capture --config c.conf");
    ck_assert_int_eq(r.status, 2);
    assert_has(r.err, "sipscope: c.conf:1: 'interface' needs a value");
    result_free(&r);
    ck_assert(!exists(path_in_tmp("sipscope.db")));
}
END_TEST

START_TEST(errors_at_start_reach_stderr_and_create_no_log)
{
    write_file(path_in_tmp("d.conf"), "interface = nosuch0\nlog = conf.log\ndb = d.db\n");
    result_t r = run("capture --config d.conf --log cli.log");
    ck_assert_int_eq(r.status, 1);
    assert_has(r.err, "sipscope: capture: nosuch0");
    ck_assert(!exists(path_in_tmp("conf.log")));
    ck_assert(!exists(path_in_tmp("cli.log")));
    ck_assert(!exists(path_in_tmp("d.db")));
    result_free(&r);

    r = run("capture -i lo --db d.db --log nodir/x.log");
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.err, "sipscope: --log nodir/x.log: cannot create it in nodir: No such file "
                            "or directory\n");
    result_free(&r);
}
END_TEST

/* An error that ends the command after the log took stderr over still reaches stderr (and the
 * log): run --hep-in on a UDP port that is taken. */
START_TEST(fatal_error_after_the_log_started_reaches_stderr)
{
    unsigned port;
    int fd = hold_port(SOCK_DGRAM, &port);
    result_t r = run("run --hep-in 127.0.0.1:%u --db h.db --listen 127.0.0.1:0 --log h.log", port);
    close(fd);
    ck_assert_int_eq(r.status, 1);
    assert_has(r.err, "sipscope: run: --hep-in: ");
    assert_has(r.err, "Address already in use");
    char *log = slurp(path_in_tmp("h.log"));
    assert_has(log, "sipscope: run: --hep-in: ");
    free(log);
    result_free(&r);
}
END_TEST

/* With a working capture: the config file's log = is not created when --log overrides it, and
 * the log gets the capture's messages. Needs a capture on lo (root or CAP_NET_RAW). */
START_TEST(log_on_command_line_overrides_config_file)
{
    write_file(path_in_tmp("e.conf"), "interface = lo\nlog = conf.log\nfilter = udp port 9\n");
    char cmd[8192];
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && exec '%s' capture --config e.conf --log cli.log --db e.db", tmp,
             SIPSCOPE_BINARY);
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, STDERR_FILENO);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    /* Up to 20 s for the capture to start (or to fail, when lo cannot be captured here). */
    int status = 0;
    bool started = false, ended = false;
    for (int i = 0; i < 200 && !started && !ended; i++) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        char *log = slurp(path_in_tmp("cli.log"));
        started = strstr(log, "capturing on lo") != NULL;
        free(log);
        ended = waitpid(pid, &status, WNOHANG) == pid;
    }
    if (!ended) {
        kill(pid, SIGTERM);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    }
    if (!started) {
        ck_assert(!exists(path_in_tmp("conf.log")));
        test_skip("no live capture on lo here (needs root or CAP_NET_RAW)");
        return;
    }
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert(!exists(path_in_tmp("conf.log")));
    char *log = slurp(path_in_tmp("cli.log"));
    assert_has(log, "capture stopped:");
    free(log);
}
END_TEST

Suite *cli_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("help");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, help_lists_every_command);
    tcase_add_test(tc, each_command_help_is_its_own);
    tcase_add_test(tc, every_option_in_a_help_is_taken);
    suite_add_tcase(s, tc);

    tc = tcase_create("usage");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, unknown_option_of_every_command);
    tcase_add_loop_test(tc, usage_errors_exit_2_in_house_form, 0,
                        (int)(sizeof(usage_errors) / sizeof(usage_errors[0])));
    tcase_add_test(tc, token_from_environment_checked_too);
    suite_add_tcase(s, tc);

    tc = tcase_create("start");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, run_missing_or_not_a_capture_exits_before_serving);
    tcase_add_test(tc, run_with_its_port_in_use_fails_before_reading);
    tcase_add_test(tc, pcap_dir_not_a_directory);
    tcase_add_test(tc, read_only_places_say_why_once);
    tcase_add_test(tc, database_errors_name_the_path_once);
    tcase_add_test(tc, missing_interface_creates_no_database);
    suite_add_tcase(s, tc);

    tc = tcase_create("config_log");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, config_errors_name_file_and_line);
    tcase_add_test(tc, errors_at_start_reach_stderr_and_create_no_log);
    tcase_add_test(tc, fatal_error_after_the_log_started_reaches_stderr);
    tcase_add_test(tc, log_on_command_line_overrides_config_file);
    suite_add_tcase(s, tc);
    return s;
}
