/* capture_cmd: `sipscope capture -i IFACE`, live capture into the store until SIGINT/SIGTERM. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "clock.h"
#include "commands.h"
#include "config.h"
#include "hep_cli.h"
#include "live.h"
#include "livecap.h"
#include "log.h"
#include "engine.h"
#include "retention.h"

static const char capture_usage[] =
    "usage: sipscope capture -i IFACE [-f BPF] [--db PATH] [options]\n"
    "\n"
    "Capture live from IFACE into the database until SIGINT/SIGTERM: the calls still open are\n"
    "then stored as they stand, a summary is printed and the exit status is 0 (a second\n"
    "signal while stopping quits at once).\n"
    "\n"
    "  --db PATH              SQLite database (default ./sipscope.db; ':memory:' keeps "
    "nothing)\n" LIVECAP_HELP HEP_CLI_HELP
    "  --config FILE          read options from FILE (key = value per line; the command line\n"
    "                         overrides it)\n"
    "  -q, --quiet            fewer messages\n"
    "  -v, --verbose          more messages\n"
    "  -h, --help             this text\n";

static const struct option capture_options[] = {
    LIVECAP_LONG_OPTIONS,
    HEP_CLI_LONG_OPTIONS,
    {"db", required_argument, NULL, LIVECAP_OPT_DB},
    {"config", required_argument, NULL, LIVECAP_OPT_CONFIG},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* What capture was asked to do. */
typedef struct {
    engine_cfg_t cfg;
    cap_live_cfg_t live;
    hep_cli_t hep;
    livecap_retention_t keep;
    const char *log_path;
    bool quiet;
} capture_opts_t;

/* Parse capture's options (config file expanded) into o. Returns -1 to go on, or the exit
 * status to return at once (--help, usage errors). */
static int parse_capture_options(int argc, char **argv, capture_opts_t *o)
{
    int opt;
    optind = 1;
    while ((opt = cli_getopt(argc, argv, "i:f:qvh", capture_options, "capture")) != -1) {
        int h = hep_cli_option(&o->hep, opt, optarg, "capture");
        if (h < 0)
            return EXIT_USAGE;
        if (h > 0)
            continue;
        int r = livecap_option("capture", opt, optarg, &o->cfg, &o->live, &o->log_path, &o->keep);
        if (r == EXIT_USAGE)
            return EXIT_USAGE;
        if (r == 1)
            continue;
        switch (opt) {
            case LIVECAP_OPT_DB: /* ":memory:" stores nothing: no store at all */
                o->cfg.db_path = strcmp(optarg, ":memory:") == 0 ? NULL : optarg;
                break;
            case LIVECAP_OPT_CONFIG:
                break;
            case 'q':
                o->quiet = true;
                break;
            case 'v':
                log_set_level(LOG_DEBUG);
                break;
            case 'h':
                fputs(capture_usage, stdout);
                return EXIT_SUCCESS;
            default: /* reported by cli_getopt */
                return EXIT_USAGE;
        }
    }
    if (o->live.iface == NULL) {
        cli_usage_error("capture", "-i IFACE is required");
        return EXIT_USAGE;
    }
    if (optind != argc) {
        cli_usage_error("capture", "unexpected argument '%s'", argv[optind]);
        return EXIT_USAGE;
    }
    return -1;
}

/* Capture into p until stopped, with retention alongside; then store the open calls. */
static int capture_into(engine_t *p, livecap_t *lc, const capture_opts_t *o)
{
    livecap_install_signals();
    retention_cfg_t rc = {o->cfg.db_path,       o->cfg.pcap_dir,        o->keep.retain_days,
                          o->keep.max_db_bytes, o->keep.max_pcap_bytes, o->keep.interval_s};
    retention_t *retention = retention_start(&rc);
    int status = livecap_run(lc, p, o->quiet);
    retention_stop(retention);
    char err[512] = "";
    if (engine_finish(p, err, sizeof(err)) != 0) {
        livecap_fatal("capture: %s", err);
        status = EXIT_RUNTIME;
    }
    if (!o->quiet)
        livecap_summary(lc, p);
    return status;
}

int cmd_capture(int argc, char **argv)
{
    char err[512];
    int cargc;
    char **cargv;
    if (config_expand_argv(argc, argv, capture_options, &cargc, &cargv, err, sizeof(err)) != 0) {
        log_error("%s", err); /* "FILE:LINE: what" */
        return EXIT_USAGE;
    }
    capture_opts_t o = {.quiet = false};
    engine_cfg_init(&o.cfg);
    o.cfg.db_path = "sipscope.db";
    cap_live_cfg_init(&o.live);
    int status = parse_capture_options(cargc, cargv, &o);
    if (status >= 0)
        goto out;
    status = EXIT_RUNTIME;
    /* What can fail at start does before anything is created: the paths, then the interface
     * (and its filter), and only then the database. */
    if ((o.cfg.pcap_dir != NULL && cli_check_pcap_dir(o.cfg.pcap_dir) != 0) ||
        (o.cfg.db_path != NULL && cli_check_db(o.cfg.db_path) != 0) ||
        cli_check_log(o.log_path) != 0)
        goto out;
    /* Live: never wait on the HEP queue (drops are counted instead). */
    if (hep_cli_start(&o.hep, &o.cfg, 0) != 0)
        goto out;
    livecap_t *lc = NULL;
    if (livecap_open("capture", &o.live, &lc) != 0)
        goto out;
    engine_t *p = NULL;
    if (engine_new(&o.cfg, &p, err, sizeof(err)) != 0) {
        log_error("capture: %s", err);
    } else if (livecap_log_start(o.log_path) == 0) {
        status = capture_into(p, lc, &o);
    } else {
        engine_finish(p, err, sizeof(err));
    }
    livecap_close(lc);
    engine_free(p);
out:
    hep_cli_finish(&o.hep, o.quiet);
    config_free_argv(cargc, cargv);
    return status;
}
