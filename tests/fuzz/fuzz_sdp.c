/* fuzz_sdp: libFuzzer target (and corpus replay) for the SDP parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_copy.h"
#include "sdp.h"

/* A view must be empty or lie inside the input. */
static void check_view(sv_t v, const char *buf, size_t len)
{
    if (v.len > 0 && (v.p < buf || v.p + v.len > buf + len))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = fuzz_exact_copy(data, size);
    if (buf == NULL)
        return 0;

    static sdp_t s;
    if (sdp_parse(buf, size, &s) == SDP_OK) {
        if (s.n_media > SDP_MAX_MEDIA)
            abort();
        check_view(s.origin_user, buf, size);
        check_view(s.session_id, buf, size);
        check_view(s.session_name, buf, size);
        (void)sdp_dir_name(s.dir);
        for (size_t i = 0; i < s.n_media; i++) {
            const sdp_media_t *m = &s.media[i];
            if (m->n_formats > SDP_MAX_FORMATS || m->n_rtpmaps > SDP_MAX_RTPMAPS ||
                m->port_count == 0)
                abort();
            check_view(m->media, buf, size);
            check_view(m->proto, buf, size);
            (void)sdp_dir_name(m->dir);
            for (size_t k = 0; k < m->n_formats; k++) {
                const sdp_rtpmap_t *r = sdp_rtpmap_find(m, m->formats[k]);
                if (r != NULL && r->payload_type != m->formats[k])
                    abort();
            }
            for (size_t k = 0; k < m->n_rtpmaps; k++) {
                const sdp_rtpmap_t *r = &m->rtpmaps[k];
                check_view(r->encoding, buf, size);
                check_view(r->fmtp, buf, size);
                if (r->payload_type > 127 || r->channels == 0 ||
                    sdp_rtpmap_find(m, r->payload_type) != r)
                    abort(); /* one entry per payload type */
            }
        }
    }
    free(buf);
    return 0;
}
