/* fuzz_ws: libFuzzer target (and corpus replay) for the WebSocket framer: the input is walked
 * as a stream of frames, each payload unmasked as tcp_app would. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_copy.h"
#include "ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = fuzz_exact_copy(data, size);
    uint8_t *out = malloc(size ? size : 1);
    if (buf == NULL || out == NULL)
        goto done;
    size_t off = 0;
    while (off < size) {
        ws_frame_t f;
        int h = ws_parse_frame(buf + off, size - off, &f);
        if (h == WS_PARTIAL || h == WS_INVALID)
            break;
        if (h < 2 || h > WS_MAX_HEADER || (size_t)h > size - off)
            abort(); /* a header length must lie inside what was given */
        if (ws_is_control(f.opcode) && (f.payload_len > 125 || !f.fin))
            abort();
        if (!f.masked && memcmp(f.mask, "\0\0\0\0", 4) != 0)
            abort();
        off += (size_t)h;
        size_t left = size - off;
        size_t n = f.payload_len < left ? (size_t)f.payload_len : left;
        ws_unmask(out, buf + off, n, f.mask, 0);
        off += n;
    }
done:
    free(buf);
    free(out);
    return 0;
}
