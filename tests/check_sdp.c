/* check_sdp: SDP parser on real offers, RFC examples, odd whitespace, caps and broken input. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "sdp.h"
#include "testdata.h"

/* samples/small.pcap frame 1 (simcalls): an IPv6 opus offer. */
static const char sdp_simcalls_v6[] =
    "v=0\r\n"
    "o=15553058216 3500045962 3500045962 IN IP6 2001:db8:1::e3\r\n"
    "s=SIP Call\r\n"
    "c=IN IP6 2001:db8:1::e3\r\n"
    "t=0 0\r\n"
    "m=audio 10930 RTP/AVP 111 101\r\n"
    "a=rtpmap:111 opus/48000/2\r\n"
    "a=fmtp:111 useinbandfec=1\r\n"
    "a=rtpmap:101 telephone-event/48000\r\n"
    "a=fmtp:101 0-16\r\n"
    "a=ptime:20\r\n"
    "a=sendrecv\r\n";

/* samples/small.pcap frame 1200: an offer with ICE (8 candidates there, 3 kept here). */
static const char sdp_simcalls_ice[] =
    "v=0\r\n"
    "o=15550967684 1538056168 1538056168 IN IP4 192.0.2.12\r\n"
    "s=SIP Call\r\n"
    "c=IN IP4 192.0.2.12\r\n"
    "t=0 0\r\n"
    "m=audio 49300 RTP/AVP 111 101\r\n"
    "a=rtpmap:111 opus/48000/2\r\n"
    "a=fmtp:111 useinbandfec=1\r\n"
    "a=rtpmap:101 telephone-event/48000\r\n"
    "a=fmtp:101 0-16\r\n"
    "a=ptime:20\r\n"
    "a=sendrecv\r\n"
    "a=ice-ufrag:ec0c5173\r\n"
    "a=ice-pwd:38e7483d30f980e16780a22f\r\n"
    "a=candidate:1 1 UDP 2130706431 192.0.2.12 49300 typ host generation 0\r\n"
    "a=candidate:2 1 UDP 2130706175 192.0.2.12 49302 typ host generation 0\r\n"
    "a=candidate:3 1 UDP 2130705919 192.0.2.12 49304 typ host generation 0\r\n";

/* RFC 8866 5 example, with the video moved to IPv6 by a media-level c=. */
static const char sdp_rfc8866[] = "v=0\r\n"
                                  "o=jdoe 3724394400 3724394405 IN IP4 198.51.100.1\r\n"
                                  "s=Call to John Smith\r\n"
                                  "i=SDP Offer #1\r\n"
                                  "u=http://www.jdoe.example.com/home.html\r\n"
                                  "e=Jane Doe <jane@jdoe.example.com>\r\n"
                                  "p=+1 617 555-6011\r\n"
                                  "c=IN IP4 198.51.100.1\r\n"
                                  "t=0 0\r\n"
                                  "m=audio 49170 RTP/AVP 0\r\n"
                                  "m=audio 49180 RTP/AVP 0\r\n"
                                  "m=video 51372 RTP/AVP 99\r\n"
                                  "c=IN IP6 2001:db8::2\r\n"
                                  "a=rtpmap:99 h263-1998/90000\r\n";

/* Built: every feature at once. Leading blank line, multicast c= with TTL and count, session
 * direction and ptime, port/count, fmtp before its rtpmap, fmtp for a static type without
 * rtpmap, channels, RFC 3605 rtcp with an address, rtcp-mux, unknown lines, a rejected stream,
 * a T.38 stream, "20.0" ptime, no final line end. */
static const char sdp_everything[] = "\r\n"
                                     "v=0\r\n"
                                     "o=- 20518 0 IN IP4 203.0.113.1\r\n"
                                     "s= \r\n"
                                     "c=IN IP4 224.2.1.1/127/3\r\n"
                                     "t=0 0\r\n"
                                     "a=sendonly\r\n"
                                     "a=ptime:30\r\n"
                                     "b=AS:64\r\n"
                                     "z=2882844526 -1h 2898848070 0\r\n"
                                     "m=audio 49170/2 RTP/AVP 96 0 8 97 101 dynamic\r\n"
                                     "a=fmtp:96 mode=20\r\n"
                                     "a=rtpmap:96 iLBC/8000\r\n"
                                     "a=rtpmap:97 L16/16000/2\r\n"
                                     "a=rtpmap:101 telephone-event/8000\r\n"
                                     "a=fmtp:101 0-15\r\n"
                                     "a=fmtp:8 foo=bar; baz=1\r\n"
                                     "a=rtpmap:96 SHOULD-BE-IGNORED/1\r\n"
                                     "a=rtcp:53020 IN IP6 2001:db8::7\r\n"
                                     "a=rtcp-mux\r\n"
                                     "a=recvonly\r\n"
                                     "a=x-unknown:whatever\r\n"
                                     "k=prompt\r\n"
                                     "m=video 0 RTP/AVP 31\r\n"
                                     "m=image 54111 udptl t38\r\n"
                                     "c=IN IP6 2001:db8::9\r\n"
                                     "a=T38FaxVersion:0\r\n"
                                     "a=inactive\r\n"
                                     "m=audio 5004 RTP/AVP 0\r\n"
                                     "c=IN IP4 192.0.2.10\r\n"
                                     "c=IN IP4 192.0.2.11\r\n"
                                     "a=rtcp:5005\r\n"
                                     "a=ptime:20.0";

/* Built: LF line ends, tabs and runs of blanks, blank lines, trailing blanks, odd case. */
static const char sdp_whitespace[] = "  v=0  \n"
                                     "o=alice  2890844526\t2890844526 IN IP4 192.0.2.101\n"
                                     "s=-\n"
                                     "c=in  ip4\t192.0.2.101 \n"
                                     "t=0 0\n"
                                     "\n"
                                     "m=audio\t49172  RTP/AVP   0  101 \r\n"
                                     "\t\n"
                                     "a=rtpmap: 101   telephone-event/8000 \n"
                                     "a=RTPMAP:0 PCMU/8000\n"
                                     "a=SendOnly\n"
                                     "a=ptime: 20\n"
                                     "a=fmtp:101\t0-15\n";

static const struct {
    const char *name;
    const char *text;
    size_t len;
} samples[] = {
    {"simcalls_v6", sdp_simcalls_v6, sizeof(sdp_simcalls_v6) - 1},
    {"simcalls_ice", sdp_simcalls_ice, sizeof(sdp_simcalls_ice) - 1},
    {"rfc8866", sdp_rfc8866, sizeof(sdp_rfc8866) - 1},
    {"everything", sdp_everything, sizeof(sdp_everything) - 1},
    {"whitespace", sdp_whitespace, sizeof(sdp_whitespace) - 1},
};
#define N_SAMPLES (sizeof(samples) / sizeof(samples[0]))

/* sdp_t is large (about 27 KB): keep it off the test's stack. */
static sdp_t sdp;

static int parse_guarded(const char *text, size_t len, sdp_t *out)
{
    const char *g = guard_place(text, len);
    return sdp_parse(g, len, out);
}

static int parse_str(const char *text)
{
    return parse_guarded(text, strlen(text), &sdp);
}

static void assert_sv(sv_t v, const char *lit)
{
    ck_assert_msg(v.len == strlen(lit) && (v.len == 0 || memcmp(v.p, lit, v.len) == 0),
                  "'%.*s' != '%s'", SV_ARG(v), lit);
}

static void assert_addr(const net_addr_t *a, const char *text)
{
    char buf[NET_ADDR_STRLEN];
    if (text == NULL) {
        ck_assert_msg(a->family == 0, "address %s", net_addr_str(a, buf, sizeof(buf)));
        return;
    }
    ck_assert_str_eq(net_addr_str(a, buf, sizeof(buf)), text);
}

static void assert_rtpmap(const sdp_media_t *m, uint8_t pt, const char *enc, uint32_t clock,
                          uint8_t channels, const char *fmtp)
{
    const sdp_rtpmap_t *r = sdp_rtpmap_find(m, pt);
    ck_assert_msg(r != NULL, "no rtpmap %u", pt);
    ck_assert_uint_eq(r->payload_type, pt);
    assert_sv(r->encoding, enc);
    ck_assert_uint_eq(r->clock_rate, clock);
    ck_assert_uint_eq(r->channels, channels);
    assert_sv(r->fmtp, fmtp);
}

/* Every view lies inside [buf, buf + len) (empty ones may be anywhere). */
static bool sv_inside(sv_t v, const char *buf, size_t len)
{
    return v.len == 0 || (v.p >= buf && v.p + v.len <= buf + len);
}

static void assert_views_inside(const sdp_t *s, const char *buf, size_t len)
{
    ck_assert(sv_inside(s->origin_user, buf, len));
    ck_assert(sv_inside(s->session_id, buf, len));
    ck_assert(sv_inside(s->session_name, buf, len));
    ck_assert_uint_le(s->n_media, SDP_MAX_MEDIA);
    for (size_t i = 0; i < s->n_media; i++) {
        const sdp_media_t *m = &s->media[i];
        ck_assert(sv_inside(m->media, buf, len));
        ck_assert(sv_inside(m->proto, buf, len));
        ck_assert_uint_le(m->n_formats, SDP_MAX_FORMATS);
        ck_assert_uint_le(m->n_rtpmaps, SDP_MAX_RTPMAPS);
        for (size_t k = 0; k < m->n_rtpmaps; k++) {
            ck_assert(sv_inside(m->rtpmaps[k].encoding, buf, len));
            ck_assert(sv_inside(m->rtpmaps[k].fmtp, buf, len));
            ck_assert_uint_le(m->rtpmaps[k].payload_type, 127);
        }
    }
}

START_TEST(test_simcalls_v6)
{
    ck_assert_int_eq(parse_guarded(sdp_simcalls_v6, sizeof(sdp_simcalls_v6) - 1, &sdp), SDP_OK);
    assert_sv(sdp.origin_user, "15553058216");
    assert_sv(sdp.session_id, "3500045962");
    assert_sv(sdp.session_name, "SIP Call");
    assert_addr(&sdp.conn, "2001:db8:1::e3");
    ck_assert_uint_eq(sdp.n_media, 1);
    ck_assert(!sdp.truncated_media);
    const sdp_media_t *m = &sdp.media[0];
    assert_sv(m->media, "audio");
    ck_assert_uint_eq(m->port, 10930);
    ck_assert_uint_eq(m->port_count, 1);
    assert_sv(m->proto, "RTP/AVP");
    ck_assert_uint_eq(m->n_formats, 2);
    ck_assert_uint_eq(m->formats[0], 111);
    ck_assert_uint_eq(m->formats[1], 101);
    assert_addr(&m->conn, "2001:db8:1::e3");
    ck_assert_uint_eq(m->n_rtpmaps, 2);
    assert_rtpmap(m, 111, "opus", 48000, 2, "useinbandfec=1");
    assert_rtpmap(m, 101, "telephone-event", 48000, 1, "0-16");
    ck_assert_uint_eq(m->ptime, 20);
    ck_assert_int_eq(m->dir, SDP_DIR_SENDRECV);
    ck_assert_uint_eq(m->rtcp_port, 0);
    ck_assert_uint_eq(m->rtcp_addr.family, 0);
    ck_assert(!m->rtcp_mux && !m->truncated);
    ck_assert_ptr_null(sdp_rtpmap_find(m, 0));
}
END_TEST

START_TEST(test_simcalls_ice)
{
    ck_assert_int_eq(parse_guarded(sdp_simcalls_ice, sizeof(sdp_simcalls_ice) - 1, &sdp), SDP_OK);
    ck_assert_uint_eq(sdp.n_media, 1);
    const sdp_media_t *m = &sdp.media[0];
    ck_assert_uint_eq(m->port, 49300);
    assert_addr(&m->conn, "192.0.2.12");
    ck_assert_uint_eq(m->n_rtpmaps, 2);
    assert_rtpmap(m, 111, "opus", 48000, 2, "useinbandfec=1");
    ck_assert_int_eq(m->dir, SDP_DIR_SENDRECV);
}
END_TEST

START_TEST(test_rfc8866)
{
    ck_assert_int_eq(parse_guarded(sdp_rfc8866, sizeof(sdp_rfc8866) - 1, &sdp), SDP_OK);
    assert_sv(sdp.origin_user, "jdoe");
    assert_sv(sdp.session_id, "3724394400");
    assert_sv(sdp.session_name, "Call to John Smith");
    ck_assert_uint_eq(sdp.n_media, 3);
    ck_assert_uint_eq(sdp.media[0].port, 49170);
    ck_assert_uint_eq(sdp.media[1].port, 49180);
    assert_addr(&sdp.media[0].conn, "198.51.100.1");
    assert_addr(&sdp.media[1].conn, "198.51.100.1");
    const sdp_media_t *v = &sdp.media[2];
    assert_sv(v->media, "video");
    ck_assert_uint_eq(v->port, 51372);
    assert_addr(&v->conn, "2001:db8::2");
    assert_rtpmap(v, 99, "h263-1998", 90000, 1, "");
    ck_assert_int_eq(v->dir, SDP_DIR_UNSET);
    ck_assert_str_eq(sdp_dir_name(v->dir), "sendrecv");
    ck_assert_uint_eq(v->ptime, 0);
}
END_TEST

START_TEST(test_everything)
{
    ck_assert_int_eq(parse_guarded(sdp_everything, sizeof(sdp_everything) - 1, &sdp), SDP_OK);
    assert_sv(sdp.origin_user, "-");
    assert_sv(sdp.session_id, "20518");
    assert_sv(sdp.session_name, "");
    assert_addr(&sdp.conn, "224.2.1.1");
    ck_assert_int_eq(sdp.dir, SDP_DIR_SENDONLY);
    ck_assert_uint_eq(sdp.ptime, 30);
    ck_assert_uint_eq(sdp.n_media, 4);

    const sdp_media_t *a = &sdp.media[0];
    ck_assert_uint_eq(a->port, 49170);
    ck_assert_uint_eq(a->port_count, 2);
    ck_assert_uint_eq(a->n_formats, 5); /* "dynamic" is not a payload type */
    static const uint8_t fmts[] = {96, 0, 8, 97, 101};
    ck_assert_mem_eq(a->formats, fmts, sizeof(fmts));
    assert_addr(&a->conn, "224.2.1.1");
    ck_assert_uint_eq(a->n_rtpmaps, 4);
    assert_rtpmap(a, 96, "iLBC", 8000, 1, "mode=20");
    assert_rtpmap(a, 97, "L16", 16000, 2, "");
    assert_rtpmap(a, 101, "telephone-event", 8000, 1, "0-15");
    assert_rtpmap(a, 8, "", 0, 1, "foo=bar; baz=1");
    ck_assert_uint_eq(a->rtcp_port, 53020);
    assert_addr(&a->rtcp_addr, "2001:db8::7");
    ck_assert(a->rtcp_mux);
    ck_assert_int_eq(a->dir, SDP_DIR_RECVONLY);
    ck_assert_uint_eq(a->ptime, 30); /* from the session */

    const sdp_media_t *v = &sdp.media[1];
    assert_sv(v->media, "video");
    ck_assert_uint_eq(v->port, 0);
    ck_assert_int_eq(v->dir, SDP_DIR_SENDONLY); /* from the session */
    assert_addr(&v->conn, "224.2.1.1");
    ck_assert(!v->rtcp_mux);

    const sdp_media_t *t = &sdp.media[2];
    assert_sv(t->media, "image");
    assert_sv(t->proto, "udptl");
    ck_assert_uint_eq(t->n_formats, 0);
    assert_addr(&t->conn, "2001:db8::9");
    ck_assert_int_eq(t->dir, SDP_DIR_INACTIVE);

    const sdp_media_t *last = &sdp.media[3];
    assert_addr(&last->conn, "192.0.2.10"); /* the first c= of a level wins */
    ck_assert_uint_eq(last->rtcp_port, 5005);
    ck_assert_uint_eq(last->rtcp_addr.family, 0);
    ck_assert_uint_eq(last->ptime, 20);
    ck_assert_uint_eq(last->n_rtpmaps, 0);
}
END_TEST

START_TEST(test_whitespace)
{
    ck_assert_int_eq(parse_guarded(sdp_whitespace, sizeof(sdp_whitespace) - 1, &sdp), SDP_OK);
    assert_sv(sdp.origin_user, "alice");
    assert_sv(sdp.session_id, "2890844526");
    assert_addr(&sdp.conn, "192.0.2.101");
    ck_assert_uint_eq(sdp.n_media, 1);
    const sdp_media_t *m = &sdp.media[0];
    ck_assert_uint_eq(m->port, 49172);
    assert_sv(m->proto, "RTP/AVP");
    ck_assert_uint_eq(m->n_formats, 2);
    assert_rtpmap(m, 101, "telephone-event", 8000, 1, "0-15");
    assert_rtpmap(m, 0, "PCMU", 8000, 1, "");
    ck_assert_int_eq(m->dir, SDP_DIR_SENDONLY);
    ck_assert_uint_eq(m->ptime, 20);
}
END_TEST

/* Line-end variants of one body must all parse the same. */
START_TEST(test_line_ends)
{
    static const char *variants[] = {
        "v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 8000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n",
        "v=0\nc=IN IP4 192.0.2.1\nm=audio 8000 RTP/AVP 0\na=rtpmap:0 PCMU/8000\n",
        "v=0\nc=IN IP4 192.0.2.1\r\nm=audio 8000 RTP/AVP 0\na=rtpmap:0 PCMU/8000",
        ("v=0\r\n\r\nc=IN IP4 192.0.2.1\r\n\r\nm=audio 8000 RTP/AVP 0\r\na=rtpmap:0 "
         "PCMU/8000\r\n\r\n"),
        "v=0 \t\r\nc=IN IP4 192.0.2.1 \r\nm=audio 8000 RTP/AVP 0 \r\na=rtpmap:0 PCMU/8000 \r\n",
    };
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
        ck_assert_int_eq(parse_str(variants[i]), SDP_OK);
        ck_assert_uint_eq(sdp.n_media, 1);
        assert_addr(&sdp.media[0].conn, "192.0.2.1");
        ck_assert_uint_eq(sdp.media[0].port, 8000);
        assert_rtpmap(&sdp.media[0], 0, "PCMU", 8000, 1, "");
    }
}
END_TEST

/* Direction: media-level overrides the session default; UNSET only when neither speaks. */
static const struct {
    const char *session, *media;
    sdp_dir_t want;
} dirs[] = {
    {"", "", SDP_DIR_UNSET},
    {"a=sendrecv\r\n", "", SDP_DIR_SENDRECV},
    {"a=inactive\r\n", "", SDP_DIR_INACTIVE},
    {"", "a=sendonly\r\n", SDP_DIR_SENDONLY},
    {"a=sendonly\r\n", "a=recvonly\r\n", SDP_DIR_RECVONLY},
    {"a=recvonly\r\n", "a=sendrecv\r\n", SDP_DIR_SENDRECV},
    {"a=sendrecv\r\n", "a=inactive\r\n", SDP_DIR_INACTIVE},
};

START_TEST(test_direction)
{
    char buf[256];
    int n = snprintf(buf, sizeof(buf), "v=0\r\n%sm=audio 1 RTP/AVP 0\r\n%s", dirs[_i].session,
                     dirs[_i].media);
    ck_assert(n > 0 && (size_t)n < sizeof(buf));
    ck_assert_int_eq(parse_str(buf), SDP_OK);
    ck_assert_int_eq(sdp.media[0].dir, dirs[_i].want);
}
END_TEST

START_TEST(test_dir_names)
{
    ck_assert_str_eq(sdp_dir_name(SDP_DIR_UNSET), "sendrecv");
    ck_assert_str_eq(sdp_dir_name(SDP_DIR_SENDRECV), "sendrecv");
    ck_assert_str_eq(sdp_dir_name(SDP_DIR_SENDONLY), "sendonly");
    ck_assert_str_eq(sdp_dir_name(SDP_DIR_RECVONLY), "recvonly");
    ck_assert_str_eq(sdp_dir_name(SDP_DIR_INACTIVE), "inactive");
    ck_assert_str_eq(sdp_dir_name((sdp_dir_t)99), "?");
}
END_TEST

/* Not SDP at all. */
static const char *const not_sdp[] = {
    "",
    "\r\n",
    " \r\n\t\n",
    "v=",
    "v=1\r\n",
    "v=00\r\n",
    "v=0x\r\n",
    "V=0\r\n",
    "x=0\r\n",
    "o=- 1 1 IN IP4 192.0.2.1\r\nv=0\r\n",
    "INVITE sip:bob@example.com SIP/2.0\r\n",
    "<audio>\r\n <pcmu port=\"443\"/>\r\n</audio>\r\n",
};

START_TEST(test_not_sdp)
{
    ck_assert_int_eq(parse_str(not_sdp[_i]), SDP_INVALID);
}
END_TEST

/* A broken m= line opens a section that is skipped: its a= and c= must not land on the media
 * before it. */
static const char *const bad_m[] = {
    "m=",
    "m=audio",
    "m=audio 1000",
    "m=audio x RTP/AVP 0",
    "m=audio -1 RTP/AVP 0",
    "m=audio 65536 RTP/AVP 0",
    "m=audio 1000/0 RTP/AVP 0",
    "m=audio 1000/x RTP/AVP 0",
    "m=audio 1000/ RTP/AVP 0",
    "m=audio /2 RTP/AVP 0",
    "m=audio 99999999999999999999 RTP/AVP 0",
};

START_TEST(test_bad_media_line)
{
    char buf[512];
    int n = snprintf(buf, sizeof(buf),
                     "v=0\r\nm=audio 1000 RTP/AVP 0\r\n%s\r\nc=IN IP4 192.0.2.9\r\n"
                     "a=rtpmap:0 PCMA/8000\r\na=sendonly\r\na=rtcp-mux\r\na=ptime:40\r\n"
                     "m=video 2000 RTP/AVP 31\r\n",
                     bad_m[_i]);
    ck_assert(n > 0 && (size_t)n < sizeof(buf));
    ck_assert_int_eq(parse_str(buf), SDP_OK);
    ck_assert_uint_eq(sdp.n_media, 2);
    const sdp_media_t *m = &sdp.media[0];
    ck_assert_uint_eq(m->port, 1000);
    ck_assert_uint_eq(m->n_rtpmaps, 0);
    ck_assert_int_eq(m->dir, SDP_DIR_UNSET);
    ck_assert(!m->rtcp_mux);
    ck_assert_uint_eq(m->ptime, 0);
    ck_assert_uint_eq(m->conn.family, 0);
    ck_assert_uint_eq(sdp.media[1].port, 2000);
}
END_TEST

/* A broken c= line is ignored; the session-level one still applies. */
static const char *const bad_c[] = {
    "c=",
    "c=IN",
    "c=IN IP4",
    "c=IN IP4 /127",
    "c=IN IP4 999.1.1.1",
    "c=IN IP4 1.2.3",
    "c=IN IP4 host.example.com",
    "c=XX IP4 192.0.2.7",
    "c=IN IP5 192.0.2.7",
    "c=IN IP6 2001:db8::1::2",
    "c=IN IP4 192.0.2.7.1",
    "c=IN IP4 [192.0.2.7",
};

START_TEST(test_bad_conn_line)
{
    char buf[512];
    int n = snprintf(buf, sizeof(buf),
                     "v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 1000 RTP/AVP 0\r\n%s\r\n", bad_c[_i]);
    ck_assert(n > 0 && (size_t)n < sizeof(buf));
    ck_assert_int_eq(parse_str(buf), SDP_OK);
    assert_addr(&sdp.media[0].conn, "192.0.2.1");
    /* ... and at session level, nothing. */
    n = snprintf(buf, sizeof(buf), "v=0\r\n%s\r\nm=audio 1000 RTP/AVP 0\r\n", bad_c[_i]);
    ck_assert(n > 0 && (size_t)n < sizeof(buf));
    ck_assert_int_eq(parse_str(buf), SDP_OK);
    assert_addr(&sdp.conn, NULL);
    assert_addr(&sdp.media[0].conn, NULL);
}
END_TEST

/* Broken attributes are ignored one by one. */
static const char *const bad_a[] = {
    "a=rtpmap:",
    "a=rtpmap:0",
    "a=rtpmap:128 X/8000",
    "a=rtpmap:x PCMU/8000",
    "a=rtpmap:0 /8000",
    "a=fmtp:",
    "a=fmtp:999 a=b",
    "a=ptime:",
    "a=ptime:abc",
    "a=ptime:0",
    "a=rtcp:",
    "a=rtcp:70000",
    "a=rtcp:x IN IP4 192.0.2.1",
    "a=",
    "a=:",
    "a=sendonlyx",
};

START_TEST(test_bad_attr_line)
{
    char buf[512];
    int n = snprintf(buf, sizeof(buf), "v=0\r\nm=audio 1000 RTP/AVP 0\r\n%s\r\n", bad_a[_i]);
    ck_assert(n > 0 && (size_t)n < sizeof(buf));
    ck_assert_int_eq(parse_str(buf), SDP_OK);
    const sdp_media_t *m = &sdp.media[0];
    ck_assert_uint_eq(m->n_rtpmaps, 0);
    ck_assert_uint_eq(m->ptime, 0);
    ck_assert_uint_eq(m->rtcp_port, 0);
    ck_assert_int_eq(m->dir, SDP_DIR_UNSET);
}
END_TEST

START_TEST(test_rtpmap_odd)
{
    /* No clock rate (the torture tests' "LPC"), bad clock, bad channels: the name is kept. */
    ck_assert_int_eq(parse_str("v=0\r\nm=audio 1 RTP/AVP 31 96 97\r\n"
                               "a=rtpmap:31 LPC\r\n"
                               "a=rtpmap:96 X/abc\r\n"
                               "a=rtpmap:97 Y/8000/0\r\n"),
                     SDP_OK);
    const sdp_media_t *m = &sdp.media[0];
    assert_rtpmap(m, 31, "LPC", 0, 1, "");
    assert_rtpmap(m, 96, "X", 0, 1, "");
    assert_rtpmap(m, 97, "Y", 8000, 1, "");
    /* rtpmap at session level has nowhere to go. */
    ck_assert_int_eq(
        parse_str("v=0\r\na=rtpmap:0 PCMU/8000\r\na=rtcp-mux\r\nm=audio 1 RTP/AVP 0\r\n"), SDP_OK);
    ck_assert_uint_eq(sdp.media[0].n_rtpmaps, 0);
    ck_assert(!sdp.media[0].rtcp_mux);
    /* A second fmtp for the same type keeps the first. */
    ck_assert_int_eq(parse_str("v=0\r\nm=audio 1 RTP/AVP 0\r\na=fmtp:0 a=1\r\na=fmtp:0 b=2\r\n"),
                     SDP_OK);
    assert_rtpmap(&sdp.media[0], 0, "", 0, 1, "a=1");
    /* Session o= and s= are the first ones; those under m= are ignored. */
    ck_assert_int_eq(parse_str("v=0\r\no=a 1 1 IN IP4 192.0.2.1\r\no=b 2 2 IN IP4 192.0.2.2\r\n"
                               "s=one\r\nm=audio 1 RTP/AVP 0\r\ns=two\r\n"),
                     SDP_OK);
    assert_sv(sdp.origin_user, "a");
    assert_sv(sdp.session_name, "one");
}
END_TEST

/* Caps: SDP_MAX_MEDIA m= lines, SDP_MAX_FORMATS formats, SDP_MAX_RTPMAPS rtpmaps. */
START_TEST(test_caps)
{
    static char buf[16384];
    size_t off = 0;
#define APPEND(...)                                                                                \
    do {                                                                                           \
        int n_ = snprintf(buf + off, sizeof(buf) - off, __VA_ARGS__);                              \
        ck_assert(n_ > 0 && (size_t)n_ < sizeof(buf) - off);                                       \
        off += (size_t)n_;                                                                         \
    } while (0)

    APPEND("v=0\r\nc=IN IP4 192.0.2.1\r\n");
    for (unsigned i = 0; i < SDP_MAX_MEDIA + 2; i++) {
        APPEND("m=audio %u RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n", 1000 + i);
        if (i >= SDP_MAX_MEDIA - 1)
            APPEND("a=ptime:%u\r\n", 10 + i); /* only the last kept one may take it */
    }
    ck_assert_int_eq(parse_guarded(buf, off, &sdp), SDP_OK);
    ck_assert_uint_eq(sdp.n_media, SDP_MAX_MEDIA);
    ck_assert(sdp.truncated_media);
    ck_assert_uint_eq(sdp.media[SDP_MAX_MEDIA - 1].port, 1000 + SDP_MAX_MEDIA - 1);
    ck_assert_uint_eq(sdp.media[SDP_MAX_MEDIA - 1].ptime, 10 + SDP_MAX_MEDIA - 1);
    ck_assert_uint_eq(sdp.media[SDP_MAX_MEDIA - 1].n_rtpmaps, 1);

    /* Exactly SDP_MAX_MEDIA: not truncated. */
    off = 0;
    APPEND("v=0\r\n");
    for (unsigned i = 0; i < SDP_MAX_MEDIA; i++)
        APPEND("m=audio %u RTP/AVP 0\r\n", 1000 + i);
    ck_assert_int_eq(parse_guarded(buf, off, &sdp), SDP_OK);
    ck_assert_uint_eq(sdp.n_media, SDP_MAX_MEDIA);
    ck_assert(!sdp.truncated_media);

    /* Formats and rtpmaps over their caps. */
    off = 0;
    APPEND("v=0\r\nm=audio 1000 RTP/AVP");
    for (unsigned pt = 0; pt < SDP_MAX_FORMATS + 5; pt++)
        APPEND(" %u", 60 + pt);
    APPEND("\r\n");
    for (unsigned pt = 0; pt < SDP_MAX_RTPMAPS + 5; pt++)
        APPEND("a=rtpmap:%u X%u/8000\r\n", 60 + pt, pt);
    APPEND("a=rtcp-mux\r\n");
    ck_assert_int_eq(parse_guarded(buf, off, &sdp), SDP_OK);
    const sdp_media_t *m = &sdp.media[0];
    ck_assert_uint_eq(m->n_formats, SDP_MAX_FORMATS);
    ck_assert_uint_eq(m->n_rtpmaps, SDP_MAX_RTPMAPS);
    ck_assert(m->truncated);
    ck_assert(m->rtcp_mux);
    ck_assert_ptr_nonnull(sdp_rtpmap_find(m, 60 + SDP_MAX_RTPMAPS - 1));
    ck_assert_ptr_null(sdp_rtpmap_find(m, 60 + SDP_MAX_RTPMAPS));

    /* Exactly at the caps: not truncated. */
    off = 0;
    APPEND("v=0\r\nm=audio 1000 RTP/AVP");
    for (unsigned pt = 0; pt < SDP_MAX_FORMATS; pt++)
        APPEND(" %u", 60 + pt);
    APPEND("\r\n");
    for (unsigned pt = 0; pt < SDP_MAX_RTPMAPS; pt++)
        APPEND("a=rtpmap:%u X%u/8000\r\na=fmtp:%u p=%u\r\n", 60 + pt, pt, 60 + pt, pt);
    ck_assert_int_eq(parse_guarded(buf, off, &sdp), SDP_OK);
    ck_assert(!sdp.media[0].truncated);
    ck_assert_uint_eq(sdp.media[0].n_rtpmaps, SDP_MAX_RTPMAPS);
#undef APPEND
}
END_TEST

/* Every prefix of every sample: SDP_OK once "v=0" is in, every view inside the prefix, never
 * more media than the whole body has. The guard page catches over-reads. */
START_TEST(test_every_prefix)
{
    const char *full = samples[_i].text;
    size_t len = samples[_i].len;
    static sdp_t whole;
    ck_assert_int_eq(sdp_parse(full, len, &whole), SDP_OK);
    const char *v0 = strstr(full, "v=0");
    ck_assert_ptr_nonnull(v0);
    size_t ok_from = (size_t)(v0 - full) + 3;
    size_t last_media = 0;
    for (size_t n = 0; n <= len; n++) {
        const char *g = guard_place(full, n);
        int rc = sdp_parse(g, n, &sdp);
        ck_assert_msg(rc == (n >= ok_from ? SDP_OK : SDP_INVALID), "%s/%zu", samples[_i].name, n);
        if (rc != SDP_OK)
            continue;
        assert_views_inside(&sdp, g, n);
        ck_assert_uint_le(sdp.n_media, whole.n_media);
        ck_assert_uint_ge(sdp.n_media, last_media);
        last_media = sdp.n_media;
    }
    ck_assert_uint_eq(last_media, whole.n_media);
    guard_release();
}
END_TEST

/* RFC 4475 torture messages (tests/data/sip-torture): bodies parse; whole messages are not SDP. */
static const struct {
    const char *file;
    int rc;
    size_t n_media;
    const char *conn;
} torture[] = {
    {"sdp01.dat", SDP_OK, 2, "192.0.2.5"},      {"inv2543.dat", SDP_OK, 1, "192.0.2.5"},
    {"mismatch02.dat", SDP_OK, 2, "192.0.2.1"}, {"multi01.dat", SDP_OK, 2, "192.0.2.25"},
    {"lwsstart.dat", SDP_OK, 2, "192.0.2.1"},   {"wsinv.dat", SDP_OK, 2, "192.0.2.4"},
    {"badinv01.dat", SDP_OK, 2, NULL},          {"clerr.dat", SDP_OK, 2, NULL},
    {"escruri.dat", SDP_OK, 2, NULL},           {"insuf.dat", SDP_OK, 2, NULL},
    {"lwsruri.dat", SDP_OK, 2, NULL},           {"test.dat", SDP_OK, 0, NULL},
    {"invut.dat", SDP_INVALID, 0, NULL},        {"dblreq.dat", SDP_INVALID, 0, NULL},
};

START_TEST(test_torture)
{
    char rel[256];
    snprintf(rel, sizeof(rel), "tests/data/sip-torture/%s", torture[_i].file);
    size_t len;
    char *msg = testdata_read(testdata_path(rel), &len);
    ck_assert_msg(msg != NULL, "cannot read %s", rel);
    ck_assert_int_eq(parse_guarded(msg, len, &sdp), SDP_INVALID);

    const char *body = NULL;
    for (size_t i = 0; i + 4 <= len; i++) {
        if (memcmp(msg + i, "\r\n\r\n", 4) == 0) {
            body = msg + i + 4;
            break;
        }
    }
    ck_assert_ptr_nonnull(body);
    size_t blen = len - (size_t)(body - msg);
    const char *g = guard_place(body, blen);
    ck_assert_int_eq(sdp_parse(g, blen, &sdp), torture[_i].rc);
    if (torture[_i].rc == SDP_OK) {
        assert_views_inside(&sdp, g, blen);
        ck_assert_uint_eq(sdp.n_media, torture[_i].n_media);
        if (torture[_i].conn != NULL)
            assert_addr(&sdp.media[0].conn, torture[_i].conn);
    }
    if (strcmp(torture[_i].file, "sdp01.dat") == 0) {
        assert_sv(sdp.media[0].media, "audio");
        ck_assert_uint_eq(sdp.media[0].n_formats, 2);
        ck_assert_uint_eq(sdp.media[0].formats[1], 12);
        assert_sv(sdp.media[1].media, "video");
        ck_assert_uint_eq(sdp.media[1].port, 3227);
        assert_rtpmap(&sdp.media[1], 31, "LPC", 0, 1, "");
    }
    free(msg);
    guard_release();
}
END_TEST

/* multipart/mixed (RFC 2046): the caller passes the body from v=0 on; the boundary ends it. */
START_TEST(test_multipart)
{
    ck_assert_int_eq(parse_str("v=0\r\n"
                               "c=IN IP4 192.0.2.1\r\n"
                               "m=audio 4000 RTP/AVP 0\r\n"
                               "a=sendrecv\r\n"
                               "\r\n"
                               "--unique-boundary-1\r\n"
                               "Content-Type: application/sdp\r\n"
                               "\r\n"
                               "c=IN IP4 198.51.100.1\r\n"
                               "m=audio 9 RTP/AVP 8\r\n"
                               "a=inactive\r\n"
                               "--unique-boundary-1--\r\n"),
                     SDP_OK);
    ck_assert_uint_eq(sdp.n_media, 1);
    ck_assert_uint_eq(sdp.media[0].port, 4000);
    assert_addr(&sdp.media[0].conn, "192.0.2.1");
    ck_assert_int_eq(sdp.media[0].dir, SDP_DIR_SENDRECV);
}
END_TEST

/* SDES (RFC 4568 9.1): every well-formed a=crypto of a media, in order, with the key params as
 * a view; malformed ones are skipped, and more than SDP_MAX_CRYPTO mark the media truncated. */
START_TEST(test_crypto)
{
    ck_assert_int_eq(
        parse_str(
            "v=0\r\n"
            "c=IN IP4 192.0.2.1\r\n"
            "m=audio 4000 RTP/SAVP 0\r\n"
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 "
            "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32\r\n"
            "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj "
            "KDR=1 UNENCRYPTED_SRTCP\r\n"
            "a=crypto:x AES_CM_128_HMAC_SHA1_80 inline:abc\r\n"          /* tag not a number */
            "a=crypto:1234567890 AES_CM_128_HMAC_SHA1_80 inline:abc\r\n" /* 10 digits */
            "a=crypto:3 AES_CM_128_HMAC_SHA1_80\r\n"                     /* no key params */
            "a=crypto:4 AES_CM_128_HMAC_SHA1_80 nokeymethod\r\n"         /* no "method:" */
            "m=audio 4002 RTP/AVP 0\r\n"),
        SDP_OK);
    ck_assert_uint_eq(sdp.n_media, 2);
    const sdp_media_t *m = &sdp.media[0];
    ck_assert_uint_eq(m->n_crypto, 2);
    ck_assert(!m->crypto_truncated);
    ck_assert(!m->fingerprint);
    ck_assert_uint_eq(m->crypto[0].tag, 1);
    assert_sv(m->crypto[0].suite, "AES_CM_128_HMAC_SHA1_80");
    assert_sv(m->crypto[0].key_params, "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32");
    assert_sv(m->crypto[0].session_params, "");
    ck_assert_uint_eq(m->crypto[1].tag, 2);
    assert_sv(m->crypto[1].suite, "AES_CM_128_HMAC_SHA1_32");
    assert_sv(m->crypto[1].key_params, "inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj");
    assert_sv(m->crypto[1].session_params, "KDR=1 UNENCRYPTED_SRTCP");
    ck_assert_uint_eq(sdp.media[1].n_crypto, 0);

    /* Session-level a=crypto is not defined (RFC 4568 9.1: media level only): ignored. */
    ck_assert_int_eq(parse_str("v=0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:abc\r\n"
                               "m=audio 4000 RTP/SAVP 0\r\n"),
                     SDP_OK);
    ck_assert_uint_eq(sdp.media[0].n_crypto, 0);

    /* Bounded: the first SDP_MAX_CRYPTO are kept. */
    char buf[1024];
    size_t n = (size_t)snprintf(buf, sizeof(buf), "v=0\r\nm=audio 4000 RTP/SAVP 0\r\n");
    for (int i = 1; i <= SDP_MAX_CRYPTO + 2; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n,
                              "a=crypto:%d AES_CM_128_HMAC_SHA1_80 inline:k%d\r\n", i, i);
    ck_assert_uint_lt(n, sizeof(buf));
    ck_assert_int_eq(parse_str(buf), SDP_OK);
    ck_assert_uint_eq(sdp.media[0].n_crypto, SDP_MAX_CRYPTO);
    ck_assert(sdp.media[0].crypto_truncated);
    ck_assert_uint_eq(sdp.media[0].crypto[SDP_MAX_CRYPTO - 1].tag, SDP_MAX_CRYPTO);
}
END_TEST

/* DTLS-SRTP (RFC 5763): a=fingerprint at session level applies to every media; at media level to
 * its own; one without a value is no fingerprint. */
START_TEST(test_fingerprint)
{
    ck_assert_int_eq(parse_str("v=0\r\n"
                               "a=fingerprint:sha-256 4A:AD:B9:B1:3F:82:18:3B\r\n"
                               "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
                               "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n"),
                     SDP_OK);
    ck_assert(sdp.fingerprint);
    ck_assert(sdp.media[0].fingerprint);
    ck_assert(sdp.media[1].fingerprint);
    ck_assert_int_eq(parse_str("v=0\r\n"
                               "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
                               "a=fingerprint:\r\n"
                               "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
                               "a=fingerprint:sha-1 4A:AD:B9:B1\r\n"),
                     SDP_OK);
    ck_assert(!sdp.fingerprint);
    ck_assert(!sdp.media[0].fingerprint);
    ck_assert(sdp.media[1].fingerprint);
}
END_TEST

/* WebRTC (RFC 8839 5.1): UDP candidates with IP addresses are kept, in order, with their
 * component and type; TCP candidates, mDNS names and malformed lines are not; at most
 * SDP_MAX_CANDIDATES per media, the rest counted as truncated. */
START_TEST(test_candidates)
{
    static const char text[] =
        "v=0\r\n"
        "o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n"
        "s=-\r\n"
        "t=0 0\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
        "c=IN IP4 0.0.0.0\r\n"
        "a=candidate:1467250027 1 udp 2122260223 192.168.1.5 54400 typ host generation 0\r\n"
        "a=candidate:842163049 1 udp 1686052607 192.0.2.10 61000 typ srflx raddr 192.168.1.5 "
        "rport 54400\r\n"
        "a=candidate:3 2 UDP 41885694 2001:db8::7 3478 typ relay raddr :: rport 0\r\n"
        "a=candidate:4 1 tcp 1518280447 192.168.1.5 9 typ host tcptype active\r\n"
        "a=candidate:5 1 udp 2122260223 9b36eaac-bb2e-49bb-bb78-21c41c499900.local 54400 typ "
        "host\r\n"
        "a=candidate:6 1 udp 1 192.0.2.10 0 typ host\r\n"
        "a=candidate:7 0 udp 1 192.0.2.10 1000 typ host\r\n"
        "a=candidate:8 1 udp 1 192.0.2.10 1000 type host\r\n"
        "a=candidate:9 1 udp 1 192.0.2.10 1000 typ mystery\r\n"
        "a=candidate:\r\n"
        "a=rtcp-mux\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
        "c=IN IP4 0.0.0.0\r\n"
        "a=candidate:1 1 udp 1 192.0.2.1 1 typ host\r\n"
        "a=candidate:1 1 udp 1 192.0.2.1 2 typ host\r\n"
        "a=candidate:1 1 udp 1 192.0.2.1 3 typ host\r\n"
        "a=candidate:1 1 udp 1 192.0.2.1 4 typ host\r\n"
        "a=candidate:1 1 udp 1 192.0.2.1 5 typ host\r\n"
        "a=candidate:1 1 udp 1 192.0.2.1 6 typ host\r\n"
        "a=candidate:1 1 udp 1 192.0.2.1 7 typ host\r\n"
        "a=candidate:1 1 udp 1 192.0.2.1 8 typ host\r\n"
        "a=candidate:1 1 udp 1 192.0.2.1 9 typ host\r\n";
    ck_assert_int_eq(parse_guarded(text, sizeof(text) - 1, &sdp), SDP_OK);
    ck_assert_uint_eq(sdp.n_media, 2);
    const sdp_media_t *m = &sdp.media[0];
    ck_assert(m->rtcp_mux);
    ck_assert_uint_eq(m->n_candidates, 4);
    ck_assert(!m->candidates_truncated);
    char buf[NET_ENDPOINT_STRLEN];
    ck_assert_str_eq(net_endpoint_str(&m->candidates[0].ep, buf, sizeof(buf)), "192.168.1.5:54400");
    ck_assert_uint_eq(m->candidates[0].component, 1);
    ck_assert_uint_eq(m->candidates[0].type, SDP_CAND_HOST);
    ck_assert_str_eq(net_endpoint_str(&m->candidates[1].ep, buf, sizeof(buf)), "192.0.2.10:61000");
    ck_assert_uint_eq(m->candidates[1].type, SDP_CAND_SRFLX);
    ck_assert_str_eq(net_endpoint_str(&m->candidates[2].ep, buf, sizeof(buf)),
                     "[2001:db8::7]:3478");
    ck_assert_uint_eq(m->candidates[2].component, 2);
    ck_assert_uint_eq(m->candidates[2].type, SDP_CAND_RELAY);
    ck_assert_str_eq(net_endpoint_str(&m->candidates[3].ep, buf, sizeof(buf)), "192.0.2.10:1000");
    ck_assert_uint_eq(m->candidates[3].type, SDP_CAND_OTHER);
    m = &sdp.media[1];
    ck_assert_uint_eq(m->n_candidates, SDP_MAX_CANDIDATES);
    ck_assert(m->candidates_truncated);
    ck_assert_uint_eq(m->candidates[SDP_MAX_CANDIDATES - 1].ep.port, SDP_MAX_CANDIDATES);
    /* The simcalls offer's three host candidates. */
    ck_assert_int_eq(parse_guarded(sdp_simcalls_ice, sizeof(sdp_simcalls_ice) - 1, &sdp), SDP_OK);
    ck_assert_uint_eq(sdp.media[0].n_candidates, 3);
    ck_assert_uint_eq(sdp.media[0].candidates[2].ep.port, 49304);
}
END_TEST

START_TEST(test_null)
{
    ck_assert_int_eq(sdp_parse(NULL, 0, &sdp), SDP_INVALID);
    ck_assert_int_eq(sdp_parse("v=0", 3, NULL), SDP_INVALID);
}
END_TEST

Suite *sdp_suite(void)
{
    Suite *s = suite_create("sdp");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_simcalls_v6);
    tcase_add_test(tc, test_simcalls_ice);
    tcase_add_test(tc, test_rfc8866);
    tcase_add_test(tc, test_everything);
    tcase_add_test(tc, test_whitespace);
    tcase_add_test(tc, test_line_ends);
    tcase_add_loop_test(tc, test_direction, 0, (int)(sizeof(dirs) / sizeof(dirs[0])));
    tcase_add_test(tc, test_dir_names);
    tcase_add_test(tc, test_rtpmap_odd);
    tcase_add_test(tc, test_caps);
    tcase_add_test(tc, test_multipart);
    tcase_add_test(tc, test_crypto);
    tcase_add_test(tc, test_fingerprint);
    tcase_add_test(tc, test_candidates);
    tcase_add_loop_test(tc, test_torture, 0, (int)(sizeof(torture) / sizeof(torture[0])));
    suite_add_tcase(s, tc);

    TCase *tm = tcase_create("malformed");
    tcase_add_test(tm, test_null);
    tcase_add_loop_test(tm, test_not_sdp, 0, (int)(sizeof(not_sdp) / sizeof(not_sdp[0])));
    tcase_add_loop_test(tm, test_bad_media_line, 0, (int)(sizeof(bad_m) / sizeof(bad_m[0])));
    tcase_add_loop_test(tm, test_bad_conn_line, 0, (int)(sizeof(bad_c) / sizeof(bad_c[0])));
    tcase_add_loop_test(tm, test_bad_attr_line, 0, (int)(sizeof(bad_a) / sizeof(bad_a[0])));
    tcase_add_loop_test(tm, test_every_prefix, 0, (int)N_SAMPLES);
    suite_add_tcase(s, tm);
    return s;
}
