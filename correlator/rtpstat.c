/* rtpstat: per-stream RTP loss, jitter, delta and MOS in O(1) memory (RFC 3550 A.1, A.3, A.8). */
#include "rtpstat.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "defs.h"

/* ns to ms by a multiply: a double division costs ~15 cycles and runs several times a packet;
 * the product differs from the quotient by at most an ulp, far below tshark's 0.001 ms. */
#define MS_PER_NS         1e-6
#define TRANSIT_BUCKET_NS (10 * NS_PER_S)

_Static_assert(RTPSTAT_WINDOW == 64, "the windows are one uint64_t each");

/* Clock rates of the static payload types (RFC 3551 tables 4 and 5), the table Wireshark uses:
 * G.722 (9) runs an 8 kHz RTP clock although it samples at 16 kHz. */
static uint32_t static_clock_rate(uint8_t pt)
{
    switch (pt) {
        case 0:
        case 1:
        case 2:
        case 3:
        case 4:
        case 5:
        case 7:
        case 8:
        case 9:
        case 12:
        case 13:
        case 15:
        case 18:
        case 19:
            return 8000;
        case 6:
            return 16000;
        case 10:
        case 11:
            return 44100;
        case 16:
            return 11025;
        case 17:
            return 22050;
        case 14:
        case 25:
        case 26:
        case 28:
        case 31:
        case 32:
        case 33:
        case 34:
            return 90000;
        default:
            return 0;
    }
}

static bool is_comfort_noise(uint8_t pt)
{
    return pt == 13 || pt == 19; /* RFC 3389 CN, and the old CN type */
}

/* Clock rate of one packet; 0 makes it no jitter sample. Wireshark 4.0 takes static types from
 * its table, dynamic types from SDP (none without one), and gives telephone-event no clock
 * because its timestamp stays on the event start (RFC 4733 2.2.1). */
static uint32_t packet_clock_rate(const rtpstat_t *st, uint8_t pt, bool is_event)
{
    if (is_event)
        return 0;
    if (pt < 96)
        return static_clock_rate(pt);
    return pt == st->media_pt ? st->clock_rate : 0;
}

/* The stream's media type, unless set: its first packet that is no event and no comfort noise. */
static void learn_media_pt(rtpstat_t *st, uint8_t pt, bool is_event)
{
    if (st->media_pt < 0 && !is_event && !is_comfort_noise(pt))
        st->media_pt = pt;
}

/* Nanoseconds per tick for the clock rates that divide a second exactly (all the narrowband
 * and wideband audio clocks), else 0. A switch on constants: the hot path of the common codecs
 * then converts with one multiply instead of several 64-bit divisions. */
static inline int64_t exact_ns_per_tick(uint32_t rate)
{
    switch (rate) {
        case 8000:
            return 125000;
        case 16000:
            return 62500;
        case 32000:
            return 31250;
        case 1000:
            return 1000000;
        default:
            return 0;
    }
}

/* A packet's media clock: its rate and, when exact, ns per tick (looked up once per packet). */
typedef struct {
    uint32_t rate; /* Hz; 0 = none */
    int64_t per_tick;
} clk_t;

static inline clk_t clk_of(uint32_t rate)
{
    clk_t clk = {rate, exact_ns_per_tick(rate)};
    return clk;
}

/* dt_ns - ticks/rate s, in ns. The integer part is exact; only the final fraction of a
 * nanosecond is rounded, so jitter stays exact to far below tshark's 0.001 ms. */
static double ns_minus_ticks(int64_t dt_ns, int64_t ticks, clk_t clk)
{
    if (clk.per_tick != 0)
        return (double)(dt_ns - ticks * clk.per_tick);
    int64_t r64 = clk.rate;
    int64_t q = ticks / r64, rem = ticks % r64;
    int64_t rem_ns = rem * NS_PER_S; /* |rem| < rate < 2^32: fits */
    int64_t whole = dt_ns - q * NS_PER_S - rem_ns / r64;
    return (double)whole - (double)(rem_ns % r64) / (double)r64;
}

static int64_t ticks_to_ns(int64_t ticks, clk_t clk)
{
    if (clk.per_tick != 0)
        return ticks * clk.per_tick;
    int64_t r64 = clk.rate;
    return ticks / r64 * NS_PER_S + ticks % r64 * NS_PER_S / r64;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* ---- sequence positions and the jitter buffers' loss accounting ---- */

static void jb_account(rtpstat_jb_t *jb, bool played)
{
    jb->positions++;
    if (played) {
        jb->in_burst = false;
        return;
    }
    jb->lost++;
    if (!jb->in_burst)
        jb->bursts++;
    jb->in_burst = true;
}

static void jb_account_lost(rtpstat_jb_t *jb, uint64_t n)
{
    jb->positions += n;
    jb->lost += n;
    if (!jb->in_burst)
        jb->bursts++;
    jb->in_burst = true;
}

/* Finalize positions fin_next..last. Positions inside the window are played or not as their
 * bits say; positions above max_seq were never received. Invariant: fin_next >= max_seq - 63. */
static void finalize_upto(rtpstat_t *st, int64_t last)
{
    for (; st->fin_next <= last && st->fin_next <= st->max_seq; st->fin_next++) {
        unsigned i = (unsigned)(st->max_seq - st->fin_next);
        assert(i < RTPSTAT_WINDOW);
        jb_account(&st->jb_fixed, (st->win_fixed >> i) & 1u);
        jb_account(&st->jb_adaptive, (st->win_adaptive >> i) & 1u);
    }
    if (st->fin_next <= last) {
        uint64_t n = (uint64_t)(last - st->fin_next + 1);
        jb_account_lost(&st->jb_fixed, n);
        jb_account_lost(&st->jb_adaptive, n);
        st->fin_next = last + 1;
    }
}

static uint64_t shl(uint64_t w, int64_t k)
{
    return k >= RTPSTAT_WINDOW ? 0 : w << k;
}

/* The highest sequence number moves k ahead: positions leaving the window become final. */
static void advance(rtpstat_t *st, int64_t k)
{
    finalize_upto(st, st->max_seq + k - RTPSTAT_WINDOW);
    st->win_recv = shl(st->win_recv, k) | 1u;
    st->win_fixed = shl(st->win_fixed, k);
    st->win_adaptive = shl(st->win_adaptive, k);
    st->max_seq += k;
}

static int64_t expected_total(const rtpstat_t *st)
{
    return st->expected_prior + st->max_seq - st->base_seq + 1;
}

/* RFC 3550 A.1: two sequential packets far behind the highest mean the sender restarted its
 * sequence. Close the segment and start a new one at the stray packet (seq - 1). Extended numbers
 * keep increasing across segments, so the window arithmetic needs no special case. */
static void restart(rtpstat_t *st, uint16_t seq)
{
    finalize_upto(st, st->max_seq);
    st->expected_prior = expected_total(st);
    int64_t next = st->max_seq + 1;
    int64_t base = next + (uint16_t)((uint16_t)(seq - 1u) - (uint16_t)next);
    st->base_seq = base;
    st->max_seq = base + 1;
    st->fin_next = base;
    st->win_recv = st->win_fixed = st->win_adaptive = 3u; /* the stray and this one */
    st->out_of_order--;                                   /* the stray was not late after all */
    st->bad_seq_valid = false;
}

typedef enum { SEQ_NEXT, SEQ_LATE, SEQ_DUP, SEQ_STRAY, SEQ_RESTART } seq_kind_t;

/* Classify a sequence number against the highest seen (RFC 3550 A.1 with 16-bit wrap): the
 * next one or a gap ahead, a duplicate, late (up to RTPSTAT_MAX_MISORDER behind), or a stray far
 * from the sequence, which the next packet may confirm as a jump or a restart. *bit is the
 * packet's window bit when the jitter buffers may still play it, else -1. */
static seq_kind_t seq_update(rtpstat_t *st, uint16_t seq, int *bit)
{
    uint16_t ahead = (uint16_t)(seq - (uint16_t)st->max_seq);
    *bit = -1;
    if (ahead == 0) {
        st->duplicates++;
        st->seq_errors++;
        return SEQ_DUP;
    }
    bool confirms = st->bad_seq_valid && seq == st->bad_seq;
    if (ahead < 0x8000 && (ahead < RTPSTAT_MAX_DROPOUT || confirms)) {
        /* Forward, wrap included. A gap counts as loss however large, as in Wireshark, but one
         * of RTPSTAT_MAX_DROPOUT or more must be confirmed by the next packet (RFC 3550 A.1),
         * so that a single stray packet cannot fake a huge loss. */
        if (ahead > 1 && !confirms)
            st->seq_errors++;
        advance(st, ahead);
        if (confirms && ahead >= RTPSTAT_MAX_DROPOUT) {
            /* the stray before this packet (seq - 1) belongs to the sequence after all */
            st->win_recv |= 2u;
            st->win_fixed |= 2u;
            st->win_adaptive |= 2u;
            st->out_of_order--;
        }
        st->bad_seq_valid = false;
        *bit = 0;
        return SEQ_NEXT;
    }
    if (ahead < 0x8000)
        goto stray;
    int64_t back = 0x10000 - (int64_t)ahead;
    if (back <= RTPSTAT_MAX_MISORDER) {
        int64_t pos = st->max_seq - back;
        st->out_of_order++; /* a late copy is both out of order and a duplicate */
        st->seq_errors++;
        if (back < RTPSTAT_WINDOW && ((st->win_recv >> back) & 1u)) {
            st->duplicates++;
            return SEQ_DUP;
        }
        if (back < RTPSTAT_WINDOW) {
            st->win_recv |= 1ull << back;
            /* Older than the first packet (which was itself reordered): the segment starts
             * here, as later Wireshark releases do, unless positions were already final. */
            if (pos < st->base_seq && st->fin_next == st->base_seq) {
                st->base_seq = pos;
                st->fin_next = pos;
            }
            if (pos >= st->fin_next)
                *bit = (int)back;
        }
        return SEQ_LATE;
    }
    if (confirms) {
        restart(st, seq);
        *bit = 0;
        return SEQ_RESTART;
    }
stray:
    st->bad_seq = (uint16_t)(seq + 1u);
    st->bad_seq_valid = true;
    st->out_of_order++;
    st->seq_errors++;
    return SEQ_STRAY;
}

/* ---- chart intervals ---- */

static double interval_delay_ms(const rtpstat_t *st, double jb_ms)
{
    if (st->rtt_ms < 0.0)
        return -1.0;
    double ptime = st->ptime_ns > 0 ? (double)st->ptime_ns / NS_PER_MS : 20.0;
    return st->rtt_ms / 2.0 + jb_ms + ptime;
}

static double jb_mos(const rtpstat_t *st, uint64_t positions, uint64_t lost, uint64_t bursts,
                     double jb_ms, double *r_out)
{
    double loss = positions > 0 ? (double)lost / (double)positions : 0.0;
    double r = mos_r_factor((mos_codec_t)st->codec, loss, mos_burst_ratio(positions, lost, bursts),
                            interval_delay_ms(st, jb_ms));
    if (r_out != NULL)
        *r_out = r;
    return mos_from_r(r);
}

static void interval_open(rtpstat_t *st, int64_t ts_ns)
{
    st->iv_start_ns = floor_div(ts_ns, st->interval_ns) * st->interval_ns;
    st->iv_packets0 = st->packets;
    st->iv_expected0 = st->packets > 0 ? expected_total(st) : 0;
    st->iv_jb0 = st->jb_fixed;
    st->iv_max_jitter_ms = 0.0;
}

static void interval_close(rtpstat_t *st, int64_t end_ns)
{
    rtpstat_sample_t *s = &st->iv_sample;
    if (st->iv_pending)
        st->samples_dropped++;
    s->start_ns = st->iv_start_ns;
    s->end_ns = end_ns;
    s->packets = (uint32_t)(st->packets - st->iv_packets0);
    s->lost = (int32_t)(expected_total(st) - st->iv_expected0 - (int64_t)s->packets);
    s->jitter_ms = st->jitter_ms;
    s->max_jitter_ms = st->iv_max_jitter_ms;
    s->mos = jb_mos(st, st->jb_fixed.positions - st->iv_jb0.positions,
                    st->jb_fixed.lost - st->iv_jb0.lost, st->jb_fixed.bursts - st->iv_jb0.bursts,
                    RTPSTAT_FIXED_JB_MS, NULL);
    st->iv_pending = true;
    st->iv_start_ns = INT64_MIN;
}

/* ---- jitter ---- */

/* RFC 3550 A.8: D(i-1, i) = (R_i - R_{i-1}) - (S_i - S_{i-1}), J += (|D| - J) / 16, over the
 * packets with a clock rate in arrival order. */
static void rfc_jitter(rtpstat_t *st, int64_t ts_ns, clk_t clk)
{
    if (st->rfc_set) {
        double d_ns = ns_minus_ticks(ts_ns - st->rfc_time_ns, st->ext_ts - st->rfc_ts, clk);
        st->rfc_jitter_ms += (fabs(d_ns) * MS_PER_NS - st->rfc_jitter_ms) / 16.0;
        if (st->rfc_jitter_ms > st->rfc_max_jitter_ms)
            st->rfc_max_jitter_ms = st->rfc_jitter_ms;
    }
    st->rfc_set = true;
    st->rfc_time_ns = ts_ns;
    st->rfc_ts = st->ext_ts;
}

/* ---- jitter buffers ---- */

/* Transit (arrival - media time, relative to the first packet) of a packet with a clock. */
static int64_t transit_ns(const rtpstat_t *st, int64_t ts_ns, clk_t clk)
{
    return (ts_ns - st->first_ns) - ticks_to_ns(st->ext_ts, clk);
}

/* Start the buffers' references at a packet: the first with a clock, a talkspurt start (marker,
 * RFC 3551 4.1) or a sequence restart, where real buffers also re-synchronise. */
static void jb_anchor(rtpstat_t *st, int64_t transit, int64_t ts_ns)
{
    if (!st->transit_set) {
        st->transit_min_cur = st->transit_min_prev = transit;
        st->transit_bucket_ns = ts_ns;
        st->adaptive_dev_ms = 0.0;
        st->transit_set = true;
    }
    st->transit_anchor = transit;
    st->adaptive_mean_ms = (double)transit / NS_PER_MS;
}

/* Decide whether the jitter buffers play a packet and mark its window bit (docs/mos.md):
 * - fixed: played at anchor + 50 ms on the media clock, the anchor being the first packet's
 *   transit, raised to the minimum transit of the last 10-20 s so that a slow sender clock or a
 *   lasting delay re-synchronises it, as real buffers do;
 * - adaptive (Ramjee et al. 1994, algorithm 1, with RFC 3550's 1/16 gain): played at
 *   d + clamp(4 v, 20 ms, 200 ms), d and v the running mean and mean deviation of the transit. */
static void jitter_buffers(rtpstat_t *st, int64_t ts_ns, clk_t clk, bool marker, seq_kind_t kind,
                           int bit)
{
    bool fixed_ok = true, adaptive_ok = true;
    if (clk.rate != 0 && kind != SEQ_STRAY) {
        int64_t transit = transit_ns(st, ts_ns, clk);
        if (!st->transit_set || marker || kind == SEQ_RESTART)
            jb_anchor(st, transit, ts_ns);
        if (ts_ns - st->transit_bucket_ns >= TRANSIT_BUCKET_NS) {
            st->transit_min_prev = st->transit_min_cur;
            st->transit_min_cur = transit;
            st->transit_bucket_ns = ts_ns;
        } else if (transit < st->transit_min_cur) {
            st->transit_min_cur = transit;
        }
        int64_t floor =
            st->transit_min_cur < st->transit_min_prev ? st->transit_min_cur : st->transit_min_prev;
        int64_t ref = floor > st->transit_anchor ? floor : st->transit_anchor;
        fixed_ok = transit - ref <= RTPSTAT_FIXED_JB_MS * NS_PER_MS;

        double t_ms = (double)transit * MS_PER_NS;
        double depth = 4.0 * st->adaptive_dev_ms;
        depth = depth < RTPSTAT_ADAPTIVE_MIN_MS   ? RTPSTAT_ADAPTIVE_MIN_MS
                : depth > RTPSTAT_ADAPTIVE_MAX_MS ? RTPSTAT_ADAPTIVE_MAX_MS
                                                  : depth;
        double playout = st->adaptive_mean_ms + depth;
        adaptive_ok = t_ms <= playout;
        st->adaptive_delay_sum_ms += playout - (double)floor * MS_PER_NS;
        st->adaptive_delay_n++;
        st->adaptive_mean_ms += (t_ms - st->adaptive_mean_ms) / 16.0;
        st->adaptive_dev_ms += (fabs(t_ms - st->adaptive_mean_ms) - st->adaptive_dev_ms) / 16.0;
    }
    if (bit < 0) {
        /* behind the window or already final: too late for any buffer */
        if (kind == SEQ_LATE) {
            st->jb_fixed.late++;
            st->jb_adaptive.late++;
        }
        return;
    }
    if (fixed_ok)
        st->win_fixed |= 1ull << bit;
    else
        st->jb_fixed.late++;
    if (adaptive_ok)
        st->win_adaptive |= 1ull << bit;
    else
        st->jb_adaptive.late++;
}

/* ---- public API ---- */

void rtpstat_init(rtpstat_t *st, uint32_t clock_rate, const char *codec)
{
    assert(st != NULL);
    memset(st, 0, sizeof(*st));
    st->clock_rate = clock_rate;
    st->media_pt = -1;
    st->codec = (uint8_t)mos_codec_from_name(codec);
    st->codec_known = st->codec != MOS_CODEC_UNKNOWN;
    st->interval_ns = RTPSTAT_DEFAULT_INTERVAL_MS * NS_PER_MS;
    st->rtt_ms = -1.0;
    st->iv_start_ns = INT64_MIN;
}

void rtpstat_set_media_pt(rtpstat_t *st, uint8_t pt)
{
    st->media_pt = (int16_t)(pt & 0x7f);
}

void rtpstat_set_interval(rtpstat_t *st, uint32_t interval_ms)
{
    st->interval_ns = (interval_ms > 0 ? interval_ms : RTPSTAT_DEFAULT_INTERVAL_MS) * NS_PER_MS;
}

void rtpstat_set_rtt(rtpstat_t *st, double rtt_ms)
{
    st->rtt_ms = rtt_ms >= 0.0 ? rtt_ms : -1.0;
}

static void first_packet(rtpstat_t *st, int64_t ts_ns, const rtp_hdr_t *h, bool is_event)
{
    interval_open(st, ts_ns); /* before counting: the packet belongs to it */
    st->packets = 1;
    st->first_ns = st->last_ns = ts_ns;
    st->base_seq = st->max_seq = st->fin_next = h->seq;
    st->win_recv = st->win_fixed = st->win_adaptive = 1u;
    st->prev_pt = h->payload_type;
    st->last_ts = h->timestamp;
    st->ext_ts = 0;
    st->time_ns = ts_ns;
    st->nominal_ts = 0;
    learn_media_pt(st, h->payload_type, is_event);
    clk_t clk = clk_of(packet_clock_rate(st, h->payload_type, is_event));
    if (clk.rate != 0) {
        jb_anchor(st, 0, ts_ns); /* its transit is 0 by definition */
        rfc_jitter(st, ts_ns, clk);
    }
    if (!st->codec_known)
        st->codec = (uint8_t)mos_codec_from_pt(h->payload_type);
}

bool rtpstat_add(rtpstat_t *st, int64_t ts_ns, const rtp_hdr_t *h, bool is_event)
{
    assert(st != NULL && h != NULL);
    if (st->packets == 0) {
        first_packet(st, ts_ns, h, is_event);
        return false;
    }
    bool closed = false;
    if (st->iv_start_ns == INT64_MIN) {
        interval_open(st, ts_ns);
    } else if (ts_ns >= st->iv_start_ns + st->interval_ns) {
        interval_close(st, st->iv_start_ns + st->interval_ns);
        interval_open(st, ts_ns);
        closed = true;
    }

    uint8_t pt = h->payload_type;
    learn_media_pt(st, pt, is_event);
    clk_t clk = clk_of(packet_clock_rate(st, pt, is_event));

    /* Extended timestamp, relative to the first packet's, unwrapped against the previous one. */
    uint32_t dts = h->timestamp - st->last_ts;
    int64_t prev_ext = st->ext_ts;
    st->ext_ts += dts < 0x80000000u ? (int64_t)dts : (int64_t)dts - 0x100000000LL;
    st->last_ts = h->timestamp;

    int bit;
    uint16_t prev_max = (uint16_t)st->max_seq;
    seq_kind_t kind = seq_update(st, h->seq, &bit);
    if (kind == SEQ_NEXT && (uint16_t)(h->seq - prev_max) == 1 && clk.rate != 0 &&
        st->ext_ts > prev_ext)
        st->ptime_ns = ticks_to_ns(st->ext_ts - prev_ext, clk);
    if (kind != SEQ_DUP)
        jitter_buffers(st, ts_ns, clk, h->marker, kind, bit);

    /* Interarrival jitter and delta, exactly as Wireshark 4.0's rtppacket_analyse: D compares
     * the arrival gap with the timestamp gap since the last jitter sample (RFC 3550 A.8), but
     * the arrival reference moves with every packet in timestamp sequence, jitter sample or not.
     * Packets older than the first packet's timestamp are left out. */
    bool in_ts_seq = st->ext_ts >= 0;
    int64_t delta_ns = 0;
    double cur_jitter = 0.0;
    if (in_ts_seq) {
        delta_ns = ts_ns - st->time_ns;
        if (clk.rate != 0) {
            double d_ns = ns_minus_ticks(delta_ns, st->ext_ts - st->nominal_ts, clk);
            cur_jitter = (15.0 * st->jitter_ms + fabs(d_ns) * MS_PER_NS) / 16.0;
            st->jitter_ms = cur_jitter;
            st->nominal_ts = st->ext_ts;
        }
    }
    if (clk.rate != 0)
        rfc_jitter(st, ts_ns, clk);
    /* Wireshark's "regular" packet: not the first, no marker, not comfort noise nor the packet
     * after it, in timestamp sequence. Only these count in max delta, max and mean jitter. */
    bool regular =
        in_ts_seq && !h->marker && !is_comfort_noise(pt) && !is_comfort_noise(st->prev_pt);
    if (regular) {
        if (delta_ns > st->max_delta_ns)
            st->max_delta_ns = delta_ns;
        if (clk.rate != 0) {
            if (st->jitter_ms > st->max_jitter_ms)
                st->max_jitter_ms = st->jitter_ms;
            if (st->jitter_ms > st->iv_max_jitter_ms)
                st->iv_max_jitter_ms = st->jitter_ms;
            /* Running mean with n = packets before this one, skipped packets included: the
             * exact average of the jitter over packets 2..N when all are regular. */
            double n = (double)st->packets;
            st->mean_jitter_ms = (st->mean_jitter_ms * (n - 1.0) + cur_jitter) / n;
        }
    }
    st->prev_pt = pt;
    if (in_ts_seq)
        st->time_ns = ts_ns;
    st->last_ns = ts_ns;
    st->packets++;
    return closed;
}

bool rtpstat_take_sample(rtpstat_t *st, rtpstat_sample_t *out)
{
    if (!st->iv_pending)
        return false;
    *out = st->iv_sample;
    st->iv_pending = false;
    return true;
}

bool rtpstat_finish_sample(rtpstat_t *st, rtpstat_sample_t *out)
{
    if (st->packets == 0 || st->iv_start_ns == INT64_MIN)
        return false;
    finalize_upto(st, st->max_seq);
    bool had_pending = st->iv_pending;
    rtpstat_sample_t pending = st->iv_sample;
    st->iv_pending = false;
    interval_close(st, st->last_ns);
    *out = st->iv_sample;
    /* keep an untaken sample pending rather than dropping it */
    st->iv_pending = had_pending;
    st->iv_sample = pending;
    return true;
}

void rtpstat_result(const rtpstat_t *st, rtpstat_result_t *out)
{
    memset(out, 0, sizeof(*out));
    if (st->packets == 0)
        return;
    rtpstat_t c = *st; /* finalize the open window on a copy */
    finalize_upto(&c, c.max_seq);

    out->packets = c.packets;
    out->expected = expected_total(&c);
    out->lost = out->expected - (int64_t)c.packets;
    out->duplicates = c.duplicates;
    out->out_of_order = c.out_of_order;
    out->seq_errors = c.seq_errors;
    out->max_delta_ms = (double)c.max_delta_ns / NS_PER_MS;
    out->mean_jitter_ms = c.mean_jitter_ms;
    out->max_jitter_ms = c.max_jitter_ms;
    out->last_jitter_ms = c.rfc_jitter_ms;
    out->rfc_max_jitter_ms = c.rfc_max_jitter_ms;
    out->first_ns = c.first_ns;
    out->last_ns = c.last_ns;

    const rtpstat_jb_t *f = &c.jb_fixed, *a = &c.jb_adaptive;
    out->loss_ratio = f->positions > 0 ? (double)f->lost / (double)f->positions : 0.0;
    out->burst_ratio = mos_burst_ratio(f->positions, f->lost, f->bursts);
    out->late_fixed = f->late;
    out->late_adaptive = a->late;
    out->mos = jb_mos(&c, f->positions, f->lost, f->bursts, RTPSTAT_FIXED_JB_MS, &out->r_factor);
    double depth = c.adaptive_delay_n > 0 ? c.adaptive_delay_sum_ms / (double)c.adaptive_delay_n
                                          : RTPSTAT_ADAPTIVE_MIN_MS;
    out->mos_adaptive = jb_mos(&c, a->positions, a->lost, a->bursts, depth, NULL);
}
