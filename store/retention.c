/* retention: periodic pruning of the store and of the per-call pcap tree. */
#include "retention.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "store.h"

struct retention {
    retention_cfg_t cfg;
    char db_path[4096], pcap_dir[4096];
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
};

/* The per-call tree is DIR/YYYY-MM-DD/HH/ID.pcap (or ID.pcap.gz): hour folders sort by name in
 * time order. */
typedef struct {
    char path[4200];
    int64_t start_ns; /* the hour's start */
    uint64_t bytes;
} hour_dir_t;

static int64_t hour_start_ns(const char *day, const char *hour)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    int y, m, d, h;
    if (sscanf(day, "%4d-%2d-%2d", &y, &m, &d) != 3 || sscanf(hour, "%2d", &h) != 1)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    return (int64_t)timegm(&tm) * 1000000000;
}

static uint64_t dir_bytes(const char *path, uint64_t *files)
{
    uint64_t total = 0;
    DIR *d = opendir(path);
    if (d == NULL)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char f[4400];
        struct stat st;
        if (snprintf(f, sizeof(f), "%s/%s", path, e->d_name) < (int)sizeof(f) &&
            stat(f, &st) == 0 && S_ISREG(st.st_mode)) {
            /* What the file takes on disk (blocks): a gzip file's compressed size rounded to
             * whole blocks, and nothing for the holes of a sparse file. */
            total += (uint64_t)st.st_blocks * 512;
            if (files)
                (*files)++;
        }
    }
    closedir(d);
    return total;
}

static uint64_t remove_hour(const char *path)
{
    uint64_t removed = 0;
    DIR *d = opendir(path);
    if (d == NULL)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char f[4400];
        if (snprintf(f, sizeof(f), "%s/%s", path, e->d_name) < (int)sizeof(f) && unlink(f) == 0)
            removed++;
    }
    closedir(d);
    rmdir(path);
    return removed;
}

static int cmp_hour(const void *a, const void *b)
{
    int64_t x = ((const hour_dir_t *)a)->start_ns, y = ((const hour_dir_t *)b)->start_ns;
    return (x > y) - (x < y);
}

uint64_t retention_prune_pcaps(const char *dir, int64_t older_than_ns, uint64_t max_bytes)
{
    size_t n = 0, cap = 64;
    hour_dir_t *hours = malloc(cap * sizeof(*hours));
    DIR *top = opendir(dir);
    if (top == NULL || hours == NULL) {
        if (top)
            closedir(top);
        free(hours);
        return 0;
    }
    struct dirent *day;
    uint64_t total = 0;
    while ((day = readdir(top)) != NULL) {
        if (day->d_name[0] == '.' || strlen(day->d_name) != 10)
            continue;
        char day_path[4200];
        if (snprintf(day_path, sizeof(day_path), "%s/%s", dir, day->d_name) >=
            (int)sizeof(day_path))
            continue;
        DIR *dd = opendir(day_path);
        if (dd == NULL)
            continue;
        struct dirent *hour;
        while ((hour = readdir(dd)) != NULL) {
            int64_t start = hour_start_ns(day->d_name, hour->d_name);
            if (hour->d_name[0] == '.' || strlen(hour->d_name) != 2 || start < 0)
                continue;
            if (n == cap) {
                hour_dir_t *bigger = realloc(hours, 2 * cap * sizeof(*hours));
                if (bigger == NULL)
                    break;
                hours = bigger;
                cap *= 2;
            }
            hour_dir_t *h = &hours[n];
            if (snprintf(h->path, sizeof(h->path), "%s/%s", day_path, hour->d_name) >=
                (int)sizeof(h->path))
                continue;
            h->start_ns = start;
            h->bytes = dir_bytes(h->path, NULL);
            total += h->bytes;
            n++;
        }
        closedir(dd);
    }
    closedir(top);
    qsort(hours, n, sizeof(*hours), cmp_hour);
    uint64_t removed = 0;
    for (size_t i = 0; i < n; i++) {
        /* An hour folder goes when all of it is past the age limit, or while over the size. */
        bool too_old =
            older_than_ns > 0 && hours[i].start_ns + 3600LL * 1000000000 <= older_than_ns;
        bool too_big = max_bytes > 0 && total > max_bytes && i + 1 < n; /* keep the newest hour */
        if (!too_old && !too_big)
            break;
        removed += remove_hour(hours[i].path);
        total -= hours[i].bytes;
    }
    /* Empty day folders go too. */
    for (size_t i = 0; i < n; i++) {
        char *slash = strrchr(hours[i].path, '/');
        if (slash != NULL) {
            *slash = '\0';
            rmdir(hours[i].path); /* fails while not empty: fine */
        }
    }
    free(hours);
    return removed;
}

static void prune_once(retention_t *r)
{
    int64_t cutoff = 0;
    if (r->cfg.max_age_days > 0)
        cutoff = ((int64_t)time(NULL) - (int64_t)r->cfg.max_age_days * 86400) * 1000000000;
    if (r->pcap_dir[0] != '\0' && (cutoff > 0 || r->cfg.max_pcap_bytes > 0)) {
        uint64_t files = retention_prune_pcaps(r->pcap_dir, cutoff, r->cfg.max_pcap_bytes);
        if (files > 0)
            log_info("retention: removed %llu per-call pcaps", (unsigned long long)files);
    }
    if (r->cfg.max_age_days > 0 || r->cfg.max_db_bytes > 0) {
        store_t *s = NULL;
        if (store_open(r->db_path, &s) == 0) {
            int64_t deleted = 0;
            if (store_prune(s, cutoff, (int64_t)r->cfg.max_db_bytes, &deleted) != 0)
                log_warn("retention: %s", store_errmsg(s));
            else if (deleted > 0)
                log_info("retention: removed %lld calls from the database", (long long)deleted);
        } else {
            log_warn("retention: %s: %s", r->db_path, store_errmsg(s));
        }
        store_close(s);
    }
}

static void *retention_main(void *arg)
{
    retention_t *r = arg;
    pthread_mutex_lock(&r->lock);
    while (!r->stopping) {
        pthread_mutex_unlock(&r->lock);
        prune_once(r);
        pthread_mutex_lock(&r->lock);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += r->cfg.interval_s ? r->cfg.interval_s : 60;
        while (!r->stopping && pthread_cond_timedwait(&r->wake, &r->lock, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

retention_t *retention_start(const retention_cfg_t *cfg)
{
    if (cfg->max_age_days == 0 && cfg->max_db_bytes == 0 && cfg->max_pcap_bytes == 0)
        return NULL;
    retention_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->cfg = *cfg;
    snprintf(r->db_path, sizeof(r->db_path), "%s", cfg->db_path ? cfg->db_path : "");
    snprintf(r->pcap_dir, sizeof(r->pcap_dir), "%s", cfg->pcap_dir ? cfg->pcap_dir : "");
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->wake, NULL);
    if (pthread_create(&r->thread, NULL, retention_main, r) != 0) {
        free(r);
        return NULL;
    }
    return r;
}

void retention_stop(retention_t *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->lock);
    r->stopping = true;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->wake);
    free(r);
}
