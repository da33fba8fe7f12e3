/* rtcp: RFC 3550 compound RTCP decoder with RFC 3611 XR blocks. */
#ifndef SIPSCOPE_RTCP_H
#define SIPSCOPE_RTCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sv.h"

#define RTCP_OK      0
#define RTCP_INVALID (-1)

enum {
    RTCP_SR = 200,
    RTCP_RR = 201,
    RTCP_SDES = 202,
    RTCP_BYE = 203,
    RTCP_APP = 204,
    RTCP_RTPFB = 205,
    RTCP_PSFB = 206,
    RTCP_XR = 207,
};

#define RTCP_MAX_REPORTS 31
#define RTCP_MAX_PACKETS 16

/* RFC 3550 6.4.1 report block (layout in rtcp.c). */
typedef struct {
    uint32_t ssrc;
    uint8_t fraction_lost;   /* /256 */
    int32_t cumulative_lost; /* 24-bit signed */
    uint32_t ext_highest_seq;
    uint32_t jitter; /* timestamp units */
    uint32_t lsr;
    uint32_t dlsr; /* 1/65536 s */
} rtcp_report_t;

/* RFC 3611 4.7 VoIP Metrics block (the one block a monitor reads; others are counted). Fields
 * are as on the wire: rates and densities /256, delays in ms, signal_level and noise_level are
 * two's-complement dBm0 (read them as int8_t; 127 = unavailable), R factors 0..100 (127 =
 * unavailable). Layout in rtcp.c. */
typedef struct {
    uint32_t ssrc;
    uint8_t loss_rate, discard_rate, burst_density, gap_density;
    uint16_t burst_duration, gap_duration, round_trip_delay, end_system_delay;
    uint8_t signal_level, noise_level, rerl, gmin;
    uint8_t r_factor, ext_r_factor, mos_lq, mos_cq; /* MOS x10, 127 = unavailable */
    uint8_t rx_config;
    uint16_t jb_nominal, jb_maximum, jb_abs_max;
} rtcp_xr_voip_t;

/* One RTCP packet of a compound datagram. */
typedef struct {
    uint8_t type;  /* RTCP_SR ... */
    uint8_t count; /* RC/SC/subtype field */
    uint32_t ssrc; /* sender SSRC (SR, RR, XR, APP; first chunk for SDES/BYE) */
    /* SR sender info (RFC 3550 6.4.1) */
    uint64_t ntp;
    uint32_t rtp_ts;
    uint32_t sender_packets;
    uint32_t sender_octets;
    /* SR/RR report blocks */
    rtcp_report_t reports[RTCP_MAX_REPORTS];
    uint8_t n_reports;
    /* SDES: the first CNAME seen */
    sv_t cname;
    /* APP */
    char app_name[5];
    /* XR */
    bool has_voip_metrics;
    rtcp_xr_voip_t voip;
    uint8_t n_xr_blocks;
} rtcp_packet_t;

typedef struct {
    rtcp_packet_t packets[RTCP_MAX_PACKETS];
    size_t n_packets;
    bool truncated; /* more packets than RTCP_MAX_PACKETS, or a short last one */
    bool malformed; /* a later packet had a bad header or padding (decoding stopped
                     * there), or a packet's fields, reports, SDES items or XR blocks
                     * ran past its length (what was complete is kept) */
} rtcp_compound_t;

/* Decode a compound RTCP datagram. Every packet and every block is bounded by both its length
 * field and the bytes present. RTCP_INVALID if the first packet is not a valid RTCP header
 * (version 2, type 192..223 range as RFC 5761 4 uses, length within len, padding count in
 * 1..body when P is set). Otherwise RTCP_OK with packets[0..n_packets) decoded: fields a packet
 * does not carry are 0 (cname empty {NULL, 0}; reports[0..n_reports) and voip only when
 * has_voip_metrics are written). Views borrow from buf. No allocation. */
int rtcp_parse(const uint8_t *buf, size_t len, rtcp_compound_t *out);

/* Heuristic for flows no SDP announced: version 2, type 200..207, length fits. In detail (after
 * Wireshark's rtcp heuristic): len a multiple of 4; the first packet an SR, RR, SDES, BYE, APP,
 * RTPFB, PSFB or XR long enough for its fixed part and report count; and every packet of the
 * compound version 2, type 192..223, with sane padding, their lengths adding up to len exactly.
 * True implies rtcp_parse() == RTCP_OK. */
bool rtcp_looks_like(const uint8_t *buf, size_t len);

#endif
