/* records: names of call states and verdicts. */
#include "records.h"

#include <string.h>

static const char *const state_names[CALL_STATE_COUNT] = {
    "setup", "ringing", "in_call", "completed", "rejected", "cancelled",
};

const char *call_state_name(call_state_t s)
{
    return (unsigned)s < CALL_STATE_COUNT ? state_names[s] : "setup";
}

bool call_state_parse(const char *name, call_state_t *out)
{
    for (int i = 0; i < CALL_STATE_COUNT; i++) {
        if (strcmp(name, state_names[i]) == 0) {
            *out = (call_state_t)i;
            return true;
        }
    }
    return false;
}

static const char *const verdict_names[VERDICT_COUNT] = {
    "good", "degraded", "poor", "one_way", "no_media", "failed",
};

const char *verdict_name(verdict_t v)
{
    return (unsigned)v < VERDICT_COUNT ? verdict_names[v] : "good";
}

bool verdict_parse(const char *name, verdict_t *out)
{
    for (int i = 0; i < VERDICT_COUNT; i++) {
        if (strcmp(name, verdict_names[i]) == 0) {
            *out = (verdict_t)i;
            return true;
        }
    }
    return false;
}

int verdict_severity(verdict_t v)
{
    static const int severity[VERDICT_COUNT] = {
        [VERDICT_GOOD] = 0, [VERDICT_FAILED] = 1,   [VERDICT_DEGRADED] = 2,
        [VERDICT_POOR] = 3, [VERDICT_NO_MEDIA] = 4, [VERDICT_ONE_WAY] = 5,
    };
    return (unsigned)v < VERDICT_COUNT ? severity[v] : 0;
}
