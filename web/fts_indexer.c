/* fts_indexer: the API server's thread that keeps the messages' full-text index (schema v10)
 * caught up: batches of FTS_BATCH messages through its own read-write connection, back to back
 * while there is a backlog, then once a second for what a running capture adds. The capture's
 * writer never pays for the index; a search reads the messages not indexed yet with LIKE
 * (store/call_where.c), so results never depend on how far the indexer got. A database the
 * server may not write is served without it. */
#include "api_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define FTS_BATCH     5000 /* messages per transaction: about 0.1 s of work */
#define FTS_IDLE_MS   1000
#define FTS_BACKOFF_S 10 /* after a failure (the database busy, full...) */

struct api_fts_indexer {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    store_t *store;
};

/* Wait ms or until stopped; true when stopped. */
static bool wait_ms(api_fts_indexer_t *x, long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&x->mu);
    while (!x->stop && pthread_cond_timedwait(&x->cv, &x->mu, &ts) != ETIMEDOUT) {
    }
    bool stop = x->stop;
    pthread_mutex_unlock(&x->mu);
    return stop;
}

static void *run(void *arg)
{
    api_fts_indexer_t *x = arg;
    bool warned = false;
    for (;;) {
        int64_t n = 0;
        int err = store_fts_catch_up(x->store, FTS_BATCH, &n);
        if (err != 0 && !warned) {
            log_warn("api: full-text index: %s (searches read the rest without it)",
                     store_errmsg(x->store));
            warned = true;
        }
        long pause = err != 0 ? FTS_BACKOFF_S * 1000L : n == FTS_BATCH ? 0 : FTS_IDLE_MS;
        if (wait_ms(x, pause))
            return NULL;
    }
}

api_fts_indexer_t *api_fts_indexer_start(const char *db_path)
{
    api_fts_indexer_t *x = calloc(1, sizeof(*x));
    if (x == NULL)
        return NULL;
    if (store_open(db_path, &x->store) != 0) { /* read-only, or foreign: serve without */
        store_close(x->store);
        free(x);
        return NULL;
    }
    pthread_mutex_init(&x->mu, NULL);
    pthread_cond_init(&x->cv, NULL);
    if (pthread_create(&x->thread, NULL, run, x) != 0) {
        store_close(x->store);
        pthread_mutex_destroy(&x->mu);
        pthread_cond_destroy(&x->cv);
        free(x);
        return NULL;
    }
    return x;
}

void api_fts_indexer_stop(api_fts_indexer_t *x)
{
    if (x == NULL)
        return;
    pthread_mutex_lock(&x->mu);
    x->stop = true;
    pthread_cond_signal(&x->cv);
    pthread_mutex_unlock(&x->mu);
    pthread_join(x->thread, NULL);
    store_close(x->store);
    pthread_mutex_destroy(&x->mu);
    pthread_cond_destroy(&x->cv);
    free(x);
}
