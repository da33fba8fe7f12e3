/* pcap_merge: GET /api/v1/calls/pcap?<the call list's filters>: one pcap of every matching call
 * (at most API_PCAP_MAX_CALLS), its packets merged in time order. Each call's packets come from
 * store_call_pcap_open (its own file: SIP and RTP as captured; else its SIP rebuilt from the
 * stored messages); the output is a nanosecond pcap of link type RAW (IP packets), so the
 * rebuilt frames lose their made-up Ethernet header. Calls are opened in INVITE order as the
 * merge reaches their first packet (a call's first packet is its INVITE), so only overlapping
 * calls are open at once; the result goes to an unlinked temporary file sent from there. */
#include "api_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "callpcap.h"

#define API_PCAP_MAX_CALLS 1000
#define MERGE_MAX_OPEN     512             /* calls open at once (overlapping in time) */
#define MERGE_MAX_BYTES    ((long)1 << 30) /* output cap */
#define MERGE_SNAPLEN      262144
#define LINKTYPE_ETHERNET  1
#define LINKTYPE_RAW       101

typedef struct {
    int64_t id, invite_ns;
    store_call_pcap_t pcap;
    FILE *f; /* the pcap's bytes (own file, or rebuilt data through fmemopen) */
    bool nsec, ether, open, done;
    int64_t ts_ns; /* the current packet */
    uint32_t caplen, origlen;
    uint8_t *buf;
} source_t;

typedef struct {
    source_t *src;
    size_t n;
} calls_t;

static int add_call(void *ctx, const call_record_t *r)
{
    calls_t *c = ctx;
    if (c->n == API_PCAP_MAX_CALLS)
        return 0;
    c->src[c->n++] = (source_t){.id = r->id, .invite_ns = r->invite_ns};
    return 0;
}

static void source_close(source_t *s)
{
    if (s->f != NULL)
        fclose(s->f);
    s->f = NULL;
    store_call_pcap_close(&s->pcap);
    free(s->buf);
    s->buf = NULL;
    s->done = true;
}

/* The next packet of s into its buffer; done at the end or on anything malformed. */
static void source_next(source_t *s)
{
    uint32_t h[4];
    if (fread(h, sizeof(h), 1, s->f) != 1 || h[2] > MERGE_SNAPLEN ||
        fread(s->buf, 1, h[2], s->f) != h[2]) {
        source_close(s);
        return;
    }
    s->ts_ns = (int64_t)h[0] * NS_PER_S + (int64_t)h[1] * (s->nsec ? 1 : 1000);
    s->caplen = h[2];
    s->origlen = h[3];
}

/* Open s's pcap and read its first packet; false when the store failed (then *err). */
static bool source_open(store_t *st, source_t *s, int *err)
{
    s->open = true;
    *err = store_call_pcap_open(st, s->id, NULL, &s->pcap);
    if (*err == 0)
        *err = store_call_pcap_as(&s->pcap, false);
    if (*err != 0) {
        source_close(s);
        return false;
    }
    if (s->pcap.rebuilt)
        s->f = fmemopen(s->pcap.data, s->pcap.size, "rb");
    else if ((s->f = fdopen(s->pcap.fd, "rb")) != NULL)
        s->pcap.fd = -1; /* the stream owns it now */
    s->buf = malloc(MERGE_SNAPLEN);
    uint32_t g[6];
    if (s->f == NULL || s->buf == NULL || fread(g, sizeof(g), 1, s->f) != 1 ||
        (g[0] != 0xa1b2c3d4u && g[0] != 0xa1b23c4du) ||
        (g[5] != LINKTYPE_ETHERNET && g[5] != LINKTYPE_RAW)) {
        source_close(s); /* nothing readable: left out */
        return true;
    }
    s->nsec = g[0] == 0xa1b23c4du;
    s->ether = g[5] == LINKTYPE_ETHERNET;
    source_next(s);
    return true;
}

/* Write s's current packet as a RAW record (an Ethernet frame without its header). */
static void write_packet(FILE *out, const source_t *s)
{
    const uint8_t *p = s->buf;
    uint32_t cap = s->caplen, orig = s->origlen;
    if (s->ether) {
        if (cap < 14 || !((p[12] == 0x08 && p[13] == 0x00) || (p[12] == 0x86 && p[13] == 0xdd)))
            return;
        p += 14;
        cap -= 14;
        orig = orig >= 14 ? orig - 14 : cap;
    }
    uint32_t h[4] = {(uint32_t)(s->ts_ns / NS_PER_S), (uint32_t)(s->ts_ns % NS_PER_S), cap, orig};
    fwrite(h, sizeof(h), 1, out);
    fwrite(p, 1, cap, out);
}

/* The merge; 0, or an HTTP status with the reason in why. */
static int merge(store_t *st, calls_t *c, FILE *out, char *why, size_t cap)
{
    uint32_t g[6] = {0xa1b23c4du, 2 | (4u << 16), 0, 0, MERGE_SNAPLEN, LINKTYPE_RAW};
    fwrite(g, sizeof(g), 1, out);
    size_t next = 0, nopen = 0;
    for (;;) {
        source_t *m = NULL;
        for (size_t i = 0; i < next; i++)
            if (!c->src[i].done && (m == NULL || c->src[i].ts_ns < m->ts_ns))
                m = &c->src[i];
        /* a second of slack: a rebuilt call starts with a TCP handshake 3 us before its INVITE */
        while (next < c->n && (m == NULL || c->src[next].invite_ns - NS_PER_S <= m->ts_ns)) {
            source_t *s = &c->src[next++];
            int err;
            if (++nopen > MERGE_MAX_OPEN) {
                snprintf(why, cap, "more than %d of the calls overlap in time: narrow the filters",
                         MERGE_MAX_OPEN);
                return 400;
            }
            if (!source_open(st, s, &err)) {
                snprintf(why, cap, "call %lld's pcap: %s", (long long)s->id, store_errmsg(st));
                return 500;
            }
            if (!s->done && (m == NULL || s->ts_ns < m->ts_ns))
                m = s;
        }
        if (m == NULL)
            return 0;
        write_packet(out, m);
        if (ftell(out) > MERGE_MAX_BYTES) {
            snprintf(why, cap, "the pcap would exceed %ld bytes: narrow the filters",
                     (long)MERGE_MAX_BYTES);
            return 400;
        }
        source_next(m);
        if (m->done)
            nopen--;
    }
}

static void reply_file(api_req_t *req, FILE *out, size_t ncalls)
{
    long size = ftell(out);
    int fd = fflush(out) == 0 && size >= 0 ? dup(fileno(out)) : -1;
    if (fd < 0 || lseek(fd, 0, SEEK_SET) != 0) {
        if (fd >= 0)
            close(fd);
        api_reply_error(req, 500, "writing the pcap: %s", strerror(errno));
        return;
    }
    api_reply_fd(req, 200, "application/vnd.tcpdump.pcap", fd, (size_t)size);
    api_reply_header(req, "Content-Disposition", "attachment; filename=\"sipscope-calls.pcap\"");
    char n[32];
    snprintf(n, sizeof(n), "%zu", ncalls);
    api_reply_header(req, "X-Sipscope-Calls", n);
}

void api_h_calls_pcap(api_req_t *req)
{
    store_call_filter_t f;
    if (!api_call_filter(req, &f, NULL, NULL))
        return;
    store_t *s = api_store(req);
    if (s == NULL)
        return;
    calls_t c = {.src = calloc(API_PCAP_MAX_CALLS, sizeof(source_t))};
    int64_t total = 0;
    int err = c.src ? store_query_calls_sorted(s, &f, STORE_SORT_INVITE_TIME, true,
                                               API_PCAP_MAX_CALLS, 0, add_call, &c, &total)
                    : -ENOMEM;
    if (err != 0) {
        free(c.src);
        api_reply_store_error(req, err, "calls");
        return;
    }
    if (total > API_PCAP_MAX_CALLS) {
        free(c.src);
        api_reply_error(req, 400, "%lld calls match: at most %d in one pcap (narrow the filters)",
                        (long long)total, API_PCAP_MAX_CALLS);
        return;
    }
    FILE *out = tmpfile();
    char why[256] = "";
    int status = out ? merge(s, &c, out, why, sizeof(why)) : 500;
    for (size_t i = 0; i < c.n; i++)
        if (c.src[i].open && !c.src[i].done)
            source_close(&c.src[i]);
    if (status == 0)
        reply_file(req, out, c.n);
    else
        api_reply_error(req, status, "%s", out ? why : "no temporary file for the pcap");
    if (out != NULL)
        fclose(out);
    free(c.src);
}
