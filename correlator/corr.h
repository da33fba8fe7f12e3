/* corr: decoded SIP/SDP/RTP/RTCP into calls (dialogs, transactions, states, timings) and media
 * streams with quality figures; bounded tables with idle timeouts and eviction counters. */
#ifndef SIPSCOPE_CORR_H
#define SIPSCOPE_CORR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"
#include "records.h"
#include "rtcp.h"
#include "rtp.h"
#include "sip.h"

typedef struct corr corr_t;

typedef struct {
    size_t max_calls;              /* live calls kept (default 65536); the oldest idle is evicted */
    size_t max_streams;            /* live RTP streams kept (default 131072) */
    uint32_t setup_timeout_s;      /* no final answer yet (default 300) */
    uint32_t call_idle_timeout_s;  /* answered, no SIP or RTP (default 3600... see corr.c) */
    uint32_t linger_s;             /* after BYE/final failure: keep for retransmissions/media tail (default 5) */
    uint32_t stream_idle_timeout_s;/* RTP stream without packets (default 60) */
    uint32_t sample_interval_s;    /* quality samples per stream (default 5) */
} corr_cfg_t;

void corr_cfg_init(corr_cfg_t *cfg);

/* Where results go. Every record is final when handed over (a call after it ended, timed out,
 * was evicted or flushed; a stream likewise); strings are borrowed for the callback only. */
typedef struct {
    void *ctx;
    void (*on_call)(void *ctx, const call_record_t *call);
    void (*on_stream)(void *ctx, const stream_record_t *stream);
    void (*on_sample)(void *ctx, const sample_record_t *sample);
    void (*on_message)(void *ctx, const message_record_t *msg); /* every SIP message, in order */
} corr_sink_t;

/* The packet a decoded message came in: time, addresses, transport, raw bytes (borrowed). */
typedef struct {
    int64_t ts_ns;
    net_endpoint_t src, dst;
    uint8_t transport;             /* 17 UDP, 6 TCP */
    const uint8_t *raw;
    size_t raw_len;
} corr_pkt_t;

typedef enum { CORR_MEDIA_NONE = 0, CORR_MEDIA_RTP, CORR_MEDIA_RTCP } corr_media_t;

typedef struct {
    uint64_t calls_created, calls_ended, calls_timed_out, calls_evicted;
    uint64_t streams_created, streams_evicted, streams_unsignalled;
    uint64_t sip_messages, sip_retransmissions, sip_orphans;
    uint64_t rtp_packets, rtcp_packets;
    size_t live_calls, live_streams;
} corr_stats_t;

/* NULL on allocation failure; caller frees with corr_free (which does not flush). */
corr_t *corr_new(const corr_cfg_t *cfg, const corr_sink_t *sink);
void corr_free(corr_t *corr);

/* One SIP message (request or response). Emits on_message. */
void corr_on_sip(corr_t *corr, const corr_pkt_t *pkt, const sip_msg_t *msg);
/* Did SDP announce pkt's destination (or, for NAT, a flow already matched) as RTP or RTCP? */
corr_media_t corr_media_kind(corr_t *corr, const corr_pkt_t *pkt);
/* An RTP packet: on an announced flow, or one the caller recognised heuristically. */
void corr_on_rtp(corr_t *corr, const corr_pkt_t *pkt, const rtp_hdr_t *rtp);
void corr_on_rtcp(corr_t *corr, const corr_pkt_t *pkt, const rtcp_compound_t *rtcp);
/* Advance time: end what timed out. Cheap; call once per packet or per second. */
void corr_tick(corr_t *corr, int64_t now_ns);
/* End of input: emit every live call and stream as it stands. */
void corr_flush(corr_t *corr);
const corr_stats_t *corr_stats(const corr_t *corr);

#endif
