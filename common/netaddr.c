/* netaddr: address parsing, formatting and hashing. */
#include "netaddr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "hash.h"

bool net_addr_eq(const net_addr_t *a, const net_addr_t *b)
{
    return a->family == b->family && memcmp(a->bytes, b->bytes, 16) == 0;
}

bool net_endpoint_eq(const net_endpoint_t *a, const net_endpoint_t *b)
{
    return a->port == b->port && net_addr_eq(&a->addr, &b->addr);
}

bool net_addr_parse(sv_t text, net_addr_t *out)
{
    char buf[INET6_ADDRSTRLEN + 2];
    text = sv_trim(text);
    if (text.len >= 2 && text.p[0] == '[' && text.p[text.len - 1] == ']')
        text = sv_slice(text, 1, text.len - 2);
    if (text.len == 0 || text.len >= sizeof(buf))
        return false;
    sv_copy(text, buf, sizeof(buf));
    uint8_t bytes[16];
    if (inet_pton(AF_INET, buf, bytes) == 1) {
        net_addr_v4(out, bytes);
        return true;
    }
    if (inet_pton(AF_INET6, buf, bytes) == 1) {
        net_addr_v6(out, bytes);
        return true;
    }
    return false;
}

bool net_endpoint_parse(sv_t text, net_endpoint_t *out)
{
    memset(out, 0, sizeof(*out));
    size_t i = text.len;
    while (i > 0 && text.p[i - 1] != ':')
        i--;
    uint32_t port;
    if (i == 0 || !sv_to_u32(sv_slice(text, i, SIZE_MAX), &port) || port > 65535)
        return false;
    if (!net_addr_parse(sv_slice(text, 0, i - 1), &out->addr)) {
        memset(out, 0, sizeof(*out));
        return false;
    }
    out->port = (uint16_t)port;
    return true;
}

/* Decimal digits of v at p; returns the end. */
static char *put_decimal(char *p, unsigned v)
{
    char digits[10];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0)
        *p++ = digits[--n];
    return p;
}

/* Dotted IPv4 at p (at most 15 characters); returns the end. glibc's inet_ntop formats it with
 * sprintf, ten times slower, and the store formats two endpoints per stored SIP message. */
static char *put_ipv4(char *p, const uint8_t b[4])
{
    for (int i = 0; i < 4; i++) {
        if (i > 0)
            *p++ = '.';
        p = put_decimal(p, b[i]);
    }
    return p;
}

#define IPV4_STRLEN    16 /* "255.255.255.255" and NUL */
#define IPV4_EP_STRLEN 22 /* "255.255.255.255:65535" and NUL */

const char *net_addr_str(const net_addr_t *a, char *buf, size_t cap)
{
    if (cap == 0)
        return buf;
    buf[0] = '\0';
    if (a->family == 4 && cap >= IPV4_STRLEN)
        *put_ipv4(buf, a->bytes) = '\0';
    else if (a->family == 4)
        inet_ntop(AF_INET, a->bytes, buf, (socklen_t)cap);
    else if (a->family == 6)
        inet_ntop(AF_INET6, a->bytes, buf, (socklen_t)cap);
    return buf;
}

const char *net_endpoint_str(const net_endpoint_t *e, char *buf, size_t cap)
{
    if (e->addr.family == 4 && cap >= IPV4_EP_STRLEN) {
        char *p = put_ipv4(buf, e->addr.bytes);
        *p++ = ':';
        *put_decimal(p, e->port) = '\0';
        return buf;
    }
    char ip[NET_ADDR_STRLEN];
    net_addr_str(&e->addr, ip, sizeof(ip));
    int n = snprintf(buf, cap, e->addr.family == 6 ? "[%s]:%u" : "%s:%u", ip, (unsigned)e->port);
    if (n < 0 && cap > 0)
        buf[0] = '\0';
    return buf;
}

uint64_t net_endpoint_hash(const net_endpoint_t *e)
{
    uint64_t h = hash_bytes(e->addr.bytes, e->addr.family == 4 ? 4 : 16, e->addr.family);
    return hash_mix(h ^ ((uint64_t)e->port << 32));
}
