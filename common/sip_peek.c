/* sip_peek: header values of a stored SIP message's text (see sip_peek.h). */
#include "sip_peek.h"

#include <string.h>

/* The next line of text at *pos (without its CR LF or LF); false at the end. */
static bool next_line(sv_t text, size_t *pos, sv_t *line)
{
    if (*pos >= text.len)
        return false;
    sv_t rest = sv_slice(text, *pos, SIZE_MAX);
    size_t nl = sv_index(rest, '\n');
    size_t len = nl < rest.len ? nl : rest.len;
    *pos += len + (nl < rest.len ? 1 : 0);
    *line = sv_slice(rest, 0, len);
    if (line->len > 0 && line->p[line->len - 1] == '\r')
        line->len--;
    return true;
}

/* Does line start with header name (or its compact letter) followed by blanks and ':'? The
 * value after the colon into *value. */
static bool header_named(sv_t line, const char *name, char compact, sv_t *value)
{
    size_t colon = sv_index(line, ':');
    if (colon >= line.len)
        return false;
    sv_t key = sv_trim(sv_slice(line, 0, colon));
    bool match = sv_eq_ci(key, name) ||
                 (compact != 0 && key.len == 1 && (key.p[0] | 0x20) == (compact | 0x20));
    if (match)
        *value = sv_trim(sv_slice(line, colon + 1, SIZE_MAX));
    return match;
}

sv_t sip_peek_header(sv_t msg, const char *name, char compact)
{
    size_t pos = 0;
    sv_t line;
    if (!next_line(msg, &pos, &line)) /* the start line */
        return SV_NULL;
    while (next_line(msg, &pos, &line) && line.len > 0) {
        sv_t value;
        if (line.p[0] != ' ' && line.p[0] != '\t' && header_named(line, name, compact, &value))
            return value;
    }
    return SV_NULL;
}

sv_t sip_peek_uri(sv_t value)
{
    size_t lt = sv_index(value, '<');
    sv_t uri;
    if (lt < value.len) {
        sv_t rest = sv_slice(value, lt + 1, SIZE_MAX);
        uri = sv_slice(rest, 0, sv_index(rest, '>'));
    } else {
        uri = sv_slice(value, 0, sv_index(value, ';'));
    }
    uri = sv_trim(uri);
    return uri.len > 0 ? uri : SV_NULL;
}

sv_t sip_peek_user(sv_t uri)
{
    sv_t rest;
    if (sv_starts_with_ci(uri, "sip:"))
        rest = sv_slice(uri, 4, SIZE_MAX);
    else if (sv_starts_with_ci(uri, "sips:"))
        rest = sv_slice(uri, 5, SIZE_MAX);
    else if (sv_starts_with_ci(uri, "tel:"))
        return sv_slice(sv_slice(uri, 4, SIZE_MAX), 0, sv_index(sv_slice(uri, 4, SIZE_MAX), ';'));
    else
        return SV_NULL;
    size_t at = sv_index(rest, '@');
    if (at >= rest.len)
        return SV_NULL; /* sip:host: no user */
    sv_t user = sv_slice(rest, 0, at);
    /* user:password@host (deprecated, RFC 3261 section 19.1.1) and user;params@host */
    user = sv_slice(user, 0, sv_index(user, ':'));
    user = sv_slice(user, 0, sv_index(user, ';'));
    return user.len > 0 ? user : SV_NULL;
}
