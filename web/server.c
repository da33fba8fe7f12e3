/* server: libmicrohttpd daemon, dispatch (the route table is routes.c), request limits, Host check,
 * bearer token and sessions, read-only store pool and replies. */
#include "api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "api_int.h"
#include "clock.h"
#include "defs.h"
#include "log.h"
#include "netaddr.h"
#include "sv.h"

/* ---- Replies. */

int64_t api_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static void reply_clear(api_reply_t *r)
{
    if (!r->body_static)
        free(r->body);
    if (r->has_fd)
        close(r->fd);
    r->body = NULL;
    r->len = 0;
    r->body_static = false;
    r->has_fd = false;
}

void api_reply_take(api_req_t *req, int status, const char *content_type, char *body, size_t len)
{
    reply_clear(&req->reply);
    req->reply.status = status;
    req->reply.content_type = content_type;
    req->reply.body = body;
    req->reply.len = len;
}

void api_reply_static(api_req_t *req, int status, const char *content_type, const void *body,
                      size_t len)
{
    reply_clear(&req->reply);
    req->reply.status = status;
    req->reply.content_type = content_type;
    req->reply.body = (char *)(uintptr_t)body; /* never written nor freed: body_static */
    req->reply.len = len;
    req->reply.body_static = true;
}

void api_reply_fd(api_req_t *req, int status, const char *content_type, int fd, size_t len)
{
    reply_clear(&req->reply);
    req->reply.status = status;
    req->reply.content_type = content_type;
    req->reply.has_fd = true;
    req->reply.fd = fd;
    req->reply.len = len;
}

static const char oom_json[] = "{\"error\": \"out of memory\"}";

void api_reply_json(api_req_t *req, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(16)) : NULL;
    json_decref(body);
    if (text == NULL) {
        api_reply_static(req, 500, "application/json", oom_json, sizeof(oom_json) - 1);
        return;
    }
    api_reply_take(req, status, "application/json", text, strlen(text));
}

void api_reply_error(api_req_t *req, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        msg[0] = '\0';
    json_t *text = json_string(msg);
    if (text == NULL) {
        /* Not UTF-8: a name quoted from the request ("?%ff=1"). jansson refuses it, which
         * would turn a 400 into a 500; show those bytes as '?' instead. */
        for (char *p = msg; *p != '\0'; p++) {
            if ((unsigned char)*p >= 0x80)
                *p = '?';
        }
        text = json_string(msg);
    }
    api_reply_json(req, status, text ? json_pack("{s:o}", "error", text) : NULL);
}

void api_reply_header(api_req_t *req, const char *name, const char *value)
{
    api_reply_t *r = &req->reply;
    int i = r->nheaders;
    if (i >= (int)ARRAY_LEN(r->headers) || strlen(name) >= sizeof(r->headers[i].name) ||
        strlen(value) >= sizeof(r->headers[i].value)) {
        log_warn("api: response header %s dropped", name);
        return;
    }
    snprintf(r->headers[i].name, sizeof(r->headers[i].name), "%s", name);
    snprintf(r->headers[i].value, sizeof(r->headers[i].value), "%s", value);
    r->nheaders++;
}

void api_reply_store_error(api_req_t *req, int err, const char *what)
{
    if (err == -ENOENT)
        api_reply_error(req, 404, "no such %s", what);
    else if (err == -EBUSY)
        api_reply_error(req, 503, "database busy: %s", store_errmsg(req->store));
    else
        api_reply_error(req, 500, "database error: %s", store_errmsg(req->store));
}

/* ---- The pool of read-only connections. */

static int pool_open(api_server_t *srv, store_t **out, char *err, size_t errlen)
{
    store_opts_t opts = {.read_only = true};
    int rc = store_open_opts(srv->db_path, &opts, out);
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s", srv->db_path, store_errmsg(*out));
        store_close(*out);
        *out = NULL;
    }
    return rc;
}

store_t *api_store(api_req_t *req)
{
    if (req->store != NULL)
        return req->store;
    api_server_t *srv = req->srv;
    pthread_mutex_lock(&srv->pool_mu);
    if (srv->npool > 0)
        req->store = srv->pool[--srv->npool];
    pthread_mutex_unlock(&srv->pool_mu);
    if (req->store == NULL) {
        char err[512];
        if (pool_open(srv, &req->store, err, sizeof(err)) != 0) {
            log_warn("api: %s", err);
            api_reply_error(req, 503, "database unavailable: %s", err);
            return NULL;
        }
    }
    store_set_interrupt(req->store, api_client_gone, req);
    return req->store;
}

static void pool_release(api_server_t *srv, store_t *s)
{
    if (s == NULL)
        return;
    store_set_interrupt(s, NULL, NULL);
    pthread_mutex_lock(&srv->pool_mu);
    if (srv->npool < API_POOL_MAX) {
        srv->pool[srv->npool++] = s;
        s = NULL;
    }
    pthread_mutex_unlock(&srv->pool_mu);
    store_close(s);
}

/* ---- Requests. */

const char *api_param(const api_req_t *req, const char *name)
{
    for (int i = 0; i < req->nparams; i++) {
        if (strcmp(req->params[i].name, name) == 0)
            return req->params[i].value[0] ? req->params[i].value : NULL;
    }
    return NULL;
}

/* A value the client sent (header, cookie or query argument) with its real length: MHD's
 * C-string lookups end a value at its first NUL, so "secret%00x" would read as "secret".
 * p is NULL when absent. */
static sv_t conn_value(struct MHD_Connection *conn, enum MHD_ValueKind kind, const char *key)
{
    const char *v = NULL;
    size_t n = 0;
    if (MHD_lookup_connection_value_n(conn, kind, key, strlen(key), &v, &n) != MHD_YES || v == NULL)
        return SV_NULL;
    return sv_make(v, n);
}

/* What the URI log callback found in the request target. */
typedef enum { TARGET_OK, TARGET_TOO_LONG, TARGET_TOO_MANY, TARGET_NVERDICTS } target_t;

/* MHD's per-request pointer (*con_cls) points into this table, [seen before][verdict], so that
 * nothing is allocated per request. Never written. */
static char req_marks[2][TARGET_NVERDICTS];

/* MHD's URI log callback: the request target as sent, before MHD splits the query into
 * arguments. Why the limits are checked here: libmicrohttpd 0.9.75 keeps each argument as a
 * record of about 48 bytes in the connection's memory pool (32 KiB, shared with the read
 * buffer); a few hundred arguments exhaust it, MHD cannot even build its 431, and the request
 * hangs until the connection times out and is closed without an answer. So a target over the
 * limits has its query emptied here (a NUL right after the first '?', in MHD's own writable read
 * buffer, which this callback is documented to be free to process): MHD then parses no argument
 * and dispatch answers 400 or 414 with a JSON body. check_api_hardening pins this down. */
static void *target_check(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    (void)conn;
    size_t total = strlen(uri);
    char *query = strchr(uri, '?');
    size_t args = 0;
    if (query != NULL) {
        /* MHD records one argument per '&', and one for a non-empty text after the last. */
        const char *q = query + 1;
        size_t len = strlen(q);
        for (size_t i = 0; i < len; i++)
            args += q[i] == '&';
        args += len > 0 && q[len - 1] != '&';
    }
    target_t verdict = total > API_MAX_TARGET  ? TARGET_TOO_LONG
                       : args > API_MAX_PARAMS ? TARGET_TOO_MANY
                                               : TARGET_OK;
    if (verdict != TARGET_OK && query != NULL)
        query[1] = '\0';
    return &req_marks[0][verdict];
}

/* ---- Which names this server answers to. DNS rebinding: a page on evil.example whose name
 * the attacker then points at 127.0.0.1 makes the victim's browser ask this server with
 * "Host: evil.example", and the same-origin policy lets the page read the answers (raw SIP
 * included). A browser sends the name it was given, so only requests whose Host names this
 * server (its address, localhost on loopback, or a configured name) are answered; the others get
 * 421 (RFC 7540 9.1.2). The port is not compared: an ssh tunnel or a port forward changes it. */

/* The host of a Host header value (RFC 7230 5.4: host [":" port]) or of an allowed name (no
 * port): an IPv4 address, an IPv6 address in brackets, or a name, in lower case without a final
 * dot. False if malformed. */
static bool host_parse(sv_t s, bool port_ok, api_host_t *out)
{
    memset(out, 0, sizeof(*out));
    sv_t host = s, port = SV_NULL;
    bool has_port;
    if (s.len > 0 && s.p[0] == '[') {
        size_t close = sv_index(s, ']');
        if (close == SIZE_MAX || close < 2)
            return false;
        host = sv_slice(s, 1, close - 1);
        sv_t rest = sv_slice(s, close + 1, SIZE_MAX);
        has_port = rest.len > 0;
        if (has_port && rest.p[0] != ':')
            return false;
        port = sv_slice(rest, 1, SIZE_MAX);
        if (!net_addr_parse(host, &out->addr) || out->addr.family != 6)
            return false;
    } else {
        has_port = sv_split_once(s, ':', &host, &port);
        if (has_port && sv_index(port, ':') != SIZE_MAX)
            return false; /* an IPv6 address without brackets */
        if (host.len > 0 && host.p[host.len - 1] == '.')
            host.len--; /* "localhost." is localhost */
        if (host.len == 0 || host.len > API_HOST_MAX)
            return false;
        if (!net_addr_parse(host, &out->addr) || out->addr.family != 4) {
            memset(&out->addr, 0, sizeof(out->addr));
            for (size_t i = 0; i < host.len; i++) {
                char c = host.p[i];
                if (c >= 'A' && c <= 'Z')
                    c = (char)(c - 'A' + 'a');
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
                      c == '_'))
                    return false;
                out->name[i] = c;
            }
        }
    }
    uint32_t n;
    return !has_port || (port_ok && sv_to_u32(port, &n) && n <= 65535);
}

bool api_allowed_host_ok(const char *name)
{
    api_host_t h;
    return name != NULL && host_parse(sv_from_cstr(name), false, &h);
}

static bool host_eq(const api_host_t *a, const api_host_t *b)
{
    if (a->addr.family != b->addr.family)
        return false;
    return a->addr.family != 0 ? net_addr_eq(&a->addr, &b->addr) : strcmp(a->name, b->name) == 0;
}

static bool sockaddr_to_net(const struct sockaddr *sa, net_addr_t *out)
{
    if (sa->sa_family == AF_INET)
        net_addr_v4(out,
                    (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr);
    else if (sa->sa_family == AF_INET6)
        net_addr_v6(out, ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr);
    else
        return false;
    return true;
}

static bool addr_is_any(const net_addr_t *a)
{
    static const uint8_t zero[16];
    return memcmp(a->bytes, zero, sizeof(zero)) == 0;
}

static bool addr_is_loopback(const net_addr_t *a)
{
    static const uint8_t v6_loopback[16] = {[15] = 1};
    return a->family == 4 ? a->bytes[0] == 127 : memcmp(a->bytes, v6_loopback, 16) == 0;
}

/* Is a one of this machine's addresses (any interface's)? */
static bool machine_has_addr(const net_addr_t *a)
{
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0)
        return false;
    bool found = false;
    for (const struct ifaddrs *i = ifs; i != NULL && !found; i = i->ifa_next) {
        net_addr_t ia = {0};
        found = i->ifa_addr != NULL && sockaddr_to_net(i->ifa_addr, &ia) && net_addr_eq(&ia, a);
    }
    freeifaddrs(ifs);
    return found;
}

/* Does h name this server, for a request that came in on conn? */
static bool host_is_ours(const api_server_t *srv, struct MHD_Connection *conn, const api_host_t *h)
{
    for (int i = 0; i < srv->nallowed; i++) {
        if (host_eq(h, &srv->allowed[i]))
            return true;
    }
    /* The address the client reached: the listening one, or for a wildcard listener (0.0.0.0,
     * [::]) the connection's own local address. */
    net_addr_t local = srv->listen_addr;
    bool any = addr_is_any(&local);
    if (any) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        memset(&local, 0, sizeof(local));
        if (ci == NULL || getsockname(ci->connect_fd, (struct sockaddr *)&ss, &len) != 0 ||
            !sockaddr_to_net((const struct sockaddr *)&ss, &local))
            return false;
    }
    if (h->addr.family == 0)
        return strcmp(h->name, "localhost") == 0 && addr_is_loopback(&local);
    /* A wildcard listener answers on every address of the machine: any of them is ours. */
    return net_addr_eq(&h->addr, &local) || (any && machine_has_addr(&h->addr));
}

/* True when the Host header names this server; else replies 421. */
static bool host_allowed(api_req_t *req)
{
    sv_t v = conn_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    api_host_t h;
    if (v.p != NULL && memchr(v.p, '\0', v.len) == NULL && host_parse(v, true, &h) &&
        host_is_ours(req->srv, req->conn, &h))
        return true;
    if (v.p == NULL)
        api_reply_error(req, 421, "misdirected request: no Host header");
    else
        api_reply_error(req, 421,
                        "misdirected request: this server does not answer to Host '%.*s' (its "
                        "address, localhost on loopback, or a name given with --allow-host)",
                        (int)(v.len > 100 ? 100 : v.len), v.p);
    return false;
}

/* ---- Credentials: the token, and sessions for browsers. */

static bool ct_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    /* Constant time in the token's length, so timing doesn't reveal a matching prefix. */
    unsigned char d = (unsigned char)(alen != blen);
    for (size_t i = 0; i < blen; i++)
        d |= (unsigned char)(b[i] ^ (i < alen ? a[i] : 0));
    return d == 0;
}

/* A credential equals the token. The whole value is compared, at its real length: a value with
 * a NUL in it (decoded from %00) or anything after the token never matches. */
static bool is_token(const api_server_t *srv, sv_t v)
{
    return v.p != NULL && ct_equal(v.p, v.len, srv->token, strlen(srv->token));
}

/* A new session (128 random bits, hex) in the table; false if no randomness. The table is
 * bounded: a new session takes a free or expired slot, else the oldest one's. */
static bool session_new(api_server_t *srv, char hex[API_SESSION_HEX + 1])
{
    unsigned char rnd[API_SESSION_HEX / 2];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        return false;
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof(rnd); i++) {
        hex[2 * i] = digits[rnd[i] >> 4];
        hex[2 * i + 1] = digits[rnd[i] & 15];
    }
    hex[API_SESSION_HEX] = '\0';
    int64_t now = clock_ns(CLOCK_MONOTONIC);
    pthread_mutex_lock(&srv->sessions_mu);
    api_session_t *slot = &srv->sessions[0];
    for (int i = 1; i < API_MAX_SESSIONS; i++) {
        if (srv->sessions[i].expires_ns < slot->expires_ns)
            slot = &srv->sessions[i];
    }
    memcpy(slot->id, hex, API_SESSION_HEX);
    slot->expires_ns = now + srv->session_ttl_ns;
    pthread_mutex_unlock(&srv->sessions_mu);
    return true;
}

/* Is v a live session? Every slot is compared in full, so timing tells nothing either. */
static bool session_valid(api_server_t *srv, sv_t v)
{
    if (v.len != API_SESSION_HEX)
        return false;
    int64_t now = clock_ns(CLOCK_MONOTONIC);
    bool ok = false;
    pthread_mutex_lock(&srv->sessions_mu);
    for (int i = 0; i < API_MAX_SESSIONS; i++) {
        const api_session_t *s = &srv->sessions[i];
        unsigned char d = 0;
        for (size_t j = 0; j < API_SESSION_HEX; j++)
            d |= (unsigned char)(s->id[j] ^ v.p[j]);
        ok |= d == 0 && s->expires_ns > now;
    }
    pthread_mutex_unlock(&srv->sessions_mu);
    return ok;
}

typedef enum { AUTH_NONE, AUTH_OK_HEADER, AUTH_OK_COOKIE, AUTH_OK_QUERY } auth_t;

/* RFC 6750: the Authorization header (2.1); the session cookie that a query-token login sets;
 * the access_token query parameter (2.3, so that a browser can open the UI). */
static auth_t check_token(api_req_t *req, sv_t query_token)
{
    api_server_t *srv = req->srv;
    sv_t h = conn_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (h.len > 7 && sv_starts_with_ci(h, "Bearer ")) {
        sv_t v = sv_slice(h, 7, SIZE_MAX);
        while (v.len > 0 && v.p[0] == ' ')
            v = sv_slice(v, 1, SIZE_MAX);
        if (is_token(srv, v))
            return AUTH_OK_HEADER;
    }
    sv_t c = conn_value(req->conn, MHD_COOKIE_KIND, API_SESSION_COOKIE);
    if (c.p != NULL && session_valid(srv, c))
        return AUTH_OK_COOKIE;
    if (is_token(srv, query_token))
        return AUTH_OK_QUERY;
    return AUTH_NONE;
}

/* Let the browser's next requests (scripts, API calls) in with a session cookie. */
static void set_session_cookie(api_req_t *req)
{
    char hex[API_SESSION_HEX + 1], cookie[160];
    if (!session_new(req->srv, hex)) {
        log_warn("api: no randomness for a session: %s", strerror(errno));
        return;
    }
    int n = snprintf(cookie, sizeof(cookie),
                     API_SESSION_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld", hex,
                     (long long)(req->srv->session_ttl_ns / NS_PER_S));
    if (n > 0 && (size_t)n < sizeof(cookie))
        api_reply_header(req, MHD_HTTP_HEADER_SET_COOKIE, cookie);
}

/* ---- Dispatch. */

typedef struct {
    api_req_t *req;
    const api_route_t *route;
    const char *error; /* first problem found */
    const char *bad_name;
    sv_t token; /* the first access_token, at its real length */
} collect_t;

static enum MHD_Result collect_param(void *cls, enum MHD_ValueKind kind, const char *key,
                                     size_t key_len, const char *value, size_t value_len)
{
    (void)kind;
    collect_t *c = cls;
    api_req_t *req = c->req;
    if (value == NULL)
        value = "";
    if (key_len == 12 && memcmp(key, "access_token", 12) == 0 && c->token.p == NULL)
        c->token = sv_make(value, value_len);
    if (c->error != NULL)
        return MHD_YES; /* go on: the token may come later */
    c->bad_name = key;
    if (key_len == 0) {
        c->error = "empty parameter name";
        return MHD_YES;
    }
    if (memchr(key, '\0', key_len) != NULL || memchr(value, '\0', value_len) != NULL) {
        c->error = "NUL byte (%00) in parameter";
        return MHD_YES;
    }
    bool known = strcmp(key, "access_token") == 0;
    for (const char *const *p = c->route->params; !known && *p != NULL; p++)
        known = strcmp(*p, key) == 0;
    if (!known) {
        c->error = "unknown parameter";
        return MHD_YES;
    }
    if (value_len > API_MAX_VALUE) {
        c->error = "value too long";
        return MHD_YES;
    }
    for (int i = 0; i < req->nparams; i++) {
        if (strcmp(req->params[i].name, key) == 0) {
            c->error = "parameter given twice";
            return MHD_YES;
        }
    }
    if (req->nparams >= API_MAX_PARAMS) {
        c->error = "too many parameters";
        return MHD_YES;
    }
    req->params[req->nparams].name = key;
    req->params[req->nparams++].value = value;
    return MHD_YES;
}

/* Refusals that come before credentials and tell nothing about the data: a Host that doesn't
 * name this server, a request over the limits. True when it replied. */
static bool refuse_early(api_req_t *req, const api_route_t *route, target_t verdict)
{
    if ((route == NULL || !route->open) && !host_allowed(req))
        return true;
    if (verdict == TARGET_TOO_LONG) {
        api_reply_error(req, 414, "request target too long (at most %d bytes)", API_MAX_TARGET);
        return true;
    }
    if (verdict == TARGET_TOO_MANY) {
        api_reply_error(req, 400, "too many query parameters (at most %d)", API_MAX_PARAMS);
        return true;
    }
    if (strlen(req->path) > API_MAX_URL) {
        api_reply_error(req, 414, "URL too long (at most %d bytes)", API_MAX_URL);
        return true;
    }
    return false;
}

/* Route and run the request; fills req->reply. */
static void dispatch(api_req_t *req, const char *method, target_t verdict)
{
    api_server_t *srv = req->srv;
    const api_route_t *route = api_find_route(req);
    if (refuse_early(req, route, verdict))
        return;
    /* Collect the parameters first: the token may be one of them. */
    collect_t c = {.req = req, .route = route ? route : &api_route_none};
    MHD_get_connection_values_n(req->conn, MHD_GET_ARGUMENT_KIND, collect_param, &c);
    auth_t auth = AUTH_NONE;
    if (srv->token != NULL && (route == NULL || !route->open)) {
        auth = check_token(req, c.token);
        if (auth == AUTH_NONE) {
            api_reply_error(req, 401, "missing or wrong bearer token");
            api_reply_header(req, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"sipscope\"");
            return;
        }
    }
    /* The method only after the credentials: without them a client learns nothing, not even
     * which methods a route takes. */
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        api_reply_error(req, 405, "method %.32s not allowed: use GET or HEAD", method);
        api_reply_header(req, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        return;
    }
    if (route == NULL) {
        api_reply_error(req, 404, "no such route");
        return;
    }
    if (c.error != NULL) {
        api_reply_error(req, 400, "%s: %.64s", c.error, c.bad_name ? c.bad_name : "");
        return;
    }
    route->handler(req);
    if (auth == AUTH_OK_QUERY)
        set_session_cookie(req);
}

static int code_slot(int status)
{
    switch (status) {
        case 200:
            return API_CODE_200;
        case 304:
            return API_CODE_304;
        case 400:
            return API_CODE_400;
        case 401:
            return API_CODE_401;
        case 404:
            return API_CODE_404;
        case 405:
            return API_CODE_405;
        case 414:
            return API_CODE_414;
        default:
            return status >= 500 ? API_CODE_5XX : API_CODE_OTHER;
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    (void)upload_data;
    api_server_t *srv = cls;
    bool get = method != NULL && (strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
                                  strcmp(method, MHD_HTTP_METHOD_HEAD) == 0);
    /* *con_cls: what target_check found, and whether we were called before. */
    target_t verdict = TARGET_OK;
    bool seen = false;
    if (*con_cls != NULL) {
        ptrdiff_t mark = (char *)*con_cls - &req_marks[0][0];
        seen = mark >= TARGET_NVERDICTS;
        verdict = (target_t)(mark % TARGET_NVERDICTS);
    }
    /* MHD calls once with the headers, then per chunk of body, then once more with none.
     * Answering at the first call is an "early response" after which MHD closes the
     * connection: right for a method we refuse (its body is never read), but GETs answer at the
     * last call so that keep-alive works. A body sent with a GET is read and dropped. */
    if (get && !seen) {
        *con_cls = &req_marks[1][verdict];
        return MHD_YES;
    }
    if (get && *upload_data_size != 0) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    api_req_t req = {.srv = srv, .conn = conn, .path = url ? url : ""};
    dispatch(&req, method ? method : "", verdict);
    pool_release(srv, req.store);
    atomic_fetch_add(&srv->requests, 1);
    atomic_fetch_add(&srv->by_code[code_slot(req.reply.status)], 1);
    log_debug("api: %s %s -> %d", method, url, req.reply.status);

    api_reply_t *r = &req.reply;
    struct MHD_Response *resp;
    if (r->has_fd) {
        resp = MHD_create_response_from_fd64(r->len, r->fd);
        if (resp != NULL)
            r->has_fd = false; /* MHD closes it with the response */
    } else if (r->body_static) {
        resp = MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_PERSISTENT);
    } else {
        resp = MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_MUST_FREE);
        if (resp != NULL)
            r->body = NULL; /* the response owns it now */
    }
    if (resp == NULL) {
        reply_clear(r);
        return MHD_NO;
    }
    if (r->content_type != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    for (int i = 0; i < r->nheaders; i++)
        MHD_add_response_header(resp, r->headers[i].name, r->headers[i].value);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
        return;
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    log_debug("api: libmicrohttpd: %s", msg);
}

/* ---- Start and stop. */

bool api_parse_listen(const char *text, struct sockaddr *sa, unsigned *salen)
{
    if (text == NULL)
        return false;
    sv_t s = sv_from_cstr(text);
    size_t colon = s.len;
    while (colon > 0 && s.p[colon - 1] != ':')
        colon--;
    if (colon == 0)
        return false;
    uint32_t port;
    if (!sv_to_u32(sv_slice(s, colon, SIZE_MAX), &port) || port > 65535)
        return false;
    sv_t host = sv_slice(s, 0, colon - 1);
    char buf[64];
    bool v6 = host.len >= 2 && host.p[0] == '[' && host.p[host.len - 1] == ']';
    if (v6)
        host = sv_slice(host, 1, host.len - 2);
    if (host.len == 0 || host.len >= sizeof(buf))
        return false;
    sv_copy(host, buf, sizeof(buf));
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)(void *)sa;
        memset(a, 0, sizeof(*a));
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, buf, &a->sin6_addr) != 1)
            return false;
        *salen = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)(void *)sa;
        memset(a, 0, sizeof(*a));
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, buf, &a->sin_addr) != 1)
            return false;
        *salen = sizeof(*a);
    }
    return true;
}

/* A bound, listening socket; -errno with the reason in err on failure. */
static int open_listener(const char *listen_on, int *fd_out, uint16_t *port, net_addr_t *addr,
                         char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    unsigned salen = 0;
    if (!api_parse_listen(listen_on, (struct sockaddr *)&ss, &salen)) {
        snprintf(err, errlen, "bad listen address '%s' (want ADDR:PORT or [IPv6]:PORT)", listen_on);
        return -EINVAL;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "socket: %s", strerror(e));
        return -e;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, salen) != 0 || listen(fd, 64) != 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", listen_on, strerror(e));
        close(fd);
        return -e;
    }
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
        *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    sockaddr_to_net((const struct sockaddr *)&ss, addr);
    *fd_out = fd;
    return 0;
}

/* RFC 6750 b64token characters, which also keep the Set-Cookie header well-formed. */
bool api_token_ok(const char *t)
{
    if (t[0] == '\0' || strlen(t) > 128)
        return false;
    for (const char *p = t; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  strchr("-._~+/=", c) != NULL;
        if (!ok)
            return false;
    }
    return true;
}

static void server_free(api_server_t *srv)
{
    if (srv == NULL)
        return;
    for (int i = 0; i < srv->npool; i++)
        store_close(srv->pool[i]);
    pthread_mutex_destroy(&srv->pool_mu);
    pthread_mutex_destroy(&srv->metrics_mu);
    pthread_mutex_destroy(&srv->sessions_mu);
    free(srv->metrics_body);
    free(srv->db_path);
    free(srv->token);
    free(srv);
}

int api_server_start(const api_cfg_t *cfg, api_server_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (cfg->db_path == NULL) {
        snprintf(err, errlen, "no database given");
        return -EINVAL;
    }
    if (cfg->token != NULL && cfg->token[0] != '\0' && !api_token_ok(cfg->token)) {
        snprintf(err, errlen, "the token must be 1 to 128 characters of A-Z a-z 0-9 - . _ ~ + / =");
        return -EINVAL;
    }
    api_server_t *srv = calloc(1, sizeof(*srv));
    if (srv == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    pthread_mutex_init(&srv->pool_mu, NULL);
    pthread_mutex_init(&srv->metrics_mu, NULL);
    pthread_mutex_init(&srv->sessions_mu, NULL);
    srv->started_ns = api_now_ns();
    srv->session_ttl_ns =
        (int64_t)(cfg->session_ttl_s ? cfg->session_ttl_s : API_SESSION_TTL_S) * NS_PER_S;
    for (const char *const *h = cfg->allowed_hosts; h != NULL && *h != NULL; h++) {
        if (srv->nallowed == API_MAX_ALLOWED_HOSTS ||
            !host_parse(sv_from_cstr(*h), false, &srv->allowed[srv->nallowed++])) {
            snprintf(err, errlen,
                     "allowed host '%.100s': want at most %d host names or addresses, "
                     "without a port",
                     *h, API_MAX_ALLOWED_HOSTS);
            server_free(srv);
            return -EINVAL;
        }
    }
    srv->db_path = strdup(cfg->db_path);
    if (cfg->token != NULL && cfg->token[0] != '\0')
        srv->token = strdup(cfg->token);
    if (srv->db_path == NULL || (cfg->token != NULL && cfg->token[0] && srv->token == NULL)) {
        server_free(srv);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    /* Open one connection now, so that a missing or foreign database fails at start. */
    store_t *first = NULL;
    int rc = pool_open(srv, &first, err, errlen);
    if (rc != 0) {
        server_free(srv);
        return rc;
    }
    srv->pool[srv->npool++] = first;

    int fd = -1;
    rc = open_listener(cfg->listen ? cfg->listen : API_DEFAULT_LISTEN, &fd, &srv->port,
                       &srv->listen_addr, err, errlen);
    if (rc != 0) {
        server_free(srv);
        return rc;
    }
    unsigned threads = cfg->threads ? cfg->threads : 4;
    /* Bounded memory per connection: the request line and headers must fit in 32 KiB (MHD
     * answers 414/431 beyond; target_check keeps the query's arguments from filling it); idle
     * connections time out; a thread pool serves them. */
    srv->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        on_request, srv, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_THREAD_POOL_SIZE,
        threads, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)256, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)15, MHD_OPTION_URI_LOG_CALLBACK,
        target_check, NULL, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
    if (srv->daemon == NULL) {
        close(fd);
        server_free(srv);
        snprintf(err, errlen, "cannot start the HTTP daemon");
        return -EIO;
    }
    srv->fts = api_fts_indexer_start(srv->db_path);
    *out = srv;
    return 0;
}

uint16_t api_server_port(const api_server_t *srv)
{
    return srv->port;
}

void api_server_stop(api_server_t *srv)
{
    if (srv == NULL)
        return;
    if (srv->daemon != NULL)
        MHD_stop_daemon(srv->daemon); /* also closes the listening socket */
    api_fts_indexer_stop(srv->fts);
    server_free(srv);
}
