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
    "Capture live from IFACE into the database until SIGINT/SIGTERM (open calls are then\n"
    "stored as they stand).\n"
    "\n"
    "  --db PATH              SQLite database (default ./sipscope.db)\n"
    LIVECAP_HELP
    HEP_CLI_HELP
    "  --config FILE          read options from FILE (key = value per line; the command line\n"
    "                         overrides it)\n"
    "  -q, --quiet            fewer messages\n";

int cmd_capture(int argc, char **argv)
{
    char err[512];
    int cargc;
    char **cargv;
    if (config_expand_argv(argc, argv, &cargc, &cargv, err, sizeof(err)) != 0) {
        log_error("capture: %s", err);
        return EXIT_USAGE;
    }
    static const struct option options[] = {
        LIVECAP_LONG_OPTIONS,
        HEP_CLI_LONG_OPTIONS,
        {"db", required_argument, NULL, LIVECAP_OPT_DB},
        {"config", required_argument, NULL, LIVECAP_OPT_CONFIG},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    engine_cfg_t cfg;
    engine_cfg_init(&cfg);
    cfg.db_path = "sipscope.db";
    cap_live_cfg_t live;
    cap_live_cfg_init(&live);
    const char *log_path = NULL;
    bool quiet = false;
    int status = EXIT_SUCCESS;
    int opt;
    optind = 1;
    hep_cli_t hep = {0};
    livecap_retention_t keep = {0};
    while ((opt = getopt_long(cargc, cargv, "i:f:qvh", options, NULL)) != -1) {
        int h = hep_cli_option(&hep, opt, optarg);
        if (h < 0) {
            status = EXIT_USAGE;
            goto out;
        }
        if (h > 0)
            continue;
        int r = livecap_option(opt, optarg, &cfg, &live, &log_path, &keep);
        if (r == EXIT_USAGE) {
            status = EXIT_USAGE;
            goto out;
        }
        if (r == 1)
            continue;
        switch (opt) {
            case LIVECAP_OPT_DB: /* ":memory:" stores nothing: no store at all */
                cfg.db_path = strcmp(optarg, ":memory:") == 0 ? NULL : optarg;
                break;
            case LIVECAP_OPT_CONFIG:
                break;
            case 'q':
                quiet = true;
                break;
            case 'v':
                log_set_level(LOG_DEBUG);
                break;
            case 'h':
                fputs(capture_usage, stdout);
                goto out;
            default:
                fputs("Try 'sipscope capture --help'.\n", stderr);
                status = EXIT_USAGE;
                goto out;
        }
    }
    if (live.iface == NULL || optind != cargc) {
        log_error("capture: %s", live.iface == NULL ? "-i IFACE is required"
                                                   : "unexpected argument");
        fputs("Try 'sipscope capture --help'.\n", stderr);
        status = EXIT_USAGE;
        goto out;
    }
    engine_t *p = NULL;
    /* Live: never wait on the HEP queue (drops are counted instead). */
    if (hep_cli_start(&hep, &cfg, 0) != 0) {
        status = EXIT_RUNTIME;
        goto out;
    }
    if (engine_new(&cfg, &p, err, sizeof(err)) != 0) {
        log_error("capture: %s", err);
        status = EXIT_RUNTIME;
        goto out;
    }
    livecap_install_signals();
    retention_cfg_t rc = {cfg.db_path, cfg.pcap_dir, keep.retain_days, keep.max_db_bytes,
                          keep.max_pcap_bytes, keep.interval_s};
    retention_t *retention = retention_start(&rc);
    status = livecap_run(p, &live, log_path, quiet);
    retention_stop(retention);
    if (engine_finish(p, err, sizeof(err)) != 0) {
        log_error("capture: %s", err);
        status = EXIT_RUNTIME;
    }
    engine_free(p);
out:
    hep_cli_finish(&hep, quiet);
    config_free_argv(cargc, cargv);
    return status;
}
