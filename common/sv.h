/* sv: length-carrying string views over borrowed bytes (never NUL-terminated). */
#ifndef SIPSCOPE_SV_H
#define SIPSCOPE_SV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A borrowed view: p points into someone else's buffer, len bytes long. */
typedef struct {
    const char *p;
    size_t len;
} sv_t;

#define SV_NULL   ((sv_t){NULL, 0})
#define SV_LIT(s) ((sv_t){(s), sizeof(s) - 1})
/* printf("%.*s", SV_ARG(v)) */
#define SV_ARG(v) (int)((v).len > 0x7fffffff ? 0x7fffffff : (v).len), ((v).p ? (v).p : "")

static inline sv_t sv_make(const char *p, size_t len)
{
    return (sv_t){p, len};
}

sv_t sv_from_cstr(const char *s);
bool sv_empty(sv_t s);
/* Exact byte equality of two views. */
bool sv_eq(sv_t a, sv_t b);
/* ASCII case-insensitive comparison with a NUL-terminated literal. */
bool sv_eq_ci(sv_t a, const char *lit);
bool sv_eq_sv_ci(sv_t a, sv_t b);
bool sv_starts_with_ci(sv_t a, const char *lit);
/* Strip SP, HTAB, CR and LF at both ends. */
sv_t sv_trim(sv_t s);
/* Bytes [off, off+len) clamped to the view. */
sv_t sv_slice(sv_t s, size_t off, size_t len);
/* Index of the first c in s, or SIZE_MAX. */
size_t sv_index(sv_t s, char c);
/* Split at the first sep: head before it, tail after it. False (head = s, tail empty) if absent. */
bool sv_split_once(sv_t s, char sep, sv_t *head, sv_t *tail);
/* Decimal digits only (no sign, no spaces), overflow-checked. False on anything else. */
bool sv_to_u32(sv_t s, uint32_t *out);
bool sv_to_u64(sv_t s, uint64_t *out);
/* Copy into buf as a NUL-terminated string, truncating to cap-1 bytes. Returns bytes copied. */
size_t sv_copy(sv_t s, char *buf, size_t cap);

#endif
