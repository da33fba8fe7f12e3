/* check_hep_io: HEP sender and receiver on loopback: UDP and TCP delivery, auth keys, garbage,
 * stream reassembly, connection limits, reconnects and a full queue that drops. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hep.h"
#include "hep_in.h"
#include "hep_out.h"
#include "hep_qos.h"
#include "skip.h"

/* ---- what the receiver hands over, collected ---- */

#define MAX_GOT 4096

typedef struct {
    uint32_t agent_id;
    uint8_t proto_type, ip_proto;
    net_endpoint_t src, dst, peer;
    uint32_t ts_sec, ts_usec;
    char payload[1024]; /* a quality report fits */
    size_t payload_len;
    char corr[64];
    uint32_t sum; /* FNV-1a of the whole payload */
} got_t;

static uint32_t fnv1a(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

typedef struct {
    pthread_mutex_t mu;
    got_t *got;
    size_t n;
    unsigned idle_calls;
    atomic_bool gated; /* while set, the callback holds the receiver thread (backpressure) */
} sink_t;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static void on_packet(void *ctx, const hep_msg_t *m, const net_endpoint_t *peer)
{
    sink_t *s = ctx;
    while (atomic_load(&s->gated))
        sleep_ms(1);
    pthread_mutex_lock(&s->mu);
    if (s->n < MAX_GOT) {
        got_t *g = &s->got[s->n++];
        g->agent_id = m->agent_id;
        g->proto_type = m->proto_type;
        g->ip_proto = m->ip_proto;
        g->src = m->src;
        g->dst = m->dst;
        g->peer = *peer;
        g->ts_sec = m->ts_sec;
        g->ts_usec = m->ts_usec;
        g->payload_len = m->payload_len;
        memcpy(g->payload, m->payload,
               m->payload_len < sizeof(g->payload) ? m->payload_len : sizeof(g->payload));
        sv_copy(m->correlation_id, g->corr, sizeof(g->corr));
        g->sum = fnv1a(m->payload, m->payload_len);
    }
    pthread_mutex_unlock(&s->mu);
}

static void on_idle(void *ctx, int64_t now_ns)
{
    sink_t *s = ctx;
    (void)now_ns;
    pthread_mutex_lock(&s->mu);
    s->idle_calls++;
    pthread_mutex_unlock(&s->mu);
}

static sink_t *sink_new(void)
{
    sink_t *s = calloc(1, sizeof(*s));
    s->got = calloc(MAX_GOT, sizeof(got_t));
    pthread_mutex_init(&s->mu, NULL);
    return s;
}

static void sink_free(sink_t *s)
{
    pthread_mutex_destroy(&s->mu);
    free(s->got);
    free(s);
}

static size_t sink_count(sink_t *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->n;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* Poll until the sink holds n packets or timeout_ms passes. */
static bool wait_count(sink_t *s, size_t n, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 10) {
        if (sink_count(s) >= n)
            return true;
        sleep_ms(10);
    }
    return sink_count(s) >= n;
}

/* Poll until the receiver counter at offset (a uint64_t in hep_receiver_stats_t) reaches n. */
static bool wait_stat(hep_receiver_t *r, size_t offset, uint64_t n, int timeout_ms)
{
    for (int waited = 0;; waited += 10) {
        hep_receiver_stats_t st;
        hep_receiver_stats(r, &st);
        uint64_t v;
        memcpy(&v, (const char *)&st + offset, sizeof(v));
        if (v >= n)
            return true;
        if (waited >= timeout_ms)
            return false;
        sleep_ms(10);
    }
}
#define WAIT_STAT(r, field, n) wait_stat((r), offsetof(hep_receiver_stats_t, field), (n), 5000)

static hep_receiver_t *start_receiver(sink_t *s, const char *key, size_t max_conns)
{
    hep_receiver_cfg_t cfg;
    hep_receiver_cfg_init(&cfg);
    cfg.auth_key = key;
    cfg.on_idle = on_idle;
    if (max_conns)
        cfg.max_connections = max_conns;
    char err[256] = "";
    hep_receiver_t *r = hep_receiver_new("127.0.0.1:0", on_packet, s, &cfg, err, sizeof(err));
    ck_assert_msg(r != NULL, "receiver: %s", err);
    ck_assert_uint_ne(hep_receiver_port(r), 0);
    return r;
}

static hep_sender_t *start_sender(uint16_t port, const char *transport, uint32_t agent,
                                  const char *key, size_t queue)
{
    char spec[64], err[256] = "";
    snprintf(spec, sizeof(spec), "127.0.0.1:%u,transport=%s", port, transport);
    hep_sender_t *s = hep_sender_new(spec, agent, key, queue, err, sizeof(err));
    ck_assert_msg(s != NULL, "sender %s: %s", spec, err);
    return s;
}

/* A collector on a loopback port the kernel picks, and what it hands over. */
typedef struct {
    sink_t *sink;
    hep_receiver_t *r;
    uint16_t port;
} rig_t;

static rig_t rig_start(const char *key, size_t max_conns)
{
    rig_t rig = {.sink = sink_new()};
    rig.r = start_receiver(rig.sink, key, max_conns);
    rig.port = hep_receiver_port(rig.r);
    return rig;
}

static void rig_stop(rig_t *rig)
{
    hep_receiver_free(rig->r);
    sink_free(rig->sink);
}

static hep_receiver_stats_t receiver_stats(hep_receiver_t *r)
{
    hep_receiver_stats_t st;
    hep_receiver_stats(r, &st);
    return st;
}

static hep_sender_stats_t sender_stats(hep_sender_t *s)
{
    hep_sender_stats_t st;
    hep_sender_stats(s, &st);
    return st;
}

/* A loopback TCP port that is bound but not listening (connections to it are refused), held
 * by *hold until the caller closes it. */
static uint16_t refusing_port(int *hold)
{
    *hold = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(*hold, (struct sockaddr *)&sa, sizeof(sa)), 0);
    socklen_t sl = sizeof(sa);
    getsockname(*hold, (struct sockaddr *)&sa, &sl);
    return ntohs(sa.sin_port);
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void endpoints(net_endpoint_t *a, net_endpoint_t *b, int family)
{
    memset(a, 0, sizeof(*a));
    memset(b, 0, sizeof(*b));
    if (family == 4) {
        net_addr_v4(&a->addr, (const uint8_t[]){10, 1, 2, 3});
        net_addr_v4(&b->addr, (const uint8_t[]){10, 4, 5, 6});
    } else {
        net_addr_v6(&a->addr, (const uint8_t[16]){0x20, 0x01, 0x0d, 0xb8, [15] = 3});
        net_addr_v6(&b->addr, (const uint8_t[16]){0x20, 0x01, 0x0d, 0xb8, [15] = 6});
    }
    a->port = 5060;
    b->port = 5061;
}

/* Message i: a SIP OPTIONS whose Call-ID and body name i. */
static size_t make_sip(char *buf, size_t cap, unsigned i)
{
    int n = snprintf(buf, cap,
                     "OPTIONS sip:x@y SIP/2.0\r\nCall-ID: call-%u@test\r\nCSeq: %u OPTIONS\r\n"
                     "Content-Length: 0\r\n\r\n",
                     i, i);
    ck_assert(n > 0 && (size_t)n < cap);
    return (size_t)n;
}

/* Hand message i (make_sip) to the sender, from a to b over UDP, captured at ts; its result. */
static int send_sip_no(hep_sender_t *s, const net_endpoint_t *a, const net_endpoint_t *b,
                       unsigned i, int64_t ts)
{
    char buf[256];
    size_t len = make_sip(buf, sizeof(buf), i);
    return hep_sender_send_sip(s, a, b, 17, ts, (const uint8_t *)buf, len, SV_NULL);
}

/* Send n SIP messages (and every 10th an RTCP one), then check they all arrived intact. */
static void send_and_check(const char *transport, unsigned n, bool check_order)
{
    rig_t rig = rig_start(NULL, 0);
    sink_t *sink = rig.sink;
    hep_sender_t *s = start_sender(rig.port, transport, 4242, NULL, 0);
    net_endpoint_t a, b;
    char buf[256], corr[64];
    unsigned rtcp = 0;
    for (unsigned i = 0; i < n; i++) {
        endpoints(&a, &b, i % 2 ? 6 : 4);
        size_t len = make_sip(buf, sizeof(buf), i);
        snprintf(corr, sizeof(corr), "call-%u@test", i);
        int64_t ts = 1700000000000000000LL + (int64_t)i * 1000;
        ck_assert_int_eq(
            hep_sender_send_sip(s, &a, &b, 17, ts, (const uint8_t *)buf, len, sv_from_cstr(corr)),
            0);
        if (i % 10 == 0) {
            static const uint8_t rr[] = {0x80, 0xc9, 0x00, 0x01, 0, 0, 0, 1};
            ck_assert_int_eq(hep_sender_send_rtcp(s, &b, &a, 17, ts, rr, sizeof(rr), SV_NULL), 0);
            rtcp++;
        }
    }
    ck_assert_int_eq(hep_sender_flush(s, 10000), 0);
    ck_assert_msg(wait_count(sink, n + rtcp, 10000), "%s: %zu of %u arrived", transport,
                  sink_count(sink), n + rtcp);

    hep_sender_stats_t ss = sender_stats(s);
    ck_assert_uint_eq(ss.queued, n + rtcp);
    ck_assert_uint_eq(ss.sent, n + rtcp);
    ck_assert_uint_eq(ss.dropped + ss.lost + ss.rejected + ss.queue_now, 0);
    hep_sender_free(s);

    /* Every SIP message exactly once, intact, with its addresses, time and agent id. */
    unsigned char *seen = calloc(n, 1);
    unsigned sip = 0, next = 0;
    for (size_t k = 0; k < sink->n; k++) {
        const got_t *g = &sink->got[k];
        ck_assert_uint_eq(g->agent_id, 4242);
        ck_assert_uint_eq(g->ip_proto, 17);
        ck_assert(g->peer.addr.family == 4 && g->peer.addr.bytes[0] == 127);
        if (g->proto_type == HEP_PROTO_RTCP) {
            ck_assert_uint_eq(g->payload_len, 8);
            continue;
        }
        ck_assert_uint_eq(g->proto_type, HEP_PROTO_SIP);
        unsigned i;
        ck_assert_int_eq(sscanf(g->corr, "call-%u@test", &i), 1);
        ck_assert_uint_lt(i, n);
        ck_assert_msg(!seen[i], "message %u twice", i);
        seen[i] = 1;
        if (check_order)
            ck_assert_uint_eq(i, next++);
        size_t len = make_sip(buf, sizeof(buf), i);
        ck_assert_uint_eq(g->payload_len, len);
        ck_assert_mem_eq(g->payload, buf, len);
        endpoints(&a, &b, i % 2 ? 6 : 4);
        ck_assert(net_endpoint_eq(&g->src, &a));
        ck_assert(net_endpoint_eq(&g->dst, &b));
        ck_assert_uint_eq(g->ts_sec, 1700000000u);
        ck_assert_uint_eq(g->ts_usec, i);
        sip++;
    }
    ck_assert_uint_eq(sip, n);
    hep_receiver_stats_t rs = receiver_stats(rig.r);
    ck_assert_uint_eq(rs.packets, n + rtcp);
    ck_assert_uint_eq(rs.malformed + rs.unauthorised, 0);
    free(seen);
    rig_stop(&rig);
}

START_TEST(test_udp_delivery)
{
    send_and_check("udp", 1000, false);
}
END_TEST

START_TEST(test_tcp_delivery)
{
    send_and_check("tcp", 3000, true);
}
END_TEST

/* A key on the receiver: a wrong or missing key is counted and dropped, the right one passes. */
START_TEST(test_auth_key)
{
    rig_t rig = rig_start("s3cret", 0);
    hep_sender_t *wrong = start_sender(rig.port, "udp", 1, "s3crex", 0);
    hep_sender_t *none = start_sender(rig.port, "tcp", 2, NULL, 0);
    hep_sender_t *right = start_sender(rig.port, "udp", 3, "s3cret", 0);
    net_endpoint_t a, b;
    endpoints(&a, &b, 4);
    for (int i = 0; i < 20; i++) {
        send_sip_no(wrong, &a, &b, 1, 0);
        send_sip_no(none, &a, &b, 1, 0);
    }
    send_sip_no(right, &a, &b, 1, 0);
    ck_assert(WAIT_STAT(rig.r, unauthorised, 40));
    ck_assert(wait_count(rig.sink, 1, 5000));
    sleep_ms(50);
    ck_assert_uint_eq(sink_count(rig.sink), 1);
    ck_assert_uint_eq(rig.sink->got[0].agent_id, 3);
    hep_receiver_stats_t rs = receiver_stats(rig.r);
    ck_assert_uint_eq(rs.unauthorised, 40);
    ck_assert_uint_eq(rs.packets, 1);
    ck_assert_uint_eq(rs.malformed, 0);
    hep_sender_free(wrong);
    hep_sender_free(none);
    hep_sender_free(right);
    rig_stop(&rig);
}
END_TEST

static int udp_to(uint16_t port, const void *data, size_t len)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ssize_t n = sendto(fd, data, len, 0, (struct sockaddr *)&sa, sizeof(sa));
    close(fd);
    return n == (ssize_t)len ? 0 : -1;
}

static int tcp_to(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static size_t encode_one(uint8_t *buf, size_t cap, unsigned i, const char *key)
{
    static char sip[256];
    net_endpoint_t a, b;
    endpoints(&a, &b, 4);
    hep_msg_t m = {.src = a,
                   .dst = b,
                   .ip_proto = 17,
                   .ts_sec = 1,
                   .proto_type = 1,
                   .agent_id = 9,
                   .auth_key = key ? sv_from_cstr(key) : SV_NULL};
    m.payload_len = make_sip(sip, sizeof(sip), i);
    m.payload = (const uint8_t *)sip;
    int n = hep_encode(&m, buf, cap);
    ck_assert_int_gt(n, 0);
    return (size_t)n;
}

/* Garbage datagrams are counted as malformed and never reach the callback; good packets around
 * them still do, including two back to back in one datagram. */
START_TEST(test_udp_garbage)
{
    rig_t rig = rig_start(NULL, 0);
    uint16_t port = rig.port;
    uint8_t pkt[512], two[1024];
    size_t n = encode_one(pkt, sizeof(pkt), 1, NULL);
    ck_assert_int_eq(udp_to(port, "hello", 5), 0);        /* not HEP */
    ck_assert_int_eq(udp_to(port, "HEP3\x00\x02", 6), 0); /* total length 2 */
    ck_assert_int_eq(udp_to(port, pkt, n - 1), 0);        /* truncated */
    ck_assert_int_eq(udp_to(port, "", 0), 0);             /* empty */
    memcpy(two, pkt, n);
    memcpy(two + n, pkt, n);
    ck_assert_int_eq(udp_to(port, two, 2 * n), 0); /* two packets: both count */
    memcpy(two + n, "junk", 4);
    ck_assert_int_eq(udp_to(port, two, n + 4), 0); /* one packet + junk */
    uint8_t bad[512];
    memcpy(bad, pkt, n);
    bad[11] = 9; /* chunk 1 (family) of 3 bytes */
    ck_assert_int_eq(udp_to(port, bad, n), 0);
    ck_assert(WAIT_STAT(rig.r, udp_datagrams, 7));
    ck_assert(wait_count(rig.sink, 3, 5000));
    hep_receiver_stats_t rs = receiver_stats(rig.r);
    ck_assert_uint_eq(rs.malformed, 6);
    ck_assert_uint_eq(rs.packets, 3);
    rig_stop(&rig);
}
END_TEST

/* A TCP stream cut anywhere: packets written in pieces of 1, 7, 13 ... bytes all arrive. */
START_TEST(test_tcp_reassembly)
{
    rig_t rig = rig_start(NULL, 0);
    uint8_t stream[8192];
    size_t len = 0;
    for (unsigned i = 0; i < 20; i++)
        len += encode_one(stream + len, sizeof(stream) - len, i, NULL);
    int fd = tcp_to(rig.port);
    size_t off = 0, piece = 1;
    while (off < len) {
        size_t k = piece < len - off ? piece : len - off;
        ck_assert_int_eq(write(fd, stream + off, k), (ssize_t)k);
        off += k;
        piece = piece * 3 % 61 + 1;
        sleep_ms(1);
    }
    ck_assert(wait_count(rig.sink, 20, 5000));
    for (unsigned i = 0; i < 20; i++) {
        char want[256];
        size_t wl = make_sip(want, sizeof(want), i);
        ck_assert_uint_eq(rig.sink->got[i].payload_len, wl);
        ck_assert_mem_eq(rig.sink->got[i].payload, want, wl);
    }
    /* Then garbage on the same stream: counted, connection closed. */
    ck_assert_int_eq(write(fd, "GET / HTTP/1.1\r\n\r\n", 18), 18);
    ck_assert(WAIT_STAT(rig.r, tcp_bad_framing, 1));
    char c;
    ck_assert_int_le(read(fd, &c, 1), 0); /* closed by the receiver */
    close(fd);
    hep_receiver_stats_t rs = receiver_stats(rig.r);
    ck_assert_uint_eq(rs.malformed, 1);
    ck_assert_uint_eq(rs.packets, 20);
    rig_stop(&rig);
}
END_TEST

/* A well-framed packet with bad chunks is skipped; the stream goes on. A connection that ends
 * inside a packet counts that packet as malformed. */
START_TEST(test_tcp_bad_packet_skipped)
{
    rig_t rig = rig_start(NULL, 0);
    uint8_t stream[2048];
    size_t a = encode_one(stream, sizeof(stream), 1, NULL);
    size_t b = encode_one(stream + a, sizeof(stream) - a, 2, NULL);
    stream[a + 11] = 0xff; /* second packet: chunk 1 claims 255 bytes, past the packet's end */
    size_t c = encode_one(stream + a + b, sizeof(stream) - a - b, 3, NULL);
    int fd = tcp_to(rig.port);
    ck_assert_int_eq(write(fd, stream, a + b + c), (ssize_t)(a + b + c));
    ck_assert_int_eq(write(fd, stream, 10), 10); /* a fourth packet, cut short */
    ck_assert(wait_count(rig.sink, 2, 5000));
    close(fd);
    ck_assert(WAIT_STAT(rig.r, tcp_closed, 1));
    hep_receiver_stats_t rs = receiver_stats(rig.r);
    ck_assert_uint_eq(rs.packets, 2);
    ck_assert_uint_eq(rs.malformed, 2);
    ck_assert_uint_eq(rs.tcp_bad_framing, 0);
    rig_stop(&rig);
}
END_TEST

START_TEST(test_tcp_connection_limit)
{
    rig_t rig = rig_start(NULL, 2);
    int fds[4];
    for (int i = 0; i < 4; i++)
        fds[i] = tcp_to(rig.port);
    ck_assert(WAIT_STAT(rig.r, tcp_refused, 2));
    hep_receiver_stats_t rs = receiver_stats(rig.r);
    ck_assert_uint_eq(rs.tcp_accepted, 2);
    ck_assert_uint_eq(rs.tcp_refused, 2);
    /* The two taken still work. */
    uint8_t pkt[512];
    size_t n = encode_one(pkt, sizeof(pkt), 5, NULL);
    ck_assert_int_eq(write(fds[0], pkt, n), (ssize_t)n);
    ck_assert_int_eq(write(fds[1], pkt, n), (ssize_t)n);
    ck_assert(wait_count(rig.sink, 2, 5000));
    for (int i = 0; i < 4; i++)
        close(fds[i]);
    rig_stop(&rig);
}
END_TEST

/* Send n SIP messages from one TCP sender, wait for them; returns the sender's counters. */
static hep_sender_stats_t deliver_tcp(uint16_t port, unsigned n, int flush_ms)
{
    hep_sender_t *s = start_sender(port, "tcp", 9, NULL, 0);
    net_endpoint_t a, b;
    endpoints(&a, &b, 4);
    for (unsigned i = 0; i < n; i++)
        ck_assert_int_eq(send_sip_no(s, &a, &b, i, 1700000000000000000LL + i), 0);
    (void)hep_sender_flush(s, flush_ms);
    hep_sender_stats_t st = sender_stats(s);
    hep_sender_free(s);
    return st;
}

/* Raise this process's descriptor limit to hold n sockets; false when it cannot. */
static bool fds_for(size_t n)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return false;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < n + 64) {
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < n + 64)
            return false;
        rl.rlim_cur = n + 64;
        return setrlimit(RLIMIT_NOFILE, &rl) == 0;
    }
    return true;
}

enum { IDLE = 1000 }; /* idle TCP connections the big-table tests hold open */

/* Whether this process may hold the IDLE connections; if not, the test is counted as skipped
 * and should return. */
static bool can_hold_idle(const char *test)
{
    if (fds_for(IDLE + 16))
        return true;
    char why[128];
    snprintf(why, sizeof(why), "%s: the descriptor limit cannot reach 1,000 sockets", test);
    test_skip(why);
    return false;
}

static int *open_connections(uint16_t port, int n)
{
    int *fds = malloc((size_t)n * sizeof(*fds));
    for (int i = 0; i < n; i++)
        fds[i] = tcp_to(port);
    return fds;
}

static void close_connections(int *fds, int n)
{
    for (int i = 0; i < n; i++)
        close(fds[i]);
    free(fds);
}

/* 1,000 idle TCP connections held open while a probe delivers: the default table takes them all
 * and the probe too, nothing is lost, and the counters say what is open. */
START_TEST(test_tcp_thousand_idle_default)
{
    if (!can_hold_idle("tcp_thousand_idle_default"))
        return;
    rig_t rig = rig_start(NULL, 0);
    int *fds = open_connections(rig.port, IDLE);
    ck_assert(WAIT_STAT(rig.r, tcp_open, IDLE));
    hep_sender_stats_t st = deliver_tcp(rig.port, 100, 10000);
    ck_assert(wait_count(rig.sink, 100, 10000));
    ck_assert_uint_eq(st.sent, 100);
    ck_assert_uint_eq(st.lost + st.dropped + st.queue_now, 0);
    hep_receiver_stats_t rs = receiver_stats(rig.r);
    ck_assert_uint_eq(rs.tcp_refused, 0);
    ck_assert_uint_eq(rs.tcp_accepted, IDLE + 1);
    ck_assert_uint_ge(rs.tcp_open, IDLE);
    close_connections(fds, IDLE);
    rig_stop(&rig);
}
END_TEST

/* The table full of idle connections (1,000 against a cap of 64, the old default): the one
 * silent longest makes room for the probe, which loses nothing; evictions are counted. */
START_TEST(test_tcp_idle_evicted_for_new)
{
    if (!can_hold_idle("tcp_idle_evicted_for_new"))
        return;
    rig_t rig = rig_start(NULL, 64);
    int *fds = open_connections(rig.port, IDLE);
    ck_assert(WAIT_STAT(rig.r, tcp_refused, IDLE - 64)); /* all fresh: none may be pushed out */
    sleep_ms(2100);                                      /* now the 64 are idle */
    hep_sender_stats_t st = deliver_tcp(rig.port, 10, 10000);
    ck_assert_msg(wait_count(rig.sink, 10, 10000), "%zu of 10 arrived", sink_count(rig.sink));
    ck_assert_uint_eq(st.sent, 10);
    ck_assert_uint_eq(st.lost + st.dropped + st.queue_now, 0);
    hep_receiver_stats_t rs = receiver_stats(rig.r);
    ck_assert_uint_ge(rs.tcp_evicted, 1);
    ck_assert_uint_eq(rs.tcp_refused, IDLE - 64);
    close_connections(fds, IDLE);
    rig_stop(&rig);
}
END_TEST

/* The collector closes an idle probe's connection (idle timeout): the probe's next messages go
 * on a new connection, none lost. */
START_TEST(test_tcp_idle_timeout_reconnects)
{
    sink_t *sink = sink_new();
    hep_receiver_cfg_t cfg;
    hep_receiver_cfg_init(&cfg);
    cfg.idle_timeout_ms = 300;
    char err[256] = "";
    hep_receiver_t *r = hep_receiver_new("127.0.0.1:0", on_packet, sink, &cfg, err, sizeof(err));
    ck_assert_msg(r != NULL, "%s", err);
    hep_sender_t *s = start_sender(hep_receiver_port(r), "tcp", 9, NULL, 0);
    net_endpoint_t a, b;
    endpoints(&a, &b, 4);
    for (unsigned round = 0; round < 2; round++) {
        for (unsigned i = 0; i < 5; i++)
            ck_assert_int_eq(send_sip_no(s, &a, &b, round * 5 + i, 1700000000000000000LL), 0);
        ck_assert_int_eq(hep_sender_flush(s, 5000), 0);
        ck_assert(wait_count(sink, (round + 1) * 5, 5000));
        if (round == 0)
            ck_assert(WAIT_STAT(r, tcp_idle_closed, 1));
    }
    hep_sender_stats_t st = sender_stats(s);
    ck_assert_uint_eq(st.sent, 10);
    ck_assert_uint_eq(st.lost, 0);
    ck_assert_uint_eq(st.connects, 2);
    hep_sender_free(s);
    hep_receiver_free(r);
    sink_free(sink);
}
END_TEST

/* A collector whose table is full of busy connections refuses the probe: the probe reports its
 * messages as lost (not "sent"), and the collector counts the refusal. */
START_TEST(test_tcp_refused_reported_lost)
{
    rig_t rig = rig_start(NULL, 1);
    int busy = tcp_to(rig.port);
    ck_assert(WAIT_STAT(rig.r, tcp_accepted, 1));
    hep_sender_stats_t st = deliver_tcp(rig.port, 10, 1500);
    ck_assert_uint_eq(st.queued, 10);
    ck_assert_uint_eq(st.sent, 0);
    ck_assert_uint_eq(st.lost + st.queue_now, 10); /* queue_now is lost at free */
    hep_receiver_stats_t rs = receiver_stats(rig.r);
    ck_assert_uint_ge(rs.tcp_refused, 1);
    ck_assert_uint_eq(rs.packets, 0);
    close(busy);
    rig_stop(&rig);
}
END_TEST

/* Nobody listens: the TCP sender keeps its queue while it retries, the queue fills, and every
 * further send returns at once with -ENOBUFS, counted as dropped. */
START_TEST(test_full_queue_drops)
{
    int hold;
    hep_sender_t *s = start_sender(refusing_port(&hold), "tcp", 1, NULL, 16);
    net_endpoint_t a, b;
    endpoints(&a, &b, 4);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int ok = 0, full = 0;
    for (int i = 0; i < 10000; i++) {
        int rc = send_sip_no(s, &a, &b, 1, 0);
        if (rc == 0)
            ok++;
        else if (rc == -ENOBUFS)
            full++;
    }
    double ms = ms_since(&t0);
    ck_assert_int_eq(ok, 16);
    ck_assert_int_eq(full, 10000 - 16);
    ck_assert_msg(ms < 2000, "10000 sends took %.1f ms", ms); /* generous under sanitizers */
    ck_assert_int_eq(hep_sender_flush(s, 100), -ETIMEDOUT);
    hep_sender_stats_t st = sender_stats(s);
    ck_assert_uint_eq(st.queued, 16);
    ck_assert_uint_eq(st.dropped, 10000 - 16);
    ck_assert_uint_eq(st.queue_now, 16);
    ck_assert_uint_eq(st.sent, 0);
    ck_assert_uint_ge(st.send_errors, 1);
    ck_assert_uint_eq(st.connects, 0);
    hep_sender_free(s); /* gives up after its drain time; the 16 are lost */
    close(hold);
}
END_TEST

static void *open_gate_later(void *arg)
{
    sink_t *sink = arg;
    sleep_ms(300);
    atomic_store(&sink->gated, false);
    return NULL;
}

/* Blocking mode (for replays): a stalled collector makes sends wait instead of dropping, and
 * everything arrives; with nobody there at all they give up after the timeout. */
START_TEST(test_blocking_mode)
{
    rig_t rig = rig_start(NULL, 0);
    atomic_store(&rig.sink->gated, true);
    hep_sender_t *s = start_sender(rig.port, "tcp", 1, NULL, 64);
    hep_sender_set_block(s, 5000);
    net_endpoint_t a, b;
    endpoints(&a, &b, 4);
    enum { N = 3000 };
    static uint8_t payload[8000];
    memset(payload, 'x', sizeof(payload));
    struct timespec t0;
    pthread_t opener;
    pthread_create(&opener, NULL, open_gate_later, rig.sink);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned i = 0; i < N; i++)
        ck_assert_int_eq(hep_sender_send_sip(s, &a, &b, 17, i, payload, sizeof(payload), SV_NULL),
                         0);
    double waited = ms_since(&t0);
    pthread_join(opener, NULL);
    /* 24 MB cannot all fit in the socket buffers and the ring: the loop waited for the gate. */
    ck_assert_msg(waited >= 250, "sends returned after %.0f ms, before the collector resumed",
                  waited);
    ck_assert_int_eq(hep_sender_flush(s, 20000), 0);
    ck_assert(wait_count(rig.sink, N, 20000));
    hep_sender_stats_t st = sender_stats(s);
    ck_assert_uint_eq(st.dropped, 0);
    ck_assert_uint_eq(st.sent, N);
    hep_sender_free(s);
    rig_stop(&rig);

    /* Nobody listening: each send past the full queue waits 50 ms, then drops. */
    int hold;
    s = start_sender(refusing_port(&hold), "tcp", 1, NULL, 4);
    hep_sender_set_block(s, 50);
    int dropped = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 8; i++)
        dropped += hep_sender_send_sip(s, &a, &b, 17, 0, payload, 100, SV_NULL) == -ENOBUFS;
    double ms = ms_since(&t0);
    ck_assert_int_eq(dropped, 4);
    ck_assert_msg(ms >= 190 && ms < 3000, "4 waits of 50 ms took %.0f ms", ms);
    hep_sender_free(s);
    close(hold);
}
END_TEST

/* Oversized messages are refused, not queued. */
START_TEST(test_too_big_rejected)
{
    rig_t rig = rig_start(NULL, 0);
    hep_sender_t *s = start_sender(rig.port, "udp", 1, NULL, 0);
    net_endpoint_t a, b;
    endpoints(&a, &b, 6);
    uint8_t *big = calloc(1, 70000);
    ck_assert_int_eq(hep_sender_send_sip(s, &a, &b, 6, 0, big, 70000, SV_NULL), -EMSGSIZE);
    net_endpoint_t mixed = b;
    net_addr_v4(&mixed.addr, (const uint8_t[]){1, 2, 3, 4});
    ck_assert_int_eq(hep_sender_send_sip(s, &a, &mixed, 6, 0, big, 10, SV_NULL), -EINVAL);
    /* The largest UDP datagram that fits a HEP packet still goes through. */
    ck_assert_int_eq(hep_sender_send_sip(s, &a, &b, 6, 0, big, 60000, SV_NULL), 0);
    ck_assert_int_eq(hep_sender_flush(s, 5000), 0);
    ck_assert(wait_count(rig.sink, 1, 5000));
    ck_assert_uint_eq(rig.sink->got[0].payload_len, 60000);
    hep_sender_stats_t st = sender_stats(s);
    ck_assert_uint_eq(st.rejected, 2);
    ck_assert_uint_eq(st.sent, 1);
    free(big);
    hep_sender_free(s);
    rig_stop(&rig);
}
END_TEST

/* The collector stalls (its callback holds the receiver thread), so TCP backs up and the
 * smallest byte ring (256 KB; 170 x 1.5 KB is less) fills; then it resumes. Records of 100 ..
 * 16000 bytes, 16 MB in all, more than the socket buffers hold: the ring wraps many times with
 * records in flight, and every one arrives whole and in order. */
START_TEST(test_ring_wraps)
{
    rig_t rig = rig_start(NULL, 0);
    sink_t *sink = rig.sink;
    atomic_store(&sink->gated, true);
    hep_sender_t *s = start_sender(rig.port, "tcp", 1, NULL, 170);
    net_endpoint_t a, b;
    endpoints(&a, &b, 4);
    enum { N = 2000 };
    static uint8_t payload[16000];
    uint32_t *sums = calloc(N, sizeof(*sums));
    size_t *lens = calloc(N, sizeof(*lens));
    unsigned full = 0;
    for (unsigned i = 0; i < N; i++) {
        lens[i] = 100 + (i * 7919u) % 15900;
        for (size_t k = 0; k < lens[i]; k++)
            payload[k] = (uint8_t)(i * 31 + k);
        sums[i] = fnv1a(payload, lens[i]);
        int rc;
        for (int tries = 0;
             (rc = hep_sender_send_sip(s, &a, &b, 17, i, payload, lens[i], SV_NULL)) == -ENOBUFS &&
             tries < 5000;
             tries++) {
            full++;
            atomic_store(&sink->gated, false); /* full: let the collector go on */
            sleep_ms(1);
        }
        ck_assert_int_eq(rc, 0);
    }
    atomic_store(&sink->gated, false);
    ck_assert_int_eq(hep_sender_flush(s, 20000), 0);
    ck_assert(wait_count(sink, N, 20000));
    for (unsigned i = 0; i < N; i++) {
        ck_assert_uint_eq(sink->got[i].payload_len, lens[i]);
        ck_assert_uint_eq(sink->got[i].sum, sums[i]);
    }
    ck_assert_uint_gt(full, 0);
    hep_sender_stats_t st = sender_stats(s);
    ck_assert_uint_eq(st.sent, N);
    ck_assert_uint_eq(st.lost, 0);
    hep_sender_free(s);
    rig_stop(&rig);
    free(sums);
    free(lens);
}
END_TEST

/* The collector goes away and comes back on the same port: the sender reconnects. */
START_TEST(test_tcp_reconnect)
{
    sink_t *sink = sink_new();
    hep_receiver_t *r = start_receiver(sink, NULL, 0);
    uint16_t port = hep_receiver_port(r);
    hep_sender_t *s = start_sender(port, "tcp", 77, NULL, 0);
    net_endpoint_t a, b;
    endpoints(&a, &b, 4);
    for (unsigned i = 0; i < 10; i++)
        send_sip_no(s, &a, &b, i, 0);
    ck_assert(wait_count(sink, 10, 5000));
    hep_receiver_free(r);

    /* While it is down, sends notice the broken connection (some may go into the void). */
    for (unsigned i = 10; i < 15; i++) {
        send_sip_no(s, &a, &b, i, 0);
        sleep_ms(20);
    }
    sink_t *sink2 = sink_new();
    hep_receiver_cfg_t cfg;
    hep_receiver_cfg_init(&cfg);
    char spec[32], err[256] = "";
    snprintf(spec, sizeof(spec), "127.0.0.1:%u", port);
    hep_receiver_t *r2 = NULL;
    for (int tries = 0; r2 == NULL && tries < 50; tries++) {
        r2 = hep_receiver_new(spec, on_packet, sink2, &cfg, err, sizeof(err));
        if (r2 == NULL)
            sleep_ms(20);
    }
    ck_assert_msg(r2 != NULL, "rebind %s: %s", spec, err);
    for (unsigned i = 100; i < 110; i++)
        send_sip_no(s, &a, &b, i, 0);
    ck_assert_int_eq(hep_sender_flush(s, 10000), 0);
    ck_assert(wait_count(sink2, 10, 10000));
    /* The last ten all made it, in order, whatever happened to those sent while it was down. */
    size_t n2 = sink_count(sink2);
    for (unsigned i = 0; i < 10; i++) {
        char buf[256];
        size_t wl = make_sip(buf, sizeof(buf), 100 + i);
        ck_assert_mem_eq(sink2->got[n2 - 10 + i].payload, buf, wl);
        ck_assert_uint_eq(sink2->got[n2 - 10 + i].agent_id, 77);
    }
    hep_sender_stats_t st = sender_stats(s);
    ck_assert_uint_ge(st.connects, 2);
    ck_assert_uint_eq(st.queued, st.sent + st.lost + st.queue_now);
    hep_sender_free(s);
    hep_receiver_free(r2);
    sink_free(sink);
    sink_free(sink2);
}
END_TEST

/* A stream's quality report goes out as HEP type 34 from the stream's source to its
 * destination, stamped with its last packet, Call-ID as correlation id, and decodes to its
 * figures; none for a stream without a call, none at all with qos=off. */
START_TEST(test_qos_reports)
{
    rig_t rig = rig_start(NULL, 0);
    hep_sender_t *s = start_sender(rig.port, "udp", 9, NULL, 0);
    stream_record_t st = {.call_id = "c1@x",
                          .ssrc = 0x1234,
                          .codec = "PCMU",
                          .clock_rate = 8000,
                          .first_ns = 1700000000000000000LL,
                          .last_ns = 1700000009500000000LL,
                          .packets = 470,
                          .lost = 3,
                          .max_delta_ms = 40.5,
                          .mean_jitter_ms = 0.75,
                          .max_jitter_ms = 2.0,
                          .mos = 4.25};
    endpoints(&st.src, &st.dst, 4);
    ck_assert_int_eq(hep_sender_send_qos(s, &st, false), 0);
    st.call_id = NULL;
    ck_assert_int_eq(hep_sender_send_qos(s, &st, true), -EINVAL);
    ck_assert_int_eq(hep_sender_flush(s, 10000), 0);
    ck_assert(wait_count(rig.sink, 1, 10000));
    const got_t *g = &rig.sink->got[0];
    ck_assert_uint_eq(g->proto_type, HEP_PROTO_QOS_REPORT);
    ck_assert_uint_eq(g->agent_id, 9);
    ck_assert_str_eq(g->corr, "c1@x");
    ck_assert(net_endpoint_eq(&g->src, &st.src) && net_endpoint_eq(&g->dst, &st.dst));
    ck_assert_uint_eq(g->ts_sec, 1700000009u);
    ck_assert_uint_eq(g->ts_usec, 500000u);
    hep_qos_t q;
    ck_assert_int_eq(hep_qos_parse((const uint8_t *)g->payload, g->payload_len, &q, NULL), 0);
    ck_assert(!q.final);
    ck_assert_uint_eq(q.packets, 470);
    ck_assert_int_eq(q.lost, 3);
    ck_assert(q.mos == 4.25 && q.max_delta_ms == 40.5 && q.mean_jitter_ms == 0.75);
    hep_sender_free(s);

    char spec[64], err[256] = "";
    snprintf(spec, sizeof(spec), "127.0.0.1:%u,qos=off", rig.port);
    s = hep_sender_new(spec, 9, NULL, 0, err, sizeof(err));
    ck_assert_msg(s != NULL, "%s", err);
    st.call_id = "c1@x";
    ck_assert_int_eq(hep_sender_send_qos(s, &st, true), -ENOTSUP);
    ck_assert_uint_eq(sender_stats(s).queued, 0);
    hep_sender_free(s);
    rig_stop(&rig);
}
END_TEST

START_TEST(test_bad_specs)
{
    char err[256];
    static const char *const bad[] = {"",
                                      "localhost",
                                      "1.2.3.4:",
                                      "1.2.3.4:70000",
                                      "::1:9060",
                                      "[::1]9060",
                                      "1.2.3.4:9060,transport=sctp",
                                      "1.2.3.4:9060,color=red",
                                      "1.2.3.4:9060,qos=maybe"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        ck_assert_msg(hep_sender_new(bad[i], 1, NULL, 0, err, sizeof(err)) == NULL, "%s", bad[i]);
        ck_assert_msg(err[0] != '\0', "no reason for %s", bad[i]);
    }
    ck_assert_ptr_null(hep_receiver_new("127.0.0.1", on_packet, NULL, NULL, err, sizeof(err)));
    ck_assert_ptr_null(hep_receiver_new("192.0.2.1:0", on_packet, NULL, NULL, err, sizeof(err)));
    /* IPv6 with brackets works both ways. */
    sink_t *sink = sink_new();
    hep_receiver_t *r = hep_receiver_new("[::1]:0", on_packet, sink, NULL, err, sizeof(err));
    if (r == NULL) {
        fprintf(stderr, "check_hep_io: no IPv6 loopback (%s), skipping that part\n", err);
        test_skip("test_bad_specs: the [::1] receiver needs an IPv6 loopback");
        sink_free(sink);
        return;
    }
    char spec[64];
    snprintf(spec, sizeof(spec), "[::1]:%u", hep_receiver_port(r));
    hep_sender_t *s = hep_sender_new(spec, 5, NULL, 0, err, sizeof(err));
    ck_assert_msg(s != NULL, "%s", err);
    net_endpoint_t a, b;
    endpoints(&a, &b, 6);
    ck_assert_int_eq(hep_sender_send_sip(s, &a, &b, 17, 0, (const uint8_t *)"x", 1, SV_NULL), 0);
    ck_assert(wait_count(sink, 1, 5000));
    ck_assert_int_eq(sink->got[0].peer.addr.family, 6);
    hep_sender_free(s);
    hep_receiver_free(r);
    sink_free(sink);
}
END_TEST

/* The idle callback runs on its own while nothing arrives. */
START_TEST(test_idle_callback)
{
    rig_t rig = rig_start(NULL, 0);
    sleep_ms(700);
    hep_receiver_free(rig.r);
    ck_assert_uint_ge(rig.sink->idle_calls, 2);
    sink_free(rig.sink);
}
END_TEST

/* hep_in's duplicate filter: the same message from a second probe is a copy (dropped and
 * counted); the same bytes again from the same probe are a SIP retransmission (delivered). */
static void count_view(void *ctx, const packet_view_t *pkt)
{
    (void)pkt;
    atomic_fetch_add((_Atomic int *)ctx, 1);
}

START_TEST(test_hep_in_duplicates_and_retransmissions)
{
    _Atomic int delivered = 0;
    char err[256];
    hep_in_t *in =
        hep_in_new("127.0.0.1:0", count_view, (void *)&delivered, NULL, err, sizeof(err));
    ck_assert_msg(in != NULL, "%s", err);
    uint8_t buf[1024];
    size_t n = encode_one(buf, sizeof(buf), 7, NULL);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(hep_in_port(in))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int probe = socket(AF_INET, SOCK_DGRAM, 0);
    for (int i = 0; i < 2; i++) /* one probe: the message and its retransmission */
        ck_assert_int_eq(sendto(probe, buf, n, 0, (struct sockaddr *)&sa, sizeof(sa)), (ssize_t)n);
    close(probe);
    ck_assert_int_eq(udp_to(hep_in_port(in), buf, n), 0); /* a second probe: a copy */
    hep_in_stats_t st = {0};
    for (int waited = 0; waited < 5000; waited += 10) {
        hep_in_stats(in, &st);
        if (st.sip + st.duplicates >= 3)
            break;
        sleep_ms(10);
    }
    hep_in_free(in);
    ck_assert_uint_eq(st.sip, 2);
    ck_assert_uint_eq(st.duplicates, 1);
    ck_assert_int_eq(atomic_load(&delivered), 2);
}
END_TEST

Suite *hep_io_suite(void)
{
    Suite *s = suite_create("hep_io");
    TCase *tc = tcase_create("loopback");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_udp_delivery);
    tcase_add_test(tc, test_tcp_delivery);
    tcase_add_test(tc, test_auth_key);
    tcase_add_test(tc, test_udp_garbage);
    tcase_add_test(tc, test_tcp_reassembly);
    tcase_add_test(tc, test_tcp_bad_packet_skipped);
    tcase_add_test(tc, test_tcp_connection_limit);
    tcase_add_test(tc, test_tcp_thousand_idle_default);
    tcase_add_test(tc, test_tcp_idle_evicted_for_new);
    tcase_add_test(tc, test_tcp_idle_timeout_reconnects);
    tcase_add_test(tc, test_tcp_refused_reported_lost);
    tcase_add_test(tc, test_full_queue_drops);
    tcase_add_test(tc, test_blocking_mode);
    tcase_add_test(tc, test_too_big_rejected);
    tcase_add_test(tc, test_ring_wraps);
    tcase_add_test(tc, test_tcp_reconnect);
    tcase_add_test(tc, test_bad_specs);
    tcase_add_test(tc, test_qos_reports);
    tcase_add_test(tc, test_idle_callback);
    tcase_add_test(tc, test_hep_in_duplicates_and_retransmissions);
    suite_add_tcase(s, tc);
    return s;
}
