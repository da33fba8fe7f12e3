/* skip: a Check test that cannot run here (a tool or ../shared is missing) says so, and the suite
 * exits 77, which ctest (SKIP_RETURN_CODE) reports as skipped instead of passed. */
#ifndef SIPSCOPE_SKIP_H
#define SIPSCOPE_SKIP_H

/* Called by runner.c before the tests run: a counter that the tests Check forks share with it.
 * Aborts on mmap failure. */
void test_skip_init(void);
/* Counts the calling test as skipped and prints why on stderr; the test returns right after
 * (what it has asserted so far still counts). */
void test_skip(const char *why);
/* Tests that called test_skip in this run. */
unsigned test_skipped(void);

#endif
