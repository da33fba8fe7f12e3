/* rtcp: placeholder until the decoder lands. */
#include "rtcp.h"
int rtcp_parse(const uint8_t *buf, size_t len, rtcp_compound_t *out) { (void)buf; (void)len; (void)out; return RTCP_INVALID; }
bool rtcp_looks_like(const uint8_t *buf, size_t len) { (void)buf; (void)len; return false; }
