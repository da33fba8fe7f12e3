/* openapi: the OpenAPI description the API serves: web/openapi.json (paths, parameters, the
 * hand-written schemas) with the schemas of the records generated from their descriptors. */
#ifndef SIPSCOPE_API_OPENAPI_H
#define SIPSCOPE_API_OPENAPI_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "record_desc.h"

/* The whole document as JSON text: static, NUL-terminated, built on first use (thread-safe).
 * *len (when len is not NULL) receives its length. Never NULL: should building fail, it is the
 * embedded file as it is. */
const char *api_openapi_doc(size_t *len);

/* The schema of record d as the API serves it: every key its JSON has, with type, nullable,
 * format, enum and description from the field's kind and doc, and "required" for the keys
 * always present. raw_only: just the REC_RAW fields (which only some routes add). New
 * reference, NULL on allocation failure. */
json_t *api_openapi_schema(const record_desc_t *d, bool raw_only);

#endif
