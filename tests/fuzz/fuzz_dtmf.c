/* fuzz_dtmf: libFuzzer target (and corpus replay) for the DTMF decoders: SIP INFO bodies
 * (dtmf_info_parse) and RFC 4733 telephone-event packets grouped into events
 * (dtmf_track_packet / dtmf_track_flush).
 *
 * Input: byte 0 splits the rest. Up to its value (mod the length), a SIP INFO: a content type
 * up to the first NUL, the body after it. The remainder is a stream of RTP packets, each
 * preceded by a 2-byte big-endian length (cut to what remains) and arriving 20 ms apart. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dtmf.h"
#include "fuzz_copy.h"
#include "rtp.h"

static void check_event(const dtmf_event_t *e)
{
    if (dtmf_event_name(e->event) == NULL || e->volume > 63)
        abort(); /* only DTMF events come out, with a 6-bit volume */
}

static void fuzz_info(const uint8_t *p, size_t len)
{
    const uint8_t *nul = memchr(p, 0, len);
    size_t ct_len = nul != NULL ? (size_t)(nul - p) : len;
    size_t body_len = nul != NULL ? len - ct_len - 1 : 0;
    uint8_t *ct = fuzz_exact_copy(p, ct_len),
            *body = fuzz_exact_copy(nul != NULL ? nul + 1 : p, body_len);
    if (ct != NULL && body != NULL) {
        uint8_t event = 0xff;
        uint32_t duration_ms = 0;
        int r = dtmf_info_parse((const char *)ct, ct_len, (const char *)body, body_len, &event,
                                &duration_ms);
        if (r == DTMF_OK && dtmf_event_name(event) == NULL)
            abort();
        if (r != DTMF_OK && r != DTMF_INVALID)
            abort();
    }
    free(ct);
    free(body);
}

static void fuzz_events(const uint8_t *p, size_t len)
{
    dtmf_track_t track;
    memset(&track, 0, sizeof(track));
    dtmf_event_t out;
    int64_t ts_ns = 1000000000;
    while (len >= 2) {
        size_t n = (size_t)p[0] << 8 | p[1];
        p += 2, len -= 2;
        if (n > len)
            n = len;
        uint8_t *pkt = fuzz_exact_copy(p, n);
        rtp_hdr_t h;
        if (pkt != NULL && rtp_parse(pkt, n, &h) == RTP_OK &&
            dtmf_track_packet(&track, ts_ns, &h, &out))
            check_event(&out);
        free(pkt);
        p += n, len -= n;
        ts_ns += 20000000;
    }
    if (dtmf_track_flush(&track, &out))
        check_event(&out);
    if (dtmf_track_flush(&track, &out))
        abort(); /* one flush hands out the event in progress; a second has nothing */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t split = size > 1 ? data[0] % size : 0;
    fuzz_info(data + 1, split);
    fuzz_events(data + 1 + split, size - 1 - split);
    return 0;
}
