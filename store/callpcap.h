/* callpcap: every call's packets in a pcap file of its own, filed by date under a directory. */
#ifndef SIPSCOPE_CALLPCAP_H
#define SIPSCOPE_CALLPCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "packet_view.h"
#include "records.h"
#include "store.h"

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

/* Append pkt to ref's call file: the frame from its IP header on, or, for a SIP message cut
 * out of a TCP stream (pkt->payload/len the message), a reassembled datagram or a view with no
 * frame (HEP), a UDP datagram made from the view's addresses and payload. */
void callpcap_write(callpcap_t *cp, call_ref_t ref, const packet_view_t *pkt);
/* The call ended: close its file (it is complete). */
void callpcap_close_call(callpcap_t *cp, int64_t row);
void callpcap_get_stats(const callpcap_t *cp, callpcap_stats_t *out);

/* ---- reading: one way for `export` and the API to get a call's pcap ---- */

typedef struct {
    int fd;         /* the call's own file, open for reading; -1 when rebuilt */
    char *data;     /* rebuilt: the pcap bytes (freed by store_call_pcap_close) */
    size_t size;    /* of the file or of data */
    bool rebuilt;   /* no file of its own: SIP only, rebuilt from the stored messages */
    size_t skipped; /* rebuilt: messages left out (no addresses, too big for one packet) */
} store_call_pcap_t;

/* The pcap of call row: its own file under pcap_dir (NULL: the directory the store remembers
 * from the capture) with every packet as captured, or else its stored SIP messages rebuilt as
 * a pcap (store_call_pcap_rebuild). 0; -ENOENT for an unknown call; a negative errno for store
 * errors. Release with store_call_pcap_close. */
/* What a rebuilt pcap lacks, in words for the user (the API's X-Sipscope-Pcap-Content, export). */
#define STORE_CALL_PCAP_REBUILT_NOTE                                                               \
    "SIP only, rebuilt from the stored messages (no per-call pcap file: captured without "        \
    "--pcap-dir)"

int store_call_pcap_open(store_t *s, int64_t row, const char *pcap_dir, store_call_pcap_t *out);
void store_call_pcap_close(store_call_pcap_t *p);

/* Build a pcap file (Ethernet, IPv4/IPv6, UDP or TCP) of the call's stored SIP messages.
 * *out is malloc'd (caller frees), *len its size, *skipped (may be NULL) the messages left out
 * (no addresses, or too big for one IP packet). 0 or a negative errno (store errors as the
 * store returns them). */
int store_call_pcap_rebuild(store_t *s, int64_t call_row, char **out, size_t *len,
                            size_t *skipped);

#endif
