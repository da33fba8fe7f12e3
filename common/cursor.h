/* cursor: bounds-checked big-endian reader with a sticky error flag (tcpdump GET_BE_U_* idea). */
#ifndef SIPSCOPE_CURSOR_H
#define SIPSCOPE_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Reads straight through; a short read sets err, pins p at end and returns 0. Check err once. */
typedef struct {
    const uint8_t *p, *end;
    bool err;
} cur_t;

static inline cur_t cur_make(const uint8_t *p, size_t len)
{
    return (cur_t){p, p + len, false};
}

static inline size_t cur_left(const cur_t *c)
{
    return (size_t)(c->end - c->p);
}

static inline bool cur_need(cur_t *c, size_t n)
{
    if (c->err || cur_left(c) < n) {
        c->err = true;
        c->p = c->end;
        return false;
    }
    return true;
}

static inline uint8_t cur_u8(cur_t *c)
{
    if (!cur_need(c, 1))
        return 0;
    return *c->p++;
}

static inline uint16_t cur_be16(cur_t *c)
{
    if (!cur_need(c, 2))
        return 0;
    uint16_t v = (uint16_t)((c->p[0] << 8) | c->p[1]);
    c->p += 2;
    return v;
}

static inline uint32_t cur_be24(cur_t *c)
{
    if (!cur_need(c, 3))
        return 0;
    uint32_t v = ((uint32_t)c->p[0] << 16) | ((uint32_t)c->p[1] << 8) | c->p[2];
    c->p += 3;
    return v;
}

static inline uint32_t cur_be32(cur_t *c)
{
    if (!cur_need(c, 4))
        return 0;
    uint32_t v =
        ((uint32_t)c->p[0] << 24) | ((uint32_t)c->p[1] << 16) | ((uint32_t)c->p[2] << 8) | c->p[3];
    c->p += 4;
    return v;
}

static inline uint64_t cur_be64(cur_t *c)
{
    uint64_t hi = cur_be32(c);
    return (hi << 32) | cur_be32(c);
}

static inline uint16_t cur_le16(cur_t *c)
{
    if (!cur_need(c, 2))
        return 0;
    uint16_t v = (uint16_t)(c->p[0] | (c->p[1] << 8));
    c->p += 2;
    return v;
}

static inline uint32_t cur_le32(cur_t *c)
{
    if (!cur_need(c, 4))
        return 0;
    uint32_t v =
        ((uint32_t)c->p[3] << 24) | ((uint32_t)c->p[2] << 16) | ((uint32_t)c->p[1] << 8) | c->p[0];
    c->p += 4;
    return v;
}

/* Skip n bytes. */
static inline void cur_skip(cur_t *c, size_t n)
{
    if (cur_need(c, n))
        c->p += n;
}

/* Borrow n bytes and advance; NULL (and err) if fewer are left. */
static inline const uint8_t *cur_bytes(cur_t *c, size_t n)
{
    if (!cur_need(c, n))
        return NULL;
    const uint8_t *at = c->p;
    c->p += n;
    return at;
}

/* A sub-cursor over the next n bytes, advancing the parent past them. A short parent gives an
 * errored, empty sub-cursor. Use it to bound a block by its declared length. */
static inline cur_t cur_sub(cur_t *c, size_t n)
{
    const uint8_t *at = cur_bytes(c, n);
    if (at == NULL)
        return (cur_t){c->end, c->end, true};
    return cur_make(at, n);
}

#endif
