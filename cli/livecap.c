/* livecap: the live-capture loop, signals and options shared by `capture` and `run -i`. */
#include "livecap.h"
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "commands.h"
#include "config.h"
#include "hep_cli.h"
#include "live.h"
#include "log.h"
#include "engine.h"
#include "retention.h"
#include "stop.h"

static volatile sig_atomic_t reopen_requested;

/* --log: the file stderr goes to once the capture runs, and the stderr it replaced. */
static const char *log_file;
static int original_stderr = -1;

static void on_hup(int sig)
{
    (void)sig;
    reopen_requested = 1;
}

void livecap_install_signals(void)
{
    stop_install();
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
}

/* Point fd 2 (and so stderr) at path, appending. 0, or an errno value (stderr unchanged). */
static int redirect_stderr(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return errno;
    fflush(stderr);
    int rc = dup2(fd, STDERR_FILENO) < 0 ? errno : 0;
    close(fd);
    return rc;
}

/* SIGHUP: reopen the log file (after logrotate moved it). */
static void reopen_log(void)
{
    if (log_file == NULL)
        return;
    int e = redirect_stderr(log_file);
    if (e != 0)
        livecap_fatal("--log %s: cannot reopen it: %s", log_file, strerror(e));
    else
        log_info("reopened log %s", log_file);
}

int livecap_log_start(const char *path)
{
    if (path == NULL)
        return 0;
    original_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    int e = redirect_stderr(path);
    if (e != 0) {
        log_error("--log %s: %s", path, strerror(e));
        return -1;
    }
    log_file = path;
    return 0;
}

void livecap_fatal(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    log_error("%s", msg);
    if (log_file != NULL && original_stderr >= 0)
        dprintf(original_stderr, "sipscope: %s\n", msg);
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

/* The interface is opened before the engine exists (so that a missing interface creates no
 * database), and the capture thread takes its look-ahead hooks at open: these forward to the
 * engine's once livecap_run attaches it, and do nothing before (they are only hints). */
struct livecap {
    cap_live_t *live;
    const char *iface;
    cap_hint_fn hint;
    cap_prefetch_fn prefetch;
    _Atomic(void *) ctx; /* published last: hint and prefetch are set when it is */
};

static uint64_t forward_hint(void *ctx, const packet_view_t *pkt)
{
    livecap_t *lc = ctx;
    void *c = atomic_load_explicit(&lc->ctx, memory_order_acquire);
    return c != NULL ? lc->hint(c, pkt) : 0;
}

static void forward_prefetch(void *ctx, uint64_t hint, int stage)
{
    livecap_t *lc = ctx;
    void *c = atomic_load_explicit(&lc->ctx, memory_order_acquire);
    if (c != NULL)
        lc->prefetch(c, hint, stage);
}

int livecap_open(const char *cmd, const cap_live_cfg_t *live_cfg, livecap_t **out)
{
    *out = NULL;
    livecap_t *lc = calloc(1, sizeof(*lc));
    if (lc == NULL) {
        log_error("%s: out of memory", cmd);
        return EXIT_RUNTIME;
    }
    lc->iface = live_cfg->iface;
    cap_live_cfg_t cfg = *live_cfg;
    cfg.hint = forward_hint;
    cfg.prefetch = forward_prefetch;
    cfg.hint_ctx = lc;
    char err[512] = "";
    if (cap_live_open(&cfg, &lc->live, err, sizeof(err)) != 0) {
        log_error("%s: %s", cmd, err);
        free(lc);
        return EXIT_RUNTIME;
    }
    *out = lc;
    return 0;
}

void livecap_close(livecap_t *lc)
{
    if (lc == NULL)
        return;
    cap_live_close(lc->live);
    free(lc);
}

int livecap_run(livecap_t *lc, engine_t *p, bool quiet)
{
    cap_live_t *live = lc->live;
    void *ctx = NULL;
    engine_lookahead(p, &lc->hint, &lc->prefetch, &ctx);
    atomic_store_explicit(&lc->ctx, ctx, memory_order_release);
    if (!quiet)
        log_msg(LOG_ERROR, "capturing on %s (stop with Ctrl-C)", lc->iface);
    int64_t next_publish = 0;
    bool stopping = false;
    unsigned frames_since_clock = 0;
    int64_t clock_checked_ts = 0; /* capture time of the frame at the last clock check */
    for (;;) {
        if (stop_requested() && !stopping) {
            /* Stop taking new frames; what is already in the ring is still analysed. */
            cap_live_stop(live);
            stopping = true;
            stop_announce(quiet);
        }
        if (reopen_requested) {
            reopen_requested = 0;
            reopen_log();
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
    return EXIT_SUCCESS;
}

void livecap_summary(const livecap_t *lc, const engine_t *p)
{
    cap_live_stats_t ls;
    cap_live_get_stats(lc->live, &ls);
    char what[256];
    snprintf(what, sizeof(what),
             "capture stopped: %llu frames, %llu dropped by the kernel, %llu by the interface, "
             "%llu by sipscope (analysis behind)",
             (unsigned long long)ls.received, (unsigned long long)ls.kernel_drops,
             (unsigned long long)ls.if_drops, (unsigned long long)ls.queue_drops);
    stop_print_totals(what, p);
}

int livecap_engine_option(const char *cmd, int opt, const char *arg, engine_cfg_t *cfg)
{
    size_t n;
    switch (opt) {
        case LIVECAP_OPT_MAX_CALLS:
        case LIVECAP_OPT_MAX_STREAMS:
            if (!cli_parse_count(arg, &n)) {
                cli_usage_error(cmd, "%s: not a positive number: %s",
                                opt == LIVECAP_OPT_MAX_CALLS ? "--max-calls" : "--max-streams",
                                arg);
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
        case LIVECAP_OPT_TLS_KEYLOG:
            cfg->tls_keylog = arg;
            return 1;
        case LIVECAP_OPT_NO_RTP_PCAP:
            cfg->pcap_rtp = CALLPCAP_RTP_NONE;
            return 1;
        case LIVECAP_OPT_RTP_PCAP:
            if (callpcap_rtp_parse(arg, &cfg->pcap_rtp) != 0) {
                cli_usage_error(cmd, "--rtp-pcap: not full, header or none: %s", arg);
                return EXIT_USAGE;
            }
            return 1;
        case LIVECAP_OPT_PCAP_COMPRESS:
            if (callpcap_compress_parse(arg, &cfg->pcap_compress) != 0) {
                cli_usage_error(cmd, "--pcap-compress: not none or gzip: %s", arg);
                return EXIT_USAGE;
            }
            return 1;
        default:
            return 0;
    }
}

/* Options shared by capture and run -i; returns 1 if the option was one of these, 0 if not,
 * or EXIT_USAGE on a bad value. */
int livecap_option(const char *cmd, int opt, const char *arg, engine_cfg_t *cfg,
                   cap_live_cfg_t *live, const char **log_path, livecap_retention_t *keep)
{
    size_t n;
    switch (opt) {
        case LIVECAP_OPT_RETAIN_DAYS:
        case LIVECAP_OPT_MAX_DB_MB:
        case LIVECAP_OPT_MAX_PCAP_MB:
        case LIVECAP_OPT_RETENTION_INTERVAL:
            if (!cli_parse_count(arg, &n) || n > 100000000) {
                cli_usage_error(cmd, "%s: not a positive number: %s",
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
            if (!cli_parse_count(arg, &n) || n > 4096) {
                cli_usage_error(cmd, "%s: not a size in MB: %s",
                                opt == LIVECAP_OPT_BUFFER_MB ? "--buffer-mb" : "--ring-mb", arg);
                return EXIT_USAGE;
            }
            if (opt == LIVECAP_OPT_BUFFER_MB)
                live->kernel_buffer = n << 20;
            else
                live->ring_bytes = n << 20;
            return 1;
        case LIVECAP_OPT_LOG:
            *log_path = arg; /* opened once the capture runs: the last one given wins */
            return 1;
        default:
            return livecap_engine_option(cmd, opt, arg, cfg);
    }
}
