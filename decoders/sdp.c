/* sdp: placeholder until the decoder lands. */
#include "sdp.h"
int sdp_parse(const char *buf, size_t len, sdp_t *out) { (void)buf; (void)len; (void)out; return SDP_INVALID; }
