/* fuzz_hep: libFuzzer target (and corpus replay) for the HEPv3 decoder, re-encoding what parsed,
 * and for the JSON quality reports (HEP type 34) packets carry: what decodes must re-encode
 * and decode to the same report. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_copy.h"
#include "hep.h"
#include "hep_qos.h"

static bool within(const void *p, size_t n, const uint8_t *buf, size_t size)
{
    const uint8_t *b = p;
    return n == 0 || (b >= buf && n <= size && b - buf <= (ptrdiff_t)(size - n));
}

static bool same_report(const hep_qos_t *a, const hep_qos_t *b)
{
    return a->final == b->final && a->call_id_len == b->call_id_len &&
           memcmp(a->call_id, b->call_id, a->call_id_len) == 0 &&
           net_endpoint_eq(&a->src, &b->src) && net_endpoint_eq(&a->dst, &b->dst) &&
           a->first_ns == b->first_ns && a->last_ns == b->last_ns && a->ssrc == b->ssrc &&
           a->payload_type == b->payload_type && strcmp(a->codec, b->codec) == 0 &&
           a->clock_rate == b->clock_rate && a->packets == b->packets && a->lost == b->lost &&
           a->duplicates == b->duplicates && a->out_of_order == b->out_of_order &&
           a->seq_errors == b->seq_errors && a->max_delta_ms == b->max_delta_ms &&
           a->mean_jitter_ms == b->mean_jitter_ms && a->max_jitter_ms == b->max_jitter_ms &&
           a->mos == b->mos && a->party == b->party && a->sdp_mismatch == b->sdp_mismatch &&
           a->have_rtcp == b->have_rtcp &&
           (!a->have_rtcp ||
            (a->rtcp_fraction_lost == b->rtcp_fraction_lost &&
             a->rtcp_cumulative_lost == b->rtcp_cumulative_lost &&
             a->rtcp_jitter_ms == b->rtcp_jitter_ms && a->rtcp_rtt_ms == b->rtcp_rtt_ms));
}

/* A payload as a quality report (any packet's, whatever its type: the decoder must hold). */
static void check_qos(const uint8_t *payload, size_t len)
{
    static hep_qos_t q, back;
    static char json[HEP_QOS_MAX_LEN];
    const char *why = NULL;
    int rc = hep_qos_parse(payload, len, &q, &why);
    if (rc != 0) {
        if (rc != -1 || why == NULL)
            abort();
        return;
    }
    if (why != NULL || q.call_id_len == 0 || q.call_id_len > HEP_QOS_CALL_ID_MAX ||
        memchr(q.codec, '\0', sizeof(q.codec)) == NULL)
        abort();
    int n = hep_qos_encode(&q, json, sizeof(json));
    if (n <= 0 || hep_qos_parse((const uint8_t *)json, (size_t)n, &back, &why) != 0 ||
        !same_report(&q, &back))
        abort();
}

/* Parse every packet of a stream of back-to-back packets, as the TCP receiver does. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = fuzz_exact_copy(data, size);
    if (buf == NULL)
        return 0;

    static uint8_t out[HEP_MAX_LEN];
    size_t off = 0;
    while (off < size) {
        hep_msg_t m, back;
        const uint8_t *p = buf + off;
        size_t left = size - off;
        int fl = hep_frame_len(p, left);
        int rc = hep_parse(p, left, &m);
        if (rc < 0) {
            if (m.reason == NULL || (rc != HEP_INVALID && rc != HEP_PARTIAL))
                abort();
            /* Framing and parsing agree on what is cut short. */
            if ((fl == HEP_PARTIAL || (fl > 0 && (size_t)fl > left)) != (rc == HEP_PARTIAL))
                abort();
            if (fl < 0 || (size_t)fl > left)
                break;
            off += (size_t)fl; /* a well-framed bad packet: skip it, like the receiver */
            continue;
        }
        if (rc != fl || rc < HEP_HDR_LEN || (size_t)rc > left || m.reason != NULL)
            abort();
        if ((m.src.addr.family != 4 && m.src.addr.family != 6) ||
            m.dst.addr.family != m.src.addr.family || m.payload_len == 0 || m.ts_usec > 999999 ||
            m.n_unknown > m.n_chunks)
            abort();
        if (!within(m.payload, m.payload_len, p, (size_t)rc) ||
            !within(m.auth_key.p, m.auth_key.len, p, (size_t)rc) ||
            !within(m.correlation_id.p, m.correlation_id.len, p, (size_t)rc))
            abort();

        if (!m.compressed)
            check_qos(m.payload, m.payload_len);

        /* Re-encode: unknown chunks and keep-alive drop out; absent optional chunks come back
         * as zeros, which decode to the same fields. Only the size can outgrow HEP_MAX_LEN. */
        int n = hep_encode(&m, out, sizeof(out));
        if (n == -EMSGSIZE && hep_encoded_len(&m) > HEP_MAX_LEN)
            goto next;
        if (n <= 0 || (size_t)n != hep_encoded_len(&m))
            abort();
        if (hep_parse(out, (size_t)n, &back) != n)
            abort();
        if (!net_endpoint_eq(&m.src, &back.src) || !net_endpoint_eq(&m.dst, &back.dst) ||
            m.ip_proto != back.ip_proto || m.ts_sec != back.ts_sec || m.ts_usec != back.ts_usec ||
            m.proto_type != back.proto_type || m.agent_id != back.agent_id ||
            m.compressed != back.compressed || m.payload_len != back.payload_len ||
            memcmp(m.payload, back.payload, m.payload_len) != 0 ||
            !sv_eq(m.auth_key, back.auth_key) || !sv_eq(m.correlation_id, back.correlation_id))
            abort();
    next:
        off += (size_t)rc;
    }
    free(buf);
    return 0;
}
