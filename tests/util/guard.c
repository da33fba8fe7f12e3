/* guard: inputs against a PROT_NONE page (picohttpparser test.c idea). */
#include "guard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static unsigned char *region;
static size_t region_len;

void guard_release(void)
{
    if (region != NULL)
        munmap(region, region_len);
    region = NULL;
    region_len = 0;
}

void *guard_buffer(size_t len, unsigned char fill)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t data_pages = (len + page - 1) / page;
    if (data_pages == 0)
        data_pages = 1;
    guard_release();
    region_len = (data_pages + 1) * page;
    region = mmap(NULL, region_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED) {
        perror("guard: mmap");
        abort();
    }
    unsigned char *fence = region + data_pages * page;
    if (mprotect(fence, page, PROT_NONE) != 0) {
        perror("guard: mprotect");
        abort();
    }
    unsigned char *at = fence - len;
    memset(at, fill, len);
    return at;
}

const void *guard_place(const void *data, size_t len)
{
    unsigned char *at = guard_buffer(len, 0);
    if (len > 0)
        memcpy(at, data, len);
    return at;
}
