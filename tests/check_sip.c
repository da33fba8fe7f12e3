/* check_sip: SIP decoder: RFC 4475 torture messages, truncation, stream framing, URIs, absurd
 * input. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "sip.h"
#include "testdata.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- realistic messages (also seeds in tests/fuzz/corpus/sip/) ------------------------- */

/* An INVITE with SDP as a softphone sends it through a proxy: two Vias (rport, received),
 * Allow, User-Agent, a 211-byte SDP offer. 800 bytes in all. */
static const char invite_sdp[] =
    "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP proxy.atlanta.example.com:5060;branch=z9hG4bK2d4790.1\r\n"
    "Via: SIP/2.0/UDP 192.0.2.101:5060;rport=5060;received=192.0.2.101;branch=z9hG4bK74bf9\r\n"
    "Max-Forwards: 69\r\n"
    "From: \"Alice Liddell\" <sip:alice@atlanta.example.com>;tag=9fxced76s\r\n"
    "To: Bob <sip:bob@biloxi.example.com>\r\n"
    "Call-ID: 3848276298220188511@atlanta.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@192.0.2.101:5060;transport=udp>\r\n"
    "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE\r\n"
    "User-Agent: Softphone/1.2\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 211\r\n"
    "\r\n"
    "v=0\r\n"
    "o=alice 2890844526 2890844526 IN IP4 192.0.2.101\r\n"
    "s=-\r\n"
    "c=IN IP4 192.0.2.101\r\n"
    "t=0 0\r\n"
    "m=audio 49172 RTP/AVP 0 8 101\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=sendrecv\r\n";

/* The 200 OK answering it, with a Server header and an SDP answer. */
static const char ok_sdp[] =
    "SIP/2.0 200 OK\r\n"
    "Via: SIP/2.0/UDP proxy.atlanta.example.com:5060;branch=z9hG4bK2d4790.1\r\n"
    "Via: SIP/2.0/UDP 192.0.2.101:5060;rport=5060;received=192.0.2.101;branch=z9hG4bK74bf9\r\n"
    "Record-Route: <sip:proxy.atlanta.example.com;lr>\r\n"
    "From: \"Alice Liddell\" <sip:alice@atlanta.example.com>;tag=9fxced76s\r\n"
    "To: Bob <sip:bob@biloxi.example.com>;tag=8321234356\r\n"
    "Call-ID: 3848276298220188511@atlanta.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:bob@192.0.2.4>\r\n"
    "Server: PBX/9.8\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 129\r\n"
    "\r\n"
    "v=0\r\n"
    "o=bob 2808844564 2808844564 IN IP4 192.0.2.4\r\n"
    "s=-\r\n"
    "c=IN IP4 192.0.2.4\r\n"
    "t=0 0\r\n"
    "m=audio 3456 RTP/AVP 0\r\n"
    "a=rtpmap:0 PCMU/8000\r\n";

/* A REGISTER with digest credentials over TCP, compact headers, two Contacts. */
static const char register_auth[] =
    "REGISTER sip:registrar.biloxi.example.com SIP/2.0\r\n"
    "v: SIP/2.0/TCP [2001:db8::10]:5061;branch=z9hG4bKnashds7\r\n"
    "Max-Forwards: 70\r\n"
    "t: Bob <sip:bob@biloxi.example.com>\r\n"
    "f: Bob <sip:bob@biloxi.example.com>;tag=a73kszlfl\r\n"
    "i: 1j9FpLxk3uxtm8tn@biloxi.example.com\r\n"
    "CSeq: 2 REGISTER\r\n"
    "m: <sip:bob@[2001:db8::10]:5061;transport=tcp>;expires=3600, \"Bob, mobile\" "
    "<sip:bob@198.51.100.7>;q=0.5\r\n"
    "Authorization: Digest username=\"bob\", realm=\"biloxi.example.com\",\r\n"
    " nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"sip:biloxi.example.com\",\r\n"
    " response=\"245f23415f11432b3434341c022\"\r\n"
    "Expires: 7200\r\n"
    "l: 0\r\n"
    "\r\n";

/* ---- RFC 4475 torture messages --------------------------------------------------------- */

/* What parsing a stream (sip_parse) of the whole file must give. */
enum { ST_SAME, ST_PARTIAL, ST_INVALID, ST_HEADERS_ONLY };

/* Expectations from tests/data/sip-torture/manifest.json ("expect" and "call_id"), by hand. */
typedef struct {
    const char *file;
    bool valid;         /* manifest "valid" */
    bool dgram_invalid; /* sip_parse_datagram must say SIP_INVALID */
    const char *method; /* NULL for responses */
    const char *ruri;   /* NULL: not checked */
    uint16_t status;
    const char *call_id; /* NULL: no Call-ID */
    uint32_t cseq;
    const char *cseq_method;
    int vias;               /* Via values over all Via headers */
    const char *branch;     /* top Via branch, NULL: none */
    const char *transports; /* transports of every Via value, comma-joined; NULL: not checked */
    int64_t clen;           /* Content-Length, -1 absent */
    size_t body;            /* body length in datagram mode */
    uint32_t max_fwd;       /* UINT32_MAX absent */
    int contacts;           /* Contact values, -1: not checked */
    const char *from_tag, *to_tag; /* NULL: none */
    uint32_t defects;              /* bits that must be set (valid: defects must be 0) */
    int stream;                    /* ST_* */
} torture_t;

#define NONE UINT32_MAX
static const torture_t torture[] = {
    {"wsinv.dat",
     true,
     false,
     "INVITE",
     "sip:vivekg@chair-dnrc.example.com;unknownparam",
     0,
     "wsinv.ndaksdj@192.0.2.1",
     9,
     "INVITE",
     3,
     "390skdjuw",
     "UDP,TCP,UDP",
     150,
     150,
     68,
     1,
     "98asjd8",
     "1918181833n",
     0,
     ST_SAME},
    {"intmeth.dat",
     true,
     false,
     "!interesting-Method0123456789_*+`.%indeed'~",
     "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too."
     "(doesn't-it)@example.com",
     0,
     "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{",
     139122385,
     "!interesting-Method0123456789_*+`.%indeed'~",
     1,
     "z9hG4bK-.!%66*_+`'~",
     "TCP",
     0,
     0,
     255,
     0,
     "_token~1'+`*%!-.",
     NULL,
     0,
     ST_SAME},
    {"escnull.dat",
     true,
     false,
     "REGISTER",
     "sip:example.com",
     0,
     "escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd",
     14398234,
     "REGISTER",
     1,
     "z9hG4bKkdjuw",
     "UDP",
     0,
     0,
     70,
     2,
     "839923423",
     NULL,
     0,
     ST_SAME},
    {"esc02.dat",
     true,
     false,
     "RE%47IST%45R",
     "sip:registrar.example.com",
     0,
     "esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf",
     29344,
     "RE%47IST%45R",
     1,
     "z9hG4bK209%fzsnel234",
     "TCP",
     0,
     0,
     70,
     2,
     "f232jadfj23",
     NULL,
     0,
     ST_SAME},
    {"dblreq.dat",
     true,
     false,
     "REGISTER",
     "sip:example.com",
     0,
     "dblreq.0ha0isndaksdj99sdfafnl3lk233412",
     8,
     "REGISTER",
     1,
     "z9hG4bKkdjuw23492",
     "UDP",
     0,
     0,
     8,
     1,
     "43251j3j324",
     NULL,
     0,
     ST_SAME},
    {"semiuri.dat",
     true,
     false,
     "OPTIONS",
     "sip:user;par=u%40example.net@example.com",
     0,
     "semiuri.0ha0isndaksdj",
     8,
     "OPTIONS",
     1,
     "z9hG4bKkdjuw",
     "UDP",
     0,
     0,
     3,
     0,
     "33242",
     NULL,
     0,
     ST_SAME},
    {"transports.dat",
     true,
     false,
     "OPTIONS",
     "sip:user@example.com",
     0,
     "transports.kijh4akdnaqjkwendsasfdj",
     60,
     "OPTIONS",
     5,
     "z9hG4bKkdjuw",
     "UDP,SCTP,TLS,UNKNOWN,TCP",
     0,
     0,
     70,
     0,
     "323",
     NULL,
     0,
     ST_SAME},
    {"noreason.dat",
     true,
     false,
     NULL,
     NULL,
     100,
     "noreason.asndj203insdf99223ndf",
     35,
     "INVITE",
     1,
     "z9hG4bK2398ndaoe",
     "UDP",
     0,
     0,
     NONE,
     1,
     "39ansfi3",
     "902jndnke3",
     0,
     ST_SAME},
    {"badinv01.dat",
     false,
     false,
     "INVITE",
     "sip:user@example.com",
     0,
     "badinv01.0ha0isndaksdjasdf3234nas",
     8,
     "INVITE",
     3,
     NULL,
     NULL,
     152,
     152,
     7,
     1,
     "134161461246",
     NULL,
     SIP_DEFECT_BAD_HEADER,
     ST_SAME},
    {"clerr.dat",
     false,
     false,
     "INVITE",
     "sip:user@example.com",
     0,
     "clerr.0ha0isndaksdjweiafasdk3",
     8,
     "INVITE",
     1,
     "z9hG4bK-39234-23523",
     "UDP",
     9999,
     154,
     80,
     1,
     "93942939o2",
     NULL,
     SIP_DEFECT_BAD_LENGTH,
     ST_PARTIAL},
    {"scalar02.dat",
     false,
     false,
     "REGISTER",
     "sip:example.com",
     0,
     "scalar02.23o0pd9vanlq3wnrlnewofjas9ui32",
     0,
     "REGISTER",
     1,
     "z9hG4bK342sdfoi3",
     "TCP",
     0,
     0,
     NONE,
     1,
     "239232jh3",
     NULL,
     SIP_DEFECT_BAD_CSEQ | SIP_DEFECT_BAD_NUMBER,
     ST_SAME},
    {"lwsruri.dat",
     false,
     false,
     "INVITE",
     "sip:user@example.com; lr",
     0,
     "lwsruri.asdfasdoeoi2323-asdfwrn23-asd834rk423",
     2130706432,
     "INVITE",
     1,
     "z9hG4bKkdjuw2395",
     "UDP",
     159,
     159,
     5,
     1,
     "231413434",
     "3xfe-9921883-z9f",
     SIP_DEFECT_BAD_START_LINE,
     ST_SAME},
    {"lwsstart.dat",
     false,
     false,
     "INVITE",
     "sip:user@example.com",
     0,
     "lwsstart.dfknq234oi243099adsdfnawe3@example.com",
     1893884,
     "INVITE",
     1,
     "z9hG4bKkdjuw3923",
     "UDP",
     150,
     150,
     8,
     1,
     "8814",
     NULL,
     SIP_DEFECT_BAD_START_LINE,
     ST_SAME},
    {"trws.dat",
     false,
     false,
     "OPTIONS",
     "sip:remote-target@example.com",
     0,
     "trws.oicu34958239neffasdhr2345r",
     238923,
     "OPTIONS",
     1,
     "z9hG4bK299342093",
     "TCP",
     0,
     0,
     70,
     0,
     "329429089",
     NULL,
     SIP_DEFECT_BAD_START_LINE,
     ST_SAME},
    {"escruri.dat",
     false,
     false,
     "INVITE",
     "sip:user@example.com?Route=%3Csip:example.com%3E",
     0,
     "escruri.23940-asdfhj-aje3br-234q098w-fawerh2q-h4n5",
     149209342,
     "INVITE",
     1,
     "z9hG4bKkdjuw",
     "UDP",
     150,
     150,
     7,
     1,
     "341518",
     NULL,
     SIP_DEFECT_BAD_URI,
     ST_SAME},
    {"regbadct.dat",
     false,
     false,
     "REGISTER",
     "sip:example.com",
     0,
     "regbadct.k345asrl3fdbv@10.0.0.1",
     1,
     "REGISTER",
     1,
     "z9hG4bKkdjuw",
     "UDP",
     0,
     0,
     70,
     1,
     "998332",
     NULL,
     SIP_DEFECT_BAD_URI,
     ST_SAME},
    {"baddn.dat",
     false,
     false,
     "OPTIONS",
     "sip:t.watson@example.org",
     0,
     "baddn.31415@c.example.com",
     3923239,
     "OPTIONS",
     1,
     "z9hG4bKkdjuw",
     "UDP",
     0,
     0,
     70,
     0,
     "43",
     NULL,
     SIP_DEFECT_BAD_HEADER | SIP_DEFECT_NO_HEADER_END,
     ST_PARTIAL},
    {"badvers.dat",
     false,
     false,
     "OPTIONS",
     "sip:t.watson@example.org",
     0,
     "badvers.31417@c.example.com",
     1,
     "OPTIONS",
     1,
     "z9hG4bKkdjuw",
     "UDP",
     0,
     0,
     70,
     0,
     "qweoiqpe",
     NULL,
     SIP_DEFECT_BAD_VERSION,
     ST_SAME},
    {"mismatch02.dat",
     false,
     false,
     "NEWMETHOD",
     "sip:user@example.com",
     0,
     "mismatch02.dj0234sxdfl3",
     8,
     "INVITE",
     1,
     "z9hG4bKkdjuw",
     "UDP",
     138,
     138,
     6,
     1,
     "34525",
     NULL,
     SIP_DEFECT_BAD_CSEQ,
     ST_SAME},
    {"badbranch.dat",
     true,
     false,
     "OPTIONS",
     "sip:user@example.com",
     0,
     "badbranch.sadonfo23i420jv0as0derf3j3n",
     8,
     "OPTIONS",
     1,
     "z9hG4bK",
     "UDP",
     0,
     0,
     3,
     0,
     "33242",
     NULL,
     0,
     ST_SAME},
    {"insuf.dat",
     false,
     false,
     "INVITE",
     "sip:user@example.com",
     0,
     NULL,
     193942,
     "INVITE",
     1,
     "z9hG4bKkdj.insuf",
     "UDP",
     152,
     152,
     NONE,
     0,
     NULL,
     NULL,
     SIP_DEFECT_NO_CALL_ID | SIP_DEFECT_NO_FROM | SIP_DEFECT_NO_TO,
     ST_SAME},
    {"novelsc.dat",
     true,
     false,
     "OPTIONS",
     "soap.beep://192.0.2.103:3002",
     0,
     "novelsc.asdfasser0q239nwsdfasdkl34",
     3923423,
     "OPTIONS",
     1,
     "z9hG4bKkdjuw39234",
     "TCP",
     0,
     0,
     3,
     0,
     "384",
     NULL,
     0,
     ST_SAME},
    {"unksm2.dat",
     true,
     false,
     "REGISTER",
     "sip:example.com",
     0,
     "unksm2.daksdj@hyphenated-host.example.com",
     234902,
     "REGISTER",
     1,
     "z9hG4bKkdjuw",
     "UDP",
     0,
     0,
     70,
     1,
     "3234233",
     NULL,
     0,
     ST_SAME},
    {"bext01.dat",
     true,
     false,
     "OPTIONS",
     "sip:user@example.com",
     0,
     "bext01.0ha0isndaksdj",
     8,
     "OPTIONS",
     1,
     "z9hG4bKkdjuw",
     "TLS",
     0,
     0,
     6,
     0,
     "242etr",
     NULL,
     0,
     ST_SAME},
    {"invut.dat",
     true,
     false,
     "INVITE",
     "sip:user@example.com",
     0,
     "invut.0ha0isndaksdjadsfij34n23d",
     235448,
     "INVITE",
     1,
     "z9hG4bKkdjuw",
     "UDP",
     40,
     40,
     70,
     1,
     "8392034",
     NULL,
     0,
     ST_SAME},
    {"regaut01.dat",
     true,
     false,
     "REGISTER",
     "sip:example.com",
     0,
     "regaut01.0ha0isndaksdj",
     9338,
     "REGISTER",
     1,
     "z9hG4bKkdjuw",
     "TCP",
     0,
     0,
     8,
     0,
     "87321hj23128",
     NULL,
     0,
     ST_SAME},
    {"multi01.dat",
     false,
     false,
     "INVITE",
     "sip:user@company.com",
     0,
     "multi01.98asdh@192.0.2.1",
     5,
     "INVITE",
     1,
     "z9hG4bKkdjuw",
     "UDP",
     154,
     154,
     70,
     2,
     "3413415",
     NULL,
     SIP_DEFECT_DUP_HEADER,
     ST_SAME},
    {"zeromf.dat",
     true,
     false,
     "OPTIONS",
     "sip:user@example.com",
     0,
     "zeromf.jfasdlfnm2o2l43r5u0asdfas",
     39234321,
     "OPTIONS",
     1,
     "z9hG4bKkdjuw2349i",
     "UDP",
     0,
     0,
     0,
     0,
     "3ghsd41",
     NULL,
     0,
     ST_SAME},
    {"cparam01.dat",
     true,
     false,
     "REGISTER",
     "sip:example.com",
     0,
     "cparam01.70710@saturn.example.com",
     2,
     "REGISTER",
     1,
     "z9hG4bKkdjuw",
     "UDP",
     0,
     0,
     70,
     1,
     "DkfVgjkrtMwaerKKpe",
     NULL,
     0,
     ST_SAME},
    {"cparam02.dat",
     true,
     false,
     "REGISTER",
     "sip:example.com",
     0,
     "cparam02.70710@saturn.example.com",
     3,
     "REGISTER",
     1,
     "z9hG4bKkdjuw",
     "UDP",
     0,
     0,
     70,
     1,
     "838293",
     NULL,
     0,
     ST_SAME},
    {"sdp01.dat",
     true,
     false,
     "INVITE",
     "sip:user@example.com",
     0,
     "sdp01.ndaksdj9342dasdd",
     8,
     "INVITE",
     1,
     "z9hG4bKkdjuw",
     "UDP",
     150,
     150,
     5,
     1,
     "234",
     NULL,
     0,
     ST_SAME},
    {"inv2543.dat",
     true,
     false,
     "INVITE",
     "sip:UserB@example.com",
     0,
     "inv2543.1717@ift.client.example.com",
     56,
     "INVITE",
     1,
     NULL,
     "UDP",
     -1,
     105,
     NONE,
     0,
     NULL,
     NULL,
     0,
     ST_HEADERS_ONLY},
    /* test.dat: no SIP-Version on the Request-Line, so it is not SIP at all. */
    {"test.dat", false, true, NULL, NULL, 0,         "test.0ha0isndaksdj@192.0.2.1",
     0,          NULL,  0,    NULL, NULL, 18,        18,
     68,         0,     NULL, NULL, 0,    ST_INVALID},
};

static char *load_torture(const char *file, size_t *len)
{
    char rel[256];
    int n = snprintf(rel, sizeof(rel), "tests/data/sip-torture/%s", file);
    ck_assert(n > 0 && (size_t)n < sizeof(rel));
    char *data = testdata_read(testdata_path(rel), len);
    ck_assert_msg(data != NULL, "cannot read %s", rel);
    return data;
}

static bool sv_is(sv_t v, const char *lit)
{
    size_t n = strlen(lit);
    return v.len == n && (n == 0 || memcmp(v.p, lit, n) == 0);
}

#define ck_assert_sv(v, lit)                                                                       \
    ck_assert_msg(sv_is((v), (lit)), "%s: got \"%.*s\", want \"%s\"", #v, SV_ARG(v), (lit))

/* Count the values of every header with id, running check on each (may be NULL). */
static int count_values(const sip_msg_t *m, sip_hdr_id_t id, char *joined, size_t cap)
{
    int n = 0;
    size_t used = 0;
    if (joined && cap)
        joined[0] = '\0';
    for (const sip_hdr_t *h = sip_header_find(m, id, NULL); h; h = sip_header_find(m, id, h)) {
        sv_t rest = h->value, item;
        while (sip_list_next(&rest, &item)) {
            n++;
            if (joined && id == SIP_HDR_VIA) {
                sip_via_t via;
                sip_via_parse(item, &via);
                int w = snprintf(joined + used, cap - used, "%s%.*s", used ? "," : "",
                                 SV_ARG(via.transport));
                ck_assert(w > 0 && (size_t)w < cap - used);
                used += (size_t)w;
            }
        }
    }
    return n;
}

static void check_torture_fields(const torture_t *t, const sip_msg_t *m, const char *buf)
{
    if (t->method) {
        ck_assert(m->is_request);
        ck_assert_sv(m->method, t->method);
        ck_assert_int_eq(m->method_id, sip_method_from_sv(m->method));
    } else {
        ck_assert(!m->is_request);
        ck_assert_uint_eq(m->status_code, t->status);
    }
    if (t->ruri)
        ck_assert_sv(m->request_uri, t->ruri);
    if (t->call_id)
        ck_assert_sv(m->call_id, t->call_id);
    else
        ck_assert_uint_eq(m->call_id.len, 0);
    ck_assert_uint_eq(m->cseq, t->cseq);
    ck_assert_sv(m->cseq_method, t->cseq_method);
    char transports[128];
    ck_assert_int_eq(count_values(m, SIP_HDR_VIA, transports, sizeof(transports)), t->vias);
    if (t->transports)
        ck_assert_str_eq(transports, t->transports);
    if (t->branch)
        ck_assert_sv(m->via_branch, t->branch);
    else
        ck_assert_uint_eq(m->via_branch.len, 0);
    ck_assert_int_eq(m->content_length, t->clen);
    ck_assert_uint_eq(m->max_forwards, t->max_fwd);
    if (t->contacts >= 0)
        ck_assert_int_eq(count_values(m, SIP_HDR_CONTACT, NULL, 0), t->contacts);
    if (t->from_tag)
        ck_assert_sv(m->from.tag, t->from_tag);
    else
        ck_assert_uint_eq(m->from.tag.len, 0);
    if (t->to_tag)
        ck_assert_sv(m->to.tag, t->to_tag);
    else
        ck_assert_uint_eq(m->to.tag.len, 0);
    if (t->valid)
        ck_assert_msg(m->defects == 0, "%s: valid but defects 0x%x", t->file, m->defects);
    else
        ck_assert_msg((m->defects & t->defects) == t->defects, "%s: defects 0x%x, want 0x%x",
                      t->file, m->defects, t->defects);
    /* Zero-copy: the views point into the input. */
    ck_assert_ptr_eq(m->body.p, buf + m->header_len);
}

START_TEST(test_torture_datagram)
{
    const torture_t *t = &torture[_i];
    size_t len;
    char *data = load_torture(t->file, &len);
    const char *buf = guard_place(data, len);
    sip_msg_t m;
    int rc = sip_parse_datagram(buf, len, &m);
    if (t->dgram_invalid) {
        ck_assert_int_eq(rc, SIP_INVALID);
        ck_assert(!sip_looks_like((const uint8_t *)buf, len));
    } else {
        ck_assert_msg(rc > 0, "%s: rc %d", t->file, rc);
        ck_assert(sip_looks_like((const uint8_t *)buf, len));
        ck_assert_uint_eq((size_t)rc, m.header_len + m.body.len);
        ck_assert_uint_le((size_t)rc, len);
        ck_assert_uint_eq(m.body.len, t->body);
        check_torture_fields(t, &m, buf);
    }
    free(data);
}
END_TEST

START_TEST(test_torture_stream)
{
    const torture_t *t = &torture[_i];
    size_t len;
    char *data = load_torture(t->file, &len);
    const char *buf = guard_place(data, len);
    sip_msg_t m;
    int rc = sip_parse(buf, len, &m);
    switch (t->stream) {
        case ST_PARTIAL:
            ck_assert_int_eq(rc, SIP_PARTIAL);
            break;
        case ST_INVALID:
            ck_assert_int_eq(rc, SIP_INVALID);
            break;
        case ST_HEADERS_ONLY:
            /* No Content-Length on a stream: no body (RFC 3261 18.3). */
            ck_assert_int_gt(rc, 0);
            ck_assert_uint_eq(m.body.len, 0);
            ck_assert_uint_eq((size_t)rc, m.header_len);
            check_torture_fields(t, &m, buf);
            break;
        default: {
            sip_msg_t d;
            ck_assert_int_gt(rc, 0);
            ck_assert_int_eq(rc, sip_parse_datagram(buf, len, &d));
            ck_assert_uint_eq(m.body.len, t->body);
            check_torture_fields(t, &m, buf);
            break;
        }
    }
    free(data);
}
END_TEST

/* Fields the table has no column for. */
START_TEST(test_torture_details)
{
    sip_msg_t m;
    size_t len;
    char *data;
    const sip_hdr_t *h;

    /* wsinv: folded values, empty Subject, compact names, quoted display name. */
    data = load_torture("wsinv.dat", &len);
    ck_assert_int_eq(sip_parse_datagram(data, len, &m), (int)len);
    h = sip_header_find(&m, SIP_HDR_SUBJECT, NULL);
    ck_assert_ptr_nonnull(h);
    ck_assert_sv(h->name, "s");
    ck_assert_uint_eq(h->value.len, 0);
    ck_assert_sv(m.from.display, "J Rosenberg \\\\\\\"");
    ck_assert_sv(m.from.uri.host, "example.com");
    ck_assert_sv(m.to.uri.user, "vivekg");
    ck_assert_sv(m.via_sent_by, "192.0.2.2");
    ck_assert_sv(m.via_transport, "UDP");
    ck_assert_sv(m.content_type, "application/sdp");
    ck_assert_sv(m.body, "v=0\r\no=mhandley 29739 7272939 IN IP4 192.0.2.3\r\ns=-\r\n"
                         "c=IN IP4 192.0.2.4\r\nt=0 0\r\nm=audio 49217 RTP/AVP 0 12\r\n"
                         "m=video 3227 RTP/AVP 31\r\na=rtpmap:31 LPC\r\n");
    h = sip_header_find(&m, SIP_HDR_OTHER, NULL);
    ck_assert_sv(h->name, "NewFangledHeader");
    ck_assert_sv(h->value, "newfangled value\r\n continued newfangled value");
    sip_nameaddr_t na;
    h = sip_header_find(&m, SIP_HDR_CONTACT, NULL);
    ck_assert_sv(h->name, "m");
    ck_assert(sip_nameaddr_parse(h->value, &na));
    ck_assert_sv(na.display, "Quoted string \\\"\\\"");
    bool found;
    ck_assert_sv(sip_param_get(na.params, "newparam", &found), "newvalue");
    ck_assert(found);
    ck_assert_sv(sip_param_get(na.params, "q", &found), "0.33");
    sip_param_get(na.params, "secondparam", &found);
    ck_assert(found);
    free(data);

    /* intmeth: NUL, BEL and DEL as quoted-pairs in the To display name. */
    data = load_torture("intmeth.dat", &len);
    ck_assert_int_gt(sip_parse_datagram(data, len, &m), 0);
    ck_assert_int_eq(m.method_id, SIP_METHOD_UNKNOWN);
    static const char disp[] = "BEL:\\\x07 NUL:\\\0 DEL:\\\x7f";
    ck_assert_uint_eq(m.to.display.len, sizeof(disp) - 1);
    ck_assert_mem_eq(m.to.display.p, disp, sizeof(disp) - 1);
    sip_uri_t u;
    ck_assert(sip_uri_parse(m.request_uri, &u));
    ck_assert_sv(u.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
    ck_assert_sv(u.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
    ck_assert_sv(u.host, "example.com");
    ck_assert_sv(
        sip_param_get(m.from.params, "fromParam''~+*_!.-%", &found),
        "\"\xd1\x80\xd0\xb0\xd0\xb1\xd0\xbe\xd1\x82\xd0\xb0\xd1\x8e\xd1\x89\xd0\xb8\xd0\xb9\"");
    free(data);

    /* escnull: %00 stays escaped, nothing is cut at it. */
    data = load_torture("escnull.dat", &len);
    ck_assert_int_gt(sip_parse_datagram(data, len, &m), 0);
    ck_assert_sv(m.to.uri.user, "null-%00-null");
    ck_assert_sv(m.from.uri.user, "null-%00-null");
    ck_assert_sv(m.contact, "<sip:%00@host5.example.com>");
    h = sip_header_find(&m, SIP_HDR_CONTACT, NULL);
    h = sip_header_find(&m, SIP_HDR_CONTACT, h);
    ck_assert(sip_nameaddr_parse(h->value, &na));
    ck_assert_sv(na.uri.user, "%00%00");
    free(data);

    /* esc02: C%6Fntact is an unknown header, not Contact. */
    data = load_torture("esc02.dat", &len);
    ck_assert_int_gt(sip_parse_datagram(data, len, &m), 0);
    h = sip_header_find(&m, SIP_HDR_OTHER, NULL);
    ck_assert_sv(h->name, "C%6Fntact");
    ck_assert_sv(m.from.display, "%Z%45");
    free(data);

    /* semiuri: the user part holds ';', there are no URI params. */
    data = load_torture("semiuri.dat", &len);
    ck_assert_int_gt(sip_parse_datagram(data, len, &m), 0);
    ck_assert(sip_uri_parse(m.request_uri, &u));
    ck_assert_sv(u.user, "user;par=u%40example.net");
    ck_assert_sv(u.host, "example.com");
    ck_assert_uint_eq(u.params.len, 0);
    free(data);

    /* cparam01/02: where ";unknownparam" belongs depends on the angle brackets. */
    data = load_torture("cparam01.dat", &len);
    ck_assert_int_gt(sip_parse_datagram(data, len, &m), 0);
    ck_assert(sip_nameaddr_parse(m.contact, &na));
    ck_assert_uint_eq(na.uri.params.len, 0);
    ck_assert_sv(na.params, "unknownparam");
    ck_assert_sv(na.uri.user, "+19725552222");
    free(data);
    data = load_torture("cparam02.dat", &len);
    ck_assert_int_gt(sip_parse_datagram(data, len, &m), 0);
    ck_assert(sip_nameaddr_parse(m.contact, &na));
    ck_assert_sv(na.uri.params, "unknownparam");
    ck_assert_uint_eq(na.params.len, 0);
    free(data);

    /* unksm2: non-SIP URIs are parsed as absoluteURI. */
    data = load_torture("unksm2.dat", &len);
    ck_assert_int_gt(sip_parse_datagram(data, len, &m), 0);
    ck_assert_int_eq(m.to.uri.scheme, SIP_SCHEME_OTHER);
    ck_assert_sv(m.to.uri.raw, "isbn:2983792873");
    ck_assert_sv(m.from.uri.host, "www.example.com");
    free(data);

    /* novelsc: the Request-URI of a novel scheme. */
    data = load_torture("novelsc.dat", &len);
    ck_assert_int_gt(sip_parse_datagram(data, len, &m), 0);
    ck_assert(sip_uri_parse(m.request_uri, &u));
    ck_assert_int_eq(u.scheme, SIP_SCHEME_OTHER);
    ck_assert_sv(u.host, "192.0.2.103");
    ck_assert_uint_eq(u.port, 3002);
    free(data);

    /* baddn: best effort even with the unquoted ',' in the display names. */
    data = load_torture("baddn.dat", &len);
    ck_assert_int_eq(sip_parse_datagram(data, len, &m), (int)len);
    ck_assert_sv(m.from.display, "Bell, Alexander");
    ck_assert_sv(m.from.uri.user, "a.g.bell");
    ck_assert_uint_eq(m.body.len, 0);
    free(data);

    /* insuf: a Call-ID that is not there is empty, not garbage. */
    data = load_torture("insuf.dat", &len);
    ck_assert_int_gt(sip_parse_datagram(data, len, &m), 0);
    ck_assert_ptr_null(m.call_id.p);
    free(data);

    /* invut, noreason */
    data = load_torture("invut.dat", &len);
    ck_assert_int_gt(sip_parse_datagram(data, len, &m), 0);
    ck_assert_sv(m.content_type, "application/unknownformat");
    free(data);
    data = load_torture("noreason.dat", &len);
    ck_assert_int_gt(sip_parse_datagram(data, len, &m), 0);
    ck_assert_uint_eq(m.reason.len, 0);
    ck_assert_sv(m.version, "SIP/2.0");
    free(data);

    /* test.dat is refused in every mode, and so is the prefix check. */
    data = load_torture("test.dat", &len);
    ck_assert_int_eq(sip_parse(data, len, &m), SIP_INVALID);
    free(data);
}
END_TEST

/* dblreq over UDP is one message; on a stream the trailing octets are the next message. */
START_TEST(test_dblreq)
{
    size_t len;
    char *data = load_torture("dblreq.dat", &len);
    const char *buf = guard_place(data, len);
    sip_msg_t m;
    int rc = sip_parse_datagram(buf, len, &m);
    ck_assert_int_gt(rc, 0);
    ck_assert_uint_lt((size_t)rc, len);
    ck_assert_int_eq(m.method_id, SIP_METHOD_REGISTER);
    ck_assert_uint_eq(m.body.len, 0);

    int rc2 = sip_parse(buf, len, &m);
    ck_assert_int_eq(rc2, rc);
    int rc3 = sip_parse(buf + rc2, len - (size_t)rc2, &m);
    ck_assert_int_gt(rc3, 0);
    ck_assert_uint_le((size_t)rc2 + (size_t)rc3, len); /* its body is shorter than the SDP */
    ck_assert_int_eq(m.method_id, SIP_METHOD_INVITE);
    ck_assert_sv(m.call_id, "dblreq.0ha0isnda977644900765@192.0.2.15");
    ck_assert_uint_eq(m.body.len, 150);
    free(data);
}
END_TEST

/* ---- every prefix against the guard page ------------------------------------------------ */

typedef struct {
    const char *name;
    const char *text; /* NULL: torture file */
} corpus_t;

static const corpus_t corpus[] = {
    {"invite_sdp", invite_sdp}, {"ok_sdp", ok_sdp},     {"register_auth", register_auth},
    {"wsinv.dat", NULL},        {"intmeth.dat", NULL},  {"escnull.dat", NULL},
    {"esc02.dat", NULL},        {"dblreq.dat", NULL},   {"semiuri.dat", NULL},
    {"transports.dat", NULL},   {"noreason.dat", NULL}, {"badbranch.dat", NULL},
    {"novelsc.dat", NULL},      {"unksm2.dat", NULL},   {"bext01.dat", NULL},
    {"invut.dat", NULL},        {"regaut01.dat", NULL}, {"zeromf.dat", NULL},
    {"cparam01.dat", NULL},     {"cparam02.dat", NULL}, {"sdp01.dat", NULL},
    {"inv2543.dat", NULL},      {"badinv01.dat", NULL}, {"clerr.dat", NULL},
    {"scalar02.dat", NULL},     {"lwsruri.dat", NULL},  {"lwsstart.dat", NULL},
    {"trws.dat", NULL},         {"escruri.dat", NULL},  {"regbadct.dat", NULL},
    {"baddn.dat", NULL},        {"badvers.dat", NULL},  {"mismatch02.dat", NULL},
    {"insuf.dat", NULL},        {"multi01.dat", NULL},  {"test.dat", NULL},
};

static char *corpus_load(const corpus_t *c, size_t *len)
{
    if (c->text == NULL)
        return load_torture(c->name, len);
    *len = strlen(c->text);
    char *copy = malloc(*len);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, c->text, *len);
    return copy;
}

/* Every proper prefix of a message on a stream is SIP_PARTIAL (or SIP_INVALID for what is
 * not SIP), never a crash or a read past the end; a datagram prefix gives a clean verdict. */
START_TEST(test_every_prefix)
{
    const corpus_t *c = &corpus[_i];
    size_t len;
    char *data = corpus_load(c, &len);
    sip_msg_t m;
    int full = sip_parse(data, len, &m);
    for (size_t k = 0; k <= len; k++) {
        const char *buf = guard_place(data, k);
        int rc = sip_parse(buf, k, &m);
        if (full > 0) {
            if (k < (size_t)full)
                ck_assert_msg(rc == SIP_PARTIAL, "%s: prefix %zu gives %d", c->name, k, rc);
            else
                ck_assert_msg(rc == full, "%s: prefix %zu gives %d, want %d", c->name, k, rc, full);
        } else {
            ck_assert_msg(rc == SIP_PARTIAL || rc == SIP_INVALID, "%s: prefix %zu gives %d",
                          c->name, k, rc);
        }
        rc = sip_parse_datagram(buf, k, &m);
        ck_assert_msg(rc == SIP_INVALID || (rc > 0 && (size_t)rc <= k),
                      "%s: datagram prefix %zu gives %d", c->name, k, rc);
        if (rc > 0)
            ck_assert_uint_eq((size_t)rc, m.header_len + m.body.len);
        (void)sip_looks_like((const uint8_t *)buf, k);
    }
    free(data);
}
END_TEST

/* ---- realistic messages ----------------------------------------------------------------- */

START_TEST(test_invite_sdp)
{
    size_t len = strlen(invite_sdp);
    ck_assert_uint_eq(len, 800);
    const char *buf = guard_place(invite_sdp, len);
    sip_msg_t m;
    ck_assert_int_eq(sip_parse(buf, len, &m), (int)len);
    ck_assert_uint_eq(m.defects, 0);
    ck_assert_int_eq(m.method_id, SIP_METHOD_INVITE);
    ck_assert_sv(m.request_uri, "sip:bob@biloxi.example.com");
    ck_assert_sv(m.version, "SIP/2.0");
    ck_assert_sv(m.call_id, "3848276298220188511@atlanta.example.com");
    ck_assert_uint_eq(m.cseq, 314159);
    ck_assert_int_eq(m.cseq_method_id, SIP_METHOD_INVITE);
    ck_assert_sv(m.via, "SIP/2.0/UDP proxy.atlanta.example.com:5060;branch=z9hG4bK2d4790.1");
    ck_assert_sv(m.via_sent_by, "proxy.atlanta.example.com:5060");
    ck_assert_sv(m.via_branch, "z9hG4bK2d4790.1");
    ck_assert_sv(m.from.display, "Alice Liddell");
    ck_assert_sv(m.from.uri.user, "alice");
    ck_assert_int_eq(m.from.uri.scheme, SIP_SCHEME_SIP);
    ck_assert_sv(m.from.tag, "9fxced76s");
    ck_assert_sv(m.to.display, "Bob");
    ck_assert_uint_eq(m.to.tag.len, 0);
    ck_assert_sv(m.contact, "<sip:alice@192.0.2.101:5060;transport=udp>");
    ck_assert_sv(m.user_agent, "Softphone/1.2");
    ck_assert_sv(m.content_type, "application/sdp");
    ck_assert_int_eq(m.content_length, 211);
    ck_assert_uint_eq(m.body.len, 211);
    ck_assert_uint_eq(m.max_forwards, 69);
    ck_assert_int_eq(m.expires, -1);
    ck_assert_uint_eq(m.n_hdrs, 12);
    ck_assert_mem_eq(m.body.p, "v=0\r\n", 5);

    /* The second Via: rport without a value, received. */
    const sip_hdr_t *h = sip_header_find(&m, SIP_HDR_VIA, NULL);
    h = sip_header_find(&m, SIP_HDR_VIA, h);
    ck_assert_ptr_nonnull(h);
    sip_via_t via;
    ck_assert(sip_via_parse(h->value, &via));
    ck_assert_sv(via.host, "192.0.2.101");
    ck_assert_uint_eq(via.port, 5060);
    bool found;
    ck_assert_sv(sip_param_get(via.params, "received", &found), "192.0.2.101");
    ck_assert_sv(sip_param_get(via.params, "rport", &found), "5060");
    ck_assert_ptr_null(sip_header_find(&m, SIP_HDR_VIA, h));
}
END_TEST

START_TEST(test_ok_sdp)
{
    size_t len = strlen(ok_sdp);
    const char *buf = guard_place(ok_sdp, len);
    sip_msg_t m;
    ck_assert_int_eq(sip_parse_datagram(buf, len, &m), (int)len);
    ck_assert_uint_eq(m.defects, 0);
    ck_assert(!m.is_request);
    ck_assert_uint_eq(m.status_code, 200);
    ck_assert_sv(m.reason, "OK");
    ck_assert_int_eq(m.cseq_method_id, SIP_METHOD_INVITE);
    ck_assert_sv(m.to.tag, "8321234356");
    ck_assert_sv(m.user_agent, "PBX/9.8"); /* Server, as there is no User-Agent */
    ck_assert_uint_eq(m.body.len, 129);
    ck_assert_uint_eq(m.max_forwards, UINT32_MAX);
}
END_TEST

START_TEST(test_register_auth)
{
    size_t len = strlen(register_auth);
    const char *buf = guard_place(register_auth, len);
    sip_msg_t m;
    ck_assert_int_eq(sip_parse(buf, len, &m), (int)len);
    ck_assert_uint_eq(m.defects, 0);
    ck_assert_int_eq(m.method_id, SIP_METHOD_REGISTER);
    ck_assert_sv(m.call_id, "1j9FpLxk3uxtm8tn@biloxi.example.com");
    ck_assert_sv(m.via_transport, "TCP");
    ck_assert_sv(m.via_sent_by, "[2001:db8::10]:5061");
    sip_via_t via;
    ck_assert(sip_via_parse(m.via, &via));
    ck_assert_sv(via.host, "2001:db8::10");
    ck_assert_uint_eq(via.port, 5061);
    ck_assert_int_eq(m.expires, 7200);
    ck_assert_int_eq(m.content_length, 0);
    ck_assert_int_eq(count_values(&m, SIP_HDR_CONTACT, NULL, 0), 2);
    ck_assert_sv(m.contact, "<sip:bob@[2001:db8::10]:5061;transport=tcp>;expires=3600");
    const sip_hdr_t *h = sip_header_find(&m, SIP_HDR_CONTACT, NULL);
    sv_t rest = h->value, item;
    ck_assert(sip_list_next(&rest, &item));
    ck_assert(sip_list_next(&rest, &item));
    sip_nameaddr_t na;
    ck_assert(sip_nameaddr_parse(item, &na));
    ck_assert_sv(na.display, "Bob, mobile");
    ck_assert_sv(na.uri.host, "198.51.100.7");
    ck_assert_sv(sip_param_get(na.params, "q", NULL), "0.5");
    ck_assert(!sip_list_next(&rest, &item));
    h = sip_header_find(&m, SIP_HDR_AUTHORIZATION, NULL);
    ck_assert_ptr_nonnull(h);
    ck_assert_uint_eq(h->value.p[h->value.len - 1], '"');
}
END_TEST

/* ---- stream framing --------------------------------------------------------------------- */

START_TEST(test_stream_concat)
{
    const char *parts[] = {invite_sdp, ok_sdp, register_auth};
    char big[4096];
    size_t lens[3], total = 0;
    for (int i = 0; i < 3; i++) {
        lens[i] = strlen(parts[i]);
        memcpy(big + total, parts[i], lens[i]);
        total += lens[i];
    }
    const char *buf = guard_place(big, total);
    sip_msg_t m;
    size_t off = 0;
    for (int i = 0; i < 3; i++) {
        int rc = sip_parse(buf + off, total - off, &m);
        ck_assert_int_eq(rc, (int)lens[i]);
        off += (size_t)rc;
    }
    ck_assert_uint_eq(off, total);
    ck_assert_int_eq(sip_parse(buf + off, 0, &m), SIP_PARTIAL);

    /* Split anywhere: PARTIAL until the first message is whole, then its length. */
    for (size_t cut = 0; cut <= total; cut++) {
        const char *p = guard_place(big, cut);
        int rc = sip_parse(p, cut, &m);
        if (cut < lens[0])
            ck_assert_int_eq(rc, SIP_PARTIAL);
        else
            ck_assert_int_eq(rc, (int)lens[0]);
        /* ... and the second one from its own start */
        if (cut >= lens[0]) {
            rc = sip_parse(p + lens[0], cut - lens[0], &m);
            if (cut < lens[0] + lens[1])
                ck_assert_int_eq(rc, SIP_PARTIAL);
            else
                ck_assert_int_eq(rc, (int)lens[1]);
        }
    }
}
END_TEST

START_TEST(test_stream_keepalive)
{
    /* RFC 3261 7.5 / RFC 5626: CRLFs between messages are skipped and counted. */
    char buf[2048];
    size_t n = strlen(ok_sdp);
    memcpy(buf, "\r\n\r\n", 4);
    memcpy(buf + 4, ok_sdp, n);
    sip_msg_t m;
    ck_assert_int_eq(sip_parse(buf, n + 4, &m), (int)(n + 4));
    ck_assert_uint_eq(m.status_code, 200);
    ck_assert_uint_eq(m.header_len + m.body.len, n + 4);
    ck_assert_int_eq(sip_parse("\r\n\r\n", 4, &m), SIP_PARTIAL);
    ck_assert_int_eq(sip_parse("", 0, &m), SIP_PARTIAL);
    ck_assert_int_eq(sip_parse_datagram("\r\n\r\n", 4, &m), SIP_INVALID);
    ck_assert_int_eq(sip_parse_datagram("", 0, &m), SIP_INVALID);
}
END_TEST

START_TEST(test_bare_lf)
{
    static const char msg[] = "BYE sip:bob@192.0.2.4 SIP/2.0\n"
                              "Via: SIP/2.0/TCP 192.0.2.101;branch=z9hG4bKnashds10\n"
                              "From: <sip:alice@atlanta.example.com>;tag=1\n"
                              "To: <sip:bob@biloxi.example.com>;tag=2\n"
                              "Call-ID: lf-only\n"
                              "CSeq: 2 BYE\n"
                              "Content-Length: 2\n"
                              "\n"
                              "hi";
    sip_msg_t m;
    size_t len = sizeof(msg) - 1;
    ck_assert_int_eq(sip_parse(guard_place(msg, len), len, &m), (int)len);
    ck_assert_uint_eq(m.defects, 0);
    ck_assert_sv(m.call_id, "lf-only");
    ck_assert_sv(m.body, "hi");
    ck_assert_int_eq(m.method_id, SIP_METHOD_BYE);
}
END_TEST

/* Issue 19: a start line ended by a bare CR ("SIP/2.0\r" then the next header line) used to be
 * neither SIP nor malformed. It is read as a line end, as tshark does. */
START_TEST(test_bare_cr_start_line)
{
    static const char msg[] = "INVITE sip:bob@192.0.2.4 SIP/2.0\r"
                              "Via: SIP/2.0/UDP 192.0.2.101;branch=z9hG4bKbarecr\r\n"
                              "From: <sip:alice@atlanta.example.com>;tag=1\r\n"
                              "To: <sip:bob@biloxi.example.com>\r\n"
                              "Call-ID: bare-cr\r\n"
                              "CSeq: 1 INVITE\r\n"
                              "Content-Length: 0\r\n"
                              "\r\n";
    sip_msg_t m;
    size_t len = sizeof(msg) - 1;
    ck_assert(sip_looks_like(guard_place(msg, len), len));
    ck_assert_int_eq(sip_parse_datagram(guard_place(msg, len), len, &m), (int)len);
    ck_assert_int_eq(sip_parse(guard_place(msg, len), len, &m), (int)len);
    ck_assert_int_eq(m.method_id, SIP_METHOD_INVITE);
    ck_assert_sv(m.version, "SIP/2.0");
    ck_assert_sv(m.call_id, "bare-cr");
    ck_assert_ptr_nonnull(sip_header_find(&m, SIP_HDR_VIA, NULL));
    /* On a stream, every prefix waits for more, the CR at the very end included. */
    for (size_t n = 0; n < len; n++)
        ck_assert_msg(sip_parse(guard_place(msg, n), n, &m) == SIP_PARTIAL, "prefix %zu", n);
    /* A status line too. */
    static const char resp[] = "SIP/2.0 200 OK\rCall-ID: bare-cr\r\nCSeq: 1 INVITE\r\n"
                               "Content-Length: 0\r\n\r\n";
    len = sizeof(resp) - 1;
    ck_assert_int_eq(sip_parse_datagram(guard_place(resp, len), len, &m), (int)len);
    ck_assert_int_eq(m.status_code, 200);
    ck_assert_sv(m.reason, "OK");
}
END_TEST

/* ---- absurd input ----------------------------------------------------------------------- */

static char *build(size_t cap, size_t *len, const char *head, const char *rep, size_t times,
                   const char *tail)
{
    char *b = malloc(cap);
    ck_assert_ptr_nonnull(b);
    size_t n = 0, hl = strlen(head), rl = strlen(rep), tl = strlen(tail);
    ck_assert_uint_le(hl + rl * times + tl, cap);
    memcpy(b, head, hl);
    n += hl;
    for (size_t i = 0; i < times; i++) {
        memcpy(b + n, rep, rl);
        n += rl;
    }
    memcpy(b + n, tail, tl);
    n += tl;
    *len = n;
    return b;
}

#define MIN_HDRS                                                                                   \
    "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\n"             \
    "Call-ID: x\r\nCSeq: 1 OPTIONS\r\n"

START_TEST(test_huge_content_length)
{
    static const char msg[] = "OPTIONS sip:b@h SIP/2.0\r\n" MIN_HDRS
                              "Content-Length: 18446744073709551616999\r\n\r\nbody";
    static const char msg2[] =
        "OPTIONS sip:b@h SIP/2.0\r\n" MIN_HDRS "Content-Length: 4294967296\r\n\r\nbody";
    sip_msg_t m;
    size_t len = sizeof(msg) - 1;
    /* A stream cannot wait for that: refused up front, even before the empty line. */
    ck_assert_int_eq(sip_parse(guard_place(msg, len), len, &m), SIP_INVALID);
    ck_assert_int_eq(sip_parse(guard_place(msg, len - 5), len - 5, &m), SIP_INVALID);
    ck_assert_int_eq(sip_parse(guard_place(msg2, sizeof(msg2) - 1), sizeof(msg2) - 1, &m),
                     SIP_INVALID);
    /* A datagram is bounded: take what is there, flagged. */
    ck_assert_int_eq(sip_parse_datagram(guard_place(msg, len), len, &m), (int)len);
    ck_assert(m.defects & SIP_DEFECT_BAD_LENGTH);
    ck_assert_sv(m.body, "body");
    ck_assert_int_eq(sip_parse_datagram(guard_place(msg2, sizeof(msg2) - 1), sizeof(msg2) - 1, &m),
                     (int)(sizeof(msg2) - 1));
    ck_assert_int_eq(m.content_length, 4294967296LL);
    ck_assert(m.defects & SIP_DEFECT_BAD_LENGTH);
    /* SIP_MAX_BODY itself is fine on a stream (PARTIAL until it is all there). */
    char ok[256];
    int n = snprintf(ok, sizeof(ok),
                     "OPTIONS sip:b@h SIP/2.0\r\n" MIN_HDRS "Content-Length: %u\r\n\r\nbody",
                     SIP_MAX_BODY);
    ck_assert(n > 0 && (size_t)n < sizeof(ok));
    ck_assert_int_eq(sip_parse(ok, (size_t)n, &m), SIP_PARTIAL);
}
END_TEST

START_TEST(test_bad_content_length)
{
    /* zeek invalid-content-length.pcap: still SIP, flagged; a datagram keeps the rest. */
    static const char msg[] =
        "OPTIONS sip:b@h SIP/2.0\r\n" MIN_HDRS "Content-Length: bad\r\n\r\nxyz";
    static const char dup[] =
        "OPTIONS sip:b@h SIP/2.0\r\n" MIN_HDRS "Content-Length: 3\r\nl: 2\r\n\r\nxyz";
    sip_msg_t m;
    ck_assert_int_eq(sip_parse_datagram(msg, sizeof(msg) - 1, &m), (int)sizeof(msg) - 1);
    ck_assert_uint_eq(m.defects, SIP_DEFECT_BAD_LENGTH);
    ck_assert_int_eq(m.content_length, -1);
    ck_assert_sv(m.body, "xyz");
    ck_assert_int_eq(sip_parse(msg, sizeof(msg) - 1, &m), (int)sizeof(msg) - 4);
    ck_assert_uint_eq(m.body.len, 0);
    ck_assert_int_eq(sip_parse(dup, sizeof(dup) - 1, &m), (int)sizeof(dup) - 1);
    ck_assert_int_eq(m.content_length, 3);
    ck_assert(m.defects & SIP_DEFECT_BAD_LENGTH);
    ck_assert(m.defects & SIP_DEFECT_DUP_HEADER);
}
END_TEST

START_TEST(test_many_headers)
{
    /* 10,000 headers: the first SIP_MAX_HEADERS are kept, a Content-Length after them still
     * frames the message. 50 KB, inside the header-section cap. */
    size_t len;
    char *b = build(1 << 17, &len, "OPTIONS sip:b@h SIP/2.0\r\n" MIN_HDRS, "a:1\r\n", 10000,
                    "Content-Length: 5\r\n\r\nhello");
    const char *buf = guard_place(b, len);
    sip_msg_t m;
    ck_assert_int_eq(sip_parse(buf, len, &m), (int)len);
    ck_assert_uint_eq(m.n_hdrs, SIP_MAX_HEADERS);
    ck_assert_uint_eq(m.defects, SIP_DEFECT_TOO_MANY_HEADERS);
    ck_assert_int_eq(m.content_length, 5);
    ck_assert_sv(m.body, "hello");
    ck_assert_sv(m.call_id, "x");
    ck_assert_int_eq(sip_parse_datagram(buf, len, &m), (int)len);
    free(b);

    /* 30,000 headers (150 KB) break the header-section cap: refused, not scanned forever. */
    b = build(1 << 18, &len, "OPTIONS sip:b@h SIP/2.0\r\n", "a:1\r\n", 30000, "\r\n");
    buf = guard_place(b, len);
    ck_assert_int_eq(sip_parse(buf, len, &m), SIP_INVALID);
    ck_assert_int_eq(sip_parse_datagram(buf, len, &m), SIP_INVALID);
    free(b);

    /* The same with continuation lines only. */
    b = build(1 << 18, &len, "OPTIONS sip:b@h SIP/2.0\r\nX: 1\r\n", " 1\r\n", 40000, "\r\n");
    ck_assert_int_eq(sip_parse(b, len, &m), SIP_INVALID);
    free(b);
}
END_TEST

START_TEST(test_long_line)
{
    /* A 100 KB header line is refused as soon as SIP_MAX_LINE bytes show no end of line. */
    size_t len;
    char *b = build(1 << 18, &len, "OPTIONS sip:b@h SIP/2.0\r\nX-Long: ", "a", 100000, "\r\n\r\n");
    const char *buf = guard_place(b, len);
    sip_msg_t m;
    ck_assert_int_eq(sip_parse(buf, len, &m), SIP_INVALID);
    ck_assert_int_eq(sip_parse_datagram(buf, len, &m), SIP_INVALID);
    size_t cut = 25 + SIP_MAX_LINE + 2;
    ck_assert_int_eq(sip_parse(guard_place(b, cut), cut, &m), SIP_INVALID);
    cut = 25 + SIP_MAX_LINE / 2;
    ck_assert_int_eq(sip_parse(guard_place(b, cut), cut, &m), SIP_PARTIAL);
    free(b);

    /* A start line that never ends. */
    b = build(1 << 18, &len, "INVITE sip:", "a", 100000, "");
    ck_assert_int_eq(sip_parse(guard_place(b, len), len, &m), SIP_INVALID);
    ck_assert(!sip_looks_like((const uint8_t *)b, len));
    free(b);

    /* A line of exactly SIP_MAX_LINE is fine. */
    b = build(1 << 15, &len, "OPTIONS sip:b@h SIP/2.0\r\n" MIN_HDRS "X: ", "a", SIP_MAX_LINE - 3,
              "\r\n\r\n");
    ck_assert_int_gt(sip_parse(guard_place(b, len), len, &m), 0);
    ck_assert_uint_eq(m.defects, 0);
    free(b);

    /* A datagram larger than any SIP message can be. */
    ck_assert_int_eq(sip_parse_datagram(invite_sdp, SIP_MAX_MESSAGE + 1u, &m), SIP_INVALID);
}
END_TEST

START_TEST(test_nuls)
{
    /* NUL bytes are data: no strlen anywhere, values keep their length. */
    static const char msg[] = "OPTIONS sip:b@h SIP/2.0\r\n" MIN_HDRS
                              "Subject: a\0b\r\nX\0Y: z\r\nContent-Length: 3\r\n\r\n\0\0\0";
    sip_msg_t m;
    size_t len = sizeof(msg) - 1;
    ck_assert_int_eq(sip_parse(guard_place(msg, len), len, &m), (int)len);
    ck_assert(m.defects & SIP_DEFECT_BAD_HEADER); /* "X\0Y" is no header name */
    const sip_hdr_t *h = sip_header_find(&m, SIP_HDR_SUBJECT, NULL);
    ck_assert_uint_eq(h->value.len, 3);
    ck_assert_uint_eq(m.body.len, 3);

    static const char nul_method[] = "OPT\0ONS sip:b@h SIP/2.0\r\n\r\n";
    ck_assert_int_eq(sip_parse(nul_method, sizeof(nul_method) - 1, &m), SIP_INVALID);
    ck_assert_int_eq(sip_parse_datagram(nul_method, sizeof(nul_method) - 1, &m), SIP_INVALID);
    char zeros[1024] = {0};
    ck_assert_int_eq(sip_parse(zeros, sizeof(zeros), &m), SIP_INVALID);
    ck_assert_int_eq(sip_parse_datagram(zeros, sizeof(zeros), &m), SIP_INVALID);
    ck_assert(!sip_looks_like((const uint8_t *)zeros, sizeof(zeros)));
}
END_TEST

START_TEST(test_missing_crlf)
{
    static const char line[] = "OPTIONS sip:b@h SIP/2.0";
    static const char hdrs[] = "OPTIONS sip:b@h SIP/2.0\r\n" MIN_HDRS "Content-Length: 0";
    sip_msg_t m;
    ck_assert_int_eq(sip_parse(line, sizeof(line) - 1, &m), SIP_PARTIAL);
    ck_assert_int_eq(sip_parse_datagram(line, sizeof(line) - 1, &m), (int)sizeof(line) - 1);
    ck_assert(m.defects & SIP_DEFECT_NO_HEADER_END);
    ck_assert(m.defects & SIP_DEFECT_NO_CALL_ID);
    ck_assert_int_eq(m.method_id, SIP_METHOD_OPTIONS);
    ck_assert_int_eq(sip_parse(hdrs, sizeof(hdrs) - 1, &m), SIP_PARTIAL);
    ck_assert_int_eq(sip_parse_datagram(hdrs, sizeof(hdrs) - 1, &m), (int)sizeof(hdrs) - 1);
    ck_assert_uint_eq(m.defects, SIP_DEFECT_NO_HEADER_END);
    ck_assert_int_eq(m.content_length, 0);
    ck_assert_sv(m.call_id, "x");
}
END_TEST

START_TEST(test_junk)
{
    /* Binary junk on a stream is refused at once, not after SIP_MAX_LINE bytes. */
    static const uint8_t rtp[] = {0x80, 0x00, 0x12, 0x34, 0x00, 0x00, 0x00, 0xa0,
                                  0xde, 0xad, 0xbe, 0xef, 0xff, 0xff, 0xff, 0xff};
    sip_msg_t m;
    ck_assert_int_eq(sip_parse((const char *)rtp, sizeof(rtp), &m), SIP_INVALID);
    ck_assert_int_eq(sip_parse_datagram((const char *)rtp, sizeof(rtp), &m), SIP_INVALID);
    ck_assert_int_eq(sip_parse("hello", 5, &m), SIP_PARTIAL); /* a token so far */
    ck_assert_int_eq(sip_parse("hello\r\n", 7, &m), SIP_INVALID);
    ck_assert_int_eq(sip_parse("he(lo", 5, &m), SIP_INVALID);
    ck_assert_int_eq(sip_parse("SI", 2, &m), SIP_PARTIAL);
    ck_assert_int_eq(sip_parse("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27, &m), SIP_INVALID);
    ck_assert_int_eq(sip_parse("HTTP/1.1 200 OK\r\n\r\n", 19, &m), SIP_INVALID);
    ck_assert_int_eq(sip_parse_datagram("NOTIFY * HTTP/1.1\r\n\r\n", 21, &m), SIP_INVALID);
    ck_assert_int_eq(sip_parse(NULL, 0, &m), SIP_PARTIAL);
    ck_assert_int_eq(sip_parse_datagram(NULL, 0, &m), SIP_INVALID);
}
END_TEST

/* ---- start lines and sip_looks_like ----------------------------------------------------- */

typedef struct {
    const char *text;
    bool sip;
} looks_t;

static const looks_t looks[] = {
    {"INVITE sip:bob@example.com SIP/2.0\r\n", true},
    {"SIP/2.0 200 OK\r\n", true},
    {"SIP/2.0 100 \r\n", true},
    {"SIP/2.0 180 Ringing", true},
    {"sip/2.0 486 Busy Here\r\n", true},
    {"OPTIONS sip:x SIP/7.0\r\n", true},
    {"SIP/7.0 200 OK\r\n", true},
    {"\r\n\r\nBYE sip:x@y SIP/2.0\r\n", true},
    {"REGISTER sip:example.com SIP/2.0", true},
    {"NEWMETHOD tel:+15551234 SIP/2.0\r\n", true},
    {"INVITE  sip:user@example.com  SIP/2.0\r\n", true},
    {"OPTIONS sip:remote-target@example.com SIP/2.0  \r\n", true},
    {"SIP/2.0 999 Odd\r\n", true},
    {"GET / HTTP/1.1\r\n", false},
    {"HTTP/1.1 200 OK\r\n", false},
    {"HTTP/1.1 403 Forbidden\r\n", false},
    {"NOTIFY * HTTP/1.1\r\n", false},
    {"M-SEARCH * HTTP/1.1\r\n", false},
    {"OPTIONS * RTSP/1.0\r\n", false},
    {"INVITE sip:alan@jasomi.com\r\n", false},
    {"INVITE SIP/2.0\r\n", false},
    {"SIP/2.0 20 OK\r\n", false},
    {"SIP/2.0 2000 OK\r\n", false},
    {"SIP/2.0 OK\r\n", false},
    {"SIP/ 200 OK\r\n", false},
    {"SIP/x.0 200 OK\r\n", false},
    {"hello", false},
    {"", false},
    {"\r\n", false},
    {"\x80\x00\x12\x34\x00\x00\x00\xa0", false},
    {"INV\x01TE sip:x SIP/2.0\r\n", false},
    {" INVITE sip:x SIP/2.0\r\n", false},
};

START_TEST(test_looks_like)
{
    const looks_t *l = &looks[_i];
    size_t len = strlen(l->text);
    const uint8_t *buf = guard_place(l->text, len);
    ck_assert_msg(sip_looks_like(buf, len) == l->sip, "\"%s\"", l->text);
    /* The parser agrees on the start line. */
    sip_msg_t m;
    int rc = sip_parse_datagram((const char *)buf, len, &m);
    ck_assert_msg((rc > 0) == l->sip, "\"%s\": datagram rc %d", l->text, rc);
}
END_TEST

START_TEST(test_start_lines)
{
    sip_msg_t m;
    static const char s1[] = "SIP/2.0 486 Busy Here\r\n\r\n";
    ck_assert_int_gt(sip_parse(s1, sizeof(s1) - 1, &m), 0);
    ck_assert_uint_eq(m.status_code, 486);
    ck_assert_sv(m.reason, "Busy Here");
    ck_assert(!(m.defects & SIP_DEFECT_BAD_START_LINE));
    static const char s2[] = "SIP/2.0 183\r\n\r\n";
    ck_assert_int_gt(sip_parse(s2, sizeof(s2) - 1, &m), 0);
    ck_assert_uint_eq(m.status_code, 183);
    ck_assert(m.defects & SIP_DEFECT_BAD_START_LINE);
    static const char s3[] = "SIP/2.0 999 Odd\r\n\r\n";
    ck_assert_int_gt(sip_parse(s3, sizeof(s3) - 1, &m), 0);
    ck_assert(m.defects & SIP_DEFECT_BAD_START_LINE);
    static const char s4[] = "SIP/2.0 200 \xc3\xa7"
                             "a va\r\n\r\n";
    ck_assert_int_gt(sip_parse(s4, sizeof(s4) - 1, &m), 0);
    ck_assert_sv(m.reason, "\xc3\xa7"
                           "a va");
    static const char r1[] = "INVITE\tsip:a@b SIP/2.0\r\n\r\n";
    ck_assert_int_gt(sip_parse(r1, sizeof(r1) - 1, &m), 0);
    ck_assert(m.defects & SIP_DEFECT_BAD_START_LINE);
    ck_assert_sv(m.request_uri, "sip:a@b");
    static const char r2[] = "ACK sip:a@b SIP/2.0\r\n\r\n";
    ck_assert_int_gt(sip_parse(r2, sizeof(r2) - 1, &m), 0);
    ck_assert_int_eq(m.method_id, SIP_METHOD_ACK);
    ck_assert_uint_eq(m.defects & (SIP_DEFECT_BAD_START_LINE | SIP_DEFECT_BAD_URI), 0);
    static const char r3[] = "invite sip:a@b SIP/2.0\r\n\r\n"; /* methods are case-sensitive */
    ck_assert_int_gt(sip_parse(r3, sizeof(r3) - 1, &m), 0);
    ck_assert_int_eq(m.method_id, SIP_METHOD_UNKNOWN);
    static const char r4[] = "OPTIONS nocolon SIP/2.0\r\n\r\n";
    ck_assert_int_gt(sip_parse(r4, sizeof(r4) - 1, &m), 0);
    ck_assert(m.defects & SIP_DEFECT_BAD_URI);
}
END_TEST

/* ---- header machinery ------------------------------------------------------------------- */

START_TEST(test_compact_forms)
{
    static const struct {
        const char *name;
        sip_hdr_id_t id;
    } names[] = {
        {"i", SIP_HDR_CALL_ID},
        {"f", SIP_HDR_FROM},
        {"t", SIP_HDR_TO},
        {"v", SIP_HDR_VIA},
        {"m", SIP_HDR_CONTACT},
        {"l", SIP_HDR_CONTENT_LENGTH},
        {"c", SIP_HDR_CONTENT_TYPE},
        {"k", SIP_HDR_SUPPORTED},
        {"s", SIP_HDR_SUBJECT},
        {"e", SIP_HDR_CONTENT_ENCODING},
        {"o", SIP_HDR_EVENT},
        {"u", SIP_HDR_ALLOW_EVENTS},
        {"r", SIP_HDR_REFER_TO},
        {"CALL-ID", SIP_HDR_CALL_ID},
        {"cseq", SIP_HDR_CSEQ},
        {"Max-Forwards", SIP_HDR_MAX_FORWARDS},
        {"user-agent", SIP_HDR_USER_AGENT},
        {"Server", SIP_HDR_SERVER},
        {"Expires", SIP_HDR_EXPIRES},
        {"Authorization", SIP_HDR_AUTHORIZATION},
        {"Proxy-Authorization", SIP_HDR_PROXY_AUTHORIZATION},
        {"WWW-Authenticate", SIP_HDR_WWW_AUTHENTICATE},
        {"Proxy-Authenticate", SIP_HDR_PROXY_AUTHENTICATE},
        {"Route", SIP_HDR_ROUTE},
        {"Record-Route", SIP_HDR_RECORD_ROUTE},
        {"Reason", SIP_HDR_REASON},
        {"Refer-To", SIP_HDR_REFER_TO},
        {"Allow-Events", SIP_HDR_ALLOW_EVENTS},
        {"Event", SIP_HDR_EVENT},
        {"Subject", SIP_HDR_SUBJECT},
        {"Supported", SIP_HDR_SUPPORTED},
        {"Content-Encoding", SIP_HDR_CONTENT_ENCODING},
        {"X", SIP_HDR_OTHER},
        {"Tos", SIP_HDR_OTHER},
        {"Contacts", SIP_HDR_OTHER},
        {"Via-X", SIP_HDR_OTHER},
    };
    for (size_t i = 0; i < N_ELEMS(names); i++) {
        char msg[256];
        int n =
            snprintf(msg, sizeof(msg), "OPTIONS sip:a@b SIP/2.0\r\n%s: x\r\n\r\n", names[i].name);
        ck_assert(n > 0 && (size_t)n < sizeof(msg));
        sip_msg_t m;
        ck_assert_int_eq(sip_parse(msg, (size_t)n, &m), n);
        ck_assert_uint_eq(m.n_hdrs, 1);
        ck_assert_msg(m.hdrs[0].id == names[i].id, "%s: id %d", names[i].name, m.hdrs[0].id);
    }

    /* sv-sip-compact-form.pcap style: the quick fields come from compact names too. */
    static const char msg[] = "INVITE sip:97239287044@voip.example.net SIP/2.0\r\n"
                              "v: SIP/2.0/UDP 192.168.1.2:5060;branch=z9hG4bKnp1;rport\r\n"
                              "f: \"arik\" <sip:816666@voip.example.net>;tag=6433ef9\r\n"
                              "t: <sip:97239287044@voip.example.net>\r\n"
                              "i: 105090259-446faf7a@192.168.1.2\r\n"
                              "CSeq: 1 INVITE\r\n"
                              "m: <sip:816666@192.168.1.2>\r\n"
                              "c: application/sdp\r\n"
                              "l: 4\r\n"
                              "\r\n"
                              "v=0\n";
    sip_msg_t m;
    ck_assert_int_eq(sip_parse(msg, sizeof(msg) - 1, &m), (int)sizeof(msg) - 1);
    ck_assert_uint_eq(m.defects, 0);
    ck_assert_sv(m.call_id, "105090259-446faf7a@192.168.1.2");
    ck_assert_sv(m.from.tag, "6433ef9");
    ck_assert_sv(m.via_branch, "z9hG4bKnp1");
    ck_assert_sv(m.contact, "<sip:816666@192.168.1.2>");
    ck_assert_sv(m.content_type, "application/sdp");
    ck_assert_sv(m.body, "v=0\n");
}
END_TEST

START_TEST(test_folding)
{
    static const char msg[] = "OPTIONS sip:a@b SIP/2.0\r\n"
                              "Via: SIP/2.0/UDP h\r\n\t;branch=z9hG4bK1\r\n"
                              "From:\r\n <sip:a@h>\r\n ;tag=77\r\n"
                              "To: <sip:b@h>\r\n"
                              "Call-ID:\r\n   fold@h\r\n"
                              "CSeq: 1\r\n OPTIONS\r\n"
                              "Subject: one\r\n two\r\n\r\n";
    sip_msg_t m;
    ck_assert_int_eq(sip_parse(msg, sizeof(msg) - 1, &m), (int)sizeof(msg) - 1);
    ck_assert_uint_eq(m.defects, 0);
    ck_assert_sv(m.via_branch, "z9hG4bK1");
    ck_assert_sv(m.from.tag, "77");
    ck_assert_sv(m.call_id, "fold@h");
    ck_assert_uint_eq(m.cseq, 1);
    ck_assert_sv(m.cseq_method, "OPTIONS");
    ck_assert_sv(sip_header_find(&m, SIP_HDR_SUBJECT, NULL)->value, "one\r\n two");
    ck_assert_uint_eq(m.n_hdrs, 6);
}
END_TEST

START_TEST(test_header_defects)
{
    sip_msg_t m;
    static const char noc[] = "OPTIONS sip:a@b SIP/2.0\r\n" MIN_HDRS "Foobar roobar\r\n"
                              ": empty name\r\n\r\n";
    ck_assert_int_gt(sip_parse(noc, sizeof(noc) - 1, &m), 0);
    ck_assert_uint_eq(m.defects, SIP_DEFECT_BAD_HEADER);
    ck_assert_uint_eq(m.n_hdrs, 5);

    static const char mf[] = "OPTIONS sip:a@b SIP/2.0\r\n" MIN_HDRS "Max-Forwards: 256\r\n"
                             "Expires: soon\r\n\r\n";
    ck_assert_int_gt(sip_parse(mf, sizeof(mf) - 1, &m), 0);
    ck_assert_uint_eq(m.defects, SIP_DEFECT_BAD_NUMBER);
    ck_assert_uint_eq(m.max_forwards, UINT32_MAX);
    ck_assert_int_eq(m.expires, -1);

    static const char cs[] = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n"
                             "From: <sip:a@h>\r\nTo: <sip:b@h>\r\nCall-ID: x\r\n"
                             "CSeq: OPTIONS\r\n\r\n";
    ck_assert_int_gt(sip_parse(cs, sizeof(cs) - 1, &m), 0);
    ck_assert_uint_eq(m.defects, SIP_DEFECT_BAD_CSEQ);

    static const char cid[] = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n"
                              "From: <sip:a@h>\r\nTo: <sip:b@h>\r\nCall-ID: a b\r\n"
                              "CSeq: 1 OPTIONS\r\n\r\n";
    ck_assert_int_gt(sip_parse(cid, sizeof(cid) - 1, &m), 0);
    ck_assert_uint_eq(m.defects, SIP_DEFECT_BAD_HEADER);

    static const char via[] = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h,\r\n"
                              "From: <sip:a@h>\r\nTo: <sip:b@h>\r\nCall-ID: x\r\n"
                              "CSeq: 1 OPTIONS\r\n\r\n";
    ck_assert_int_gt(sip_parse(via, sizeof(via) - 1, &m), 0);
    ck_assert_uint_eq(m.defects, SIP_DEFECT_BAD_HEADER);

    static const char none[] = "SIP/2.0 200 OK\r\n\r\n";
    ck_assert_int_gt(sip_parse(none, sizeof(none) - 1, &m), 0);
    ck_assert_uint_eq(m.defects, SIP_DEFECT_NO_CALL_ID | SIP_DEFECT_NO_FROM | SIP_DEFECT_NO_TO |
                                     SIP_DEFECT_NO_CSEQ | SIP_DEFECT_NO_VIA);
    ck_assert_uint_eq(m.n_hdrs, 0);
    ck_assert_int_eq(m.content_length, -1);
}
END_TEST

typedef struct {
    const char *value;
    const char *items; /* '|'-joined */
} list_case_t;

static const list_case_t lists[] = {
    {"a", "a"},
    {"a, b ,c", "a|b|c"},
    {"a,,b", "a||b"},
    {"a,", "a"},
    {",a", "|a"},
    {"", ""},
    {"  ", ""},
    {"\"Doe, John\" <sip:j@x>, <sip:k@y;a=1,2>", "\"Doe, John\" <sip:j@x>|<sip:k@y;a=1,2>"},
    {"SIP/2.0/UDP a;x=\"1,2\", SIP/2.0/TCP b", "SIP/2.0/UDP a;x=\"1,2\"|SIP/2.0/TCP b"},
    {"\"esc \\\", still\" <sip:a@b>,c", "\"esc \\\", still\" <sip:a@b>|c"},
    {"<sip:unclosed, x", "<sip:unclosed, x"},
    {"\"unclosed, x", "\"unclosed, x"},
    {"a,\r\n b", "a|b"},
};

START_TEST(test_list_next)
{
    const list_case_t *c = &lists[_i];
    char out[256] = "";
    size_t used = 0;
    sv_t rest = sv_make(c->value, strlen(c->value)), item;
    int count = 0;
    while (sip_list_next(&rest, &item)) {
        int w = snprintf(out + used, sizeof(out) - used, "%s%.*s", count ? "|" : "", SV_ARG(item));
        ck_assert(w >= 0 && (size_t)w < sizeof(out) - used);
        used += (size_t)w;
        count++;
        ck_assert_int_lt(count, 10);
    }
    ck_assert_str_eq(out, c->items);
    ck_assert(!sip_list_next(&rest, &item));
    sv_t null = SV_NULL;
    ck_assert(!sip_list_next(&null, &item));
}
END_TEST

/* ---- URIs, name-addr, params, Via ------------------------------------------------------- */

typedef struct {
    const char *text;
    bool ok;
    sip_scheme_t scheme;
    const char *user, *password, *host;
    uint16_t port;
    const char *params, *headers;
} uri_case_t;

static const uri_case_t uris[] = {
    {"sip:alice@atlanta.example.com", true, SIP_SCHEME_SIP, "alice", "", "atlanta.example.com", 0,
     "", ""},
    {"SIP:alice:secret@atlanta.example.com:5060;transport=tcp;lr?subject=project&priority=urgent",
     true, SIP_SCHEME_SIP, "alice", "secret", "atlanta.example.com", 5060, "transport=tcp;lr",
     "subject=project&priority=urgent"},
    {"sips:1212@gateway.com", true, SIP_SCHEME_SIPS, "1212", "", "gateway.com", 0, "", ""},
    {"sip:192.0.2.4", true, SIP_SCHEME_SIP, "", "", "192.0.2.4", 0, "", ""},
    {"sip:[2001:db8::1]:5061;maddr=[2001:db8::2]", true, SIP_SCHEME_SIP, "", "", "2001:db8::1",
     5061, "maddr=[2001:db8::2]", ""},
    {"sip:+1-212-555-1212:1234@gateway.com;user=phone", true, SIP_SCHEME_SIP, "+1-212-555-1212",
     "1234", "gateway.com", 0, "user=phone", ""},
    {"sip:alice;day=tuesday@atlanta.com", true, SIP_SCHEME_SIP, "alice;day=tuesday", "",
     "atlanta.com", 0, "", ""},
    {"sip:%61lice@atlanta.com;transport=TCP", true, SIP_SCHEME_SIP, "%61lice", "", "atlanta.com", 0,
     "transport=TCP", ""},
    {"tel:+1-201-555-0123;phone-context=example.com", true, SIP_SCHEME_TEL, "+1-201-555-0123", "",
     "", 0, "phone-context=example.com", ""},
    {"tel:911", true, SIP_SCHEME_TEL, "911", "", "", 0, "", ""},
    {"http://www.example.com:8080/path?q", true, SIP_SCHEME_OTHER, "", "", "www.example.com", 8080,
     "", ""},
    {"urn:service:sos", true, SIP_SCHEME_OTHER, "", "", "", 0, "", ""},
    {"mailto:user@example.com", true, SIP_SCHEME_OTHER, "", "", "", 0, "", ""},
    {"sip:host:65535", true, SIP_SCHEME_SIP, "", "", "host", 65535, "", ""},
    {"sip:host:65536", false, SIP_SCHEME_SIP, NULL, NULL, NULL, 0, NULL, NULL},
    {"sip:host:", false, SIP_SCHEME_SIP, NULL, NULL, NULL, 0, NULL, NULL},
    {"sip:host:5x", false, SIP_SCHEME_SIP, NULL, NULL, NULL, 0, NULL, NULL},
    {"sip:@host", false, SIP_SCHEME_SIP, NULL, NULL, NULL, 0, NULL, NULL},
    {"sip:user@", false, SIP_SCHEME_SIP, NULL, NULL, NULL, 0, NULL, NULL},
    {"sip:", false, SIP_SCHEME_SIP, NULL, NULL, NULL, 0, NULL, NULL},
    {"sip:user@example.com; lr", false, SIP_SCHEME_OTHER, NULL, NULL, NULL, 0, NULL, NULL},
    {"sip:a@b;;lr", false, SIP_SCHEME_SIP, NULL, NULL, NULL, 0, NULL, NULL},
    {"sip:a@b;", false, SIP_SCHEME_SIP, NULL, NULL, NULL, 0, NULL, NULL},
    {"sip:a@b?", false, SIP_SCHEME_SIP, NULL, NULL, NULL, 0, NULL, NULL},
    {"sip:[::1", false, SIP_SCHEME_SIP, NULL, NULL, NULL, 0, NULL, NULL},
    {"sip:[zz::1]", false, SIP_SCHEME_SIP, NULL, NULL, NULL, 0, NULL, NULL},
    {"sip:a@ho$t", false, SIP_SCHEME_SIP, NULL, NULL, NULL, 0, NULL, NULL},
    {"sip:a%4@b", false, SIP_SCHEME_OTHER, NULL, NULL, NULL, 0, NULL, NULL},
    {"sip:a@b>", false, SIP_SCHEME_OTHER, NULL, NULL, NULL, 0, NULL, NULL},
    {"nocolon", false, SIP_SCHEME_OTHER, NULL, NULL, NULL, 0, NULL, NULL},
    {"1sip:a@b", false, SIP_SCHEME_OTHER, NULL, NULL, NULL, 0, NULL, NULL},
    {":a@b", false, SIP_SCHEME_OTHER, NULL, NULL, NULL, 0, NULL, NULL},
    {"", false, SIP_SCHEME_OTHER, NULL, NULL, NULL, 0, NULL, NULL},
    {"tel:", false, SIP_SCHEME_TEL, NULL, NULL, NULL, 0, NULL, NULL},
    {"x:", false, SIP_SCHEME_OTHER, NULL, NULL, NULL, 0, NULL, NULL},
};

START_TEST(test_uri)
{
    const uri_case_t *c = &uris[_i];
    size_t len = strlen(c->text);
    sip_uri_t u;
    bool ok = sip_uri_parse(sv_make(guard_place(c->text, len), len), &u);
    ck_assert_msg(ok == c->ok, "%s: %d", c->text, ok);
    ck_assert_uint_eq(u.raw.len, len);
    if (!c->ok)
        return;
    ck_assert_int_eq(u.scheme, c->scheme);
    ck_assert_sv(u.user, c->user);
    ck_assert_sv(u.password, c->password);
    ck_assert_sv(u.host, c->host);
    ck_assert_uint_eq(u.port, c->port);
    ck_assert_sv(u.params, c->params);
    ck_assert_sv(u.headers, c->headers);
}
END_TEST

typedef struct {
    const char *text;
    bool ok;
    const char *display, *uri, *params, *tag;
} na_case_t;

static const na_case_t nas[] = {
    {"\"Alice\" <sip:alice@a.com>;tag=1928301774", true, "Alice", "sip:alice@a.com",
     "tag=1928301774", "1928301774"},
    {"Bob <sip:bob@b.com>", true, "Bob", "sip:bob@b.com", "", ""},
    {"<sip:c@c.com;transport=tcp>;expires=60;q=0.7", true, "", "sip:c@c.com;transport=tcp",
     "expires=60;q=0.7", ""},
    {"sip:d@d.com;tag=x", true, "", "sip:d@d.com", "tag=x", "x"},
    {"sip:d@d.com ; tag = y ", true, "", "sip:d@d.com", "tag = y", "y"},
    {"A. G. Bell <sip:agb@bell-telephone.com> ;tag=a48s", true, "A. G. Bell",
     "sip:agb@bell-telephone.com", "tag=a48s", "a48s"},
    {"\"\" <tel:+1555>", true, "", "tel:+1555", "", ""},
    {"<sip:e@e.com>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\"", true, "",
     "sip:e@e.com", "+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\"", ""},
    {"<sip:f@[2001:db8::9]>;received=[2001:db8::9]", true, "", "sip:f@[2001:db8::9]",
     "received=[2001:db8::9]", ""},
    /* failures, with what a best effort still gives */
    {"Bell, Alexander <sip:a.g.bell@example.com>;tag=43", false, "Bell, Alexander",
     "sip:a.g.bell@example.com", "tag=43", "43"},
    {"sip:user@example.com?Route=%3Csip:sip.example.com%3E", false, "",
     "sip:user@example.com?Route=%3Csip:sip.example.com%3E", "", ""},
    {"\"Joe\" <sip:joe@example.org>;;;;", false, "Joe", "sip:joe@example.org", ";;;", ""},
    {"\"unterminated <sip:a@b>", false, "", "", "", ""},
    {"\"Q\" sip:a@b", false, "Q", "", "", ""},
    {"<sip:a@b", false, "", "", "", ""},
    {"<sip:a@b> junk", false, "", "sip:a@b", "", ""},
    {"<sip:a@b>;tag=", false, "", "sip:a@b", "tag=", ""},
    {"<sip:a@b>;=x", false, "", "sip:a@b", "=x", ""},
    {"", false, "", "", "", ""},
    {"<>", false, "", "", "", ""},
};

START_TEST(test_nameaddr)
{
    const na_case_t *c = &nas[_i];
    size_t len = strlen(c->text);
    sip_nameaddr_t na;
    bool ok = sip_nameaddr_parse(sv_make(guard_place(c->text, len), len), &na);
    ck_assert_msg(ok == c->ok, "%s: %d", c->text, ok);
    ck_assert_sv(na.display, c->display);
    ck_assert_sv(na.uri.raw, c->uri);
    ck_assert_sv(na.params, c->params);
    ck_assert_sv(na.tag, c->tag);
}
END_TEST

START_TEST(test_param_get)
{
    bool found = true;
    sv_t p = SV_LIT("transport=tcp;lr;Tag = \"a;b\" ; maddr=10.0.0.1;x=");
    ck_assert_sv(sip_param_get(p, "transport", &found), "tcp");
    ck_assert(found);
    ck_assert_sv(sip_param_get(p, "LR", &found), "");
    ck_assert(found);
    ck_assert_sv(sip_param_get(p, "tag", &found), "\"a;b\"");
    ck_assert_sv(sip_param_get(p, "maddr", &found), "10.0.0.1");
    ck_assert_sv(sip_param_get(p, "x", &found), "");
    ck_assert(found);
    ck_assert_uint_eq(sip_param_get(p, "b\"", &found).len, 0);
    ck_assert(!found);
    ck_assert_uint_eq(sip_param_get(p, "trans", &found).len, 0);
    ck_assert(!found);
    ck_assert_uint_eq(sip_param_get(SV_NULL, "tag", &found).len, 0);
    ck_assert(!found);
    ck_assert_uint_eq(sip_param_get(SV_LIT(""), "tag", NULL).len, 0);
}
END_TEST

typedef struct {
    const char *text;
    bool ok;
    const char *transport, *sent_by, *host;
    uint16_t port;
    const char *branch;
} via_case_t;

static const via_case_t vias[] = {
    {"SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds", true, "UDP", "pc33.atlanta.com",
     "pc33.atlanta.com", 0, "z9hG4bK776asdhds"},
    {"SIP/2.0/TCP 192.0.2.1:5060;rport;branch=z9hG4bK1;received=192.0.2.9", true, "TCP",
     "192.0.2.1:5060", "192.0.2.1", 5060, "z9hG4bK1"},
    {"SIP/2.0/TLS [2001:db8::1]:5061;branch=z9hG4bK2", true, "TLS", "[2001:db8::1]:5061",
     "2001:db8::1", 5061, "z9hG4bK2"},
    {"SIP / 2.0 / WSS  df7jal23ls0d.invalid ; branch = z9hG4bK3", true, "WSS",
     "df7jal23ls0d.invalid", "df7jal23ls0d.invalid", 0, "z9hG4bK3"},
    {"SIP/2.0/UDP host : 5070", true, "UDP", "host : 5070", "host", 5070, ""},
    {"SIP/2.0/UDP iftgw.example.com", true, "UDP", "iftgw.example.com", "iftgw.example.com", 0, ""},
    {"SIP/2.0/UDP 192.0.2.15;;", false, "UDP", "192.0.2.15", "192.0.2.15", 0, ""},
    {";", false, "", "", "", 0, ""},
    {"SIP/2.0 host", false, "", "", "", 0, ""},
    {"SIP/2.0/UDP", false, "UDP", "", "", 0, ""},
    {"SIP/2.0/UDP host:99999", false, "UDP", "", "host", 0, ""},
    {"SIP/2.0/UDP host;branch=", false, "UDP", "host", "host", 0, ""},
    {"SIP/2.0/UDP host junk", false, "UDP", "host", "host", 0, ""},
    {"", false, "", "", "", 0, ""},
};

START_TEST(test_via)
{
    const via_case_t *c = &vias[_i];
    size_t len = strlen(c->text);
    sip_via_t v;
    bool ok = sip_via_parse(sv_make(guard_place(c->text, len), len), &v);
    ck_assert_msg(ok == c->ok, "%s: %d", c->text, ok);
    ck_assert_sv(v.transport, c->transport);
    ck_assert_sv(v.sent_by, c->sent_by);
    ck_assert_sv(v.host, c->host);
    ck_assert_uint_eq(v.port, c->port);
    ck_assert_sv(v.branch, c->branch);
    if (ok) {
        ck_assert_sv(v.protocol, "SIP");
        ck_assert_sv(v.version, "2.0");
    }
}
END_TEST

START_TEST(test_methods)
{
    for (int i = 0; i < SIP_METHOD_COUNT; i++) {
        const char *name = sip_method_name((sip_method_t)i);
        ck_assert_ptr_nonnull(name);
        if (i == SIP_METHOD_UNKNOWN)
            continue;
        ck_assert_int_eq(sip_method_from_sv(sv_make(name, strlen(name))), i);
    }
    ck_assert_str_eq(sip_method_name(SIP_METHOD_COUNT), "UNKNOWN");
    ck_assert_str_eq(sip_method_name((sip_method_t)-1), "UNKNOWN");
    ck_assert_int_eq(sip_method_from_sv(SV_LIT("Invite")), SIP_METHOD_UNKNOWN);
    ck_assert_int_eq(sip_method_from_sv(SV_LIT("INVITEX")), SIP_METHOD_UNKNOWN);
    ck_assert_int_eq(sip_method_from_sv(SV_NULL), SIP_METHOD_UNKNOWN);
}
END_TEST

START_TEST(test_header_find)
{
    sip_msg_t m;
    size_t len = strlen(invite_sdp);
    ck_assert_int_gt(sip_parse(invite_sdp, len, &m), 0);
    int n = 0;
    for (const sip_hdr_t *h = sip_header_find(&m, SIP_HDR_VIA, NULL); h;
         h = sip_header_find(&m, SIP_HDR_VIA, h))
        n++;
    ck_assert_int_eq(n, 2);
    ck_assert_ptr_null(sip_header_find(&m, SIP_HDR_REASON, NULL));
    const sip_hdr_t *last = &m.hdrs[m.n_hdrs - 1];
    ck_assert_ptr_null(sip_header_find(&m, last->id, last));
    sip_hdr_t foreign = m.hdrs[0];
    ck_assert_ptr_null(sip_header_find(&m, SIP_HDR_VIA, &foreign));
}
END_TEST

Suite *sip_suite(void)
{
    Suite *s = suite_create("sip");

    TCase *tc = tcase_create("torture");
    tcase_add_loop_test(tc, test_torture_datagram, 0, (int)N_ELEMS(torture));
    tcase_add_loop_test(tc, test_torture_stream, 0, (int)N_ELEMS(torture));
    tcase_add_test(tc, test_torture_details);
    tcase_add_test(tc, test_dblreq);
    suite_add_tcase(s, tc);

    tc = tcase_create("truncation");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_every_prefix, 0, (int)N_ELEMS(corpus));
    suite_add_tcase(s, tc);

    tc = tcase_create("messages");
    tcase_add_test(tc, test_invite_sdp);
    tcase_add_test(tc, test_ok_sdp);
    tcase_add_test(tc, test_register_auth);
    tcase_add_test(tc, test_stream_concat);
    tcase_add_test(tc, test_stream_keepalive);
    tcase_add_test(tc, test_bare_lf);
    tcase_add_test(tc, test_bare_cr_start_line);
    tcase_add_test(tc, test_start_lines);
    tcase_add_loop_test(tc, test_looks_like, 0, (int)N_ELEMS(looks));
    suite_add_tcase(s, tc);

    tc = tcase_create("absurd");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_huge_content_length);
    tcase_add_test(tc, test_bad_content_length);
    tcase_add_test(tc, test_many_headers);
    tcase_add_test(tc, test_long_line);
    tcase_add_test(tc, test_nuls);
    tcase_add_test(tc, test_missing_crlf);
    tcase_add_test(tc, test_junk);
    suite_add_tcase(s, tc);

    tc = tcase_create("headers");
    tcase_add_test(tc, test_compact_forms);
    tcase_add_test(tc, test_folding);
    tcase_add_test(tc, test_header_defects);
    tcase_add_loop_test(tc, test_list_next, 0, (int)N_ELEMS(lists));
    tcase_add_loop_test(tc, test_uri, 0, (int)N_ELEMS(uris));
    tcase_add_loop_test(tc, test_nameaddr, 0, (int)N_ELEMS(nas));
    tcase_add_test(tc, test_param_get);
    tcase_add_loop_test(tc, test_via, 0, (int)N_ELEMS(vias));
    tcase_add_test(tc, test_methods);
    tcase_add_test(tc, test_header_find);
    suite_add_tcase(s, tc);
    return s;
}
