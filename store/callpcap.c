/* callpcap: per-call pcap files (plain or gzip) with a bounded cache of open files. */
#include "callpcap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zlib.h>

#include "hash.h"
#include "pcappath.h"
#include "store_int.h"

#define LINKTYPE_RAW    101
#define PCAP_MAGIC_NSEC 0xa1b23c4du
#define MAX_SYNTH       (65535 + 64)

#define ZOUT_SIZE 16384

/* Why gzip as CALLPCAP_GZ_*: several hundred calls are open at once on a busy server, and each
 * open file keeps its own deflate state, so memory per file is what matters. What compresses
 * is the headers of consecutive packets (the same addresses, ports and SSRC; sequence and
 * timestamp moving by steps), which repeat within a few hundred bytes: a 4 KB window finds
 * them. Measured on header-mode files (zlib 1.2.13): window 4 KB and memLevel 6 keep 34% of the
 * bytes at 116 MB/s, zlib's defaults (256 KB of state) 31% at 170 MB/s; memLevel 5 saves 16 KB
 * but its smaller blocks cost 20% more time (twice as much on payloads that do not compress);
 * level 1 costs half of level 6 for 1% more bytes. */

typedef struct {
    int64_t row; /* 0 = free slot */
    int64_t invite_ns;
    FILE *file;
    bool gz;    /* z is live: deflate into file */
    z_stream z; /* not moved once initialised (zlib keeps a pointer back to it) */
    uint64_t last_use;
} open_file_t;

struct callpcap {
    char dir[1024];
    callpcap_cfg_t cfg;
    open_file_t *slots;
    size_t n_slots;
    uint64_t clock;
    int64_t newest_row; /* the highest row written this run: see file_for */
    callpcap_stats_t stats;
    uint8_t zout[ZOUT_SIZE];  /* deflate's output on its way to a file */
    uint8_t synth[MAX_SYNTH]; /* scratch for rebuilt packets */
};

int callpcap_rtp_parse(const char *name, callpcap_rtp_t *out)
{
    static const char *const names[] = {"full", "header", "none"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (callpcap_rtp_t)i;
            return 0;
        }
    }
    return -EINVAL;
}

int callpcap_compress_parse(const char *name, callpcap_compress_t *out)
{
    if (strcmp(name, "none") == 0)
        *out = CALLPCAP_PLAIN;
    else if (strcmp(name, "gzip") == 0)
        *out = CALLPCAP_GZIP;
    else
        return -EINVAL;
    return 0;
}

/* zlib's allocator, counting what the deflate states hold (stats.gzip_state_bytes): each block
 * carries its size in front. */
static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    callpcap_t *cp = opaque;
    size_t n = (size_t)items * size;
    max_align_t *b = malloc(sizeof(max_align_t) + n);
    if (b == NULL)
        return NULL;
    *(size_t *)b = n;
    cp->stats.gzip_state_bytes += n;
    return b + 1;
}

static void z_free(voidpf opaque, voidpf p)
{
    callpcap_t *cp = opaque;
    max_align_t *b = (max_align_t *)p - 1;
    cp->stats.gzip_state_bytes -= *(size_t *)b;
    free(b);
}

static int mkdir_p(const char *path)
{
    char tmp[1200];
    int n = snprintf(tmp, sizeof(tmp), "%s", path);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return -ENAMETOOLONG;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return -errno;
    return 0;
}

callpcap_t *callpcap_new(const char *dir, const callpcap_cfg_t *cfg, char *err, size_t errlen)
{
    int rc = mkdir_p(dir);
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s", dir, strerror(-rc));
        return NULL;
    }
    callpcap_t *cp = calloc(1, sizeof(*cp));
    if (cp == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    /* (a cut name would file the pcaps under another directory than the one made above) */
    int n = snprintf(cp->dir, sizeof(cp->dir), "%s", dir);
    if (n < 0 || (size_t)n >= sizeof(cp->dir)) {
        snprintf(err, errlen, "pcap directory name too long (%zu bytes, at most %zu)", strlen(dir),
                 sizeof(cp->dir) - 1);
        free(cp);
        return NULL;
    }
    if (cfg != NULL)
        cp->cfg = *cfg;
    cp->n_slots = cp->cfg.max_open ? cp->cfg.max_open : 256;
    cp->slots = calloc(cp->n_slots, sizeof(*cp->slots));
    if (cp->slots == NULL) {
        free(cp);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return cp;
}

/* Bytes to an open file: as they are, or through its deflate state. 0, or -EIO. */
static int put_bytes(callpcap_t *cp, open_file_t *of, const void *buf, size_t len)
{
    if (!of->gz)
        return fwrite(buf, 1, len, of->file) == len ? 0 : -EIO;
    of->z.next_in = (Bytef *)(uintptr_t)buf; /* zlib reads only; its field is not const */
    of->z.avail_in = (uInt)len;
    do {
        of->z.next_out = cp->zout;
        of->z.avail_out = sizeof(cp->zout);
        if (deflate(&of->z, Z_NO_FLUSH) == Z_STREAM_ERROR)
            return -EIO;
        size_t n = sizeof(cp->zout) - of->z.avail_out;
        if (n > 0 && fwrite(cp->zout, 1, n, of->file) != n)
            return -EIO;
    } while (of->z.avail_out == 0); /* room left over: all input was taken */
    return 0;
}

/* The end of a gzip member: what deflate still holds, then the CRC-32 and length trailer
 * (RFC 1952 2.2). 0, or -EIO. */
static int finish_gz(callpcap_t *cp, open_file_t *of)
{
    int rc = 0, z;
    of->z.avail_in = 0;
    do {
        of->z.next_out = cp->zout;
        of->z.avail_out = sizeof(cp->zout);
        z = deflate(&of->z, Z_FINISH);
        size_t n = sizeof(cp->zout) - of->z.avail_out;
        if (z == Z_STREAM_ERROR || (n > 0 && fwrite(cp->zout, 1, n, of->file) != n)) {
            rc = -EIO;
            break;
        }
    } while (z != Z_STREAM_END);
    deflateEnd(&of->z);
    of->gz = false;
    return rc;
}

/* Close a slot's file, complete (the gzip trailer written, everything flushed). */
static void close_slot(callpcap_t *cp, open_file_t *s)
{
    int rc = 0;
    if (s->gz)
        rc = finish_gz(cp, s);
    if (s->file != NULL && fclose(s->file) != 0)
        rc = -EIO;
    if (rc != 0)
        cp->stats.write_errors++;
    memset(s, 0, sizeof(*s));
}

/* Open a call's file: emptied first for a call's first packet (replace), else for appending.
 * Plain, or gzip with a new member (a file reopened after an eviction gets a second member;
 * readers take the members as one stream). A new file starts with the pcap file header. 0, or
 * -EIO (counted, nothing left open). */
static int open_file(callpcap_t *cp, open_file_t *of, const char *path, bool replace)
{
    of->file = fopen(path, replace ? "wb" : "ab");
    if (of->file == NULL)
        return -EIO;
    bool fresh = ftell(of->file) == 0;
    if (cp->cfg.compress == CALLPCAP_GZIP) {
        of->z.zalloc = z_alloc;
        of->z.zfree = z_free;
        of->z.opaque = cp;
        /* windowBits + 16: a gzip header and trailer around the deflate data. */
        if (deflateInit2(&of->z, CALLPCAP_GZ_LEVEL, Z_DEFLATED, CALLPCAP_GZ_WBITS + 16,
                         CALLPCAP_GZ_MEMLEVEL, Z_DEFAULT_STRATEGY) != Z_OK) {
            fclose(of->file);
            of->file = NULL;
            return -EIO;
        }
        of->gz = true;
    }
    if (fresh) {
        /* pcap file header (nanosecond), little-endian as written by this host */
        uint32_t hdr[6] = {PCAP_MAGIC_NSEC, 2 | (4u << 16), 0, 0, 262144, LINKTYPE_RAW};
        if (put_bytes(cp, of, hdr, sizeof(hdr)) != 0)
            cp->stats.write_errors++;
    }
    return 0;
}

/* The open file of a call: found in the cache, or opened (created with a pcap header, or
 * appended to after an earlier eviction), evicting the least recently used.
 *
 * A call's first packet is written when the call is created, and the correlator numbers calls
 * in the order it creates them, so a row above every row written so far is a new call. Its
 * file is replaced, never appended to: one that exists already was left by a run killed before
 * it stored that row, whose number the store hands out again (a row is taken once it is stored). */
static open_file_t *file_for(callpcap_t *cp, call_ref_t ref)
{
    size_t start = (size_t)(hash_mix((uint64_t)ref.row) % cp->n_slots);
    open_file_t *victim = NULL;
    /* Linear probe over a short window; the cache is small and calls are few per slot. */
    for (size_t i = 0; i < cp->n_slots && i < 16; i++) {
        open_file_t *s = &cp->slots[(start + i) % cp->n_slots];
        if (s->row == ref.row) {
            s->last_use = ++cp->clock;
            return s;
        }
        if (victim == NULL || s->row == 0 || (victim->row != 0 && s->last_use < victim->last_use))
            victim = s;
    }
    close_slot(cp, victim);
    char path[1300];
    if (pcap_call_path(cp->dir, ref.row, ref.invite_ns, path, sizeof(path)) != 0)
        return NULL;
    char *slash = strrchr(path, '/');
    *slash = '\0';
    if (mkdir_p(path) != 0) {
        cp->stats.write_errors++;
        return NULL;
    }
    *slash = '/';
    if (cp->cfg.compress == CALLPCAP_GZIP) {
        size_t n = strlen(path);
        if (n + 4 > sizeof(path))
            return NULL;
        memcpy(path + n, ".gz", 4);
    }
    bool first_packet = ref.row > cp->newest_row;
    if (open_file(cp, victim, path, first_packet) != 0) {
        cp->stats.write_errors++;
        return NULL;
    }
    cp->stats.files_opened++;
    if (first_packet)
        cp->newest_row = ref.row;
    victim->row = ref.row;
    victim->invite_ns = ref.invite_ns;
    victim->last_use = ++cp->clock;
    return victim;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* Rebuild an unfragmented IP/UDP packet around payload: for a datagram reassembled from
 * fragments, or a SIP message taken out of a TCP stream. Returns its length, 0 if too big. */
static size_t synthesize_udp(callpcap_t *cp, const packet_view_t *pkt, const uint8_t *payload,
                             size_t len)
{
    uint8_t *b = cp->synth;
    bool v6 = pkt->src.addr.family == 6;
    size_t iph = v6 ? 40 : 20;
    if (len + iph + 8 > 65535)
        return 0;
    size_t total = iph + 8 + len;
    memset(b, 0, iph + 8);
    uint8_t *udp = b + iph;
    if (v6) {
        b[0] = 0x60;
        put16(b + 4, (uint16_t)(8 + len));
        b[6] = 17;
        b[7] = 64;
        memcpy(b + 8, pkt->src.addr.bytes, 16);
        memcpy(b + 24, pkt->dst.addr.bytes, 16);
    } else {
        b[0] = 0x45;
        put16(b + 2, (uint16_t)total);
        b[8] = 64;
        b[9] = 17;
        memcpy(b + 12, pkt->src.addr.bytes, 4);
        memcpy(b + 16, pkt->dst.addr.bytes, 4);
        put16(b + 10, store_int_csum_fold(store_int_csum_add(0, b, 20)));
    }
    put16(udp, pkt->src.port);
    put16(udp + 2, pkt->dst.port);
    put16(udp + 4, (uint16_t)(8 + len));
    memcpy(udp + 8, payload, len);
    /* UDP checksum over the pseudo-header (mandatory in IPv6, RFC 8200 8.1). */
    size_t alen = v6 ? 16 : 4;
    uint32_t sum = store_int_csum_add(0, pkt->src.addr.bytes, alen);
    sum = store_int_csum_add(sum, pkt->dst.addr.bytes, alen);
    sum += 17 + (uint32_t)(8 + len);
    sum = store_int_csum_add(sum, udp, 8 + len);
    uint16_t ck = store_int_csum_fold(sum);
    put16(udp + 6, ck == 0 ? 0xffff : ck);
    return total;
}

/* Where an RTP packet's payload starts (RFC 3550 5.1 and 5.3.1): the bytes kept in
 * CALLPCAP_RTP_HEADER mode. At most len.
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 *  |                           timestamp                           |
 *  |           synchronization source (SSRC) identifier            |
 *  |            contributing source (CSRC) identifiers (CC of them) |
 *  |  X: defined by profile        |   length (32-bit words)       |
 *  |                        header extension                       |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * Padding (P) sits at the end of the payload and goes with it. */
static size_t rtp_header_len(const uint8_t *p, size_t len)
{
    if (len < 12)
        return len;
    size_t h = 12 + 4 * (size_t)(p[0] & 0x0f);
    if ((p[0] & 0x10) && h + 4 <= len)
        h += 4 + 4 * (size_t)(p[h + 2] << 8 | p[h + 3]);
    return h < len ? h : len;
}

void callpcap_write(callpcap_t *cp, call_ref_t ref, const packet_view_t *pkt, callpcap_pkt_t kind)
{
    if (ref.row <= 0 || (kind != CALLPCAP_PKT_SIP && cp->cfg.rtp == CALLPCAP_RTP_NONE))
        return;
    const uint8_t *data = pkt->l3;
    size_t len = pkt->l3_len;
    size_t payload_at = SIZE_MAX; /* offset of pkt->payload in data, when known */
    if (pkt->ip_proto == PKT_PROTO_TCP || pkt->reassembled || pkt->l3 == NULL) {
        /* One SIP message cut out of a TCP stream, or a datagram from many frames (or none:
         * HEP): written as one UDP datagram of its own. */
        len = synthesize_udp(cp, pkt, pkt->payload, pkt->len);
        data = cp->synth;
        payload_at = len - pkt->len;
    } else if ((uintptr_t)pkt->payload >= (uintptr_t)data &&
               (uintptr_t)pkt->payload + pkt->len <= (uintptr_t)data + len) {
        payload_at = (size_t)((uintptr_t)pkt->payload - (uintptr_t)data);
    }
    if (len == 0 || data == NULL)
        return;
    size_t caplen = len;
    if (kind == CALLPCAP_PKT_RTP && cp->cfg.rtp == CALLPCAP_RTP_HEADER && payload_at != SIZE_MAX)
        caplen = payload_at + rtp_header_len(pkt->payload, pkt->len);
    open_file_t *of = file_for(cp, ref);
    if (of == NULL)
        return;
    /* Record header: time, then the bytes kept and the packet's length on the wire. */
    uint32_t rec[4] = {(uint32_t)(pkt->ts_ns / 1000000000), (uint32_t)(pkt->ts_ns % 1000000000),
                       (uint32_t)caplen, (uint32_t)len};
    if (put_bytes(cp, of, rec, sizeof(rec)) != 0 || put_bytes(cp, of, data, caplen) != 0)
        cp->stats.write_errors++;
    else
        cp->stats.frames_written++;
}

void callpcap_close_call(callpcap_t *cp, int64_t row)
{
    size_t start = (size_t)(hash_mix((uint64_t)row) % cp->n_slots);
    for (size_t i = 0; i < cp->n_slots && i < 16; i++) {
        open_file_t *s = &cp->slots[(start + i) % cp->n_slots];
        if (s->row == row) {
            close_slot(cp, s);
            return;
        }
    }
}

void callpcap_free(callpcap_t *cp)
{
    if (cp == NULL)
        return;
    for (size_t i = 0; i < cp->n_slots; i++)
        close_slot(cp, &cp->slots[i]);
    free(cp->slots);
    free(cp);
}

void callpcap_get_stats(const callpcap_t *cp, callpcap_stats_t *out)
{
    *out = cp->stats;
}
