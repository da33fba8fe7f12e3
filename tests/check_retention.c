/* check_retention: pruning of the per-call pcap tree by age and by size (store/retention.c),
 * and the per-call files it prunes as store/callpcap.c writes them (RTP modes, gzip). */
#include <check.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "callpcap.h"
#include "retention.h"

static char root[64];

static void put_file(const char *day, const char *hour, int id, size_t bytes)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", root, day);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%s/%s", root, day, hour);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%s/%s/%d.pcap", root, day, hour, id);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    char *zeros = calloc(1, bytes);
    ck_assert_uint_eq(fwrite(zeros, 1, bytes, f), bytes);
    free(zeros);
    fclose(f);
}

static bool exists(const char *rel)
{
    char path[256];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    return stat(path, &st) == 0;
}

static int64_t at(int y, int mo, int d, int h)
{
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h};
    return (int64_t)timegm(&tm) * 1000000000;
}

static void setup(void)
{
    snprintf(root, sizeof(root), "/tmp/sipscope-ret-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
    put_file("2024-01-14", "23", 1, 1000);
    put_file("2024-01-15", "09", 2, 1000);
    put_file("2024-01-15", "10", 3, 1000);
    put_file("2024-01-15", "10", 4, 1000);
    put_file("2024-01-15", "11", 5, 1000);
    /* Not ours: left alone whatever the limits. */
    put_file("notes", "xx", 6, 10);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(age_removes_whole_hours_before_the_cutoff)
{
    /* Cutoff 10:30: the 23:00 and 09:00 hours are entirely older; 10:00 is not yet. */
    uint64_t removed = retention_prune_pcaps(root, at(2024, 1, 15, 10) + 1800000000000LL, 0);
    ck_assert_uint_eq(removed, 2);
    ck_assert(!exists("2024-01-14/23/1.pcap"));
    ck_assert(!exists("2024-01-14")); /* the emptied day goes too */
    ck_assert(!exists("2024-01-15/09"));
    ck_assert(exists("2024-01-15/10/3.pcap"));
    ck_assert(exists("2024-01-15/11/5.pcap"));
    ck_assert(exists("notes/xx/6.pcap"));
}
END_TEST

START_TEST(size_removes_oldest_hours_first_and_keeps_the_newest)
{
    /* 5000 bytes in four hours; 2500 allowed: the two oldest hours go (3000 left, still over,
     * then the 10:00 hour with 2000 goes too), and the newest hour always stays. */
    uint64_t removed = retention_prune_pcaps(root, 0, 2500);
    ck_assert_uint_eq(removed, 4);
    ck_assert(exists("2024-01-15/11/5.pcap"));
    ck_assert(!exists("2024-01-15/10"));
    /* Nothing more to do under a generous limit. */
    ck_assert_uint_eq(retention_prune_pcaps(root, 0, 1u << 30), 0);
    ck_assert(exists("2024-01-15/11/5.pcap"));
}
END_TEST

START_TEST(missing_directory_is_harmless)
{
    ck_assert_uint_eq(retention_prune_pcaps("/nonexistent/sipscope", at(2030, 1, 1, 0), 1), 0);
}
END_TEST

/* ---- size is what is on disk ---- */

/* Bytes the file rel really takes on disk (st_blocks), as retention counts them. */
static uint64_t on_disk(const char *rel)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    return (uint64_t)st.st_blocks * 512;
}

START_TEST(size_counts_blocks_on_disk_not_apparent_size)
{
    /* A sparse file says 1 GB but takes (nearly) nothing: it must not make the tree look over
     * a 1 MB limit, which its apparent size would, and remove the older hours. */
    put_file("2024-01-15", "08", 7, 0);
    char path[256];
    snprintf(path, sizeof(path), "%s/2024-01-15/08/7.pcap", root);
    ck_assert_int_eq(truncate(path, 1LL << 30), 0);
    uint64_t used = on_disk("2024-01-15/08/7.pcap");
    ck_assert_uint_lt(used, 1u << 20);
    ck_assert_uint_eq(retention_prune_pcaps(root, 0, 1u << 20), 0);
    ck_assert(exists("2024-01-14/23/1.pcap"));
    ck_assert(exists("2024-01-15/08/7.pcap"));
}
END_TEST

/* A call's packets, one SIP datagram then n RTP datagrams of 160 bytes (a payload that
 * compresses, as a tone does), into cp. */
static void write_call(callpcap_t *cp, call_ref_t ref, int n);

START_TEST(size_counts_compressed_files)
{
    /* Three hours of gzip per-call files, each call about 200 kB as a plain pcap and a few kB
     * compressed: retention sees the compressed sizes. */
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/gz", root);
    callpcap_cfg_t cfg = {.compress = CALLPCAP_GZIP};
    char err[256];
    callpcap_t *cp = callpcap_new(dir, &cfg, err, sizeof(err));
    ck_assert_ptr_nonnull(cp);
    uint64_t plain = 0;
    for (int h = 0; h < 3; h++) {
        for (int c = 0; c < 4; c++) {
            call_ref_t ref = {.row = 10 * h + c + 1, .invite_ns = at(2024, 2, 1, 9 + h)};
            write_call(cp, ref, 1000);
            callpcap_close_call(cp, ref.row);
            plain += 24 + 1000 * (16 + 20 + 8 + 172);
        }
    }
    callpcap_free(cp);
    uint64_t hours[3];
    for (int h = 0; h < 3; h++) {
        hours[h] = 0;
        for (int c = 0; c < 4; c++) {
            char rel[128];
            snprintf(rel, sizeof(rel), "gz/2024-02-01/%02d/%d.pcap.gz", 9 + h, 10 * h + c + 1);
            hours[h] += on_disk(rel);
        }
    }
    uint64_t total = hours[0] + hours[1] + hours[2];
    ck_assert_uint_lt(total * 4, plain); /* compressed, and counted so */
    /* Under a limit between the compressed and the plain total, nothing goes. */
    ck_assert_uint_eq(retention_prune_pcaps(dir, 0, plain / 2), 0);
    ck_assert(exists("gz/2024-02-01/09/1.pcap.gz"));
    /* Just under the compressed total: the oldest hour (four files) goes, no more. */
    ck_assert_uint_eq(retention_prune_pcaps(dir, 0, total - 1), 4);
    ck_assert(!exists("gz/2024-02-01/09"));
    ck_assert(exists("gz/2024-02-01/10/11.pcap.gz"));
    ck_assert(exists("gz/2024-02-01/11/21.pcap.gz"));
}
END_TEST

/* ---- the per-call files: RTP modes and gzip (store/callpcap.c) ---- */

enum { SIP_LEN = 120, RTP_PAYLOAD = 160 };

/* One IPv4/UDP datagram in buf: headers, then payload (len bytes) copied in. Fills pkt. */
static void make_udp(uint8_t *buf, packet_view_t *pkt, const uint8_t *payload, size_t len,
                     int64_t ts_ns)
{
    memset(buf, 0, 28);
    buf[0] = 0x45;
    buf[2] = (uint8_t)((28 + len) >> 8);
    buf[3] = (uint8_t)(28 + len);
    buf[8] = 64;
    buf[9] = 17;
    uint8_t a[4] = {192, 0, 2, 1}, b[4] = {198, 51, 100, 2};
    memcpy(buf + 12, a, 4);
    memcpy(buf + 16, b, 4);
    buf[20] = 0x30, buf[21] = 0x39; /* 12345 */
    buf[22] = 0x3a, buf[23] = 0x98; /* 15000 */
    buf[24] = (uint8_t)((8 + len) >> 8);
    buf[25] = (uint8_t)(8 + len);
    memcpy(buf + 28, payload, len);
    memset(pkt, 0, sizeof(*pkt));
    pkt->ts_ns = ts_ns;
    pkt->ip_proto = 17;
    net_addr_v4(&pkt->src.addr, a);
    net_addr_v4(&pkt->dst.addr, b);
    pkt->src.port = 12345;
    pkt->dst.port = 15000;
    pkt->l3 = buf;
    pkt->l3_len = 28 + len;
    pkt->payload = buf + 28;
    pkt->len = len;
}

/* An RTP packet (RFC 3550 5.1): V=2, cc CSRCs, an extension of ext_words words if ext_words
 * >= 0, then RTP_PAYLOAD bytes. Returns its length; *hdr the header's. */
static size_t make_rtp(uint8_t *p, uint16_t seq, int cc, int ext_words, size_t *hdr)
{
    size_t h = 12 + 4 * (size_t)cc;
    p[0] = (uint8_t)(0x80 | (ext_words >= 0 ? 0x10 : 0) | cc);
    p[1] = 0;
    p[2] = (uint8_t)(seq >> 8);
    p[3] = (uint8_t)seq;
    memset(p + 4, 0x11, h - 4); /* timestamp, SSRC, CSRCs */
    if (ext_words >= 0) {
        p[h] = 0xbe, p[h + 1] = 0xde;
        p[h + 2] = 0, p[h + 3] = (uint8_t)ext_words;
        memset(p + h + 4, 0x22, 4 * (size_t)ext_words);
        h += 4 + 4 * (size_t)ext_words;
    }
    for (size_t i = 0; i < RTP_PAYLOAD; i++)
        p[h + i] = (uint8_t)(0x7f ^ (i % 20)); /* periodic, like a tone */
    *hdr = h;
    return h + RTP_PAYLOAD;
}

static void write_call(callpcap_t *cp, call_ref_t ref, int n)
{
    uint8_t frame[1600], payload[1500];
    packet_view_t pkt;
    memset(payload, 'S', SIP_LEN);
    make_udp(frame, &pkt, payload, SIP_LEN, ref.invite_ns);
    callpcap_write(cp, ref, &pkt, CALLPCAP_PKT_SIP);
    for (int i = 0; i < n; i++) {
        size_t hdr, len = make_rtp(payload, (uint16_t)i, 0, -1, &hdr);
        make_udp(frame, &pkt, payload, len, ref.invite_ns + (int64_t)(i + 1) * 20000000);
        callpcap_write(cp, ref, &pkt, CALLPCAP_PKT_RTP);
    }
}

typedef struct {
    uint8_t *p;
    size_t len;
} bytes_t;

static bytes_t read_file(const char *path)
{
    bytes_t b = {0};
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s missing", path);
    fseek(f, 0, SEEK_END);
    b.len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    b.p = malloc(b.len + 1);
    ck_assert_uint_eq(fread(b.p, 1, b.len, f), b.len);
    fclose(f);
    return b;
}

/* A gzip file's contents, only if it is complete: every member (RFC 1952) inflates to its
 * end and its trailer, and nothing follows the last. *members: how many. */
static bool gunzip_complete(const char *path, bytes_t *out, int *members)
{
    bytes_t in = read_file(path);
    z_stream z = {0};
    ck_assert_int_eq(inflateInit2(&z, 15 + 16), Z_OK);
    size_t cap = 1 << 20;
    out->p = malloc(cap);
    out->len = 0;
    *members = 0;
    z.next_in = in.p;
    z.avail_in = (uInt)in.len;
    bool ok = in.len > 0;
    while (ok && z.avail_in > 0) {
        if (cap - out->len < 65536) {
            cap *= 2;
            out->p = realloc(out->p, cap);
        }
        z.next_out = out->p + out->len;
        z.avail_out = (uInt)(cap - out->len);
        int rc = inflate(&z, Z_NO_FLUSH);
        out->len = cap - z.avail_out;
        if (rc == Z_STREAM_END) {
            (*members)++;
            inflateReset(&z);
        } else if (rc != Z_OK) {
            ok = false;
        } else if (z.avail_in == 0) {
            ok = false; /* input ended inside a member: no trailer */
        }
    }
    inflateEnd(&z);
    free(in.p);
    return ok && *members > 0;
}

static uint32_t le32_at(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

START_TEST(callpcap_header_mode_cuts_rtp_payloads_only)
{
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/hdr", root);
    callpcap_cfg_t cfg = {.rtp = CALLPCAP_RTP_HEADER};
    char err[256];
    callpcap_t *cp = callpcap_new(dir, &cfg, err, sizeof(err));
    ck_assert_ptr_nonnull(cp);
    call_ref_t ref = {.row = 5, .invite_ns = at(2024, 3, 1, 12)};
    uint8_t frame[1600], payload[1500];
    packet_view_t pkt;
    memset(payload, 'S', SIP_LEN);
    make_udp(frame, &pkt, payload, SIP_LEN, ref.invite_ns);
    callpcap_write(cp, ref, &pkt, CALLPCAP_PKT_SIP);
    /* RTP: plain; two CSRCs; two CSRCs and a 3-word extension; an extension whose length runs
     * past the packet (cut at the packet's end: nothing beyond it is read). */
    size_t hdrs[4], lens[4];
    const int cc[4] = {0, 2, 2, 0}, ext[4] = {-1, -1, 3, 1000};
    for (int i = 0; i < 4; i++) {
        lens[i] = make_rtp(payload, (uint16_t)i, cc[i], ext[i] < 1000 ? ext[i] : 0, &hdrs[i]);
        if (ext[i] == 1000) {
            payload[15] = 0xff; /* extension length 255 words: beyond the packet */
            hdrs[i] = lens[i];
        }
        make_udp(frame, &pkt, payload, lens[i], ref.invite_ns + i + 1);
        callpcap_write(cp, ref, &pkt, CALLPCAP_PKT_RTP);
    }
    /* RTCP is kept whole. */
    make_udp(frame, &pkt, payload, 60, ref.invite_ns + 10);
    callpcap_write(cp, ref, &pkt, CALLPCAP_PKT_RTCP);
    callpcap_close_call(cp, ref.row);
    callpcap_stats_t st;
    callpcap_get_stats(cp, &st);
    ck_assert_uint_eq(st.frames_written, 6);
    ck_assert_uint_eq(st.write_errors, 0);
    callpcap_free(cp);

    char path[400];
    ck_assert_int_lt(snprintf(path, sizeof(path), "%s/2024-03-01/12/5.pcap", dir),
                     (int)sizeof(path));
    bytes_t f = read_file(path);
    size_t off = 24;
    uint32_t want_cap[6], want_len[6];
    want_cap[0] = want_len[0] = 28 + SIP_LEN;
    for (int i = 0; i < 4; i++) {
        want_cap[i + 1] = (uint32_t)(28 + hdrs[i]);
        want_len[i + 1] = (uint32_t)(28 + lens[i]);
    }
    want_cap[5] = want_len[5] = 28 + 60;
    for (int i = 0; i < 6; i++) {
        ck_assert_uint_le(off + 16, f.len);
        uint32_t caplen = le32_at(f.p + off + 8), len = le32_at(f.p + off + 12);
        ck_assert_msg(caplen == want_cap[i] && len == want_len[i],
                      "record %d: caplen %u len %u, want %u %u", i, caplen, len, want_cap[i],
                      want_len[i]);
        off += 16 + caplen;
    }
    ck_assert_uint_eq(off, f.len);
    ck_assert_uint_eq(want_cap[1], 28 + 12);
    ck_assert_uint_eq(want_cap[2], 28 + 12 + 8);
    ck_assert_uint_eq(want_cap[3], 28 + 12 + 8 + 16);
    free(f.p);
}
END_TEST

START_TEST(callpcap_none_mode_keeps_sip_only)
{
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/none", root);
    callpcap_cfg_t cfg = {.rtp = CALLPCAP_RTP_NONE};
    char err[256];
    callpcap_t *cp = callpcap_new(dir, &cfg, err, sizeof(err));
    ck_assert_ptr_nonnull(cp);
    call_ref_t ref = {.row = 6, .invite_ns = at(2024, 3, 1, 12)};
    write_call(cp, ref, 50);
    callpcap_free(cp);
    struct stat st;
    char path[400];
    ck_assert_int_lt(snprintf(path, sizeof(path), "%s/2024-03-01/12/6.pcap", dir),
                     (int)sizeof(path));
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_size, 24 + 16 + 28 + SIP_LEN);
}
END_TEST

/* A run killed before it stored a call leaves that call's file behind, and the store hands the
 * call's number out again. The new call's file holds only its own packets; a call reopened
 * after an eviction is still appended to. */
START_TEST(callpcap_replaces_a_file_left_by_a_killed_run)
{
    char dir[300], path[400];
    snprintf(dir, sizeof(dir), "%s/stale", root);
    callpcap_cfg_t cfg = {.rtp = CALLPCAP_RTP_NONE, .max_open = 1};
    char err[256];
    callpcap_t *cp = callpcap_new(dir, &cfg, err, sizeof(err));
    ck_assert_ptr_nonnull(cp);
    call_ref_t stale = {.row = 7, .invite_ns = at(2024, 3, 1, 12)};
    call_ref_t other = {.row = 8, .invite_ns = at(2024, 3, 1, 12)};
    ck_assert_int_lt(snprintf(path, sizeof(path), "%s/2024-03-01/12/7.pcap", dir),
                     (int)sizeof(path));
    write_call(cp, stale, 0); /* creates the directory */
    callpcap_free(cp);
    FILE *f = fopen(path, "ab");
    ck_assert_ptr_nonnull(f);
    fputs("packets of the killed run's call 7", f);
    fclose(f);

    cp = callpcap_new(dir, &cfg, err, sizeof(err));
    write_call(cp, stale, 0); /* the new call 7 */
    write_call(cp, other, 0); /* evicts call 7 (one open file) */
    write_call(cp, stale, 0); /* call 7 again: appended */
    callpcap_free(cp);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_size, 24 + 2 * (16 + 28 + SIP_LEN));
}
END_TEST

START_TEST(callpcap_names_of_the_modes)
{
    callpcap_rtp_t m;
    callpcap_compress_t c;
    ck_assert_int_eq(callpcap_rtp_parse("full", &m), 0);
    ck_assert_int_eq(m, CALLPCAP_RTP_FULL);
    ck_assert_int_eq(callpcap_rtp_parse("header", &m), 0);
    ck_assert_int_eq(m, CALLPCAP_RTP_HEADER);
    ck_assert_int_eq(callpcap_rtp_parse("none", &m), 0);
    ck_assert_int_eq(m, CALLPCAP_RTP_NONE);
    ck_assert_int_lt(callpcap_rtp_parse("Header", &m), 0);
    ck_assert_int_lt(callpcap_rtp_parse("", &m), 0);
    ck_assert_int_eq(callpcap_compress_parse("gzip", &c), 0);
    ck_assert_int_eq(c, CALLPCAP_GZIP);
    ck_assert_int_eq(callpcap_compress_parse("none", &c), 0);
    ck_assert_int_eq(c, CALLPCAP_PLAIN);
    ck_assert_int_lt(callpcap_compress_parse("zstd", &c), 0);
}
END_TEST

/* Three calls through a cache of two open files: calls are evicted and reopened, so their
 * gzip files get several members. Each file is complete as soon as its call ends (before the
 * writer is freed) and holds, decompressed, exactly what the plain file holds. */
START_TEST(callpcap_gzip_complete_at_call_end_and_across_evictions)
{
    char plain_dir[300], gz_dir[300];
    snprintf(plain_dir, sizeof(plain_dir), "%s/plain", root);
    snprintf(gz_dir, sizeof(gz_dir), "%s/gzip", root);
    char err[256];
    callpcap_cfg_t pc = {.max_open = 2}, gc = {.max_open = 2, .compress = CALLPCAP_GZIP};
    callpcap_t *plain = callpcap_new(plain_dir, &pc, err, sizeof(err));
    callpcap_t *gz = callpcap_new(gz_dir, &gc, err, sizeof(err));
    ck_assert_ptr_nonnull(plain);
    ck_assert_ptr_nonnull(gz);
    call_ref_t refs[3];
    for (int c = 0; c < 3; c++)
        refs[c] = (call_ref_t){.row = 100 + c, .invite_ns = at(2024, 4, 2, 7)};
    for (int round = 0; round < 4; round++) {
        for (int c = 0; c < 3; c++) {
            write_call(plain, refs[c], 30);
            write_call(gz, refs[c], 30);
        }
    }
    callpcap_stats_t st;
    callpcap_get_stats(gz, &st);
    ck_assert_uint_gt(st.files_opened, 3); /* reopened after evictions */
    for (int c = 0; c < 3; c++) {
        callpcap_close_call(plain, refs[c].row);
        callpcap_close_call(gz, refs[c].row);
        char pp[400], gp[400];
        snprintf(pp, sizeof(pp), "%s/2024-04-02/07/%d.pcap", plain_dir, 100 + c);
        snprintf(gp, sizeof(gp), "%s/2024-04-02/07/%d.pcap.gz", gz_dir, 100 + c);
        bytes_t want = read_file(pp), got;
        int members = 0;
        ck_assert_msg(gunzip_complete(gp, &got, &members), "%s is not complete", gp);
        ck_assert_int_gt(members, 1);
        ck_assert_uint_eq(got.len, want.len);
        ck_assert(memcmp(got.p, want.p, want.len) == 0);
        free(want.p);
        free(got.p);
    }
    callpcap_get_stats(gz, &st);
    ck_assert_uint_eq(st.gzip_state_bytes, 0); /* every state released with its file */
    ck_assert_uint_eq(st.write_errors, 0);
    callpcap_free(plain);
    callpcap_free(gz);
}
END_TEST

/* Several hundred calls open at once: the deflate state per open file stays as stated in
 * callpcap.h (54 kB), and a file still open is completed at callpcap_free (exit). */
START_TEST(callpcap_gzip_memory_per_open_file_is_bounded)
{
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/many", root);
    char err[256];
    callpcap_cfg_t cfg = {.max_open = 512, .compress = CALLPCAP_GZIP};
    callpcap_t *cp = callpcap_new(dir, &cfg, err, sizeof(err));
    ck_assert_ptr_nonnull(cp);
    enum { CALLS = 300 };
    write_call(cp, (call_ref_t){.row = 1, .invite_ns = at(2024, 5, 5, 5)}, 5);
    callpcap_stats_t st;
    callpcap_get_stats(cp, &st);
    uint64_t per_file = st.gzip_state_bytes; /* one file open */
    ck_assert_uint_gt(per_file, 0);
    ck_assert_msg(per_file <= 56 * 1024, "%llu bytes of deflate state per open file",
                  (unsigned long long)per_file);
    for (int c = 1; c < CALLS; c++)
        write_call(cp, (call_ref_t){.row = c + 1, .invite_ns = at(2024, 5, 5, 5)}, 5);
    callpcap_get_stats(cp, &st);
    ck_assert_uint_eq(st.write_errors, 0);
    /* No more than that per open file, however many are open. */
    ck_assert_uint_le(st.gzip_state_bytes, CALLS * per_file);
    ck_assert_uint_ge(st.gzip_state_bytes, CALLS / 2 * per_file);
    callpcap_free(cp); /* at exit: every open file gets its trailer */
    for (int c = 0; c < CALLS; c += 37) {
        char path[400];
        snprintf(path, sizeof(path), "%s/2024-05-05/05/%d.pcap.gz", dir, c + 1);
        bytes_t got;
        int members;
        ck_assert_msg(gunzip_complete(path, &got, &members), "%s is not complete", path);
        ck_assert_uint_eq(got.len, 24 + 16 + 28 + SIP_LEN + 5 * (16 + 28 + 12 + RTP_PAYLOAD));
        free(got.p);
    }
}
END_TEST

/* A directory name longer than the files' prefix holds is refused, not cut (the pcaps would
 * go under another directory than the one asked for). */
START_TEST(callpcap_refuses_a_directory_name_it_would_cut)
{
    char dir[1200];
    int len = snprintf(dir, sizeof(dir), "%s", root);
    while (len + 11 < 1100)
        len += snprintf(dir + len, sizeof(dir) - (size_t)len, "/dddddddddd");
    char err[256] = "";
    callpcap_cfg_t cfg = {0};
    callpcap_t *cp = callpcap_new(dir, &cfg, err, sizeof(err));
    ck_assert_ptr_null(cp);
    ck_assert_ptr_nonnull(strstr(err, "too long"));
}
END_TEST

Suite *retention_suite(void)
{
    Suite *s = suite_create("retention");
    TCase *tc = tcase_create("pcaps");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, age_removes_whole_hours_before_the_cutoff);
    tcase_add_test(tc, size_removes_oldest_hours_first_and_keeps_the_newest);
    tcase_add_test(tc, missing_directory_is_harmless);
    tcase_add_test(tc, size_counts_blocks_on_disk_not_apparent_size);
    tcase_add_test(tc, size_counts_compressed_files);
    suite_add_tcase(s, tc);

    tc = tcase_create("callpcap");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, callpcap_replaces_a_file_left_by_a_killed_run);
    tcase_add_test(tc, callpcap_names_of_the_modes);
    tcase_add_test(tc, callpcap_header_mode_cuts_rtp_payloads_only);
    tcase_add_test(tc, callpcap_none_mode_keeps_sip_only);
    tcase_add_test(tc, callpcap_gzip_complete_at_call_end_and_across_evictions);
    tcase_add_test(tc, callpcap_gzip_memory_per_open_file_is_bounded);
    tcase_add_test(tc, callpcap_refuses_a_directory_name_it_would_cut);
    suite_add_tcase(s, tc);
    return s;
}
