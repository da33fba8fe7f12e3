/* call_filter: the query parameters of GET /api/v1/calls (and of its CSV and pcap exports) into
 * a store_call_filter_t and a sort order; anything malformed is a 400 with the reason. */
#include "api_int.h"

#include <stdlib.h>
#include <string.h>

#include "sv.h"

static const char *state_name(int i)
{
    return call_state_name((call_state_t)i);
}

static const char *verdict_text(int i)
{
    return verdict_name((verdict_t)i);
}

static bool parse_sort(api_req_t *req, store_call_sort_t *sort, bool *ascending)
{
    static const char *const names[STORE_SORT_COUNT] = {
        [STORE_SORT_INVITE_TIME] = "invite_time",
        [STORE_SORT_MOS] = "mos",
        [STORE_SORT_DURATION] = "duration",
        [STORE_SORT_PDD] = "pdd",
        [STORE_SORT_WORST] = "worst",
    };
    *sort = STORE_SORT_INVITE_TIME;
    *ascending = false;
    const char *v = api_param(req, "sort");
    if (v != NULL) {
        int i = 0;
        while (i < STORE_SORT_COUNT && strcmp(names[i], v) != 0)
            i++;
        if (i == STORE_SORT_COUNT) {
            api_reply_error(req, 400, "sort: one of invite_time, mos, duration, pdd, worst");
            return false;
        }
        *sort = (store_call_sort_t)i;
    }
    const char *o = api_param(req, "order");
    if (o != NULL) {
        if (strcmp(o, "asc") == 0) {
            *ascending = true;
        } else if (strcmp(o, "desc") != 0) {
            api_reply_error(req, 400, "order: asc or desc");
            return false;
        }
    }
    return true;
}

bool api_parse_status(const char *v, uint16_t *lo, uint16_t *hi)
{
    if (strlen(v) == 3 && v[0] >= '1' && v[0] <= '6' && (v[1] | 0x20) == 'x' &&
        (v[2] | 0x20) == 'x') {
        *lo = (uint16_t)((v[0] - '0') * 100);
        *hi = (uint16_t)(*lo + 99);
        return true;
    }
    uint64_t code;
    if (strlen(v) == 3 && sv_to_u64(sv_from_cstr(v), &code) && code >= 100 && code <= 699) {
        *lo = *hi = (uint16_t)code;
        return true;
    }
    return false;
}

static bool parse_status(api_req_t *req, uint16_t *lo, uint16_t *hi)
{
    const char *v = api_param(req, "final_status");
    if (v == NULL || api_parse_status(v, lo, hi))
        return true;
    api_reply_error(req, 400, "final_status: a status code (100 to 699) or a class (1xx to 6xx)");
    return false;
}

bool api_parse_net(const char *text, net_addr_t *addr, unsigned *prefix)
{
    sv_t t = sv_from_cstr(text), a = t, bits = SV_NULL;
    bool has_bits = sv_split_once(t, '/', &a, &bits);
    memset(addr, 0, sizeof(*addr));
    if (a.len == 0 || !net_addr_parse(a, addr))
        return false;
    unsigned max = addr->family == 4 ? 32 : 128;
    *prefix = max;
    if (has_bits) {
        uint64_t n;
        if (bits.len == 0 || bits.len > 3 || !sv_to_u64(bits, &n) || n > max)
            return false;
        *prefix = (unsigned)n;
    }
    return true;
}

static bool parse_ip(api_req_t *req, store_call_filter_t *f)
{
    const char *v = api_param(req, "ip");
    if (v == NULL)
        return true;
    if (!api_parse_net(v, &f->ip, &f->ip_prefix)) {
        api_reply_error(req, 400,
                        "ip: an IPv4 or IPv6 address, or a network in CIDR notation "
                        "(10.0.0.0/8, 2001:db8::/32)");
        return false;
    }
    return true;
}

static bool parse_numbers(api_req_t *req, store_call_filter_t *f)
{
    int64_t probe = 0;
    if (!api_param_double(req, "min_mos", 0, 5, &f->min_mos, &f->has_min_mos) ||
        !api_param_double(req, "max_mos", 0, 5, &f->max_mos, &f->has_max_mos) ||
        !api_param_double(req, "min_loss", 0, 100, &f->min_loss_pct, &f->has_min_loss) ||
        !api_param_double(req, "min_duration", 0, 1e9, &f->min_duration_s, &f->has_min_duration) ||
        !api_param_double(req, "min_pdd", 0, 1e12, &f->min_pdd_ms, &f->has_min_pdd) ||
        !api_param_i64(req, "probe", 0, UINT32_MAX, &probe, &f->has_probe))
        return false;
    f->probe = (uint32_t)probe;
    if (f->has_min_mos && f->has_max_mos && f->min_mos > f->max_mos) {
        api_reply_error(req, 400, "min_mos is above max_mos");
        return false;
    }
    return true;
}

bool api_param_search(api_req_t *req, const char **search)
{
    *search = api_param(req, "search");
    if (*search == NULL)
        return true;
    char *fts = store_fts_query(*search);
    if (fts == NULL) {
        api_reply_error(req, 400, "search: no word to search for (letters or digits)");
        return false;
    }
    /* the query holds one "word"* per word */
    int words = 0;
    for (const char *p = fts; (p = strstr(p, "\"*")) != NULL; p += 2)
        words++;
    free(fts);
    if (words > STORE_MAX_SEARCH_WORDS) {
        api_reply_error(req, 400, "search: at most %d words", STORE_MAX_SEARCH_WORDS);
        return false;
    }
    return true;
}

bool api_call_filter(api_req_t *req, store_call_filter_t *f, store_call_sort_t *sort, bool *asc)
{
    memset(f, 0, sizeof(*f));
    f->user_exact = true;
    if (!api_param_names(req, "state", state_name, CALL_STATE_COUNT, &f->state_mask) ||
        !api_param_names(req, "verdict", verdict_text, VERDICT_COUNT, &f->verdict_mask) ||
        !api_param_range(req, &f->since_ns, &f->until_ns) || !parse_numbers(req, f) ||
        !parse_status(req, &f->status_min, &f->status_max) || !parse_ip(req, f) ||
        !api_param_bool(req, "one_way", &f->one_way, &f->has_one_way) ||
        !api_param_bool(req, "nat", &f->nat, &f->has_nat) ||
        !api_param_bool(req, "active", &f->active, &f->has_active) ||
        !api_param_search(req, &f->search) || (sort != NULL && !parse_sort(req, sort, asc)))
        return false;
    f->from_user = api_param(req, "from");
    f->to_user = api_param(req, "to");
    f->call_id = api_param(req, "call_id");
    f->q = api_param(req, "q");
    f->user_agent = api_param(req, "user_agent");
    f->codec = api_param(req, "codec");
    return true;
}
