/* testdata: locating and loading test inputs. */
#include "testdata.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

const char *testdata_path(const char *rel)
{
    static char buf[4096];
    int n = snprintf(buf, sizeof(buf), "%s/%s", SIPSCOPE_SOURCE_DIR, rel);
    return (n > 0 && (size_t)n < sizeof(buf)) ? buf : NULL;
}

const char *testdata_shared(const char *rel)
{
    static char buf[4096];
    static bool warned;
    struct stat st;
    if (stat(SIPSCOPE_SHARED_DIR, &st) != 0 || !S_ISDIR(st.st_mode)) {
        if (!warned)
            fprintf(stderr, "notice: %s is absent; tests that need ../shared are skipped\n",
                    SIPSCOPE_SHARED_DIR);
        warned = true;
        return NULL;
    }
    int n = snprintf(buf, sizeof(buf), "%s/%s", SIPSCOPE_SHARED_DIR, rel);
    return (n > 0 && (size_t)n < sizeof(buf)) ? buf : NULL;
}

char *testdata_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap)
            break;
        char *bigger = realloc(buf, cap * 2);
        if (bigger == NULL) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    fclose(f);
    if (buf != NULL && len != NULL)
        *len = n;
    return buf;
}
