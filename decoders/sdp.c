/* sdp: zero-copy RFC 8866 (RFC 4566) session description parser. */
#include "sdp.h"

#include <string.h>

/*
 * An SDP body is a list of "<type>=<value>" lines (RFC 8866 5): a session section, then one
 * section per m= line. We read it in one pass, line by line, and keep views into buf. Only what
 * a media monitor needs is decoded; everything else is skipped without a look.
 *
 *   v=0
 *   o=<username> <sess-id> <sess-version> IN IP4|IP6 <address>
 *   s=<session name>
 *   c=IN IP4 <address>[/<ttl>[/<count>]]  |  c=IN IP6 <address>[/<count>]
 *   t=<start> <stop>
 *   a=<attribute>[:<value>]                  (session level)
 *   m=<media> <port>[/<count>] <proto> <fmt> ...
 *   c=...                                    (media level, overrides the session's)
 *   a=rtpmap:<pt> <encoding>/<clock>[/<channels>]
 *   a=fmtp:<pt> <parameters>
 *   a=ptime:<ms>
 *   a=sendrecv | sendonly | recvonly | inactive
 *   a=rtcp:<port>[ IN IP4|IP6 <address>]    (RFC 3605)
 *   a=rtcp-mux                               (RFC 5761)
 *   a=crypto:<tag> <suite> <key-params> [<session-params>]   (RFC 4568 9.1, SDES-SRTP)
 *   a=fingerprint:<hash-func> <fingerprint>  (RFC 8122 5, DTLS-SRTP; session or media level)
 *   a=candidate:<foundation> <component> UDP <priority> <address> <port> typ <type> ...
 *                                            (RFC 8839 5.1, ICE; UDP candidates only)
 */

/* Where the lines being read go. */
typedef struct {
    sdp_t *out;
    sdp_media_t *media; /* current m= section; NULL at session level or when skipping */
    bool in_media;      /* an m= line has been seen (so session-level lines no longer apply) */
} sdp_state_t;

static inline bool is_ws(char c)
{
    return c == ' ' || c == '\t';
}

/* Next SP/HTAB separated field of *rest (leading blanks skipped); empty when none is left. */
static sv_t next_field(sv_t *rest)
{
    size_t i = 0;
    while (i < rest->len && is_ws(rest->p[i]))
        i++;
    size_t start = i;
    while (i < rest->len && !is_ws(rest->p[i]))
        i++;
    sv_t field = sv_make(rest->p + start, i - start);
    *rest = sv_make(rest->p + i, rest->len - i);
    return field;
}

static bool parse_port(sv_t s, uint16_t *out)
{
    uint32_t v;
    if (!sv_to_u32(s, &v) || v > 65535)
        return false;
    *out = (uint16_t)v;
    return true;
}

/* A payload type: decimal 0..127 (RFC 3550 5.1: 7 bits). */
static bool parse_pt(sv_t s, uint8_t *out)
{
    uint32_t v;
    if (!sv_to_u32(s, &v) || v > 127)
        return false;
    *out = (uint8_t)v;
    return true;
}

/* "IN IP4 <addr>[/ttl[/count]]" or "IN IP6 <addr>[/count]" (RFC 8866 5.7). The address decides the
 * family: a monitor follows the media to where it is said to go, even when the label is wrong.
 * FQDNs are not resolved (false). */
static bool parse_conn(sv_t v, net_addr_t *out)
{
    sv_t nettype = next_field(&v);
    sv_t addrtype = next_field(&v);
    sv_t addr = next_field(&v);
    if (!sv_eq_ci(nettype, "IN") || !(sv_eq_ci(addrtype, "IP4") || sv_eq_ci(addrtype, "IP6")))
        return false;
    sv_t host, suffix;
    sv_split_once(addr, '/', &host, &suffix);
    net_addr_t a;
    if (!net_addr_parse(host, &a))
        return false;
    *out = a;
    return true;
}

/* "<media> <port>[/<count>] <proto> <fmt> ..." (RFC 8866 5.14) into a zeroed m. Non-numeric
 * formats ("t38", "*") are not RTP payload types and are left out. */
static bool parse_media(sv_t v, sdp_media_t *m)
{
    m->media = next_field(&v);
    sv_t port = next_field(&v);
    m->proto = next_field(&v);
    if (m->media.len == 0 || m->proto.len == 0)
        return false;
    sv_t num, count;
    m->port_count = 1;
    if (sv_split_once(port, '/', &num, &count) &&
        (!parse_port(count, &m->port_count) || m->port_count == 0))
        return false;
    if (!parse_port(num, &m->port))
        return false;
    for (sv_t f = next_field(&v); f.len > 0; f = next_field(&v)) {
        uint8_t pt;
        if (!parse_pt(f, &pt))
            continue;
        if (m->n_formats == SDP_MAX_FORMATS) {
            m->truncated = true;
            break;
        }
        m->formats[m->n_formats++] = pt;
    }
    return true;
}

/* The rtpmap entry for pt, added if absent; NULL when the table is full. */
static sdp_rtpmap_t *rtpmap_slot(sdp_media_t *m, uint8_t pt)
{
    for (size_t i = 0; i < m->n_rtpmaps; i++) {
        if (m->rtpmaps[i].payload_type == pt)
            return &m->rtpmaps[i];
    }
    if (m->n_rtpmaps == SDP_MAX_RTPMAPS) {
        m->truncated = true;
        return NULL;
    }
    sdp_rtpmap_t *r = &m->rtpmaps[m->n_rtpmaps++];
    *r = (sdp_rtpmap_t){.payload_type = pt, .channels = 1};
    return r;
}

/* "a=rtpmap:<pt> <encoding name>/<clock rate>[/<channels>]" (RFC 8866 6.6). The first rtpmap of a
 * payload type wins; an earlier a=fmtp for it keeps its parameters. */
static void attr_rtpmap(sdp_media_t *m, sv_t v)
{
    uint8_t pt;
    if (!parse_pt(next_field(&v), &pt))
        return;
    sv_t name, params, clock, channels;
    sv_split_once(next_field(&v), '/', &name, &params);
    if (name.len == 0)
        return;
    sdp_rtpmap_t *r = rtpmap_slot(m, pt);
    if (r == NULL || r->encoding.len > 0)
        return;
    r->encoding = name;
    sv_split_once(params, '/', &clock, &channels);
    uint32_t n;
    if (sv_to_u32(clock, &n))
        r->clock_rate = n;
    if (sv_to_u32(channels, &n) && n >= 1 && n <= 255)
        r->channels = (uint8_t)n;
}

/* "a=fmtp:<pt> <parameters>" (RFC 8866 6.15); parameters may hold blanks ("a=1; b=2"). */
static void attr_fmtp(sdp_media_t *m, sv_t v)
{
    uint8_t pt;
    if (!parse_pt(next_field(&v), &pt))
        return;
    sdp_rtpmap_t *r = rtpmap_slot(m, pt);
    if (r != NULL && r->fmtp.len == 0)
        r->fmtp = sv_trim(v);
}

/* "a=ptime:<ms>"; some agents write "20.0", so the fraction is dropped. 0 means absent. */
static uint32_t attr_ptime(sv_t v)
{
    sv_t whole, frac;
    sv_split_once(v, '.', &whole, &frac);
    uint32_t ms;
    return sv_to_u32(whole, &ms) ? ms : 0;
}

/* "a=rtcp:<port>[ IN IP4|IP6 <address>]" (RFC 3605 2.1). */
static void attr_rtcp(sdp_media_t *m, sv_t v)
{
    uint16_t port;
    if (!parse_port(next_field(&v), &port))
        return;
    m->rtcp_port = port;
    net_addr_t a;
    if (parse_conn(v, &a))
        m->rtcp_addr = a;
}

/* "a=crypto:<tag> <crypto-suite> <key-params> [<session-param> ...]" (RFC 4568 9.1): tag is
 * 1*9DIGIT, key-params is "<key-method>:<key-info>" (";"-separated when several). A line
 * without all three is ignored; past SDP_MAX_CRYPTO, lines are dropped and counted as truncated. */
static void attr_crypto(sdp_media_t *m, sv_t v)
{
    sv_t tag = next_field(&v);
    sv_t suite = next_field(&v);
    sv_t key = next_field(&v);
    uint32_t t;
    if (tag.len == 0 || tag.len > 9 || !sv_to_u32(tag, &t) || suite.len == 0 || key.len == 0 ||
        memchr(key.p, ':', key.len) == NULL)
        return;
    if (m->n_crypto == SDP_MAX_CRYPTO) {
        m->crypto_truncated = true;
        return;
    }
    m->crypto[m->n_crypto++] =
        (sdp_crypto_t){.tag = t, .suite = suite, .key_params = key, .session_params = sv_trim(v)};
}

static sdp_dir_t dir_of(sv_t name)
{
    if (sv_eq_ci(name, "sendrecv"))
        return SDP_DIR_SENDRECV;
    if (sv_eq_ci(name, "sendonly"))
        return SDP_DIR_SENDONLY;
    if (sv_eq_ci(name, "recvonly"))
        return SDP_DIR_RECVONLY;
    if (sv_eq_ci(name, "inactive"))
        return SDP_DIR_INACTIVE;
    return SDP_DIR_UNSET;
}

/* "a=candidate:<foundation> <component-id> <transport> <priority> <connection-address> <port>
 * typ <cand-type> ..." (RFC 8839 5.1). UDP only: media over TCP is not RTP we could match.
 * Addresses that are names (mDNS ".local", RFC 8839 5.1 allows FQDNs) are skipped. */
static void attr_candidate(sdp_media_t *m, sv_t v)
{
    (void)next_field(&v); /* foundation */
    sv_t component = next_field(&v), transport = next_field(&v);
    (void)next_field(&v); /* priority */
    sv_t addr = next_field(&v), port = next_field(&v);
    sv_t typ = next_field(&v), type = next_field(&v);
    uint32_t comp;
    sdp_candidate_t c = {.type = SDP_CAND_OTHER};
    if (!sv_to_u32(component, &comp) || comp == 0 || comp > 255 || !sv_eq_ci(transport, "UDP") ||
        !net_addr_parse(addr, &c.ep.addr) || !parse_port(port, &c.ep.port) || c.ep.port == 0 ||
        !sv_eq_ci(typ, "typ"))
        return;
    static const char *const types[] = {"host", "srflx", "prflx", "relay"};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (sv_eq_ci(type, types[i]))
            c.type = (uint8_t)i;
    }
    c.component = (uint8_t)comp;
    if (m->n_candidates == SDP_MAX_CANDIDATES) {
        m->candidates_truncated = true;
        return;
    }
    m->candidates[m->n_candidates++] = c;
}

/* One a= line: "<name>[:<value>]" (RFC 8866 5.13). */
static void parse_attr(sdp_state_t *st, sv_t v)
{
    sv_t name, val;
    sv_split_once(v, ':', &name, &val);
    name = sv_trim(name);
    val = sv_trim(val);
    sdp_media_t *m = st->media;
    if (st->in_media && m == NULL)
        return; /* under an m= line we could not keep */

    sdp_dir_t dir = dir_of(name);
    if (dir != SDP_DIR_UNSET) {
        if (m != NULL)
            m->dir = dir;
        else
            st->out->dir = dir;
    } else if (sv_eq_ci(name, "ptime")) {
        uint32_t ms = attr_ptime(val);
        if (ms != 0) {
            if (m != NULL)
                m->ptime = ms;
            else
                st->out->ptime = ms;
        }
    } else if (sv_eq_ci(name, "fingerprint")) {
        if (val.len > 0) {
            if (m != NULL)
                m->fingerprint = true;
            else
                st->out->fingerprint = true;
        }
    } else if (m == NULL) {
        return; /* the rest are media-level only */
    } else if (sv_eq_ci(name, "rtpmap")) {
        attr_rtpmap(m, val);
    } else if (sv_eq_ci(name, "fmtp")) {
        attr_fmtp(m, val);
    } else if (sv_eq_ci(name, "rtcp")) {
        attr_rtcp(m, val);
    } else if (sv_eq_ci(name, "rtcp-mux")) {
        m->rtcp_mux = true;
    } else if (sv_eq_ci(name, "crypto")) {
        attr_crypto(m, val);
    } else if (sv_eq_ci(name, "candidate")) {
        attr_candidate(m, val);
    }
}

/* An m= line opens a new section; past the cap or when malformed, its lines are skipped. */
static void open_media(sdp_state_t *st, sv_t v)
{
    sdp_t *out = st->out;
    st->in_media = true;
    st->media = NULL;
    if (out->n_media == SDP_MAX_MEDIA) {
        out->truncated_media = true;
        return;
    }
    sdp_media_t *m = &out->media[out->n_media];
    memset(m, 0, sizeof(*m));
    if (parse_media(v, m)) {
        out->n_media++;
        st->media = m;
    }
}

/* One trimmed "<type>=<value>" line after v=. */
static void parse_line(sdp_state_t *st, char type, sv_t v)
{
    sdp_t *out = st->out;
    switch (type) {
        case 'm':
            open_media(st, v);
            break;
        case 'a':
            parse_attr(st, v);
            break;
        case 'c': {
            net_addr_t a;
            if (st->in_media && st->media == NULL)
                break;
            net_addr_t *dst = st->media ? &st->media->conn : &out->conn;
            /* The first c= of a level wins; RFC 8866 5.7 allows several only for multicast. */
            if (dst->family == 0 && parse_conn(v, &a))
                *dst = a;
            break;
        }
        case 'o':
            if (!st->in_media && out->origin_user.p == NULL) {
                out->origin_user = next_field(&v);
                out->session_id = next_field(&v);
            }
            break;
        case 's':
            if (!st->in_media && out->session_name.p == NULL)
                out->session_name = v;
            break;
        default:
            break; /* t= r= z= b= i= u= e= p= k= and unknown types */
    }
}

/* Next line of [*p, end) without its line end and trimmed; advances *p past the LF. */
static sv_t next_line(const char **p, const char *end)
{
    const char *start = *p;
    const char *nl = memchr(start, '\n', (size_t)(end - start));
    const char *eol = nl ? nl : end;
    *p = nl ? nl + 1 : end;
    return sv_trim(sv_make(start, (size_t)(eol - start)));
}

int sdp_parse(const char *buf, size_t len, sdp_t *out)
{
    if (buf == NULL || out == NULL)
        return SDP_INVALID;
    const char *p = buf, *end = buf + len;

    /* RFC 8866 5.1: the body starts with v=0 (blank lines before it are forgiven). */
    sv_t line = SV_NULL;
    while (p < end && line.len == 0)
        line = next_line(&p, end);
    if (line.len < 3 || line.p[0] != 'v' || line.p[1] != '=' ||
        !sv_eq(sv_trim(sv_slice(line, 2, line.len)), SV_LIT("0")))
        return SDP_INVALID;

    out->origin_user = SV_NULL;
    out->session_id = SV_NULL;
    out->session_name = SV_NULL;
    memset(&out->conn, 0, sizeof(out->conn));
    out->dir = SDP_DIR_UNSET;
    out->ptime = 0;
    out->n_media = 0;
    out->truncated_media = false;
    out->fingerprint = false;

    sdp_state_t st = {.out = out, .media = NULL, .in_media = false};
    while (p < end) {
        line = next_line(&p, end);
        if (line.len < 2)
            continue;
        /* A MIME boundary (RFC 2046 5.1.1) ends the SDP part of a multipart body: what follows
         * belongs to another part, however much it may look like SDP. */
        if (line.p[0] == '-' && line.p[1] == '-')
            break;
        if (line.p[1] == '=')
            parse_line(&st, line.p[0], sv_trim(sv_slice(line, 2, line.len)));
    }

    /* Session-level defaults for what a media section did not say (RFC 8866 5.7, 6.7). */
    for (size_t i = 0; i < out->n_media; i++) {
        sdp_media_t *m = &out->media[i];
        if (m->conn.family == 0)
            m->conn = out->conn;
        if (m->dir == SDP_DIR_UNSET)
            m->dir = out->dir;
        if (m->ptime == 0)
            m->ptime = out->ptime;
        if (out->fingerprint)
            m->fingerprint = true;
    }
    return SDP_OK;
}

const sdp_rtpmap_t *sdp_rtpmap_find(const sdp_media_t *m, uint8_t pt)
{
    for (size_t i = 0; i < m->n_rtpmaps; i++) {
        if (m->rtpmaps[i].payload_type == pt)
            return &m->rtpmaps[i];
    }
    return NULL;
}

const char *sdp_dir_name(sdp_dir_t dir)
{
    switch (dir) {
        case SDP_DIR_UNSET:
        case SDP_DIR_SENDRECV:
            return "sendrecv";
        case SDP_DIR_SENDONLY:
            return "sendonly";
        case SDP_DIR_RECVONLY:
            return "recvonly";
        case SDP_DIR_INACTIVE:
            return "inactive";
    }
    return "?";
}
