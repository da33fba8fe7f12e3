/* alerts: `sipscope alerts`, the sources of security alerts as a blocklist (text, JSON,
 * nftables or fail2ban log lines), read from the store. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "commands.h"
#include "defs.h"
#include "log.h"
#include "store.h"

static const char alerts_usage[] =
    "usage: sipscope alerts [--db PATH] [--since T] [--type TYPE[,TYPE...]]\n"
    "                       [--format text|json|nft|fail2ban]\n"
    "\n"
    "Print the sources that raised security alerts (REGISTER and INVITE floods, password\n"
    "guessing, user enumeration, scanners, unusual destinations), one per source with its\n"
    "alerts merged, most recent first. docs/security.md describes the detectors.\n"
    "\n"
    "  --db PATH     database written by analyze, capture or run (default ./sipscope.db)\n"
    "  --since T     only alerts active at or after T: epoch seconds, a UTC date\n"
    "                (2024-01-15, 2024-01-15T10:30[:00][Z]) or a duration back from now\n"
    "                (90s, 30m, 2h, 7d)\n"
    "  --type TYPES  only these alert types: register_flood, invite_flood, auth_failure,\n"
    "                user_enumeration, unusual_destination, scanner\n"
    "  --format F    text (default): a table, then the accounts attacked from many sources;\n"
    "                json: {\"sources\": [...], \"targets\": [...]};\n"
    "                nft: an nftables script (nft -f) with a drop rule for the sources;\n"
    "                fail2ban: one log line per source for a fail2ban jail\n"
    "  -h, --help    this text\n";

typedef enum { FMT_TEXT, FMT_JSON, FMT_NFT, FMT_FAIL2BAN } format_t;

/* One alert as read, with copies of its strings. */
typedef struct {
    alert_record_t r;
    char source[NET_ADDR_STRLEN];
    char target[128], ua[64];
} row_t;

typedef struct {
    row_t *rows;
    size_t n, cap;
    bool oom;
} rows_t;

static int collect(void *ctx, const alert_record_t *a)
{
    rows_t *rs = ctx;
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 256;
        row_t *bigger = realloc(rs->rows, cap * sizeof(*bigger));
        if (bigger == NULL) {
            rs->oom = true;
            return -ENOMEM;
        }
        rs->rows = bigger;
        rs->cap = cap;
    }
    row_t *r = &rs->rows[rs->n++];
    r->r = *a;
    r->source[0] = '\0';
    if (a->source.family != 0)
        net_addr_str(&a->source, r->source, sizeof(r->source));
    snprintf(r->target, sizeof(r->target), "%s", a->target ? a->target : "");
    snprintf(r->ua, sizeof(r->ua), "%s", a->user_agent ? a->user_agent : "");
    r->r.target = r->target;
    r->r.user_agent = r->ua;
    return 0;
}

/* A source with its alerts merged. */
typedef struct {
    const char *source; /* points into a row */
    int family;
    unsigned types, indicators;
    alert_type_t worst;
    size_t alerts;
    uint64_t count;
    int64_t first_ns, last_ns;
    const char *target, *ua; /* of its most recent alert */
    bool open;
} agg_t;

static int by_source(const void *a, const void *b)
{
    const row_t *x = a, *y = b;
    int c = strcmp(x->source, y->source);
    if (c != 0)
        return c;
    return x->r.last_ns > y->r.last_ns ? -1 : x->r.last_ns < y->r.last_ns;
}

static int by_last_desc(const void *a, const void *b)
{
    const agg_t *x = a, *y = b;
    if (x->last_ns != y->last_ns)
        return x->last_ns > y->last_ns ? -1 : 1;
    return strcmp(x->source, y->source);
}

/* Merge the rows with a source (sorted by source) into aggs; returns how many. */
static size_t merge(row_t *rows, size_t n, agg_t *aggs)
{
    size_t k = 0;
    if (n == 0)
        return 0;
    qsort(rows, n, sizeof(*rows), by_source);
    for (size_t i = 0; i < n; i++) {
        const row_t *r = &rows[i];
        if (r->source[0] == '\0')
            continue;
        agg_t *g = k > 0 && strcmp(aggs[k - 1].source, r->source) == 0 ? &aggs[k - 1] : NULL;
        if (g == NULL) {
            g = &aggs[k++];
            memset(g, 0, sizeof(*g));
            g->source = r->source;
            g->family = r->r.source.family;
            g->worst = r->r.type;
            g->first_ns = r->r.first_ns;
            g->last_ns = r->r.last_ns;
            g->target = r->target; /* rows of a source come newest first */
            g->ua = r->ua;
        }
        g->types |= 1u << r->r.type;
        g->indicators |= r->r.indicators;
        if (r->r.type < g->worst)
            g->worst = r->r.type;
        g->alerts++;
        g->count += r->r.count;
        g->open |= r->r.open;
        if (r->r.first_ns < g->first_ns)
            g->first_ns = r->r.first_ns;
        if (r->r.last_ns > g->last_ns)
            g->last_ns = r->r.last_ns;
        if (g->ua[0] == '\0')
            g->ua = r->ua;
    }
    qsort(aggs, k, sizeof(*aggs), by_last_desc);
    return k;
}

/* "2024-01-15T10:00:23Z" */
static const char *iso_time(int64_t ns, char *buf, size_t cap)
{
    time_t t = (time_t)(ns / 1000000000);
    struct tm tm;
    if (ns <= 0 || gmtime_r(&t, &tm) == NULL || strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, cap, "-");
    return buf;
}

static double epoch_s(int64_t ns)
{
    return (double)(ns / 1000000000) + (double)(ns % 1000000000) / 1e9;
}

/* "register_flood,scanner" into buf. */
static const char *type_list(unsigned types, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int t = 0; t < ALERT_TYPE_COUNT; t++) {
        if (!(types & (1u << t)))
            continue;
        int n = snprintf(buf + len, cap - len, "%s%s", len ? "," : "",
                         alert_type_name((alert_type_t)t));
        if (n < 0 || (size_t)n >= cap - len)
            break;
        len += (size_t)n;
    }
    return buf;
}

static const char *indicator_list(unsigned bits, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int d = 0; d < ALERT_DET_COUNT; d++) {
        if (!(bits & (1u << d)))
            continue;
        int n = snprintf(buf + len, cap - len, "%s%s", len ? "," : "",
                         alert_detector_name((alert_detector_t)d));
        if (n < 0 || (size_t)n >= cap - len)
            break;
        len += (size_t)n;
    }
    return buf;
}

static void print_text(const agg_t *aggs, size_t k, const rows_t *rs)
{
    char first[32], last[32], types[160], ind[256];
    printf("%-39s %-20s %6s %9s  %-20s  %-20s  %s\n", "SOURCE", "TYPE", "ALERTS", "REQUESTS",
           "FIRST (UTC)", "LAST (UTC)", "DETECTORS / TARGET / USER-AGENT");
    for (size_t i = 0; i < k; i++) {
        const agg_t *g = &aggs[i];
        printf("%-39s %-20s %6zu %9llu  %-20s  %-20s  %s%s / %s / %s\n", g->source,
               type_list(1u << g->worst, types, sizeof(types)), g->alerts,
               (unsigned long long)g->count, iso_time(g->first_ns, first, sizeof(first)),
               iso_time(g->last_ns, last, sizeof(last)),
               indicator_list(g->indicators, ind, sizeof(ind)), g->open ? " (ongoing)" : "",
               g->target[0] ? g->target : "-", g->ua[0] ? g->ua : "-");
    }
    bool header = false;
    for (size_t i = 0; i < rs->n; i++) {
        const row_t *r = &rs->rows[i];
        if (r->source[0] != '\0')
            continue;
        if (!header)
            printf("\nAccounts attacked from many sources:\n%-40s %9s %8s  %-20s  %s\n", "TARGET",
                   "FAILURES", "SOURCES", "FIRST (UTC)", "LAST (UTC)");
        header = true;
        printf("%-40s %9llu %8u  %-20s  %s\n", r->target, (unsigned long long)r->r.count,
               r->r.distinct_sources, iso_time(r->r.first_ns, first, sizeof(first)),
               iso_time(r->r.last_ns, last, sizeof(last)));
    }
    if (k == 0 && !header)
        printf("(no alerts)\n");
}

static json_t *names_json(unsigned bits, bool detectors)
{
    json_t *a = json_array();
    int n = detectors ? ALERT_DET_COUNT : ALERT_TYPE_COUNT;
    for (int i = 0; i < n; i++)
        if (bits & (1u << i))
            json_array_append_new(a,
                                  json_string(detectors ? alert_detector_name((alert_detector_t)i)
                                                        : alert_type_name((alert_type_t)i)));
    return a;
}

static int print_json(const agg_t *aggs, size_t k, const rows_t *rs)
{
    json_t *root = json_object(), *sources = json_array(), *targets = json_array();
    for (size_t i = 0; i < k; i++) {
        const agg_t *g = &aggs[i];
        json_t *o = json_object();
        json_object_set_new(o, "source", json_string(g->source));
        json_object_set_new(o, "type", json_string(alert_type_name(g->worst)));
        json_object_set_new(o, "types", names_json(g->types, false));
        json_object_set_new(o, "indicators", names_json(g->indicators, true));
        json_object_set_new(o, "alerts", json_integer((json_int_t)g->alerts));
        json_object_set_new(o, "count", json_integer((json_int_t)g->count));
        json_object_set_new(o, "first_time", json_real(epoch_s(g->first_ns)));
        json_object_set_new(o, "last_time", json_real(epoch_s(g->last_ns)));
        json_object_set_new(o, "open", json_boolean(g->open));
        json_object_set_new(o, "target", json_string(g->target));
        json_object_set_new(o, "user_agent", json_string(g->ua));
        json_array_append_new(sources, o);
    }
    for (size_t i = 0; i < rs->n; i++) {
        const row_t *r = &rs->rows[i];
        if (r->source[0] != '\0')
            continue;
        json_t *o = json_object();
        json_object_set_new(o, "target", json_string(r->target));
        json_object_set_new(o, "type", json_string(alert_type_name(r->r.type)));
        json_object_set_new(o, "count", json_integer((json_int_t)r->r.count));
        json_object_set_new(o, "sources", json_integer(r->r.distinct_sources));
        json_object_set_new(o, "first_time", json_real(epoch_s(r->r.first_ns)));
        json_object_set_new(o, "last_time", json_real(epoch_s(r->r.last_ns)));
        json_object_set_new(o, "open", json_boolean(r->r.open));
        json_array_append_new(targets, o);
    }
    json_object_set_new(root, "sources", sources);
    json_object_set_new(root, "targets", targets);
    int rc = json_dumpf(root, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    json_decref(root);
    if (rc == 0)
        fputc('\n', stdout);
    return rc;
}

/* An nftables script: the sources in two sets (IPv4, IPv6) and a drop rule in an input chain
 * of its own table. "table ...; delete table ..." first makes reloading idempotent. */
static void print_nft(const agg_t *aggs, size_t k, int64_t since_ns)
{
    char when[32];
    size_t n4 = 0, n6 = 0;
    for (size_t i = 0; i < k; i++)
        if (aggs[i].family == 4)
            n4++;
        else
            n6++;
    printf("#!/usr/sbin/nft -f\n"
           "# sipscope alerts: %zu sources%s%s\n"
           "table inet sipscope {}\n"
           "delete table inet sipscope\n"
           "table inet sipscope {\n",
           k, since_ns ? " active since " : "",
           since_ns ? iso_time(since_ns, when, sizeof(when)) : "");
    for (int fam = 4; fam <= 6; fam += 2) {
        printf("    set blocklist_v%d {\n        type ipv%d_addr\n", fam, fam);
        if ((fam == 4 ? n4 : n6) > 0) {
            printf("        elements = {");
            size_t j = 0;
            for (size_t i = 0; i < k; i++) {
                if (aggs[i].family != fam)
                    continue;
                printf("%s\n            %s", j++ ? "," : "", aggs[i].source);
            }
            printf("\n        }\n");
        }
        printf("    }\n");
    }
    printf("    chain input {\n"
           "        type filter hook input priority -10; policy accept;\n"
           "        ip saddr @blocklist_v4 drop\n"
           "        ip6 saddr @blocklist_v6 drop\n"
           "    }\n"
           "}\n");
}

/* One line per source, dated by its last alert, for a jail with
 * failregex = ^ sipscope alert \S+ from <HOST> (docs/security.md). */
static void print_fail2ban(const agg_t *aggs, size_t k)
{
    char last[32], types[160];
    for (size_t i = 0; i < k; i++) {
        const agg_t *g = &aggs[i];
        printf("%s sipscope alert %s from %s types=%s count=%llu\n",
               iso_time(g->last_ns, last, sizeof(last)), alert_type_name(g->worst), g->source,
               type_list(g->types, types, sizeof(types)), (unsigned long long)g->count);
    }
}

/* T as epoch seconds, a UTC date/time, or a duration back from now; false if none of them. */
static bool parse_since(const char *text, int64_t *out_ns)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (end != text && errno == 0 && isfinite(v) && v >= 0) {
        static const struct {
            char unit;
            double seconds;
        } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 604800}};
        if (*end == '\0') {
            *out_ns = (int64_t)llround(v * 1e9);
            return v > 0;
        }
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            if (end[0] == units[i].unit && end[1] == '\0' && strchr(text, '-') == NULL) {
                struct timespec now;
                clock_gettime(CLOCK_REALTIME, &now);
                double back = v * units[i].seconds;
                *out_ns =
                    (int64_t)now.tv_sec * 1000000000 + now.tv_nsec - (int64_t)llround(back * 1e9);
                return true;
            }
        }
    }
    static const char *const forms[] = {"%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S",
                                        "%Y-%m-%dT%H:%MZ",    "%Y-%m-%dT%H:%M",
                                        "%Y-%m-%d %H:%M:%S",  "%Y-%m-%d"};
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        struct tm tm;
        memset(&tm, 0, sizeof(tm));
        const char *rest = strptime(text, forms[i], &tm);
        if (rest != NULL && *rest == '\0') {
            *out_ns = (int64_t)timegm(&tm) * 1000000000;
            return true;
        }
    }
    return false;
}

static bool parse_types(const char *text, unsigned *mask)
{
    *mask = 0;
    const char *p = text;
    while (*p) {
        size_t n = strcspn(p, ",");
        bool found = false;
        for (int t = 0; t < ALERT_TYPE_COUNT; t++) {
            const char *name = alert_type_name((alert_type_t)t);
            if (strlen(name) == n && strncmp(p, name, n) == 0) {
                *mask |= 1u << t;
                found = true;
            }
        }
        if (!found && n > 0)
            return false;
        p += n;
        if (*p == ',')
            p++;
    }
    return *mask != 0;
}

static bool parse_format(const char *text, format_t *out)
{
    static const struct {
        const char *name;
        format_t format;
    } formats[] = {
        {"text", FMT_TEXT}, {"json", FMT_JSON}, {"nft", FMT_NFT}, {"fail2ban", FMT_FAIL2BAN}};
    for (size_t i = 0; i < ARRAY_LEN(formats); i++) {
        if (strcmp(text, formats[i].name) == 0) {
            *out = formats[i].format;
            return true;
        }
    }
    return false;
}

/* The merged alerts in format. 0, or -1 when the JSON could not be written. */
static int print_alerts(format_t format, const agg_t *aggs, size_t k, const rows_t *rs,
                        int64_t since_ns)
{
    switch (format) {
        case FMT_TEXT:
            print_text(aggs, k, rs);
            return 0;
        case FMT_JSON:
            return print_json(aggs, k, rs) != 0 ? -1 : 0;
        case FMT_NFT:
            print_nft(aggs, k, since_ns);
            return 0;
        case FMT_FAIL2BAN:
            print_fail2ban(aggs, k);
            return 0;
    }
    return 0;
}

int cmd_alerts(int argc, char **argv)
{
    enum { OPT_DB = 256, OPT_SINCE, OPT_TYPE, OPT_FORMAT };
    static const struct option options[] = {
        {"db", required_argument, NULL, OPT_DB},
        {"since", required_argument, NULL, OPT_SINCE},
        {"type", required_argument, NULL, OPT_TYPE},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_path = "sipscope.db";
    store_alert_filter_t filter = {0};
    format_t format = FMT_TEXT;
    int opt;
    optind = 1;
    while ((opt = cli_getopt(argc, argv, "h", options, "alerts")) != -1) {
        switch (opt) {
            case OPT_DB:
                db_path = optarg;
                break;
            case OPT_SINCE:
                if (!parse_since(optarg, &filter.since_ns)) {
                    log_error("alerts: --since: not a time or duration: %s", optarg);
                    fputs("Try 'sipscope alerts --help'.\n", stderr);
                    return EXIT_USAGE;
                }
                break;
            case OPT_TYPE:
                if (!parse_types(optarg, &filter.type_mask)) {
                    log_error("alerts: --type: unknown alert type in %s", optarg);
                    fputs("Try 'sipscope alerts --help'.\n", stderr);
                    return EXIT_USAGE;
                }
                break;
            case OPT_FORMAT:
                if (!parse_format(optarg, &format)) {
                    log_error("alerts: --format: expected text, json, nft or fail2ban: %s", optarg);
                    fputs("Try 'sipscope alerts --help'.\n", stderr);
                    return EXIT_USAGE;
                }
                break;
            case 'h':
                fputs(alerts_usage, stdout);
                return EXIT_SUCCESS;
            default: /* reported by cli_getopt */
                return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        log_error("alerts: unexpected argument: %s", argv[optind]);
        fputs("Try 'sipscope alerts --help'.\n", stderr);
        return EXIT_USAGE;
    }
    /* Blocklists hold sources only; per-AOR alerts have none. */
    filter.with_source = format == FMT_NFT || format == FMT_FAIL2BAN;

    store_opts_t opts = {.read_only = true};
    store_t *store = NULL;
    if (store_open_opts(db_path, &opts, &store) != 0) {
        log_error("alerts: %s: %s", db_path, cli_store_why(db_path, store));
        store_close(store);
        return EXIT_RUNTIME;
    }
    int status = EXIT_RUNTIME;
    rows_t rs = {0};
    agg_t *aggs = NULL;
    int rc = store_query_alert_records(store, &filter, -1, 0, collect, &rs, NULL);
    if (rc != 0) {
        log_error("alerts: %s: %s", db_path,
                  rs.oom ? "out of memory" : cli_store_why(db_path, store));
        goto out;
    }
    aggs = calloc(rs.n ? rs.n : 1, sizeof(*aggs));
    if (aggs == NULL) {
        log_error("alerts: out of memory");
        goto out;
    }
    size_t k = merge(rs.rows, rs.n, aggs);
    if (print_alerts(format, aggs, k, &rs, filter.since_ns) != 0) {
        log_error("alerts: writing JSON failed");
        goto out;
    }
    status = fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_RUNTIME;
out:
    free(aggs);
    free(rs.rows);
    store_close(store);
    return status;
}
