/* rtp: RFC 3550 RTP header decoder and RFC 4733 telephone events. */
#ifndef SIPSCOPE_RTP_H
#define SIPSCOPE_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RTP_OK       0
#define RTP_INVALID  (-1)

typedef struct {
    uint8_t version;
    bool padding;
    bool extension;
    uint8_t csrc_count;
    bool marker;
    uint8_t payload_type;
    uint16_t seq;
    uint32_t timestamp;
    uint32_t ssrc;
    uint32_t csrc[15];
    uint16_t ext_profile;       /* when extension */
    const uint8_t *ext_data;    /* extension words, borrowed */
    size_t ext_len;             /* bytes */
    const uint8_t *payload;     /* borrowed */
    size_t payload_len;         /* without padding */
    uint8_t padding_len;
} rtp_hdr_t;

/* Decode an RTP packet (RFC 3550 5.1). RTP_INVALID if the version is not 2 or any length
 * (CSRCs, extension, padding) runs past len. */
int rtp_parse(const uint8_t *buf, size_t len, rtp_hdr_t *out);

/* Heuristic used on flows no SDP announced (as Wireshark's rtp_udp heuristic): version 2, a
 * payload type that is not in the RTCP range 72..76, a parse that fits. */
bool rtp_looks_like(const uint8_t *buf, size_t len);

/* RFC 4733 2.3 telephone-event payload. */
typedef struct {
    uint8_t event;
    bool end;
    uint8_t volume;
    uint16_t duration;
} rtp_event_t;

int rtp_event_parse(const uint8_t *payload, size_t len, rtp_event_t *out);

/* Static payload types of RFC 3551 table 4/5: encoding name and clock rate, or NULL / 0 for
 * dynamic and unassigned types. */
const char *rtp_static_codec(uint8_t pt);
uint32_t rtp_static_clock_rate(uint8_t pt);

#endif
