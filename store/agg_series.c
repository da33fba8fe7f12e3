/* agg_series: store_agg_series, /api/v1/stats's totals and steps read from the aggregate
 * (agg.h), with the calls themselves only where a step's edge cuts a minute. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "agg_int.h"
#include "store_int.h"

/* Steps one request may ask for (the API allows 10,000). */
#define AGG_MAX_STEPS 20000

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
    agg_sql_add(q, "%s[%lld,%lld,%lld]", q->len > 1 ? "," : "", (long long)lo, (long long)hi,
                (long long)step);
}

static void raw_piece(sql_t *q, int64_t lo, int64_t hi, int64_t plus, int64_t minus)
{
    /* seconds, as the calls table keeps them */
    agg_sql_add(q, "%s[%.17g,%.17g,%lld,%lld]", q->len > 1 ? "," : "", store_int_ns_to_sec(lo),
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
    agg_sql_add(&p->hours, "[");
    agg_sql_add(&p->minutes, "[");
    agg_sql_add(&p->raw, "[");
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
    agg_sql_add(&p->hours, "]");
    agg_sql_add(&p->minutes, "]");
    agg_sql_add(&p->raw, "]");
}

/* Rows of a table's pieces: step, then the C_COUNT columns. */
static void level_sql(sql_t *q, const level_t *l)
{
    agg_sql_add(q, "SELECT p.value ->> 2");
    for (int c = 0; c < C_COUNT; c++) {
        agg_sql_add(q, ", t.");
        agg_col_name(q, c);
    }
    agg_sql_add(q,
                " FROM json_each(?1) p CROSS JOIN %s t ON t.%s >= p.value ->> 0 AND t.%s < "
                "p.value ->> 1",
                l->table, l->key, l->key);
}

static void raw_sql(sql_t *q, const calls_shape_t *shape)
{
    agg_sql_add(q,
                "SELECT p.value ->> 2, c.answer_time IS NOT NULL, c.duration_s, "
                "c.post_dial_delay_ms, c.mos, c.state, c.one_way, c.nat, %s, p.value ->> 3 FROM "
                "json_each(?1) p "
                "CROSS JOIN calls c ON c.invite_time >= p.value ->> 0 AND c.invite_time < "
                "p.value ->> 1 WHERE ",
                shape->verdict ? "c.verdict" : "NULL");
    agg_counted(q, "c.", shape);
}

/* A call row of raw_sql as the aggregate's columns, times sign (1 or -1), added to v. */
void agg_add_call(sqlite3_stmt *st, double *v, double sign)
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
        agg_add_call(st, acc + plus * C_COUNT, 1);
    if (minus >= 0 && minus < n)
        agg_add_call(st, acc + minus * C_COUNT, -1);
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
    agg_sql_add(&q, "SELECT minute");
    for (int c = 0; c < C_COUNT; c++) {
        agg_sql_add(&q, ", ");
        agg_col_name(&q, c);
    }
    agg_sql_add(&q, " FROM call_minutes WHERE minute >= ?1 AND minute < ?2");
    sqlite3_stmt *st = NULL;
    int err = q.failed ? -ENOMEM : store_int_prepare(s, q.p, &st);
    agg_sql_free(&q);
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
    for (size_t i = scan ? 1 : 0; err == 0 && i < ARRAY_LEN(agg_levels); i++) {
        sql_t q = {0};
        level_sql(&q, &agg_levels[i]);
        err = q.failed ? -ENOMEM : sum_pieces(s, q.p, agg[i], 'l', plan, acc);
        agg_sql_free(&q);
    }
    sql_t q = {0};
    raw_sql(&q, shape);
    if (err == 0)
        err = q.failed ? -ENOMEM : sum_pieces(s, q.p, &plan->raw, 'r', plan, acc);
    agg_sql_free(&q);
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
    err = agg_read_shape(s, &shape);
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
    agg_sql_free(&plan.hours);
    agg_sql_free(&plan.minutes);
    agg_sql_free(&plan.raw);
    return err;
}
