/* capsink: a recording cap_ sink for the capture suites. */
#include "capsink.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "sv.h"

capsink_t S;

void sink_reset(void)
{
    for (size_t i = 0; i < S.nrecs; i++)
        free(S.recs[i].data);
    /* nmsgs counts past MAX_MSGS; only the first MAX_MSGS were kept. */
    for (size_t i = 0; i < S.nmsgs && i < MAX_MSGS; i++)
        free(S.msgs[i]);
    memset(&S, 0, sizeof(S));
    S.record = true;
    S.tcp_mode = TCP_SIP;
}

void sink_setup(void)
{
    memset(&S, 0, sizeof(S));
    sink_reset();
}

void sink_teardown(void)
{
    sink_reset();
    guard_release();
}

/* Case-insensitive search for a header name at a line start within hdr[0, n). */
static bool find_clen(const char *hdr, size_t n, size_t *clen)
{
    for (size_t i = 0; i + 2 < n; i++) {
        if (hdr[i] != '\n')
            continue;
        sv_t line = sv_make(hdr + i + 1, n - i - 1);
        size_t colon = sv_index(line, ':');
        size_t eol = sv_index(line, '\r');
        if (colon == SIZE_MAX || eol == SIZE_MAX || colon > eol)
            continue;
        sv_t name = sv_trim(sv_slice(line, 0, colon));
        if (sv_eq_ci(name, "content-length") || sv_eq_ci(name, "l")) {
            uint32_t v;
            if (!sv_to_u32(sv_trim(sv_slice(line, colon + 1, eol - colon - 1)), &v))
                return false;
            *clen = v;
            return true;
        }
    }
    *clen = 0;
    return true;
}

/* Length of the first whole SIP message in p[0, n), or 0 if it is incomplete. */
size_t sip_message_len(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 4 <= n; i++) {
        if (memcmp(p + i, "\r\n\r\n", 4) != 0)
            continue;
        size_t clen;
        if (!find_clen((const char *)p, i + 2, &clen))
            return 0;
        return i + 4 + clen <= n ? i + 4 + clen : 0;
    }
    return 0;
}

static bool looks_like_sip(const uint8_t *p, size_t n)
{
    if (n >= 8 && memcmp(p, "SIP/2.0 ", 8) == 0)
        return true;
    for (size_t i = 0; i + 1 < n && i < 512; i++)
        if (p[i] == '\r' && p[i + 1] == '\n')
            return i >= 8 && memcmp(p + i - 8, " SIP/2.0", 8) == 0;
    return false;
}

static void note_sip(int64_t ts_ns)
{
    if (!S.have_first_sip) {
        S.first_sip_ts = ts_ns;
        S.have_first_sip = true;
    }
}

static size_t sink(void *ctx, const packet_view_t *pkt)
{
    (void)ctx;
    S.calls++;
    if (!S.have_first_ts) {
        S.first_ts = pkt->ts_ns;
        S.have_first_ts = true;
    }
    if (pkt->ts_ns % 1000 != 0)
        S.sub_us = true;
    if (pkt->vlan != S.want_vlan)
        S.vlan_mismatch++;
    if (pkt->reassembled)
        S.reassembled++;
    /* The l3 view must contain the whole payload of this packet when not reassembled. */
    ck_assert_ptr_nonnull(pkt->l3);
    ck_assert_uint_ge(pkt->l3_len, 20);
    ck_assert_ptr_nonnull(pkt->frame);
    ck_assert(pkt->l3 >= pkt->frame && pkt->l3 + pkt->l3_len <= pkt->frame + pkt->frame_caplen);
    if (S.record && S.nrecs < MAX_RECS) {
        rec_t *r = &S.recs[S.nrecs++];
        r->proto = pkt->ip_proto;
        net_endpoint_str(&pkt->src, r->src, sizeof(r->src));
        net_endpoint_str(&pkt->dst, r->dst, sizeof(r->dst));
        r->vlan = pkt->vlan;
        r->reassembled = pkt->reassembled;
        r->ts_ns = pkt->ts_ns;
        r->len = pkt->len;
        r->data = malloc(pkt->len + 1);
        ck_assert_ptr_nonnull(r->data);
        if (pkt->len > 0)
            memcpy(r->data, pkt->payload, pkt->len);
        r->data[pkt->len] = 0;
        r->l3 = pkt->l3;
        r->l3_len = pkt->l3_len;
        r->l3_first = pkt->l3[0];
        r->frame = pkt->frame;
        r->frame_caplen = pkt->frame_caplen;
        r->frame_len = pkt->frame_len;
        r->frame_dlt = pkt->frame_dlt;
    }
    if (pkt->ip_proto == CAP_PROTO_UDP) {
        S.udp_calls++;
        if (looks_like_sip(pkt->payload, pkt->len)) {
            S.sip_udp++;
            note_sip(pkt->ts_ns);
        } else
            S.other_udp++;
        return 0;
    }
    ck_assert_uint_eq(pkt->ip_proto, CAP_PROTO_TCP);
    ck_assert_uint_gt(pkt->len, 0); /* never called for a pure ACK */
    S.tcp_calls++;
    if (pkt->len > S.max_tcp_offer)
        S.max_tcp_offer = pkt->len;
    switch (S.tcp_mode) {
        case TCP_ALL:
            return pkt->len;
        case TCP_NONE:
            return 0;
        case TCP_FIXED:
            return pkt->len < S.fixed ? pkt->len : S.fixed;
        default:
            break;
    }
    size_t used = 0, n;
    while ((n = sip_message_len(pkt->payload + used, pkt->len - used)) > 0) {
        if (S.nmsgs < MAX_MSGS) {
            S.msgs[S.nmsgs] = malloc(n + 1);
            ck_assert_ptr_nonnull(S.msgs[S.nmsgs]);
            memcpy(S.msgs[S.nmsgs], pkt->payload + used, n);
            S.msgs[S.nmsgs][n] = 0;
            S.msg_len[S.nmsgs] = n;
        }
        S.nmsgs++;
        note_sip(pkt->ts_ns);
        used += n;
    }
    return used;
}

cap_t *new_cap_cfg(const cap_cfg_t *cfg)
{
    cap_t *cap = cap_new(cfg, sink, NULL);
    ck_assert_ptr_nonnull(cap);
    return cap;
}

cap_t *new_cap(void)
{
    cap_cfg_t cfg;
    cap_cfg_init(&cfg);
    return new_cap_cfg(&cfg);
}

void feed_at(cap_t *cap, int dlt, int64_t ts, pkt_t *k)
{
    cap_process_frame(cap, dlt, ts, pk_data(k), (uint32_t)pk_len(k), (uint32_t)pk_len(k));
    free(k);
}

void feed(cap_t *cap, int dlt, pkt_t *k)
{
    feed_at(cap, dlt, T0, k);
}

pkt_t *udp4(const char *payload)
{
    pkt_t *k = pk_str(payload);
    w_udp(k, 5060, 5062);
    w_ip4(k, 17, "192.0.2.1", "198.51.100.2");
    return k;
}
