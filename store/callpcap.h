/* callpcap: every call's packets in a pcap file of its own, filed by date under a directory. */
#ifndef SIPSCOPE_CALLPCAP_H
#define SIPSCOPE_CALLPCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "packet_view.h"
#include "records.h"

typedef struct callpcap callpcap_t;

typedef struct {
    uint64_t frames_written;
    uint64_t files_opened;       /* opens, reopens after eviction from the open-file cache included */
    uint64_t write_errors;
} callpcap_stats_t;

/* Files are DIR/YYYY-MM-DD/HH/ROW.pcap (UTC time of the call's INVITE; common/pcappath.h), nanosecond pcap with
 * link type RAW (101): each packet from its IP header on, as it was on the wire; a datagram
 * reassembled from IP fragments is written whole, and SIP over TCP as one UDP datagram per
 * message with the connection's addresses and ports, so every message reads on its own.
 * At most max_open files are open at once (least recently used closed first).
 * NULL with a reason in err when DIR cannot be created. */
callpcap_t *callpcap_new(const char *dir, size_t max_open, char *err, size_t errlen);
void callpcap_free(callpcap_t *cp);

/* Append pkt to ref's call file. For TCP pass the SIP message's own bytes (msg, msg_len);
 * otherwise NULL/0. */
void callpcap_write(callpcap_t *cp, call_ref_t ref, const packet_view_t *pkt, const uint8_t *msg,
                    size_t msg_len);
/* The call ended: close its file (it is complete). */
void callpcap_close_call(callpcap_t *cp, int64_t row);
void callpcap_get_stats(const callpcap_t *cp, callpcap_stats_t *out);

#endif
