/* writer: records are packed into a byte ring and stored by a dedicated thread. */
#include "writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"

/* Each queued record is a job: a header, the record struct, then its strings. String pointers
 * inside the copied struct are rewritten as offsets from the job start (plus one, so that 0
 * still means NULL) and turned back into pointers by the writer thread. */
enum job_type {
    JOB_WRAP = 1,
    JOB_CALL,
    JOB_STREAM,
    JOB_SAMPLE,
    JOB_MESSAGE,
    JOB_TOTALS,
    JOB_META,
    JOB_REGISTRATION,
    JOB_ALERT
};

typedef struct {
    char key[64];
    int64_t value;
} meta_job_t;

typedef struct {
    uint32_t type;
    uint32_t len;     /* whole job, header included, multiple of 8 */
} job_hdr_t;

#define ALIGN8(n)       (((n) + 7u) & ~(size_t)7u)
#define MIN_QUEUE_BYTES ((size_t)4 << 20)
/* With nothing to write for this long, commit what is pending so readers see it. */
#define IDLE_COMMIT_MS  500
/* The writer sleeps until this much is queued, or for at most WAKE_MS: one wake-up per batch
 * instead of one per record (a futex call and a context switch each, on the capture's core). */
#define WAKE_BYTES      ((size_t)64 << 10)
#define WAKE_MS         20

struct writer {
    store_t *store;
    uint8_t *ring;
    size_t cap, head, tail, used;
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    pthread_t thread;
    bool stopping, started;
    bool writer_sleeping, producer_waiting;
    int error;
    char errmsg[256];
    writer_stats_t stats;
};

/* ---- packing ---- */

typedef struct {
    uint8_t *base;
    size_t off;
} packer_t;

static size_t str_size(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

static const char *pack_str(packer_t *pk, const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s) + 1;
    memcpy(pk->base + pk->off, s, n);
    const char *encoded = (const char *)(uintptr_t)(pk->off + 1);
    pk->off += n;
    return encoded;
}

static const char *unpack_str(const uint8_t *job, const char *encoded)
{
    return encoded ? (const char *)job + ((uintptr_t)encoded - 1) : NULL;
}

/* ---- ring ---- */

/* Reserve len contiguous bytes at the head, waiting while the ring is full. Lock held. */
static uint8_t *reserve(writer_t *w, size_t len)
{
    for (;;) {
        if (w->used == 0)
            w->head = w->tail = 0;
        size_t at_end = w->cap - w->head;
        if (at_end >= len) {
            if (w->cap - w->used >= len)
                return w->ring + w->head;
        } else if (w->cap - w->used >= at_end + len) {
            /* Not enough room before the end: skip to the start, marking the gap. */
            if (at_end >= sizeof(job_hdr_t)) {
                job_hdr_t wrap = {JOB_WRAP, (uint32_t)at_end};
                memcpy(w->ring + w->head, &wrap, sizeof(wrap));
            }
            w->used += at_end;
            w->head = 0;
            continue;
        }
        w->stats.producer_waits++;
        w->producer_waiting = true;
        pthread_cond_wait(&w->not_full, &w->lock);
        w->producer_waiting = false;
    }
}

static void commit_reservation(writer_t *w, size_t len)
{
    w->head += len;
    if (w->head == w->cap)
        w->head = 0;
    w->used += len;
    if (w->used > w->stats.queue_bytes_peak)
        w->stats.queue_bytes_peak = w->used;
    w->stats.queued++;
    if (w->writer_sleeping && w->used >= WAKE_BYTES)
        pthread_cond_signal(&w->not_empty);
}

/* Copy a record of type into the ring: body bytes, then strings via pack. */
typedef void (*pack_fn)(packer_t *pk, const void *record);

static int enqueue(writer_t *w, uint32_t type, const void *record, size_t body, size_t strings,
                   pack_fn pack)
{
    size_t len = ALIGN8(sizeof(job_hdr_t) + body + strings);
    if (len > w->cap / 2)
        return -EMSGSIZE;
    pthread_mutex_lock(&w->lock);
    if (w->error != 0) {
        pthread_mutex_unlock(&w->lock);
        return -EPIPE;
    }
    uint8_t *at = reserve(w, len);
    job_hdr_t hdr = {type, (uint32_t)len};
    memcpy(at, &hdr, sizeof(hdr));
    packer_t pk = {at, sizeof(hdr) + body};
    memcpy(at + sizeof(hdr), record, body);
    if (pack != NULL)
        pack(&pk, record);
    commit_reservation(w, len);
    pthread_mutex_unlock(&w->lock);
    return 0;
}

static void pack_call(packer_t *pk, const void *record)
{
    const call_record_t *r = record;
    call_record_t *c = (call_record_t *)(pk->base + sizeof(job_hdr_t));
    c->call_id = pack_str(pk, r->call_id);
    c->from_uri = pack_str(pk, r->from_uri);
    c->to_uri = pack_str(pk, r->to_uri);
    c->from_tag = pack_str(pk, r->from_tag);
    c->to_tag = pack_str(pk, r->to_tag);
    c->user_agent = pack_str(pk, r->user_agent);
}

int writer_put_call(writer_t *w, const call_record_t *r)
{
    size_t strings = str_size(r->call_id) + str_size(r->from_uri) + str_size(r->to_uri) +
                     str_size(r->from_tag) + str_size(r->to_tag) + str_size(r->user_agent);
    return enqueue(w, JOB_CALL, r, sizeof(*r), strings, pack_call);
}

static void pack_stream(packer_t *pk, const void *record)
{
    const stream_record_t *r = record;
    stream_record_t *s = (stream_record_t *)(pk->base + sizeof(job_hdr_t));
    s->call_id = pack_str(pk, r->call_id);
    s->codec = pack_str(pk, r->codec);
}

int writer_put_stream(writer_t *w, const stream_record_t *r)
{
    return enqueue(w, JOB_STREAM, r, sizeof(*r), str_size(r->call_id) + str_size(r->codec),
                   pack_stream);
}

int writer_put_sample(writer_t *w, const sample_record_t *r)
{
    return enqueue(w, JOB_SAMPLE, r, sizeof(*r), 0, NULL);
}

static void pack_message(packer_t *pk, const void *record)
{
    const message_record_t *r = record;
    message_record_t *m = (message_record_t *)(pk->base + sizeof(job_hdr_t));
    m->call_id = pack_str(pk, r->call_id);
    m->method = pack_str(pk, r->method);
    /* The raw text is not NUL-terminated and may hold NULs: copy raw_len bytes exactly. */
    if (r->raw != NULL) {
        memcpy(pk->base + pk->off, r->raw, r->raw_len);
        m->raw = (const char *)(uintptr_t)(pk->off + 1);
        pk->off += r->raw_len;
    }
}

int writer_put_message(writer_t *w, const message_record_t *r)
{
    size_t strings = str_size(r->call_id) + str_size(r->method) + (r->raw ? r->raw_len : 0);
    return enqueue(w, JOB_MESSAGE, r, sizeof(*r), strings, pack_message);
}

static void pack_registration(packer_t *pk, const void *record)
{
    const registration_record_t *r = record;
    registration_record_t *g = (registration_record_t *)(pk->base + sizeof(job_hdr_t));
    g->aor = pack_str(pk, r->aor);
    g->aor_user = pack_str(pk, r->aor_user);
    g->contact = pack_str(pk, r->contact);
    g->user_agent = pack_str(pk, r->user_agent);
}

int writer_put_registration(writer_t *w, const registration_record_t *r)
{
    size_t strings = str_size(r->aor) + str_size(r->aor_user) + str_size(r->contact) +
                     str_size(r->user_agent);
    return enqueue(w, JOB_REGISTRATION, r, sizeof(*r), strings, pack_registration);
}

static void pack_alert(packer_t *pk, const void *record)
{
    const alert_record_t *r = record;
    alert_record_t *a = (alert_record_t *)(pk->base + sizeof(job_hdr_t));
    a->target = pack_str(pk, r->target);
    a->user_agent = pack_str(pk, r->user_agent);
}

int writer_put_alert(writer_t *w, const alert_record_t *r)
{
    return enqueue(w, JOB_ALERT, r, sizeof(*r), str_size(r->target) + str_size(r->user_agent),
                   pack_alert);
}

int writer_put_meta(writer_t *w, const char *key, int64_t value)
{
    meta_job_t m = {.value = value};
    snprintf(m.key, sizeof(m.key), "%s", key);
    return enqueue(w, JOB_META, &m, sizeof(m), 0, NULL);
}

int writer_put_totals(writer_t *w, const store_meta_t *totals)
{
    return enqueue(w, JOB_TOTALS, totals, sizeof(*totals), 0, NULL);
}

/* ---- the writer thread ---- */

static void note_error(writer_t *w, int rc)
{
    if (rc == 0)
        return;
    pthread_mutex_lock(&w->lock);
    w->stats.failed++;
    if (w->error == 0) {
        w->error = rc;
        snprintf(w->errmsg, sizeof(w->errmsg), "%s", store_errmsg(w->store));
    }
    pthread_mutex_unlock(&w->lock);
}

static int store_job(writer_t *w, const uint8_t *job, const job_hdr_t *hdr)
{
    const uint8_t *body = job + sizeof(job_hdr_t);
    switch (hdr->type) {
        case JOB_CALL: {
            call_record_t c;
            memcpy(&c, body, sizeof(c));
            c.call_id = unpack_str(job, c.call_id);
            c.from_uri = unpack_str(job, c.from_uri);
            c.to_uri = unpack_str(job, c.to_uri);
            c.from_tag = unpack_str(job, c.from_tag);
            c.to_tag = unpack_str(job, c.to_tag);
            c.user_agent = unpack_str(job, c.user_agent);
            return store_put_call(w->store, &c);
        }
        case JOB_STREAM: {
            stream_record_t s;
            memcpy(&s, body, sizeof(s));
            s.call_id = unpack_str(job, s.call_id);
            s.codec = unpack_str(job, s.codec);
            return store_put_stream(w->store, &s);
        }
        case JOB_SAMPLE: {
            sample_record_t s;
            memcpy(&s, body, sizeof(s));
            return store_put_sample(w->store, &s);
        }
        case JOB_MESSAGE: {
            message_record_t m;
            memcpy(&m, body, sizeof(m));
            m.call_id = unpack_str(job, m.call_id);
            m.method = unpack_str(job, m.method);
            m.raw = unpack_str(job, m.raw);
            return store_put_message(w->store, &m);
        }
        case JOB_TOTALS: {
            store_meta_t t;
            memcpy(&t, body, sizeof(t));
            return store_add_totals(w->store, &t);
        }
        case JOB_REGISTRATION: {
            registration_record_t g;
            memcpy(&g, body, sizeof(g));
            g.aor = unpack_str(job, g.aor);
            g.aor_user = unpack_str(job, g.aor_user);
            g.contact = unpack_str(job, g.contact);
            g.user_agent = unpack_str(job, g.user_agent);
            return store_put_registration(w->store, &g);
        }
        case JOB_ALERT: {
            alert_record_t a;
            memcpy(&a, body, sizeof(a));
            a.target = unpack_str(job, a.target);
            a.user_agent = unpack_str(job, a.user_agent);
            return store_put_alert(w->store, &a);
        }
        case JOB_META: {
            meta_job_t m;
            memcpy(&m, body, sizeof(m));
            return store_set_meta_i64(w->store, m.key, m.value);
        }
        default:
            return 0;
    }
}

static int64_t monotonic_ms(void)
{
    return clock_ns(CLOCK_MONOTONIC) / 1000000;
}

/* A batch is committed at least this often even while records keep coming, so that readers
 * see fresh rows and other writers (retention) get the database lock between batches. */
#define MAX_BATCH_MS 1000

/* Commit when the last commit is MAX_BATCH_MS old. True when it did. */
static bool commit_if_due(writer_t *w, int64_t now_ms, int64_t *last_commit_ms)
{
    if (now_ms - *last_commit_ms < MAX_BATCH_MS)
        return false;
    note_error(w, store_flush(w->store));
    *last_commit_ms = now_ms;
    return true;
}

/* Store the jobs in [tail, tail + span) of the ring, in order, also committing by time within a
 * long span. Called without the lock: the producer never writes there. Returns the records
 * stored. */
static uint64_t store_span(writer_t *w, size_t tail, size_t span, int64_t *last_commit_ms)
{
    uint64_t written = 0;
    unsigned since_check = 0;
    while (span > 0) {
        size_t at_end = w->cap - tail;
        job_hdr_t hdr;
        if (at_end < sizeof(job_hdr_t)) {
            hdr.type = JOB_WRAP;
            hdr.len = (uint32_t)at_end;
        } else {
            memcpy(&hdr, w->ring + tail, sizeof(hdr));
        }
        if (hdr.type != JOB_WRAP) {
            int rc = store_job(w, w->ring + tail, &hdr);
            note_error(w, rc);
            if (rc == 0)
                written++;
        }
        if (++since_check % 256 == 0)
            commit_if_due(w, monotonic_ms(), last_commit_ms);
        tail += hdr.len;
        if (tail >= w->cap)
            tail = 0;
        span -= hdr.len;
    }
    return written;
}

static void *writer_main(void *arg)
{
    writer_t *w = arg;
    int64_t last_commit_ms = monotonic_ms(), last_job_ms = last_commit_ms;
    bool dirty = false;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        /* Sleep until a batch is worth a wake-up (the producer signals at WAKE_BYTES) or
         * WAKE_MS pass; then take whatever is queued. */
        while (w->used < WAKE_BYTES && !w->stopping) {
            struct timespec until = clock_deadline(CLOCK_REALTIME, (int64_t)WAKE_MS * 1000000);
            w->writer_sleeping = true;
            int rc = pthread_cond_timedwait(&w->not_empty, &w->lock, &until);
            w->writer_sleeping = false;
            if (rc == ETIMEDOUT && w->used > 0)
                break;
            if (rc == ETIMEDOUT && dirty && monotonic_ms() - last_job_ms >= IDLE_COMMIT_MS) {
                pthread_mutex_unlock(&w->lock);
                note_error(w, store_flush(w->store));
                pthread_mutex_lock(&w->lock);
                dirty = false;
            }
        }
        if (w->used == 0 && w->stopping)
            break;
        size_t tail = w->tail, span = w->used;
        pthread_mutex_unlock(&w->lock);
        uint64_t written = store_span(w, tail, span, &last_commit_ms);
        last_job_ms = monotonic_ms();
        /* A steady trickle, never idle for IDLE_COMMIT_MS, commits by time here. */
        dirty = !commit_if_due(w, last_job_ms, &last_commit_ms);
        int64_t cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID);
        pthread_mutex_lock(&w->lock);
        w->stats.written += written;
        w->stats.cpu_ns = cpu;
        w->tail = (tail + span) % w->cap;
        w->used -= span;
        if (w->producer_waiting)
            pthread_cond_signal(&w->not_full);
    }
    pthread_mutex_unlock(&w->lock);
    note_error(w, store_flush(w->store));
    int64_t cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    pthread_mutex_lock(&w->lock);
    w->stats.cpu_ns = cpu;
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

writer_t *writer_start(store_t *store, size_t queue_bytes)
{
    writer_t *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->store = store;
    w->cap = ALIGN8(queue_bytes < MIN_QUEUE_BYTES ? MIN_QUEUE_BYTES : queue_bytes);
    w->ring = malloc(w->cap);
    if (w->ring == NULL)
        goto fail;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->not_empty, NULL);
    pthread_cond_init(&w->not_full, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0)
        goto fail;
    w->started = true;
    return w;
fail:
    free(w->ring);
    free(w);
    return NULL;
}

int writer_stop(writer_t *w, writer_stats_t *final, char *err, size_t errlen)
{
    if (w == NULL)
        return 0;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_signal(&w->not_empty);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    if (final != NULL)
        *final = w->stats;
    int rc = w->error;
    if (rc != 0 && err != NULL)
        snprintf(err, errlen, "%s", w->errmsg);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->not_empty);
    pthread_cond_destroy(&w->not_full);
    free(w->ring);
    free(w);
    return rc;
}

void writer_get_stats(writer_t *w, writer_stats_t *out)
{
    pthread_mutex_lock(&w->lock);
    *out = w->stats;
    pthread_mutex_unlock(&w->lock);
}
