/* fuzz_pcap: frames of every supported link type, and whole savefiles, through the capture module.
 *
 * Input layout:
 *   - starts with a pcap or pcapng magic: the whole input is a savefile, read from memory with
 *     pcap_fopen_offline and cap_read_pcap (what cap_read_file does after opening the file);
 *   - else byte 0 picks the link type (low 4 bits), small or roomier limits (bit 4) and the
 *     mode (bit 7): one frame (the rest of the input; also handed over as a ring would, peeked,
 *     which must deliver the same), or a sequence of frames, each
 *     [len: 2 bytes BE][time step: 1 byte, x 100 ms][len bytes], so that fragments, TCP
 *     segments and the expiry timers meet across frames. */
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cap.h"
#include "fuzz_copy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int dlts[] = {
    DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW, 101,
    DLT_IPV4,   DLT_IPV6,      DLT_NULL,       108,     14,
    DLT_EN10MB, DLT_EN10MB,    DLT_LINUX_SLL,  DLT_RAW, DLT_NULL,
    9999,
};

typedef struct {
    uint64_t sum;
    uint32_t turn;
} fuzz_ctx_t;

/* Reads every byte it is shown (so ASan checks the views) and, for TCP, consumes a varying
 * amount: nothing, everything or something in between. */
static size_t sink(void *ctx, const packet_view_t *pkt)
{
    fuzz_ctx_t *f = ctx;
    for (size_t i = 0; i < pkt->len; i++)
        f->sum += pkt->payload[i];
    for (size_t i = 0; i < pkt->l3_len; i++)
        f->sum += pkt->l3[i];
    for (uint32_t i = 0; i < pkt->frame_caplen; i++)
        f->sum += pkt->frame[i];
    f->sum += pkt->src.port + pkt->dst.port + pkt->vlan + (uint64_t)pkt->ts_ns;
    if (pkt->ip_proto != CAP_PROTO_TCP || pkt->len == 0)
        return 0;
    uint32_t turn = f->turn++;
    switch (turn % 4) {
        case 0:
            return 0;
        case 1:
            return pkt->len;
        default:
            return (size_t)((turn * 2654435761u) % (pkt->len + 1));
    }
}

static bool is_savefile(const uint8_t *d, size_t n)
{
    static const uint8_t magics[][4] = {
        {0xd4, 0xc3, 0xb2, 0xa1}, {0xa1, 0xb2, 0xc3, 0xd4}, /* µs, both byte orders */
        {0x4d, 0x3c, 0xb2, 0xa1}, {0xa1, 0xb2, 0x3c, 0x4d}, /* ns */
        {0x0a, 0x0d, 0x0d, 0x0a},                           /* pcapng section header */
    };
    if (n < 4)
        return false;
    for (size_t i = 0; i < sizeof(magics) / sizeof(magics[0]); i++)
        if (memcmp(d, magics[i], 4) == 0)
            return true;
    return false;
}

static void read_savefile(cap_t *cap, const uint8_t *data, size_t size)
{
    /* fmemopen wants a writable buffer even for reading. */
    void *copy = fuzz_exact_copy(data, size);
    if (copy == NULL)
        return;
    FILE *fp = fmemopen(copy, size, "rb");
    if (fp != NULL) {
        char errbuf[PCAP_ERRBUF_SIZE];
        pcap_t *p =
            pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO, errbuf);
        if (p != NULL) {
            char err[512];
            (void)cap_read_pcap(cap, p, err, sizeof(err));
            pcap_close(p); /* closes fp */
        } else {
            fclose(fp);
        }
    }
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    /* Small limits so that eviction, buffer caps and timeouts are reachable, or (bit 4)
     * roomier ones. Not the defaults: their tables cost milliseconds per input under ASan,
     * and the unit tests cover them. */
    cap_cfg_t cfg;
    cap_cfg_init(&cfg);
    bool roomy = !is_savefile(data, size) && (data[0] & 0x10);
    cfg.frag_max_bytes = roomy ? 256 * 1024 : 16 * 1024;
    cfg.frag_timeout_ms = roomy ? 30000 : 1000;
    cfg.tcp_max_flows = roomy ? 256 : 8;
    cfg.tcp_max_buffer = roomy ? 65536 : 2048;
    cfg.tcp_timeout_ms = roomy ? 300000 : 2000;
    fuzz_ctx_t ctx = {0, 0};
    cap_t *cap = cap_new(&cfg, sink, &ctx);
    if (cap == NULL)
        return 0;
    if (is_savefile(data, size)) {
        read_savefile(cap, data, size);
    } else {
        int dlt = dlts[data[0] & 0x0f];
        int64_t ts = 1705312800000000000LL;
        if (!(data[0] & 0x80)) {
            /* One frame. */
            size_t n = size - 1;
            uint8_t *frame = fuzz_exact_copy(data + 1, n);
            if (frame != NULL) {
                packet_view_t peek;
                bool peeked = cap_peek_udp(dlt, frame, n, &peek); /* the look-ahead's view */
                uint64_t peek_sum = 0;
                for (size_t i = 0; peeked && i < peek.len; i++)
                    peek_sum += peek.payload[i];
                cap_process_frame(cap, dlt, ts, frame, (uint32_t)n, (uint32_t)n);
                /* The same frame as a ring hands it over, peeked on another thread: the same
                 * packets (the sink's sum reads all of them) and the same counters. */
                fuzz_ctx_t ctx2 = {0, 0};
                cap_t *cap2 = cap_new(&cfg, sink, &ctx2);
                if (cap2 != NULL) {
                    cap_frame_t f = {.info = {.ts_ns = ts,
                                              .caplen = (uint32_t)n,
                                              .wirelen = (uint32_t)n,
                                              .dlt = dlt,
                                              .vlan = peeked ? peek.vlan : 0,
                                              .l3_off = peeked ? (uint8_t)(peek.l3 - frame) : 0,
                                              .peeked = peeked},
                                     .data = frame};
                    cap_process_frame_peeked(cap2, &f);
                    if (ctx2.sum != ctx.sum ||
                        memcmp(cap_stats(cap), cap_stats(cap2), sizeof(cap_stats_t)) != 0)
                        abort();
                    cap_free(cap2);
                }
                ctx.sum += peek_sum;
                free(frame);
            }
        } else {
            size_t off = 1;
            while (off + 3 <= size) {
                size_t n = (size_t)data[off] << 8 | data[off + 1];
                ts += (int64_t)data[off + 2] * 100000000;
                off += 3;
                if (n > size - off)
                    n = size - off;
                uint8_t *frame = malloc(n ? n : 1);
                if (frame == NULL)
                    break;
                memcpy(frame, data + off, n);
                cap_process_frame(cap, dlt, ts, frame, (uint32_t)n, (uint32_t)n + (n & 3));
                free(frame);
                off += n;
            }
        }
        cap_flush(cap);
    }
    cap_free(cap);
    return 0;
}
