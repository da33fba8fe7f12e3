/* dtmf: the DTMF digits of calls (dtmf_events): appended as the correlator finds them, read
 * per call in time order. Rare rows: the statement is prepared per write, as security.c's. */
#include "store.h"

#include <errno.h>
#include <stdio.h>

#include <sqlite3.h>

#include "store_int.h"

int store_put_dtmf(store_t *s, const dtmf_record_t *d)
{
    int err = s == NULL ? -EINVAL : store_int_check_writable(s);
    if (err != 0)
        return err;
    if (d == NULL)
        return store_int_fail_msg(s, -EINVAL, "put dtmf", "no record");
    binder_t b = {0};
    err = store_int_prepare(s, store_int_put_sql(ST_PUT_DTMF), &b.st);
    if (err != 0)
        return err;
    store_int_put_bind(&b, ST_PUT_DTMF, d);
    if (b.rc != SQLITE_OK) {
        err = store_int_fail_sql(s, b.rc, "put dtmf");
    } else {
        int rc = sqlite3_step(b.st);
        err = rc == SQLITE_DONE ? 0 : store_int_fail_sql(s, rc, "put dtmf");
    }
    sqlite3_finalize(b.st);
    return err;
}

int store_foreach_dtmf(store_t *s, int64_t call_row, store_dtmf_cb cb, void *ctx)
{
    int err = s == NULL ? -EINVAL : store_int_check_open(s);
    if (err != 0)
        return err;
    if (cb == NULL)
        return store_int_fail_msg(s, -EINVAL, "read dtmf", "no callback");
    char sql[512];
    int n = snprintf(sql, sizeof(sql),
                     "SELECT %s FROM dtmf_events WHERE call_row = ?1 ORDER BY time, rowid",
                     store_int_columns(&dtmf_record_desc));
    if (n < 0 || (size_t)n >= sizeof(sql))
        return store_int_fail_msg(s, -EINVAL, "read dtmf", "query too long");
    sqlite3_stmt *st;
    err = store_int_prepare(s, sql, &st);
    if (err != 0)
        return err;
    sqlite3_bind_int64(st, 1, call_row);
    int ret = 0, rc;
    while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        dtmf_record_t d;
        store_int_row_read(st, 0, &dtmf_record_desc, &d);
        ret = cb(ctx, &d);
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = store_int_fail_sql(s, rc, "read dtmf");
    sqlite3_finalize(st);
    return ret;
}
