/* fuzz_hep: libFuzzer target (and corpus replay) for the HEPv3 decoder, re-encoding what parsed. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hep.h"

static bool within(const void *p, size_t n, const uint8_t *buf, size_t size)
{
    const uint8_t *b = p;
    return n == 0 || (b >= buf && n <= size && b - buf <= (ptrdiff_t)(size - n));
}

/* Parse every packet of a stream of back-to-back packets, as the TCP receiver does. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exactly sized copy, so ASan sees any over-read (Suricata isolatedBuffer). */
    uint8_t *buf = malloc(size ? size : 1);
    if (buf == NULL)
        return 0;
    if (size)
        memcpy(buf, data, size);

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
