/* log: leveled messages to stderr. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static enum log_level current_level = LOG_WARN;

void log_set_level(enum log_level level)
{
    current_level = level;
}

enum log_level log_get_level(void)
{
    return current_level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level > current_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("sipscope: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}
