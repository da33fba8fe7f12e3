/* json: the JSON shapes of the records (docs/design.md), shared by the report and the API;
 * common/record_json.h writes them from the records' descriptors. */
#ifndef SIPSCOPE_API_JSON_H
#define SIPSCOPE_API_JSON_H

#include <stdbool.h>
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

/* Every function below returns a new reference, NULL on allocation failure; the record is
 * borrowed. */

/* A call as in the report of `analyze --json` (no "id"). */
json_t *api_call_json(const call_record_t *c);
/* A call as the API serves it: the report's keys, then "id". */
json_t *api_call_row_json(const call_record_t *c);
/* A stream as in the report (no "id"). */
json_t *api_stream_json(const stream_record_t *s);
/* A stream as the API serves it: the report's keys, then "id" and "call" (its call's row id,
 * null when no SDP announced it). */
json_t *api_stream_row_json(const stream_record_t *s);
/* One interval of a stream's quality: time, packets, lost, jitter, MOS. */
json_t *api_sample_json(const sample_record_t *r);
/* A SIP message of row id: time, addresses, transport, method or status, cseq, probe, its
 * first line and whether it carries SDP; with_raw adds the whole text as "raw". */
json_t *api_message_json(int64_t id, const message_record_t *m, bool with_raw);

/* A security alert: type, indicators (detector names), source IP (null for a per-AOR alert),
 * target, user agent, open, count and the per-method counters, times, sample message ids. */
json_t *api_alert_json(const alert_record_t *a);
/* A registration binding: aor, user, contact, user agent, source, expiry, last status and its
 * outcome, active, attempt counters, times. */
json_t *api_registration_json(const registration_record_t *r);

#endif
