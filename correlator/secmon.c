/* secmon: registrations per AOR and attack detectors per source IP over sliding windows, in
 * fixed-size tables that evict the least recently active entry and count what they drop. */
#include "secmon.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hash.h"

#define NS_PER_S INT64_C(1000000000)

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

/* Index lists: entries are numbered from 1, 0 is "none". */
typedef struct {
    uint32_t prev, next;
} link_t;

typedef struct {
    link_t *l;
    uint32_t head, tail; /* head = most recently active */
} lru_t;

static void lru_unlink(lru_t *q, uint32_t i)
{
    link_t *n = &q->l[i - 1];
    if (n->prev)
        q->l[n->prev - 1].next = n->next;
    else
        q->head = n->next;
    if (n->next)
        q->l[n->next - 1].prev = n->prev;
    else
        q->tail = n->prev;
    n->prev = n->next = 0;
}

static void lru_push(lru_t *q, uint32_t i)
{
    link_t *n = &q->l[i - 1];
    n->prev = 0;
    n->next = q->head;
    if (q->head)
        q->l[q->head - 1].prev = i;
    else
        q->tail = i;
    q->head = i;
}

static void lru_touch(lru_t *q, uint32_t i)
{
    if (q->head != i) {
        lru_unlink(q, i);
        lru_push(q, i);
    }
}

typedef struct {
    uint16_t c[WIN_SLOTS];
} win_t;

/* Zero the slots that fall out when the newest slot moves from epoch `from` to `to`. */
static void win_shift(win_t *w, int64_t from, int64_t to)
{
    if (to - from >= WIN_SLOTS) {
        memset(w->c, 0, sizeof(w->c));
        return;
    }
    for (int64_t e = from + 1; e <= to; e++)
        w->c[e & (WIN_SLOTS - 1)] = 0;
}

static uint32_t win_sum(const win_t *w)
{
    uint32_t n = 0;
    for (int i = 0; i < WIN_SLOTS; i++)
        n += w->c[i];
    return n;
}

static uint32_t win_add(win_t *w, int64_t epoch)
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

static uint32_t key24(uint64_t h)
{
    uint32_t k = (uint32_t)(h >> 40) & 0xffffffu;
    return k ? k : 1;
}

/* Drop entries older than the window, as the newest slot moves by `moved` slots to epoch. */
static void keys_expire(uint32_t *e, int n, int64_t moved, int64_t epoch)
{
    for (int i = 0; i < n; i++) {
        /* Ages stay below 2 windows here, so 8 bits of slot number are enough. */
        if (e[i] && (moved >= WIN_SLOTS || (uint8_t)((uint8_t)epoch - (uint8_t)e[i]) >= WIN_SLOTS))
            e[i] = 0;
    }
}

/* Insert (or refresh) key k in the n entries e; returns the number of keys held. */
static uint32_t keys_add(uint32_t *e, int n, uint32_t k, int64_t epoch)
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

static void dset_expire(dset_t *s, int64_t moved, int64_t epoch)
{
    keys_expire(s->e, DSET, moved, epoch);
}

static uint32_t dset_add(dset_t *s, uint32_t k, int64_t epoch)
{
    return keys_add(s->e, DSET, k, epoch);
}

/* Linear counting (Whang et al. 1990): n = -m ln(zeros/m); exact-ish for n well below m, and
 * m ln m (about 15,600 for 2048 bits) once every bit is set. */
static void bm_set(uint64_t *bm, uint32_t k)
{
    uint32_t b = k & (ALERT_BITS - 1);
    bm[b / 64] |= UINT64_C(1) << (b % 64);
}

static uint32_t bm_estimate(const uint64_t *bm)
{
    uint32_t ones = 0;
    for (int i = 0; i < ALERT_BITS / 64; i++)
        ones += (uint32_t)__builtin_popcountll(bm[i]);
    if (ones == 0)
        return 0;
    double m = ALERT_BITS, zeros = ALERT_BITS - ones;
    if (zeros < 1)
        zeros = 1;
    return (uint32_t)llround(-m * log(zeros / m));
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
    link_t *src_links;
    uint32_t *src_buckets, src_mask, src_cap, src_used, src_free;
    uint32_t src_hw, aor_hw, alert_hw; /* 1-based index of the first never-used entry */
    lru_t src_lru;

    aor_t *aor;
    link_t *aor_links;
    uint32_t *aor_buckets, aor_mask, aor_cap, aor_used, aor_free;
    lru_t aor_lru;
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

/* ------------------------------------------------------------------ configuration */

static const char *const default_agents[] = {
    "friendly-scanner", "sipvicious",   "sipcli", "vaxsipuseragent", "sundayddr", "iwar", "sipscan",
    "pplsip",           "sip-scan",     "svwar",  "svcrack",         "svmap",     "smap", "nmap",
    "sipbomber",        "siparmyknife",
};
static const char *const default_intl[] = {"+", "00", "011"};
/* Country and network codes that toll-fraud reports keep naming (international premium rate
 * and revenue-share ranges, satellite and "international networks" codes). A starting point:
 * replace it with the list of your carrier's fraud desk. */
static const char *const default_codes[] = {
    "53",  "216", "220", "224", "232", "247", "252", "290", "370", "371", "381", "387", "674",
    "675", "677", "682", "683", "688", "690", "870", "881", "882", "883", "960", "979",
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static void list_fill(secmon_list_t *l, const char *const *items, size_t n)
{
    memset(l, 0, sizeof(*l));
    for (size_t i = 0; i < n && i < SECMON_LIST_MAX; i++)
        sv_copy(sv_from_cstr(items[i]), l->item[l->n++], SECMON_ITEM_MAX);
}

void secmon_cfg_init(secmon_cfg_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_sources = 32768;
    cfg->max_aors = 16384;
    cfg->max_alerts = 4096;
    cfg->max_new_per_min = 1000;
    cfg->idle_s = 120;
    cfg->alert_update_s = 10;
    cfg->reg_update_s = 60;
    cfg->reg_linger_s = 300;
    cfg->reg_default_expires = 3600;
    cfg->rate_window_s = 10;
    cfg->register_flood = 50;
    cfg->invite_flood = 50;
    cfg->auth_window_s = 60;
    cfg->auth_failures = 10;
    cfg->fail_ratio = 0.5;
    cfg->enum_users = 10;
    cfg->sweep_targets = 10;
    cfg->target_failures = 20;
    cfg->target_sources = 3;
    cfg->scanner_requests = 1;
    cfg->unusual_calls = 1;
    list_fill(&cfg->scanner_agents, default_agents, ARRAY_LEN(default_agents));
    list_fill(&cfg->intl_prefixes, default_intl, ARRAY_LEN(default_intl));
    list_fill(&cfg->unusual_codes, default_codes, ARRAY_LEN(default_codes));
}

static bool parse_prefix(sv_t text, secmon_prefix_t *out)
{
    sv_t addr = text, bits = SV_NULL;
    bool has_bits = sv_split_once(text, '/', &addr, &bits);
    memset(out, 0, sizeof(*out));
    if (!net_addr_parse(addr, &out->addr))
        return false;
    uint32_t max = out->addr.family == 4 ? 32 : 128, n = max;
    if (has_bits && (!sv_to_u32(sv_trim(bits), &n) || n > max))
        return false;
    out->bits = (uint8_t)n;
    return true;
}

/* Parse a comma-separated list into l (appending when append); false on a bad item. */
static bool list_parse(secmon_list_t *l, const char *value, bool append)
{
    secmon_list_t tmp = append ? *l : (secmon_list_t){0};
    sv_t rest = sv_from_cstr(value), item;
    while (rest.len > 0) {
        if (!sv_split_once(rest, ',', &item, &rest))
            rest = SV_NULL;
        item = sv_trim(item);
        if (item.len == 0)
            continue;
        if (item.len >= SECMON_ITEM_MAX || tmp.n >= SECMON_LIST_MAX)
            return false;
        sv_copy(item, tmp.item[tmp.n++], SECMON_ITEM_MAX);
    }
    *l = tmp;
    return true;
}

static bool trusted_parse(secmon_cfg_t *cfg, const char *value, bool append)
{
    secmon_prefix_t tmp[SECMON_TRUSTED_MAX];
    size_t n = 0;
    if (append) {
        memcpy(tmp, cfg->trusted, sizeof(tmp));
        n = cfg->n_trusted;
    }
    sv_t rest = sv_from_cstr(value), item;
    while (rest.len > 0) {
        if (!sv_split_once(rest, ',', &item, &rest))
            rest = SV_NULL;
        item = sv_trim(item);
        if (item.len == 0)
            continue;
        if (n >= SECMON_TRUSTED_MAX || !parse_prefix(item, &tmp[n]))
            return false;
        n++;
    }
    memcpy(cfg->trusted, tmp, sizeof(tmp));
    cfg->n_trusted = n;
    return true;
}

int secmon_cfg_set(secmon_cfg_t *cfg, const char *key, const char *value)
{
    static const struct {
        const char *name;
        size_t off, size; /* size 0: double */
    } nums[] = {
#define U(f) {#f, offsetof(secmon_cfg_t, f), sizeof(((secmon_cfg_t *)0)->f)}
        U(max_sources),
        U(max_aors),
        U(max_alerts),
        U(max_new_per_min),
        U(idle_s),
        U(alert_update_s),
        U(reg_update_s),
        U(reg_linger_s),
        U(reg_default_expires),
        U(rate_window_s),
        U(register_flood),
        U(invite_flood),
        U(auth_window_s),
        U(auth_failures),
        U(enum_users),
        U(sweep_targets),
        U(target_failures),
        U(target_sources),
        U(scanner_requests),
        U(unusual_calls),
        U(hash_seed),
        {"fail_ratio", offsetof(secmon_cfg_t, fail_ratio), 0},
#undef U
    };
    if (cfg == NULL || key == NULL || value == NULL)
        return -EINVAL;
    sv_t k = sv_from_cstr(key);
    bool append = k.len > 0 && k.p[k.len - 1] == '+';
    if (append)
        k.len--;
    if (sv_eq_ci(k, "trusted"))
        return trusted_parse(cfg, value, append) ? 0 : -EINVAL;
    secmon_list_t *list = sv_eq_ci(k, "scanner_agents")  ? &cfg->scanner_agents
                          : sv_eq_ci(k, "intl_prefixes") ? &cfg->intl_prefixes
                          : sv_eq_ci(k, "unusual_codes") ? &cfg->unusual_codes
                                                         : NULL;
    if (list != NULL)
        return list_parse(list, value, append) ? 0 : -EINVAL;
    if (append)
        return -EINVAL;
    if (sv_eq_ci(k, "unusual_any_international")) {
        sv_t v = sv_trim(sv_from_cstr(value));
        if (!sv_eq_ci(v, "0") && !sv_eq_ci(v, "1"))
            return -EINVAL;
        cfg->unusual_any_international = v.p[0] == '1';
        return 0;
    }
    for (size_t i = 0; i < ARRAY_LEN(nums); i++) {
        if (!sv_eq_ci(k, nums[i].name))
            continue;
        char *field = (char *)cfg + nums[i].off;
        if (nums[i].size == 0) {
            char *end = NULL;
            double d = strtod(value, &end);
            if (end == value || *end != '\0' || !(d >= 0 && d <= 1))
                return -EINVAL;
            memcpy(field, &d, sizeof(d));
            return 0;
        }
        uint64_t v;
        if (!sv_to_u64(sv_trim(sv_from_cstr(value)), &v))
            return -EINVAL;
        if (nums[i].size == sizeof(uint32_t)) {
            if (v > UINT32_MAX)
                return -EINVAL;
            uint32_t v32 = (uint32_t)v;
            memcpy(field, &v32, sizeof(v32));
        } else {
            _Static_assert(sizeof(size_t) == sizeof(uint64_t), "size_t fields are 64-bit");
            memcpy(field, &v, sizeof(v));
        }
        return 0;
    }
    return -EINVAL;
}

/* ------------------------------------------------------------------ life cycle */

static uint32_t pow2_at_least(size_t n)
{
    uint32_t p = 1;
    while (p < n && p < (1u << 30))
        p <<= 1;
    return p;
}

static void *alloc_n(secmon_t *m, size_t n, size_t size)
{
    m->stats.bytes += n * size;
    return calloc(n, size);
}

/* Entries are handed out from the free lists, else from the never-used tail (the high-water
 * mark), so the tables are calloc'd but their pages are only touched as sources, AORs and alerts
 * appear: a quiet site pays kilobytes, a flood the configured caps. A reset clears only what
 * was used. */
static void tables_reset(secmon_t *m)
{
    if (m->src_hw > 1) {
        memset(m->src, 0, (m->src_hw - 1) * sizeof(*m->src));
        memset(m->src_links, 0, (m->src_hw - 1) * sizeof(*m->src_links));
        memset(m->src_buckets, 0, ((size_t)m->src_mask + 1) * sizeof(*m->src_buckets));
    }
    if (m->aor_hw > 1) {
        memset(m->aor, 0, (m->aor_hw - 1) * sizeof(*m->aor));
        memset(m->aor_links, 0, (m->aor_hw - 1) * sizeof(*m->aor_links));
        memset(m->aor_buckets, 0, ((size_t)m->aor_mask + 1) * sizeof(*m->aor_buckets));
    }
    m->src_free = m->aor_free = m->alert_free = 0;
    m->src_hw = m->aor_hw = m->alert_hw = 1;
    m->src_used = m->aor_used = m->n_open = 0;
    m->src_lru.head = m->src_lru.tail = 0;
    m->aor_lru.head = m->aor_lru.tail = 0;
    m->sweep_pos = 0;
    m->stats.live_sources = m->stats.live_aors = m->stats.open_alerts = 0;
}

/* Put a never-used entry on an empty free list, if any is left (hnext/next_free = 0 ends it). */
static void src_grow(secmon_t *m)
{
    if (m->src_free == 0 && m->src_hw <= m->src_cap) {
        m->src[m->src_hw - 1].hnext = 0;
        m->src_free = m->src_hw++;
    }
}

static void aor_grow(secmon_t *m)
{
    if (m->aor_free == 0 && m->aor_hw <= m->aor_cap) {
        m->aor[m->aor_hw - 1].hnext = 0;
        m->aor_free = m->aor_hw++;
    }
}

static void alert_grow(secmon_t *m)
{
    if (m->alert_free == 0 && m->alert_hw <= m->alert_cap) {
        m->alerts[m->alert_hw - 1].next_free = 0;
        m->alert_free = m->alert_hw++;
    }
}

secmon_t *secmon_new(const secmon_cfg_t *cfg, const secmon_sink_t *sink)
{
    secmon_cfg_t def;
    secmon_cfg_init(&def);
    if (cfg == NULL)
        cfg = &def;
    if (cfg->enum_users > DSET || cfg->sweep_targets > DSET || cfg->target_sources > TSRC ||
        cfg->max_sources > (1u << 30) || cfg->max_aors > (1u << 30) ||
        cfg->max_alerts > (1u << 30) || !(cfg->fail_ratio >= 0 && cfg->fail_ratio <= 1))
        return NULL;
    secmon_t *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->stats.bytes = sizeof(*m);
    m->cfg = *cfg;
    secmon_cfg_t *c = &m->cfg;
    /* Zero means the default, as documented. */
#define DEF(f)                                                                                     \
    if (c->f == 0)                                                                                 \
    c->f = def.f
    DEF(max_sources);
    DEF(max_aors);
    DEF(max_alerts);
    DEF(max_new_per_min);
    DEF(idle_s);
    DEF(alert_update_s);
    DEF(reg_update_s);
    DEF(reg_linger_s);
    DEF(reg_default_expires);
    DEF(rate_window_s);
    DEF(register_flood);
    DEF(invite_flood);
    DEF(auth_window_s);
    DEF(auth_failures);
    DEF(enum_users);
    DEF(sweep_targets);
    DEF(target_failures);
    DEF(target_sources);
    DEF(scanner_requests);
    DEF(unusual_calls);
#undef DEF
    if (sink != NULL)
        m->sink = *sink;
    for (size_t i = 0; i < c->scanner_agents.n; i++) {
        for (size_t j = 0; j < SECMON_ITEM_MAX && c->scanner_agents.item[i][j]; j++) {
            char ch = c->scanner_agents.item[i][j];
            m->agents_lc[i][j] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
        }
    }
    m->rate_slot_ns = (int64_t)c->rate_window_s * NS_PER_S / WIN_SLOTS;
    m->long_slot_ns = (int64_t)c->auth_window_s * NS_PER_S / WIN_SLOTS;
    m->idle_ns = (int64_t)c->idle_s * NS_PER_S;
    m->alert_update_ns = (int64_t)c->alert_update_s * NS_PER_S;
    m->reg_update_ns = (int64_t)c->reg_update_s * NS_PER_S;
    m->linger_ns = (int64_t)c->reg_linger_s * NS_PER_S;
    m->next_alert_id = 1;
    m->budget_minute = INT64_MIN;
    m->table_seed = c->hash_seed;
    if (m->table_seed == 0) {
        /* Unpredictable enough from outside: ASLR'd addresses and the clock. */
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        m->table_seed = hash_mix((uint64_t)(uintptr_t)m ^ hash_mix((uint64_t)(uintptr_t)&now) ^
                                 (uint64_t)now.tv_nsec ^ ((uint64_t)now.tv_sec << 32));
    }

    m->src_cap = (uint32_t)c->max_sources;
    m->src_mask = pow2_at_least(2 * (size_t)m->src_cap) - 1;
    m->aor_cap = (uint32_t)c->max_aors;
    m->aor_mask = pow2_at_least(2 * (size_t)m->aor_cap) - 1;
    m->alert_cap = (uint32_t)c->max_alerts;
    m->src = alloc_n(m, m->src_cap, sizeof(*m->src));
    m->src_links = alloc_n(m, m->src_cap, sizeof(*m->src_links));
    m->src_buckets = alloc_n(m, (size_t)m->src_mask + 1, sizeof(*m->src_buckets));
    m->aor = alloc_n(m, m->aor_cap, sizeof(*m->aor));
    m->aor_links = alloc_n(m, m->aor_cap, sizeof(*m->aor_links));
    m->aor_buckets = alloc_n(m, (size_t)m->aor_mask + 1, sizeof(*m->aor_buckets));
    m->alerts = alloc_n(m, m->alert_cap, sizeof(*m->alerts));
    m->open = alloc_n(m, m->alert_cap, sizeof(*m->open));
    if (!m->src || !m->src_links || !m->src_buckets || !m->aor || !m->aor_links ||
        !m->aor_buckets || !m->alerts || !m->open) {
        secmon_free(m);
        return NULL;
    }
    m->src_lru.l = m->src_links;
    m->aor_lru.l = m->aor_links;
    tables_reset(m);
    return m;
}

void secmon_free(secmon_t *m)
{
    if (m == NULL)
        return;
    free(m->src);
    free(m->src_links);
    free(m->src_buckets);
    free(m->aor);
    free(m->aor_links);
    free(m->aor_buckets);
    free(m->alerts);
    free(m->open);
    free(m);
}

void secmon_set_first_alert_id(secmon_t *m, int64_t first_id)
{
    if (first_id > 0)
        m->next_alert_id = first_id;
}

const secmon_stats_t *secmon_stats(const secmon_t *m)
{
    return &m->stats;
}

/* ------------------------------------------------------------------ helpers */

/* Table placement uses a per-instance seed (hash_seed, or one drawn at secmon_new), so that
 * nobody can aim spoofed addresses or made-up users at one hash chain. The keys of the
 * distinct counts use a fixed seed instead: counts must not vary from run to run. */
static uint64_t sv_hash(const secmon_t *m, sv_t s)
{
    return hash_bytes(s.p ? s.p : "", s.len, m->table_seed ^ 0x5ec0u);
}

static uint64_t addr_hash(const secmon_t *m, const net_addr_t *a)
{
    return hash_bytes(a, sizeof(*a), m->table_seed ^ 0xadd7u);
}

static uint32_t sv_key(const secmon_t *m, sv_t s)
{
    return key24(hash_bytes(s.p ? s.p : "", s.len, m->cfg.hash_seed ^ 0xc047u));
}

static uint32_t addr_key(const secmon_t *m, const net_addr_t *a)
{
    return key24(hash_bytes(a, sizeof(*a), m->cfg.hash_seed ^ 0xadd7c047u));
}

/* Copy s into buf (NUL-terminated), cut at cap - 1 bytes, and never in the middle of a UTF-8
 * sequence; control bytes become '?', so stored text is always printable. */
static void copy_text(char *buf, size_t cap, sv_t s)
{
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    if (n < s.len) {
        while (n > 0 && ((unsigned char)s.p[n] & 0xc0) == 0x80)
            n--;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s.p[i];
        buf[i] = (char)(ch < 0x20 || ch == 0x7f ? '?' : ch);
    }
    buf[n] = '\0';
}

/* Does text (ASCII case-insensitively) contain the lower-case literal lc? */
static bool contains_ci(sv_t text, const char *lc)
{
    size_t k = strlen(lc);
    if (k == 0 || text.len < k)
        return false;
    for (size_t i = 0; i + k <= text.len; i++) {
        size_t j = 0;
        while (j < k) {
            char ch = text.p[i + j];
            if ((ch >= 'A' && ch <= 'Z' ? ch + 32 : ch) != lc[j])
                break;
            j++;
        }
        if (j == k)
            return true;
    }
    return false;
}

static bool prefix_match(const secmon_prefix_t *p, const net_addr_t *a)
{
    if (p->addr.family != a->family)
        return false;
    unsigned full = p->bits / 8u, rest = p->bits % 8u;
    if (memcmp(p->addr.bytes, a->bytes, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (p->addr.bytes[full] & mask) == (a->bytes[full] & mask);
}

static bool is_trusted(const secmon_t *m, const net_addr_t *a)
{
    for (size_t i = 0; i < m->cfg.n_trusted; i++)
        if (prefix_match(&m->cfg.trusted[i], a))
            return true;
    return false;
}

static bool is_registrar(const secmon_t *m, const net_addr_t *a)
{
    for (uint32_t i = 0; i < m->n_registrars; i++)
        if (net_addr_eq(&m->registrars[i], a))
            return true;
    return false;
}

static void registrar_add(secmon_t *m, const net_addr_t *a)
{
    if (is_registrar(m, a))
        return;
    m->registrars[m->registrar_pos] = *a;
    m->registrar_pos = (m->registrar_pos + 1) % REGISTRARS;
    if (m->n_registrars < REGISTRARS)
        m->n_registrars++;
}

/* New rows per minute of capture time (alerts, and bindings that never registered): a flood
 * of spoofed sources must not turn into a flood of database rows. */
static bool budget_take(secmon_t *m, int64_t ts)
{
    int64_t minute = ts / (60 * NS_PER_S);
    if (minute != m->budget_minute) {
        m->budget_minute = minute;
        m->budget_used = 0;
    }
    if (m->budget_used >= m->cfg.max_new_per_min)
        return false;
    m->budget_used++;
    return true;
}

/* "sip:user@host" (host lower-cased), "sips:...", "tel:number"; false if the URI has neither
 * user nor host. uoff and ulen locate the user part in buf. */
static bool make_aor(const sip_uri_t *u, char *buf, size_t cap, uint8_t *uoff, uint8_t *ulen)
{
    const char *scheme = u->scheme == SIP_SCHEME_SIPS  ? "sips:"
                         : u->scheme == SIP_SCHEME_TEL ? "tel:"
                                                       : "sip:";
    if (u->user.len == 0 && u->host.len == 0)
        return false;
    size_t n = strlen(scheme);
    memcpy(buf, scheme, n);
    *uoff = (uint8_t)n;
    char tmp[AOR_MAX];
    copy_text(tmp, sizeof(tmp), u->user);
    size_t ul = strlen(tmp);
    if (ul > cap - 1 - n)
        ul = cap - 1 - n;
    memcpy(buf + n, tmp, ul);
    n += ul;
    *ulen = (uint8_t)ul;
    if (u->scheme != SIP_SCHEME_TEL && u->host.len > 0) {
        if (ul > 0 && n < cap - 1)
            buf[n++] = '@';
        for (size_t i = 0; i < u->host.len && n < cap - 1; i++) {
            char ch = u->host.p[i];
            buf[n++] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : (ch < 0x20 ? '?' : ch));
        }
    }
    buf[n] = '\0';
    return true;
}

static uint32_t tx_key(const secmon_t *m, const sip_msg_t *msg)
{
    uint32_t k = (uint32_t)hash_mix(sv_hash(m, msg->call_id) ^ msg->cseq);
    return k ? k : 1;
}

static bool has_credentials(const sip_msg_t *msg)
{
    return sip_header_find(msg, SIP_HDR_AUTHORIZATION, NULL) != NULL ||
           sip_header_find(msg, SIP_HDR_PROXY_AUTHORIZATION, NULL) != NULL;
}

/* ------------------------------------------------------------------ alerts */

static void alert_fill(secmon_t *m, alert_t *a)
{
    alert_record_t *r = &a->r;
    if (!a->owner_aor) {
        const src_t *s = &m->src[a->owner - 1];
        r->count = s->requests;
        r->registers = s->registers;
        r->invites = s->invites;
        r->options = s->options;
        r->r2xx = s->r2xx;
        r->r401 = s->r401;
        r->r403 = s->r403;
        r->r404 = s->r404;
        r->first_ns = s->first_ns;
        r->last_ns = s->last_ns;
        r->distinct_targets = bm_estimate(a->targets);
    } else {
        r->distinct_sources = bm_estimate(a->targets);
    }
    r->distinct_users = bm_estimate(a->users);
    r->target = a->target;
    r->user_agent = a->ua;
}

static void alert_emit(secmon_t *m, alert_t *a, int64_t now)
{
    alert_fill(m, a);
    a->dirty = false;
    a->emit_ns = now;
    if (m->sink.on_alert)
        m->sink.on_alert(m->sink.ctx, &a->r);
}

/* The alert changed: emit now if due, else leave it for the tick. */
static void alert_touch(secmon_t *m, alert_t *a, int64_t ts, int64_t msg_id)
{
    if (a->r.n_samples < ALERT_MAX_SAMPLES) {
        a->r.sample_ns[a->r.n_samples] = ts;
        a->r.sample_ids[a->r.n_samples] = msg_id;
        a->r.n_samples++;
    }
    a->dirty = true;
    if (ts - a->emit_ns >= m->alert_update_ns) {
        m->stats.alerts_updated++;
        alert_emit(m, a, ts);
    }
}

/* A new open alert, or NULL when the table is full or the minute's budget is spent. *refused
 * is the owner's note of the minute that refused it: one refusal is counted per owner and
 * minute, and the next minute tries again (a real attack behind a spoofed flood still gets
 * its alert once the budget renews). */
static alert_t *alert_new(secmon_t *m, int64_t ts, uint32_t *refused)
{
    uint32_t minute = (uint32_t)(ts / (60 * NS_PER_S)) + 1;
    if (*refused == minute)
        return NULL;
    alert_grow(m);
    if (m->alert_free == 0) {
        m->stats.alerts_dropped++;
        *refused = minute;
        return NULL;
    }
    if (!budget_take(m, ts)) {
        m->stats.alerts_suppressed++;
        *refused = minute;
        return NULL;
    }
    uint32_t i = m->alert_free;
    alert_t *a = &m->alerts[i - 1];
    m->alert_free = a->next_free;
    memset(a, 0, sizeof(*a));
    a->r.id = m->next_alert_id++;
    a->r.open = true;
    a->open_pos = m->n_open;
    m->open[m->n_open++] = i;
    m->stats.open_alerts = m->n_open;
    m->stats.alerts_raised++;
    return a;
}

/* Close an alert: final emission, then its slot goes back to the free list. */
static void alert_close(secmon_t *m, uint32_t i, int64_t now)
{
    alert_t *a = &m->alerts[i - 1];
    a->r.open = false;
    alert_emit(m, a, now);
    m->stats.alerts_closed++;
    if (a->owner_aor)
        m->aor[a->owner - 1].alert = 0;
    else
        m->src[a->owner - 1].alert = 0;
    uint32_t last = m->open[--m->n_open];
    m->open[a->open_pos] = last;
    m->alerts[last - 1].open_pos = a->open_pos;
    m->stats.open_alerts = m->n_open;
    a->next_free = m->alert_free;
    m->alert_free = i;
}

/* A detector fired for source s: raise its alert, or add the detector to the open one (the
 * alert's type becomes the most severe detector's). */
static void src_fire(secmon_t *m, src_t *s, alert_detector_t det, int64_t ts, sv_t target, sv_t ua,
                     int64_t msg_id)
{
    uint32_t bit = 1u << det;
    bool first_time = (s->fired & bit) == 0;
    s->fired |= bit;
    alert_type_t type = alert_detector_type(det);
    if (s->alert == 0) {
        alert_t *a = alert_new(m, ts, &s->refused);
        if (a == NULL)
            return;
        s->alert = (uint32_t)(a - m->alerts) + 1;
        a->owner = (uint32_t)(s - m->src) + 1;
        a->r.type = type;
        a->r.source = s->addr;
        copy_text(a->target, sizeof(a->target), target);
        copy_text(a->ua, sizeof(a->ua), ua);
        /* What the windows still hold of the episode before the alert. */
        for (int i = 0; i < DSET; i++) {
            if (s->users.e[i])
                bm_set(a->users, s->users.e[i] >> 8);
            if (s->targets.e[i])
                bm_set(a->targets, s->targets.e[i] >> 8);
        }
        a->r.indicators = s->fired;
        for (int d = 0; d < ALERT_DET_COUNT; d++) {
            if ((s->fired & (1u << d)) && alert_detector_type((alert_detector_t)d) < a->r.type)
                a->r.type = alert_detector_type((alert_detector_t)d);
        }
        m->stats.alerts_by_type[a->r.type]++;
        a->r.sample_ns[0] = ts;
        a->r.sample_ids[0] = msg_id;
        a->r.n_samples = 1;
        alert_emit(m, a, ts);
        return;
    }
    alert_t *a = &m->alerts[s->alert - 1];
    if (!first_time)
        return;
    a->r.indicators |= bit;
    if (ua.len > 0 && a->ua[0] == '\0')
        copy_text(a->ua, sizeof(a->ua), ua);
    if (type < a->r.type) {
        /* Upgrades are emitted at once: the type is what people filter on. */
        a->r.type = type;
        m->stats.alerts_by_type[type]++;
        m->stats.alerts_updated++;
        alert_emit(m, a, ts);
    } else {
        a->dirty = true;
    }
}

/* ------------------------------------------------------------------ sources */

/* The tracker of a, or NULL; *chain gets the length of a's hash chain. */
static src_t *src_find(secmon_t *m, const net_addr_t *a, uint32_t *bucket, uint32_t *chain)
{
    *bucket = (uint32_t)addr_hash(m, a) & m->src_mask;
    *chain = 0;
    for (uint32_t i = m->src_buckets[*bucket]; i != 0; i = m->src[i - 1].hnext, (*chain)++)
        if (net_addr_eq(&m->src[i - 1].addr, a))
            return &m->src[i - 1];
    return NULL;
}

static void src_release(secmon_t *m, uint32_t i, int64_t now)
{
    src_t *s = &m->src[i - 1];
    if (s->alert)
        alert_close(m, s->alert, now);
    uint32_t b = (uint32_t)addr_hash(m, &s->addr) & m->src_mask;
    uint32_t *pp = &m->src_buckets[b];
    while (*pp != i)
        pp = &m->src[*pp - 1].hnext;
    *pp = s->hnext;
    lru_unlink(&m->src_lru, i);
    memset(s, 0, sizeof(*s));
    s->hnext = m->src_free;
    m->src_free = i;
    m->src_used--;
    m->stats.live_sources = m->src_used;
}

/* Start a new episode on a tracker (new, or quiet for idle_s). */
static void src_episode(secmon_t *m, src_t *s, int64_t ts)
{
    if (s->alert)
        alert_close(m, s->alert, s->last_ns);
    net_addr_t addr = s->addr;
    uint32_t hnext = s->hnext;
    memset(s, 0, sizeof(*s));
    s->addr = addr;
    s->hnext = hnext;
    s->first_ns = s->last_ns = ts;
    s->rate_epoch = ts / m->rate_slot_ns;
    s->long_epoch = ts / m->long_slot_ns;
}

/* The tracker of a, created when missing (evicting the least recently active one when the
 * table is full, preferring one without an open alert). */
static src_t *src_get(secmon_t *m, const net_addr_t *a, int64_t ts)
{
    uint32_t b, chain;
    src_t *s = src_find(m, a, &b, &chain);
    if (s != NULL) {
        if (ts - s->last_ns >= m->idle_ns)
            src_episode(m, s, ts);
        lru_touch(&m->src_lru, (uint32_t)(s - m->src) + 1);
        return s;
    }
    if (chain >= CHAIN_MAX) {
        m->stats.sources_refused++;
        return NULL;
    }
    src_grow(m);
    if (m->src_free == 0) {
        uint32_t victim = m->src_lru.tail;
        for (uint32_t i = victim, n = 0; i != 0 && n < VICTIM_SCAN;
             i = m->src_links[i - 1].prev, n++) {
            if (m->src[i - 1].alert == 0) {
                victim = i;
                break;
            }
        }
        m->stats.sources_evicted++;
        src_release(m, victim, ts);
        b = (uint32_t)addr_hash(m, a) & m->src_mask;
    }
    uint32_t i = m->src_free;
    s = &m->src[i - 1];
    m->src_free = s->hnext;
    s->addr = *a;
    s->hnext = 0;
    src_episode(m, s, ts);
    s->hnext = m->src_buckets[b];
    m->src_buckets[b] = i;
    lru_push(&m->src_lru, i);
    m->src_used++;
    m->stats.sources_created++;
    m->stats.live_sources = m->src_used;
    return s;
}

/* Move the source's windows to time ts (a time before the newest slot counts in it). */
static void src_advance(secmon_t *m, src_t *s, int64_t ts)
{
    int64_t re = ts / m->rate_slot_ns, le = ts / m->long_slot_ns;
    if (re > s->rate_epoch) {
        win_shift(&s->reg, s->rate_epoch, re);
        win_shift(&s->inv, s->rate_epoch, re);
        s->rate_epoch = re;
    }
    if (le > s->long_epoch) {
        int64_t moved = le - s->long_epoch;
        win_shift(&s->fin, s->long_epoch, le);
        win_shift(&s->authfail, s->long_epoch, le);
        win_shift(&s->rej, s->long_epoch, le);
        dset_expire(&s->users, moved, le);
        dset_expire(&s->targets, moved, le);
        s->long_epoch = le;
    }
    if (ts > s->last_ns)
        s->last_ns = ts;
}

/* Unusual destination: the dialled number starts with an international prefix followed by one
 * of the unusual codes (or any code with unusual_any_international). Visual separators
 * (RFC 3966 "-", ".", "(", ")") are ignored. */
static bool unusual_number(const secmon_t *m, sv_t user, char *num, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < user.len && n < cap - 1; i++) {
        char ch = user.p[i];
        if (ch == ';')
            break; /* user parameters (";phone-context=...") */
        if (ch == '-' || ch == '.' || ch == '(' || ch == ')' || ch == ' ')
            continue;
        if (!(ch >= '0' && ch <= '9') && ch != '+' && ch != '*' && ch != '#')
            return false; /* not a number */
        num[n++] = ch;
    }
    num[n] = '\0';
    const secmon_cfg_t *c = &m->cfg;
    for (size_t i = 0; i < c->intl_prefixes.n; i++) {
        size_t pl = strlen(c->intl_prefixes.item[i]);
        if (pl == 0 || n <= pl || memcmp(num, c->intl_prefixes.item[i], pl) != 0)
            continue;
        if (c->unusual_any_international)
            return true;
        for (size_t j = 0; j < c->unusual_codes.n; j++) {
            size_t cl = strlen(c->unusual_codes.item[j]);
            if (cl > 0 && n - pl >= cl && memcmp(num + pl, c->unusual_codes.item[j], cl) == 0)
                return true;
        }
    }
    return false;
}

static bool scanner_agent(const secmon_t *m, sv_t ua)
{
    if (ua.len == 0)
        return false;
    if (ua.len > 256)
        ua.len = 256;
    for (size_t i = 0; i < m->cfg.scanner_agents.n; i++)
        if (contains_ci(ua, m->agents_lc[i]))
            return true;
    return false;
}

static void src_request(secmon_t *m, const packet_view_t *pkt, const sip_msg_t *msg, int64_t msg_id)
{
    int64_t ts = pkt->ts_ns;
    src_t *s = src_get(m, &pkt->src.addr, ts);
    if (s == NULL)
        return;
    src_advance(m, s, ts);
    s->requests++;
    sip_method_t meth = msg->method_id;
    s->registers += meth == SIP_METHOD_REGISTER;
    s->invites += meth == SIP_METHOD_INVITE;
    s->options += meth == SIP_METHOD_OPTIONS;
    char aor[AOR_MAX];
    uint8_t uoff, ulen;
    sv_t target = msg->request_uri;
    if (meth == SIP_METHOD_REGISTER && make_aor(&msg->to.uri, aor, sizeof(aor), &uoff, &ulen))
        target = sv_from_cstr(aor);

    if (meth != SIP_METHOD_ACK) {
        /* Remember the transaction: its answer tells whether credentials were rejected. */
        s->tx_key[s->tx_pos] = tx_key(m, msg);
        s->tx_flags[s->tx_pos] = (uint8_t)(TX_USED | (has_credentials(msg) ? TX_AUTH : 0));
        s->tx_pos = (uint8_t)((s->tx_pos + 1) % RING);
    }
    if (s->alert) {
        alert_t *a = &m->alerts[s->alert - 1];
        if (a->ua[0] == '\0' && msg->user_agent.len > 0)
            copy_text(a->ua, sizeof(a->ua), msg->user_agent);
        alert_touch(m, a, ts, msg_id);
    }

    if (scanner_agent(m, msg->user_agent)) {
        if (s->scanner_hits < UINT16_MAX)
            s->scanner_hits++;
        if (s->scanner_hits >= m->cfg.scanner_requests)
            src_fire(m, s, ALERT_DET_SCANNER_USER_AGENT, ts, target, msg->user_agent, msg_id);
    }
    switch (meth) {
        case SIP_METHOD_REGISTER:
            if (win_add(&s->reg, s->rate_epoch) >= m->cfg.register_flood)
                src_fire(m, s, ALERT_DET_REGISTER_FLOOD, ts, target, msg->user_agent, msg_id);
            break;
        case SIP_METHOD_INVITE: {
            if (msg->to.tag.len > 0)
                break; /* re-INVITE inside a dialog */
            if (win_add(&s->inv, s->rate_epoch) >= m->cfg.invite_flood)
                src_fire(m, s, ALERT_DET_INVITE_FLOOD, ts, target, msg->user_agent, msg_id);
            sip_uri_t ruri;
            char num[64];
            if (sip_uri_parse(msg->request_uri, &ruri) &&
                unusual_number(m, ruri.user, num, sizeof(num))) {
                if (s->unusual_hits < UINT16_MAX)
                    s->unusual_hits++;
                if (s->unusual_hits >= m->cfg.unusual_calls)
                    src_fire(m, s, ALERT_DET_UNUSUAL_DESTINATION, ts, sv_from_cstr(num),
                             msg->user_agent, msg_id);
            }
            break;
        }
        case SIP_METHOD_OPTIONS: {
            uint32_t k = addr_key(m, &pkt->dst.addr);
            uint32_t n = dset_add(&s->targets, k, s->long_epoch);
            if (s->alert)
                bm_set(m->alerts[s->alert - 1].targets, k);
            /* A registrar pinging its registered contacts (keep-alive OPTIONS, Asterisk's
             * qualify, Kamailio's nathelper) is not a sweep. */
            if (n >= m->cfg.sweep_targets && !is_registrar(m, &pkt->src.addr))
                src_fire(m, s, ALERT_DET_OPTIONS_SWEEP, ts, SV_NULL, msg->user_agent, msg_id);
            break;
        }
        default:
            break;
    }
}

/* Answer sent to a tracked source. Plain 401/407 challenges are the normal first step of digest
 * authentication and count in no ratio; 401/407 to a request that carried credentials mean
 * they were wrong, like 403. */
static bool src_response(secmon_t *m, const packet_view_t *pkt, const sip_msg_t *msg, int64_t msg_id)
{
    uint32_t b, chain;
    src_t *s = src_find(m, &pkt->dst.addr, &b, &chain);
    int64_t ts = pkt->ts_ns;
    if (s == NULL || ts - s->last_ns >= m->idle_ns)
        return false;
    uint16_t st = msg->status_code;
    if (st < 200)
        return true;
    lru_touch(&m->src_lru, (uint32_t)(s - m->src) + 1);
    src_advance(m, s, ts);
    bool cred = false;
    uint32_t key = tx_key(m, msg);
    for (int i = 0; i < RING; i++) {
        if ((s->tx_flags[i] & TX_USED) && s->tx_key[i] == key) {
            cred = (s->tx_flags[i] & TX_AUTH) != 0;
            s->tx_flags[i] = 0;
            break;
        }
    }
    bool authfail = false, rejected = false, final = true;
    if (st < 300) {
        s->r2xx++;
    } else if (st == 401 || st == 407) {
        s->r401++;
        authfail = rejected = cred;
        final = cred;
    } else if (st == 403) {
        s->r403++;
        authfail = rejected = true;
    } else if (st == 404) {
        s->r404++;
        rejected = true;
    }
    alert_t *a = s->alert ? &m->alerts[s->alert - 1] : NULL;
    if (a)
        alert_touch(m, a, ts, msg_id);
    if (!final)
        return true;
    uint32_t fin = win_add(&s->fin, s->long_epoch);
    uint32_t nauth = authfail ? win_add(&s->authfail, s->long_epoch) : win_sum(&s->authfail);
    uint32_t nrej = rejected ? win_add(&s->rej, s->long_epoch) : win_sum(&s->rej);
    if (!rejected)
        return true;
    char aor[AOR_MAX];
    uint8_t uoff, ulen;
    sv_t target = SV_NULL;
    uint32_t users = 0;
    if (make_aor(&msg->to.uri, aor, sizeof(aor), &uoff, &ulen)) {
        target = sv_from_cstr(aor);
        uint32_t k = sv_key(m, target);
        users = dset_add(&s->users, k, s->long_epoch);
        if (a)
            bm_set(a->users, k);
    }
    double ratio = m->cfg.fail_ratio * fin;
    if (authfail && nauth >= m->cfg.auth_failures && nauth >= ratio)
        src_fire(m, s, ALERT_DET_AUTH_FAILURE, ts, target, SV_NULL, msg_id);
    if (users >= m->cfg.enum_users && nrej >= ratio)
        src_fire(m, s, ALERT_DET_USER_ENUMERATION, ts, target, SV_NULL, msg_id);
    return true;
}

/* ------------------------------------------------------------------ registrations */

static aor_t *aor_find(secmon_t *m, const char *text, uint64_t h)
{
    uint32_t n = 0;
    for (uint32_t i = m->aor_buckets[h & m->aor_mask]; i != 0 && n < CHAIN_MAX;
         i = m->aor[i - 1].hnext, n++) {
        aor_t *a = &m->aor[i - 1];
        if (a->hash == h && strcmp(a->aor, text) == 0)
            return a;
    }
    return NULL;
}

static void binding_emit(secmon_t *m, aor_t *a, binding_t *b, int64_t now)
{
    if (!(b->flags & B_EVER_OK) && !(b->flags & B_EMITTED)) {
        if (b->flags2 & B_SUPPRESSED)
            return;
        if (!budget_take(m, now)) {
            b->flags2 |= B_SUPPRESSED;
            m->stats.registrations_suppressed++;
            return;
        }
    }
    char user[AOR_MAX];
    memcpy(user, a->aor + a->user_off, a->user_len);
    user[a->user_len] = '\0';
    registration_record_t r = {
        .aor = a->aor,
        .aor_user = user,
        .contact = b->contact,
        .user_agent = b->ua,
        .source = b->source,
        .expires = b->expires,
        .expires_ns = b->expires_ns,
        .last_status = b->last_status,
        .active = (b->flags & B_ACTIVE) != 0,
        .attempts = b->attempts,
        .challenges = b->challenges,
        .failures = b->failures,
        .first_ns = b->first_ns,
        .last_ns = b->last_ns,
    };
    b->flags = (uint8_t)((b->flags | B_EMITTED) & ~B_DIRTY);
    b->flags2 &= (uint8_t)~B_SRC_MOVED;
    b->emitted_status = b->last_status;
    b->emit_ns = now;
    m->stats.registrations_emitted++;
    if (m->sink.on_registration)
        m->sink.on_registration(m->sink.ctx, &r);
}

/* Forget a binding, emitting its last state if that was not emitted yet. */
static void binding_drop(secmon_t *m, aor_t *a, binding_t *b, int64_t now)
{
    if ((b->flags & B_DIRTY) || !(b->flags & B_EMITTED))
        binding_emit(m, a, b, now);
    memset(b, 0, sizeof(*b));
}

static void aor_release(secmon_t *m, uint32_t i, int64_t now)
{
    aor_t *a = &m->aor[i - 1];
    for (int k = 0; k < REG_SLOTS; k++)
        if (a->b[k].flags & B_USED)
            binding_drop(m, a, &a->b[k], now);
    if (a->alert)
        alert_close(m, a->alert, now);
    uint32_t *pp = &m->aor_buckets[a->hash & m->aor_mask];
    while (*pp != i)
        pp = &m->aor[*pp - 1].hnext;
    *pp = a->hnext;
    lru_unlink(&m->aor_lru, i);
    memset(a, 0, sizeof(*a));
    a->hnext = m->aor_free;
    m->aor_free = i;
    m->aor_used--;
    m->stats.live_aors = m->aor_used;
}

static bool aor_has_active(const aor_t *a)
{
    for (int k = 0; k < REG_SLOTS; k++)
        if (a->b[k].flags & B_ACTIVE)
            return true;
    return false;
}

/* The AOR's tracker, created when create is set. At the cap the least recently active AOR
 * without an active binding goes (else the least recently active one): under a flood of
 * REGISTERs for made-up users, real bindings stay tracked. Its state is emitted first. */
static aor_t *aor_get(secmon_t *m, const char *text, uint8_t uoff, uint8_t ulen, int64_t ts,
                      bool create)
{
    uint64_t h = sv_hash(m, sv_from_cstr(text));
    aor_t *a = aor_find(m, text, h);
    if (a != NULL || !create)
        return a;
    uint32_t chain = 0;
    for (uint32_t i = m->aor_buckets[h & m->aor_mask]; i != 0; i = m->aor[i - 1].hnext)
        chain++;
    if (chain >= CHAIN_MAX) {
        m->stats.aors_refused++;
        return NULL;
    }
    aor_grow(m);
    if (m->aor_free == 0) {
        uint32_t victim = m->aor_lru.tail;
        for (uint32_t i = victim, n = 0; i != 0 && n < VICTIM_SCAN;
             i = m->aor_links[i - 1].prev, n++) {
            if (!aor_has_active(&m->aor[i - 1])) {
                victim = i;
                break;
            }
        }
        m->stats.aors_evicted++;
        aor_release(m, victim, ts);
    }
    uint32_t i = m->aor_free;
    a = &m->aor[i - 1];
    m->aor_free = a->hnext;
    memset(a, 0, sizeof(*a));
    a->hash = h;
    sv_copy(sv_from_cstr(text), a->aor, sizeof(a->aor));
    a->user_off = uoff;
    a->user_len = ulen;
    a->flags = A_USED;
    a->last_ns = ts;
    a->long_epoch = ts / m->long_slot_ns;
    a->hnext = m->aor_buckets[h & m->aor_mask];
    m->aor_buckets[h & m->aor_mask] = i;
    lru_push(&m->aor_lru, i);
    m->aor_used++;
    m->stats.aors_created++;
    m->stats.live_aors = m->aor_used;
    return a;
}

/* The binding for contact uri, or a new one (replacing the least recently active binding when
 * all REG_SLOTS are taken; its state is emitted first). */
static binding_t *binding_get(secmon_t *m, aor_t *a, sv_t uri, int64_t ts)
{
    char text[CONTACT_MAX];
    copy_text(text, sizeof(text), uri);
    binding_t *free_b = NULL, *oldest = NULL;
    for (int k = 0; k < REG_SLOTS; k++) {
        binding_t *b = &a->b[k];
        if (!(b->flags & B_USED)) {
            if (free_b == NULL)
                free_b = b;
            continue;
        }
        /* RFC 3261 19.1.4: URI comparison is mostly case-sensitive in the user part; compare
         * the text as sent, ASCII case-insensitively, which is what UAs reproduce. */
        if (sv_eq_sv_ci(sv_from_cstr(b->contact), sv_from_cstr(text)))
            return b;
        if (oldest == NULL || b->last_ns < oldest->last_ns)
            oldest = b;
    }
    if (free_b == NULL) {
        m->stats.bindings_replaced++;
        binding_drop(m, a, oldest, ts);
        free_b = oldest;
    }
    memset(free_b, 0, sizeof(*free_b));
    sv_copy(sv_from_cstr(text), free_b->contact, sizeof(free_b->contact));
    free_b->flags = B_USED;
    free_b->first_ns = ts;
    return free_b;
}

static void reg_request(secmon_t *m, const packet_view_t *pkt, const sip_msg_t *msg)
{
    char text[AOR_MAX];
    uint8_t uoff, ulen;
    int64_t ts = pkt->ts_ns;
    if (!make_aor(&msg->to.uri, text, sizeof(text), &uoff, &ulen))
        return;
    aor_t *a = aor_get(m, text, uoff, ulen, ts, true);
    if (a == NULL)
        return;
    a->last_ns = ts > a->last_ns ? ts : a->last_ns;
    lru_touch(&m->aor_lru, (uint32_t)(a - m->aor) + 1);
    sv_t contact = sv_trim(msg->contact);
    uint32_t cid = (uint32_t)sv_hash(m, msg->call_id);
    if (contact.len == 1 && contact.p[0] == '*') {
        /* RFC 3261 10.2.2: "Contact: *" with Expires: 0 removes every binding of the AOR. */
        a->flags |= A_WILD;
        a->wild_cid = cid;
        a->wild_cseq = msg->cseq;
        return;
    }
    if (contact.len == 0)
        return; /* a query of the bindings: changes nothing */
    sip_nameaddr_t na;
    sip_nameaddr_parse(contact, &na);
    sv_t uri = na.uri.raw.len > 0 ? na.uri.raw : contact;
    /* RFC 3261 10.2.1.1: the Contact's expires param wins over the Expires header. */
    bool found = false;
    sv_t ev = sip_param_get(na.params, "expires", &found);
    uint32_t e32;
    uint32_t req = m->cfg.reg_default_expires;
    if (found && sv_to_u32(sv_trim(ev), &e32))
        req = e32;
    else if (msg->expires >= 0)
        req = msg->expires > UINT32_MAX ? UINT32_MAX : (uint32_t)msg->expires;
    binding_t *b = binding_get(m, a, uri, ts);
    if (b->attempts < UINT32_MAX)
        b->attempts++;
    if (b->attempts > 1 && !net_endpoint_eq(&b->source, &pkt->src))
        b->flags2 |= B_SRC_MOVED;
    b->source = pkt->src;
    if (msg->user_agent.len > 0)
        copy_text(b->ua, sizeof(b->ua), msg->user_agent);
    b->cid = cid;
    b->cseq = msg->cseq;
    b->req_expires = req;
    b->flags = (uint8_t)((b->flags | B_PENDING | B_DIRTY) & ~(B_AUTH | B_UNREG));
    if (has_credentials(msg))
        b->flags |= B_AUTH;
    if (req == 0)
        b->flags |= B_UNREG;
    if (ts > b->last_ns)
        b->last_ns = ts;
}

/* Expires granted for contact uri by a 2xx: the matching Contact's expires param, else the
 * Expires header, else what was asked (RFC 3261 10.2.4: the 2xx lists the bindings). */
static uint32_t granted_expires(const sip_msg_t *msg, const binding_t *b)
{
    for (const sip_hdr_t *h = sip_header_find(msg, SIP_HDR_CONTACT, NULL); h != NULL;
         h = sip_header_find(msg, SIP_HDR_CONTACT, h)) {
        sv_t rest = h->value, item;
        while (sip_list_next(&rest, &item)) {
            sip_nameaddr_t na;
            sip_nameaddr_parse(item, &na);
            char text[CONTACT_MAX];
            copy_text(text, sizeof(text), na.uri.raw);
            if (!sv_eq_sv_ci(sv_from_cstr(text), sv_from_cstr(b->contact)))
                continue;
            bool found = false;
            sv_t ev = sip_param_get(na.params, "expires", &found);
            uint32_t e32;
            if (found && sv_to_u32(sv_trim(ev), &e32))
                return e32;
        }
    }
    if (msg->expires >= 0)
        return msg->expires > UINT32_MAX ? UINT32_MAX : (uint32_t)msg->expires;
    return b->req_expires;
}

/* Auth failure against an AOR: a per-AOR alert when several sources share the attack (one
 * source alone is the per-source detectors' business). */
static void aor_failure(secmon_t *m, aor_t *a, const packet_view_t *pkt, const sip_msg_t *msg,
                        int64_t msg_id)
{
    int64_t ts = pkt->ts_ns, le = ts / m->long_slot_ns;
    if (le > a->long_epoch) {
        win_shift(&a->fail, a->long_epoch, le);
        win_shift(&a->fail401, a->long_epoch, le);
        win_shift(&a->fail403, a->long_epoch, le);
        keys_expire(a->srcs, TSRC, le - a->long_epoch, le);
        a->long_epoch = le;
    }
    if (win_sum(&a->fail) == 0)
        a->fail_first_ns = ts;
    a->fail_ns = ts;
    uint16_t st = msg->status_code;
    bool is401 = st == 401 || st == 407;
    uint32_t nfail = win_add(&a->fail, a->long_epoch);
    if (is401)
        win_add(&a->fail401, a->long_epoch);
    else if (st == 403)
        win_add(&a->fail403, a->long_epoch);
    uint32_t k = addr_key(m, &pkt->dst.addr);
    uint32_t nsrc = keys_add(a->srcs, TSRC, k, a->long_epoch);

    alert_t *al = a->alert ? &m->alerts[a->alert - 1] : NULL;
    if (al != NULL) {
        al->r.count++;
        al->r.registers++;
        if (is401)
            al->r.r401++;
        else if (st == 403)
            al->r.r403++;
        else
            al->r.r404++;
        al->r.last_ns = ts;
        bm_set(al->targets, k);
        alert_touch(m, al, ts, msg_id);
        return;
    }
    if (nfail < m->cfg.target_failures || nsrc < m->cfg.target_sources)
        return;
    al = alert_new(m, ts, &a->refused);
    if (al == NULL)
        return;
    /* The episode starts with the window's first failure; its counts are the window's. */
    a->alert = (uint32_t)(al - m->alerts) + 1;
    al->owner = (uint32_t)(a - m->aor) + 1;
    al->owner_aor = true;
    al->r.type = ALERT_AUTH_FAILURE;
    al->r.indicators = 1u << ALERT_DET_TARGET_AUTH_FAILURE;
    al->r.first_ns = a->fail_first_ns;
    al->r.last_ns = ts;
    al->r.count = al->r.registers = nfail;
    al->r.r401 = win_sum(&a->fail401);
    al->r.r403 = win_sum(&a->fail403);
    al->r.r404 = nfail - al->r.r401 - al->r.r403;
    copy_text(al->target, sizeof(al->target), sv_from_cstr(a->aor));
    for (int i = 0; i < TSRC; i++)
        if (a->srcs[i])
            bm_set(al->targets, a->srcs[i] >> 8);
    al->r.sample_ns[0] = ts;
    al->r.sample_ids[0] = msg_id;
    al->r.n_samples = 1;
    m->stats.alerts_by_type[ALERT_AUTH_FAILURE]++;
    alert_emit(m, al, ts);
}

/* A REGISTER's answer: match the binding by Call-ID (the same for all of a UA's registrations
 * with a registrar, RFC 3261 10.2.4) and CSeq. Returns whether the AOR is known. */
static bool reg_response(secmon_t *m, const packet_view_t *pkt, const sip_msg_t *msg, int64_t msg_id)
{
    char text[AOR_MAX];
    uint8_t uoff, ulen;
    int64_t ts = pkt->ts_ns;
    uint16_t st = msg->status_code;
    if (!make_aor(&msg->to.uri, text, sizeof(text), &uoff, &ulen))
        return false;
    aor_t *a = aor_get(m, text, uoff, ulen, ts, false);
    if (a == NULL)
        return false;
    if (st < 200)
        return true;
    a->last_ns = ts > a->last_ns ? ts : a->last_ns;
    uint32_t cid = (uint32_t)sv_hash(m, msg->call_id);
    bool ok = st < 300;
    if ((a->flags & A_WILD) && a->wild_cid == cid && a->wild_cseq == msg->cseq) {
        a->flags &= (uint8_t)~A_WILD;
        for (int k = 0; ok && k < REG_SLOTS; k++) {
            binding_t *b = &a->b[k];
            if (!(b->flags & B_USED))
                continue;
            b->last_ns = ts;
            b->last_status = st;
            if (b->flags & B_ACTIVE) {
                b->flags = (uint8_t)((b->flags & ~B_ACTIVE) | B_DIRTY);
                b->expires_ns = 0;
                binding_emit(m, a, b, ts);
            }
        }
        return true;
    }
    binding_t *b = NULL;
    for (int k = 0; k < REG_SLOTS; k++) {
        binding_t *c = &a->b[k];
        if ((c->flags & B_USED) && c->cid == cid && (b == NULL || c->cseq == msg->cseq))
            b = c;
    }
    if (b == NULL)
        return true;
    bool was_active = (b->flags & B_ACTIVE) != 0, cred = (b->flags & B_AUTH) != 0;
    bool challenge = (st == 401 || st == 407) && !cred;
    /* A retransmitted answer changes no counter. */
    bool fresh = (b->flags & B_PENDING) && b->cseq == msg->cseq;
    b->last_ns = ts > b->last_ns ? ts : b->last_ns;
    b->last_status = st;
    b->flags = (uint8_t)((b->flags | B_DIRTY) & ~B_PENDING);
    if (ok) {
        uint32_t granted = granted_expires(msg, b);
        if ((b->flags & B_UNREG) || granted == 0) {
            b->flags &= (uint8_t)~B_ACTIVE;
            b->expires = 0;
            b->expires_ns = 0;
        } else {
            b->flags |= B_ACTIVE | B_EVER_OK;
            b->expires = granted;
            b->expires_ns = ts + (int64_t)granted * NS_PER_S;
        }
    } else if (challenge) {
        b->challenges += fresh;
    } else if (fresh && (st == 401 || st == 407 || st == 403 || st == 404)) {
        b->failures++;
        aor_failure(m, a, pkt, msg, msg_id);
    }
    /* State changes go out at once; a challenge on its own is not one (it is the normal first
     * half of every authenticated REGISTER). Other changes wait for reg_update_s. */
    bool active = (b->flags & B_ACTIVE) != 0;
    bool change = active != was_active || (b->flags2 & B_SRC_MOVED) ||
                  (!challenge && (!(b->flags & B_EMITTED) || st != b->emitted_status));
    if (change || (!challenge && ts - b->emit_ns >= m->reg_update_ns))
        binding_emit(m, a, b, ts);
    return true;
}

/* ------------------------------------------------------------------ entry points */

void secmon_on_sip(secmon_t *m, const packet_view_t *pkt, const sip_msg_t *msg, int64_t msg_id)
{
    if (pkt->ts_ns > m->now_ns)
        m->now_ns = pkt->ts_ns;
    if (msg->is_request) {
        m->stats.requests++;
        if (msg->method_id == SIP_METHOD_REGISTER)
            reg_request(m, pkt, msg);
        if (is_trusted(m, &pkt->src.addr)) {
            m->stats.trusted++;
            return;
        }
        src_request(m, pkt, msg, msg_id);
        return;
    }
    m->stats.responses++;
    bool known = false;
    if (msg->cseq_method_id == SIP_METHOD_REGISTER) {
        if (msg->status_code >= 200 && msg->status_code < 300)
            registrar_add(m, &pkt->src.addr);
        known = reg_response(m, pkt, msg, msg_id);
    }
    if (!src_response(m, pkt, msg, msg_id) && !known && !is_trusted(m, &pkt->dst.addr))
        m->stats.responses_unmatched++;
}

/* Look at a slice of the AOR table: lapse expired bindings, forget old inactive ones, close
 * quiet per-AOR alerts, emit changes that waited, free empty AORs. The slice is sized so that
 * the whole table is visited once per SWEEP_NS of capture time. */
static void aor_sweep(secmon_t *m, int64_t now)
{
    if (m->aor_cap == 0)
        return;
    int64_t elapsed = now - m->sweep_ns;
    if (elapsed <= 0)
        return;
    uint64_t n =
        elapsed >= SWEEP_NS ? m->aor_cap : (uint64_t)m->aor_cap * (uint64_t)elapsed / SWEEP_NS;
    if (n == 0)
        return;
    m->sweep_ns = now;
    for (uint64_t done = 0; done < n; done++) {
        uint32_t i = m->sweep_pos + 1;
        m->sweep_pos = (m->sweep_pos + 1) % m->aor_cap;
        aor_t *a = &m->aor[i - 1];
        if (!(a->flags & A_USED))
            continue;
        bool any = false;
        for (int k = 0; k < REG_SLOTS; k++) {
            binding_t *b = &a->b[k];
            if (!(b->flags & B_USED))
                continue;
            if ((b->flags & B_ACTIVE) && b->expires_ns <= now) {
                b->flags = (uint8_t)((b->flags & ~B_ACTIVE) | B_DIRTY);
                binding_emit(m, a, b, now);
            }
            if (!(b->flags & B_ACTIVE) && now - b->last_ns >= m->linger_ns) {
                binding_drop(m, a, b, now);
                continue;
            }
            if ((b->flags & B_DIRTY) && now - b->emit_ns >= m->reg_update_ns &&
                (b->flags & B_EMITTED))
                binding_emit(m, a, b, now);
            any = true;
        }
        if (a->alert && now - a->fail_ns >= m->idle_ns)
            alert_close(m, a->alert, a->fail_ns);
        if (!any && a->alert == 0 && now - a->last_ns >= m->idle_ns) {
            m->stats.aors_expired++;
            aor_release(m, i, now);
        }
    }
}

void secmon_tick(secmon_t *m, int64_t now)
{
    if (now > m->now_ns)
        m->now_ns = now;
    now = m->now_ns;
    /* Sources, least recently active first: a quiet one ends its episode and is freed. */
    while (m->src_lru.tail != 0 && now - m->src[m->src_lru.tail - 1].last_ns >= m->idle_ns) {
        uint32_t i = m->src_lru.tail;
        m->stats.sources_expired++;
        src_release(m, i, m->src[i - 1].last_ns);
    }
    if (m->sweep_ns == 0)
        m->sweep_ns = now;
    aor_sweep(m, now);
    /* Open alerts whose updates waited (no message since), once per second. */
    if (now - m->alert_scan_ns >= NS_PER_S) {
        m->alert_scan_ns = now;
        for (uint32_t k = 0; k < m->n_open; k++) {
            alert_t *a = &m->alerts[m->open[k] - 1];
            if (a->dirty && now - a->emit_ns >= m->alert_update_ns) {
                m->stats.alerts_updated++;
                alert_emit(m, a, now);
            }
        }
    }
}

void secmon_flush(secmon_t *m)
{
    int64_t now = m->now_ns;
    while (m->src_lru.tail != 0) {
        uint32_t i = m->src_lru.tail;
        src_release(m, i, m->src[i - 1].last_ns);
    }
    for (uint32_t i = 1; i <= m->aor_cap; i++)
        if (m->aor[i - 1].flags & A_USED)
            aor_release(m, i, now);
    tables_reset(m);
}
