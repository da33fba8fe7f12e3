/* live: capture from a network interface on its own thread, handing frames over a bounded
 * ring so the analysis never slows the capture; drops are counted, never hidden. */
#ifndef SIPSCOPE_LIVE_H
#define SIPSCOPE_LIVE_H

#include <stddef.h>
#include <stdint.h>

#include "cap.h"

typedef struct cap_live cap_live_t;

typedef struct {
    const char *iface;    /* "eth0", "lo", "any" */
    const char *filter;   /* BPF; NULL = CAP_LIVE_DEFAULT_FILTER. IP fragments are always
                             kept in addition, so that big INVITEs reassemble. */
    int snaplen;          /* default 262144 */
    size_t kernel_buffer; /* libpcap buffer (TPACKET_V3 ring), default 64 MB */
    size_t ring_bytes;    /* our frame ring between capture and analysis, default 64 MB */
    /* Look-ahead, as cap_set_lookahead (optional): hint runs on the capture thread, prefetch
     * in cap_live_next, a few frames before each frame is handed out. */
    cap_hint_fn hint;
    cap_prefetch_fn prefetch;
    void *hint_ctx;
} cap_live_cfg_t;

/* SIP and media over UDP/TCP, tunnels, and every IP fragment (later fragments carry no ports,
 * so a plain "port 5060" would lose the end of a fragmented INVITE). */
#define CAP_LIVE_DEFAULT_FILTER                                                                    \
    "udp or tcp or proto gre or ip proto 4 or ip proto 41 or (ip[6:2] & 0x1fff != 0) or "          \
    "(ip6 and ip6[6] == 44) or (vlan and (udp or tcp or (ip[6:2] & 0x1fff != 0)))"

typedef struct {
    uint64_t received;     /* frames we took from libpcap */
    uint64_t queue_drops;  /* frames dropped because our ring was full (analysis behind) */
    uint64_t kernel_drops; /* pcap_stats ps_drop: dropped by the kernel (buffer full) */
    uint64_t if_drops;     /* pcap_stats ps_ifdrop: dropped by the interface/driver */
} cap_live_stats_t;

void cap_live_cfg_init(cap_live_cfg_t *cfg);

/* Open and activate the interface, install the filter and start the capture thread.
 * 0, or negative with a reason in err (no such device, permission, bad filter). */
int cap_live_open(const cap_live_cfg_t *cfg, cap_live_t **out, char *err, size_t errlen);
/* Next frame (cap_frame_t, cap.h; for cap_process_frame_peeked): 1 with *out filled, valid
 * until cap_live_release (release it before the next call), 0 after timeout_ms with
 * nothing, -1 once stopped and drained. Called from one consumer thread only. */
int cap_live_next(cap_live_t *live, cap_frame_t *out, int timeout_ms);
void cap_live_release(cap_live_t *live);
/* Ask the capture thread to stop (async-signal-safe: only sets a flag and breaks the loop).
 * Frames already in the ring are still handed out by cap_live_next. */
void cap_live_stop(cap_live_t *live);
/* Join the thread and free. */
void cap_live_close(cap_live_t *live);
void cap_live_get_stats(cap_live_t *live, cap_live_stats_t *out);

#endif
