/* corr_call: SIP messages into calls: the Call-ID table and its timeout queues, dialog state and
 * timings, SDP into the media index and payload maps, and call and message records. */
#include "corr.h"

#include <string.h>

#include "corr_int.h"

/* ------------------------------------------------------------------ small helpers */

static uint64_t sv_hash(const corr_t *c, sv_t s, uint64_t salt)
{
    return hash_bytes(s.p != NULL ? s.p : "", s.len, c->seed ^ salt);
}

/* 0 stands for "no tag". */
static uint64_t tag_hash(const corr_t *c, sv_t tag)
{
    return tag.len == 0 ? 0 : (sv_hash(c, tag, 0x7a67) | 1);
}

static bool addr_unspecified(const net_addr_t *a)
{
    static const uint8_t zero[16];
    return a->family == 0 || memcmp(a->bytes, zero, a->family == 4 ? 4 : 16) == 0;
}

/* Addresses that only make sense behind a NAT: RFC 1918, RFC 6598 shared space, link-local,
 * and IPv6 unique-local and link-local. */
static bool addr_private(const net_addr_t *a)
{
    const uint8_t *b = a->bytes;
    if (a->family == 4)
        return b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168) ||
               (b[0] == 100 && (b[1] & 0xc0) == 64) || (b[0] == 169 && b[1] == 254);
    if (a->family == 6)
        return (b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80);
    return false;
}

/* ------------------------------------------------------------------ call arena */

/* Copy s into the arena, at most keep bytes, cut back to a UTF-8 boundary. Offset 0 is "". */
static uint16_t arena_put(call_t *call, sv_t s, size_t keep)
{
    if (s.len == 0 || call->arena_used >= CALL_ARENA - 1)
        return 0;
    size_t n = s.len < keep ? s.len : keep;
    size_t room = (size_t)(CALL_ARENA - 1 - call->arena_used);
    if (n > room)
        n = room;
    while (n > 0 && n < s.len && ((unsigned char)s.p[n] & 0xc0) == 0x80)
        n--;
    if (n == 0)
        return 0;
    uint16_t off = call->arena_used;
    memcpy(call->arena + off, s.p, n);
    call->arena[off + n] = '\0';
    call->arena_used = (uint16_t)(off + n + 1);
    return off;
}

/* ------------------------------------------------------------------ calls: table and queues */

static bool call_is(const call_t *call, sv_t id, uint64_t hash)
{
    if (call->hash != hash || call->callid_len != id.len)
        return false;
    size_t keep = id.len < CALL_ID_KEEP ? id.len : CALL_ID_KEEP;
    return memcmp(call->arena + call->s_callid, id.p, keep) == 0;
}

static call_t *call_find(const corr_t *c, sv_t id, uint64_t hash)
{
    call_t *call = c->buckets[hash & c->mask];
    for (int depth = 0; call != NULL && depth < CALL_CHAIN_MAX; call = call->hnext, depth++) {
        if (call_is(call, id, hash))
            return call;
    }
    return NULL;
}

call_t *corr_call_lookup(const corr_t *c, sv_t call_id)
{
    if (call_id.len == 0 || call_id.p == NULL)
        return NULL;
    return call_find(c, call_id, sv_hash(c, call_id, 0xca11));
}

static int queue_of(call_state_t st)
{
    switch (st) {
        case CALL_SETUP:
        case CALL_RINGING:
            return Q_EARLY;
        case CALL_IN_CALL:
            return Q_CONFIRMED;
        default:
            return Q_ENDED;
    }
}

/* Put call at the tail of the queue its state belongs to (after a SIP message). */
static void call_requeue(corr_t *c, call_t *call, int64_t ts)
{
    list_remove(&c->q[call->queue], &call->qnode);
    call->queue = (uint8_t)queue_of((call_state_t)call->state);
    call->queued_ns = ts;
    list_push_tail(&c->q[call->queue], &call->qnode);
}

static void call_release_media(corr_t *c, call_t *call)
{
    for (int i = 0; i < call->n_eps; i++)
        media_idx_release(c->idx, call->eps[i], call);
    call->n_eps = 0;
}

void corr_call_record(const call_t *call, call_record_t *rec)
{
    memset(rec, 0, sizeof(*rec));
    rec->id = call->id;
    rec->call_id = call_str(call, call->s_callid);
    rec->from_uri = call_str(call, call->s_from_uri);
    rec->to_uri = call_str(call, call->s_to_uri);
    rec->from_tag = call_str(call, call->s_from_tag);
    rec->to_tag = call_str(call, call->s_to_tag);
    rec->user_agent = call_str(call, call->s_ua);
    rec->caller = call->caller;
    rec->callee = call->callee;
    rec->state = (call_state_t)call->state;
    rec->final_status = call->final_status;
    rec->invite_ns = call->invite_ns;
    rec->ringing_ns = call->ringing_ns;
    rec->answer_ns = call->answer_ns;
    rec->end_ns = call->end_ns;
    /* Post-dial delay: INVITE to the first 18x, or to the final response without one. */
    int64_t pdd_end = call->ringing_ns != 0 ? call->ringing_ns : call->final_ns;
    rec->post_dial_delay_ns = pdd_end != 0 ? max64(0, pdd_end - call->invite_ns) : -1;
    rec->duration_ns =
        call->answer_ns != 0 && call->end_ns != 0 ? max64(0, call->end_ns - call->answer_ns) : -1;
    uint64_t a = call->media_pkts[0], b = call->media_pkts[1];
    uint64_t lo = a < b ? a : b, hi = a < b ? b : a;
    rec->one_way = call->answer_ns != 0 && hi > 0 && lo * ONE_WAY_RATIO < hi;
    rec->nat = call->nat;
    rec->sip_messages = call->sip_messages;
    rec->mos = call->worst_mos;
}

void corr_call_finish(corr_t *c, call_t *call, fin_t why)
{
    while (call->streams != NULL)
        corr_stream_finish(c, call->streams, FIN_ENDED);
    if (c->sink.on_call != NULL) {
        call_record_t rec;
        corr_call_record(call, &rec);
        corr_verdict_fill(c, call, &rec, false);
        c->sink.on_call(c->sink.ctx, &rec);
    }
    switch (why) {
        case FIN_ENDED:
            c->stats.calls_ended++;
            break;
        case FIN_TIMEOUT:
            c->stats.calls_timed_out++;
            break;
        case FIN_EVICT:
            c->stats.calls_evicted++;
            break;
        case FIN_FLUSH:
            c->stats.calls_flushed++;
            break;
    }
    call_release_media(c, call);
    for (call_t **link = &c->buckets[call->hash & c->mask]; *link != NULL; link = &(*link)->hnext) {
        if (*link == call) {
            *link = call->hnext;
            break;
        }
    }
    list_remove(&c->q[call->queue], &call->qnode);
    media_pool_put(&c->calls, call);
    c->stats.live_calls--;
}

/* Make room by evicting call (emitted as it stands). A finished call that only loses the rest
 * of its linger time lost nothing, so it counts as ended, not evicted. */
static void call_evict(corr_t *c, call_t *call)
{
    corr_call_finish(c, call, call->queue == Q_ENDED ? FIN_ENDED : FIN_EVICT);
}

/* The call to give up when max_calls is reached. Finished calls go first: their record is
 * complete and only late retransmissions are lost. Otherwise the call idle the longest, early
 * or answered alike: an unanswered INVITE idle for longer than an answered call's last packet
 * is more likely a scan or a lost final response than a live call. */
static call_t *call_victim(corr_t *c)
{
    if (c->q[Q_ENDED].head != NULL)
        return CONTAINER_OF(c->q[Q_ENDED].head, call_t, qnode);
    call_t *best = NULL;
    for (int q = Q_EARLY; q <= Q_CONFIRMED; q++) {
        /* Heads that had media since they were queued move on first (a few, to stay O(1)). */
        for (int i = 0; i < 8 && c->q[q].head != NULL && c->q[q].head->next != NULL; i++) {
            call_t *h = CONTAINER_OF(c->q[q].head, call_t, qnode);
            int64_t active = call_active_ns(h);
            if (active <= h->queued_ns)
                break;
            list_remove(&c->q[q], &h->qnode);
            h->queued_ns = active;
            list_push_tail(&c->q[q], &h->qnode);
        }
        if (c->q[q].head == NULL)
            continue;
        call_t *h = CONTAINER_OF(c->q[q].head, call_t, qnode);
        if (best == NULL || call_active_ns(h) < call_active_ns(best))
            best = h;
    }
    return best;
}

static call_t *call_create(corr_t *c, const packet_view_t *pkt, const sip_msg_t *msg, uint64_t hash)
{
    /* A chain at its cap (colliding Call-IDs, or a hostile flood) gives up its least recently
     * active call, so that a lookup never walks more than CALL_CHAIN_MAX calls. */
    int depth = 0;
    call_t *stalest = NULL;
    for (call_t *o = c->buckets[hash & c->mask]; o != NULL; o = o->hnext, depth++) {
        if (stalest == NULL || call_active_ns(o) < call_active_ns(stalest))
            stalest = o;
    }
    if (depth >= CALL_CHAIN_MAX && stalest != NULL)
        call_evict(c, stalest);
    call_t *call = media_pool_get(&c->calls);
    if (call == NULL) {
        call_t *victim = call_victim(c);
        if (victim != NULL) {
            call_evict(c, victim);
            call = media_pool_get(&c->calls);
        }
    }
    if (call == NULL) {
        c->stats.calls_refused++;
        return NULL;
    }
    int64_t ts = pkt->ts_ns;
    call->id = new_id(c);
    call->hash = hash;
    call->arena_used = 1; /* offset 0 is the empty string */
    call->callid_len = (uint32_t)msg->call_id.len;
    size_t keep = msg->call_id.len < CALL_ID_KEEP ? msg->call_id.len : CALL_ID_KEEP;
    call->s_callid = call->arena_used;
    memcpy(call->arena + call->s_callid, msg->call_id.p, keep);
    call->arena[call->s_callid + keep] = '\0';
    call->arena_used = (uint16_t)(call->s_callid + keep + 1);
    call->s_from_tag = arena_put(call, msg->from.tag, CALL_STR_KEEP);
    call->from_tag_hash = tag_hash(c, msg->from.tag);
    call->s_from_uri = arena_put(call, msg->from.uri.raw, CALL_STR_KEEP);
    call->s_to_uri = arena_put(call, msg->to.uri.raw, CALL_STR_KEEP);
    call->s_ua = arena_put(call, msg->user_agent, CALL_STR_KEEP);
    call->caller = pkt->src;
    call->callee = pkt->dst;
    call->state = CALL_SETUP;
    call->invite_ns = ts;
    call->sip_ns = call->queued_ns = ts;
    call->queue = Q_EARLY;
    list_push_tail(&c->q[Q_EARLY], &call->qnode);
    call->hnext = c->buckets[hash & c->mask];
    c->buckets[hash & c->mask] = call;
    c->stats.calls_created++;
    c->stats.live_calls++;
    return call;
}

/* ------------------------------------------------------------------ calls: SDP */

/* A stream has stopped running once its call has ended and it has been quiet this long. */
#define STREAM_QUIET_NS NS_PER_S
/* Older claims on an endpoint looked at when another call announces it. */
#define REUSE_WALK 16

/* call announces ep, which older calls announced too. A running stream is never split or
 * re-filed by that; but the streams through ep of older calls that have ended, quiet for a
 * second, end here, so that a later packet (even with the same SSRC) makes a stream of the
 * newer call instead of extending a finished call's stream. */
static void end_quiet_streams(corr_t *c, const call_t *call, const net_endpoint_t *ep)
{
    media_key_t k;
    media_key_from(&k, ep);
    const media_ent_t *e = media_idx_find(c->idx, ep);
    for (int n = 0; e != NULL && n < REUSE_WALK; e = media_idx_older(c->idx, e), n++) {
        call_t *old = e->owner;
        if (old == call || old->queue != Q_ENDED)
            continue;
        stream_t *s = old->streams;
        while (s != NULL) {
            stream_t *next = s->call_next;
            if ((media_key_eq(&s->flow.key.src, &k) || media_key_eq(&s->flow.key.dst, &k)) &&
                c->now_ns - s->last_ns >= STREAM_QUIET_NS)
                corr_stream_finish(c, s, FIN_ENDED); /* never touches the index */
            s = next;
        }
    }
}

/* mline: the endpoint's m= line in its SDP, plus 1 (0: none). */
static void call_announce(corr_t *c, call_t *call, const net_endpoint_t *ep, int side, int kind,
                          uint8_t mline)
{
    media_key_t k;
    media_key_from(&k, ep);
    for (int i = 0; i < call->n_eps; i++) {
        const media_ent_t *e = media_idx_get(c->idx, call->eps[i]);
        if (e != NULL && e->owner == call && media_key_eq(&e->key, &k)) {
            /* Announced again (re-INVITE, UPDATE): the newest claim again. */
            media_idx_renew(c->idx, call->eps[i], (uint8_t)side, (uint8_t)kind, c->now_ns);
            call->eps_mline[i] = mline;
            return;
        }
    }
    end_quiet_streams(c, call, ep);
    uint32_t h = media_idx_announce(c->idx, ep, call, (uint8_t)side, (uint8_t)kind, c->now_ns);
    if (h == MEDIA_NONE) {
        c->stats.media_refused++;
        return;
    }
    if (call->n_eps < CALL_MAX_EPS) {
        call->eps_mline[call->n_eps] = mline;
        call->eps[call->n_eps++] = h;
    } else {
        /* Ring: the endpoints of the oldest offer/answer make way. */
        media_idx_release(c->idx, call->eps[call->eps_next], call);
        call->eps[call->eps_next] = h;
        call->eps_mline[call->eps_next] = mline;
        call->eps_next = (uint8_t)((call->eps_next + 1) % CALL_MAX_EPS);
    }
}

/* What keys a media line offers or accepts: DTLS-SRTP (RFC 5763: a UDP/TLS/RTP profile with a
 * fingerprint), else the first a=crypto's suite (RFC 4568: an offer lists them by preference,
 * an answer holds the one it chose). The key params are not looked at. */
static uint8_t media_srtp(const sdp_media_t *m)
{
    if (m->fingerprint && sv_starts_with_ci(m->proto, "UDP/TLS/"))
        return SRTP_DTLS;
    if (m->n_crypto == 0)
        return SRTP_NONE;
    for (size_t i = SRTP_FIRST_SDES; i < ARRAY_LEN(srtp_suite_names); i++) {
        if (sv_eq(m->crypto[0].suite, sv_from_cstr(srtp_suite_names[i])))
            return (uint8_t)i;
    }
    return SRTP_OTHER;
}

/* An SDP from side: the answer to the other side's pending offer, or an offer of its own. */
static void call_offer_answer(call_t *call, int side, const sdp_t *sdp)
{
    if (call->offer_side == 2 - side) {
        call->answer_side = (uint8_t)(side + 1);
        call->offer_side = 0;
    } else {
        call->offer_side = (uint8_t)(side + 1);
    }
    for (size_t i = 0; i < SDP_MAX_MEDIA; i++)
        call->srtp[side][i] = i < sdp->n_media ? media_srtp(&sdp->media[i]) : SRTP_NONE;
}

static void call_map_pt(call_t *call, int side, const sdp_rtpmap_t *r)
{
    bool event = sv_eq_ci(r->encoding, "telephone-event");
    pt_map_t *maps = call->maps[side];
    pt_map_t *m = NULL;
    for (int i = 0; i < call->n_maps[side]; i++) {
        if (maps[i].pt == r->payload_type)
            m = &maps[i];
    }
    if (m == NULL) {
        if (call->n_maps[side] < CALL_MAX_MAPS) {
            m = &maps[call->n_maps[side]++];
        } else {
            m = &maps[call->maps_next[side]];
            call->maps_next[side] = (uint8_t)((call->maps_next[side] + 1) % CALL_MAX_MAPS);
        }
        m->name = 0;
    }
    m->pt = r->payload_type;
    m->event = event;
    m->clock = r->clock_rate;
    /* Names are interned per call: re-INVITEs repeating the same codecs cost no arena. */
    uint16_t name = 0;
    for (int s = 0; s < 2 && name == 0; s++) {
        for (int i = 0; i < call->n_maps[s]; i++) {
            const pt_map_t *o = &call->maps[s][i];
            if (o->name != 0 && sv_eq(r->encoding, sv_from_cstr(call_str(call, o->name)))) {
                name = o->name;
                break;
            }
        }
    }
    m->name = name != 0 ? name : arena_put(call, r->encoding, CODEC_NAME_MAX - 1);
}

static bool is_rtp_proto(sv_t proto)
{
    /* RTP/AVP, RTP/SAVP, RTP/AVPF, RTP/SAVPF, UDP/TLS/RTP/SAVPF ...; not udptl (T.38). */
    for (size_t i = 0; i + 3 <= proto.len; i++) {
        if ((proto.p[i] | 0x20) == 'r' && (proto.p[i + 1] | 0x20) == 't' &&
            (proto.p[i + 2] | 0x20) == 'p' && (i + 3 == proto.len || proto.p[i + 3] == '/'))
            return true;
    }
    return false;
}

/* The SDP part of a body: application/sdp (or no Content-Type), or the SDP part of a multipart
 * body (from its "v=0" line on; sdp_parse skips the boundary lines after it). */
static sv_t sdp_body(const sip_msg_t *msg)
{
    sv_t body = msg->body;
    if (body.len == 0 || body.p == NULL)
        return SV_NULL;
    sv_t ct = sv_trim(msg->content_type);
    if (ct.len == 0 || sv_starts_with_ci(ct, "application/sdp"))
        return body;
    if (!sv_starts_with_ci(ct, "multipart/"))
        return SV_NULL;
    for (size_t i = 0; i + 3 <= body.len; i++) {
        if ((i == 0 || body.p[i - 1] == '\n') && body.p[i] == 'v' && body.p[i + 1] == '=' &&
            body.p[i + 2] == '0')
            return sv_make(body.p + i, body.len - i);
    }
    return SV_NULL;
}

/* The dynamic payload types m maps into the call. */
static void map_pts(call_t *call, int side, const sdp_media_t *m)
{
    for (size_t j = 0; j < m->n_rtpmaps && j < SDP_MAX_RTPMAPS; j++) {
        const sdp_rtpmap_t *r = &m->rtpmaps[j];
        if (r->encoding.len == 0 || r->clock_rate == 0 ||
            rtp_static_clock_rate(r->payload_type) != 0)
            continue;
        call_map_pt(call, side, r);
    }
}

/* An SDP sent by side: its media endpoints go into the index, its payload maps into the call. */
static void call_sdp(corr_t *c, call_t *call, int side, const packet_view_t *pkt, sv_t body)
{
    if (sdp_parse(body.p, body.len, &c->sdp) != SDP_OK)
        return;
    const sdp_t *sdp = &c->sdp;
    call_offer_answer(call, side, sdp);
    corr_verdict_sdp(call, side, pkt, sdp);
    for (size_t i = 0; i < sdp->n_media && i < SDP_MAX_MEDIA; i++) {
        const sdp_media_t *m = &sdp->media[i];
        if (m->port == 0 || !is_rtp_proto(m->proto))
            continue;
        /* ICE (WebRTC: c=IN IP4 0.0.0.0, port 9): media flows between candidate addresses,
         * and any of them may be what this capture point sees (host, srflx, relay). */
        for (size_t k = 0; k < m->n_candidates && k < SDP_MAX_CANDIDATES; k++) {
            const sdp_candidate_t *cand = &m->candidates[k];
            int kind = cand->component == 1   ? (m->rtcp_mux ? MEDIA_MUX : MEDIA_RTP)
                       : cand->component == 2 ? MEDIA_RTCP
                                              : -1;
            if (kind < 0 || addr_unspecified(&cand->ep.addr) ||
                (cand->ep.port == m->port && net_addr_eq(&cand->ep.addr, &m->conn)))
                continue; /* the c= endpoint is announced below */
            call_announce(c, call, &cand->ep, side, kind, (uint8_t)(i + 1));
            call->announced[side] = true;
        }
        if (addr_unspecified(&m->conn)) {
            if (m->n_candidates > 0)
                map_pts(call, side, m);
            continue;
        }
        if (addr_private(&m->conn) && pkt->src.addr.family == m->conn.family &&
            !addr_private(&pkt->src.addr)) {
            call->nat = true;
            corr_verdict_nat_sdp(call, side, pkt, &m->conn);
        }
        net_endpoint_t rtp = {.addr = m->conn, .port = m->port};
        call_announce(c, call, &rtp, side, m->rtcp_mux ? MEDIA_MUX : MEDIA_RTP, (uint8_t)(i + 1));
        call->announced[side] = true;
        if (!m->rtcp_mux) {
            net_endpoint_t rtcp = rtp;
            if (m->rtcp_addr.family != 0)
                rtcp.addr = m->rtcp_addr;
            rtcp.port = m->rtcp_port != 0 ? m->rtcp_port : (uint16_t)(m->port + 1);
            if (rtcp.port != 0 && !net_endpoint_eq(&rtcp, &rtp))
                call_announce(c, call, &rtcp, side, MEDIA_RTCP, (uint8_t)(i + 1));
        }
        map_pts(call, side, m);
    }
}

/* ------------------------------------------------------------------ calls: SIP */

/* A message's identity for retransmission detection: same transaction (branch, CSeq, method),
 * same kind and status, same dialog tags. A proxy's copy on the next hop has another top Via
 * branch, so it is a new message, not a retransmission. */
static uint64_t sip_fingerprint(const corr_t *c, const sip_msg_t *msg)
{
    uint64_t h = sv_hash(c, msg->via_branch, msg->is_request ? 0x52 : 0x53);
    h = hash_mix(h ^ sv_hash(c, msg->is_request ? msg->method : msg->cseq_method, 0x4d));
    h = hash_mix(h ^ ((uint64_t)msg->cseq << 16) ^ ((uint64_t)msg->status_code << 48));
    h = hash_mix(h ^ tag_hash(c, msg->from.tag));
    h = hash_mix(h ^ tag_hash(c, msg->to.tag));
    return h | 1;
}

static bool call_seen(call_t *call, uint64_t fp)
{
    for (int i = 0; i < CALL_FP_RING; i++) {
        if (call->fp[i] == fp)
            return true;
    }
    call->fp[call->fp_next] = fp;
    call->fp_next = (uint8_t)((call->fp_next + 1) % CALL_FP_RING);
    return false;
}

/* Which side sent msg: the From tag tells whose dialog direction it is (requests come from the
 * From party, responses from the other one); without tags, the addresses of the first INVITE. */
static int sender_side(const corr_t *c, const call_t *call, const packet_view_t *pkt,
                       const sip_msg_t *msg)
{
    bool from_is_caller;
    if (call->from_tag_hash != 0 || msg->from.tag.len != 0)
        from_is_caller = tag_hash(c, msg->from.tag) == call->from_tag_hash;
    else if (msg->is_request)
        from_is_caller = net_addr_eq(&pkt->src.addr, &call->caller.addr);
    else
        from_is_caller = net_addr_eq(&pkt->dst.addr, &call->caller.addr);
    if (msg->is_request)
        return from_is_caller ? 0 : 1;
    return from_is_caller ? 1 : 0;
}

static void call_set_to_tag(corr_t *c, call_t *call, sv_t tag)
{
    uint64_t h = tag_hash(c, tag);
    if (h == 0 || h == call->to_tag_hash)
        return;
    call->to_tag_hash = h;
    call->s_to_tag = arena_put(call, tag, CALL_STR_KEEP);
}

static void call_on_request(corr_t *c, call_t *call, const packet_view_t *pkt, const sip_msg_t *msg)
{
    int64_t ts = pkt->ts_ns;
    switch (msg->method_id) {
        case SIP_METHOD_INVITE:
            /* A new INVITE after a failure of the same dialog (typically 401/407 and a retry
             * with credentials): back to setup; times still count from the first INVITE. */
            if (call->answer_ns == 0 &&
                (call->state == CALL_REJECTED || call->state == CALL_CANCELLED) &&
                tag_hash(c, msg->from.tag) == call->from_tag_hash) {
                call->state = CALL_SETUP;
                call->final_status = 0;
                call->final_ns = 0;
            }
            break;
        case SIP_METHOD_ACK:
            if (call->answer_ns != 0 && call->ack_ns == 0)
                call->ack_ns = ts;
            break;
        case SIP_METHOD_CANCEL:
            if (call->answer_ns == 0 && (call->state == CALL_SETUP || call->state == CALL_RINGING))
                call->state = CALL_CANCELLED;
            break;
        case SIP_METHOD_BYE:
            if (call->state == CALL_SETUP || call->state == CALL_RINGING ||
                call->state == CALL_IN_CALL) {
                call->state = CALL_COMPLETED;
                call->end_ns = ts;
            }
            break;
        default:
            break;
    }
}

static void call_on_response(corr_t *c, call_t *call, const packet_view_t *pkt,
                             const sip_msg_t *msg)
{
    int64_t ts = pkt->ts_ns;
    uint16_t st = msg->status_code;
    if (msg->cseq_method_id == SIP_METHOD_BYE) {
        if (st >= 200 && st < 300 &&
            (call->state == CALL_SETUP || call->state == CALL_RINGING ||
             call->state == CALL_IN_CALL)) {
            call->state = CALL_COMPLETED;
            if (call->end_ns == 0)
                call->end_ns = ts;
        }
        return;
    }
    if (msg->cseq_method_id != SIP_METHOD_INVITE || call->answer_ns != 0)
        return; /* re-INVITE answers and failures change nothing but media */
    if (st >= 180 && st <= 189) {
        if (call->ringing_ns == 0 && call->state != CALL_COMPLETED)
            call->ringing_ns = ts;
        if (call->state == CALL_SETUP)
            call->state = CALL_RINGING;
        if (call->to_tag_hash == 0)
            call_set_to_tag(c, call, msg->to.tag);
    } else if (st >= 200 && st < 300) {
        /* The answered fork wins: its To tag becomes the call's. */
        call->answer_ns = ts;
        call->final_status = st;
        call->final_ns = ts;
        if (call->state != CALL_COMPLETED)
            call->state = CALL_IN_CALL;
        call_set_to_tag(c, call, msg->to.tag);
    } else if (st >= 300) {
        /* Wireshark counts any final non-2xx as rejected; 487 answers a CANCEL. The first
         * final response decides (another fork's later failure does not), but a later 2xx
         * from another fork still makes the call answered (above). */
        if (call->state == CALL_SETUP || call->state == CALL_RINGING) {
            call->state = st == 487 ? CALL_CANCELLED : CALL_REJECTED;
            call->final_status = st;
            call->final_ns = ts;
            if (call->to_tag_hash == 0)
                call_set_to_tag(c, call, msg->to.tag);
        } else if (call->state == CALL_CANCELLED && call->final_status == 0) {
            call->final_status = st;
            call->final_ns = ts;
        }
    }
}

/* NAT seen in the signalling of any message, provisional and final responses included (a
 * cancelled call may have nothing else): a Contact with a private address sent from a public
 * one. (A private SDP address is looked at in call_sdp.) */
static void call_check_contact(call_t *call, const packet_view_t *pkt, const sip_msg_t *msg)
{
    if (call->nat || msg->contact.len == 0 || addr_private(&pkt->src.addr))
        return;
    sip_nameaddr_t contact;
    (void)sip_nameaddr_parse(msg->contact, &contact); /* best effort is enough for the host */
    net_addr_t host;
    if (net_addr_parse(contact.uri.host, &host) && host.family == pkt->src.addr.family &&
        addr_private(&host))
        call->nat = true;
}

static void call_on_sip(corr_t *c, call_t *call, const packet_view_t *pkt, const sip_msg_t *msg)
{
    int64_t ts = pkt->ts_ns;
    call->dirty = true;
    call->sip_messages++;
    if (ts > call->sip_ns)
        call->sip_ns = ts;
    if (call_seen(call, sip_fingerprint(c, msg))) {
        /* Counted and kept in the ladder, but states and times come from the first copy. */
        c->stats.sip_retransmissions++;
        call_requeue(c, call, ts);
        return;
    }
    if (msg->is_request)
        call_on_request(c, call, pkt, msg);
    else
        call_on_response(c, call, pkt, msg);
    call_check_contact(call, pkt, msg);
    corr_dtmf_info(c, call, pkt, msg);
    sv_t body = sdp_body(msg);
    if (body.len > 0)
        call_sdp(c, call, sender_side(c, call, pkt, msg), pkt, body);
    call_requeue(c, call, ts);
}

/* Methods of INVITE dialogs: such a message with no call to go to is an orphan. */
static bool is_dialog_method(sip_method_t m)
{
    switch (m) {
        case SIP_METHOD_INVITE:
        case SIP_METHOD_ACK:
        case SIP_METHOD_BYE:
        case SIP_METHOD_CANCEL:
        case SIP_METHOD_PRACK:
        case SIP_METHOD_UPDATE:
        case SIP_METHOD_INFO:
        case SIP_METHOD_REFER:
            return true;
        default:
            return false;
    }
}

static const char *method_text(corr_t *c, const sip_msg_t *msg)
{
    sip_method_t id = msg->is_request ? msg->method_id : msg->cseq_method_id;
    if (id != SIP_METHOD_UNKNOWN && id < SIP_METHOD_COUNT)
        return sip_method_name(id);
    sv_copy(msg->is_request ? msg->method : msg->cseq_method, c->method_buf, sizeof(c->method_buf));
    return c->method_buf;
}

/* message_record_t.via: how a message came inside its TCP stream. */
static const char *via_name(uint8_t carried)
{
    bool ws = (carried & PKT_CARRIED_WS) != 0, tls = (carried & PKT_CARRIED_TLS) != 0;
    if (ws)
        return tls ? "wss" : "ws";
    return tls ? "tls" : "";
}

static void emit_message(corr_t *c, const call_t *call, const packet_view_t *pkt,
                         const sip_msg_t *msg)
{
    c->last_message_id = c->next_message_id > 0 ? c->next_message_id++ : 0;
    if (c->sink.on_message == NULL)
        return;
    sv_copy(msg->call_id, c->callid_buf, sizeof(c->callid_buf));
    message_record_t rec = {
        .id = c->last_message_id,
        .probe_id = pkt->probe_id,
        .has_probe = pkt->has_probe,
        .call_row = call != NULL ? call->id : 0,
        .call_id = c->callid_buf,
        .ts_ns = pkt->ts_ns,
        .src = pkt->src,
        .dst = pkt->dst,
        .transport = pkt->ip_proto,
        .via = via_name(pkt->carried),
        .is_request = msg->is_request,
        .method = method_text(c, msg),
        .status = msg->is_request ? 0 : msg->status_code,
        .cseq = msg->cseq,
        .raw = (const char *)pkt->payload,
        .raw_len = (uint32_t)(pkt->len > UINT32_MAX ? UINT32_MAX : pkt->len),
    };
    c->sink.on_message(c->sink.ctx, &rec);
}

call_ref_t corr_on_sip(corr_t *c, const packet_view_t *pkt, const sip_msg_t *msg)
{
    advance(c, pkt->ts_ns);
    c->stats.sip_messages++;
    call_t *call = NULL;
    bool invite = msg->is_request && msg->method_id == SIP_METHOD_INVITE;
    if (msg->call_id.len > 0 && msg->call_id.p != NULL) {
        uint64_t hash = sv_hash(c, msg->call_id, 0xca11);
        call = call_find(c, msg->call_id, hash);
        /* Call-ID reuse: a new dialog (no To tag, another From tag) on a finished call. */
        if (call != NULL && invite && call->queue == Q_ENDED && msg->to.tag.len == 0 &&
            tag_hash(c, msg->from.tag) != call->from_tag_hash) {
            corr_call_finish(c, call, FIN_ENDED);
            call = NULL;
        }
        bool created = false;
        if (call == NULL && invite)
            created = (call = call_create(c, pkt, msg, hash)) != NULL;
        if (call != NULL)
            call_on_sip(c, call, pkt, msg);
        /* Its row before its first message's (corr.h). */
        if (created)
            corr_call_snapshot(c, call);
    }
    if (call == NULL && is_dialog_method(msg->is_request ? msg->method_id : msg->cseq_method_id))
        c->stats.sip_orphans++;
    emit_message(c, call, pkt, msg);
    return ref_of(call);
}
