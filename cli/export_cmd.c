/* export_cmd: `sipscope export --db PATH CALL_ID -o OUT.pcap`, a call's packets as a pcap. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "callpcap.h"
#include "cli.h"
#include "commands.h"
#include "log.h"
#include "store.h"

static const char export_usage[] =
    "usage: sipscope export --db PATH CALL_ID -o OUT.pcap [--pcap-dir DIR]\n"
    "\n"
    "Write the packets of one call (SIP, and RTP/RTCP as --rtp-pcap kept them) as a\n"
    "pcap file that Wireshark and tshark open. CALL_ID is the SIP Call-ID (the newest call with\n"
    "it) or the call's numeric id in the API. OUT may be '-' for standard output; an OUT ending\n"
    "in .gz is written gzip-compressed (Wireshark opens it as it is). The per-call\n"
    "files are found under the --pcap-dir the capture used (remembered in the database); a call\n"
    "captured without one gets its SIP messages rebuilt from the database (SIP only), as the\n"
    "API's /api/v1/calls/ID/pcap does.\n"
    "\n"
    "  --db PATH            database written by analyze, capture or run (default ./sipscope.db)\n"
    "  -o, --output OUT     where to write the pcap ('-' = standard output); required\n"
    "  --pcap-dir DIR       where the per-call pcaps are, if not where the capture put them\n"
    "  -h, --help           this text\n";

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

/* The pcap to path ("-": standard output). 0, or -1 with a reason in err. */
static int write_pcap(const store_call_pcap_t *pcap, const char *to, char *err, size_t errlen)
{
    FILE *in = pcap->rebuilt ? NULL : fdopen(dup(pcap->fd), "rb");
    if (!pcap->rebuilt && in == NULL) {
        snprintf(err, errlen, "the call's pcap: %s", strerror(errno));
        return -1;
    }
    FILE *out = strcmp(to, "-") == 0 ? stdout : fopen(to, "wb");
    if (out == NULL) {
        snprintf(err, errlen, "%s: %s", to, strerror(errno));
        if (in != NULL)
            fclose(in);
        return -1;
    }
    int rc = 0;
    if (pcap->rebuilt) {
        if (fwrite(pcap->data, 1, pcap->size, out) != pcap->size)
            rc = -1;
    } else {
        char buf[65536];
        size_t n;
        while (rc == 0 && (n = fread(buf, 1, sizeof(buf), in)) > 0) {
            if (fwrite(buf, 1, n, out) != n)
                rc = -1;
        }
        fclose(in);
    }
    if (rc != 0)
        snprintf(err, errlen, "%s: %s", to, strerror(errno));
    if (out != stdout && fclose(out) != 0 && rc == 0) {
        snprintf(err, errlen, "%s: %s", to, strerror(errno));
        rc = -1;
    }
    return rc;
}

/* The newest call with Call-ID wanted, or the call with that numeric id. */
static bool find_call(store_t *store, const char *wanted, found_call_t *call)
{
    store_call_filter_t filter = {.call_id = wanted};
    int rc = store_query_calls(store, &filter, 1, 0, remember_call, call, NULL);
    if (rc >= 0 && !call->found && all_digits(wanted))
        store_get_call(store, strtoll(wanted, NULL, 10), remember_call, call);
    return call->found;
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
    while ((opt = cli_getopt(argc, argv, "o:h", options, "export")) != -1) {
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
            default: /* reported by cli_getopt */
                return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc || out_path == NULL) {
        log_error("export: %s",
                  out_path == NULL ? "-o OUT.pcap is required" : "exactly one CALL_ID is required");
        fputs("Try 'sipscope export --help'.\n", stderr);
        return EXIT_USAGE;
    }
    const char *wanted = argv[optind];

    store_opts_t opts = {.read_only = true};
    store_t *store = NULL;
    if (store_open_opts(db_path, &opts, &store) != 0) {
        log_error("export: %s: %s", db_path, cli_store_why(db_path, store));
        store_close(store);
        return EXIT_RUNTIME;
    }
    int status = EXIT_RUNTIME;
    found_call_t call = {0};
    store_call_pcap_t pcap = {.fd = -1};
    char err[4400];
    if (!find_call(store, wanted, &call)) {
        log_error("export: %s: no such call in %s", wanted, db_path);
        goto out;
    }
    int rc = store_call_pcap_open(store, call.id, pcap_dir, &pcap);
    size_t out_len = strlen(out_path);
    /* OUT ending in .gz: gzip (a .pcap.gz as kept, or compressed now); else a plain pcap. */
    if (rc == 0)
        rc = store_call_pcap_as(&pcap, out_len > 3 && strcmp(out_path + out_len - 3, ".gz") == 0);
    if (rc != 0) {
        log_error("export: %s: %s", wanted, strerror(-rc));
        goto out;
    }
    if (pcap.rebuilt)
        log_msg(LOG_WARN, "export: %s: %s", wanted, STORE_CALL_PCAP_REBUILT_NOTE);
    if (write_pcap(&pcap, out_path, err, sizeof(err)) != 0) {
        log_error("export: %s", err);
        goto out;
    }
    status = EXIT_SUCCESS;
out:
    store_call_pcap_close(&pcap);
    store_close(store);
    return status;
}
