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

/* How much of each RTP packet a call's file keeps (--rtp-pcap). SIP and RTCP are always whole. */
typedef enum {
    CALLPCAP_RTP_FULL = 0, /* every RTP packet as captured */
    CALLPCAP_RTP_HEADER,   /* up to the end of the RTP header (12 bytes, CSRCs, extension); the
                              record's caplen is shorter than its len, as VoIPmonitor's
                              savertp=header: Wireshark still reads seq, timestamp and SSRC */
    CALLPCAP_RTP_NONE,     /* no RTP or RTCP at all: SIP only */
} callpcap_rtp_t;

/* How a call's file is written (--pcap-compress). */
typedef enum {
    CALLPCAP_PLAIN = 0, /* ROW.pcap */
    CALLPCAP_GZIP,      /* ROW.pcap.gz, which Wireshark and tshark open as they are */
} callpcap_compress_t;

/* What a packet handed to callpcap_write is (the engine knows; RTP is cut by the RTP mode). */
typedef enum { CALLPCAP_PKT_SIP = 0, CALLPCAP_PKT_RTP, CALLPCAP_PKT_RTCP } callpcap_pkt_t;

typedef struct {
    size_t max_open;    /* files open at once (0: 256); least recently used closed */
    callpcap_rtp_t rtp; /* what callers feed; the writer cuts RTP by it */
    callpcap_compress_t compress;
} callpcap_cfg_t;

/* The names of the command line ("full", "header", "none"; "none", "gzip"): 0, or -EINVAL. */
int callpcap_rtp_parse(const char *name, callpcap_rtp_t *out);
int callpcap_compress_parse(const char *name, callpcap_compress_t *out);

typedef struct {
    uint64_t frames_written;
    uint64_t files_opened; /* opens, reopens after eviction from the open-file cache included */
    uint64_t write_errors;
    uint64_t gzip_state_bytes; /* held now by the open files' deflate states */
} callpcap_stats_t;

/* gzip keeps each open file's deflate state: window 2^CALLPCAP_GZ_WBITS bytes, memLevel
 * CALLPCAP_GZ_MEMLEVEL, level CALLPCAP_GZ_LEVEL. zlib's deflate takes (1 << (wbits + 2)) +
 * (1 << (memlevel + 9)) bytes plus a 6 KB state: 54 KB per open file (measured:
 * stats.gzip_state_bytes), 14 MB for the 256 files the engine keeps open, on top of each file's
 * 4 KB stdio buffer that a plain file has too. Why these: see callpcap.c. */
#define CALLPCAP_GZ_LEVEL    1
#define CALLPCAP_GZ_WBITS    12
#define CALLPCAP_GZ_MEMLEVEL 6

/* Files are DIR/YYYY-MM-DD/HH/ROW.pcap (UTC time of the call's INVITE; common/pcappath.h), or
 * ROW.pcap.gz with CALLPCAP_GZIP, nanosecond pcap with link type RAW (101): each packet from its
 * IP header on, as it was on the wire; a datagram reassembled from IP fragments is written
 * whole, and SIP over TCP as one UDP datagram per message with the connection's addresses and
 * ports, so every message reads on its own. At most cfg->max_open files are open at once (least
 * recently used closed first; a gzip file reopened later gets another gzip member, which gzip,
 * zlib and Wireshark read as one stream). A file is complete (gzip trailer written) once its
 * call ends (callpcap_close_call) or at callpcap_free. cfg NULL: defaults. NULL with a reason in
 * err when DIR cannot be created. Caller frees with callpcap_free. */
callpcap_t *callpcap_new(const char *dir, const callpcap_cfg_t *cfg, char *err, size_t errlen);
void callpcap_free(callpcap_t *cp);

/* Append pkt to ref's call file: the frame from its IP header on, or, for a SIP message cut
 * out of a TCP stream (pkt->payload/len the message), a reassembled datagram or a view with no
 * frame (HEP), a UDP datagram made from the view's addresses and payload. kind says whether
 * the payload is RTP (cut in CALLPCAP_RTP_HEADER mode; dropped in CALLPCAP_RTP_NONE, as RTCP). */
void callpcap_write(callpcap_t *cp, call_ref_t ref, const packet_view_t *pkt, callpcap_pkt_t kind);
/* The call ended: close its file (it is complete). */
void callpcap_close_call(callpcap_t *cp, int64_t row);
void callpcap_get_stats(const callpcap_t *cp, callpcap_stats_t *out);

/* ---- reading: one way for `export` and the API to get a call's pcap ---- */

typedef struct {
    int fd;         /* the call's own file, open for reading; -1 when rebuilt */
    char *data;     /* rebuilt: the pcap bytes (freed by store_call_pcap_close) */
    size_t size;    /* of the file or of data */
    bool rebuilt;   /* no file of its own: SIP only, rebuilt from the stored messages */
    bool gzip;      /* the bytes are gzip-compressed (a ROW.pcap.gz, or store_call_pcap_as) */
    size_t skipped; /* rebuilt: messages left out (no addresses, too big for one packet) */
} store_call_pcap_t;

/* What a rebuilt pcap lacks, in words for the user (the API's X-Sipscope-Pcap-Content, export). */
#define STORE_CALL_PCAP_REBUILT_NOTE                                                               \
    "SIP only, rebuilt from the stored messages (no per-call pcap file: captured without "         \
    "--pcap-dir)"

/* The pcap of call row: its own file under pcap_dir (NULL: the directory the store remembers
 * from the capture), ROW.pcap or ROW.pcap.gz (then gzip is set), with every packet the capture
 * kept, or else its stored SIP messages rebuilt as a pcap (store_call_pcap_rebuild). 0; -ENOENT
 * for an unknown call; a negative errno for store errors. Release with store_call_pcap_close. */
int store_call_pcap_open(store_t *s, int64_t row, const char *pcap_dir, store_call_pcap_t *out);
/* Make p's bytes gzip-compressed or plain pcap, as asked: nothing to do when they already are;
 * otherwise an own file is converted into an unlinked temporary file (under $TMPDIR, else
 * /tmp; fd and size replaced) and rebuilt data in memory. A gzip file cut short (its call still
 * being written) gives the packets up to the cut. 0, or a negative errno (p unchanged). */
int store_call_pcap_as(store_call_pcap_t *p, bool gzip);
void store_call_pcap_close(store_call_pcap_t *p);

/* Build a pcap file (Ethernet, IPv4/IPv6, UDP or TCP) of the call's stored SIP messages.
 * *out is malloc'd (caller frees), *len its size, *skipped (may be NULL) the messages left out
 * (no addresses, or too big for one IP packet). 0 or a negative errno (store errors as the
 * store returns them). */
int store_call_pcap_rebuild(store_t *s, int64_t call_row, char **out, size_t *len, size_t *skipped);

#endif
