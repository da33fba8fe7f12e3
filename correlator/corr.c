/* corr: SIP messages into calls (dialog state, timings), SDP into expected media, RTP/RTCP into
 * streams with quality figures; every table bounded, every loss counted. */
#include "corr.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "media.h"
#include "rtpstat.h"
#include "sdp.h"

#define NS_PER_S 1000000000LL

/* Per-call string arena. The Call-ID goes first and is kept whole up to CALL_ID_KEEP bytes
 * (longer ones are matched by full length + 64-bit hash + that prefix); the other strings are
 * cut at CALL_STR_KEEP bytes (on a UTF-8 boundary) or at what is left of the arena. */
#define CALL_ARENA     512
#define CALL_ID_KEEP   255
#define CALL_STR_KEEP  127
#define CALL_FP_RING   16 /* fingerprints of recent messages, for retransmissions */
#define CALL_MAX_EPS   16 /* media endpoints a call holds in the index (ring; re-INVITEs) */
#define CALL_MAX_MAPS  8  /* dynamic payload type maps per side */
#define CALL_CHAIN_MAX 16 /* Call-ID hash chain walk cap */
#define CODEC_NAME_MAX 16

/* one_way: the quieter direction carried fewer than 1/ONE_WAY_RATIO of the other's packets. */
#define ONE_WAY_RATIO 20

/* Timeout queues, one per idle timeout: early (setup, ringing), confirmed (in_call) and ended
 * (completed, rejected, cancelled: lingering for retransmissions and the media tail). */
enum { Q_EARLY = 0, Q_CONFIRMED, Q_ENDED, Q_COUNT };

/* Why an object is emitted; picks the counter. */
typedef enum { FIN_ENDED, FIN_TIMEOUT, FIN_EVICT, FIN_FLUSH } fin_t;

typedef struct lnode {
    struct lnode *prev, *next;
} lnode_t;

typedef struct {
    lnode_t *head, *tail;
} lqueue_t;

#define CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* A payload type an SDP mapped with a=rtpmap (dynamic types; static ones use RFC 3551). */
typedef struct {
    uint8_t pt;
    bool event;    /* telephone-event (RFC 4733) */
    uint16_t name; /* arena offset of the encoding name */
    uint32_t clock;
} pt_map_t;

struct stream;

typedef struct call {
    lnode_t qnode;          /* in c->q[queue] */
    struct call *hnext;     /* Call-ID hash chain */
    struct stream *streams; /* live streams, through stream.call_next */
    uint64_t hash;          /* of the full Call-ID */
    int64_t id;
    int64_t queued_ns;        /* when put at the tail of its queue */
    int64_t sip_ns, media_ns; /* last SIP message, last RTP/RTCP */
    int64_t invite_ns, ringing_ns, answer_ns, end_ns, final_ns;
    net_endpoint_t caller, callee;
    uint64_t from_tag_hash, to_tag_hash; /* 0 = no tag */
    uint64_t media_pkts[2];              /* packets of emitted streams, by sending side */
    double worst_mos;
    uint64_t fp[CALL_FP_RING];
    uint32_t eps[CALL_MAX_EPS];
    pt_map_t maps[2][CALL_MAX_MAPS];
    uint32_t callid_len; /* full length */
    uint32_t sip_messages;
    uint16_t final_status;
    uint16_t arena_used;
    uint16_t s_callid, s_from_uri, s_to_uri, s_from_tag, s_to_tag, s_ua;
    uint8_t state, queue, fp_next, n_eps, eps_next;
    uint8_t n_maps[2], maps_next[2];
    bool announced[2]; /* side sent an SDP with an RTP endpoint */
    bool nat;          /* a stream with sdp_mismatch, or NAT seen in signalling */
    char arena[CALL_ARENA];
} call_t;

/* What every RTP packet touches comes first (the flow key, the call, the statistics), so that
 * corr_prefetch can ask for just that much; the rest is read at the edges of the stream. */
typedef struct stream {
    media_flow_t flow; /* (src, dst, ssrc) key and hash chain; first member */
    call_t *call;      /* NULL: no SDP announced it */
    int64_t last_ns;
    int64_t rematch_ns; /* unsignalled: when we last looked for an SDP that names it */
    uint8_t pt;
    bool have_pt;
    rtpstat_t st;
    lnode_t qnode; /* in c->stream_q */
    struct stream *call_next;
    int64_t id;
    int64_t queued_ns, first_ns;
    /* RTCP about this stream, from its receiver; and the sender's last SR for the RTT */
    int64_t sr_ns;
    uint32_t sr_mid; /* middle 32 bits of the SR's NTP time */
    int32_t rtcp_cum_lost;
    double rtcp_fraction, rtcp_jitter_ms, rtcp_rtt_ms;
    uint32_t clock;
    int8_t dir; /* sending side: 0 caller, 1 callee, -1 unknown */
    bool have_sr, have_rtcp, sdp_mismatch;
    bool by_dst;      /* matched through its destination */
    bool nat_checked; /* sdp_mismatch decided (the sender's SDP was known) */
    char codec[CODEC_NAME_MAX];
} stream_t;

struct corr {
    corr_cfg_t cfg;
    corr_sink_t sink;
    corr_stats_t stats;
    int64_t next_id;
    int64_t now_ns;
    uint64_t seed;
    call_t **buckets;
    size_t mask;
    media_pool_t calls, streams;
    lqueue_t q[Q_COUNT];
    lqueue_t stream_q;
    media_idx_t *idx;
    media_flows_t flows;
    sdp_t sdp;             /* scratch for the SDP body at hand */
    char callid_buf[1024]; /* message records: Call-ID as a C string */
    char method_buf[32];
};

/* ------------------------------------------------------------------ small helpers */

static void q_push(lqueue_t *q, lnode_t *n)
{
    n->next = NULL;
    n->prev = q->tail;
    if (q->tail != NULL)
        q->tail->next = n;
    else
        q->head = n;
    q->tail = n;
}

static void q_remove(lqueue_t *q, lnode_t *n)
{
    if (n->prev != NULL)
        n->prev->next = n->next;
    else
        q->head = n->next;
    if (n->next != NULL)
        n->next->prev = n->prev;
    else
        q->tail = n->prev;
    n->prev = n->next = NULL;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static uint64_t sv_hash(const corr_t *c, sv_t s, uint64_t salt)
{
    return hash_bytes(s.p != NULL ? s.p : "", s.len, c->seed ^ salt);
}

/* 0 stands for "no tag". */
static uint64_t tag_hash(const corr_t *c, sv_t tag)
{
    return tag.len == 0 ? 0 : (sv_hash(c, tag, 0x7a67) | 1);
}

static void advance(corr_t *c, int64_t ts)
{
    if (ts > c->now_ns)
        c->now_ns = ts;
}

static int64_t new_id(corr_t *c)
{
    return c->next_id++;
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

static const char *call_str(const call_t *call, uint16_t off)
{
    return call->arena + off;
}

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

/* ------------------------------------------------------------------ config and lifetime */

void corr_cfg_init(corr_cfg_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_calls = 65536;
    cfg->max_streams = 131072;
    /* An unanswered INVITE lives at most ~3.5 min (Timer C is 3 min, plus retransmissions);
     * 5 minutes of silence means we missed the final response. */
    cfg->setup_timeout_s = 300;
    /* An answered call without any SIP or media for an hour: its BYE was lost (or its media is
     * not in the capture and it has no session timer: RFC 4028 refreshes are at most every
     * ~30 min by default, so live calls with timers are refreshed well within this). */
    cfg->call_idle_timeout_s = 3600;
    /* After BYE or a final failure: long enough for retransmissions of the 200/ACK (Timer J is
     * 32 s for non-INVITE but they stop as soon as answered, usually within a second) and for
     * RTP still in flight to be counted into the call's streams. */
    cfg->linger_s = 5;
    cfg->stream_idle_timeout_s = 60;
    cfg->sample_interval_s = 5;
}

corr_t *corr_new(const corr_cfg_t *cfg, const corr_sink_t *sink)
{
    corr_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    corr_cfg_init(&c->cfg);
    if (cfg != NULL) {
        c->cfg = *cfg;
        if (c->cfg.max_calls == 0)
            c->cfg.max_calls = 65536;
        if (c->cfg.max_streams == 0)
            c->cfg.max_streams = 131072;
    }
    if (sink != NULL)
        c->sink = *sink;
    c->next_id = 1;
    /* The hash seed varies with the address of c (ASLR), so Call-IDs crafted to collide on one
     * run do not collide on the next; chain caps bound the damage either way. */
    c->seed = hash_mix((uint64_t)(uintptr_t)c ^ 0x5eed5c09eULL);
    size_t nb = media_pow2(c->cfg.max_calls);
    c->buckets = calloc(nb, sizeof(*c->buckets));
    c->mask = nb - 1;
    media_pool_init(&c->calls, sizeof(call_t), c->cfg.max_calls);
    media_pool_init(&c->streams, sizeof(stream_t), c->cfg.max_streams);
    /* Each entry of the index is held by exactly one call, in that call's ring of CALL_MAX_EPS
     * handles, so max_calls * CALL_MAX_EPS entries can never run out; the entries array grows
     * on demand, the buckets are sized for ~4 endpoints per call. */
    c->idx = media_idx_new(c->cfg.max_calls * CALL_MAX_EPS, c->cfg.max_calls * 4, c->seed ^ 0x1d);
    int frc = media_flows_init(&c->flows, c->cfg.max_streams, c->seed ^ 0xf1);
    if (c->buckets == NULL || c->idx == NULL || frc != 0) {
        corr_free(c);
        return NULL;
    }
    return c;
}

void corr_free(corr_t *c)
{
    if (c == NULL)
        return;
    media_pool_reset(&c->calls);
    media_pool_reset(&c->streams);
    media_idx_free(c->idx);
    media_flows_reset(&c->flows);
    free(c->buckets);
    free(c);
}

void corr_set_first_id(corr_t *c, int64_t first_id)
{
    if (first_id > 0)
        c->next_id = first_id;
}

const corr_stats_t *corr_stats(const corr_t *c)
{
    return &c->stats;
}

/* ------------------------------------------------------------------ streams */

static void emit_sample(corr_t *c, const stream_t *s, const rtpstat_sample_t *smp)
{
    if (c->sink.on_sample == NULL || c->cfg.sample_interval_s == 0)
        return;
    sample_record_t rec = {
        .stream_row = s->id,
        .start_ns = smp->start_ns,
        .packets = smp->packets,
        .lost = smp->lost,
        .jitter_ms = smp->jitter_ms,
        .max_jitter_ms = smp->max_jitter_ms,
        .mos = smp->mos,
    };
    c->sink.on_sample(c->sink.ctx, &rec);
}

/* Resolve pt through the static table or the call's SDP maps (the receiver's SDP first: a
 * sender uses the payload numbers of the side it sends to). */
static bool codec_lookup(const call_t *call, int dst_side, uint8_t pt, const char **name,
                         uint32_t *clock, bool *event)
{
    *event = false;
    *clock = rtp_static_clock_rate(pt);
    const char *stat = rtp_static_codec(pt);
    if (*clock != 0 || stat != NULL) {
        *name = stat != NULL ? stat : "";
        return true;
    }
    for (int k = 0; call != NULL && k < 2; k++) {
        int side = k == 0 ? dst_side : 1 - dst_side;
        if (side < 0 || side > 1)
            continue;
        for (int i = 0; i < call->n_maps[side]; i++) {
            const pt_map_t *m = &call->maps[side][i];
            if (m->pt == pt) {
                *name = call_str(call, m->name);
                *clock = m->clock;
                *event = m->event;
                return true;
            }
        }
    }
    *name = "";
    return false;
}

/* Called for each packet whose PT is not the stream's audio PT: true for telephone-event;
 * the first other packet fixes the stream's payload type and codec. */
static bool stream_check_pt(stream_t *s, uint8_t pt)
{
    const char *name;
    uint32_t clock;
    bool event;
    int dst_side = s->dir >= 0 ? 1 - s->dir : -1;
    codec_lookup(s->call, dst_side, pt, &name, &clock, &event);
    if (event)
        return true;
    if (!s->have_pt) {
        s->have_pt = true;
        s->pt = pt;
        sv_copy(sv_from_cstr(name), s->codec, sizeof(s->codec));
        s->clock = clock;
    }
    return false;
}

/* Is src one of the RTP endpoints side announced for call? (False also when side announced
 * nothing we saw: then there is nothing to differ from.) */
static bool src_differs_from_sdp(const corr_t *c, const call_t *call, int side,
                                 const net_endpoint_t *src)
{
    if (!call->announced[side])
        return false;
    media_key_t k;
    media_key_from(&k, src);
    for (int i = 0; i < call->n_eps; i++) {
        const media_ent_t *e = media_idx_get(c->idx, call->eps[i]);
        if (e != NULL && e->owner == call && e->side == side &&
            (e->kind == MEDIA_RTP || e->kind == MEDIA_MUX) && media_key_eq(&e->key, &k))
            return false;
    }
    return true;
}

/* sdp_mismatch, decided once the sender's SDP is known (a stream can start before the answer
 * that announces its sender's endpoint): only streams matched by destination can tell. */
static void stream_check_nat(const corr_t *c, stream_t *s)
{
    if (s->nat_checked || s->call == NULL || !s->by_dst || s->dir < 0 ||
        !s->call->announced[s->dir])
        return;
    net_endpoint_t src;
    media_key_to(&s->flow.key.src, &src);
    s->sdp_mismatch = src_differs_from_sdp(c, s->call, s->dir, &src);
    s->nat_checked = true;
}

static void stream_unlink_call(stream_t *s)
{
    call_t *call = s->call;
    if (call == NULL)
        return;
    if (s->last_ns > call->media_ns) /* its media, for the call's idle timeout */
        call->media_ns = s->last_ns;
    for (stream_t **link = &call->streams; *link != NULL; link = &(*link)->call_next) {
        if (*link == s) {
            *link = s->call_next;
            break;
        }
    }
    s->call_next = NULL;
}

static void stream_finish(corr_t *c, stream_t *s, fin_t why)
{
    stream_check_nat(c, s);
    rtpstat_sample_t smp;
    if (rtpstat_take_sample(&s->st, &smp))
        emit_sample(c, s, &smp);
    if (rtpstat_finish_sample(&s->st, &smp))
        emit_sample(c, s, &smp);
    rtpstat_result_t r;
    rtpstat_result(&s->st, &r);
    call_t *call = s->call;
    if (c->sink.on_stream != NULL) {
        stream_record_t rec;
        memset(&rec, 0, sizeof(rec));
        rec.id = s->id;
        rec.call_row = call != NULL ? call->id : 0;
        rec.call_id = call != NULL ? call_str(call, call->s_callid) : NULL;
        media_key_to(&s->flow.key.src, &rec.src);
        media_key_to(&s->flow.key.dst, &rec.dst);
        rec.ssrc = s->flow.key.ssrc;
        rec.payload_type = s->pt;
        rec.codec = s->codec;
        rec.clock_rate = s->clock;
        rec.first_ns = s->first_ns;
        rec.last_ns = s->last_ns;
        rec.packets = r.packets;
        rec.lost = r.lost;
        rec.duplicates = r.duplicates;
        rec.out_of_order = r.out_of_order;
        rec.seq_errors = r.seq_errors;
        rec.max_delta_ms = r.max_delta_ms;
        rec.mean_jitter_ms = r.mean_jitter_ms;
        rec.max_jitter_ms = r.max_jitter_ms;
        rec.mos = r.mos;
        rec.sdp_mismatch = s->sdp_mismatch;
        rec.have_rtcp = s->have_rtcp;
        rec.rtcp_fraction_lost = s->rtcp_fraction;
        rec.rtcp_cumulative_lost = s->rtcp_cum_lost;
        rec.rtcp_jitter_ms = s->rtcp_jitter_ms;
        rec.rtcp_rtt_ms = s->rtcp_rtt_ms;
        c->sink.on_stream(c->sink.ctx, &rec);
    }
    if (call != NULL) {
        if (s->dir == 0 || s->dir == 1)
            call->media_pkts[s->dir] += r.packets;
        if (r.packets > 0 && r.mos > 0 && (call->worst_mos == 0 || r.mos < call->worst_mos))
            call->worst_mos = r.mos;
        if (s->sdp_mismatch)
            call->nat = true;
        stream_unlink_call(s);
    }
    switch (why) {
        case FIN_ENDED:
            c->stats.streams_ended++;
            break;
        case FIN_TIMEOUT:
            c->stats.streams_timed_out++;
            break;
        case FIN_EVICT:
            c->stats.streams_evicted++;
            break;
        case FIN_FLUSH:
            c->stats.streams_flushed++;
            break;
    }
    media_flows_remove(&c->flows, &s->flow);
    q_remove(&c->stream_q, &s->qnode);
    media_pool_put(&c->streams, s);
    c->stats.live_streams--;
}

/* Attach s to a call. A packet to an announced endpoint belongs to the call that announced it,
 * whatever its source (NAT rewrites sources, not the destinations the far end learnt); failing
 * that, a packet from an announced endpoint. */
static void stream_match(corr_t *c, stream_t *s)
{
    net_endpoint_t src, dst;
    media_key_to(&s->flow.key.src, &src);
    media_key_to(&s->flow.key.dst, &dst);
    const media_ent_t *e = media_idx_find(c->idx, &dst);
    bool by_dst = e != NULL;
    if (e == NULL)
        e = media_idx_find(c->idx, &src);
    if (e == NULL)
        return;
    call_t *call = e->owner;
    s->call = call;
    s->by_dst = by_dst;
    s->dir = (int8_t)(by_dst ? 1 - e->side : e->side);
    s->call_next = call->streams;
    call->streams = s;
    stream_check_nat(c, s);
}

/* The stream to evict at max_streams: the head of the idle queue, once the heads that were
 * active since they were queued have been moved on (a few at most, to stay O(1)). */
static stream_t *stream_victim(corr_t *c)
{
    for (int i = 0; i < 8; i++) {
        stream_t *s = CONTAINER_OF(c->stream_q.head, stream_t, qnode);
        if (s->last_ns <= s->queued_ns || s->qnode.next == NULL)
            return s;
        q_remove(&c->stream_q, &s->qnode);
        s->queued_ns = s->last_ns;
        q_push(&c->stream_q, &s->qnode);
    }
    return CONTAINER_OF(c->stream_q.head, stream_t, qnode);
}

/* The stream's payload type, codec and clock come from its first packet. When that is a
 * telephone event, the record says so until audio arrives (an events-only stream keeps it), and
 * rtpstat is set up for the first audio mapping the receiver announced (the audio that will
 * follow), so that it knows which dynamic type the clock rate belongs to. */
static void stream_init_stats(corr_t *c, stream_t *s, uint8_t pt)
{
    const char *name;
    uint32_t clock;
    bool event;
    int dst_side = s->dir >= 0 ? 1 - s->dir : -1;
    codec_lookup(s->call, dst_side, pt, &name, &clock, &event);
    s->pt = pt;
    s->have_pt = !event;
    s->clock = clock;
    sv_copy(sv_from_cstr(name), s->codec, sizeof(s->codec));
    int media_pt = pt;
    if (event) {
        media_pt = -1;
        name = "";
        clock = 0;
        for (int k = 0; s->call != NULL && k < 2 && media_pt < 0; k++) {
            int side = k == 0 ? dst_side : 1 - dst_side;
            if (side < 0 || side > 1)
                continue;
            for (int i = 0; i < s->call->n_maps[side]; i++) {
                const pt_map_t *m = &s->call->maps[side][i];
                if (!m->event) {
                    media_pt = m->pt;
                    name = call_str(s->call, m->name);
                    clock = m->clock;
                    break;
                }
            }
        }
    }
    rtpstat_init(&s->st, clock, name);
    if (media_pt >= 96 && media_pt <= 127)
        rtpstat_set_media_pt(&s->st, (uint8_t)media_pt);
    if (c->cfg.sample_interval_s > 0)
        rtpstat_set_interval(&s->st, c->cfg.sample_interval_s * 1000u);
}

static stream_t *stream_create(corr_t *c, const packet_view_t *pkt, const rtp_hdr_t *rtp,
                               uint64_t hash)
{
    stream_t *s = media_pool_get(&c->streams);
    if (s == NULL && c->stream_q.head != NULL) {
        /* At max_streams the stream idle the longest goes (emitted as it stands). */
        stream_finish(c, stream_victim(c), FIN_EVICT);
        s = media_pool_get(&c->streams);
    }
    if (s == NULL) {
        c->stats.streams_refused++;
        return NULL;
    }
    media_key_from(&s->flow.key.src, &pkt->src);
    media_key_from(&s->flow.key.dst, &pkt->dst);
    s->flow.key.ssrc = rtp->ssrc;
    s->flow.hash = hash;
    if (!media_flows_insert(&c->flows, &s->flow)) {
        media_pool_put(&c->streams, s);
        c->stats.streams_refused++;
        return NULL;
    }
    s->id = new_id(c);
    s->dir = -1;
    s->first_ns = s->last_ns = s->queued_ns = s->rematch_ns = pkt->ts_ns;
    s->rtcp_rtt_ms = -1;
    stream_match(c, s);
    stream_init_stats(c, s, rtp->payload_type);
    q_push(&c->stream_q, &s->qnode);
    c->stats.streams_created++;
    c->stats.live_streams++;
    if (s->call == NULL)
        c->stats.streams_unsignalled++;
    return s;
}

static call_ref_t ref_of(const call_t *call)
{
    call_ref_t ref = {0, 0};
    if (call != NULL) {
        ref.row = call->id;
        ref.invite_ns = call->invite_ns;
    }
    return ref;
}

/* One RTP packet of stream s. */
static call_t *rtp_on_stream(corr_t *c, int64_t ts, const rtp_hdr_t *rtp, stream_t *s)
{
    if (s->call == NULL && ts - s->rematch_ns >= NS_PER_S) {
        /* Media seen before the SDP that names it (a capture started mid-call, then a
         * re-INVITE): look again, once a second. */
        s->rematch_ns = ts;
        stream_match(c, s);
        if (s->call != NULL && s->have_pt && s->codec[0] == '\0') {
            const char *name;
            uint32_t clock;
            bool event;
            codec_lookup(s->call, 1 - s->dir, s->pt, &name, &clock, &event);
            sv_copy(sv_from_cstr(name), s->codec, sizeof(s->codec));
        }
    }
    bool event = false;
    if (!s->have_pt || rtp->payload_type != s->pt)
        event = stream_check_pt(s, rtp->payload_type);
    if (rtpstat_add(&s->st, ts, rtp, event)) {
        rtpstat_sample_t smp;
        if (rtpstat_take_sample(&s->st, &smp))
            emit_sample(c, s, &smp);
    }
    /* Activity only moves the stream's timestamp: the call is not touched per packet (with
     * thousands of calls its cache line is a miss). Its idle timeout reads its live streams'
     * times (call_active_ns), and a stream that ends hands its time over. */
    if (ts > s->last_ns)
        s->last_ns = ts;
    return s->call;
}

call_ref_t corr_on_rtp(corr_t *c, const packet_view_t *pkt, const rtp_hdr_t *rtp)
{
    advance(c, pkt->ts_ns);
    c->stats.rtp_packets++;
    uint64_t hash = media_flows_hash(&c->flows, &pkt->src, &pkt->dst, rtp->ssrc);
    stream_t *s = (stream_t *)media_flows_find(&c->flows, &pkt->src, &pkt->dst, rtp->ssrc, hash);
    if (s == NULL && (s = stream_create(c, pkt, rtp, hash)) == NULL)
        return ref_of(NULL);
    return ref_of(rtp_on_stream(c, pkt->ts_ns, rtp, s));
}

uint64_t corr_rtp_hint(const corr_t *c, const net_endpoint_t *src, const net_endpoint_t *dst,
                       const uint8_t *payload, size_t len)
{
    if (len < 12 || (payload[0] & 0xc0) != 0x80)
        return 0;
    uint32_t ssrc = (uint32_t)payload[8] << 24 | (uint32_t)payload[9] << 16 |
                    (uint32_t)payload[10] << 8 | payload[11];
    return media_flows_hash(&c->flows, src, dst, ssrc);
}

void corr_prefetch(const corr_t *c, uint64_t hint, int stage)
{
    media_flow_t *const *bucket = &c->flows.buckets[hint & c->flows.mask];
    if (stage == 0) {
        __builtin_prefetch(bucket, 0);
        return;
    }
    const char *s = (const char *)*bucket;
    if (s == NULL)
        return;
    for (size_t off = 0; off < offsetof(stream_t, st) + RTPSTAT_HOT_BYTES; off += 64)
        __builtin_prefetch(s + off, 1);
}

bool corr_on_rtp_known(corr_t *c, int64_t ts_ns, const net_endpoint_t *src,
                       const net_endpoint_t *dst, const rtp_hdr_t *rtp, uint64_t hint,
                       call_ref_t *ref)
{
    /* A wrong hint could only miss (the keys are compared), never match another stream. */
    uint64_t hash = hint != 0 ? hint : media_flows_hash(&c->flows, src, dst, rtp->ssrc);
    stream_t *s = (stream_t *)media_flows_find(&c->flows, src, dst, rtp->ssrc, hash);
    if (s == NULL)
        return false;
    advance(c, ts_ns);
    c->stats.rtp_packets++;
    call_t *call = rtp_on_stream(c, ts_ns, rtp, s);
    if (ref != NULL)
        *ref = ref_of(call);
    return true;
}

/* ------------------------------------------------------------------ RTCP */

/* The stream an RTCP packet speaks of: with ssrc and sent by the RTCP sender (its SR), or
 * received by it (its report blocks). Through the call's streams when the RTCP endpoint is
 * announced, else by the usual port layout (RTP on RTCP port - 1, or the same port with mux). */
static stream_t *rtcp_stream(corr_t *c, call_t *call, const packet_view_t *pkt, uint32_t ssrc,
                             bool sent_by_reporter)
{
    media_key_t rep;
    media_key_from(&rep, &pkt->src);
    if (call != NULL) {
        stream_t *any = NULL;
        for (stream_t *s = call->streams; s != NULL; s = s->call_next) {
            if (s->flow.key.ssrc != ssrc)
                continue;
            const media_key_t *end = sent_by_reporter ? &s->flow.key.src : &s->flow.key.dst;
            if (end->family == rep.family && memcmp(end->addr, rep.addr, 16) == 0)
                return s;
            if (any == NULL)
                any = s;
        }
        if (any != NULL)
            return any;
    }
    static const uint16_t offsets[2] = {1, 0};
    for (int i = 0; i < 2; i++) {
        uint16_t d = offsets[i];
        if (pkt->src.port < d || pkt->dst.port < d)
            continue;
        net_endpoint_t a = pkt->src, b = pkt->dst;
        a.port = (uint16_t)(a.port - d);
        b.port = (uint16_t)(b.port - d);
        const net_endpoint_t *src = sent_by_reporter ? &a : &b;
        const net_endpoint_t *dst = sent_by_reporter ? &b : &a;
        uint64_t hash = media_flows_hash(&c->flows, src, dst, ssrc);
        media_flow_t *f = media_flows_find(&c->flows, src, dst, ssrc, hash);
        if (f != NULL)
            return (stream_t *)f;
    }
    return NULL;
}

static void stream_rtcp_report(stream_t *s, const rtcp_report_t *r, int64_t ts)
{
    s->have_rtcp = true;
    s->rtcp_fraction = r->fraction_lost / 256.0;
    s->rtcp_cum_lost = r->cumulative_lost;
    s->rtcp_jitter_ms = s->clock != 0 ? (double)r->jitter * 1000.0 / s->clock : 0;
    if (r->lsr == 0 || !s->have_sr)
        return;
    /* RFC 3550 6.4.1: RTT = A - LSR - DLSR, A the report's arrival in the SR sender's NTP
     * clock. We read that clock off the last SR we saw it send, moved on by capture time. */
    int64_t since = ts - s->sr_ns;
    if (since < 0 || since > 3600 * NS_PER_S)
        return;
    uint32_t arrival = s->sr_mid + (uint32_t)(since * 65536 / NS_PER_S);
    int32_t rtt = (int32_t)(arrival - r->lsr - r->dlsr);
    if (rtt >= 0) {
        s->rtcp_rtt_ms = rtt * 1000.0 / 65536.0;
        rtpstat_set_rtt(&s->st, s->rtcp_rtt_ms);
    }
}

call_ref_t corr_on_rtcp(corr_t *c, const packet_view_t *pkt, const rtcp_compound_t *rtcp)
{
    int64_t ts = pkt->ts_ns;
    advance(c, ts);
    c->stats.rtcp_packets++;
    const media_ent_t *e = media_idx_find(c->idx, &pkt->dst);
    if (e == NULL)
        e = media_idx_find(c->idx, &pkt->src);
    call_t *call = e != NULL ? e->owner : NULL;
    if (call != NULL && ts > call->media_ns)
        call->media_ns = ts;
    for (size_t i = 0; i < rtcp->n_packets && i < RTCP_MAX_PACKETS; i++) {
        const rtcp_packet_t *p = &rtcp->packets[i];
        if (p->type != RTCP_SR && p->type != RTCP_RR)
            continue;
        if (p->type == RTCP_SR) {
            stream_t *s = rtcp_stream(c, call, pkt, p->ssrc, true);
            if (s != NULL) {
                s->sr_mid = (uint32_t)(p->ntp >> 16);
                s->sr_ns = ts;
                s->have_sr = true;
            }
        }
        for (size_t j = 0; j < p->n_reports && j < RTCP_MAX_REPORTS; j++) {
            stream_t *s = rtcp_stream(c, call, pkt, p->reports[j].ssrc, false);
            if (s != NULL)
                stream_rtcp_report(s, &p->reports[j], ts);
        }
    }
    return ref_of(call);
}

corr_media_t corr_media_kind(corr_t *c, const packet_view_t *pkt)
{
    const media_ent_t *e = media_idx_find(c->idx, &pkt->dst);
    if (e == NULL)
        e = media_idx_find(c->idx, &pkt->src);
    if (e == NULL)
        return CORR_MEDIA_NONE;
    if (e->kind == MEDIA_RTCP)
        return CORR_MEDIA_RTCP;
    /* RFC 5761 4: on a muxed port, RTCP packet types 192..223 sit where RTP has M + PT. */
    if (e->kind == MEDIA_MUX && pkt->payload != NULL && pkt->len >= 2 && pkt->payload[1] >= 192 &&
        pkt->payload[1] <= 223)
        return CORR_MEDIA_RTCP;
    return CORR_MEDIA_RTP;
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
    q_remove(&c->q[call->queue], &call->qnode);
    call->queue = (uint8_t)queue_of((call_state_t)call->state);
    call->queued_ns = ts;
    q_push(&c->q[call->queue], &call->qnode);
}

/* Last activity that counts against the call's timeout: media keeps early and answered calls
 * alive, but not ended ones (a broken phone streaming after BYE must not keep a call forever). */
static int64_t call_active_ns(const call_t *call)
{
    if (call->queue == Q_ENDED)
        return call->sip_ns;
    int64_t t = max64(call->sip_ns, call->media_ns);
    for (const stream_t *s = call->streams; s != NULL; s = s->call_next)
        t = max64(t, s->last_ns);
    return t;
}

static void call_release_media(corr_t *c, call_t *call)
{
    for (int i = 0; i < call->n_eps; i++)
        media_idx_release(c->idx, call->eps[i], call);
    call->n_eps = 0;
}

static void call_finish(corr_t *c, call_t *call, fin_t why)
{
    while (call->streams != NULL)
        stream_finish(c, call->streams, FIN_ENDED);
    if (c->sink.on_call != NULL) {
        call_record_t rec;
        memset(&rec, 0, sizeof(rec));
        rec.id = call->id;
        rec.call_id = call_str(call, call->s_callid);
        rec.from_uri = call_str(call, call->s_from_uri);
        rec.to_uri = call_str(call, call->s_to_uri);
        rec.from_tag = call_str(call, call->s_from_tag);
        rec.to_tag = call_str(call, call->s_to_tag);
        rec.user_agent = call_str(call, call->s_ua);
        rec.caller = call->caller;
        rec.callee = call->callee;
        rec.state = (call_state_t)call->state;
        rec.final_status = call->final_status;
        rec.invite_ns = call->invite_ns;
        rec.ringing_ns = call->ringing_ns;
        rec.answer_ns = call->answer_ns;
        rec.end_ns = call->end_ns;
        /* Post-dial delay: INVITE to the first 18x, or to the final response without one. */
        int64_t pdd_end = call->ringing_ns != 0 ? call->ringing_ns : call->final_ns;
        rec.post_dial_delay_ns = pdd_end != 0 ? max64(0, pdd_end - call->invite_ns) : -1;
        rec.duration_ns = call->answer_ns != 0 && call->end_ns != 0
                              ? max64(0, call->end_ns - call->answer_ns)
                              : -1;
        uint64_t a = call->media_pkts[0], b = call->media_pkts[1];
        uint64_t lo = a < b ? a : b, hi = a < b ? b : a;
        rec.one_way = call->answer_ns != 0 && hi > 0 && lo * ONE_WAY_RATIO < hi;
        rec.nat = call->nat;
        rec.sip_messages = call->sip_messages;
        rec.mos = call->worst_mos;
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
    q_remove(&c->q[call->queue], &call->qnode);
    media_pool_put(&c->calls, call);
    c->stats.live_calls--;
}

/* Make room by evicting call (emitted as it stands). A finished call that only loses the rest
 * of its linger time lost nothing, so it counts as ended, not evicted. */
static void call_evict(corr_t *c, call_t *call)
{
    call_finish(c, call, call->queue == Q_ENDED ? FIN_ENDED : FIN_EVICT);
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
            q_remove(&c->q[q], &h->qnode);
            h->queued_ns = active;
            q_push(&c->q[q], &h->qnode);
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
    q_push(&c->q[Q_EARLY], &call->qnode);
    call->hnext = c->buckets[hash & c->mask];
    c->buckets[hash & c->mask] = call;
    c->stats.calls_created++;
    c->stats.live_calls++;
    return call;
}

/* ------------------------------------------------------------------ calls: SDP */

/* A newer call announced an endpoint old had: old's streams through it end here, so the
 * newer call's packets (even with the same SSRC) make streams of their own. */
static void call_lost_endpoint(corr_t *c, call_t *old, const net_endpoint_t *ep)
{
    media_key_t k;
    media_key_from(&k, ep);
    stream_t *s = old->streams;
    while (s != NULL) {
        stream_t *next = s->call_next;
        if (media_key_eq(&s->flow.key.src, &k) || media_key_eq(&s->flow.key.dst, &k))
            stream_finish(c, s, FIN_ENDED);
        s = next;
    }
}

static void call_announce(corr_t *c, call_t *call, const net_endpoint_t *ep, int side, int kind)
{
    void *prev = NULL;
    uint32_t h = media_idx_announce(c->idx, ep, call, (uint8_t)side, (uint8_t)kind, &prev);
    if (h == MEDIA_NONE) {
        c->stats.media_refused++;
        return;
    }
    if (prev != NULL)
        call_lost_endpoint(c, prev, ep);
    for (int i = 0; i < call->n_eps; i++) {
        if (call->eps[i] == h)
            return;
    }
    if (call->n_eps < CALL_MAX_EPS) {
        call->eps[call->n_eps++] = h;
    } else {
        /* Ring: the endpoints of the oldest offer/answer make way. */
        media_idx_release(c->idx, call->eps[call->eps_next], call);
        call->eps[call->eps_next] = h;
        call->eps_next = (uint8_t)((call->eps_next + 1) % CALL_MAX_EPS);
    }
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

/* An SDP sent by side: its media endpoints go into the index, its payload maps into the call. */
static void call_sdp(corr_t *c, call_t *call, int side, const packet_view_t *pkt, sv_t body)
{
    if (sdp_parse(body.p, body.len, &c->sdp) != SDP_OK)
        return;
    const sdp_t *sdp = &c->sdp;
    for (size_t i = 0; i < sdp->n_media && i < SDP_MAX_MEDIA; i++) {
        const sdp_media_t *m = &sdp->media[i];
        if (m->port == 0 || !is_rtp_proto(m->proto) || addr_unspecified(&m->conn))
            continue;
        if (addr_private(&m->conn) && pkt->src.addr.family == m->conn.family &&
            !addr_private(&pkt->src.addr))
            call->nat = true;
        net_endpoint_t rtp = {.addr = m->conn, .port = m->port};
        call_announce(c, call, &rtp, side, m->rtcp_mux ? MEDIA_MUX : MEDIA_RTP);
        call->announced[side] = true;
        if (!m->rtcp_mux) {
            net_endpoint_t rtcp = rtp;
            if (m->rtcp_addr.family != 0)
                rtcp.addr = m->rtcp_addr;
            rtcp.port = m->rtcp_port != 0 ? m->rtcp_port : (uint16_t)(m->port + 1);
            if (rtcp.port != 0 && !net_endpoint_eq(&rtcp, &rtp))
                call_announce(c, call, &rtcp, side, MEDIA_RTCP);
        }
        for (size_t j = 0; j < m->n_rtpmaps && j < SDP_MAX_RTPMAPS; j++) {
            const sdp_rtpmap_t *r = &m->rtpmaps[j];
            if (r->encoding.len == 0 || r->clock_rate == 0 ||
                rtp_static_clock_rate(r->payload_type) != 0)
                continue;
            call_map_pt(call, side, r);
        }
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

static void call_on_response(corr_t *c, call_t *call, const packet_view_t *pkt, const sip_msg_t *msg)
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

static void call_on_sip(corr_t *c, call_t *call, const packet_view_t *pkt, const sip_msg_t *msg)
{
    int64_t ts = pkt->ts_ns;
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

static void emit_message(corr_t *c, const call_t *call, const packet_view_t *pkt, const sip_msg_t *msg)
{
    if (c->sink.on_message == NULL)
        return;
    sv_copy(msg->call_id, c->callid_buf, sizeof(c->callid_buf));
    message_record_t rec = {
        .probe_id = pkt->probe_id,
        .has_probe = pkt->has_probe,
        .call_row = call != NULL ? call->id : 0,
        .call_id = c->callid_buf,
        .ts_ns = pkt->ts_ns,
        .src = pkt->src,
        .dst = pkt->dst,
        .transport = pkt->ip_proto,
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
            call_finish(c, call, FIN_ENDED);
            call = NULL;
        }
        if (call == NULL && invite)
            call = call_create(c, pkt, msg, hash);
        if (call != NULL)
            call_on_sip(c, call, pkt, msg);
    }
    if (call == NULL && is_dialog_method(msg->is_request ? msg->method_id : msg->cseq_method_id))
        c->stats.sip_orphans++;
    emit_message(c, call, pkt, msg);
    return ref_of(call);
}

/* ------------------------------------------------------------------ time */

static void expire_calls(corr_t *c, int q, uint32_t timeout_s, fin_t why, int64_t now)
{
    int64_t t = (int64_t)timeout_s * NS_PER_S;
    while (c->q[q].head != NULL) {
        call_t *call = CONTAINER_OF(c->q[q].head, call_t, qnode);
        if (call->queued_ns + t > now)
            break;
        int64_t active = call_active_ns(call);
        if (active + t > now) {
            /* Media moved it on since it was queued: back to the tail, in order enough (it
             * was active within the last timeout, like everything behind it). */
            q_remove(&c->q[q], &call->qnode);
            call->queued_ns = active;
            q_push(&c->q[q], &call->qnode);
            continue;
        }
        call_finish(c, call, why);
    }
}

void corr_tick(corr_t *c, int64_t now_ns)
{
    advance(c, now_ns);
    int64_t now = c->now_ns;
    expire_calls(c, Q_EARLY, c->cfg.setup_timeout_s, FIN_TIMEOUT, now);
    expire_calls(c, Q_CONFIRMED, c->cfg.call_idle_timeout_s, FIN_TIMEOUT, now);
    expire_calls(c, Q_ENDED, c->cfg.linger_s, FIN_ENDED, now);
    int64_t t = (int64_t)c->cfg.stream_idle_timeout_s * NS_PER_S;
    while (c->stream_q.head != NULL) {
        stream_t *s = CONTAINER_OF(c->stream_q.head, stream_t, qnode);
        if (s->queued_ns + t > now)
            break;
        if (s->last_ns + t > now) {
            q_remove(&c->stream_q, &s->qnode);
            s->queued_ns = s->last_ns;
            q_push(&c->stream_q, &s->qnode);
            continue;
        }
        stream_finish(c, s, FIN_TIMEOUT);
    }
}

void corr_flush(corr_t *c)
{
    for (int q = Q_ENDED; q >= Q_EARLY; q--) {
        while (c->q[q].head != NULL)
            call_finish(c, CONTAINER_OF(c->q[q].head, call_t, qnode), FIN_FLUSH);
    }
    while (c->stream_q.head != NULL)
        stream_finish(c, CONTAINER_OF(c->stream_q.head, stream_t, qnode), FIN_FLUSH);
}
