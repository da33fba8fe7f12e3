/* livecap: the live-capture loop shared by `capture` and `run -i`. */
#ifndef SIPSCOPE_LIVECAP_H
#define SIPSCOPE_LIVECAP_H

#include <stdbool.h>

#include "live.h"
#include "engine.h"

/* getopt codes of the options capture and run share. */
enum {
    LIVECAP_OPT_DB = 300,
    LIVECAP_OPT_BUFFER_MB,
    LIVECAP_OPT_RING_MB,
    LIVECAP_OPT_MAX_CALLS,
    LIVECAP_OPT_MAX_STREAMS,
    LIVECAP_OPT_CONFIG,
    LIVECAP_OPT_LOG,
    LIVECAP_OPT_PCAP_DIR,
    LIVECAP_OPT_NO_RTP_PCAP,
    LIVECAP_OPT_RTP_PCAP,
    LIVECAP_OPT_PCAP_COMPRESS,
    LIVECAP_OPT_RETAIN_DAYS,
    LIVECAP_OPT_MAX_DB_MB,
    LIVECAP_OPT_MAX_PCAP_MB,
    LIVECAP_OPT_RETENTION_INTERVAL,
    LIVECAP_OPT_TLS_KEYLOG,
};

/* The long options above, for the commands' option tables. */
#define LIVECAP_LONG_OPTIONS                                                                       \
    {"interface", required_argument, NULL, 'i'}, {"filter", required_argument, NULL, 'f'},         \
        {"buffer-mb", required_argument, NULL, LIVECAP_OPT_BUFFER_MB},                             \
        {"ring-mb", required_argument, NULL, LIVECAP_OPT_RING_MB},                                 \
        {"max-calls", required_argument, NULL, LIVECAP_OPT_MAX_CALLS},                             \
        {"max-streams", required_argument, NULL, LIVECAP_OPT_MAX_STREAMS},                         \
        {"log", required_argument, NULL, LIVECAP_OPT_LOG},                                         \
        {"pcap-dir", required_argument, NULL, LIVECAP_OPT_PCAP_DIR},                               \
        {"no-rtp-pcap", no_argument, NULL, LIVECAP_OPT_NO_RTP_PCAP},                               \
        {"rtp-pcap", required_argument, NULL, LIVECAP_OPT_RTP_PCAP},                               \
        {"pcap-compress", required_argument, NULL, LIVECAP_OPT_PCAP_COMPRESS},                     \
        {"retain-days", required_argument, NULL, LIVECAP_OPT_RETAIN_DAYS},                         \
        {"max-db-mb", required_argument, NULL, LIVECAP_OPT_MAX_DB_MB},                             \
        {"max-pcap-mb", required_argument, NULL, LIVECAP_OPT_MAX_PCAP_MB},                         \
        {"tls-keylog", required_argument, NULL, LIVECAP_OPT_TLS_KEYLOG},                           \
    {                                                                                              \
        "retention-interval", required_argument, NULL, LIVECAP_OPT_RETENTION_INTERVAL              \
    }

#define LIVECAP_HELP                                                                               \
    "  -i, --interface IFACE  interface to capture on (\"any\" for all)\n"                         \
    "  -f, --filter BPF       capture filter; IP fragments are always kept in addition\n"          \
    "  --pcap-dir DIR         keep each call's packets in DIR/YYYY-MM-DD/HH/ID.pcap\n"             \
    "  --rtp-pcap MODE        RTP in those files: full (default), header (RTP headers and\n"       \
    "                         all RTCP, payloads cut) or none (SIP only; also --no-rtp-pcap)\n"    \
    "  --pcap-compress C      none (default) or gzip (ID.pcap.gz, which Wireshark opens)\n"        \
    "  --tls-keylog FILE      decrypt SIP over TLS with this NSS key log (SSLKEYLOGFILE)\n"        \
    "  --retain-days N        delete calls and their pcaps older than N days\n"                    \
    "  --max-db-mb N          keep the database under N MB (oldest calls go first)\n"              \
    "  --max-pcap-mb N        keep the per-call pcaps under N MB (oldest hours go first)\n"        \
    "  --retention-interval S seconds between retention passes (default 60)\n"                     \
    "  --buffer-mb N          kernel capture buffer in MB (default 64)\n"                          \
    "  --ring-mb N            frame queue between capture and analysis in MB (default 64)\n"       \
    "  --max-calls N          live calls kept in memory (default 65536)\n"                         \
    "  --max-streams N        live RTP streams kept in memory (default 131072)\n"                  \
    "  --log FILE             write messages to FILE (reopened on SIGHUP)\n"

/* SIGINT/SIGTERM request a clean stop (stop.h: a second one ends the process at once), SIGHUP
 * reopens the log, SIGPIPE is ignored. */
void livecap_install_signals(void);

/* --log FILE. It is opened once the command has started (interface, database and listener
 * open), so that what fails at start is said on stderr, and only the last --log given (the
 * command line's over the config file's) is created.
 * cli_check_log checks it at start; livecap_log_start sends stderr to path from then on
 * (SIGHUP reopens it), keeping the original stderr for livecap_fatal. 0 (NULL path: nothing to
 * do), or -1 reported on stderr. */
int livecap_log_start(const char *path);
/* An error that ends the command: logged, and also said on the original stderr when the log
 * is a file (a service manager shows it). */
void livecap_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Handle one shared option of command cmd: 1 handled, 0 not ours, EXIT_USAGE bad value
 * (reported). */
typedef struct {
    uint32_t interval_s;
    uint32_t retain_days;
    uint64_t max_db_bytes, max_pcap_bytes;
} livecap_retention_t;

int livecap_option(const char *cmd, int opt, const char *arg, engine_cfg_t *cfg,
                   cap_live_cfg_t *live, const char **log_path, livecap_retention_t *keep);

/* The part of livecap_option that sets the engine, and all that analyze shares with capture and
 * run: --max-calls, --max-streams, --pcap-dir, --no-rtp-pcap, --rtp-pcap, --pcap-compress,
 * --tls-keylog. 1 handled, 0 not ours, EXIT_USAGE bad value (reported). */
int livecap_engine_option(const char *cmd, int opt, const char *arg, engine_cfg_t *cfg);

/* A live capture: the interface is opened before the engine exists, so that a missing
 * interface or a bad filter fails before a database is created. */
typedef struct livecap livecap_t;
/* Open the interface and start capturing into the ring. 0, or EXIT_RUNTIME with the reason
 * reported as "sipscope: CMD: ...". Caller frees with livecap_close. */
int livecap_open(const char *cmd, const cap_live_cfg_t *cfg, livecap_t **out);
/* Feed p until a stop is requested; publishes counters to the store every second. Returns an
 * exit status. The caller finishes p (flushing open calls) afterwards, then says
 * livecap_summary (unless quiet). */
int livecap_run(livecap_t *lc, engine_t *p, bool quiet);
/* The one-line summary on stderr: "sipscope: capture stopped: N frames, N dropped by the
 * kernel, ...; N packets, N SIP messages, N calls (N stored as they stood at the stop)"
 * (stop_print_totals). */
void livecap_summary(const livecap_t *lc, const engine_t *p);
/* Stop and free (NULL is fine). */
void livecap_close(livecap_t *lc);

#endif
