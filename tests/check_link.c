/* check_link: link layers through cap_: Ethernet, 802.1Q/802.1ad VLAN stacks, Linux cooked
 * SLL and SLL2, BSD loopback, raw IP, and what is counted instead of decoded. */
#include <check.h>
#include <pcap/dlt.h>
#include <stdlib.h>
#include <string.h>

#include "capsink.h"
#include "frames.h"

START_TEST(test_ethernet_ipv4_udp)
{
    cap_t *cap = new_cap();
    pkt_t *k = udp4("hello");
    w_eth(k, 0x0800);
    static const uint8_t zeros[60];
    size_t pad = 60 - pk_len(k); /* 14 + 20 + 8 + 5 = 47: padded to the 60-byte minimum */
    pk_append(k, zeros, pad);
    const uint8_t *frame = pk_data(k);
    cap_process_frame(cap, DLT_EN10MB, T0 + 123, frame, 60, 64);
    ck_assert_uint_eq(S.nrecs, 1);
    rec_t *r = &S.recs[0];
    ck_assert_uint_eq(r->proto, CAP_PROTO_UDP);
    ck_assert_str_eq(r->src, "192.0.2.1:5060");
    ck_assert_str_eq(r->dst, "198.51.100.2:5062");
    ck_assert_uint_eq(r->len, 5);
    ck_assert_str_eq((char *)r->data, "hello");
    ck_assert_uint_eq(r->vlan, 0);
    ck_assert(!r->reassembled);
    ck_assert_int_eq(r->ts_ns, T0 + 123);
    ck_assert_ptr_eq(r->l3, frame + 14);
    ck_assert_uint_eq(r->l3_len, 33);
    ck_assert_ptr_eq(r->frame, frame);
    ck_assert_uint_eq(r->frame_caplen, 60);
    ck_assert_uint_eq(r->frame_len, 64);
    ck_assert_int_eq(r->frame_dlt, DLT_EN10MB);
    const cap_stats_t *st = cap_stats(cap);
    ck_assert_uint_eq(st->frames, 1);
    ck_assert_uint_eq(st->bytes, 64);
    ck_assert_uint_eq(st->udp_packets, 1);
    ck_assert_uint_eq(st->truncated + st->bad_header + st->non_ip, 0);
    free(k);
    cap_free(cap);
}
END_TEST

/* 802.1Q, 802.1ad and the old 0x9100 TPID, stacked: the outermost id is reported. */
START_TEST(test_vlan_stacks)
{
    cap_t *cap = new_cap();
    pkt_t *k = udp4("q");
    w_vlan(k, 200, 0x0800);
    w_eth(k, 0x8100);
    feed(cap, DLT_EN10MB, k);

    k = udp4("qinq");
    w_vlan(k, 200, 0x0800);
    w_vlan(k, 100, 0x8100);
    w_eth(k, 0x88a8);
    feed(cap, DLT_EN10MB, k);

    k = udp4("deep");
    w_vlan(k, 5, 0x0800);
    w_vlan(k, 4, 0x8100);
    w_vlan(k, 3, 0x8100);
    w_vlan(k, 2, 0x88a8);
    w_vlan(k, 1, 0x9100);
    w_eth(k, 0x9100);
    feed(cap, DLT_EN10MB, k);

    k = udp4("vid0");
    w_vlan(k, 0, 0x0800); /* priority tag */
    w_eth(k, 0x8100);
    feed(cap, DLT_EN10MB, k);

    ck_assert_uint_eq(S.nrecs, 4);
    ck_assert_uint_eq(S.recs[0].vlan, 200);
    ck_assert_uint_eq(S.recs[1].vlan, 100);
    ck_assert_str_eq((char *)S.recs[1].data, "qinq");
    ck_assert_uint_eq(S.recs[2].vlan, 1);
    ck_assert_str_eq((char *)S.recs[2].data, "deep");
    ck_assert_uint_eq(S.recs[3].vlan, 0);
    cap_free(cap);
}
END_TEST

START_TEST(test_linux_cooked)
{
    cap_t *cap = new_cap();
    pkt_t *k = udp4("sll");
    w_sll(k, 0x0800);
    feed(cap, DLT_LINUX_SLL, k);

    k = pk_str("sll2-v6");
    w_udp(k, 5060, 5060);
    w_ip6(k, 17, "2001:db8::1", "2001:db8::2");
    w_sll2(k, 0x86dd);
    feed(cap, DLT_LINUX_SLL2, k);

    k = udp4("sll-vlan");
    w_vlan(k, 42, 0x0800);
    w_sll(k, 0x8100);
    feed(cap, DLT_LINUX_SLL, k);

    k = udp4("sll2-vlan");
    w_vlan(k, 43, 0x0800);
    w_sll2(k, 0x8100);
    feed(cap, DLT_LINUX_SLL2, k);

    k = udp4("llc");
    w_sll(k, 0x0004); /* ETH_P_802_2 */
    feed(cap, DLT_LINUX_SLL, k);

    ck_assert_uint_eq(S.nrecs, 4);
    ck_assert_str_eq((char *)S.recs[0].data, "sll");
    ck_assert_str_eq(S.recs[1].src, "[2001:db8::1]:5060");
    ck_assert_uint_eq(S.recs[2].vlan, 42);
    ck_assert_uint_eq(S.recs[3].vlan, 43);
    ck_assert_uint_eq(cap_stats(cap)->non_ip, 1);
    cap_free(cap);
}
END_TEST

/* BSD loopback: AF_INET 2 and AF_INET6 24/28/30, either byte order, DLT_NULL and DLT_LOOP. */
START_TEST(test_loopback)
{
    cap_t *cap = new_cap();
    static const int dlts[] = {DLT_NULL, 108};
    static const uint32_t afs[] = {2, 24, 28, 30};
    for (size_t d = 0; d < 2; d++) {
        for (size_t a = 0; a < 4; a++) {
            for (int be = 0; be < 2; be++) {
                pkt_t *k = pk_str("lo");
                w_udp(k, 1000, 2000);
                if (afs[a] == 2)
                    w_ip4(k, 17, "127.0.0.1", "127.0.0.2");
                else
                    w_ip6(k, 17, "::1", "::2");
                w_null(k, afs[a], be != 0);
                feed(cap, dlts[d], k);
            }
        }
    }
    ck_assert_uint_eq(S.nrecs, 16);
    ck_assert_str_eq(S.recs[0].src, "127.0.0.1:1000");
    ck_assert_str_eq(S.recs[2].src, "[::1]:1000");
    pkt_t *k = udp4("x");
    w_null(k, 7, false);
    feed(cap, DLT_NULL, k);
    ck_assert_uint_eq(cap_stats(cap)->non_ip, 1);
    ck_assert_uint_eq(S.nrecs, 16);
    cap_free(cap);
}
END_TEST

START_TEST(test_raw_ip)
{
    cap_t *cap = new_cap();
    feed(cap, DLT_RAW, udp4("raw"));
    feed(cap, 101, udp4("linktype-raw"));
    feed(cap, 14, udp4("openbsd-raw"));
    feed(cap, DLT_IPV4, udp4("ipv4"));
    pkt_t *k = pk_str("ipv6");
    w_udp(k, 1, 2);
    w_ip6(k, 17, "2001:db8::1", "2001:db8::2");
    feed(cap, DLT_IPV6, k);
    ck_assert_uint_eq(S.nrecs, 5);
    ck_assert_str_eq((char *)S.recs[4].data, "ipv6");
    ck_assert_ptr_eq(S.recs[0].l3, S.recs[0].frame);

    k = pk_str("v6 in ipv4 dlt");
    w_udp(k, 1, 2);
    w_ip6(k, 17, "2001:db8::1", "2001:db8::2");
    feed(cap, DLT_IPV4, k);
    ck_assert_uint_eq(cap_stats(cap)->bad_header, 1);
    feed(cap, 9999, udp4("unknown link"));
    ck_assert_uint_eq(cap_stats(cap)->unknown_link, 1);
    ck_assert_uint_eq(S.nrecs, 5);
    cap_free(cap);
}
END_TEST

START_TEST(test_not_decoded)
{
    cap_t *cap = new_cap();
    const cap_stats_t *st = cap_stats(cap);
    pkt_t *k = pk_str("arp arp arp arp arp arp arp");
    w_eth(k, 0x0806);
    feed(cap, DLT_EN10MB, k);
    k = pk_str("\xaa\xaa\x03llc");
    w_eth(k, 7); /* 802.3 length */
    feed(cap, DLT_EN10MB, k);
    ck_assert_uint_eq(st->non_ip, 2);
    k = pk_str("icmp echo");
    w_ip4(k, 1, "192.0.2.1", "192.0.2.2");
    feed(cap, DLT_RAW, k);
    k = pk_str("esp");
    w_ip6(k, 50, "2001:db8::1", "2001:db8::2");
    feed(cap, DLT_RAW, k);
    ck_assert_uint_eq(st->other_ip_proto, 2);
    k = pk_str("ppp");
    w_gre(k, 0x880b, 0x0001); /* enhanced GRE, version 1 (PPTP) */
    w_ip4(k, 47, "192.0.2.1", "192.0.2.2");
    feed(cap, DLT_RAW, k);
    ck_assert_uint_eq(st->other_ip_proto, 3);
    k = pk_str("mpls");
    w_gre(k, 0x8847, 0);
    w_ip4(k, 47, "192.0.2.1", "192.0.2.2");
    feed(cap, DLT_RAW, k);
    ck_assert_uint_eq(st->non_ip, 3);
    cap_process_frame(cap, DLT_EN10MB, T0, NULL, 0, 0);
    ck_assert_uint_eq(st->truncated, 1);
    ck_assert_uint_eq(S.nrecs, 0);
    ck_assert_uint_eq(st->frames, 7);
    cap_free(cap);
}
END_TEST

/* PPPoE session frames (0x8864): PPP's IPv4 and IPv6, with and without address/control and
 * protocol-field compression, the length trimming Ethernet padding; what is not IP counted. */
START_TEST(test_pppoe)
{
    cap_t *cap = new_cap();
    const cap_stats_t *st = cap_stats(cap);
    pkt_t *k = udp4("pppoe");
    w_ppp(k, 0x0021, true, false);
    w_pppoe(k);
    w_vlan(k, 300, 0x8864);
    w_eth(k, 0x8100);
    static const uint8_t pad[20];
    pk_append(k, pad, sizeof(pad));
    feed(cap, DLT_EN10MB, k);
    ck_assert_uint_eq(S.nrecs, 1);
    ck_assert_str_eq(S.recs[0].src, "192.0.2.1:5060");
    ck_assert_uint_eq(S.recs[0].len, 5);
    ck_assert_uint_eq(S.recs[0].vlan, 300);

    k = pk_str("v6");
    w_udp(k, 5060, 5060);
    w_ip6(k, 17, "2001:db8::1", "2001:db8::2");
    w_ppp(k, 0x0057, false, true); /* ff 03 57 */
    w_pppoe(k);
    w_eth(k, 0x8864);
    feed(cap, DLT_EN10MB, k);
    ck_assert_uint_eq(S.nrecs, 2);
    ck_assert_str_eq(S.recs[1].src, "[2001:db8::1]:5060");
    ck_assert_uint_eq(st->pppoe, 2);

    k = pk_str("lcp echo");
    w_ppp(k, 0xc021, true, false);
    w_pppoe(k);
    w_eth(k, 0x8864);
    feed(cap, DLT_EN10MB, k);
    k = pk_str("PADI......");
    w_eth(k, 0x8863); /* discovery */
    feed(cap, DLT_EN10MB, k);
    ck_assert_uint_eq(st->non_ip, 2);
    ck_assert_uint_eq(st->pppoe, 3);

    /* A short header, a length past the frame, a PPP header cut short. */
    k = pk_str("\x11");
    w_eth(k, 0x8864);
    feed(cap, DLT_EN10MB, k);
    k = pk_new("\x11\x00\x12\x34\x00\x40\x00\x21", 8);
    w_eth(k, 0x8864);
    feed(cap, DLT_EN10MB, k);
    k = pk_new("\x11\x00\x12\x34\x00\x00", 6);
    w_eth(k, 0x8864);
    feed(cap, DLT_EN10MB, k);
    ck_assert_uint_eq(st->truncated, 3);
    /* A discovery code (PADI, 0x09) in a session frame. */
    k = udp4("padi");
    w_ppp(k, 0x0021, true, false);
    w_pppoe(k);
    k->buf[k->start + 1] = 0x09;
    w_eth(k, 0x8864);
    feed(cap, DLT_EN10MB, k);
    ck_assert_uint_eq(st->bad_header, 1);
    ck_assert_uint_eq(S.nrecs, 2);
    cap_free(cap);
}
END_TEST

/* MPLS label stacks (0x8847, 0x8848, also in Linux cooked captures): IPv4 and IPv6 guessed
 * from the first nibble, the explicit-null labels, Ethernet pseudowires with and without a
 * control word; what cannot be recognised, and stacks without a bottom, counted. */
START_TEST(test_mpls)
{
    cap_t *cap = new_cap();
    const cap_stats_t *st = cap_stats(cap);
    pkt_t *k = udp4("mpls");
    w_mpls(k, 1000, true);
    w_mpls(k, 2000, false);
    w_mpls(k, 3000, false);
    w_eth(k, 0x8847);
    feed(cap, DLT_EN10MB, k);
    ck_assert_uint_eq(S.nrecs, 1);
    ck_assert_str_eq(S.recs[0].dst, "198.51.100.2:5062");

    k = pk_str("v6");
    w_udp(k, 5060, 5060);
    w_ip6(k, 17, "2001:db8::1", "2001:db8::2");
    w_mpls(k, 2, true); /* IPv6 explicit null */
    w_sll(k, 0x8848);
    feed(cap, DLT_LINUX_SLL, k);
    ck_assert_uint_eq(S.nrecs, 2);
    ck_assert_str_eq(S.recs[1].src, "[2001:db8::1]:5060");

    /* An Ethernet pseudowire with a control word, and one without. */
    k = udp4("pw-cw");
    w_eth(k, 0x0800);
    put32(pk_push(k, 4), 0); /* control word */
    w_mpls(k, 16, true);
    w_mpls(k, 17, false);
    w_eth(k, 0x8847);
    feed(cap, DLT_EN10MB, k);
    k = udp4("pw");
    w_eth(k, 0x0800);
    w_mpls(k, 18, true);
    w_eth(k, 0x8847);
    feed(cap, DLT_EN10MB, k);
    ck_assert_uint_eq(S.nrecs, 4);
    ck_assert_uint_eq(S.recs[2].len, 5);
    ck_assert_uint_eq(S.recs[3].len, 2);
    ck_assert_uint_eq(st->tunnels, 2);
    ck_assert_uint_eq(st->mpls, 4);

    /* Unknown payload; a stack without bottom; pseudowires nested too deep. */
    k = pk_str("\x50zzzzzzzzzzzzzzzzzzzzzzzz");
    w_mpls(k, 19, true);
    w_eth(k, 0x8847);
    feed(cap, DLT_EN10MB, k);
    ck_assert_uint_eq(st->non_ip, 1);
    k = pk_str("");
    w_mpls(k, 20, false);
    w_mpls(k, 21, false);
    w_eth(k, 0x8847);
    feed(cap, DLT_EN10MB, k);
    ck_assert_uint_eq(st->truncated, 1);
    k = udp4("deep");
    w_eth(k, 0x0800);
    for (int i = 0; i < 6; i++) {
        w_mpls(k, 30, true);
        w_eth(k, 0x8847);
    }
    feed(cap, DLT_EN10MB, k);
    ck_assert_uint_eq(st->bad_header, 1);
    ck_assert_uint_eq(S.nrecs, 4);
    cap_free(cap);
}
END_TEST

Suite *link_suite(void)
{
    Suite *s = suite_create("link");
    TCase *tc = tcase_create("link");
    tcase_add_checked_fixture(tc, sink_setup, sink_teardown);
    tcase_add_test(tc, test_ethernet_ipv4_udp);
    tcase_add_test(tc, test_vlan_stacks);
    tcase_add_test(tc, test_linux_cooked);
    tcase_add_test(tc, test_loopback);
    tcase_add_test(tc, test_raw_ip);
    tcase_add_test(tc, test_not_decoded);
    tcase_add_test(tc, test_pppoe);
    tcase_add_test(tc, test_mpls);
    suite_add_tcase(s, tc);
    return s;
}
