/* livecap: the live-capture loop, signals and options shared by `capture` and `run -i`. */
#include "livecap.h"
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
#include "log.h"
#include "engine.h"
#include "retention.h"

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reopen_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void on_hup(int sig)
{
    (void)sig;
    reopen_requested = 1;
}

void livecap_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

bool livecap_stop_requested(void)
{
    return stop_requested != 0;
}

/* SIGHUP: reopen the log file (after logrotate moved it). */
static void reopen_log(const char *log_path)
{
    if (log_path == NULL)
        return;
    if (freopen(log_path, "a", stderr) == NULL) {
        /* stderr is gone; nothing sensible left to report to. */
        return;
    }
    setvbuf(stderr, NULL, _IOLBF, 0);
    log_info("reopened log %s", log_path);
}

static void publish_live_stats(engine_t *p, cap_live_t *live)
{
    cap_live_stats_t ls;
    cap_live_get_stats(live, &ls);
    engine_publish(p, "capture.received", (int64_t)ls.received);
    engine_publish(p, "capture.queue_drops", (int64_t)ls.queue_drops);
    engine_publish(p, "capture.kernel_drops", (int64_t)ls.kernel_drops);
    engine_publish(p, "capture.if_drops", (int64_t)ls.if_drops);
    engine_publish_stats(p);
}

int livecap_run(engine_t *p, const cap_live_cfg_t *live_cfg, const char *log_path,
                bool quiet)
{
    char err[512] = "";
    cap_live_t *live = NULL;
    cap_live_cfg_t cfg = *live_cfg;
    engine_lookahead(p, &cfg.hint, &cfg.prefetch, &cfg.hint_ctx);
    if (cap_live_open(&cfg, &live, err, sizeof(err)) != 0) {
        log_error("capture: %s", err);
        return EXIT_RUNTIME;
    }
    if (!quiet)
        log_msg(LOG_ERROR, "capturing on %s (stop with Ctrl-C)", live_cfg->iface);
    int64_t next_publish = 0;
    bool stopping = false;
    unsigned frames_since_clock = 0;
    int64_t clock_checked_ts = 0; /* capture time of the frame at the last clock check */
    for (;;) {
        if (stop_requested && !stopping) {
            /* Stop taking new frames; what is already in the ring is still analysed. */
            cap_live_stop(live);
            stopping = true;
        }
        if (reopen_requested) {
            reopen_requested = 0;
            reopen_log(log_path);
        }
        cap_frame_t f;
        int rc = cap_live_next(live, &f, 200);
        if (rc < 0)
            break;
        if (rc == 1) {
            engine_process_frame(p, &f);
            cap_live_release(live);
            /* Busy: look at the clock every 256 frames or 100 ms of capture time, not per
             * frame (at a slow steady rate, the frames' own times keep this at 10 a second). */
            if (++frames_since_clock < 256 && f.info.ts_ns - clock_checked_ts < 100000000)
                continue;
            clock_checked_ts = f.info.ts_ns;
        }
        frames_since_clock = 0;
        int64_t now = clock_ns(CLOCK_REALTIME);
        if (rc == 0)
            engine_idle(p, now);
        if (now >= next_publish) {
            publish_live_stats(p, live);
            next_publish = now + 1000000000;
        }
    }
    publish_live_stats(p, live);
    cap_live_stats_t ls;
    cap_live_get_stats(live, &ls);
    cap_live_close(live);
    if (!quiet)
        log_msg(LOG_ERROR,
                "capture stopped: %llu frames, %llu dropped by the kernel, %llu by the "
                "interface, %llu by sipscope (analysis behind)",
                (unsigned long long)ls.received, (unsigned long long)ls.kernel_drops,
                (unsigned long long)ls.if_drops, (unsigned long long)ls.queue_drops);
    return EXIT_SUCCESS;
}

static bool parse_count(const char *text, size_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v == 0 || v > (1ull << 32))
        return false;
    *out = (size_t)v;
    return true;
}

/* Options shared by capture and run -i; returns 1 if the option was one of these, 0 if not,
 * or EXIT_USAGE on a bad value. */
int livecap_option(int opt, const char *arg, engine_cfg_t *cfg, cap_live_cfg_t *live,
                   const char **log_path, livecap_retention_t *keep)
{
    size_t n;
    switch (opt) {
        case LIVECAP_OPT_RETAIN_DAYS:
        case LIVECAP_OPT_MAX_DB_MB:
        case LIVECAP_OPT_MAX_PCAP_MB:
        case LIVECAP_OPT_RETENTION_INTERVAL:
            if (!parse_count(arg, &n) || n > 100000000) {
                log_error("%s: not a positive number: %s",
                          opt == LIVECAP_OPT_RETAIN_DAYS   ? "--retain-days"
                          : opt == LIVECAP_OPT_MAX_DB_MB   ? "--max-db-mb"
                          : opt == LIVECAP_OPT_MAX_PCAP_MB ? "--max-pcap-mb"
                                                           : "--retention-interval",
                          arg);
                return EXIT_USAGE;
            }
            if (opt == LIVECAP_OPT_RETENTION_INTERVAL)
                keep->interval_s = (uint32_t)n;
            else if (opt == LIVECAP_OPT_RETAIN_DAYS)
                keep->retain_days = (uint32_t)n;
            else if (opt == LIVECAP_OPT_MAX_DB_MB)
                keep->max_db_bytes = (uint64_t)n << 20;
            else
                keep->max_pcap_bytes = (uint64_t)n << 20;
            return 1;
        case 'i':
            live->iface = arg;
            return 1;
        case 'f':
            live->filter = arg;
            return 1;
        case LIVECAP_OPT_BUFFER_MB:
        case LIVECAP_OPT_RING_MB:
            if (!parse_count(arg, &n) || n > 4096) {
                log_error("%s: not a size in MB: %s",
                          opt == LIVECAP_OPT_BUFFER_MB ? "--buffer-mb" : "--ring-mb", arg);
                return EXIT_USAGE;
            }
            if (opt == LIVECAP_OPT_BUFFER_MB)
                live->kernel_buffer = n << 20;
            else
                live->ring_bytes = n << 20;
            return 1;
        case LIVECAP_OPT_MAX_CALLS:
        case LIVECAP_OPT_MAX_STREAMS:
            if (!parse_count(arg, &n)) {
                log_error("%s: not a positive number: %s",
                          opt == LIVECAP_OPT_MAX_CALLS ? "--max-calls" : "--max-streams", arg);
                return EXIT_USAGE;
            }
            if (opt == LIVECAP_OPT_MAX_CALLS)
                cfg->corr.max_calls = n;
            else
                cfg->corr.max_streams = n;
            return 1;
        case LIVECAP_OPT_PCAP_DIR:
            cfg->pcap_dir = arg;
            return 1;
        case LIVECAP_OPT_NO_RTP_PCAP:
            cfg->pcap_rtp = false;
            return 1;
        case LIVECAP_OPT_LOG:
            *log_path = arg;
            reopen_log(arg);
            return 1;
        default:
            return 0;
    }
}
