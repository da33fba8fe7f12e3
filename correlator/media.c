/* media: object pool, SDP media endpoint index and RTP flow hash for the correlator. */
#include "media.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hash.h"

size_t media_pow2(size_t n)
{
    size_t p = 16;
    while (p < n && p < ((size_t)1 << 40))
        p <<= 1;
    return p;
}

/* ------------------------------------------------------------------ pool */

void media_pool_init(media_pool_t *p, size_t size, size_t max)
{
    memset(p, 0, sizeof(*p));
    size_t align = sizeof(void *) > sizeof(double) ? sizeof(void *) : sizeof(double);
    if (size < sizeof(void *))
        size = sizeof(void *);
    if (size >= 64)
        align = 64; /* big objects start on a cache line: no line is shared or split */
    p->size = (size + align - 1) / align * align;
    p->max = max;
}

/* Slabs double from 64 KiB up to one 2 MiB huge page: a small capture pays little, and a big
 * one (20,000 streams are 14 MB) is not spread over thousands of 4 KiB pages, whose TLB misses
 * cost as much as the cache misses on every RTP packet. */
#define SLAB_MIN  ((size_t)64 << 10)
#define SLAB_HUGE ((size_t)2 << 20)

static void *slab_alloc(size_t bytes)
{
    if (bytes < SLAB_HUGE)
        return aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    void *slab = aligned_alloc(SLAB_HUGE, bytes);
#ifdef MADV_HUGEPAGE
    if (slab != NULL)
        (void)madvise(slab, bytes, MADV_HUGEPAGE); /* a hint: 4 KiB pages still work */
#endif
    return slab;
}

void *media_pool_get(media_pool_t *p)
{
    if (p->live >= p->max)
        return NULL;
    void *obj = p->free_list;
    if (obj != NULL) {
        memcpy(&p->free_list, obj, sizeof(void *));
    } else {
        if (p->n_slabs == 0 || p->carved == p->per_slab) {
            if (p->n_slabs == p->cap_slabs) {
                size_t cap = p->cap_slabs ? p->cap_slabs * 2 : 16;
                void **slabs = realloc(p->slabs, cap * sizeof(*slabs));
                if (slabs == NULL)
                    return NULL;
                p->slabs = slabs;
                p->cap_slabs = cap;
            }
            size_t bytes = p->n_slabs < 5 ? SLAB_MIN << p->n_slabs : SLAB_HUGE;
            size_t n = bytes / p->size;
            if (n < 8) {
                n = 8;
                bytes = n * p->size;
            }
            void *slab = slab_alloc(bytes);
            if (slab == NULL)
                return NULL;
            p->slabs[p->n_slabs++] = slab;
            p->per_slab = n;
            p->carved = 0;
        }
        obj = (char *)p->slabs[p->n_slabs - 1] + p->carved * p->size;
        p->carved++;
    }
    memset(obj, 0, p->size);
    p->live++;
    return obj;
}

void media_pool_put(media_pool_t *p, void *obj)
{
    if (obj == NULL)
        return;
    memcpy(obj, &p->free_list, sizeof(void *));
    p->free_list = obj;
    p->live--;
}

void media_pool_reset(media_pool_t *p)
{
    for (size_t i = 0; i < p->n_slabs; i++)
        free(p->slabs[i]);
    free(p->slabs);
    p->slabs = NULL;
    p->n_slabs = p->cap_slabs = p->carved = p->live = 0;
    p->free_list = NULL;
}

/* ------------------------------------------------------------------ keys */

void media_key_from(media_key_t *k, const net_endpoint_t *ep)
{
    /* net_addr_t keeps the bytes after an IPv4 address zero, so a straight copy is canonical. */
    k->family = ep->addr.family;
    k->zero = 0;
    k->port = ep->port;
    memcpy(k->addr, ep->addr.bytes, 16);
}

void media_key_to(const media_key_t *k, net_endpoint_t *ep)
{
    memset(ep, 0, sizeof(*ep));
    if (k->family == 4)
        net_addr_v4(&ep->addr, k->addr);
    else if (k->family == 6)
        net_addr_v6(&ep->addr, k->addr);
    ep->port = k->port;
}

/* ------------------------------------------------------------------ endpoint index */

/* One announced endpoint: its bucket chain and its newest claim. */
typedef struct {
    uint32_t next;   /* bucket chain, or free list */
    uint32_t newest; /* MEDIA_NONE only while free */
    media_key_t key;
} idx_key_t;

/* Endpoints and claims live in two arrays addressed by 32-bit handles (half the size of
 * pointers in the chains); each doubles as it fills, up to max, and freed slots are reused
 * first. Every endpoint holds at least one claim, so there are never more endpoints than
 * claims. */
struct media_idx {
    uint32_t *buckets;
    size_t mask;
    idx_key_t *keys;
    size_t n_keys, cap_keys;
    uint32_t free_key;
    media_ent_t *ents;
    size_t n_ents, cap_ents;
    uint32_t free_ent;
    size_t max_ents, live;
    uint64_t seed;
};

media_idx_t *media_idx_new(size_t max_entries, size_t n_buckets, uint64_t seed)
{
    media_idx_t *idx = calloc(1, sizeof(*idx));
    if (idx == NULL)
        return NULL;
    if (max_entries == 0)
        max_entries = 1;
    if (max_entries >= MEDIA_NONE)
        max_entries = MEDIA_NONE - 1;
    size_t nb = media_pow2(n_buckets);
    idx->buckets = malloc(nb * sizeof(*idx->buckets));
    if (idx->buckets == NULL) {
        free(idx);
        return NULL;
    }
    for (size_t i = 0; i < nb; i++)
        idx->buckets[i] = MEDIA_NONE;
    idx->mask = nb - 1;
    idx->max_ents = max_entries;
    idx->free_key = idx->free_ent = MEDIA_NONE;
    idx->seed = seed;
    return idx;
}

void media_idx_free(media_idx_t *idx)
{
    if (idx == NULL)
        return;
    free(idx->buckets);
    free(idx->keys);
    free(idx->ents);
    free(idx);
}

static size_t idx_bucket(const media_idx_t *idx, const media_key_t *k)
{
    return (size_t)hash_bytes(k, sizeof(*k), idx->seed) & idx->mask;
}

/* Room for one more slot in an array of elem-sized slots: false at max or out of memory. */
static bool idx_grow(void **arr, size_t *cap, size_t n, size_t max, size_t elem)
{
    if (n < *cap)
        return true;
    if (*cap >= max)
        return false;
    size_t want = *cap ? *cap * 2 : 256;
    if (want > max)
        want = max;
    void *grown = realloc(*arr, want * elem);
    if (grown == NULL)
        return false;
    *arr = grown;
    *cap = want;
    return true;
}

static uint32_t key_alloc(media_idx_t *idx)
{
    if (idx->free_key != MEDIA_NONE) {
        uint32_t h = idx->free_key;
        idx->free_key = idx->keys[h].next;
        return h;
    }
    if (!idx_grow((void **)&idx->keys, &idx->cap_keys, idx->n_keys, idx->max_ents,
                  sizeof(*idx->keys)))
        return MEDIA_NONE;
    return (uint32_t)idx->n_keys++;
}

static uint32_t ent_alloc(media_idx_t *idx)
{
    if (idx->free_ent != MEDIA_NONE) {
        uint32_t h = idx->free_ent;
        idx->free_ent = idx->ents[h].older;
        return h;
    }
    if (!idx_grow((void **)&idx->ents, &idx->cap_ents, idx->n_ents, idx->max_ents,
                  sizeof(*idx->ents)))
        return MEDIA_NONE;
    return (uint32_t)idx->n_ents++;
}

/* The endpoint entry of k, or MEDIA_NONE; *depth gets the chain length walked. */
static uint32_t key_find(const media_idx_t *idx, const media_key_t *k, size_t *depth)
{
    size_t d = 0;
    for (uint32_t h = idx->buckets[idx_bucket(idx, k)]; h != MEDIA_NONE; h = idx->keys[h].next) {
        if (media_key_eq(&idx->keys[h].key, k))
            return h;
        d++;
    }
    if (depth != NULL)
        *depth = d;
    return MEDIA_NONE;
}

static void claim_link_newest(media_idx_t *idx, uint32_t h)
{
    media_ent_t *e = &idx->ents[h];
    idx_key_t *key = &idx->keys[e->key_h];
    e->newer = MEDIA_NONE;
    e->older = key->newest;
    if (key->newest != MEDIA_NONE)
        idx->ents[key->newest].newer = h;
    key->newest = h;
}

static void claim_unlink(media_idx_t *idx, uint32_t h)
{
    media_ent_t *e = &idx->ents[h];
    if (e->newer != MEDIA_NONE)
        idx->ents[e->newer].older = e->older;
    else
        idx->keys[e->key_h].newest = e->older;
    if (e->older != MEDIA_NONE)
        idx->ents[e->older].newer = e->newer;
    e->newer = e->older = MEDIA_NONE;
}

uint32_t media_idx_announce(media_idx_t *idx, const net_endpoint_t *ep, void *owner, uint8_t side,
                            uint8_t kind, int64_t ts)
{
    media_key_t k;
    media_key_from(&k, ep);
    size_t depth = 0;
    uint32_t kh = key_find(idx, &k, &depth);
    bool new_key = kh == MEDIA_NONE;
    if (new_key) {
        if (depth >= MEDIA_CHAIN_MAX || (kh = key_alloc(idx)) == MEDIA_NONE)
            return MEDIA_NONE;
        idx_key_t *key = &idx->keys[kh];
        key->key = k;
        key->newest = MEDIA_NONE;
        size_t b = idx_bucket(idx, &k);
        key->next = idx->buckets[b];
        idx->buckets[b] = kh;
    }
    uint32_t h = ent_alloc(idx);
    if (h == MEDIA_NONE) {
        if (new_key) { /* back out the empty endpoint */
            idx->buckets[idx_bucket(idx, &k)] = idx->keys[kh].next;
            idx->keys[kh].next = idx->free_key;
            idx->free_key = kh;
        }
        return MEDIA_NONE;
    }
    media_ent_t *e = &idx->ents[h];
    e->key_h = kh;
    e->key = k;
    e->owner = owner;
    e->side = side;
    e->kind = kind;
    e->ts = ts;
    claim_link_newest(idx, h);
    idx->live++;
    return h;
}

void media_idx_renew(media_idx_t *idx, uint32_t h, uint8_t side, uint8_t kind, int64_t ts)
{
    if (h >= idx->n_ents || idx->ents[h].owner == NULL)
        return;
    idx->ents[h].side = side;
    idx->ents[h].kind = kind;
    idx->ents[h].ts = ts;
    if (idx->ents[h].newer != MEDIA_NONE) {
        claim_unlink(idx, h);
        claim_link_newest(idx, h);
    }
}

void media_idx_release(media_idx_t *idx, uint32_t h, const void *owner)
{
    if (h >= idx->n_ents || idx->ents[h].owner != owner || owner == NULL)
        return;
    uint32_t kh = idx->ents[h].key_h;
    claim_unlink(idx, h);
    media_ent_t *e = &idx->ents[h];
    memset(e, 0, sizeof(*e));
    e->older = idx->free_ent;
    idx->free_ent = h;
    idx->live--;
    idx_key_t *key = &idx->keys[kh];
    if (key->newest != MEDIA_NONE)
        return;
    uint32_t *link = &idx->buckets[idx_bucket(idx, &key->key)];
    while (*link != MEDIA_NONE && *link != kh)
        link = &idx->keys[*link].next;
    if (*link == kh)
        *link = key->next;
    key->next = idx->free_key;
    idx->free_key = kh;
}

const media_ent_t *media_idx_find(const media_idx_t *idx, const net_endpoint_t *ep)
{
    media_key_t k;
    media_key_from(&k, ep);
    uint32_t kh = key_find(idx, &k, NULL);
    return kh != MEDIA_NONE ? &idx->ents[idx->keys[kh].newest] : NULL;
}

const media_ent_t *media_idx_older(const media_idx_t *idx, const media_ent_t *e)
{
    return e != NULL && e->older != MEDIA_NONE ? &idx->ents[e->older] : NULL;
}

const media_ent_t *media_idx_get(const media_idx_t *idx, uint32_t h)
{
    return h < idx->n_ents ? &idx->ents[h] : NULL;
}

size_t media_idx_count(const media_idx_t *idx)
{
    return idx->live;
}

/* ------------------------------------------------------------------ flow hash */

/* The table starts small and doubles while the flows outnumber the buckets, up to max: a
 * link with 20,000 streams reads a 256 KB table that stays in cache, not one sized for the
 * configured maximum. */
#define FLOWS_MIN_BUCKETS 1024

static int flows_alloc(media_flows_t *t, size_t nb)
{
    media_flow_t **b = calloc(nb, sizeof(*b));
    if (b == NULL)
        return -ENOMEM;
    media_flow_t **old = t->buckets;
    size_t old_n = old != NULL ? t->mask + 1 : 0;
    t->buckets = b;
    t->mask = nb - 1;
    for (size_t i = 0; i < old_n; i++) {
        media_flow_t *f = old[i];
        while (f != NULL) {
            media_flow_t *next = f->hnext;
            f->hnext = b[f->hash & t->mask];
            b[f->hash & t->mask] = f;
            f = next;
        }
    }
    free(old);
    return 0;
}

int media_flows_init(media_flows_t *t, size_t max, uint64_t seed)
{
    memset(t, 0, sizeof(*t));
    t->max_buckets = media_pow2(max);
    t->seed = seed;
    size_t nb = t->max_buckets < FLOWS_MIN_BUCKETS ? t->max_buckets : FLOWS_MIN_BUCKETS;
    return flows_alloc(t, nb);
}

void media_flows_reset(media_flows_t *t)
{
    free(t->buckets);
    t->buckets = NULL;
    t->mask = 0;
    t->count = 0;
}

uint64_t media_flows_hash(const media_flows_t *t, const net_endpoint_t *src,
                          const net_endpoint_t *dst, uint32_t ssrc)
{
    if (src->addr.family == 4 && dst->addr.family == 4) {
        /* IPv4 (nearly all media): the significant 16 bytes as two words, two multiplies and
         * one avalanche, instead of hashing all 44 bytes of zero-padded key on every packet. */
        uint32_t sa, da;
        memcpy(&sa, src->addr.bytes, 4);
        memcpy(&da, dst->addr.bytes, 4);
        uint64_t w1 = ((uint64_t)sa << 32) | da;
        uint64_t w2 = ((uint64_t)ssrc << 32) | ((uint64_t)src->port << 16) | dst->port;
        uint64_t h = (t->seed ^ w1) * 0x9e3779b97f4a7c15ULL;
        h = (h ^ (h >> 29) ^ w2) * 0xbf58476d1ce4e5b9ULL;
        return hash_mix(h);
    }
    media_flow_key_t k;
    media_key_from(&k.src, src);
    media_key_from(&k.dst, dst);
    k.ssrc = ssrc;
    return hash_bytes(&k, sizeof(k), t->seed);
}

/* A key half against an endpoint; both keep the bytes after an IPv4 address zero. */
static bool key_is_ep(const media_key_t *k, const net_endpoint_t *ep)
{
    if (k->family != ep->addr.family || k->port != ep->port)
        return false;
    if (ep->addr.family == 4) { /* one 4-byte compare, inline */
        uint32_t a, b;
        memcpy(&a, k->addr, 4);
        memcpy(&b, ep->addr.bytes, 4);
        return a == b;
    }
    return memcmp(k->addr, ep->addr.bytes, 16) == 0;
}

media_flow_t *media_flows_find(const media_flows_t *t, const net_endpoint_t *src,
                               const net_endpoint_t *dst, uint32_t ssrc, uint64_t hash)
{
    media_flow_t *f = t->buckets[hash & t->mask];
    for (size_t depth = 0; f != NULL && depth < MEDIA_CHAIN_MAX; f = f->hnext, depth++) {
        if (f->hash == hash && f->key.ssrc == ssrc && key_is_ep(&f->key.src, src) &&
            key_is_ep(&f->key.dst, dst))
            return f;
    }
    return NULL;
}

bool media_flows_insert(media_flows_t *t, media_flow_t *f)
{
    if (t->count > t->mask / 2 && t->mask + 1 < t->max_buckets)
        (void)flows_alloc(t, (t->mask + 1) * 2); /* out of memory: longer chains, still bounded */
    media_flow_t **head = &t->buckets[f->hash & t->mask];
    size_t depth = 0;
    for (const media_flow_t *g = *head; g != NULL; g = g->hnext)
        if (++depth >= MEDIA_CHAIN_MAX)
            return false;
    f->hnext = *head;
    *head = f;
    t->count++;
    return true;
}

void media_flows_remove(media_flows_t *t, media_flow_t *f)
{
    media_flow_t **link = &t->buckets[f->hash & t->mask];
    while (*link != NULL && *link != f)
        link = &(*link)->hnext;
    if (*link == f) {
        *link = f->hnext;
        t->count--;
    }
    f->hnext = NULL;
}
