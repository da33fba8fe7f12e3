/* guard: place test input right before a PROT_NONE page so any over-read faults at once. */
#ifndef SIPSCOPE_GUARD_H
#define SIPSCOPE_GUARD_H

#include <stddef.h>

/* Copy len bytes so that the last one sits right before an inaccessible page. The returned
 * pointer is valid until the next guard_place call or guard_release. Aborts on mmap failure. */
const void *guard_place(const void *data, size_t len);
/* A writable len-byte buffer (filled with fill) ending right before an inaccessible page, so
 * any write past its end faults at once. Same lifetime as guard_place's result, which it
 * replaces. Aborts on mmap failure. */
void *guard_buffer(size_t len, unsigned char fill);
void guard_release(void);

#endif
