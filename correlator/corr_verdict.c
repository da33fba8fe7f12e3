/* corr_verdict: the correlator's side of the verdict (verdict.h): what each stream and each
 * side's signalling showed, gathered as the call goes, and the verdict of a call record. */
#include "corr.h"

#include <string.h>

#include "corr_int.h"

static bool pt_is_comfort_noise(uint8_t pt)
{
    return pt == 13 || pt == 19; /* RFC 3389 CN; 19 the old reserved CN type */
}

void corr_verdict_other_pt(stream_t *s, uint8_t pt, bool event, bool had_pt)
{
    if (event)
        s->event_pkts++;
    else if (had_pt && pt != s->pt && pt_is_comfort_noise(pt))
        s->cn_other_pkts++;
    else if (had_pt && pt != s->pt)
        s->audio_other_pkts++;
}

/* Split a stream's packets into audio and comfort noise (the rest are telephone events). */
static void split_packets(const stream_t *s, uint64_t packets, verdict_stream_t *v)
{
    uint64_t events = s->event_pkts < packets ? s->event_pkts : packets;
    uint64_t rest = packets - events;
    bool pt_is_cn = s->have_pt && (pt_is_comfort_noise(s->pt) || strcmp(s->codec, "CN") == 0);
    uint64_t other = pt_is_cn ? s->audio_other_pkts : s->cn_other_pkts;
    if (other > rest)
        other = rest;
    v->audio_packets = pt_is_cn ? other : rest - other;
    v->cn_packets = pt_is_cn ? rest - other : other;
    if (!s->have_pt) /* telephone events only, and maybe comfort noise of another type */
        v->audio_packets = 0;
}

static void stream_facts(const stream_t *s, const rtpstat_result_t *r, verdict_stream_t *v)
{
    const call_t *call = s->call;
    memset(v, 0, sizeof(*v));
    v->id = s->id;
    v->side = s->dir;
    media_key_to(&s->flow.key.src, &v->src);
    media_key_to(&s->flow.key.dst, &v->dst);
    v->packets = r->packets;
    split_packets(s, r->packets, v);
    v->expected = r->expected;
    v->lost = r->lost;
    v->mean_jitter_ms = r->mean_jitter_ms;
    v->mos = r->mos;
    v->rtt_ms = s->rtcp_rtt_ms;
    v->have_rtcp = s->have_rtcp;
    v->rtcp_fraction_lost = s->rtcp_fraction;
    v->sdp_mismatch = s->sdp_mismatch;
    v->dst_unannounced = call != NULL && !s->by_dst;
    if (call == NULL || (s->dir != 0 && s->dir != 1))
        return;
    v->announced = call->vside[s->dir].rtp;
    const verdict_side_t *rcv = &call->vside[1 - s->dir];
    if (rcv->moved_ns != 0) {
        v->to_moved = net_endpoint_eq(&v->dst, &rcv->moved_to);
        v->to_moved_from = net_endpoint_eq(&v->dst, &rcv->moved_from) && s->last_ns > rcv->moved_ns;
    }
}

void corr_verdict_stream_end(const stream_t *s, const rtpstat_result_t *r)
{
    if (s->call == NULL)
        return;
    verdict_stream_t v;
    stream_facts(s, r, &v);
    verdict_acc_add(&s->call->vacc, &v);
}

static bool is_rtp_media(const sdp_media_t *m)
{
    return m->port != 0 && m->conn.family != 0 && sv_starts_with_ci(m->media, "audio");
}

void corr_verdict_sdp(call_t *call, int side, const packet_view_t *pkt, const sdp_t *sdp)
{
    verdict_side_t *vs = &call->vside[side];
    for (size_t i = 0; i < sdp->n_media && i < SDP_MAX_MEDIA; i++) {
        const sdp_media_t *m = &sdp->media[i];
        if (!is_rtp_media(m))
            continue;
        net_endpoint_t ep = {.addr = m->conn, .port = m->port};
        /* After the answer, a new address for the same side is a move (re-INVITE, UPDATE). */
        if (call->answer_ns != 0 && pkt->ts_ns > call->answer_ns && vs->rtp.addr.family != 0 &&
            !net_endpoint_eq(&ep, &vs->rtp)) {
            vs->moved_ns = pkt->ts_ns;
            vs->moved_from = vs->rtp;
            vs->moved_to = ep;
        }
        vs->rtp = ep;
        vs->dir = (uint8_t)m->dir;
        vs->sdp_ns = pkt->ts_ns;
        return;
    }
}

void corr_verdict_nat_sdp(call_t *call, int side, const packet_view_t *pkt, const net_addr_t *conn)
{
    verdict_side_t *vs = &call->vside[side];
    if (vs->nat_ns != 0)
        return; /* the first message that showed it */
    vs->nat_ns = pkt->ts_ns;
    vs->nat_private = *conn;
    vs->nat_public = pkt->src.addr;
}

void corr_verdict_rtcp(corr_t *c, call_t *call, const packet_view_t *pkt,
                       const rtcp_compound_t *rtcp)
{
    if (call == NULL)
        return;
    /* The reporter's side: the announced end it sent from, else the far end of the one it sent
     * to. */
    int side = -1;
    const media_ent_t *e = media_idx_find(c->idx, &pkt->src);
    if (e != NULL && e->owner == call) {
        side = e->side;
    } else {
        e = media_idx_find(c->idx, &pkt->dst);
        if (e != NULL && e->owner == call)
            side = 1 - e->side;
    }
    if (side < 0)
        return;
    bool reports = false, any = false;
    for (size_t i = 0; i < rtcp->n_packets && i < RTCP_MAX_PACKETS; i++) {
        const rtcp_packet_t *p = &rtcp->packets[i];
        if (p->type == RTCP_SR || p->type == RTCP_RR) {
            any = true;
            reports = reports || p->n_reports > 0;
        }
    }
    if (any) /* the last SR/RR decides: an early one may precede the first RTP */
        call->vside[side].rtcp_empty_ns = reports ? 0 : pkt->ts_ns;
}

void corr_verdict_fill(corr_t *c, const call_t *call, call_record_t *rec, bool in_progress)
{
    verdict_call_t vc = {
        .state = (call_state_t)call->state,
        .final_status = call->final_status,
        .final_ns = call->final_ns,
        .answer_ns = call->answer_ns,
        .now_ns = c->now_ns,
        .in_progress = in_progress,
        .one_way = rec->one_way,
    };
    memcpy(vc.side, call->vside, sizeof(vc.side));
    verdict_acc_t acc = call->vacc;
    for (const stream_t *s = call->streams; s != NULL; s = s->call_next) {
        rtpstat_result_t r;
        corr_stream_result(s, &r);
        verdict_stream_t v;
        stream_facts(s, &r, &v);
        verdict_acc_add(&acc, &v);
    }
    rec->verdict = verdict_decide(&vc, &acc, c->reasons_buf, sizeof(c->reasons_buf));
    rec->reasons = c->reasons_buf;
}
