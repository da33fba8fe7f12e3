/* report: the JSON report of `analyze --json` (docs/design.md), streamed with bounded memory. */
#ifndef SIPSCOPE_REPORT_H
#define SIPSCOPE_REPORT_H

#include <stdio.h>

#include "engine.h"
#include "records.h"

typedef struct report report_t;

/* Calls and streams are spooled to temporary files as they come, so memory stays flat however
 * large the capture. NULL on failure (errno set). Caller frees with report_free. */
report_t *report_new(void);
void report_free(report_t *r);
void report_add_call(report_t *r, const call_record_t *call);
void report_add_stream(report_t *r, const stream_record_t *stream);
/* A DTMF digit: the report's "dtmf" list (only when there was one), with its call's Call-ID. */
void report_add_dtmf(report_t *r, const dtmf_record_t *dtmf);
/* An alert as raised or updated: the report keeps the latest version of each. */
void report_add_alert(report_t *r, const alert_record_t *alert);
/* A TLS connection (the "tls" array, present when there was TLS). */
void report_add_tls(report_t *r, const engine_tls_t *tls);
/* Write the whole report object to out. 0, or -EIO. */
int report_write(report_t *r, const engine_totals_t *totals, FILE *out);

#endif
