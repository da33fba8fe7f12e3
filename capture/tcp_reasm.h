/* tcp_reasm: per-direction TCP stream reassembly feeding a consumer that takes whole messages. */
#ifndef SIPSCOPE_TCP_REASM_H
#define SIPSCOPE_TCP_REASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cap.h"

/* One direction of a connection. Fixed layout without padding (memcmp, hashed as bytes); zero
 * it before filling. IPv4 addresses use the first 4 bytes. */
typedef struct {
    uint8_t src[16], dst[16];
    uint16_t sport, dport;
    uint16_t vlan;
    uint8_t family;
    uint8_t pad;
} tcpreasm_key_t;

/* TCP header flag bits (RFC 9293 §3.1) that matter here. */
enum { TCPR_FIN = 0x01, TCPR_SYN = 0x02, TCPR_RST = 0x04 };

/* Offered all in-order, unconsumed bytes of a direction (borrowed, valid during the call);
 * returns how many it consumed. reassembled: the bytes came from the buffer (several
 * segments) rather than straight from the current segment. */
typedef size_t (*tcpreasm_deliver_fn)(void *ctx, const uint8_t *data, size_t len, bool reassembled);

typedef struct tcpreasm tcpreasm_t;

/* A table of at most max_flows directions, each buffering at most max_buffer bytes, forgotten
 * after timeout_ms of capture time without a segment. Counters go to stats (borrowed). NULL on
 * allocation failure; caller frees with tcpreasm_free. */
tcpreasm_t *tcpreasm_new(size_t max_flows, size_t max_buffer, uint32_t timeout_ms,
                         cap_stats_t *stats);
void tcpreasm_free(tcpreasm_t *t);

/* Account one segment of direction key: seq is its sequence number, flags the TCP flags, data
 * its payload (borrowed). Calls fn at most a few times, never for a segment without payload. */
void tcpreasm_segment(tcpreasm_t *t, const tcpreasm_key_t *key, int64_t ts_ns, uint32_t seq,
                      uint8_t flags, const uint8_t *data, size_t len, tcpreasm_deliver_fn fn,
                      void *ctx);

/* Forget directions idle for longer than the timeout (counted tcp_flows_timed_out). */
void tcpreasm_expire(tcpreasm_t *t, int64_t now_ns);

/* Forget every direction without delivering anything; buffers are kept for reuse. */
void tcpreasm_reset(tcpreasm_t *t);

/* Directions currently tracked (for tests and stats). */
size_t tcpreasm_count(const tcpreasm_t *t);

#endif
