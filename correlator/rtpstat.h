/* rtpstat: per-stream RTP quality (loss, jitter, delta, sequence errors, MOS), computed as
 * Wireshark 4.0's RTP stream analysis does (docs/design.md), in O(1) memory per stream. */
#ifndef SIPSCOPE_RTPSTAT_H
#define SIPSCOPE_RTPSTAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mos.h"
#include "rtp.h"

/* A stream is one SSRC from one source to one destination: the caller keeps one rtpstat_t per
 * (src, dst, ssrc) and feeds it that stream's packets in capture order.
 *
 * What each figure means (the details, and where we knowingly differ from tshark 4.0, are in
 * docs/mos.md "Stream figures"):
 * - lost = expected - received, expected = extended highest sequence number - base + 1
 *   (RFC 3550 A.1/A.3, 16-bit wrap handled); negative when duplicates outnumber losses.
 * - jitter: RFC 3550 A.8 J += (|D| - J) / 16 in arrival order, D from the integer ns arrival
 *   times and RTP timestamps. Telephone events (is_event) and dynamic payload types other than
 *   the stream's are counted but are not jitter samples (they have no clock rate).
 *   max_jitter_ms, mean_jitter_ms and max_delta_ms are tshark 4.0's: the first packet, marker
 *   packets, comfort noise (PT 13, 19) and the packet after it, and packets older than the first
 *   packet's timestamp do not count in them; the mean is Wireshark's running mean; and, as in
 *   Wireshark, a packet without clock still moves the arrival reference of the next D (after a
 *   DTMF burst this inflates the jitter). last_jitter_ms and rfc_max_jitter_ms are RFC 3550 proper:
 *   D between consecutive packets that have a clock rate.
 * - MOS: G.107 E-model (mos.h) from the loss a simulated jitter buffer sees: network loss plus
 *   packets that arrive too late to be played. */

#define RTPSTAT_WINDOW              64   /* sequence positions tracked behind the highest */
#define RTPSTAT_MAX_MISORDER        100  /* further behind than this: a stray or a restart */
#define RTPSTAT_MAX_DROPOUT         3000 /* a jump this far ahead needs a second packet */
#define RTPSTAT_FIXED_JB_MS         50   /* fixed jitter buffer depth */
#define RTPSTAT_ADAPTIVE_MIN_MS     20   /* adaptive buffer: 4 mean deviations, within these */
#define RTPSTAT_ADAPTIVE_MAX_MS     200
#define RTPSTAT_DEFAULT_INTERVAL_MS 5000 /* chart samples */

/* Loss as one jitter buffer plays it, over finalized sequence positions (a position is final
 * once it falls RTPSTAT_WINDOW behind the highest sequence number, or at the end). */
typedef struct {
    uint64_t positions; /* sequence positions finalized */
    uint64_t lost;      /* of those, not played: never received or too late */
    uint64_t bursts;    /* runs of consecutive lost positions */
    uint64_t late;      /* packets received but discarded as too late */
    bool in_burst;      /* the last finalized position was lost */
} rtpstat_jb_t;

/* Quality over one interval of the stream, for charts (sample_record_t in records.h). */
typedef struct {
    int64_t start_ns;     /* interval start: a multiple of the interval since the epoch */
    int64_t end_ns;       /* start_ns + interval (the last one ends at its last packet) */
    uint32_t packets;     /* received in the interval */
    int32_t lost;         /* expected - received in the interval (RFC 3550 A.3) */
    double jitter_ms;     /* jitter (tshark's series) at the end of the interval */
    double max_jitter_ms; /* largest jitter counted in the interval (same rule as max) */
    double mos;           /* fixed-buffer MOS of the positions finalized in the interval */
} rtpstat_sample_t;

/* Caller-provided storage, set up with rtpstat_init; no heap. Read the figures through
 * rtpstat_result(); the fields are public for debugging and tests, not for writing. */
typedef struct {
    /* What an in-order packet reads or writes comes first, up to iv_max_jitter_ms (a caller
     * that prefetches a stream's state needs only that much: RTPSTAT_HOT_BYTES). */
    /* configuration */
    uint32_t clock_rate; /* Hz of the stream's media payload type; 0 = unknown */
    int16_t media_pt;    /* payload type clock_rate applies to; -1: not known yet */
    uint8_t codec;       /* mos_codec_t; UNKNOWN: taken from a static PT on first packet */
    bool codec_known;    /* codec came from rtpstat_init, not guessed */
    int64_t interval_ns; /* chart sample interval */

    /* counters */
    uint64_t packets;          /* received, duplicates included */
    int64_t first_ns, last_ns; /* arrival of the first and last packets */

    /* sequence numbers (RFC 3550 A.1): extended numbers of the current segment */
    int64_t max_seq;       /* highest extended sequence number */
    int64_t fin_next;      /* first position not finalized yet */
    uint64_t win_recv;     /* bit i: position max_seq - i was received */
    uint64_t win_fixed;    /* bit i: ... and played by the fixed buffer */
    uint64_t win_adaptive; /* bit i: ... and played by the adaptive buffer */
    uint16_t bad_seq;      /* RFC 3550 A.1: the seq that confirms a stray's jump/restart */
    bool bad_seq_valid;

    /* timestamps and Wireshark's jitter state */
    uint8_t prev_pt;    /* payload type of the previous packet (comfort-noise rule) */
    uint32_t last_ts;   /* RTP timestamp of the previous packet */
    int64_t ext_ts;     /* its timestamp, extended, relative to the first packet's */
    int64_t time_ns;    /* arrival of the last packet in timestamp sequence */
    int64_t nominal_ts; /* extended timestamp of the last jitter sample */
    int64_t max_delta_ns;
    int64_t ptime_ns;      /* last timestamp step of one sequence number (packet time) */
    double jitter_ms;      /* current jitter, Wireshark's way */
    double max_jitter_ms;  /* as tshark (skips first/marker/CN packets) */
    double mean_jitter_ms; /* Wireshark's running mean */

    bool rfc_set;     /* RFC 3550 jitter: a packet with a clock rate was seen */
    bool transit_set; /* jitter buffers: a packet with a clock rate has set the references */

    /* RFC 3550 A.8 proper: only packets with a clock rate, compared with each other */
    int64_t rfc_time_ns; /* its arrival */
    int64_t rfc_ts;      /* its extended timestamp */
    double rfc_jitter_ms;
    double rfc_max_jitter_ms;

    /* jitter buffers: transit = arrival - media time, relative to the first packet (ns) */
    int64_t transit_anchor;       /* fixed buffer: transit of the first packet / talkspurt */
    int64_t transit_min_cur;      /* minimum transit in the current 10 s bucket */
    int64_t transit_min_prev;     /* ... and in the previous one */
    int64_t transit_bucket_ns;    /* start of the current bucket */
    double adaptive_mean_ms;      /* adaptive buffer: running mean of the transit */
    double adaptive_dev_ms;       /* ... and its mean deviation */
    double adaptive_delay_sum_ms; /* playout delay over the minimum transit, summed */
    uint64_t adaptive_delay_n;
    rtpstat_jb_t jb_fixed, jb_adaptive;

    /* chart samples */
    int64_t iv_start_ns; /* current interval; INT64_MIN when none is open */
    double iv_max_jitter_ms;

    /* Touched only when the sequence misbehaves (duplicates, reordering, restarts), when an
     * interval closes, for the MOS, or at the end. */
    uint64_t duplicates;    /* a sequence number seen before (within the window) */
    uint64_t out_of_order;  /* arrived after a higher sequence number (late copies too),
                               or a stray far from the sequence (RFC 3550 A.1) */
    uint64_t seq_errors;    /* packets after a gap, late or repeated, as Wireshark counts */
    int64_t base_seq;       /* first extended sequence number of the segment */
    int64_t expected_prior; /* expected in earlier segments (before a restart) */
    double rtt_ms;          /* round-trip time (RTCP), < 0 when unknown */
    uint64_t iv_packets0;   /* packets at the interval start */
    int64_t iv_expected0;   /* expected at the interval start */
    rtpstat_jb_t iv_jb0;    /* fixed-buffer counters at the interval start */
    bool iv_pending;        /* a completed sample waits in iv_sample */
    rtpstat_sample_t iv_sample;
    uint64_t samples_dropped; /* completed samples overwritten before being taken */
} rtpstat_t;

/* The leading bytes of rtpstat_t that rtpstat_add touches on every packet. */
#define RTPSTAT_HOT_BYTES offsetof(rtpstat_t, duplicates)

typedef struct {
    uint64_t packets;
    int64_t expected; /* extended highest - base + 1 (summed over restarts) */
    int64_t lost;     /* expected - packets; negative when duplicates exceed losses */
    uint64_t duplicates, out_of_order, seq_errors;
    double max_delta_ms; /* largest gap between consecutive arrivals (tshark's rule) */
    double mean_jitter_ms, max_jitter_ms; /* as tshark -z rtp,streams prints them */
    double last_jitter_ms;                /* RFC 3550 jitter after the last packet */
    double rfc_max_jitter_ms;             /* its maximum over all packets */
    int64_t first_ns, last_ns;
    /* quality estimate (docs/mos.md) */
    double loss_ratio;                  /* fixed buffer: lost or late positions / positions */
    double burst_ratio;                 /* G.107 BurstR of that loss */
    uint64_t late_fixed, late_adaptive; /* packets discarded as too late */
    double r_factor;                    /* G.107 R of the fixed buffer */
    double mos;                         /* fixed 50 ms buffer: the reported MOS */
    double mos_adaptive;                /* adaptive buffer */
} rtpstat_result_t;

/* Set up st for a new stream. clock_rate: Hz of the stream's media payload type (from SDP's
 * rtpmap), 0 = unknown: a dynamic media type then has no jitter samples and jitter stays 0.
 * Static payload types (< 96) always use their RFC 3551 rate, and other dynamic types than the
 * media type have none, as in Wireshark (it knows no rate for a type without rtpmap). The media
 * type is the first packet's that is no event and no comfort noise, unless set with
 * rtpstat_set_media_pt. codec: RTP encoding name for the MOS (mos_codec_from_name); NULL, "" or
 * an unknown name: taken from a static payload type. Samples every RTPSTAT_DEFAULT_INTERVAL_MS;
 * RTT unknown. */
void rtpstat_init(rtpstat_t *st, uint32_t clock_rate, const char *codec);

/* Optional settings, before the first packet (rtt also later). */
/* The payload type clock_rate belongs to (the SDP's codec type). */
void rtpstat_set_media_pt(rtpstat_t *st, uint8_t pt);
/* Chart sample interval in ms (> 0; 0 restores the default). */
void rtpstat_set_interval(rtpstat_t *st, uint32_t interval_ms);
/* Round-trip time from RTCP in ms (< 0: unknown). Adds the G.107 delay impairment of a one-way
 * delay rtt/2 + jitter-buffer depth + packet time to the MOS. */
void rtpstat_set_rtt(rtpstat_t *st, double rtt_ms);

/* Account one packet of the stream that arrived at ts_ns (ns since the epoch). Telephone-event
 * packets (is_event, RFC 4733) are counted but are not jitter samples. Returns true when this
 * packet closed a chart interval: take it with rtpstat_take_sample before the next call
 * (otherwise it is replaced and samples_dropped counts it). */
bool rtpstat_add(rtpstat_t *st, int64_t ts_ns, const rtp_hdr_t *h, bool is_event);

/* Move the completed interval sample to *out. false (out untouched) when none is pending. */
bool rtpstat_take_sample(rtpstat_t *st, rtpstat_sample_t *out);

/* At the end of the stream: finalize every sequence position and close the current, partial
 * interval into *out. Returns false (out untouched) when no packet came since the last call (or
 * none at all). An untaken completed sample stays pending. rtpstat_result stays valid. */
bool rtpstat_finish_sample(rtpstat_t *st, rtpstat_sample_t *out);

/* The stream's figures so far (may be called at any time; st is not changed). */
void rtpstat_result(const rtpstat_t *st, rtpstat_result_t *out);

#endif
