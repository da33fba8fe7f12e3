/* hep_qos: RTP quality reports carried in HEP (protocol type 34, the JSON "RTP agent" report that
 * Homer's heplify-server takes: CORRELATION_ID, TOTAL_PK, PACKET_LOSS, JITTER, MOS, ...). A
 * probe sends one per stream every sample interval while the stream runs and a last one when it
 * ends; docs/hep-qos.md lists every key. Encoder and decoder of the JSON payload. */
#ifndef SIPSCOPE_HEP_QOS_H
#define SIPSCOPE_HEP_QOS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"
#include "records.h"

#define HEP_PROTO_QOS_REPORT 34 /* HEP protocol type of a JSON RTP quality report */

#define HEP_QOS_CALL_ID_MAX 1024 /* longest Call-ID a report carries (bytes) */
#define HEP_QOS_CODEC_MAX   32
#define HEP_QOS_MAX_LEN     16384 /* an encoded report is at most this long */
#define HEP_QOS_MAX_INPUT   16384 /* longer payloads are not decoded */

/* One stream's figures so far (cumulative from its first packet), or (sample) one interval. */
typedef struct {
    bool final;  /* TYPE "FINAL": the stream ended (else "PERIODIC") */
    bool sample; /* TYPE "SAMPLE": only interval (and the stream's identity) holds figures */
    sample_record_t interval; /* one interval of the probe's charts (its stream_row unused) */
    char call_id[HEP_QOS_CALL_ID_MAX + 1];
    size_t call_id_len;
    net_endpoint_t src, dst;
    uint32_t ssrc;
    uint8_t payload_type;
    char codec[HEP_QOS_CODEC_MAX]; /* may be empty */
    uint32_t clock_rate;
    int64_t first_ns, last_ns; /* first and last packet, ns since the epoch (0: unknown) */
    uint64_t packets;
    int64_t lost; /* expected minus received; may be negative (duplicates) */
    uint64_t duplicates, out_of_order, seq_errors;
    double max_delta_ms, mean_jitter_ms, max_jitter_ms, mos;
    int8_t party;      /* who sends: 0 caller, 1 callee, -1 unknown */
    bool sdp_mismatch; /* the source differs from what the SDP announced (NAT) */
    /* What the receiver's RTCP reported about the stream (the last report), when any did. */
    bool have_rtcp;
    double rtcp_fraction_lost;    /* 0..1 */
    int64_t rtcp_cumulative_lost; /* 24-bit signed */
    double rtcp_jitter_ms;
    double rtcp_rtt_ms; /* < 0: unknown */
} hep_qos_t;

/* Write q as the JSON object (no NUL counted; one is written when there is room). Returns the
 * length, or -ENOSPC when cap is too small. A sample (q->sample) is the stream's identity
 * (Call-ID, addresses, SSRC, codec) and the interval's SAMPLE_* keys, without the cumulative
 * figures. */
int hep_qos_encode(const hep_qos_t *q, char *buf, size_t cap);

/* Decode a report from a HEP payload. Returns 0, or -1 with a static reason in *why (may be
 * NULL): not one flat JSON object (nesting up to 8 levels is skipped in values), longer than
 * HEP_QOS_MAX_INPUT, a string longer than its field, a number out of range, a key missing (the
 * Call-ID as CORRELATION_ID or RTP_SIP_CALL_ID, and the packet count as TOTAL_PK or
 * TOTAL_PACKETS; for TYPE "SAMPLE" SAMPLE_START_US and SAMPLE_PK instead), or only some of
 * SRC_IP/SRC_PORT/DST_IP/DST_PORT. Without any of those four
 * (the final report of some agents) src/dst are left with family 0: the HEP header's addresses
 * are the stream's. Unknown keys are ignored; a key twice: the last wins. */
int hep_qos_parse(const uint8_t *p, size_t len, hep_qos_t *out, const char **why);

#endif
