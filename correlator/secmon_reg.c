/* secmon_reg: REGISTER bindings per AOR (RFC 3261 10): their state from requests and answers,
 * lapse and linger, and the per-AOR alert on distributed password guessing. */
#include "secmon_int.h"

#include <string.h>

/* Put a never-used entry on an empty free list, if any is left (hnext = 0 ends it): see
 * tables_reset in secmon.c. */
static void aor_grow(secmon_t *m)
{
    if (m->aor_free == 0 && m->aor_hw <= m->aor_cap) {
        m->aor[m->aor_hw - 1].hnext = 0;
        m->aor_free = m->aor_hw++;
    }
}

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
        if (!secmon_budget_take(m, now)) {
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

void secmon_aor_release(secmon_t *m, uint32_t i, int64_t now)
{
    aor_t *a = &m->aor[i - 1];
    for (int k = 0; k < REG_SLOTS; k++)
        if (a->b[k].flags & B_USED)
            binding_drop(m, a, &a->b[k], now);
    if (a->alert)
        secmon_alert_close(m, a->alert, now);
    uint32_t *pp = &m->aor_buckets[a->hash & m->aor_mask];
    while (*pp != i)
        pp = &m->aor[*pp - 1].hnext;
    *pp = a->hnext;
    ilist_remove(&m->aor_lru, i);
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
        secmon_aor_release(m, victim, ts);
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
    ilist_push_head(&m->aor_lru, i);
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
    secmon_copy_text(text, sizeof(text), uri);
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

void secmon_reg_request(secmon_t *m, const packet_view_t *pkt, const sip_msg_t *msg)
{
    char text[AOR_MAX];
    uint8_t uoff, ulen;
    int64_t ts = pkt->ts_ns;
    if (!secmon_make_aor(&msg->to.uri, text, sizeof(text), &uoff, &ulen))
        return;
    aor_t *a = aor_get(m, text, uoff, ulen, ts, true);
    if (a == NULL)
        return;
    a->last_ns = ts > a->last_ns ? ts : a->last_ns;
    ilist_touch(&m->aor_lru, (uint32_t)(a - m->aor) + 1);
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
        secmon_copy_text(b->ua, sizeof(b->ua), msg->user_agent);
    b->cid = cid;
    b->cseq = msg->cseq;
    b->req_expires = req;
    b->flags = (uint8_t)((b->flags | B_PENDING | B_DIRTY) & ~(B_AUTH | B_UNREG));
    if (secmon_has_credentials(msg))
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
            secmon_copy_text(text, sizeof(text), na.uri.raw);
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
        secmon_alert_touch(m, al, ts, msg_id);
        return;
    }
    if (nfail < m->cfg.target_failures || nsrc < m->cfg.target_sources)
        return;
    al = secmon_alert_new(m, ts, &a->refused);
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
    secmon_copy_text(al->target, sizeof(al->target), sv_from_cstr(a->aor));
    for (int i = 0; i < TSRC; i++)
        if (a->srcs[i])
            bm_set(al->targets, a->srcs[i] >> 8);
    al->r.sample_ns[0] = ts;
    al->r.sample_ids[0] = msg_id;
    al->r.n_samples = 1;
    m->stats.alerts_by_type[ALERT_AUTH_FAILURE]++;
    secmon_alert_emit(m, al, ts);
}

/* A REGISTER's answer: match the binding by Call-ID (the same for all of a UA's registrations
 * with a registrar, RFC 3261 10.2.4) and CSeq. Returns whether the AOR is known. */
bool secmon_reg_response(secmon_t *m, const packet_view_t *pkt, const sip_msg_t *msg,
                         int64_t msg_id)
{
    char text[AOR_MAX];
    uint8_t uoff, ulen;
    int64_t ts = pkt->ts_ns;
    uint16_t st = msg->status_code;
    if (!secmon_make_aor(&msg->to.uri, text, sizeof(text), &uoff, &ulen))
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

/* Look at a slice of the AOR table: lapse expired bindings, forget old inactive ones, close
 * quiet per-AOR alerts, emit changes that waited, free empty AORs. The slice is sized so that
 * the whole table is visited once per SWEEP_NS of capture time. */
void secmon_aor_sweep(secmon_t *m, int64_t now)
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
            secmon_alert_close(m, a->alert, a->fail_ns);
        if (!any && a->alert == 0 && now - a->last_ns >= m->idle_ns) {
            m->stats.aors_expired++;
            secmon_aor_release(m, i, now);
        }
    }
}
