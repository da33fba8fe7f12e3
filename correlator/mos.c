/* mos: ITU-T G.107 E-model (R factor, delay and loss impairments) and the R to MOS mapping. */
#include "mos.h"

#include <ctype.h>
#include <math.h>
#include <stddef.h>

/* Ie and Bpl per codec. Sources (docs/mos.md discusses each): G.711 with and without PLC,
 * G.729A+VAD, G.723.1+VAD: ITU-T G.113 Appendix I tables I.1 and I.3; GSM-FR Ie: G.113 table I.1.
 * Our choices where ITU-T gives no value: GSM-FR Bpl 10 (basic frame substitution), G.722 and
 * Opus at G.711+PLC on the narrowband scale, iLBC at G.729A's values (conservative). */
static const mos_codec_info_t codec_table[MOS_CODEC_COUNT] = {
    [MOS_CODEC_UNKNOWN] = {"unknown (G.711 values)", 0.0, 25.1},
    [MOS_CODEC_G711] = {"G.711 (PLC)", 0.0, 25.1},
    [MOS_CODEC_G711_NOPLC] = {"G.711 (no PLC)", 0.0, 4.3},
    [MOS_CODEC_G729] = {"G.729A", 11.0, 19.0},
    [MOS_CODEC_G723] = {"G.723.1 6.3k", 15.0, 16.1},
    [MOS_CODEC_G722] = {"G.722 (NB equivalent)", 0.0, 25.1},
    [MOS_CODEC_GSM] = {"GSM-FR", 20.0, 10.0},
    [MOS_CODEC_ILBC] = {"iLBC", 11.0, 19.0},
    [MOS_CODEC_OPUS] = {"Opus (NB equivalent)", 0.0, 25.1},
};

/* RTP encoding names (RFC 3551, IANA media subtypes) per codec. */
static const struct {
    const char *name;
    mos_codec_t codec;
} codec_names[] = {
    {"PCMU", MOS_CODEC_G711}, {"PCMA", MOS_CODEC_G711},  {"G711", MOS_CODEC_G711},
    {"G729", MOS_CODEC_G729}, {"G729A", MOS_CODEC_G729}, {"G729AB", MOS_CODEC_G729},
    {"G723", MOS_CODEC_G723}, {"G7231", MOS_CODEC_G723}, {"G722", MOS_CODEC_G722},
    {"GSM", MOS_CODEC_GSM},   {"iLBC", MOS_CODEC_ILBC},  {"opus", MOS_CODEC_OPUS},
};

/* G.107 default R (all parameters at their defaults, zero delay): Ro - Is - Id(0). */
#define MOS_R_DEFAULT 93.2

const mos_codec_info_t *mos_codec_info(mos_codec_t codec)
{
    if ((unsigned)codec >= MOS_CODEC_COUNT)
        codec = MOS_CODEC_UNKNOWN;
    return &codec_table[codec];
}

static int ascii_casecmp(const char *a, const char *b)
{
    for (;; a++, b++) {
        int ca = tolower((unsigned char)*a), cb = tolower((unsigned char)*b);
        if (ca != cb || ca == 0)
            return ca - cb;
    }
}

mos_codec_t mos_codec_from_name(const char *encoding)
{
    if (encoding == NULL)
        return MOS_CODEC_UNKNOWN;
    for (size_t i = 0; i < sizeof(codec_names) / sizeof(codec_names[0]); i++)
        if (ascii_casecmp(encoding, codec_names[i].name) == 0)
            return codec_names[i].codec;
    return MOS_CODEC_UNKNOWN;
}

mos_codec_t mos_codec_from_pt(uint8_t payload_type)
{
    switch (payload_type) {
        case 0:
        case 8:
            return MOS_CODEC_G711;
        case 3:
            return MOS_CODEC_GSM;
        case 4:
            return MOS_CODEC_G723;
        case 9:
            return MOS_CODEC_G722;
        case 18:
            return MOS_CODEC_G729;
        default:
            return MOS_CODEC_UNKNOWN;
    }
}

double mos_burst_ratio(uint64_t positions, uint64_t lost, uint64_t bursts)
{
    if (lost == 0 || bursts == 0 || positions <= lost)
        return 1.0;
    /* p: probability of a loss after a played packet; q: of a played packet after a loss. */
    double p = (double)bursts / (double)(positions - lost);
    double q = (double)bursts / (double)lost;
    return 1.0 / (p + q);
}

double mos_ie_eff(mos_codec_t codec, double loss_ratio, double burst_ratio)
{
    const mos_codec_info_t *c = mos_codec_info(codec);
    if (!(loss_ratio > 0.0)) /* also NaN */
        return c->ie;
    if (loss_ratio > 1.0)
        loss_ratio = 1.0;
    if (!(burst_ratio >= 0.1))
        burst_ratio = burst_ratio > 0.0 ? 0.1 : 1.0;
    double ppl = 100.0 * loss_ratio;
    /* G.107 (06/2015) eq. 7-29 */
    return c->ie + (95.0 - c->ie) * ppl / (ppl / burst_ratio + c->bpl);
}

/* G.107 default parameters (table 3) used by the delay terms. */
#define G107_SLR  8.0
#define G107_RLR  2.0
#define G107_DS   3.0
#define G107_LSTR 18.0
#define G107_TELR 65.0
#define G107_WEPL 110.0
#define G107_NC   (-70.0)
#define G107_NFOR (-64.0)
#define G107_PS   35.0
#define G107_PR   35.0

/* Total noise No (G.107 eqs. 7-3..7-7) at the default parameters, about -61.18 dBm0p. */
static double g107_no(void)
{
    double olr = G107_SLR + G107_RLR;
    double nos =
        G107_PS - G107_SLR - G107_DS - 100.0 + 0.004 * pow(G107_PS - olr - G107_DS - 14.0, 2.0);
    double pre = G107_PR + 10.0 * log10(1.0 + pow(10.0, (10.0 - G107_LSTR) / 10.0));
    double nor = G107_RLR - 121.0 + pre + 0.008 * pow(pre - 35.0, 2.0);
    double nfo = G107_NFOR + G107_RLR;
    return 10.0 * log10(pow(10.0, G107_NC / 10.0) + pow(10.0, nos / 10.0) + pow(10.0, nor / 10.0) +
                        pow(10.0, nfo / 10.0));
}

/* Id = Idte + Idle + Idd (G.107 7.4) for mean one-way delay T = Ta, round trip Tr = 2T. */
static double g107_id(double t)
{
    double no = g107_no();
    double ro = 15.0 - 1.5 * (G107_SLR + no);
    /* talker echo, eqs. 7-21..7-24 (STMR = 15: no low-sidetone correction) */
    double terv =
        G107_TELR - 40.0 * log10((1.0 + t / 10.0) / (1.0 + t / 150.0)) + 6.0 * exp(-0.3 * t * t);
    double roe = -1.5 * (no - G107_RLR);
    double re = 80.0 + 2.5 * (terv - 14.0);
    double d = roe - re;
    double idte = (d / 2.0 + sqrt(d * d / 4.0 + 100.0) - 1.0) * (1.0 - exp(-t));
    /* listener echo, eqs. 7-25, 7-26 */
    double rle = 10.5 * (G107_WEPL + 7.0) * pow(2.0 * t + 1.0, -0.25);
    double e = ro - rle;
    double idle = e / 2.0 + sqrt(e * e / 4.0 + 169.0);
    /* absolute delay, eqs. 7-27, 7-28 */
    double idd = 0.0;
    if (t > 100.0) {
        double x = log10(t / 100.0) / log10(2.0);
        idd = 25.0 * (pow(1.0 + pow(x, 6.0), 1.0 / 6.0) -
                      3.0 * pow(1.0 + pow(x / 3.0, 6.0), 1.0 / 6.0) + 2.0);
    }
    return idte + idle + idd;
}

double mos_delay_impairment(double one_way_delay_ms)
{
    if (!(one_way_delay_ms > 0.0))
        return 0.0;
    double v = g107_id(one_way_delay_ms) - g107_id(0.0);
    return v > 0.0 ? v : 0.0;
}

double mos_r_factor(mos_codec_t codec, double loss_ratio, double burst_ratio,
                    double one_way_delay_ms)
{
    return MOS_R_DEFAULT - mos_delay_impairment(one_way_delay_ms) -
           mos_ie_eff(codec, loss_ratio, burst_ratio);
}

double mos_from_r(double r)
{
    if (!(r > 0.0)) /* also NaN */
        return 1.0;
    if (r >= 100.0)
        return 4.5;
    double mos = 1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6;
    /* the cubic dips just below 1 for R < 6.5 */
    return mos < 1.0 ? 1.0 : (mos > 4.5 ? 4.5 : mos);
}

double mos_compute(mos_codec_t codec, double loss_ratio, double burst_ratio,
                   double one_way_delay_ms)
{
    return mos_from_r(mos_r_factor(codec, loss_ratio, burst_ratio, one_way_delay_ms));
}
