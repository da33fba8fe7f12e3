/* ipfrag: IPv4 (RFC 791) and IPv6 (RFC 8200 §4.5) fragment reassembly in a bounded pool. */
#include "ipfrag.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"

/* Fragment data lives in fixed 2 KB blocks from one pool allocated up front: block i of a
 * datagram holds payload bytes [i*2048, (i+1)*2048). A 1500-byte MTU fragment touches at most
 * two blocks, a 65535-byte datagram 32. When the pool or the descriptors run out, the oldest
 * datagram is evicted: under a flood of bogus first fragments the real ones, which complete
 * within milliseconds, still get through (the idea of Linux's ipfrag_high_thresh). */
#define BLOCK_SHIFT 11
#define BLOCK_SIZE  (1u << BLOCK_SHIFT)
#define MAX_BLOCKS  ((IPFRAG_MAX_DGRAM + BLOCK_SIZE) / BLOCK_SIZE)
/* Disjoint byte ranges held per datagram. Adjacent ranges merge, so in-order, reversed and
 * duplicated fragments all stay at one range; only a sparse pattern uses more, and a datagram
 * that would need more than this is dropped as hostile. */
#define MAX_RANGES 16
#define NONE       UINT32_MAX

typedef struct {
    ipfrag_key_t key;
    uint32_t hnext;   /* hash chain, NONE-terminated; free-list link when unused */
    uint32_t older;   /* age list (creation order): towards the head */
    uint32_t newer;   /* towards the tail */
    int64_t first_ns; /* arrival of the first fragment seen */
    uint32_t total;   /* payload length, known once the last fragment (MF=0) is seen */
    bool have_total;
    uint8_t nranges;
    uint32_t ranges[MAX_RANGES][2]; /* sorted, disjoint, non-adjacent [start, end) */
    uint32_t blocks[MAX_BLOCKS];    /* pool block index, NONE when absent */
} dgram_t;

struct ipfrag {
    cap_stats_t *stats;
    int64_t timeout_ns;
    uint64_t seed;
    dgram_t *dg;
    uint32_t ndg;
    uint32_t free_dg; /* released descriptors, linked through hnext */
    uint32_t used_dg; /* descriptors [used_dg, ndg) were never handed out */
    uint32_t oldest, newest;
    uint32_t count;
    uint32_t *buckets;
    uint32_t mask;
    uint8_t *pool;
    uint32_t nblocks;
    uint32_t *free_blocks; /* stack of released block indices */
    uint32_t nfree;
    uint32_t used_blocks; /* blocks [used_blocks, nblocks) were never handed out */
};

ipfrag_t *ipfrag_new(size_t max_bytes, uint32_t timeout_ms, cap_stats_t *stats)
{
    ipfrag_t *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->stats = stats;
    t->timeout_ns = (int64_t)timeout_ms * 1000000;
    /* Per table (ASLR varies the address), so that crafted keys cannot aim at one chain in
     * every run. Results never depend on the seed, only the chain layout does. */
    t->seed = hash_mix((uint64_t)(uintptr_t)t ^ 0x6a09e667f3bcc909ULL);
    size_t nb = max_bytes / BLOCK_SIZE;
    if (nb < 1)
        nb = 1;
    if (nb > (1u << 24))
        nb = 1u << 24;
    t->nblocks = (uint32_t)nb;
    /* Every held datagram owns a block except the rare one whose only fragment was empty, so
     * descriptors rarely run out before blocks; a floor keeps tiny pools usable. */
    t->ndg = t->nblocks < 16 ? 16 : t->nblocks;
    uint32_t nbuckets = 16;
    while (nbuckets < t->ndg)
        nbuckets <<= 1;
    t->mask = nbuckets - 1;
    t->dg = calloc(t->ndg, sizeof(*t->dg));
    t->buckets = malloc(nbuckets * sizeof(*t->buckets));
    /* calloc leaves the pages untouched until a fragment lands in them. */
    t->pool = calloc(t->nblocks, BLOCK_SIZE);
    t->free_blocks = malloc(t->nblocks * sizeof(*t->free_blocks));
    if (t->dg == NULL || t->buckets == NULL || t->pool == NULL || t->free_blocks == NULL) {
        ipfrag_free(t);
        return NULL;
    }
    ipfrag_reset(t);
    return t;
}

void ipfrag_free(ipfrag_t *t)
{
    if (t == NULL)
        return;
    free(t->dg);
    free(t->buckets);
    free(t->pool);
    free(t->free_blocks);
    free(t);
}

/* Descriptors and blocks are handed out from a high-water mark before any is reused, so a
 * new or reset table touches only its bucket array: the pool's pages stay untouched until a
 * load needs them. */
void ipfrag_reset(ipfrag_t *t)
{
    memset(t->buckets, 0xff, ((size_t)t->mask + 1) * sizeof(*t->buckets));
    t->free_dg = NONE;
    t->used_dg = 0;
    t->oldest = t->newest = NONE;
    t->count = 0;
    t->nfree = 0;
    t->used_blocks = 0;
}

size_t ipfrag_count(const ipfrag_t *t)
{
    return t->count;
}

static uint32_t bucket_of(const ipfrag_t *t, const ipfrag_key_t *key)
{
    return (uint32_t)hash_bytes(key, sizeof(*key), t->seed) & t->mask;
}

static uint32_t find(const ipfrag_t *t, const ipfrag_key_t *key)
{
    for (uint32_t i = t->buckets[bucket_of(t, key)]; i != NONE; i = t->dg[i].hnext)
        if (memcmp(&t->dg[i].key, key, sizeof(*key)) == 0)
            return i;
    return NONE;
}

/* Unlink descriptor i from its hash chain and the age list, and return it and its blocks. */
static void release(ipfrag_t *t, uint32_t i)
{
    dgram_t *d = &t->dg[i];
    uint32_t *link = &t->buckets[bucket_of(t, &d->key)];
    while (*link != i)
        link = &t->dg[*link].hnext;
    *link = d->hnext;
    if (d->older != NONE)
        t->dg[d->older].newer = d->newer;
    else
        t->oldest = d->newer;
    if (d->newer != NONE)
        t->dg[d->newer].older = d->older;
    else
        t->newest = d->older;
    for (uint32_t b = 0; b < MAX_BLOCKS; b++)
        if (d->blocks[b] != NONE)
            t->free_blocks[t->nfree++] = d->blocks[b];
    d->hnext = t->free_dg;
    t->free_dg = i;
    t->count--;
}

/* Evict the oldest datagram other than keep to free resources. False if there is none. */
static bool evict_oldest(ipfrag_t *t, uint32_t keep)
{
    uint32_t victim = t->oldest;
    if (victim == keep && victim != NONE)
        victim = t->dg[victim].newer;
    if (victim == NONE)
        return false;
    release(t, victim);
    t->stats->frag_dropped++;
    return true;
}

static uint32_t create(ipfrag_t *t, const ipfrag_key_t *key, int64_t ts_ns)
{
    uint32_t i;
    if (t->free_dg == NONE && t->used_dg < t->ndg) {
        i = t->used_dg++;
    } else {
        if (t->free_dg == NONE && !evict_oldest(t, NONE))
            return NONE;
        i = t->free_dg;
        t->free_dg = t->dg[i].hnext;
    }
    dgram_t *d = &t->dg[i];
    d->key = *key;
    d->first_ns = ts_ns;
    d->total = 0;
    d->have_total = false;
    d->nranges = 0;
    for (uint32_t b = 0; b < MAX_BLOCKS; b++)
        d->blocks[b] = NONE;
    uint32_t bk = bucket_of(t, key);
    d->hnext = t->buckets[bk];
    t->buckets[bk] = i;
    d->older = t->newest;
    d->newer = NONE;
    if (t->newest != NONE)
        t->dg[t->newest].newer = i;
    else
        t->oldest = i;
    t->newest = i;
    t->count++;
    return i;
}

/* Copy n bytes to payload offset pos of datagram i, taking blocks from the pool (evicting
 * older datagrams when it is empty). False when even that cannot make room. */
static bool store(ipfrag_t *t, uint32_t i, uint32_t pos, const uint8_t *src, uint32_t n)
{
    while (n > 0) {
        uint32_t b = pos >> BLOCK_SHIFT, at = pos & (BLOCK_SIZE - 1);
        uint32_t chunk = BLOCK_SIZE - at < n ? BLOCK_SIZE - at : n;
        if (t->dg[i].blocks[b] == NONE) {
            if (t->nfree == 0 && t->used_blocks < t->nblocks) {
                t->dg[i].blocks[b] = t->used_blocks++;
            } else {
                while (t->nfree == 0)
                    if (!evict_oldest(t, i))
                        return false;
                t->dg[i].blocks[b] = t->free_blocks[--t->nfree];
            }
        }
        memcpy(t->pool + (size_t)t->dg[i].blocks[b] * BLOCK_SIZE + at, src, chunk);
        pos += chunk;
        src += chunk;
        n -= chunk;
    }
    return true;
}

/* Bytes of [start, end) that ranges of d already hold. */
static uint32_t covered(const dgram_t *d, uint32_t start, uint32_t end)
{
    uint32_t n = 0;
    for (uint32_t r = 0; r < d->nranges; r++) {
        uint32_t a = d->ranges[r][0] > start ? d->ranges[r][0] : start;
        uint32_t b = d->ranges[r][1] < end ? d->ranges[r][1] : end;
        if (a < b)
            n += b - a;
    }
    return n;
}

/* Merge [start, end) into the sorted range list. False if the list would overflow. */
static bool add_range(dgram_t *d, uint32_t start, uint32_t end)
{
    uint32_t r = 0;
    while (r < d->nranges && d->ranges[r][1] < start)
        r++;
    /* Ranges r.. that touch or overlap [start, end) collapse into one. */
    uint32_t last = r;
    while (last < d->nranges && d->ranges[last][0] <= end)
        last++;
    if (last > r) {
        if (d->ranges[r][0] < start)
            start = d->ranges[r][0];
        if (d->ranges[last - 1][1] > end)
            end = d->ranges[last - 1][1];
    } else if (d->nranges == MAX_RANGES) {
        return false;
    }
    uint32_t removed = last - r; /* ranges replaced by the merged one */
    if (removed == 0) {
        memmove(&d->ranges[r + 1], &d->ranges[r], (d->nranges - r) * sizeof(d->ranges[0]));
        d->nranges++;
    } else if (removed > 1) {
        memmove(&d->ranges[r + 1], &d->ranges[last], (d->nranges - last) * sizeof(d->ranges[0]));
        d->nranges = (uint8_t)(d->nranges - (removed - 1));
    }
    d->ranges[r][0] = start;
    d->ranges[r][1] = end;
    return true;
}

static ipfrag_verdict_t drop(ipfrag_t *t, uint32_t i)
{
    release(t, i);
    t->stats->frag_dropped++;
    return IPFRAG_DROPPED;
}

ipfrag_verdict_t ipfrag_add(ipfrag_t *t, const ipfrag_key_t *key, int64_t ts_ns, uint32_t off,
                            const uint8_t *data, uint32_t len, bool more, uint32_t max_end,
                            uint8_t *out, size_t *out_len)
{
    /* RFC 791 §3.2 and RFC 8200 §4.5: every fragment but the last carries a multiple of 8
     * bytes; an empty non-final fragment carries nothing and only costs state. */
    if (more && (len == 0 || (len & 7) != 0))
        return IPFRAG_BAD;
    uint32_t end = off + len;
    uint32_t i = find(t, key);
    if (end > max_end || end > IPFRAG_MAX_DGRAM) {
        /* Would overflow 65535 bytes ("ping of death"): the whole datagram is bogus. */
        if (i != NONE)
            return drop(t, i);
        t->stats->frag_dropped++;
        return IPFRAG_DROPPED;
    }
    if (i == NONE) {
        i = create(t, key, ts_ns);
        if (i == NONE) {
            t->stats->frag_dropped++;
            return IPFRAG_DROPPED;
        }
    }
    dgram_t *d = &t->dg[i];
    /* The last fragment fixes the length; fragments disagreeing with it are inconsistent. */
    if (!more) {
        if ((d->have_total && d->total != end) ||
            (d->nranges > 0 && d->ranges[d->nranges - 1][1] > end))
            return drop(t, i);
        d->total = end;
        d->have_total = true;
    } else if (d->have_total && end > d->total) {
        return drop(t, i);
    }

    uint32_t held = covered(d, off, end);
    if (held > 0) {
        t->stats->frag_overlaps++;
        /* RFC 5722: IPv6 overlapping fragments discard the datagram. Exact retransmissions
         * (everything already held) are tolerated, as Linux does since 2018. IPv4 keeps
         * the bytes that arrived first (the BSD/Linux "first" policy of RFC 1858 era stacks). */
        if (held < len && key->family == 6)
            return drop(t, i);
    }
    if (held < len) {
        /* Copy only the gaps between ranges already held (first wins). */
        uint32_t cur = off;
        for (uint32_t r = 0; r < d->nranges && cur < end; r++) {
            uint32_t rs = d->ranges[r][0], re = d->ranges[r][1];
            if (re <= cur)
                continue;
            if (rs >= end)
                break;
            if (rs > cur && !store(t, i, cur, data + (cur - off), rs - cur))
                return drop(t, i);
            cur = re;
        }
        if (cur < end && !store(t, i, cur, data + (cur - off), end - cur))
            return drop(t, i);
        if (!add_range(d, off, end))
            return drop(t, i);
    }
    if (!d->have_total || d->nranges != 1 || d->ranges[0][0] != 0 || d->ranges[0][1] != d->total)
        return IPFRAG_HELD;

    for (uint32_t pos = 0; pos < d->total; pos += BLOCK_SIZE) {
        uint32_t n = d->total - pos < BLOCK_SIZE ? d->total - pos : BLOCK_SIZE;
        memcpy(out + pos, t->pool + (size_t)d->blocks[pos >> BLOCK_SHIFT] * BLOCK_SIZE, n);
    }
    *out_len = d->total;
    release(t, i);
    return IPFRAG_DONE;
}

void ipfrag_expire(ipfrag_t *t, int64_t now_ns)
{
    /* Unsigned difference: capture times from a file are not trusted to be sane. */
    while (t->oldest != NONE && now_ns >= t->dg[t->oldest].first_ns &&
           (uint64_t)now_ns - (uint64_t)t->dg[t->oldest].first_ns >= (uint64_t)t->timeout_ns) {
        release(t, t->oldest);
        t->stats->frag_timeouts++;
    }
}
