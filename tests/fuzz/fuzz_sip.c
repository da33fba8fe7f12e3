/* fuzz_sip: libFuzzer target for the SIP decoder (stream, datagram, URIs, name-addr, Via). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_copy.h"
#include "sip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every view the decoder hands out must lie inside the input. */
static const char *g_lo, *g_hi;

static void in_bounds(sv_t v)
{
    if (v.len == 0)
        return;
    if (v.p < g_lo || v.p > g_hi || v.len > (size_t)(g_hi - v.p))
        abort();
}

static void check_uri(const sip_uri_t *u)
{
    in_bounds(u->raw);
    in_bounds(u->user);
    in_bounds(u->password);
    in_bounds(u->host);
    in_bounds(u->params);
    in_bounds(u->headers);
    bool found;
    in_bounds(sip_param_get(u->params, "transport", &found));
    in_bounds(sip_param_get(u->params, "lr", &found));
}

static void check_nameaddr(sv_t value)
{
    sip_nameaddr_t na;
    (void)sip_nameaddr_parse(value, &na);
    in_bounds(na.display);
    in_bounds(na.params);
    in_bounds(na.tag);
    check_uri(&na.uri);
    sip_uri_t u;
    (void)sip_uri_parse(na.uri.raw, &u);
    check_uri(&u);
}

static void exercise(const sip_msg_t *m, int rc, size_t avail)
{
    if (rc <= 0)
        return;
    if ((size_t)rc > avail || (size_t)rc != m->header_len + m->body.len)
        abort();
    in_bounds(m->method);
    in_bounds(m->request_uri);
    in_bounds(m->reason);
    in_bounds(m->version);
    in_bounds(m->call_id);
    in_bounds(m->cseq_method);
    in_bounds(m->via);
    in_bounds(m->via_branch);
    in_bounds(m->contact);
    in_bounds(m->body);
    if (m->n_hdrs > SIP_MAX_HEADERS)
        abort();
    sip_uri_t u;
    (void)sip_uri_parse(m->request_uri, &u);
    check_uri(&u);
    for (size_t i = 0; i < m->n_hdrs; i++) {
        const sip_hdr_t *h = &m->hdrs[i];
        in_bounds(h->name);
        in_bounds(h->value);
        sv_t rest = h->value, item;
        size_t n = 0;
        while (sip_list_next(&rest, &item)) {
            in_bounds(item);
            if (++n > h->value.len + 1)
                abort(); /* the walk must always make progress */
            switch (h->id) {
                case SIP_HDR_VIA: {
                    sip_via_t via;
                    (void)sip_via_parse(item, &via);
                    in_bounds(via.sent_by);
                    in_bounds(via.branch);
                    in_bounds(via.params);
                    break;
                }
                case SIP_HDR_CONTACT:
                case SIP_HDR_ROUTE:
                case SIP_HDR_RECORD_ROUTE:
                    check_nameaddr(item);
                    break;
                default:
                    break;
            }
        }
        if (h->id == SIP_HDR_FROM || h->id == SIP_HDR_TO || h->id == SIP_HDR_REFER_TO)
            check_nameaddr(h->value);
    }
    for (const sip_hdr_t *h = sip_header_find(m, SIP_HDR_VIA, NULL); h;
         h = sip_header_find(m, SIP_HDR_VIA, h))
        in_bounds(h->value);
    (void)sip_method_name(m->method_id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = fuzz_exact_copy(data, size);
    if (buf == NULL)
        return 0;
    g_lo = buf;
    g_hi = buf + size;

    static sip_msg_t m;
    (void)sip_looks_like((const uint8_t *)buf, size);

    /* As a stream: consume message after message. */
    size_t off = 0;
    while (off < size) {
        int rc = sip_parse(buf + off, size - off, &m);
        if (rc <= 0)
            break;
        exercise(&m, rc, size - off);
        off += (size_t)rc;
    }

    /* As one datagram. */
    int rc = sip_parse_datagram(buf, size, &m);
    if (rc == SIP_PARTIAL)
        abort();
    exercise(&m, rc, size);

    free(buf);
    return 0;
}
