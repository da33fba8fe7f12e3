#include "httpc.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

void resp_free(resp_t *r)
{
    free(r->head);
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof(*r));
}

void http_exchange(int family, uint16_t port, const char *req, size_t len, bool half_close,
                   int timeout_s, resp_t *r)
{
    memset(r, 0, sizeof(*r));
    int fd = socket(family, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct timeval tv = {.tv_sec = timeout_s};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    int rc;
    if (family == AF_INET6) {
        struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
        a.sin6_addr = in6addr_loopback;
        rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
    } else {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
    }
    ck_assert_msg(rc == 0, "connect: %s", strerror(errno));
    for (size_t off = 0; off < len;) {
        ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break; /* the server may answer early and close */
        off += (size_t)n;
    }
    if (half_close)
        shutdown(fd, SHUT_WR);
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    for (;;) {
        if (cap - n < 4096) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
        ssize_t got = recv(fd, buf + n, cap - n - 1, 0);
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    close(fd);
    buf[n] = '\0';
    char *sep = strstr(buf, "\r\n\r\n");
    if (n == 0 || sep == NULL || sscanf(buf, "HTTP/1.%*d %d", &r->status) != 1) {
        r->status = 0;
        free(buf);
        return;
    }
    size_t hlen = (size_t)(sep - buf);
    r->head = strndup(buf, hlen);
    r->body_len = n - hlen - 4;
    r->body = malloc(r->body_len + 1);
    ck_assert(r->head != NULL && r->body != NULL);
    memcpy(r->body, sep + 4, r->body_len);
    r->body[r->body_len] = '\0';
    free(buf);
    r->json = json_loadb(r->body, r->body_len, 0, NULL);
}

const char *resp_header(const resp_t *r, const char *name, char *buf, size_t cap)
{
    if (r->head == NULL)
        return NULL;
    size_t nlen = strlen(name);
    for (const char *line = strstr(r->head, "\r\n"); line != NULL;
         line = strstr(line + 2, "\r\n")) {
        const char *p = line + 2;
        if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
            p += nlen + 1;
            while (*p == ' ')
                p++;
            const char *e = strstr(p, "\r\n");
            size_t len = e ? (size_t)(e - p) : strlen(p);
            if (len >= cap)
                len = cap - 1;
            memcpy(buf, p, len);
            buf[len] = '\0';
            return buf;
        }
    }
    return NULL;
}

bool have_ipv6_loopback(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6};
    a.sin6_addr = in6addr_loopback;
    bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}
