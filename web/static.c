/* static: the web UI and the OpenAPI description, served from the files embedded at build time. */
#include "api_int.h"

#include <string.h>

#include "openapi.h"

/* Only names in the embedded table are served: a request path is compared with them as a
 * whole, never joined to a directory, so "..", "%2e%2e" or absolute paths can't reach a file. */
const api_file_t *api_file_find(const char *name)
{
    for (size_t i = 0; i < api_nfiles; i++) {
        if (strcmp(api_files[i].name, name) == 0)
            return &api_files[i];
    }
    return NULL;
}

static const char *content_type(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
    };
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        size_t e = strlen(types[i].ext);
        if (n > e && strcmp(name + n - e, types[i].ext) == 0)
            return types[i].type;
    }
    return "text/plain; charset=utf-8";
}

/* Scripts and styles only from this server; the charts set inline styles from script. */
#define CSP                                                                                        \
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "                    \
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"

static void serve_file(api_req_t *req, const char *name)
{
    const api_file_t *f = api_file_find(name);
    if (f == NULL) {
        api_reply_error(req, 404, "no such file");
        return;
    }
    const char *type = content_type(f->name);
    api_reply_static(req, 200, type, f->data, f->len);
    if (strncmp(type, "text/html", 9) == 0) {
        api_reply_header(req, "Content-Security-Policy", CSP);
        api_reply_header(req, "Referrer-Policy", "no-referrer");
    }
}

void api_h_index(api_req_t *req)
{
    serve_file(req, "index.html");
}

void api_h_static(api_req_t *req)
{
    serve_file(req, req->rest);
}

/* openapi.json with the record schemas generated from the records' descriptors (openapi.c). */
void api_h_openapi(api_req_t *req)
{
    size_t len;
    const char *doc = api_openapi_doc(&len);
    api_reply_static(req, 200, "application/json", doc, len);
}

const char *api_openapi_json(void)
{
    return api_openapi_doc(NULL);
}
