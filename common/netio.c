/* netio: the socket plumbing the HEP sender and receiver share: "HOST:PORT" specs, name
 * resolution, socket addresses as endpoints. */
#include "netio.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Split "HOST:PORT" (HOST a name, IPv4, or [IPv6]) into C strings. False when malformed. */
bool netio_split_hostport(sv_t s, char *host, size_t hostcap, char *port, size_t portcap)
{
    sv_t h, p;
    if (s.len > 0 && s.p[0] == '[') {
        size_t close = sv_index(s, ']');
        if (close == SIZE_MAX || close + 1 >= s.len || s.p[close + 1] != ':')
            return false;
        h = sv_slice(s, 1, close - 1);
        p = sv_slice(s, close + 2, s.len);
    } else {
        size_t i = s.len;
        while (i > 0 && s.p[i - 1] != ':')
            i--;
        if (i == 0)
            return false;
        h = sv_slice(s, 0, i - 1);
        p = sv_slice(s, i, s.len);
        if (sv_index(h, ':') != SIZE_MAX)
            return false; /* a bare IPv6 address needs brackets */
    }
    uint32_t n;
    if (h.len == 0 || h.len >= hostcap || !sv_to_u32(p, &n) || n > 65535)
        return false;
    sv_copy(h, host, hostcap);
    int w = snprintf(port, portcap, "%u", (unsigned)n);
    return w > 0 && (size_t)w < portcap;
}

/* Resolve host:port for socktype into *ss. 0, or -EINVAL with a reason. */
int netio_resolve(const char *host, const char *port, int socktype, bool passive,
                  struct sockaddr_storage *ss, socklen_t *sslen, char *err, size_t errlen)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = socktype;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0 || res == NULL) {
        snprintf(err, errlen, "%s: %s", host, rc != 0 ? gai_strerror(rc) : "no address");
        return -EINVAL;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sslen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

void netio_endpoint_from_sockaddr(const struct sockaddr_storage *ss, net_endpoint_t *ep)
{
    memset(ep, 0, sizeof(*ep));
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        net_addr_v4(&ep->addr, (const uint8_t *)&a->sin_addr);
        ep->port = ntohs(a->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        net_addr_v6(&ep->addr, (const uint8_t *)&a->sin6_addr);
        ep->port = ntohs(a->sin6_port);
    }
}

char *netio_dup_key(const char *key, size_t *len)
{
    *len = key ? strlen(key) : 0;
    if (*len == 0)
        return NULL;
    char *k = malloc(*len);
    if (k != NULL)
        memcpy(k, key, *len);
    return k;
}

void netio_close(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}
