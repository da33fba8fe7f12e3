/* ws: WebSocket frame headers (RFC 6455 5.2), as SIP over WebSocket (RFC 7118) carries them. */
#ifndef SIPSCOPE_WS_H
#define SIPSCOPE_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ws_parse_frame's verdicts besides a header length (>0). */
enum { WS_INVALID = -1, WS_PARTIAL = -2 };

/* RFC 6455 5.2 / 11.8: opcodes; 3-7 and 11-15 are reserved (WS_INVALID). */
enum {
    WS_OP_CONT = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xa,
};

/* Longest frame header: 2 bytes, 8 of extended length, 4 of masking key. */
enum { WS_MAX_HEADER = 14 };

typedef struct {
    bool fin;
    uint8_t opcode;       /* WS_OP_* */
    bool masked;          /* clients mask every frame (RFC 6455 5.3) */
    uint8_t mask[4];      /* masking key; zero when !masked */
    uint64_t payload_len; /* the payload follows the header_len bytes of header */
} ws_frame_t;

/* The header of the frame at buf. Returns the header's length (2..14), WS_PARTIAL when buf
 * ends inside the header, or WS_INVALID: RSV bits set (no extension is negotiated that we
 * decode), a reserved opcode, a control frame that is fragmented or longer than 125 bytes, a
 * 64-bit length with its top bit set, or a length not in its shortest form. The payload is not
 * looked at: the caller checks that payload_len more bytes are there. Borrows buf. */
int ws_parse_frame(const uint8_t *buf, size_t len, ws_frame_t *out);

/* True for close, ping and pong (opcodes with the top bit set). */
static inline bool ws_is_control(uint8_t opcode)
{
    return (opcode & 0x8) != 0;
}

/* dst[i] = src[i] ^ key[(offset + i) % 4]: unmask n payload bytes that start offset bytes into
 * the payload (RFC 6455 5.3). dst may equal src. */
void ws_unmask(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4], uint64_t offset);

#endif
