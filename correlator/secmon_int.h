/* secmon_int: the security monitor's private tables and the entry points its files share.
 *
 * secmon.c holds the object, its config, tick and flush; secmon_reg.c the REGISTER bindings per
 * AOR; secmon_detect.c the per-source windows and detectors; secmon_alert.c raising, updating
 * and closing alerts. Only these files include this header. */
#ifndef SIPSCOPE_SECMON_INT_H
#define SIPSCOPE_SECMON_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "defs.h"
#include "hash.h"
#include "list.h"
#include "secmon.h"

/* Windows are WIN_SLOTS slots of window/WIN_SLOTS each; a window's count is the sum of its
 * slots, so it covers between 7/8 of the window and the whole of it: a sliding window in
 * constant memory per tracker, exact to one slot. */
#define WIN_SLOTS   8
#define RING        8 /* open transactions remembered per source (credentials, method) */
#define DSET        SECMON_DISTINCT_MAX
#define TSRC        8  /* sources per attacked AOR */
#define AOR_MAX     96 /* "sip:user@host", cut beyond */
#define CONTACT_MAX 96
#define UA_MAX      48
#define TARGET_MAX  96
#define REG_SLOTS   3              /* bindings (contacts) per AOR */
#define ALERT_BITS  2048           /* linear-counting bitmap of an alert's distinct users/targets */
#define CHAIN_MAX   32             /* hash chain walk cap (hostile keys) */
#define REGISTRARS  8              /* addresses seen answering REGISTER with 2xx */
#define VICTIM_SCAN 16             /* LRU entries looked at for one that is cheap to evict */
#define SWEEP_NS    (5 * NS_PER_S) /* every AOR is looked at once per 5 s of capture time */

_Static_assert((WIN_SLOTS & (WIN_SLOTS - 1)) == 0, "WIN_SLOTS is a power of two");

/* ------------------------------------------------------------------ small containers */

typedef struct {
    uint16_t c[WIN_SLOTS];
} win_t;

/* Zero the slots that fall out when the newest slot moves from epoch `from` to `to`. */
static inline void win_shift(win_t *w, int64_t from, int64_t to)
{
    if (to - from >= WIN_SLOTS) {
        memset(w->c, 0, sizeof(w->c));
        return;
    }
    for (int64_t e = from + 1; e <= to; e++)
        w->c[e & (WIN_SLOTS - 1)] = 0;
}

static inline uint32_t win_sum(const win_t *w)
{
    uint32_t n = 0;
    for (int i = 0; i < WIN_SLOTS; i++)
        n += w->c[i];
    return n;
}

static inline uint32_t win_add(win_t *w, int64_t epoch)
{
    uint16_t *c = &w->c[epoch & (WIN_SLOTS - 1)];
    if (*c < UINT16_MAX)
        (*c)++;
    return win_sum(w);
}

/* A small exact set of distinct keys over a sliding window: each entry is a 24-bit key hash
 * (never 0) and the low 8 bits of the slot it was last seen in. Thresholds are at most DSET,
 * so exact counting up to DSET is all a detector needs; when full, the stalest entry makes
 * room (the count stays at DSET). The same 24 bits place the key in an alert's bitmap. */
typedef struct {
    uint32_t e[DSET];
} dset_t;

static inline uint32_t key24(uint64_t h)
{
    uint32_t k = (uint32_t)(h >> 40) & 0xffffffu;
    return k ? k : 1;
}

/* Drop entries older than the window, as the newest slot moves by `moved` slots to epoch. */
static inline void keys_expire(uint32_t *e, int n, int64_t moved, int64_t epoch)
{
    for (int i = 0; i < n; i++) {
        /* Ages stay below 2 windows here, so 8 bits of slot number are enough. */
        if (e[i] && (moved >= WIN_SLOTS || (uint8_t)((uint8_t)epoch - (uint8_t)e[i]) >= WIN_SLOTS))
            e[i] = 0;
    }
}

/* Insert (or refresh) key k in the n entries e; returns the number of keys held. */
static inline uint32_t keys_add(uint32_t *e, int n, uint32_t k, int64_t epoch)
{
    uint32_t v = k << 8 | (uint8_t)epoch;
    int free_at = -1, oldest = -1;
    uint8_t oldest_age = 0;
    for (int i = 0; i < n; i++) {
        if (e[i] >> 8 == k) {
            e[i] = v;
            free_at = -2;
            break;
        }
        if (e[i] == 0) {
            if (free_at == -1)
                free_at = i;
            continue;
        }
        uint8_t age = (uint8_t)((uint8_t)epoch - (uint8_t)e[i]);
        if (oldest < 0 || age > oldest_age) {
            oldest_age = age;
            oldest = i;
        }
    }
    if (free_at >= 0)
        e[free_at] = v;
    else if (free_at == -1)
        e[oldest] = v; /* full: the stalest key makes room */
    uint32_t held = 0;
    for (int i = 0; i < n; i++)
        held += e[i] != 0;
    return held;
}

static inline void dset_expire(dset_t *s, int64_t moved, int64_t epoch)
{
    keys_expire(s->e, DSET, moved, epoch);
}

static inline uint32_t dset_add(dset_t *s, uint32_t k, int64_t epoch)
{
    return keys_add(s->e, DSET, k, epoch);
}

/* Key k's bit in an alert's bitmap of ALERT_BITS (bm_estimate in secmon_alert.c counts them). */
static inline void bm_set(uint64_t *bm, uint32_t k)
{
    uint32_t b = k & (ALERT_BITS - 1);
    bm[b / 64] |= UINT64_C(1) << (b % 64);
}

/* ------------------------------------------------------------------ tables */

/* Per source IP (constant size). Counters run over the episode: from the first message after
 * a quiet period of idle_s to the last before the next one. */
enum { TX_USED = 1, TX_AUTH = 2 };

typedef struct {
    net_addr_t addr;
    uint32_t hnext;   /* hash chain, index + 1 */
    uint32_t refused; /* minute + 1 in which an alert could not be raised */
    uint32_t alert;   /* open alert, slot + 1 */
    uint32_t fired;   /* detectors fired this episode */
    int64_t first_ns, last_ns;
    int64_t rate_epoch, long_epoch;
    win_t reg, inv;           /* rate window: REGISTERs, initial INVITEs */
    win_t fin, authfail, rej; /* auth window: finals (not plain challenges), auth failures,
                               * auth failures + 404 */
    dset_t users;             /* AORs answered 403/404/credentials rejected */
    dset_t targets;           /* destination IPs of OPTIONS */
    uint32_t tx_key[RING];
    uint8_t tx_flags[RING];
    uint8_t tx_pos;
    uint16_t scanner_hits, unusual_hits;
    uint32_t requests, registers, invites, options;
    uint32_t r2xx, r401, r403, r404;
} src_t;

/* Binding flags. */
enum {
    B_USED = 1,
    B_ACTIVE = 2,
    B_PENDING = 4,   /* a REGISTER awaits its final answer */
    B_AUTH = 8,      /* ... and it carried credentials */
    B_UNREG = 16,    /* ... and it asked for expires 0 */
    B_DIRTY = 32,    /* changed since last emitted */
    B_EMITTED = 64,  /* emitted at least once */
    B_EVER_OK = 128, /* had a 2xx once: a real binding, never subject to the row budget */
};
enum { B_SRC_MOVED = 1, B_SUPPRESSED = 2 };

typedef struct {
    char contact[CONTACT_MAX];
    char ua[UA_MAX];
    net_endpoint_t source;
    uint8_t flags, flags2;
    uint16_t last_status, emitted_status;
    uint32_t cid, cseq; /* Call-ID hash and CSeq of the last REGISTER */
    uint32_t req_expires, expires;
    uint32_t attempts, challenges, failures;
    int64_t first_ns, last_ns, expires_ns, emit_ns;
} binding_t;

enum { A_USED = 1, A_WILD = 2 }; /* A_WILD: a "Contact: *" REGISTER awaits its answer */

typedef struct {
    uint64_t hash;
    char aor[AOR_MAX];
    uint8_t user_off, user_len, flags;
    uint32_t hnext;
    uint32_t alert;
    uint32_t refused; /* minute + 1 in which an alert could not be raised */
    uint32_t wild_cid, wild_cseq;
    int64_t last_ns;       /* last REGISTER or answer */
    int64_t fail_ns;       /* last auth failure against it */
    int64_t fail_first_ns; /* first failure since its window was last empty */
    int64_t long_epoch;
    win_t fail, fail401, fail403; /* auth window: failures, of which 401/407 and 403 */
    uint32_t srcs[TSRC];          /* sources of recent failures: 24-bit key << 8 | slot */
    binding_t b[REG_SLOTS];
} aor_t;

typedef struct {
    alert_record_t r; /* target/user_agent point into the buffers below */
    char target[TARGET_MAX];
    char ua[UA_MAX];
    uint64_t users[ALERT_BITS / 64];
    uint64_t targets[ALERT_BITS / 64]; /* per-AOR alerts: their sources */
    uint32_t owner;                    /* source or AOR index + 1 */
    bool owner_aor, dirty;
    uint32_t open_pos; /* index in m->open */
    uint32_t next_free;
    int64_t emit_ns;
} alert_t;

struct secmon {
    secmon_cfg_t cfg;
    secmon_sink_t sink;
    secmon_stats_t stats;
    char agents_lc[SECMON_LIST_MAX][SECMON_ITEM_MAX];
    int64_t rate_slot_ns, long_slot_ns, idle_ns, alert_update_ns, reg_update_ns, linger_ns;
    int64_t now_ns;
    uint64_t table_seed;

    src_t *src;
    ilist_link_t *src_links;
    uint32_t *src_buckets, src_mask, src_cap, src_used, src_free;
    uint32_t src_hw, aor_hw, alert_hw; /* 1-based index of the first never-used entry */
    ilist_t src_lru;                   /* head = most recently active */

    aor_t *aor;
    ilist_link_t *aor_links;
    uint32_t *aor_buckets, aor_mask, aor_cap, aor_used, aor_free;
    ilist_t aor_lru; /* head = most recently active */
    uint32_t sweep_pos;
    int64_t sweep_ns;

    alert_t *alerts;
    uint32_t *open;
    uint32_t alert_cap, n_open, alert_free;
    int64_t next_alert_id;
    int64_t alert_scan_ns;

    net_addr_t registrars[REGISTRARS];
    uint32_t n_registrars, registrar_pos;

    int64_t budget_minute;
    uint32_t budget_used;
};

/* ------------------------------------------------------------------ hashing */

/* Table placement uses a per-instance seed (hash_seed, or one drawn at secmon_new), so that
 * nobody can aim spoofed addresses or made-up users at one hash chain. The keys of the
 * distinct counts use a fixed seed instead: counts must not vary from run to run. */
static inline uint64_t sv_hash(const secmon_t *m, sv_t s)
{
    return hash_bytes(s.p ? s.p : "", s.len, m->table_seed ^ 0x5ec0u);
}

static inline uint64_t addr_hash(const secmon_t *m, const net_addr_t *a)
{
    return hash_bytes(a, sizeof(*a), m->table_seed ^ 0xadd7u);
}

static inline uint32_t sv_key(const secmon_t *m, sv_t s)
{
    return key24(hash_bytes(s.p ? s.p : "", s.len, m->cfg.hash_seed ^ 0xc047u));
}

static inline uint32_t addr_key(const secmon_t *m, const net_addr_t *a)
{
    return key24(hash_bytes(a, sizeof(*a), m->cfg.hash_seed ^ 0xadd7c047u));
}

/* ------------------------------------------------------------------ shared entry points */

/* secmon.c: helpers. */
/* Copy s into buf (NUL-terminated), cut at cap - 1 bytes, and never in the middle of a UTF-8
 * sequence; control bytes become '?', so stored text is always printable. */
void secmon_copy_text(char *buf, size_t cap, sv_t s);
/* "sip:user@host" (host lower-cased), "sips:...", "tel:number" into buf (cap >= AOR_MAX);
 * false if the URI has neither user nor host. uoff and ulen locate the user part in buf. */
bool secmon_make_aor(const sip_uri_t *u, char *buf, size_t cap, uint8_t *uoff, uint8_t *ulen);
bool secmon_has_credentials(const sip_msg_t *msg);
/* Take one new row of this minute's budget (max_new_per_min); false when it is spent. */
bool secmon_budget_take(secmon_t *m, int64_t ts);

/* secmon_alert.c: raising, updating and closing alerts. i is an alert's slot + 1. */
/* Emit the alert as it stands now. */
void secmon_alert_emit(secmon_t *m, alert_t *a, int64_t now);
/* The alert changed (a message of its owner at ts): emit now if due, else leave it for the
 * tick. */
void secmon_alert_touch(secmon_t *m, alert_t *a, int64_t ts, int64_t msg_id);
/* A new open alert, or NULL when the table is full or the minute's budget is spent; *refused
 * is the owner's note of the minute that refused one. */
alert_t *secmon_alert_new(secmon_t *m, int64_t ts, uint32_t *refused);
/* Final emission; the owner's link is cleared and the slot freed. */
void secmon_alert_close(secmon_t *m, uint32_t i, int64_t now);
/* A detector fired for source s: raise its alert or add the detector to the open one. target
 * and ua are borrowed. */
void secmon_src_fire(secmon_t *m, src_t *s, alert_detector_t det, int64_t ts, sv_t target, sv_t ua,
                     int64_t msg_id);

/* secmon_detect.c: per-source trackers and detectors. i is a source's slot + 1. */
void secmon_src_request(secmon_t *m, const packet_view_t *pkt, const sip_msg_t *msg,
                        int64_t msg_id);
/* An answer sent to pkt->dst; false when that is no tracked source in its episode. */
bool secmon_src_response(secmon_t *m, const packet_view_t *pkt, const sip_msg_t *msg,
                         int64_t msg_id);
/* Free a tracker (closing its alert at now). */
void secmon_src_release(secmon_t *m, uint32_t i, int64_t now);
/* a answered a REGISTER with 2xx: its OPTIONS are keep-alives, not sweeps. */
void secmon_registrar_add(secmon_t *m, const net_addr_t *a);

/* secmon_reg.c: REGISTER bindings per AOR. i is an AOR's slot + 1. */
void secmon_reg_request(secmon_t *m, const packet_view_t *pkt, const sip_msg_t *msg);
/* A REGISTER's answer; returns whether its AOR is known. */
bool secmon_reg_response(secmon_t *m, const packet_view_t *pkt, const sip_msg_t *msg,
                         int64_t msg_id);
/* Forget an AOR: emit its bindings' last states, close its alert, free the slot. */
void secmon_aor_release(secmon_t *m, uint32_t i, int64_t now);
/* Lapse, forget, close and emit what is due in a slice of the AOR table (secmon_tick). */
void secmon_aor_sweep(secmon_t *m, int64_t now);

#endif
