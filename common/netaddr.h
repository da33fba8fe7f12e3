/* netaddr: IPv4/IPv6 addresses and endpoints as packed, hashable values. */
#ifndef SIPSCOPE_NETADDR_H
#define SIPSCOPE_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sv.h"

/* family is 4 or 6 (0 = none). IPv4 lives in bytes[0..3], the rest zero, so that memcmp and
 * hashing of the whole struct are meaningful. Always zero-initialise before filling. */
typedef struct {
    uint8_t family;
    uint8_t bytes[16];
} net_addr_t;

typedef struct {
    net_addr_t addr;
    uint16_t port;
} net_endpoint_t;

/* Longest text form of "[v6]:port" plus NUL. */
#define NET_ENDPOINT_STRLEN 56
#define NET_ADDR_STRLEN     48

/* An address from its 4 or 16 network-order bytes. Inline: the capture fills two per packet. */
static inline void net_addr_v4(net_addr_t *a, const uint8_t b[4])
{
    memset(a, 0, sizeof(*a));
    a->family = 4;
    memcpy(a->bytes, b, 4);
}

static inline void net_addr_v6(net_addr_t *a, const uint8_t b[16])
{
    a->family = 6;
    memcpy(a->bytes, b, 16);
}
bool net_addr_eq(const net_addr_t *a, const net_addr_t *b);
bool net_endpoint_eq(const net_endpoint_t *a, const net_endpoint_t *b);
/* Parse dotted IPv4 or textual IPv6 (brackets allowed). False if neither. */
bool net_addr_parse(sv_t text, net_addr_t *out);
/* "1.2.3.4" or "2001:db8::1". Returns buf. */
const char *net_addr_str(const net_addr_t *a, char *buf, size_t cap);
/* The inverse of net_endpoint_str: "1.2.3.4:5060" or "[2001:db8::1]:5060" into *out. False
 * (and *out zeroed) on anything else. */
bool net_endpoint_parse(sv_t text, net_endpoint_t *out);
/* "1.2.3.4:5060" or "[2001:db8::1]:5060". Returns buf. */
const char *net_endpoint_str(const net_endpoint_t *e, char *buf, size_t cap);
uint64_t net_endpoint_hash(const net_endpoint_t *e);

#endif
