/* callpcap_read: a call's packets as a pcap for export and the API: its own file under the
 * --pcap-dir when the capture kept one, else its stored SIP messages rebuilt as a pcap. */
#include "callpcap.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "pcappath.h"
#include "store_int.h"

/* What comes out, and why it is shaped so:
 *   - pcap (not pcapng), microsecond timestamps, LINKTYPE_ETHERNET: every tool reads it.
 *   - Ethernet II with locally administered MACs 02:00:<last 4 address bytes>, so that each
 *     host keeps one MAC across the file.
 *   - IPv4 (RFC 791, DF set, TTL 64, header checksum) or IPv6 (RFC 8200, hop limit 64).
 *   - UDP (RFC 768) with its checksum; SIP over TCP as one TCP connection per address pair
 *     (RFC 9293): a three-way handshake 3 us before the first message, then each message as
 *     one PSH/ACK segment with consistent sequence and acknowledgement numbers, checksummed.
 *     Messages are not split into MSS-sized segments: a capture tool reads any length.
 * Only what the store keeps can be rebuilt: the SIP text, addresses, ports, transport and time.
 * RTP is not stored per packet yet, so the file holds signalling only. */

#define LINKTYPE_ETHERNET 1
#define SNAPLEN           262144
#define ETH_LEN           14
#define IP4_LEN           20
#define IP6_LEN           40
#define UDP_LEN           8
#define TCP_LEN           20
#define MAX_IP_PAYLOAD4   (65535 - IP4_LEN)
#define MAX_IP_PAYLOAD6   65535 /* the payload length field's limit */
#define MAX_TCP_CONNS     64
#define TCP_SYN           0x02
#define TCP_PSH           0x08
#define TCP_ACK           0x10

typedef struct {
    uint8_t *p;
    size_t len, cap;
    bool oom;
} buf_t;

static uint8_t *buf_grow(buf_t *b, size_t n)
{
    if (b->oom)
        return NULL;
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len < n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = true;
            return NULL;
        }
        b->p = p;
        b->cap = cap;
    }
    uint8_t *at = b->p + b->len;
    b->len += n;
    return at;
}

static void le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static size_t addr_len(const net_addr_t *a)
{
    return a->family == 6 ? 16 : 4;
}

static void mac_of(uint8_t mac[6], const net_addr_t *a)
{
    size_t n = addr_len(a);
    mac[0] = 0x02;
    mac[1] = 0x00;
    memcpy(mac + 2, a->bytes + n - 4, 4);
}

/* Append one frame: Ethernet + IP + transport header (th, thlen; its checksum field at csum_off
 * is filled here) + payload. */
static void put_frame(buf_t *b, int64_t ts_ns, const net_endpoint_t *src, const net_endpoint_t *dst,
                      uint8_t proto, uint8_t *th, size_t thlen, size_t csum_off,
                      const char *payload, size_t plen, uint16_t *ip_id)
{
    bool v6 = src->addr.family == 6;
    size_t iplen = v6 ? IP6_LEN : IP4_LEN;
    size_t l4len = thlen + plen;
    size_t frame = ETH_LEN + iplen + l4len;
    uint8_t *rec = buf_grow(b, 16 + frame);
    if (rec == NULL)
        return;
    le32(rec, (uint32_t)(ts_ns / 1000000000));
    le32(rec + 4, (uint32_t)(ts_ns % 1000000000 / 1000));
    le32(rec + 8, (uint32_t)frame);
    le32(rec + 12, (uint32_t)frame);
    uint8_t *eth = rec + 16;
    mac_of(eth, &dst->addr);
    mac_of(eth + 6, &src->addr);
    be16(eth + 12, v6 ? 0x86dd : 0x0800);
    uint8_t *ip = eth + ETH_LEN;
    size_t alen = addr_len(&src->addr);
    if (v6) {
        be32(ip, 0x60000000);
        be16(ip + 4, (uint16_t)l4len);
        ip[6] = proto;
        ip[7] = 64;
        memcpy(ip + 8, src->addr.bytes, 16);
        memcpy(ip + 24, dst->addr.bytes, 16);
    } else {
        ip[0] = 0x45;
        ip[1] = 0;
        be16(ip + 2, (uint16_t)(IP4_LEN + l4len));
        be16(ip + 4, (*ip_id)++);
        be16(ip + 6, 0x4000); /* DF */
        ip[8] = 64;
        ip[9] = proto;
        be16(ip + 10, 0);
        memcpy(ip + 12, src->addr.bytes, 4);
        memcpy(ip + 16, dst->addr.bytes, 4);
        be16(ip + 10, store_int_csum_fold(store_int_csum_add(0, ip, IP4_LEN)));
    }
    uint8_t *l4 = ip + iplen;
    memcpy(l4, th, thlen);
    if (plen > 0)
        memcpy(l4 + thlen, payload, plen);
    /* Pseudo-header: addresses, protocol and length (RFC 768, RFC 8200 8.1). */
    uint32_t sum = store_int_csum_add(0, src->addr.bytes, alen);
    sum = store_int_csum_add(sum, dst->addr.bytes, alen);
    sum += proto;
    sum += (uint32_t)(l4len & 0xffff) + (uint32_t)(l4len >> 16);
    be16(l4 + csum_off, 0);
    uint16_t c = store_int_csum_fold(store_int_csum_add(sum, l4, l4len));
    if (proto == 17 && c == 0)
        c = 0xffff; /* 0 means "no checksum" in UDP */
    be16(l4 + csum_off, c);
}

typedef struct {
    net_endpoint_t a, b;     /* a opened the connection */
    uint32_t next_a, next_b; /* next sequence number from a, from b */
} tcp_conn_t;

typedef struct {
    buf_t out;
    size_t skipped;
    uint16_t ip_id;
    tcp_conn_t conns[MAX_TCP_CONNS];
    int nconns;
} pcap_ctx_t;

static void put_tcp(pcap_ctx_t *x, int64_t ts, const net_endpoint_t *src, const net_endpoint_t *dst,
                    uint32_t seq, uint32_t ack, uint8_t flags, const char *payload, size_t plen)
{
    uint8_t th[TCP_LEN] = {0};
    be16(th, src->port);
    be16(th + 2, dst->port);
    be32(th + 4, seq);
    be32(th + 8, ack);
    th[12] = (TCP_LEN / 4) << 4;
    th[13] = flags;
    be16(th + 14, 65535);
    put_frame(&x->out, ts, src, dst, 6, th, sizeof(th), 16, payload, plen, &x->ip_id);
}

/* The connection of this address pair, opened (with its handshake) when first seen. */
static tcp_conn_t *tcp_conn(pcap_ctx_t *x, int64_t ts, const net_endpoint_t *src,
                            const net_endpoint_t *dst)
{
    for (int i = 0; i < x->nconns; i++) {
        tcp_conn_t *c = &x->conns[i];
        if ((net_endpoint_eq(&c->a, src) && net_endpoint_eq(&c->b, dst)) ||
            (net_endpoint_eq(&c->a, dst) && net_endpoint_eq(&c->b, src)))
            return c;
    }
    if (x->nconns >= MAX_TCP_CONNS)
        return NULL;
    tcp_conn_t *c = &x->conns[x->nconns++];
    c->a = *src;
    c->b = *dst;
    /* Fixed initial sequence numbers: the file is the same every time it is built. */
    uint32_t isn_a = 1000000u * (uint32_t)x->nconns, isn_b = 2000000000u + isn_a;
    put_tcp(x, ts - 3000, src, dst, isn_a, 0, TCP_SYN, NULL, 0);
    put_tcp(x, ts - 2000, dst, src, isn_b, isn_a + 1, TCP_SYN | TCP_ACK, NULL, 0);
    put_tcp(x, ts - 1000, src, dst, isn_a + 1, isn_b + 1, TCP_ACK, NULL, 0);
    c->next_a = isn_a + 1;
    c->next_b = isn_b + 1;
    return c;
}

static int put_message(void *ctx, int64_t id, const message_record_t *m)
{
    (void)id;
    pcap_ctx_t *x = ctx;
    const net_endpoint_t *src = &m->src, *dst = &m->dst;
    size_t plen = m->raw ? m->raw_len : 0;
    bool v6 = src->addr.family == 6;
    size_t max = v6 ? MAX_IP_PAYLOAD6 : MAX_IP_PAYLOAD4;
    bool tcp = m->transport == 6;
    if (src->addr.family == 0 || src->addr.family != dst->addr.family ||
        plen + (tcp ? TCP_LEN : UDP_LEN) > max || m->ts_ns <= 0) {
        x->skipped++;
        return 0;
    }
    if (tcp) {
        tcp_conn_t *c = tcp_conn(x, m->ts_ns, src, dst);
        if (c == NULL) {
            x->skipped++;
            return 0;
        }
        bool from_a = net_endpoint_eq(&c->a, src);
        uint32_t *seq = from_a ? &c->next_a : &c->next_b;
        uint32_t ack = from_a ? c->next_b : c->next_a;
        put_tcp(x, m->ts_ns, src, dst, *seq, ack, TCP_PSH | TCP_ACK, m->raw, plen);
        *seq += (uint32_t)plen;
    } else {
        uint8_t uh[UDP_LEN];
        be16(uh, src->port);
        be16(uh + 2, dst->port);
        be16(uh + 4, (uint16_t)(UDP_LEN + plen));
        be16(uh + 6, 0);
        put_frame(&x->out, m->ts_ns, src, dst, 17, uh, sizeof(uh), 6, m->raw, plen, &x->ip_id);
    }
    return x->out.oom ? -ENOMEM : 0;
}

int store_call_pcap_rebuild(store_t *s, int64_t call_row, char **out, size_t *len, size_t *skipped)
{
    *out = NULL;
    *len = 0;
    pcap_ctx_t *x = calloc(1, sizeof(*x));
    if (x == NULL)
        return -ENOMEM;
    uint8_t *h = buf_grow(&x->out, 24);
    if (h != NULL) {
        le32(h, 0xa1b2c3d4); /* microsecond timestamps, written little-endian */
        h[4] = 2;            /* version 2.4 */
        h[5] = 0;
        h[6] = 4;
        h[7] = 0;
        le32(h + 8, 0);  /* thiszone */
        le32(h + 12, 0); /* sigfigs */
        le32(h + 16, SNAPLEN);
        le32(h + 20, LINKTYPE_ETHERNET);
    }
    int err = store_foreach_message(s, call_row, put_message, x);
    if (err == 0 && x->out.oom)
        err = -ENOMEM;
    if (err == 0) {
        *out = (char *)x->out.p;
        *len = x->out.len;
        if (skipped != NULL)
            *skipped = x->skipped;
    } else {
        free(x->out.p);
    }
    free(x);
    return err;
}

/* ---- one way to open a call's pcap ---- */

static int take_invite(void *ctx, const call_record_t *r)
{
    *(int64_t *)ctx = r->invite_ns;
    return 0;
}

/* The call's own file under dir, ROW.pcap or else ROW.pcap.gz (*gz set): an open fd and its
 * size, or -1. The path is made of the directory and numbers only, never of request text; a
 * symlink is not followed. */
static int open_own_file(const char *dir, int64_t row, int64_t invite_ns, size_t *size, bool *gz)
{
    char path[4200];
    if (invite_ns <= 0 || pcap_call_path(dir, row, invite_ns, path, sizeof(path)) != 0)
        return -1;
    size_t n = strlen(path);
    for (int compressed = 0; compressed <= 1; compressed++) {
        if (compressed) {
            if (n + 4 > sizeof(path))
                return -1;
            memcpy(path + n, ".gz", 4);
        }
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        struct stat sb;
        if (fd < 0)
            continue;
        /* A pcap is at least its 24-byte header; a gzip file at least its 18 bytes of header
         * and trailer. */
        if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size < (compressed ? 18 : 24)) {
            close(fd);
            continue;
        }
        *size = (size_t)sb.st_size;
        *gz = compressed;
        return fd;
    }
    return -1;
}

int store_call_pcap_open(store_t *s, int64_t row, const char *pcap_dir, store_call_pcap_t *out)
{
    memset(out, 0, sizeof(*out));
    out->fd = -1;
    int64_t invite_ns = 0;
    int err = store_get_call(s, row, take_invite, &invite_ns);
    if (err != 0)
        return err;
    char dir[4096] = "";
    if (pcap_dir != NULL)
        snprintf(dir, sizeof(dir), "%s", pcap_dir);
    else if (store_get_meta(s, "pcap_dir", dir, sizeof(dir)) != 0)
        dir[0] = '\0';
    if (dir[0] != '\0') {
        out->fd = open_own_file(dir, row, invite_ns, &out->size, &out->gzip);
        if (out->fd >= 0)
            return 0;
    }
    /* No file of its own (captured without --pcap-dir, or pruned): the SIP it had. */
    out->rebuilt = true;
    return store_call_pcap_rebuild(s, row, &out->data, &out->size, &out->skipped);
}

/* ---- plain or gzip, as the reader wants ---- */

/* An unlinked file to convert into: under $TMPDIR (else /tmp), gone when its fd closes. */
static int temp_fd(void)
{
    const char *dir = getenv("TMPDIR");
    if (dir == NULL || dir[0] == '\0')
        dir = "/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
        return fd;
    /* A file system without O_TMPFILE: a named file, unlinked at once. */
    char path[4200];
    if (snprintf(path, sizeof(path), "%s/sipscope-pcap-XXXXXX", dir) >= (int)sizeof(path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = mkstemp(path);
    if (fd >= 0)
        unlink(path);
    return fd;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* from (the file at its start) copied into to through zlib's gz layer: decompressed (gzread
 * reads every gzip member, and stops quietly where a file being written is cut short) or
 * compressed. 0, or a negative errno. */
static int convert_fd(int from, int to, bool gzip)
{
    char buf[65536];
    if (lseek(from, 0, SEEK_SET) != 0) /* gzdopen takes the offset it finds as the start */
        return -errno;
    int dup_fd = dup(gzip ? to : from);
    if (dup_fd < 0)
        return -errno;
    gzFile z = gzdopen(dup_fd, gzip ? "wb6" : "rb");
    if (z == NULL) {
        close(dup_fd);
        return -ENOMEM;
    }
    int rc = 0;
    while (rc == 0) {
        int n;
        if (gzip) {
            ssize_t r = read(from, buf, sizeof(buf));
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                rc = -errno;
            if (r <= 0)
                break;
            n = gzwrite(z, buf, (unsigned)r);
            if (n != (int)r)
                rc = -EIO;
        } else {
            n = gzread(z, buf, sizeof(buf));
            if (n < 0)
                rc = -EIO;
            if (n <= 0)
                break;
            rc = write_all(to, buf, (size_t)n);
        }
    }
    if (gzclose(z) != Z_OK && rc == 0)
        rc = -EIO;
    return rc;
}

/* Rebuilt data (a plain pcap in memory) gzip-compressed in memory. */
static int gzip_data(store_call_pcap_t *p)
{
    z_stream z = {0};
    if (p->size > UINT_MAX)
        return -EFBIG;
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -ENOMEM;
    uLong cap = deflateBound(&z, (uLong)p->size);
    Bytef *out = malloc(cap);
    int rc = out ? 0 : -ENOMEM;
    if (rc == 0) {
        z.next_in = (Bytef *)p->data;
        z.avail_in = (uInt)p->size;
        z.next_out = out;
        z.avail_out = (uInt)cap;
        if (deflate(&z, Z_FINISH) != Z_STREAM_END)
            rc = -EIO;
    }
    if (rc == 0) {
        free(p->data);
        p->data = (char *)out;
        p->size = (size_t)z.total_out;
    } else {
        free(out);
    }
    deflateEnd(&z);
    return rc;
}

int store_call_pcap_as(store_call_pcap_t *p, bool gzip)
{
    if (p->gzip == gzip)
        return 0;
    if (p->fd < 0) {
        /* Rebuilt data is always plain; asked for gzip. */
        int rc = gzip_data(p);
        if (rc == 0)
            p->gzip = true;
        return rc;
    }
    int to = temp_fd();
    if (to < 0)
        return -errno;
    int rc = convert_fd(p->fd, to, gzip);
    struct stat sb;
    if (rc == 0 && (fstat(to, &sb) != 0 || lseek(to, 0, SEEK_SET) != 0))
        rc = -errno;
    if (rc != 0) {
        close(to);
        return rc;
    }
    close(p->fd);
    p->fd = to;
    p->size = (size_t)sb.st_size;
    p->gzip = gzip;
    return 0;
}

void store_call_pcap_close(store_call_pcap_t *p)
{
    if (p->fd >= 0)
        close(p->fd);
    free(p->data);
    p->fd = -1;
    p->data = NULL;
}
