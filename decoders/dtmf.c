/* dtmf: RFC 4733 telephone-event packets grouped into events, and SIP INFO DTMF bodies. */
#include "dtmf.h"

#include <string.h>

#include "sv.h"

static const char *const names[17] = {
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#", "A", "B", "C", "D", "flash",
};

const char *dtmf_event_name(uint8_t event)
{
    return event < 17 ? names[event] : NULL;
}

static void start_event(dtmf_track_t *t, int64_t ts_ns, uint32_t rtp_ts, const rtp_event_t *ev)
{
    t->active = true;
    t->cur_ts = rtp_ts;
    t->cur = (dtmf_event_t){.event = ev->event,
                            .volume = ev->volume,
                            .start_ns = ts_ns,
                            .duration = ev->duration,
                            .ended = ev->end};
}

/* Hand the current event out. */
static bool take(dtmf_track_t *t, dtmf_event_t *out)
{
    *out = t->cur;
    t->active = false;
    t->have_last = true;
    t->last_ts = t->cur_ts;
    return true;
}

bool dtmf_track_packet(dtmf_track_t *t, int64_t ts_ns, const rtp_hdr_t *h, dtmf_event_t *out)
{
    rtp_event_t ev;
    if (rtp_event_parse(h->payload, h->payload_len, &ev) != RTP_OK ||
        dtmf_event_name(ev.event) == NULL)
        return false;
    if (t->active && h->timestamp == t->cur_ts) {
        if (ev.duration > t->cur.duration)
            t->cur.duration = ev.duration;
        t->cur.volume = ev.volume;
        if (ev.end || t->cur.ended) {
            t->cur.ended = true;
            return take(t, out);
        }
        return false;
    }
    if (!t->active && t->have_last && h->timestamp == t->last_ts)
        return false; /* a retransmitted end packet of the event handed out */
    if (t->active) {
        /* A new event while the previous never ended (its end packets were lost). */
        *out = t->cur;
        t->have_last = true;
        t->last_ts = t->cur_ts;
        start_event(t, ts_ns, h->timestamp, &ev);
        return true;
    }
    start_event(t, ts_ns, h->timestamp, &ev);
    return ev.end ? take(t, out) : false;
}

bool dtmf_track_flush(dtmf_track_t *t, dtmf_event_t *out)
{
    return t->active ? take(t, out) : false;
}

/* The event code of a digit's text ("5", "*", "#", "A".."D" either case, "16" / "flash"). */
static bool digit_event(sv_t v, uint8_t *event)
{
    v = sv_trim(v);
    if (v.len == 1) {
        char c = v.p[0];
        if (c >= '0' && c <= '9')
            *event = (uint8_t)(c - '0');
        else if (c == '*')
            *event = 10;
        else if (c == '#')
            *event = 11;
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'd')
            *event = (uint8_t)(12 + ((c | 0x20) - 'a'));
        else
            return false;
        return true;
    }
    uint32_t n;
    if (sv_eq_ci(v, "flash") || (sv_to_u32(v, &n) && n == 16)) {
        *event = 16;
        return true;
    }
    if (sv_to_u32(v, &n) && n < 16) { /* some phones send "Signal=10" for '*' */
        *event = (uint8_t)n;
        return true;
    }
    return false;
}

int dtmf_info_parse(const char *content_type, size_t ct_len, const char *body, size_t len,
                    uint8_t *event, uint32_t *duration_ms)
{
    *duration_ms = 0;
    sv_t ct = sv_trim(sv_make(content_type, ct_len)), rest = sv_make(body, len), line;
    if (body == NULL)
        return DTMF_INVALID;
    if (sv_starts_with_ci(ct, "application/dtmf-relay")) {
        bool have = false;
        while (rest.len > 0) {
            (void)sv_split_once(rest, '\n', &line, &rest); /* the last line: all of rest */
            sv_t key, value;
            if (!sv_split_once(line, '=', &key, &value))
                continue;
            key = sv_trim(key);
            uint32_t ms;
            if (sv_eq_ci(key, "Signal"))
                have = digit_event(value, event);
            else if (sv_eq_ci(key, "Duration") && sv_to_u32(sv_trim(value), &ms))
                *duration_ms = ms;
        }
        return have ? DTMF_OK : DTMF_INVALID;
    }
    if (sv_eq_ci(ct, "application/dtmf") || (sv_starts_with_ci(ct, "application/dtmf") &&
                                             ct.len > 16 && (ct.p[16] == ';' || ct.p[16] == ' ')))
        return digit_event(rest, event) ? DTMF_OK : DTMF_INVALID;
    return DTMF_INVALID;
}
