/* config: an INI-like config file whose keys are the long command-line options. */
#ifndef SIPSCOPE_CONFIG_H
#define SIPSCOPE_CONFIG_H

#include <getopt.h>
#include <stddef.h>

/* If argv holds "--config FILE" (or "--config=FILE"), read FILE and build a new argument vector:
 * argv[0], then one "--KEY=VALUE" (or "--KEY" for a bare key) per line of the file, then the
 * original arguments, so that options on the command line override the file's. Lines are
 * "key = value"; '#' and ';' start comments; "[section]" lines are ignored; values may be
 * quoted with "". Each key must be one of the long options in known, given exactly, with a
 * value if it takes one and without if it is a flag. Returns 0 (the result is a plain copy of
 * argv when there is no --config), or -1 with a reason in err ("FILE:LINE: unknown key 'x'").
 * Free the result with config_free_argv. */
int config_expand_argv(int argc, char **argv, const struct option *known, int *new_argc,
                       char ***new_argv, char *err, size_t errlen);
void config_free_argv(int argc, char **argv);

#endif
