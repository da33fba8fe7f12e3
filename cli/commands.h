/* commands: the sipscope subcommands; each parses its own options (argv[0] is its name) and
 * returns the process exit status (0 success, 1 runtime error, 2 usage error). */
#ifndef SIPSCOPE_COMMANDS_H
#define SIPSCOPE_COMMANDS_H

#define EXIT_RUNTIME 1
#define EXIT_USAGE   2

int cmd_analyze(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_capture(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_alerts(int argc, char **argv);

#endif
