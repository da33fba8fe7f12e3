/* livecap: the live-capture loop shared by `capture` and `run -i`. */
#ifndef SIPSCOPE_LIVECAP_H
#define SIPSCOPE_LIVECAP_H

#include <stdbool.h>

#include "live.h"
#include "pipeline.h"

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
};

/* SIGINT/SIGTERM request a clean stop, SIGHUP reopens the log, SIGPIPE is ignored. */
void livecap_install_signals(void);
bool livecap_stop_requested(void);
void livecap_request_stop(void);
/* Handle one shared option: 1 handled, 0 not ours, EXIT_USAGE bad value (reported). */
int livecap_option(int opt, const char *arg, pipeline_cfg_t *cfg, cap_live_cfg_t *live,
                   const char **log_path);
/* Capture until a stop is requested, feeding p; publishes counters to the store every second.
 * Returns an exit status. The caller finishes p (flushing open calls) afterwards. */
int livecap_run(pipeline_t *p, const cap_live_cfg_t *live_cfg, const char *log_path, bool quiet);

#endif
