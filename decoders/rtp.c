/* rtp: RFC 3550 RTP header decoder, RFC 4733 telephone events and the RFC 3551 static types. */
#include "rtp.h"

#include "cursor.h"

/*
 * RTP fixed header (RFC 3550 5.1):
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                           timestamp                           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |           synchronization source (SSRC) identifier            |
 * +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 * |            contributing source (CSRC) identifiers             |
 * |                             ....                              |  CC x 32 bits
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Header extension when X (RFC 3550 5.3.1), length in 32-bit words after this word:
 *
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |      defined by profile       |           length              |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                        header extension                       |
 * |                             ....                              |
 *
 * Padding when P: the last octet of the packet counts the padding octets, itself included.
 */
int rtp_parse(const uint8_t *buf, size_t len, rtp_hdr_t *out)
{
    /* The fixed header, after one length check (every media packet comes here). */
    if (buf == NULL || len < RTP_HEADER_LEN || (buf[0] >> 6) != 2)
        return RTP_INVALID;
    uint8_t b0 = buf[0], b1 = buf[1];
    out->seq = (uint16_t)(buf[2] << 8 | buf[3]);
    out->timestamp =
        (uint32_t)buf[4] << 24 | (uint32_t)buf[5] << 16 | (uint32_t)buf[6] << 8 | buf[7];
    out->ssrc = (uint32_t)buf[8] << 24 | (uint32_t)buf[9] << 16 | (uint32_t)buf[10] << 8 | buf[11];
    cur_t c = cur_make(buf + RTP_HEADER_LEN, len - RTP_HEADER_LEN);
    out->version = 2;
    out->padding = (b0 & 0x20) != 0;
    out->extension = (b0 & 0x10) != 0;
    out->csrc_count = b0 & 0x0f;
    out->marker = (b1 & 0x80) != 0;
    out->payload_type = b1 & 0x7f;

    for (unsigned i = 0; i < out->csrc_count; i++)
        out->csrc[i] = cur_be32(&c);

    out->ext_profile = 0;
    out->ext_data = NULL;
    out->ext_len = 0;
    if (out->extension) {
        out->ext_profile = cur_be16(&c);
        out->ext_len = (size_t)cur_be16(&c) * 4;
        out->ext_data = cur_bytes(&c, out->ext_len);
    }
    if (c.err)
        return RTP_INVALID;

    out->payload = c.p;
    out->payload_len = cur_left(&c);
    out->padding_len = 0;
    if (out->padding) {
        uint8_t pad = out->payload_len > 0 ? c.end[-1] : 0;
        if (pad == 0 || pad > out->payload_len)
            return RTP_INVALID;
        out->padding_len = pad;
        out->payload_len -= pad;
    }
    return RTP_OK;
}

bool rtp_looks_like(const uint8_t *buf, size_t len)
{
    /* Version 2 is the first test: it already turns away STUN and ZRTP (version 0), DTLS
     * (first byte 20..63) and TURN ChannelData (64..127). */
    if (buf == NULL || len < RTP_HEADER_LEN || (buf[0] >> 6) != 2)
        return false;
    uint8_t pt = buf[1] & 0x7f;
    if (pt >= 64 && pt <= 95)
        return false; /* RTCP 192..223 (RFC 5761 4); see rtp.h */
    rtp_hdr_t h;
    return rtp_parse(buf, len, &h) == RTP_OK;
}

/*
 * Telephone event (RFC 4733 2.3):
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     event     |E|R| volume    |          duration             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
int rtp_event_parse(const uint8_t *payload, size_t len, rtp_event_t *out)
{
    if (payload == NULL || len < 4)
        return RTP_INVALID;
    out->event = payload[0];
    out->end = (payload[1] & 0x80) != 0;
    out->volume = payload[1] & 0x3f;
    out->duration = (uint16_t)((payload[2] << 8) | payload[3]);
    return RTP_OK;
}

/* RFC 3551 6, tables 4 and 5. Every video type runs at 90000 Hz; G722 is sampled at 16000 Hz but
 * its RTP clock is 8000 Hz, an error RFC 3551 4.5.2 kept for compatibility. */
static const struct {
    const char *name;
    uint32_t clock;
} static_types[35] = {
    [0] = {"PCMU", 8000},   [3] = {"GSM", 8000},    [4] = {"G723", 8000},   [5] = {"DVI4", 8000},
    [6] = {"DVI4", 16000},  [7] = {"LPC", 8000},    [8] = {"PCMA", 8000},   [9] = {"G722", 8000},
    [10] = {"L16", 44100},  [11] = {"L16", 44100},  [12] = {"QCELP", 8000}, [13] = {"CN", 8000},
    [14] = {"MPA", 90000},  [15] = {"G728", 8000},  [16] = {"DVI4", 11025}, [17] = {"DVI4", 22050},
    [18] = {"G729", 8000},  [25] = {"CelB", 90000}, [26] = {"JPEG", 90000}, [28] = {"nv", 90000},
    [31] = {"H261", 90000}, [32] = {"MPV", 90000},  [33] = {"MP2T", 90000}, [34] = {"H263", 90000},
};

const char *rtp_static_codec(uint8_t pt)
{
    return pt < sizeof(static_types) / sizeof(static_types[0]) ? static_types[pt].name : NULL;
}

uint32_t rtp_static_clock_rate(uint8_t pt)
{
    return pt < sizeof(static_types) / sizeof(static_types[0]) ? static_types[pt].clock : 0;
}
