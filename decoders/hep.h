/* hep: HEPv3 (EEP) encapsulation decoder and encoder, the protocol of Homer, heplify, captagent. */
#ifndef SIPSCOPE_HEP_H
#define SIPSCOPE_HEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"
#include "sv.h"

#define HEP_INVALID (-1)
#define HEP_PARTIAL (-2)

#define HEP_HDR_LEN   6      /* "HEP3" + 16-bit total length */
#define HEP_CHUNK_HDR 6      /* vendor id, type id, length: 16 bits each */
#define HEP_MAX_LEN   65535u /* the total length is 16 bits */

/* Generic chunk types (vendor 0) of the HEP3 specification (layout in hep.c). */
enum {
    HEP_CHUNK_IP_FAMILY = 1, /* uint8: 2 = IPv4, 10 = IPv6 */
    HEP_CHUNK_IP_PROTO = 2,  /* uint8: 17 UDP, 6 TCP, 132 SCTP */
    HEP_CHUNK_IPV4_SRC = 3,  /* 4 bytes */
    HEP_CHUNK_IPV4_DST = 4,
    HEP_CHUNK_IPV6_SRC = 5, /* 16 bytes */
    HEP_CHUNK_IPV6_DST = 6,
    HEP_CHUNK_SRC_PORT = 7, /* uint16 */
    HEP_CHUNK_DST_PORT = 8,
    HEP_CHUNK_TS_SEC = 9,       /* uint32, Unix seconds */
    HEP_CHUNK_TS_USEC = 10,     /* uint32, microseconds offset */
    HEP_CHUNK_PROTO_TYPE = 11,  /* uint8, HEP_PROTO_* */
    HEP_CHUNK_AGENT_ID = 12,    /* uint32, capture agent id */
    HEP_CHUNK_KEEPALIVE = 13,   /* uint16, keep-alive timer (read and ignored) */
    HEP_CHUNK_AUTH_KEY = 14,    /* octet string */
    HEP_CHUNK_PAYLOAD = 15,     /* octet string: the captured payload */
    HEP_CHUNK_COMPRESSED = 16,  /* octet string: gzip-compressed payload */
    HEP_CHUNK_CORRELATION = 17, /* octet string: internal correlation id (Call-ID for SIP) */
};

/* Protocol types carried in chunk 11. Homer's collectors expect type 5 to carry heplify's RTCP
 * JSON; sipscope's own receiver also accepts binary RTCP there. */
enum {
    HEP_PROTO_SIP = 1,
    HEP_PROTO_XMPP = 2,
    HEP_PROTO_SDP = 3,
    HEP_PROTO_RTP = 4,
    HEP_PROTO_RTCP = 5,
    HEP_PROTO_MGCP = 6,
    HEP_PROTO_LOG = 100,
};

/* One HEPv3 packet. Decoded: every pointer borrows from the parsed buffer. For hep_encode the
 * caller fills it (zero-initialise first); nothing is taken over. */
typedef struct {
    net_endpoint_t src, dst; /* addr.family 4 or 6; both of the same family */
    uint8_t ip_proto;        /* 17 UDP, 6 TCP ...; 0 when the chunk was absent */
    uint32_t ts_sec;         /* capture time */
    uint32_t ts_usec;        /* 0..999999; 0 when the chunk was absent */
    uint8_t proto_type;      /* HEP_PROTO_* */
    uint32_t agent_id;       /* capture agent id; 0 when absent */
    const uint8_t *payload;  /* chunk 15, or chunk 16 when compressed (not inflated) */
    size_t payload_len;
    bool compressed;     /* the payload is gzip data from chunk 16 */
    sv_t auth_key;       /* empty when absent */
    sv_t correlation_id; /* empty when absent */
    /* Decoder only (ignored by hep_encode): */
    uint32_t chunks_seen; /* bit t set for each generic chunk type t (1..17) present */
    unsigned n_chunks;    /* chunks walked, unknown ones included */
    unsigned n_unknown;   /* chunks skipped: other vendors, generic types above 17 */
    const char *reason;   /* HEP_INVALID/HEP_PARTIAL: why, a static string; else NULL */
} hep_msg_t;

/* Frame the stream: look only at the 6-byte header. Returns the packet's total length (6 ..
 * 65535) when the header is there and sane, HEP_PARTIAL when fewer than 6 bytes are present and
 * they are a prefix of "HEP3", HEP_INVALID otherwise (wrong magic, total length < 6). For
 * reassembling back-to-back packets on TCP before the whole packet is in. */
int hep_frame_len(const uint8_t *buf, size_t len);

/* Decode one HEPv3 packet from the start of buf. Returns the bytes consumed (its total length,
 * > 0), HEP_PARTIAL when buf holds only a prefix of a packet (total length > len), or
 * HEP_INVALID; in both failure cases out->reason says why. Each chunk is bounded by its own
 * length and by the packet's total length; unknown chunks and other vendors' chunks are
 * skipped and counted. Mandatory: IP family (2 or 10) with both addresses of that family,
 * both ports, timestamp seconds, protocol type, and a payload (chunk 15 or 16). Fixed-size
 * chunks must have exactly their size; a known chunk twice, usec >= 10^6 or an empty payload
 * is invalid. For a datagram, HEP_PARTIAL means truncated; bytes after the total length are a
 * further packet (or garbage) for the caller to judge. out borrows from buf. */
int hep_parse(const uint8_t *buf, size_t len, hep_msg_t *out);

/* Bytes hep_encode needs for msg (may exceed HEP_MAX_LEN). */
size_t hep_encoded_len(const hep_msg_t *msg);

/* Encode msg as one HEPv3 packet: chunks 1, 2, addresses, ports, timestamps, 11, 12, 14 (when
 * auth_key is set), 17 (when correlation_id is set) and 15 (16 when compressed), in that
 * order. Returns the bytes written; -EINVAL when src/dst are not both IPv4 or both IPv6, the
 * payload is empty, or a view is non-empty with a NULL pointer; -EMSGSIZE when the packet
 * would exceed HEP_MAX_LEN; -ENOSPC when cap is too small (buf then holds nothing useful). */
int hep_encode(const hep_msg_t *msg, uint8_t *buf, size_t cap);

/* "SIP", "RTCP", ... or "unknown". Static string. */
const char *hep_proto_name(uint8_t proto_type);

#endif
