/* rtp: RFC 3550 RTP header decoder and RFC 4733 telephone events. */
#ifndef SIPSCOPE_RTP_H
#define SIPSCOPE_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RTP_OK      0
#define RTP_INVALID (-1)

/* Fixed header size (RFC 3550 5.1), before CSRCs and the extension. */
#define RTP_HEADER_LEN 12

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
    uint16_t ext_profile;    /* when extension */
    const uint8_t *ext_data; /* extension words, borrowed */
    size_t ext_len;          /* bytes */
    const uint8_t *payload;  /* borrowed */
    size_t payload_len;      /* without padding */
    uint8_t padding_len;
} rtp_hdr_t;

/* Decode an RTP packet (RFC 3550 5.1). RTP_INVALID if the version is not 2 or any length
 * (CSRCs, extension, padding) runs past len; a padding count of 0 or one larger than the payload
 * is invalid too (the count includes itself). On RTP_OK every field is written: csrc[0..csrc_count)
 * only, ext_* are 0/NULL without an extension, and payload + payload_len + padding_len ends at
 * buf + len. Pointers borrow from buf. On RTP_INVALID out holds garbage. */
int rtp_parse(const uint8_t *buf, size_t len, rtp_hdr_t *out);

/* Heuristic used on flows no SDP announced (as Wireshark's rtp_udp heuristic): version 2, a
 * payload type that is not in the RTCP range 72..76, a parse that fits. Slightly stricter than
 * Wireshark: the whole 64..95 range is refused, since an RTCP packet type 192..223 reads as
 * marker + payload type 64..95 (RFC 5761 4) and RFC 3551 assigns nothing there; this keeps
 * RTCP XR/RTPFB/PSFB (types 205..207) out too. True implies rtp_parse() == RTP_OK. */
bool rtp_looks_like(const uint8_t *buf, size_t len);

/* RFC 4733 2.3 telephone-event payload. */
typedef struct {
    uint8_t event; /* 0-9 * # A-D are 0..15 (RFC 4733 3.2), 16 flash */
    bool end;
    uint8_t volume;    /* -dBm0, 0..63 */
    uint16_t duration; /* timestamp units */
} rtp_event_t;

/* Decode the first event of a telephone-event payload (rtp_hdr_t.payload). RTP_OK, or
 * RTP_INVALID when fewer than 4 bytes are present. */
int rtp_event_parse(const uint8_t *payload, size_t len, rtp_event_t *out);

/* Static payload types of RFC 3551 table 4/5: encoding name and clock rate, or NULL / 0 for
 * dynamic and unassigned types. */
const char *rtp_static_codec(uint8_t pt);
uint32_t rtp_static_clock_rate(uint8_t pt);

#endif
