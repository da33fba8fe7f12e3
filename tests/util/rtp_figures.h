/* rtp_figures: two records of one RTP stream's quality compared figure by figure, exactly (the
 * central's figures must equal the probe's). A macro, so that it serves every record type that
 * names them alike: stream_record_t (check_store) and hep_qos_t (check_hep_qos). */
#ifndef SIPSCOPE_RTP_FIGURES_H
#define SIPSCOPE_RTP_FIGURES_H

#include <check.h>

/* The stream's identity on the wire and what its packets measured. */
#define ASSERT_RTP_FIGURES_EQ(a, b)                                                                \
    do {                                                                                           \
        ck_assert_uint_eq((a)->ssrc, (b)->ssrc);                                                   \
        ck_assert_uint_eq((a)->payload_type, (b)->payload_type);                                   \
        ck_assert_uint_eq((a)->clock_rate, (b)->clock_rate);                                       \
        ck_assert_int_eq((a)->first_ns, (b)->first_ns);                                            \
        ck_assert_int_eq((a)->last_ns, (b)->last_ns);                                              \
        ck_assert_uint_eq((a)->packets, (b)->packets);                                             \
        ck_assert_int_eq((a)->lost, (b)->lost);                                                    \
        ck_assert_uint_eq((a)->duplicates, (b)->duplicates);                                       \
        ck_assert_uint_eq((a)->out_of_order, (b)->out_of_order);                                   \
        ck_assert_uint_eq((a)->seq_errors, (b)->seq_errors);                                       \
        ck_assert((a)->max_delta_ms == (b)->max_delta_ms);                                         \
        ck_assert((a)->mean_jitter_ms == (b)->mean_jitter_ms);                                     \
        ck_assert((a)->max_jitter_ms == (b)->max_jitter_ms);                                       \
        ck_assert((a)->mos == (b)->mos);                                                           \
    } while (0)

/* What the stream's RTCP reports said. */
#define ASSERT_RTCP_FIGURES_EQ(a, b)                                                               \
    do {                                                                                           \
        ck_assert((a)->rtcp_fraction_lost == (b)->rtcp_fraction_lost);                             \
        ck_assert_int_eq((a)->rtcp_cumulative_lost, (b)->rtcp_cumulative_lost);                    \
        ck_assert((a)->rtcp_jitter_ms == (b)->rtcp_jitter_ms);                                     \
        ck_assert((a)->rtcp_rtt_ms == (b)->rtcp_rtt_ms);                                           \
    } while (0)

#endif
