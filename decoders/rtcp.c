/* rtcp: RFC 3550 compound RTCP decoder with RFC 3611 XR blocks. */
#include "rtcp.h"

#include <string.h>

#include "cursor.h"

_Static_assert(RTCP_MAX_REPORTS >= 31, "RC is 5 bits: up to 31 report blocks per packet");

/*
 * Common header of every RTCP packet (RFC 3550 6.4.1); length counts 32-bit words minus one,
 * header and padding included, so a packet is (length + 1) * 4 bytes:
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |V=2|P|   RC    |      PT       |            length             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * With P set, the last octet of the packet counts its padding octets, itself included (6.4.1).
 * RFC 5761 4 reserves types 192..223 for RTCP, which is what tells RTCP from RTP on one port.
 */
#define RTCP_TYPE_FIRST 192
#define RTCP_TYPE_LAST  223

/* 24-bit two's complement to int32 without relying on the sign of a right shift. */
static inline int32_t sext24(uint32_t v)
{
    return (int32_t)(v ^ 0x800000u) - 0x800000;
}

/*
 * Report block (RFC 3550 6.4.1), RC of them after the SR sender info or the RR SSRC:
 *
 * +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 * |                 SSRC_1 (SSRC of first source)                 |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | fraction lost |       cumulative number of packets lost       |  (24-bit signed)
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |           extended highest sequence number received           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                      interarrival jitter                      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                         last SR (LSR)                         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                   delay since last SR (DLSR)                  |
 * +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 */
static bool decode_reports(cur_t *b, rtcp_packet_t *p, unsigned rc)
{
    for (unsigned i = 0; i < rc; i++) {
        cur_t r = cur_sub(b, 24);
        if (r.err)
            return false;
        rtcp_report_t *rep = &p->reports[p->n_reports++];
        rep->ssrc = cur_be32(&r);
        rep->fraction_lost = cur_u8(&r);
        rep->cumulative_lost = sext24(cur_be24(&r));
        rep->ext_highest_seq = cur_be32(&r);
        rep->jitter = cur_be32(&r);
        rep->lsr = cur_be32(&r);
        rep->dlsr = cur_be32(&r);
    }
    return true;
}

/*
 * SR (RFC 3550 6.4.1): sender info, then RC report blocks, then profile-specific extensions
 * (ignored).
 *
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |V=2|P|    RC   |   PT=SR=200   |             length            |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                         SSRC of sender                        |
 * +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 * |              NTP timestamp, most significant word             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |             NTP timestamp, least significant word             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                         RTP timestamp                         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                     sender's packet count                     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                      sender's octet count                     |
 * +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 * |                 report blocks (RC x 24 octets)                |
 *
 * RR (RFC 3550 6.4.2) is the same without the sender info (the five words after the SSRC).
 */
static bool decode_sr(cur_t *b, rtcp_packet_t *p)
{
    p->ssrc = cur_be32(b);
    cur_t si = cur_sub(b, 20);
    if (si.err)
        return false;
    p->ntp = cur_be64(&si);
    p->rtp_ts = cur_be32(&si);
    p->sender_packets = cur_be32(&si);
    p->sender_octets = cur_be32(&si);
    return decode_reports(b, p, p->count);
}

static bool decode_rr(cur_t *b, rtcp_packet_t *p)
{
    p->ssrc = cur_be32(b);
    return !b->err && decode_reports(b, p, p->count);
}

/*
 * SDES (RFC 3550 6.5): SC chunks, each an SSRC/CSRC and a list of items ended by one or more
 * null octets up to the next 32-bit boundary. Items: type (CNAME = 1), length, text.
 *
 *        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * header |V=2|P|    SC   |  PT=SDES=202  |             length            |
 *        +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 * chunk  |                          SSRC/CSRC_1                          |
 *   1    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *        |    CNAME=1    |     length    | user and domain name        ...
 *        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *        |   END = 0     |  (null octets to the 32-bit boundary)         |
 *        +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 * chunk  |                          SSRC/CSRC_2                          |
 *   2    :                              ...                              :
 */
static bool decode_sdes(cur_t *b, rtcp_packet_t *p)
{
    const uint8_t *start = b->p;
    bool have_cname = false;
    for (unsigned i = 0; i < p->count; i++) {
        uint32_t ssrc = cur_be32(b);
        if (b->err)
            return false;
        if (i == 0)
            p->ssrc = ssrc;
        /* Every item takes at least one octet, so this ends within the packet. */
        for (;;) {
            uint8_t type = cur_u8(b);
            if (type == 0)
                break;
            uint8_t n = cur_u8(b);
            const uint8_t *text = cur_bytes(b, n);
            if (text == NULL)
                return false;
            if (type == 1 && !have_cname) {
                p->cname = sv_make((const char *)text, n);
                have_cname = true;
            }
        }
        if (b->err)
            return false;
        /* Chunks start on a word boundary; the packet body does, so align relative to it. */
        size_t misalign = (size_t)(b->p - start) % 4;
        if (misalign != 0) {
            size_t skip = 4 - misalign;
            cur_skip(b, skip < cur_left(b) ? skip : cur_left(b));
        }
    }
    return true;
}

/*
 * BYE (RFC 3550 6.6): SC SSRC/CSRCs, then an optional reason (not kept).
 *
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |V=2|P|    SC   |   PT=BYE=203  |             length            |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                           SSRC/CSRC                           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * :                              ...                              :
 * +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 * |     length    |               reason for leaving            ...  (optional)
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
static bool decode_bye(cur_t *b, rtcp_packet_t *p)
{
    if (p->count == 0)
        return true;
    p->ssrc = cur_be32(b);
    cur_skip(b, (size_t)(p->count - 1) * 4);
    return !b->err;
}

/*
 * APP (RFC 3550 6.7):
 *
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |V=2|P| subtype |   PT=APP=204  |             length            |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                           SSRC/CSRC                           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                          name (ASCII)                         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                   application-dependent data                ...
 */
static bool decode_app(cur_t *b, rtcp_packet_t *p)
{
    p->ssrc = cur_be32(b);
    const uint8_t *name = cur_bytes(b, 4);
    if (name == NULL)
        return false;
    for (int i = 0; i < 4; i++)
        p->app_name[i] = (char)name[i];
    p->app_name[4] = '\0';
    return true;
}

/*
 * RTPFB / PSFB (RFC 4585 6.1): only counted; FMT is in the count field.
 *
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |V=2|P|   FMT   |       PT      |          length               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                  SSRC of packet sender                        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                  SSRC of media source                         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * :            Feedback Control Information (FCI)                 :
 */
static bool decode_fb(cur_t *b, rtcp_packet_t *p)
{
    p->ssrc = cur_be32(b);
    cur_skip(b, 4);
    return !b->err;
}

/*
 * VoIP Metrics report block (RFC 3611 4.7), block length 8:
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     BT=7      |   reserved    |       block length = 8        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                        SSRC of source                         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   loss rate   | discard rate  | burst density |  gap density  |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |       burst duration          |         gap duration          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     round trip delay          |       end system delay        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | signal level  |  noise level  |     RERL      |     Gmin      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   R factor    | ext. R factor |    MOS-LQ     |    MOS-CQ     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   RX config   |   reserved    |          JB nominal           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |          JB maximum           |          JB abs max           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * blk is the block body after its 4-byte header. False (nothing written) if under 32 bytes.
 */
#define XR_BT_VOIP_METRICS  7
#define XR_VOIP_METRICS_LEN 32

static bool decode_voip(cur_t *blk, rtcp_xr_voip_t *v)
{
    cur_t c = cur_sub(blk, XR_VOIP_METRICS_LEN);
    if (c.err)
        return false;
    v->ssrc = cur_be32(&c);
    v->loss_rate = cur_u8(&c);
    v->discard_rate = cur_u8(&c);
    v->burst_density = cur_u8(&c);
    v->gap_density = cur_u8(&c);
    v->burst_duration = cur_be16(&c);
    v->gap_duration = cur_be16(&c);
    v->round_trip_delay = cur_be16(&c);
    v->end_system_delay = cur_be16(&c);
    v->signal_level = cur_u8(&c);
    v->noise_level = cur_u8(&c);
    v->rerl = cur_u8(&c);
    v->gmin = cur_u8(&c);
    v->r_factor = cur_u8(&c);
    v->ext_r_factor = cur_u8(&c);
    v->mos_lq = cur_u8(&c);
    v->mos_cq = cur_u8(&c);
    v->rx_config = cur_u8(&c);
    cur_skip(&c, 1); /* reserved */
    v->jb_nominal = cur_be16(&c);
    v->jb_maximum = cur_be16(&c);
    v->jb_abs_max = cur_be16(&c);
    return true;
}

/*
 * XR (RFC 3611 2): the sender SSRC, then report blocks, each with a 4-byte header whose
 * length counts the 32-bit words after it (3). Each block is bounded by its own length and by
 * the packet; the first VoIP Metrics block is decoded, every block counted.
 *
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |V=2|P|reserved |   PT=XR=207   |             length            |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                              SSRC                             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |      BT       | type-specific |         block length          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * :             type-specific block contents                      :
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * :                 more report blocks ...                        :
 */
static bool decode_xr(cur_t *b, rtcp_packet_t *p)
{
    p->ssrc = cur_be32(b);
    bool ok = !b->err;
    while (ok && cur_left(b) > 0) {
        uint8_t bt = cur_u8(b);
        cur_skip(b, 1); /* type-specific */
        size_t words = cur_be16(b);
        cur_t blk = cur_sub(b, words * 4);
        if (blk.err)
            return false;
        if (p->n_xr_blocks < UINT8_MAX)
            p->n_xr_blocks++;
        if (bt == XR_BT_VOIP_METRICS && !p->has_voip_metrics) {
            ok = decode_voip(&blk, &p->voip);
            p->has_voip_metrics = ok;
        }
    }
    return ok;
}

/* Decode the body of one packet (after its header, padding removed). False if a field, report,
 * item or block ran past it. */
static bool decode_packet(cur_t *b, rtcp_packet_t *p)
{
    switch (p->type) {
        case RTCP_SR:
            return decode_sr(b, p);
        case RTCP_RR:
            return decode_rr(b, p);
        case RTCP_SDES:
            return decode_sdes(b, p);
        case RTCP_BYE:
            return decode_bye(b, p);
        case RTCP_APP:
            return decode_app(b, p);
        case RTCP_RTPFB:
        case RTCP_PSFB:
            return decode_fb(b, p);
        case RTCP_XR:
            return decode_xr(b, p);
        default:
            return true; /* other types of 192..223: counted only */
    }
}

/* With P set: the padding count (1..body_len) from the last octet, else 0. -1 if P is set and
 * the count does not fit. */
static int padding_of(uint8_t b0, const uint8_t *body, size_t body_len)
{
    if ((b0 & 0x20) == 0)
        return 0;
    if (body_len == 0 || body[body_len - 1] == 0 || body[body_len - 1] > body_len)
        return -1;
    return body[body_len - 1];
}

int rtcp_parse(const uint8_t *buf, size_t len, rtcp_compound_t *out)
{
    out->n_packets = 0;
    out->truncated = false;
    out->malformed = false;
    if (buf == NULL)
        return RTCP_INVALID;

    cur_t c = cur_make(buf, len);
    while (cur_left(&c) > 0) {
        if (out->n_packets == RTCP_MAX_PACKETS) {
            out->truncated = true;
            break;
        }
        if (cur_left(&c) < 4) {
            out->truncated = true; /* the start of a header */
            break;
        }
        uint8_t b0 = cur_u8(&c);
        uint8_t type = cur_u8(&c);
        size_t body_len = (size_t)cur_be16(&c) * 4;
        if ((b0 >> 6) != 2 || type < RTCP_TYPE_FIRST || type > RTCP_TYPE_LAST) {
            out->malformed = true;
            break;
        }
        if (body_len > cur_left(&c)) {
            out->truncated = true;
            break;
        }
        int pad = padding_of(b0, c.p, body_len);
        if (pad < 0) {
            out->malformed = true;
            break;
        }
        cur_t body = cur_sub(&c, body_len);
        body.end -= pad;

        rtcp_packet_t *p = &out->packets[out->n_packets++];
        p->type = type;
        p->count = b0 & 0x1f;
        p->ssrc = 0;
        p->ntp = 0;
        p->rtp_ts = 0;
        p->sender_packets = 0;
        p->sender_octets = 0;
        p->n_reports = 0;
        p->cname = SV_NULL;
        memset(p->app_name, 0, sizeof(p->app_name));
        p->has_voip_metrics = false;
        p->n_xr_blocks = 0;
        if (!decode_packet(&body, p))
            out->malformed = true;
    }
    return out->n_packets > 0 ? RTCP_OK : RTCP_INVALID;
}

/* Words a packet of this type and count needs after its header (RFC 3550 6.4-6.7, RFC 4585
 * 6.1, RFC 3611 2), for the heuristic's first packet. */
static size_t min_words(uint8_t type, unsigned count)
{
    switch (type) {
        case RTCP_SR:
            return 6 + 6 * (size_t)count;
        case RTCP_RR:
            return 1 + 6 * (size_t)count;
        case RTCP_SDES:
            return 2 * (size_t)count; /* SSRC + at least the null octets */
        case RTCP_BYE:
            return count;
        case RTCP_APP:
        case RTCP_RTPFB:
        case RTCP_PSFB:
            return 2;
        case RTCP_XR:
            return 1;
        default:
            return SIZE_MAX;
    }
}

bool rtcp_looks_like(const uint8_t *buf, size_t len)
{
    /* SRTCP (RFC 3711 3.4) trails an index and a tag that break the %4 and the exact walk:
     * Wireshark's heuristic turns it away the same way. */
    if (buf == NULL || len < 4 || len % 4 != 0 || (buf[0] >> 6) != 2)
        return false;
    if (buf[1] < RTCP_SR || buf[1] > RTCP_XR)
        return false;
    size_t words = ((size_t)buf[2] << 8) | buf[3];
    if (words < min_words(buf[1], buf[0] & 0x1f))
        return false;
    for (size_t off = 0; off < len;) {
        const uint8_t *h = buf + off;
        if (len - off < 4 || (h[0] >> 6) != 2 || h[1] < RTCP_TYPE_FIRST || h[1] > RTCP_TYPE_LAST)
            return false;
        size_t body_len = (((size_t)h[2] << 8) | h[3]) * 4;
        if (body_len > len - off - 4 || padding_of(h[0], h + 4, body_len) < 0)
            return false;
        off += 4 + body_len;
    }
    return true;
}
