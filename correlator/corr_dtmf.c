/* corr_dtmf: DTMF digits of calls: RFC 4733 telephone events of a call's streams (grouped by
 * decoders/dtmf.c) and SIP INFO bodies, out as dtmf records. */
#include "corr.h"

#include <string.h>

#include "corr_int.h"
#include "dtmf.h"

/* The clock rate the call's SDP gave the telephone-event payload type pt (8000 by default). */
static uint32_t event_clock(const call_t *call, uint8_t pt)
{
    for (int side = 0; call != NULL && side < 2; side++) {
        for (int i = 0; i < call->n_maps[side]; i++) {
            const pt_map_t *m = &call->maps[side][i];
            if (m->pt == pt && m->event && m->clock != 0)
                return m->clock;
        }
    }
    return 8000;
}

static void emit(corr_t *c, const call_t *call, const dtmf_record_t *rec)
{
    if (c->sink.on_dtmf != NULL && call != NULL)
        c->sink.on_dtmf(c->sink.ctx, rec);
}

static void emit_event(corr_t *c, const stream_t *s, const dtmf_event_t *ev)
{
    const call_t *call = s->call;
    if (call == NULL)
        return;
    uint32_t clock = event_clock(call, s->dtmf_pt);
    dtmf_record_t rec = {
        .call_row = call->id,
        .call_id = call_str(call, call->s_callid),
        .ts_ns = ev->start_ns,
        .digit = dtmf_event_name(ev->event),
        .duration_ms = (uint32_t)((uint64_t)ev->duration * 1000u / clock),
        .stream_row = s->id,
        .volume = ev->volume,
        .ended = ev->ended,
        .via = "rtp",
    };
    emit(c, call, &rec);
}

void corr_dtmf_packet(corr_t *c, stream_t *s, int64_t ts_ns, const rtp_hdr_t *rtp)
{
    s->dtmf_pt = rtp->payload_type;
    dtmf_event_t ev;
    if (dtmf_track_packet(&s->dtmf, ts_ns, rtp, &ev))
        emit_event(c, s, &ev);
}

void corr_dtmf_stream_end(corr_t *c, stream_t *s)
{
    dtmf_event_t ev;
    if (dtmf_track_flush(&s->dtmf, &ev))
        emit_event(c, s, &ev);
}

void corr_dtmf_info(corr_t *c, const call_t *call, const packet_view_t *pkt, const sip_msg_t *msg)
{
    if (!msg->is_request || msg->method_id != SIP_METHOD_INFO || msg->body.len == 0)
        return;
    uint8_t event;
    uint32_t duration_ms;
    if (dtmf_info_parse(msg->content_type.p, msg->content_type.len, msg->body.p, msg->body.len,
                        &event, &duration_ms) != DTMF_OK)
        return;
    dtmf_record_t rec = {
        .call_row = call->id,
        .call_id = call_str(call, call->s_callid),
        .ts_ns = pkt->ts_ns,
        .digit = dtmf_event_name(event),
        .duration_ms = duration_ms,
        .ended = true,
        .via = "info",
    };
    emit(c, call, &rec);
}
