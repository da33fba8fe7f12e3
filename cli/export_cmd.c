/* export_cmd: `sipscope export --db PATH CALL_ID -o OUT.pcap`, a call's packets as a pcap. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcappath.h"
#include "commands.h"
#include "log.h"
#include "store.h"

static const char export_usage[] =
    "usage: sipscope export --db PATH CALL_ID -o OUT.pcap [--pcap-dir DIR]\n"
    "\n"
    "Write the packets of one call (SIP, and RTP/RTCP unless captured with --no-rtp-pcap) as a\n"
    "pcap file that Wireshark and tshark open. CALL_ID is the SIP Call-ID (the newest call with\n"
    "it) or the call's numeric id in the API. OUT may be '-' for standard output. The per-call\n"
    "files are found under the --pcap-dir the capture used (remembered in the database).\n";

typedef struct {
    int64_t id, invite_ns;
    bool found;
} found_call_t;

static int remember_call(void *ctx, const call_record_t *c)
{
    found_call_t *f = ctx;
    f->id = c->id;
    f->invite_ns = c->invite_ns;
    f->found = true;
    return 1; /* the first (newest) is the one */
}

static bool all_digits(const char *s)
{
    if (*s == '\0' || strlen(s) > 18)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
    }
    return true;
}

static int copy_file(const char *from, const char *to, char *err, size_t errlen)
{
    FILE *in = fopen(from, "rb");
    if (in == NULL) {
        snprintf(err, errlen, "%s: %s", from, strerror(errno));
        return -1;
    }
    FILE *out = strcmp(to, "-") == 0 ? stdout : fopen(to, "wb");
    if (out == NULL) {
        snprintf(err, errlen, "%s: %s", to, strerror(errno));
        fclose(in);
        return -1;
    }
    char buf[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
        if (fwrite(buf, 1, n, out) != n) {
            snprintf(err, errlen, "%s: %s", to, strerror(errno));
            rc = -1;
            break;
        }
    }
    fclose(in);
    if (out != stdout && fclose(out) != 0 && rc == 0) {
        snprintf(err, errlen, "%s: %s", to, strerror(errno));
        rc = -1;
    }
    return rc;
}

int cmd_export(int argc, char **argv)
{
    enum { OPT_DB = 256, OPT_PCAP_DIR };
    static const struct option options[] = {
        {"db", required_argument, NULL, OPT_DB},
        {"pcap-dir", required_argument, NULL, OPT_PCAP_DIR},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_path = "sipscope.db", *out_path = NULL, *pcap_dir = NULL;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "o:h", options, NULL)) != -1) {
        switch (opt) {
            case OPT_DB:
                db_path = optarg;
                break;
            case OPT_PCAP_DIR:
                pcap_dir = optarg;
                break;
            case 'o':
                out_path = optarg;
                break;
            case 'h':
                fputs(export_usage, stdout);
                return EXIT_SUCCESS;
            default:
                fputs("Try 'sipscope export --help'.\n", stderr);
                return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc || out_path == NULL) {
        log_error("export: %s", out_path == NULL ? "-o OUT.pcap is required"
                                                 : "exactly one CALL_ID is required");
        fputs("Try 'sipscope export --help'.\n", stderr);
        return EXIT_USAGE;
    }
    const char *wanted = argv[optind];

    store_opts_t opts = {.read_only = true};
    store_t *store = NULL;
    if (store_open_opts(db_path, &opts, &store) != 0) {
        log_error("export: %s: %s", db_path, store_errmsg(store));
        store_close(store);
        return EXIT_RUNTIME;
    }
    int status = EXIT_RUNTIME;
    found_call_t call = {0};
    store_call_filter_t filter = {.call_id = wanted};
    int rc = store_query_calls(store, &filter, 1, 0, remember_call, &call, NULL);
    if (rc >= 0 && !call.found && all_digits(wanted))
        store_get_call(store, strtoll(wanted, NULL, 10), remember_call, &call);
    if (!call.found) {
        log_error("export: %s: no such call in %s", wanted, db_path);
        goto out;
    }
    char dir[4096];
    if (pcap_dir != NULL) {
        snprintf(dir, sizeof(dir), "%s", pcap_dir);
    } else if (store_get_meta(store, "pcap_dir", dir, sizeof(dir)) != 0) {
        log_error("export: %s: the calls were captured without --pcap-dir, so no packets were "
                  "kept (the API's /api/v1/calls/%lld/pcap rebuilds the SIP messages)",
                  wanted, (long long)call.id);
        goto out;
    }
    char path[4200], err[4400];
    if (pcap_call_path(dir, call.id, call.invite_ns, path, sizeof(path)) != 0) {
        log_error("export: %s: path too long", dir);
        goto out;
    }
    if (copy_file(path, out_path, err, sizeof(err)) != 0) {
        log_error("export: %s", err);
        goto out;
    }
    status = EXIT_SUCCESS;
out:
    store_close(store);
    return status;
}
