/* stop: SIGINT and SIGTERM as a clean stop for every command that reads packets (analyze,
 * capture, run): the first asks to stop reading, store every call still open as it stands and
 * finish the outputs; a second one while stopping ends the process at once (by that signal). */
#ifndef SIPSCOPE_STOP_H
#define SIPSCOPE_STOP_H

#include <stdatomic.h>
#include <stdbool.h>

#include "engine.h"

/* Catch SIGINT and SIGTERM as above; SIGPIPE is ignored. */
void stop_install(void);
/* Whether a stop was asked for. */
bool stop_requested(void);
/* The flag the signal handler sets, for cap_cfg_t's stop (a file being read stops there). */
const atomic_int *stop_flag(void);
/* "SIGINT" or "SIGTERM" (the signal that asked), or "" when none did. */
const char *stop_signal_name(void);
/* Say on stderr, once, that the stop is under way ("sipscope: SIGTERM: stopping; storing the
 * calls still open (again to quit at once)"), unless quiet. */
void stop_announce(bool quiet);
/* The one-line summary at the end of an engine's run: "sipscope: WHAT; N packets, N SIP
 * messages, N calls (N stored as they stood at the stop), N RTP streams" (after
 * engine_finish). */
void stop_print_totals(const char *what, const engine_t *p);

#endif
