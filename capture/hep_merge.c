/* hep_merge: several probes' messages back in capture-time order (hep_merge.h). */
#include "hep_merge.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "defs.h"
#include "netio.h"

/* The wall-clock wait is kept per arrival slice, not per message: a ring of slices of wait/16
 * each remembers the latest capture time that arrived in it. When a slice is wait old,
 * everything up to that capture time may go (forced_ts). Messages then wait between 15/16 of
 * wait and wait, and the check is O(1) whatever is held. */
#define SLICES          32
#define SLICES_PER_WAIT 16

typedef struct {
    uint32_t id;
    net_addr_t addr;
    int64_t wm_ns;     /* the latest capture time it sent */
    int64_t last_seen; /* CLOCK_MONOTONIC of its last message */
} probe_t;

typedef struct {
    packet_view_t view; /* payload points at data */
    int64_t arrived;    /* CLOCK_MONOTONIC */
    uint64_t seq;       /* arrival order: ties in capture time go in it */
    uint64_t tag;       /* the caller's, handed back with it */
    uint8_t data[];
} held_t;

typedef struct {
    int64_t start;  /* CLOCK_MONOTONIC of the slice's first message */
    int64_t max_ts; /* the latest capture time among its messages */
} slice_t;

struct hep_merge {
    int64_t wait_ns, slice_ns;
    size_t max_held, max_bytes;
    hep_merge_fn fn;
    void *ctx;
    probe_t probes[HEP_MERGE_MAX_PROBES];
    size_t nprobes, last_probe;
    held_t **heap; /* min-heap on (capture time, seq) */
    size_t n, bytes;
    uint64_t seq;
    slice_t slices[SLICES];
    unsigned slice_head, nslices;
    int64_t forced_ts;  /* held this long: everything up to this capture time may go */
    int64_t last_any;   /* CLOCK_MONOTONIC of the last message from any probe */
    int64_t warm_until; /* CLOCK_MONOTONIC: until then, only the wait lets messages go */
    int64_t newest_in, newest_out;
    bool any_out;
    counter_t held, held_peak, held_total, waited, overflow, late, active, hold_max, hold_sum, lag,
        lag_max;
};

void hep_merge_cfg_init(hep_merge_cfg_t *cfg)
{
    cfg->wait_ms = HEP_MERGE_WAIT_MS_DEFAULT;
    cfg->max_held = HEP_MERGE_MAX_HELD_DEFAULT;
    cfg->max_held_bytes = HEP_MERGE_MAX_BYTES_DEFAULT;
}

hep_merge_t *hep_merge_new(const hep_merge_cfg_t *cfg, hep_merge_fn fn, void *ctx)
{
    hep_merge_cfg_t defaults;
    if (cfg == NULL) {
        hep_merge_cfg_init(&defaults);
        cfg = &defaults;
    }
    hep_merge_t *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->wait_ns = (int64_t)cfg->wait_ms * NS_PER_MS;
    m->slice_ns = m->wait_ns / SLICES_PER_WAIT;
    m->max_held = cfg->max_held ? cfg->max_held : HEP_MERGE_MAX_HELD_DEFAULT;
    m->max_bytes = cfg->max_held_bytes ? cfg->max_held_bytes : HEP_MERGE_MAX_BYTES_DEFAULT;
    m->fn = fn;
    m->ctx = ctx;
    m->forced_ts = INT64_MIN;
    if (m->wait_ns > 0) {
        m->heap = malloc(m->max_held * sizeof(*m->heap));
        if (m->heap == NULL) {
            free(m);
            return NULL;
        }
    }
    return m;
}

void hep_merge_free(hep_merge_t *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n; i++)
        free(m->heap[i]);
    free(m->heap);
    free(m);
}

/* ---- probes ---- */

static probe_t *probe_find(hep_merge_t *m, uint32_t id, const net_addr_t *from)
{
    probe_t *p = &m->probes[m->last_probe];
    if (m->nprobes > 0 && p->id == id && net_addr_eq(&p->addr, from))
        return p;
    for (size_t i = 0; i < m->nprobes; i++) {
        p = &m->probes[i];
        if (p->id == id && net_addr_eq(&p->addr, from)) {
            m->last_probe = i;
            return p;
        }
    }
    /* A new one; with the table full, the one silent longest makes room. */
    size_t at = m->nprobes;
    if (at == HEP_MERGE_MAX_PROBES) {
        at = 0;
        for (size_t i = 1; i < m->nprobes; i++)
            if (m->probes[i].last_seen < m->probes[at].last_seen)
                at = i;
    } else {
        m->nprobes++;
    }
    p = &m->probes[at];
    *p = (probe_t){.id = id, .addr = *from, .wm_ns = INT64_MIN};
    m->last_probe = at;
    return p;
}

/* The earliest watermark among the probes active at now: what no active probe can still send
 * anything earlier than (as each sends in order). INT64_MAX when none is active. */
static int64_t min_active_wm(hep_merge_t *m, int64_t now, uint64_t *active)
{
    int64_t low = now < m->warm_until ? INT64_MIN : INT64_MAX;
    uint64_t n = 0;
    for (size_t i = 0; i < m->nprobes; i++) {
        const probe_t *p = &m->probes[i];
        if (now - p->last_seen >= m->wait_ns)
            continue;
        n++;
        if (p->wm_ns < low)
            low = p->wm_ns;
    }
    if (active != NULL)
        *active = n;
    return low;
}

void hep_merge_saw(hep_merge_t *m, uint32_t probe_id, const net_addr_t *from, int64_t ts_ns,
                   int64_t now_ns)
{
    if (ts_ns > m->newest_in)
        m->newest_in = ts_ns;
    if (m->wait_ns == 0)
        return;
    /* Traffic starts (or starts again after every probe was quiet): probes that have not sent
     * yet are unknown, and one starting a little after another would find its first messages
     * overtaken. So for one wait everything waits the full wait. */
    if (m->last_any == 0 || now_ns - m->last_any >= m->wait_ns)
        m->warm_until = now_ns + m->wait_ns;
    m->last_any = now_ns;
    probe_t *p = probe_find(m, probe_id, from);
    p->last_seen = now_ns;
    if (ts_ns > p->wm_ns)
        p->wm_ns = ts_ns;
}

/* ---- the heap ---- */

static bool before(const held_t *a, const held_t *b)
{
    return a->view.ts_ns < b->view.ts_ns || (a->view.ts_ns == b->view.ts_ns && a->seq < b->seq);
}

static void heap_push(hep_merge_t *m, held_t *h)
{
    size_t i = m->n++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!before(h, m->heap[up]))
            break;
        m->heap[i] = m->heap[up];
        i = up;
    }
    m->heap[i] = h;
}

static held_t *heap_pop(hep_merge_t *m)
{
    held_t *top = m->heap[0];
    held_t *last = m->heap[--m->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= m->n)
            break;
        if (c + 1 < m->n && before(m->heap[c + 1], m->heap[c]))
            c++;
        if (!before(m->heap[c], last))
            break;
        m->heap[i] = m->heap[c];
        i = c;
    }
    if (m->n > 0)
        m->heap[i] = last;
    return top;
}

/* ---- handing on ---- */

static void counter_max(counter_t *c, uint64_t v)
{
    if (v > counter_get(c))
        atomic_store_explicit(c, v, memory_order_relaxed);
}

static void deliver(hep_merge_t *m, const packet_view_t *pkt, uint64_t tag)
{
    if (!m->any_out || pkt->ts_ns > m->newest_out)
        m->newest_out = pkt->ts_ns;
    m->any_out = true;
    m->fn(m->ctx, pkt, tag);
}

static void deliver_top(hep_merge_t *m, int64_t now)
{
    held_t *h = heap_pop(m);
    m->bytes -= h->view.len;
    uint64_t held_ns = now > h->arrived ? (uint64_t)(now - h->arrived) : 0;
    counter_add(&m->hold_sum, held_ns);
    counter_max(&m->hold_max, held_ns);
    atomic_store_explicit(&m->held, m->n, memory_order_relaxed);
    deliver(m, &h->view, h->tag);
    free(h);
}

static void note_lag(hep_merge_t *m)
{
    uint64_t lag = m->n > 0 && m->any_out && m->newest_in > m->newest_out
                       ? (uint64_t)(m->newest_in - m->newest_out)
                       : 0;
    atomic_store_explicit(&m->lag, lag, memory_order_relaxed);
    counter_max(&m->lag_max, lag);
}

/* Hand on, earliest first, what no active probe can precede any more (up to limit) and what
 * waited long enough (up to forced_ts). */
static void release_upto(hep_merge_t *m, int64_t limit, int64_t now)
{
    while (m->nslices > 0 && now - m->slices[m->slice_head].start >= m->wait_ns) {
        if (m->slices[m->slice_head].max_ts > m->forced_ts)
            m->forced_ts = m->slices[m->slice_head].max_ts;
        m->slice_head = (m->slice_head + 1) % SLICES;
        m->nslices--;
    }
    while (m->n > 0) {
        int64_t ts = m->heap[0]->view.ts_ns;
        if (ts > limit && ts > m->forced_ts)
            break;
        if (ts > limit)
            counter_add(&m->waited, 1);
        deliver_top(m, now);
    }
    if (m->n == 0)
        m->nslices = 0; /* nothing left to time */
    note_lag(m);
}

static void note_slice(hep_merge_t *m, int64_t ts, int64_t now)
{
    slice_t *tail = m->nslices > 0 ? &m->slices[(m->slice_head + m->nslices - 1) % SLICES] : NULL;
    if (tail == NULL || (now - tail->start >= m->slice_ns && m->nslices < SLICES)) {
        tail = &m->slices[(m->slice_head + m->nslices) % SLICES];
        m->nslices++;
        *tail = (slice_t){.start = now, .max_ts = ts};
    } else if (ts > tail->max_ts) {
        tail->max_ts = ts;
    }
}

static void hold(hep_merge_t *m, const packet_view_t *pkt, uint64_t tag, int64_t now)
{
    held_t *h = malloc(sizeof(*h) + pkt->len);
    if (h == NULL) { /* no room to wait: better out of order than lost */
        counter_add(&m->overflow, 1);
        deliver(m, pkt, tag);
        return;
    }
    h->tag = tag;
    h->view = *pkt;
    memcpy(h->data, pkt->payload, pkt->len);
    h->view.payload = h->data;
    h->arrived = now;
    h->seq = m->seq++;
    while (m->n > 0 && (m->n >= m->max_held || m->bytes + pkt->len > m->max_bytes)) {
        counter_add(&m->overflow, 1);
        deliver_top(m, now);
    }
    heap_push(m, h);
    m->bytes += pkt->len;
    note_slice(m, pkt->ts_ns, now);
    counter_add(&m->held_total, 1);
    atomic_store_explicit(&m->held, m->n, memory_order_relaxed);
    counter_max(&m->held_peak, m->n);
}

void hep_merge_push(hep_merge_t *m, const packet_view_t *pkt, uint64_t tag, int64_t now_ns)
{
    if (m->any_out && pkt->ts_ns < m->newest_out) {
        /* Its turn has passed (its probe was silent longer than the wait, or the hold was
         * full): holding it would not put it back in order. */
        counter_add(&m->late, 1);
        deliver(m, pkt, tag);
        return;
    }
    if (m->wait_ns == 0) {
        deliver(m, pkt, tag);
        return;
    }
    uint64_t active;
    int64_t limit = min_active_wm(m, now_ns, &active);
    atomic_store_explicit(&m->active, active, memory_order_relaxed);
    if (pkt->ts_ns <= limit && (m->n == 0 || pkt->ts_ns < m->heap[0]->view.ts_ns)) {
        /* Nothing can come before it, and nothing held does: on at once, no copy (the one
         * probe case always takes this path). */
        deliver(m, pkt, tag);
    } else {
        hold(m, pkt, tag, now_ns);
    }
    if (m->n > 0)
        release_upto(m, limit, now_ns);
}

int hep_merge_release(hep_merge_t *m, int64_t now_ns)
{
    if (m->wait_ns == 0)
        return -1;
    uint64_t active;
    int64_t limit = min_active_wm(m, now_ns, &active);
    atomic_store_explicit(&m->active, active, memory_order_relaxed);
    if (m->n > 0)
        release_upto(m, limit, now_ns);
    if (m->n == 0)
        return -1;
    /* The next slice to fall due; or a probe going inactive, which wait bounds too. */
    int64_t due =
        m->nslices > 0 ? m->slices[m->slice_head].start + m->wait_ns - now_ns : m->wait_ns;
    if (due < 0)
        due = 0;
    return (int)((due + NS_PER_MS - 1) / NS_PER_MS);
}

void hep_merge_flush(hep_merge_t *m)
{
    while (m->n > 0)
        deliver_top(m, m->heap[0]->arrived);
    m->nslices = 0;
    note_lag(m);
}

void hep_merge_stats(hep_merge_t *m, hep_merge_stats_t *out)
{
    out->held = counter_get(&m->held);
    out->held_peak = counter_get(&m->held_peak);
    out->held_total = counter_get(&m->held_total);
    out->waited = counter_get(&m->waited);
    out->overflow = counter_get(&m->overflow);
    out->late = counter_get(&m->late);
    out->probes = counter_get(&m->active);
    out->hold_ns_max = counter_get(&m->hold_max);
    out->hold_ns_sum = counter_get(&m->hold_sum);
    out->lag_ns = (int64_t)counter_get(&m->lag);
    out->lag_ns_max = counter_get(&m->lag_max);
}
