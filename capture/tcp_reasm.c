/* tcp_reasm: TCP stream reassembly (RFC 9293 sequence space) with bounded flows and buffers. */
#include "tcp_reasm.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "list.h"

/* Each direction owns one buffer; offsets in it are relative to base = next_seq - len:
 *
 *   0                 len          ooo[0]      ooo[1]
 *   +-----------------+------------+-----------+------+----------+
 *   | in order, not   |   hole     | future    | hole | future   |
 *   | yet consumed    | (missing)  | segment   |      | segments |
 *   +-----------------+------------+-----------+------+----------+
 *   ^ base            ^ next_seq
 *
 * Future (out-of-order) segments are written where they belong, so filling the hole makes
 * them in-order data without another copy. The sink sees buf[0, len) and consumes a prefix,
 * which is moved out with one memmove (SIP leaves at most a partial message behind). */

/* Pending future ranges per direction; a sparser pattern is given up on. */
#define OOO_MAX 8
/* Give up on a hole after this many future segments behind it, or this much capture time:
 * RFC 6298's initial RTO (1 s) plus one doubling. A hole still open by then means the
 * capture lost the segment (the sender did not need to retransmit), so waiting only stalls
 * the messages behind it. */
#define OOO_MAX_SEGS 64
#define GAP_WAIT_NS  3000000000ULL
/* Data further behind next_seq than this is not a retransmission but a sequence jump (a
 * connection reusing the 4-tuple whose SYN we missed): resynchronise on it. */
#define RESYNC_BACK (1u << 20)
/* A released direction keeps its buffer for the next one, unless it grew beyond this. */
#define KEEP_BUFFER  (64u * 1024)
#define FIRST_BUFFER 4096u

/* Directions are numbered from 1 (0 = none), as common/list.h's ilist_t numbers entries: the
 * hash chains, the free list and the LRU all link by these ids, and flow_at maps one to its
 * slot. */
typedef struct {
    tcpreasm_key_t key;
    uint32_t hnext; /* hash chain; free-list link when unused */
    bool syn_seen;
    uint8_t nooo;
    uint16_t ooo_segs; /* future segments seen since the hole opened */
    uint32_t isn;
    uint32_t next_seq; /* next in-order sequence number */
    uint32_t len;      /* in-order bytes at buf[0, len) */
    uint32_t cap;
    int64_t last_ns;
    int64_t gap_ns;           /* when the hole opened */
    uint32_t ooo[OOO_MAX][2]; /* buffer offsets [start, end), sorted, disjoint, > len */
    uint8_t *buf;
} flow_t;

struct tcpreasm {
    cap_stats_t *stats;
    uint32_t max_buffer;
    int64_t timeout_ns;
    uint64_t seed;
    flow_t *flows;
    uint32_t nflows;
    uint32_t count;
    uint32_t free_head; /* released slots, linked through hnext */
    uint32_t used;      /* slots [used, nflows) were never handed out */
    uint32_t touched;   /* slots [touched, nflows) never were, even before a reset */
    /* Activity order, the most recent at the head: the tail is the next to evict or expire.
     * Its links live beside the flows, one per slot. */
    ilist_t lru;
    ilist_link_t *lru_links;
    uint32_t *buckets;
    uint32_t mask;
};

tcpreasm_t *tcpreasm_new(size_t max_flows, size_t max_buffer, uint32_t timeout_ms,
                         cap_stats_t *stats)
{
    tcpreasm_t *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    if (max_flows < 1)
        max_flows = 1;
    if (max_flows > (1u << 24))
        max_flows = 1u << 24;
    if (max_buffer < 64)
        max_buffer = 64;
    if (max_buffer > (1u << 30))
        max_buffer = 1u << 30;
    t->stats = stats;
    t->max_buffer = (uint32_t)max_buffer;
    t->timeout_ns = (int64_t)timeout_ms * 1000000;
    /* Per table (ASLR varies the address), so that crafted keys cannot aim at one chain in
     * every run. Results never depend on the seed, only the chain layout does. */
    t->seed = hash_mix((uint64_t)(uintptr_t)t ^ 0xbb67ae8584caa73bULL);
    t->nflows = (uint32_t)max_flows;
    uint32_t nbuckets = 16;
    while (nbuckets < t->nflows)
        nbuckets <<= 1;
    t->mask = nbuckets - 1;
    t->flows = calloc(t->nflows, sizeof(*t->flows));
    t->lru_links = calloc(t->nflows, sizeof(*t->lru_links));
    t->buckets = malloc(nbuckets * sizeof(*t->buckets));
    if (t->flows == NULL || t->lru_links == NULL || t->buckets == NULL) {
        tcpreasm_free(t);
        return NULL;
    }
    tcpreasm_reset(t);
    return t;
}

void tcpreasm_free(tcpreasm_t *t)
{
    if (t == NULL)
        return;
    if (t->flows != NULL)
        for (uint32_t i = 0; i < t->touched; i++)
            free(t->flows[i].buf);
    free(t->flows);
    free(t->lru_links);
    free(t->buckets);
    free(t);
}

/* Slots are handed out from a high-water mark before any is reused, so a new or reset table
 * touches only its bucket array. Slots keep their buffers across a reset for reuse. */
void tcpreasm_reset(tcpreasm_t *t)
{
    memset(t->buckets, 0, ((size_t)t->mask + 1) * sizeof(*t->buckets));
    t->free_head = 0;
    t->used = 0;
    ilist_init(&t->lru, t->lru_links);
    t->count = 0;
}

size_t tcpreasm_count(const tcpreasm_t *t)
{
    return t->count;
}

/* now - then in ns, 0 if time went backwards; never overflows on hostile timestamps. */
static uint64_t elapsed(int64_t now, int64_t then)
{
    return now > then ? (uint64_t)now - (uint64_t)then : 0;
}

static uint32_t bucket_of(const tcpreasm_t *t, const tcpreasm_key_t *key)
{
    return (uint32_t)hash_bytes(key, sizeof(*key), t->seed) & t->mask;
}

/* Direction id (1-based) to its slot. */
static inline flow_t *flow_at(const tcpreasm_t *t, uint32_t id)
{
    return &t->flows[id - 1];
}

/* The id of direction key, or 0. */
static uint32_t find(const tcpreasm_t *t, const tcpreasm_key_t *key)
{
    for (uint32_t i = t->buckets[bucket_of(t, key)]; i != 0; i = flow_at(t, i)->hnext)
        if (memcmp(&flow_at(t, i)->key, key, sizeof(*key)) == 0)
            return i;
    return 0;
}

static void release(tcpreasm_t *t, uint32_t i)
{
    flow_t *f = flow_at(t, i);
    uint32_t *link = &t->buckets[bucket_of(t, &f->key)];
    while (*link != i)
        link = &flow_at(t, *link)->hnext;
    *link = f->hnext;
    ilist_remove(&t->lru, i);
    if (f->cap > KEEP_BUFFER) {
        free(f->buf);
        f->buf = NULL;
        f->cap = 0;
    }
    f->hnext = t->free_head;
    t->free_head = i;
    t->count--;
}

static uint32_t create(tcpreasm_t *t, const tcpreasm_key_t *key, int64_t ts_ns)
{
    uint32_t i;
    if (t->free_head == 0 && t->used < t->nflows) {
        i = ++t->used;
        if (t->touched < t->used)
            t->touched = t->used;
    } else {
        if (t->free_head == 0) {
            /* Full: the least recently active direction goes. Idle SIP connections
             * (keep-alive only) lose their partial message, busy ones keep flowing. */
            release(t, t->lru.tail);
            t->stats->tcp_flows_evicted++;
        }
        i = t->free_head;
        t->free_head = flow_at(t, i)->hnext;
    }
    flow_t *f = flow_at(t, i);
    f->key = *key;
    f->syn_seen = false;
    f->nooo = 0;
    f->ooo_segs = 0;
    f->isn = 0;
    f->next_seq = 0;
    f->len = 0;
    f->last_ns = ts_ns;
    f->gap_ns = 0;
    uint32_t bk = bucket_of(t, key);
    f->hnext = t->buckets[bk];
    t->buckets[bk] = i;
    ilist_push_head(&t->lru, i);
    t->count++;
    return i;
}

/* Grow f's buffer to hold need bytes (need <= max_buffer). False on allocation failure. */
static bool reserve(const tcpreasm_t *t, flow_t *f, uint32_t need)
{
    if (need <= f->cap)
        return true;
    uint32_t cap = f->cap ? f->cap : FIRST_BUFFER;
    while (cap < need)
        cap = cap > t->max_buffer / 2 ? t->max_buffer : cap * 2;
    if (cap > t->max_buffer)
        cap = t->max_buffer;
    uint8_t *buf = realloc(f->buf, cap);
    if (buf == NULL)
        return false;
    f->buf = buf;
    f->cap = cap;
    return true;
}

/* End of the bytes in use, future segments included. */
static uint32_t extent(const flow_t *f)
{
    return f->nooo ? f->ooo[f->nooo - 1][1] : f->len;
}

/* Drop everything buffered and count the loss. next_seq stays: the caller decides where the
 * stream continues. */
static void drop_all(tcpreasm_t *t, flow_t *f)
{
    f->len = 0;
    f->nooo = 0;
    f->ooo_segs = 0;
    t->stats->tcp_gaps++;
}

/* Future ranges that the in-order data now reaches become in-order data. */
static void absorb_ooo(flow_t *f)
{
    uint32_t r = 0;
    while (r < f->nooo && f->ooo[r][0] <= f->len) {
        if (f->ooo[r][1] > f->len) {
            f->next_seq += f->ooo[r][1] - f->len;
            f->len = f->ooo[r][1];
        }
        r++;
    }
    if (r > 0) {
        memmove(&f->ooo[0], &f->ooo[r], (f->nooo - r) * sizeof(f->ooo[0]));
        f->nooo = (uint8_t)(f->nooo - r);
    }
    if (f->nooo == 0)
        f->ooo_segs = 0;
}

/* Offer buf[0, len) to the sink and move the consumed prefix out. */
static void offer_buffer(tcpreasm_t *t, flow_t *f, tcpreasm_deliver_fn fn, void *ctx,
                         bool reassembled)
{
    size_t used = fn(ctx, f->buf, f->len, reassembled);
    if (used > f->len)
        used = f->len;
    if (used > 0) {
        uint32_t c = (uint32_t)used;
        memmove(f->buf, f->buf + c, extent(f) - c);
        f->len -= c;
        for (uint32_t r = 0; r < f->nooo; r++) {
            f->ooo[r][0] -= c;
            f->ooo[r][1] -= c;
        }
    }
    /* A full buffer the sink will not take from (a message larger than the buffer, or a
     * stream that is not what the sink expects) would block the direction for good. */
    if (f->len >= t->max_buffer)
        drop_all(t, f);
}

/* In-order payload: straight to the sink when nothing is buffered (the common case: one SIP
 * message per segment), else appended and offered with what was waiting. */
static void in_order(tcpreasm_t *t, flow_t *f, const uint8_t *data, uint32_t n,
                     tcpreasm_deliver_fn fn, void *ctx)
{
    if (f->nooo == 0)
        f->ooo_segs = 0; /* no hole pending (a dropped future segment will come again) */
    if (f->len > 0 || f->nooo > 0) {
        if ((uint64_t)f->len + n <= t->max_buffer && reserve(t, f, f->len + n)) {
            memcpy(f->buf + f->len, data, n);
            f->len += n;
            f->next_seq += n;
            absorb_ooo(f);
            offer_buffer(t, f, fn, ctx, true);
            return;
        }
        /* The message in progress outgrew the buffer: give it up and restart here. */
        drop_all(t, f);
    }
    f->next_seq += n;
    size_t used = fn(ctx, data, n, false);
    if (used >= n)
        return;
    uint32_t rest = n - (uint32_t)used;
    if (rest >= t->max_buffer || !reserve(t, f, rest)) {
        t->stats->tcp_gaps++;
        return;
    }
    memcpy(f->buf, data + used, rest);
    f->len = rest;
}

/* Whether [off, end) can join the future ranges without exceeding OOO_MAX. */
static bool ooo_room(const flow_t *f, uint32_t off, uint32_t end)
{
    if (f->nooo < OOO_MAX)
        return true;
    for (uint32_t r = 0; r < f->nooo; r++)
        if (f->ooo[r][0] <= end && off <= f->ooo[r][1])
            return true;
    return false;
}

/* Store a future segment at buffer offset off (> len, off + n <= max_buffer) and record its
 * range. False when there is no room for it. */
static bool store_future(tcpreasm_t *t, flow_t *f, uint32_t off, const uint8_t *data, uint32_t n)
{
    uint32_t end = off + n;
    if (!ooo_room(f, off, end) || !reserve(t, f, end))
        return false;
    memcpy(f->buf + off, data, n);
    uint32_t r = 0;
    while (r < f->nooo && f->ooo[r][1] < off)
        r++;
    uint32_t last = r;
    while (last < f->nooo && f->ooo[last][0] <= end)
        last++;
    if (last > r) {
        if (f->ooo[r][0] < off)
            off = f->ooo[r][0];
        if (f->ooo[last - 1][1] > end)
            end = f->ooo[last - 1][1];
    }
    uint32_t removed = last - r;
    if (removed == 0) {
        memmove(&f->ooo[r + 1], &f->ooo[r], (f->nooo - r) * sizeof(f->ooo[0]));
        f->nooo++;
    } else if (removed > 1) {
        memmove(&f->ooo[r + 1], &f->ooo[last], (f->nooo - last) * sizeof(f->ooo[0]));
        f->nooo = (uint8_t)(f->nooo - (removed - 1));
    }
    f->ooo[r][0] = off;
    f->ooo[r][1] = end;
    return true;
}

/* Give up on the first hole: the stream continues at the first future range. */
static void skip_hole(tcpreasm_t *t, flow_t *f)
{
    uint32_t start = f->ooo[0][0];
    uint32_t end = extent(f);
    f->next_seq += start - f->len;
    memmove(f->buf, f->buf + start, end - start);
    for (uint32_t r = 0; r < f->nooo; r++) {
        f->ooo[r][0] -= start;
        f->ooo[r][1] -= start;
    }
    f->len = 0;
    absorb_ooo(f);
    t->stats->tcp_gaps++;
}

static void data_segment(tcpreasm_t *t, flow_t *f, int64_t ts_ns, uint32_t seq, const uint8_t *data,
                         uint32_t n, tcpreasm_deliver_fn fn, void *ctx)
{
    bool counted = false, give_up = false;
    for (;;) {
        uint32_t ahead = seq - f->next_seq; /* modulo 2^32 (RFC 9293 §3.4) */
        if (ahead == 0) {
            in_order(t, f, data, n, fn, ctx);
            return;
        }
        if (ahead >= 0x80000000u) {
            uint32_t back = f->next_seq - seq;
            if (back > RESYNC_BACK) {
                drop_all(t, f);
                f->next_seq = seq;
                continue;
            }
            t->stats->tcp_retransmissions++;
            if (back >= n)
                return; /* all of it seen already */
            /* Partial overlap: only the new tail counts. */
            data += back;
            n -= back;
            seq = f->next_seq;
            continue;
        }
        /* A future segment: there is a hole before it. */
        if (!counted) {
            counted = true;
            t->stats->tcp_out_of_order++;
            if (f->ooo_segs == 0)
                f->gap_ns = ts_ns; /* the hole opens */
            if (f->ooo_segs <= OOO_MAX_SEGS)
                f->ooo_segs++;
            give_up = f->ooo_segs > OOO_MAX_SEGS || elapsed(ts_ns, f->gap_ns) > GAP_WAIT_NS;
        }
        if (!give_up) {
            /* Wait for the hole to fill. A segment that does not fit (far ahead, or too many
             * separate ranges) is dropped rather than followed: a stray or forged sequence
             * number must not blind us to the real stream; if it was real, patience runs out
             * and a later segment moves the stream on. */
            uint64_t off = (uint64_t)f->len + ahead;
            if (off + n > t->max_buffer || !store_future(t, f, (uint32_t)off, data, n))
                t->stats->tcp_gaps++;
            return;
        }
        /* Out of patience: skip the first hole, or jump to this segment. */
        if (f->nooo == 0) {
            drop_all(t, f);
            f->next_seq = seq;
            continue;
        }
        skip_hole(t, f);
        offer_buffer(t, f, fn, ctx, true);
    }
}

void tcpreasm_segment(tcpreasm_t *t, const tcpreasm_key_t *key, int64_t ts_ns, uint32_t seq,
                      uint8_t flags, const uint8_t *data, size_t len, tcpreasm_deliver_fn fn,
                      void *ctx)
{
    uint32_t i = find(t, key);
    if (flags & TCPR_RST) {
        /* RFC 9293 §3.10.7: a reset ends both directions; its payload is diagnostic text. */
        if (i != 0)
            release(t, i);
        tcpreasm_key_t rev = *key;
        memcpy(rev.src, key->dst, sizeof(rev.src));
        memcpy(rev.dst, key->src, sizeof(rev.dst));
        rev.sport = key->dport;
        rev.dport = key->sport;
        uint32_t j = find(t, &rev);
        if (j != 0)
            release(t, j);
        return;
    }
    /* A TCP segment is at most 64 KB even when reassembled from IP fragments. */
    uint32_t n = len > UINT32_MAX / 2 ? UINT32_MAX / 2 : (uint32_t)len;
    uint32_t dseq = (flags & TCPR_SYN) ? seq + 1 : seq; /* the SYN occupies one number */
    if (i == 0) {
        /* A pure ACK or a FIN of a direction we hold nothing for needs no state. */
        if (n == 0 && !(flags & TCPR_SYN))
            return;
        i = create(t, key, ts_ns);
        flow_at(t, i)->next_seq = dseq;
    } else {
        ilist_touch(&t->lru, i);
    }
    flow_t *f = flow_at(t, i);
    f->last_ns = ts_ns;
    if (flags & TCPR_SYN) {
        if (!f->syn_seen || f->isn != seq) {
            /* A new connection on this 4-tuple (or the first SYN after data we picked up
             * mid-stream): start over at its initial sequence number. */
            if (f->len > 0 || f->nooo > 0)
                drop_all(t, f);
            f->next_seq = dseq;
            f->syn_seen = true;
            f->isn = seq;
        }
    }
    if (n > 0)
        data_segment(t, f, ts_ns, dseq, data, n, fn, ctx);
    /* An in-order FIN with nothing pending ends the direction; a FIN ahead of a hole waits
     * for the idle timeout so the hole can still fill. */
    if ((flags & TCPR_FIN) && f->nooo == 0 && dseq + n == f->next_seq)
        release(t, i);
}

void tcpreasm_expire(tcpreasm_t *t, int64_t now_ns)
{
    while (t->lru.tail != 0) {
        const flow_t *f = flow_at(t, t->lru.tail);
        if (elapsed(now_ns, f->last_ns) < (uint64_t)t->timeout_ns)
            break;
        release(t, t->lru.tail);
        t->stats->tcp_flows_timed_out++;
    }
}
