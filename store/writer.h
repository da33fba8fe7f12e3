/* writer: a store writer thread fed through a bounded queue, so storing runs beside analysis
 * instead of inside it. */
#ifndef SIPSCOPE_WRITER_H
#define SIPSCOPE_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "records.h"
#include "store.h"

typedef struct writer writer_t;

typedef struct {
    uint64_t queued, written, failed; /* records */
    uint64_t producer_waits;          /* times the queue was full and the producer waited */
    size_t queue_bytes_peak;
    int64_t cpu_ns; /* CPU time of the writer thread so far */
} writer_stats_t;

/* The writer commits at least once a second while records keep coming (and after 500 ms
 * idle). The environment variable SIPSCOPE_COMMIT_MS (1 to 86,400,000) changes both (the idle
 * time is half of it), for benchmarks: under valgrind a run is ~20-50 times slower, so it would
 * commit that much more often per packet than a real run (bench/instructions sets it with
 * SIPSCOPE_CHECKPOINT_MS). */

/* Start a thread that owns store (borrowed: the caller closes it after writer_stop). The queue
 * holds at most queue_bytes (at least 4 MB, so that the largest SIP message fits twice).
 * NULL on failure. */
writer_t *writer_start(store_t *store, size_t queue_bytes);

/* Queue a copy of the record (strings included); the caller's record may change right after.
 * Blocks while the queue is full: nothing is lost. 0, or -EPIPE after a store failure (the
 * first error's text is in writer_error). */
int writer_put_call(writer_t *w, const call_record_t *r);
int writer_put_stream(writer_t *w, const stream_record_t *r);
int writer_put_sample(writer_t *w, const sample_record_t *r);
int writer_put_dtmf(writer_t *w, const dtmf_record_t *r);
int writer_put_message(writer_t *w, const message_record_t *r);
int writer_put_registration(writer_t *w, const registration_record_t *r);
int writer_put_alert(writer_t *w, const alert_record_t *r);
/* A counter for the store's meta table (live capture publishes its counters this way, so the
 * API, which reads only the store, can serve them). key at most 63 bytes. */
int writer_put_meta(writer_t *w, const char *key, int64_t value);
/* Totals of one analysis, added to the store's (store_add_totals). */
int writer_put_totals(writer_t *w, const store_meta_t *totals);

/* Drain the queue, commit, join the thread, free. Returns 0 or the first store error, whose
 * text goes to err. The final counters go to *final when it is not NULL. NULL w is a no-op. */
int writer_stop(writer_t *w, writer_stats_t *final, char *err, size_t errlen);
void writer_get_stats(writer_t *w, writer_stats_t *out);

#endif
