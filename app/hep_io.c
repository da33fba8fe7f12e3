/* hep_io: HEPv3 over the network: a sender that never blocks its caller, and a UDP+TCP receiver. */
#include "hep_io.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

typedef atomic_uint_fast64_t counter_t;

static inline void bump(counter_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static inline uint64_t peek(counter_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* ---- addresses ---- */

/* Split "HOST:PORT" (HOST a name, IPv4, or [IPv6]) into C strings. False when malformed. */
static bool split_hostport(sv_t s, char *host, size_t hostcap, char *port, size_t portcap)
{
    sv_t h, p;
    if (s.len > 0 && s.p[0] == '[') {
        size_t close = sv_index(s, ']');
        if (close == SIZE_MAX || close + 1 >= s.len || s.p[close + 1] != ':')
            return false;
        h = sv_slice(s, 1, close - 1);
        p = sv_slice(s, close + 2, s.len);
    } else {
        size_t i = s.len;
        while (i > 0 && s.p[i - 1] != ':')
            i--;
        if (i == 0)
            return false;
        h = sv_slice(s, 0, i - 1);
        p = sv_slice(s, i, s.len);
        if (sv_index(h, ':') != SIZE_MAX)
            return false; /* a bare IPv6 address needs brackets */
    }
    uint32_t n;
    if (h.len == 0 || h.len >= hostcap || !sv_to_u32(p, &n) || n > 65535)
        return false;
    sv_copy(h, host, hostcap);
    int w = snprintf(port, portcap, "%u", (unsigned)n);
    return w > 0 && (size_t)w < portcap;
}

/* Resolve host:port for socktype into *ss. 0, or -EINVAL with a reason. */
static int resolve(const char *host, const char *port, int socktype, bool passive,
                   struct sockaddr_storage *ss, socklen_t *sslen, char *err, size_t errlen)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = socktype;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0 || res == NULL) {
        snprintf(err, errlen, "%s: %s", host, rc != 0 ? gai_strerror(rc) : "no address");
        return -EINVAL;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sslen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static void endpoint_from_sockaddr(const struct sockaddr_storage *ss, net_endpoint_t *ep)
{
    memset(ep, 0, sizeof(*ep));
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        net_addr_v4(&ep->addr, (const uint8_t *)&a->sin_addr);
        ep->port = ntohs(a->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        net_addr_v6(&ep->addr, (const uint8_t *)&a->sin6_addr);
        ep->port = ntohs(a->sin6_port);
    }
}

static char *dup_key(const char *key, size_t *len)
{
    *len = key ? strlen(key) : 0;
    if (*len == 0)
        return NULL;
    char *k = malloc(*len);
    if (k != NULL)
        memcpy(k, key, *len);
    return k;
}

/* ---- sender ----
 *
 * The queue is one byte ring of records [u32 length][HEP packet][pad to 4], encoded in place by
 * the producer under the mutex; the sender thread borrows up to SEND_BATCH records at a time,
 * sends them without the lock (sendmmsg for UDP, one sendmsg for TCP), then releases them. A record
 * never wraps: a producer that would cross the end writes a 0 length there and starts again at
 * offset 0. Encoding on the caller's side costs one copy of the payload, which the caller must
 * make anyway since the packet is borrowed; the mutex is held for that copy only. */

#define REC_HDR         4u
#define SEND_BATCH      32
#define BACKOFF_MIN_MS  100
#define BACKOFF_MAX_MS  2000
#define CONNECT_TIMEOUT 1000   /* ms */
#define TCP_SEND_TIMEOUT 5     /* s: a collector that stops reading is treated as gone */
#define TCP_MAX_ATTEMPTS 3     /* sends of one message over successive connections */
#define FREE_DRAIN_MS   1000
#define LINGER_US       200    /* an empty queue is polled this often ... */
#define LINGER_POLLS    50     /* ... this many times (10 ms) before the thread sleeps */

struct hep_sender {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    bool tcp;
    uint32_t agent_id;
    char *key;
    size_t key_len;

    pthread_mutex_t mu;
    pthread_cond_t work;        /* the thread waits for records or stop */
    pthread_cond_t idle;        /* flush waits for an empty queue */
    pthread_cond_t space;       /* blocking senders wait for room */
    int block_ms;               /* > 0: a full queue makes senders wait this long */
    uint8_t *ring;
    size_t cap, r, w, used;     /* byte offsets; used counts wrap waste too */
    size_t count, max_count;    /* records queued (including those being sent) */
    bool waiting;               /* the thread sleeps on work */
    bool stop;
    int64_t stop_deadline;      /* CLOCK_MONOTONIC ns */
    bool started;
    pthread_t thread;
    int fd;                     /* thread-owned */
    unsigned attempts;          /* failed TCP sends of the head record */

    counter_t queued, dropped, rejected, sent, lost, send_errors, connects;
};

static size_t align4(size_t n)
{
    return (n + 3) & ~(size_t)3;
}


int hep_sender_send(hep_sender_t *s, const hep_msg_t *msg)
{
    hep_msg_t m = *msg;
    m.agent_id = s->agent_id;
    m.auth_key = sv_make(s->key, s->key_len);
    size_t n = hep_encoded_len(&m);
    if (n > HEP_MAX_LEN) {
        bump(&s->rejected, 1);
        return -EMSGSIZE;
    }
    size_t need = REC_HDR + align4(n);

    pthread_mutex_lock(&s->mu);
    struct timespec until;
    bool waited = false;
    size_t waste;
    for (;;) {
        if (s->count == 0)
            s->r = s->w = s->used = 0; /* nothing borrowed: start over, no wrap waste */
        waste = s->cap - s->w < need ? s->cap - s->w : 0;
        if (s->count < s->max_count && s->used + waste + need <= s->cap)
            break;
        /* Full. Live capture drops at once; a replay may have asked to wait a while. */
        if (s->block_ms <= 0 || s->stop)
            goto full;
        if (!waited) {
            until = clock_deadline(CLOCK_MONOTONIC, (int64_t)s->block_ms * 1000000);
            waited = true;
        }
        if (pthread_cond_timedwait(&s->space, &s->mu, &until) == ETIMEDOUT)
            goto full;
    }
    size_t at = waste ? 0 : s->w;
    int rc = hep_encode(&m, s->ring + at + REC_HDR, n);
    if (rc < 0) {
        pthread_mutex_unlock(&s->mu);
        bump(&s->rejected, 1);
        return rc;
    }
    if (waste) {
        memset(s->ring + s->w, 0, REC_HDR); /* wrap marker; waste >= 4 as offsets are aligned */
        s->used += waste;
    }
    uint32_t len32 = (uint32_t)n;
    memcpy(s->ring + at, &len32, REC_HDR);
    s->w = at + need == s->cap ? 0 : at + need;
    s->used += need;
    s->count++;
    bump(&s->queued, 1);
    if (s->waiting)
        pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->mu);
    return 0;
full:
    pthread_mutex_unlock(&s->mu);
    bump(&s->dropped, 1);
    return -ENOBUFS;
}

static int send_one(hep_sender_t *s, uint8_t proto, const net_endpoint_t *src,
                    const net_endpoint_t *dst, uint8_t ip_proto, int64_t ts_ns,
                    const uint8_t *payload, size_t len, sv_t call_id)
{
    if (ts_ns < 0)
        ts_ns = 0;
    hep_msg_t m = {
        .src = *src,
        .dst = *dst,
        .ip_proto = ip_proto,
        .ts_sec = (uint32_t)(ts_ns / 1000000000),
        .ts_usec = (uint32_t)(ts_ns % 1000000000 / 1000),
        .proto_type = proto,
        .payload = payload,
        .payload_len = len,
        .correlation_id = call_id,
    };
    return hep_sender_send(s, &m);
}

int hep_sender_send_sip(hep_sender_t *s, const net_endpoint_t *src, const net_endpoint_t *dst,
                        uint8_t ip_proto, int64_t ts_ns, const uint8_t *payload, size_t len,
                        sv_t call_id)
{
    return send_one(s, HEP_PROTO_SIP, src, dst, ip_proto, ts_ns, payload, len, call_id);
}

int hep_sender_send_rtcp(hep_sender_t *s, const net_endpoint_t *src, const net_endpoint_t *dst,
                         uint8_t ip_proto, int64_t ts_ns, const uint8_t *payload, size_t len,
                         sv_t call_id)
{
    return send_one(s, HEP_PROTO_RTCP, src, dst, ip_proto, ts_ns, payload, len, call_id);
}

/* Borrow up to max records from the head (mutex held). Returns how many. */
static size_t peek_batch(hep_sender_t *s, struct iovec *iov, size_t max)
{
    size_t k = 0, at = s->r;
    while (k < max && k < s->count) {
        if (at == s->cap)
            at = 0;
        uint32_t len;
        memcpy(&len, s->ring + at, REC_HDR);
        if (len == 0) { /* wrap marker */
            at = 0;
            memcpy(&len, s->ring, REC_HDR);
        }
        iov[k].iov_base = s->ring + at + REC_HDR;
        iov[k].iov_len = len;
        at += REC_HDR + align4(len);
        k++;
    }
    return k;
}

/* Release the first k records (mutex held). */
static void pop_records(hep_sender_t *s, size_t k)
{
    for (size_t i = 0; i < k && s->count > 0; i++) {
        uint32_t len;
        memcpy(&len, s->ring + s->r, REC_HDR);
        if (len == 0) {
            s->used -= s->cap - s->r;
            s->r = 0;
            memcpy(&len, s->ring, REC_HDR);
        }
        size_t rec = REC_HDR + align4(len);
        s->r += rec;
        if (s->r == s->cap)
            s->r = 0;
        s->used -= rec;
        s->count--;
    }
    s->attempts = 0;
    if (s->block_ms > 0)
        pthread_cond_broadcast(&s->space);
    if (s->count == 0)
        pthread_cond_broadcast(&s->idle);
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Connect with a timeout; on success the socket is blocking with a send timeout. */
static int tcp_connect(hep_sender_t *s)
{
    int fd = socket(s->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    int rc = connect(fd, (const struct sockaddr *)&s->addr, s->addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (poll(&p, 1, CONNECT_TIMEOUT) == 1 &&
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
            rc = 0;
    }
    if (rc != 0) {
        close(fd);
        return -ECONNREFUSED;
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0)
        fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    struct timeval tv = {.tv_sec = TCP_SEND_TIMEOUT};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    s->fd = fd;
    return 0;
}

/* Send k records on UDP. Returns how many left the queue (sent or lost). */
static size_t udp_send_batch(hep_sender_t *s, struct iovec *iov, size_t k)
{
    struct mmsghdr mm[SEND_BATCH];
    memset(mm, 0, sizeof(mm[0]) * k);
    for (size_t i = 0; i < k; i++) {
        mm[i].msg_hdr.msg_iov = &iov[i];
        mm[i].msg_hdr.msg_iovlen = 1;
    }
    int rc;
    do
        rc = sendmmsg(s->fd, mm, (unsigned)k, MSG_NOSIGNAL);
    while (rc < 0 && errno == EINTR);
    if (rc > 0) {
        bump(&s->sent, (uint64_t)rc);
        return (size_t)rc;
    }
    /* ECONNREFUSED from an earlier ICMP, ENOBUFS ...: this datagram is lost, go on. */
    bump(&s->send_errors, 1);
    bump(&s->lost, 1);
    return 1;
}

/* Send k records on TCP as one gathered write. Returns how many were sent whole; on an error the
 * connection is closed and the first unsent record is retried on the next one. */
static size_t tcp_send_batch(hep_sender_t *s, struct iovec *iov, size_t k)
{
    size_t done = 0, first = 0;
    while (first < k) {
        /* sendmsg rather than writev: MSG_NOSIGNAL, so a closed collector is EPIPE, not
         * SIGPIPE. */
        struct msghdr mh = {.msg_iov = iov + first, .msg_iovlen = k - first};
        ssize_t n = sendmsg(s->fd, &mh, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            bump(&s->send_errors, 1);
            close_fd(&s->fd);
            break;
        }
        size_t left = (size_t)n;
        while (first < k && left >= iov[first].iov_len) {
            left -= iov[first].iov_len;
            first++;
            done++;
        }
        if (left > 0) { /* partial record: advance inside it */
            iov[first].iov_base = (uint8_t *)iov[first].iov_base + left;
            iov[first].iov_len -= left;
        }
    }
    bump(&s->sent, done);
    return done;
}

static void *sender_main(void *arg)
{
    hep_sender_t *s = arg;
    struct iovec iov[SEND_BATCH];
    int backoff = BACKOFF_MIN_MS;
    unsigned idle_polls = 0;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (s->count == 0 && !s->stop) {
            /* Linger before sleeping for good: under steady traffic the producer then never
             * has to wake us (a futex call per message would cost it a microsecond), and
             * what arrives meanwhile goes out in one batch. */
            if (idle_polls < LINGER_POLLS) {
                idle_polls++;
                struct timespec until = clock_deadline(CLOCK_MONOTONIC, (int64_t)LINGER_US * 1000);
                pthread_cond_timedwait(&s->work, &s->mu, &until);
                continue;
            }
            s->waiting = true;
            pthread_cond_wait(&s->work, &s->mu);
            s->waiting = false;
        }
        idle_polls = 0;
        if (s->count == 0 || (s->stop && clock_ns(CLOCK_MONOTONIC) >= s->stop_deadline))
            break;
        if (s->fd < 0) {
            pthread_mutex_unlock(&s->mu);
            int rc = s->tcp ? tcp_connect(s) : -EINVAL;
            pthread_mutex_lock(&s->mu);
            if (rc == 0) {
                bump(&s->connects, 1);
                backoff = BACKOFF_MIN_MS;
                continue;
            }
            /* The collector is away: keep the queue (it fills, then drops) and wait; when
             * stopping, do not wait for it to come back. */
            bump(&s->send_errors, 1);
            if (s->stop)
                break;
            struct timespec until = clock_deadline(CLOCK_MONOTONIC, (int64_t)backoff * 1000000);
            pthread_cond_timedwait(&s->work, &s->mu, &until);
            backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
            continue;
        }
        size_t k = peek_batch(s, iov, SEND_BATCH);
        pthread_mutex_unlock(&s->mu);
        size_t gone = s->tcp ? tcp_send_batch(s, iov, k) : udp_send_batch(s, iov, k);
        pthread_mutex_lock(&s->mu);
        if (gone == 0 && ++s->attempts >= TCP_MAX_ATTEMPTS) {
            bump(&s->lost, 1); /* this one fails on every connection: give it up */
            gone = 1;
        }
        if (gone > 0)
            pop_records(s, gone);
    }
    /* Stopped with records left (past the drain deadline): they are lost. */
    bump(&s->lost, s->count);
    s->count = 0;
    pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->mu);
    close_fd(&s->fd);
    return NULL;
}

/* Parse "HOST:PORT[,transport=udp|tcp]" and resolve it. */
static int sender_parse_spec(hep_sender_t *s, const char *spec, char *err, size_t errlen)
{
    sv_t all = sv_from_cstr(spec), hostport, opts;
    sv_split_once(all, ',', &hostport, &opts);
    while (opts.len > 0) {
        sv_t opt, key, val;
        sv_split_once(opts, ',', &opt, &opts);
        sv_split_once(sv_trim(opt), '=', &key, &val);
        if (sv_eq_ci(key, "transport") && sv_eq_ci(val, "udp")) {
            s->tcp = false;
        } else if (sv_eq_ci(key, "transport") && sv_eq_ci(val, "tcp")) {
            s->tcp = true;
        } else {
            snprintf(err, errlen, "%s: unknown option \"%.*s\" (transport=udp|tcp)", spec,
                     SV_ARG(opt));
            return -EINVAL;
        }
    }
    char host[256], port[8];
    if (!split_hostport(hostport, host, sizeof(host), port, sizeof(port))) {
        snprintf(err, errlen, "%s: expected HOST:PORT[,transport=udp|tcp]", spec);
        return -EINVAL;
    }
    return resolve(host, port, s->tcp ? SOCK_STREAM : SOCK_DGRAM, false, &s->addr, &s->addrlen,
                   err, errlen);
}

hep_sender_t *hep_sender_new(const char *spec, uint32_t agent_id, const char *auth_key,
                             size_t queue_len, char *err, size_t errlen)
{
    hep_sender_t *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->fd = -1;
    bool mu_ok = false, work_ok = false, idle_ok = false, space_ok = false;
    if (sender_parse_spec(s, spec, err, errlen) != 0)
        goto fail;
    s->agent_id = agent_id;
    s->key = dup_key(auth_key, &s->key_len);
    if (s->key_len > 0 && s->key == NULL)
        goto nomem;
    s->max_count = queue_len ? queue_len : 8192;
    /* Bytes: 1.5 KB per message on average (a SIP message with SDP, plus 100 bytes of HEP),
     * and at least room for a few maximum-size packets. */
    size_t cap = s->max_count > ((size_t)256 << 20) / 1536 ? (size_t)256 << 20
                                                             : s->max_count * 1536;
    if (cap < ((size_t)256 << 10))
        cap = (size_t)256 << 10;
    s->cap = align4(cap);
    s->ring = malloc(s->cap);
    if (s->ring == NULL)
        goto nomem;
    mu_ok = pthread_mutex_init(&s->mu, NULL) == 0;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    work_ok = pthread_cond_init(&s->work, &ca) == 0;
    idle_ok = pthread_cond_init(&s->idle, &ca) == 0;
    space_ok = pthread_cond_init(&s->space, &ca) == 0;
    pthread_condattr_destroy(&ca);
    if (!mu_ok || !work_ok || !idle_ok || !space_ok)
        goto nomem;
    if (!s->tcp) {
        /* UDP: one connected socket, made now so that a bad address shows at once. */
        s->fd = socket(s->addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (s->fd < 0 || connect(s->fd, (const struct sockaddr *)&s->addr, s->addrlen) != 0) {
            snprintf(err, errlen, "%s: %s", spec, strerror(errno));
            goto fail;
        }
    }
    if (pthread_create(&s->thread, NULL, sender_main, s) != 0) {
        snprintf(err, errlen, "cannot start the HEP sender thread");
        goto fail;
    }
    s->started = true;
    return s;
nomem:
    snprintf(err, errlen, "out of memory");
fail:
    close_fd(&s->fd);
    if (space_ok)
        pthread_cond_destroy(&s->space);
    if (idle_ok)
        pthread_cond_destroy(&s->idle);
    if (work_ok)
        pthread_cond_destroy(&s->work);
    if (mu_ok)
        pthread_mutex_destroy(&s->mu);
    free(s->ring);
    free(s->key);
    free(s);
    return NULL;
}

int hep_sender_flush(hep_sender_t *s, int timeout_ms)
{
    struct timespec until = clock_deadline(CLOCK_MONOTONIC, (int64_t)timeout_ms * 1000000);
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    while (s->count > 0 && rc == 0)
        rc = pthread_cond_timedwait(&s->idle, &s->mu, &until);
    bool empty = s->count == 0;
    pthread_mutex_unlock(&s->mu);
    return empty ? 0 : -ETIMEDOUT;
}

void hep_sender_stats(hep_sender_t *s, hep_sender_stats_t *out)
{
    pthread_mutex_lock(&s->mu);
    out->queue_now = s->count;
    out->queued = peek(&s->queued);
    out->sent = peek(&s->sent);
    out->lost = peek(&s->lost);
    pthread_mutex_unlock(&s->mu);
    out->dropped = peek(&s->dropped);
    out->rejected = peek(&s->rejected);
    out->send_errors = peek(&s->send_errors);
    out->connects = peek(&s->connects);
}

void hep_sender_free(hep_sender_t *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    s->stop_deadline = clock_ns(CLOCK_MONOTONIC) + (int64_t)FREE_DRAIN_MS * 1000000;
    pthread_cond_broadcast(&s->work);
    pthread_cond_broadcast(&s->space);
    pthread_mutex_unlock(&s->mu);
    if (s->started)
        pthread_join(s->thread, NULL);
    close_fd(&s->fd);
    pthread_cond_destroy(&s->space);
    pthread_cond_destroy(&s->idle);
    pthread_cond_destroy(&s->work);
    pthread_mutex_destroy(&s->mu);
    free(s->ring);
    free(s->key);
    free(s);
}

void hep_sender_set_block(hep_sender_t *s, int timeout_ms)
{
    pthread_mutex_lock(&s->mu);
    s->block_ms = timeout_ms > 0 ? timeout_ms : 0;
    pthread_mutex_unlock(&s->mu);
}

/* ---- receiver ---- */

#define RX_BATCH     32              /* datagrams per recvmmsg */
#define RX_BUF       65536           /* one datagram, or one connection's pending bytes */
#define RX_TICK_MS   200

typedef struct {
    int fd;                          /* -1: free slot */
    net_endpoint_t peer;
    uint8_t *buf;                    /* RX_BUF bytes, allocated on first use, kept */
    size_t fill;
    int64_t last_ns;                 /* CLOCK_MONOTONIC of the last data */
} rx_conn_t;

struct hep_receiver {
    int udp, lsn, wake;              /* sockets and the eventfd that stops the thread */
    uint16_t port;
    hep_receiver_fn fn;
    hep_idle_fn on_idle;
    void *ctx;
    char *key;
    size_t key_len;
    uint32_t idle_timeout_ms;
    size_t max_conns;
    rx_conn_t *conns;
    struct pollfd *pfds;             /* 3 + max_conns */
    uint8_t *dgram;                  /* RX_BATCH * RX_BUF */
    struct mmsghdr mm[RX_BATCH];
    struct iovec iov[RX_BATCH];
    struct sockaddr_storage from[RX_BATCH];
    bool started;
    pthread_t thread;
    hep_msg_t msg;

    counter_t udp_datagrams, tcp_accepted, tcp_refused, tcp_closed, tcp_bad_framing,
        tcp_idle_closed, packets, bytes, malformed, unauthorised, compressed;
};

void hep_receiver_cfg_init(hep_receiver_cfg_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_connections = 64;
    cfg->idle_timeout_ms = 300000;
    cfg->udp_rcvbuf = 8 << 20;
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
        bump(&r->malformed, 1);
        return;
    }
    if (r->key_len > 0 && !key_matches(r, r->msg.auth_key)) {
        bump(&r->unauthorised, 1);
        return;
    }
    bump(&r->packets, 1);
    bump(&r->bytes, len);
    if (r->msg.compressed)
        bump(&r->compressed, 1);
    r->fn(r->ctx, &r->msg, peer);
}

/* A datagram holds one or more packets back to back; what does not frame is malformed. */
static void rx_datagram(hep_receiver_t *r, const uint8_t *d, size_t n, const net_endpoint_t *peer)
{
    size_t off = 0;
    bump(&r->udp_datagrams, 1);
    if (n == 0) {
        bump(&r->malformed, 1);
        return;
    }
    while (off < n) {
        int fl = hep_frame_len(d + off, n - off);
        if (fl < 0 || (size_t)fl > n - off) {
            bump(&r->malformed, 1);
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
            endpoint_from_sockaddr(&r->from[i], &peer);
            size_t len = r->mm[i].msg_len;
            if (r->mm[i].msg_hdr.msg_flags & MSG_TRUNC) /* cannot happen at 64 KB; be sure */
                len = 0;
            rx_datagram(r, r->iov[i].iov_base, len, &peer);
        }
        if (n < RX_BATCH)
            return;
    }
}

static void conn_close(rx_conn_t *c)
{
    close_fd(&c->fd);
    c->fill = 0;
}

static void rx_accept(hep_receiver_t *r)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(r->lsn, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        rx_conn_t *slot = NULL;
        for (size_t i = 0; i < r->max_conns && slot == NULL; i++)
            if (r->conns[i].fd < 0)
                slot = &r->conns[i];
        if (slot != NULL && slot->buf == NULL)
            slot->buf = malloc(RX_BUF);
        if (slot == NULL || slot->buf == NULL) {
            close(fd);
            bump(&r->tcp_refused, 1);
            continue;
        }
        slot->fd = fd;
        slot->fill = 0;
        slot->last_ns = clock_ns(CLOCK_MONOTONIC);
        endpoint_from_sockaddr(&ss, &slot->peer);
        bump(&r->tcp_accepted, 1);
    }
}

/* Read what is there and cut whole packets off the front. The buffer holds one maximum-size
 * packet, so a packet that framed correctly always fits; what does not frame ends the
 * connection, since nothing after it can be trusted to start a packet. */
static void rx_conn_read(hep_receiver_t *r, rx_conn_t *c)
{
    ssize_t n = read(c->fd, c->buf + c->fill, RX_BUF - c->fill);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        if (c->fill > 0)
            bump(&r->malformed, 1); /* a truncated last packet */
        bump(&r->tcp_closed, 1);
        conn_close(c);
        return;
    }
    c->fill += (size_t)n;
    c->last_ns = clock_ns(CLOCK_MONOTONIC);
    size_t off = 0;
    while (off < c->fill) {
        int fl = hep_frame_len(c->buf + off, c->fill - off);
        if (fl == HEP_INVALID) {
            bump(&r->malformed, 1);
            bump(&r->tcp_bad_framing, 1);
            conn_close(c);
            return;
        }
        if (fl == HEP_PARTIAL || (size_t)fl > c->fill - off)
            break;
        rx_deliver(r, c->buf + off, (size_t)fl, &c->peer);
        off += (size_t)fl;
    }
    if (off > 0) {
        memmove(c->buf, c->buf + off, c->fill - off);
        c->fill -= off;
    }
}

static void *receiver_main(void *arg)
{
    hep_receiver_t *r = arg;
    int64_t last_tick = clock_ns(CLOCK_MONOTONIC);
    for (;;) {
        nfds_t np = 0;
        r->pfds[np++] = (struct pollfd){.fd = r->wake, .events = POLLIN};
        r->pfds[np++] = (struct pollfd){.fd = r->udp, .events = POLLIN};
        r->pfds[np++] = (struct pollfd){.fd = r->lsn, .events = POLLIN};
        for (size_t i = 0; i < r->max_conns; i++)
            if (r->conns[i].fd >= 0)
                r->pfds[np++] = (struct pollfd){.fd = r->conns[i].fd, .events = POLLIN};
        int rc = poll(r->pfds, np, RX_TICK_MS);
        if (rc < 0 && errno != EINTR)
            break;
        if (rc > 0) {
            if (r->pfds[0].revents)
                break;
            if (r->pfds[1].revents)
                rx_udp(r);
            if (r->pfds[2].revents)
                rx_accept(r);
            /* Connections in pfds order; a slot accepted just now is not in pfds yet. */
            for (nfds_t k = 3; k < np; k++) {
                if (r->pfds[k].revents == 0)
                    continue;
                for (size_t i = 0; i < r->max_conns; i++)
                    if (r->conns[i].fd == r->pfds[k].fd) {
                        rx_conn_read(r, &r->conns[i]);
                        break;
                    }
            }
        }
        int64_t now = clock_ns(CLOCK_MONOTONIC);
        if (now - last_tick >= (int64_t)RX_TICK_MS * 1000000) {
            last_tick = now;
            for (size_t i = 0; i < r->max_conns; i++) {
                rx_conn_t *c = &r->conns[i];
                if (c->fd >= 0 && now - c->last_ns > (int64_t)r->idle_timeout_ms * 1000000) {
                    bump(&r->tcp_idle_closed, 1);
                    conn_close(c);
                }
            }
            if (r->on_idle)
                r->on_idle(r->ctx, clock_ns(CLOCK_REALTIME));
        }
    }
    return NULL;
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
        if (rcvbuf > 0 && setsockopt(r->udp, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
                                     sizeof(rcvbuf)) != 0)
            setsockopt(r->udp, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
        struct sockaddr_storage got;
        socklen_t gl = sizeof(got);
        getsockname(r->udp, (struct sockaddr *)&got, &gl);
        net_endpoint_t ep;
        endpoint_from_sockaddr(&got, &ep);
        r->port = ep.port;
        struct sockaddr_storage tcp_addr = got;
        r->lsn = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        int one = 1;
        if (r->lsn >= 0)
            setsockopt(r->lsn, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (r->lsn >= 0 && bind(r->lsn, (struct sockaddr *)&tcp_addr, gl) == 0 &&
            listen(r->lsn, 64) == 0)
            return 0;
        int e = errno;
        close_fd(&r->lsn);
        close_fd(&r->udp);
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
    r->ctx = ctx;
    r->idle_timeout_ms = cfg->idle_timeout_ms ? cfg->idle_timeout_ms : 300000;
    r->max_conns = cfg->max_connections ? cfg->max_connections : 64;
    char host[256], port[8];
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    if (!split_hostport(sv_from_cstr(spec), host, sizeof(host), port, sizeof(port))) {
        snprintf(err, errlen, "%s: expected ADDR:PORT", spec);
        goto fail;
    }
    if (resolve(host, port, SOCK_DGRAM, true, &ss, &sl, err, errlen) != 0)
        goto fail;
    r->key = dup_key(cfg->auth_key, &r->key_len);
    r->conns = calloc(r->max_conns, sizeof(*r->conns));
    r->pfds = calloc(r->max_conns + 3, sizeof(*r->pfds));
    r->dgram = malloc((size_t)RX_BATCH * RX_BUF);
    if ((r->key_len > 0 && r->key == NULL) || r->conns == NULL || r->pfds == NULL ||
        r->dgram == NULL) {
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
    if (r->wake < 0 || pthread_create(&r->thread, NULL, receiver_main, r) != 0) {
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
    out->udp_datagrams = peek(&r->udp_datagrams);
    out->tcp_accepted = peek(&r->tcp_accepted);
    out->tcp_refused = peek(&r->tcp_refused);
    out->tcp_closed = peek(&r->tcp_closed);
    out->tcp_bad_framing = peek(&r->tcp_bad_framing);
    out->tcp_idle_closed = peek(&r->tcp_idle_closed);
    out->packets = peek(&r->packets);
    out->bytes = peek(&r->bytes);
    out->malformed = peek(&r->malformed);
    out->unauthorised = peek(&r->unauthorised);
    out->compressed = peek(&r->compressed);
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
        close_fd(&r->conns[i].fd);
        free(r->conns[i].buf);
    }
    close_fd(&r->udp);
    close_fd(&r->lsn);
    close_fd(&r->wake);
    free(r->conns);
    free(r->pfds);
    free(r->dgram);
    free(r->key);
    free(r);
}
