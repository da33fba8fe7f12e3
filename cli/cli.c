/* cli: usage errors in the house form, getopt's errors, and the checks made at start. */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "log.h"
#include "netio.h"
#include "sv.h"

void cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "sipscope: %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'sipscope %s --help'.\n", cmd);
    va_end(ap);
}

/* The long option that arg ("--name" or "--name=value") names: the exact name, else the only
 * one it abbreviates (as getopt_long matches). *matches says how many it abbreviates. */
static const struct option *long_named(const char *arg, const struct option *longopts, int *matches)
{
    const char *name = arg + 2;
    size_t len = strcspn(name, "=");
    const struct option *found = NULL;
    *matches = 0;
    for (const struct option *o = longopts; o->name != NULL; o++) {
        if (strncmp(o->name, name, len) != 0)
            continue;
        if (strlen(o->name) == len) {
            *matches = 1;
            return o;
        }
        found = o;
        (*matches)++;
    }
    return *matches == 1 ? found : NULL;
}

/* Say what getopt_long found wrong ('?' or ':', optopt, and the argument it stopped at). With
 * opterr 0 glibc leaves optopt 0 for an unknown or ambiguous long option, the option's val for a
 * long option with a missing or unwanted argument, and the character for a short one. */
static void report_bad_option(int rc, int argc, char **argv, const struct option *longopts,
                              const char *cmd)
{
    const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "";
    bool is_long = strncmp(arg, "--", 2) == 0 && arg[2] != '\0';
    int matches = 0;
    const struct option *o = is_long ? long_named(arg, longopts, &matches) : NULL;
    if (rc == '?' && optopt == 0) {
        if (is_long && matches > 1)
            cli_usage_error(cmd, "option '%.*s' is ambiguous", (int)strcspn(arg, "="), arg);
        else
            cli_usage_error(cmd, "unrecognized option '%s'", arg);
    } else if (o != NULL && o->val == optopt) {
        cli_usage_error(cmd,
                        rc == ':' ? "option '--%s' requires an argument"
                                  : "option '--%s' doesn't allow an argument",
                        o->name);
    } else if (rc == ':') {
        cli_usage_error(cmd, "option requires an argument -- '%c'", optopt);
    } else if (isprint((unsigned char)optopt)) {
        cli_usage_error(cmd, "invalid option -- '%c'", optopt);
    } else {
        cli_usage_error(cmd, "invalid option -- '\\x%02x'", (unsigned)optopt & 0xffu);
    }
}

int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
               const char *cmd)
{
    /* A leading ':' makes a missing argument ':' rather than '?'. */
    char opts[64];
    int n = snprintf(opts, sizeof(opts), ":%s", shortopts);
    if (n < 0 || (size_t)n >= sizeof(opts))
        return '?';
    opterr = 0;
    int opt = getopt_long(argc, argv, opts, longopts, NULL);
    if (opt == '?' || opt == ':') {
        report_bad_option(opt, argc, argv, longopts, cmd);
        return '?';
    }
    return opt;
}

bool cli_hostport_ok(const char *spec)
{
    char host[256], port[8];
    return netio_split_hostport(sv_from_cstr(spec), host, sizeof(host), port, sizeof(port));
}

/* ---- checks at start ---- */

/* The directory path's file would be created in ("." for a bare name), into dir. */
static void parent_of(const char *path, char *dir, size_t cap)
{
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--; /* "a/b/" is "a/b" */
    while (len > 0 && path[len - 1] != '/')
        len--;
    while (len > 1 && path[len - 1] == '/')
        len--; /* "a//b" is in "a" */
    if (len == 0)
        snprintf(dir, cap, ".");
    else
        snprintf(dir, cap, "%.*s", (int)len, path);
}

int cli_check_pcap_dir(const char *dir)
{
    struct stat st;
    if (dir[0] == '\0') {
        log_error("--pcap-dir: empty path");
        return -1;
    }
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            log_error("--pcap-dir %s: not a directory", dir);
            return -1;
        }
        if (access(dir, W_OK | X_OK) != 0) {
            log_error("--pcap-dir %s: %s", dir, strerror(errno));
            return -1;
        }
        return 0;
    }
    if (errno != ENOENT) {
        log_error("--pcap-dir %s: %s", dir, strerror(errno));
        return -1;
    }
    /* It will be created (with its missing parents): the nearest one that exists must let us. */
    char up[4096];
    snprintf(up, sizeof(up), "%s", dir);
    for (;;) {
        char parent[4096];
        parent_of(up, parent, sizeof(parent));
        if (stat(parent, &st) != 0) {
            if (errno == ENOENT && strcmp(parent, up) != 0) {
                snprintf(up, sizeof(up), "%s", parent);
                continue;
            }
            log_error("--pcap-dir %s: %s: %s", dir, parent, strerror(errno));
            return -1;
        }
        if (!S_ISDIR(st.st_mode)) {
            log_error("--pcap-dir %s: %s: not a directory", dir, parent);
            return -1;
        }
        if (access(parent, W_OK | X_OK) != 0) {
            log_error("--pcap-dir %s: cannot create it in %s: %s", dir, parent, strerror(errno));
            return -1;
        }
        return 0;
    }
}

/* option path names a file to write: an existing regular file we may write (and read, with
 * want_read), or a new one in a directory we may write in. */
static int check_file_to_write(const char *option, const char *path, bool want_read)
{
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            log_error("%s %s: %s", option, path, strerror(EISDIR));
            return -1;
        }
        if (access(path, W_OK | (want_read ? R_OK : 0)) != 0) {
            log_error("%s %s: %s", option, path, strerror(errno));
            return -1;
        }
        return 0;
    }
    if (errno != ENOENT) {
        log_error("%s %s: %s", option, path, strerror(errno));
        return -1;
    }
    char dir[4096];
    parent_of(path, dir, sizeof(dir));
    if (stat(dir, &st) != 0 || access(dir, W_OK | X_OK) != 0) {
        log_error("%s %s: cannot create it in %s: %s", option, path, dir, strerror(errno));
        return -1;
    }
    return 0;
}

int cli_check_db(const char *path)
{
    /* "" is SQLite's private temporary database; URIs carry their own options. A new
     * database's directory must also take SQLite's journal beside it. */
    if (path[0] == '\0' || strcmp(path, ":memory:") == 0 || strncmp(path, "file:", 5) == 0)
        return 0;
    return check_file_to_write("--db", path, true);
}

int cli_check_log(const char *path)
{
    return path == NULL ? 0 : check_file_to_write("--log", path, false);
}

/* The first four bytes of the formats libpcap reads, as a big-endian number (either byte
 * order is accepted): pcap with µs and ns timestamps, the modified pcap of Kuznetzov's patches,
 * Navtel's, and pcapng's Section Header Block (the same both ways). */
static const uint32_t capture_magics[] = {0xa1b2c3d4, 0xa1b23c4d, 0xa1b2cd34, 0xa12b3c4d,
                                          0x0a0d0d0a};

int cli_check_capture_file(const char *path)
{
    if (strcmp(path, "-") == 0)
        return 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        log_error("%s: %s", path, strerror(errno));
        return -1;
    }
    uint8_t m[4];
    size_t n = fread(m, 1, sizeof(m), f);
    int read_errno = ferror(f) ? errno : 0;
    fclose(f);
    if (read_errno != 0) {
        log_error("%s: %s", path, strerror(read_errno));
        return -1;
    }
    if (n == sizeof(m)) {
        uint32_t be = (uint32_t)m[0] << 24 | (uint32_t)m[1] << 16 | (uint32_t)m[2] << 8 | m[3];
        uint32_t le = (uint32_t)m[3] << 24 | (uint32_t)m[2] << 16 | (uint32_t)m[1] << 8 | m[0];
        for (size_t i = 0; i < sizeof(capture_magics) / sizeof(capture_magics[0]); i++) {
            if (be == capture_magics[i] || le == capture_magics[i])
                return 0;
        }
    }
    log_error("%s: not a pcap or pcapng file", path);
    return -1;
}

int cli_reserve_listen(const char *cmd, const char *listen, int *fd)
{
    *fd = -1;
    struct sockaddr_storage ss;
    unsigned salen = 0;
    if (!api_parse_listen(listen, (struct sockaddr *)&ss, &salen))
        return 0; /* checked with the options; the server says it again */
    uint16_t port = ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port;
    if (port == 0)
        return 0; /* any free port: nothing to hold */
    int s = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        log_error("%s: --listen %s: %s", cmd, listen, strerror(errno));
        return -1;
    }
    /* As the server binds (web/server.c): the TIME_WAIT of a last run's connections is no
     * conflict, a listening socket is. Not listening: a client meanwhile is refused at once. */
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ss.ss_family == AF_INET6)
        setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(s, (struct sockaddr *)&ss, salen) != 0) {
        log_error("%s: --listen %s: %s", cmd, listen, strerror(errno));
        close(s);
        return -1;
    }
    *fd = s;
    return 0;
}

void cli_release_listen(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

const char *cli_store_why(const char *path, const store_t *s)
{
    const char *why = store_errmsg(s);
    size_t len = strlen(path);
    if (strncmp(why, path, len) == 0 && strncmp(why + len, ": ", 2) == 0)
        return why + len + 2;
    return why;
}

bool cli_parse_count(const char *text, size_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v == 0 || v > (1ull << 32))
        return false;
    *out = (size_t)v;
    return true;
}
