/* pcappath: the per-call pcap layout. */
#include "pcappath.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

int pcap_call_path(const char *dir, int64_t row, int64_t invite_ns, char *buf, size_t cap)
{
    if (invite_ns < 0)
        return -EINVAL;
    time_t secs = (time_t)(invite_ns / 1000000000);
    struct tm tm;
    if (gmtime_r(&secs, &tm) == NULL)
        return -EINVAL;
    int n = snprintf(buf, cap, "%s/%04d-%02d-%02d/%02d/%lld.pcap", dir, tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, (long long)row);
    return (n < 0 || (size_t)n >= cap) ? -ENAMETOOLONG : 0;
}
