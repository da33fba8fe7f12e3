/* textbuf: a growing text buffer for the web module's non-JSON bodies (CSV, the text ladder),
 * bounded by a cap; an allocation failure or the cap is remembered and checked once at the
 * end. */
#ifndef SIPSCOPE_TEXTBUF_H
#define SIPSCOPE_TEXTBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char *p;
    size_t len, cap, max; /* max: the most bytes it may hold (0 = unbounded) */
    bool failed;          /* out of memory, or over max */
} textbuf_t;

/* Append n bytes of s. */
void tb_put(textbuf_t *b, const char *s, size_t n);
/* Append text formatted like printf. */
void tb_printf(textbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Release what b holds. */
void tb_free(textbuf_t *b);

#endif
