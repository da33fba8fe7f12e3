/* testdata: locating and loading test inputs (repo copies, and ../shared when present). */
#ifndef SIPSCOPE_TESTDATA_H
#define SIPSCOPE_TESTDATA_H

#include <stdbool.h>
#include <stddef.h>

/* Path under the source tree, e.g. testdata_path("tests/pcap/real/x.pcap"). Static buffer. */
const char *testdata_path(const char *rel);
/* Path under ../shared, or NULL (with a notice on stderr, once) when shared/ is absent. */
const char *testdata_shared(const char *rel);
/* Read a whole file; caller frees. NULL on error. */
char *testdata_read(const char *path, size_t *len);

#endif
