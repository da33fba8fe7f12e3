/* ipfrag: IPv4 and IPv6 fragment reassembly with a preallocated, bounded block pool. */
#ifndef SIPSCOPE_IPFRAG_H
#define SIPSCOPE_IPFRAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cap.h"

/* Largest reassembled payload: an IP datagram cannot be longer than 65535 bytes. */
#define IPFRAG_MAX_DGRAM 65535u

/* What identifies one datagram (RFC 791 §3.2: source, destination, protocol, identification;
 * RFC 8200 §4.5: source, destination, identification). The outermost VLAN is part of the key
 * so that the same datagram mirrored on two VLANs reassembles twice instead of overlapping.
 * Fixed layout without padding: compared with memcmp and hashed as bytes. Zero it first. */
typedef struct {
    uint8_t src[16], dst[16];
    uint32_t id;
    uint16_t vlan;
    uint8_t family; /* 4 or 6 */
    uint8_t proto;  /* IPv4 protocol, or the Next Header of the IPv6 fragment header */
} ipfrag_key_t;

typedef struct ipfrag ipfrag_t;

/* Verdicts of ipfrag_add. */
typedef enum {
    IPFRAG_HELD,    /* stored (or a harmless duplicate); the datagram is still incomplete */
    IPFRAG_DONE,    /* the datagram is whole: its payload was copied to out */
    IPFRAG_DROPPED, /* the datagram was given up (counted in stats->frag_dropped) */
    IPFRAG_BAD      /* the fragment itself is malformed (caller counts bad_header) */
} ipfrag_verdict_t;

/* A table holding at most max_bytes of fragment data (rounded down to whole 2 KB blocks, at
 * least one). Counters go to stats (borrowed; must outlive the table). NULL on allocation
 * failure. Caller frees with ipfrag_free. */
ipfrag_t *ipfrag_new(size_t max_bytes, uint32_t timeout_ms, cap_stats_t *stats);
void ipfrag_free(ipfrag_t *t);

/* Add the fragment [off, off+len) of the datagram key, seen at ts_ns. more is the MF / M flag.
 * max_end bounds off+len (what still fits in 65535 bytes with the headers in front).
 * On IPFRAG_DONE, out (IPFRAG_MAX_DGRAM bytes, caller's) holds the payload and *out_len its
 * length, and the table has already forgotten the datagram. */
ipfrag_verdict_t ipfrag_add(ipfrag_t *t, const ipfrag_key_t *key, int64_t ts_ns, uint32_t off,
                            const uint8_t *data, uint32_t len, bool more, uint32_t max_end,
                            uint8_t *out, size_t *out_len);

/* Forget datagrams whose first fragment is older than the timeout (counted frag_timeouts). */
void ipfrag_expire(ipfrag_t *t, int64_t now_ns);

/* Forget every datagram (no counting); the memory stays allocated for reuse. */
void ipfrag_reset(ipfrag_t *t);

/* Datagrams currently held (for tests and stats). */
size_t ipfrag_count(const ipfrag_t *t);

#endif
