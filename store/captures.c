/* captures: the capture files analysed into a database, so that the same capture is recognised
 * and not stored twice (table captures; the identity is defined in store.h). */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "clock.h"
#include "defs.h"
#include "hash.h"
#include "log.h"
#include "store_int.h"

/* ---- Identity ---- */

/* Up to cap bytes from the start of fd; -errno on a read error. */
static ssize_t read_head(int fd, uint8_t *buf, size_t cap)
{
    size_t got = 0;
    while (got < cap) {
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

int store_capture_identify(const char *path, char identity[STORE_CAPTURE_ID_LEN], int64_t *size)
{
    if (path == NULL || strcmp(path, "-") == 0)
        return -EINVAL;
    /* Look before opening: opening a FIFO would wait for its writer. */
    struct stat st;
    if (stat(path, &st) != 0)
        return errno ? -errno : -EIO;
    if (!S_ISREG(st.st_mode))
        return -EINVAL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno ? -errno : -EIO;
    uint8_t *head = NULL;
    int err = 0;
    if (fstat(fd, &st) != 0) {
        err = errno ? -errno : -EIO;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        err = -EINVAL;
        goto out;
    }
    head = malloc(STORE_CAPTURE_HEAD_BYTES);
    if (head == NULL) {
        err = -ENOMEM;
        goto out;
    }
    ssize_t n = read_head(fd, head, STORE_CAPTURE_HEAD_BYTES);
    if (n < 0) {
        err = (int)n;
        goto out;
    }
    /* Two 64-bit hashes with different seeds: 128 bits, far from any accidental collision
     * between captures of the same size. Not a defence against a forged file: whoever can
     * write captures can simply not analyse them. */
    uint64_t h1 = hash_bytes(head, (size_t)n, 0x73697073636f7065ULL); /* "sipscope" */
    uint64_t h2 = hash_bytes(head, (size_t)n, 0x6361707475726573ULL); /* "captures" */
    int len = snprintf(identity, STORE_CAPTURE_ID_LEN, "v1:%lld:%016" PRIx64 "%016" PRIx64,
                       (long long)st.st_size, h1, h2);
    if (len < 0 || len >= STORE_CAPTURE_ID_LEN) {
        err = -EOVERFLOW;
        goto out;
    }
    if (size != NULL)
        *size = (int64_t)st.st_size;
out:
    free(head);
    close(fd);
    return err;
}

/* ---- Rows ---- */

int store_put_capture(store_t *s, const store_capture_t *c)
{
    if (c == NULL || c->identity == NULL)
        return -EINVAL;
    int err = store_int_check_writable(s);
    if (err != 0)
        return err;
    sqlite3_stmt *st = NULL;
    err = store_int_prepare(s,
                            "INSERT INTO captures (identity, name, size, packets, first_time,"
                            " last_time, analysed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            &st);
    if (err != 0)
        return err;
    binder_t b = {.st = st};
    b_str(&b, c->identity);
    b_str(&b, c->name);
    b_i64(&b, c->size);
    b_i64(&b, c->packets > INT64_MAX ? INT64_MAX : (int64_t)c->packets);
    b_time(&b, c->first_ns);
    b_time(&b, c->last_ns);
    b_dbl(&b, store_int_ns_to_sec(c->analysed_ns));
    err = b.rc == SQLITE_OK ? store_int_run(s, st, "put capture")
                            : store_int_fail_sql(s, b.rc, "put capture");
    sqlite3_finalize(st);
    return err;
}

int store_foreach_capture(store_t *s, const char *identity, store_capture_cb cb, void *ctx)
{
    int err = store_int_check_open(s);
    if (err != 0)
        return err;
    sqlite3_stmt *st = NULL;
    err = store_int_prepare(s,
                            "SELECT id, identity, name, size, packets, first_time, last_time,"
                            " analysed_at FROM captures WHERE ?1 IS NULL OR identity = ?1"
                            " ORDER BY analysed_at DESC, id DESC",
                            &st);
    if (err != 0)
        return err;
    int rc =
        identity ? sqlite3_bind_text(st, 1, identity, -1, SQLITE_STATIC) : sqlite3_bind_null(st, 1);
    while (rc == SQLITE_OK && err == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_capture_t c = {
            .id = sqlite3_column_int64(st, 0),
            .identity = col_text(st, 1),
            .name = col_text(st, 2),
            .size = sqlite3_column_int64(st, 3),
            .packets = (uint64_t)sqlite3_column_int64(st, 4),
            .first_ns = col_time(st, 5),
            .last_ns = col_time(st, 6),
            .analysed_ns = col_time(st, 7),
        };
        err = cb(ctx, &c);
        rc = SQLITE_OK;
    }
    if (err == 0 && rc != SQLITE_DONE)
        err = store_int_fail_sql(s, rc, "read captures");
    sqlite3_finalize(st);
    return err;
}

/* The first row is the latest analysis: stop there. */
static int take_latest(void *ctx, const store_capture_t *c)
{
    *(int64_t *)ctx = c->analysed_ns;
    return 1;
}

int store_find_capture(store_t *s, const char *identity, int64_t *analysed_ns)
{
    if (identity == NULL)
        return -EINVAL;
    int64_t at = 0;
    int err = store_foreach_capture(s, identity, take_latest, &at);
    if (err < 0)
        return err;
    if (err == 0)
        return -ENOENT;
    if (analysed_ns != NULL)
        *analysed_ns = at;
    return 0;
}

/* ---- One analysis (analyze, run -r) ---- */

typedef struct {
    char identity[STORE_CAPTURE_ID_LEN];
    const char *name; /* borrowed: the caller's argv */
    int64_t size;
    uint64_t packets;
    int64_t first_ns, last_ns;
    bool read; /* store_capture_run_read said something was read and stored */
} run_file_t;

struct store_capture_run {
    store_t *store;
    bool force;
    run_file_t *files; /* the files wanted so far, in order */
    size_t n, cap;
    bool last_wanted; /* the latest store_capture_run_want added files[n - 1] */
};

int store_capture_run_new(const char *db_path, bool force, store_capture_run_t **out, char *err,
                          size_t errlen)
{
    *out = NULL;
    if (db_path == NULL || strcmp(db_path, ":memory:") == 0)
        return 0;
    store_capture_run_t *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    r->force = force;
    int rc = store_open(db_path, &r->store);
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s", db_path, store_errmsg(r->store));
        store_capture_run_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

/* "2024-01-15T10:00:00Z" (UTC, to the second) into buf. */
static void format_utc(int64_t ns, char *buf, size_t len)
{
    time_t t = (time_t)(ns / NS_PER_S);
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, len, "an unknown time");
}

static bool add_file(store_capture_run_t *r, const run_file_t *f)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 8;
        run_file_t *files = realloc(r->files, cap * sizeof(*files));
        if (files == NULL)
            return false;
        r->files = files;
        r->cap = cap;
    }
    r->files[r->n++] = *f;
    return true;
}

bool store_capture_run_want(store_capture_run_t *r, const char *path)
{
    if (r == NULL)
        return true;
    r->last_wanted = false;
    run_file_t f = {.name = path};
    /* Not identifiable (stdin, a pipe) or not readable: read it; the reader says what is
     * wrong with it. */
    if (store_capture_identify(path, f.identity, &f.size) != 0)
        return true;
    if (!r->force) {
        int64_t at = 0;
        int rc = store_find_capture(r->store, f.identity, &at);
        if (rc == 0) {
            char when[32];
            format_utc(at, when, sizeof(when));
            log_warn("%s: already in DB (analysed at %s); skipped (use --force to analyse it "
                     "again)",
                     path, when);
            return false;
        }
        if (rc != -ENOENT)
            log_warn("%s: cannot tell whether it is already in the database: %s", path,
                     store_errmsg(r->store));
        for (size_t i = 0; i < r->n; i++) {
            if (strcmp(r->files[i].identity, f.identity) == 0) {
                log_warn("%s: the same capture as %s, read before; skipped (use --force to "
                         "analyse it again)",
                         path, r->files[i].name);
                return false;
            }
        }
    }
    /* Out of memory: read it all the same, unrecorded. */
    r->last_wanted = add_file(r, &f);
    return true;
}

void store_capture_run_read(store_capture_run_t *r, int rc, uint64_t packets, int64_t first_ns,
                            int64_t last_ns)
{
    if (r == NULL || !r->last_wanted)
        return;
    r->last_wanted = false;
    run_file_t *f = &r->files[r->n - 1];
    f->packets = packets;
    f->first_ns = first_ns;
    f->last_ns = last_ns;
    f->read = rc == 0 || packets > 0;
}

int store_capture_run_commit(store_capture_run_t *r, char *err, size_t errlen)
{
    if (r == NULL)
        return 0;
    int64_t now = clock_ns(CLOCK_REALTIME);
    for (size_t i = 0; i < r->n; i++) {
        const run_file_t *f = &r->files[i];
        if (!f->read)
            continue;
        store_capture_t c = {.identity = f->identity,
                             .name = f->name,
                             .size = f->size,
                             .packets = f->packets,
                             .first_ns = f->first_ns,
                             .last_ns = f->last_ns,
                             .analysed_ns = now};
        int rc = store_put_capture(r->store, &c);
        if (rc != 0) {
            snprintf(err, errlen, "recording %s as analysed: %s", f->name, store_errmsg(r->store));
            return rc;
        }
    }
    return 0;
}

void store_capture_run_free(store_capture_run_t *r)
{
    if (r == NULL)
        return;
    store_close(r->store);
    free(r->files);
    free(r);
}
