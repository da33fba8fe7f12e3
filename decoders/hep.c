/* hep: HEPv3 (EEP) encapsulation decoder and encoder, the protocol of Homer, heplify, captagent. */
#include "hep.h"

#include <errno.h>
#include <string.h>

#include "cursor.h"

/*
 * HEPv3 packet, from the HEP3 Network Protocol Specification (sipcapture/HEP, docs/HEP3_rev12
 * and later revisions; draft-dubovikov-eep-hep-00). Everything is big-endian; the total length
 * counts the 6 header bytes and every chunk:
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |      'H'      |      'E'      |      'P'      |      '3'      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |          total length         |   chunks ...                  |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Each chunk; its length counts its own 6 header bytes, so a chunk is never shorter than 6:
 *
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     vendor id (0 generic)     |         chunk type id         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |         chunk length          |   value (length - 6 bytes)    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Generic value sizes: family, protocol and protocol type 1 byte; IPv4 4; IPv6 16; ports and
 * keep-alive 2; timestamps and agent id 4; key, payloads and correlation id any length.
 * A packet on TCP is just the next one after the previous (no extra framing).
 */
static const uint8_t hep_magic[4] = {'H', 'E', 'P', '3'};

#define HEP_AF_INET    2 /* chunk 1 values, as the specification gives them (Linux AF_*) */
#define HEP_AF_INET6   10
#define HEP_LAST_KNOWN HEP_CHUNK_CORRELATION

/* Exact value size of each fixed-size generic chunk; 0 = variable. */
static const uint8_t fixed_size[HEP_LAST_KNOWN + 1] = {
    [HEP_CHUNK_IP_FAMILY] = 1, [HEP_CHUNK_IP_PROTO] = 1,   [HEP_CHUNK_IPV4_SRC] = 4,
    [HEP_CHUNK_IPV4_DST] = 4,  [HEP_CHUNK_IPV6_SRC] = 16,  [HEP_CHUNK_IPV6_DST] = 16,
    [HEP_CHUNK_SRC_PORT] = 2,  [HEP_CHUNK_DST_PORT] = 2,   [HEP_CHUNK_TS_SEC] = 4,
    [HEP_CHUNK_TS_USEC] = 4,   [HEP_CHUNK_PROTO_TYPE] = 1, [HEP_CHUNK_AGENT_ID] = 4,
    [HEP_CHUNK_KEEPALIVE] = 2,
};

#define BIT(t) (1u << (t))

int hep_frame_len(const uint8_t *buf, size_t len)
{
    if (len == 0)
        return HEP_PARTIAL;
    if (len < HEP_HDR_LEN) {
        size_t n = len < sizeof(hep_magic) ? len : sizeof(hep_magic);
        return memcmp(buf, hep_magic, n) == 0 ? HEP_PARTIAL : HEP_INVALID;
    }
    if (memcmp(buf, hep_magic, sizeof(hep_magic)) != 0)
        return HEP_INVALID;
    unsigned total = ((unsigned)buf[4] << 8) | buf[5];
    return total < HEP_HDR_LEN ? HEP_INVALID : (int)total;
}

static int fail(hep_msg_t *out, int rc, const char *why)
{
    out->reason = why;
    return rc;
}

/* Addresses of both families as they come; the family chunk, which may come last, picks. */
typedef struct {
    net_addr_t v4s, v4d, v6s, v6d;
    uint8_t family;
} hep_addrs_t;

/* One known generic chunk's value into out. False (with out->reason) when it is malformed. */
static bool decode_chunk(hep_msg_t *out, unsigned type, cur_t *v, hep_addrs_t *a)
{
    size_t n = cur_left(v);
    switch (type) {
        case HEP_CHUNK_IP_FAMILY:
            a->family = cur_u8(v);
            break;
        case HEP_CHUNK_IP_PROTO:
            out->ip_proto = cur_u8(v);
            break;
        case HEP_CHUNK_IPV4_SRC:
        case HEP_CHUNK_IPV4_DST:
            if (cur_need(v, 4))
                net_addr_v4(type == HEP_CHUNK_IPV4_SRC ? &a->v4s : &a->v4d, cur_bytes(v, 4));
            break;
        case HEP_CHUNK_IPV6_SRC:
        case HEP_CHUNK_IPV6_DST:
            if (cur_need(v, 16))
                net_addr_v6(type == HEP_CHUNK_IPV6_SRC ? &a->v6s : &a->v6d, cur_bytes(v, 16));
            break;
        case HEP_CHUNK_SRC_PORT:
            out->src.port = cur_be16(v);
            break;
        case HEP_CHUNK_DST_PORT:
            out->dst.port = cur_be16(v);
            break;
        case HEP_CHUNK_TS_SEC:
            out->ts_sec = cur_be32(v);
            break;
        case HEP_CHUNK_TS_USEC:
            out->ts_usec = cur_be32(v);
            if (out->ts_usec > 999999) {
                out->reason = "microseconds out of range";
                return false;
            }
            break;
        case HEP_CHUNK_PROTO_TYPE:
            out->proto_type = cur_u8(v);
            break;
        case HEP_CHUNK_AGENT_ID:
            out->agent_id = cur_be32(v);
            break;
        case HEP_CHUNK_KEEPALIVE:
            cur_skip(v, 2);
            break;
        case HEP_CHUNK_AUTH_KEY:
            out->auth_key = sv_make((const char *)cur_bytes(v, n), n);
            break;
        case HEP_CHUNK_PAYLOAD:
        case HEP_CHUNK_COMPRESSED:
            if (out->payload != NULL) {
                out->reason = "both payload and compressed payload";
                return false;
            }
            if (n == 0) {
                out->reason = "empty payload";
                return false;
            }
            out->payload = cur_bytes(v, n);
            out->payload_len = n;
            out->compressed = type == HEP_CHUNK_COMPRESSED;
            break;
        case HEP_CHUNK_CORRELATION:
            out->correlation_id = sv_make((const char *)cur_bytes(v, n), n);
            break;
        default:
            break;
    }
    /* Fixed sizes were checked by the caller, so a cursor error here is a bug. */
    return !v->err;
}

int hep_parse(const uint8_t *buf, size_t len, hep_msg_t *out)
{
    memset(out, 0, sizeof(*out));
    int total = hep_frame_len(buf, len);
    if (total == HEP_PARTIAL)
        return fail(out, HEP_PARTIAL, "truncated header");
    if (total == HEP_INVALID)
        return fail(out, HEP_INVALID,
                    len >= 4 && memcmp(buf, hep_magic, 4) == 0 ? "total length below 6"
                                                               : "not HEP3");
    if ((size_t)total > len)
        return fail(out, HEP_PARTIAL, "total length beyond the bytes present");

    cur_t c = cur_make(buf + HEP_HDR_LEN, (size_t)total - HEP_HDR_LEN);
    hep_addrs_t addrs = {0};
    while (cur_left(&c) > 0) {
        if (cur_left(&c) < HEP_CHUNK_HDR)
            return fail(out, HEP_INVALID, "chunk header past the end");
        unsigned vendor = cur_be16(&c);
        unsigned type = cur_be16(&c);
        unsigned clen = cur_be16(&c);
        if (clen < HEP_CHUNK_HDR)
            return fail(out, HEP_INVALID, "chunk length below 6");
        /* Bounded by its own length and by the packet's: a chunk past the end is an error. */
        cur_t v = cur_sub(&c, clen - HEP_CHUNK_HDR);
        if (v.err)
            return fail(out, HEP_INVALID, "chunk past the end");
        out->n_chunks++;
        if (vendor != 0 || type == 0 || type > HEP_LAST_KNOWN) {
            out->n_unknown++;
            continue;
        }
        if (out->chunks_seen & BIT(type))
            return fail(out, HEP_INVALID, "duplicate chunk");
        out->chunks_seen |= BIT(type);
        if (fixed_size[type] != 0 && cur_left(&v) != fixed_size[type])
            return fail(out, HEP_INVALID, "fixed-size chunk of the wrong size");
        if (!decode_chunk(out, type, &v, &addrs))
            return HEP_INVALID;
    }

    uint32_t seen = out->chunks_seen;
    if (!(seen & BIT(HEP_CHUNK_IP_FAMILY)))
        return fail(out, HEP_INVALID, "no IP family");
    if (addrs.family == HEP_AF_INET) {
        if ((seen & (BIT(HEP_CHUNK_IPV4_SRC) | BIT(HEP_CHUNK_IPV4_DST))) !=
            (BIT(HEP_CHUNK_IPV4_SRC) | BIT(HEP_CHUNK_IPV4_DST)))
            return fail(out, HEP_INVALID, "no IPv4 addresses");
        out->src.addr = addrs.v4s;
        out->dst.addr = addrs.v4d;
    } else if (addrs.family == HEP_AF_INET6) {
        if ((seen & (BIT(HEP_CHUNK_IPV6_SRC) | BIT(HEP_CHUNK_IPV6_DST))) !=
            (BIT(HEP_CHUNK_IPV6_SRC) | BIT(HEP_CHUNK_IPV6_DST)))
            return fail(out, HEP_INVALID, "no IPv6 addresses");
        out->src.addr = addrs.v6s;
        out->dst.addr = addrs.v6d;
    } else {
        return fail(out, HEP_INVALID, "unknown IP family");
    }
    if ((seen & (BIT(HEP_CHUNK_SRC_PORT) | BIT(HEP_CHUNK_DST_PORT))) !=
        (BIT(HEP_CHUNK_SRC_PORT) | BIT(HEP_CHUNK_DST_PORT)))
        return fail(out, HEP_INVALID, "no ports");
    if (!(seen & BIT(HEP_CHUNK_TS_SEC)))
        return fail(out, HEP_INVALID, "no timestamp");
    if (!(seen & BIT(HEP_CHUNK_PROTO_TYPE)))
        return fail(out, HEP_INVALID, "no protocol type");
    if (out->payload == NULL)
        return fail(out, HEP_INVALID, "no payload");
    return total;
}

/* ---- encoder ---- */

static bool sv_ok(sv_t s)
{
    return s.len == 0 || s.p != NULL;
}

size_t hep_encoded_len(const hep_msg_t *msg)
{
    size_t addr = msg->src.addr.family == 6 ? 16 : 4;
    size_t n = HEP_HDR_LEN;
    n += 2 * (HEP_CHUNK_HDR + 1);    /* family, ip proto */
    n += 2 * (HEP_CHUNK_HDR + addr); /* addresses */
    n += 2 * (HEP_CHUNK_HDR + 2);    /* ports */
    n += 2 * (HEP_CHUNK_HDR + 4);    /* timestamps */
    n += HEP_CHUNK_HDR + 1;          /* protocol type */
    n += HEP_CHUNK_HDR + 4;          /* agent id */
    if (msg->auth_key.len > 0)
        n += HEP_CHUNK_HDR + msg->auth_key.len;
    if (msg->correlation_id.len > 0)
        n += HEP_CHUNK_HDR + msg->correlation_id.len;
    n += HEP_CHUNK_HDR + msg->payload_len;
    return n;
}

static uint8_t *put16(uint8_t *w, unsigned v)
{
    w[0] = (uint8_t)(v >> 8);
    w[1] = (uint8_t)v;
    return w + 2;
}

static uint8_t *put32(uint8_t *w, uint32_t v)
{
    w = put16(w, v >> 16);
    return put16(w, v & 0xffff);
}

/* A generic chunk header followed by the n value bytes at val. Sizes were
 * checked by hep_encode against HEP_MAX_LEN, so every length fits 16 bits. */
static uint8_t *put_chunk(uint8_t *w, unsigned type, const void *val, size_t n)
{
    w = put16(w, 0);
    w = put16(w, type);
    w = put16(w, (unsigned)(HEP_CHUNK_HDR + n));
    if (n > 0)
        memcpy(w, val, n);
    return w + n;
}

static uint8_t *put_chunk16(uint8_t *w, unsigned type, uint16_t v)
{
    uint8_t be[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    return put_chunk(w, type, be, sizeof(be));
}

static uint8_t *put_chunk32(uint8_t *w, unsigned type, uint32_t v)
{
    uint8_t be[4];
    put32(be, v);
    return put_chunk(w, type, be, sizeof(be));
}

int hep_encode(const hep_msg_t *msg, uint8_t *buf, size_t cap)
{
    uint8_t fam = msg->src.addr.family;
    if ((fam != 4 && fam != 6) || msg->dst.addr.family != fam || !sv_ok(msg->auth_key) ||
        !sv_ok(msg->correlation_id) || msg->payload_len == 0 || msg->payload == NULL)
        return -EINVAL;
    size_t total = hep_encoded_len(msg);
    if (total > HEP_MAX_LEN)
        return -EMSGSIZE;
    if (total > cap)
        return -ENOSPC;

    uint8_t *w = buf;
    memcpy(w, hep_magic, sizeof(hep_magic));
    w = put16(w + 4, (unsigned)total);
    uint8_t af = fam == 4 ? HEP_AF_INET : HEP_AF_INET6;
    w = put_chunk(w, HEP_CHUNK_IP_FAMILY, &af, 1);
    w = put_chunk(w, HEP_CHUNK_IP_PROTO, &msg->ip_proto, 1);
    size_t alen = fam == 4 ? 4 : 16;
    w = put_chunk(w, fam == 4 ? HEP_CHUNK_IPV4_SRC : HEP_CHUNK_IPV6_SRC, msg->src.addr.bytes, alen);
    w = put_chunk(w, fam == 4 ? HEP_CHUNK_IPV4_DST : HEP_CHUNK_IPV6_DST, msg->dst.addr.bytes, alen);
    w = put_chunk16(w, HEP_CHUNK_SRC_PORT, msg->src.port);
    w = put_chunk16(w, HEP_CHUNK_DST_PORT, msg->dst.port);
    w = put_chunk32(w, HEP_CHUNK_TS_SEC, msg->ts_sec);
    w = put_chunk32(w, HEP_CHUNK_TS_USEC, msg->ts_usec);
    w = put_chunk(w, HEP_CHUNK_PROTO_TYPE, &msg->proto_type, 1);
    w = put_chunk32(w, HEP_CHUNK_AGENT_ID, msg->agent_id);
    if (msg->auth_key.len > 0)
        w = put_chunk(w, HEP_CHUNK_AUTH_KEY, msg->auth_key.p, msg->auth_key.len);
    if (msg->correlation_id.len > 0)
        w = put_chunk(w, HEP_CHUNK_CORRELATION, msg->correlation_id.p, msg->correlation_id.len);
    w = put_chunk(w, msg->compressed ? HEP_CHUNK_COMPRESSED : HEP_CHUNK_PAYLOAD, msg->payload,
                  msg->payload_len);
    return (int)(w - buf);
}

const char *hep_proto_name(uint8_t proto_type)
{
    switch (proto_type) {
        case HEP_PROTO_SIP:
            return "SIP";
        case HEP_PROTO_XMPP:
            return "XMPP";
        case HEP_PROTO_SDP:
            return "SDP";
        case HEP_PROTO_RTP:
            return "RTP";
        case HEP_PROTO_RTCP:
            return "RTCP";
        case HEP_PROTO_MGCP:
            return "MGCP";
        case HEP_PROTO_LOG:
            return "LOG";
        default:
            return "unknown";
    }
}
