/* defs: the small constants and macros every module uses, defined once. */
#ifndef SIPSCOPE_DEFS_H
#define SIPSCOPE_DEFS_H

#include <stddef.h>
#include <stdint.h>

#define NS_PER_S  INT64_C(1000000000)
#define NS_PER_MS INT64_C(1000000)
#define NS_PER_US INT64_C(1000)

/* Elements of an array (not a pointer). */
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* The struct of type that holds member at ptr (intrusive containers, common/list.h). */
#define CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#endif
