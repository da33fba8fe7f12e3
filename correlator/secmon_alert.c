/* secmon_alert: raising, updating and closing the security monitor's alerts, per source or
 * per attacked AOR, in a fixed table with a per-minute budget of new ones. */
#include "secmon_int.h"

#include <math.h>
#include <string.h>

/* Linear counting (Whang et al. 1990): n = -m ln(zeros/m); exact-ish for n well below m, and
 * m ln m (about 15,600 for 2048 bits) once every bit is set. */
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

/* Put a never-used entry on an empty free list, if any is left (next_free = 0 ends it): see
 * tables_reset in secmon.c. */
static void alert_grow(secmon_t *m)
{
    if (m->alert_free == 0 && m->alert_hw <= m->alert_cap) {
        m->alerts[m->alert_hw - 1].next_free = 0;
        m->alert_free = m->alert_hw++;
    }
}

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

void secmon_alert_emit(secmon_t *m, alert_t *a, int64_t now)
{
    alert_fill(m, a);
    a->dirty = false;
    a->emit_ns = now;
    if (m->sink.on_alert)
        m->sink.on_alert(m->sink.ctx, &a->r);
}

/* The alert changed: emit now if due, else leave it for the tick. */
void secmon_alert_touch(secmon_t *m, alert_t *a, int64_t ts, int64_t msg_id)
{
    if (a->r.n_samples < ALERT_MAX_SAMPLES) {
        a->r.sample_ns[a->r.n_samples] = ts;
        a->r.sample_ids[a->r.n_samples] = msg_id;
        a->r.n_samples++;
    }
    a->dirty = true;
    if (ts - a->emit_ns >= m->alert_update_ns) {
        m->stats.alerts_updated++;
        secmon_alert_emit(m, a, ts);
    }
}

/* A new open alert, or NULL when the table is full or the minute's budget is spent. *refused
 * is the owner's note of the minute that refused it: one refusal is counted per owner and
 * minute, and the next minute tries again (a real attack behind a spoofed flood still gets
 * its alert once the budget renews). */
alert_t *secmon_alert_new(secmon_t *m, int64_t ts, uint32_t *refused)
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
    if (!secmon_budget_take(m, ts)) {
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
void secmon_alert_close(secmon_t *m, uint32_t i, int64_t now)
{
    alert_t *a = &m->alerts[i - 1];
    a->r.open = false;
    secmon_alert_emit(m, a, now);
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
void secmon_src_fire(secmon_t *m, src_t *s, alert_detector_t det, int64_t ts, sv_t target, sv_t ua,
                     int64_t msg_id)
{
    uint32_t bit = 1u << det;
    bool first_time = (s->fired & bit) == 0;
    s->fired |= bit;
    alert_type_t type = alert_detector_type(det);
    if (s->alert == 0) {
        alert_t *a = secmon_alert_new(m, ts, &s->refused);
        if (a == NULL)
            return;
        s->alert = (uint32_t)(a - m->alerts) + 1;
        a->owner = (uint32_t)(s - m->src) + 1;
        a->r.type = type;
        a->r.source = s->addr;
        secmon_copy_text(a->target, sizeof(a->target), target);
        secmon_copy_text(a->ua, sizeof(a->ua), ua);
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
        secmon_alert_emit(m, a, ts);
        return;
    }
    alert_t *a = &m->alerts[s->alert - 1];
    if (!first_time)
        return;
    a->r.indicators |= bit;
    if (ua.len > 0 && a->ua[0] == '\0')
        secmon_copy_text(a->ua, sizeof(a->ua), ua);
    if (type < a->r.type) {
        /* Upgrades are emitted at once: the type is what people filter on. */
        a->r.type = type;
        m->stats.alerts_by_type[type]++;
        m->stats.alerts_updated++;
        secmon_alert_emit(m, a, ts);
    } else {
        a->dirty = true;
    }
}
