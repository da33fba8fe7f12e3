/* record_json: records as JSON objects, written from their descriptors (record_desc.h), one
 * writer for the report of analyze --json and the HTTP API (docs/design.md). */
#ifndef SIPSCOPE_RECORD_JSON_H
#define SIPSCOPE_RECORD_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "netaddr.h"
#include "record_desc.h"

/* Options of record_json and record_json_add. */
#define RECORD_JSON_API 1u /* the REC_F_API_TAIL row ids too, after the other keys */
#define RECORD_JSON_RAW 2u /* the REC_RAW text too */

/* A new object with the JSON keys of rec (a record of d's type, borrowed) in list order. A
 * string value jansson refuses (not UTF-8) leaves its key out, as json_object_set_new does.
 * New reference; NULL on allocation failure. */
json_t *record_json(const record_desc_t *d, const void *rec, unsigned opts);
/* The same keys added to o (after what it holds). 0, or -ENOMEM. */
int record_json_add(json_t *o, const record_desc_t *d, const void *rec, unsigned opts);

/* Epoch seconds with microseconds (rounded), the contract's time format. */
double record_json_seconds(int64_t ns);
/* record_json_seconds as a JSON number, or null for 0 or less (no time). New reference. */
json_t *record_json_time(int64_t ns);
/* "IP:PORT" / "[IPv6]:PORT", or null for an empty endpoint. New reference. */
json_t *record_json_endpoint(const net_endpoint_t *e);
/* n bytes of text as a JSON string. SIP is text, but a capture may hold any bytes and jansson
 * takes only UTF-8: when p isn't, non-ASCII bytes and NULs are sent as '?'. New reference,
 * NULL on allocation failure. */
json_t *record_json_text(const char *p, size_t n);

#endif
