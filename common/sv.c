/* sv: length-carrying string views. */
#include "sv.h"

#include <string.h>

static inline char lower_ascii(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

static inline bool is_trim_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

sv_t sv_from_cstr(const char *s)
{
    return s ? sv_make(s, strlen(s)) : SV_NULL;
}

bool sv_empty(sv_t s)
{
    return s.len == 0;
}

bool sv_eq(sv_t a, sv_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

bool sv_eq_ci(sv_t a, const char *lit)
{
    size_t i = 0;
    for (; i < a.len; i++) {
        if (lit[i] == '\0' || lower_ascii(a.p[i]) != lower_ascii(lit[i]))
            return false;
    }
    return lit[i] == '\0';
}

bool sv_eq_sv_ci(sv_t a, sv_t b)
{
    if (a.len != b.len)
        return false;
    for (size_t i = 0; i < a.len; i++) {
        if (lower_ascii(a.p[i]) != lower_ascii(b.p[i]))
            return false;
    }
    return true;
}

bool sv_starts_with_ci(sv_t a, const char *lit)
{
    size_t n = strlen(lit);
    if (a.len < n)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (lower_ascii(a.p[i]) != lower_ascii(lit[i]))
            return false;
    }
    return true;
}

sv_t sv_trim(sv_t s)
{
    while (s.len > 0 && is_trim_space(s.p[0])) {
        s.p++;
        s.len--;
    }
    while (s.len > 0 && is_trim_space(s.p[s.len - 1]))
        s.len--;
    return s;
}

sv_t sv_slice(sv_t s, size_t off, size_t len)
{
    if (off > s.len)
        off = s.len;
    if (len > s.len - off)
        len = s.len - off;
    /* NULL + 0 is undefined in C (clang's UBSan reports it): the NULL view stays NULL. */
    return sv_make(s.p ? s.p + off : NULL, len);
}

size_t sv_index(sv_t s, char c)
{
    if (s.len == 0)
        return SIZE_MAX;
    const char *hit = memchr(s.p, c, s.len);
    return hit ? (size_t)(hit - s.p) : SIZE_MAX;
}

bool sv_split_once(sv_t s, char sep, sv_t *head, sv_t *tail)
{
    size_t i = sv_index(s, sep);
    if (i == SIZE_MAX) {
        *head = s;
        *tail = sv_make(s.p ? s.p + s.len : NULL, 0);
        return false;
    }
    *head = sv_make(s.p, i);
    *tail = sv_make(s.p + i + 1, s.len - i - 1);
    return true;
}

bool sv_to_u64(sv_t s, uint64_t *out)
{
    if (s.len == 0)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < s.len; i++) {
        unsigned d = (unsigned)(unsigned char)s.p[i] - '0';
        if (d > 9)
            return false;
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool sv_to_u32(sv_t s, uint32_t *out)
{
    uint64_t v;
    if (!sv_to_u64(s, &v) || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

size_t sv_copy(sv_t s, char *buf, size_t cap)
{
    if (cap == 0)
        return 0;
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    if (n > 0)
        memcpy(buf, s.p, n);
    buf[n] = '\0';
    return n;
}
