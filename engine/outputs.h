/* outputs: the engine's built-in outputs (engine_output_t): the store writer, the per-call
 * pcap files and the HEP sender. Each constructor fills an engine_output_t whose free callback
 * releases what it made. */
#ifndef SIPSCOPE_OUTPUTS_H
#define SIPSCOPE_OUTPUTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "callpcap.h"
#include "engine.h"
#include "hep_out.h"

typedef struct {
    const char *db_path;
    const char *pcap_dir; /* recorded in the store's meta table for export and the API */
    size_t queue_bytes;   /* the writer's queue */
} output_store_cfg_t;

/* Where the ids of new rows go on from (the store's next free ones; 0 = unknown). */
typedef struct {
    int64_t row;     /* calls and streams (the correlator) */
    int64_t message; /* SIP messages (the correlator; the security monitor's alert samples) */
    int64_t alert;   /* alerts (the security monitor) */
} output_store_ids_t;

/* Open the store and start its writer thread; *ids receives where the ids go on from. 0, or
 * negative with a reason. */
int output_store_new(const output_store_cfg_t *cfg, engine_output_t *out, output_store_ids_t *ids,
                     char *err, size_t errlen);
/* Every call's packets in a pcap of its own under dir (store/callpcap.h), RTP and RTCP as rtp
 * says, compressed as compress says. 0, or negative with a reason. */
int output_pcap_new(const char *dir, callpcap_rtp_t rtp, callpcap_compress_t compress,
                    engine_output_t *out, char *err, size_t errlen);
/* Every SIP message (and RTCP when rtcp) to sender, which stays the caller's. */
void output_hep_init(hep_sender_t *sender, bool rtcp, engine_output_t *out);

#endif
