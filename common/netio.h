/* netio: the socket plumbing the HEP sender and receiver share: "HOST:PORT" specs, name
 * resolution, socket addresses as endpoints, relaxed atomic counters. */
#ifndef SIPSCOPE_NETIO_H
#define SIPSCOPE_NETIO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "netaddr.h"
#include "sv.h"

/* A counter bumped by one thread and read by others (statistics only: relaxed order). */
typedef atomic_uint_fast64_t counter_t;

static inline void counter_add(counter_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static inline uint64_t counter_get(counter_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* Split "HOST:PORT" (HOST a name, IPv4, or [IPv6]) into C strings. False when malformed. */
bool netio_split_hostport(sv_t s, char *host, size_t hostcap, char *port, size_t portcap);
/* Resolve host:port for socktype into *ss. 0, or -EINVAL with a reason in err. */
int netio_resolve(const char *host, const char *port, int socktype, bool passive,
                  struct sockaddr_storage *ss, socklen_t *sslen, char *err, size_t errlen);
/* An AF_INET/AF_INET6 socket address as an endpoint (zeroed for other families). */
void netio_endpoint_from_sockaddr(const struct sockaddr_storage *ss, net_endpoint_t *ep);
/* A copy of key (not NUL-terminated) and its length; NULL with *len 0 for NULL or "". Caller
 * frees. */
char *netio_dup_key(const char *key, size_t *len);

/* close(*fd) if it is open, and mark it closed (-1). */
void netio_close(int *fd);

#endif
