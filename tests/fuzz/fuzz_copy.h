/* fuzz_copy: a fuzz input in its own exactly sized heap block, so that ASan sees any read past
 * its end (the fuzzer's buffer may have slack after it; Suricata's isolatedBuffer). */
#ifndef SIPSCOPE_FUZZ_COPY_H
#define SIPSCOPE_FUZZ_COPY_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A malloc'd copy of data[0..size) (for size 0, one byte set to 0, never to be read); NULL when
 * out of memory. The caller frees it. */
static inline void *fuzz_exact_copy(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (copy == NULL)
        return NULL;
    if (size)
        memcpy(copy, data, size);
    else
        copy[0] = 0;
    return copy;
}

#endif
