/* check_tls: TLS sessions decrypted with a key log. tests/pcap/tls/sip-tls.pcap holds nine
 * sessions made with openssl s_server/s_client (tests/pcap/tls/make.sh): TLS 1.2 with AES-GCM,
 * ChaCha20-Poly1305 and AES-CBC (HMAC-SHA1, SHA-384, SHA-256), TLS 1.3 with its three AEADs,
 * each carrying SIP whose text is committed beside it. The suite reassembles each connection
 * (loopback, nothing lost) and byte-compares what tls_ hands out with what was sent. */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <pcap/pcap.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pcapng_dsb.h"
#include "skip.h"
#include "tcp_app.h"
#include "testdata.h"
#include "tls.h"

#define NSESS 9
#define PORT0 15060

/* Each session's two byte streams, as TCP carried them, and the order of their segments. */
typedef struct {
    uint8_t *data[2];
    size_t len[2];
    uint32_t next[2];
    bool started[2];
    struct {
        int dir;
        size_t off, len;
    } seg[256];
    size_t nseg;
} stream_t;

/* 1..9: sip-tls.pcap; HRR: sip-tls-hrr.pcap (make-hrr.sh, a HelloRetryRequest first). */
#define HRR       (NSESS + 1)
#define KEYUPDATE (NSESS + 2) /* sip-tls-keyupdate.pcap (make-keyupdate.sh) */
static stream_t streams[NSESS + 3];

static void append(stream_t *st, int dir, const uint8_t *p, size_t n)
{
    st->data[dir] = realloc(st->data[dir], st->len[dir] + n + 1);
    ck_assert_ptr_nonnull(st->data[dir]);
    memcpy(st->data[dir] + st->len[dir], p, n);
    st->len[dir] += n;
}

/* Ethernet (loopback) + IPv4 + TCP, in order: SYN sets the next sequence number, a segment at
 * it is appended, a retransmission is dropped. */
static void load_file(const char *rel);

static void load_streams(void)
{
    static bool loaded;
    if (loaded)
        return;
    static const char *const files[] = {"tests/pcap/tls/sip-tls.pcap",
                                        "tests/pcap/tls/sip-tls-hrr.pcap",
                                        "tests/pcap/tls/sip-tls-keyupdate.pcap"};
    for (size_t fi = 0; fi < 3; fi++)
        load_file(files[fi]);
    loaded = true;
}

static void load_file(const char *rel)
{
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline(testdata_path(rel), err);
    ck_assert_msg(pc != NULL, "%s", err);
    struct pcap_pkthdr *h;
    const u_char *f;
    while (pcap_next_ex(pc, &h, &f) == 1) {
        if (h->caplen < 14 + 20 + 20 || f[12] != 0x08 || f[13] != 0x00)
            continue;
        const u_char *ip = f + 14;
        size_t ihl = (size_t)(ip[0] & 15) * 4, tot = (size_t)(ip[2] << 8 | ip[3]);
        const u_char *tcp = ip + ihl;
        size_t thl = (size_t)(tcp[12] >> 4) * 4;
        unsigned sport = (unsigned)(tcp[0] << 8 | tcp[1]), dport = (unsigned)(tcp[2] << 8 | tcp[3]);
        uint32_t seq =
            (uint32_t)tcp[4] << 24 | (uint32_t)tcp[5] << 16 | (uint32_t)tcp[6] << 8 | tcp[7];
        int dir = dport > PORT0 && dport <= PORT0 + KEYUPDATE ? 0 : 1;
        unsigned port = dir == 0 ? dport : sport;
        if (port <= PORT0 || port > PORT0 + KEYUPDATE)
            continue;
        stream_t *st = &streams[port - PORT0];
        if (tcp[13] & 0x02) { /* SYN */
            st->next[dir] = seq + 1;
            st->started[dir] = true;
            continue;
        }
        size_t n = tot - ihl - thl;
        if (!st->started[dir] || n == 0 || seq != st->next[dir])
            continue;
        ck_assert_uint_lt(st->nseg, 256);
        st->seg[st->nseg].dir = dir;
        st->seg[st->nseg].off = st->len[dir];
        st->seg[st->nseg].len = n;
        st->nseg++;
        append(st, dir, tcp + thl, n);
        st->next[dir] += (uint32_t)n;
    }
    pcap_close(pc);
}

typedef struct {
    uint8_t *out[2];
    size_t len[2];
    unsigned calls;
} sink_t;

static void on_plain(void *ctx, tls_dir_t dir, const uint8_t *p, size_t n)
{
    sink_t *k = ctx;
    k->out[dir] = realloc(k->out[dir], k->len[dir] + n);
    ck_assert_ptr_nonnull(k->out[dir]);
    memcpy(k->out[dir] + k->len[dir], p, n);
    k->len[dir] += n;
    k->calls++;
}

static void sink_free(sink_t *k)
{
    free(k->out[0]);
    free(k->out[1]);
    memset(k, 0, sizeof(*k));
}

static tls_keylog_t *keys_of(const char *rel)
{
    tls_keylog_t *k = tls_keylog_new(64);
    ck_assert_ptr_nonnull(k);
    ck_assert_int_gt(tls_keylog_load(k, testdata_path(rel)), 0);
    return k;
}

/* Feeds session n's segments in capture order, each in pieces of at most `chunk` bytes, and
 * stops after `limit` bytes of the client's stream. */
static const tls_info_t *run_limit(tls_session_t *s, int n, size_t chunk, size_t limit)
{
    stream_t *st = &streams[n];
    for (size_t i = 0; i < st->nseg; i++) {
        int d = st->seg[i].dir;
        size_t off = st->seg[i].off, end = off + st->seg[i].len;
        if (d == 0 && end > limit)
            end = limit > off ? limit : off;
        while (off < end) {
            size_t k = end - off < chunk ? end - off : chunk;
            (void)tls_session_feed(s, (tls_dir_t)d, st->data[d] + off, k);
            off += k;
        }
    }
    return tls_session_info(s);
}

static const tls_info_t *run(tls_session_t *s, int n, size_t chunk)
{
    return run_limit(s, n, chunk, SIZE_MAX);
}

static const struct {
    uint16_t version, cipher;
} EXPECT[NSESS + 1] = {
    {0, 0},           {0x0303, 0xC02F}, {0x0303, 0xC030}, {0x0303, 0xCCA8}, {0x0303, 0xC013},
    {0x0303, 0xC028}, {0x0303, 0x003C}, {0x0304, 0x1301}, {0x0304, 0x1303}, {0x0304, 0x1302},
};

static void check_session(int n, size_t chunk)
{
    load_streams();
    ck_assert_uint_gt(streams[n].len[0], 0);
    tls_keylog_t *keys = keys_of("tests/pcap/tls/sip-tls.keys");
    sink_t k = {0};
    tls_session_t *s = tls_session_new(keys, on_plain, &k);
    ck_assert_ptr_nonnull(s);
    const tls_info_t *info = run(s, n, chunk);
    ck_assert_uint_eq(info->version, EXPECT[n].version);
    ck_assert_uint_eq(info->cipher, EXPECT[n].cipher);
    ck_assert_ptr_nonnull(tls_cipher_name(info->cipher));
    ck_assert_str_eq(info->sni, "sip.example.com");
    ck_assert(info->keys);
    ck_assert(info->decrypted);
    ck_assert_uint_eq(info->auth_failures, 0);
    ck_assert_uint_eq(info->malformed, 0);
    const char *names[2] = {"client", "server"};
    for (int d = 0; d < 2; d++) {
        char rel[64];
        snprintf(rel, sizeof(rel), "tests/pcap/tls/%s-%d.txt", names[d], n);
        size_t want_len;
        char *want = testdata_read(testdata_path(rel), &want_len);
        ck_assert_ptr_nonnull(want);
        ck_assert_uint_eq(k.len[d], want_len);
        ck_assert(memcmp(k.out[d], want, want_len) == 0);
        free(want);
    }
    ck_assert_uint_eq(info->app_bytes, k.len[0] + k.len[1]);
    tls_session_free(s);
    tls_keylog_free(keys);
    sink_free(&k);
}

START_TEST(decrypts_each_session_exactly)
{
    check_session(_i, 1u << 20);
}
END_TEST

/* Any split of the stream (here 1 and 7 bytes at a time) gives the same plaintext. */
START_TEST(decrypts_byte_by_byte)
{
    check_session(_i, _i % 2 ? 1 : 7);
}
END_TEST

/* Without keys: no plaintext; the session is still described. */
START_TEST(no_keys_counts_and_describes)
{
    load_streams();
    tls_keylog_t *empty = tls_keylog_new(4);
    for (int pass = 0; pass < 2; pass++) {
        sink_t k = {0};
        tls_session_t *s = tls_session_new(pass ? empty : NULL, on_plain, &k);
        const tls_info_t *info = run(s, _i, 4096);
        ck_assert_uint_eq(k.calls, 0);
        ck_assert(!info->decrypted && !info->keys);
        ck_assert(info->client_hello && info->server_hello);
        ck_assert_uint_eq(info->version, EXPECT[_i].version);
        ck_assert_uint_eq(info->cipher, EXPECT[_i].cipher);
        ck_assert_str_eq(info->sni, "sip.example.com");
        ck_assert_uint_gt(info->undecrypted, 0);
        ck_assert_uint_eq(info->malformed, 0);
        tls_session_free(s);
    }
    tls_keylog_free(empty);
}
END_TEST

/* Wrong secrets (every secret's first byte flipped): nothing authenticates, nothing comes out. */
START_TEST(wrong_keys_give_no_plaintext)
{
    load_streams();
    size_t len;
    char *text = testdata_read(testdata_path("tests/pcap/tls/sip-tls.keys"), &len);
    ck_assert_ptr_nonnull(text);
    for (char *line = text; line < text + len;) {
        char *nl = memchr(line, '\n', (size_t)(text + len - line));
        char *sp = memrchr(line, ' ', (size_t)((nl ? nl : text + len) - line));
        if (line[0] != '#' && sp != NULL)
            sp[1] = sp[1] == '0' ? '1' : '0';
        line = nl ? nl + 1 : text + len;
    }
    tls_keylog_t *keys = tls_keylog_new(64);
    ck_assert_uint_gt(tls_keylog_add_text(keys, text, len), 0);
    free(text);
    sink_t k = {0};
    tls_session_t *s = tls_session_new(keys, on_plain, &k);
    const tls_info_t *info = run(s, _i, 4096);
    ck_assert_uint_eq(k.calls, 0);
    ck_assert(!info->decrypted);
    ck_assert(info->keys);
    ck_assert_uint_gt(info->auth_failures, 0);
    tls_session_free(s);
    tls_keylog_free(keys);
}
END_TEST

/* One TLS 1.3 session of its own capture, carrying client-N.txt and server-N.txt. */
static void check_tls13_capture(int idx, const char *keyfile, int n, uint64_t key_updates)
{
    load_streams();
    ck_assert_uint_gt(streams[idx].len[0], 0);
    tls_keylog_t *keys = keys_of(keyfile);
    sink_t k = {0};
    tls_session_t *s = tls_session_new(keys, on_plain, &k);
    const tls_info_t *info = run(s, idx, 4096);
    ck_assert_uint_eq(info->key_updates, key_updates);
    ck_assert(info->server_hello && info->decrypted);
    ck_assert_uint_eq(info->version, 0x0304);
    ck_assert_uint_eq(info->auth_failures, 0);
    ck_assert_uint_eq(info->malformed, 0);
    const char *names[2] = {"client", "server"};
    for (int d = 0; d < 2; d++) {
        char rel[64];
        snprintf(rel, sizeof(rel), "tests/pcap/tls/%s-%d.txt", names[d], n);
        size_t want_len;
        char *want = testdata_read(testdata_path(rel), &want_len);
        ck_assert_uint_eq(k.len[d], want_len);
        ck_assert(memcmp(k.out[d], want, want_len) == 0);
        free(want);
    }
    tls_session_free(s);
    tls_keylog_free(keys);
    sink_free(&k);
}

/* TLS 1.3 after a HelloRetryRequest: the real ServerHello is the one that counts. */
START_TEST(hello_retry_request)
{
    check_tls13_capture(HRR, "tests/pcap/tls/sip-tls-hrr.keys", 7, 0);
}
END_TEST

/* A KeyUpdate from the server mid-session: what follows is under the next secret. */
START_TEST(key_update)
{
    check_tls13_capture(KEYUPDATE, "tests/pcap/tls/sip-tls-keyupdate.keys", 8, 1);
}
END_TEST

START_TEST(garbage_and_oversized_records_are_counted)
{
    static const uint8_t junk[] = "INVITE sip:x SIP/2.0\r\n\r\n";
    tls_session_t *s = tls_session_new(NULL, NULL, NULL);
    ck_assert_int_eq(tls_session_feed(s, TLS_FROM_CLIENT, junk, sizeof(junk) - 1), -EPROTO);
    ck_assert_uint_eq(tls_session_info(s)->malformed, 1);
    /* The direction stays stopped; the other still frames. */
    ck_assert_int_eq(tls_session_feed(s, TLS_FROM_CLIENT, junk, 3), -EPROTO);
    ck_assert_uint_eq(tls_session_info(s)->malformed, 1);
    static const uint8_t big[] = {0x17, 0x03, 0x03, 0x48, 0x01}; /* 18433 > 2^14 + 2048 */
    ck_assert_int_eq(tls_session_feed(s, TLS_FROM_SERVER, big, sizeof(big)), -EPROTO);
    ck_assert_uint_eq(tls_session_info(s)->malformed, 2);
    tls_session_free(s);

    /* A hello whose lengths overrun its record. */
    static const uint8_t bad_hello[] = {0x16, 0x03, 0x01, 0x00, 0x08, 0x01, 0x00,
                                        0x00, 0x04, 0x03, 0x03, 0xff, 0xff};
    s = tls_session_new(NULL, NULL, NULL);
    ck_assert_int_eq(tls_session_feed(s, TLS_FROM_CLIENT, bad_hello, sizeof(bad_hello)), -EPROTO);
    ck_assert_uint_eq(tls_session_info(s)->malformed, 1);
    ck_assert(!tls_session_info(s)->client_hello);
    tls_session_free(s);
}
END_TEST

/* A capture cut in the middle of a record: what came whole is decrypted, the rest waits. */
START_TEST(truncated_stream_decrypts_what_is_whole)
{
    load_streams();
    tls_keylog_t *keys = keys_of("tests/pcap/tls/sip-tls.keys");
    sink_t k = {0};
    tls_session_t *s = tls_session_new(keys, on_plain, &k);
    const tls_info_t *info = run_limit(s, 7, 4096, streams[7].len[0] - 10);
    ck_assert(info->decrypted);
    ck_assert_uint_eq(info->malformed, 0);
    ck_assert_uint_gt(k.len[0], 0);
    ck_assert_uint_gt(k.len[1], 0);
    /* The last record (a close_notify or the BYE) is incomplete: it never came out. */
    size_t want_len;
    char *want = testdata_read(testdata_path("tests/pcap/tls/client-7.txt"), &want_len);
    ck_assert_ptr_nonnull(want);
    ck_assert_uint_le(k.len[0], want_len);
    ck_assert(memcmp(k.out[0], want, k.len[0]) == 0);
    free(want);
    tls_session_free(s);
    tls_keylog_free(keys);
    sink_free(&k);
}
END_TEST

START_TEST(keylog_lines)
{
    tls_keylog_t *k = tls_keylog_new(1);
    const char *r1 = "CLIENT_RANDOM "
                     "0000000000000000000000000000000000000000000000000000000000000001 "
                     "000000000000000000000000000000000000000000000000000000000000000000000000"
                     "000000000000000000000000";
    const char *r2 = "CLIENT_TRAFFIC_SECRET_0 "
                     "0000000000000000000000000000000000000000000000000000000000000002 "
                     "0000000000000000000000000000000000000000000000000000000000000000";
    ck_assert_int_eq(tls_keylog_add_line(k, "# comment", 9), 0);
    ck_assert_int_eq(tls_keylog_add_line(k, "", 0), 0);
    ck_assert_int_eq(tls_keylog_add_line(k, "EXPORTER_SECRET aa bb", 21), 0);
    ck_assert_int_eq(tls_keylog_add_line(k, "CLIENT_RANDOM zz 00", 19), -EINVAL);
    ck_assert_int_eq(tls_keylog_add_line(k, r1, strlen(r1) - 2), -EINVAL); /* short secret */
    ck_assert_int_eq(tls_keylog_add_line(k, r1, strlen(r1)), 1);
    ck_assert_int_eq(tls_keylog_add_line(k, r2, strlen(r2)), -ENOSPC); /* max 1 client */
    tls_keylog_stats_t st = tls_keylog_stats(k);
    ck_assert_uint_eq(st.clients, 1);
    ck_assert_uint_eq(st.secrets, 1);
    ck_assert_uint_eq(st.bad_lines, 2);
    ck_assert_uint_eq(st.full, 1);
    ck_assert_int_eq(tls_keylog_load(k, "/nonexistent/keys"), -ENOENT);
    tls_keylog_free(k);
}
END_TEST

START_TEST(looks_like)
{
    static const uint8_t ch[] = {0x16, 0x03, 0x01, 0x02, 0x00};
    static const uint8_t sip[] = "REGISTER";
    ck_assert(tls_looks_like(ch, sizeof(ch)));
    ck_assert(!tls_looks_like(sip, 8));
    ck_assert(!tls_looks_like(ch, 2));
    ck_assert_str_eq(tls_version_name(0x0304), "TLS 1.3");
    ck_assert_ptr_null(tls_cipher_name(0x0005));
}
END_TEST

static void on_dsb(void *ctx, uint32_t type, const uint8_t *data, size_t len)
{
    if (type == PCAPNG_DSB_TLS)
        (void)tls_keylog_add_text(ctx, (const char *)data, len);
}

/* The same key log injected into a pcapng (editcap --inject-secrets) decrypts as the file. */
/* A little-endian pcapng block: type, total length, body (padded), total length. */
static size_t put_block(uint8_t *out, uint32_t type, const void *body, size_t len)
{
    uint32_t total = (uint32_t)(12 + (len + 3) / 4 * 4);
    memcpy(out, &type, 4);
    memcpy(out + 4, &total, 4);
    memset(out + 8, 0, total - 12);
    memcpy(out + 8, body, len);
    memcpy(out + total - 4, &total, 4);
    return total;
}

/* Secrets before the first packet are read; after it, not looked for. */
START_TEST(pcapng_secrets_after_first_packet_not_scanned)
{
    static const uint8_t shb[16] = {0x4d, 0x3c, 0x2b, 0x1a, 1,    0,    0,    0,
                                    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t idb[8] = {1, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t epb[20] = {0};
    uint8_t dsb[8 + 5] = {0x4b, 0x53, 0x4c, 0x54, 5, 0, 0, 0, '#', ' ', 'x', '\n', '\n'};
    for (int after = 0; after < 2; after++) {
        uint8_t file[256];
        size_t n = put_block(file, 0x0A0D0D0A, shb, sizeof(shb));
        n += put_block(file + n, 1, idb, sizeof(idb));
        if (!after)
            n += put_block(file + n, 0x0A, dsb, sizeof(dsb));
        n += put_block(file + n, 6, epb, sizeof(epb));
        if (after)
            n += put_block(file + n, 0x0A, dsb, sizeof(dsb));
        char path[] = "/tmp/check_tls_dsb_XXXXXX";
        int fd = mkstemp(path);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, file, n), (ssize_t)n);
        close(fd);
        pcapng_dsb_stats_t st;
        tls_keylog_t *keys = tls_keylog_new(4);
        ck_assert_int_eq(pcapng_dsb_scan(path, on_dsb, keys, &st), 0);
        ck_assert_uint_eq(st.blocks, after ? 0 : 1);
        tls_keylog_free(keys);
        unlink(path);
    }
}
END_TEST

START_TEST(pcapng_secrets_block_gives_the_keys)
{
    load_streams();
    tls_keylog_t *keys = tls_keylog_new(64);
    pcapng_dsb_stats_t st;
    ck_assert_int_eq(
        pcapng_dsb_scan(testdata_path("tests/pcap/tls/sip-tls-dsb.pcapng"), on_dsb, keys, &st), 0);
    ck_assert_uint_eq(st.blocks, 1);
    ck_assert_uint_eq(tls_keylog_stats(keys).clients, NSESS);
    sink_t k = {0};
    tls_session_t *s = tls_session_new(keys, on_plain, &k);
    const tls_info_t *info = run(s, 8, 4096);
    ck_assert(info->decrypted);
    size_t want_len;
    char *want = testdata_read(testdata_path("tests/pcap/tls/server-8.txt"), &want_len);
    ck_assert_uint_eq(k.len[1], want_len);
    ck_assert(memcmp(k.out[1], want, want_len) == 0);
    free(want);
    tls_session_free(s);
    tls_keylog_free(keys);
    sink_free(&k);

    /* A pcap file has no blocks; a missing file is an error. */
    ck_assert_int_eq(
        pcapng_dsb_scan(testdata_path("tests/pcap/tls/sip-tls.pcap"), on_dsb, NULL, &st), 0);
    ck_assert_uint_eq(st.blocks, 0);
    ck_assert_int_eq(pcapng_dsb_scan("/nonexistent.pcapng", on_dsb, NULL, NULL), -ENOENT);

    /* A FIFO is left alone (opening it would wait for a writer, and its bytes are libpcap's). */
    char fifo[] = "/tmp/check_tls_fifo_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(fifo));
    char path[64];
    snprintf(path, sizeof(path), "%s/f", fifo);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    ck_assert_int_eq(pcapng_dsb_scan(path, on_dsb, NULL, &st), 0);
    ck_assert_uint_eq(st.blocks, 0);
    unlink(path);
    rmdir(fifo);
}
END_TEST

/* ---- tcp_app: sessions per connection ---------------------------------------------------- */

typedef struct {
    unsigned sip_views, tls_carried, described, described_decrypted;
    size_t sip_bytes;
} app_log_t;

static size_t app_stream(void *ctx, const packet_view_t *pkt)
{
    app_log_t *l = ctx;
    l->sip_views++;
    l->sip_bytes += pkt->len;
    if (pkt->carried & PKT_CARRIED_TLS)
        l->tls_carried++;
    return pkt->len;
}

static void app_tls(void *ctx, const net_endpoint_t *client, const net_endpoint_t *server,
                    const tls_info_t *info)
{
    app_log_t *l = ctx;
    ck_assert_uint_eq(server->port, PORT0 + 7);
    ck_assert_uint_ne(client->port, PORT0 + 7);
    l->described++;
    l->described_decrypted += info->decrypted;
}

/* Session 7's segments through tcp_app as the capture would give them, from client port cport. */
static void app_run(tcp_app_t *a, uint16_t cport)
{
    static const uint8_t lo[4] = {127, 0, 0, 1};
    stream_t *st = &streams[7];
    for (size_t i = 0; i < st->nseg; i++) {
        int d = st->seg[i].dir;
        packet_view_t pkt;
        memset(&pkt, 0, sizeof(pkt));
        pkt.ip_proto = PKT_PROTO_TCP;
        pkt.ts_ns = 1000000000;
        net_addr_v4(&pkt.src.addr, lo);
        net_addr_v4(&pkt.dst.addr, lo);
        pkt.src.port = d == 0 ? cport : PORT0 + 7;
        pkt.dst.port = d == 0 ? PORT0 + 7 : cport;
        pkt.payload = st->data[d] + st->seg[i].off;
        pkt.len = st->seg[i].len;
        ck_assert_uint_eq(tcp_app_feed(a, &pkt), pkt.len); /* the session keeps partial records */
    }
}

/* Decrypted SIP leaves tcp_app marked as TLS, all of it; beyond max_tls a connection is counted,
 * not decrypted; each tracked connection is described once. */
START_TEST(tcp_app_sessions_bounded_and_described)
{
    load_streams();
    tls_keylog_t *keys = keys_of("tests/pcap/tls/sip-tls.keys");
    tcp_app_cfg_t cfg;
    tcp_app_cfg_init(&cfg);
    cfg.tls_keys = keys;
    cfg.max_tls = 1;
    app_log_t log = {0};
    tcp_app_sink_t sink = {.ctx = &log, .on_stream = app_stream, .on_tls = app_tls};
    tcp_app_t *a = tcp_app_new(&cfg, &sink);
    ck_assert_ptr_nonnull(a);
    app_run(a, 40001);
    app_run(a, 40002); /* a second connection while the first is held: over max_tls */
    const tcp_app_stats_t *st = tcp_app_stats(a);
    ck_assert_uint_eq(st->conns[TCP_APP_TLS], 2);
    ck_assert_uint_eq(st->tls_decrypted, 1);
    ck_assert_uint_eq(st->tls_untracked, 1);
    ck_assert_uint_gt(log.sip_views, 0);
    ck_assert_uint_eq(log.tls_carried, log.sip_views);
    size_t c_len, s_len;
    free(testdata_read(testdata_path("tests/pcap/tls/client-7.txt"), &c_len));
    free(testdata_read(testdata_path("tests/pcap/tls/server-7.txt"), &s_len));
    ck_assert_uint_eq(log.sip_bytes, c_len + s_len); /* the first connection's, once */
    tcp_app_flush_tls(a);
    tcp_app_flush_tls(a); /* once each */
    ck_assert_uint_eq(log.described, 1);
    ck_assert_uint_eq(log.described_decrypted, 1);
    tcp_app_free(a);
    tls_keylog_free(keys);
}
END_TEST

/* ---- end to end: sipscope analyze ------------------------------------------------------ */

static char *run_capture(const char *cmd, int *status)
{
    FILE *f = popen(cmd, "r");
    ck_assert_msg(f != NULL, "popen failed: %s", cmd);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n < 1024) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
    }
    buf[n] = '\0';
    *status = pclose(f);
    return buf;
}

/* analyze --json with the given options on a capture of tests/pcap/tls. */
static json_t *analyze(const char *opts, const char *capture)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "%s analyze -q --json --db :memory: %s %s", SIPSCOPE_BINARY, opts,
             testdata_path(capture));
    int status;
    char *out = run_capture(cmd, &status);
    ck_assert_msg(status == 0, "%s: exit status %d", cmd, status);
    json_error_t jerr;
    json_t *root = json_loads(out, 0, &jerr);
    ck_assert_msg(root != NULL, "not JSON (%s): %s", jerr.text, out);
    free(out);
    return root;
}

static json_int_t total(json_t *root, const char *key)
{
    json_t *v = json_object_get(root, key);
    return json_is_integer(v) ? json_integer_value(v) : -1;
}

/* The "tls" array: each connection described, decrypted or not. */
static void check_tls_list(json_t *root, bool decrypted)
{
    json_t *list = json_object_get(root, "tls");
    ck_assert_uint_eq(json_array_size(list), NSESS);
    unsigned tls13 = 0;
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *t = json_array_get(list, i);
        ck_assert_str_eq(json_string_value(json_object_get(t, "sni")), "sip.example.com");
        ck_assert(json_boolean_value(json_object_get(t, "decrypted")) == decrypted);
        const char *server = json_string_value(json_object_get(t, "server"));
        ck_assert_ptr_nonnull(server);
        ck_assert_msg(strncmp(server, "127.0.0.1:1506", 14) == 0, "server %s", server);
        const char *version = json_string_value(json_object_get(t, "version"));
        ck_assert_ptr_nonnull(version);
        tls13 += strcmp(version, "TLS 1.3") == 0;
        ck_assert_msg(strncmp(json_string_value(json_object_get(t, "cipher")), "TLS_", 4) == 0,
                      "cipher");
        ck_assert_int_eq(json_integer_value(json_object_get(t, "malformed")), 0);
        ck_assert_int_eq(json_integer_value(json_object_get(t, "auth_failures")), 0);
    }
    ck_assert_uint_eq(tls13, 3);
}

/* Every session's SIP decoded: 9 x (REGISTER + 200, INVITE + 200, ACK, BYE + 200). */
static void check_decrypted_report(json_t *root)
{
    ck_assert_int_eq(total(root, "sip_messages"), NSESS * 7);
    ck_assert_int_eq(total(root, "tls_sessions"), NSESS);
    ck_assert_int_eq(total(root, "tls_decrypted"), NSESS);
    ck_assert_int_eq(total(root, "malformed"), 0);
    check_tls_list(root, true);
    json_t *calls = json_object_get(root, "calls");
    ck_assert_uint_eq(json_array_size(calls), NSESS);
    for (size_t i = 0; i < json_array_size(calls); i++) {
        json_t *c = json_array_get(calls, i);
        const char *id = json_string_value(json_object_get(c, "call_id"));
        ck_assert_ptr_nonnull(id);
        ck_assert_msg(strncmp(id, "call-", 5) == 0, "call %s", id);
        ck_assert_str_eq(json_string_value(json_object_get(c, "state")), "completed");
        ck_assert_int_eq(json_integer_value(json_object_get(c, "final_status")), 200);
        ck_assert_int_eq(json_integer_value(json_object_get(c, "sip_messages")), 5);
    }
}

START_TEST(analyze_decrypts_with_keylog)
{
    char opts[512];
    snprintf(opts, sizeof(opts), "--tls-keylog %s", testdata_path("tests/pcap/tls/sip-tls.keys"));
    json_t *root = analyze(opts, "tests/pcap/tls/sip-tls.pcap");
    check_decrypted_report(root);
    json_decref(root);
}
END_TEST

/* The key log inside the pcapng (a Decryption Secrets Block) does the same, no option. */
START_TEST(analyze_decrypts_with_pcapng_secrets)
{
    json_t *root = analyze("", "tests/pcap/tls/sip-tls-dsb.pcapng");
    check_decrypted_report(root);
    json_decref(root);
}
END_TEST

/* Without keys: the sessions are counted, nothing is decoded, nothing is called malformed. */
START_TEST(analyze_without_keys_counts_sessions)
{
    json_t *root = analyze("", "tests/pcap/tls/sip-tls.pcap");
    ck_assert_int_eq(total(root, "sip_messages"), 0);
    ck_assert_int_eq(total(root, "tls_sessions"), NSESS);
    ck_assert_int_eq(total(root, "tls_decrypted"), 0);
    ck_assert_int_eq(total(root, "malformed"), 0);
    ck_assert_uint_eq(json_array_size(json_object_get(root, "calls")), 0);
    check_tls_list(root, false);
    json_decref(root);
}
END_TEST

/* The option is on every command that analyses packets. */
START_TEST(tls_keylog_option_in_help)
{
    static const char *const cmds[] = {"analyze", "capture", "run"};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "%s %s --help 2>&1", SIPSCOPE_BINARY, cmds[i]);
        int status;
        char *out = run_capture(cmd, &status);
        ck_assert_msg(strstr(out, "--tls-keylog FILE") != NULL, "%s --help: %s", cmds[i], out);
        free(out);
    }
}
END_TEST

START_TEST(analyze_unreadable_keylog_fails)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "%s analyze -q --json --db :memory: --tls-keylog /nonexistent/keys %s 2>/dev/null",
             SIPSCOPE_BINARY, testdata_path("tests/pcap/tls/sip-tls.pcap"));
    int status;
    free(run_capture(cmd, &status));
    ck_assert_int_ne(status, 0);
}
END_TEST

/* How the stored messages came: via and count, "via:count ..." in via order. */
static void stored_via(const char *opts, const char *capture, char *out, size_t cap)
{
    char dir[] = "/tmp/check_tls_db_XXXXXX", db[64], cmd[2048];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(db, sizeof(db), "%s/t.db", dir);
    snprintf(cmd, sizeof(cmd), "%s analyze -q --db %s %s %s", SIPSCOPE_BINARY, db, opts,
             testdata_path(capture));
    int status;
    free(run_capture(cmd, &status));
    ck_assert_int_eq(status, 0);
    sqlite3 *h;
    ck_assert_int_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(h,
                                        "SELECT via, count(*) FROM sip_messages GROUP BY via "
                                        "ORDER BY via",
                                        -1, &st, NULL),
                     SQLITE_OK);
    out[0] = '\0';
    while (sqlite3_step(st) == SQLITE_ROW) {
        size_t n = strlen(out);
        snprintf(out + n, cap - n, "%s%s:%d", n ? " " : "",
                 (const char *)sqlite3_column_text(st, 0), sqlite3_column_int(st, 1));
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Decrypted messages are stored as having come over TLS; SIP over secure WebSocket (an HTTP
 * Upgrade inside TLS, tests/pcap/tls/make-wss.sh) as wss, and its call completes. */
START_TEST(stored_messages_say_tls_and_wss)
{
    char opts[512], via[256];
    snprintf(opts, sizeof(opts), "--tls-keylog %s", testdata_path("tests/pcap/tls/sip-tls.keys"));
    stored_via(opts, "tests/pcap/tls/sip-tls.pcap", via, sizeof(via));
    ck_assert_str_eq(via, "tls:63");
    snprintf(opts, sizeof(opts), "--tls-keylog %s", testdata_path("tests/pcap/tls/sip-wss.keys"));
    stored_via(opts, "tests/pcap/tls/sip-wss.pcap", via, sizeof(via));
    ck_assert_str_eq(via, "wss:7");
    json_t *root = analyze(opts, "tests/pcap/tls/sip-wss.pcap");
    ck_assert_int_eq(total(root, "sip_messages"), 7);
    ck_assert_int_eq(total(root, "tls_decrypted"), 1);
    json_t *calls = json_object_get(root, "calls");
    ck_assert_uint_eq(json_array_size(calls), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(calls, 0), "state")),
                     "completed");
    json_decref(root);
}
END_TEST

/* tshark with the same key log finds the same number of SIP messages. */
START_TEST(tshark_agrees_on_sip_count)
{
    if (system("command -v tshark >/dev/null 2>&1") != 0) {
        test_skip("tshark_agrees_on_sip_count needs tshark");
        return;
    }
    char pcap[1024], cmd[3072];
    snprintf(pcap, sizeof(pcap), "%s", testdata_path("tests/pcap/tls/sip-tls.pcap"));
    snprintf(cmd, sizeof(cmd),
             "tshark -r %s -o tls.keylog_file:%s -d tcp.port==15061-15069,tls "
             "-d tls.port==15061-15069,sip -Y sip -T fields -e sip.CSeq -E occurrence=a "
             "-E aggregator=/ 2>/dev/null",
             pcap, testdata_path("tests/pcap/tls/sip-tls.keys"));
    int status;
    char *out = run_capture(cmd, &status);
    ck_assert_int_eq(status, 0);
    long n = 0;
    for (char *p = out; *p; p++) {
        if (*p == '/' || *p == '\n')
            n++;
    }
    free(out);
    char opts[512];
    snprintf(opts, sizeof(opts), "--tls-keylog %s", testdata_path("tests/pcap/tls/sip-tls.keys"));
    json_t *root = analyze(opts, "tests/pcap/tls/sip-tls.pcap");
    ck_assert_int_eq(total(root, "sip_messages"), n);
    ck_assert_int_eq(n, NSESS * 7);
    json_decref(root);

    /* The same for SIP over secure WebSocket: TLS, then HTTP, then WebSocket frames. */
    snprintf(pcap, sizeof(pcap), "%s", testdata_path("tests/pcap/tls/sip-wss.pcap"));
    snprintf(cmd, sizeof(cmd),
             "tshark -r %s -o tls.keylog_file:%s -d tcp.port==15072,tls -d tls.port==15072,http "
             "-Y sip -T fields -e sip.CSeq -E occurrence=a -E aggregator=/ 2>/dev/null",
             pcap, testdata_path("tests/pcap/tls/sip-wss.keys"));
    out = run_capture(cmd, &status);
    ck_assert_int_eq(status, 0);
    n = 0;
    for (char *p = out; *p; p++) {
        if (*p == '/' || *p == '\n')
            n++;
    }
    free(out);
    snprintf(opts, sizeof(opts), "--tls-keylog %s", testdata_path("tests/pcap/tls/sip-wss.keys"));
    root = analyze(opts, "tests/pcap/tls/sip-wss.pcap");
    ck_assert_int_eq(total(root, "sip_messages"), n);
    ck_assert_int_eq(n, 7);
    json_decref(root);
}
END_TEST

Suite *tls_suite(void)
{
    Suite *s = suite_create("tls");
    TCase *tc = tcase_create("tls");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, decrypts_each_session_exactly, 1, NSESS + 1);
    tcase_add_loop_test(tc, decrypts_byte_by_byte, 1, NSESS + 1);
    tcase_add_loop_test(tc, no_keys_counts_and_describes, 1, NSESS + 1);
    tcase_add_loop_test(tc, wrong_keys_give_no_plaintext, 1, NSESS + 1);
    tcase_add_test(tc, hello_retry_request);
    tcase_add_test(tc, key_update);
    tcase_add_test(tc, garbage_and_oversized_records_are_counted);
    tcase_add_test(tc, truncated_stream_decrypts_what_is_whole);
    tcase_add_test(tc, keylog_lines);
    tcase_add_test(tc, looks_like);
    tcase_add_test(tc, pcapng_secrets_block_gives_the_keys);
    tcase_add_test(tc, pcapng_secrets_after_first_packet_not_scanned);
    tcase_add_test(tc, tcp_app_sessions_bounded_and_described);
    suite_add_tcase(s, tc);
    TCase *e2e = tcase_create("analyze");
    tcase_set_timeout(e2e, 120);
    tcase_add_test(e2e, analyze_decrypts_with_keylog);
    tcase_add_test(e2e, analyze_decrypts_with_pcapng_secrets);
    tcase_add_test(e2e, analyze_without_keys_counts_sessions);
    tcase_add_test(e2e, analyze_unreadable_keylog_fails);
    tcase_add_test(e2e, tls_keylog_option_in_help);
    tcase_add_test(e2e, tshark_agrees_on_sip_count);
    tcase_add_test(e2e, stored_messages_say_tls_and_wss);
    suite_add_tcase(s, e2e);
    return s;
}
