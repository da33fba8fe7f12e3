/* fuzz_rtcp: libFuzzer target (and corpus replay) for the compound RTCP decoder. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_copy.h"
#include "rtcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = fuzz_exact_copy(data, size);
    if (buf == NULL)
        return 0;

    static rtcp_compound_t rc;
    int r = rtcp_parse(buf, size, &rc);
    bool looks = rtcp_looks_like(buf, size);
    if (looks && r != RTCP_OK)
        abort(); /* the heuristic promises a parse */
    if ((r == RTCP_OK) != (rc.n_packets > 0) || rc.n_packets > RTCP_MAX_PACKETS)
        abort();
    for (size_t i = 0; i < rc.n_packets; i++) {
        const rtcp_packet_t *p = &rc.packets[i];
        if (p->type < 192 || p->type > 223 || p->n_reports > RTCP_MAX_REPORTS ||
            p->n_reports > p->count || p->app_name[4] != '\0')
            abort();
        const uint8_t *c = (const uint8_t *)p->cname.p;
        if (p->cname.len > 0 && (c < buf || c + p->cname.len > buf + size))
            abort();
        for (size_t k = 0; k < p->n_reports; k++) {
            int32_t lost = p->reports[k].cumulative_lost;
            if (lost < -8388608 || lost > 8388607)
                abort();
        }
    }
    free(buf);
    return 0;
}
