/* agg_int: what the aggregate's two halves share: agg.c (the tables, kept by the store as it
 * writes calls) and agg_series.c (reading them for store_agg_series). */
#ifndef SIPSCOPE_STORE_AGG_INT_H
#define SIPSCOPE_STORE_AGG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "agg.h"
#include "defs.h"

#define MINUTE_NS (60 * NS_PER_S)
#define HOUR_NS   (3600 * NS_PER_S)

/* The two tables: finished calls per minute and per hour of their INVITE. */
typedef struct {
    const char *table, *key;
    int seconds;
} level_t;
#define AGG_LEVELS 2
extern const level_t agg_levels[AGG_LEVELS];

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

/* What the calls table has, which decides the columns read. */
typedef struct {
    bool verdict, active;
} calls_shape_t;

/* SQL text built piece by piece; failed once out of memory. */
typedef struct {
    char *p;
    size_t len, cap;
    bool failed;
} sql_t;

void agg_sql_add(sql_t *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void agg_sql_free(sql_t *q);
/* Column c's name (the C_ order). */
void agg_col_name(sql_t *q, int c);
/* The condition for row r ("NEW.", "c.", "") to count: an INVITE time, finished. */
void agg_counted(sql_t *q, const char *r, const calls_shape_t *shape);
/* What the calls table has. 0 or -errno. */
int agg_read_shape(store_t *s, calls_shape_t *shape);

/* Rows of the calls read by a series (raw_sql) or for a call written (agg.c): step (or
 * minute) and the few columns that make a call's contribution. */
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
    R_MINUS_STEP,
    R_COUNT /* columns of such a row */
};

/* A call row with the R_ columns as the aggregate's columns, times sign (1 or -1), added to
 * v (C_COUNT of them). */
void agg_add_call(sqlite3_stmt *st, double *v, double sign);

#endif
