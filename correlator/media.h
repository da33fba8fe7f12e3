/* media: the correlator's bounded building blocks: an object pool, the index of SDP-announced
 * media endpoints and the RTP flow hash. Private to correlator/ (corr.c and media.c). */
#ifndef SIPSCOPE_MEDIA_H
#define SIPSCOPE_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "netaddr.h"

/* ---- pool: fixed-size objects carved from slabs up to a cap and recycled through a free list,
 * so that the steady state allocates nothing (slabs are only added while the live count grows). */
typedef struct {
    size_t size;     /* object size (rounded up to pointer alignment) */
    size_t per_slab; /* objects in the newest slab */
    size_t max;      /* cap on live objects */
    size_t live;
    void *free_list; /* recycled objects, linked through their first word */
    void **slabs;
    size_t n_slabs, cap_slabs;
    size_t carved; /* objects carved from the newest slab */
} media_pool_t;

void media_pool_init(media_pool_t *p, size_t size, size_t max);
/* A zeroed object, or NULL at the cap or when malloc fails. Owned by the pool: media_pool_put. */
void *media_pool_get(media_pool_t *p);
void media_pool_put(media_pool_t *p, void *obj);
/* Frees every slab (objects handed out become invalid). */
void media_pool_reset(media_pool_t *p);

/* ---- packed endpoint key: no padding, so it can be hashed and compared as bytes. */
typedef struct {
    uint8_t family; /* 4 or 6 */
    uint8_t zero;   /* always 0 */
    uint16_t port;
    uint8_t addr[16]; /* IPv4 in addr[0..3], rest zero */
} media_key_t;

_Static_assert(sizeof(media_key_t) == 20, "media_key_t must be packed");

void media_key_from(media_key_t *k, const net_endpoint_t *ep);
void media_key_to(const media_key_t *k, net_endpoint_t *ep);
static inline bool media_key_eq(const media_key_t *a, const media_key_t *b)
{
    return memcmp(a, b, sizeof(*a)) == 0;
}

/* ---- endpoint index: announced media endpoint -> the calls that announced it.
 * Port reuse: an endpoint holds one claim per announcing owner, newest first (an owner that
 * announces it again moves its claim to the front); a claim lives until its owner releases it,
 * so that a stream can be matched to an older call that still uses the endpoint. */
enum { MEDIA_RTP = 1, MEDIA_RTCP = 2, MEDIA_MUX = 3 /* RTP and RTCP on one port (RFC 5761) */ };

#define MEDIA_NONE UINT32_MAX

/* One owner's claim on an endpoint. */
typedef struct {
    uint32_t newer, older; /* claims on the same endpoint (MEDIA_NONE at the ends); free list */
    uint32_t key_h;        /* the endpoint's entry */
    uint8_t side;          /* 0 caller, 1 callee */
    uint8_t kind;          /* MEDIA_RTP, MEDIA_RTCP, MEDIA_MUX; 0 when free */
    media_key_t key;
    int64_t ts;  /* when owner last announced the endpoint */
    void *owner; /* borrowed; NULL when free */
} media_ent_t;

typedef struct media_idx media_idx_t;

/* Index of at most max_entries claims over about n_buckets chains of endpoints (rounded up to a
 * power of two); NULL on allocation failure. Free with media_idx_free. */
media_idx_t *media_idx_new(size_t max_entries, size_t n_buckets, uint64_t seed);
void media_idx_free(media_idx_t *idx);
/* A new claim of owner on ep at time ts, as the newest. The caller makes sure owner holds no
 * claim on ep yet (else media_idx_renew). Returns its handle, or MEDIA_NONE when the index is
 * full or the bucket's chain of endpoints is at its cap. */
uint32_t media_idx_announce(media_idx_t *idx, const net_endpoint_t *ep, void *owner, uint8_t side,
                            uint8_t kind, int64_t ts);
/* The claim h, announced again at ts: it becomes its endpoint's newest, with side and kind. */
void media_idx_renew(media_idx_t *idx, uint32_t h, uint8_t side, uint8_t kind, int64_t ts);
/* Drop the claim h if owner holds it. */
void media_idx_release(media_idx_t *idx, uint32_t h, const void *owner);
/* The newest claim on ep, or NULL. Borrowed until the next announce/renew/release. */
const media_ent_t *media_idx_find(const media_idx_t *idx, const net_endpoint_t *ep);
/* The next older claim on e's endpoint, or NULL. Borrowed likewise. */
const media_ent_t *media_idx_older(const media_idx_t *idx, const media_ent_t *e);
/* The claim behind handle h (may be free or reused now). Borrowed. */
const media_ent_t *media_idx_get(const media_idx_t *idx, uint32_t h);
/* Claims held. */
size_t media_idx_count(const media_idx_t *idx);

/* ---- RTP flow hash: intrusive nodes keyed by (src, dst, ssrc); the table never allocates. */
typedef struct {
    media_key_t src, dst;
    uint32_t ssrc;
} media_flow_key_t;

_Static_assert(sizeof(media_flow_key_t) == 44, "media_flow_key_t must be packed");

typedef struct media_flow {
    struct media_flow *hnext;
    uint64_t hash;
    media_flow_key_t key;
} media_flow_t;

typedef struct {
    media_flow_t **buckets;
    size_t mask;
    size_t count;       /* flows linked */
    size_t max_buckets; /* the table grows up to this */
    uint64_t seed;
} media_flows_t;

/* Chains longer than this are not walked: inserts into a full chain are refused. */
#define MEDIA_CHAIN_MAX 32

/* A table that grows with its flows up to about max buckets (a power of two). 0, or -ENOMEM.
 * Free with media_flows_reset. Nodes stay where they are when it grows. */
int media_flows_init(media_flows_t *t, size_t max, uint64_t seed);
void media_flows_reset(media_flows_t *t);
/* The hash of flow (src, dst, ssrc), and its node (borrowed) or NULL. Both work on the endpoints
 * themselves, for the per-packet path: no key is built, and IPv4 addresses are read as the 4
 * bytes they are. A node's key and hash are set from the same endpoints (media_key_from). */
uint64_t media_flows_hash(const media_flows_t *t, const net_endpoint_t *src,
                          const net_endpoint_t *dst, uint32_t ssrc);
media_flow_t *media_flows_find(const media_flows_t *t, const net_endpoint_t *src,
                               const net_endpoint_t *dst, uint32_t ssrc, uint64_t hash);
/* Link f (key and hash already set). False when the chain is at MEDIA_CHAIN_MAX. */
bool media_flows_insert(media_flows_t *t, media_flow_t *f);
void media_flows_remove(media_flows_t *t, media_flow_t *f);

/* Smallest power of two >= n (at least 16). */
size_t media_pow2(size_t n);

#endif
