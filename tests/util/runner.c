/* runner: main() for one Check suite; SUITE_FN names the suite's constructor. Exit status 0 when
 * every test passed, 1 when one failed, 77 (ctest: skipped) when none failed but one or more
 * could not run here (test_skip). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "skip.h"

Suite *SUITE_FN(void);

int main(void)
{
    test_skip_init();
    SRunner *runner = srunner_create(SUITE_FN());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    if (failed != 0)
        return EXIT_FAILURE;
    unsigned skipped = test_skipped();
    if (skipped != 0) {
        printf("%u test(s) skipped: not everything ran here\n", skipped);
        return 77;
    }
    return EXIT_SUCCESS;
}
