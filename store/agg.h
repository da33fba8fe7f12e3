/* agg: the finished calls pre-aggregated per minute and per hour (tables call_minutes and
 * call_hours), so that /api/v1/stats over any range reads at most a row per minute instead of
 * every call.
 *
 * A call counts once it is finished (not `active`, where that column exists), in the minute of
 * its INVITE. The store keeps the tables as it writes calls, in the same transaction: a call
 * written (store_put_call) gives back what its row counted before and adds what it counts now,
 * a call deleted by retention gives back, calls a crash left in progress count once closed as
 * interrupted. The sums are kept in memory per minute and hour and added to the tables right
 * before each batch commits, so a batch of calls costs a few row updates, not a trigger program
 * per call (triggers cost the writer 4-8x per call, and their SQL every connection's open). So
 * rows of calls written by other means (SQL by hand) are not counted: open the store once after
 * such a change, with the tables dropped, to rebuild them. The tables are derived data: when
 * they are missing, made for other columns (a `verdict` or `active` column appears), kept by an
 * older sipscope's triggers, or a migration ran, store_agg_ensure rebuilds them from calls
 * once. Where an edge of a step falls inside a minute, the calls of the minute's smaller part
 * are read themselves (and taken from the minute's row, given to the step holding most of it),
 * so results equal a scan of the calls exactly. */
#ifndef SIPSCOPE_STORE_AGG_H
#define SIPSCOPE_STORE_AGG_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

/* The verdicts of calls.verdict, in the order of store_agg_totals_t.verdicts. */
#define STORE_AGG_VERDICTS 6
extern const char *const store_agg_verdict_names[STORE_AGG_VERDICTS];

typedef struct {
    store_call_stats_t calls; /* as store_call_stats */
    int64_t one_way, nat;     /* calls flagged one-way, NAT */
    bool have_verdicts;       /* the calls table has a verdict column */
    int64_t verdicts[STORE_AGG_VERDICTS];
} store_agg_totals_t;

/* On a writable store (store_open does it): create the tables for the calls table as it is,
 * rebuilding them when they were missing, made for other columns or kept by triggers, or when
 * rebuild (a migration ran); then keep them as the store writes calls. 0 or -errno. */
int store_agg_ensure(store_t *s, bool rebuild);

/* Whether the aggregate is there and made for the calls table as it is (else
 * store_agg_series reads the calls themselves). */
bool store_agg_current(store_t *s);

/* As store_call_series (steps from since_ns, > 0, of step_ns; until_ns 0 = unbounded is not
 * taken here: until_ns > since_ns), over the finished calls, with the aggregate where it is
 * current; totals also get the one-way, NAT and verdict counts. cb may be NULL. */
int store_agg_series(store_t *s, int64_t since_ns, int64_t until_ns, int64_t step_ns,
                     store_agg_totals_t *totals, store_bucket_cb cb, void *ctx);

#endif
