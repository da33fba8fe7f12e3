/* rtpstat: per-stream RTP quality (loss, jitter, delta, sequence errors, MOS), computed as
 * Wireshark's RTP stream analysis does (shared/DESIGN.md), in O(1) memory per stream. */
#ifndef SIPSCOPE_RTPSTAT_H
#define SIPSCOPE_RTPSTAT_H

#include <stdbool.h>
#include <stdint.h>

#include "rtp.h"

/* Caller-provided storage (rtpstat_init/rtpstat_reset); no heap. */
typedef struct {
    uint32_t clock_rate;        /* Hz; 0 = unknown (jitter then stays 0) */
    uint64_t packets;
    /* ... private fields follow; read results through rtpstat_result() */
    uint64_t priv_[24];
    double privd_[16];
} rtpstat_t;

typedef struct {
    uint64_t packets;
    int64_t lost;
    uint64_t duplicates, out_of_order, seq_errors;
    double max_delta_ms, mean_jitter_ms, max_jitter_ms, last_jitter_ms;
    double mos;
    int64_t first_ns, last_ns;
} rtpstat_result_t;

void rtpstat_init(rtpstat_t *st, uint32_t clock_rate, const char *codec);
/* Account one packet that arrived at ts_ns. Telephone-event packets (is_event) are counted but
 * are not jitter samples. */
void rtpstat_add(rtpstat_t *st, int64_t ts_ns, const rtp_hdr_t *h, bool is_event);
void rtpstat_result(const rtpstat_t *st, rtpstat_result_t *out);

#endif
