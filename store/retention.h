/* retention: a background thread that keeps the database and the per-call pcaps within an age
 * and a size, so a capture server can run for months. */
#ifndef SIPSCOPE_RETENTION_H
#define SIPSCOPE_RETENTION_H

#include <stdint.h>

typedef struct retention retention_t;

typedef struct {
    const char *db_path;     /* database to prune (own connection) */
    const char *pcap_dir;    /* per-call pcaps to prune, NULL = none */
    uint32_t max_age_days;   /* 0 = no age limit */
    uint64_t max_db_bytes;   /* 0 = no size limit */
    uint64_t max_pcap_bytes; /* 0 = no size limit */
    uint32_t interval_s;     /* how often (default 60) */
} retention_cfg_t;

/* NULL when nothing is to be retained (all limits 0) or the thread cannot start. */
retention_t *retention_start(const retention_cfg_t *cfg);
/* Stop and join (a pass in progress finishes its current slice). NULL is a no-op. */
void retention_stop(retention_t *r);

/* One pass over the pcap directory: remove hour folders older than the age limit, then the
 * oldest hour folders until the total fits max_bytes. The total is what the files take on disk
 * (st_blocks: compressed files count compressed, whole blocks, sparse holes not at all).
 * Returns files removed. (Exposed for tests.) */
uint64_t retention_prune_pcaps(const char *dir, int64_t older_than_ns, uint64_t max_bytes);

#endif
