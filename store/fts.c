/* fts: the full-text index of the SIP messages (schema v10), filled after the capture wrote them
 * (see the migration's comment in schema.c). */
#include "store.h"

#include <errno.h>

#include "store_int.h"

static int step_done(store_t *s, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    int err = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : store_int_fail_sql(s, rc, what);
    sqlite3_finalize(st);
    return err;
}

int store_fts_catch_up(store_t *s, int64_t max_rows, int64_t *indexed)
{
    if (indexed != NULL)
        *indexed = 0;
    int err = store_int_check_writable(s);
    if (err == 0 && max_rows <= 0)
        err = store_int_fail_msg(s, -EINVAL, "index messages", "bad row count");
    if (err == 0)
        err = store_flush(s);
    if (err != 0)
        return err;
    err = store_int_exec(s, "BEGIN IMMEDIATE", "index messages");
    if (err != 0)
        return err;
    int64_t mark = 0, upto = 0;
    sqlite3_stmt *st = NULL;
    err = store_int_query_i64(
        s, "SELECT coalesce((SELECT value FROM meta WHERE key = 'fts.indexed_id'), 0)", &mark);
    if (err == 0)
        err = store_int_prepare(s,
                                "SELECT coalesce(max(id), 0) FROM (SELECT id FROM sip_messages"
                                " WHERE id > ?1 ORDER BY id LIMIT ?2)",
                                &st);
    if (err == 0) {
        sqlite3_bind_int64(st, 1, mark);
        sqlite3_bind_int64(st, 2, max_rows);
        if (sqlite3_step(st) == SQLITE_ROW)
            upto = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    if (err == 0 && upto > mark) {
        err = store_int_prepare(s,
                                "INSERT INTO sip_messages_fts (rowid, raw) SELECT id, raw"
                                " FROM sip_messages WHERE id > ?1 AND id <= ?2 ORDER BY id",
                                &st);
        if (err == 0) {
            sqlite3_bind_int64(st, 1, mark);
            sqlite3_bind_int64(st, 2, upto);
            err = step_done(s, st, "index messages");
        }
        if (err == 0 && indexed != NULL)
            *indexed = sqlite3_changes(store_int_db(s));
        if (err == 0)
            err = store_int_prepare(
                s, "INSERT OR REPLACE INTO meta (key, value) VALUES ('fts.indexed_id', ?1)", &st);
        if (err == 0) {
            sqlite3_bind_int64(st, 1, upto);
            err = step_done(s, st, "index messages");
        }
    }
    if (err == 0)
        return store_int_exec(s, "COMMIT", "index messages");
    sqlite3_exec(store_int_db(s), "ROLLBACK", NULL, NULL, NULL);
    return err;
}
