/* tcp_app: what a TCP connection carries above TCP: plain SIP text, SIP over WebSocket
 * (RFC 7118) after an HTTP Upgrade, or TLS (counted; decryption plugs in at one place). */
#ifndef SIPSCOPE_TCP_APP_H
#define SIPSCOPE_TCP_APP_H

#include <stddef.h>
#include <stdint.h>

#include "packet_view.h"
#include "tls.h"

typedef struct tcp_app tcp_app_t;

/* What a connection was recognised as, from its first bytes. */
typedef enum {
    TCP_APP_SIP = 0, /* anything else: SIP text, resynchronised at line starts */
    TCP_APP_WS,      /* an HTTP Upgrade to WebSocket with Sec-WebSocket-Protocol: sip */
    TCP_APP_TLS,     /* a TLS record header 0x16 0x03 0x01..0x04 */
    TCP_APP_OTHER,   /* HTTP that did not become SIP over WebSocket: skipped */
    TCP_APP_KIND_COUNT
} tcp_app_kind_t;

typedef struct {
    size_t max_conns;    /* connections tracked at once (default 16384); LRU evicted */
    uint32_t timeout_ms; /* a connection idle this long in capture time is forgotten (300 s) */
    size_t max_message;  /* longest WebSocket message reassembled (default 64 KB) */
    const tls_keylog_t *tls_keys; /* borrowed; TLS connections decrypt with it (NULL: none) */
    size_t max_tls; /* TLS sessions decrypting at once (default 4096; beyond: counted) */
} tcp_app_cfg_t;

typedef struct {
    uint64_t conns[TCP_APP_KIND_COUNT]; /* connections seen, by kind */
    uint64_t ws_messages;               /* complete data messages handed on */
    uint64_t ws_control;                /* ping, pong and close frames skipped */
    uint64_t ws_malformed;              /* invalid frame headers (the direction is dropped) */
    uint64_t ws_oversize;               /* messages longer than max_message, skipped */
    uint64_t evicted;                   /* connections dropped for room (LRU) */
    uint64_t timed_out;                 /* connections dropped after timeout_ms idle */
    uint64_t tls_decrypted;             /* TLS connections whose data was decrypted */
    uint64_t tls_untracked;             /* TLS connections over max_tls: counted only */
    uint64_t tls_plain_overflow;        /* decrypted bytes dropped (no SIP message end) */
} tcp_app_stats_t;

/* The SIP side, called back from tcp_app_feed:
 * on_stream: SIP text of a plain connection, pkt as the capture gave it (all unconsumed bytes
 *            of the direction); returns the bytes consumed, as a capture sink does.
 * on_message: one whole WebSocket message (should be one SIP message, RFC 7118 5), msg a copy
 *            of the segment's view with payload/len the unmasked message and carried having
 *            PKT_CARRIED_WS. Borrowed for the call. */
typedef struct {
    void *ctx;
    size_t (*on_stream)(void *ctx, const packet_view_t *pkt);
    void (*on_message)(void *ctx, const packet_view_t *msg);
    /* on_tls (may be NULL): a TLS connection described as it ends (dropped, or at
     * tcp_app_flush_tls): who opened it, who answered, what its session showed. */
    void (*on_tls)(void *ctx, const net_endpoint_t *client, const net_endpoint_t *server,
                   const tls_info_t *info);
} tcp_app_sink_t;

void tcp_app_cfg_init(tcp_app_cfg_t *cfg);
/* NULL on allocation failure; caller frees with tcp_app_free. */
tcp_app_t *tcp_app_new(const tcp_app_cfg_t *cfg, const tcp_app_sink_t *sink);
void tcp_app_free(tcp_app_t *a);

/* A TCP view from the capture (payload: all in-order unconsumed bytes of one direction).
 * Returns the bytes consumed; the rest is offered again with the next segment. */
size_t tcp_app_feed(tcp_app_t *a, const packet_view_t *pkt);

/* Describes every TLS connection still held (sink on_tls), once each: at the end of input. */
void tcp_app_flush_tls(tcp_app_t *a);

/* Borrowed; valid until tcp_app_free. */
const tcp_app_stats_t *tcp_app_stats(const tcp_app_t *a);
/* "sip", "ws", "tls", "other". Static string. */
const char *tcp_app_kind_name(tcp_app_kind_t kind);

#endif
