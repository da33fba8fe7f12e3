/* callpcap: per-call pcap files with a bounded cache of open files. */
#include "callpcap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "hash.h"
#include "pcappath.h"

#define LINKTYPE_RAW      101
#define PCAP_MAGIC_NSEC   0xa1b23c4du
#define MAX_SYNTH         (65535 + 64)

typedef struct {
    int64_t row;                 /* 0 = free slot */
    int64_t invite_ns;
    FILE *file;
    uint64_t last_use;
} open_file_t;

struct callpcap {
    char dir[1024];
    open_file_t *slots;
    size_t n_slots;
    uint64_t clock;
    callpcap_stats_t stats;
    uint8_t synth[MAX_SYNTH];    /* scratch for rebuilt packets */
};

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

callpcap_t *callpcap_new(const char *dir, size_t max_open, char *err, size_t errlen)
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
    snprintf(cp->dir, sizeof(cp->dir), "%s", dir);
    cp->n_slots = max_open ? max_open : 256;
    cp->slots = calloc(cp->n_slots, sizeof(*cp->slots));
    if (cp->slots == NULL) {
        free(cp);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return cp;
}

static void close_slot(open_file_t *s)
{
    if (s->file != NULL)
        fclose(s->file);
    memset(s, 0, sizeof(*s));
}

/* The open file of a call: found in the cache, or opened (created with a pcap header, or
 * appended to after an earlier eviction), evicting the least recently used. */
static FILE *file_for(callpcap_t *cp, call_ref_t ref)
{
    size_t start = (size_t)(hash_mix((uint64_t)ref.row) % cp->n_slots);
    open_file_t *victim = NULL;
    /* Linear probe over a short window; the cache is small and calls are few per slot. */
    for (size_t i = 0; i < cp->n_slots && i < 16; i++) {
        open_file_t *s = &cp->slots[(start + i) % cp->n_slots];
        if (s->row == ref.row) {
            s->last_use = ++cp->clock;
            return s->file;
        }
        if (victim == NULL || s->row == 0 || (victim->row != 0 && s->last_use < victim->last_use))
            victim = s;
    }
    close_slot(victim);
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
    FILE *f = fopen(path, "ab");
    if (f == NULL) {
        cp->stats.write_errors++;
        return NULL;
    }
    if (ftell(f) == 0) {
        /* pcap file header (nanosecond), little-endian as written by this host */
        uint32_t hdr[6] = {PCAP_MAGIC_NSEC, 2 | (4u << 16), 0, 0, 262144, LINKTYPE_RAW};
        if (fwrite(hdr, sizeof(hdr), 1, f) != 1)
            cp->stats.write_errors++;
    }
    cp->stats.files_opened++;
    victim->row = ref.row;
    victim->invite_ns = ref.invite_ns;
    victim->file = f;
    victim->last_use = ++cp->clock;
    return f;
}

static uint16_t ip_checksum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        sum += (uint32_t)(p[len - 1] << 8);
    return sum;
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
        put16(b + 10, ip_checksum_fold(sum16(b, 20, 0)));
    }
    put16(udp, pkt->src.port);
    put16(udp + 2, pkt->dst.port);
    put16(udp + 4, (uint16_t)(8 + len));
    memcpy(udp + 8, payload, len);
    /* UDP checksum over the pseudo-header (mandatory in IPv6, RFC 8200 8.1). */
    size_t alen = v6 ? 16 : 4;
    uint32_t sum = sum16(pkt->src.addr.bytes, alen, 0);
    sum = sum16(pkt->dst.addr.bytes, alen, sum);
    sum += 17 + (uint32_t)(8 + len);
    sum = sum16(udp, 8 + len, sum);
    uint16_t ck = ip_checksum_fold(sum);
    put16(udp + 6, ck == 0 ? 0xffff : ck);
    return total;
}

void callpcap_write(callpcap_t *cp, call_ref_t ref, const packet_view_t *pkt)
{
    if (ref.row <= 0)
        return;
    const uint8_t *data = pkt->l3;
    size_t len = pkt->l3_len;
    if (pkt->ip_proto == PKT_PROTO_TCP || pkt->reassembled || pkt->l3 == NULL) {
        /* One SIP message cut out of a TCP stream, or a datagram from many frames (or none:
         * HEP): written as one UDP datagram of its own. */
        len = synthesize_udp(cp, pkt, pkt->payload, pkt->len);
        data = cp->synth;
    }
    if (len == 0 || data == NULL)
        return;
    FILE *f = file_for(cp, ref);
    if (f == NULL)
        return;
    uint32_t rec[4] = {(uint32_t)(pkt->ts_ns / 1000000000), (uint32_t)(pkt->ts_ns % 1000000000),
                       (uint32_t)len, (uint32_t)len};
    if (fwrite(rec, sizeof(rec), 1, f) != 1 || fwrite(data, len, 1, f) != 1)
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
            close_slot(s);
            return;
        }
    }
}

void callpcap_free(callpcap_t *cp)
{
    if (cp == NULL)
        return;
    for (size_t i = 0; i < cp->n_slots; i++)
        close_slot(&cp->slots[i]);
    free(cp->slots);
    free(cp);
}

void callpcap_get_stats(const callpcap_t *cp, callpcap_stats_t *out)
{
    *out = cp->stats;
}
