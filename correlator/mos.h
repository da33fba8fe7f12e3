/* mos: listening-quality MOS estimated with the ITU-T G.107 E-model from codec, loss and delay. */
#ifndef SIPSCOPE_MOS_H
#define SIPSCOPE_MOS_H

#include <stdint.h>

/* Codecs with E-model parameters (ITU-T G.113 Appendix I where it has them; docs/mos.md gives
 * every value with its source). MOS_CODEC_UNKNOWN uses the G.711 values, so that the estimate then
 * reflects the network alone. */
typedef enum {
    MOS_CODEC_UNKNOWN = 0,
    MOS_CODEC_G711,       /* PCMU, PCMA, with packet loss concealment (G.711 Appendix I) */
    MOS_CODEC_G711_NOPLC, /* G.711 without concealment */
    MOS_CODEC_G729,       /* G.729 / G.729A (+VAD) */
    MOS_CODEC_G723,       /* G.723.1 6.3 kbit/s (+VAD) */
    MOS_CODEC_G722,       /* wideband; narrowband-equivalent values */
    MOS_CODEC_GSM,        /* GSM 06.10 full rate */
    MOS_CODEC_ILBC,
    MOS_CODEC_OPUS,
    MOS_CODEC_COUNT
} mos_codec_t;

typedef struct {
    const char *name; /* display name, e.g. "G.711 (PLC)" */
    double ie;        /* equipment impairment factor Ie (G.107 7.5) */
    double bpl;       /* packet-loss robustness factor Bpl */
} mos_codec_info_t;

/* Parameters of a codec; never NULL (out-of-range values give the UNKNOWN entry). Static storage.
 */
const mos_codec_info_t *mos_codec_info(mos_codec_t codec);

/* Codec from an RTP encoding name as in SDP a=rtpmap ("PCMU", "G729", "opus", ...; case ignored).
 * NULL, "" or a name not in the table give MOS_CODEC_UNKNOWN. */
mos_codec_t mos_codec_from_name(const char *encoding);

/* Codec of a static RTP payload type (RFC 3551 table 4): 0/8 G.711, 3 GSM, 4 G.723, 9 G.722,
 * 18 G.729; MOS_CODEC_UNKNOWN for any other type. */
mos_codec_t mos_codec_from_pt(uint8_t payload_type);

/* G.107 burst ratio BurstR estimated from a loss pattern, as the 2-state Markov model of G.107
 * 7.5 does: p = bursts / received positions, q = bursts / lost positions, BurstR = 1/(p+q).
 * positions: sequence positions observed, lost: of those not played, bursts: runs of lost
 * positions. 1.0 (random loss) when nothing was lost. */
double mos_burst_ratio(uint64_t positions, uint64_t lost, uint64_t bursts);

/* Effective equipment impairment Ie,eff = Ie + (95 - Ie) * Ppl / (Ppl / BurstR + Bpl) (G.107
 * eq. 7-29), with Ppl = 100 * loss_ratio in percent. loss_ratio is clamped to [0, 1] and
 * burst_ratio to >= 0.1 (a NaN counts as 0 loss / random loss). */
double mos_ie_eff(mos_codec_t codec, double loss_ratio, double burst_ratio);

/* Delay impairment added by a one-way mouth-to-ear delay, in R points: Id(T) - Id(0), with
 * Id = Idte + Idle + Idd of G.107 7.4 at the default parameters (TELR 65 dB, WEPL 110 dB, T = Ta,
 * Tr = 2T). 0 for a delay <= 0 or unknown (negative). */
double mos_delay_impairment(double one_way_delay_ms);

/* Transmission rating R = 93.2 - (Id(T) - Id(0)) - Ie,eff + A, A = 0: 93.2 is G.107's default R
 * (Ro - Is - Id at zero delay). one_way_delay_ms < 0 means unknown (no delay term). */
double mos_r_factor(mos_codec_t codec, double loss_ratio, double burst_ratio,
                    double one_way_delay_ms);

/* MOS-CQE from R (G.107 Annex B): 1 for R < 0, 4.5 for R > 100, otherwise
 * 1 + 0.035 R + R (R - 60) (100 - R) 7e-6; always within [1, 4.5]. */
double mos_from_r(double r);

/* mos_from_r(mos_r_factor(...)): the listening-quality MOS estimate, in [1, 4.5]. */
double mos_compute(mos_codec_t codec, double loss_ratio, double burst_ratio,
                   double one_way_delay_ms);

#endif
