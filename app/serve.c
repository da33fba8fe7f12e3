/* serve: placeholder until the HTTP API lands. */
#include "commands.h"

#include <stdio.h>

int cmd_serve(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fputs("sipscope: serve: not built yet\n", stderr);
    return EXIT_USAGE;
}

int cmd_run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fputs("sipscope: run: not built yet\n", stderr);
    return EXIT_USAGE;
}
