/* readahead: a savefile read on its own thread, so that libpcap's reading (fread and copies)
 * runs beside the decoding instead of before it; frames cross over a lock-free ring.
 *
 * pcapfile.c uses this file and this file uses nothing of pcapfile.c (cap_int.h): when the
 * thread cannot run, it says so (-EAGAIN) rather than falling back itself. */
#include "cap.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#include "cap_int.h"
#include "clock.h"

/* The ring holds cap_ring_hdr_t frames (cap_int.h). Single producer, single consumer: head
 * and tail need only acquire/release ordering, and no lock is taken per frame. */
#define RA_BYTES    ((size_t)2 << 20)
#define RA_PREFETCH 8192 /* bytes of the ring prefetched ahead of the decoding */

typedef struct {
    pcap_t *handle;
    cap_hint_fn hint;
    void *hint_ctx;
    int64_t unit_ns;
    int dlt; /* a savefile has one link type */
    uint8_t *ring;
    /* Each on its own cache line: the reader writes head per frame, the decoder tail per
     * batch, and neither should make the other's core miss on the fields it reads. */
    _Alignas(64) _Atomic size_t head;
    _Alignas(64) _Atomic size_t tail;
    _Alignas(64) _Atomic bool done; /* the reader stopped (end, error or abort) */
    _Atomic bool abort;             /* the consumer gave up */
    const atomic_int *stop;         /* cap_cfg_t's stop */
    int wait_fd;                    /* cap_input_wait_fd */
    int status;                     /* 0, -EIO or -EINTR; valid once done */
    uint64_t frames;
    uint64_t cpu_ns; /* the reader thread's CPU time; valid once done */
    char why[PCAP_ERRBUF_SIZE];
} ra_t;

/* Waiting is rare (one side outpaces the other): yield first, then sleep briefly. */
static void ra_wait(unsigned *spins)
{
    if (++*spins < 64) {
        sched_yield();
    } else {
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
    }
}

int cap_input_wait_fd(const atomic_int *stop, struct pcap *handle)
{
    FILE *fp = pcap_file(handle);
    struct stat st;
    if (stop == NULL || fp == NULL || fstat(fileno(fp), &st) != 0 || S_ISREG(st.st_mode))
        return -1;
    return fileno(fp);
}

/* Whether fp's stdio buffer holds unread bytes (glibc's fields, as gnulib's freadahead reads
 * them; elsewhere assume it does, and read as before). */
static bool stdio_has_input(FILE *fp)
{
#ifdef __GLIBC__
    return fp->_IO_read_ptr < fp->_IO_read_end;
#else
    (void)fp;
    return true;
#endif
}

bool cap_input_wait(const atomic_int *stop, struct pcap *handle, int fd)
{
    if (fd < 0 || stdio_has_input(pcap_file(handle)))
        return !cap_stop_asked(stop);
    for (;;) {
        if (cap_stop_asked(stop))
            return false;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) != 0) /* data, end, error (read reports it), or EINTR */
            return !cap_stop_asked(stop);
    }
}

/* The reader stops before the end: say so as cap_read_pcap does. */
static void ra_interrupted(ra_t *ra)
{
    ra->status = -EINTR;
    snprintf(ra->why, sizeof(ra->why), "interrupted after %llu packets",
             (unsigned long long)ra->frames);
}

static void *ra_reader(void *arg)
{
    ra_t *ra = arg;
    size_t head = atomic_load_explicit(&ra->head, memory_order_relaxed);
    size_t tail = 0; /* the decoder's tail as last read: reloaded only when the ring looks full */
    /* A pipe is waited on before each frame (its data may stall); a file's reading stops when
     * asked before the first frame, at each lap of the ring and when the ring is full (every
     * few thousand frames, not a load and a test per frame: 10 instructions of the 100 the
     * thread spends on one). */
    const int wait_fd = ra->wait_fd;
    if (cap_stop_asked(ra->stop)) {
        ra_interrupted(ra);
        goto out;
    }
    for (;;) {
        struct pcap_pkthdr *h;
        const u_char *data;
        if (wait_fd >= 0 && !cap_input_wait(ra->stop, ra->handle, wait_fd)) {
            ra_interrupted(ra);
            break;
        }
        int rc = pcap_next_ex(ra->handle, &h, &data);
        if (rc != 1) {
            if (rc != PCAP_ERROR_BREAK && rc != 0) {
                ra->status = -EIO;
                snprintf(ra->why, sizeof(ra->why), "truncated after %llu packets: %s",
                         (unsigned long long)ra->frames, pcap_geterr(ra->handle));
            }
            if (rc == 0)
                continue;
            break;
        }
        size_t caplen = h->caplen;
        size_t len = CAP_ALIGN8(sizeof(cap_ring_hdr_t) + caplen);
        if (len > RA_BYTES / 4) { /* no real frame is this big; libpcap caps caplen */
            caplen = RA_BYTES / 4 - sizeof(cap_ring_hdr_t) - 8;
            len = CAP_ALIGN8(sizeof(cap_ring_hdr_t) + caplen);
        }
        size_t off = head % RA_BYTES, at_end = RA_BYTES - off;
        size_t need = len <= at_end ? len : at_end + len;
        if (head + need - tail > RA_BYTES &&
            head + need - (tail = atomic_load_explicit(&ra->tail, memory_order_acquire)) >
                RA_BYTES) {
            /* Full: the decoding is behind. Wait for a quarter of the ring, then refill it in
             * one burst, rather than trickling a frame per wake-up (each costs a context switch
             * and moves the ring's lines between cores one at a time). */
            unsigned spins = 64; /* straight to sleeping: the consumer needs a while */
            while (head + need + RA_BYTES / 4 -
                       (tail = atomic_load_explicit(&ra->tail, memory_order_acquire)) >
                   RA_BYTES) {
                if (atomic_load_explicit(&ra->abort, memory_order_relaxed))
                    goto out;
                if (cap_stop_asked(ra->stop)) {
                    ra_interrupted(ra);
                    goto out;
                }
                ra_wait(&spins);
            }
        }
        if (len > at_end) {
            if (cap_stop_asked(ra->stop)) {
                ra_interrupted(ra);
                break;
            }
            if (at_end >= sizeof(cap_ring_hdr_t)) {
                cap_ring_hdr_t mark = cap_ring_wrap_mark(at_end);
                memcpy(ra->ring + off, &mark, sizeof(mark));
            }
            head += at_end;
            off = 0;
        }
        cap_ring_hdr_t fh;
        fh.ts_ns = cap_pcap_ts_ns((int64_t)h->ts.tv_sec, (int64_t)h->ts.tv_usec, ra->unit_ns);
        fh.caplen = (uint32_t)caplen;
        fh.wirelen = h->len;
        fh.dlt = ra->dlt;
        cap_ring_peek(ra->hint, ra->hint_ctx, &fh, data);
        /* Claim the lines a few KB ahead for writing: the decoder's core read them last lap. */
        __builtin_prefetch(ra->ring + (head + RA_PREFETCH) % RA_BYTES, 1);
        __builtin_prefetch(ra->ring + (head + RA_PREFETCH + 64) % RA_BYTES, 1);
        __builtin_prefetch(ra->ring + (head + RA_PREFETCH + 128) % RA_BYTES, 1);
        __builtin_prefetch(ra->ring + (head + RA_PREFETCH + 192) % RA_BYTES, 1);
        memcpy(ra->ring + off, &fh, sizeof(fh));
        memcpy(ra->ring + off + sizeof(fh), data, caplen);
        head += len;
        atomic_store_explicit(&ra->head, head, memory_order_release);
        ra->frames++;
    }
out:
    ra->cpu_ns = (uint64_t)clock_ns(CLOCK_THREAD_CPUTIME_ID);
    atomic_store_explicit(&ra->done, true, memory_order_release);
    return NULL;
}

int cap_readahead_run(cap_t *cap, struct pcap *handle, char *err, size_t errlen)
{
    ra_t *ra = aligned_alloc(_Alignof(ra_t), sizeof(*ra)); /* its size is a multiple of 64 */
    if (ra != NULL) {
        memset(ra, 0, sizeof(*ra));
        /* One 2 MB huge page where the kernel allows it: both threads walk the whole ring,
         * and 512 small pages would cost each of them TLB misses. */
        ra->ring = aligned_alloc(RA_BYTES, RA_BYTES);
#ifdef MADV_HUGEPAGE
        if (ra->ring != NULL)
            (void)madvise(ra->ring, RA_BYTES, MADV_HUGEPAGE);
#endif
    }
    if (ra == NULL || ra->ring == NULL) {
        free(ra); /* not enough memory for the ring */
        return -EAGAIN;
    }
    ra->handle = handle;
    ra->stop = cap->cfg.stop;
    ra->wait_fd = cap_input_wait_fd(ra->stop, handle);
    if (cap->prefetch != NULL) {
        ra->hint = cap->hint;
        ra->hint_ctx = cap->hint_ctx;
    }
    ra->dlt = pcap_datalink(handle);
    ra->unit_ns = pcap_get_tstamp_precision(handle) == PCAP_TSTAMP_PRECISION_NANO ? 1 : 1000;
    pthread_t reader;
    if (pthread_create(&reader, NULL, ra_reader, ra) != 0) {
        free(ra->ring);
        free(ra);
        return -EAGAIN;
    }
    size_t tail = 0, pf = 0;
    cap_lookahead_t la;
    cap_lookahead_init(&la, 0);
    cap_prefetch_fn prefetch = ra->hint != NULL ? cap->prefetch : NULL;
    unsigned spins = 0;
    for (;;) {
        size_t head = atomic_load_explicit(&ra->head, memory_order_acquire);
        if (tail == head) {
            if (atomic_load_explicit(&ra->done, memory_order_acquire) &&
                tail == atomic_load_explicit(&ra->head, memory_order_acquire))
                break;
            ra_wait(&spins);
            continue;
        }
        spins = 0;
        /* Everything up to head is complete: decode the whole batch, then free it at once.
         * The frames were written on the reader's core: asking for them RA_PREFETCH bytes
         * ahead hides the core-to-core transfer, which otherwise stalls every frame header. */
        const cap_ring_hdr_t *fh;
        size_t at;
        while ((fh = cap_lookahead_next(&la, ra->ring, RA_BYTES, head, prefetch, cap->hint_ctx,
                                        &at)) != NULL) {
            size_t pf_end = at + RA_PREFETCH < head ? at + RA_PREFETCH : head;
            for (; pf < pf_end; pf += 64)
                __builtin_prefetch(ra->ring + pf % RA_BYTES);
            cap_process_ring_frame(cap, fh, ra->ring + at % RA_BYTES + sizeof(*fh));
        }
        tail = la.pos;
        atomic_store_explicit(&ra->tail, tail, memory_order_release);
    }
    pthread_join(reader, NULL);
    cap->stats.readahead_cpu_ns += ra->cpu_ns;
    int rc = ra->status;
    if (rc != 0) {
        if (rc != -EINTR)
            cap->stats.read_errors++;
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "%s", ra->why);
    }
    free(ra->ring);
    free(ra);
    return rc;
}
