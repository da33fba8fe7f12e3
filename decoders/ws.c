/* ws: WebSocket frame headers (RFC 6455 5.2), parsed in place. */
#include "ws.h"

#include <string.h>

/* RFC 6455 5.2:
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-------+-+-------------+-------------------------------+
 * |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
 * |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
 * |N|V|V|V|       |S|             |   (if payload len==126/127)   |
 * | |1|2|3|       |K|             |                               |
 * +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
 * |     Extended payload length continued, if payload len == 127  |
 * + - - - - - - - - - - - - - - - +-------------------------------+
 * |                               |Masking-key, if MASK set to 1  |
 * +-------------------------------+-------------------------------+
 * | Masking-key (continued)       |          Payload Data         |
 * +-------------------------------- - - - - - - - - - - - - - - - +
 */
int ws_parse_frame(const uint8_t *buf, size_t len, ws_frame_t *out)
{
    if (len < 2)
        return WS_PARTIAL;
    uint8_t b0 = buf[0], b1 = buf[1];
    out->fin = (b0 & 0x80) != 0;
    out->opcode = b0 & 0x0f;
    out->masked = (b1 & 0x80) != 0;
    if ((b0 & 0x70) != 0)
        return WS_INVALID;
    switch (out->opcode) {
        case WS_OP_CONT:
        case WS_OP_TEXT:
        case WS_OP_BINARY:
        case WS_OP_CLOSE:
        case WS_OP_PING:
        case WS_OP_PONG:
            break;
        default:
            return WS_INVALID;
    }
    uint64_t plen = b1 & 0x7f;
    size_t hlen = 2;
    /* Control frames are short and never fragmented (RFC 6455 5.5). */
    if (ws_is_control(out->opcode) && (plen > 125 || !out->fin))
        return WS_INVALID;
    if (plen == 126) {
        if (len < 4)
            return WS_PARTIAL;
        plen = (uint64_t)buf[2] << 8 | buf[3];
        hlen = 4;
        if (plen < 126)
            return WS_INVALID; /* "the minimal number of bytes MUST be used" */
    } else if (plen == 127) {
        if (len < 10)
            return WS_PARTIAL;
        plen = 0;
        for (int i = 0; i < 8; i++)
            plen = plen << 8 | buf[2 + i];
        hlen = 10;
        if ((plen >> 63) != 0 || plen <= 0xffff)
            return WS_INVALID;
    }
    memset(out->mask, 0, sizeof(out->mask));
    if (out->masked) {
        if (len < hlen + 4)
            return WS_PARTIAL;
        memcpy(out->mask, buf + hlen, 4);
        hlen += 4;
    }
    out->payload_len = plen;
    return (int)hlen;
}

void ws_unmask(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4], uint64_t offset)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = src[i] ^ key[(offset + i) & 3];
}
