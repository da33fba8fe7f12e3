/* sip: placeholder until the decoder lands. */
#include "sip.h"
int sip_parse(const char *buf, size_t len, sip_msg_t *out) { (void)buf; (void)len; (void)out; return SIP_INVALID; }
int sip_parse_datagram(const char *buf, size_t len, sip_msg_t *out) { (void)buf; (void)len; (void)out; return SIP_INVALID; }
bool sip_looks_like(const uint8_t *buf, size_t len) { (void)buf; (void)len; return false; }
