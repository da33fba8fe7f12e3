/* dtmf: DTMF digits as they travel: RFC 4733 telephone-event packets (one event is several
 * packets with the same RTP timestamp: updates, then an end packet sent three times) and SIP
 * INFO bodies (application/dtmf-relay "Signal=5\r\nDuration=160", application/dtmf "5").
 * The event decoder of one packet is rtp_event_parse (rtp.h); this groups packets into events. */
#ifndef SIPSCOPE_DTMF_H
#define SIPSCOPE_DTMF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtp.h"

#define DTMF_OK      0
#define DTMF_INVALID (-1)

/* "0".."9", "*", "#", "A".."D" for events 0..15, "flash" for 16 (RFC 4733 3.2); NULL for
 * other events (tones, line events): they are not DTMF. Static strings. */
const char *dtmf_event_name(uint8_t event);

/* One finished event. */
typedef struct {
    uint8_t event;
    uint8_t volume;    /* -dBm0 of its last packet */
    int64_t start_ns;  /* arrival of its first packet */
    uint32_t duration; /* timestamp units: the largest duration field seen */
    bool ended;        /* an end packet was seen (else cut short: a new event, or the end) */
} dtmf_event_t;

/* Per-stream state; zeroed is "no event". */
typedef struct {
    bool active;      /* cur holds an event not handed out yet */
    bool have_last;   /* last_ts holds the timestamp of the last event handed out */
    uint32_t cur_ts;  /* RTP timestamp of cur (its identity, RFC 4733 2.5.1.2) */
    uint32_t last_ts; /* ... of the last one handed out: its retransmitted end packets */
    dtmf_event_t cur;
} dtmf_track_t;

/* One telephone-event packet of the stream (h its RTP header, arrival ts_ns). Returns true
 * when an event is finished and written to *out: this packet's own when it is the first end
 * packet of it, or the previous one when this packet starts another event without the previous
 * having ended. A packet of a DTMF-less event (dtmf_event_name NULL), a retransmitted end and a
 * payload shorter than 4 bytes change nothing. At most one event comes out per packet: a packet
 * that both cuts the previous event short and is itself a complete (end) event holds its own
 * event back until the next packet or dtmf_track_flush. */
bool dtmf_track_packet(dtmf_track_t *t, int64_t ts_ns, const rtp_hdr_t *h, dtmf_event_t *out);

/* The stream ends: the event in progress, if any (ended false unless its end was seen). */
bool dtmf_track_flush(dtmf_track_t *t, dtmf_event_t *out);

/* A SIP INFO body: application/dtmf-relay ("Signal=" and optional "Duration=" ms lines, in
 * any order, case-insensitive keys) or application/dtmf (the digit alone). The content type
 * says which (NUL-free text, e.g. "application/dtmf-relay"); *event gets the event code,
 * *duration_ms the duration (0 when absent). DTMF_INVALID for another type or no digit. */
int dtmf_info_parse(const char *content_type, size_t ct_len, const char *body, size_t len,
                    uint8_t *event, uint32_t *duration_ms);

#endif
