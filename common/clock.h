/* clock: a clock_gettime clock as nanoseconds. */
#ifndef SIPSCOPE_CLOCK_H
#define SIPSCOPE_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_THREAD_CPUTIME_ID ... in ns; 0 if the clock fails. */
static inline int64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The absolute time from_now_ns after now on clock id, for pthread_cond_timedwait (whose
 * clock is CLOCK_REALTIME unless the condition variable was made for another). */
static inline struct timespec clock_deadline(clockid_t id, int64_t from_now_ns)
{
    int64_t at = clock_ns(id) + from_now_ns;
    struct timespec ts = {(time_t)(at / 1000000000), (long)(at % 1000000000)};
    return ts;
}

#endif
