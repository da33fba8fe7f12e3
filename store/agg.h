/* agg: the finished calls pre-aggregated per minute (table call_minutes), so that
 * /api/v1/stats over any range reads at most a row per minute instead of every call.
 *
 * Triggers on calls keep the table right whatever writes calls: a call counts once it is
 * finished (not `active`, where that column exists), in the minute of its INVITE; an update
 * (a call in progress rewritten in place, or finished) takes its old contribution back and adds
 * the new one, and a delete (retention) takes it back. The table is derived data: when the
 * triggers' definition changes (a `verdict` or `active` column appears), store_agg_ensure
 * rebuilds it from calls once. Ranges whose edges fall inside a minute read the calls of those
 * edge minutes themselves, so results equal a scan of the calls exactly. */
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

/* On a writable store (store_open does it): create call_minutes and its triggers for the calls
 * table as it is, rebuilding the table when they were missing or made for other columns. Sets
 * recursive_triggers on the connection, so that a call replaced (INSERT OR REPLACE) is taken
 * back before it is added again. 0 or -errno. */
int store_agg_ensure(store_t *s);

/* Whether the aggregate is there and made for the calls table as it is (else
 * store_agg_series reads the calls themselves). */
bool store_agg_current(store_t *s);

/* As store_call_series (steps from since_ns, > 0, of step_ns; until_ns 0 = unbounded is not
 * taken here: until_ns > since_ns), over the finished calls, with the aggregate where it is
 * current; totals also get the one-way, NAT and verdict counts. cb may be NULL. */
int store_agg_series(store_t *s, int64_t since_ns, int64_t until_ns, int64_t step_ns,
                     store_agg_totals_t *totals, store_bucket_cb cb, void *ctx);

#endif
