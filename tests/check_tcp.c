/* check_tcp: TCP stream reassembly through cap_: several messages in a segment, a message over
 * several, retransmissions, reordering, holes and their limits, buffer caps, FIN/RST/SYN,
 * sequence wrap, IPv6, fragments and flow limits. */
#include <check.h>
#include <pcap/dlt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capsink.h"
#include "frames.h"

static const char M1[] = "INVITE sip:bob@example.com SIP/2.0\r\n"
                         "Via: SIP/2.0/TCP 192.0.2.10:5060;branch=z9hG4bK1\r\n"
                         "Call-ID: one@example.com\r\n"
                         "CSeq: 1 INVITE\r\n"
                         "Content-Length: 10\r\n"
                         "\r\n"
                         "0123456789";
static const char M2[] = "SIP/2.0 100 Trying\r\nCall-ID: two\r\nContent-Length: 0\r\n\r\n";
static const char M3[] = "BYE sip:bob@example.com SIP/2.0\r\nl: 3\r\n\r\nabc";

#define CLI_SEQ 1000u

/* A segment of the client's direction 192.0.2.10:40000 -> 198.51.100.20:5060. */
static pkt_t *seg(uint32_t seq, uint8_t flags, const void *data, size_t len)
{
    pkt_t *k = pk_new(data, len);
    w_tcp(k, 40000, 5060, seq, flags);
    w_ip4(k, 6, "192.0.2.10", "198.51.100.20");
    w_eth(k, 0x0800);
    return k;
}

/* The same from the server side. */
static pkt_t *seg_rev(uint32_t seq, uint8_t flags, const void *data, size_t len)
{
    pkt_t *k = pk_new(data, len);
    w_tcp(k, 5060, 40000, seq, flags);
    w_ip4(k, 6, "198.51.100.20", "192.0.2.10");
    w_eth(k, 0x0800);
    return k;
}

static void send_seg(cap_t *cap, uint32_t seq, uint8_t flags, const void *data, size_t len)
{
    feed(cap, DLT_EN10MB, seg(seq, flags, data, len));
}

START_TEST(test_tcp_two_messages_one_segment)
{
    cap_t *cap = new_cap();
    char buf[512];
    int n = snprintf(buf, sizeof(buf), "%s%s", M1, M2);
    ck_assert_int_gt(n, 0);
    send_seg(cap, CLI_SEQ - 1, F_SYN, NULL, 0);
    feed(cap, DLT_EN10MB, seg_rev(5000, F_SYN | F_ACK, NULL, 0));
    send_seg(cap, CLI_SEQ, F_ACK, NULL, 0);
    ck_assert_uint_eq(S.nrecs, 0);
    send_seg(cap, CLI_SEQ, F_ACK | F_PSH, buf, (size_t)n);
    ck_assert_uint_eq(S.nrecs, 1);
    ck_assert_uint_eq(S.nmsgs, 2);
    ck_assert_str_eq(S.msgs[0], M1);
    ck_assert_str_eq(S.msgs[1], M2);
    rec_t *r = &S.recs[0];
    ck_assert_uint_eq(r->proto, CAP_PROTO_TCP);
    ck_assert_str_eq(r->src, "192.0.2.10:40000");
    ck_assert_str_eq(r->dst, "198.51.100.20:5060");
    ck_assert(!r->reassembled);
    ck_assert_uint_eq(cap_stats(cap)->tcp_segments, 4);
    cap_free(cap);
}
END_TEST

START_TEST(test_tcp_split_message)
{
    cap_t *cap = new_cap();
    size_t len = strlen(M1);
    send_seg(cap, CLI_SEQ, F_ACK, M1, 40);
    send_seg(cap, CLI_SEQ + 40, F_ACK, M1 + 40, 60);
    feed(cap, DLT_EN10MB, seg_rev(5000, F_ACK, NULL, 0)); /* pure ACK */
    send_seg(cap, CLI_SEQ + 100, F_ACK | F_PSH, M1 + 100, len - 100);
    ck_assert_uint_eq(S.nrecs, 3);
    ck_assert_uint_eq(S.nmsgs, 1);
    ck_assert_str_eq(S.msgs[0], M1);
    ck_assert(!S.recs[0].reassembled);
    ck_assert_uint_eq(S.recs[1].len, 100);
    ck_assert(S.recs[2].reassembled);
    ck_assert_uint_eq(S.recs[2].len, len);
    /* A second message right after the first arrives alone (the buffer is empty again). */
    send_seg(cap, CLI_SEQ + (uint32_t)len, F_ACK, M2, strlen(M2));
    ck_assert_uint_eq(S.nmsgs, 2);
    ck_assert(!S.recs[3].reassembled);
    cap_free(cap);
}
END_TEST

START_TEST(test_tcp_retransmission)
{
    cap_t *cap = new_cap();
    const cap_stats_t *st = cap_stats(cap);
    size_t l1 = strlen(M1), l2 = strlen(M2);
    send_seg(cap, CLI_SEQ, F_ACK, M1, l1);
    send_seg(cap, CLI_SEQ, F_ACK, M1, l1); /* all old */
    ck_assert_uint_eq(st->tcp_retransmissions, 1);
    ck_assert_uint_eq(S.nrecs, 1);
    /* The last 10 bytes of M1 again, then M2: only M2 is new. */
    char buf[512];
    memcpy(buf, M1 + l1 - 10, 10);
    memcpy(buf + 10, M2, l2);
    send_seg(cap, CLI_SEQ + (uint32_t)l1 - 10, F_ACK, buf, 10 + l2);
    ck_assert_uint_eq(st->tcp_retransmissions, 2);
    ck_assert_uint_eq(S.nmsgs, 2);
    ck_assert_str_eq(S.msgs[1], M2);
    ck_assert_uint_eq(S.recs[1].len, l2);
    cap_free(cap);
}
END_TEST

START_TEST(test_tcp_out_of_order)
{
    cap_t *cap = new_cap();
    size_t len = strlen(M1);
    send_seg(cap, CLI_SEQ, F_ACK, M1, 30);                 /* A */
    send_seg(cap, CLI_SEQ + 80, F_ACK, M1 + 80, len - 80); /* C */
    send_seg(cap, CLI_SEQ + 50, F_ACK, M1 + 50, 20);       /* B2 */
    ck_assert_uint_eq(S.nrecs, 1);
    send_seg(cap, CLI_SEQ + 30, F_ACK, M1 + 30, 20); /* B1 */
    ck_assert_uint_eq(S.nmsgs, 0);                   /* [70, 80) missing */
    send_seg(cap, CLI_SEQ + 65, F_ACK, M1 + 65, 20); /* overlaps both sides */
    ck_assert_uint_eq(S.nmsgs, 1);
    ck_assert_str_eq(S.msgs[0], M1);
    ck_assert_uint_eq(cap_stats(cap)->tcp_out_of_order, 2);
    ck_assert_uint_eq(cap_stats(cap)->tcp_gaps, 0);
    /* Everything was consumed: the next message goes straight through. */
    send_seg(cap, CLI_SEQ + (uint32_t)len, F_ACK, M2, strlen(M2));
    ck_assert_uint_eq(S.nmsgs, 2);
    cap_free(cap);
}
END_TEST

/* A hole that never fills is given up after GAP_WAIT (3 s of capture time). */
START_TEST(test_tcp_gap_timeout)
{
    cap_t *cap = new_cap();
    size_t l1 = strlen(M1), l2 = strlen(M2), l3 = strlen(M3);
    feed_at(cap, DLT_EN10MB, T0, seg(CLI_SEQ, F_ACK, M1, 40)); /* M1[40..] is lost */
    uint32_t s2 = CLI_SEQ + (uint32_t)l1;
    feed_at(cap, DLT_EN10MB, T0 + 1000000, seg(s2, F_ACK, M2, l2));
    ck_assert_uint_eq(S.nmsgs, 0);
    feed_at(cap, DLT_EN10MB, T0 + 4000000000LL, seg(s2 + (uint32_t)l2, F_ACK, M3, l3));
    ck_assert_uint_eq(S.nmsgs, 2);
    ck_assert_str_eq(S.msgs[0], M2);
    ck_assert_str_eq(S.msgs[1], M3);
    ck_assert_uint_eq(cap_stats(cap)->tcp_gaps, 1);
    cap_free(cap);
}
END_TEST

/* Waiting for a hole has limits: separate ranges kept, segments seen, capture time. */
START_TEST(test_tcp_gap_limits)
{
    cap_t *cap = new_cap();
    S.tcp_mode = TCP_ALL;
    const cap_stats_t *st = cap_stats(cap);
    char data[16];
    memset(data, 'x', sizeof(data));
    send_seg(cap, CLI_SEQ, F_ACK, data, 8);
    /* Nine future ranges with holes between them: the 9th is not kept. */
    for (uint32_t i = 1; i <= 9; i++)
        send_seg(cap, CLI_SEQ + 8 + 32 * i, F_ACK, data, 16);
    ck_assert_uint_eq(st->tcp_gaps, 1);
    ck_assert_uint_eq(st->tcp_out_of_order, 9);
    ck_assert_uint_eq(S.nrecs, 1);
    /* The first hole fills: the first range follows, the next hole waits. */
    send_seg(cap, CLI_SEQ + 8, F_ACK, data, 16);
    send_seg(cap, CLI_SEQ + 24, F_ACK, data, 16);
    ck_assert_uint_eq(S.nrecs, 3);
    ck_assert_uint_eq(S.recs[2].len, 32);
    cap_free(cap);

    sink_reset();
    S.tcp_mode = TCP_ALL;
    cap = new_cap();
    st = cap_stats(cap);
    send_seg(cap, CLI_SEQ, F_ACK, data, 8);
    /* 70 adjacent segments behind one hole: one range, but patience runs out after 64. */
    for (uint32_t i = 0; i < 70; i++)
        send_seg(cap, CLI_SEQ + 100 + 16 * i, F_ACK, data, 16);
    ck_assert_uint_eq(st->tcp_gaps, 1);
    ck_assert_uint_eq(S.nrecs, 1 + 1 + 6);
    ck_assert_uint_eq(S.recs[1].len, 64 * 16);
    /* A segment far ahead, beyond the buffer, is dropped while the hole is young... */
    size_t nrecs = S.nrecs;
    feed_at(cap, DLT_EN10MB, T0, seg(CLI_SEQ + 100000000, F_ACK, data, 16));
    ck_assert_uint_eq(st->tcp_gaps, 2);
    ck_assert_uint_eq(S.nrecs, nrecs);
    /* ...and followed once it is old. */
    feed_at(cap, DLT_EN10MB, T0 + 4000000000LL, seg(CLI_SEQ + 100000016, F_ACK, data, 16));
    ck_assert_uint_eq(st->tcp_gaps, 3);
    ck_assert_uint_eq(S.nrecs, nrecs + 1);
    cap_free(cap);
}
END_TEST

/* A sink that never consumes: the buffer stops at its cap and starts over. */
START_TEST(test_tcp_buffer_cap)
{
    cap_cfg_t cfg;
    cap_cfg_init(&cfg);
    cfg.tcp_max_buffer = 1024;
    cap_t *cap = new_cap_cfg(&cfg);
    S.tcp_mode = TCP_NONE;
    char data[300];
    memset(data, 'y', sizeof(data));
    for (uint32_t i = 0; i < 20; i++)
        send_seg(cap, CLI_SEQ + 300 * i, F_ACK, data, sizeof(data));
    ck_assert_uint_ge(cap_stats(cap)->tcp_gaps, 5);
    ck_assert_uint_le(S.max_tcp_offer, 1024);
    ck_assert_uint_eq(S.nrecs, 20);
    /* A single segment larger than the buffer is offered once and dropped. */
    char big[2000];
    memset(big, 'z', sizeof(big));
    uint64_t gaps = cap_stats(cap)->tcp_gaps;
    send_seg(cap, 90000, F_SYN, NULL, 0);
    send_seg(cap, 90001, F_ACK, big, sizeof(big));
    ck_assert_uint_eq(S.recs[20].len, sizeof(big));
    ck_assert_uint_gt(cap_stats(cap)->tcp_gaps, gaps);
    cap_free(cap);
}
END_TEST

/* A sink consuming a fixed amount: the rest is offered again with the next segment. */
START_TEST(test_tcp_partial_consume)
{
    cap_t *cap = new_cap();
    S.tcp_mode = TCP_FIXED;
    S.fixed = 5;
    send_seg(cap, CLI_SEQ, F_ACK, "0123456789", 10);
    send_seg(cap, CLI_SEQ + 10, F_ACK, "abcdef", 6);
    ck_assert_uint_eq(S.nrecs, 2);
    ck_assert_str_eq((char *)S.recs[1].data, "56789abcdef");
    send_seg(cap, CLI_SEQ + 16, F_ACK, "!", 1);
    ck_assert_str_eq((char *)S.recs[2].data, "abcdef!");
    cap_free(cap);
}
END_TEST

/* FIN and RST forget the buffered partial message. */
START_TEST(test_tcp_fin_rst)
{
    cap_t *cap = new_cap();
    const cap_stats_t *st = cap_stats(cap);
    send_seg(cap, CLI_SEQ, F_ACK, M1, 30);
    send_seg(cap, CLI_SEQ + 30, F_ACK | F_FIN, M1 + 30, 10);
    ck_assert_uint_eq(S.recs[1].len, 40);
    /* Old data again: with the state gone it is a new stream, not a retransmission. */
    send_seg(cap, CLI_SEQ, F_ACK, M1, 30);
    ck_assert_uint_eq(st->tcp_retransmissions, 0);
    ck_assert_uint_eq(S.recs[2].len, 30);
    /* RST from the other side ends this direction too. */
    feed(cap, DLT_EN10MB, seg_rev(5000, F_RST, NULL, 0));
    send_seg(cap, CLI_SEQ + 30, F_ACK, M1 + 30, 10);
    ck_assert_uint_eq(S.recs[3].len, 10);
    ck_assert_uint_eq(st->tcp_retransmissions, 0);
    cap_free(cap);
}
END_TEST

/* A new SYN on the same 4-tuple restarts the direction at its ISN. */
START_TEST(test_tcp_syn_restarts)
{
    cap_t *cap = new_cap();
    send_seg(cap, 100, F_SYN, NULL, 0);
    send_seg(cap, 101, F_ACK, M1, 30);
    send_seg(cap, 100, F_SYN, NULL, 0); /* retransmitted SYN: nothing changes */
    send_seg(cap, 131, F_ACK, M1 + 30, strlen(M1) - 30);
    ck_assert_uint_eq(S.nmsgs, 1);
    send_seg(cap, 7000, F_SYN, NULL, 0);
    send_seg(cap, 7001, F_ACK, M2, strlen(M2));
    ck_assert_uint_eq(S.nmsgs, 2);
    ck_assert_uint_eq(cap_stats(cap)->tcp_gaps, 0);
    cap_free(cap);
}
END_TEST

START_TEST(test_tcp_seq_wrap)
{
    cap_t *cap = new_cap();
    send_seg(cap, 0xffffffe0u, F_SYN, NULL, 0);
    send_seg(cap, 0xffffffe1u, F_ACK, M1, 50);
    send_seg(cap, 0xffffffe1u + 50, F_ACK, M1 + 50, strlen(M1) - 50);
    ck_assert_uint_eq(S.nmsgs, 1);
    ck_assert_str_eq(S.msgs[0], M1);
    cap_free(cap);
}
END_TEST

START_TEST(test_tcp_ipv6)
{
    cap_t *cap = new_cap();
    for (int i = 0; i < 2; i++) {
        pkt_t *k = i == 0 ? pk_new(M1, 20) : pk_new(M1 + 20, strlen(M1) - 20);
        w_tcp(k, 40000, 5061, 1 + 20 * (uint32_t)i, F_ACK);
        w_ip6(k, 6, "2001:db8::a", "2001:db8::b");
        feed(cap, DLT_RAW, k);
    }
    ck_assert_uint_eq(S.nmsgs, 1);
    ck_assert_str_eq(S.recs[1].src, "[2001:db8::a]:40000");
    cap_free(cap);
}
END_TEST

/* A TCP segment carried in IPv4 fragments is reassembled first. */
START_TEST(test_tcp_in_fragments)
{
    cap_t *cap = new_cap();
    uint8_t seg_bytes[600];
    size_t l1 = strlen(M1);
    memset(seg_bytes, 0, 20);
    put16(seg_bytes, 40000);
    put16(seg_bytes + 2, 5060);
    put32(seg_bytes + 4, CLI_SEQ);
    seg_bytes[12] = 5 << 4;
    seg_bytes[13] = F_ACK;
    memcpy(seg_bytes + 20, M1, l1);
    size_t total = 20 + l1;
    pkt_t *k = pk_new(seg_bytes + 96, total - 96);
    w_ip4x(k, 6, "192.0.2.10", "198.51.100.20", 8, 96 / 8, 0);
    feed(cap, DLT_RAW, k);
    k = pk_new(seg_bytes, 96);
    w_ip4x(k, 6, "192.0.2.10", "198.51.100.20", 8, 0x2000, 0);
    feed(cap, DLT_RAW, k);
    ck_assert_uint_eq(S.nmsgs, 1);
    ck_assert(S.recs[0].reassembled);
    ck_assert_uint_eq(cap_stats(cap)->tcp_segments, 1);
    cap_free(cap);
}
END_TEST

START_TEST(test_tcp_flow_limits)
{
    cap_cfg_t cfg;
    cap_cfg_init(&cfg);
    cfg.tcp_max_flows = 2;
    cfg.tcp_timeout_ms = 1000;
    cap_t *cap = new_cap_cfg(&cfg);
    const cap_stats_t *st = cap_stats(cap);
    for (uint16_t port = 1; port <= 3; port++) {
        pkt_t *k = pk_new(M1, 10);
        w_tcp(k, port, 5060, 1, F_ACK);
        w_ip4(k, 6, "192.0.2.10", "198.51.100.20");
        feed_at(cap, DLT_RAW, T0, k);
    }
    ck_assert_uint_eq(st->tcp_flows_evicted, 1);
    /* Port 1 was evicted: its continuation starts a new stream of its own. */
    pkt_t *k = pk_new(M1 + 10, 5);
    w_tcp(k, 1, 5060, 11, F_ACK);
    w_ip4(k, 6, "192.0.2.10", "198.51.100.20");
    feed_at(cap, DLT_RAW, T0, k);
    ck_assert_uint_eq(S.recs[3].len, 5);
    ck_assert_uint_eq(st->tcp_flows_evicted, 2);
    /* Idle for more than a second of capture time. */
    feed_at(cap, DLT_RAW, T0 + 3000000000LL, udp4("tick"));
    ck_assert_uint_eq(st->tcp_flows_timed_out, 2);
    cap_free(cap);
}
END_TEST

Suite *tcp_suite(void)
{
    Suite *s = suite_create("tcp");
    TCase *tc = tcase_create("tcp");
    tcase_add_checked_fixture(tc, sink_setup, sink_teardown);
    tcase_add_test(tc, test_tcp_two_messages_one_segment);
    tcase_add_test(tc, test_tcp_split_message);
    tcase_add_test(tc, test_tcp_retransmission);
    tcase_add_test(tc, test_tcp_out_of_order);
    tcase_add_test(tc, test_tcp_gap_timeout);
    tcase_add_test(tc, test_tcp_gap_limits);
    tcase_add_test(tc, test_tcp_buffer_cap);
    tcase_add_test(tc, test_tcp_partial_consume);
    tcase_add_test(tc, test_tcp_fin_rst);
    tcase_add_test(tc, test_tcp_syn_restarts);
    tcase_add_test(tc, test_tcp_seq_wrap);
    tcase_add_test(tc, test_tcp_ipv6);
    tcase_add_test(tc, test_tcp_in_fragments);
    tcase_add_test(tc, test_tcp_flow_limits);
    suite_add_tcase(s, tc);
    return s;
}
