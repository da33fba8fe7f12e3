/* check_ws: the WebSocket framer (decoders/ws.c), the TCP application layer (engine/tcp_app.c)
 * and SIP over WebSocket end to end on tests/pcap/ws/sip_ws.pcap, against tshark. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guard.h"
#include "skip.h"
#include "tcp_app.h"
#include "testdata.h"
#include "ws.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the framer ---- */

START_TEST(test_small_text)
{
    /* FIN, text, unmasked, 5 bytes: "Hello" (RFC 6455 5.7) */
    static const uint8_t f[] = {0x81, 0x05, 'H', 'e', 'l', 'l', 'o'};
    ws_frame_t h;
    ck_assert_int_eq(ws_parse_frame(guard_place(f, sizeof(f)), sizeof(f), &h), 2);
    ck_assert(h.fin);
    ck_assert_int_eq(h.opcode, WS_OP_TEXT);
    ck_assert(!h.masked);
    ck_assert_uint_eq(h.payload_len, 5);
}
END_TEST

START_TEST(test_masked_unmask)
{
    /* RFC 6455 5.7: a masked "Hello" from a client, key 37 fa 21 3d */
    static const uint8_t f[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    ws_frame_t h;
    ck_assert_int_eq(ws_parse_frame(f, sizeof(f), &h), 6);
    ck_assert(h.masked);
    ck_assert_uint_eq(h.payload_len, 5);
    uint8_t out[5];
    ws_unmask(out, f + 6, 5, h.mask, 0);
    ck_assert_mem_eq(out, "Hello", 5);
    /* In two pieces: the key keeps its phase across the offset. */
    ws_unmask(out, f + 6, 2, h.mask, 0);
    ws_unmask(out + 2, f + 8, 3, h.mask, 2);
    ck_assert_mem_eq(out, "Hello", 5);
}
END_TEST

START_TEST(test_lengths)
{
    /* 16-bit: binary, 256 bytes */
    static const uint8_t f16[] = {0x82, 0x7e, 0x01, 0x00};
    /* 64-bit: binary, 65536 bytes, masked */
    static const uint8_t f64[] = {0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4};
    /* a fragment: text, no FIN; then a continuation with FIN */
    static const uint8_t frag[] = {0x01, 0x03}, cont[] = {0x80, 0x02};
    ws_frame_t h;
    ck_assert_int_eq(ws_parse_frame(f16, sizeof(f16), &h), 4);
    ck_assert_uint_eq(h.payload_len, 256);
    ck_assert_int_eq(ws_parse_frame(f64, sizeof(f64), &h), 14);
    ck_assert_uint_eq(h.payload_len, 65536);
    ck_assert_mem_eq(h.mask, "\x01\x02\x03\x04", 4);
    ck_assert_int_eq(ws_parse_frame(frag, sizeof(frag), &h), 2);
    ck_assert(!h.fin);
    ck_assert_int_eq(ws_parse_frame(cont, sizeof(cont), &h), 2);
    ck_assert(h.fin);
    ck_assert_int_eq(h.opcode, WS_OP_CONT);
}
END_TEST

START_TEST(test_control)
{
    /* ping "hi", pong (masked, empty), close with code 1000 */
    static const uint8_t ping[] = {0x89, 0x02, 'h', 'i'}, pong[] = {0x8a, 0x80, 1, 2, 3, 4},
                         close_[] = {0x88, 0x02, 0x03, 0xe8};
    ws_frame_t h;
    ck_assert_int_eq(ws_parse_frame(ping, sizeof(ping), &h), 2);
    ck_assert(ws_is_control(h.opcode));
    ck_assert_int_eq(ws_parse_frame(pong, sizeof(pong), &h), 6);
    ck_assert_int_eq(h.opcode, WS_OP_PONG);
    ck_assert_int_eq(ws_parse_frame(close_, sizeof(close_), &h), 2);
    ck_assert_int_eq(h.opcode, WS_OP_CLOSE);
    ck_assert(!ws_is_control(WS_OP_TEXT));
}
END_TEST

/* Whole headers: every shorter prefix is WS_PARTIAL (against the guard page). */
static const struct {
    uint8_t b[WS_MAX_HEADER];
    size_t len;
} headers[] = {
    {{0x81, 0x05}, 2},
    {{0x81, 0x85, 1, 2, 3, 4}, 6},
    {{0x82, 0x7e, 0x01, 0x00}, 4},
    {{0x82, 0xfe, 0x01, 0x00, 9, 8, 7, 6}, 8},
    {{0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0}, 10},
    {{0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4}, 14},
};

START_TEST(test_prefixes)
{
    ws_frame_t h;
    const uint8_t *whole = headers[_i].b;
    size_t len = headers[_i].len;
    ck_assert_int_eq(ws_parse_frame(guard_place(whole, len), len, &h), (int)len);
    for (size_t n = 0; n < len; n++)
        ck_assert_msg(ws_parse_frame(guard_place(whole, n), n, &h) == WS_PARTIAL,
                      "header %d prefix %zu", _i, n);
}
END_TEST

/* Frames the framer refuses. */
static const struct {
    const char *why;
    uint8_t b[WS_MAX_HEADER];
    size_t len;
} invalid[] = {
    {"RSV1 set", {0xc1, 0x05}, 2},
    {"RSV3 set", {0x91, 0x05}, 2},
    {"reserved data opcode 3", {0x83, 0x00}, 2},
    {"reserved control opcode 0xb", {0x8b, 0x00}, 2},
    {"ping longer than 125", {0x89, 0x7e, 0x00, 0x80}, 4},
    {"fragmented ping", {0x09, 0x00}, 2},
    {"16-bit length below 126", {0x81, 0x7e, 0x00, 0x7d}, 4},
    {"64-bit length below 65536", {0x81, 0x7f, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 10},
    {"64-bit length with the top bit", {0x81, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0}, 10},
};

START_TEST(test_invalid)
{
    ws_frame_t h;
    ck_assert_msg(ws_parse_frame(guard_place(invalid[_i].b, invalid[_i].len), invalid[_i].len,
                                 &h) == WS_INVALID,
                  "%s", invalid[_i].why);
}
END_TEST

/* ---- tcp_app: a connection fed as the capture feeds it ---- */

typedef struct {
    char msgs[16][2048];
    size_t lens[16];
    uint8_t carried[16];
    int n_msgs;
    size_t stream_bytes;
} sink_log_t;

static size_t log_stream(void *ctx, const packet_view_t *pkt)
{
    sink_log_t *l = ctx;
    l->stream_bytes += pkt->len;
    return pkt->len;
}

static void log_message(void *ctx, const packet_view_t *msg)
{
    sink_log_t *l = ctx;
    ck_assert_int_lt(l->n_msgs, 16);
    ck_assert_uint_lt(msg->len, sizeof(l->msgs[0]));
    memcpy(l->msgs[l->n_msgs], msg->payload, msg->len);
    l->lens[l->n_msgs] = msg->len;
    l->carried[l->n_msgs] = msg->carried;
    l->n_msgs++;
}

/* One connection's two directions with the capture's buffering: what the sink leaves is
 * offered again, in front of the next bytes. */
typedef struct {
    tcp_app_t *app;
    sink_log_t log;
    uint8_t pending[2][8192];
    size_t n_pending[2];
    uint16_t client_port;
    int64_t ts_ns;
} conn_sim_t;

static void sim_init(conn_sim_t *s, const tcp_app_cfg_t *cfg)
{
    memset(s, 0, sizeof(*s));
    tcp_app_cfg_t def;
    tcp_app_cfg_init(&def);
    tcp_app_sink_t sink = {.ctx = &s->log, .on_stream = log_stream, .on_message = log_message};
    s->app = tcp_app_new(cfg ? cfg : &def, &sink);
    ck_assert_ptr_nonnull(s->app);
    s->client_port = 50000;
    s->ts_ns = 1000000000;
}

/* dir 0: client -> server 192.0.2.20:443; 1: back. */
static void sim_feed(conn_sim_t *s, int dir, const void *data, size_t len)
{
    static const uint8_t cli[4] = {192, 0, 2, 10}, srv[4] = {192, 0, 2, 20};
    packet_view_t pkt;
    memset(&pkt, 0, sizeof(pkt));
    pkt.ip_proto = PKT_PROTO_TCP;
    pkt.ts_ns = s->ts_ns;
    net_addr_v4(&pkt.src.addr, dir == 0 ? cli : srv);
    net_addr_v4(&pkt.dst.addr, dir == 0 ? srv : cli);
    pkt.src.port = dir == 0 ? s->client_port : 443;
    pkt.dst.port = dir == 0 ? 443 : s->client_port;
    ck_assert_uint_le(s->n_pending[dir] + len, sizeof(s->pending[dir]));
    memcpy(s->pending[dir] + s->n_pending[dir], data, len);
    s->n_pending[dir] += len;
    pkt.payload = s->pending[dir];
    pkt.len = s->n_pending[dir];
    size_t used = tcp_app_feed(s->app, &pkt);
    ck_assert_uint_le(used, pkt.len);
    memmove(s->pending[dir], s->pending[dir] + used, pkt.len - used);
    s->n_pending[dir] -= used;
}

static const char upgrade[] = "GET /ws HTTP/1.1\r\nHost: sip.example.com\r\n"
                              "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Protocol: xmpp, sip\r\n"
                              "Sec-WebSocket-Version: 13\r\n\r\n";
static const char switching[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                "Connection: Upgrade\r\nSec-WebSocket-Protocol: sip\r\n\r\n";

/* A frame of opcode op around text (masked with key when key != NULL) into out; its length. */
static size_t frame(uint8_t *out, uint8_t op, bool fin, const char *text, const uint8_t *key)
{
    size_t n = strlen(text), h = 0;
    out[h++] = (uint8_t)((fin ? 0x80 : 0) | op);
    uint8_t m = key ? 0x80 : 0;
    if (n < 126) {
        out[h++] = (uint8_t)(m | n);
    } else {
        out[h++] = m | 126;
        out[h++] = (uint8_t)(n >> 8);
        out[h++] = (uint8_t)n;
    }
    if (key)
        memcpy(out + h, key, 4);
    h += key ? 4 : 0;
    for (size_t i = 0; i < n; i++)
        out[h + i] = (uint8_t)text[i] ^ (key ? key[i & 3] : 0);
    return h + n;
}

static const char options[] = "OPTIONS sip:example.com SIP/2.0\r\nCall-ID: x\r\n"
                              "Content-Length: 0\r\n\r\n";

START_TEST(test_app_ws)
{
    static const uint8_t key[4] = {0x11, 0x22, 0x33, 0x44};
    conn_sim_t s;
    sim_init(&s, NULL);
    /* The request arrives in two segments; the answer comes after it. */
    sim_feed(&s, 0, upgrade, 20);
    sim_feed(&s, 0, upgrade + 20, strlen(upgrade) - 20);
    sim_feed(&s, 1, switching, strlen(switching));
    uint8_t f[4096];
    /* A masked message in one frame, split across two segments. */
    size_t n = frame(f, WS_OP_TEXT, true, options, key);
    sim_feed(&s, 0, f, 3);
    ck_assert_int_eq(s.log.n_msgs, 0);
    sim_feed(&s, 0, f + 3, n - 3);
    ck_assert_int_eq(s.log.n_msgs, 1);
    ck_assert_uint_eq(s.log.lens[0], strlen(options));
    ck_assert_mem_eq(s.log.msgs[0], options, strlen(options));
    ck_assert_int_eq(s.log.carried[0], PKT_CARRIED_WS);
    /* A server ping between two fragments of an unmasked binary message. */
    char first[40];
    memcpy(first, options, 39);
    first[39] = '\0';
    n = frame(f, WS_OP_BINARY, false, first, NULL);
    n += frame(f + n, WS_OP_PING, true, "ka", NULL);
    n += frame(f + n, WS_OP_CONT, true, options + 39, NULL);
    sim_feed(&s, 1, f, n);
    ck_assert_int_eq(s.log.n_msgs, 2);
    ck_assert_mem_eq(s.log.msgs[1], options, strlen(options));
    /* A long message (16-bit length) and a close. */
    static char longer[600];
    memset(longer, 'a', sizeof(longer) - 1);
    n = frame(f, WS_OP_TEXT, true, longer, key);
    n += frame(f + n, WS_OP_CLOSE, true, "", key);
    sim_feed(&s, 0, f, n);
    ck_assert_int_eq(s.log.n_msgs, 3);
    ck_assert_uint_eq(s.log.lens[2], sizeof(longer) - 1);
    const tcp_app_stats_t *st = tcp_app_stats(s.app);
    ck_assert_uint_eq(st->conns[TCP_APP_WS], 1);
    ck_assert_uint_eq(st->ws_messages, 3);
    ck_assert_uint_eq(st->ws_control, 2);
    ck_assert_uint_eq(st->ws_malformed, 0);
    ck_assert_uint_eq(s.log.stream_bytes, 0);
    tcp_app_free(s.app);
}
END_TEST

START_TEST(test_app_ws_errors)
{
    conn_sim_t s;
    sim_init(&s, NULL);
    sim_feed(&s, 0, upgrade, strlen(upgrade));
    sim_feed(&s, 1, switching, strlen(switching));
    uint8_t f[256];
    /* A continuation of nothing is skipped; a reserved opcode ends the direction. */
    size_t n = frame(f, WS_OP_CONT, true, "stray", NULL);
    sim_feed(&s, 1, f, n);
    static const uint8_t bad[] = {0x83, 0x00};
    sim_feed(&s, 1, bad, sizeof(bad));
    n = frame(f, WS_OP_TEXT, true, options, NULL);
    sim_feed(&s, 1, f, n);
    ck_assert_int_eq(s.log.n_msgs, 0);
    ck_assert_uint_eq(tcp_app_stats(s.app)->ws_malformed, 2);
    /* The other direction goes on. */
    static const uint8_t key[4] = {1, 2, 3, 4};
    n = frame(f, WS_OP_TEXT, true, options, key);
    sim_feed(&s, 0, f, n);
    ck_assert_int_eq(s.log.n_msgs, 1);
    tcp_app_free(s.app);
}
END_TEST

START_TEST(test_app_ws_oversize)
{
    tcp_app_cfg_t cfg;
    tcp_app_cfg_init(&cfg);
    cfg.max_message = 64;
    conn_sim_t s;
    sim_init(&s, &cfg);
    sim_feed(&s, 0, upgrade, strlen(upgrade));
    uint8_t f[512];
    /* Two fragments of 40: the second outgrows 64, the whole message is skipped. */
    char forty[41];
    memset(forty, 'x', 40);
    forty[40] = '\0';
    size_t n = frame(f, WS_OP_TEXT, false, forty, NULL);
    n += frame(f + n, WS_OP_CONT, true, forty, NULL);
    n += frame(f + n, WS_OP_TEXT, true, "INFO", NULL);
    sim_feed(&s, 0, f, n);
    ck_assert_int_eq(s.log.n_msgs, 1);
    ck_assert_mem_eq(s.log.msgs[0], "INFO", 4);
    ck_assert_uint_eq(tcp_app_stats(s.app)->ws_oversize, 1);
    tcp_app_free(s.app);
}
END_TEST

START_TEST(test_app_kinds)
{
    conn_sim_t s;
    sim_init(&s, NULL);
    /* Plain SIP goes to the stream path as given. */
    sim_feed(&s, 0, options, strlen(options));
    ck_assert_uint_eq(s.log.stream_bytes, strlen(options));
    /* TLS: a ClientHello record header; counted and consumed, nothing decoded. */
    s.client_port++;
    static const uint8_t hello[] = {0x16, 0x03, 0x01, 0x00, 0x05, 1, 0, 0, 1, 0};
    sim_feed(&s, 0, hello, 2); /* too short to tell: waits */
    ck_assert_uint_eq(s.n_pending[0], 2);
    sim_feed(&s, 0, hello + 2, sizeof(hello) - 2);
    ck_assert_uint_eq(s.n_pending[0], 0);
    /* An HTTP Upgrade for another protocol, and plain HTTP: other. */
    s.client_port++;
    static const char xmpp[] = "GET / HTTP/1.1\r\nUpgrade: websocket\r\n"
                               "Sec-WebSocket-Protocol: xmpp\r\n\r\n";
    sim_feed(&s, 0, xmpp, strlen(xmpp));
    s.client_port++;
    static const char get[] = "GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n";
    sim_feed(&s, 0, get, strlen(get));
    const tcp_app_stats_t *st = tcp_app_stats(s.app);
    ck_assert_uint_eq(st->conns[TCP_APP_SIP], 1);
    ck_assert_uint_eq(st->conns[TCP_APP_TLS], 1);
    ck_assert_uint_eq(st->conns[TCP_APP_OTHER], 2);
    ck_assert_uint_eq(st->conns[TCP_APP_WS], 0);
    ck_assert_uint_eq(s.log.stream_bytes, strlen(options));
    ck_assert_str_eq(tcp_app_kind_name(TCP_APP_TLS), "tls");
    tcp_app_free(s.app);
}
END_TEST

START_TEST(test_app_bounds)
{
    tcp_app_cfg_t cfg;
    tcp_app_cfg_init(&cfg);
    cfg.max_conns = 2;
    cfg.timeout_ms = 1000;
    conn_sim_t s;
    sim_init(&s, &cfg);
    /* Three connections in a table of two: the least recently used goes. */
    for (int i = 0; i < 3; i++) {
        s.client_port = (uint16_t)(50000 + i);
        sim_feed(&s, 0, options, strlen(options));
    }
    const tcp_app_stats_t *st = tcp_app_stats(s.app);
    ck_assert_uint_eq(st->evicted, 1);
    ck_assert_uint_eq(st->conns[TCP_APP_SIP], 3);
    /* 50002 is still known (no new connection counted); two seconds later both go idle. */
    sim_feed(&s, 0, options, strlen(options));
    ck_assert_uint_eq(st->conns[TCP_APP_SIP], 3);
    s.ts_ns += 2000000000;
    s.client_port = 60000;
    sim_feed(&s, 0, options, strlen(options));
    ck_assert_uint_eq(st->timed_out, 2);
    ck_assert_uint_eq(st->evicted, 1);
    tcp_app_free(s.app);
}
END_TEST

/* ---- end to end: tests/pcap/ws/sip_ws.pcap ---- */

static char *run_capture(const char *cmd)
{
    FILE *f = popen(cmd, "r");
    ck_assert_msg(f != NULL, "popen failed: %s", cmd);
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap);
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    buf[n] = '\0';
    pclose(f);
    return buf;
}

START_TEST(test_pcap_ws)
{
    const char *pcap = testdata_path("tests/pcap/ws/sip_ws.pcap");
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "'%s' analyze --db :memory: --json '%s' 2>/dev/null",
             SIPSCOPE_BINARY, pcap);
    char *out = run_capture(cmd);
    json_error_t jerr;
    json_t *doc = json_loads(out, 0, &jerr);
    ck_assert_msg(doc != NULL, "not JSON: %s", jerr.text);
    free(out);
    json_int_t sip = json_integer_value(json_object_get(doc, "sip_messages"));
    ck_assert_int_eq(sip, 11);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "malformed")), 0);
    json_t *calls = json_object_get(doc, "calls");
    ck_assert_int_eq(json_array_size(calls), 1);
    json_t *call = json_array_get(calls, 0);
    ck_assert_str_eq(json_string_value(json_object_get(call, "call_id")),
                     "call-9a8b7c@df7jal23ls0d.invalid");
    ck_assert_str_eq(json_string_value(json_object_get(call, "state")), "completed");
    ck_assert_int_eq(json_integer_value(json_object_get(call, "final_status")), 200);
    ck_assert_int_eq(json_integer_value(json_object_get(call, "sip_messages")), 7);
    /* The RTP between the ICE host candidates belongs to the call. */
    json_t *streams = json_object_get(doc, "streams");
    ck_assert_int_eq(json_array_size(streams), 2);
    for (size_t i = 0; i < 2; i++)
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(streams, i), "call_id")),
                         "call-9a8b7c@df7jal23ls0d.invalid");
    json_decref(doc);

    /* tshark decodes WebSocket on the upgraded connection and SIP in it. */
    if (system("command -v tshark >/dev/null 2>&1") != 0) {
        test_skip("tshark not installed: SIP count not compared");
        return;
    }
    snprintf(cmd, sizeof(cmd), "tshark -r '%s' -Y sip 2>/dev/null | wc -l", pcap);
    out = run_capture(cmd);
    long theirs = strtol(out, NULL, 10);
    free(out);
    ck_assert_int_eq(theirs, sip);
}
END_TEST

Suite *ws_suite(void)
{
    Suite *s = suite_create("ws");
    TCase *tc = tcase_create("framer");
    tcase_add_test(tc, test_small_text);
    tcase_add_test(tc, test_masked_unmask);
    tcase_add_test(tc, test_lengths);
    tcase_add_test(tc, test_control);
    tcase_add_loop_test(tc, test_prefixes, 0, (int)N_ELEMS(headers));
    tcase_add_loop_test(tc, test_invalid, 0, (int)N_ELEMS(invalid));
    suite_add_tcase(s, tc);

    tc = tcase_create("tcp_app");
    tcase_add_test(tc, test_app_ws);
    tcase_add_test(tc, test_app_ws_errors);
    tcase_add_test(tc, test_app_ws_oversize);
    tcase_add_test(tc, test_app_kinds);
    tcase_add_test(tc, test_app_bounds);
    suite_add_tcase(s, tc);

    tc = tcase_create("pcap");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_pcap_ws);
    suite_add_tcase(s, tc);
    return s;
}
