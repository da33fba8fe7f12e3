/* secmon: security monitor: REGISTER bindings per AOR and attack detectors over sliding windows
 * (floods, password guessing, user enumeration, scanners, unusual destinations), in bounded
 * tables with eviction counters. docs/security.md explains the detectors and their tuning. */
#ifndef SIPSCOPE_SECMON_H
#define SIPSCOPE_SECMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "packet_view.h"
#include "records.h"
#include "sip.h"
#include "netaddr.h"

typedef struct secmon secmon_t;

/* Configurable lists are copied into the config, so a config is a plain value. */
#define SECMON_LIST_MAX    48 /* entries per list */
#define SECMON_ITEM_MAX    40 /* bytes per entry, NUL included */
#define SECMON_TRUSTED_MAX 32

typedef struct {
    size_t n;
    char item[SECMON_LIST_MAX][SECMON_ITEM_MAX];
} secmon_list_t;

/* An address prefix: addr/bits (IPv4 bits <= 32, IPv6 <= 128). */
typedef struct {
    net_addr_t addr;
    uint8_t bits;
} secmon_prefix_t;

/* Every field has a default (secmon_cfg_init); a zero count or size means the default in
 * secmon_new too. Windows use capture time. Thresholds are ">= value". */
typedef struct {
    /* Memory: fixed-size tables allocated once by secmon_new. */
    size_t max_sources;       /* source IPs tracked (32768); least recently active evicted */
    size_t max_aors;          /* AORs with their bindings (16384); LRU, AORs without an
                               * active binding go first */
    size_t max_alerts;        /* alerts open at once (4096); more are counted, not raised */
    uint32_t max_new_per_min; /* new alerts, and first rows of bindings that never
                               * registered, per minute of capture time (1000): caps what a
                               * spoofed flood can write to the store */
    /* Time. */
    uint32_t idle_s;              /* a source (or attacked AOR) quiet this long ends its
                                   * episode: the alert closes, the tracker is freed (120) */
    uint32_t alert_update_s;      /* an open alert is re-emitted at most this often (10) */
    uint32_t reg_update_s;        /* a changed binding is re-emitted at most this often (60),
                                   * except for state changes, which are emitted at once */
    uint32_t reg_linger_s;        /* inactive bindings are forgotten after this long (300) */
    uint32_t reg_default_expires; /* when REGISTER asks for none (3600, RFC 3261 10.2.1.1) */
    /* Detectors. */
    uint32_t rate_window_s;         /* flood window (10) */
    uint32_t register_flood;        /* REGISTERs from one source in rate_window_s (50) */
    uint32_t invite_flood;          /* initial INVITEs from one source in rate_window_s (50) */
    uint32_t auth_window_s;         /* window of the failure and distinct-count detectors (60) */
    uint32_t auth_failures;         /* auth failures of one source in auth_window_s (10) ... */
    double fail_ratio;              /* ... that are at least this share of its final answers
                                     * (0.5); also applies to user_enumeration */
    uint32_t enum_users;            /* distinct users failed from one source in auth_window_s (10);
                                     * at most SECMON_DISTINCT_MAX */
    uint32_t sweep_targets;         /* distinct OPTIONS destinations of one source in
                                     * auth_window_s (10); at most SECMON_DISTINCT_MAX */
    uint32_t target_failures;       /* auth failures against one AOR in auth_window_s (20) ... */
    uint32_t target_sources;        /* ... from at least this many sources (3; at most 8) */
    uint32_t scanner_requests;      /* requests with a scanner User-Agent before alerting (1) */
    uint32_t unusual_calls;         /* INVITEs to unusual destinations before alerting (1) */
    bool unusual_any_international; /* every number with an intl_prefix is unusual (false) */
    secmon_list_t scanner_agents;   /* User-Agent substrings, ASCII case-insensitive */
    secmon_list_t intl_prefixes;    /* international dialling prefixes ("+", "00", "011") */
    secmon_list_t unusual_codes;    /* country/network codes after an intl prefix that are
                                     * unusual (premium, satellite, fraud-prone ranges) */
    size_t n_trusted;
    secmon_prefix_t trusted[SECMON_TRUSTED_MAX]; /* sources never treated as offenders (your
                                                  * SBCs, proxies, carriers); empty */
    uint64_t hash_seed; /* seed of the hash tables (0: drawn at secmon_new) and of the
                         * distinct counts (0: fixed) */
} secmon_cfg_t;

#define SECMON_DISTINCT_MAX 32

/* The defaults above, including the default lists. */
void secmon_cfg_init(secmon_cfg_t *cfg);

/* Set one field by name, as "--secmon KEY=VALUE" would: a number field by its name above
 * ("register_flood", "idle_s", "fail_ratio", ...), "unusual_any_international" with 0/1, or a
 * list: "scanner_agents", "intl_prefixes", "unusual_codes", "trusted" (comma-separated; the
 * value replaces the list, "" empties it; "+=" instead of "=" appends: secmon_cfg_set(cfg,
 * "trusted+", "10.0.0.0/8")). Returns 0, or -EINVAL for an unknown key or a bad value (then
 * cfg is unchanged). key and value are borrowed. */
int secmon_cfg_set(secmon_cfg_t *cfg, const char *key, const char *value);

/* Where results go; callbacks may be NULL and must not call back into secmon. Records and their
 * strings are borrowed for the duration of the callback.
 * on_registration: a binding's state, when it first gets a final answer other than a challenge,
 *   when it becomes active or inactive (2xx, Expires: 0, lapse), when its status or source
 *   changes, at most every reg_update_s while it keeps changing, and once more when it is
 *   forgotten (linger, eviction, flush). Upsert it by (aor, contact).
 * on_alert: when raised, when its type changes, at most every alert_update_s while it grows,
 *   and when it closes (open false). Upsert it by id. */
typedef struct {
    void *ctx;
    void (*on_registration)(void *ctx, const registration_record_t *reg);
    void (*on_alert)(void *ctx, const alert_record_t *alert);
} secmon_sink_t;

/* Counters, all monotonic except live_*, open_alerts and bytes. */
typedef struct {
    uint64_t requests, responses; /* SIP messages seen */
    uint64_t responses_unmatched; /* answers to no tracked source and no known AOR */
    uint64_t trusted;             /* requests from trusted sources (not tracked) */
    uint64_t sources_created, sources_expired, sources_evicted;
    uint64_t sources_refused; /* hash chain at its cap (hostile collisions) */
    uint64_t aors_created, aors_expired, aors_evicted;
    uint64_t aors_refused;      /* hash chain at its cap (hostile collisions) */
    uint64_t bindings_replaced; /* a new contact pushed out an AOR's least recent one */
    uint64_t registrations_emitted;
    uint64_t registrations_suppressed; /* first rows of failed bindings over max_new_per_min */
    uint64_t alerts_raised, alerts_updated, alerts_closed;
    uint64_t alerts_by_type[ALERT_TYPE_COUNT]; /* alerts that took each type (raised with it
                                                * or upgraded to it) */
    uint64_t alerts_suppressed; /* over max_new_per_min (once per source and minute) */
    uint64_t alerts_dropped;    /* alert table full (once per source and minute) */
    size_t live_sources, live_aors, open_alerts;
    size_t bytes; /* memory held by the module (fixed at secmon_new) */
} secmon_stats_t;

/* NULL on allocation failure or a bad config; caller frees with secmon_free (which emits
 * nothing: call secmon_flush first). cfg (NULL = defaults) and sink are copied. */
secmon_t *secmon_new(const secmon_cfg_t *cfg, const secmon_sink_t *sink);
void secmon_free(secmon_t *m);
/* Alert ids count up from 1 unless set here (store_next_alert_id) before the first message. */
void secmon_set_first_alert_id(secmon_t *m, int64_t first_id);

/* Every SIP message, requests and responses, in capture order. pkt gives the time and the
 * addresses (pkt->raw is not used); msg is borrowed for the call. A response counts for the
 * source it is sent to (its destination address), which sent the request. msg_id is the
 * message's sip_messages.id, kept in alert samples, or 0 when unknown. */
void secmon_on_sip(secmon_t *m, const packet_view_t *pkt, const sip_msg_t *msg, int64_t msg_id);
/* Advance capture time: close quiet episodes, lapse expired bindings, re-emit what is due.
 * Cheap (bounded work per call); call it as corr_tick, e.g. every 100 ms of capture time. */
void secmon_tick(secmon_t *m, int64_t now_ns);
/* End of input: close every open alert and emit every binding as it stands; the tables are
 * empty afterwards. */
void secmon_flush(secmon_t *m);
const secmon_stats_t *secmon_stats(const secmon_t *m);

#endif
