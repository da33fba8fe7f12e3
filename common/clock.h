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

#endif
