/* agg: finished calls per minute and per hour (call_minutes, call_hours), kept by the store as it
 * writes calls; agg.h says how. */
#include "agg.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "defs.h"
#include "store_int.h"

/* Bumped when the tables or how they are kept change meaning: they are then rebuilt (version 2
 * was kept by triggers on calls). */
#define AGG_VERSION "3"
#define MINUTE_NS   (60 * NS_PER_S)
#define HOUR_NS     (3600 * NS_PER_S)
/* Steps one request may ask for (the API allows 10,000). */
#define AGG_MAX_STEPS 20000

/* The two tables: finished calls per minute and per hour of their INVITE. */
typedef struct {
    const char *table, *key;
    int seconds;
} level_t;
static const level_t levels[] = {{"call_minutes", "minute", 60}, {"call_hours", "hour", 3600}};

const char *const store_agg_verdict_names[STORE_AGG_VERDICTS] = {"good",    "degraded", "poor",
                                                                 "one_way", "no_media", "failed"};

/* The table's columns after minute, in this order. */
enum {
    C_CALLS,
    C_ANSWERED,
    C_WITH_DURATION,
    C_DURATION_SUM,
    C_WITH_PDD,
    C_PDD_SUM,
    C_WITH_MOS,
    C_MOS_SUM,
    C_MOS_BIN,                            /* STORE_MOS_BINS of them */
    C_STATE = C_MOS_BIN + STORE_MOS_BINS, /* CALL_STATE_COUNT of them */
    C_ONE_WAY = C_STATE + CALL_STATE_COUNT,
    C_NAT,
    C_VERDICT, /* STORE_AGG_VERDICTS of them */
    C_COUNT = C_VERDICT + STORE_AGG_VERDICTS
};

/* What the calls table has, which decides the triggers. */
typedef struct {
    bool verdict, active;
} calls_shape_t;

static int store_agg_writer_open(store_t *s, const calls_shape_t *shape);

/* ---- SQL text */

typedef struct {
    char *p;
    size_t len, cap;
    bool failed;
} sql_t;

static void sql_add(sql_t *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sql_add(sql_t *q, const char *fmt, ...)
{
    if (q->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(q->p ? q->p + q->len : NULL, q->p ? q->cap - q->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            q->failed = true;
            return;
        }
        if (q->p != NULL && (size_t)n < q->cap - q->len) {
            q->len += (size_t)n;
            return;
        }
        size_t cap = q->cap ? q->cap : 4096;
        while (cap - q->len <= (size_t)n)
            cap *= 2;
        char *p = realloc(q->p, cap);
        if (p == NULL) {
            q->failed = true;
            return;
        }
        q->p = p;
        q->cap = cap;
    }
}

static void sql_free(sql_t *q)
{
    free(q->p);
    memset(q, 0, sizeof(*q));
}

/* Column c's name. */
static void col_name(sql_t *q, int c)
{
    static const char *const fixed[] = {"calls",    "answered", "with_duration", "duration_sum",
                                        "with_pdd", "pdd_sum",  "with_mos",      "mos_sum"};
    if (c < C_MOS_BIN)
        sql_add(q, "%s", fixed[c]);
    else if (c < C_STATE)
        sql_add(q, "mos_%d", c - C_MOS_BIN);
    else if (c < C_ONE_WAY)
        sql_add(q, "state_%s", call_state_name((call_state_t)(c - C_STATE)));
    else if (c < C_VERDICT)
        sql_add(q, c == C_ONE_WAY ? "one_way" : "nat");
    else
        sql_add(q, "verdict_%s", store_agg_verdict_names[c - C_VERDICT]);
}

/* Column c's value for the calls row r ("NEW.", "OLD.", "c."), never NULL. */
static void col_expr(sql_t *q, int c, const char *r, const calls_shape_t *shape)
{
    /* The first C_MOS_BIN columns: a column of the row, counted or summed. */
    static const char *const column[] = {NULL,
                                         "answer_time",
                                         "duration_s",
                                         "duration_s",
                                         "post_dial_delay_ms",
                                         "post_dial_delay_ms",
                                         "mos",
                                         "mos"};
    sql_add(q, "coalesce((");
    if (c == C_CALLS) {
        sql_add(q, "1");
    } else if (c < C_MOS_BIN) {
        bool is_sum = c == C_DURATION_SUM || c == C_PDD_SUM || c == C_MOS_SUM;
        sql_add(q, "%s%s%s", r, column[c], is_sum ? "" : " IS NOT NULL");
    } else if (c < C_STATE) {
        /* Bins of 0.5 from 1.0; below 1.5 in the first, 4.5 and above in the last. */
        int i = c - C_MOS_BIN;
        if (i == 0)
            sql_add(q, "%smos < 1.5", r);
        else if (i == STORE_MOS_BINS - 1)
            sql_add(q, "%smos >= 4.5", r);
        else
            sql_add(q, "%smos >= %.1f AND %smos < %.1f", r, 1.0 + 0.5 * i, r, 1.5 + 0.5 * i);
    } else if (c < C_ONE_WAY) {
        sql_add(q, "%sstate = '%s'", r, call_state_name((call_state_t)(c - C_STATE)));
    } else if (c < C_VERDICT) {
        sql_add(q, "%s%s != 0", r, c == C_ONE_WAY ? "one_way" : "nat");
    } else if (shape->verdict) {
        sql_add(q, "%sverdict = '%s'", r, store_agg_verdict_names[c - C_VERDICT]);
    } else {
        sql_add(q, "0");
    }
    sql_add(q, "), 0)");
}

/* The condition for row r to count: it has an INVITE time and is finished. */
static void counted(sql_t *q, const char *r, const calls_shape_t *shape)
{
    sql_add(q, "%sinvite_time IS NOT NULL", r);
    if (shape->active)
        sql_add(q, " AND coalesce(%sactive, 0) = 0", r);
}

static void shape_tag(const calls_shape_t *shape, char tag[8])
{
    snprintf(tag, 8, "%s%s%s", AGG_VERSION, shape->verdict ? "v" : "", shape->active ? "a" : "");
}

/* One table, filled from calls unless they are none (a new store: the statement alone costs
 * more than the rest of the tables' making). */
static void build_table(sql_t *q, const level_t *l, const calls_shape_t *shape, bool fill)
{
    sql_add(q, "DROP TABLE IF EXISTS %s; CREATE TABLE %s (%s INTEGER PRIMARY KEY", l->table,
            l->table, l->key);
    for (int c = 0; c < C_COUNT; c++) {
        sql_add(q, ", ");
        col_name(q, c);
        sql_add(q, c == C_DURATION_SUM || c == C_PDD_SUM || c == C_MOS_SUM
                       ? " REAL NOT NULL DEFAULT 0"
                       : " INTEGER NOT NULL DEFAULT 0");
    }
    sql_add(q, ");");
    if (!fill)
        return;
    sql_add(q, "INSERT INTO %s SELECT CAST(c.invite_time / %d AS INTEGER) AS k", l->table,
            l->seconds);
    for (int c = 0; c < C_COUNT; c++) {
        sql_add(q, ", total(");
        col_expr(q, c, "c.", shape);
        sql_add(q, ")");
    }
    sql_add(q, " FROM calls c WHERE ");
    counted(q, "c.", shape);
    sql_add(q, " GROUP BY k;");
}

/* Both tables, filled from calls (when fill). */
static void build_sql(sql_t *q, const calls_shape_t *shape, bool fill)
{
    for (size_t i = 0; i < ARRAY_LEN(levels); i++)
        build_table(q, &levels[i], shape, fill);
}

/* ---- Ensure */

static int read_shape(store_t *s, calls_shape_t *shape)
{
    int64_t v = 0, a = 0;
    int err = store_int_query_i64(
        s, "SELECT count(*) FROM pragma_table_info('calls') WHERE name = 'verdict'", &v);
    if (err == 0)
        err = store_int_query_i64(
            s, "SELECT count(*) FROM pragma_table_info('calls') WHERE name = 'active'", &a);
    shape->verdict = v > 0;
    shape->active = a > 0;
    return err;
}

/* The meta key naming the version and shape the tables were built and are kept for. */
#define AGG_META_KEY "agg.version"

/* Whether the tables are there and kept by the store for shape (its tag in meta, no triggers of
 * an older sipscope), or kept by an older sipscope's triggers made for shape (agg.h). */
static int agg_is_current(store_t *s, const calls_shape_t *shape, bool *yes)
{
    char tag[8], legacy[8], sql[640];
    shape_tag(shape, tag);
    snprintf(legacy, sizeof(legacy), "2%s%s", shape->verdict ? "v" : "", shape->active ? "a" : "");
    snprintf(sql, sizeof(sql),
             "SELECT (SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN"
             " ('call_minutes', 'call_hours')) = 2 AND ("
             "((SELECT value FROM meta WHERE key = '" AGG_META_KEY "') = '%s' AND NOT EXISTS"
             " (SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name LIKE"
             " 'call\\_minutes\\_%%' ESCAPE '\\'))"
             " OR (SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name IN"
             " ('call_minutes_ins_%s', 'call_minutes_del_%s', 'call_minutes_upd_%s')) = 3)",
             tag, legacy, legacy, legacy);
    int64_t n = 0;
    int err = store_int_query_i64(s, sql, &n);
    *yes = n != 0;
    return err;
}

/* Drop every call_minutes_* trigger (an older sipscope's: the store keeps the tables now). */
static int drop_triggers(store_t *s)
{
    sql_t q = {0};
    sqlite3_stmt *st = NULL;
    int err = store_int_prepare(
        s, "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'call_minutes_%'",
        &st);
    if (err != 0)
        return err;
    while (sqlite3_step(st) == SQLITE_ROW)
        sql_add(&q, "DROP TRIGGER \"%s\";", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (q.failed)
        err = store_int_fail_msg(s, -ENOMEM, "call aggregate", "out of memory");
    else if (q.p != NULL)
        err = store_int_exec(s, q.p, "call aggregate");
    sql_free(&q);
    return err;
}

/* Kept by the store: the tables, its tag in meta and no trigger. */
static bool kept_here(store_t *s, const calls_shape_t *shape)
{
    char tag[8], sql[512];
    shape_tag(shape, tag);
    snprintf(sql, sizeof(sql),
             "SELECT (SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN"
             " ('call_minutes', 'call_hours')) = 2"
             " AND (SELECT value FROM meta WHERE key = '" AGG_META_KEY "') = '%s' AND NOT EXISTS"
             " (SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name LIKE"
             " 'call\\_minutes\\_%%' ESCAPE '\\')",
             tag);
    int64_t n = 0;
    return store_int_query_i64(s, sql, &n) == 0 && n != 0;
}

int store_agg_ensure(store_t *s, bool rebuild)
{
    int err = store_int_check_writable(s);
    calls_shape_t shape;
    if (err == 0)
        err = read_shape(s, &shape);
    if (err != 0)
        return err;
    if (!rebuild && kept_here(s, &shape))
        return store_agg_writer_open(s, &shape);
    /* Under the write lock, look again: another process may have just done it. */
    err = store_int_exec(s, "BEGIN IMMEDIATE", "call aggregate");
    if (err != 0)
        return err;
    err = read_shape(s, &shape);
    if (err == 0 && (rebuild || !kept_here(s, &shape))) {
        int64_t any_call = 1;
        err = drop_triggers(s);
        if (err == 0)
            err = store_int_query_i64(s, "SELECT EXISTS (SELECT 1 FROM calls)", &any_call);
        sql_t q = {0};
        char tag[8];
        shape_tag(&shape, tag);
        build_sql(&q, &shape, any_call != 0);
        sql_add(&q, "INSERT OR REPLACE INTO meta (key, value) VALUES ('" AGG_META_KEY "', '%s');",
                tag);
        if (err == 0)
            err = q.failed ? store_int_fail_msg(s, -ENOMEM, "call aggregate", "out of memory")
                           : store_int_exec(s, q.p, "call aggregate");
        sql_free(&q);
    }
    if (err == 0)
        err = store_int_exec(s, "COMMIT", "call aggregate");
    if (err != 0) {
        sqlite3_exec(store_int_db(s), "ROLLBACK", NULL, NULL, NULL);
        return err;
    }
    return store_agg_writer_open(s, &shape);
}

bool store_agg_current(store_t *s)
{
    calls_shape_t shape;
    bool ok = false;
    return read_shape(s, &shape) == 0 && agg_is_current(s, &shape, &ok) == 0 && ok;
}

/* ---- Series
 *
 * How [since, until) is read, step by step: whole hours inside a step from call_hours, whole
 * minutes inside a step from call_minutes, and the calls themselves only in the minutes that an
 * edge (a step's start, since, until) cuts. A cut minute is read from call_minutes too, for the
 * step that holds the largest part of it (its owner); the calls of its other parts are read
 * from the calls table, added to their step and taken from the owner's (parts outside the
 * range belong to no step: when the largest part is outside, the row is not read). So an edge
 * costs at most half a minute of calls, and a minute cut by several edges (steps under a minute)
 * all its parts but the largest. Without the aggregate every step is read from the calls.
 *
 * The pieces travel as JSON arrays for json_each: hours and minutes [from, to, step], the calls
 * [from_s, to_s, step, minus_step] (-1: no step). When the minutes to read are dense in the
 * range (short steps), one scan of call_minutes over the range replaces their pieces, each row
 * given to its step by minute_target. */
typedef struct {
    int64_t since, until, step, n; /* ns, ns, ns, steps */
    bool use_agg;
    sql_t hours, minutes, raw;
    int64_t minute_pieces, minutes_wanted; /* to choose between pieces and a scan */
} plan_t;

static void piece(sql_t *q, int64_t lo, int64_t hi, int64_t step)
{
    sql_add(q, "%s[%lld,%lld,%lld]", q->len > 1 ? "," : "", (long long)lo, (long long)hi,
            (long long)step);
}

static void raw_piece(sql_t *q, int64_t lo, int64_t hi, int64_t plus, int64_t minus)
{
    /* seconds, as the calls table keeps them */
    sql_add(q, "%s[%.17g,%.17g,%lld,%lld]", q->len > 1 ? "," : "", store_int_ns_to_sec(lo),
            store_int_ns_to_sec(hi), (long long)plus, (long long)minus);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* The step holding time t, -1 outside the range. */
static int64_t step_at(const plan_t *p, int64_t t)
{
    return t < p->since || t >= p->until ? -1 : (t - p->since) / p->step;
}

/* The end of the part of the range from t that lies in one step (or outside the range). */
static int64_t part_end(const plan_t *p, int64_t t)
{
    if (t < p->since)
        return p->since;
    if (t >= p->until)
        return INT64_MAX;
    int64_t next = p->since + (step_at(p, t) + 1) * p->step;
    return next < p->until ? next : p->until;
}

/* The owner of the cut minute m: the step of its largest part (-1 when that is outside the
 * range). With raw, the raw pieces of its other parts are added to it. */
static int64_t cut_minute(plan_t *p, int64_t m, bool raw)
{
    int64_t start = m * MINUTE_NS, end = start + MINUTE_NS, owner = -1, longest = -1;
    for (int64_t t = start; t < end;) {
        int64_t e = part_end(p, t);
        e = e < end ? e : end;
        if (e - t > longest) {
            longest = e - t;
            owner = step_at(p, t);
        }
        t = e;
    }
    for (int64_t t = start; raw && t < end;) {
        int64_t e = part_end(p, t), s = step_at(p, t);
        e = e < end ? e : end;
        if (s != owner)
            raw_piece(&p->raw, t, e, s, owner);
        t = e;
    }
    return owner;
}

/* The step whose sums call_minutes' row for minute m goes to: its step when the minute lies
 * inside one and its hour is not read whole from call_hours, a cut minute's owner, else -1. */
static int64_t minute_target(plan_t *p, int64_t m)
{
    int64_t start = m * MINUTE_NS, end = start + MINUTE_NS;
    if (end <= p->since || start >= p->until)
        return -1;
    int64_t s = step_at(p, start);
    if (s < 0 || s != step_at(p, end - 1))
        return cut_minute(p, m, false);
    int64_t a = p->since + s * p->step, b = a + p->step < p->until ? a + p->step : p->until;
    int64_t hour = floor_div(start, HOUR_NS) * HOUR_NS;
    return hour >= a && hour + HOUR_NS <= b ? -1 : s;
}

static void minute_piece(plan_t *p, int64_t lo, int64_t hi, int64_t step)
{
    piece(&p->minutes, lo, hi, step);
    p->minute_pieces++;
    p->minutes_wanted += hi - lo;
}

/* The whole minutes and hours inside step i, [a, b). */
static void plan_step(plan_t *p, int64_t a, int64_t b, int64_t i)
{
    int64_t ma = floor_div(a + MINUTE_NS - 1, MINUTE_NS), mb = floor_div(b, MINUTE_NS);
    if (ma >= mb)
        return;
    int64_t ha = floor_div(a + HOUR_NS - 1, HOUR_NS), hb = floor_div(b, HOUR_NS);
    if (ha >= hb) {
        minute_piece(p, ma, mb, i);
        return;
    }
    piece(&p->hours, ha, hb, i);
    if (ma < ha * 60)
        minute_piece(p, ma, ha * 60, i);
    if (hb * 60 < mb)
        minute_piece(p, hb * 60, mb, i);
}

static void plan_pieces(plan_t *p)
{
    sql_add(&p->hours, "[");
    sql_add(&p->minutes, "[");
    sql_add(&p->raw, "[");
    for (int64_t i = 0; i < p->n; i++) {
        int64_t a = p->since + i * p->step, b = a + p->step < p->until ? a + p->step : p->until;
        if (!p->use_agg)
            raw_piece(&p->raw, a, b, i, -1);
        else
            plan_step(p, a, b, i);
    }
    /* The cut minutes: those an edge falls inside, each once (the edges are in order). */
    int64_t last_cut = INT64_MIN;
    for (int64_t k = 0; p->use_agg && k <= p->n; k++) {
        int64_t t = k < p->n ? p->since + k * p->step : p->until;
        int64_t m = floor_div(t, MINUTE_NS);
        if (t % MINUTE_NS == 0 || m == last_cut)
            continue;
        last_cut = m;
        int64_t owner = cut_minute(p, m, true);
        if (owner >= 0)
            minute_piece(p, m, m + 1, owner);
    }
    sql_add(&p->hours, "]");
    sql_add(&p->minutes, "]");
    sql_add(&p->raw, "]");
}

/* Rows of a table's pieces: step, then the C_COUNT columns. */
static void level_sql(sql_t *q, const level_t *l)
{
    sql_add(q, "SELECT p.value ->> 2");
    for (int c = 0; c < C_COUNT; c++) {
        sql_add(q, ", t.");
        col_name(q, c);
    }
    sql_add(q,
            " FROM json_each(?1) p CROSS JOIN %s t ON t.%s >= p.value ->> 0 AND t.%s < "
            "p.value ->> 1",
            l->table, l->key, l->key);
}

/* Rows of the calls in the left pieces: step and the few columns that make them. */
enum {
    R_STEP,
    R_ANSWERED,
    R_DURATION,
    R_PDD,
    R_MOS,
    R_STATE,
    R_ONE_WAY,
    R_NAT,
    R_VERDICT,
    R_MINUS_STEP
};

static void raw_sql(sql_t *q, const calls_shape_t *shape)
{
    sql_add(q,
            "SELECT p.value ->> 2, c.answer_time IS NOT NULL, c.duration_s, "
            "c.post_dial_delay_ms, c.mos, c.state, c.one_way, c.nat, %s, p.value ->> 3 FROM "
            "json_each(?1) p "
            "CROSS JOIN calls c ON c.invite_time >= p.value ->> 0 AND c.invite_time < "
            "p.value ->> 1 WHERE ",
            shape->verdict ? "c.verdict" : "NULL");
    counted(q, "c.", shape);
}

/* A call row of raw_sql as the aggregate's columns, times sign (1 or -1), added to v. */
static void add_call(sqlite3_stmt *st, double *v, double sign)
{
    v[C_CALLS] += sign;
    v[C_ANSWERED] += sign * sqlite3_column_int(st, R_ANSWERED);
    static const struct {
        int col, with, sum;
    } figures[] = {{R_DURATION, C_WITH_DURATION, C_DURATION_SUM},
                   {R_PDD, C_WITH_PDD, C_PDD_SUM},
                   {R_MOS, C_WITH_MOS, C_MOS_SUM}};
    for (size_t i = 0; i < ARRAY_LEN(figures); i++) {
        if (sqlite3_column_type(st, figures[i].col) != SQLITE_NULL) {
            v[figures[i].with] += sign;
            v[figures[i].sum] += sign * sqlite3_column_double(st, figures[i].col);
        }
    }
    if (sqlite3_column_type(st, R_MOS) != SQLITE_NULL) {
        double mos = sqlite3_column_double(st, R_MOS);
        int bin = mos < 1.5 ? 0 : mos >= 4.5 ? STORE_MOS_BINS - 1 : (int)((mos - 1.0) / 0.5);
        v[C_MOS_BIN + bin] += sign;
    }
    call_state_t state;
    if (call_state_parse((const char *)sqlite3_column_text(st, R_STATE), &state))
        v[C_STATE + state] += sign;
    v[C_ONE_WAY] += sign * (sqlite3_column_int(st, R_ONE_WAY) != 0);
    v[C_NAT] += sign * (sqlite3_column_int(st, R_NAT) != 0);
    const char *verdict = (const char *)sqlite3_column_text(st, R_VERDICT);
    for (int i = 0; verdict != NULL && i < STORE_AGG_VERDICTS; i++) {
        if (strcmp(verdict, store_agg_verdict_names[i]) == 0)
            v[C_VERDICT + i] += sign;
    }
}

/* A row of level_sql (step, then the columns from column 1), or of scan_sql (minute, then the
 * same), added to step i of acc. */
static void add_row(sqlite3_stmt *st, double *acc, int64_t n, int64_t i)
{
    if (i < 0 || i >= n)
        return;
    double *v = acc + i * C_COUNT;
    for (int c = 0; c < C_COUNT; c++)
        v[c] += sqlite3_column_double(st, 1 + c);
}

/* A row of raw_sql: added to its step, taken from its minus step. */
static void add_raw_row(sqlite3_stmt *st, double *acc, int64_t n)
{
    int64_t plus = sqlite3_column_int64(st, R_STEP), minus = sqlite3_column_int64(st, R_MINUS_STEP);
    if (plus >= 0 && plus < n)
        add_call(st, acc + plus * C_COUNT, 1);
    if (minus >= 0 && minus < n)
        add_call(st, acc + minus * C_COUNT, -1);
}

/* The rows of a statement into acc (n steps of C_COUNT): rows of level_sql (kind 'l'), of
 * raw_sql ('r') or of the minutes' scan ('m', each row to minute_target's step). */
static int sum_rows(store_t *s, sqlite3_stmt *st, char kind, plan_t *p, double *acc)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (kind == 'r')
            add_raw_row(st, acc, p->n);
        else if (kind == 'm')
            add_row(st, acc, p->n, minute_target(p, sqlite3_column_int64(st, 0)));
        else
            add_row(st, acc, p->n, sqlite3_column_int64(st, 0));
    }
    return rc == SQLITE_DONE ? 0 : store_int_fail_sql(s, rc, "call series");
}

/* Run sql over the pieces json into acc. */
static int sum_pieces(store_t *s, const char *sql, const sql_t *json, char kind, plan_t *p,
                      double *acc)
{
    if (json->len <= 2)
        return 0; /* "[]" */
    sqlite3_stmt *st = NULL;
    int err = store_int_prepare(s, sql, &st);
    if (err != 0)
        return err;
    if (sqlite3_bind_text(st, 1, json->p, (int)json->len, SQLITE_STATIC) != SQLITE_OK)
        err = store_int_fail_sql(s, sqlite3_errcode(store_int_db(s)), "call series");
    if (err == 0)
        err = sum_rows(s, st, kind, p, acc);
    sqlite3_finalize(st);
    return err;
}

/* The rows of call_minutes over the whole range, in one scan. */
static int scan_minutes(store_t *s, plan_t *p, double *acc)
{
    sql_t q = {0};
    sql_add(&q, "SELECT minute");
    for (int c = 0; c < C_COUNT; c++) {
        sql_add(&q, ", ");
        col_name(&q, c);
    }
    sql_add(&q, " FROM call_minutes WHERE minute >= ?1 AND minute < ?2");
    sqlite3_stmt *st = NULL;
    int err = q.failed ? -ENOMEM : store_int_prepare(s, q.p, &st);
    sql_free(&q);
    if (err != 0)
        return err;
    sqlite3_bind_int64(st, 1, floor_div(p->since, MINUTE_NS));
    sqlite3_bind_int64(st, 2, floor_div(p->until + MINUTE_NS - 1, MINUTE_NS));
    err = sum_rows(s, st, 'm', p, acc);
    sqlite3_finalize(st);
    return err;
}

/* Whether one scan of the range's minutes is cheaper than looking up the minute pieces: each
 * look-up costs about as much as reading a few rows. */
#define PIECE_ROWS 4

static bool scan_is_cheaper(const plan_t *p)
{
    int64_t span = floor_div(p->until + MINUTE_NS - 1, MINUTE_NS) - floor_div(p->since, MINUTE_NS);
    return span <= p->minutes_wanted + PIECE_ROWS * p->minute_pieces;
}

/* Sum every piece of plan into acc: hours, minutes, then the calls left. */
static int sum_plan(store_t *s, plan_t *plan, const calls_shape_t *shape, double *acc)
{
    const sql_t *agg[] = {&plan->minutes, &plan->hours};
    bool scan = scan_is_cheaper(plan);
    int err = scan && plan->minute_pieces > 0 ? scan_minutes(s, plan, acc) : 0;
    for (size_t i = scan ? 1 : 0; err == 0 && i < ARRAY_LEN(levels); i++) {
        sql_t q = {0};
        level_sql(&q, &levels[i]);
        err = q.failed ? -ENOMEM : sum_pieces(s, q.p, agg[i], 'l', plan, acc);
        sql_free(&q);
    }
    sql_t q = {0};
    raw_sql(&q, shape);
    if (err == 0)
        err = q.failed ? -ENOMEM : sum_pieces(s, q.p, &plan->raw, 'r', plan, acc);
    sql_free(&q);
    if (err == -ENOMEM)
        store_int_fail_msg(s, err, "call series", "out of memory");
    return err;
}

/* Add a step's sums v to totals, and make its step b. */
static void take_step(const double *v, int64_t start_ns, store_agg_totals_t *t, store_bucket_t *b)
{
#define N(c) ((int64_t)llround(v[c]))
    memset(b, 0, sizeof(*b));
    b->start_ns = start_ns;
    b->calls = N(C_CALLS);
    b->answered = N(C_ANSWERED);
    b->with_duration = N(C_WITH_DURATION);
    b->duration_sum_s = v[C_DURATION_SUM];
    b->with_mos = N(C_WITH_MOS);
    b->mos_sum = v[C_MOS_SUM];
    store_call_stats_t *a = &t->calls;
    a->calls += b->calls;
    a->answered += b->answered;
    a->with_duration += b->with_duration;
    a->duration_sum_s += b->duration_sum_s;
    a->with_pdd += N(C_WITH_PDD);
    a->pdd_sum_ms += v[C_PDD_SUM];
    a->with_mos += b->with_mos;
    a->mos_sum += b->mos_sum;
    for (int i = 0; i < STORE_MOS_BINS; i++)
        a->mos_bins[i] += N(C_MOS_BIN + i);
    for (int i = 0; i < CALL_STATE_COUNT; i++) {
        b->by_state[i] = N(C_STATE + i);
        a->by_state[i] += b->by_state[i];
    }
    t->one_way += N(C_ONE_WAY);
    t->nat += N(C_NAT);
    for (int i = 0; i < STORE_AGG_VERDICTS; i++)
        t->verdicts[i] += N(C_VERDICT + i);
#undef N
}

int store_agg_series(store_t *s, int64_t since_ns, int64_t until_ns, int64_t step_ns,
                     store_agg_totals_t *totals, store_bucket_cb cb, void *ctx)
{
    store_agg_totals_t scratch;
    if (totals == NULL)
        totals = &scratch;
    memset(totals, 0, sizeof(*totals));
    int err = store_int_check_open(s);
    if (err != 0)
        return err;
    if (since_ns <= 0 || step_ns <= 0 || until_ns <= since_ns ||
        (until_ns - since_ns) / step_ns >= AGG_MAX_STEPS)
        return store_int_fail_msg(s, -EINVAL, "call series", "bad range or step");
    calls_shape_t shape;
    err = read_shape(s, &shape);
    if (err != 0)
        return err;
    totals->have_verdicts = shape.verdict;
    int64_t n = (until_ns - since_ns + step_ns - 1) / step_ns;
    double *acc = calloc((size_t)n * C_COUNT, sizeof(*acc));
    plan_t plan = {.since = since_ns,
                   .until = until_ns,
                   .step = step_ns,
                   .n = n,
                   .use_agg = store_agg_current(s)};
    plan_pieces(&plan);
    if (acc == NULL || plan.hours.failed || plan.minutes.failed || plan.raw.failed)
        err = store_int_fail_msg(s, -ENOMEM, "call series", "out of memory");
    else
        err = sum_plan(s, &plan, &shape, acc);
    for (int64_t i = 0; err == 0 && i < n; i++) {
        if (acc[i * C_COUNT + C_CALLS] < 0.5)
            continue; /* the non-empty steps only */
        store_bucket_t b;
        take_step(acc + i * C_COUNT, since_ns + i * step_ns, totals, &b);
        if (cb != NULL && cb(ctx, &b) != 0)
            break;
    }
    free(acc);
    sql_free(&plan.hours);
    sql_free(&plan.minutes);
    sql_free(&plan.raw);
    return err;
}

/* ---- Kept by the store (agg.h): each call's contribution, read from its row before and after
 * the store writes it (store_agg_take), is summed per minute and hour in memory and added to
 * the tables right before the batch commits (store_agg_flush), in the same transaction as the
 * rows. */

typedef struct {
    int64_t key;
    uint32_t level; /* index into levels */
    bool used;
    double v[C_COUNT];
} agg_slot_t;

struct store_agg {
    calls_shape_t shape;
    /* Prepared at the first call taken (a connection that writes no call never pays for them). */
    sqlite3_stmt *contribution;           /* contribution_sql */
    sqlite3_stmt *add[ARRAY_LEN(levels)]; /* key, C_COUNT values -> added to the level's row */
    agg_slot_t *slots;                    /* open addressing, at most half full */
    size_t mask, used;
};

void store_agg_writer_free(store_agg_t *a)
{
    if (a == NULL)
        return;
    sqlite3_finalize(a->contribution);
    for (size_t i = 0; i < ARRAY_LEN(levels); i++)
        sqlite3_finalize(a->add[i]);
    free(a->slots);
    free(a);
}

/* The call ?1's columns that make its contribution when it counts (no row when it does not),
 * at the places of raw_sql's (add_call turns them into the tables' columns, as for the calls
 * a series reads itself), then its minute and hour. */
enum { K_MINUTE = R_STEP, K_HOUR = R_VERDICT + 1, K_COUNT };
static void contribution_sql(sql_t *q, const calls_shape_t *shape)
{
    const char *cols[K_COUNT] = {
        [K_MINUTE] = "CAST(invite_time / 60 AS INTEGER)",
        [R_ANSWERED] = "answer_time IS NOT NULL",
        [R_DURATION] = "duration_s",
        [R_PDD] = "post_dial_delay_ms",
        [R_MOS] = "mos",
        [R_STATE] = "state",
        [R_ONE_WAY] = "one_way",
        [R_NAT] = "nat",
        [R_VERDICT] = shape->verdict ? "verdict" : "NULL",
        [K_HOUR] = "CAST(invite_time / 3600 AS INTEGER)",
    };
    for (int i = 0; i < K_COUNT; i++)
        sql_add(q, "%s%s", i ? ", " : "SELECT ", cols[i] ? cols[i] : "NULL");
    sql_add(q, " FROM calls WHERE id = ?1 AND ");
    counted(q, "", shape);
}

/* " ON CONFLICT (key) DO UPDATE SET c = c + excluded.c, ..." of level l. */
static void add_on_conflict(sql_t *q, const level_t *l)
{
    sql_add(q, " ON CONFLICT (%s) DO UPDATE SET ", l->key);
    for (int c = 0; c < C_COUNT; c++) {
        sql_add(q, c ? ", " : "");
        col_name(q, c);
        sql_add(q, " = ");
        col_name(q, c);
        sql_add(q, " + excluded.");
        col_name(q, c);
    }
}

/* "INSERT INTO table (key, c...)" of level l. */
static void add_columns(sql_t *q, const level_t *l)
{
    sql_add(q, "INSERT INTO %s (%s", l->table, l->key);
    for (int c = 0; c < C_COUNT; c++) {
        sql_add(q, ", ");
        col_name(q, c);
    }
    sql_add(q, ")");
}

/* Add the values ?2... to the row ?1 of level l. */
static void add_sql(sql_t *q, const level_t *l)
{
    add_columns(q, l);
    sql_add(q, " VALUES (?1");
    for (int c = 0; c < C_COUNT; c++)
        sql_add(q, ", ?%d", c + 2);
    sql_add(q, ")");
    add_on_conflict(q, l);
}

static int prepare_sql(store_t *s, sql_t *q, sqlite3_stmt **st)
{
    int err = q->failed ? store_int_fail_msg(s, -ENOMEM, "call aggregate", "out of memory")
                        : store_int_prepare(s, q->p, st);
    sql_free(q);
    return err;
}

/* The statements, prepared once. 0 or -errno. */
static int prepare_once(store_t *s, store_agg_t *a)
{
    if (a->contribution != NULL)
        return 0;
    sql_t q = {0};
    int err = 0;
    for (size_t i = 0; err == 0 && i < ARRAY_LEN(levels); i++) {
        add_sql(&q, &levels[i]);
        err = prepare_sql(s, &q, &a->add[i]);
    }
    if (err == 0) {
        contribution_sql(&q, &a->shape);
        err = prepare_sql(s, &q, &a->contribution);
    }
    return err;
}

static int store_agg_writer_open(store_t *s, const calls_shape_t *shape)
{
    store_agg_t *a = calloc(1, sizeof(*a));
    size_t cap = 64;
    if (a != NULL)
        a->slots = calloc(cap, sizeof(*a->slots));
    if (a == NULL || a->slots == NULL) {
        free(a);
        return store_int_fail_msg(s, -ENOMEM, "call aggregate", "out of memory");
    }
    a->mask = cap - 1;
    a->shape = *shape;
    store_int_set_agg(s, a);
    return 0;
}

static size_t slot_hash(int64_t key, uint32_t level)
{
    uint64_t h = ((uint64_t)key << 1 | level) * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 32);
}

/* Twice the slots, the same entries. */
static bool grow(store_agg_t *a)
{
    size_t cap = (a->mask + 1) * 2;
    agg_slot_t *slots = calloc(cap, sizeof(*slots));
    if (slots == NULL)
        return false;
    for (size_t i = 0; i <= a->mask; i++) {
        if (!a->slots[i].used)
            continue;
        size_t j = slot_hash(a->slots[i].key, a->slots[i].level) & (cap - 1);
        while (slots[j].used)
            j = (j + 1) & (cap - 1);
        slots[j] = a->slots[i];
    }
    free(a->slots);
    a->slots = slots;
    a->mask = cap - 1;
    return true;
}

/* The sums of key at level, a new zero one if none; NULL when out of memory. */
static agg_slot_t *slot_for(store_agg_t *a, uint32_t level, int64_t key)
{
    if ((a->used + 1) * 2 > a->mask + 1 && !grow(a))
        return NULL;
    size_t i = slot_hash(key, level) & a->mask;
    while (a->slots[i].used && (a->slots[i].key != key || a->slots[i].level != level))
        i = (i + 1) & a->mask;
    agg_slot_t *slot = &a->slots[i];
    if (!slot->used) {
        memset(slot, 0, sizeof(*slot));
        slot->used = true;
        slot->key = key;
        slot->level = level;
        a->used++;
    }
    return slot;
}

int store_agg_take(store_t *s, int64_t call_id, int sign)
{
    store_agg_t *a = store_int_agg(s);
    if (a == NULL)
        return 0;
    int err = prepare_once(s, a);
    if (err != 0)
        return err;
    sqlite3_stmt *st = a->contribution;
    sqlite3_bind_int64(st, 1, call_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        double v[C_COUNT] = {0};
        add_call(st, v, 1);
        const int64_t keys[] = {sqlite3_column_int64(st, K_MINUTE),
                                sqlite3_column_int64(st, K_HOUR)};
        _Static_assert(ARRAY_LEN(keys) == ARRAY_LEN(levels), "a key per level");
        for (uint32_t l = 0; err == 0 && l < ARRAY_LEN(levels); l++) {
            agg_slot_t *slot = slot_for(a, l, keys[l]);
            if (slot == NULL) {
                err = store_int_fail_msg(s, -ENOMEM, "call aggregate", "out of memory");
                break;
            }
            for (int c = 0; c < C_COUNT; c++)
                slot->v[c] += sign * v[c];
        }
    } else if (rc != SQLITE_DONE) {
        err = store_int_fail_sql(s, rc, "call aggregate");
    }
    sqlite3_reset(st);
    return err;
}

void store_agg_discard(store_t *s)
{
    store_agg_t *a = store_int_agg(s);
    if (a == NULL || a->used == 0)
        return;
    memset(a->slots, 0, (a->mask + 1) * sizeof(*a->slots));
    a->used = 0;
}

/* Add one slot's sums to its row. */
static int flush_slot(store_t *s, store_agg_t *a, const agg_slot_t *slot)
{
    bool zero = true;
    for (int c = 0; zero && c < C_COUNT; c++)
        zero = slot->v[c] == 0;
    if (zero)
        return 0; /* taken back as much as added */
    sqlite3_stmt *st = a->add[slot->level];
    sqlite3_bind_int64(st, 1, slot->key);
    for (int c = 0; c < C_COUNT; c++) {
        if (c == C_DURATION_SUM || c == C_PDD_SUM || c == C_MOS_SUM)
            sqlite3_bind_double(st, c + 2, slot->v[c]);
        else
            sqlite3_bind_int64(st, c + 2, llround(slot->v[c]));
    }
    return store_int_run(s, st, "call aggregate");
}

int store_agg_flush(store_t *s)
{
    store_agg_t *a = store_int_agg(s);
    if (a == NULL || a->used == 0)
        return 0;
    int err = 0;
    for (size_t i = 0; err == 0 && i <= a->mask; i++) {
        if (a->slots[i].used)
            err = flush_slot(s, a, &a->slots[i]);
    }
    store_agg_discard(s);
    return err;
}

int store_agg_add_active(store_t *s)
{
    store_agg_t *a = store_int_agg(s);
    if (a == NULL)
        return 0;
    const calls_shape_t *shape = &a->shape;
    int err = 0;
    sql_t q = {0};
    for (size_t i = 0; i < ARRAY_LEN(levels); i++) {
        add_columns(&q, &levels[i]);
        sql_add(&q, " SELECT CAST(c.invite_time / %d AS INTEGER) AS k", levels[i].seconds);
        for (int c = 0; c < C_COUNT; c++) {
            sql_add(&q, ", total(");
            col_expr(&q, c, "c.", shape);
            sql_add(&q, ")");
        }
        sql_add(&q, " FROM calls c WHERE c.invite_time IS NOT NULL AND c.active = 1 GROUP BY k");
        add_on_conflict(&q, &levels[i]);
        sql_add(&q, ";");
    }
    if (err == 0)
        err = q.failed ? store_int_fail_msg(s, -ENOMEM, "call aggregate", "out of memory")
                       : store_int_exec(s, q.p, "call aggregate");
    sql_free(&q);
    return err;
}
