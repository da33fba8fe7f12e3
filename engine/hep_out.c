/* hep_out: HEPv3 to a collector over UDP or TCP, from a queue that never blocks its caller. */
#include "hep_out.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "hep_qos.h"
#include "netio.h"

/* ---- sender ----
 *
 * The queue is one byte ring of records [u32 length][HEP packet][pad to 4], encoded in place by
 * the producer under the mutex; the sender thread borrows up to SEND_BATCH records at a time,
 * sends them without the lock (sendmmsg for UDP, one sendmsg for TCP), then releases them. A record
 * never wraps: a producer that would cross the end writes a 0 length there and starts again at
 * offset 0. Encoding on the caller's side costs one copy of the payload, which the caller must
 * make anyway since the packet is borrowed; the mutex is held for that copy only. */

#define REC_HDR          4u
#define SEND_BATCH       32
#define BACKOFF_MIN_MS   100
#define BACKOFF_MAX_MS   2000
#define CONNECT_TIMEOUT  1000 /* ms */
#define TCP_SEND_TIMEOUT 5    /* s: a collector that stops reading is treated as gone */
#define TCP_MAX_ATTEMPTS 3    /* sends of one message over successive connections */
#define FREE_DRAIN_MS    1000
#define LINGER_US        200 /* an empty queue is polled this often ... */
#define LINGER_POLLS     50  /* ... this many times (10 ms) before the thread sleeps */
#define CONFIRM_MS       200 /* how long an idle sender waits for its last bytes' ACK ... */
#define CONFIRM_MIN_MS   50  /* ... and at least this long, before it takes them as sent */

struct hep_sender {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    bool tcp;
    bool no_qos; /* qos=off: no stream quality reports (hep_sender_send_qos) */
    uint32_t agent_id;
    char *key;
    size_t key_len;

    pthread_mutex_t mu;
    pthread_cond_t work;  /* the thread waits for records or stop */
    pthread_cond_t idle;  /* flush waits for an empty queue */
    pthread_cond_t space; /* blocking senders wait for room */
    int block_ms;         /* > 0: a full queue makes senders wait this long */
    uint8_t *ring;
    size_t cap, r, w, used;  /* byte offsets; used counts wrap waste too */
    size_t count, max_count; /* records queued (including those being sent) */
    bool waiting;            /* the thread sleeps on work */
    bool stop;
    int64_t stop_deadline; /* CLOCK_MONOTONIC ns */
    bool started;
    pthread_t thread;
    int fd;               /* thread-owned */
    unsigned attempts;    /* failed TCP sends of the head record */
    uint64_t unconfirmed; /* TCP: messages written since the connection was last seen open */

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
        counter_add(&s->rejected, 1);
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
        counter_add(&s->rejected, 1);
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
    counter_add(&s->queued, 1);
    if (s->waiting)
        pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->mu);
    return 0;
full:
    pthread_mutex_unlock(&s->mu);
    counter_add(&s->dropped, 1);
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

/* The report of st (cumulative figures; a sample adds its interval), sent. */
static int send_report(hep_sender_t *s, const stream_record_t *st, bool final,
                       const sample_record_t *sample)
{
    if (s->no_qos)
        return -ENOTSUP;
    if (st->call_id == NULL || st->call_id[0] == '\0')
        return -EINVAL;
    hep_qos_t q = {
        .final = final,
        .src = st->src,
        .dst = st->dst,
        .ssrc = st->ssrc,
        .payload_type = st->payload_type,
        .clock_rate = st->clock_rate,
        .first_ns = st->first_ns,
        .last_ns = st->last_ns,
        .packets = st->packets,
        .lost = st->lost,
        .duplicates = st->duplicates,
        .out_of_order = st->out_of_order,
        .seq_errors = st->seq_errors,
        .max_delta_ms = st->max_delta_ms,
        .mean_jitter_ms = st->mean_jitter_ms,
        .max_jitter_ms = st->max_jitter_ms,
        .mos = st->mos,
        .party = -1,
        .sdp_mismatch = st->sdp_mismatch,
        .have_rtcp = st->have_rtcp,
        .rtcp_fraction_lost = st->rtcp_fraction_lost,
        .rtcp_cumulative_lost = st->rtcp_cumulative_lost,
        .rtcp_jitter_ms = st->rtcp_jitter_ms,
        .rtcp_rtt_ms = st->rtcp_rtt_ms,
    };
    if (sample != NULL) {
        q.sample = true;
        q.interval = *sample;
    }
    q.call_id_len = sv_copy(sv_from_cstr(st->call_id), q.call_id, sizeof(q.call_id));
    sv_copy(sv_from_cstr(st->codec != NULL ? st->codec : ""), q.codec, sizeof(q.codec));
    char json[HEP_QOS_MAX_LEN];
    int n = hep_qos_encode(&q, json, sizeof(json));
    if (n <= 0) {
        counter_add(&s->rejected, 1);
        return -EMSGSIZE;
    }
    int64_t ts = st->last_ns != 0 ? st->last_ns : st->first_ns;
    return send_one(s, HEP_PROTO_QOS_REPORT, &st->src, &st->dst, 17, ts, (const uint8_t *)json,
                    (size_t)n, sv_make(q.call_id, q.call_id_len));
}

int hep_sender_send_qos(hep_sender_t *s, const stream_record_t *st, bool final)
{
    return send_report(s, st, final, NULL);
}

int hep_sender_send_qos_sample(hep_sender_t *s, const stream_record_t *st,
                               const sample_record_t *sample)
{
    return send_report(s, st, false, sample);
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
        counter_add(&s->sent, (uint64_t)rc);
        return (size_t)rc;
    }
    /* ECONNREFUSED from an earlier ICMP, ENOBUFS ...: this datagram is lost, go on. */
    counter_add(&s->send_errors, 1);
    counter_add(&s->lost, 1);
    return 1;
}

/* TCP: has the collector closed the connection (FIN or RST), which a write would not tell
 * until the bytes were already gone? A HEP collector sends nothing, so any readable state but
 * "would block" means closed. */
static bool tcp_peer_closed(int fd)
{
    char b;
    ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* The connection was found closed: what was written on it since it was last seen open went
 * into a socket the collector no longer read (a write succeeds until the RST comes back), so
 * it counts as lost, not sent. Mutex held. */
static void tcp_lost_unconfirmed(hep_sender_t *s)
{
    if (s->unconfirmed > 0) {
        atomic_fetch_sub_explicit(&s->sent, s->unconfirmed, memory_order_relaxed);
        counter_add(&s->lost, s->unconfirmed);
        s->unconfirmed = 0;
    }
}

/* Before a TCP write (mutex held): a connection the collector closed (idle timeout, a full
 * connection table) is dropped for a new one before anything more is lost in it. */
static void tcp_check_open(hep_sender_t *s)
{
    if (s->fd < 0)
        return;
    if (tcp_peer_closed(s->fd)) {
        tcp_lost_unconfirmed(s);
        netio_close(&s->fd);
        return;
    }
    s->unconfirmed = 0;
}

/* The queue ran empty (mutex held, released meanwhile): wait up to CONFIRM_MS for the last
 * bytes to be acknowledged, then see whether the connection is still open, so that messages
 * the collector refused are counted as lost now rather than never. */
static void tcp_confirm(hep_sender_t *s)
{
    if (s->fd < 0 || s->unconfirmed == 0)
        return;
    pthread_mutex_unlock(&s->mu);
    /* At least CONFIRM_MIN_MS: a collector refusing a connection closes it as soon as its
     * thread gets to the accept, which may come after the bytes were acknowledged. */
    int64_t start = clock_ns(CLOCK_MONOTONIC);
    int64_t until = start + (int64_t)CONFIRM_MS * 1000000;
    int outq = 0;
    while (!tcp_peer_closed(s->fd) && clock_ns(CLOCK_MONOTONIC) < until &&
           ((ioctl(s->fd, SIOCOUTQ, &outq) == 0 && outq > 0) ||
            clock_ns(CLOCK_MONOTONIC) - start < (int64_t)CONFIRM_MIN_MS * 1000000)) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    pthread_mutex_lock(&s->mu);
    tcp_check_open(s); /* still unacknowledged but open after CONFIRM_MS: taken as sent */
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
            counter_add(&s->send_errors, 1);
            netio_close(&s->fd);
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
    counter_add(&s->sent, done);
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
            tcp_confirm(s);
            pthread_cond_broadcast(&s->idle);
            if (s->count > 0 || s->stop)
                continue;
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
                counter_add(&s->connects, 1);
                backoff = BACKOFF_MIN_MS;
                continue;
            }
            /* The collector is away: keep the queue (it fills, then drops) and wait; when
             * stopping, do not wait for it to come back. */
            counter_add(&s->send_errors, 1);
            if (s->stop)
                break;
            struct timespec until = clock_deadline(CLOCK_MONOTONIC, (int64_t)backoff * 1000000);
            pthread_cond_timedwait(&s->work, &s->mu, &until);
            backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
            continue;
        }
        if (s->tcp) {
            tcp_check_open(s);
            if (s->fd < 0)
                continue; /* closed by the collector: connect again */
        }
        size_t k = peek_batch(s, iov, SEND_BATCH);
        pthread_mutex_unlock(&s->mu);
        size_t gone = s->tcp ? tcp_send_batch(s, iov, k) : udp_send_batch(s, iov, k);
        pthread_mutex_lock(&s->mu);
        if (s->tcp) {
            s->unconfirmed += gone;
            if (s->fd < 0) /* the write failed: the connection is gone, and with it these */
                tcp_lost_unconfirmed(s);
        }
        if (gone == 0 && ++s->attempts >= TCP_MAX_ATTEMPTS) {
            counter_add(&s->lost, 1); /* this one fails on every connection: give it up */
            gone = 1;
        }
        if (gone > 0)
            pop_records(s, gone);
    }
    /* Stopped with records left (past the drain deadline): they are lost. */
    if (s->count == 0)
        tcp_confirm(s);
    counter_add(&s->lost, s->count);
    s->count = 0;
    pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->mu);
    netio_close(&s->fd);
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
        } else if (sv_eq_ci(key, "qos") && (sv_eq_ci(val, "on") || sv_eq_ci(val, "off"))) {
            s->no_qos = sv_eq_ci(val, "off");
        } else {
            snprintf(err, errlen, "%s: unknown option \"%.*s\" (transport=udp|tcp, qos=on|off)",
                     spec, SV_ARG(opt));
            return -EINVAL;
        }
    }
    char host[256], port[8];
    if (!netio_split_hostport(hostport, host, sizeof(host), port, sizeof(port))) {
        snprintf(err, errlen, "%s: expected HOST:PORT[,transport=udp|tcp][,qos=on|off]", spec);
        return -EINVAL;
    }
    return netio_resolve(host, port, s->tcp ? SOCK_STREAM : SOCK_DGRAM, false, &s->addr,
                         &s->addrlen, err, errlen);
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
    s->key = netio_dup_key(auth_key, &s->key_len);
    if (s->key_len > 0 && s->key == NULL)
        goto nomem;
    s->max_count = queue_len ? queue_len : 8192;
    /* Bytes: 1.5 KB per message on average (a SIP message with SDP, plus 100 bytes of HEP),
     * and at least room for a few maximum-size packets. */
    size_t cap =
        s->max_count > ((size_t)256 << 20) / 1536 ? (size_t)256 << 20 : s->max_count * 1536;
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
    netio_close(&s->fd);
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
    while ((s->count > 0 || s->unconfirmed > 0) && rc == 0)
        rc = pthread_cond_timedwait(&s->idle, &s->mu, &until);
    bool empty = s->count == 0;
    pthread_mutex_unlock(&s->mu);
    return empty ? 0 : -ETIMEDOUT;
}

void hep_sender_stats(hep_sender_t *s, hep_sender_stats_t *out)
{
    pthread_mutex_lock(&s->mu);
    out->queue_now = s->count;
    out->queued = counter_get(&s->queued);
    out->sent = counter_get(&s->sent);
    out->lost = counter_get(&s->lost);
    pthread_mutex_unlock(&s->mu);
    out->dropped = counter_get(&s->dropped);
    out->rejected = counter_get(&s->rejected);
    out->send_errors = counter_get(&s->send_errors);
    out->connects = counter_get(&s->connects);
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
    netio_close(&s->fd);
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
