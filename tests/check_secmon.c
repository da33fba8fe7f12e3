/* check_secmon: the security monitor on SIP text through the real parser: registrations
 * (outcomes, expiry, unregistration), each detector, quiet traffic, episodes, bounded tables
 * under a million spoofed sources, simcalls captures against their truth, and the store. */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cap.h"
#include "secmon.h"
#include "sip.h"
#include "skip.h"
#include "store.h"
#include "testdata.h"

#define T0        (INT64_C(1705312800) * NS_S)
#define NS_S      INT64_C(1000000000)
#define MS        INT64_C(1000000)
#define REGISTRAR "198.51.100.5:5060"

/* ------------------------------------------------------------------ recording sink */

#define MAX_ALERTS 64
#define MAX_REGS   512

typedef struct {
    alert_record_t r;
    char target[128], ua[64];
    int emits;
} rec_alert_t;

typedef struct {
    registration_record_t r;
    char aor[128], user[64], contact[128], ua[64];
    int emits;
} rec_reg_t;

static struct {
    rec_alert_t a[MAX_ALERTS];
    size_t na, alert_emits;
    rec_reg_t g[MAX_REGS];
    size_t ng, reg_emits;
    store_t *store; /* when set, every record is also stored */
} R;

static void copy_str(char *dst, size_t cap, const char *s)
{
    snprintf(dst, cap, "%s", s != NULL ? s : "");
}

static void on_alert(void *ctx, const alert_record_t *a)
{
    (void)ctx;
    R.alert_emits++;
    if (R.store != NULL)
        ck_assert_int_eq(store_put_alert(R.store, a), 0);
    rec_alert_t *x = NULL;
    for (size_t i = 0; i < R.na && i < MAX_ALERTS; i++)
        if (R.a[i].r.id == a->id)
            x = &R.a[i];
    if (x == NULL) {
        if (R.na++ >= MAX_ALERTS)
            return;
        x = &R.a[R.na - 1];
    }
    x->r = *a;
    x->emits++;
    copy_str(x->target, sizeof(x->target), a->target);
    copy_str(x->ua, sizeof(x->ua), a->user_agent);
    x->r.target = x->target;
    x->r.user_agent = x->ua;
}

static void on_registration(void *ctx, const registration_record_t *g)
{
    (void)ctx;
    R.reg_emits++;
    if (R.store != NULL)
        ck_assert_int_eq(store_put_registration(R.store, g), 0);
    rec_reg_t *x = NULL;
    for (size_t i = 0; i < R.ng && i < MAX_REGS; i++)
        if (strcmp(R.g[i].aor, g->aor) == 0 && strcmp(R.g[i].contact, g->contact) == 0)
            x = &R.g[i];
    if (x == NULL) {
        if (R.ng++ >= MAX_REGS)
            return;
        x = &R.g[R.ng - 1];
    }
    x->r = *g;
    x->emits++;
    copy_str(x->aor, sizeof(x->aor), g->aor);
    copy_str(x->user, sizeof(x->user), g->aor_user);
    copy_str(x->contact, sizeof(x->contact), g->contact);
    copy_str(x->ua, sizeof(x->ua), g->user_agent);
}

static const secmon_sink_t SINK = {NULL, on_registration, on_alert};

static secmon_t *M;
static int64_t MSGID;

static void fresh(const secmon_cfg_t *cfg)
{
    secmon_free(M);
    memset(&R, 0, sizeof(R));
    M = secmon_new(cfg, &SINK);
    ck_assert_ptr_nonnull(M);
    MSGID = 0;
}

static void setup(void)
{
    fresh(NULL);
}

static void teardown(void)
{
    secmon_free(M);
    M = NULL;
}

static const rec_alert_t *alert_of(const char *source)
{
    net_addr_t a;
    memset(&a, 0, sizeof(a));
    if (source != NULL)
        ck_assert(net_addr_parse(sv_from_cstr(source), &a));
    const rec_alert_t *found = NULL;
    for (size_t i = 0; i < R.na; i++) {
        if (net_addr_eq(&R.a[i].r.source, &a)) {
            ck_assert_msg(found == NULL, "two alerts for %s", source ? source : "(none)");
            found = &R.a[i];
        }
    }
    return found;
}

static const rec_reg_t *reg_of(const char *aor, const char *contact)
{
    for (size_t i = 0; i < R.ng; i++)
        if (strcmp(R.g[i].aor, aor) == 0 && strcmp(R.g[i].contact, contact) == 0)
            return &R.g[i];
    return NULL;
}

/* ------------------------------------------------------------------ SIP text */

static net_endpoint_t ep(const char *text)
{
    net_endpoint_t e;
    memset(&e, 0, sizeof(e));
    sv_t s = sv_from_cstr(text);
    size_t i = s.len;
    while (i > 0 && s.p[i - 1] != ':')
        i--;
    uint32_t port = 0;
    if (i == 0 || !sv_to_u32(sv_slice(s, i, SIZE_MAX), &port) ||
        !net_addr_parse(sv_slice(s, 0, i - 1), &e.addr))
        ck_abort_msg("bad endpoint %s", text);
    e.port = (uint16_t)port;
    return e;
}

/* Parse text as a datagram and hand it to the monitor. */
static void feed(const char *src, const char *dst, int64_t ts, const char *text)
{
    static sip_msg_t msg;
    size_t len = strlen(text);
    if (sip_parse_datagram(text, len, &msg) <= 0)
        ck_abort_msg("unparsable:\n%s", text);
    packet_view_t pkt = {
        .ts_ns = ts,
        .src = ep(src),
        .dst = ep(dst),
        .ip_proto = 17,
        .payload = (const uint8_t *)text,
        .len = len,
    };
    secmon_on_sip(M, &pkt, &msg, ++MSGID);
}

static char TXT[4096];

__attribute__((format(printf, 1, 2))) static const char *fmt(const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(TXT, sizeof(TXT), f, ap);
    va_end(ap);
    if (n <= 0 || (size_t)n >= sizeof(TXT)) /* not ck_assert: see million_spoofed_sources */
        ck_abort_msg("message too long");
    return TXT;
}

/* REGISTER for user@example.com. contact NULL: none; expires < 0: no Expires header. */
static const char *register_text(const char *user, const char *contact, const char *callid,
                                 unsigned cseq, int expires, bool auth, const char *ua)
{
    char c[256] = "", e[64] = "", a[256] = "";
    if (contact != NULL)
        snprintf(c, sizeof(c), "Contact: %s\r\n", contact);
    if (expires >= 0)
        snprintf(e, sizeof(e), "Expires: %d\r\n", expires);
    if (auth)
        snprintf(a, sizeof(a),
                 "Authorization: Digest username=\"%s\", realm=\"example.com\", nonce=\"abc\","
                 " uri=\"sip:example.com\", response=\"0123456789abcdef\"\r\n",
                 user);
    return fmt("REGISTER sip:example.com SIP/2.0\r\n"
               "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK%s.%u\r\n"
               "Max-Forwards: 70\r\n"
               "From: <sip:%s@example.com>;tag=f%s\r\n"
               "To: <sip:%s@example.com>\r\n"
               "Call-ID: %s\r\n"
               "CSeq: %u REGISTER\r\n"
               "%s%s%s"
               "User-Agent: %s\r\n"
               "Content-Length: 0\r\n\r\n",
               callid, cseq, user, callid, user, callid, cseq, c, e, a, ua);
}

static const char *reason_of(int code)
{
    switch (code) {
        case 100:
            return "Trying";
        case 180:
            return "Ringing";
        case 200:
            return "OK";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        default:
            return "Whatever";
    }
}

/* A response to user@host's transaction; extra: more header lines. */
static const char *response_text(int code, const char *user, const char *host, const char *callid,
                                 unsigned cseq, const char *method, const char *extra)
{
    return fmt("SIP/2.0 %d %s\r\n"
               "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK%s.%u\r\n"
               "From: <sip:%s@%s>;tag=f%s\r\n"
               "To: <sip:%s@%s>;tag=t%s\r\n"
               "Call-ID: %s\r\n"
               "CSeq: %u %s\r\n"
               "%s"
               "Server: Registrar 1.0\r\n"
               "Content-Length: 0\r\n\r\n",
               code, reason_of(code), callid, cseq, user, host, callid, user, host, callid, callid,
               cseq, method, extra ? extra : "");
}

/* One REGISTER transaction from src, answered with code (0: not answered). */
static void reg_tx(const char *src, int64_t ts, const char *user, const char *contact,
                   const char *callid, unsigned cseq, int expires, bool auth, const char *ua,
                   int code, const char *resp_extra)
{
    feed(src, REGISTRAR, ts, register_text(user, contact, callid, cseq, expires, auth, ua));
    if (code != 0)
        feed(REGISTRAR, src, ts + 2 * MS,
             response_text(code, user, "example.com", callid, cseq, "REGISTER", resp_extra));
}

/* A normal registration: REGISTER, 401 challenge, REGISTER with credentials, 200 listing the
 * binding with the expiry asked for. */
static void reg_ok(const char *src, int64_t ts, const char *user, const char *contact_uri,
                   const char *callid, unsigned *cseq, int expires)
{
    char contact[200], extra[256];
    snprintf(contact, sizeof(contact), "<%s>", contact_uri);
    snprintf(extra, sizeof(extra), "Contact: <%s>;expires=%d\r\n", contact_uri, expires);
    reg_tx(src, ts, user, contact, callid, (*cseq)++, expires, false, "Yealink SIP-T46S", 401,
           "WWW-Authenticate: Digest realm=\"example.com\", nonce=\"abc\"\r\n");
    reg_tx(src, ts + 10 * MS, user, contact, callid, (*cseq)++, expires, true, "Yealink SIP-T46S",
           200, extra);
}

static const char *invite_text(const char *ruri_user, const char *to_tag, const char *callid,
                               const char *ua)
{
    char tt[64] = "";
    if (to_tag != NULL)
        snprintf(tt, sizeof(tt), ";tag=%s", to_tag);
    return fmt("INVITE sip:%s@198.51.100.7 SIP/2.0\r\n"
               "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK%s\r\n"
               "Max-Forwards: 70\r\n"
               "From: <sip:1000@example.com>;tag=f%s\r\n"
               "To: <sip:%s@198.51.100.7>%s\r\n"
               "Call-ID: %s\r\n"
               "CSeq: 1 INVITE\r\n"
               "Contact: <sip:1000@192.0.2.1>\r\n"
               "User-Agent: %s\r\n"
               "Content-Length: 0\r\n\r\n",
               ruri_user, callid, callid, ruri_user, tt, callid, ua);
}

/* A call from src to dst: INVITE, 100, 180, final; an answered one is ACKed and ended by BYE. */
static void call(const char *src, const char *dst, int64_t ts, const char *number,
                 const char *callid, int final)
{
    feed(src, dst, ts, invite_text(number, NULL, callid, "PBX 1.0"));
    feed(dst, src, ts + 5 * MS,
         response_text(100, number, "198.51.100.7", callid, 1, "INVITE", NULL));
    feed(dst, src, ts + 50 * MS,
         response_text(180, number, "198.51.100.7", callid, 1, "INVITE", NULL));
    feed(dst, src, ts + 900 * MS,
         response_text(final, number, "198.51.100.7", callid, 1, "INVITE", NULL));
    if (final == 200) {
        feed(src, dst, ts + 910 * MS,
             fmt("ACK sip:%s@198.51.100.7 SIP/2.0\r\nVia: SIP/2.0/UDP "
                 "192.0.2.1;branch=z9hG4bKa%s\r\n"
                 "From: <sip:1000@example.com>;tag=f%s\r\nTo: <sip:%s@198.51.100.7>;tag=t%s\r\n"
                 "Call-ID: %s\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
                 number, callid, callid, number, callid, callid));
        feed(src, dst, ts + 5 * NS_S,
             fmt("BYE sip:%s@198.51.100.7 SIP/2.0\r\nVia: SIP/2.0/UDP "
                 "192.0.2.1;branch=z9hG4bKb%s\r\n"
                 "From: <sip:1000@example.com>;tag=f%s\r\nTo: <sip:%s@198.51.100.7>;tag=t%s\r\n"
                 "Call-ID: %s\r\nCSeq: 2 BYE\r\nUser-Agent: PBX 1.0\r\nContent-Length: 0\r\n\r\n",
                 number, callid, callid, number, callid, callid));
        feed(dst, src, ts + 5 * NS_S + 20 * MS,
             response_text(200, number, "198.51.100.7", callid, 2, "BYE", NULL));
    }
}

static const char *options_text(const char *target_ip, const char *callid, const char *ua)
{
    return fmt("OPTIONS sip:100@%s SIP/2.0\r\n"
               "Via: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK%s\r\n"
               "Max-Forwards: 70\r\n"
               "From: <sip:100@203.0.113.5>;tag=f%s\r\n"
               "To: <sip:100@%s>\r\n"
               "Call-ID: %s\r\n"
               "CSeq: 1 OPTIONS\r\n"
               "User-Agent: %s\r\n"
               "Content-Length: 0\r\n\r\n",
               target_ip, callid, callid, target_ip, callid, ua);
}

static void end_all(void)
{
    secmon_flush(M);
    ck_assert_uint_eq(secmon_stats(M)->open_alerts, 0);
}

/* ------------------------------------------------------------------ registrations */

START_TEST(registration_outcomes)
{
    unsigned cseq = 1;
    /* alice: challenge then 200 with the registrar's own expiry (120, not the 3600 asked). */
    reg_tx("192.0.2.10:5060", T0, "alice", "<sip:alice@192.0.2.10:5060>", "cid-a", cseq++, 3600,
           false, "Phone A", 401, NULL);
    ck_assert_uint_eq(R.ng, 0); /* a challenge alone is not news */
    reg_tx(
        "192.0.2.10:5060", T0 + 20 * MS, "alice", "<sip:alice@192.0.2.10:5060>", "cid-a", cseq++,
        3600, true, "Phone A", 200,
        "Contact: <sip:other@192.0.2.99>;expires=50, <sip:alice@192.0.2.10:5060>;expires=120\r\n");
    const rec_reg_t *g = reg_of("sip:alice@example.com", "sip:alice@192.0.2.10:5060");
    ck_assert_ptr_nonnull(g);
    ck_assert(g->r.active);
    ck_assert_str_eq(g->user, "alice");
    ck_assert_str_eq(g->ua, "Phone A");
    ck_assert_uint_eq(g->r.expires, 120);
    ck_assert_int_eq(g->r.expires_ns, T0 + 22 * MS + 120 * NS_S);
    ck_assert_uint_eq(g->r.last_status, 200);
    ck_assert_uint_eq(g->r.attempts, 2);
    ck_assert_uint_eq(g->r.challenges, 1);
    ck_assert_uint_eq(g->r.failures, 0);
    ck_assert_int_eq(g->r.first_ns, T0);
    ck_assert_int_eq(g->r.last_ns, T0 + 22 * MS);
    ck_assert_str_eq(registration_outcome(g->r.last_status), "ok");
    char buf[64];
    ck_assert_str_eq(net_endpoint_str(&g->r.source, buf, sizeof(buf)), "192.0.2.10:5060");

    /* bob: wrong password, 403. */
    reg_tx("192.0.2.11:5060", T0, "bob", "<sip:bob@192.0.2.11>", "cid-b", 1, -1, true, "Phone B",
           403, NULL);
    g = reg_of("sip:bob@example.com", "sip:bob@192.0.2.11");
    ck_assert_ptr_nonnull(g);
    ck_assert(!g->r.active);
    ck_assert_uint_eq(g->r.failures, 1);
    ck_assert_str_eq(registration_outcome(g->r.last_status), "forbidden");
    /* carol: 500 is "failed", not a failure of credentials. */
    reg_tx("192.0.2.12:5060", T0, "carol", "<sip:carol@192.0.2.12>", "cid-c", 1, -1, false,
           "Phone C", 500, NULL);
    g = reg_of("sip:carol@example.com", "sip:carol@192.0.2.12");
    ck_assert_ptr_nonnull(g);
    ck_assert_uint_eq(g->r.failures, 0);
    ck_assert_str_eq(registration_outcome(g->r.last_status), "failed");
    /* dave: challenged, never comes back: emitted when forgotten, as a challenge. */
    reg_tx("192.0.2.13:5060", T0, "dave", "<sip:dave@192.0.2.13>", "cid-d", 1, -1, false, "Phone D",
           401, NULL);
    ck_assert_ptr_null(reg_of("sip:dave@example.com", "sip:dave@192.0.2.13"));

    /* alice's binding lapses at its expiry; dave's is forgotten after the linger time. */
    secmon_tick(M, T0 + 60 * NS_S);
    secmon_tick(M, T0 + 130 * NS_S);
    g = reg_of("sip:alice@example.com", "sip:alice@192.0.2.10:5060");
    ck_assert(!g->r.active);
    ck_assert_int_eq(g->r.expires_ns, T0 + 22 * MS + 120 * NS_S); /* when it lapsed */
    ck_assert_int_eq(g->emits, 2);
    secmon_tick(M, T0 + 400 * NS_S);
    g = reg_of("sip:dave@example.com", "sip:dave@192.0.2.13");
    ck_assert_ptr_nonnull(g);
    ck_assert_str_eq(registration_outcome(g->r.last_status), "challenge");
    ck_assert_uint_eq(g->r.challenges, 1);
    ck_assert_uint_eq(secmon_stats(M)->live_aors, 0);
    ck_assert_uint_eq(R.na, 0);
}
END_TEST

START_TEST(unregister_by_expires_zero)
{
    unsigned cseq = 1;
    reg_ok("192.0.2.10:5060", T0, "alice", "sip:alice@192.0.2.10", "cid-a", &cseq, 600);
    reg_ok("192.0.2.10:5060", T0, "alice", "sip:alice@10.9.9.9", "cid-a2", &cseq, 600);
    ck_assert(reg_of("sip:alice@example.com", "sip:alice@192.0.2.10")->r.active);
    /* Expires: 0 header. */
    reg_tx("192.0.2.10:5060", T0 + 5 * NS_S, "alice", "<sip:alice@192.0.2.10>", "cid-a", cseq++, 0,
           true, "Phone A", 200, NULL);
    const rec_reg_t *g = reg_of("sip:alice@example.com", "sip:alice@192.0.2.10");
    ck_assert(!g->r.active);
    ck_assert_int_eq(g->r.expires_ns, 0);
    ck_assert_uint_eq(g->r.expires, 0);
    ck_assert(reg_of("sip:alice@example.com", "sip:alice@10.9.9.9")->r.active);
    /* expires=0 as a Contact parameter beats Expires: 3600. */
    reg_ok("192.0.2.20:5060", T0, "bob", "sip:bob@192.0.2.20", "cid-b", &cseq, 600);
    reg_tx("192.0.2.20:5060", T0 + 6 * NS_S, "bob", "<sip:bob@192.0.2.20>;expires=0", "cid-b",
           cseq++, 3600, true, "Phone B", 200, NULL);
    ck_assert(!reg_of("sip:bob@example.com", "sip:bob@192.0.2.20")->r.active);
    /* "Contact: *" with Expires: 0 removes all of alice's bindings. */
    reg_ok("192.0.2.10:5060", T0 + 7 * NS_S, "alice", "sip:alice@192.0.2.10", "cid-a", &cseq, 600);
    ck_assert(reg_of("sip:alice@example.com", "sip:alice@192.0.2.10")->r.active);
    reg_tx("192.0.2.10:5060", T0 + 8 * NS_S, "alice", "*", "cid-a", cseq++, 0, true, "Phone A", 200,
           NULL);
    ck_assert(!reg_of("sip:alice@example.com", "sip:alice@192.0.2.10")->r.active);
    ck_assert(!reg_of("sip:alice@example.com", "sip:alice@10.9.9.9")->r.active);
    ck_assert_uint_eq(R.na, 0);
    end_all();
}
END_TEST

START_TEST(contacts_per_aor_are_bounded)
{
    unsigned cseq = 1;
    char uri[64], cid[32];
    for (int i = 0; i < 5; i++) {
        snprintf(uri, sizeof(uri), "sip:alice@192.0.2.%d", 10 + i);
        snprintf(cid, sizeof(cid), "cid-%d", i);
        reg_ok("192.0.2.10:5060", T0 + i * NS_S, "alice", uri, cid, &cseq, 600);
    }
    ck_assert_uint_eq(secmon_stats(M)->bindings_replaced, 2);
    ck_assert_uint_eq(R.ng, 5); /* the replaced ones were emitted before they went */
    end_all();
}
END_TEST

/* ------------------------------------------------------------------ quiet traffic */

START_TEST(quiet_traffic_raises_nothing)
{
    /* An hour of a normal site: 20 phones re-registering every 300 s (with a challenge each
     * time), 30 phones behind one NAT address every 60 s, the registrar's keep-alive OPTIONS to
     * all of them every 30 s, and two PBXs placing a call every 10 s (one in ten not found). */
    unsigned cseq[64] = {0};
    char src[64], user[32], uri[64], cid[32], num[32];
    for (int k = 0; k < 64; k++)
        cseq[k] = 1;
    int calls = 0;
    for (int64_t s = 0; s < 3600; s++) {
        int64_t ts = T0 + s * NS_S;
        for (int p = 0; p < 20; p++) {
            if (s % 300 != p % 300)
                continue;
            snprintf(src, sizeof(src), "192.0.2.%d:5060", 10 + p);
            snprintf(user, sizeof(user), "%d", 1000 + p);
            snprintf(uri, sizeof(uri), "sip:%d@192.0.2.%d:5060", 1000 + p, 10 + p);
            snprintf(cid, sizeof(cid), "reg-%d", p);
            reg_ok(src, ts, user, uri, cid, &cseq[p], 300);
        }
        for (int p = 0; p < 30; p++) {
            if (s % 60 != p * 2)
                continue;
            snprintf(src, sizeof(src), "192.0.2.200:%d", 5060 + p);
            snprintf(user, sizeof(user), "%d", 2000 + p);
            snprintf(uri, sizeof(uri), "sip:%d@10.0.0.%d:5060", 2000 + p, 10 + p);
            snprintf(cid, sizeof(cid), "nat-%d", p);
            reg_ok(src, ts, user, uri, cid, &cseq[20 + p], 60);
        }
        if (s % 30 == 15) {
            for (int p = 0; p < 20; p++) {
                snprintf(src, sizeof(src), "192.0.2.%d:5060", 10 + p);
                snprintf(cid, sizeof(cid), "ka-%d-%d", p, (int)s);
                char ip[32];
                snprintf(ip, sizeof(ip), "192.0.2.%d", 10 + p);
                feed(REGISTRAR, src, ts + p * MS, options_text(ip, cid, "Registrar 1.0"));
                feed(src, REGISTRAR, ts + p * MS + MS,
                     response_text(200, "100", ip, cid, 1, "OPTIONS", NULL));
            }
        }
        if (s % 10 == 3) {
            for (int pbx = 0; pbx < 2; pbx++) {
                snprintf(src, sizeof(src), "192.0.2.%d:5060", 100 + pbx);
                snprintf(cid, sizeof(cid), "call-%d", calls);
                snprintf(num, sizeof(num), calls % 3 ? "+1555%07d" : "%04d",
                         calls % 3 ? calls : calls % 9000);
                call(src, "198.51.100.7:5060", ts + pbx * 100 * MS, num, cid,
                     calls % 10 == 9 ? 404 : 200);
                calls++;
            }
        }
        secmon_tick(M, ts + 500 * MS);
    }
    ck_assert_uint_eq(R.na, 0);
    ck_assert_uint_eq(secmon_stats(M)->alerts_raised, 0);
    ck_assert_uint_eq(R.ng, 50);
    for (size_t i = 0; i < R.ng; i++) {
        ck_assert_msg(R.g[i].r.active, "%s %s", R.g[i].aor, R.g[i].contact);
        ck_assert_uint_eq(R.g[i].r.failures, 0);
        ck_assert_uint_eq(R.g[i].r.challenges * 2, R.g[i].r.attempts);
    }
    const rec_reg_t *g = reg_of("sip:1000@example.com", "sip:1000@192.0.2.10:5060");
    ck_assert_uint_eq(g->r.attempts, 24);
    /* Refreshes are written now and then, not at every REGISTER. */
    ck_assert_int_le(g->emits, 13);
    end_all();
    ck_assert_uint_eq(R.na, 0);
}
END_TEST

/* ------------------------------------------------------------------ detectors */

START_TEST(register_flood_one_alert)
{
    char cid[32];
    for (int i = 0; i < 100; i++) {
        snprintf(cid, sizeof(cid), "f%d", i);
        reg_tx("203.0.113.9:5070", T0 + i * 20 * MS, "1001", "<sip:1001@203.0.113.9:5070>", cid, 1,
               3600, false, "Asterisk PBX", 401, NULL);
    }
    ck_assert_uint_eq(R.na, 1);
    const rec_alert_t *a = alert_of("203.0.113.9");
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(a->r.type, ALERT_REGISTER_FLOOD);
    ck_assert_uint_eq(a->r.indicators, 1u << ALERT_DET_REGISTER_FLOOD);
    ck_assert(a->r.open);
    secmon_tick(M, T0 + 10 * NS_S);
    secmon_tick(M, T0 + 200 * NS_S); /* quiet for idle_s: the episode ends */
    ck_assert_uint_eq(R.na, 1);
    ck_assert(!a->r.open);
    ck_assert_uint_eq(a->r.count, 100);
    ck_assert_uint_eq(a->r.registers, 100);
    ck_assert_uint_eq(a->r.r401, 100);
    ck_assert_uint_eq(a->r.r403, 0);
    ck_assert_int_eq(a->r.first_ns, T0);
    ck_assert_int_eq(a->r.last_ns, T0 + 99 * 20 * MS + 2 * MS);
    ck_assert_str_eq(a->target, "sip:1001@example.com");
    ck_assert_str_eq(a->ua, "Asterisk PBX");
    ck_assert_uint_eq(a->r.n_samples, ALERT_MAX_SAMPLES);
    ck_assert_int_gt(a->r.sample_ids[0], 0);
    /* Raised, updated at most every 10 s, closed: not once per packet. */
    ck_assert_int_le(a->emits, 4);
    ck_assert_uint_eq(secmon_stats(M)->alerts_closed, 1);
    ck_assert_uint_eq(secmon_stats(M)->open_alerts, 0);
}
END_TEST

START_TEST(password_guessing)
{
    /* 30 guesses, one a second: REGISTER, 401, REGISTER with wrong credentials, 403. */
    for (int i = 0; i < 30; i++) {
        int64_t ts = T0 + i * NS_S;
        reg_tx("203.0.113.10:5060", ts, "1001", "<sip:1001@203.0.113.10>", "guess", 2 * i + 1, 3600,
               false, "Zoiper", 401, NULL);
        reg_tx("203.0.113.10:5060", ts + 10 * MS, "1001", "<sip:1001@203.0.113.10>", "guess",
               2 * i + 2, 3600, true, "Zoiper", 403, NULL);
    }
    end_all();
    ck_assert_uint_eq(R.na, 1);
    const rec_alert_t *a = alert_of("203.0.113.10");
    ck_assert_int_eq(a->r.type, ALERT_AUTH_FAILURE);
    ck_assert_uint_eq(a->r.indicators, 1u << ALERT_DET_AUTH_FAILURE);
    ck_assert_uint_eq(a->r.count, 60);
    ck_assert_uint_eq(a->r.r401, 30);
    ck_assert_uint_eq(a->r.r403, 30);
    ck_assert_uint_eq(a->r.distinct_users, 1);
    ck_assert_str_eq(a->target, "sip:1001@example.com");
    ck_assert_str_eq(a->ua, "Zoiper");
    ck_assert(!a->r.open);
    /* The account at risk shows in its registration row. */
    const rec_reg_t *g = reg_of("sip:1001@example.com", "sip:1001@203.0.113.10");
    ck_assert_ptr_nonnull(g);
    ck_assert_uint_eq(g->r.attempts, 60);
    ck_assert_uint_eq(g->r.challenges, 30);
    ck_assert_uint_eq(g->r.failures, 30);
    ck_assert(!g->r.active);
    ck_assert_int_le(g->emits, 3);
}
END_TEST

START_TEST(distributed_guessing_per_aor)
{
    /* Six sources, four wrong passwords each: no source crosses its threshold, the AOR does. */
    char src[32];
    int n = 0;
    for (int i = 0; i < 4; i++) {
        for (int s = 0; s < 6; s++, n++) {
            snprintf(src, sizeof(src), "203.0.113.%d:5060", 50 + s);
            reg_tx(src, T0 + n * 500 * MS, "1001", "<sip:1001@10.0.0.1>", src, (unsigned)i + 1,
                   3600, true, "x", 403, NULL);
        }
    }
    end_all();
    ck_assert_uint_eq(R.na, 1);
    const rec_alert_t *a = alert_of(NULL);
    ck_assert_int_eq(a->r.type, ALERT_AUTH_FAILURE);
    ck_assert_uint_eq(a->r.indicators, 1u << ALERT_DET_TARGET_AUTH_FAILURE);
    ck_assert_str_eq(a->target, "sip:1001@example.com");
    ck_assert_uint_eq(a->r.count, 24);
    ck_assert_uint_eq(a->r.r403, 24);
    ck_assert_uint_eq(a->r.distinct_sources, 6);
    ck_assert_int_eq(a->r.first_ns, T0 + 2 * MS);
    ck_assert_int_eq(a->r.last_ns, T0 + 23 * 500 * MS + 2 * MS);
}
END_TEST

START_TEST(user_enumeration)
{
    char user[16], cid[16];
    for (int i = 0; i < 15; i++) {
        snprintf(user, sizeof(user), "%d", 2000 + i);
        snprintf(cid, sizeof(cid), "e%d", i);
        reg_tx("203.0.113.11:5060", T0 + i * NS_S, user, "<sip:x@203.0.113.11>", cid, 1, 60, false,
               "x", 404, NULL);
    }
    end_all();
    ck_assert_uint_eq(R.na, 1);
    const rec_alert_t *a = alert_of("203.0.113.11");
    ck_assert_int_eq(a->r.type, ALERT_USER_ENUMERATION);
    ck_assert_uint_eq(a->r.indicators, 1u << ALERT_DET_USER_ENUMERATION);
    ck_assert_uint_eq(a->r.r404, 15);
    ck_assert_uint_eq(a->r.count, 15);
    ck_assert_uint_eq(a->r.distinct_users, 15);
}
END_TEST

START_TEST(scanner_user_agent)
{
    feed("203.0.113.12:5060", "198.51.100.1:5060", T0,
         options_text("198.51.100.1", "s1", "friendly-scanner"));
    feed("[2001:db8::66]:5060", "198.51.100.1:5060", T0,
         options_text("198.51.100.1", "s2", "Mozilla SIPVicious/0.3"));
    feed("203.0.113.13:5060", "198.51.100.1:5060", T0,
         options_text("198.51.100.1", "s3", "Linphone 5.0"));
    ck_assert_uint_eq(R.na, 2);
    const rec_alert_t *a = alert_of("203.0.113.12");
    ck_assert_int_eq(a->r.type, ALERT_SCANNER);
    ck_assert_uint_eq(a->r.indicators, 1u << ALERT_DET_SCANNER_USER_AGENT);
    ck_assert_uint_eq(a->r.count, 1);
    ck_assert_uint_eq(a->r.options, 1);
    ck_assert_str_eq(a->ua, "friendly-scanner");
    a = alert_of("2001:db8::66");
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(a->r.type, ALERT_SCANNER);
    end_all();
}
END_TEST

START_TEST(options_sweep)
{
    char ip[32], dst[48], cid[16];
    for (int i = 0; i < 30; i++) {
        snprintf(ip, sizeof(ip), "198.51.100.%d", i + 1);
        snprintf(dst, sizeof(dst), "%s:5060", ip);
        snprintf(cid, sizeof(cid), "o%d", i);
        feed("203.0.113.14:5070", dst, T0 + i * 10 * MS, options_text(ip, cid, "pjsip"));
        if (i % 3 == 0)
            feed(dst, "203.0.113.14:5070", T0 + i * 10 * MS + 2 * MS,
                 response_text(200, "100", ip, cid, 1, "OPTIONS", NULL));
    }
    end_all();
    ck_assert_uint_eq(R.na, 1);
    const rec_alert_t *a = alert_of("203.0.113.14");
    ck_assert_int_eq(a->r.type, ALERT_SCANNER);
    ck_assert_uint_eq(a->r.indicators, 1u << ALERT_DET_OPTIONS_SWEEP);
    ck_assert_uint_eq(a->r.options, 30);
    ck_assert_uint_eq(a->r.count, 30);
    ck_assert_uint_eq(a->r.r2xx, 10);
    ck_assert_uint_eq(a->r.distinct_targets, 30);
}
END_TEST

START_TEST(invite_flood)
{
    char num[16], cid[16];
    for (int i = 0; i < 60; i++) {
        snprintf(num, sizeof(num), "%d", 3000 + i);
        snprintf(cid, sizeof(cid), "i%d", i);
        feed("203.0.113.15:5060", "198.51.100.7:5060", T0 + i * 100 * MS,
             invite_text(num, NULL, cid, "x"));
        feed("198.51.100.7:5060", "203.0.113.15:5060", T0 + i * 100 * MS + MS,
             response_text(404, num, "198.51.100.7", cid, 1, "INVITE", NULL));
    }
    end_all();
    ck_assert_uint_eq(R.na, 1);
    const rec_alert_t *a = alert_of("203.0.113.15");
    ck_assert_int_eq(a->r.type, ALERT_INVITE_FLOOD);
    ck_assert(a->r.indicators & (1u << ALERT_DET_INVITE_FLOOD));
    ck_assert(a->r.indicators & (1u << ALERT_DET_USER_ENUMERATION)); /* 60 numbers not found */
    ck_assert_uint_eq(a->r.invites, 60);
    ck_assert_uint_eq(a->r.r404, 60);
}
END_TEST

START_TEST(unusual_destination)
{
    call("192.0.2.50:5060", "198.51.100.7:5060", T0, "+1-555-123-4567", "u1", 200);
    call("192.0.2.50:5060", "198.51.100.7:5060", T0 + NS_S, "01144207946000", "u2", 200);
    ck_assert_uint_eq(R.na, 0);
    call("192.0.2.50:5060", "198.51.100.7:5060", T0 + 2 * NS_S, "+882-1234567", "u3", 200);
    call("192.0.2.51:5060", "198.51.100.7:5060", T0 + 3 * NS_S, "0053712345678", "u4", 486);
    ck_assert_uint_eq(R.na, 2);
    const rec_alert_t *a = alert_of("192.0.2.50");
    ck_assert_int_eq(a->r.type, ALERT_UNUSUAL_DESTINATION);
    ck_assert_str_eq(a->target, "+8821234567");
    ck_assert_str_eq(alert_of("192.0.2.51")->target, "0053712345678");
    /* Every international number, when asked for. */
    secmon_cfg_t cfg;
    secmon_cfg_init(&cfg);
    ck_assert_int_eq(secmon_cfg_set(&cfg, "unusual_any_international", "1"), 0);
    fresh(&cfg);
    call("192.0.2.50:5060", "198.51.100.7:5060", T0, "01144207946000", "u5", 200);
    ck_assert_uint_eq(R.na, 1);
}
END_TEST

START_TEST(types_merge_into_one_alert)
{
    /* A scanner User-Agent raises a scanner alert at once; the same source then guesses
     * passwords fast: the alert becomes an auth_failure, then a register_flood, with the same id.
     */
    for (int i = 0; i < 40; i++) {
        int64_t ts = T0 + i * 100 * MS;
        reg_tx("203.0.113.20:5060", ts, "1001", "<sip:1001@203.0.113.20>", "m", 2 * i + 1, 3600,
               false, "friendly-scanner", 401, NULL);
        reg_tx("203.0.113.20:5060", ts + 10 * MS, "1001", "<sip:1001@203.0.113.20>", "m", 2 * i + 2,
               3600, true, "friendly-scanner", 403, NULL);
    }
    end_all();
    ck_assert_uint_eq(R.na, 1);
    const rec_alert_t *a = alert_of("203.0.113.20");
    ck_assert_int_eq(a->r.type, ALERT_REGISTER_FLOOD);
    ck_assert_uint_eq(a->r.indicators, (1u << ALERT_DET_SCANNER_USER_AGENT) |
                                           (1u << ALERT_DET_AUTH_FAILURE) |
                                           (1u << ALERT_DET_REGISTER_FLOOD));
    ck_assert_uint_eq(a->r.count, 80);
    ck_assert_uint_eq(a->r.r403, 40);
    const secmon_stats_t *st = secmon_stats(M);
    ck_assert_uint_eq(st->alerts_raised, 1);
    ck_assert_uint_eq(st->alerts_by_type[ALERT_SCANNER], 1);
    ck_assert_uint_eq(st->alerts_by_type[ALERT_AUTH_FAILURE], 1);
    ck_assert_uint_eq(st->alerts_by_type[ALERT_REGISTER_FLOOD], 1);
}
END_TEST

START_TEST(tick_closes_episodes)
{
    char cid[16];
    for (int ep_i = 0; ep_i < 2; ep_i++) {
        int64_t base = T0 + ep_i * 1000 * NS_S;
        for (int i = 0; i < 60; i++) {
            snprintf(cid, sizeof(cid), "t%d", i);
            reg_tx("203.0.113.30:5060", base + i * 50 * MS, "1001", "<sip:1001@203.0.113.30>", cid,
                   1, 60, false, "x", 401, NULL);
        }
        ck_assert_uint_eq(secmon_stats(M)->open_alerts, 1);
        secmon_tick(M, base + 100 * NS_S);
        ck_assert_uint_eq(secmon_stats(M)->open_alerts, 1); /* 100 s < idle_s */
        secmon_tick(M, base + 200 * NS_S);
        ck_assert_uint_eq(secmon_stats(M)->open_alerts, 0);
        ck_assert_uint_eq(secmon_stats(M)->live_sources, 0);
    }
    ck_assert_uint_eq(R.na, 2);
    ck_assert_int_ne(R.a[0].r.id, R.a[1].r.id);
    ck_assert(!R.a[0].r.open && !R.a[1].r.open);
    ck_assert_uint_eq(R.a[1].r.count, 60);
    ck_assert_int_eq(R.a[1].r.first_ns, T0 + 1000 * NS_S);
}
END_TEST

START_TEST(trusted_sources_and_config)
{
    secmon_cfg_t cfg;
    secmon_cfg_init(&cfg);
    ck_assert_int_eq(secmon_cfg_set(&cfg, "trusted", "203.0.113.0/24, 2001:db8::/32"), 0);
    ck_assert_int_eq(secmon_cfg_set(&cfg, "trusted+", "10.0.0.1"), 0);
    ck_assert_uint_eq(cfg.n_trusted, 3);
    ck_assert_int_eq(secmon_cfg_set(&cfg, "trusted", "300.1.1.1/8"), -EINVAL);
    ck_assert_int_eq(secmon_cfg_set(&cfg, "trusted", "10.0.0.0/33"), -EINVAL);
    ck_assert_uint_eq(cfg.n_trusted, 3); /* unchanged by the failures */
    ck_assert_int_eq(secmon_cfg_set(&cfg, "register_flood", "20"), 0);
    ck_assert_uint_eq(cfg.register_flood, 20);
    ck_assert_int_eq(secmon_cfg_set(&cfg, "max_sources", "1000"), 0);
    ck_assert_uint_eq(cfg.max_sources, 1000);
    ck_assert_int_eq(secmon_cfg_set(&cfg, "fail_ratio", "0.8"), 0);
    ck_assert(fabs(cfg.fail_ratio - 0.8) < 1e-9);
    ck_assert_int_eq(secmon_cfg_set(&cfg, "fail_ratio", "1.5"), -EINVAL);
    ck_assert_int_eq(secmon_cfg_set(&cfg, "register_flood", "-1"), -EINVAL);
    ck_assert_int_eq(secmon_cfg_set(&cfg, "no_such_key", "1"), -EINVAL);
    ck_assert_int_eq(secmon_cfg_set(&cfg, "scanner_agents+", "EvilScan"), 0);
    ck_assert_str_eq(cfg.scanner_agents.item[cfg.scanner_agents.n - 1], "EvilScan");
    ck_assert_int_eq(secmon_cfg_set(&cfg, "unusual_codes", "44, 49"), 0);
    ck_assert_uint_eq(cfg.unusual_codes.n, 2);
    fresh(&cfg);
    char cid[16];
    for (int i = 0; i < 100; i++) {
        snprintf(cid, sizeof(cid), "z%d", i);
        reg_tx("203.0.113.40:5060", T0 + i * 10 * MS, "1001", "<sip:1001@203.0.113.40>", cid, 1, 60,
               false, "friendly-scanner", 401, NULL);
    }
    feed("192.0.2.9:5060", "198.51.100.1:5060", T0,
         options_text("198.51.100.1", "q", "evilscan 2"));
    call("192.0.2.50:5060", "198.51.100.7:5060", T0, "004930123456", "u1", 200);
    ck_assert_uint_eq(secmon_stats(M)->trusted, 100);
    ck_assert_uint_eq(R.na, 2); /* the new scanner name and the new unusual code */
    ck_assert_int_eq(alert_of("192.0.2.9")->r.type, ALERT_SCANNER);
    ck_assert_int_eq(alert_of("192.0.2.50")->r.type, ALERT_UNUSUAL_DESTINATION);
    end_all();
}
END_TEST

START_TEST(source_table_eviction_keeps_attackers)
{
    secmon_cfg_t cfg;
    secmon_cfg_init(&cfg);
    cfg.max_sources = 64;
    fresh(&cfg);
    char src[32], cid[16];
    for (int i = 0; i < 10000; i++) {
        int64_t ts = T0 + i * MS;
        snprintf(src, sizeof(src), "10.%d.%d.%d:5060", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        snprintf(cid, sizeof(cid), "x%d", i);
        feed(src, REGISTRAR, ts, register_text("1", "<sip:1@10.0.0.1>", cid, 1, 60, false, "y"));
        if (i % 50 == 0)
            reg_tx("203.0.113.41:5060", ts, "1001", "<sip:1001@203.0.113.41>", cid, 1, 60, false,
                   "Bad", 401, NULL);
    }
    const secmon_stats_t *st = secmon_stats(M);
    ck_assert_uint_eq(st->live_sources, 64);
    ck_assert_uint_eq(st->sources_evicted, st->sources_created - 64);
    end_all();
    ck_assert_uint_eq(R.na, 1);
    const rec_alert_t *a = alert_of("203.0.113.41");
    ck_assert_int_eq(a->r.type, ALERT_REGISTER_FLOOD);
    ck_assert_uint_eq(a->r.count, 200);
}
END_TEST

START_TEST(budget_renews_each_minute)
{
    /* A burst of spoofed scanner packets spends the minute's budget of new alerts; a real flood
     * that starts in the same minute gets its alert as soon as the next minute begins. */
    secmon_cfg_t cfg;
    secmon_cfg_init(&cfg);
    ck_assert_int_eq(secmon_cfg_set(&cfg, "max_new_per_min", "5"), 0);
    fresh(&cfg);
    const int64_t t = T0 + 10 * NS_S; /* minute boundaries fall on T0 + k * 60 s */
    char src[32], cid[16];
    for (int i = 0; i < 20; i++) {
        snprintf(src, sizeof(src), "11.0.0.%d:5060", i + 1);
        snprintf(cid, sizeof(cid), "s%d", i);
        feed(src, "198.51.100.1:5060", t + i * MS, options_text("198.51.100.1", cid, "sipvicious"));
    }
    ck_assert_uint_eq(R.na, 5);
    for (int i = 0; i < 1000; i++) {
        snprintf(cid, sizeof(cid), "f%d", i);
        reg_tx("203.0.113.60:5060", t + NS_S + i * 100 * MS, "1001", "<sip:1001@203.0.113.60>", cid,
               1, 60, false, "x", 401, NULL);
    }
    const secmon_stats_t *st = secmon_stats(M);
    ck_assert_uint_eq(st->alerts_suppressed, 15 + 1); /* 15 scanners, the flood once */
    end_all();
    const rec_alert_t *a = alert_of("203.0.113.60");
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(a->r.type, ALERT_REGISTER_FLOOD);
    ck_assert_uint_eq(a->r.count, 1000);
    ck_assert_int_eq(a->r.first_ns, t + NS_S);
    ck_assert_int_ge(a->r.sample_ns[0], T0 + 60 * NS_S);
}
END_TEST

/* Peak resident memory in kB. */
static long peak_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

START_TEST(million_spoofed_sources_stay_bounded)
{
    /* 1,000,000 REGISTERs with a scanner User-Agent, each from its own source address and for
     * its own user: every table fills to its cap and stays there; new alerts are limited by the
     * per-minute budget and the alert table. (No ck_assert in the loop: Check reports every
     * passing assertion through a pipe, which would dominate the run.) */
    secmon_cfg_t cfg;
    secmon_cfg_init(&cfg);
    secmon_free(M);
    memset(&R, 0, sizeof(R));
    static const secmon_sink_t counting = {NULL, NULL, NULL};
    /* The tables are allocated at their caps but touched only as entries are first used, so
     * the process grows up to the module's fixed size and no further. */
    long rss0 = peak_rss_kb();
    M = secmon_new(&cfg, &counting);
    ck_assert_ptr_nonnull(M);
    const size_t bytes = secmon_stats(M)->bytes;
    const int n = 1000000;
    static sip_msg_t msg;
    char user[16], contact[48], cid[16];
    int bad = 0;
    const net_endpoint_t registrar = ep(REGISTRAR);
    for (int i = 0; i < n; i++) {
        uint32_t a = 0x0b000000u + (uint32_t)i; /* 11.x.y.z */
        uint8_t b[4] = {(uint8_t)(a >> 24), (uint8_t)(a >> 16), (uint8_t)(a >> 8), (uint8_t)a};
        packet_view_t pkt = {.ts_ns = T0 + (int64_t)i * 100000, .ip_proto = 17}; /* 10,000/s */
        net_addr_v4(&pkt.src.addr, b);
        pkt.src.port = 5060;
        pkt.dst = registrar;
        snprintf(user, sizeof(user), "u%d", i);
        snprintf(contact, sizeof(contact), "<sip:u%d@11.%u.%u.%u>", i, b[1], b[2], b[3]);
        snprintf(cid, sizeof(cid), "c%d", i);
        const char *text = register_text(user, contact, cid, 1, 60, false, "friendly-scanner");
        if (sip_parse_datagram(text, strlen(text), &msg) <= 0) {
            bad++;
            continue;
        }
        secmon_on_sip(M, &pkt, &msg, i + 1);
        if (i % 1000 == 0)
            secmon_tick(M, pkt.ts_ns);
    }
    ck_assert_int_eq(bad, 0);
    const secmon_stats_t *st = secmon_stats(M);
    ck_assert_uint_eq(st->bytes, bytes);
    ck_assert_uint_eq(st->live_sources, cfg.max_sources);
    ck_assert_uint_eq(st->sources_created, (uint64_t)n);
    ck_assert_uint_eq(st->sources_evicted, (uint64_t)n - cfg.max_sources);
    ck_assert_uint_eq(st->live_aors, cfg.max_aors);
    ck_assert_uint_eq(st->aors_evicted, (uint64_t)n - cfg.max_aors);
    ck_assert_uint_le(st->open_alerts, cfg.max_alerts);
    /* 100 s of capture: at most 1000 new alerts a minute, so 2000 at most. */
    ck_assert_uint_le(st->alerts_raised, 2 * cfg.max_new_per_min);
    ck_assert_uint_gt(st->alerts_suppressed, 0);
    long rss1 = peak_rss_kb();
    fprintf(stderr,
            "million_spoofed_sources: module %.1f MB (fixed), process peak RSS %.1f MB before,"
            " %.1f MB after (+%.1f MB); %llu sources and %llu AORs evicted, %llu alerts raised,"
            " %llu suppressed, %llu registrations suppressed\n",
            (double)bytes / 1048576.0, rss0 / 1024.0, rss1 / 1024.0, (rss1 - rss0) / 1024.0,
            (unsigned long long)st->sources_evicted, (unsigned long long)st->aors_evicted,
            (unsigned long long)st->alerts_raised, (unsigned long long)st->alerts_suppressed,
            (unsigned long long)st->registrations_suppressed);
    /* Nothing grows with the number of sources beyond the configured tables. */
    ck_assert_int_le(rss1 - rss0, (long)(bytes / 1024) + 16 * 1024);
    secmon_flush(M);
}
END_TEST

/* ------------------------------------------------------------------ simcalls captures */

typedef struct {
    size_t sip;
    int64_t first_ns, last_ns;
} feed_state_t;

static feed_state_t FS;
static sip_msg_t CAPMSG;

static void cap_sip(const packet_view_t *pkt, const uint8_t *at, size_t len)
{
    packet_view_t cp = {.ts_ns = pkt->ts_ns,
                        .src = pkt->src,
                        .dst = pkt->dst,
                        .ip_proto = pkt->ip_proto,
                        .payload = at,
                        .len = len};
    FS.sip++;
    secmon_on_sip(M, &cp, &CAPMSG, (int64_t)FS.sip);
    if ((pkt->ts_ns - FS.last_ns) >= 100 * MS || FS.last_ns == 0) {
        secmon_tick(M, pkt->ts_ns);
        FS.last_ns = pkt->ts_ns;
    }
}

/* As app/pipeline.c: UDP datagrams that look like SIP, and SIP messages of TCP streams. */
static size_t cap_sink(void *ctx, const packet_view_t *pkt)
{
    (void)ctx;
    if (pkt->ip_proto == CAP_PROTO_TCP) {
        size_t off = 0;
        while (off < pkt->len) {
            const uint8_t *at = pkt->payload + off;
            size_t left = pkt->len - off;
            if (at[0] == '\r' || at[0] == '\n') {
                off++;
                continue;
            }
            if (!sip_looks_like(at, left))
                return pkt->len;
            int rc = sip_parse((const char *)at, left, &CAPMSG);
            if (rc == SIP_PARTIAL)
                return off;
            if (rc == SIP_INVALID)
                return pkt->len;
            cap_sip(pkt, at, (size_t)rc);
            off += (size_t)rc;
        }
        return off;
    }
    if (pkt->len > 0 && sip_looks_like(pkt->payload, pkt->len) &&
        sip_parse_datagram((const char *)pkt->payload, pkt->len, &CAPMSG) > 0)
        cap_sip(pkt, pkt->payload, pkt->len);
    return pkt->len;
}

static void run_capture(const char *pcap)
{
    memset(&FS, 0, sizeof(FS));
    cap_cfg_t cc;
    cap_cfg_init(&cc);
    cap_t *cap = cap_new(&cc, cap_sink, NULL);
    ck_assert_ptr_nonnull(cap);
    char err[256];
    ck_assert_msg(cap_read_file(cap, pcap, err, sizeof(err)) == 0, "%s", err);
    cap_flush(cap);
    cap_free(cap);
    secmon_flush(M);
}

static int64_t truth_ns(json_t *o, const char *key)
{
    double s = json_number_value(json_object_get(o, key));
    return (int64_t)floor(s) * NS_S + llround((s - floor(s)) * 1e6) * 1000;
}

/* Every flooding source of the truth has exactly one alert, of a type that fits its kind, with
 * its counts and times; nothing else raised an alert. */
static void check_against_truth(json_t *truth, bool want_flood_type)
{
    json_t *sources = json_object_get(json_object_get(truth, "register_flood"), "sources");
    size_t n = json_array_size(sources);
    size_t i;
    json_t *src;
    json_array_foreach (sources, i, src) {
        const char *ip = json_string_value(json_object_get(src, "ip"));
        const char *kind = json_string_value(json_object_get(src, "kind"));
        const rec_alert_t *a = alert_of(ip);
        ck_assert_msg(a != NULL, "no alert for %s", ip);
        json_int_t reg = json_integer_value(json_object_get(src, "register"));
        json_int_t opt = json_integer_value(json_object_get(src, "options"));
        fprintf(
            stderr,
            "  %-15s %-12s truth register=%lld r401=%lld r403=%lld options=%lld "
            "options_200=%lld | alert %s count=%llu registers=%u r401=%u r403=%u options=%u "
            "r2xx=%u users=%u targets=%u\n",
            ip, kind, (long long)reg, (long long)json_integer_value(json_object_get(src, "r401")),
            (long long)json_integer_value(json_object_get(src, "r403")), (long long)opt,
            (long long)json_integer_value(json_object_get(src, "options_200")),
            alert_type_name(a->r.type), (unsigned long long)a->r.count, a->r.registers, a->r.r401,
            a->r.r403, a->r.options, a->r.r2xx, a->r.distinct_users, a->r.distinct_targets);
        ck_assert_uint_eq(a->r.count, (uint64_t)(reg + opt));
        ck_assert_uint_eq(a->r.registers, (uint32_t)reg);
        ck_assert_uint_eq(a->r.r401, (uint32_t)json_integer_value(json_object_get(src, "r401")));
        ck_assert_uint_eq(a->r.r403, (uint32_t)json_integer_value(json_object_get(src, "r403")));
        ck_assert_uint_eq(a->r.options, (uint32_t)opt);
        ck_assert_uint_eq(a->r.r2xx,
                          (uint32_t)json_integer_value(json_object_get(src, "options_200")));
        ck_assert_int_eq(a->r.first_ns, truth_ns(src, "first_time"));
        ck_assert_int_eq(a->r.last_ns, truth_ns(src, "last_time"));
        ck_assert_str_eq(a->ua, json_string_value(json_object_get(src, "user_agent")));
        ck_assert(!a->r.open);
        if (strcmp(kind, "options_scan") == 0) {
            ck_assert_int_eq(a->r.type, ALERT_SCANNER);
            ck_assert_uint_eq(a->r.distinct_targets, (uint32_t)opt);
        } else if (want_flood_type) {
            ck_assert_int_eq(a->r.type, ALERT_REGISTER_FLOOD);
        } else {
            ck_assert(a->r.type == ALERT_REGISTER_FLOOD || a->r.type == ALERT_AUTH_FAILURE ||
                      a->r.type == ALERT_USER_ENUMERATION);
        }
    }
    ck_assert_uint_eq(R.na, n);
}

/* False (the test counted as skipped) when ../shared/tools/simcalls is not here. */
static bool have_simcalls(const char **tool)
{
    struct stat st;
    *tool = testdata_shared("tools/simcalls");
    if (*tool == NULL || stat(*tool, &st) != 0) {
        fprintf(stderr, "notice: simcalls absent; skipped\n");
        test_skip("the simcalls tests need ../shared/tools/simcalls");
        return false;
    }
    return true;
}

/* Run simcalls with args; returns the truth (caller decrefs) and the pcap path in pcap. */
static json_t *simcalls(const char *tool, const char *args, char *dir, char *pcap, size_t cap)
{
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char cmd[1024];
    snprintf(pcap, cap, "%s/t.pcap", dir);
    snprintf(cmd, sizeof(cmd), "python3 '%s' %s -w '%s' --truth '%s/t.json' >/dev/null", tool, args,
             pcap, dir);
    ck_assert_int_eq(system(cmd), 0);
    char path[300];
    snprintf(path, sizeof(path), "%s/t.json", dir);
    json_t *truth = json_load_file(path, 0, NULL);
    ck_assert_ptr_nonnull(truth);
    unlink(path);
    return truth;
}

START_TEST(simcalls_register_flood)
{
    const char *tool;
    if (!have_simcalls(&tool))
        return;
    char dir[] = "/tmp/check_secmon_XXXXXX", pcap[256];
    json_t *truth =
        simcalls(tool, "--calls 10 --register-flood 400 --seed 3", dir, pcap, sizeof(pcap));
    fprintf(stderr, "simcalls --calls 10 --register-flood 400 --seed 3:\n");
    run_capture(pcap);
    check_against_truth(truth, true);
    ck_assert_uint_eq(FS.sip, (size_t)json_integer_value(json_object_get(
                                  json_object_get(truth, "totals"), "sip_messages")));
    json_decref(truth);
    unlink(pcap);
    rmdir(dir);
}
END_TEST

START_TEST(simcalls_quiet)
{
    const char *tool;
    if (!have_simcalls(&tool))
        return;
    char dir[] = "/tmp/check_secmon_XXXXXX", pcap[256];
    json_t *truth = simcalls(tool,
                             "--calls 40 --concurrency 10 --duration 3 --seed 5 --fail-ratio 0.2 "
                             "--cancel-ratio 0.1 --nat-ratio 0.3 --ipv6-ratio 0.2 --tcp-ratio 0.2",
                             dir, pcap, sizeof(pcap));
    run_capture(pcap);
    ck_assert_uint_gt(FS.sip, 0);
    ck_assert_uint_eq(R.na, 0);
    ck_assert_uint_eq(secmon_stats(M)->alerts_raised, 0);
    json_decref(truth);
    unlink(pcap);
    rmdir(dir);
}
END_TEST

START_TEST(simcalls_bundled_example)
{
    const char *pcap = testdata_shared("tools/examples/small.pcap");
    struct stat st;
    if (pcap == NULL || stat(pcap, &st) != 0) {
        test_skip("simcalls_bundled_example needs ../shared/tools/examples/small.pcap");
        return;
    }
    char pcap_path[512];
    snprintf(pcap_path, sizeof(pcap_path), "%s", pcap);
    const char *tj = testdata_shared("tools/examples/small.truth.json");
    json_t *truth = json_load_file(tj, 0, NULL);
    ck_assert_ptr_nonnull(truth);
    fprintf(stderr, "simcalls examples/small.pcap (--register-flood 40):\n");
    run_capture(pcap_path);
    check_against_truth(truth, false);
    json_decref(truth);
}
END_TEST

/* ------------------------------------------------------------------ store */

static char tmpdir[64], dbpath[128];

static void store_setup(void)
{
    setup();
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_secmon_db.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(dbpath, sizeof(dbpath), "%s/t.db", tmpdir);
}

static void store_teardown(void)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    char p[160];
    for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
        snprintf(p, sizeof(p), "%s%s", dbpath, suffix[i]);
        unlink(p);
    }
    rmdir(tmpdir);
    teardown();
}

static store_t *open_store(const char *path, bool read_only)
{
    store_t *s = NULL;
    store_opts_t o = {.read_only = read_only};
    int rc = store_open_opts(path, &o, &s);
    ck_assert_msg(rc == 0, "store_open: %d %s", rc, store_errmsg(s));
    return s;
}

#define MAX_ROWS 64
static struct {
    alert_record_t a[MAX_ROWS];
    char target[MAX_ROWS][128], ua[MAX_ROWS][64];
    registration_record_t g[MAX_ROWS];
    char aor[MAX_ROWS][128], contact[MAX_ROWS][128], gua[MAX_ROWS][64], user[MAX_ROWS][64];
    size_t na, ng;
} Q;

static int q_alert(void *ctx, const alert_record_t *a)
{
    (void)ctx;
    ck_assert_uint_lt(Q.na, MAX_ROWS);
    Q.a[Q.na] = *a;
    copy_str(Q.target[Q.na], sizeof(Q.target[0]), a->target);
    copy_str(Q.ua[Q.na], sizeof(Q.ua[0]), a->user_agent);
    Q.na++;
    return 0;
}

static int q_reg(void *ctx, const registration_record_t *g)
{
    (void)ctx;
    ck_assert_uint_lt(Q.ng, MAX_ROWS);
    Q.g[Q.ng] = *g;
    copy_str(Q.aor[Q.ng], sizeof(Q.aor[0]), g->aor);
    copy_str(Q.contact[Q.ng], sizeof(Q.contact[0]), g->contact);
    copy_str(Q.gua[Q.ng], sizeof(Q.gua[0]), g->user_agent);
    copy_str(Q.user[Q.ng], sizeof(Q.user[0]), g->aor_user);
    Q.ng++;
    return 0;
}

static size_t alerts_where(store_t *s, const store_alert_filter_t *f)
{
    memset(&Q, 0, sizeof(Q));
    int64_t total = -1;
    ck_assert_int_eq(store_query_alert_records(s, f, -1, 0, q_alert, NULL, &total), 0);
    ck_assert_int_eq(total, (int64_t)Q.na);
    return Q.na;
}

static size_t regs_where(store_t *s, const store_registration_filter_t *f)
{
    memset(&Q, 0, sizeof(Q));
    int64_t total = -1;
    ck_assert_int_eq(store_query_registration_records(s, f, -1, 0, q_reg, NULL, &total), 0);
    ck_assert_int_eq(total, (int64_t)Q.ng);
    return Q.ng;
}

START_TEST(store_round_trip_from_secmon)
{
    store_t *s = open_store(dbpath, false);
    ck_assert_int_eq(store_next_alert_id(s), 1);
    R.store = s;
    /* A guesser with a scanner User-Agent, an OPTIONS sweep from IPv6, a normal phone. */
    unsigned cseq = 1;
    reg_ok("192.0.2.10:5060", T0, "alice", "sip:alice@192.0.2.10", "cid-a", &cseq, 600);
    for (int i = 0; i < 15; i++) {
        reg_tx("203.0.113.10:5060", T0 + i * NS_S, "1001", "<sip:1001@203.0.113.10>", "g",
               2 * i + 1, 3600, false, "friendly-scanner", 401, NULL);
        reg_tx("203.0.113.10:5060", T0 + i * NS_S + 10 * MS, "1001", "<sip:1001@203.0.113.10>", "g",
               2 * i + 2, 3600, true, "friendly-scanner", 403, NULL);
    }
    char ip[48], dst[64], cid[16];
    for (int i = 0; i < 12; i++) {
        snprintf(ip, sizeof(ip), "198.51.100.%d", i + 1);
        snprintf(dst, sizeof(dst), "%s:5060", ip);
        snprintf(cid, sizeof(cid), "o%d", i);
        feed("[2001:db8::7]:5060", dst, T0 + 20 * NS_S + i * MS, options_text(ip, cid, "sip"));
    }
    R.store = s;
    end_all();
    ck_assert_int_eq(store_flush(s), 0);
    ck_assert_uint_eq(R.na, 2);

    /* Alerts: one row each, as last emitted. */
    int64_t n = 0;
    ck_assert_int_eq(store_count_alerts(s, &n), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_uint_eq(alerts_where(s, NULL), 2);
    ck_assert_int_eq(store_next_alert_id(s), 3);
    store_alert_filter_t f = {.type_mask = 1u << ALERT_AUTH_FAILURE};
    ck_assert_uint_eq(alerts_where(s, &f), 1);
    const rec_alert_t *want = alert_of("203.0.113.10");
    const alert_record_t *got = &Q.a[0];
    ck_assert_int_eq(got->id, want->r.id);
    ck_assert_int_eq(got->type, ALERT_AUTH_FAILURE);
    ck_assert_uint_eq(got->indicators, want->r.indicators);
    ck_assert(net_addr_eq(&got->source, &want->r.source));
    ck_assert_str_eq(Q.target[0], "sip:1001@example.com");
    ck_assert_str_eq(Q.ua[0], "friendly-scanner");
    ck_assert(!got->open);
    ck_assert_uint_eq(got->count, 30);
    ck_assert_uint_eq(got->registers, 30);
    ck_assert_uint_eq(got->r401, 15);
    ck_assert_uint_eq(got->r403, 15);
    ck_assert_uint_eq(got->distinct_users, 1);
    ck_assert_int_eq(got->first_ns, want->r.first_ns);
    ck_assert_int_eq(got->last_ns, want->r.last_ns);
    ck_assert_uint_eq(got->n_samples, want->r.n_samples);
    for (uint32_t i = 0; i < got->n_samples; i++) {
        ck_assert_int_eq(got->sample_ns[i], want->r.sample_ns[i]);
        ck_assert_int_eq(got->sample_ids[i], want->r.sample_ids[i]);
    }
    f = (store_alert_filter_t){.indicator_mask = 1u << ALERT_DET_SCANNER_USER_AGENT};
    ck_assert_uint_eq(alerts_where(s, &f), 1);
    f = (store_alert_filter_t){.indicator_mask = 1u << ALERT_DET_OPTIONS_SWEEP};
    ck_assert_uint_eq(alerts_where(s, &f), 1);
    ck_assert_uint_eq(Q.a[0].distinct_targets, 12);
    char text[64];
    ck_assert_str_eq(net_addr_str(&Q.a[0].source, text, sizeof(text)), "2001:db8::7");
    f = (store_alert_filter_t){.source = "2001:db8::7"};
    ck_assert_uint_eq(alerts_where(s, &f), 1);
    f = (store_alert_filter_t){.open_only = true};
    ck_assert_uint_eq(alerts_where(s, &f), 0);
    f = (store_alert_filter_t){.since_ns = T0 + 16 * NS_S};
    ck_assert_uint_eq(alerts_where(s, &f), 1); /* the guesser stopped at 14 s */
    f = (store_alert_filter_t){.with_source = true};
    ck_assert_uint_eq(alerts_where(s, &f), 2);

    /* The lead's v1 reader sees the same rows. */
    /* Registrations. */
    ck_assert_int_eq(store_count_registrations(s, &n), 0);
    ck_assert_int_eq(n, 2);
    store_registration_filter_t rf = {.user = "alice", .user_exact = true};
    ck_assert_uint_eq(regs_where(s, &rf), 1);
    ck_assert_str_eq(Q.aor[0], "sip:alice@example.com");
    ck_assert_str_eq(Q.contact[0], "sip:alice@192.0.2.10");
    ck_assert_str_eq(Q.gua[0], "Yealink SIP-T46S");
    ck_assert(Q.g[0].active);
    ck_assert_uint_eq(Q.g[0].expires, 600);
    ck_assert_uint_eq(Q.g[0].attempts, 2);
    ck_assert_uint_eq(Q.g[0].challenges, 1);
    ck_assert_int_eq(Q.g[0].expires_ns, T0 + 12 * MS + 600 * NS_S);
    ck_assert_str_eq(net_endpoint_str(&Q.g[0].source, text, sizeof(text)), "192.0.2.10:5060");
    rf = (store_registration_filter_t){.has_active = true, .active = false};
    ck_assert_uint_eq(regs_where(s, &rf), 1);
    ck_assert_str_eq(Q.user[0], "1001");
    ck_assert_uint_eq(Q.g[0].failures, 15);
    ck_assert_uint_eq(Q.g[0].last_status, 403);
    rf = (store_registration_filter_t){.user = "LIC"};
    ck_assert_uint_eq(regs_where(s, &rf), 1);
    store_close(s);
}
END_TEST

START_TEST(store_upserts_and_read_only)
{
    store_t *s = open_store(dbpath, false);
    registration_record_t g = {
        .aor = "sip:bob@example.com",
        .aor_user = "bob",
        .contact = "sip:bob@192.0.2.5",
        .user_agent = "new",
        .expires = 60,
        .last_status = 200,
        .active = true,
        .attempts = 4,
        .first_ns = T0 + 10 * NS_S,
        .last_ns = T0 + 20 * NS_S,
        .expires_ns = T0 + 80 * NS_S,
    };
    g.source = ep("192.0.2.5:5060");
    ck_assert_int_eq(store_put_registration(s, &g), 0);
    /* An older record (an earlier capture analysed later) changes nothing but first_time. */
    registration_record_t old = g;
    old.user_agent = "old";
    old.active = false;
    old.first_ns = T0;
    old.last_ns = T0 + 5 * NS_S;
    ck_assert_int_eq(store_put_registration(s, &old), 0);
    ck_assert_uint_eq(regs_where(s, NULL), 1);
    ck_assert_str_eq(Q.gua[0], "new");
    ck_assert(Q.g[0].active);
    ck_assert_int_eq(Q.g[0].last_ns, T0 + 20 * NS_S);
    ck_assert_int_eq(Q.g[0].first_ns, T0 + 10 * NS_S); /* kept: the update was refused whole */
    registration_record_t bad = g;
    bad.aor = "";
    ck_assert_int_eq(store_put_registration(s, &bad), -EINVAL);

    alert_record_t a = {.id = 7,
                        .type = ALERT_SCANNER,
                        .target = "",
                        .user_agent = "ua\"x",
                        .open = true,
                        .count = 1,
                        .first_ns = T0,
                        .last_ns = T0,
                        .indicators = 1u << ALERT_DET_SCANNER_USER_AGENT,
                        .n_samples = 1};
    a.sample_ns[0] = T0;
    ck_assert_int_eq(store_put_alert(s, &a), 0);
    a.open = false;
    a.count = 9;
    a.last_ns = T0 + NS_S;
    ck_assert_int_eq(store_put_alert(s, &a), 0);
    ck_assert_uint_eq(alerts_where(s, NULL), 1);
    ck_assert_uint_eq(Q.a[0].count, 9);
    ck_assert(!Q.a[0].open);
    ck_assert_str_eq(Q.ua[0], "ua\"x");
    ck_assert_uint_eq(Q.a[0].source.family, 0);
    ck_assert_int_eq(Q.a[0].sample_ids[0], 0); /* unknown ids stay unknown */
    ck_assert_int_eq(Q.a[0].sample_ns[0], T0);
    a.id = 0;
    ck_assert_int_eq(store_put_alert(s, &a), -EINVAL);
    /* Paging. */
    for (int i = 0; i < 5; i++) {
        a.id = 10 + i;
        a.last_ns = T0 + (10 + i) * NS_S;
        ck_assert_int_eq(store_put_alert(s, &a), 0);
    }
    memset(&Q, 0, sizeof(Q));
    int64_t total = 0;
    ck_assert_int_eq(store_query_alert_records(s, NULL, 2, 1, q_alert, NULL, &total), 0);
    ck_assert_int_eq(total, 6);
    ck_assert_uint_eq(Q.na, 2);
    ck_assert_int_eq(Q.a[0].id, 13);
    ck_assert_int_eq(Q.a[1].id, 12);
    ck_assert_int_eq(store_query_alert_records(s, NULL, 1, -1, q_alert, NULL, NULL), -EINVAL);
    store_close(s);

    /* The schema is v2 and the JSON is what the docs say. */
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(db,
                                        "SELECT json_extract(details, '$.open'),"
                                        " json_extract(details, '$.indicators[0]'),"
                                        " (SELECT user_version FROM pragma_user_version)"
                                        " FROM alerts WHERE id = 7",
                                        -1, &st, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(st, 0), 0);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 1), "scanner_user_agent");
    ck_assert_int_eq(sqlite3_column_int(st, 2), STORE_SCHEMA_VERSION);
    sqlite3_finalize(st);
    sqlite3_close(db);

    /* Read-only: reads work, writes are refused. */
    s = open_store(dbpath, true);
    ck_assert_uint_eq(alerts_where(s, NULL), 6);
    ck_assert_int_eq(store_put_alert(s, &a), -EROFS);
    ck_assert_int_eq(store_put_registration(s, &g), -EROFS);
    ck_assert_ptr_nonnull(strstr(store_errmsg(s), "read-only"));
    store_close(s);
}
END_TEST

Suite *secmon_suite(void)
{
    Suite *s = suite_create("secmon");
    TCase *tc = tcase_create("registrations");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, registration_outcomes);
    tcase_add_test(tc, unregister_by_expires_zero);
    tcase_add_test(tc, contacts_per_aor_are_bounded);
    suite_add_tcase(s, tc);

    tc = tcase_create("detectors");
    tcase_add_checked_fixture(tc, setup, teardown);
    /* quiet_traffic_raises_nothing feeds an hour of a site's signalling: 0.85 s under ASan on a
     * loaded 2-core machine, too close to Check's default of 4 s. */
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, quiet_traffic_raises_nothing);
    tcase_add_test(tc, register_flood_one_alert);
    tcase_add_test(tc, password_guessing);
    tcase_add_test(tc, distributed_guessing_per_aor);
    tcase_add_test(tc, user_enumeration);
    tcase_add_test(tc, scanner_user_agent);
    tcase_add_test(tc, options_sweep);
    tcase_add_test(tc, invite_flood);
    tcase_add_test(tc, unusual_destination);
    tcase_add_test(tc, types_merge_into_one_alert);
    tcase_add_test(tc, tick_closes_episodes);
    tcase_add_test(tc, trusted_sources_and_config);
    suite_add_tcase(s, tc);

    tc = tcase_create("bounds");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, source_table_eviction_keeps_attackers);
    tcase_add_test(tc, budget_renews_each_minute);
    tcase_add_test(tc, million_spoofed_sources_stay_bounded);
    suite_add_tcase(s, tc);

    /* Tagged "shared": ctest runs it as secmon.shared, skipped where ../shared is absent. */
    tc = tcase_create("simcalls");
    tcase_set_tags(tc, "shared");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, simcalls_register_flood);
    tcase_add_test(tc, simcalls_quiet);
    tcase_add_test(tc, simcalls_bundled_example);
    suite_add_tcase(s, tc);

    tc = tcase_create("store");
    tcase_add_checked_fixture(tc, store_setup, store_teardown);
    tcase_add_test(tc, store_round_trip_from_secmon);
    tcase_add_test(tc, store_upserts_and_read_only);
    suite_add_tcase(s, tc);
    return s;
}
