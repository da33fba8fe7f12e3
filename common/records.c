/* records: names of call states. */
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
