/* cap: placeholder until the capture module lands. */
#include "cap.h"
#include <stdlib.h>
struct cap { cap_stats_t stats; };
void cap_cfg_init(cap_cfg_t *cfg) { (void)cfg; }
cap_t *cap_new(const cap_cfg_t *cfg, cap_sink_fn sink, void *ctx) { (void)cfg; (void)sink; (void)ctx; return calloc(1, sizeof(cap_t)); }
void cap_free(cap_t *cap) { free(cap); }
void cap_process_frame(cap_t *cap, int dlt, int64_t ts_ns, const uint8_t *frame, uint32_t caplen, uint32_t wirelen) { (void)cap; (void)dlt; (void)ts_ns; (void)frame; (void)caplen; (void)wirelen; }
int cap_read_file(cap_t *cap, const char *path, char *err, size_t errlen) { (void)cap; (void)path; (void)err; (void)errlen; return -1; }
void cap_expire(cap_t *cap, int64_t now_ns) { (void)cap; (void)now_ns; }
void cap_flush(cap_t *cap) { (void)cap; }
const cap_stats_t *cap_stats(const cap_t *cap) { return &cap->stats; }
