/* secmon_detect: per-source trackers with their sliding windows, and the detectors that run
 * on them (floods, password guessing, user enumeration, scanners, sweeps, unusual numbers). */
#include "secmon_int.h"

#include <string.h>

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

static bool is_registrar(const secmon_t *m, const net_addr_t *a)
{
    for (uint32_t i = 0; i < m->n_registrars; i++)
        if (net_addr_eq(&m->registrars[i], a))
            return true;
    return false;
}

void secmon_registrar_add(secmon_t *m, const net_addr_t *a)
{
    if (is_registrar(m, a))
        return;
    m->registrars[m->registrar_pos] = *a;
    m->registrar_pos = (m->registrar_pos + 1) % REGISTRARS;
    if (m->n_registrars < REGISTRARS)
        m->n_registrars++;
}

static uint32_t tx_key(const secmon_t *m, const sip_msg_t *msg)
{
    uint32_t k = (uint32_t)hash_mix(sv_hash(m, msg->call_id) ^ msg->cseq);
    return k ? k : 1;
}

/* Put a never-used entry on an empty free list, if any is left (hnext = 0 ends it): see
 * tables_reset in secmon.c. */
static void src_grow(secmon_t *m)
{
    if (m->src_free == 0 && m->src_hw <= m->src_cap) {
        m->src[m->src_hw - 1].hnext = 0;
        m->src_free = m->src_hw++;
    }
}

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

void secmon_src_release(secmon_t *m, uint32_t i, int64_t now)
{
    src_t *s = &m->src[i - 1];
    if (s->alert)
        secmon_alert_close(m, s->alert, now);
    uint32_t b = (uint32_t)addr_hash(m, &s->addr) & m->src_mask;
    uint32_t *pp = &m->src_buckets[b];
    while (*pp != i)
        pp = &m->src[*pp - 1].hnext;
    *pp = s->hnext;
    ilist_remove(&m->src_lru, i);
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
        secmon_alert_close(m, s->alert, s->last_ns);
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
        ilist_touch(&m->src_lru, (uint32_t)(s - m->src) + 1);
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
        secmon_src_release(m, victim, ts);
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
    ilist_push_head(&m->src_lru, i);
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

void secmon_src_request(secmon_t *m, const packet_view_t *pkt, const sip_msg_t *msg, int64_t msg_id)
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
    if (meth == SIP_METHOD_REGISTER &&
        secmon_make_aor(&msg->to.uri, aor, sizeof(aor), &uoff, &ulen))
        target = sv_from_cstr(aor);

    if (meth != SIP_METHOD_ACK) {
        /* Remember the transaction: its answer tells whether credentials were rejected. */
        s->tx_key[s->tx_pos] = tx_key(m, msg);
        s->tx_flags[s->tx_pos] = (uint8_t)(TX_USED | (secmon_has_credentials(msg) ? TX_AUTH : 0));
        s->tx_pos = (uint8_t)((s->tx_pos + 1) % RING);
    }
    if (s->alert) {
        alert_t *a = &m->alerts[s->alert - 1];
        if (a->ua[0] == '\0' && msg->user_agent.len > 0)
            secmon_copy_text(a->ua, sizeof(a->ua), msg->user_agent);
        secmon_alert_touch(m, a, ts, msg_id);
    }

    if (scanner_agent(m, msg->user_agent)) {
        if (s->scanner_hits < UINT16_MAX)
            s->scanner_hits++;
        if (s->scanner_hits >= m->cfg.scanner_requests)
            secmon_src_fire(m, s, ALERT_DET_SCANNER_USER_AGENT, ts, target, msg->user_agent,
                            msg_id);
    }
    switch (meth) {
        case SIP_METHOD_REGISTER:
            if (win_add(&s->reg, s->rate_epoch) >= m->cfg.register_flood)
                secmon_src_fire(m, s, ALERT_DET_REGISTER_FLOOD, ts, target, msg->user_agent,
                                msg_id);
            break;
        case SIP_METHOD_INVITE: {
            if (msg->to.tag.len > 0)
                break; /* re-INVITE inside a dialog */
            if (win_add(&s->inv, s->rate_epoch) >= m->cfg.invite_flood)
                secmon_src_fire(m, s, ALERT_DET_INVITE_FLOOD, ts, target, msg->user_agent, msg_id);
            sip_uri_t ruri;
            char num[64];
            if (sip_uri_parse(msg->request_uri, &ruri) &&
                unusual_number(m, ruri.user, num, sizeof(num))) {
                if (s->unusual_hits < UINT16_MAX)
                    s->unusual_hits++;
                if (s->unusual_hits >= m->cfg.unusual_calls)
                    secmon_src_fire(m, s, ALERT_DET_UNUSUAL_DESTINATION, ts, sv_from_cstr(num),
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
                secmon_src_fire(m, s, ALERT_DET_OPTIONS_SWEEP, ts, SV_NULL, msg->user_agent,
                                msg_id);
            break;
        }
        default:
            break;
    }
}

/* Answer sent to a tracked source. Plain 401/407 challenges are the normal first step of digest
 * authentication and count in no ratio; 401/407 to a request that carried credentials mean
 * they were wrong, like 403. */
bool secmon_src_response(secmon_t *m, const packet_view_t *pkt, const sip_msg_t *msg,
                         int64_t msg_id)
{
    uint32_t b, chain;
    src_t *s = src_find(m, &pkt->dst.addr, &b, &chain);
    int64_t ts = pkt->ts_ns;
    if (s == NULL || ts - s->last_ns >= m->idle_ns)
        return false;
    uint16_t st = msg->status_code;
    if (st < 200)
        return true;
    ilist_touch(&m->src_lru, (uint32_t)(s - m->src) + 1);
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
        secmon_alert_touch(m, a, ts, msg_id);
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
    if (secmon_make_aor(&msg->to.uri, aor, sizeof(aor), &uoff, &ulen)) {
        target = sv_from_cstr(aor);
        uint32_t k = sv_key(m, target);
        users = dset_add(&s->users, k, s->long_epoch);
        if (a)
            bm_set(a->users, k);
    }
    double ratio = m->cfg.fail_ratio * fin;
    if (authfail && nauth >= m->cfg.auth_failures && nauth >= ratio)
        secmon_src_fire(m, s, ALERT_DET_AUTH_FAILURE, ts, target, SV_NULL, msg_id);
    if (users >= m->cfg.enum_users && nrej >= ratio)
        secmon_src_fire(m, s, ALERT_DET_USER_ENUMERATION, ts, target, SV_NULL, msg_id);
    return true;
}
