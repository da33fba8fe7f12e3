/* where: WHERE clauses built from fixed SQL fragments with every value a bound parameter,
 * shared by the store's filtered reads (calls, API queries, registrations, alerts). */
#include "store_int.h"

#include <errno.h>
#include <string.h>

void qw_add(qw_t *w, const char *frag)
{
    size_t n = strlen(frag);
    if (w->overflow || n >= sizeof(w->sql) - w->len) {
        w->overflow = true;
        return;
    }
    memcpy(w->sql + w->len, frag, n + 1);
    w->len += n;
}

/* A condition: " WHERE frag" for the first, " AND frag" after. */
void qw_cond(qw_t *w, const char *frag)
{
    qw_add(w, w->have_where ? " AND " : " WHERE ");
    qw_add(w, frag);
    w->have_where = true;
}

static void *qw_slot(qw_t *w, qparam_kind_t kind)
{
    if (w->nparams >= QW_MAX_PARAMS) {
        w->overflow = true;
        return NULL;
    }
    w->params[w->nparams].kind = kind;
    return &w->params[w->nparams++];
}

void qw_text(qw_t *w, const char *text)
{
    if (qw_slot(w, QP_TEXT))
        w->params[w->nparams - 1].text = text;
}

void qw_dbl(qw_t *w, double v)
{
    if (qw_slot(w, QP_DBL))
        w->params[w->nparams - 1].dbl = v;
}

void qw_i64(qw_t *w, int64_t v)
{
    if (qw_slot(w, QP_I64))
        w->params[w->nparams - 1].i64 = v;
}

/* Prepare w's SQL and bind its parameters; *st is NULL on failure. */
int qw_prepare(store_t *s, const qw_t *w, const char *what, sqlite3_stmt **st)
{
    *st = NULL;
    if (w->overflow)
        return store_int_fail_msg(s, -EINVAL, what, "query too complex");
    int rc = sqlite3_prepare_v2(store_int_db(s), w->sql, -1, st, NULL);
    if (rc != SQLITE_OK) {
        *st = NULL;
        return store_int_fail_sql(s, rc, what);
    }
    int err = qw_bind(s, *st, w, what);
    if (err != 0) {
        sqlite3_finalize(*st);
        *st = NULL;
        return err;
    }
    return 0;
}

/* Bind w's parameters to st (prepared from a text that embeds w->sql). */
int qw_bind(store_t *s, sqlite3_stmt *st, const qw_t *w, const char *what)
{
    int rc = SQLITE_OK;
    for (int i = 0; i < w->nparams && rc == SQLITE_OK; i++) {
        switch (w->params[i].kind) {
            case QP_TEXT:
                rc = sqlite3_bind_text(st, i + 1, w->params[i].text, -1, SQLITE_STATIC);
                break;
            case QP_DBL:
                rc = sqlite3_bind_double(st, i + 1, w->params[i].dbl);
                break;
            case QP_I64:
                rc = sqlite3_bind_int64(st, i + 1, w->params[i].i64);
                break;
        }
    }
    return rc == SQLITE_OK ? 0 : store_int_fail_sql(s, rc, what);
}
