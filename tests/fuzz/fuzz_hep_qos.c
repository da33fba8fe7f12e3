/* fuzz_hep_qos: libFuzzer target (and corpus replay) for the HEP quality-report decoder
 * (hep_qos_parse, the JSON payload of HEP type 34). What it decodes must encode again and decode
 * to the same report: Call-ID, addresses, counters, a sample's interval. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_copy.h"
#include "hep_qos.h"

static void check_bounds(const hep_qos_t *q)
{
    if (q->call_id_len > HEP_QOS_CALL_ID_MAX || q->call_id[q->call_id_len] != '\0' ||
        memchr(q->codec, 0, sizeof(q->codec)) == NULL)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = fuzz_exact_copy(data, size);
    if (buf == NULL)
        return 0;
    static hep_qos_t q, again;
    static char json[HEP_QOS_MAX_LEN];
    const char *why = NULL;
    int r = hep_qos_parse(buf, size, &q, &why);
    if (r != 0 && why == NULL)
        abort(); /* a refusal always says why */
    if (r == 0) {
        check_bounds(&q);
        int n = hep_qos_encode(&q, json, sizeof(json));
        if (n < 0 || hep_qos_parse((const uint8_t *)json, (size_t)n, &again, &why) != 0)
            abort(); /* what was decoded encodes, and that decodes */
        check_bounds(&again);
        if (again.call_id_len != q.call_id_len ||
            memcmp(again.call_id, q.call_id, q.call_id_len) != 0 || again.ssrc != q.ssrc ||
            again.final != q.final || again.sample != q.sample || again.src.port != q.src.port ||
            again.dst.port != q.dst.port || again.src.addr.family != q.src.addr.family)
            abort();
        /* a sample carries its interval (and no cumulative figures), a report its figures */
        if (q.sample ? memcmp(&again.interval, &q.interval, sizeof(q.interval)) != 0
                     : again.packets != q.packets || again.lost != q.lost)
            abort();
    }
    free(buf);
    return 0;
}
