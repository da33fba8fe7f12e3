/* cli: what the commands share: usage errors and getopt's errors in the house form
 * ("sipscope: CMD: WHAT" and a pointer to the command's --help, exit 2), and the checks made
 * at start, before anything is created (runtime errors, exit 1, reported as
 * "sipscope: OPTION VALUE: WHY"). */
#ifndef SIPSCOPE_CLI_H
#define SIPSCOPE_CLI_H

#include <getopt.h>
#include <stdbool.h>

#include "store.h"

/* "sipscope: CMD: WHAT\nTry 'sipscope CMD --help'.\n" on stderr. */
void cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* getopt_long for command cmd, with getopt's own messages replaced: an unknown option, a
 * missing or unwanted argument is reported with cli_usage_error (as "unrecognized option
 * '--bogus'", "option '--db' requires an argument", ...) and returns '?'. Otherwise as
 * getopt_long (the caller resets optind). shortopts must not start with ':' or '+'. */
int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
               const char *cmd);

/* A count for an option: a decimal number from 1 to 2^32, nothing else. */
bool cli_parse_count(const char *text, size_t *out);
#define CLI_TOKEN_RULE "1 to 128 characters of A-Z a-z 0-9 - . _ ~ + / ="

/* "HOST:PORT" (HOST a name, IPv4 or [IPv6], PORT 0 to 65535): the syntax only, no lookup. */
bool cli_hostport_ok(const char *spec);

/* ---- checks at start: each 0, or -1 after reporting why ---- */

/* --pcap-dir DIR: an existing directory we may write in, or one we may create (its nearest
 * existing ancestor is a writable directory). Nothing is created. */
int cli_check_pcap_dir(const char *dir);
/* --db PATH of a command that writes: an existing regular file we may read and write, or a new
 * one in a directory we may write in. ":memory:" and SQLite URIs pass. Nothing is created. */
int cli_check_db(const char *path);
/* --log FILE (NULL passes): a file we may append to, or may create. Nothing is created. */
int cli_check_log(const char *path);
/* A capture file (not "-", which is read as it comes): it opens and starts as a pcap or pcapng
 * file. Reported as "sipscope: PATH: WHY", as reading it would. */
int cli_check_capture_file(const char *path);

/* Reserve the TCP address listen ("ADDR:PORT", already checked with api_parse_listen) for the
 * API that starts later: bound, not listening, so that a port in use fails now. *fd is -1
 * when nothing needs holding (port 0). Release with cli_release_listen right before the API
 * binds it. 0, or -1 reported as "sipscope: CMD: --listen ADDR:PORT: WHY". */
int cli_reserve_listen(const char *cmd, const char *listen, int *fd);
void cli_release_listen(int *fd);

/* ---- the database's errors ---- */

/* store_errmsg(s) without a leading "PATH: " (store_open names the path itself in some of its
 * messages), so that the caller can put the path in front once. NULL s: out of memory. */
const char *cli_store_why(const char *path, const store_t *s);

#endif
