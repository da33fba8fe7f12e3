/* skip: skipped tests counted across Check's forks. */
#include "skip.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

/* In a MAP_SHARED page, so a test's fork adds to the runner's count (CK_FORK=no works too). */
static _Atomic unsigned *skipped;
static _Atomic unsigned local;

void test_skip_init(void)
{
    void *p =
        mmap(NULL, sizeof(*skipped), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("test_skip_init: mmap");
        abort();
    }
    skipped = p;
    atomic_init(skipped, 0);
}

void test_skip(const char *why)
{
    fprintf(stderr, "SKIPPED: %s\n", why);
    atomic_fetch_add(skipped != NULL ? skipped : &local, 1);
}

unsigned test_skipped(void)
{
    return atomic_load(skipped != NULL ? skipped : &local);
}
