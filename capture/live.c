/* live: libpcap live capture thread feeding a frame ring. */
#include "live.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cap_int.h"
#include "clock.h"

/* The ring holds cap_ring_hdr_t frames (cap_int.h). The capture thread owns head and
 * the consumer owns tail; each side takes the lock to publish its position and to read the
 * other's, once per batch: the consumer works through everything that was complete when it
 * looked (c_end) and hands space back every RELEASE_BYTES, and the capture thread wakes the
 * consumer only when it sleeps. */
struct cap_live {
    pcap_t *pcap;
    int dlt;
    bool nano;
    uint8_t *ring;
    size_t cap;
    size_t head, tail;      /* under lock */
    bool consumer_sleeping; /* under lock */
    size_t c_pos, c_end;    /* consumer only: next frame, end of its snapshot */
    size_t taken_len;       /* consumer only: the frame handed out, 0 if none */
    cap_lookahead_t la;     /* consumer only */
    cap_hint_fn hint;       /* set before the capture thread starts */
    cap_prefetch_fn prefetch;
    void *hint_ctx;
    pthread_mutex_t lock;
    pthread_cond_t not_empty;
    pthread_t thread;
    atomic_bool stop;
    bool thread_done;
    cap_live_stats_t stats;
};

/* Space goes back to the capture thread at least this often while a long batch is worked on. */
#define RELEASE_BYTES ((size_t)256 << 10)

void cap_live_cfg_init(cap_live_cfg_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->snaplen = 262144;
    cfg->kernel_buffer = (size_t)64 << 20;
    cfg->ring_bytes = (size_t)64 << 20;
}

/* Capture thread side: copy one frame in, or count it dropped when the ring is full. The
 * capture never waits for the analysis. */
static void on_frame(u_char *arg, const struct pcap_pkthdr *h, const u_char *bytes)
{
    cap_live_t *live = (cap_live_t *)arg;
    size_t len = CAP_ALIGN8(sizeof(cap_ring_hdr_t) + h->caplen);
    int64_t ts_ns =
        (int64_t)h->ts.tv_sec * 1000000000 + (int64_t)h->ts.tv_usec * (live->nano ? 1 : 1000);
    cap_ring_hdr_t fh;
    memset(&fh, 0, sizeof(fh));
    fh.ts_ns = ts_ns;
    fh.caplen = h->caplen;
    fh.wirelen = h->len;
    fh.dlt = live->dlt;
    cap_ring_peek(live->hint, live->hint_ctx, &fh, bytes);
    pthread_mutex_lock(&live->lock);
    live->stats.received++;
    size_t off = live->head % live->cap, at_end = live->cap - off;
    size_t need = at_end < len ? at_end + len : len;
    if (live->cap - (live->head - live->tail) < need) {
        live->stats.queue_drops++;
        pthread_mutex_unlock(&live->lock);
        return;
    }
    if (at_end < len) {
        if (at_end >= sizeof(cap_ring_hdr_t)) {
            cap_ring_hdr_t mark = cap_ring_wrap_mark(at_end);
            memcpy(live->ring + off, &mark, sizeof(mark));
        }
        live->head += at_end;
        off = 0;
    }
    memcpy(live->ring + off, &fh, sizeof(fh));
    memcpy(live->ring + off + sizeof(fh), bytes, h->caplen);
    live->head += len;
    /* The consumer is woken once per pcap_dispatch batch (capture_main), or here when a huge
     * batch has filled a quarter of the ring. */
    if (live->consumer_sleeping && live->head - live->tail >= live->cap / 4)
        pthread_cond_signal(&live->not_empty);
    pthread_mutex_unlock(&live->lock);
}

/* After a batch of frames: wake the consumer if it sleeps and something came. */
static void wake_consumer(cap_live_t *live)
{
    pthread_mutex_lock(&live->lock);
    if (live->consumer_sleeping && live->head != live->tail)
        pthread_cond_signal(&live->not_empty);
    pthread_mutex_unlock(&live->lock);
}

/* libpcap handles are not thread-safe: the capture thread itself reads the kernel's counters. */
static void refresh_kernel_stats(cap_live_t *live)
{
    struct pcap_stat ps;
    if (pcap_stats(live->pcap, &ps) != 0)
        return;
    pthread_mutex_lock(&live->lock);
    live->stats.kernel_drops = ps.ps_drop;
    live->stats.if_drops = ps.ps_ifdrop;
    pthread_mutex_unlock(&live->lock);
}

static void *capture_main(void *arg)
{
    cap_live_t *live = arg;
    int64_t last_stats_ms = 0;
    while (!atomic_load(&live->stop)) {
        int rc = pcap_dispatch(live->pcap, -1, on_frame, (u_char *)live);
        if (rc > 0)
            wake_consumer(live);
        /* The kernel's counters (a system call) ten times a second, not after every batch. */
        int64_t now_ms = clock_ns(CLOCK_MONOTONIC) / 1000000;
        if (now_ms - last_stats_ms >= 100 || rc < 0) {
            refresh_kernel_stats(live);
            last_stats_ms = now_ms;
        }
        if (rc == PCAP_ERROR) {
            fprintf(stderr, "sipscope: capture: %s\n", pcap_geterr(live->pcap));
            break;
        }
        if (rc == PCAP_ERROR_BREAK)
            break;
    }
    refresh_kernel_stats(live);
    pthread_mutex_lock(&live->lock);
    live->thread_done = true;
    pthread_cond_broadcast(&live->not_empty);
    pthread_mutex_unlock(&live->lock);
    return NULL;
}

static int fail_with(char *err, size_t errlen, const char *what, const char *why, int rc)
{
    snprintf(err, errlen, "%s: %s", what, why);
    return rc;
}

int cap_live_open(const cap_live_cfg_t *cfg, cap_live_t **out, char *err, size_t errlen)
{
    char pcap_err[PCAP_ERRBUF_SIZE] = "";
    int rc = -EIO;
    cap_live_t *live = calloc(1, sizeof(*live));
    if (live == NULL)
        return fail_with(err, errlen, cfg->iface, "out of memory", -ENOMEM);
    live->cap =
        CAP_ALIGN8(cfg->ring_bytes < ((size_t)1 << 20) ? ((size_t)1 << 20) : cfg->ring_bytes);
    if (cfg->hint != NULL && cfg->prefetch != NULL) {
        live->hint = cfg->hint;
        live->prefetch = cfg->prefetch;
        live->hint_ctx = cfg->hint_ctx;
    }
    live->ring = malloc(live->cap);
    cap_lookahead_init(&live->la, 0);
    pthread_mutex_init(&live->lock, NULL);
    pthread_cond_init(&live->not_empty, NULL);
    if (live->ring == NULL) {
        rc = fail_with(err, errlen, cfg->iface, "out of memory", -ENOMEM);
        goto fail;
    }
    live->pcap = pcap_create(cfg->iface, pcap_err);
    if (live->pcap == NULL) {
        rc = fail_with(err, errlen, cfg->iface, pcap_err, -ENODEV);
        goto fail;
    }
    pcap_set_snaplen(live->pcap, cfg->snaplen > 0 ? cfg->snaplen : 262144);
    pcap_set_promisc(live->pcap, 1);
    /* Immediate mode off and a short timeout: libpcap (TPACKET_V3 on Linux) hands over whole
     * blocks, which is what keeps up with a busy mirror port. */
    pcap_set_immediate_mode(live->pcap, 0);
    pcap_set_timeout(live->pcap, 100);
    pcap_set_buffer_size(live->pcap,
                         (int)(cfg->kernel_buffer > INT32_MAX ? INT32_MAX : cfg->kernel_buffer));
    live->nano = pcap_set_tstamp_precision(live->pcap, PCAP_TSTAMP_PRECISION_NANO) == 0;
    int act = pcap_activate(live->pcap);
    if (act < 0) {
        const char *why = act == PCAP_ERROR_PERM_DENIED      ? "permission denied (run as root or "
                                                               "grant CAP_NET_RAW)"
                          : act == PCAP_ERROR_NO_SUCH_DEVICE ? "no such interface"
                                                             : pcap_geterr(live->pcap);
        rc = fail_with(err, errlen, cfg->iface, why,
                       act == PCAP_ERROR_NO_SUCH_DEVICE ? -ENODEV : -EPERM);
        goto fail;
    }
    live->nano = live->nano && pcap_get_tstamp_precision(live->pcap) == PCAP_TSTAMP_PRECISION_NANO;
    live->dlt = pcap_datalink(live->pcap);

    /* The user's filter, widened so that IP fragments always pass. */
    char filter[4096];
    int n = cfg->filter != NULL
                ? snprintf(filter, sizeof(filter),
                           "(%s) or (ip[6:2] & 0x1fff != 0) or (ip6 and ip6[6] == 44)", cfg->filter)
                : snprintf(filter, sizeof(filter), "%s", CAP_LIVE_DEFAULT_FILTER);
    if (n < 0 || (size_t)n >= sizeof(filter)) {
        rc = fail_with(err, errlen, "filter", "too long", -EINVAL);
        goto fail;
    }
    struct bpf_program prog;
    if (pcap_compile(live->pcap, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        rc = fail_with(err, errlen, "filter", pcap_geterr(live->pcap), -EINVAL);
        goto fail;
    }
    int set = pcap_setfilter(live->pcap, &prog);
    pcap_freecode(&prog);
    if (set != 0) {
        rc = fail_with(err, errlen, "filter", pcap_geterr(live->pcap), -EINVAL);
        goto fail;
    }
    if (pthread_create(&live->thread, NULL, capture_main, live) != 0) {
        rc = fail_with(err, errlen, cfg->iface, "cannot start the capture thread", -EAGAIN);
        goto fail;
    }
    *out = live;
    return 0;
fail:
    if (live->pcap != NULL)
        pcap_close(live->pcap);
    pthread_mutex_destroy(&live->lock);
    pthread_cond_destroy(&live->not_empty);
    free(live->ring);
    free(live);
    return rc;
}

/* Hand the consumed part of the ring back (lock held). */
static void publish_tail(cap_live_t *live)
{
    live->tail = live->c_pos;
}

int cap_live_next(cap_live_t *live, cap_frame_t *out, int timeout_ms)
{
    if (live->taken_len > 0)
        cap_live_release(live); /* the caller forgot: the frame is done with */
    for (;;) {
        const cap_ring_hdr_t *fh = cap_lookahead_next(&live->la, live->ring, live->cap, live->c_end,
                                                      live->hint != NULL ? live->prefetch : NULL,
                                                      live->hint_ctx, &live->c_pos);
        if (fh != NULL) {
            out->info = *fh;
            out->data = live->ring + live->c_pos % live->cap + sizeof(*fh);
            live->taken_len = cap_ring_len(fh);
            return 1;
        }
        /* The snapshot is used up: return its space and look again. */
        live->c_pos = live->la.pos; /* past a wrap gap at its end too */
        pthread_mutex_lock(&live->lock);
        publish_tail(live);
        if (live->head == live->c_pos && !live->thread_done && timeout_ms > 0) {
            struct timespec until = clock_deadline(CLOCK_REALTIME, (int64_t)timeout_ms * 1000000);
            live->consumer_sleeping = true;
            pthread_cond_timedwait(&live->not_empty, &live->lock, &until);
            live->consumer_sleeping = false;
        }
        live->c_end = live->head;
        bool done = live->thread_done;
        pthread_mutex_unlock(&live->lock);
        if (live->c_pos == live->c_end)
            return done ? -1 : 0;
    }
}

void cap_live_release(cap_live_t *live)
{
    if (live->taken_len == 0)
        return;
    live->c_pos += live->taken_len;
    live->taken_len = 0;
    if (live->c_pos - live->tail >= RELEASE_BYTES) {
        /* A long batch: give the capture thread its space back now (only this thread writes
         * tail, so reading it without the lock is safe). */
        pthread_mutex_lock(&live->lock);
        publish_tail(live);
        pthread_mutex_unlock(&live->lock);
    }
}

void cap_live_stop(cap_live_t *live)
{
    atomic_store(&live->stop, true);
    pcap_breakloop(live->pcap);
}

void cap_live_close(cap_live_t *live)
{
    if (live == NULL)
        return;
    cap_live_stop(live);
    pthread_join(live->thread, NULL);
    pcap_close(live->pcap);
    pthread_mutex_destroy(&live->lock);
    pthread_cond_destroy(&live->not_empty);
    free(live->ring);
    free(live);
}

void cap_live_get_stats(cap_live_t *live, cap_live_stats_t *out)
{
    pthread_mutex_lock(&live->lock);
    *out = live->stats;
    pthread_mutex_unlock(&live->lock);
}
