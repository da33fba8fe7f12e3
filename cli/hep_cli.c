/* hep_cli: HEP output options of the sipscope commands. */
#include "hep_cli.h"

#include <getopt.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "netio.h"
#include "sv.h"

/* "HOST:PORT[,transport=udp|tcp][,qos=on|off]", as hep_sender_new reads it (the host is looked
 * up later). */
static bool hep_out_spec_ok(const char *spec)
{
    sv_t hostport, opts;
    sv_split_once(sv_from_cstr(spec), ',', &hostport, &opts);
    while (opts.len > 0) {
        sv_t opt, key, val;
        sv_split_once(opts, ',', &opt, &opts);
        sv_split_once(sv_trim(opt), '=', &key, &val);
        bool transport =
            sv_eq_ci(key, "transport") && (sv_eq_ci(val, "udp") || sv_eq_ci(val, "tcp"));
        bool qos = sv_eq_ci(key, "qos") && (sv_eq_ci(val, "on") || sv_eq_ci(val, "off"));
        if (!transport && !qos)
            return false;
    }
    char host[256], port[8];
    return netio_split_hostport(hostport, host, sizeof(host), port, sizeof(port));
}

int hep_cli_option(hep_cli_t *h, int opt, const char *arg, const char *cmd)
{
    switch (opt) {
        case HEP_CLI_OPT_OUT:
            if (!hep_out_spec_ok(arg)) {
                cli_usage_error(
                    cmd, "--hep-out %s: expected HOST:PORT[,transport=udp|tcp][,qos=on|off]", arg);
                return -1;
            }
            h->out = arg;
            return 1;
        case HEP_CLI_OPT_KEY:
            h->key = arg;
            return 1;
        case HEP_CLI_OPT_RTCP:
            h->rtcp = true;
            return 1;
        case HEP_CLI_OPT_ID:
            if (!sv_to_u32(sv_from_cstr(arg), &h->id)) {
                cli_usage_error(cmd, "--hep-id %s: not a number from 0 to 4294967295", arg);
                return -1;
            }
            return 1;
        default:
            return 0;
    }
}

int hep_cli_start(hep_cli_t *h, engine_cfg_t *cfg, int block_ms)
{
    if (h->out == NULL)
        return 0;
    char err[512];
    h->sender = hep_sender_new(h->out, h->id, h->key, 65536, err, sizeof(err));
    if (h->sender == NULL) {
        log_error("--hep-out: %s", err);
        return -1;
    }
    if (block_ms > 0)
        hep_sender_set_block(h->sender, block_ms);
    cfg->hep_out = h->sender;
    cfg->hep_rtcp = h->rtcp;
    return 0;
}

void hep_cli_finish(hep_cli_t *h, bool quiet)
{
    if (h->sender == NULL)
        return;
    hep_sender_flush(h->sender, 10000);
    hep_sender_stats_t st;
    hep_sender_stats(h->sender, &st);
    /* What is still queued now is lost at free (the collector could not be reached). */
    uint64_t lost = st.lost + st.queue_now;
    if (!quiet || st.dropped > 0 || lost > 0)
        log_msg(LOG_ERROR, "HEP to %s: %llu sent, %llu dropped (queue full), %llu lost%s", h->out,
                (unsigned long long)st.sent, (unsigned long long)st.dropped,
                (unsigned long long)lost,
                lost > 0 ? " (not delivered: the collector was unreachable, refused or closed "
                           "the connection)"
                         : "");
    hep_sender_free(h->sender);
    h->sender = NULL;
}
