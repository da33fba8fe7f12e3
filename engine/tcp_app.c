/* tcp_app: the application layer of TCP connections: plain SIP, SIP over WebSocket, TLS. */
#include "tcp_app.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "defs.h"
#include "list.h"
#include "sv.h"
#include "tls.h"
#include "ws.h"

/* One direction's layer above TCP (or above TLS, once decrypted). */
typedef enum {
    D_DETECT = 0, /* nothing seen yet: the first bytes decide */
    D_SIP,        /* SIP text: the engine's stream path */
    D_HTTP,       /* before the blank line ending the Upgrade request or its answer */
    D_WS,         /* WebSocket frames */
    D_SKIP,       /* not ours, or lost: consume and ignore */
} dir_state_t;

typedef struct {
    uint8_t state; /* dir_state_t */
    bool in_msg;   /* a fragmented message is being reassembled into buf */
    bool oversize; /* that message outgrew max_message: its remaining frames are skipped */
    uint64_t skip; /* payload bytes of the current frame still to skip */
    uint8_t *buf;  /* the unmasked message; owned, allocated on the first WS frame */
    size_t len;
} dir_t;

/* A connection, keyed by its endpoints in order (lo < hi), so that both directions share it.
 * dir[0] is lo -> hi. */
typedef struct {
    net_endpoint_t lo, hi;
    uint64_t hash;
    int64_t last_ns;
    uint32_t next;      /* hash chain, 1-based index, 0 = end */
    bool tls;           /* TLS records: bytes go to the TLS hook first */
    uint8_t tls_client; /* the direction that sent the ClientHello */
    bool tls_decrypted; /* counted in tls_decrypted */
    bool tls_described; /* handed to on_tls */
    tls_session_t *ts;  /* owned; NULL: not decrypting (no room, no memory) */
    uint8_t *plain[2];  /* decrypted bytes the SIP side has not consumed yet */
    size_t plain_len[2];
    dir_t dir[2];
} conn_t;

struct tcp_app {
    tcp_app_cfg_t cfg;
    tcp_app_sink_t sink;
    conn_t *conns;       /* cfg.max_conns entries, 1-based in chains and lists */
    ilist_link_t *links; /* LRU links, one per entry */
    ilist_t lru;         /* head: most recently used; tail: the eviction candidate */
    uint32_t *buckets;   /* nbuckets chain heads */
    uint32_t nbuckets;   /* a power of two */
    uint32_t n_used, next_fresh;
    uint32_t free_head; /* freed entries, chained through next */
    tcp_app_stats_t stats;
    size_t tls_live;  /* TLS sessions held now (at most cfg.max_tls) */
    conn_t *tls_conn; /* the connection and segment tls_input is feeding */
    const packet_view_t *tls_pkt;
};

static const char *const kind_names[TCP_APP_KIND_COUNT] = {"sip", "ws", "tls", "other"};

const char *tcp_app_kind_name(tcp_app_kind_t kind)
{
    return (unsigned)kind < TCP_APP_KIND_COUNT ? kind_names[kind] : "unknown";
}

void tcp_app_cfg_init(tcp_app_cfg_t *cfg)
{
    cfg->max_conns = 16384;
    cfg->timeout_ms = 300 * 1000;
    cfg->max_message = 64 * 1024;
    cfg->max_tls = 4096;
}

tcp_app_t *tcp_app_new(const tcp_app_cfg_t *cfg, const tcp_app_sink_t *sink)
{
    tcp_app_t *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    a->cfg = *cfg;
    if (a->cfg.max_conns == 0)
        a->cfg.max_conns = 1;
    if (a->cfg.max_conns > UINT32_MAX / 4)
        a->cfg.max_conns = UINT32_MAX / 4;
    a->sink = *sink;
    a->nbuckets = 1;
    while (a->nbuckets < a->cfg.max_conns)
        a->nbuckets <<= 1;
    a->conns = calloc(a->cfg.max_conns, sizeof(*a->conns));
    a->links = calloc(a->cfg.max_conns, sizeof(*a->links));
    a->buckets = calloc(a->nbuckets, sizeof(*a->buckets));
    if (a->conns == NULL || a->links == NULL || a->buckets == NULL) {
        tcp_app_free(a);
        return NULL;
    }
    ilist_init(&a->lru, a->links);
    return a;
}

void tcp_app_free(tcp_app_t *a)
{
    if (a == NULL)
        return;
    if (a->conns != NULL) {
        /* Entries past next_fresh were never handed out: nothing to free there, and not
         * walking them saves ~370,000 instructions per run at the default 16,384. */
        for (size_t i = 0; i < a->next_fresh && i < a->cfg.max_conns; i++) {
            free(a->conns[i].dir[0].buf);
            free(a->conns[i].dir[1].buf);
            tls_session_free(a->conns[i].ts);
            free(a->conns[i].plain[0]);
            free(a->conns[i].plain[1]);
        }
    }
    free(a->conns);
    free(a->links);
    free(a->buckets);
    free(a);
}

const tcp_app_stats_t *tcp_app_stats(const tcp_app_t *a)
{
    return &a->stats;
}

/* ---- the connection table ---- */

static int endpoint_cmp(const net_endpoint_t *x, const net_endpoint_t *y)
{
    int c = memcmp(&x->addr, &y->addr, sizeof(x->addr));
    if (c != 0)
        return c;
    return (int)x->port - (int)y->port;
}

/* A TLS connection's description to the sink, once. */
static void tls_describe(tcp_app_t *a, conn_t *c)
{
    if (c->ts == NULL || c->tls_described || a->sink.on_tls == NULL)
        return;
    c->tls_described = true;
    const net_endpoint_t *client = c->tls_client == 0 ? &c->lo : &c->hi;
    const net_endpoint_t *server = c->tls_client == 0 ? &c->hi : &c->lo;
    a->sink.on_tls(a->sink.ctx, client, server, tls_session_info(c->ts));
}

void tcp_app_flush_tls(tcp_app_t *a)
{
    for (uint32_t i = 0; i < a->next_fresh && i < a->cfg.max_conns; i++)
        tls_describe(a, &a->conns[i]);
}

static void conn_drop(tcp_app_t *a, uint32_t idx)
{
    conn_t *c = &a->conns[idx - 1];
    uint32_t *link = &a->buckets[c->hash & (a->nbuckets - 1)];
    while (*link != idx)
        link = &a->conns[*link - 1].next;
    *link = c->next;
    ilist_remove(&a->lru, idx);
    free(c->dir[0].buf);
    free(c->dir[1].buf);
    if (c->ts != NULL) {
        tls_describe(a, c);
        tls_session_free(c->ts);
        a->tls_live--;
    }
    free(c->plain[0]);
    free(c->plain[1]);
    memset(c, 0, sizeof(*c));
    c->next = a->free_head;
    a->free_head = idx;
    a->n_used--;
}

/* Idle connections go first, oldest first, by capture time. A connection that closed leaves
 * no trace in what the capture hands us (FIN carries no payload), so time is what frees it. */
static void expire(tcp_app_t *a, int64_t now_ns)
{
    int64_t timeout_ns = (int64_t)a->cfg.timeout_ms * NS_PER_MS;
    while (a->lru.tail != 0 && a->conns[a->lru.tail - 1].last_ns + timeout_ns < now_ns) {
        conn_drop(a, a->lru.tail);
        a->stats.timed_out++;
    }
}

/* The connection of pkt, created when new; *dir is pkt's direction in it. */
static conn_t *conn_get(tcp_app_t *a, const packet_view_t *pkt, int *dir)
{
    const net_endpoint_t *lo = &pkt->src, *hi = &pkt->dst;
    *dir = 0;
    if (endpoint_cmp(lo, hi) > 0) {
        lo = &pkt->dst;
        hi = &pkt->src;
        *dir = 1;
    }
    uint64_t h = net_endpoint_hash(lo) * 31 ^ net_endpoint_hash(hi);
    uint32_t *bucket = &a->buckets[h & (a->nbuckets - 1)];
    for (uint32_t i = *bucket; i != 0; i = a->conns[i - 1].next) {
        conn_t *c = &a->conns[i - 1];
        if (c->hash == h && net_endpoint_eq(&c->lo, lo) && net_endpoint_eq(&c->hi, hi)) {
            c->last_ns = pkt->ts_ns;
            ilist_touch(&a->lru, i);
            return c;
        }
    }
    expire(a, pkt->ts_ns);
    if (a->n_used == a->cfg.max_conns) {
        conn_drop(a, a->lru.tail);
        a->stats.evicted++;
    }
    uint32_t idx;
    if (a->free_head != 0) {
        idx = a->free_head;
        a->free_head = a->conns[idx - 1].next;
    } else {
        idx = ++a->next_fresh;
    }
    conn_t *c = &a->conns[idx - 1];
    memset(c, 0, sizeof(*c));
    c->lo = *lo;
    c->hi = *hi;
    c->hash = h;
    c->last_ns = pkt->ts_ns;
    c->next = *bucket;
    *bucket = idx;
    ilist_push_head(&a->lru, idx);
    a->n_used++;
    return c;
}

/* ---- HTTP Upgrade (RFC 6455 4, RFC 7118 4) ---- */

/* Longest Upgrade request or answer looked at; longer heads are not a SIP gateway's. */
enum { HTTP_MAX_HEAD = 8192 };

/* value, a comma-separated list, holds token (case-insensitive). */
static bool list_has_token(sv_t value, const char *token)
{
    sv_t item, rest = value;
    while (rest.len > 0) {
        sv_split_once(rest, ',', &item, &rest); /* the last item: rest becomes empty */
        if (sv_eq_ci(sv_trim(item), token))
            return true;
    }
    return false;
}

/* The head (request or status line and header lines, without the blank line): is it an
 * Upgrade to WebSocket for SIP (request), or its 101 answer (response)? */
static bool http_head_ok(sv_t head, bool *is_response)
{
    sv_t line, rest = head;
    bool first = true, upgrade = false, sip = false;
    *is_response = false;
    while (rest.len > 0) {
        sv_split_once(rest, '\n', &line, &rest);
        line = sv_trim(line);
        if (first) {
            first = false;
            if (sv_starts_with_ci(line, "HTTP/1.")) {
                /* "HTTP/1.1 101 Switching Protocols" */
                *is_response = true;
                if (line.len < 12 || memcmp(line.p + 8, " 101", 4) != 0)
                    return false;
            } else if (!sv_starts_with_ci(line, "GET ")) {
                return false;
            }
            continue;
        }
        sv_t name, value;
        if (!sv_split_once(line, ':', &name, &value))
            continue;
        name = sv_trim(name);
        if (sv_eq_ci(name, "Upgrade"))
            upgrade = upgrade || list_has_token(value, "websocket");
        else if (sv_eq_ci(name, "Sec-WebSocket-Protocol"))
            sip = sip || list_has_token(value, "sip");
    }
    /* The answer repeats the protocol too, but the request has already decided. */
    return *is_response || (upgrade && sip);
}

static void set_kind(conn_t *c, dir_state_t state)
{
    c->dir[0].state = c->dir[1].state = (uint8_t)state;
}

/* Consumes the head of an Upgrade request or answer; n bytes at p. */
static size_t http_input(tcp_app_t *a, conn_t *c, int dir, const uint8_t *p, size_t n)
{
    size_t look = n < HTTP_MAX_HEAD ? n : HTTP_MAX_HEAD;
    const uint8_t *end = NULL;
    for (size_t i = 0; i + 3 < look; i++) {
        if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n') {
            end = p + i;
            break;
        }
    }
    if (end == NULL) {
        if (n < HTTP_MAX_HEAD)
            return 0; /* the blank line is still to come */
        a->stats.conns[TCP_APP_OTHER]++;
        set_kind(c, D_SKIP);
        return n;
    }
    bool is_response;
    if (!http_head_ok(sv_make((const char *)p, (size_t)(end - p)), &is_response)) {
        if (!is_response)
            a->stats.conns[TCP_APP_OTHER]++;
        set_kind(c, D_SKIP);
        return n;
    }
    if (!is_response)
        a->stats.conns[TCP_APP_WS]++;
    c->dir[dir].state = D_WS;
    return (size_t)(end - p) + 4;
}

/* ---- WebSocket frames (RFC 6455 5) ---- */

static void message_reset(dir_t *d)
{
    d->in_msg = d->oversize = false;
    d->len = 0;
}

static void message_deliver(tcp_app_t *a, dir_t *d, const packet_view_t *pkt)
{
    packet_view_t msg = *pkt;
    msg.payload = d->buf;
    msg.len = d->len;
    msg.carried |= PKT_CARRIED_WS;
    a->stats.ws_messages++;
    if (d->len > 0)
        a->sink.on_message(a->sink.ctx, &msg);
    message_reset(d);
}

/* Whole frames from the n bytes at p; a frame not yet all there waits (the capture keeps it),
 * except the payload of one too long to keep, which is skipped as it comes. */
static size_t ws_input(tcp_app_t *a, dir_t *d, const packet_view_t *pkt)
{
    const uint8_t *p = pkt->payload;
    size_t n = pkt->len, off = 0;
    while (off < n) {
        if (d->skip > 0) {
            size_t k = n - off < d->skip ? n - off : (size_t)d->skip;
            off += k;
            d->skip -= k;
            continue;
        }
        ws_frame_t f;
        int h = ws_parse_frame(p + off, n - off, &f);
        if (h == WS_PARTIAL)
            return off;
        if (h == WS_INVALID) {
            /* No way to find the next frame boundary: give up on this direction. */
            a->stats.ws_malformed++;
            message_reset(d);
            d->state = D_SKIP;
            return n;
        }
        if (ws_is_control(f.opcode)) {
            a->stats.ws_control++;
            off += (size_t)h;
            d->skip = f.payload_len;
            continue;
        }
        if (f.opcode == WS_OP_CONT && !d->in_msg) {
            /* A continuation of nothing (we joined mid-message): skip it. */
            a->stats.ws_malformed++;
            off += (size_t)h;
            d->skip = f.payload_len;
            continue;
        }
        if (f.opcode != WS_OP_CONT && d->in_msg) {
            a->stats.ws_malformed++; /* the fragmented message never finished */
            message_reset(d);
        }
        d->in_msg = true;
        if (d->oversize || f.payload_len > a->cfg.max_message - d->len) {
            if (!d->oversize)
                a->stats.ws_oversize++;
            d->oversize = true;
            off += (size_t)h;
            d->skip = f.payload_len;
            if (f.fin)
                message_reset(d);
            continue;
        }
        size_t plen = (size_t)f.payload_len;
        if (n - off < (size_t)h + plen)
            return off;
        if (d->buf == NULL &&
            (d->buf = malloc(a->cfg.max_message ? a->cfg.max_message : 1)) == NULL)
            return n;
        if (f.masked)
            ws_unmask(d->buf + d->len, p + off + h, plen, f.mask, 0);
        else
            memcpy(d->buf + d->len, p + off + h, plen);
        d->len += plen;
        off += (size_t)h + plen;
        if (f.fin)
            message_deliver(a, d, pkt);
    }
    return off;
}

/* ---- the layers ---- */

static bool is_tls_record(const uint8_t *p, size_t n)
{
    /* A handshake record of SSL 3.0 .. TLS 1.3's legacy version (RFC 8446 5.1). */
    return n >= 3 && p[0] == 0x16 && p[1] == 0x03 && p[2] >= 0x01 && p[2] <= 0x04;
}

static size_t app_input(tcp_app_t *a, conn_t *c, int dir, const packet_view_t *pkt);

/* The most decrypted bytes kept waiting for the end of a SIP message, per direction. */
#define TLS_PLAIN_MAX (256u * 1024u)

/* Plaintext of one record from the session (tls_plain_fn): appended to what the SIP side left,
 * then offered to app_input as a view of the segment that completed the record, carried
 * |= PKT_CARRIED_TLS; what app_input does not consume waits for the next plaintext. */
static void tls_plain(void *ctx, tls_dir_t tdir, const uint8_t *data, size_t len)
{
    tcp_app_t *a = ctx;
    conn_t *c = a->tls_conn;
    int dir = tdir == TLS_FROM_CLIENT ? c->tls_client : 1 - c->tls_client;
    if (!c->tls_decrypted) {
        c->tls_decrypted = true;
        a->stats.tls_decrypted++;
    }
    size_t have = c->plain_len[dir];
    if (have + len > TLS_PLAIN_MAX) { /* no message end in sight: start again */
        a->stats.tls_plain_overflow += have;
        have = 0;
        if (len > TLS_PLAIN_MAX) {
            a->stats.tls_plain_overflow += len;
            len = 0;
        }
    }
    uint8_t *buf = realloc(c->plain[dir], have + len ? have + len : 1);
    if (buf == NULL) {
        a->stats.tls_plain_overflow += have + len;
        c->plain_len[dir] = 0;
        return;
    }
    memcpy(buf + have, data, len);
    c->plain[dir] = buf;
    packet_view_t view = *a->tls_pkt;
    view.payload = buf;
    view.len = have + len;
    view.carried |= PKT_CARRIED_TLS;
    size_t used = view.len ? app_input(a, c, dir, &view) : 0;
    if (used > view.len)
        used = view.len;
    memmove(buf, buf + used, view.len - used);
    c->plain_len[dir] = view.len - used;
}

/* THE TLS HOOK. A connection whose first record is a TLS handshake comes here with all its
 * in-order unconsumed ciphertext of one direction. Its session (engine/tls.c) frames the
 * records, keeping a partial one, so everything is consumed; plaintext comes back through
 * tls_plain. Without keys, or beyond max_tls sessions, the connection is counted as TLS, the
 * session still describes it, and nothing is decoded. */
static size_t tls_input(tcp_app_t *a, conn_t *c, int dir, const packet_view_t *pkt)
{
    if (c->ts == NULL) {
        if (c->tls_client == 0xff)
            return pkt->len; /* untracked: counted once */
        if (a->tls_live >= a->cfg.max_tls ||
            (c->ts = tls_session_new(a->cfg.tls_keys, tls_plain, a)) == NULL) {
            a->stats.tls_untracked++;
            c->tls_client = 0xff;
            return pkt->len;
        }
        a->tls_live++;
        c->tls_client = (uint8_t)dir;
    }
    a->tls_conn = c;
    a->tls_pkt = pkt;
    tls_dir_t tdir = dir == c->tls_client ? TLS_FROM_CLIENT : TLS_FROM_SERVER;
    (void)tls_session_feed(c->ts, tdir, pkt->payload, pkt->len);
    a->tls_conn = NULL;
    a->tls_pkt = NULL;
    return pkt->len;
}

/* The clear bytes of one direction (from TCP, or plaintext from TLS). */
static size_t app_input(tcp_app_t *a, conn_t *c, int dir, const packet_view_t *pkt)
{
    dir_t *d = &c->dir[dir];
    const uint8_t *p = pkt->payload;
    size_t n = pkt->len;
    if (d->state == D_DETECT) {
        if ((pkt->carried & PKT_CARRIED_TLS) == 0 && (n < 3 && n > 0 && p[0] == 0x16))
            return 0; /* a record header yet to complete */
        if ((pkt->carried & PKT_CARRIED_TLS) == 0 && is_tls_record(p, n)) {
            a->stats.conns[TCP_APP_TLS]++;
            c->tls = true;
            return tls_input(a, c, dir, pkt);
        }
        static const char get[] = "GET ", http[] = "HTTP/";
        size_t k = n < 4 ? n : 4;
        if (memcmp(p, get, k) == 0 || memcmp(p, http, k) == 0) {
            if (n < 4)
                return 0;
            set_kind(c, D_HTTP);
        } else {
            a->stats.conns[TCP_APP_SIP]++;
            set_kind(c, D_SIP);
        }
    }
    size_t off;
    switch ((dir_state_t)d->state) {
        case D_SIP:
            return a->sink.on_stream(a->sink.ctx, pkt);
        case D_HTTP:
            off = http_input(a, c, dir, p, n);
            if (d->state != D_WS || off == n)
                return off;
            {
                packet_view_t rest = *pkt;
                rest.payload += off;
                rest.len -= off;
                return off + ws_input(a, d, &rest);
            }
        case D_WS:
            return ws_input(a, d, pkt);
        case D_DETECT:
        case D_SKIP:
            break;
    }
    return n;
}

size_t tcp_app_feed(tcp_app_t *a, const packet_view_t *pkt)
{
    if (pkt->len == 0)
        return 0;
    int dir;
    conn_t *c = conn_get(a, pkt, &dir);
    if (c->tls)
        return tls_input(a, c, dir, pkt);
    return app_input(a, c, dir, pkt);
}
