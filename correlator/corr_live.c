/* corr_live: snapshots of the calls and streams in progress (corr.h, "Snapshots"): a call's
 * first before its first message record, a stream's before its first sample, and
 * corr_checkpoint's of everything that changed since. Each object keeps a dirty flag, set where
 * it is updated (a SIP message, an RTP packet, an RTCP report), so a checkpoint hands over only
 * what moved. */
#include "corr.h"

#include <string.h>

#include "corr_int.h"

/* A stream's figures so far (on a copy of its state: the stream goes on unchanged). */
static void stream_emit(corr_t *c, stream_t *s, const rtpstat_result_t *r)
{
    if (c->sink.on_stream != NULL) {
        stream_record_t rec;
        corr_stream_record(s, r, &rec);
        rec.active = true;
        c->sink.on_stream(c->sink.ctx, &rec);
    }
    c->stats.stream_snapshots++;
    s->published = true;
    s->dirty = false;
}

void corr_stream_snapshot(corr_t *c, stream_t *s)
{
    if (!c->cfg.snapshots)
        return;
    rtpstat_result_t r;
    corr_stream_result(s, &r);
    stream_emit(c, s, &r);
}

/* Is call in progress (setup, ringing, in_call)? A call that ended and lingers is not. */
static bool call_in_progress(const call_t *call)
{
    return call->queue != Q_ENDED;
}

/* The call's record so far: its own figures plus those of its live streams, as
 * corr_call_finish would have them if the streams ended now. With emit_streams, the streams
 * that changed are snapshotted on the way (before the call, as final records are). */
static void call_emit(corr_t *c, call_t *call, bool emit_streams)
{
    call_record_t rec;
    corr_call_record(call, &rec);
    uint64_t pkts[2] = {call->media_pkts[0], call->media_pkts[1]};
    double worst = call->worst_mos;
    bool nat = call->nat;
    for (stream_t *s = call->streams; s != NULL; s = s->call_next) {
        rtpstat_result_t r;
        corr_stream_result(s, &r);
        if (emit_streams && (s->dirty || !s->published))
            stream_emit(c, s, &r);
        if (s->dir == 0 || s->dir == 1)
            pkts[s->dir] += r.packets;
        if (r.packets > 0 && r.mos > 0 && (worst == 0 || r.mos < worst))
            worst = r.mos;
        nat = nat || s->sdp_mismatch;
    }
    uint64_t lo = pkts[0] < pkts[1] ? pkts[0] : pkts[1];
    uint64_t hi = pkts[0] < pkts[1] ? pkts[1] : pkts[0];
    rec.one_way = call->answer_ns != 0 && hi > 0 && lo * ONE_WAY_RATIO < hi;
    rec.mos = worst;
    rec.nat = nat;
    /* Answered and not ended: the duration so far, up to the correlator's clock. */
    if (call->answer_ns != 0 && call->end_ns == 0)
        rec.duration_ns = max64(0, c->now_ns - call->answer_ns);
    rec.active = true;
    corr_verdict_fill(c, call, &rec, true); /* the verdict so far */
    if (c->sink.on_call != NULL)
        c->sink.on_call(c->sink.ctx, &rec);
    c->stats.call_snapshots++;
    call->dirty = false;
}

void corr_call_snapshot(corr_t *c, call_t *call)
{
    if (c->cfg.snapshots && call_in_progress(call))
        call_emit(c, call, false);
}

/* A call changed since its last snapshot: a SIP message, or a packet on one of its streams. */
static bool call_changed(const call_t *call)
{
    if (call->dirty)
        return true;
    for (const stream_t *s = call->streams; s != NULL; s = s->call_next) {
        if (s->dirty)
            return true;
    }
    return false;
}

void corr_checkpoint(corr_t *c)
{
    if (!c->cfg.snapshots)
        return;
    c->stats.checkpoints++;
    for (int q = Q_EARLY; q <= Q_CONFIRMED; q++) {
        for (list_node_t *n = c->q[q].head; n != NULL; n = n->next) {
            call_t *call = CONTAINER_OF(n, call_t, qnode);
            if (call_changed(call))
                call_emit(c, call, true);
        }
    }
    /* What is left: streams of no call, or of a call that ended and lingers. */
    for (list_node_t *n = c->stream_q.head; n != NULL; n = n->next) {
        stream_t *s = CONTAINER_OF(n, stream_t, qnode);
        if (s->dirty)
            corr_stream_snapshot(c, s);
    }
}
