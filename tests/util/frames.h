/* frames: test frames built in code, from the payload outwards (UDP/TCP, IPv4/IPv6 and their
 * extension headers, tunnels, VLAN tags and link headers). */
#ifndef SIPSCOPE_FRAMES_H
#define SIPSCOPE_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A packet grows towards the front: start with the payload, then wrap it in UDP, IP, tunnels
 * and a link header, each w_* call prepending one header. Lengths and the fields that hold
 * them are filled in from what is inside; checksums are left zero. */

#define HEADROOM 2048
#define PKT_MAX  (HEADROOM + 70000)

typedef struct {
    uint8_t buf[PKT_MAX];
    size_t start, end;
} pkt_t;

/* A packet holding len bytes of payload (payload may be NULL when len is 0). Caller frees
 * with free(). */
pkt_t *pk_new(const void *payload, size_t len);
pkt_t *pk_str(const char *s);
/* Room for an n-byte header in front, zeroed; returns where it starts. */
uint8_t *pk_push(pkt_t *k, size_t n);
/* Bytes after the end (a trailer such as an Ethernet FCS). */
void pk_append(pkt_t *k, const void *p, size_t n);
/* The frame so far: borrowed from k. */
const uint8_t *pk_data(const pkt_t *k);
size_t pk_len(const pkt_t *k);

/* Big-endian stores. */
void put16(uint8_t *p, uint32_t v);
void put32(uint8_t *p, uint32_t v);
/* Text to address bytes (4 or 16); a bad text fails the test. */
void addr4(uint8_t *out, const char *text);
void addr6(uint8_t *out, const char *text);

enum { F_FIN = 0x01, F_SYN = 0x02, F_RST = 0x04, F_PSH = 0x08, F_ACK = 0x10 };
enum { GRE_C = 0x8000, GRE_K = 0x2000, GRE_S = 0x1000 };

void w_udp(pkt_t *k, uint16_t sport, uint16_t dport);
/* A 20-byte TCP header, window 65535. */
void w_tcp(pkt_t *k, uint16_t sport, uint16_t dport, uint32_t seq, uint8_t flags);
/* IPv4 with identification, the flags/fragment-offset field and optlen bytes of NOP options. */
void w_ip4x(pkt_t *k, uint8_t proto, const char *src, const char *dst, uint16_t id, uint16_t frag,
            size_t optlen);
/* IPv4, DF set, no options. */
void w_ip4(pkt_t *k, uint8_t proto, const char *src, const char *dst);
void w_ip6(pkt_t *k, uint8_t nh, const char *src, const char *dst);
/* Hop-by-hop, routing or destination options header of 8 * (1 + units) bytes. */
void w_ext6(pkt_t *k, uint8_t nh, uint8_t units);
/* Authentication header with a 4-byte ICV: 16 bytes, length field 16/4 - 2 = 2. */
void w_ah6(pkt_t *k, uint8_t nh);
void w_frag6(pkt_t *k, uint8_t nh, uint32_t off, bool more, uint32_t id);
void w_eth(pkt_t *k, uint16_t type);
/* An 802.1Q tag: TCI then the type that follows it; the TPID is the next outer type. */
void w_vlan(pkt_t *k, uint16_t vid, uint16_t inner_type);
/* Linux cooked capture v1 (PACKET_HOST) and v2 (PACKET_OUTGOING). */
void w_sll(pkt_t *k, uint16_t proto);
void w_sll2(pkt_t *k, uint16_t proto);
/* BSD loopback: the address family in host order (little-endian here) or big-endian. */
void w_null(pkt_t *k, uint32_t af, bool big_endian);
/* GRE with the optional checksum, key and sequence words that flags (GRE_*) ask for. */
void w_gre(pkt_t *k, uint16_t proto, uint16_t flags);
/* ERSPAN type II (VLAN 77), and type III with or without its platform subheader. */
void w_erspan2(pkt_t *k);
void w_erspan3(pkt_t *k, bool subheader, uint8_t ft);
void w_vxlan(pkt_t *k, bool i_flag);
/* GTP-U (message type 255 for a G-PDU), with the sequence/N-PDU/next-type word when opt, and
 * n_ext extension headers of 4 bytes each (PDU session container, type 0x85) when n_ext > 0. */
void w_gtpu(pkt_t *k, uint8_t type, bool opt, unsigned n_ext);
/* A PPP header: ff 03 when acfc is false, then the protocol (one byte when pfc and it fits). */
void w_ppp(pkt_t *k, uint16_t proto, bool acfc, bool pfc);
/* A PPPoE session header (version/type 0x11, code 0, session 0x1234, length of what follows). */
void w_pppoe(pkt_t *k);
/* PPTP's enhanced GRE (version 1, K set, protocol 0x880b) with sequence and/or ack numbers. */
void w_gre_pptp(pkt_t *k, bool seq, bool ack);
/* One MPLS label stack entry; bos sets the bottom-of-stack bit. */
void w_mpls(pkt_t *k, uint32_t label, bool bos);

#endif
