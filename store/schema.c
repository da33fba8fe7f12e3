/* schema: the store's tables as numbered migrations, and the version checks at open. */
#include "store_int.h"

#include <errno.h>
#include <stdio.h>

#include <sqlite3.h>

#include "defs.h"

/* Each entry takes the database from user_version i to i + 1 and runs in its own
 * transaction together with the user_version bump. Append only: never edit a released entry.
 *
 * No FOREIGN KEY clauses: the writer hands rows over in whatever order the correlator finishes
 * them (a call's messages and streams usually arrive before the call row itself, and a call is
 * rewritten as it changes), and call_row NULL means "no call". Children are deleted explicitly by
 * store_prune. Times are REAL epoch seconds, NULL for none, as in the JSON report. */
static const char *const migrations[] = {
    /* v1 */
    "CREATE TABLE calls ("
    " id INTEGER PRIMARY KEY,"
    " call_id TEXT, from_uri TEXT, to_uri TEXT,"
    " from_user TEXT, to_user TEXT," /* user part of the URIs, for lookups */
    " from_tag TEXT, to_tag TEXT, user_agent TEXT,"
    " caller TEXT, callee TEXT," /* "IP:PORT" / "[v6]:PORT" */
    " state TEXT NOT NULL, final_status INTEGER,"
    " invite_time REAL, ringing_time REAL, answer_time REAL, end_time REAL,"
    " post_dial_delay_ms REAL, duration_s REAL,"
    " one_way INTEGER NOT NULL DEFAULT 0, nat INTEGER NOT NULL DEFAULT 0,"
    " sip_messages INTEGER NOT NULL DEFAULT 0,"
    " mos REAL);" /* NULL when the call had no media */
    "CREATE INDEX calls_invite_time ON calls(invite_time);"
    "CREATE INDEX calls_state ON calls(state, invite_time);"
    "CREATE INDEX calls_call_id ON calls(call_id);"
    "CREATE INDEX calls_mos ON calls(mos);"
    "CREATE INDEX calls_from_user ON calls(from_user, invite_time);"
    "CREATE INDEX calls_to_user ON calls(to_user, invite_time);"

    "CREATE TABLE sip_messages ("
    " id INTEGER PRIMARY KEY,"
    " call_row INTEGER, call_id TEXT, time REAL, src TEXT, dst TEXT,"
    " transport INTEGER, is_request INTEGER NOT NULL, method TEXT, status INTEGER,"
    " cseq INTEGER, raw TEXT);"
    "CREATE INDEX sip_messages_call ON sip_messages(call_row, time);"

    "CREATE TABLE rtp_streams ("
    " id INTEGER PRIMARY KEY,"
    " call_row INTEGER, call_id TEXT, src TEXT, dst TEXT,"
    " ssrc INTEGER NOT NULL, payload_type INTEGER, codec TEXT, clock_rate INTEGER,"
    " first_time REAL, last_time REAL,"
    " packets INTEGER, lost INTEGER, duplicates INTEGER, out_of_order INTEGER,"
    " seq_errors INTEGER, max_delta_ms REAL, mean_jitter_ms REAL, max_jitter_ms REAL,"
    " mos REAL, sdp_mismatch INTEGER NOT NULL DEFAULT 0,"
    /* all rtcp_* NULL when no RTCP report was seen; rtcp_rtt_ms also NULL when unknown */
    " rtcp_fraction_lost REAL, rtcp_cumulative_lost INTEGER, rtcp_jitter_ms REAL,"
    " rtcp_rtt_ms REAL);"
    /* last_time second: serves the per-call lookup and the pruning of unsignalled streams */
    "CREATE INDEX rtp_streams_call ON rtp_streams(call_row, last_time);"

    "CREATE TABLE stream_samples ("
    " stream_row INTEGER NOT NULL, start_time REAL NOT NULL,"
    " packets INTEGER, lost INTEGER, jitter_ms REAL, max_jitter_ms REAL, mos REAL,"
    " PRIMARY KEY (stream_row, start_time)) WITHOUT ROWID;"

    "CREATE TABLE registrations ("
    " id INTEGER PRIMARY KEY,"
    " aor TEXT NOT NULL, aor_user TEXT, contact TEXT NOT NULL, user_agent TEXT,"
    " source TEXT, expires INTEGER, last_status INTEGER,"
    " first_time REAL, last_time REAL, active INTEGER NOT NULL DEFAULT 0,"
    " UNIQUE (aor, contact));"
    "CREATE INDEX registrations_user ON registrations(aor_user);"
    "CREATE INDEX registrations_last_time ON registrations(last_time);"

    "CREATE TABLE alerts ("
    " id INTEGER PRIMARY KEY,"
    " type TEXT NOT NULL, source TEXT, target TEXT, count INTEGER NOT NULL DEFAULT 0,"
    " first_time REAL, last_time REAL,"
    " sample_message_ids TEXT);" /* JSON array of sip_messages.id */
    "CREATE INDEX alerts_last_time ON alerts(last_time);"
    "CREATE INDEX alerts_type ON alerts(type, last_time);"

    /* value has no declared type, so integers stay integers and text stays text */
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;",

    /* v2: the security monitor's counts and flags, as one JSON object per row (store/security.c
     * and store.h say what it holds; SQLite's JSON functions read it). Parenthesised: one
     * entry of two statements, not two entries. */
    ("ALTER TABLE registrations ADD COLUMN details TEXT;"
     "ALTER TABLE alerts ADD COLUMN details TEXT;"),

    /* v3: the HEP capture agent id of the probe that saw a message (NULL: captured here). */
    "ALTER TABLE sip_messages ADD COLUMN probe INTEGER;",

    /* v4: one row per capture file analysed into the database, so that the same capture is
     * recognised and not stored twice (store/captures.c; identity as store.h defines it). */
    ("CREATE TABLE captures ("
     " id INTEGER PRIMARY KEY,"
     " identity TEXT NOT NULL, name TEXT, size INTEGER, packets INTEGER,"
     " first_time REAL, last_time REAL, analysed_at REAL NOT NULL);"
     "CREATE INDEX captures_identity ON captures(identity, analysed_at);"),

    /* v5: SRTP streams (the suite only: keys are secrets and never stored) and how a message
     * came inside its TCP stream (WebSocket, TLS). */
    ("ALTER TABLE rtp_streams ADD COLUMN srtp INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE rtp_streams ADD COLUMN srtp_suite TEXT;"
     "ALTER TABLE sip_messages ADD COLUMN via TEXT;"),

    /* v6: the HEP agent id of the probe whose quality reports gave a stream's figures (NULL:
     * measured here). */
    "ALTER TABLE rtp_streams ADD COLUMN probe INTEGER;",

    /* v7: a verdict per call and its reasons (a JSON array, correlator/verdict.c). Calls stored
     * before get a verdict from their stored figures, with one reason saying so. */
    ("ALTER TABLE calls ADD COLUMN verdict TEXT;"
     "ALTER TABLE calls ADD COLUMN reasons TEXT;"
     "UPDATE calls SET verdict = CASE"
     " WHEN answer_time IS NULL THEN"
     "  CASE WHEN state = 'cancelled' THEN 'good' WHEN state = 'rejected' THEN 'failed'"
     "   WHEN state IN ('setup', 'ringing') AND end_time IS NULL THEN 'good' ELSE 'failed' END"
     " WHEN one_way THEN 'one_way' WHEN mos IS NULL THEN 'no_media'"
     " WHEN mos < 3.1 THEN 'poor' WHEN mos < 3.6 THEN 'degraded' ELSE 'good' END;"
     "UPDATE calls SET reasons = CASE WHEN verdict = 'good' THEN '[]' ELSE json_array(json_object("
     " 'code', 'stored_before_verdicts', 'text', 'Judged from the figures stored before "
     "verdicts existed (state, final status, one_way, MOS); no details', 'stream', NULL,"
     " 'message', NULL, 'message_time', NULL, 'figure', CASE WHEN mos IS NULL THEN NULL ELSE"
     " 'mos' END, 'value', mos)) END;"
     "CREATE INDEX calls_verdict ON calls(verdict, invite_time);"),

    /* v8: calls and streams in progress are stored as snapshots (active), finished in place;
     * calls a crash left active are closed as interrupted when a writer opens the store. The
     * partial indexes keep "what is active" a look-up however many calls are stored. */
    ("ALTER TABLE calls ADD COLUMN active INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE calls ADD COLUMN interrupted INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE rtp_streams ADD COLUMN active INTEGER NOT NULL DEFAULT 0;"
     "CREATE INDEX calls_active ON calls(invite_time) WHERE active = 1;"
     "CREATE INDEX rtp_streams_active ON rtp_streams(id) WHERE active = 1;"),

    /* v9: DTMF digits of calls (RFC 4733 events and SIP INFO), store/dtmf.c. */
    ("CREATE TABLE dtmf_events ("
     " call_row INTEGER, call_id TEXT, time REAL, digit TEXT, duration_ms INTEGER,"
     " stream_row INTEGER, volume INTEGER, ended INTEGER NOT NULL DEFAULT 0, via TEXT);"
     "CREATE INDEX dtmf_events_call ON dtmf_events(call_row, time);"),

    /* v10: full-text search over every stored SIP message (headers and body): an FTS5 index of
     * sip_messages.raw (external content: the text is kept once, in sip_messages). It is not
     * kept up to date by an insert trigger, which would cost the capture's writer 3.5 times its
     * instructions (measured: bench/instructions 2,573M -> 9,010M); the API server's indexer
     * thread (store_fts_catch_up) indexes the messages after the capture wrote them, in id
     * order, up to meta fts.indexed_id; searches read the rows beyond it with LIKE. Deleted
     * messages leave the index by the trigger, when they were in it. */
    ("CREATE VIRTUAL TABLE sip_messages_fts USING fts5(raw, content='sip_messages',"
     " content_rowid='id', tokenize='unicode61 remove_diacritics 0');"
     "INSERT OR IGNORE INTO meta (key, value) VALUES ('fts.indexed_id', 0);"
     "CREATE TRIGGER sip_messages_fts_delete AFTER DELETE ON sip_messages"
     " WHEN old.id <= (SELECT value FROM meta WHERE key = 'fts.indexed_id') BEGIN"
     " INSERT INTO sip_messages_fts (sip_messages_fts, rowid, raw)"
     " VALUES ('delete', old.id, old.raw); END;"),
};

_Static_assert(ARRAY_LEN(migrations) == STORE_SCHEMA_VERSION, "one migration per schema version");

/* -ENOTSUP: the database is at version v, newer than this program knows. */
static int fail_newer(store_t *s, int64_t v)
{
    char what[48];
    if (snprintf(what, sizeof(what), "database schema v%lld", (long long)v) < 0)
        what[0] = '\0';
    return store_int_fail_msg(s, -ENOTSUP, what,
                              "written by a newer sipscope (this one knows up to v" STR(
                                  STORE_SCHEMA_VERSION) "); upgrade sipscope");
}

int store_int_migrate(store_t *s, bool *migrated)
{
    char sql[64];
    *migrated = false;
    for (;;) {
        int err = store_int_exec(s, "BEGIN IMMEDIATE", "migration");
        if (err != 0)
            return err;
        /* Read the version under the write lock: another process may have just migrated. */
        int64_t v = 0;
        err = store_int_query_i64(s, "PRAGMA user_version", &v);
        if (err == 0 && v > STORE_SCHEMA_VERSION)
            err = fail_newer(s, v);
        if (err == 0 && v == STORE_SCHEMA_VERSION)
            return store_int_exec(s, "COMMIT", "migration");
        if (err == 0 && v < 0)
            err = store_int_fail_msg(s, -ENOTSUP, "database schema", "negative user_version");
        if (err == 0)
            err = store_int_exec(s, migrations[v], "migration");
        if (err == 0) {
            int n = snprintf(sql, sizeof(sql), "PRAGMA user_version = %lld", (long long)(v + 1));
            err = (n < 0 || (size_t)n >= sizeof(sql))
                      ? store_int_fail_msg(s, -EIO, "migration", "version")
                      : store_int_exec(s, sql, "migration");
        }
        if (err == 0)
            err = store_int_exec(s, "COMMIT", "migration");
        if (err == 0)
            *migrated = true;
        if (err != 0) {
            if (!sqlite3_get_autocommit(store_int_db(s)))
                sqlite3_exec(store_int_db(s), "ROLLBACK", NULL, NULL, NULL);
            return err;
        }
    }
}

int store_int_check_not_newer(store_t *s)
{
    int64_t v = 0;
    int err = store_int_query_i64(s, "PRAGMA user_version", &v);
    return err == 0 && v > STORE_SCHEMA_VERSION ? fail_newer(s, v) : err;
}

/* A read-only store can't migrate: the schema must be exactly ours. */
int store_int_check_version(store_t *s)
{
    int64_t v = 0;
    int err = store_int_query_i64(s, "PRAGMA user_version", &v);
    if (err == 0 && v > STORE_SCHEMA_VERSION)
        err = fail_newer(s, v);
    else if (err == 0 && v < STORE_SCHEMA_VERSION)
        err = store_int_fail_msg(s, -ENOTSUP, "database schema",
                                 "older than this sipscope's; open it once read-write to migrate");
    return err;
}
