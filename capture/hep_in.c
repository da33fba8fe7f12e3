/* hep_in: HEPv3 from probes over UDP and TCP, as a capture source. */
#include "hep_in.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sock_diag.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "defs.h"
#include "hash.h"
#include "hep_qos.h"
#include "netio.h"
#include "rtcp.h"

/* ---- receiver ---- */

#define RX_BATCH   32    /* datagrams per recvmmsg */
#define RX_BUF     65536 /* one datagram, or one connection's pending bytes */
#define RX_TICK_MS 200
#define RX_EVENTS  64
/* A connection silent this long may be closed to make room for a new one. */
#define RX_EVICT_IDLE_NS (2 * NS_PER_S)
/* File descriptors kept free for everything else (the store, the API, logs). */
#define RX_FD_RESERVE 256
/* epoll tags below the connections' (which are RX_TAG_CONN + slot). */
enum { RX_TAG_WAKE = 0, RX_TAG_UDP, RX_TAG_LSN, RX_TAG_CONN };

typedef struct {
    int fd; /* -1: free slot */
    net_endpoint_t peer;
    uint8_t *buf; /* a packet cut short by the read: RX_BUF bytes while it waits, else NULL */
    size_t fill;
    int64_t last_ns; /* CLOCK_MONOTONIC of the last data (or of the accept) */
} rx_conn_t;

struct hep_receiver {
    int udp, lsn, wake; /* sockets and the eventfd that stops the thread */
    uint16_t port;
    hep_receiver_fn fn;
    hep_idle_fn on_idle;
    hep_poll_fn on_poll;
    void *ctx;
    char *key;
    size_t key_len;
    uint32_t idle_timeout_ms;
    size_t max_conns, nconns;
    rx_conn_t *conns;
    int ep;         /* epoll over wake, udp, lsn and the connections */
    int spare_fd;   /* held open, closed to accept and refuse when out of descriptors */
    uint8_t *dgram; /* RX_BATCH * RX_BUF; the first RX_BUF also what a connection reads */
    struct mmsghdr mm[RX_BATCH];
    struct iovec iov[RX_BATCH];
    struct sockaddr_storage from[RX_BATCH];
    bool started;
    pthread_t thread;
    hep_msg_t msg;

    counter_t udp_datagrams, tcp_accepted, tcp_refused, tcp_closed, tcp_bad_framing,
        tcp_idle_closed, tcp_evicted, tcp_open, packets, bytes, malformed, unauthorised, compressed,
        udp_dropped;
};

void hep_receiver_cfg_init(hep_receiver_cfg_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_connections = HEP_RX_MAX_CONNECTIONS;
    cfg->idle_timeout_ms = HEP_RX_IDLE_TIMEOUT_MS;
    cfg->udp_rcvbuf = 8 << 20;
    hep_merge_cfg_init(&cfg->merge);
}

/* Same length and same bytes, in time independent of where they differ. */
static bool key_matches(const hep_receiver_t *r, sv_t got)
{
    if (got.len != r->key_len)
        return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < got.len; i++)
        diff |= (unsigned char)(got.p[i] ^ r->key[i]);
    return diff == 0;
}

/* One packet of exactly len bytes (already framed). */
static void rx_deliver(hep_receiver_t *r, const uint8_t *p, size_t len, const net_endpoint_t *peer)
{
    int rc = hep_parse(p, len, &r->msg);
    if (rc < 0 || (size_t)rc != len) {
        counter_add(&r->malformed, 1);
        return;
    }
    if (r->key_len > 0 && !key_matches(r, r->msg.auth_key)) {
        counter_add(&r->unauthorised, 1);
        return;
    }
    counter_add(&r->packets, 1);
    counter_add(&r->bytes, len);
    if (r->msg.compressed)
        counter_add(&r->compressed, 1);
    r->fn(r->ctx, &r->msg, peer);
}

/* A datagram holds one or more packets back to back; what does not frame is malformed. */
static void rx_datagram(hep_receiver_t *r, const uint8_t *d, size_t n, const net_endpoint_t *peer)
{
    size_t off = 0;
    counter_add(&r->udp_datagrams, 1);
    if (n == 0) {
        counter_add(&r->malformed, 1);
        return;
    }
    while (off < n) {
        int fl = hep_frame_len(d + off, n - off);
        if (fl < 0 || (size_t)fl > n - off) {
            counter_add(&r->malformed, 1);
            return;
        }
        rx_deliver(r, d + off, (size_t)fl, peer);
        off += (size_t)fl;
    }
}

static void rx_udp(hep_receiver_t *r)
{
    /* A few batches per wake-up, so that TCP connections get their turn under a UDP flood. */
    for (int round = 0; round < 8; round++) {
        for (int i = 0; i < RX_BATCH; i++) {
            r->iov[i].iov_base = r->dgram + (size_t)i * RX_BUF;
            r->iov[i].iov_len = RX_BUF;
            memset(&r->mm[i], 0, sizeof(r->mm[i]));
            r->mm[i].msg_hdr.msg_iov = &r->iov[i];
            r->mm[i].msg_hdr.msg_iovlen = 1;
            r->mm[i].msg_hdr.msg_name = &r->from[i];
            r->mm[i].msg_hdr.msg_namelen = sizeof(r->from[i]);
        }
        int n = recvmmsg(r->udp, r->mm, RX_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return;
        for (int i = 0; i < n; i++) {
            net_endpoint_t peer;
            netio_endpoint_from_sockaddr(&r->from[i], &peer);
            size_t len = r->mm[i].msg_len;
            if (r->mm[i].msg_hdr.msg_flags & MSG_TRUNC) /* cannot happen at 64 KB; be sure */
                len = 0;
            rx_datagram(r, r->iov[i].iov_base, len, &peer);
        }
        if (n < RX_BATCH)
            return;
    }
}

static void conn_close(hep_receiver_t *r, rx_conn_t *c)
{
    netio_close(&c->fd); /* close also takes it out of the epoll set */
    free(c->buf);
    c->buf = NULL;
    c->fill = 0;
    r->nconns--;
    atomic_store_explicit(&r->tcp_open, r->nconns, memory_order_relaxed);
}

/* A slot for a new connection: a free one, else the one silent longest if it has been silent
 * RX_EVICT_IDLE_NS (closed, counted in tcp_evicted), else NULL. Idle connections never lock
 * probes out; connections that all carry data do, and are counted as refusals. */
static rx_conn_t *conn_slot(hep_receiver_t *r, int64_t now)
{
    rx_conn_t *idlest = NULL;
    for (size_t i = 0; i < r->max_conns; i++) {
        rx_conn_t *c = &r->conns[i];
        if (c->fd < 0)
            return c;
        if (c->fill == 0 && (idlest == NULL || c->last_ns < idlest->last_ns))
            idlest = c;
    }
    if (idlest == NULL || now - idlest->last_ns < RX_EVICT_IDLE_NS)
        return NULL;
    counter_add(&r->tcp_evicted, 1);
    conn_close(r, idlest);
    return idlest;
}

/* Out of file descriptors: take the waiting connection with the spare one and close it, so it
 * does not stay in the backlog waking the thread. */
static void refuse_without_fd(hep_receiver_t *r)
{
    netio_close(&r->spare_fd);
    int fd = accept4(r->lsn, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        counter_add(&r->tcp_refused, 1);
    }
    r->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void rx_accept(hep_receiver_t *r)
{
    for (int n = 0; n < RX_EVENTS; n++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(r->lsn, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                refuse_without_fd(r);
            return;
        }
        int64_t now = clock_ns(CLOCK_MONOTONIC);
        rx_conn_t *slot = conn_slot(r, now);
        struct epoll_event ev = {.events = EPOLLIN,
                                 .data.u64 = RX_TAG_CONN + (uint64_t)(slot - r->conns)};
        if (slot == NULL || epoll_ctl(r->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd);
            counter_add(&r->tcp_refused, 1);
            continue;
        }
        slot->fd = fd;
        slot->fill = 0;
        slot->last_ns = now;
        netio_endpoint_from_sockaddr(&ss, &slot->peer);
        r->nconns++;
        atomic_store_explicit(&r->tcp_open, r->nconns, memory_order_relaxed);
        counter_add(&r->tcp_accepted, 1);
    }
}

/* Cut whole packets off the front of p[0..n) and hand them on. Returns the bytes consumed, or
 * -1 when the stream does not frame as HEP (the connection is then closed: nothing after it can
 * be trusted to start a packet). */
static ssize_t rx_frames(hep_receiver_t *r, rx_conn_t *c, const uint8_t *p, size_t n)
{
    size_t off = 0;
    while (off < n) {
        int fl = hep_frame_len(p + off, n - off);
        if (fl == HEP_INVALID) {
            counter_add(&r->malformed, 1);
            counter_add(&r->tcp_bad_framing, 1);
            return -1;
        }
        if (fl == HEP_PARTIAL || (size_t)fl > n - off)
            break;
        rx_deliver(r, p + off, (size_t)fl, &c->peer);
        off += (size_t)fl;
    }
    return (ssize_t)off;
}

/* Read what is there. A connection with nothing pending reads into the shared buffer, and only
 * a packet cut short gets a buffer of its own (RX_BUF, one maximum-size packet, so a packet that
 * framed correctly always fits), freed once it is whole: a thousand idle probes cost no
 * buffers. */
static void rx_conn_read(hep_receiver_t *r, rx_conn_t *c)
{
    uint8_t *buf = c->buf != NULL ? c->buf : r->dgram;
    ssize_t n = read(c->fd, buf + c->fill, RX_BUF - c->fill);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        if (c->fill > 0)
            counter_add(&r->malformed, 1); /* a truncated last packet */
        counter_add(&r->tcp_closed, 1);
        conn_close(r, c);
        return;
    }
    size_t fill = c->fill + (size_t)n;
    c->last_ns = clock_ns(CLOCK_MONOTONIC);
    ssize_t used = rx_frames(r, c, buf, fill);
    if (used < 0) {
        conn_close(r, c);
        return;
    }
    size_t left = fill - (size_t)used;
    if (left > 0 && c->buf == NULL) {
        c->buf = malloc(RX_BUF);
        if (c->buf == NULL) { /* cannot keep the rest: the stream is lost */
            counter_add(&r->malformed, 1);
            conn_close(r, c);
            return;
        }
    }
    if (left > 0)
        memmove(c->buf, buf + used, left);
    c->fill = left;
    if (left == 0) {
        free(c->buf);
        c->buf = NULL;
    }
}

/* Every RX_TICK_MS: close connections silent past the idle timeout; read the UDP socket's
 * drop count (datagrams the kernel discarded with the buffer full). */
static void rx_housekeeping(hep_receiver_t *r, int64_t now)
{
    for (size_t i = 0; i < r->max_conns; i++) {
        rx_conn_t *c = &r->conns[i];
        if (c->fd >= 0 && now - c->last_ns > (int64_t)r->idle_timeout_ms * NS_PER_MS) {
            counter_add(&r->tcp_idle_closed, 1);
            conn_close(r, c);
        }
    }
#ifdef SO_MEMINFO
    uint32_t mem[SK_MEMINFO_VARS];
    socklen_t ml = sizeof(mem);
    if (getsockopt(r->udp, SOL_SOCKET, SO_MEMINFO, mem, &ml) == 0 &&
        ml > SK_MEMINFO_DROPS * sizeof(mem[0]))
        atomic_store_explicit(&r->udp_dropped, mem[SK_MEMINFO_DROPS], memory_order_relaxed);
#endif
}

static void *receiver_main(void *arg)
{
    hep_receiver_t *r = arg;
    int64_t last_tick = clock_ns(CLOCK_MONOTONIC);
    int timeout = RX_TICK_MS;
    struct epoll_event evs[RX_EVENTS];
    for (;;) {
        int n = epoll_wait(r->ep, evs, RX_EVENTS, timeout);
        if (n < 0 && errno != EINTR)
            break;
        bool stop = false;
        for (int i = 0; i < n; i++) {
            uint64_t tag = evs[i].data.u64;
            if (tag == RX_TAG_WAKE)
                stop = true;
            else if (tag == RX_TAG_UDP)
                rx_udp(r);
            else if (tag == RX_TAG_LSN)
                rx_accept(r);
            else if (r->conns[tag - RX_TAG_CONN].fd >= 0) /* not closed by an eviction */
                rx_conn_read(r, &r->conns[tag - RX_TAG_CONN]);
        }
        if (stop)
            break;
        int64_t now = clock_ns(CLOCK_MONOTONIC);
        int wish = r->on_poll != NULL ? r->on_poll(r->ctx, now) : -1;
        timeout = wish >= 0 && wish < RX_TICK_MS ? wish : RX_TICK_MS;
        if (now - last_tick >= (int64_t)RX_TICK_MS * 1000000) {
            last_tick = now;
            rx_housekeeping(r, now);
            if (r->on_idle)
                r->on_idle(r->ctx, clock_ns(CLOCK_REALTIME));
        }
    }
    return NULL;
}

/* Room for max connections plus the reserve: raise the soft descriptor limit towards the hard
 * one if needed. Returns how many connections fit. */
static size_t rx_fit_fd_limit(size_t max)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return max;
    rlim_t want = (rlim_t)max + RX_FD_RESERVE * 2;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want)
        return rl.rlim_cur > RX_FD_RESERVE * 2 ? (size_t)(rl.rlim_cur - RX_FD_RESERVE * 2) : 16;
    return max;
}

/* Bind UDP and TCP on the same address and port (port 0: the port UDP got, retried a few times
 * should TCP find it taken). */
static int rx_bind(hep_receiver_t *r, struct sockaddr_storage *ss, socklen_t sl, int rcvbuf,
                   char *err, size_t errlen)
{
    bool any_port = (ss->ss_family == AF_INET ? ((struct sockaddr_in *)ss)->sin_port
                                              : ((struct sockaddr_in6 *)ss)->sin6_port) == 0;
    for (int attempt = 0; attempt < 16; attempt++) {
        r->udp = socket(ss->ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (r->udp < 0 || bind(r->udp, (struct sockaddr *)ss, sl) != 0) {
            snprintf(err, errlen, "UDP: %s", strerror(errno));
            return -errno;
        }
        if (rcvbuf > 0 &&
            setsockopt(r->udp, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0)
            setsockopt(r->udp, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
        struct sockaddr_storage got;
        socklen_t gl = sizeof(got);
        getsockname(r->udp, (struct sockaddr *)&got, &gl);
        net_endpoint_t ep;
        netio_endpoint_from_sockaddr(&got, &ep);
        r->port = ep.port;
        struct sockaddr_storage tcp_addr = got;
        r->lsn = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        int one = 1;
        if (r->lsn >= 0)
            setsockopt(r->lsn, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (r->lsn >= 0 && bind(r->lsn, (struct sockaddr *)&tcp_addr, gl) == 0 &&
            listen(r->lsn, SOMAXCONN) == 0)
            return 0;
        int e = errno;
        netio_close(&r->lsn);
        netio_close(&r->udp);
        if (!(any_port && e == EADDRINUSE)) {
            snprintf(err, errlen, "TCP: %s", strerror(e));
            return -e;
        }
    }
    snprintf(err, errlen, "no port free for both UDP and TCP");
    return -EADDRINUSE;
}

hep_receiver_t *hep_receiver_new(const char *spec, hep_receiver_fn fn, void *ctx,
                                 const hep_receiver_cfg_t *cfg, char *err, size_t errlen)
{
    hep_receiver_cfg_t defaults;
    if (cfg == NULL) {
        hep_receiver_cfg_init(&defaults);
        cfg = &defaults;
    }
    hep_receiver_t *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->udp = r->lsn = r->wake = -1;
    r->fn = fn;
    r->on_idle = cfg->on_idle;
    r->on_poll = cfg->on_poll;
    r->ctx = ctx;
    r->ep = r->spare_fd = -1;
    r->idle_timeout_ms = cfg->idle_timeout_ms ? cfg->idle_timeout_ms : HEP_RX_IDLE_TIMEOUT_MS;
    r->max_conns =
        rx_fit_fd_limit(cfg->max_connections ? cfg->max_connections : HEP_RX_MAX_CONNECTIONS);
    char host[256], port[8];
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    if (!netio_split_hostport(sv_from_cstr(spec), host, sizeof(host), port, sizeof(port))) {
        snprintf(err, errlen, "%s: expected ADDR:PORT", spec);
        goto fail;
    }
    if (netio_resolve(host, port, SOCK_DGRAM, true, &ss, &sl, err, errlen) != 0)
        goto fail;
    r->key = netio_dup_key(cfg->auth_key, &r->key_len);
    r->conns = calloc(r->max_conns, sizeof(*r->conns));
    r->dgram = malloc((size_t)RX_BATCH * RX_BUF);
    if ((r->key_len > 0 && r->key == NULL) || r->conns == NULL || r->dgram == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < r->max_conns; i++)
        r->conns[i].fd = -1;
    char why[200];
    if (rx_bind(r, &ss, sl, cfg->udp_rcvbuf, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "%s: %s", spec, why);
        goto fail;
    }
    r->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    r->ep = epoll_create1(EPOLL_CLOEXEC);
    r->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    struct epoll_event ev_wake = {.events = EPOLLIN, .data.u64 = RX_TAG_WAKE};
    struct epoll_event ev_udp = {.events = EPOLLIN, .data.u64 = RX_TAG_UDP};
    struct epoll_event ev_lsn = {.events = EPOLLIN, .data.u64 = RX_TAG_LSN};
    if (r->wake < 0 || r->ep < 0 || epoll_ctl(r->ep, EPOLL_CTL_ADD, r->wake, &ev_wake) != 0 ||
        epoll_ctl(r->ep, EPOLL_CTL_ADD, r->udp, &ev_udp) != 0 ||
        epoll_ctl(r->ep, EPOLL_CTL_ADD, r->lsn, &ev_lsn) != 0 ||
        pthread_create(&r->thread, NULL, receiver_main, r) != 0) {
        snprintf(err, errlen, "cannot start the HEP receiver thread");
        goto fail;
    }
    r->started = true;
    return r;
fail:
    hep_receiver_free(r);
    return NULL;
}

uint16_t hep_receiver_port(const hep_receiver_t *r)
{
    return r->port;
}

void hep_receiver_stats(hep_receiver_t *r, hep_receiver_stats_t *out)
{
    out->udp_datagrams = counter_get(&r->udp_datagrams);
    out->tcp_accepted = counter_get(&r->tcp_accepted);
    out->tcp_refused = counter_get(&r->tcp_refused);
    out->tcp_closed = counter_get(&r->tcp_closed);
    out->tcp_bad_framing = counter_get(&r->tcp_bad_framing);
    out->tcp_idle_closed = counter_get(&r->tcp_idle_closed);
    out->tcp_evicted = counter_get(&r->tcp_evicted);
    out->tcp_open = counter_get(&r->tcp_open);
    out->udp_dropped = counter_get(&r->udp_dropped);
    out->packets = counter_get(&r->packets);
    out->bytes = counter_get(&r->bytes);
    out->malformed = counter_get(&r->malformed);
    out->unauthorised = counter_get(&r->unauthorised);
    out->compressed = counter_get(&r->compressed);
}

void hep_receiver_free(hep_receiver_t *r)
{
    if (r == NULL)
        return;
    if (r->started) {
        uint64_t one = 1;
        ssize_t w = write(r->wake, &one, sizeof(one));
        (void)w; /* an eventfd write of 1 cannot fail short of overflow */
        pthread_join(r->thread, NULL);
    }
    for (size_t i = 0; r->conns != NULL && i < r->max_conns; i++) {
        netio_close(&r->conns[i].fd);
        free(r->conns[i].buf);
    }
    netio_close(&r->udp);
    netio_close(&r->lsn);
    netio_close(&r->wake);
    netio_close(&r->ep);
    netio_close(&r->spare_fd);
    free(r->conns);
    free(r->dgram);
    free(r->key);
    free(r);
}

/* ---- the capture source ---- */

#define DEDUP_WINDOW_NS (2 * NS_PER_S)
#define DEDUP_SETS      (1u << 14)

/* Recently seen messages: 4-way sets, so a burst of distinct messages rarely evicts the first
 * copy of a pair before its twin arrives. Bounded: DEDUP_SETS * 4 entries. */
typedef struct {
    uint64_t hash[4];
    uint64_t peer[4]; /* the probe that sent it (net_endpoint_hash) */
    int64_t ts_ns[4];
    uint8_t next; /* round-robin victim */
} dedup_set_t;

struct hep_in {
    hep_receiver_t *rx;         /* NULL once stopped */
    hep_receiver_stats_t final; /* the receiver's counters when it stopped */
    hep_in_fn fn;
    hep_idle_fn on_idle;
    void *ctx;
    dedup_set_t *recent; /* DEDUP_SETS */
    hep_merge_t *merge;  /* probes in capture-time order; hands on to fn */
    counter_t sip, rtcp, qos, duplicates, unsupported;
};

/* The same message seen by two probes: same bytes between the same addresses, close in time
 * (probes' clocks differ a little), sent by another probe. The same bytes again from the same
 * probe are a retransmission (SIP over UDP repeats a message byte for byte after 500 ms, 1 s
 * ...), which the correlator counts: not a copy. True when seen; else remembered. */
static bool seen_recently(hep_in_t *h, const packet_view_t *pkt, uint64_t peer)
{
    uint64_t hash = hash_bytes(pkt->payload, pkt->len, net_endpoint_hash(&pkt->src)) ^
                    net_endpoint_hash(&pkt->dst);
    dedup_set_t *set = &h->recent[(hash >> 8) & (DEDUP_SETS - 1)];
    for (int way = 0; way < 4; way++) {
        int64_t dt = pkt->ts_ns - set->ts_ns[way];
        if (set->hash[way] == hash && set->peer[way] != peer && dt < DEDUP_WINDOW_NS &&
            dt > -DEDUP_WINDOW_NS)
            return true;
    }
    set->hash[set->next] = hash;
    set->peer[set->next] = peer;
    set->ts_ns[set->next] = pkt->ts_ns;
    set->next = (uint8_t)((set->next + 1) & 3);
    return false;
}

/* What a HEP message carries, as a packet view kind; PKT_KIND_ANY: nothing we decode
 * (compressed, other protocol types, RTCP as JSON: heplify's own agents send that; binary RTCP
 * is decoded). */
static uint8_t hep_kind(const hep_msg_t *m)
{
    if (m->compressed)
        return PKT_KIND_ANY;
    if (m->proto_type == HEP_PROTO_SIP)
        return PKT_KIND_SIP;
    if (m->proto_type == HEP_PROTO_RTCP && rtcp_looks_like(m->payload, m->payload_len))
        return PKT_KIND_RTCP;
    if (m->proto_type == HEP_PROTO_QOS_REPORT)
        return PKT_KIND_QOS;
    return PKT_KIND_ANY;
}

static void on_hep_msg(void *ctx, const hep_msg_t *m, const net_endpoint_t *peer)
{
    hep_in_t *h = ctx;
    uint8_t kind = hep_kind(m);
    if (kind == PKT_KIND_ANY) {
        counter_add(&h->unsupported, 1);
        return;
    }
    packet_view_t pkt = {
        .ts_ns = (int64_t)m->ts_sec * NS_PER_S + (int64_t)m->ts_usec * NS_PER_US,
        /* A HEP payload is one whole message, whatever transport the probe saw it on. */
        .ip_proto = PKT_PROTO_UDP,
        .src = m->src,
        .dst = m->dst,
        .payload = m->payload,
        .len = m->payload_len,
        .kind = kind,
        .has_probe = true,
        .probe_id = m->agent_id,
    };
    /* Every message moves its probe's watermark, a copy another probe sent first too. Copies
     * are dropped as they leave the merge: in capture-time order a message and its copy come
     * out next to each other, however far apart the probes delivered them. */
    int64_t now = clock_ns(CLOCK_MONOTONIC);
    hep_merge_saw(h->merge, m->agent_id, &peer->addr, pkt.ts_ns, now);
    hep_merge_push(h->merge, &pkt, net_endpoint_hash(peer), now);
}

/* Out of the merge, in capture-time order: drop a copy another probe sent, hand on the rest. */
static void on_merged(void *ctx, const packet_view_t *pkt, uint64_t probe)
{
    hep_in_t *h = ctx;
    if (seen_recently(h, pkt, probe)) {
        counter_add(&h->duplicates, 1);
        return;
    }
    counter_add(pkt->kind == PKT_KIND_SIP    ? &h->sip
                : pkt->kind == PKT_KIND_RTCP ? &h->rtcp
                                             : &h->qos,
                1);
    h->fn(h->ctx, pkt);
}

static int on_hep_poll(void *ctx, int64_t mono_ns)
{
    hep_in_t *h = ctx;
    return hep_merge_release(h->merge, mono_ns);
}

static void on_hep_idle(void *ctx, int64_t now_ns)
{
    hep_in_t *h = ctx;
    if (h->on_idle != NULL)
        h->on_idle(h->ctx, now_ns);
}

hep_in_t *hep_in_new(const char *spec, hep_in_fn fn, void *ctx, const hep_receiver_cfg_t *cfg,
                     char *err, size_t errlen)
{
    hep_receiver_cfg_t rc;
    if (cfg != NULL)
        rc = *cfg;
    else
        hep_receiver_cfg_init(&rc);
    hep_in_t *h = calloc(1, sizeof(*h));
    if (h != NULL) {
        h->recent = calloc(DEDUP_SETS, sizeof(*h->recent));
        h->merge = hep_merge_new(&rc.merge, on_merged, h);
    }
    if (h == NULL || h->recent == NULL || h->merge == NULL) {
        snprintf(err, errlen, "out of memory");
        hep_in_free(h);
        return NULL;
    }
    h->fn = fn;
    h->ctx = ctx;
    h->on_idle = rc.on_idle;
    rc.on_idle = on_hep_idle;
    rc.on_poll = on_hep_poll;
    h->rx = hep_receiver_new(spec, on_hep_msg, h, &rc, err, errlen);
    if (h->rx == NULL) {
        hep_in_free(h);
        return NULL;
    }
    return h;
}

uint16_t hep_in_port(const hep_in_t *h)
{
    return hep_receiver_port(h->rx);
}

void hep_in_stats(hep_in_t *h, hep_in_stats_t *out)
{
    if (h->rx != NULL)
        hep_receiver_stats(h->rx, &out->rx);
    else
        out->rx = h->final;
    hep_merge_stats(h->merge, &out->merge);
    out->sip = counter_get(&h->sip);
    out->rtcp = counter_get(&h->rtcp);
    out->qos = counter_get(&h->qos);
    out->duplicates = counter_get(&h->duplicates);
    out->unsupported = counter_get(&h->unsupported);
}

void hep_in_stop(hep_in_t *h)
{
    if (h == NULL || h->rx == NULL)
        return;
    hep_receiver_stats(h->rx, &h->final);
    hep_receiver_free(h->rx); /* joins: the receiver's callbacks are over */
    h->rx = NULL;
    hep_merge_flush(h->merge); /* the last messages, on this thread */
}

void hep_in_free(hep_in_t *h)
{
    if (h == NULL)
        return;
    hep_in_stop(h);
    hep_merge_free(h->merge);
    free(h->recent);
    free(h);
}
