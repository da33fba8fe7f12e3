/* check_netaddr: address formatting against libc's inet_ntop and snprintf (the reference the
 * fast IPv4 path replaces), and parsing back what was formatted. */
#include <arpa/inet.h>
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "netaddr.h"
#include "sv.h"

static void reference(const net_endpoint_t *e, char *buf, size_t cap)
{
    char ip[INET6_ADDRSTRLEN];
    inet_ntop(e->addr.family == 4 ? AF_INET : AF_INET6, e->addr.bytes, ip, sizeof(ip));
    snprintf(buf, cap, e->addr.family == 4 ? "%s:%u" : "[%s]:%u", ip, (unsigned)e->port);
}

/* A failed expectation, with the endpoint it failed for. Check records the place of every
 * passing ck_assert (a write per assertion), which made 20,000 endpoints take 7-11 s under
 * ASan on a loaded machine; plain comparisons reach Check only when one fails. */
#define EXPECT(cond, e)                                                                            \
    do {                                                                                           \
        if (!(cond))                                                                               \
            expect_failed((e), #cond, __LINE__);                                                   \
    } while (0)

static void expect_failed(const net_endpoint_t *e, const char *what, int line)
{
    char want[NET_ENDPOINT_STRLEN];
    reference(e, want, sizeof(want));
    ck_abort_msg("line %d: %s is false for %s", line, what, want);
}

/* The fast path and the parser against libc; with every_size, also every buffer size down to
 * none (what fits of the reference, NUL-terminated). */
static void check_one(const net_endpoint_t *e, bool every_size)
{
    char got[NET_ENDPOINT_STRLEN], want[NET_ENDPOINT_STRLEN];
    reference(e, want, sizeof(want));
    EXPECT(strcmp(net_endpoint_str(e, got, sizeof(got)), want) == 0, e);
    char ip[NET_ADDR_STRLEN], ip_want[INET6_ADDRSTRLEN];
    inet_ntop(e->addr.family == 4 ? AF_INET : AF_INET6, e->addr.bytes, ip_want, sizeof(ip_want));
    EXPECT(strcmp(net_addr_str(&e->addr, ip, sizeof(ip)), ip_want) == 0, e);
    net_endpoint_t back;
    EXPECT(net_endpoint_parse(sv_from_cstr(got), &back), e);
    EXPECT(net_endpoint_eq(&back, e), e);
    if (!every_size)
        return;
    for (size_t cap = 0; cap <= strlen(want) + 1; cap++) {
        char small[NET_ENDPOINT_STRLEN];
        memset(small, 'x', sizeof(small));
        net_endpoint_str(e, small, cap);
        if (cap == 0) {
            EXPECT(small[0] == 'x', e);
            continue;
        }
        EXPECT(strlen(small) == (cap - 1 < strlen(want) ? cap - 1 : strlen(want)), e);
        EXPECT(strncmp(small, want, strlen(small)) == 0, e);
    }
}

/* The smallest buffers each fast path takes, and one byte less (libc's path). */
static void check_fast_path_edges(const net_endpoint_t *e)
{
    char want[NET_ENDPOINT_STRLEN], got[NET_ENDPOINT_STRLEN];
    reference(e, want, sizeof(want));
    for (size_t cap = 21; cap <= 22; cap++) {
        EXPECT(strncmp(net_endpoint_str(e, got, cap), want, cap - 1) == 0, e);
        EXPECT(strlen(got) == (strlen(want) < cap ? strlen(want) : cap - 1), e);
    }
    char ip[NET_ADDR_STRLEN], ip_want[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET, e->addr.bytes, ip_want, sizeof(ip_want));
    for (size_t cap = 15; cap <= 16; cap++) {
        memset(ip, 'x', sizeof(ip));
        net_addr_str(&e->addr, ip, cap);
        EXPECT(strlen(ip) < cap && strncmp(ip, ip_want, strlen(ip)) == 0, e);
        EXPECT(strlen(ip) == strlen(ip_want) || strlen(ip_want) >= cap, e);
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
            check_one(&e, true);
        }
    }
}
END_TEST

/* Exhaustive where the fast path has choices: every port, and every octet value in every
 * position (the octets are formatted one by one, so their combinations add nothing), in
 * 65,536 endpoints instead of the 20,000 random ones this test used to draw. Every 64th is
 * also checked at every buffer size, and each at the fast paths' smallest buffers. */
START_TEST(ipv4_every_port_and_octet)
{
    for (uint32_t p = 0; p <= UINT16_MAX; p++) {
        uint8_t b[4] = {(uint8_t)p, (uint8_t)(p + 85), (uint8_t)(p * 7 + 170), (uint8_t)(p >> 8)};
        net_endpoint_t e;
        memset(&e, 0, sizeof(e));
        net_addr_v4(&e.addr, b);
        e.port = (uint16_t)p;
        check_one(&e, p % 64 == 0);
        check_fast_path_edges(&e);
    }
}
END_TEST

START_TEST(ipv6_matches_libc)
{
    static const char *const texts[] = {
        "::", "::1", "2001:db8::5", "fe80::1:2:3:4", "2001:db8:0:1:1:1:1:1", "::ffff:192.0.2.1"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        net_endpoint_t e;
        memset(&e, 0, sizeof(e));
        uint8_t b[16];
        ck_assert_int_eq(inet_pton(AF_INET6, texts[i], b), 1);
        net_addr_v6(&e.addr, b);
        e.port = (uint16_t)(i * 9000 + 1);
        check_one(&e, true);
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
    tcase_add_test(tc, ipv4_every_port_and_octet);
    tcase_add_test(tc, ipv6_matches_libc);
    tcase_add_test(tc, no_family_is_empty);
    suite_add_tcase(s, tc);
    return s;
}
