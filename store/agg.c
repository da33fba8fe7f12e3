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

#include "agg_int.h"
#include "defs.h"
#include "store_int.h"

/* Bumped when the tables or how they are kept change meaning: they are then rebuilt (version 2
 * was kept by triggers on calls). */
#define AGG_VERSION "3"

const level_t agg_levels[AGG_LEVELS] = {{"call_minutes", "minute", 60},
                                        {"call_hours", "hour", 3600}};

const char *const store_agg_verdict_names[STORE_AGG_VERDICTS] = {"good",    "degraded", "poor",
                                                                 "one_way", "no_media", "failed"};

static int store_agg_writer_open(store_t *s, const calls_shape_t *shape);

/* ---- SQL text */

void agg_sql_add(sql_t *q, const char *fmt, ...)
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

void agg_sql_free(sql_t *q)
{
    free(q->p);
    memset(q, 0, sizeof(*q));
}

/* Column c's name. */
void agg_col_name(sql_t *q, int c)
{
    static const char *const fixed[] = {"calls",    "answered", "with_duration", "duration_sum",
                                        "with_pdd", "pdd_sum",  "with_mos",      "mos_sum"};
    if (c < C_MOS_BIN)
        agg_sql_add(q, "%s", fixed[c]);
    else if (c < C_STATE)
        agg_sql_add(q, "mos_%d", c - C_MOS_BIN);
    else if (c < C_ONE_WAY)
        agg_sql_add(q, "state_%s", call_state_name((call_state_t)(c - C_STATE)));
    else if (c < C_VERDICT)
        agg_sql_add(q, c == C_ONE_WAY ? "one_way" : "nat");
    else
        agg_sql_add(q, "verdict_%s", store_agg_verdict_names[c - C_VERDICT]);
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
    agg_sql_add(q, "coalesce((");
    if (c == C_CALLS) {
        agg_sql_add(q, "1");
    } else if (c < C_MOS_BIN) {
        bool is_sum = c == C_DURATION_SUM || c == C_PDD_SUM || c == C_MOS_SUM;
        agg_sql_add(q, "%s%s%s", r, column[c], is_sum ? "" : " IS NOT NULL");
    } else if (c < C_STATE) {
        /* Bins of 0.5 from 1.0; below 1.5 in the first, 4.5 and above in the last. */
        int i = c - C_MOS_BIN;
        if (i == 0)
            agg_sql_add(q, "%smos < 1.5", r);
        else if (i == STORE_MOS_BINS - 1)
            agg_sql_add(q, "%smos >= 4.5", r);
        else
            agg_sql_add(q, "%smos >= %.1f AND %smos < %.1f", r, 1.0 + 0.5 * i, r, 1.5 + 0.5 * i);
    } else if (c < C_ONE_WAY) {
        agg_sql_add(q, "%sstate = '%s'", r, call_state_name((call_state_t)(c - C_STATE)));
    } else if (c < C_VERDICT) {
        agg_sql_add(q, "%s%s != 0", r, c == C_ONE_WAY ? "one_way" : "nat");
    } else if (shape->verdict) {
        agg_sql_add(q, "%sverdict = '%s'", r, store_agg_verdict_names[c - C_VERDICT]);
    } else {
        agg_sql_add(q, "0");
    }
    agg_sql_add(q, "), 0)");
}

/* The condition for row r to count: it has an INVITE time and is finished. */
void agg_counted(sql_t *q, const char *r, const calls_shape_t *shape)
{
    agg_sql_add(q, "%sinvite_time IS NOT NULL", r);
    if (shape->active)
        agg_sql_add(q, " AND coalesce(%sactive, 0) = 0", r);
}

static void shape_tag(const calls_shape_t *shape, char tag[8])
{
    snprintf(tag, 8, "%s%s%s", AGG_VERSION, shape->verdict ? "v" : "", shape->active ? "a" : "");
}

/* One table, filled from calls unless they are none (a new store: the statement alone costs
 * more than the rest of the tables' making). */
static void build_table(sql_t *q, const level_t *l, const calls_shape_t *shape, bool fill)
{
    agg_sql_add(q, "DROP TABLE IF EXISTS %s; CREATE TABLE %s (%s INTEGER PRIMARY KEY", l->table,
                l->table, l->key);
    for (int c = 0; c < C_COUNT; c++) {
        agg_sql_add(q, ", ");
        agg_col_name(q, c);
        agg_sql_add(q, c == C_DURATION_SUM || c == C_PDD_SUM || c == C_MOS_SUM
                           ? " REAL NOT NULL DEFAULT 0"
                           : " INTEGER NOT NULL DEFAULT 0");
    }
    agg_sql_add(q, ");");
    if (!fill)
        return;
    agg_sql_add(q, "INSERT INTO %s SELECT CAST(c.invite_time / %d AS INTEGER) AS k", l->table,
                l->seconds);
    for (int c = 0; c < C_COUNT; c++) {
        agg_sql_add(q, ", total(");
        col_expr(q, c, "c.", shape);
        agg_sql_add(q, ")");
    }
    agg_sql_add(q, " FROM calls c WHERE ");
    agg_counted(q, "c.", shape);
    agg_sql_add(q, " GROUP BY k;");
}

/* Both tables, filled from calls (when fill). */
static void build_sql(sql_t *q, const calls_shape_t *shape, bool fill)
{
    for (size_t i = 0; i < ARRAY_LEN(agg_levels); i++)
        build_table(q, &agg_levels[i], shape, fill);
}

/* ---- Ensure */

int agg_read_shape(store_t *s, calls_shape_t *shape)
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
        agg_sql_add(&q, "DROP TRIGGER \"%s\";", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (q.failed)
        err = store_int_fail_msg(s, -ENOMEM, "call aggregate", "out of memory");
    else if (q.p != NULL)
        err = store_int_exec(s, q.p, "call aggregate");
    agg_sql_free(&q);
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
        err = agg_read_shape(s, &shape);
    if (err != 0)
        return err;
    if (!rebuild && kept_here(s, &shape))
        return store_agg_writer_open(s, &shape);
    /* Under the write lock, look again: another process may have just done it. */
    err = store_int_exec(s, "BEGIN IMMEDIATE", "call aggregate");
    if (err != 0)
        return err;
    err = agg_read_shape(s, &shape);
    if (err == 0 && (rebuild || !kept_here(s, &shape))) {
        int64_t any_call = 1;
        err = drop_triggers(s);
        if (err == 0)
            err = store_int_query_i64(s, "SELECT EXISTS (SELECT 1 FROM calls)", &any_call);
        sql_t q = {0};
        char tag[8];
        shape_tag(&shape, tag);
        build_sql(&q, &shape, any_call != 0);
        agg_sql_add(
            &q, "INSERT OR REPLACE INTO meta (key, value) VALUES ('" AGG_META_KEY "', '%s');", tag);
        if (err == 0)
            err = q.failed ? store_int_fail_msg(s, -ENOMEM, "call aggregate", "out of memory")
                           : store_int_exec(s, q.p, "call aggregate");
        agg_sql_free(&q);
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
    return agg_read_shape(s, &shape) == 0 && agg_is_current(s, &shape, &ok) == 0 && ok;
}

/* ---- Kept by the store (agg.h): each call's contribution, read from its row before and after
 * the store writes it (store_agg_take), is summed per minute and hour in memory and added to
 * the tables right before the batch commits (store_agg_flush), in the same transaction as the
 * rows. */

typedef struct {
    int64_t key;
    uint32_t level; /* index into agg_levels */
    bool used;
    double v[C_COUNT];
} agg_slot_t;

struct store_agg {
    calls_shape_t shape;
    /* Prepared at the first call taken (a connection that writes no call never pays for them). */
    sqlite3_stmt *contribution;               /* contribution_sql */
    sqlite3_stmt *add[ARRAY_LEN(agg_levels)]; /* key, C_COUNT values -> added to the level's row */
    agg_slot_t *slots;                        /* open addressing, at most half full */
    size_t mask, used;
    bool lost; /* a contribution could not be taken: the batch's sums are wrong (flush fails) */
};

void store_agg_writer_free(store_agg_t *a)
{
    if (a == NULL)
        return;
    sqlite3_finalize(a->contribution);
    for (size_t i = 0; i < ARRAY_LEN(agg_levels); i++)
        sqlite3_finalize(a->add[i]);
    free(a->slots);
    free(a);
}

/* The call ?1's columns that make its contribution when it counts (no row when it does not),
 * at the places of raw_sql's R_ columns (agg_add_call turns them into the tables' columns, as
 * for the calls a series reads itself; its minute where the step is, NULL where a series has
 * columns of its own), then its hour. */
enum { K_MINUTE = R_STEP, K_HOUR = R_COUNT, K_COUNT };
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
        agg_sql_add(q, "%s%s", i ? ", " : "SELECT ", cols[i] ? cols[i] : "NULL");
    agg_sql_add(q, " FROM calls WHERE id = ?1 AND ");
    agg_counted(q, "", shape);
}

/* " ON CONFLICT (key) DO UPDATE SET c = c + excluded.c, ..." of level l. */
static void add_on_conflict(sql_t *q, const level_t *l)
{
    agg_sql_add(q, " ON CONFLICT (%s) DO UPDATE SET ", l->key);
    for (int c = 0; c < C_COUNT; c++) {
        agg_sql_add(q, c ? ", " : "");
        agg_col_name(q, c);
        agg_sql_add(q, " = ");
        agg_col_name(q, c);
        agg_sql_add(q, " + excluded.");
        agg_col_name(q, c);
    }
}

/* "INSERT INTO table (key, c...)" of level l. */
static void add_columns(sql_t *q, const level_t *l)
{
    agg_sql_add(q, "INSERT INTO %s (%s", l->table, l->key);
    for (int c = 0; c < C_COUNT; c++) {
        agg_sql_add(q, ", ");
        agg_col_name(q, c);
    }
    agg_sql_add(q, ")");
}

/* Add the values ?2... to the row ?1 of level l. */
static void add_sql(sql_t *q, const level_t *l)
{
    add_columns(q, l);
    agg_sql_add(q, " VALUES (?1");
    for (int c = 0; c < C_COUNT; c++)
        agg_sql_add(q, ", ?%d", c + 2);
    agg_sql_add(q, ")");
    add_on_conflict(q, l);
}

static int prepare_sql(store_t *s, sql_t *q, sqlite3_stmt **st)
{
    int err = q->failed ? store_int_fail_msg(s, -ENOMEM, "call aggregate", "out of memory")
                        : store_int_prepare(s, q->p, st);
    agg_sql_free(q);
    return err;
}

/* The statements, prepared once. 0 or -errno. */
static int prepare_once(store_t *s, store_agg_t *a)
{
    if (a->contribution != NULL)
        return 0;
    sql_t q = {0};
    int err = 0;
    for (size_t i = 0; err == 0 && i < ARRAY_LEN(agg_levels); i++) {
        add_sql(&q, &agg_levels[i]);
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
    if (err != 0) {
        a->lost = true;
        return err;
    }
    sqlite3_stmt *st = a->contribution;
    sqlite3_bind_int64(st, 1, call_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        double v[C_COUNT] = {0};
        agg_add_call(st, v, 1);
        const int64_t keys[] = {sqlite3_column_int64(st, K_MINUTE),
                                sqlite3_column_int64(st, K_HOUR)};
        _Static_assert(ARRAY_LEN(keys) == ARRAY_LEN(agg_levels), "a key per level");
        for (uint32_t l = 0; err == 0 && l < ARRAY_LEN(agg_levels); l++) {
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
    a->lost = a->lost || err != 0;
    return err;
}

void store_agg_discard(store_t *s)
{
    store_agg_t *a = store_int_agg(s);
    if (a == NULL)
        return;
    a->lost = false;
    if (a->used == 0)
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
    if (a != NULL && a->lost) {
        store_agg_discard(s);
        return store_int_fail_msg(s, -EIO, "call aggregate",
                                  "a call's contribution was lost: the batch is dropped");
    }
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
    for (size_t i = 0; i < ARRAY_LEN(agg_levels); i++) {
        add_columns(&q, &agg_levels[i]);
        agg_sql_add(&q, " SELECT CAST(c.invite_time / %d AS INTEGER) AS k", agg_levels[i].seconds);
        for (int c = 0; c < C_COUNT; c++) {
            agg_sql_add(&q, ", total(");
            col_expr(&q, c, "c.", shape);
            agg_sql_add(&q, ")");
        }
        agg_sql_add(&q,
                    " FROM calls c WHERE c.invite_time IS NOT NULL AND c.active = 1 GROUP BY k");
        add_on_conflict(&q, &agg_levels[i]);
        agg_sql_add(&q, ";");
    }
    if (err == 0)
        err = q.failed ? store_int_fail_msg(s, -ENOMEM, "call aggregate", "out of memory")
                       : store_int_exec(s, q.p, "call aggregate");
    agg_sql_free(&q);
    return err;
}
