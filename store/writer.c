/* writer: records are packed into a byte ring and stored by a dedicated thread. */
#include "writer.h"

#include "deferred.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "defs.h"
#include "record_desc.h"
#include "sv.h"

/* Each queued record is a job: a header, the record struct, then its strings. String pointers
 * inside the copied struct are rewritten as offsets from the job start (plus one, so that 0
 * still means NULL) and turned back into pointers by the writer thread, in place. Which members
 * are strings the record's descriptor says (common/record_desc.h); the writer finds them once,
 * at start, so that each copy walks only a record's strings. */
enum job_type {
    JOB_WRAP = 1,
    JOB_CALL,
    JOB_STREAM,
    JOB_SAMPLE,
    JOB_MESSAGE,
    JOB_TOTALS,
    JOB_META,
    JOB_REGISTRATION,
    JOB_ALERT,
    JOB_DTMF
};

typedef struct {
    char key[64];
    int64_t value;
} meta_job_t;

typedef struct {
    uint32_t type;
    uint32_t len; /* whole job, header included, multiple of 8 */
} job_hdr_t;

/* Room for a copy of any record, aligned for all of them. */
typedef union {
    call_record_t call;
    stream_record_t stream;
    sample_record_t sample;
    message_record_t message;
    registration_record_t registration;
    alert_record_t alert;
    dtmf_record_t dtmf;
} any_record_t;

/* A job's record is used where it lies in the ring (whose start malloc aligns, and whose jobs
 * are multiples of 8 long), so it must be aligned there. */
_Static_assert(sizeof(job_hdr_t) % 8 == 0 && _Alignof(any_record_t) <= 8,
               "a record right after a job header is aligned");

#define ALIGN8(n)       (((n) + 7u) & ~(size_t)7u)
#define MIN_QUEUE_BYTES ((size_t)4 << 20)
/* The writer sleeps until this much is queued, or for at most WAKE_MS: one wake-up per batch
 * instead of one per record (a futex call and a context switch each, on the capture's core). */
#define WAKE_BYTES ((size_t)64 << 10)
#define WAKE_MS    20

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
    record_strings_t strings[JOB_DTMF + 1]; /* of each record's job type; read-only */
    deferred_t *deferred; /* snapshots held until the batch commits (writer thread only) */
    int64_t batch_ms;     /* MAX_BATCH_MS, or SIPSCOPE_COMMIT_MS (writer.h) */
};

/* Snapshots held back at most (a call's or stream's job is ~0.3-1.5 kB): 8,192 covers the
 * calls and streams in progress of a busy file analysis; past that they are written at once. */
#define DEFERRED_MAX 8192

/* ---- packing ---- */

/* The bytes of each of rec's strings (sizes, ss->n of them) and their sum. */
static size_t strings_size(const record_strings_t *ss, const void *rec, size_t *sizes)
{
    size_t n = 0;
    for (size_t i = 0; i < ss->n; i++) {
        sizes[i] = record_string_size(rec, &ss->s[i]);
        n += sizes[i];
    }
    return n;
}

/* Copy rec's strings (of the sizes strings_size measured) to job + off, after the copy of rec,
 * pointing the copy's members at them. */
static void pack_strings(uint8_t *job, size_t off, const record_strings_t *ss, const size_t *sizes,
                         const void *rec)
{
    uint8_t *copy = job + sizeof(job_hdr_t);
    for (size_t i = 0; i < ss->n; i++) {
        const char *p;
        memcpy(&p, (const char *)rec + ss->s[i].offset, sizeof(p));
        if (p == NULL)
            continue; /* (a REC_RAW may be empty and not NULL: test the pointer, not the size) */
        memcpy(job + off, p, sizes[i]);
        const char *encoded = (const char *)(uintptr_t)(off + 1);
        memcpy(copy + ss->s[i].offset, &encoded, sizeof(encoded));
        off += sizes[i];
    }
}

/* Point the strings of a record lying in job back at the job's bytes. */
static void unpack_strings(const record_strings_t *ss, uint8_t *job, void *rec)
{
    for (size_t i = 0; i < ss->n; i++) {
        char *m = (char *)rec + ss->s[i].offset;
        const char *encoded;
        memcpy(&encoded, m, sizeof(encoded));
        if (encoded != NULL) {
            const char *p = (const char *)job + ((uintptr_t)encoded - 1);
            memcpy(m, &p, sizeof(p));
        }
    }
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

/* Copy a record of type into the ring: body bytes, then the strings ss names, of sizes (none
 * when ss is NULL). */
static int enqueue(writer_t *w, uint32_t type, const void *record, size_t body, size_t strings,
                   const record_strings_t *ss, const size_t *sizes)
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
    memcpy(at + sizeof(hdr), record, body);
    if (ss != NULL)
        pack_strings(at, sizeof(hdr) + body, ss, sizes, record);
    commit_reservation(w, len);
    pthread_mutex_unlock(&w->lock);
    return 0;
}

/* The records the writer stores, by job type. */
static int put_call(store_t *s, const void *r)
{
    return store_put_call(s, r);
}

static int put_stream(store_t *s, const void *r)
{
    return store_put_stream(s, r);
}

static int put_sample(store_t *s, const void *r)
{
    return store_put_sample(s, r);
}

static int put_message(store_t *s, const void *r)
{
    return store_put_message(s, r);
}

static int put_registration(store_t *s, const void *r)
{
    return store_put_registration(s, r);
}

static int put_alert(store_t *s, const void *r)
{
    return store_put_alert(s, r);
}

static int put_dtmf(store_t *s, const void *r)
{
    return store_put_dtmf(s, r);
}

static const struct {
    const record_desc_t *desc;
    int (*put)(store_t *s, const void *record);
} records[] = {
    [JOB_CALL] = {&call_record_desc, put_call},
    [JOB_STREAM] = {&stream_record_desc, put_stream},
    [JOB_SAMPLE] = {&sample_record_desc, put_sample},
    [JOB_MESSAGE] = {&message_record_desc, put_message},
    [JOB_REGISTRATION] = {&registration_record_desc, put_registration},
    [JOB_ALERT] = {&alert_record_desc, put_alert},
    [JOB_DTMF] = {&dtmf_record_desc, put_dtmf},
};

static int enqueue_record(writer_t *w, uint32_t type, const void *record)
{
    const record_strings_t *ss = &w->strings[type];
    size_t sizes[RECORD_MAX_STRINGS];
    size_t strings = strings_size(ss, record, sizes);
    return enqueue(w, type, record, records[type].desc->size, strings, ss, sizes);
}

int writer_put_call(writer_t *w, const call_record_t *r)
{
    return enqueue_record(w, JOB_CALL, r);
}

int writer_put_stream(writer_t *w, const stream_record_t *r)
{
    return enqueue_record(w, JOB_STREAM, r);
}

int writer_put_sample(writer_t *w, const sample_record_t *r)
{
    return enqueue_record(w, JOB_SAMPLE, r);
}

int writer_put_message(writer_t *w, const message_record_t *r)
{
    return enqueue_record(w, JOB_MESSAGE, r);
}

int writer_put_registration(writer_t *w, const registration_record_t *r)
{
    return enqueue_record(w, JOB_REGISTRATION, r);
}

int writer_put_alert(writer_t *w, const alert_record_t *r)
{
    return enqueue_record(w, JOB_ALERT, r);
}

int writer_put_dtmf(writer_t *w, const dtmf_record_t *r)
{
    return enqueue_record(w, JOB_DTMF, r);
}

int writer_put_meta(writer_t *w, const char *key, int64_t value)
{
    meta_job_t m = {.value = value};
    snprintf(m.key, sizeof(m.key), "%s", key);
    return enqueue(w, JOB_META, &m, sizeof(m), 0, NULL, NULL);
}

int writer_put_totals(writer_t *w, const store_meta_t *totals)
{
    return enqueue(w, JOB_TOTALS, totals, sizeof(*totals), 0, NULL, NULL);
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

/* A deferred snapshot's job, written at last (the store's precommit, deferred.h). */
static int store_deferred(void *ctx, uint8_t *job)
{
    writer_t *w = ctx;
    job_hdr_t hdr;
    memcpy(&hdr, job, sizeof(hdr));
    uint8_t *body = job + sizeof(job_hdr_t);
    unpack_strings(&w->strings[hdr.type], job, body);
    return records[hdr.type].put(w->store, body);
}

static int precommit(void *ctx)
{
    writer_t *w = ctx;
    return deferred_drain(w->deferred, store_deferred, w);
}

/* A call's or stream's job: a snapshot (active) is held back until the batch commits, unless a
 * later one replaces it or the final record drops it; true when it was held. */
static bool defer_snapshot(writer_t *w, const uint8_t *job, const job_hdr_t *hdr)
{
    const uint8_t *body = job + sizeof(job_hdr_t);
    bool active;
    int64_t id;
    if (hdr->type == JOB_CALL) {
        memcpy(&active, body + offsetof(call_record_t, active), sizeof(active));
        memcpy(&id, body + offsetof(call_record_t, id), sizeof(id));
    } else {
        memcpy(&active, body + offsetof(stream_record_t, active), sizeof(active));
        memcpy(&id, body + offsetof(stream_record_t, id), sizeof(id));
    }
    uint64_t key = (uint64_t)id << 4 | hdr->type;
    if (!active) {
        deferred_drop(w->deferred, key);
        return false;
    }
    return deferred_put(w->deferred, key, job, hdr->len);
}

/* Store a job. Called without the lock: the ring's span being stored is the writer's own until
 * w->tail moves past it, so a record is unpacked and stored where it lies (no copy). */
static int store_job(writer_t *w, uint8_t *job, const job_hdr_t *hdr)
{
    uint8_t *body = job + sizeof(job_hdr_t);
    switch (hdr->type) {
        case JOB_CALL:
        case JOB_STREAM:
            if (w->deferred != NULL && defer_snapshot(w, job, hdr))
                return 0;
            unpack_strings(&w->strings[hdr->type], job, body);
            return records[hdr->type].put(w->store, body);
        case JOB_SAMPLE:
        case JOB_MESSAGE:
        case JOB_REGISTRATION:
        case JOB_ALERT:
        case JOB_DTMF: {
            unpack_strings(&w->strings[hdr->type], job, body);
            return records[hdr->type].put(w->store, body);
        }
        case JOB_TOTALS: {
            store_meta_t t;
            memcpy(&t, body, sizeof(t));
            return store_add_totals(w->store, &t);
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
    if (now_ms - *last_commit_ms < w->batch_ms)
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
            /* Nothing to write for half the batch time: commit, so that readers see it. */
            if (rc == ETIMEDOUT && dirty && monotonic_ms() - last_job_ms >= w->batch_ms / 2) {
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
        /* A steady trickle, never idle for half the batch time, commits by time here. */
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
    w->batch_ms = MAX_BATCH_MS;
    const char *env = getenv("SIPSCOPE_COMMIT_MS");
    uint64_t ms;
    if (env != NULL && sv_to_u64(sv_from_cstr(env), &ms) && ms >= 1 && ms <= 86400000)
        w->batch_ms = (int64_t)ms;
    for (size_t t = 0; t < ARRAY_LEN(records); t++) {
        if (records[t].desc != NULL)
            record_strings_init(&w->strings[t], records[t].desc);
    }
    w->cap = ALIGN8(queue_bytes < MIN_QUEUE_BYTES ? MIN_QUEUE_BYTES : queue_bytes);
    w->ring = malloc(w->cap);
    w->deferred = deferred_new(DEFERRED_MAX);
    if (w->ring == NULL || w->deferred == NULL)
        goto fail;
    store_set_precommit(store, precommit, w);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->not_empty, NULL);
    pthread_cond_init(&w->not_full, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0)
        goto fail;
    w->started = true;
    return w;
fail:
    store_set_precommit(store, NULL, NULL);
    deferred_free(w->deferred);
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
    /* The thread's last flush wrote what was held back; the store outlives the writer. */
    store_set_precommit(w->store, NULL, NULL);
    deferred_free(w->deferred);
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
