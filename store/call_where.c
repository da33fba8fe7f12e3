/* call_where: the WHERE clause of a call filter (store_call_filter_t), shared by the call list,
 * its count and the exports. Every value is a bound parameter; the SQL text is chosen here from
 * constants. */
#include "store_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* q as a LIKE pattern matching it anywhere: "%" + q with '%', '_' and '\' escaped + "%".
 * NULL for no q; *oom on allocation failure. Caller frees. */
static char *like_pattern(const char *q, bool *oom)
{
    if (q == NULL)
        return NULL;
    size_t n = strlen(q);
    char *p = malloc(2 * n + 3);
    if (p == NULL) {
        *oom = true;
        return NULL;
    }
    size_t j = 0;
    p[j++] = '%';
    for (size_t i = 0; i < n; i++) {
        if (q[i] == '%' || q[i] == '_' || q[i] == '\\')
            p[j++] = '\\';
        p[j++] = q[i];
    }
    p[j++] = '%';
    p[j] = '\0';
    return p;
}

static bool has_word_char(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] >= 0x80 || (p[i] >= '0' && p[i] <= '9') ||
            ((p[i] | 0x20) >= 'a' && (p[i] | 0x20) <= 'z'))
            return true;
    return false;
}

/* The search's words as LIKE patterns, for the messages the index does not hold yet; false when
 * there are more than STORE_MAX_SEARCH_WORDS. */
static bool search_patterns(const char *text, store_search_t *se, bool *oom)
{
    size_t n = strlen(text), i = 0;
    while (i < n) {
        while (i < n && (text[i] == ' ' || text[i] == '\t'))
            i++;
        size_t start = i;
        while (i < n && text[i] != ' ' && text[i] != '\t')
            i++;
        if (i == start || !has_word_char(text + start, i - start))
            continue;
        if (se->n_like == STORE_MAX_SEARCH_WORDS)
            return false;
        char word[STORE_MAX_SEARCH_WORD_BYTES];
        size_t len = i - start < sizeof(word) - 1 ? i - start : sizeof(word) - 1;
        memcpy(word, text + start, len);
        word[len] = '\0';
        char *p = like_pattern(word, oom);
        if (p != NULL)
            se->like[se->n_like++] = p;
    }
    return true;
}

int store_int_search_init(store_t *s, const char *text, const char *what, store_search_t *se)
{
    memset(se, 0, sizeof(*se));
    bool oom = false;
    se->fts = store_fts_query(text);
    const char *why = NULL;
    int err = 0;
    if (se->fts == NULL)
        err = -EINVAL, why = "nothing to search for";
    else if (!search_patterns(text, se, &oom))
        err = -EINVAL, why = "too many words to search for";
    else if (oom)
        err = -ENOMEM, why = "out of memory";
    if (err == 0)
        return 0;
    store_int_search_free(se);
    return store_int_fail_msg(s, err, what, why);
}

void store_int_search_cond(qw_t *w, const store_search_t *se)
{
    qw_add(w, "(id IN (SELECT rowid FROM sip_messages_fts WHERE sip_messages_fts MATCH ?)"
              " OR (id > coalesce((SELECT value FROM meta WHERE key = 'fts.indexed_id'), 0)");
    qw_text(w, se->fts);
    for (int i = 0; i < se->n_like; i++) {
        qw_add(w, " AND raw LIKE ? ESCAPE '\\'");
        qw_text(w, se->like[i]);
    }
    qw_add(w, "))");
}

void store_int_search_free(store_search_t *se)
{
    for (int i = 0; i < se->n_like; i++)
        free(se->like[i]);
    free(se->fts);
    memset(se, 0, sizeof(*se));
}

/* The text range of "IP:PORT" values an address filter can match, for an index on the column:
 * for IPv4, the whole octets of the prefix ("10.0." for 10.0.0.0/16, "10.0.0.5:" for one
 * address); for IPv6, one address ("[2001:db8::1]:") or else every IPv6 endpoint ("[").
 * hi is lo with its last character incremented. */
static void ip_range(const net_addr_t *a, unsigned prefix, char *lo, char *hi, size_t cap)
{
    char text[NET_ADDR_STRLEN];
    net_addr_str(a, text, sizeof(text));
    if (a->family == 4) {
        unsigned octets = prefix / 8;
        if (octets >= 4) {
            snprintf(lo, cap, "%s:", text);
        } else {
            /* the first octets of the dotted text, each followed by its dot */
            size_t n = 0;
            for (unsigned dots = 0; text[n] != '\0' && dots < octets; n++)
                dots += text[n] == '.';
            snprintf(lo, cap, "%.*s", (int)n, text);
        }
    } else {
        snprintf(lo, cap, prefix >= 128 ? "[%s]:" : "[", text);
    }
    size_t n = strlen(lo);
    if (n == 0) { /* 0.0.0.0/0..7: every IPv4 endpoint starts with a digit */
        snprintf(lo, cap, "0");
        snprintf(hi, cap, ":");
        return;
    }
    snprintf(hi, cap, "%s", lo);
    hi[n - 1]++;
}

int store_int_call_where_init(store_t *s, const store_call_filter_t *f, call_where_t *cw)
{
    memset(cw, 0, sizeof(*cw));
    if (f == NULL)
        return 0;
    const unsigned all_states = (1u << CALL_STATE_COUNT) - 1;
    const unsigned all_verdicts = (1u << VERDICT_COUNT) - 1;
    if ((f->state_mask & ~all_states) != 0 || (f->verdict_mask & ~all_verdicts) != 0 ||
        (f->has_min_mos && isnan(f->min_mos)) || (f->has_max_mos && isnan(f->max_mos)) ||
        (f->has_min_loss && isnan(f->min_loss_pct)) ||
        (f->has_min_duration && isnan(f->min_duration_s)) ||
        (f->has_min_pdd && isnan(f->min_pdd_ms)) ||
        (f->ip.family != 0 && f->ip.family != 4 && f->ip.family != 6))
        return store_int_fail_msg(s, -EINVAL, "query calls", "bad filter");
    bool oom = false;
    cw->q_like = like_pattern(f->q, &oom);
    cw->ua_like = like_pattern(f->user_agent, &oom);
    if (f->search != NULL) {
        int err = store_int_search_init(s, f->search, "query calls", &cw->search);
        if (err != 0) {
            store_int_call_where_free(cw);
            return err;
        }
        cw->has_search = true;
    }
    if (oom) {
        store_int_call_where_free(cw);
        return store_int_fail_msg(s, -ENOMEM, "query calls", "out of memory");
    }
    if (f->ip.family != 0) {
        unsigned bits = f->ip.family == 4 ? 32 : 128;
        cw->ip_prefix = f->ip_prefix > bits ? bits : f->ip_prefix;
        net_addr_str(&f->ip, cw->ip_text, sizeof(cw->ip_text));
        ip_range(&f->ip, cw->ip_prefix, cw->ip_lo, cw->ip_hi, sizeof(cw->ip_lo));
    }
    return 0;
}

void store_int_call_where_free(call_where_t *cw)
{
    store_int_search_free(&cw->search);
    free(cw->q_like);
    free(cw->ua_like);
    memset(cw, 0, sizeof(*cw));
}

/* "col >= lo AND col < hi AND sipscope_ip_in(col, net, prefix)" for one endpoint column. */
static void ip_column(qw_t *w, const call_where_t *cw, const char *col, bool plain)
{
    qw_add(w, "(");
    qw_add(w, plain ? "" : "+");
    qw_add(w, col);
    qw_add(w, " >= ? AND ");
    qw_add(w, plain ? "" : "+");
    qw_add(w, col);
    qw_add(w, " < ? AND sipscope_ip_in(");
    qw_add(w, col);
    qw_add(w, ", ?, ?))");
    qw_text(w, cw->ip_lo);
    qw_text(w, cw->ip_hi);
    qw_text(w, cw->ip_text);
    qw_i64(w, cw->ip_prefix);
}

/* The ip filter. Alone, or walking the sort key's index: "caller in the network OR callee in
 * it OR id IN (the streams')", which SQLite reads from the endpoints' indexes (or checks row by
 * row on the walk). Beside another term that has an index (driving): "+id IN (every matching
 * call id)", a list made once from the same indexes (covering: no row read) and probed by row
 * id, so that the other index drives without reading each of its rows for the endpoints (the
 * other way, 75,000 486s of 1M calls read one by one: 200 ms). */
static void ip_where(qw_t *w, const call_where_t *cw, bool walk, bool other_driving)
{
    bool list = !walk && other_driving;
    qw_cond(w, list ? "+id IN (SELECT id FROM calls WHERE " : "(");
    ip_column(w, cw, "caller", !walk);
    qw_add(w, " OR ");
    ip_column(w, cw, "callee", !walk);
    qw_add(w, list   ? " UNION ALL SELECT call_row FROM rtp_streams WHERE "
              : walk ? " OR +id IN (SELECT call_row FROM rtp_streams WHERE "
                     : " OR id IN (SELECT call_row FROM rtp_streams WHERE ");
    ip_column(w, cw, "src", true);
    qw_add(w, " OR ");
    ip_column(w, cw, "dst", true);
    qw_add(w, list ? ")" : "))");
}

/* Whether a term of f besides ip can be read from an index (see store_add_query_indexes). */
static bool other_driving_term(const store_call_filter_t *f, const call_where_t *cw)
{
    return f->state_mask != 0 || f->call_id != NULL ||
           (f->user_exact && (f->from_user != NULL || f->to_user != NULL)) || f->since_ns != 0 ||
           f->until_ns != 0 || f->has_min_mos || f->has_max_mos || f->has_min_duration ||
           f->has_min_pdd || (f->has_one_way && f->one_way) || (f->has_nat && f->nat) ||
           (f->has_active && f->active) || f->verdict_mask != 0 || f->status_min != 0 ||
           f->status_max != 0 || f->codec != NULL || f->has_min_loss || f->has_probe ||
           cw->has_search;
}

/* "col OP ?" (or "+col OP ?" when another index walks the order) with a double. */
static void dbl_cond(qw_t *w, bool plain, const char *col, const char *op, double v)
{
    qw_cond(w, plain ? "" : "+");
    qw_add(w, col);
    qw_add(w, op);
    qw_dbl(w, v);
}

/* Conditions on the call's own columns. */
static void call_columns_where(const store_call_filter_t *f, const call_where_t *cw, bool walk,
                               store_call_sort_t sort, qw_t *w)
{
    if (f->state_mask != 0) {
        qw_cond(w, walk ? "+state IN (" : "state IN (");
        bool first = true;
        for (int i = 0; i < CALL_STATE_COUNT; i++) {
            if (f->state_mask & (1u << i)) {
                qw_add(w, first ? "?" : ", ?");
                qw_text(w, call_state_name((call_state_t)i));
                first = false;
            }
        }
        qw_add(w, ")");
    }
    if (f->call_id != NULL) {
        qw_cond(w, "call_id = ?");
        qw_text(w, f->call_id);
    }
    if (f->from_user != NULL) {
        qw_cond(w, f->user_exact ? "from_user = ?" : "instr(lower(from_user), lower(?)) > 0");
        qw_text(w, f->from_user);
    }
    if (f->to_user != NULL) {
        qw_cond(w, f->user_exact ? "to_user = ?" : "instr(lower(to_user), lower(?)) > 0");
        qw_text(w, f->to_user);
    }
    if (f->since_ns != 0)
        dbl_cond(w, true, "invite_time", " >= ?", store_int_ns_to_sec(f->since_ns));
    if (f->until_ns != 0)
        dbl_cond(w, true, "invite_time", " < ?", store_int_ns_to_sec(f->until_ns));
    bool plain_mos = !walk || sort == STORE_SORT_MOS;
    if (f->has_min_mos)
        dbl_cond(w, plain_mos, "mos", " >= ?", f->min_mos);
    if (f->has_max_mos)
        dbl_cond(w, plain_mos, "mos", " <= ?", f->max_mos);
    if (f->has_min_duration)
        dbl_cond(w, !walk || sort == STORE_SORT_DURATION, "duration_s", " >= ?", f->min_duration_s);
    if (f->has_min_pdd)
        dbl_cond(w, !walk || sort == STORE_SORT_PDD, "post_dial_delay_ms", " >= ?", f->min_pdd_ms);
    /* Literal 1/0 (not a parameter): the partial indexes calls_one_way and calls_nat
     * (store_add_query_indexes) serve only "= 1". */
    if (f->has_one_way)
        qw_cond(w, f->one_way ? "one_way = 1" : "one_way = 0");
    if (f->has_nat)
        qw_cond(w, f->nat ? "nat = 1" : "nat = 0");
    /* Likewise calls_active (schema v8): "active = 1". */
    if (f->has_active)
        qw_cond(w, f->active ? "active = 1" : "active = 0");
    if (f->verdict_mask != 0) {
        qw_cond(w, walk ? "+verdict IN (" : "verdict IN (");
        bool first = true;
        for (int i = 0; i < VERDICT_COUNT; i++) {
            if (f->verdict_mask & (1u << i)) {
                qw_add(w, first ? "?" : ", ?");
                qw_text(w, verdict_name((verdict_t)i));
                first = false;
            }
        }
        qw_add(w, ")");
    }
    if (f->status_min != 0 || f->status_max != 0) {
        qw_cond(w, walk ? "+final_status BETWEEN ? AND ?" : "final_status BETWEEN ? AND ?");
        qw_i64(w, f->status_min);
        qw_i64(w, f->status_max);
    }
    if (cw->q_like != NULL) {
        /* LIKE is ASCII case-insensitive, as lower() is, and several times cheaper per row than
         * instr(lower(..)) (no copies); q's own '%', '_' and '\\' are escaped in q_like. */
        qw_cond(w, "(call_id LIKE ? ESCAPE '\\' OR from_uri LIKE ? ESCAPE '\\'"
                   " OR to_uri LIKE ? ESCAPE '\\')");
        for (int i = 0; i < 3; i++)
            qw_text(w, cw->q_like);
    }
    if (cw->ua_like != NULL) {
        qw_cond(w, "user_agent LIKE ? ESCAPE '\\'");
        qw_text(w, cw->ua_like);
    }
}

/* Conditions on the call's streams and messages: "id IN (subquery)". */
static void call_children_where(const store_call_filter_t *f, const call_where_t *cw, bool walk,
                                qw_t *w)
{
    const char *in = walk ? "+id IN (" : "id IN (";
    if (f->codec != NULL) {
        qw_cond(w, in);
        qw_add(w, "SELECT call_row FROM rtp_streams WHERE codec = ? COLLATE NOCASE)");
        qw_text(w, f->codec);
    }
    if (f->has_min_loss) {
        /* lost / expected as a percentage, without dividing (expected may be 0). */
        qw_cond(w, in);
        qw_add(w, "SELECT call_row FROM rtp_streams"
                  " WHERE packets + lost > 0 AND lost * 100.0 >= ? * (packets + lost))");
        qw_dbl(w, f->min_loss_pct);
    }
    if (f->has_probe) {
        /* the probe sent a message of the call, or the quality reports of one of its streams */
        qw_cond(w, "(");
        qw_add(w, in);
        qw_add(w, "SELECT call_row FROM sip_messages WHERE probe = ?) OR ");
        qw_add(w, in);
        qw_add(w, "SELECT call_row FROM rtp_streams WHERE probe = ?))");
        qw_i64(w, f->probe);
        qw_i64(w, f->probe);
    }
    if (cw->has_search) {
        qw_cond(w, in);
        qw_add(w, "SELECT call_row FROM sip_messages WHERE ");
        store_int_search_cond(w, &cw->search);
        qw_add(w, ")");
    }
    if (f->ip.family != 0)
        ip_where(w, cw, walk, other_driving_term(f, cw));
}

/* Two plans serve a page: when matches are many, walking the sort key's index and stopping
 * after offset + limit matches is fastest, and the broad terms (state, MOS, status, the
 * streams' and messages' subqueries) are then written with a unary '+', which keeps SQLite
 * from choosing their indexes (and sorting every match) while the narrow ones (Call-ID, user,
 * time range) stay free to use theirs; when matches are few (walk_order false), or for the
 * count, every term may use its index. */
void store_int_call_where(const store_call_filter_t *f, const call_where_t *cw, bool walk_order,
                          store_call_sort_t sort, qw_t *w)
{
    if (f == NULL)
        return;
    call_columns_where(f, cw, walk_order, sort, w);
    call_children_where(f, cw, walk_order, w);
}

/* One word of a search as an FTS5 phrase with a prefix star: "word"*, quotes doubled. Words
 * without a letter or digit are left out (the tokenizer would make them an empty phrase). */
static bool fts_word(const char *p, size_t n, char *out, size_t *j)
{
    bool any = false;
    for (size_t i = 0; i < n; i++)
        any = any || (unsigned char)p[i] >= 0x80 || (p[i] >= '0' && p[i] <= '9') ||
              ((p[i] | 0x20) >= 'a' && (p[i] | 0x20) <= 'z');
    if (!any)
        return false;
    if (*j > 0)
        out[(*j)++] = ' ';
    out[(*j)++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '"')
            out[(*j)++] = '"';
        out[(*j)++] = p[i];
    }
    out[(*j)++] = '"';
    out[(*j)++] = '*';
    return true;
}

char *store_fts_query(const char *text)
{
    if (text == NULL)
        return NULL;
    size_t n = strlen(text);
    char *out = malloc(3 * n + 8);
    if (out == NULL)
        return NULL;
    size_t j = 0, i = 0;
    bool any = false;
    while (i < n) {
        while (i < n && (text[i] == ' ' || text[i] == '\t'))
            i++;
        size_t start = i;
        while (i < n && text[i] != ' ' && text[i] != '\t')
            i++;
        if (i > start)
            any = fts_word(text + start, i - start, out, &j) || any;
    }
    out[j] = '\0';
    if (!any) {
        free(out);
        return NULL;
    }
    return out;
}
