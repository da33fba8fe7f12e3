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
#include "log.h"
#include "engine.h"
#include "hep_cli.h"
#include "defs.h"
#include "hep_in.h"
#include "hep_out.h"
#include "livecap.h"
#include "retention.h"
#include "store.h"
#include <unistd.h>

static const char serve_usage[] =
    "usage: sipscope serve [--db PATH] [--listen ADDR:PORT] [--token TOKEN]\n"
    "       sipscope run (-r FILE... | -i IFACE [-f BPF] | --hep-in ADDR:PORT) [--db PATH]\n"
    "                    [--pcap-dir DIR] [--listen ADDR:PORT] [--token TOKEN] [--hep-out ...]\n"
    "\n"
    "serve: the HTTP API (/api/v1/...), /metrics, /healthz and the web UI over a database that\n"
    "`sipscope analyze` (or a capture) fills. run -r: analyze the files into the database, then\n"
    "serve it. run -i: capture live and serve at once. run --hep-in: receive HEPv3 (UDP and TCP)\n"
    "from probes and serve. Stop with Ctrl-C (SIGINT) or SIGTERM.\n"
    "\n"
    "  --db PATH            SQLite database (default ./sipscope.db)\n"
    "  --listen ADDR:PORT   address to listen on (default " API_DEFAULT_LISTEN
    "; IPv6 as [::1]:8080)\n"
    "  --token TOKEN        require 'Authorization: Bearer TOKEN' on every route but /healthz\n"
    "                       (default: the SIPSCOPE_TOKEN environment variable, if set)\n"
    "  --threads N          HTTP worker threads (default 4)\n"
    "  --hep-in-key KEY     run --hep-in: accept only HEP packets carrying this key\n"
    "  run also takes capture's options (see sipscope capture --help):\n"
    LIVECAP_HELP
    HEP_CLI_HELP
    "  -q, --quiet          only errors on stderr\n"
    "  -v, --verbose        log every request on stderr\n";

typedef struct {
    const char *db;
    const char *listen;
    const char *token;
    unsigned threads;
    bool quiet;
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
        log_warn("serve: %s: %s (serving it read-only as it is)", path, store_errmsg(s));
    store_close(s);
    return 0;
}

/* Serve until SIGINT or SIGTERM. */
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

    api_cfg_t cfg = {
        .db_path = o->db, .listen = o->listen, .token = o->token, .threads = o->threads};
    api_server_t *srv = NULL;
    char err[512];
    if (api_server_start(&cfg, &srv, err, sizeof(err)) != 0) {
        log_error("serve: %s", err);
        return err[0] && strstr(err, "listen address") ? EXIT_USAGE : EXIT_RUNTIME;
    }
    /* The URL to open: the listen address (a wildcard one as loopback) and the real port, with
     * the token when there is one (RFC 6750 access_token; the server then sets a cookie). */
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
    if (!o->quiet)
        fprintf(stderr, "sipscope: serving %s at http://%.*s:%u/%s%s  (Ctrl-C stops)\n", o->db,
                hostlen, host, (unsigned)api_server_port(srv), tok ? "?access_token=" : "",
                tok ? o->token : "");
    int sig = 0;
    sigwait(&stop, &sig);
    if (!o->quiet)
        fprintf(stderr, "sipscope: %s, stopping\n", sig == SIGINT ? "interrupted" : "terminated");
    api_server_stop(srv);
    return EXIT_SUCCESS;
}

enum { OPT_DB = 256, OPT_LISTEN, OPT_TOKEN, OPT_THREADS };

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
    while ((opt = getopt_long(argc, argv, "qvh", serve_long, NULL)) != -1) {
        if (opt == 'h') {
            fputs(serve_usage, stdout);
            return EXIT_SUCCESS;
        }
        int rc = serve_option("serve", opt, &o);
        if (rc == EXIT_USAGE)
            return rc;
        if (rc < 0) {
            fputs("Try 'sipscope serve --help'.\n", stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        usage_error("serve", "unexpected argument", argv[optind]);
        return EXIT_USAGE;
    }
    if (!check_db("serve", &o))
        return EXIT_USAGE;
    return serve_db(&o);
}

/* Analyze the files into the database, as `analyze --db` does. */
static int analyze_files(const char *db, const char *pcap_dir, char **files, int nfiles,
                         bool quiet)
{
    engine_cfg_t cfg;
    engine_cfg_init(&cfg);
    cfg.db_path = db;
    cfg.pcap_dir = pcap_dir;
    char err[512] = "";
    engine_t *p = NULL;
    if (engine_new(&cfg, &p, err, sizeof(err)) != 0) {
        log_error("run: %s", err);
        return EXIT_RUNTIME;
    }
    int status = EXIT_SUCCESS;
    for (int i = 0; i < nfiles; i++) {
        if (engine_read_file(p, files[i], err, sizeof(err)) != 0) {
            /* What was read before the damage is kept and served. */
            log_error("%s", err); /* the reason names the file */
            status = EXIT_RUNTIME;
        }
    }
    if (engine_finish(p, err, sizeof(err)) != 0) {
        log_error("run: %s", err);
        status = EXIT_RUNTIME;
    }
    engine_totals_t t;
    engine_totals(p, &t);
    if (!quiet)
        fprintf(stderr, "sipscope: analysed %d file%s: %llu packets, %llu SIP messages into %s\n",
                nfiles, nfiles == 1 ? "" : "s", (unsigned long long)t.packets,
                (unsigned long long)t.sip_messages, db);
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
    engine_publish(e, "hep.unsupported", (int64_t)h.unsupported);
    engine_publish_stats(e);
}

static void on_hep_idle(void *ctx, int64_t now_ns)
{
    hep_run_t *run = ctx;
    engine_idle(run->engine, now_ns);
    hep_in_t *source = atomic_load(&run->source);
    if (source != NULL && now_ns >= run->next_publish_ns) {
        publish_hep_stats(run->engine, source);
        run->next_publish_ns = now_ns + NS_PER_S;
    }
}

/* Receive HEP into p until a stop is requested. Returns an exit status. */
static int run_hep_in(const serve_opts_t *o, engine_t *p, const char *spec, const char *key)
{
    char err[512] = "";
    hep_run_t run = {.engine = p};
    hep_receiver_cfg_t hc;
    hep_receiver_cfg_init(&hc);
    hc.auth_key = key;
    hc.on_idle = on_hep_idle;
    hep_in_t *source = hep_in_new(spec, on_hep_packet, &run, &hc, err, sizeof(err));
    if (source == NULL) {
        log_error("run: --hep-in: %s", err);
        return EXIT_RUNTIME;
    }
    atomic_store(&run.source, source);
    if (!o->quiet)
        fprintf(stderr, "sipscope: receiving HEP on %s (UDP and TCP port %u)\n", spec,
                (unsigned)hep_in_port(source));
    while (!livecap_stop_requested())
        pause();
    hep_in_stop(source); /* joins: no callback runs after this */
    publish_hep_stats(p, source); /* the last word, whatever the last second held */
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
    api_cfg_t cfg = {
        .db_path = o->db, .listen = o->listen, .token = o->token, .threads = o->threads};
    api_server_t *srv = NULL;
    char err[512];
    if (api_server_start(&cfg, &srv, err, sizeof(err)) != 0) {
        log_error("run: %s", err);
        srv = NULL;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (srv != NULL && !o->quiet)
        fprintf(stderr, "sipscope: serving %s at http://%s/ (Ctrl-C stops)\n", o->db,
                o->listen ? o->listen : API_DEFAULT_LISTEN);
    return srv;
}

/* run -i IFACE or run --hep-in ADDR:PORT: capture or receive into the database and serve it
 * from the same process until SIGINT/SIGTERM; then store the open calls as they stand. */
static int run_live(const serve_opts_t *o, engine_cfg_t *cfg, const cap_live_cfg_t *live,
                    const char *hep_in, const char *hep_key, const char *log_path,
                    hep_cli_t *hep_out)
{
    char err[512] = "";
    cfg->db_path = o->db;
    if (hep_cli_start(hep_out, cfg, 0) != 0)
        return EXIT_RUNTIME;
    engine_t *p = NULL;
    if (engine_new(cfg, &p, err, sizeof(err)) != 0) {
        log_error("run: %s", err);
        hep_cli_finish(hep_out, o->quiet);
        return EXIT_RUNTIME;
    }
    livecap_install_signals();
    int status = EXIT_SUCCESS;
    api_server_t *srv = start_api_quietly(o);
    if (srv == NULL) {
        status = EXIT_RUNTIME;
    } else if (live->iface != NULL) {
        status = livecap_run(p, live, log_path, o->quiet);
    } else {
        status = run_hep_in(o, p, hep_in, hep_key);
    }
    api_server_stop(srv);
    if (engine_finish(p, err, sizeof(err)) != 0) {
        log_error("run: %s", err);
        status = EXIT_RUNTIME;
    }
    engine_free(p);
    hep_cli_finish(hep_out, o->quiet);
    return status;
}

enum { OPT_RUN_HEP_IN = 500, OPT_RUN_HEP_IN_KEY };

int cmd_run(int argc, char **argv)
{
    static const struct option run_long[] = {
        {"db", required_argument, NULL, OPT_DB},
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"token", required_argument, NULL, OPT_TOKEN},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"hep-in", required_argument, NULL, OPT_RUN_HEP_IN},
        {"hep-in-key", required_argument, NULL, OPT_RUN_HEP_IN_KEY},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        LIVECAP_LONG_OPTIONS,
        HEP_CLI_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    serve_opts_t o = {.db = "sipscope.db", .token = getenv("SIPSCOPE_TOKEN")};
    engine_cfg_t cfg;
    engine_cfg_init(&cfg);
    cap_live_cfg_t live;
    cap_live_cfg_init(&live);
    livecap_retention_t keep = {0};
    hep_cli_t hep_out = {0};
    const char *log_path = NULL, *hep_in = NULL, *hep_in_key = NULL;
    char **files = calloc((size_t)argc + 1, sizeof(*files));
    int nfiles = 0, opt, status = EXIT_USAGE;
    if (files == NULL) {
        log_error("run: out of memory");
        return EXIT_RUNTIME;
    }
    optind = 1;
    while ((opt = getopt_long(argc, argv, "r:i:f:qvh", run_long, NULL)) != -1) {
        if (opt == 'h') {
            fputs(serve_usage, stdout);
            status = EXIT_SUCCESS;
            goto out;
        }
        if (opt == 'r') {
            files[nfiles++] = optarg;
            continue;
        }
        if (opt == OPT_RUN_HEP_IN || opt == OPT_RUN_HEP_IN_KEY) {
            *(opt == OPT_RUN_HEP_IN ? &hep_in : &hep_in_key) = optarg;
            continue;
        }
        int h = hep_cli_option(&hep_out, opt, optarg);
        if (h < 0)
            goto out;
        if (h > 0)
            continue;
        int r = livecap_option(opt, optarg, &cfg, &live, &log_path, &keep);
        if (r == EXIT_USAGE)
            goto out;
        if (r == 1)
            continue;
        int rc = serve_option("run", opt, &o);
        if (rc == EXIT_USAGE)
            goto out;
        if (rc < 0) {
            fputs("Try 'sipscope run --help'.\n", stderr);
            goto out;
        }
    }
    if (optind < argc) {
        usage_error("run", "unexpected argument (capture files go after -r)", argv[optind]);
        goto out;
    }
    int sources = (nfiles > 0) + (live.iface != NULL) + (hep_in != NULL);
    if (sources != 1) {
        usage_error("run", sources == 0 ? "nothing to read: give -r FILE, -i IFACE or --hep-in"
                                        : "give one of -r FILE, -i IFACE, --hep-in",
                    NULL);
        goto out;
    }
    if (!check_db("run", &o))
        goto out;
    if (nfiles == 0) {
        retention_cfg_t rc = {o.db, cfg.pcap_dir, keep.retain_days, keep.max_db_bytes,
                              keep.max_pcap_bytes, keep.interval_s};
        retention_t *retention = retention_start(&rc);
        status = run_live(&o, &cfg, &live, hep_in, hep_in_key, log_path, &hep_out);
        retention_stop(retention);
        goto out;
    }
    status = analyze_files(o.db, cfg.pcap_dir, files, nfiles, o.quiet);
    /* A damaged capture still serves what was read from it. */
    if (status == EXIT_SUCCESS || status == EXIT_RUNTIME) {
        int st = serve_db(&o);
        if (st != EXIT_SUCCESS)
            status = st;
    }
out:
    free(files);
    return status;
}
