/* hep_in: HEPv3 from probes over UDP and TCP: a capture source beside files and interfaces. */
#ifndef SIPSCOPE_HEP_IN_H
#define SIPSCOPE_HEP_IN_H

#include <stddef.h>
#include <stdint.h>

#include "hep.h"
#include "hep_merge.h"
#include "packet_view.h"
#include "netaddr.h"
#include "sv.h"

/* ---- receiver ---- */

typedef struct hep_receiver hep_receiver_t;

typedef struct {
    uint64_t udp_datagrams;   /* datagrams read */
    uint64_t tcp_accepted;    /* connections taken */
    uint64_t tcp_refused;     /* connections closed at once: max_connections reached, every one
                                 of them sent data in the last 2 s (or out of descriptors) */
    uint64_t tcp_closed;      /* connections ended by the peer */
    uint64_t tcp_bad_framing; /* connections closed for a stream that is not HEP3 */
    uint64_t tcp_idle_closed; /* connections closed after idle_timeout_ms without data */
    uint64_t tcp_evicted;     /* idle connections closed to make room for a new one */
    uint64_t tcp_open;        /* connections open now */
    uint64_t udp_dropped;     /* datagrams the kernel dropped, the socket buffer full */
    uint64_t packets;         /* HEP packets decoded, authorised and handed to the callback */
    uint64_t bytes;           /* their total length */
    uint64_t malformed;       /* HEP packets (or datagrams, or stream garbage) rejected */
    uint64_t unauthorised;    /* well-formed but without the configured auth key */
    uint64_t compressed;      /* delivered packets whose payload is compressed (chunk 16) */
} hep_receiver_stats_t;

/* Called on the receiver's thread for each accepted packet. msg (and everything it points to)
 * and peer (the address the HEP came from) are borrowed for the duration of the call. */
typedef void (*hep_receiver_fn)(void *ctx, const hep_msg_t *msg, const net_endpoint_t *peer);
/* Called on the receiver's thread about every 200 ms of wall time (busy or idle), with the
 * wall clock in ns since the epoch: the place to run timeouts. */
typedef void (*hep_idle_fn)(void *ctx, int64_t now_ns);
/* Called on the receiver's thread after every wake-up (data or not), with CLOCK_MONOTONIC in
 * ns. Returns within how many ms it wants to be called again (the thread then wakes at least
 * that soon), or -1 for no wish (every 200 ms). */
typedef int (*hep_poll_fn)(void *ctx, int64_t mono_ns);

#define HEP_RX_MAX_CONNECTIONS 4096
#define HEP_RX_IDLE_TIMEOUT_MS 30000

typedef struct {
    const char *auth_key;     /* non-empty: packets must carry exactly this key (copied) */
    size_t max_connections;   /* TCP connections at once (default 4096; the soft descriptor
                                 limit is raised to fit, and it is lowered to what fits). At
                                 the cap, a new connection takes the place of the one silent
                                 longest if that was silent 2 s; else it is refused */
    uint32_t idle_timeout_ms; /* a TCP connection silent this long is closed (default 30 s) */
    int udp_rcvbuf;           /* UDP socket buffer to ask for (default 8 MB; 0 = system's) */
    hep_idle_fn on_idle;      /* optional */
    hep_poll_fn on_poll;      /* optional; hep_in uses it for its merge */
    hep_merge_cfg_t merge;    /* hep_in only: how it merges probes by capture time */
} hep_receiver_cfg_t;

/* Defaults for every field. */
void hep_receiver_cfg_init(hep_receiver_cfg_t *cfg);

/* Listen on spec "ADDR:PORT" (IPv4 or [IPv6]; port 0 picks a free port used for both) on UDP
 * and TCP, and start the receiver thread, which calls fn(ctx, ...) for every HEP packet that
 * decodes (hep_parse) and passes the key check. A datagram may hold several packets back to
 * back; a TCP stream is cut into packets by their total length (a connection holds a buffer
 * only while a packet is cut short, at most one packet, 64 KB; idle ones hold none). cfg NULL =
 * defaults. Returns NULL with a reason in err when the spec is bad or a socket cannot be bound.
 * Caller frees with hep_receiver_free. */
hep_receiver_t *hep_receiver_new(const char *spec, hep_receiver_fn fn, void *ctx,
                                 const hep_receiver_cfg_t *cfg, char *err, size_t errlen);

/* The port listened on (useful after port 0). */
uint16_t hep_receiver_port(const hep_receiver_t *r);

/* A snapshot of the counters (safe from any thread). */
void hep_receiver_stats(hep_receiver_t *r, hep_receiver_stats_t *out);

/* Stop the thread (no callback runs after this returns), close every socket, free. NULL is
 * fine. */
void hep_receiver_free(hep_receiver_t *r);

/* ---- the capture source: HEP messages as packet views ---- */

typedef struct hep_in hep_in_t;

/* Called on the receiver's thread for each SIP or binary RTCP message or stream quality report
 * (HEP type 34): a packet view with the probe's addresses, time and payload, kind PKT_KIND_SIP,
 * PKT_KIND_RTCP or PKT_KIND_QOS, has_probe set with
 * the probe's agent id, no frame (l3 NULL). Borrowed for the call. */
typedef void (*hep_in_fn)(void *ctx, const packet_view_t *pkt);

typedef struct {
    hep_receiver_stats_t rx;
    hep_merge_stats_t merge;
    uint64_t sip, rtcp;   /* delivered */
    uint64_t qos;         /* quality reports of streams delivered (HEP type 34) */
    uint64_t duplicates;  /* the same message from a second probe, dropped */
    uint64_t unsupported; /* compressed, other protocol types, RTCP as JSON: not decoded */
} hep_in_stats_t;

/* A receiver on spec (as hep_receiver_new) that delivers packet views to fn. A message that
 * another probe already delivered (same bytes between the same addresses within 2 s of capture
 * time) is counted as a duplicate and dropped: sites with several probes see most messages
 * twice. Messages go through a merge by capture time across probes (cfg->merge, hep_merge.h;
 * a probe is its agent id and address), so fn sees them in capture-time order whichever probe
 * delivered first; copies are dropped as they leave it, where a message and its copy are
 * neighbours however far apart the probes delivered them. cfg->on_idle, if set, is called with ctx
 * (cfg->on_poll is hep_in's own). NULL with a reason in err on failure. Caller frees with
 * hep_in_free. */
hep_in_t *hep_in_new(const char *spec, hep_in_fn fn, void *ctx, const hep_receiver_cfg_t *cfg,
                     char *err, size_t errlen);
uint16_t hep_in_port(const hep_in_t *h);
void hep_in_stats(hep_in_t *h, hep_in_stats_t *out);
/* Stop receiving, then hand on what the merge still holds (fn runs on the caller's thread for
 * those): no callback runs after this returns; the counters stay readable. */
void hep_in_stop(hep_in_t *h);
/* Stops (if still running) and frees. NULL is fine. */
void hep_in_free(hep_in_t *h);

#endif
