/* check_netaddr: address formatting against libc's inet_ntop and snprintf (the reference the
 * fast IPv4 path replaces), and parsing back what was formatted. */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netaddr.h"
#include "sv.h"

static void reference(const net_endpoint_t *e, char *buf, size_t cap)
{
    char ip[INET6_ADDRSTRLEN];
    inet_ntop(e->addr.family == 4 ? AF_INET : AF_INET6, e->addr.bytes, ip, sizeof(ip));
    snprintf(buf, cap, e->addr.family == 4 ? "%s:%u" : "[%s]:%u", ip, (unsigned)e->port);
}

static void check_one(const net_endpoint_t *e)
{
    char got[NET_ENDPOINT_STRLEN], want[NET_ENDPOINT_STRLEN];
    reference(e, want, sizeof(want));
    ck_assert_str_eq(net_endpoint_str(e, got, sizeof(got)), want);
    char ip[NET_ADDR_STRLEN], ip_want[INET6_ADDRSTRLEN];
    inet_ntop(e->addr.family == 4 ? AF_INET : AF_INET6, e->addr.bytes, ip_want, sizeof(ip_want));
    ck_assert_str_eq(net_addr_str(&e->addr, ip, sizeof(ip)), ip_want);
    net_endpoint_t back;
    ck_assert(net_endpoint_parse(sv_from_cstr(got), &back));
    ck_assert(net_endpoint_eq(&back, e));
    /* Every buffer size, down to none: what fits of the reference, NUL-terminated. */
    for (size_t cap = 0; cap <= strlen(want) + 1; cap++) {
        char small[NET_ENDPOINT_STRLEN];
        memset(small, 'x', sizeof(small));
        net_endpoint_str(e, small, cap);
        if (cap == 0) {
            ck_assert_int_eq(small[0], 'x');
            continue;
        }
        ck_assert_uint_eq(strlen(small), cap - 1 < strlen(want) ? cap - 1 : strlen(want));
        ck_assert_int_eq(strncmp(small, want, strlen(small)), 0);
    }
}

START_TEST(ipv4_matches_libc)
{
    static const uint8_t edges[][4] = {
        {0, 0, 0, 0}, {255, 255, 255, 255}, {10, 0, 0, 1}, {192, 168, 100, 9}, {1, 22, 133, 4}};
    static const uint16_t ports[] = {0, 1, 9, 10, 99, 100, 5060, 65535};
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
        for (size_t j = 0; j < sizeof(ports) / sizeof(ports[0]); j++) {
            net_endpoint_t e;
            memset(&e, 0, sizeof(e));
            net_addr_v4(&e.addr, edges[i]);
            e.port = ports[j];
            check_one(&e);
        }
    }
    srand(4475);
    for (int n = 0; n < 20000; n++) {
        uint8_t b[4] = {(uint8_t)rand(), (uint8_t)rand(), (uint8_t)rand(), (uint8_t)rand()};
        net_endpoint_t e;
        memset(&e, 0, sizeof(e));
        net_addr_v4(&e.addr, b);
        e.port = (uint16_t)rand();
        check_one(&e);
    }
}
END_TEST

START_TEST(ipv6_matches_libc)
{
    static const char *const texts[] = {"::", "::1", "2001:db8::5", "fe80::1:2:3:4",
                                        "2001:db8:0:1:1:1:1:1", "::ffff:192.0.2.1"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        net_endpoint_t e;
        memset(&e, 0, sizeof(e));
        uint8_t b[16];
        ck_assert_int_eq(inet_pton(AF_INET6, texts[i], b), 1);
        net_addr_v6(&e.addr, b);
        e.port = (uint16_t)(i * 9000 + 1);
        check_one(&e);
    }
}
END_TEST

START_TEST(no_family_is_empty)
{
    net_endpoint_t e;
    memset(&e, 0, sizeof(e));
    char buf[NET_ADDR_STRLEN] = "junk";
    ck_assert_str_eq(net_addr_str(&e.addr, buf, sizeof(buf)), "");
}
END_TEST

Suite *netaddr_suite(void)
{
    Suite *s = suite_create("netaddr");
    TCase *tc = tcase_create("netaddr");
    tcase_add_test(tc, ipv4_matches_libc);
    tcase_add_test(tc, ipv6_matches_libc);
    tcase_add_test(tc, no_family_is_empty);
    suite_add_tcase(s, tc);
    return s;
}
