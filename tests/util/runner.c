/* runner: main() for one Check suite; SUITE_FN names the suite's constructor. */
#include <check.h>
#include <stdlib.h>

Suite *SUITE_FN(void);

int main(void)
{
    SRunner *runner = srunner_create(SUITE_FN());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
