/* fuzz_rtp: libFuzzer target (and corpus replay) for the RTP decoder and its helpers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dtmf.h"
#include "fuzz_copy.h"
#include "rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = fuzz_exact_copy(data, size);
    if (buf == NULL)
        return 0;

    rtp_hdr_t h;
    int rc = rtp_parse(buf, size, &h);
    bool looks = rtp_looks_like(buf, size);
    if (looks && rc != RTP_OK)
        abort(); /* the heuristic promises a parse */
    if (rc == RTP_OK) {
        /* Header, extension, payload and padding tile the input exactly. */
        size_t hdr = RTP_HEADER_LEN + 4u * h.csrc_count + (h.extension ? 4u + h.ext_len : 0u);
        if (h.version != 2 || h.payload != buf + hdr ||
            hdr + h.payload_len + h.padding_len != size || (h.padding && h.padding_len == 0) ||
            (h.extension && h.ext_data + h.ext_len != h.payload))
            abort();
        rtp_event_t ev;
        if (rtp_event_parse(h.payload, h.payload_len, &ev) == RTP_OK && ev.volume > 63)
            abort();
        /* The same packet three times through the DTMF grouping: at most one digit, a DTMF
         * one, out before or at the flush. */
        dtmf_track_t t = {0};
        dtmf_event_t out;
        int digits = 0;
        for (int i = 0; i < 3; i++)
            digits += dtmf_track_packet(&t, i, &h, &out) ? 1 : 0;
        digits += dtmf_track_flush(&t, &out) ? 1 : 0;
        if (digits > 1 || (digits == 1 && dtmf_event_name(out.event) == NULL))
            abort();
        const char *name = rtp_static_codec(h.payload_type);
        if ((name == NULL) != (rtp_static_clock_rate(h.payload_type) == 0))
            abort();
    }
    rtp_event_t ev;
    if (rtp_event_parse(buf, size, &ev) != (size >= 4 ? RTP_OK : RTP_INVALID))
        abort();
    /* The input as a SIP INFO body of either DTMF type. */
    uint8_t digit;
    uint32_t ms;
    if (dtmf_info_parse("application/dtmf-relay", 22, (const char *)buf, size, &digit, &ms) ==
            DTMF_OK &&
        dtmf_event_name(digit) == NULL)
        abort();
    if (dtmf_info_parse("application/dtmf", 16, (const char *)buf, size, &digit, &ms) == DTMF_OK &&
        dtmf_event_name(digit) == NULL)
        abort();
    if (size > 0) {
        (void)rtp_static_codec(buf[0]);
        (void)rtp_static_clock_rate(buf[0]);
    }
    free(buf);
    return 0;
}
