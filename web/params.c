/* params: strict parsing of query parameters; anything malformed is a 400 with the reason.
 *
 * Built on server.c (api_param to look a parameter up, api_reply_error for the 400), which
 * uses nothing of this file. */
#include "api_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "defs.h"
#include "sv.h"

/* Optional '-' then decimal digits, overflow-checked. */
static bool parse_i64(const char *text, int64_t *out)
{
    bool neg = text[0] == '-';
    uint64_t v;
    if (!sv_to_u64(sv_from_cstr(text + (neg ? 1 : 0)), &v))
        return false;
    if (v > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX))
        return false;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

/* A plain decimal number ([-]digits[.digits]); no exponent, hex, inf or nan, no spaces. */
static bool parse_double(const char *text, double *out)
{
    const char *p = text;
    if (*p == '-')
        p++;
    size_t digits = 0, dots = 0;
    for (const char *q = p; *q; q++) {
        if (*q >= '0' && *q <= '9')
            digits++;
        else if (*q == '.' && dots == 0)
            dots++;
        else
            return false;
    }
    if (digits == 0 || strlen(text) > 40)
        return false;
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (errno != 0 || end == NULL || *end != '\0' || !isfinite(v))
        return false;
    *out = v;
    return true;
}

bool api_param_i64(api_req_t *req, const char *name, int64_t min, int64_t max, int64_t *out,
                   bool *present)
{
    const char *v = api_param(req, name);
    if (present)
        *present = v != NULL;
    if (v == NULL)
        return true;
    int64_t n;
    if (!parse_i64(v, &n)) {
        api_reply_error(req, 400, "%s: not an integer", name);
        return false;
    }
    if (n < min || n > max) {
        api_reply_error(req, 400, "%s: out of range (%lld to %lld)", name, (long long)min,
                        (long long)max);
        return false;
    }
    *out = n;
    return true;
}

bool api_param_double(api_req_t *req, const char *name, double min, double max, double *out,
                      bool *present)
{
    const char *v = api_param(req, name);
    if (present)
        *present = v != NULL;
    if (v == NULL)
        return true;
    double d;
    if (!parse_double(v, &d)) {
        api_reply_error(req, 400, "%s: not a number", name);
        return false;
    }
    if (d < min || d > max) {
        api_reply_error(req, 400, "%s: out of range (%g to %g)", name, min, max);
        return false;
    }
    *out = d;
    return true;
}

/* n digits at p as an unsigned number; false unless all are digits. */
static bool digits(const char *p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM); 't'/' ' accepted for 'T'. */
static bool parse_rfc3339(const char *s, int64_t *out_ns)
{
    int y, mo, d, h, mi, se;
    if (strlen(s) < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
        s[7] != '-' || !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
        !digits(s + 17, 2, &se))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return false;
    const char *p = s + 19;
    int64_t frac_ns = 0;
    if (*p == '.') {
        p++;
        int n = 0;
        int64_t scale = 100000000;
        while (*p >= '0' && *p <= '9') {
            if (scale > 0) {
                frac_ns += (*p - '0') * scale;
                scale /= 10;
            }
            p++;
            n++;
        }
        if (n == 0)
            return false;
    }
    int64_t offset_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return false;
        offset_s = (int64_t)(oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return false;
    }
    if (*p != '\0')
        return false;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset_s;
    if (secs <= 0 || secs > INT64_C(9000000000))
        return false;
    *out_ns = secs * NS_PER_S + frac_ns;
    return true;
}

bool api_parse_time(const char *text, int64_t *out_ns)
{
    double d;
    if (parse_double(text, &d)) {
        /* Epoch seconds; beyond year 2255 or before 1970 is surely a mistake. */
        if (d <= 0 || d > 9.0e9)
            return false;
        double whole = floor(d);
        *out_ns = (int64_t)whole * NS_PER_S + llround((d - whole) * 1e6) * 1000;
        return true;
    }
    return parse_rfc3339(text, out_ns);
}

bool api_param_time(api_req_t *req, const char *name, int64_t *out_ns, bool *present)
{
    const char *v = api_param(req, name);
    if (present)
        *present = v != NULL;
    if (v == NULL)
        return true;
    if (!api_parse_time(v, out_ns)) {
        api_reply_error(req, 400,
                        "%s: not a time (epoch seconds, or RFC 3339 like 2024-01-15T10:00:00Z)",
                        name);
        return false;
    }
    return true;
}

bool api_param_bool(api_req_t *req, const char *name, bool *out, bool *present)
{
    const char *v = api_param(req, name);
    if (present)
        *present = v != NULL;
    if (v == NULL)
        return true;
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0) {
        *out = true;
    } else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0) {
        *out = false;
    } else {
        api_reply_error(req, 400, "%s: not a boolean (true or false)", name);
        return false;
    }
    return true;
}

/* The known names, ", "-separated, for an error message (cut to fit). */
static void names_list(const char *(*name_of)(int), int count, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < count && used < size; i++) {
        int n = snprintf(out + used, size - used, "%s%s", i ? ", " : "", name_of(i));
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

bool api_param_names(api_req_t *req, const char *name, const char *(*name_of)(int), int count,
                     unsigned *mask)
{
    const char *v = api_param(req, name);
    *mask = 0;
    if (v == NULL)
        return true;
    sv_t rest = sv_from_cstr(v), item;
    while (rest.len > 0) {
        if (!sv_split_once(rest, ',', &item, &rest))
            rest = SV_NULL;
        int i = 0;
        while (i < count && !sv_eq(item, sv_from_cstr(name_of(i))))
            i++;
        if (i == count || i >= 32) {
            char known[256];
            names_list(name_of, count, known, sizeof(known));
            api_reply_error(req, 400,
                            "%s: unknown name '%.*s' (one or a comma-separated list of %s)", name,
                            SV_ARG(sv_slice(item, 0, 32)), known);
            return false;
        }
        *mask |= 1u << i;
    }
    return true;
}

bool api_param_paging(api_req_t *req, int64_t *limit, int64_t *offset)
{
    *limit = API_DEFAULT_LIMIT;
    *offset = 0;
    return api_param_i64(req, "limit", 1, API_MAX_LIMIT, limit, NULL) &&
           api_param_i64(req, "offset", 0, INT64_C(1000000000000), offset, NULL);
}

bool api_param_range(api_req_t *req, int64_t *since_ns, int64_t *until_ns)
{
    *since_ns = *until_ns = 0;
    if (!api_param_time(req, "since", since_ns, NULL) ||
        !api_param_time(req, "until", until_ns, NULL))
        return false;
    if (*since_ns != 0 && *until_ns != 0 && *since_ns > *until_ns) {
        api_reply_error(req, 400, "since is after until");
        return false;
    }
    return true;
}
