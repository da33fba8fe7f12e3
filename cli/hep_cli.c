/* hep_cli: HEP output options of the sipscope commands. */
#include "hep_cli.h"

#include <getopt.h>
#include <string.h>

#include "log.h"
#include "sv.h"

int hep_cli_option(hep_cli_t *h, int opt, const char *arg)
{
    switch (opt) {
        case HEP_CLI_OPT_OUT:
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
                log_error("--hep-id: not a number from 0 to 4294967295: %s", arg);
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
    if (!quiet || st.dropped > 0 || st.lost > 0)
        log_msg(LOG_ERROR, "HEP to %s: %llu sent, %llu dropped (queue full), %llu lost", h->out,
                (unsigned long long)st.sent, (unsigned long long)st.dropped,
                (unsigned long long)st.lost);
    hep_sender_free(h->sender);
    h->sender = NULL;
}
