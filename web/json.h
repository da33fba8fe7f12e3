/* json: the JSON shapes of calls and streams (shared/DESIGN.md), shared by the report and the API.
 */
#ifndef SIPSCOPE_API_JSON_H
#define SIPSCOPE_API_JSON_H

#include <stdint.h>

#include <jansson.h>

#include "netaddr.h"
#include "records.h"

/* Epoch seconds with microseconds (rounded), the contract's time format. */
double api_time(int64_t ns);
/* api_time as a JSON number, or null for 0 (no time). New reference. */
json_t *api_time_json(int64_t ns);
/* "IP:PORT" / "[IPv6]:PORT", or null for an empty endpoint. New reference. */
json_t *api_endpoint_json(const net_endpoint_t *e);

/* A call as in the report of `analyze --json` (no "id": callers add it when they want it).
 * New reference, NULL on allocation failure; c is borrowed. */
json_t *api_call_json(const call_record_t *c);
/* A stream as in the report (no "id"). New reference, NULL on allocation failure. */
json_t *api_stream_json(const stream_record_t *s);

/* A security alert: type, indicators (detector names), source IP (null for a per-AOR alert),
 * target, user agent, open, count and the per-method counters, times, sample message ids.
 * New reference, NULL on allocation failure. */
json_t *api_alert_json(const alert_record_t *a);
/* A registration binding: aor, user, contact, user agent, source, expiry, last status and its
 * outcome, active, attempt counters, times. New reference, NULL on allocation failure. */
json_t *api_registration_json(const registration_record_t *r);

#endif
