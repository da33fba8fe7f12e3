/* bind: parameters bound in order, the first failure remembered (the store's writes). */
#include "store_int.h"

#include <assert.h>
#include <limits.h>
#include <string.h>

void b_rc(binder_t *b, int rc)
{
    if (b->rc == SQLITE_OK)
        b->rc = rc;
}

void b_null(binder_t *b)
{
    b_rc(b, sqlite3_bind_null(b->st, ++b->i));
}

void b_i64(binder_t *b, int64_t v)
{
    b_rc(b, sqlite3_bind_int64(b->st, ++b->i, v));
}

void b_dbl(binder_t *b, double v)
{
    b_rc(b, sqlite3_bind_double(b->st, ++b->i, v));
}

/* Text of len bytes (NULL p binds NULL). Borrowed until the statement runs. */
void b_text(binder_t *b, const char *p, size_t len)
{
    if (p == NULL) {
        b_null(b);
    } else if (len > INT_MAX) {
        b->i++;
        b_rc(b, SQLITE_TOOBIG);
    } else {
        b_rc(b, sqlite3_bind_text(b->st, ++b->i, p, (int)len, SQLITE_STATIC));
    }
}

void b_str(binder_t *b, const char *p)
{
    b_text(b, p, p ? strlen(p) : 0);
}

/* A time in ns; 0 (none) binds NULL. */
void b_time(binder_t *b, int64_t ns)
{
    if (ns == 0)
        b_null(b);
    else
        b_dbl(b, store_int_ns_to_sec(ns));
}

/* An endpoint as "IP:PORT"; family 0 (none) binds NULL. */
void b_endpoint(binder_t *b, const net_endpoint_t *e)
{
    if (e->addr.family == 0) {
        b_null(b);
        return;
    }
    assert(b->nep < 2);
    char *buf = b->ep[b->nep++];
    net_endpoint_str(e, buf, NET_ENDPOINT_STRLEN);
    b_str(b, buf);
}
