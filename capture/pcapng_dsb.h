/* pcapng_dsb: the Decryption Secrets Blocks of a pcapng file (block type 0x0000000A,
 * draft-ietf-opsawg-pcapng §4.7), which libpcap skips. A TLS key log stored in the capture
 * (secrets type 0x544c534b 'TLSK', NSS key log text) is read here before the file is opened
 * for packets, so that `editcap --inject-secrets tls,KEYS` captures decrypt without a
 * --tls-keylog. */
#ifndef SIPSCOPE_PCAPNG_DSB_H
#define SIPSCOPE_PCAPNG_DSB_H

#include <stddef.h>
#include <stdint.h>

#define PCAPNG_DSB_TLS 0x544c534bu /* 'TLSK': NSS key log text */
#define PCAPNG_DSB_MAX (16u << 20) /* a larger secrets block is skipped (counted) */

/* One block's secrets, borrowed for the call. */
typedef void (*pcapng_dsb_fn)(void *ctx, uint32_t type, const uint8_t *data, size_t len);

typedef struct {
    uint64_t blocks;  /* Decryption Secrets Blocks handed to fn */
    uint64_t skipped; /* oversized or malformed ones */
} pcapng_dsb_stats_t;

/* Walks the blocks of path up to its first packet block (block headers only, seeking past the
 * rest) and calls fn for each Decryption Secrets Block before it: editcap --inject-secrets and
 * Wireshark put them there, and stopping there keeps the cost of a large file to its first
 * blocks. A file that is not pcapng, or not a regular file (a pipe, a FIFO: their bytes are
 * libpcap's alone), is no error: 0 blocks. Stops quietly at a malformed or truncated block
 * (libpcap will say what is wrong with the packets). Returns 0, or -errno when the file cannot
 * be opened. stats (may be NULL) is filled afresh. */
int pcapng_dsb_scan(const char *path, pcapng_dsb_fn fn, void *ctx, pcapng_dsb_stats_t *stats);

#endif
