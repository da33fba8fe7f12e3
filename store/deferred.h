/* deferred: the store writer's snapshots held back until the batch commits. A snapshot of a call
 * or stream in progress (records with active = true) is kept here, keyed by its record type and
 * id, instead of being written at once; a newer snapshot of the same row replaces it, the row's
 * final record drops it, and whatever is left is written right before the batch's COMMIT, in
 * the same transaction as the records that came after it. So what a commit makes durable is
 * the same as if every snapshot had been written in queue order (a message never names a row
 * that is not there), while a call that starts and ends within one batch (file analysis) costs
 * one row write, not two. Bounded: at most max entries; past that the caller writes through. */
#ifndef SIPSCOPE_DEFERRED_H
#define SIPSCOPE_DEFERRED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct deferred deferred_t;

/* NULL on allocation failure. */
deferred_t *deferred_new(size_t max_entries);
void deferred_free(deferred_t *d);
/* Keep a copy of the len bytes at blob under key, replacing what key held. False when full or
 * out of memory (nothing kept: the caller writes it now). */
bool deferred_put(deferred_t *d, uint64_t key, const void *blob, size_t len);
/* Forget what key holds, if anything. */
void deferred_drop(deferred_t *d, uint64_t key);
/* Entries held. */
size_t deferred_count(const deferred_t *d);
/* Hand every entry to fn (its own copy, writable, valid during the call), then forget them all.
 * Stops at fn's first non-zero result, which it returns (everything is forgotten anyway). */
int deferred_drain(deferred_t *d, int (*fn)(void *ctx, uint8_t *blob), void *ctx);

#endif
