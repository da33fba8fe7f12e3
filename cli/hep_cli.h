/* hep_cli: the --hep-out/--hep-id/--hep-key/--hep-rtcp options shared by analyze, capture, run. */
#ifndef SIPSCOPE_HEP_CLI_H
#define SIPSCOPE_HEP_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "hep_out.h"
#include "engine.h"

typedef struct {
    const char *out; /* HOST:PORT[,transport=udp|tcp][,qos=on|off], NULL = off */
    const char *key; /* auth key, NULL = none */
    uint32_t id;     /* capture agent id */
    bool rtcp;
    hep_sender_t *sender; /* started by hep_cli_start */
} hep_cli_t;

enum { HEP_CLI_OPT_OUT = 400, HEP_CLI_OPT_ID, HEP_CLI_OPT_KEY, HEP_CLI_OPT_RTCP };

#define HEP_CLI_LONG_OPTIONS                                                                       \
    {"hep-out", required_argument, NULL, HEP_CLI_OPT_OUT},                                         \
        {"hep-id", required_argument, NULL, HEP_CLI_OPT_ID},                                       \
        {"hep-key", required_argument, NULL, HEP_CLI_OPT_KEY},                                     \
    {                                                                                              \
        "hep-rtcp", no_argument, NULL, HEP_CLI_OPT_RTCP                                            \
    }

#define HEP_CLI_HELP                                                                               \
    "  --hep-out HOST:PORT[,transport=udp|tcp][,qos=on|off]\n"                                     \
    "                       also send every SIP message as HEPv3 (Homer, heplify-server, or a\n"   \
    "                       central sipscope run --hep-in), and each RTP stream's quality\n"       \
    "                       report (HEP type 34) unless qos=off\n"                                 \
    "  --hep-id N           capture agent id in the HEP packets (default 0)\n"                     \
    "  --hep-key KEY        HEP authentication key\n"                                              \
    "  --hep-rtcp           send RTCP too (HEP type 5)\n"

/* 1 handled, 0 not a HEP option, -1 bad value (reported as a usage error of command cmd). */
int hep_cli_option(hep_cli_t *h, int opt, const char *arg, const char *cmd);
/* Start the sender if --hep-out was given and point cfg at it. block_ms > 0 makes sends wait
 * (file replays) instead of dropping when the queue is full. 0 or -1 (reported). */
int hep_cli_start(hep_cli_t *h, engine_cfg_t *cfg, int block_ms);
/* Drain (up to 10 s), report what was dropped or lost, free. */
void hep_cli_finish(hep_cli_t *h, bool quiet);

#endif
