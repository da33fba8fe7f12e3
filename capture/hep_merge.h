/* hep_merge: the messages of several HEP probes put back in capture-time order. Each probe sends
 * its own messages in order, but two probes' streams arrive interleaved however the network
 * and their replay speeds have it: a 180 Ringing from one probe can come before the INVITE the
 * other probe saw first. The merge holds each message until every active probe has sent
 * something at least as late (its watermark), or until it has waited wait_ms of wall clock for a
 * probe that stays silent, and hands them on smallest capture time first. When traffic starts
 * (or starts again after every probe was quiet for wait_ms) every message waits the full
 * wait_ms: probes that have not sent yet are unknown, and one starting a moment after another
 * would otherwise find its first messages overtaken. A probe that stays silent longer than
 * wait_ms is not waited for until it sends again; its messages then come late (counted). */
#ifndef SIPSCOPE_HEP_MERGE_H
#define SIPSCOPE_HEP_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"
#include "packet_view.h"

typedef struct hep_merge hep_merge_t;

/* Where merged messages go (the view, and all it points to, borrowed for the call), with the
 * tag the message was pushed with. */
typedef void (*hep_merge_fn)(void *ctx, const packet_view_t *pkt, uint64_t tag);

#define HEP_MERGE_WAIT_MS_DEFAULT   1000
#define HEP_MERGE_MAX_HELD_DEFAULT  65536
#define HEP_MERGE_MAX_BYTES_DEFAULT ((size_t)64 << 20)
#define HEP_MERGE_MAX_PROBES        256

typedef struct {
    uint32_t wait_ms;      /* longest a message waits for a silent probe, and how long a probe
                              counts as active after its last message (default 1000); 0: no
                              merging, every message goes on as it arrives */
    size_t max_held;       /* messages held at once (default 65536) ... */
    size_t max_held_bytes; /* ... and their payload bytes (default 64 MB); past either, the
                              earliest goes on at once (counted in overflow) */
} hep_merge_cfg_t;

typedef struct {
    uint64_t held;        /* held now */
    uint64_t held_peak;   /* most held at once */
    uint64_t held_total;  /* messages that had to wait at all */
    uint64_t waited;      /* went on after wait_ms: a probe still behind, or traffic starting */
    uint64_t overflow;    /* went on early: the hold was full */
    uint64_t late;        /* arrived with a capture time before one already handed on */
    uint64_t probes;      /* probes active now (a message within wait_ms) */
    uint64_t hold_ns_max; /* longest a message was held (wall clock) */
    uint64_t hold_ns_sum; /* total wall time held, over held_total messages */
    int64_t lag_ns;       /* newest capture time received minus newest handed on, now */
    uint64_t lag_ns_max;  /* its maximum */
} hep_merge_stats_t;

void hep_merge_cfg_init(hep_merge_cfg_t *cfg);

/* NULL when out of memory. cfg NULL = defaults. */
hep_merge_t *hep_merge_new(const hep_merge_cfg_t *cfg, hep_merge_fn fn, void *ctx);
/* Drops what is still held (hep_merge_flush first to hand it on). NULL is fine. */
void hep_merge_free(hep_merge_t *m);

/* Probe probe_id at address from sent a message with capture time ts_ns, arriving at now_ns
 * (CLOCK_MONOTONIC). Call it for every message the probe sends, copies another probe already
 * sent included: they move its watermark too. */
void hep_merge_saw(hep_merge_t *m, uint32_t probe_id, const net_addr_t *from, int64_t ts_ns,
                   int64_t now_ns);
/* One message to hand on (after hep_merge_saw): at once when no probe can still send an earlier
 * one, else copied and held. tag goes along to fn (hep_in: which connection sent it). */
void hep_merge_push(hep_merge_t *m, const packet_view_t *pkt, uint64_t tag, int64_t now_ns);
/* Hand on what may go at now_ns. Returns the ms until something held falls due (for a poll
 * timeout), or -1 when nothing is held. */
int hep_merge_release(hep_merge_t *m, int64_t now_ns);
/* Hand on everything held, in order. */
void hep_merge_flush(hep_merge_t *m);

/* A snapshot of the counters (safe from any thread). */
void hep_merge_stats(hep_merge_t *m, hep_merge_stats_t *out);

#endif
