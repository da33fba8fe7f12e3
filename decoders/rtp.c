/* rtp: placeholder until the decoder lands. */
#include "rtp.h"
int rtp_parse(const uint8_t *buf, size_t len, rtp_hdr_t *out) { (void)buf; (void)len; (void)out; return RTP_INVALID; }
bool rtp_looks_like(const uint8_t *buf, size_t len) { (void)buf; (void)len; return false; }
uint32_t rtp_static_clock_rate(uint8_t pt) { (void)pt; return 0; }
const char *rtp_static_codec(uint8_t pt) { (void)pt; return 0; }
