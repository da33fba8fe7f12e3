/* httpc: a tiny HTTP/1.1 client over plain sockets, for the suites that talk to the API server
 * (check_api, check_api_hardening). Every failure to connect is a Check assertion. */
#ifndef SIPSCOPE_HTTPC_H
#define SIPSCOPE_HTTPC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int status; /* 0 when the server closed (or timed out) without answering */
    char *head; /* status line and headers; NULL when status is 0 */
    char *body; /* NUL-terminated copy of the body */
    size_t body_len;
    json_t *json; /* body parsed, when it is JSON */
} resp_t;

/* Releases what r holds and zeroes it; safe on a zeroed resp_t. */
void resp_free(resp_t *r);

/* Sends len raw bytes of req to family's loopback at port and reads the answer until the server
 * closes; each read waits at most timeout_s seconds. half_close shuts down our side after
 * sending (for requests the server can't finish: it sees the end). Fills r (caller frees with
 * resp_free). */
void http_exchange(int family, uint16_t port, const char *req, size_t len, bool half_close,
                   int timeout_s, resp_t *r);

/* The value of a response header (case-insensitive name), copied into buf; NULL if absent. */
const char *resp_header(const resp_t *r, const char *name, char *buf, size_t cap);

/* Can a socket bind to [::1] here? (Containers often run without IPv6.) */
bool have_ipv6_loopback(void);

#endif
