/* stop: SIGINT/SIGTERM as a clean stop, and a second one as an immediate exit. */
#include "stop.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static atomic_int stop_asked; /* lock-free: safe to set in a signal handler */
static atomic_int stop_signo; /* the signal that asked */
static atomic_bool announced;

static void on_stop_signal(int sig)
{
    if (atomic_exchange(&stop_asked, 1) != 0) {
        /* Asked twice: stop now, as the signal would have without us. */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    atomic_store(&stop_signo, sig);
}

void stop_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

bool stop_requested(void)
{
    return atomic_load(&stop_asked) != 0;
}

const atomic_int *stop_flag(void)
{
    return &stop_asked;
}

const char *stop_signal_name(void)
{
    switch (atomic_load(&stop_signo)) {
        case SIGINT:
            return "SIGINT";
        case SIGTERM:
            return "SIGTERM";
        default:
            return "";
    }
}

void stop_announce(bool quiet)
{
    if (!stop_requested() || atomic_exchange(&announced, true) || quiet)
        return;
    fprintf(stderr,
            "sipscope: %s: stopping; storing the calls still open (%s again to quit at "
            "once)\n",
            stop_signal_name(), strcmp(stop_signal_name(), "SIGINT") == 0 ? "Ctrl-C" : "signal");
}

void stop_print_totals(const char *what, const engine_t *p)
{
    engine_totals_t t;
    engine_totals(p, &t);
    const corr_stats_t *cs = engine_corr_stats(p);
    fprintf(stderr,
            "sipscope: %s; %llu packets, %llu SIP messages, %llu calls (%llu stored as they stood "
            "at the stop), %llu RTP streams\n",
            what, (unsigned long long)t.packets, (unsigned long long)t.sip_messages,
            (unsigned long long)cs->calls_created, (unsigned long long)cs->calls_flushed,
            (unsigned long long)cs->streams_created);
}
