/* fuzz_tls: libFuzzer target (and corpus replay) for the TLS record layer, the hello parsing
 * and, with keys, the decryption paths (engine/tls.c).
 *
 * Input: optional key log text first (when the input starts with a key log label or '#'),
 * ended by an empty line; then chunks, each a flags byte (bit 0: from the server), a 16-bit
 * big-endian length and that many bytes (cut short at the end of the input). The seeds in
 * corpus/tls are the sessions of tests/pcap/tls in this form, with and without their keys. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_copy.h"
#include "tls.h"

static void on_plain(void *ctx, tls_dir_t dir, const uint8_t *p, size_t n)
{
    size_t *total = ctx;
    if (n == 0 || n > TLS_RECORD_MAX || (dir != TLS_FROM_CLIENT && dir != TLS_FROM_SERVER))
        abort(); /* a record's plaintext is never empty here nor larger than a record */
    *total += n;
    (void)p[n - 1];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tls_keylog_t *keys = NULL;
    size_t off = 0;
    if (size > 0 && (data[0] == 'C' || data[0] == 'S' || data[0] == '#')) {
        const uint8_t *end = memmem(data, size, "\n\n", 2);
        size_t klen = end ? (size_t)(end - data) + 2 : size;
        keys = tls_keylog_new(16);
        if (keys == NULL)
            return 0;
        (void)tls_keylog_add_text(keys, (const char *)data, klen);
        off = klen;
    }
    size_t total = 0;
    tls_session_t *s = tls_session_new(keys, on_plain, &total);
    if (s == NULL) {
        tls_keylog_free(keys);
        return 0;
    }
    while (off + 3 <= size) {
        tls_dir_t dir = (data[off] & 1) ? TLS_FROM_SERVER : TLS_FROM_CLIENT;
        size_t n = (size_t)(data[off + 1] << 8 | data[off + 2]);
        off += 3;
        if (n > size - off)
            n = size - off;
        uint8_t *buf = fuzz_exact_copy(data + off, n);
        if (buf == NULL)
            break;
        (void)tls_session_feed(s, dir, buf, n);
        free(buf);
        off += n;
    }
    const tls_info_t *info = tls_session_info(s);
    if (info->app_bytes != total || (info->decrypted != (info->app_records > 0)) ||
        strlen(info->sni) > TLS_SNI_MAX)
        abort();
    (void)tls_version_name(info->version);
    (void)tls_cipher_name(info->cipher);
    tls_session_free(s);
    tls_keylog_free(keys);
    return 0;
}
