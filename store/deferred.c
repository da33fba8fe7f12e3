/* deferred: an open-addressing table of byte copies keyed by a 64-bit key (deferred.h). Dropped
 * entries leave a tombstone (their key, no copy) until the next drain clears the table, which
 * happens at every commit (at least once a second). */
#include "deferred.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"

typedef struct {
    uint64_t key;
    uint8_t *blob; /* NULL: empty (key 0) or a tombstone */
    bool used;     /* the slot holds a key (live or tombstone) */
} slot_t;

struct deferred {
    slot_t *slots;
    size_t mask;
    size_t used; /* slots with a key, tombstones included */
    size_t live;
    size_t max;
};

deferred_t *deferred_new(size_t max_entries)
{
    deferred_t *d = calloc(1, sizeof(*d));
    size_t cap = 16;
    while (cap < max_entries * 2)
        cap *= 2;
    if (d != NULL)
        d->slots = calloc(cap, sizeof(*d->slots));
    if (d == NULL || d->slots == NULL) {
        free(d);
        return NULL;
    }
    d->mask = cap - 1;
    d->max = max_entries;
    return d;
}

void deferred_free(deferred_t *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i <= d->mask; i++)
        free(d->slots[i].blob);
    free(d->slots);
    free(d);
}

/* key's slot, or the empty slot where it would go. The table is never full (max <= half). */
static slot_t *find(deferred_t *d, uint64_t key)
{
    size_t i = (size_t)hash_mix(key) & d->mask;
    while (d->slots[i].used && d->slots[i].key != key)
        i = (i + 1) & d->mask;
    return &d->slots[i];
}

bool deferred_put(deferred_t *d, uint64_t key, const void *blob, size_t len)
{
    slot_t *s = find(d, key);
    if (!s->used && d->used >= d->max)
        return false;
    uint8_t *copy = malloc(len);
    if (copy == NULL)
        return false;
    memcpy(copy, blob, len);
    if (!s->used) {
        s->used = true;
        s->key = key;
        d->used++;
    }
    if (s->blob == NULL)
        d->live++;
    free(s->blob);
    s->blob = copy;
    return true;
}

void deferred_drop(deferred_t *d, uint64_t key)
{
    if (d->live == 0)
        return;
    slot_t *s = find(d, key);
    if (s->used && s->blob != NULL) {
        free(s->blob);
        s->blob = NULL;
        d->live--;
    }
}

size_t deferred_count(const deferred_t *d)
{
    return d->live;
}

int deferred_drain(deferred_t *d, int (*fn)(void *ctx, uint8_t *blob), void *ctx)
{
    int rc = 0;
    if (d->used == 0)
        return 0;
    for (size_t i = 0; i <= d->mask; i++) {
        slot_t *s = &d->slots[i];
        if (s->blob != NULL && rc == 0)
            rc = fn(ctx, s->blob);
        free(s->blob);
        memset(s, 0, sizeof(*s));
    }
    d->used = d->live = 0;
    return rc;
}
