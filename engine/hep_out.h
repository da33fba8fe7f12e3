/* hep_out: HEPv3 to a collector (Homer, heplify-server, a central sipscope): a sender that
 * never blocks its caller. */
#ifndef SIPSCOPE_HEP_OUT_H
#define SIPSCOPE_HEP_OUT_H

#include <stddef.h>
#include <stdint.h>

#include "hep.h"
#include "netaddr.h"
#include "records.h"
#include "sv.h"

/* ---- sender ---- */

typedef struct hep_sender hep_sender_t;

/* Counters, all monotonic except queue_now. At any moment
 * queued == sent + lost + queue_now. */
typedef struct {
    uint64_t queued;      /* accepted by hep_sender_send* */
    uint64_t dropped;     /* refused because the queue was full (messages or bytes) */
    uint64_t rejected;    /* refused because unencodable (too big for HEP, bad addresses) */
    uint64_t sent;        /* handed to the kernel whole (TCP: on a connection still open
                             after: see lost) */
    uint64_t lost;        /* accepted but never sent: send errors, or still queued at free;
                             and over TCP, written on a connection the collector then closed
                             (refused or reset) before it was seen open again: a write
                             succeeds until the RST comes back, so those count here */
    uint64_t send_errors; /* failed send/connect calls (a TCP message may be retried) */
    uint64_t connects;    /* TCP connections established (the first and every reconnect) */
    uint64_t queue_now;   /* messages waiting now */
} hep_sender_stats_t;

/* Start a sender to spec "HOST:PORT[,transport=udp|tcp][,qos=on|off]" (HOST a name, IPv4, or
 * [IPv6]; transport defaults to udp; qos=off: no stream quality reports, for collectors that
 * take only SIP, such as Kamailio's sipcapture). Every packet carries agent_id and, when auth_key
 * is non-NULL and non-empty, that key (copied). The queue holds at most queue_len messages (0 =
 * 8192) and at most queue_len * 1.5 KB bytes (at least 256 KB, at most 256 MB); when either is
 * full, sends are dropped. A thread of its own drains it: UDP with one send per packet on a
 * connected socket; TCP as back-to-back HEP packets, connecting lazily and reconnecting with
 * backoff (100 ms doubling to 2 s) when the collector goes away; while disconnected the queue fills
 * and then drops. Before each TCP write it checks that the collector has not closed the connection
 * (an idle timeout: it then connects again, losing nothing), and when the queue runs empty it waits
 * up to 200 ms for the last bytes' acknowledgement and checks again, so messages a collector
 * refused show as lost.
 * Returns NULL with a reason in err on a bad spec, an unresolvable host or no memory. Name
 * resolution happens here, once. Caller frees with hep_sender_free. */
hep_sender_t *hep_sender_new(const char *spec, uint32_t agent_id, const char *auth_key,
                             size_t queue_len, char *err, size_t errlen);

/* Queue one packet; never blocks on the network (it takes a mutex for the time of a memcpy;
 * see hep_sender_set_block for the one exception).
 * msg's agent_id and auth_key are replaced by the sender's; the rest is encoded as given and
 * copied, so msg and what it points to stay the caller's. Returns 0 when queued, -ENOBUFS when
 * the queue is full (counted in dropped), -EMSGSIZE/-EINVAL when it cannot be encoded
 * (counted in rejected). Safe to call from several threads. */
int hep_sender_send(hep_sender_t *s, const hep_msg_t *msg);

/* One SIP message (proto type 1) seen from src to dst over ip_proto (17 UDP, 6 TCP) at ts_ns
 * (ns since the epoch), with call_id as the correlation id (may be empty). Borrowed arguments,
 * copied. Returns as hep_sender_send. */
int hep_sender_send_sip(hep_sender_t *s, const net_endpoint_t *src, const net_endpoint_t *dst,
                        uint8_t ip_proto, int64_t ts_ns, const uint8_t *payload, size_t len,
                        sv_t call_id);

/* One RTCP datagram (proto type 5), payload as captured (binary RTCP; Homer's own agents put
 * JSON there instead), call_id as correlation id when known (may be empty). As above. */
int hep_sender_send_rtcp(hep_sender_t *s, const net_endpoint_t *src, const net_endpoint_t *dst,
                         uint8_t ip_proto, int64_t ts_ns, const uint8_t *payload, size_t len,
                         sv_t call_id);

/* A quality report of one RTP stream (proto type 34, JSON as decoders/hep_qos.h writes it, the
 * RTP agent report Homer's heplify-server takes), from the stream's source to its destination,
 * stamped with its last packet's time, the Call-ID as correlation id. final: the stream ended
 * (TYPE "FINAL"), else a periodic report of its figures so far. A stream without a call
 * (call_id NULL or empty) has nothing to correlate with and is not sent (-EINVAL, not
 * counted); nor is anything with qos=off (-ENOTSUP). Returns as hep_sender_send. */
int hep_sender_send_qos(hep_sender_t *s, const stream_record_t *stream, bool final);
/* One interval of the stream's charts (TYPE "SAMPLE": the stream's identity and the sample's
 * SAMPLE_* keys), so that a central draws them as this probe does. As hep_sender_send_qos. */
int hep_sender_send_qos_sample(hep_sender_t *s, const stream_record_t *stream,
                               const sample_record_t *sample);

/* What a full queue does to hep_sender_send*: timeout_ms <= 0 (the default) drops at once, as
 * live capture must; > 0 waits up to timeout_ms for room first, for replays of files (analyze)
 * that would otherwise outrun the network and drop. A collector that is away still ends in
 * drops, timeout_ms per message. */
void hep_sender_set_block(hep_sender_t *s, int timeout_ms);

/* Wait until the queue is empty (everything sent or lost) or timeout_ms passed. Returns 0 when
 * empty, -ETIMEDOUT otherwise. For the end of a file: flush, then free. */
int hep_sender_flush(hep_sender_t *s, int timeout_ms);

/* A snapshot of the counters (safe from any thread). */
void hep_sender_stats(hep_sender_t *s, hep_sender_stats_t *out);

/* Stop the thread and free. What is still queued gets up to 1 s more to go out (none when a
 * TCP collector cannot be reached; call hep_sender_flush first to wait longer); the rest
 * counts as lost. No hep_sender_send* may run concurrently or after. NULL is fine. */
void hep_sender_free(hep_sender_t *s);

#endif
