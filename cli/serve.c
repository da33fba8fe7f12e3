/* serve: `sipscope serve` (HTTP API and web UI over a database) and `sipscope run -r FILE`. */
#include "commands.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "api.h"
#include "cli.h"
#include "log.h"
#include "engine.h"
#include "hep_cli.h"
#include "defs.h"
#include "hep_in.h"
#include "hep_out.h"
#include "livecap.h"
#include "retention.h"
#include "stop.h"
#include "store.h"
#include <time.h>
#include <unistd.h>

/* The options serve and run share, in their help texts. */
#define SERVE_HELP                                                                                 \
    "  --db PATH              SQLite database (default ./sipscope.db)\n"                           \
    "  --listen ADDR:PORT     address to listen on (default " API_DEFAULT_LISTEN                   \
    "; IPv6 as [::1]:8080)\n"                                                                      \
    "  --token TOKEN          require 'Authorization: Bearer TOKEN' on every route but\n"          \
    "                         /healthz; " CLI_TOKEN_RULE "\n"                                      \
    "                         (default: the SIPSCOPE_TOKEN environment variable, if set)\n"        \
    "  --threads N            HTTP worker threads, 1 to 64 (default 4)\n"                          \
    "  --allow-host NAME      also answer to Host: NAME (repeatable; else only the listening\n"    \
    "                         address, and localhost on loopback: DNS rebinding)\n"

static const char serve_usage[] =
    "usage: sipscope serve [--db PATH] [--listen ADDR:PORT] [--token TOKEN] [--threads N]\n"
    "\n"
    "The HTTP API (/api/v1/...), /metrics, /healthz and the web UI over a database that\n"
    "`sipscope analyze` (or a capture) fills. Stop with Ctrl-C (SIGINT) or SIGTERM.\n"
    "\n" SERVE_HELP "  -q, --quiet            only errors on stderr\n"
    "  -v, --verbose          log every request on stderr\n"
    "  -h, --help             this text\n";

static const char run_usage[] =
    "usage: sipscope run (-r FILE... | -i IFACE [-f BPF] | --hep-in ADDR:PORT) [--db PATH]\n"
    "                    [--listen ADDR:PORT] [--token TOKEN] [--threads N] [options]\n"
    "\n"
    "run -r: analyze the files into the database, then serve it (as sipscope serve). run -i:\n"
    "capture live and serve at once. run --hep-in: receive HEPv3 (UDP and TCP) from probes and\n"
    "serve. Stop with Ctrl-C (SIGINT) or SIGTERM: the calls still open are stored as they\n"
    "stand, a summary is printed and the exit status is 0 (a second signal while stopping\n"
    "quits at once). During run -r's analysis the signal ends the command without serving.\n"
    "\n"
    "  -r FILE                a pcap or pcapng file to analyze ('-' = stdin; -r again for more)\n"
    "  --force                also read captures the database already holds (else skipped)\n"
    "  --hep-in ADDR:PORT     receive HEPv3 on ADDR:PORT, UDP and TCP\n"
    "  --hep-in-key KEY       accept only HEP packets carrying this key\n"
    "  --hep-merge-wait MS    hold a probe's message up to MS ms for the other probes' earlier\n"
    "                         ones, to merge them by capture time (default 1000; 0: no "
    "merging)\n" SERVE_HELP LIVECAP_HELP HEP_CLI_HELP
    "  -q, --quiet            only errors on stderr\n"
    "  -v, --verbose          log every request on stderr\n"
    "  -h, --help             this text\n";

typedef struct {
    const char *db;
    const char *listen;
    const char *token;
    unsigned threads;
    bool quiet;
    bool token_given;                                   /* by --token, not SIPSCOPE_TOKEN */
    const char *allow_hosts[API_MAX_ALLOWED_HOSTS + 1]; /* --allow-host, NULL-terminated */
    int nallow_hosts;
} serve_opts_t;

static void usage_error(const char *cmd, const char *what, const char *arg)
{
    fprintf(stderr, "sipscope: %s: %s%s%s\nTry 'sipscope %s --help'.\n", cmd, what, arg ? ": " : "",
            arg ? arg : "", cmd);
}

/* Make sure the database exists and has the API's indexes (a no-op after the first time). A
 * database we may not write is still served, only sorting and counting are slower. */
static int prepare_db(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        log_error("serve: %s: %s (fill it first: sipscope analyze --db %s FILE)", path,
                  strerror(errno), path);
        return EXIT_RUNTIME;
    }
    store_t *s = NULL;
    int err = store_open(path, &s);
    if (err == 0)
        err = store_add_query_indexes(s);
    if (err != 0)
        log_warn("serve: %s: %s (serving it read-only as it is)", path, cli_store_why(path, s));
    store_close(s);
    return 0;
}

/* The API server with the options of serve and run. 0, or nonzero with a reason in err. */
static int start_api(const serve_opts_t *o, api_server_t **srv, char *err, size_t errlen)
{
    api_cfg_t cfg = {.db_path = o->db,
                     .listen = o->listen,
                     .token = o->token,
                     .allowed_hosts = o->allow_hosts,
                     .threads = o->threads};
    return api_server_start(&cfg, srv, err, errlen);
}

/* Serve until SIGINT or SIGTERM. */
/* The URL to open, on stderr: the listen address (a wildcard one as loopback) and the real
 * port (which port 0 left to the system), with the token when there is one (RFC 6750
 * access_token; the server then sets a cookie). */
static void print_url(const serve_opts_t *o, api_server_t *srv)
{
    if (o->quiet)
        return;
    const char *listen = o->listen ? o->listen : API_DEFAULT_LISTEN;
    const char *colon = strrchr(listen, ':');
    int hostlen = colon ? (int)(colon - listen) : 0;
    const char *host = listen;
    if ((hostlen == 7 && strncmp(listen, "0.0.0.0", 7) == 0)) {
        host = "127.0.0.1";
        hostlen = 9;
    } else if (hostlen == 4 && strncmp(listen, "[::]", 4) == 0) {
        host = "[::1]";
        hostlen = 5;
    }
    bool tok = o->token != NULL && o->token[0] != '\0';
    fprintf(stderr, "sipscope: serving %s at http://%.*s:%u/%s%s  (Ctrl-C stops)\n", o->db, hostlen,
            host, (unsigned)api_server_port(srv), tok ? "?access_token=" : "", tok ? o->token : "");
}

static int serve_db(const serve_opts_t *o)
{
    int status = prepare_db(o->db);
    if (status != 0)
        return status;
    /* Block the stop signals before the server's threads start, so that they inherit the mask
     * and the signal reaches sigwait below rather than some worker. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (stop_requested())
        return EXIT_SUCCESS; /* run -r: asked to stop as the analysis ended, before serving */

    api_server_t *srv = NULL;
    char err[512];
    if (start_api(o, &srv, err, sizeof(err)) != 0) {
        log_error("serve: %s", err);
        return err[0] && strstr(err, "listen address") ? EXIT_USAGE : EXIT_RUNTIME;
    }
    print_url(o, srv);
    int sig = 0;
    sigwait(&stop, &sig);
    if (!o->quiet)
        fprintf(stderr, "sipscope: %s, stopping\n", sig == SIGINT ? "interrupted" : "terminated");
    api_server_stop(srv);
    return EXIT_SUCCESS;
}

enum { OPT_DB = 256, OPT_LISTEN, OPT_TOKEN, OPT_THREADS, OPT_ALLOW_HOST };

/* Parse the options serve and run share; 0 handled, -1 not ours, EXIT_USAGE bad value. */
static int serve_option(const char *cmd, int opt, serve_opts_t *o)
{
    switch (opt) {
        case OPT_DB:
            o->db = optarg;
            return 0;
        case OPT_LISTEN: {
            struct sockaddr_storage ss;
            unsigned len;
            if (!api_parse_listen(optarg, (struct sockaddr *)&ss, &len)) {
                usage_error(cmd, "--listen: want ADDR:PORT or [IPv6]:PORT", optarg);
                return EXIT_USAGE;
            }
            o->listen = optarg;
            return 0;
        }
        case OPT_TOKEN:
            o->token = optarg;
            o->token_given = true;
            return 0;
        case OPT_THREADS: {
            char *end = NULL;
            errno = 0;
            unsigned long n = strtoul(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end != '\0' || n == 0 || n > 64) {
                usage_error(cmd, "--threads: want 1 to 64", optarg);
                return EXIT_USAGE;
            }
            o->threads = (unsigned)n;
            return 0;
        }
        case OPT_ALLOW_HOST:
            if (!api_allowed_host_ok(optarg)) {
                usage_error(cmd, "--allow-host: want a host name or address, without a port",
                            optarg);
                return EXIT_USAGE;
            }
            if (o->nallow_hosts == API_MAX_ALLOWED_HOSTS) {
                usage_error(cmd, "--allow-host: at most 16 names", NULL);
                return EXIT_USAGE;
            }
            o->allow_hosts[o->nallow_hosts++] = optarg;
            return 0;
        case 'q':
            o->quiet = true;
            log_set_level(LOG_ERROR);
            return 0;
        case 'v':
            log_set_level(LOG_DEBUG);
            return 0;
        default:
            return -1;
    }
}

/* A token the server would refuse is a usage error (not echoed: it is meant to be secret). */
static bool check_token(const char *cmd, const serve_opts_t *o)
{
    if (o->token == NULL || o->token[0] == '\0' || api_token_ok(o->token))
        return true;
    usage_error(cmd,
                o->token_given ? "--token: want " CLI_TOKEN_RULE
                               : "SIPSCOPE_TOKEN: want " CLI_TOKEN_RULE,
                NULL);
    return false;
}

static bool check_db(const char *cmd, const serve_opts_t *o)
{
    if (strcmp(o->db, ":memory:") == 0) {
        usage_error(cmd, "--db :memory: stores nothing, so there would be nothing to serve", NULL);
        return false;
    }
    return true;
}

static const struct option serve_long[] = {
    {"db", required_argument, NULL, OPT_DB},
    {"allow-host", required_argument, NULL, OPT_ALLOW_HOST},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"token", required_argument, NULL, OPT_TOKEN},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int cmd_serve(int argc, char **argv)
{
    serve_opts_t o = {.db = "sipscope.db", .token = getenv("SIPSCOPE_TOKEN")};
    int opt;
    optind = 1;
    while ((opt = cli_getopt(argc, argv, "qvh", serve_long, "serve")) != -1) {
        if (opt == 'h') {
            fputs(serve_usage, stdout);
            return EXIT_SUCCESS;
        }
        if (serve_option("serve", opt, &o) != 0)
            return EXIT_USAGE; /* a bad value, or cli_getopt's '?' (reported) */
    }
    if (optind < argc) {
        usage_error("serve", "unexpected argument", argv[optind]);
        return EXIT_USAGE;
    }
    if (!check_db("serve", &o) || !check_token("serve", &o))
        return EXIT_USAGE;
    return serve_db(&o);
}

/* Analyze the files into the database, as `analyze --db` does, with the per-call pcaps that
 * opts asks for. */
static int analyze_files(const char *db, const engine_cfg_t *opts, char **files, int nfiles,
                         bool force, bool quiet, bool *unserved)
{
    engine_cfg_t cfg;
    engine_cfg_init(&cfg);
    cfg.db_path = db;
    cfg.pcap_dir = opts->pcap_dir;
    cfg.pcap_rtp = opts->pcap_rtp;
    cfg.pcap_compress = opts->pcap_compress;
    cfg.cap.stop = stop_flag(); /* SIGINT/SIGTERM: stop reading, store what is open */
    char err[512] = "";
    engine_t *p = NULL;
    if (engine_new(&cfg, &p, err, sizeof(err)) != 0) {
        log_error("run: %s", err);
        *unserved = true;
        return EXIT_RUNTIME;
    }
    int status = EXIT_SUCCESS;
    /* Captures the database already holds are skipped with a notice (store/captures.c). */
    store_capture_run_t *seen = NULL;
    if (store_capture_run_new(db, force, &seen, err, sizeof(err)) != 0)
        log_warn("run: %s: reading every file, stored or not", err);
    engine_totals_t t;
    int nread = 0;
    for (int i = 0; i < nfiles && !stop_requested(); i++) {
        if (!store_capture_run_want(seen, files[i]))
            continue;
        nread++;
        engine_totals(p, &t);
        uint64_t before = t.packets;
        int rc = engine_read_file(p, files[i], err, sizeof(err));
        engine_totals(p, &t);
        /* A file a stop cut short is not recorded as analysed. */
        store_capture_run_read(seen, rc, rc == -EINTR ? 0 : t.packets - before, t.first_ns,
                               t.last_ns);
        if (rc == -EINTR) {
            stop_announce(quiet);
            if (!quiet)
                log_warn("%s; not recorded as analysed", err);
        } else if (rc != 0) {
            /* What was read before the damage (-EIO: truncated) is kept and served; an input
             * that is no capture at all (standard input: files were checked before) is not. */
            log_error("%s", err); /* the reason names the file */
            status = EXIT_RUNTIME;
            *unserved |= rc != -EIO;
        }
    }
    if (engine_finish(p, err, sizeof(err)) != 0) {
        log_error("run: %s", err);
        status = EXIT_RUNTIME;
    } else if (store_capture_run_commit(seen, err, sizeof(err)) != 0) {
        log_error("run: %s", err);
        status = EXIT_RUNTIME;
    }
    store_capture_run_free(seen);
    stop_announce(quiet); /* a stop between two files */
    engine_totals(p, &t);
    if (!quiet && !stop_requested())
        fprintf(stderr, "sipscope: analysed %d file%s: %llu packets, %llu SIP messages into %s\n",
                nread, nread == 1 ? "" : "s", (unsigned long long)t.packets,
                (unsigned long long)t.sip_messages, db);
    else if (!quiet)
        fprintf(
            stderr,
            "sipscope: stopped by %s, not serving (sipscope serve --db %s serves what was "
            "stored): %llu packets, %llu SIP messages, %llu calls (%llu stored as they stood at "
            "the stop), %llu RTP streams\n",
            stop_signal_name(), db, (unsigned long long)t.packets,
            (unsigned long long)t.sip_messages,
            (unsigned long long)engine_corr_stats(p)->calls_created,
            (unsigned long long)engine_corr_stats(p)->calls_flushed,
            (unsigned long long)engine_corr_stats(p)->streams_created);
    engine_free(p);
    return status;
}

/* run --hep-in: the HEP source's thread is the only one feeding the engine. */
typedef struct {
    engine_t *engine;
    _Atomic(hep_in_t *) source; /* set once the source runs; its idle calls may come first */
    int64_t next_publish_ns;
} hep_run_t;

static void on_hep_packet(void *ctx, const packet_view_t *pkt)
{
    hep_run_t *run = ctx;
    engine_process_packet(run->engine, pkt);
}

static void publish_hep_stats(engine_t *e, hep_in_t *source)
{
    hep_in_stats_t h;
    hep_in_stats(source, &h);
    engine_publish(e, "hep.packets", (int64_t)h.rx.packets);
    engine_publish(e, "hep.duplicates", (int64_t)h.duplicates);
    engine_publish(e, "hep.qos_reports", (int64_t)h.qos);
    engine_publish(e, "hep.unsupported", (int64_t)h.unsupported);
    /* What the intake refused or lost, so that a probe's "sent" can be checked against it. */
    const hep_receiver_stats_t *rx = &h.rx;
    engine_publish(e, "hep.malformed", (int64_t)rx->malformed);
    engine_publish(e, "hep.unauthorised", (int64_t)rx->unauthorised);
    engine_publish(e, "hep.udp_datagrams", (int64_t)rx->udp_datagrams);
    engine_publish(e, "hep.udp_dropped", (int64_t)rx->udp_dropped);
    engine_publish(e, "hep.tcp_accepted", (int64_t)rx->tcp_accepted);
    engine_publish(e, "hep.tcp_open", (int64_t)rx->tcp_open);
    engine_publish(e, "hep.tcp_refused", (int64_t)rx->tcp_refused);
    engine_publish(e, "hep.tcp_evicted", (int64_t)rx->tcp_evicted);
    engine_publish(e, "hep.tcp_idle_closed", (int64_t)rx->tcp_idle_closed);
    engine_publish(e, "hep.tcp_closed", (int64_t)rx->tcp_closed);
    engine_publish(e, "hep.tcp_bad_framing", (int64_t)rx->tcp_bad_framing);
    const hep_merge_stats_t *m = &h.merge;
    engine_publish(e, "hep.probes_active", (int64_t)m->probes);
    engine_publish(e, "hep.merge_held", (int64_t)m->held);
    engine_publish(e, "hep.merge_held_peak", (int64_t)m->held_peak);
    engine_publish(e, "hep.merge_held_total", (int64_t)m->held_total);
    engine_publish(e, "hep.merge_waited", (int64_t)m->waited);
    engine_publish(e, "hep.merge_overflow", (int64_t)m->overflow);
    engine_publish(e, "hep.merge_late", (int64_t)m->late);
    engine_publish(e, "hep.merge_hold_max_us", (int64_t)(m->hold_ns_max / 1000));
    engine_publish(e, "hep.merge_lag_max_ms", (int64_t)(m->lag_ns_max / 1000000));
    engine_publish_stats(e);
}

static void on_hep_idle(void *ctx, int64_t now_ns)
{
    hep_run_t *run = ctx;
    hep_in_t *source = atomic_load(&run->source);
    hep_in_stats_t h = {0};
    if (source != NULL)
        hep_in_stats(source, &h);
    /* The wall clock moves the calls' clock on only when the merge holds nothing: what it
     * holds is capture time still to come. */
    if (h.merge.held == 0)
        engine_idle(run->engine, now_ns);
    if (source != NULL && now_ns >= run->next_publish_ns) {
        publish_hep_stats(run->engine, source);
        run->next_publish_ns = now_ns + NS_PER_S;
    }
}

/* Receive HEP into p until a stop is requested; *last: the receiver's counters at the end.
 * Returns an exit status. */
static int run_hep_in(const serve_opts_t *o, engine_t *p, const char *spec, const char *key,
                      uint32_t merge_wait_ms, hep_in_stats_t *last)
{
    char err[512] = "";
    hep_run_t run = {.engine = p};
    hep_receiver_cfg_t hc;
    hep_receiver_cfg_init(&hc);
    hc.auth_key = key;
    hc.on_idle = on_hep_idle;
    hc.merge.wait_ms = merge_wait_ms;
    hep_in_t *source = hep_in_new(spec, on_hep_packet, &run, &hc, err, sizeof(err));
    if (source == NULL) {
        livecap_fatal("run: --hep-in: %s", err);
        return EXIT_RUNTIME;
    }
    atomic_store(&run.source, source);
    if (!o->quiet)
        fprintf(stderr, "sipscope: receiving HEP on %s (UDP and TCP port %u)\n", spec,
                (unsigned)hep_in_port(source));
    /* A bounded wait, not pause(): the signal may run its handler on another thread. */
    while (!stop_requested()) {
        struct timespec tick = {0, 100000000};
        nanosleep(&tick, NULL);
    }
    stop_announce(o->quiet);
    hep_in_stop(source);          /* joins: no callback runs after this */
    publish_hep_stats(p, source); /* the last word, whatever the last second held */
    hep_in_stats(source, last);
    hep_in_free(source);
    return EXIT_SUCCESS;
}

/* Start the API in threads that never take SIGINT/SIGTERM (the caller's thread handles them). */
static api_server_t *start_api_quietly(const serve_opts_t *o)
{
    if (prepare_db(o->db) != 0)
        return NULL;
    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop, &old);
    api_server_t *srv = NULL;
    char err[512];
    if (start_api(o, &srv, err, sizeof(err)) != 0) {
        log_error("run: %s", err);
        srv = NULL;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (srv != NULL)
        print_url(o, srv);
    return srv;
}

enum { OPT_RUN_HEP_IN = 500, OPT_RUN_HEP_IN_KEY, OPT_RUN_FORCE, OPT_RUN_HEP_MERGE_WAIT };

static const struct option run_long[] = {
    {"db", required_argument, NULL, OPT_DB},
    {"allow-host", required_argument, NULL, OPT_ALLOW_HOST},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"token", required_argument, NULL, OPT_TOKEN},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"hep-in", required_argument, NULL, OPT_RUN_HEP_IN},
    {"hep-in-key", required_argument, NULL, OPT_RUN_HEP_IN_KEY},
    {"hep-merge-wait", required_argument, NULL, OPT_RUN_HEP_MERGE_WAIT},
    {"force", no_argument, NULL, OPT_RUN_FORCE},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    LIVECAP_LONG_OPTIONS,
    HEP_CLI_LONG_OPTIONS,
    {NULL, 0, NULL, 0},
};

/* What run was asked to do. */
typedef struct {
    serve_opts_t serve;
    engine_cfg_t cfg;
    cap_live_cfg_t live;
    livecap_retention_t keep;
    hep_cli_t hep_out;
    const char *log_path, *hep_in, *hep_in_key;
    char **files; /* the -r FILEs: nfiles of them */
    int nfiles;
    uint32_t hep_merge_wait_ms; /* --hep-merge-wait */
    bool force;                 /* --force: read captures the database already holds again */
    int listen_fd;              /* the API's port, held from the start (cli_reserve_listen) */
} run_opts_t;

/* Parse run's options into r. Returns -1 to go on, or the exit status to return at once
 * (--help, usage errors). */
static int parse_run_options(int argc, char **argv, run_opts_t *r)
{
    int opt;
    optind = 1;
    while ((opt = cli_getopt(argc, argv, "r:i:f:qvh", run_long, "run")) != -1) {
        if (opt == 'h') {
            fputs(run_usage, stdout);
            return EXIT_SUCCESS;
        }
        if (opt == 'r') {
            r->files[r->nfiles++] = optarg;
            continue;
        }
        if (opt == OPT_RUN_FORCE) {
            r->force = true;
            continue;
        }
        if (opt == OPT_RUN_HEP_MERGE_WAIT) {
            size_t ms = 0;
            if (strcmp(optarg, "0") != 0 && (!cli_parse_count(optarg, &ms) || ms > 60000)) {
                usage_error("run", "--hep-merge-wait: want milliseconds, 0 to 60000", optarg);
                return EXIT_USAGE;
            }
            r->hep_merge_wait_ms = (uint32_t)ms;
            continue;
        }
        if (opt == OPT_RUN_HEP_IN && !cli_hostport_ok(optarg)) {
            usage_error("run", "--hep-in: want ADDR:PORT or [IPv6]:PORT", optarg);
            return EXIT_USAGE;
        }
        if (opt == OPT_RUN_HEP_IN || opt == OPT_RUN_HEP_IN_KEY) {
            *(opt == OPT_RUN_HEP_IN ? &r->hep_in : &r->hep_in_key) = optarg;
            continue;
        }
        int h = hep_cli_option(&r->hep_out, opt, optarg, "run");
        if (h < 0)
            return EXIT_USAGE;
        if (h > 0)
            continue;
        int l = livecap_option("run", opt, optarg, &r->cfg, &r->live, &r->log_path, &r->keep);
        if (l == EXIT_USAGE)
            return EXIT_USAGE;
        if (l == 1)
            continue;
        if (serve_option("run", opt, &r->serve) != 0)
            return EXIT_USAGE; /* a bad value, or cli_getopt's '?' (reported) */
    }
    if (optind < argc) {
        usage_error("run", "unexpected argument (capture files go after -r)", argv[optind]);
        return EXIT_USAGE;
    }
    int sources = (r->nfiles > 0) + (r->live.iface != NULL) + (r->hep_in != NULL);
    if (sources != 1) {
        usage_error("run",
                    sources == 0 ? "nothing to read: give -r FILE, -i IFACE or --hep-in"
                                 : "give one of -r FILE, -i IFACE, --hep-in",
                    NULL);
        return EXIT_USAGE;
    }
    if (!check_db("run", &r->serve) || !check_token("run", &r->serve))
        return EXIT_USAGE;
    return -1;
}

/* What run can check before it reads or creates anything: the capture files, the paths it
 * writes, and the API's port (then held until the API binds it). 0, or -1 (reported). */
static int run_preflight(run_opts_t *r)
{
    for (int i = 0; i < r->nfiles; i++) {
        if (cli_check_capture_file(r->files[i]) != 0)
            return -1;
    }
    if ((r->cfg.pcap_dir != NULL && cli_check_pcap_dir(r->cfg.pcap_dir) != 0) ||
        cli_check_db(r->serve.db) != 0 || cli_check_log(r->log_path) != 0)
        return -1;
    return cli_reserve_listen("run", r->serve.listen ? r->serve.listen : API_DEFAULT_LISTEN,
                              &r->listen_fd);
}

/* run -r: analyze the files into the database, then serve it. */
static int run_files(run_opts_t *r)
{
    bool unserved = false;
    /* SIGINT/SIGTERM during the analysis stop it, store the calls still open and end the
     * command (status 0) without serving; once serving, they stop the server. */
    stop_install();
    int status = analyze_files(r->serve.db, &r->cfg, r->files, r->nfiles, r->force, r->serve.quiet,
                               &unserved);
    cli_release_listen(&r->listen_fd);
    if (unserved)
        return EXIT_RUNTIME;
    if (stop_requested())
        return status;
    /* A damaged capture still serves what was read from it. */
    int st = serve_db(&r->serve);
    return st != EXIT_SUCCESS ? st : status;
}

/* The one-line summary of run -i (lc) or run --hep-in (hep). */
static void run_live_summary(const livecap_t *lc, const engine_t *p, const hep_in_stats_t *hep)
{
    if (lc != NULL) {
        livecap_summary(lc, p);
        return;
    }
    char what[256];
    snprintf(what, sizeof(what), "HEP stopped: %llu HEP packets, %llu duplicates, %llu unsupported",
             (unsigned long long)hep->rx.packets, (unsigned long long)hep->duplicates,
             (unsigned long long)hep->unsupported);
    stop_print_totals(what, p);
}

/* run -i IFACE or run --hep-in ADDR:PORT: capture or receive into the database and serve it
 * from the same process until SIGINT/SIGTERM; then store the open calls as they stand. The
 * interface opens before the database is created, and the log once everything has started. */
static int run_live(run_opts_t *r)
{
    char err[512] = "";
    r->cfg.db_path = r->serve.db;
    hep_in_stats_t hep = {0};
    livecap_t *lc = NULL;
    engine_t *p = NULL;
    int status = EXIT_RUNTIME;
    if (hep_cli_start(&r->hep_out, &r->cfg, 0) != 0)
        return EXIT_RUNTIME;
    if (r->live.iface != NULL && livecap_open("run", &r->live, &lc) != 0)
        goto out;
    if (engine_new(&r->cfg, &p, err, sizeof(err)) != 0) {
        log_error("run: %s", err);
        goto out;
    }
    livecap_install_signals();
    cli_release_listen(&r->listen_fd);
    api_server_t *srv = start_api_quietly(&r->serve);
    if (srv != NULL && livecap_log_start(r->log_path) == 0) {
        retention_cfg_t rc = {r->serve.db,          r->cfg.pcap_dir,        r->keep.retain_days,
                              r->keep.max_db_bytes, r->keep.max_pcap_bytes, r->keep.interval_s};
        retention_t *retention = retention_start(&rc);
        status = lc != NULL ? livecap_run(lc, p, r->serve.quiet)
                            : run_hep_in(&r->serve, p, r->hep_in, r->hep_in_key,
                                         r->hep_merge_wait_ms, &hep);
        retention_stop(retention);
    }
    api_server_stop(srv);
    bool ran = status == EXIT_SUCCESS;
    if (engine_finish(p, err, sizeof(err)) != 0) {
        livecap_fatal("run: %s", err);
        status = EXIT_RUNTIME;
    }
    if (ran && !r->serve.quiet)
        run_live_summary(lc, p, &hep);
out:
    livecap_close(lc);
    engine_free(p);
    hep_cli_finish(&r->hep_out, r->serve.quiet);
    return status;
}

int cmd_run(int argc, char **argv)
{
    run_opts_t r = {.serve = {.db = "sipscope.db", .token = getenv("SIPSCOPE_TOKEN")},
                    .hep_merge_wait_ms = HEP_MERGE_WAIT_MS_DEFAULT,
                    .listen_fd = -1};
    engine_cfg_init(&r.cfg);
    cap_live_cfg_init(&r.live);
    r.files = calloc((size_t)argc + 1, sizeof(*r.files));
    if (r.files == NULL) {
        log_error("run: out of memory");
        return EXIT_RUNTIME;
    }
    int status = parse_run_options(argc, argv, &r);
    if (status < 0)
        status = run_preflight(&r) != 0 ? EXIT_RUNTIME
                 : r.nfiles > 0         ? run_files(&r)
                                        : run_live(&r);
    cli_release_listen(&r.listen_fd);
    free(r.files);
    return status;
}
