/* routes: the router's table (every route, its handler and the query parameters it takes) and
 * the matching of a path against it. server.c dispatches; the handlers live in their own files. */
#include "api_int.h"

#include <string.h>

#include "defs.h"
#include "sv.h"

static const char *const p_none[] = {NULL};
static const char *const p_calls[] = {
    "state",  "from",       "to",    "since", "until",    "min_mos",      "max_mos", "q",
    "limit",  "offset",     "sort",  "order", "call_id",  "one_way",      "nat",     "final_status",
    "ip",     "user_agent", "codec", "probe", "min_loss", "min_duration", "min_pdd", "verdict",
    "active", "search",     NULL};
/* The merged pcap: the filters, not the order or paging. */
static const char *const p_calls_pcap[] = {
    "state",   "from",       "to",      "since",   "until",    "min_mos",
    "max_mos", "q",          "call_id", "one_way", "nat",      "final_status",
    "ip",      "user_agent", "codec",   "probe",   "min_loss", "min_duration",
    "min_pdd", "verdict",    "active",  "search",  NULL};
static const char *const p_streams[] = {"call_id", "min_loss", "max_mos", "limit", "offset", NULL};
static const char *const p_stats[] = {"since", "until", "step", NULL};
static const char *const p_alerts[] = {"since", "until", "type", "source", "limit", "offset", NULL};
static const char *const p_messages[] = {"method", "user",   "src",     "status", "since", "until",
                                         "limit",  "offset", "in_call", "search", NULL};
static const char *const p_regs[] = {"user", "active", "limit", "offset", NULL};

static const api_route_t routes[] = {
    {"/api/v1/calls", api_h_calls, p_calls, false},
    {"/api/v1/calls.csv", api_h_calls_csv, p_calls, false},
    {"/api/v1/calls/pcap", api_h_calls_pcap, p_calls_pcap, false},
    {"/api/v1/calls/{id}", api_h_call, p_none, false},
    {"/api/v1/calls/{id}/ladder.txt", api_h_call_ladder_txt, p_none, false},
    {"/api/v1/calls/{id}/messages", api_h_call_messages, p_none, false},
    {"/api/v1/calls/{id}/pcap", api_h_call_pcap, p_none, false},
    {"/api/v1/messages", api_h_messages, p_messages, false},
    {"/api/v1/messages/{id}", api_h_message, p_none, false},
    {"/api/v1/streams", api_h_streams, p_streams, false},
    {"/api/v1/streams/{id}", api_h_stream, p_none, false},
    {"/api/v1/streams/{id}/samples", api_h_stream_samples, p_none, false},
    {"/api/v1/stats", api_h_stats, p_stats, false},
    {"/api/v1/alerts", api_h_alerts, p_alerts, false},
    {"/api/v1/registrations", api_h_registrations, p_regs, false},
    {"/api/v1/openapi.json", api_h_openapi, p_none, false},
    {"/metrics", api_h_metrics, p_none, false},
    {"/healthz", api_h_healthz, p_none, true},
    {"/", api_h_index, p_none, false},
    {"/static/{path}", api_h_static, p_none, false},
};

#define NROUTES ARRAY_LEN(routes)

size_t api_route_count(void)
{
    return NROUTES;
}

const char *api_route_path(size_t i)
{
    return i < NROUTES ? routes[i].path : NULL;
}

/* Does path match the template? Fills req->id / req->rest for the placeholders. */
static bool route_match(const char *tmpl, const char *path, api_req_t *req)
{
    const char *t = tmpl, *p = path;
    while (*t != '\0') {
        if (strncmp(t, "{id}", 4) == 0) {
            const char *e = p;
            while (*e >= '0' && *e <= '9')
                e++;
            uint64_t v;
            if (e == p || e - p > 18 || !sv_to_u64(sv_make(p, (size_t)(e - p)), &v) || v == 0)
                return false;
            req->id = (int64_t)v;
            p = e;
            t += 4;
        } else if (strcmp(t, "{path}") == 0) {
            if (*p == '\0')
                return false;
            req->rest = p;
            return true;
        } else {
            if (*t != *p)
                return false;
            t++;
            p++;
        }
    }
    return *p == '\0';
}

const api_route_t api_route_none = {"", NULL, p_none, false};

const api_route_t *api_find_route(api_req_t *req)
{
    for (size_t i = 0; i < NROUTES; i++) {
        req->id = 0;
        req->rest = NULL;
        if (route_match(routes[i].path, req->path, req))
            return &routes[i];
    }
    return NULL;
}
