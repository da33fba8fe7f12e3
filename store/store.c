/* store: SQLite persistence of calls, messages, streams and samples, with batched writes. */
#include "store.h"

#include <assert.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store_int.h"
#include "sv.h"

#define NS_PER_S INT64_C(1000000000)
#define STR_(x)  #x
#define STR(x)   STR_(x)

/* ---- Schema. Each entry takes the database from user_version i to i + 1 and runs in its own
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
     * and store.h say what it holds; SQLite's JSON functions read it). */
    "ALTER TABLE registrations ADD COLUMN details TEXT;"
    "ALTER TABLE alerts ADD COLUMN details TEXT;",

    /* v3: the HEP capture agent id of the probe that saw a message (NULL: captured here). */
    "ALTER TABLE sip_messages ADD COLUMN probe INTEGER;",
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == STORE_SCHEMA_VERSION,
               "one migration per schema version");

/* ---- Statements prepared once at open (write path). */
enum {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_PUT_CALL,
    ST_PUT_STREAM,
    ST_PUT_SAMPLE,
    ST_PUT_MESSAGE,
    ST_SET_META,
    ST_ADD_META,
    ST_COUNT
};

/* UPSERT rather than INSERT OR REPLACE: same result for the caller, but REPLACE deletes and
 * re-inserts the row (touching every index entry), while DO UPDATE rewrites it in place. */
static const char *const write_sql[ST_COUNT] = {
    /* IMMEDIATE takes the write lock up front, so a busy database shows at BEGIN (where the
     * busy timeout applies) and never as a deadlock when a read transaction upgrades. */
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_PUT_CALL] =
        "INSERT INTO calls (id, call_id, from_uri, to_uri, from_user, to_user, from_tag, to_tag,"
        " user_agent, caller, callee, state, final_status, invite_time, ringing_time,"
        " answer_time, end_time, post_dial_delay_ms, duration_s, one_way, nat, sip_messages, mos)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
        " ON CONFLICT (id) DO UPDATE SET call_id = excluded.call_id,"
        " from_uri = excluded.from_uri, to_uri = excluded.to_uri,"
        " from_user = excluded.from_user, to_user = excluded.to_user,"
        " from_tag = excluded.from_tag, to_tag = excluded.to_tag,"
        " user_agent = excluded.user_agent, caller = excluded.caller, callee = excluded.callee,"
        " state = excluded.state, final_status = excluded.final_status,"
        " invite_time = excluded.invite_time, ringing_time = excluded.ringing_time,"
        " answer_time = excluded.answer_time, end_time = excluded.end_time,"
        " post_dial_delay_ms = excluded.post_dial_delay_ms, duration_s = excluded.duration_s,"
        " one_way = excluded.one_way, nat = excluded.nat,"
        " sip_messages = excluded.sip_messages, mos = excluded.mos",
    [ST_PUT_STREAM] =
        "INSERT INTO rtp_streams (id, call_row, call_id, src, dst, ssrc, payload_type, codec,"
        " clock_rate, first_time, last_time, packets, lost, duplicates, out_of_order, seq_errors,"
        " max_delta_ms, mean_jitter_ms, max_jitter_ms, mos, sdp_mismatch, rtcp_fraction_lost,"
        " rtcp_cumulative_lost, rtcp_jitter_ms, rtcp_rtt_ms)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
        " ON CONFLICT (id) DO UPDATE SET call_row = excluded.call_row,"
        " call_id = excluded.call_id, src = excluded.src, dst = excluded.dst,"
        " ssrc = excluded.ssrc, payload_type = excluded.payload_type, codec = excluded.codec,"
        " clock_rate = excluded.clock_rate, first_time = excluded.first_time,"
        " last_time = excluded.last_time, packets = excluded.packets, lost = excluded.lost,"
        " duplicates = excluded.duplicates, out_of_order = excluded.out_of_order,"
        " seq_errors = excluded.seq_errors, max_delta_ms = excluded.max_delta_ms,"
        " mean_jitter_ms = excluded.mean_jitter_ms, max_jitter_ms = excluded.max_jitter_ms,"
        " mos = excluded.mos, sdp_mismatch = excluded.sdp_mismatch,"
        " rtcp_fraction_lost = excluded.rtcp_fraction_lost,"
        " rtcp_cumulative_lost = excluded.rtcp_cumulative_lost,"
        " rtcp_jitter_ms = excluded.rtcp_jitter_ms, rtcp_rtt_ms = excluded.rtcp_rtt_ms",
    [ST_PUT_SAMPLE] =
        "INSERT OR REPLACE INTO stream_samples (stream_row, start_time, packets, lost, jitter_ms,"
        " max_jitter_ms, mos) VALUES (?,?,?,?,?,?,?)",
    [ST_PUT_MESSAGE] =
        "INSERT INTO sip_messages (call_row, call_id, time, src, dst, transport, is_request,"
        " method, status, cseq, raw, probe) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
    [ST_SET_META] = "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
    /* A non-integer value under the key (set by hand) is replaced, not added to. */
    [ST_ADD_META] = "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE"
                    " SET value = CASE typeof(value) WHEN 'integer' THEN value + excluded.value"
                    " ELSE excluded.value END",
};

struct store {
    sqlite3 *db; /* NULL once closed or failed */
    bool read_only;
    bool in_txn; /* a batch transaction is open */
    uint32_t batch_rows;
    uint32_t pending; /* rows in the open batch */
    sqlite3_stmt *st[ST_COUNT];
    store_stats_t stats;
    char err[256];
};

/* ---- Errors. */

static int errno_of(int sqlite_rc)
{
    switch (sqlite_rc & 0xff) {
        case SQLITE_NOMEM:
            return -ENOMEM;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
            return -EBUSY;
        case SQLITE_READONLY:
            return -EROFS;
        case SQLITE_FULL:
            return -ENOSPC;
        case SQLITE_TOOBIG:
        case SQLITE_RANGE:
        case SQLITE_MISUSE:
            return -EINVAL;
        default:
            return -EIO;
    }
}

/* Record a failure with our own words; returns err. */
static int fail_msg(store_t *s, int err, const char *what, const char *why)
{
    s->stats.errors++;
    if (snprintf(s->err, sizeof(s->err), "%s: %s", what, why) < 0)
        s->err[0] = '\0';
    return err;
}

/* Record a failure of SQLite (sqlite_rc, message from the connection); returns -errno. */
static int fail_sql(store_t *s, int sqlite_rc, const char *what)
{
    const char *why = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(sqlite_rc);
    return fail_msg(s, errno_of(sqlite_rc), what, why);
}

static int check_open(store_t *s)
{
    if (s == NULL)
        return -EINVAL;
    if (s->db == NULL)
        return fail_msg(s, -EINVAL, "store", "not open");
    return 0;
}

static int check_writable(store_t *s)
{
    int rc = check_open(s);
    if (rc == 0 && s->read_only)
        rc = fail_msg(s, -EROFS, "store", "opened read-only");
    return rc;
}

/* ---- Conversions between records and columns. */

/* ns -> seconds in two parts, so the double is rounded once (to ~0.12 us near 2025). */
static double ns_to_sec(int64_t ns)
{
    return (double)(ns / NS_PER_S) + (double)(ns % NS_PER_S) / 1e9;
}

/* seconds -> ns, rounded to the microsecond (exact for microsecond inputs of ns_to_sec). */
static int64_t sec_to_ns(double sec)
{
    if (!isfinite(sec) || fabs(sec) > 9.0e9)
        return 0;
    double whole = floor(sec);
    int64_t us = llround((sec - whole) * 1e6);
    return (int64_t)whole * NS_PER_S + us * 1000;
}

/* A double holding a count of ns-multiples (ms or s) back to ns; 0 for garbage. */
static int64_t scaled_to_ns(double v, double ns_per_unit)
{
    double ns = v * ns_per_unit;
    if (!isfinite(ns) || fabs(ns) > 9.0e18)
        return 0;
    return llround(ns);
}

/* The user part of a SIP/SIPS/TEL URI: "sip:alice:pw@host;x" -> "alice",
 * "sip:+1555;npdi@host" -> "+1555", "tel:+1555;phone-context=x" -> "+1555", "sip:host" -> "".
 * Tolerates a name-addr ("Bob <sip:bob@x>"). A view into uri; empty if none. */
static sv_t uri_user(const char *uri)
{
    sv_t s = sv_from_cstr(uri);
    size_t lt = sv_index(s, '<');
    if (lt != SIZE_MAX)
        s = sv_slice(s, lt + 1, SIZE_MAX);
    s = sv_trim(s);
    size_t colon = sv_index(s, ':');
    bool tel = false;
    if (colon != SIZE_MAX) {
        sv_t scheme = sv_slice(s, 0, colon);
        if (sv_eq_ci(scheme, "sip") || sv_eq_ci(scheme, "sips") || sv_eq_ci(scheme, "tel")) {
            tel = sv_eq_ci(scheme, "tel");
            s = sv_slice(s, colon + 1, SIZE_MAX);
        }
    }
    /* The userinfo ends at the first '@' before any header part or closing '>'. */
    size_t end = 0;
    while (end < s.len && s.p[end] != '@' && s.p[end] != '>' && s.p[end] != '?')
        end++;
    sv_t user;
    if (end < s.len && s.p[end] == '@')
        user = sv_slice(s, 0, end);
    else if (tel)
        user = sv_slice(s, 0, end);
    else
        return sv_make(s.p, 0);
    /* Drop a password (':') and user parameters (';'). */
    size_t cut = 0;
    while (cut < user.len && user.p[cut] != ':' && user.p[cut] != ';')
        cut++;
    return sv_slice(user, 0, cut);
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

static const char *col_text_or_null(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

static bool col_is_null(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL;
}

static int64_t col_time(sqlite3_stmt *st, int i)
{
    return col_is_null(st, i) ? 0 : sec_to_ns(sqlite3_column_double(st, i));
}

static void col_endpoint(sqlite3_stmt *st, int i, net_endpoint_t *e)
{
    const char *t = col_text_or_null(st, i);
    /* NULL (none) and anything unparsable both give a zeroed endpoint. */
    net_endpoint_parse(t ? sv_make(t, (size_t)sqlite3_column_bytes(st, i)) : SV_NULL, e);
}

/* ---- Small helpers around statements. */

static int prepare(store_t *s, const char *sql, sqlite3_stmt **st)
{
    int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
    if (rc != SQLITE_OK) {
        *st = NULL;
        return fail_sql(s, rc, "prepare");
    }
    return 0;
}

static int exec(store_t *s, const char *sql, const char *what)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : fail_sql(s, rc, what);
}

/* Run a statement that returns no rows (or whose rows don't matter), then reset it. */
static int run(store_t *s, sqlite3_stmt *st, const char *what)
{
    int rc;
    do {
        rc = sqlite3_step(st);
    } while (rc == SQLITE_ROW);
    int err = rc == SQLITE_DONE ? 0 : fail_sql(s, rc, what);
    sqlite3_reset(st);
    return err;
}

/* First column of the first row of sql as an integer (0 when no row). */
static int query_i64(store_t *s, const char *sql, int64_t *out)
{
    sqlite3_stmt *st;
    int err = prepare(s, sql, &st);
    if (err != 0)
        return err;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else if (rc == SQLITE_DONE)
        *out = 0;
    else
        err = fail_sql(s, rc, "query");
    sqlite3_finalize(st);
    return err;
}

/* ---- Batches. */

/* The open transaction is gone (SQLite rolls back by itself after some I/O errors, or the
 * commit failed): its rows are lost. */
static void batch_lost(store_t *s)
{
    s->stats.rows_dropped += s->pending;
    s->pending = 0;
    s->in_txn = false;
}

static int batch_begin(store_t *s)
{
    if (s->in_txn)
        return 0;
    int err = run(s, s->st[ST_BEGIN], "begin batch");
    if (err == 0)
        s->in_txn = true;
    return err;
}

static int batch_commit(store_t *s)
{
    if (!s->in_txn)
        return 0;
    int rc = sqlite3_step(s->st[ST_COMMIT]);
    int err = rc == SQLITE_DONE ? 0 : fail_sql(s, rc, "commit batch");
    sqlite3_reset(s->st[ST_COMMIT]);
    if (err == 0) {
        s->stats.rows_committed += s->pending;
        s->stats.commits++;
        s->pending = 0;
        s->in_txn = false;
    } else if ((rc & 0xff) == SQLITE_BUSY && !sqlite3_get_autocommit(s->db)) {
        /* Still open: keep the rows, a later flush retries. */
    } else {
        if (!sqlite3_get_autocommit(s->db))
            run(s, s->st[ST_ROLLBACK], "rollback batch");
        batch_lost(s);
    }
    return err;
}

/* Begin the batch if needed and reset the statement's bindings for a new row. */
static int put_begin(store_t *s, int which, binder_t *b)
{
    memset(b, 0, offsetof(binder_t, ep));
    int err = check_writable(s);
    if (err == 0)
        err = batch_begin(s);
    if (err == 0)
        b->st = s->st[which];
    return err;
}

/* Run a bound write statement in the batch; commit when the batch is full. */
static int put_end(store_t *s, binder_t *b, const char *what)
{
    int err;
    if (b->rc != SQLITE_OK) {
        err = fail_sql(s, b->rc, what);
    } else {
        int rc = sqlite3_step(b->st);
        err = rc == SQLITE_DONE ? 0 : fail_sql(s, rc, what);
    }
    sqlite3_reset(b->st);
    if (err != 0) {
        if (s->in_txn && sqlite3_get_autocommit(s->db))
            batch_lost(s); /* SQLite rolled the whole batch back (I/O error, disk full) */
        return err;
    }
    s->pending++;
    if (s->pending >= s->batch_rows)
        return batch_commit(s);
    return 0;
}

/* ---- Open and close. */

static int fail_newer(store_t *s, int64_t v);

static int migrate(store_t *s)
{
    char sql[64];
    for (;;) {
        int err = exec(s, "BEGIN IMMEDIATE", "migration");
        if (err != 0)
            return err;
        /* Read the version under the write lock: another process may have just migrated. */
        int64_t v = 0;
        err = query_i64(s, "PRAGMA user_version", &v);
        if (err == 0 && v > STORE_SCHEMA_VERSION)
            err = fail_newer(s, v);
        if (err == 0 && v == STORE_SCHEMA_VERSION)
            return exec(s, "COMMIT", "migration");
        if (err == 0 && v < 0)
            err = fail_msg(s, -ENOTSUP, "database schema", "negative user_version");
        if (err == 0)
            err = exec(s, migrations[v], "migration");
        if (err == 0) {
            int n = snprintf(sql, sizeof(sql), "PRAGMA user_version = %lld", (long long)(v + 1));
            err = (n < 0 || (size_t)n >= sizeof(sql)) ? fail_msg(s, -EIO, "migration", "version")
                                                      : exec(s, sql, "migration");
        }
        if (err == 0)
            err = exec(s, "COMMIT", "migration");
        if (err != 0) {
            if (!sqlite3_get_autocommit(s->db))
                sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            return err;
        }
    }
}

static int fail_newer(store_t *s, int64_t v)
{
    char what[48];
    if (snprintf(what, sizeof(what), "database schema v%lld", (long long)v) < 0)
        what[0] = '\0';
    return fail_msg(s, -ENOTSUP, what,
                    "written by a newer sipscope (this one knows up to v" STR(
                        STORE_SCHEMA_VERSION) "); upgrade sipscope");
}

static int check_not_newer(store_t *s)
{
    int64_t v = 0;
    int err = query_i64(s, "PRAGMA user_version", &v);
    return err == 0 && v > STORE_SCHEMA_VERSION ? fail_newer(s, v) : err;
}

/* A read-only store can't migrate: the schema must be exactly ours. */
static int check_version(store_t *s)
{
    int64_t v = 0;
    int err = query_i64(s, "PRAGMA user_version", &v);
    if (err == 0 && v > STORE_SCHEMA_VERSION)
        err = fail_newer(s, v);
    else if (err == 0 && v < STORE_SCHEMA_VERSION)
        err = fail_msg(s, -ENOTSUP, "database schema",
                       "older than this sipscope's; open it once read-write to migrate");
    return err;
}

static void store_release(store_t *s)
{
    for (int i = 0; i < ST_COUNT; i++) {
        sqlite3_finalize(s->st[i]);
        s->st[i] = NULL;
    }
    if (s->db != NULL)
        sqlite3_close_v2(s->db);
    s->db = NULL;
}

int store_open(const char *path, store_t **out)
{
    return store_open_opts(path, NULL, out);
}

int store_open_opts(const char *path, const store_opts_t *opts, store_t **out)
{
    static const store_opts_t defaults = {0};
    if (opts == NULL)
        opts = &defaults;
    *out = NULL;
    store_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return -ENOMEM;
    int err = 0, rc, flags;
    s->read_only = opts->read_only;
    s->batch_rows = opts->batch_rows ? opts->batch_rows : STORE_DEFAULT_BATCH;
    if (path == NULL) {
        err = fail_msg(s, -EINVAL, "store", "no path");
        goto fail;
    }
    /* NOMUTEX: a store_t belongs to one thread at a time, so SQLite's per-connection mutex
     * is pure overhead. */
    flags = SQLITE_OPEN_NOMUTEX |
            (s->read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    rc = sqlite3_open_v2(path, &s->db, flags, NULL);
    if (rc != SQLITE_OK) {
        err = fail_sql(s, rc, path);
        goto fail;
    }
    sqlite3_busy_timeout(s->db, opts->busy_timeout_ms ? (int)opts->busy_timeout_ms
                                                      : STORE_DEFAULT_BUSY_MS);
    /* Refuse a newer schema before touching anything (journal mode included). */
    err = check_not_newer(s);
    if (err != 0)
        goto fail;
    if (!s->read_only) {
        /* page_size and auto_vacuum only take on a database without tables (a new one), so
         * they must come before the first migration; elsewhere they are harmless no-ops.
         * 16 KB pages hold about 35 stored SIP messages each (fewer pages written per row);
         * INCREMENTAL lets store_prune hand free pages back in bounded steps. */
        err = exec(s, "PRAGMA page_size = 16384; PRAGMA auto_vacuum = INCREMENTAL", path);
        if (err == 0)
            err = exec(s, "PRAGMA journal_mode = WAL", path);
        /* Keep a checkpointed WAL from staying at its high-water mark. */
        if (err == 0)
            err = exec(s, "PRAGMA journal_size_limit = 67108864", path);
        if (err != 0)
            goto fail;
    }
    /* NORMAL in WAL mode: durable across application crashes, may lose the last commits on
     * power loss, never corrupts. Foreign keys stay off: see the schema's comment. */
    char pragmas[160];
    snprintf(pragmas, sizeof(pragmas),
             "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF;"
             " PRAGMA temp_store = MEMORY; PRAGMA cache_size = -%u",
             (unsigned)(opts->cache_kb ? opts->cache_kb : STORE_DEFAULT_CACHE_KB));
    err = exec(s, pragmas, path);
    if (err != 0)
        goto fail;
    err = s->read_only ? check_version(s) : migrate(s);
    if (err != 0)
        goto fail;
    if (!s->read_only) {
        for (int i = 0; i < ST_COUNT; i++) {
            rc = sqlite3_prepare_v3(s->db, write_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                                    NULL);
            if (rc != SQLITE_OK) {
                err = fail_sql(s, rc, "prepare");
                goto fail;
            }
        }
    }
    *out = s;
    return 0;
fail:
    store_release(s); /* keeps s->err for store_errmsg */
    *out = s;
    return err;
}

int store_close(store_t *s)
{
    if (s == NULL)
        return 0;
    int err = s->db != NULL && !s->read_only ? batch_commit(s) : 0;
    store_release(s);
    free(s);
    return err;
}

const char *store_errmsg(const store_t *s)
{
    if (s == NULL)
        return "out of memory";
    return s->err[0] ? s->err : "no error";
}

void store_get_stats(const store_t *s, store_stats_t *out)
{
    if (s == NULL)
        memset(out, 0, sizeof(*out));
    else
        *out = s->stats;
}

/* ---- Writing. */

int store_put_call(store_t *s, const call_record_t *c)
{
    binder_t b;
    int err = put_begin(s, ST_PUT_CALL, &b);
    if (err != 0)
        return err;
    sv_t from_user = uri_user(c->from_uri), to_user = uri_user(c->to_uri);
    b_i64(&b, c->id);
    b_str(&b, c->call_id);
    b_str(&b, c->from_uri);
    b_str(&b, c->to_uri);
    b_text(&b, c->from_uri ? from_user.p : NULL, from_user.len);
    b_text(&b, c->to_uri ? to_user.p : NULL, to_user.len);
    b_str(&b, c->from_tag);
    b_str(&b, c->to_tag);
    b_str(&b, c->user_agent);
    b_endpoint(&b, &c->caller);
    b_endpoint(&b, &c->callee);
    b_str(&b, call_state_name(c->state));
    if (c->final_status)
        b_i64(&b, c->final_status);
    else
        b_null(&b);
    b_time(&b, c->invite_ns);
    b_time(&b, c->ringing_ns);
    b_time(&b, c->answer_ns);
    b_time(&b, c->end_ns);
    if (c->post_dial_delay_ns >= 0)
        b_dbl(&b, (double)c->post_dial_delay_ns / 1e6);
    else
        b_null(&b);
    if (c->duration_ns >= 0)
        b_dbl(&b, (double)c->duration_ns / 1e9);
    else
        b_null(&b);
    b_i64(&b, c->one_way);
    b_i64(&b, c->nat);
    b_i64(&b, c->sip_messages);
    if (c->mos > 0)
        b_dbl(&b, c->mos);
    else
        b_null(&b);
    return put_end(s, &b, "put call");
}

int store_put_stream(store_t *s, const stream_record_t *r)
{
    binder_t b;
    int err = put_begin(s, ST_PUT_STREAM, &b);
    if (err != 0)
        return err;
    b_i64(&b, r->id);
    if (r->call_row)
        b_i64(&b, r->call_row);
    else
        b_null(&b);
    b_str(&b, r->call_id);
    b_endpoint(&b, &r->src);
    b_endpoint(&b, &r->dst);
    b_i64(&b, r->ssrc);
    b_i64(&b, r->payload_type);
    b_str(&b, r->codec);
    b_i64(&b, r->clock_rate);
    b_time(&b, r->first_ns);
    b_time(&b, r->last_ns);
    b_i64(&b, (int64_t)r->packets);
    b_i64(&b, r->lost);
    b_i64(&b, (int64_t)r->duplicates);
    b_i64(&b, (int64_t)r->out_of_order);
    b_i64(&b, (int64_t)r->seq_errors);
    b_dbl(&b, r->max_delta_ms);
    b_dbl(&b, r->mean_jitter_ms);
    b_dbl(&b, r->max_jitter_ms);
    b_dbl(&b, r->mos);
    b_i64(&b, r->sdp_mismatch);
    if (r->have_rtcp) {
        b_dbl(&b, r->rtcp_fraction_lost);
        b_i64(&b, r->rtcp_cumulative_lost);
        b_dbl(&b, r->rtcp_jitter_ms);
        if (r->rtcp_rtt_ms >= 0)
            b_dbl(&b, r->rtcp_rtt_ms);
        else
            b_null(&b);
    } else {
        for (int i = 0; i < 4; i++)
            b_null(&b);
    }
    return put_end(s, &b, "put stream");
}

int store_put_sample(store_t *s, const sample_record_t *r)
{
    binder_t b;
    int err = put_begin(s, ST_PUT_SAMPLE, &b);
    if (err != 0)
        return err;
    b_i64(&b, r->stream_row);
    b_dbl(&b, ns_to_sec(r->start_ns)); /* part of the key: never NULL */
    b_i64(&b, r->packets);
    b_i64(&b, r->lost);
    b_dbl(&b, r->jitter_ms);
    b_dbl(&b, r->max_jitter_ms);
    b_dbl(&b, r->mos);
    return put_end(s, &b, "put sample");
}

int store_put_message(store_t *s, const message_record_t *m)
{
    return store_put_message_id(s, m, NULL);
}

int store_put_message_id(store_t *s, const message_record_t *m, int64_t *id_out)
{
    binder_t b;
    int err = put_begin(s, ST_PUT_MESSAGE, &b);
    if (err != 0)
        return err;
    if (m->call_row)
        b_i64(&b, m->call_row);
    else
        b_null(&b);
    b_str(&b, m->call_id);
    b_time(&b, m->ts_ns);
    b_endpoint(&b, &m->src);
    b_endpoint(&b, &m->dst);
    b_i64(&b, m->transport);
    b_i64(&b, m->is_request);
    b_str(&b, m->method);
    if (m->status)
        b_i64(&b, m->status);
    else
        b_null(&b);
    b_i64(&b, m->cseq);
    b_text(&b, m->raw, m->raw ? m->raw_len : 0);
    if (m->has_probe)
        b_i64(&b, m->probe_id);
    else
        b_null(&b);
    err = put_end(s, &b, "put message");
    if (err == 0 && id_out != NULL)
        *id_out = sqlite3_last_insert_rowid(s->db);
    return err;
}

int store_set_meta(store_t *s, const char *key, const char *value)
{
    if (key == NULL)
        return -EINVAL;
    binder_t b;
    int err = put_begin(s, ST_SET_META, &b);
    if (err != 0)
        return err;
    b_str(&b, key);
    b_str(&b, value);
    return put_end(s, &b, "set meta");
}

int store_set_meta_i64(store_t *s, const char *key, int64_t value)
{
    if (key == NULL)
        return -EINVAL;
    binder_t b;
    int err = put_begin(s, ST_SET_META, &b);
    if (err != 0)
        return err;
    b_str(&b, key);
    b_i64(&b, value);
    return put_end(s, &b, "set meta");
}

/* The totals and their meta keys, in one place. */
static const struct {
    const char *key;
    size_t off;
} totals[] = {
    {"packets", offsetof(store_meta_t, packets)},
    {"bytes", offsetof(store_meta_t, bytes)},
    {"sip_messages", offsetof(store_meta_t, sip_messages)},
    {"rtp_packets", offsetof(store_meta_t, rtp_packets)},
    {"rtcp_packets", offsetof(store_meta_t, rtcp_packets)},
    {"malformed", offsetof(store_meta_t, malformed)},
};

#define NTOTALS (sizeof(totals) / sizeof(totals[0]))

int store_add_totals(store_t *s, const store_meta_t *m)
{
    int err = 0;
    for (size_t i = 0; err == 0 && i < NTOTALS; i++) {
        uint64_t v;
        memcpy(&v, (const char *)m + totals[i].off, sizeof(v));
        binder_t b;
        err = put_begin(s, ST_ADD_META, &b);
        if (err == 0) {
            b_str(&b, totals[i].key);
            b_i64(&b, v > INT64_MAX ? INT64_MAX : (int64_t)v);
            err = put_end(s, &b, "add totals");
        }
    }
    return err;
}

int store_get_totals(store_t *s, store_meta_t *out)
{
    int err = 0;
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; err == 0 && i < NTOTALS; i++) {
        int64_t v = 0;
        err = store_get_meta_i64(s, totals[i].key, &v);
        if (err == -ENOENT)
            err = 0;
        uint64_t u = v > 0 ? (uint64_t)v : 0;
        memcpy((char *)out + totals[i].off, &u, sizeof(u));
    }
    return err;
}

int64_t store_next_id(store_t *s)
{
    int64_t max = 0;
    int err = check_open(s);
    if (err == 0)
        err = query_i64(s,
                        "SELECT max(coalesce((SELECT max(id) FROM calls), 0),"
                        " coalesce((SELECT max(id) FROM rtp_streams), 0))",
                        &max);
    return err == 0 && max < INT64_MAX ? max + 1 : 0;
}

int store_flush(store_t *s)
{
    int err = check_open(s);
    if (err == 0 && !s->read_only)
        err = batch_commit(s);
    return err;
}

/* ---- Reading. */

static void row_call(sqlite3_stmt *st, call_record_t *c)
{
    memset(c, 0, sizeof(*c));
    c->id = sqlite3_column_int64(st, 0);
    c->call_id = col_text(st, 1);
    c->from_uri = col_text(st, 2);
    c->to_uri = col_text(st, 3);
    c->from_tag = col_text(st, 4);
    c->to_tag = col_text(st, 5);
    c->user_agent = col_text(st, 6);
    col_endpoint(st, 7, &c->caller);
    col_endpoint(st, 8, &c->callee);
    if (!call_state_parse(col_text(st, 9), &c->state))
        c->state = CALL_SETUP;
    c->final_status = (uint16_t)sqlite3_column_int(st, 10);
    c->invite_ns = col_time(st, 11);
    c->ringing_ns = col_time(st, 12);
    c->answer_ns = col_time(st, 13);
    c->end_ns = col_time(st, 14);
    c->post_dial_delay_ns =
        col_is_null(st, 15) ? -1 : scaled_to_ns(sqlite3_column_double(st, 15), 1e6);
    c->duration_ns = col_is_null(st, 16) ? -1 : scaled_to_ns(sqlite3_column_double(st, 16), 1e9);
    c->one_way = sqlite3_column_int(st, 17) != 0;
    c->nat = sqlite3_column_int(st, 18) != 0;
    c->sip_messages = (uint32_t)sqlite3_column_int64(st, 19);
    c->mos = sqlite3_column_double(st, 20); /* NULL reads as 0: no media */
}

static void row_stream(sqlite3_stmt *st, stream_record_t *r)
{
    memset(r, 0, sizeof(*r));
    r->id = sqlite3_column_int64(st, 0);
    r->call_row = sqlite3_column_int64(st, 1);
    r->call_id = col_text_or_null(st, 2);
    col_endpoint(st, 3, &r->src);
    col_endpoint(st, 4, &r->dst);
    r->ssrc = (uint32_t)sqlite3_column_int64(st, 5);
    r->payload_type = (uint8_t)sqlite3_column_int(st, 6);
    r->codec = col_text(st, 7);
    r->clock_rate = (uint32_t)sqlite3_column_int64(st, 8);
    r->first_ns = col_time(st, 9);
    r->last_ns = col_time(st, 10);
    r->packets = (uint64_t)sqlite3_column_int64(st, 11);
    r->lost = sqlite3_column_int64(st, 12);
    r->duplicates = (uint64_t)sqlite3_column_int64(st, 13);
    r->out_of_order = (uint64_t)sqlite3_column_int64(st, 14);
    r->seq_errors = (uint64_t)sqlite3_column_int64(st, 15);
    r->max_delta_ms = sqlite3_column_double(st, 16);
    r->mean_jitter_ms = sqlite3_column_double(st, 17);
    r->max_jitter_ms = sqlite3_column_double(st, 18);
    r->mos = sqlite3_column_double(st, 19);
    r->sdp_mismatch = sqlite3_column_int(st, 20) != 0;
    r->have_rtcp = !col_is_null(st, 21);
    r->rtcp_fraction_lost = sqlite3_column_double(st, 21);
    r->rtcp_cumulative_lost = sqlite3_column_int64(st, 22);
    r->rtcp_jitter_ms = sqlite3_column_double(st, 23);
    r->rtcp_rtt_ms = col_is_null(st, 24) ? -1 : sqlite3_column_double(st, 24);
}

static void row_message(sqlite3_stmt *st, message_record_t *m)
{
    memset(m, 0, sizeof(*m));
    m->call_row = sqlite3_column_int64(st, 1);
    m->call_id = col_text_or_null(st, 2);
    m->ts_ns = col_time(st, 3);
    col_endpoint(st, 4, &m->src);
    col_endpoint(st, 5, &m->dst);
    m->transport = (uint8_t)sqlite3_column_int(st, 6);
    m->is_request = sqlite3_column_int(st, 7) != 0;
    m->method = col_text(st, 8);
    m->status = (uint16_t)sqlite3_column_int(st, 9);
    m->cseq = (uint32_t)sqlite3_column_int64(st, 10);
    m->raw = col_text(st, 11);
    m->raw_len = (uint32_t)sqlite3_column_bytes(st, 11);
    m->has_probe = !col_is_null(st, 12);
    m->probe_id = (uint32_t)sqlite3_column_int64(st, 12);
}

typedef enum { ROW_CALL, ROW_STREAM, ROW_SAMPLE, ROW_MESSAGE } row_kind_t;

typedef struct {
    row_kind_t kind;
    union {
        store_call_cb call;
        store_stream_cb stream;
        store_sample_cb sample;
        store_message_cb message;
    } cb; /* the member matching kind */
    void *ctx;
} walker_t;

/* Step a prepared, bound statement to its end, handing each row to the walker's callback;
 * finalizes st. Returns the first nonzero callback result, or 0, or -errno. */
static int walk(store_t *s, sqlite3_stmt *st, const walker_t *w, int64_t *rows)
{
    int ret = 0, rc = SQLITE_DONE;
    int64_t n = 0;
    while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        n++;
        switch (w->kind) {
            case ROW_CALL: {
                call_record_t c;
                row_call(st, &c);
                ret = w->cb.call(w->ctx, &c);
                break;
            }
            case ROW_STREAM: {
                stream_record_t r;
                row_stream(st, &r);
                ret = w->cb.stream(w->ctx, &r);
                break;
            }
            case ROW_SAMPLE: {
                sample_record_t r = {
                    .stream_row = sqlite3_column_int64(st, 0),
                    .start_ns = sec_to_ns(sqlite3_column_double(st, 1)),
                    .packets = (uint32_t)sqlite3_column_int64(st, 2),
                    .lost = (int32_t)sqlite3_column_int64(st, 3),
                    .jitter_ms = sqlite3_column_double(st, 4),
                    .max_jitter_ms = sqlite3_column_double(st, 5),
                    .mos = sqlite3_column_double(st, 6),
                };
                ret = w->cb.sample(w->ctx, &r);
                break;
            }
            case ROW_MESSAGE: {
                message_record_t m;
                row_message(st, &m);
                ret = w->cb.message(w->ctx, sqlite3_column_int64(st, 0), &m);
                break;
            }
        }
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = fail_sql(s, rc, "read");
    sqlite3_finalize(st);
    if (rows != NULL)
        *rows = n;
    return ret;
}

/* Walk sql, binding id to ?1 when bind_id. */
static int walk_sql(store_t *s, const char *sql, bool bind_id, int64_t id, const walker_t *w,
                    int64_t *rows)
{
    int err = check_open(s);
    if (err != 0)
        return err;
    bool have_cb = (w->kind == ROW_CALL && w->cb.call) || (w->kind == ROW_STREAM && w->cb.stream) ||
                   (w->kind == ROW_SAMPLE && w->cb.sample) ||
                   (w->kind == ROW_MESSAGE && w->cb.message);
    if (!have_cb)
        return fail_msg(s, -EINVAL, "read", "no callback");
    sqlite3_stmt *st;
    err = prepare(s, sql, &st);
    if (err != 0)
        return err;
    if (bind_id)
        sqlite3_bind_int64(st, 1, id);
    return walk(s, st, w, rows);
}

#define WALK_CALLS(f, c)    (&(walker_t){.kind = ROW_CALL, .cb.call = (f), .ctx = (c)})
#define WALK_STREAMS(f, c)  (&(walker_t){.kind = ROW_STREAM, .cb.stream = (f), .ctx = (c)})
#define WALK_SAMPLES(f, c)  (&(walker_t){.kind = ROW_SAMPLE, .cb.sample = (f), .ctx = (c)})
#define WALK_MESSAGES(f, c) (&(walker_t){.kind = ROW_MESSAGE, .cb.message = (f), .ctx = (c)})

int store_foreach_call(store_t *s, store_call_cb cb, void *ctx)
{
    return walk_sql(s, "SELECT " CALL_COLS " FROM calls ORDER BY invite_time, id", false, 0,
                    WALK_CALLS(cb, ctx), NULL);
}

int store_get_call(store_t *s, int64_t id, store_call_cb cb, void *ctx)
{
    int64_t rows = 0;
    int err = walk_sql(s, "SELECT " CALL_COLS " FROM calls WHERE id = ?1", true, id,
                       WALK_CALLS(cb, ctx), &rows);
    if (err == 0 && rows == 0)
        err = fail_msg(s, -ENOENT, "get call", "no such call");
    return err;
}

int store_foreach_stream(store_t *s, int64_t call_row, store_stream_cb cb, void *ctx)
{
    const char *sql = call_row > 0 ? "SELECT " STREAM_COLS " FROM rtp_streams WHERE call_row = ?1"
                                     " ORDER BY first_time, id"
                      : call_row == 0
                          ? "SELECT " STREAM_COLS " FROM rtp_streams WHERE call_row IS NULL"
                            " ORDER BY first_time, id"
                          : "SELECT " STREAM_COLS " FROM rtp_streams ORDER BY first_time, id";
    return walk_sql(s, sql, call_row > 0, call_row, WALK_STREAMS(cb, ctx), NULL);
}

int store_foreach_sample(store_t *s, int64_t stream_row, store_sample_cb cb, void *ctx)
{
    return walk_sql(s,
                    "SELECT stream_row, start_time, packets, lost, jitter_ms, max_jitter_ms, mos"
                    " FROM stream_samples WHERE stream_row = ?1 ORDER BY start_time",
                    true, stream_row, WALK_SAMPLES(cb, ctx), NULL);
}

int store_foreach_message(store_t *s, int64_t call_row, store_message_cb cb, void *ctx)
{
    const char *sql = call_row > 0 ? "SELECT " MESSAGE_COLS " FROM sip_messages WHERE call_row = ?1"
                                     " ORDER BY time, id"
                      : call_row == 0
                          ? "SELECT " MESSAGE_COLS " FROM sip_messages WHERE call_row IS NULL"
                            " ORDER BY time, id"
                          : "SELECT " MESSAGE_COLS " FROM sip_messages ORDER BY time, id";
    return walk_sql(s, sql, call_row > 0, call_row, WALK_MESSAGES(cb, ctx), NULL);
}

/* Run the meta lookup; on success *st is positioned on the row (caller finalizes). */
static int meta_row(store_t *s, const char *key, sqlite3_stmt **st)
{
    *st = NULL;
    int err = check_open(s);
    if (err == 0 && key == NULL)
        err = fail_msg(s, -EINVAL, "get meta", "no key");
    if (err == 0)
        err = prepare(s, "SELECT value FROM meta WHERE key = ?1", st);
    if (err != 0)
        return err;
    sqlite3_bind_text(*st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(*st);
    if (rc == SQLITE_DONE || (rc == SQLITE_ROW && col_is_null(*st, 0)))
        err = fail_msg(s, -ENOENT, key, "no such meta key");
    else if (rc != SQLITE_ROW)
        err = fail_sql(s, rc, "get meta");
    if (err != 0) {
        sqlite3_finalize(*st);
        *st = NULL;
    }
    return err;
}

int store_get_meta(store_t *s, const char *key, char *buf, size_t cap)
{
    if (buf == NULL || cap == 0)
        return -EINVAL;
    buf[0] = '\0';
    sqlite3_stmt *st;
    int err = meta_row(s, key, &st);
    if (err != 0)
        return err;
    const char *t = col_text(st, 0);
    size_t len = (size_t)sqlite3_column_bytes(st, 0);
    sv_copy(sv_make(t, len), buf, cap);
    if (len >= cap)
        err = fail_msg(s, -ENOSPC, key, "meta value longer than the buffer");
    sqlite3_finalize(st);
    return err;
}

int store_get_meta_i64(store_t *s, const char *key, int64_t *out)
{
    sqlite3_stmt *st;
    int err = meta_row(s, key, &st);
    if (err != 0)
        return err;
    if (sqlite3_column_type(st, 0) == SQLITE_INTEGER) {
        *out = sqlite3_column_int64(st, 0);
    } else {
        /* Text written by store_set_meta: accept an optional '-' and decimal digits. */
        sv_t t = sv_make(col_text(st, 0), (size_t)sqlite3_column_bytes(st, 0));
        bool neg = t.len > 0 && t.p[0] == '-';
        uint64_t v;
        if (sv_to_u64(sv_slice(t, neg ? 1 : 0, SIZE_MAX), &v) &&
            v <= (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX))
            *out = neg ? (int64_t)(0 - v) : (int64_t)v;
        else
            err = fail_msg(s, -EINVAL, key, "meta value is not an integer");
    }
    sqlite3_finalize(st);
    return err;
}

static int count_rows(store_t *s, const char *sql, int64_t *out)
{
    int err = check_open(s);
    return err != 0 ? err : query_i64(s, sql, out);
}

int store_count_calls(store_t *s, int64_t *out)
{
    return count_rows(s, "SELECT count(*) FROM calls", out);
}

int store_count_streams(store_t *s, int64_t *out)
{
    return count_rows(s, "SELECT count(*) FROM rtp_streams", out);
}

int store_count_samples(store_t *s, int64_t *out)
{
    return count_rows(s, "SELECT count(*) FROM stream_samples", out);
}

int store_count_messages(store_t *s, int64_t *out)
{
    return count_rows(s, "SELECT count(*) FROM sip_messages", out);
}

/* ---- Filtered call queries: query.c builds them (every filter value a bound parameter). */

int store_query_calls(store_t *s, const store_call_filter_t *filter, int64_t limit, int64_t offset,
                      store_call_cb cb, void *ctx, int64_t *total)
{
    /* Newest invite first, id descending on ties. */
    return store_query_calls_sorted(s, filter, STORE_SORT_INVITE_TIME, false, limit, offset, cb,
                                    ctx, total);
}

/* ---- Retention. */

#define PRUNE_CALLS  256  /* calls (with their children) per transaction */
#define PRUNE_ROWS   4096 /* rows of the other kinds per transaction */
#define VACUUM_PAGES 1024 /* pages handed back per incremental_vacuum step */

enum {
    PR_CALL_IDS,     /* ?1 cutoff, ?2 limit -> call ids */
    PR_CALL_MSGS,    /* ?1 call id */
    PR_CALL_STREAMS, /* ?1 call id -> stream ids */
    PR_STREAM_SAMPLES,
    PR_STREAM,
    PR_CALL,
    PR_ORPHAN_MSGS,    /* ?1 cutoff, ?2 limit */
    PR_ORPHAN_STREAMS, /* ?1 cutoff, ?2 limit -> stream ids */
    PR_REGISTRATIONS,
    PR_ALERTS,
    PR_COUNT
};

static const char *const prune_sql[PR_COUNT] = {
    /* Calls with no invite time fall back on their other times; none at all counts as old. */
    [PR_CALL_IDS] = "SELECT id FROM calls WHERE invite_time < ?1"
                    " UNION ALL SELECT id FROM calls WHERE invite_time IS NULL"
                    " AND coalesce(end_time, answer_time, ringing_time, 0) < ?1 LIMIT ?2",
    [PR_CALL_MSGS] = "DELETE FROM sip_messages WHERE call_row = ?1",
    [PR_CALL_STREAMS] = "SELECT id FROM rtp_streams WHERE call_row = ?1",
    [PR_STREAM_SAMPLES] = "DELETE FROM stream_samples WHERE stream_row = ?1",
    [PR_STREAM] = "DELETE FROM rtp_streams WHERE id = ?1",
    [PR_CALL] = "DELETE FROM calls WHERE id = ?1",
    [PR_ORPHAN_MSGS] = "DELETE FROM sip_messages WHERE id IN (SELECT id FROM sip_messages"
                       " WHERE call_row IS NULL AND time < ?1 LIMIT ?2)",
    [PR_ORPHAN_STREAMS] = "SELECT id FROM rtp_streams WHERE call_row IS NULL AND last_time < ?1"
                          " LIMIT ?2",
    [PR_REGISTRATIONS] = "DELETE FROM registrations WHERE id IN (SELECT id FROM registrations"
                         " WHERE last_time < ?1 LIMIT ?2)",
    [PR_ALERTS] = "DELETE FROM alerts WHERE id IN (SELECT id FROM alerts"
                  " WHERE last_time < ?1 LIMIT ?2)",
};

typedef struct {
    sqlite3_stmt *st[PR_COUNT];
    int64_t calls; /* calls deleted so far */
} pruner_t;

/* Ids from a SELECT bound with (cutoff, limit) or (id); at most cap of them. */
static int collect_ids(store_t *s, sqlite3_stmt *st, int64_t *ids, int cap, int *n)
{
    int rc = SQLITE_DONE;
    *n = 0;
    while (*n < cap && (rc = sqlite3_step(st)) == SQLITE_ROW)
        ids[(*n)++] = sqlite3_column_int64(st, 0);
    int err = (*n == cap || rc == SQLITE_DONE) ? 0 : fail_sql(s, rc, "prune");
    sqlite3_reset(st);
    return err;
}

static int run_id(store_t *s, sqlite3_stmt *st, int64_t id)
{
    sqlite3_bind_int64(st, 1, id);
    return run(s, st, "prune");
}

/* A stream and its samples. */
static int prune_stream(store_t *s, pruner_t *p, int64_t id)
{
    int err = run_id(s, p->st[PR_STREAM_SAMPLES], id);
    return err != 0 ? err : run_id(s, p->st[PR_STREAM], id);
}

/* A call, its messages, its streams and their samples. */
static int prune_call(store_t *s, pruner_t *p, int64_t id)
{
    int64_t streams[64];
    int n, err;
    do { /* a call rarely has more than a few streams; loop for the ones that do */
        sqlite3_bind_int64(p->st[PR_CALL_STREAMS], 1, id);
        err = collect_ids(s, p->st[PR_CALL_STREAMS], streams, 64, &n);
        for (int i = 0; err == 0 && i < n; i++)
            err = prune_stream(s, p, streams[i]);
    } while (err == 0 && n == 64);
    if (err == 0)
        err = run_id(s, p->st[PR_CALL_MSGS], id);
    if (err == 0)
        err = run_id(s, p->st[PR_CALL], id);
    return err;
}

/* One transaction: up to PRUNE_CALLS calls before cutoff with their children, and up to
 * PRUNE_ROWS rows of each other kind. *deleted receives the rows removed (0: nothing left). */
static int prune_slice(store_t *s, pruner_t *p, double cutoff, int64_t *deleted)
{
    int64_t ids[PRUNE_CALLS];
    int n = 0;
    *deleted = 0;
    int err = run(s, s->st[ST_BEGIN], "prune");
    if (err != 0)
        return err;
    int before = sqlite3_total_changes64(s->db);
    sqlite3_stmt *st = p->st[PR_CALL_IDS];
    sqlite3_bind_double(st, 1, cutoff);
    sqlite3_bind_int64(st, 2, PRUNE_CALLS);
    err = collect_ids(s, st, ids, PRUNE_CALLS, &n);
    for (int i = 0; err == 0 && i < n; i++)
        err = prune_call(s, p, ids[i]);
    if (err == 0)
        p->calls += n;

    if (err == 0) {
        st = p->st[PR_ORPHAN_STREAMS];
        sqlite3_bind_double(st, 1, cutoff);
        sqlite3_bind_int64(st, 2, PRUNE_CALLS);
        err = collect_ids(s, st, ids, PRUNE_CALLS, &n);
        for (int i = 0; err == 0 && i < n; i++)
            err = prune_stream(s, p, ids[i]);
    }
    static const int bulk[] = {PR_ORPHAN_MSGS, PR_REGISTRATIONS, PR_ALERTS};
    for (size_t i = 0; err == 0 && i < sizeof(bulk) / sizeof(bulk[0]); i++) {
        st = p->st[bulk[i]];
        sqlite3_bind_double(st, 1, cutoff);
        sqlite3_bind_int64(st, 2, PRUNE_ROWS);
        err = run(s, st, "prune");
    }
    if (err == 0) {
        *deleted = sqlite3_total_changes64(s->db) - before;
        err = run(s, s->st[ST_COMMIT], "prune");
    }
    if (err != 0 && !sqlite3_get_autocommit(s->db)) {
        run(s, s->st[ST_ROLLBACK], "prune");
        *deleted = 0;
    }
    return err;
}

/* Slices until one finds nothing before cutoff. *total accumulates the rows removed. */
static int prune_before(store_t *s, pruner_t *p, double cutoff, int64_t *total)
{
    int64_t n;
    int err;
    do {
        err = prune_slice(s, p, cutoff, &n);
        *total += n;
    } while (err == 0 && n > 0);
    return err;
}

/* For size pruning: a time cutoff that removes about the share of rows by which the database is
 * over max_bytes, plus 2% of max_bytes so that a round or two converge even though deleting
 * rows frees somewhat fewer pages than their share. It is the smallest such time over the kinds of
 * dated rows, so a round never removes much more than intended from any of them; each round removes
 * at least the oldest row of one kind. *any is false when no dated row is left. */
static int size_cutoff(store_t *s, int64_t used, int64_t max_bytes, double *cutoff, bool *any)
{
    static const struct {
        const char *count, *kth;
    } kinds[] = {
        {"SELECT count(*) FROM calls WHERE invite_time IS NOT NULL",
         "SELECT invite_time FROM calls WHERE invite_time IS NOT NULL"
         " ORDER BY invite_time LIMIT 1 OFFSET ?1"},
        {"SELECT count(*) FROM sip_messages WHERE call_row IS NULL AND time IS NOT NULL",
         "SELECT time FROM sip_messages WHERE call_row IS NULL AND time IS NOT NULL"
         " ORDER BY time LIMIT 1 OFFSET ?1"},
        {"SELECT count(*) FROM rtp_streams WHERE call_row IS NULL AND last_time IS NOT NULL",
         "SELECT last_time FROM rtp_streams WHERE call_row IS NULL AND last_time IS NOT NULL"
         " ORDER BY last_time LIMIT 1 OFFSET ?1"},
    };
    double share = (double)(used - max_bytes + max_bytes / 50) / (double)used;
    *cutoff = DBL_MAX;
    *any = false;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        int64_t n = 0;
        int err = query_i64(s, kinds[i].count, &n);
        if (err != 0)
            return err;
        if (n == 0)
            continue;
        *any = true;
        double want = ceil(share * (double)n); /* rows to delete, 1..n */
        int64_t del = want >= (double)n ? n : want < 1 ? 1 : (int64_t)want;
        sqlite3_stmt *st;
        err = prepare(s, kinds[i].kth, &st);
        if (err != 0)
            return err;
        sqlite3_bind_int64(st, 1, del - 1); /* past the del-th oldest */
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            double t = nextafter(sqlite3_column_double(st, 0), DBL_MAX);
            if (t < *cutoff)
                *cutoff = t;
        } else if (rc != SQLITE_DONE) {
            err = fail_sql(s, rc, "prune");
        }
        sqlite3_finalize(st);
        if (err != 0)
            return err;
    }
    return 0;
}

int store_used_bytes(store_t *s, int64_t *out)
{
    int err = check_open(s);
    return err != 0 ? err
                    : query_i64(s,
                                "SELECT (p.page_count - f.freelist_count) * z.page_size"
                                " FROM pragma_page_count() p, pragma_freelist_count() f,"
                                " pragma_page_size() z",
                                out);
}

/* Hand free pages back to the file system a bounded step at a time (a no-op unless the
 * database has auto_vacuum=INCREMENTAL), then checkpoint the WAL without waiting for readers. */
static int release_space(store_t *s)
{
    int64_t free_pages = 0;
    int err = query_i64(s, "PRAGMA freelist_count", &free_pages);
    while (err == 0 && free_pages > 0) {
        err = exec(s, "PRAGMA incremental_vacuum(" STR(VACUUM_PAGES) ")", "vacuum");
        int64_t left = 0;
        if (err == 0)
            err = query_i64(s, "PRAGMA freelist_count", &left);
        if (err == 0 && left >= free_pages)
            break; /* auto_vacuum is off: nothing to do */
        free_pages = left;
    }
    if (err == 0)
        err = exec(s, "PRAGMA wal_checkpoint(PASSIVE)", "checkpoint");
    return err;
}

int store_prune(store_t *s, int64_t older_than_ns, int64_t max_bytes, int64_t *calls_deleted)
{
    if (calls_deleted != NULL)
        *calls_deleted = 0;
    int err = check_writable(s);
    if (err != 0)
        return err;
    if (older_than_ns < 0 || max_bytes < 0)
        return fail_msg(s, -EINVAL, "prune", "negative limit");
    err = batch_commit(s);
    if (err != 0)
        return err;
    pruner_t p = {0};
    int64_t rows = 0;
    for (int i = 0; i < PR_COUNT; i++) {
        err = prepare(s, prune_sql[i], &p.st[i]);
        if (err != 0)
            goto out;
    }
    if (older_than_ns > 0) {
        err = prune_before(s, &p, ns_to_sec(older_than_ns), &rows);
        if (err != 0)
            goto out;
    }
    while (max_bytes > 0) {
        int64_t used = 0;
        double cutoff = DBL_MAX;
        bool any = false;
        err = store_used_bytes(s, &used);
        if (err == 0 && used > max_bytes)
            err = size_cutoff(s, used, max_bytes, &cutoff, &any);
        if (err != 0 || !any)
            break; /* fits, or nothing left that we know how to delete */
        int64_t removed = 0;
        err = prune_before(s, &p, cutoff, &removed);
        rows += removed;
        if (err != 0 || removed == 0)
            break; /* nothing left that we know how to delete */
    }
    if (err == 0 && rows > 0)
        err = release_space(s);
out:
    for (int i = 0; i < PR_COUNT; i++)
        sqlite3_finalize(p.st[i]);
    if (calls_deleted != NULL)
        *calls_deleted = p.calls;
    return err;
}

/* ---- Internals shared with the store's other files (store_int.h). Thin wrappers, so that
 * query.c reads through the same connection, error reporting and row decoders as this file. */

sqlite3 *store_int_db(store_t *s)
{
    return s->db;
}

int store_int_check_open(store_t *s)
{
    return check_open(s);
}

int store_int_fail_sql(store_t *s, int sqlite_rc, const char *what)
{
    return fail_sql(s, sqlite_rc, what);
}

int store_int_fail_msg(store_t *s, int err, const char *what, const char *why)
{
    return fail_msg(s, err, what, why);
}

void store_int_row_call(sqlite3_stmt *st, call_record_t *c)
{
    row_call(st, c);
}

void store_int_row_stream(sqlite3_stmt *st, stream_record_t *r)
{
    row_stream(st, r);
}

double store_int_ns_to_sec(int64_t ns)
{
    return ns_to_sec(ns);
}

int64_t store_int_sec_to_ns(double sec)
{
    return sec_to_ns(sec);
}
