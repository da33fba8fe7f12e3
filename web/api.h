/* api: the HTTP server of sipscope: JSON API under /api/v1, /metrics, /healthz and the web UI. */
#ifndef SIPSCOPE_API_H
#define SIPSCOPE_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define API_DEFAULT_LISTEN    "127.0.0.1:8080"
#define API_MAX_ALLOWED_HOSTS 16

typedef struct {
    const char *db_path; /* SQLite database to read (borrowed); opened read-only per worker */
    const char *listen;  /* "ADDR:PORT" or "[IPv6]:PORT"; port 0 picks a free one; NULL =
                          * API_DEFAULT_LISTEN */
    const char *token;   /* bearer token guarding every route but /healthz; NULL or "" = none */
    /* Names the Host header may carry besides the listening address (and localhost on
     * loopback; any of the machine's addresses on a wildcard one): host names or addresses
     * without a port, IPv6 in brackets; NULL-terminated, at most API_MAX_ALLOWED_HOSTS; NULL =
     * none. Other Hosts get 421 on every route but /healthz (DNS rebinding). */
    const char *const *allowed_hosts;
    unsigned threads;       /* worker threads; 0 = 4 */
    unsigned session_ttl_s; /* life of a browser session (?access_token= login); 0 = 12 h */
} api_cfg_t;

typedef struct api_server api_server_t;

/* A token the server accepts: RFC 6750 b64token, 1 to 128 characters of A-Z a-z 0-9 - . _ ~
 * + / = (checked by api_server_start too; the command line checks it first). */
bool api_token_ok(const char *token);

/* Start serving in background threads. The configuration's strings are copied. On success *out
 * is a running server the caller stops with api_server_stop; on failure returns a negative
 * errno-style value (-EINVAL bad listen address, -EADDRINUSE and the like when the socket can't
 * be bound, -ENOENT/-EIO when the database can't be opened) with the reason in err. */
int api_server_start(const api_cfg_t *cfg, api_server_t **out, char *err, size_t errlen);
/* The port the server listens on (the real one when the configuration asked for port 0). */
uint16_t api_server_port(const api_server_t *srv);
/* Stop accepting, finish the requests in flight, close every database connection and free.
 * NULL is a no-op. */
void api_server_stop(api_server_t *srv);

/* Parse "ADDR:PORT" / "[IPv6]:PORT" (ADDR numeric) into a socket address; false if malformed.
 * sa must have room for a struct sockaddr_in6; *salen receives its length. */
struct sockaddr;
bool api_parse_listen(const char *text, struct sockaddr *sa, unsigned *salen);

/* Is name acceptable as an allowed Host (api_cfg_t.allowed_hosts)? */
bool api_allowed_host_ok(const char *name);

/* The routes the router knows, as OpenAPI path templates ("/api/v1/calls/{id}"), for the check
 * that the OpenAPI description lists exactly these. i < api_route_count(); strings are static. */
size_t api_route_count(void);
const char *api_route_path(size_t i);

/* The embedded OpenAPI description (static, NUL-terminated JSON). */
const char *api_openapi_json(void);

#endif
