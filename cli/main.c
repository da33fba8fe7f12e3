/* sipscope: command-line entry point (contract: docs/design.md "Command line"). */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "hep_cli.h"
#include "livecap.h"
#include "log.h"
#include "engine.h"
#include "report.h"
#include "store.h"
#include "stop.h"

static const char usage_text[] =
    "usage: sipscope COMMAND [OPTIONS]\n"
    "\n"
    "Passive SIP/RTP analyzer: turns captured packets into calls with media quality.\n"
    "\n"
    "commands:\n"
    "  analyze   read pcap/pcapng files into a database, print a summary or the JSON report\n"
    "  capture   capture live from an interface into a database until stopped\n"
    "  run       analyze files, capture live or receive HEP, and serve the result at once\n"
    "  serve     serve a database: HTTP API, /metrics and the web UI\n"
    "  export    write one call's packets as a pcap file\n"
    "  alerts    print the sources of security alerts as a blocklist\n"
    "\n"
    "'sipscope COMMAND --help' lists the options of COMMAND; 'sipscope --version' prints\n"
    "the version.\n"
    "\n"
    "Exit status: 0 success, 1 runtime error (e.g. unreadable or truncated capture),\n"
    "2 usage error.\n";

static const char analyze_usage[] =
    "usage: sipscope analyze [--db PATH] [--json] [--pcap-dir DIR] [options] FILE...\n"
    "\n"
    "Read pcap/pcapng files ('-' = stdin), store the calls in PATH and print a summary on\n"
    "stderr (with --json, the JSON report on stdout). SIGINT/SIGTERM stop the reading: the\n"
    "calls still open are stored as they stand, the summary and report cover what was read,\n"
    "and the exit status is 0 (a second signal while stopping quits at once).\n"
    "\n"
    "  --db PATH            SQLite database to write (default ./sipscope.db; ':memory:' keeps\n"
    "                       nothing)\n"
    "  --json               print the JSON report on stdout\n"
    "  --force              also read captures the database already holds (else skipped)\n"
    "  --tls-keylog FILE    decrypt SIP over TLS with this NSS key log (SSLKEYLOGFILE)\n"
    "  --pcap-dir DIR       keep each call's packets in DIR/YYYY-MM-DD/HH/ID.pcap\n"
    "  --rtp-pcap MODE      RTP in those files: full (default), header (RTP headers and all\n"
    "                       RTCP, payloads cut) or none (SIP only; also --no-rtp-pcap)\n"
    "  --pcap-compress C    none (default) or gzip (ID.pcap.gz, which Wireshark "
    "opens)\n" HEP_CLI_HELP "  --max-calls N        live calls kept in memory (default 65536)\n"
    "  --max-streams N      live RTP streams kept in memory (default 131072)\n"
    "  -q, --quiet          no progress or summary on stderr\n"
    "  -v, --verbose        more messages on stderr (and where the time went)\n"
    "  -h, --help           this text\n"
    "\n"
    "Exit status: 0 success, 1 runtime error (e.g. unreadable or truncated capture),\n"
    "2 usage error.\n";

static void observe_tls(void *ctx, const engine_tls_t *tls)
{
    report_add_tls(ctx, tls);
}

static void observe_call(void *ctx, const call_record_t *call)
{
    report_add_call(ctx, call);
}

static void observe_stream(void *ctx, const stream_record_t *stream)
{
    report_add_stream(ctx, stream);
}

static void observe_dtmf(void *ctx, const dtmf_record_t *dtmf)
{
    report_add_dtmf(ctx, dtmf);
}

static void observe_alert(void *ctx, const alert_record_t *alert)
{
    report_add_alert(ctx, alert);
}

static void print_summary(const engine_totals_t *t, const engine_t *p)
{
    const corr_stats_t *cs = engine_corr_stats(p);
    fprintf(stderr,
            "sipscope: %llu packets, %llu SIP messages, %llu calls, %llu RTP streams, "
            "%llu RTP packets, %llu RTCP packets, %llu malformed, %llu undecoded\n",
            (unsigned long long)t->packets, (unsigned long long)t->sip_messages,
            (unsigned long long)cs->calls_created, (unsigned long long)cs->streams_created,
            (unsigned long long)t->rtp_packets, (unsigned long long)t->rtcp_packets,
            (unsigned long long)t->malformed, (unsigned long long)t->undecoded);
}

/* What `analyze` was asked to do. */
typedef struct {
    engine_cfg_t cfg;
    hep_cli_t hep;
    bool json, quiet, force;
} analyze_opts_t;

/* Parse analyze's options into o (files start at optind). Returns -1 to go on, or the exit
 * status to return at once (--help, usage errors). */
static int parse_analyze_options(int argc, char **argv, analyze_opts_t *o)
{
    enum { OPT_DB = 256, OPT_JSON, OPT_FORCE }; /* below LIVECAP_OPT_DB */
    static const struct option options[] = {
        {"db", required_argument, NULL, OPT_DB},
        {"json", no_argument, NULL, OPT_JSON},
        {"force", no_argument, NULL, OPT_FORCE},
        {"tls-keylog", required_argument, NULL, LIVECAP_OPT_TLS_KEYLOG},
        {"pcap-dir", required_argument, NULL, LIVECAP_OPT_PCAP_DIR},
        {"no-rtp-pcap", no_argument, NULL, LIVECAP_OPT_NO_RTP_PCAP},
        {"rtp-pcap", required_argument, NULL, LIVECAP_OPT_RTP_PCAP},
        {"pcap-compress", required_argument, NULL, LIVECAP_OPT_PCAP_COMPRESS},
        HEP_CLI_LONG_OPTIONS,
        {"max-calls", required_argument, NULL, LIVECAP_OPT_MAX_CALLS},
        {"max-streams", required_argument, NULL, LIVECAP_OPT_MAX_STREAMS},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    optind = 1;
    while ((opt = cli_getopt(argc, argv, "qvh", options, "analyze")) != -1) {
        int h = hep_cli_option(&o->hep, opt, optarg, "analyze");
        if (h < 0)
            return EXIT_USAGE;
        if (h > 0)
            continue;
        int r = livecap_engine_option("analyze", opt, optarg, &o->cfg);
        if (r == EXIT_USAGE)
            return EXIT_USAGE;
        if (r == 1)
            continue;
        switch (opt) {
            case OPT_DB:
                /* ":memory:" stores nothing, so there is no store at all: an in-memory SQLite
                 * database would hold every message until exit (369 MB for 300k REGISTERs). */
                o->cfg.db_path = strcmp(optarg, ":memory:") == 0 ? NULL : optarg;
                break;
            case OPT_JSON:
                o->json = true;
                break;
            case OPT_FORCE:
                o->force = true;
                break;
            case 'q':
                o->quiet = true;
                break;
            case 'v':
                log_set_level(LOG_DEBUG);
                break;
            case 'h':
                fputs(analyze_usage, stdout);
                return EXIT_SUCCESS;
            default: /* reported by cli_getopt */
                return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        cli_usage_error("analyze", "no capture file given");
        return EXIT_USAGE;
    }
    return -1;
}

static void print_timing(const engine_t *p)
{
    engine_timing_t t;
    engine_timing(p, &t);
    fprintf(stderr,
            "sipscope: %.3f s reading and analysing, then %.3f s storing the rest; CPU: "
            "analysis %.3f s, read-ahead %.3f s, store %.3f s\n",
            (double)t.wall_input_ns / 1e9, (double)t.wall_store_tail_ns / 1e9,
            (double)t.cpu_analysis_ns / 1e9, (double)t.cpu_readahead_ns / 1e9,
            (double)t.cpu_writer_ns / 1e9);
}

/* Read every file through p (what was read before a damaged file's damage is kept), finish,
 * print the summary and the report. Returns the exit status. */
static int analyze_files(engine_t *p, const analyze_opts_t *o, report_t *report, int argc,
                         char **argv)
{
    char err[512] = "";
    int status = EXIT_SUCCESS;
    /* Captures the database already holds are skipped with a notice (store/captures.c). */
    store_capture_run_t *seen = NULL;
    if (store_capture_run_new(o->cfg.db_path, o->force, &seen, err, sizeof(err)) != 0)
        log_warn("analyze: %s: reading every file, stored or not", err);
    engine_totals_t totals;
    for (int i = optind; i < argc && !stop_requested(); i++) {
        if (!store_capture_run_want(seen, argv[i]))
            continue;
        engine_totals(p, &totals);
        uint64_t before = totals.packets;
        int rc = engine_read_file(p, argv[i], err, sizeof(err));
        engine_totals(p, &totals);
        uint64_t packets = totals.packets - before;
        if (rc == -EINTR) {
            /* SIGINT/SIGTERM: not an error; a file not read to its end is not recorded. */
            stop_announce(o->quiet);
            if (!o->quiet)
                log_warn("%s; not recorded as analysed", err);
            packets = 0;
        } else if (rc != 0) {
            log_error("%s", err); /* the reason names the file */
            status = EXIT_RUNTIME;
        }
        store_capture_run_read(seen, rc, packets, totals.first_ns, totals.last_ns);
    }
    stop_announce(o->quiet); /* a stop between two files */
    if (engine_finish(p, err, sizeof(err)) != 0) {
        log_error("analyze: %s", err);
        status = EXIT_RUNTIME;
    } else if (store_capture_run_commit(seen, err, sizeof(err)) != 0) {
        log_error("analyze: %s", err);
        status = EXIT_RUNTIME;
    }
    store_capture_run_free(seen);
    engine_totals(p, &totals);
    if (!o->quiet && (isatty(STDERR_FILENO) || !o->json))
        print_summary(&totals, p);
    if (log_get_level() >= LOG_DEBUG)
        print_timing(p);
    if (report != NULL && report_write(report, &totals, stdout) != 0) {
        log_error("analyze: writing the report failed: %s", strerror(errno));
        status = EXIT_RUNTIME;
    }
    return status;
}

int cmd_analyze(int argc, char **argv)
{
    analyze_opts_t o = {0};
    engine_cfg_init(&o.cfg);
    o.cfg.db_path = "sipscope.db";
    int done = parse_analyze_options(argc, argv, &o);
    if (done >= 0)
        return done;
    /* What can be checked now fails before anything is read or created. */
    if ((o.cfg.pcap_dir != NULL && cli_check_pcap_dir(o.cfg.pcap_dir) != 0) ||
        (o.cfg.db_path != NULL && cli_check_db(o.cfg.db_path) != 0))
        return EXIT_RUNTIME;
    report_t *report = NULL;
    if (o.json && (report = report_new()) == NULL) {
        log_error("analyze: cannot create a temporary file: %s", strerror(errno));
        return EXIT_RUNTIME;
    }
    char err[512] = "";
    engine_t *p = NULL;
    /* SIGINT/SIGTERM stop the reading; what was read, open calls included, is stored. */
    stop_install();
    o.cfg.cap.stop = stop_flag();
    /* A file replays far faster than a link: wait for room in the HEP queue, drop nothing. */
    if (hep_cli_start(&o.hep, &o.cfg, 5000) != 0) {
        report_free(report);
        return EXIT_RUNTIME;
    }
    if (engine_new(&o.cfg, &p, err, sizeof(err)) != 0) {
        log_error("analyze: %s", err);
        report_free(report);
        hep_cli_finish(&o.hep, o.quiet);
        return EXIT_RUNTIME;
    }
    if (report != NULL) {
        engine_output_t out = {.name = "report",
                               .ctx = report,
                               .on_call = observe_call,
                               .on_stream = observe_stream,
                               .on_alert = observe_alert,
                               .on_dtmf = observe_dtmf,
                               .on_tls = observe_tls};
        engine_add_output(p, &out);
    }
    int status = analyze_files(p, &o, report, argc, argv);
    report_free(report);
    engine_free(p);
    hep_cli_finish(&o.hep, o.quiet);
    return status;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_text, stdout);
        return EXIT_SUCCESS;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("sipscope %s\n", SIPSCOPE_VERSION);
        return EXIT_SUCCESS;
    }
    if (strcmp(cmd, "analyze") == 0)
        return cmd_analyze(argc - 1, argv + 1);
    if (strcmp(cmd, "capture") == 0)
        return cmd_capture(argc - 1, argv + 1);
    if (strcmp(cmd, "alerts") == 0)
        return cmd_alerts(argc - 1, argv + 1);
    if (strcmp(cmd, "export") == 0)
        return cmd_export(argc - 1, argv + 1);
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 1, argv + 1);
    fprintf(stderr, "sipscope: unknown command '%s'\nTry 'sipscope --help'.\n", cmd);
    return EXIT_USAGE;
}
