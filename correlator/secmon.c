/* secmon: registrations per AOR and attack detectors per source IP over sliding windows, in
 * fixed-size tables that evict the least recently active entry and count what they drop. This
 * file has the object, its config, the shared helpers and the entry points; secmon_int.h says
 * where the rest lives. */
#include "secmon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "secmon_int.h"

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
    ilist_init(&m->src_lru, m->src_links);
    ilist_init(&m->aor_lru, m->aor_links);
    m->sweep_pos = 0;
    m->stats.live_sources = m->stats.live_aors = m->stats.open_alerts = 0;
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

/* Copy s into buf (NUL-terminated), cut at cap - 1 bytes, and never in the middle of a UTF-8
 * sequence; control bytes become '?', so stored text is always printable. */
void secmon_copy_text(char *buf, size_t cap, sv_t s)
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

/* New rows per minute of capture time (alerts, and bindings that never registered): a flood
 * of spoofed sources must not turn into a flood of database rows. */
bool secmon_budget_take(secmon_t *m, int64_t ts)
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
bool secmon_make_aor(const sip_uri_t *u, char *buf, size_t cap, uint8_t *uoff, uint8_t *ulen)
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
    secmon_copy_text(tmp, sizeof(tmp), u->user);
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

bool secmon_has_credentials(const sip_msg_t *msg)
{
    return sip_header_find(msg, SIP_HDR_AUTHORIZATION, NULL) != NULL ||
           sip_header_find(msg, SIP_HDR_PROXY_AUTHORIZATION, NULL) != NULL;
}

/* ------------------------------------------------------------------ entry points */

void secmon_on_sip(secmon_t *m, const packet_view_t *pkt, const sip_msg_t *msg, int64_t msg_id)
{
    if (pkt->ts_ns > m->now_ns)
        m->now_ns = pkt->ts_ns;
    if (msg->is_request) {
        m->stats.requests++;
        if (msg->method_id == SIP_METHOD_REGISTER)
            secmon_reg_request(m, pkt, msg);
        if (is_trusted(m, &pkt->src.addr)) {
            m->stats.trusted++;
            return;
        }
        secmon_src_request(m, pkt, msg, msg_id);
        return;
    }
    m->stats.responses++;
    bool known = false;
    if (msg->cseq_method_id == SIP_METHOD_REGISTER) {
        if (msg->status_code >= 200 && msg->status_code < 300)
            secmon_registrar_add(m, &pkt->src.addr);
        known = secmon_reg_response(m, pkt, msg, msg_id);
    }
    if (!secmon_src_response(m, pkt, msg, msg_id) && !known && !is_trusted(m, &pkt->dst.addr))
        m->stats.responses_unmatched++;
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
        secmon_src_release(m, i, m->src[i - 1].last_ns);
    }
    if (m->sweep_ns == 0)
        m->sweep_ns = now;
    secmon_aor_sweep(m, now);
    /* Open alerts whose updates waited (no message since), once per second. */
    if (now - m->alert_scan_ns >= NS_PER_S) {
        m->alert_scan_ns = now;
        for (uint32_t k = 0; k < m->n_open; k++) {
            alert_t *a = &m->alerts[m->open[k] - 1];
            if (a->dirty && now - a->emit_ns >= m->alert_update_ns) {
                m->stats.alerts_updated++;
                secmon_alert_emit(m, a, now);
            }
        }
    }
}

void secmon_flush(secmon_t *m)
{
    int64_t now = m->now_ns;
    while (m->src_lru.tail != 0) {
        uint32_t i = m->src_lru.tail;
        secmon_src_release(m, i, m->src[i - 1].last_ns);
    }
    for (uint32_t i = 1; i <= m->aor_cap; i++)
        if (m->aor[i - 1].flags & A_USED)
            secmon_aor_release(m, i, now);
    tables_reset(m);
}
