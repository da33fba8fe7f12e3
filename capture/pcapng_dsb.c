/* pcapng_dsb: Decryption Secrets Blocks out of a pcapng file, before libpcap reads it. */
#include "pcapng_dsb.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* Every pcapng block (§3.1):
 *   +---------------------------------------+
 *   | block type 32 | block total length 32  |
 *   | body ...                               |
 *   | block total length 32                  |
 *   +---------------------------------------+
 * The Section Header Block (type 0x0A0D0D0A) opens each section with the byte-order magic
 * 0x1A2B3C4D, which says the byte order of every block of its section. A Decryption Secrets
 * Block's body is secrets type 32 | secrets length 32 | secrets data, padded to 32 bits. */
#define SHB_TYPE 0x0A0D0D0Au
#define DSB_TYPE 0x0000000Au
#define BOM      0x1A2B3C4Du

static uint32_t get32(const uint8_t *p, bool swap)
{
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return swap ? __builtin_bswap32(v) : v;
}

int pcapng_dsb_scan(const char *path, pcapng_dsb_fn fn, void *ctx, pcapng_dsb_stats_t *stats)
{
    pcapng_dsb_stats_t local = {0};
    if (stats == NULL)
        stats = &local;
    *stats = (pcapng_dsb_stats_t){0};
    /* Regular files only: a pipe or a FIFO (analyze <(zcat x.pcapng)) must reach libpcap whole,
     * and opening a FIFO here would wait for its writer. */
    struct stat st;
    if (stat(path, &st) != 0)
        return -errno;
    if (!S_ISREG(st.st_mode))
        return 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -errno;
    bool swap = false;
    uint8_t hdr[12];
    for (bool first = true;; first = false) {
        if (fread(hdr, 1, 12, f) != 12)
            break;
        uint32_t type_le = get32(hdr, false);
        if (type_le == SHB_TYPE) { /* the same both ways round */
            uint32_t bom = get32(hdr + 8, false);
            if (bom == BOM)
                swap = false;
            else if (bom == __builtin_bswap32(BOM))
                swap = true;
            else
                break;
        } else if (first) {
            break; /* not pcapng */
        }
        uint32_t type = get32(hdr, swap), total = get32(hdr + 4, swap);
        if (total < 12 || total % 4 != 0)
            break;
        if (type == DSB_TYPE && total >= 20) {
            uint32_t stype = get32(hdr + 8, swap);
            uint8_t lenb[4];
            if (fread(lenb, 1, 4, f) != 4)
                break;
            uint32_t slen = get32(lenb, swap);
            if (slen > PCAPNG_DSB_MAX || slen > total - 20) {
                stats->skipped++;
            } else {
                uint8_t *buf = malloc(slen ? slen : 1);
                if (buf == NULL || fread(buf, 1, slen, f) != slen) {
                    free(buf);
                    break;
                }
                fn(ctx, stype, buf, slen);
                stats->blocks++;
                free(buf);
                if (fseek(f, (long)(total - 16 - slen), SEEK_CUR) != 0)
                    break;
                continue;
            }
            if (fseek(f, (long)total - 16, SEEK_CUR) != 0)
                break;
            continue;
        }
        if (type == 6 || type == 3 || type == 2)
            break; /* the first packet: secrets come before it (see the header) */
        if (fseek(f, (long)total - 12, SEEK_CUR) != 0)
            break;
    }
    fclose(f);
    return 0;
}
