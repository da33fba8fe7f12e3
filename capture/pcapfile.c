/* pcapfile: pcap and pcapng savefiles (or stdin) read through libpcap into the pipeline.
 *
 * This file uses readahead.c (the reader thread), never the reverse: see cap_int.h. */
#include "cap.h"

#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>

#include "cap_int.h"
#include "log.h"

#define CAP_FILE_IOBUF ((size_t)256 << 10)

int cap_read_pcap(cap_t *cap, struct pcap *handle, char *err, size_t errlen)
{
    int64_t unit_ns = pcap_get_tstamp_precision(handle) == PCAP_TSTAMP_PRECISION_NANO ? 1 : 1000;
    uint64_t n = 0;
    int wait_fd = cap_input_wait_fd(cap->cfg.stop, handle);
    for (;;) {
        struct pcap_pkthdr *hdr;
        const u_char *data;
        if (!cap_input_ready(cap->cfg.stop, handle, wait_fd)) {
            if (err != NULL && errlen > 0)
                snprintf(err, errlen, "interrupted after %llu packets", (unsigned long long)n);
            return -EINTR;
        }
        int rc = pcap_next_ex(handle, &hdr, &data);
        if (rc == 1) {
            /* Per packet: a pcapng file may describe several interfaces. libpcap 1.10
             * refuses ones whose link types differ, so this is the file's type today, and
             * each packet's own once libpcap reports it. */
            int64_t ts_ns =
                cap_pcap_ts_ns((int64_t)hdr->ts.tv_sec, (int64_t)hdr->ts.tv_usec, unit_ns);
            cap_process_frame(cap, pcap_datalink(handle), ts_ns, data, hdr->caplen, hdr->len);
            n++;
        } else if (rc == 0) {
            continue; /* live capture: the read timeout expired with nothing */
        } else if (rc == PCAP_ERROR_BREAK) {
            return 0; /* end of file, or pcap_breakloop */
        } else {
            cap->stats.read_errors++;
            if (err != NULL && errlen > 0) {
                int len = snprintf(err, errlen, "truncated after %llu packets: %s",
                                   (unsigned long long)n, pcap_geterr(handle));
                if (len < 0)
                    err[0] = '\0';
            }
            return -EIO;
        }
    }
}

int cap_read_pcap_readahead(cap_t *cap, struct pcap *handle, char *err, size_t errlen)
{
    int rc = cap_readahead_run(cap, handle, err, errlen);
    if (rc == -EAGAIN) /* no memory for the ring, or no thread: read on this one */
        rc = cap_read_pcap(cap, handle, err, errlen);
    return rc;
}

static void set_err(char *err, size_t errlen, const char *path, const char *why)
{
    if (err == NULL || errlen == 0)
        return;
    int len = snprintf(err, errlen, "%s: %s", path, why);
    if (len < 0)
        err[0] = '\0';
}

/* A file whose frames are of a link type we do not decode reads without error and yields
 * nothing: say so, naming the type, or "N packets, 0 malformed" would look like a clean run. */
static void warn_unknown_link(const char *path, pcap_t *handle, uint64_t frames)
{
    if (frames == 0)
        return;
    int dlt = pcap_datalink(handle);
    const char *name = pcap_datalink_val_to_name(dlt); /* NULL for some, e.g. USER0 (147) */
    char type[64];
    if (name == NULL || snprintf(type, sizeof(type), "%s (%d)", name, dlt) < 0)
        snprintf(type, sizeof(type), "%d", dlt);
    log_warn("%s: link type %s is not decoded: %llu frame%s skipped (counted as undecoded)",
             strcmp(path, "-") == 0 ? "stdin" : path, type, (unsigned long long)frames,
             frames == 1 ? "" : "s");
}

int cap_read_file(cap_t *cap, const char *path, char *err, size_t errlen)
{
    bool is_stdin = strcmp(path, "-") == 0;
    FILE *fp = is_stdin ? stdin : fopen(path, "rb");
    if (fp == NULL) {
        int e = errno;
        set_err(err, errlen, path, strerror(e));
        return e ? -e : -EIO;
    }
    /* stdio's default buffer is one 4 KB page: a read(2) per 4 KB. A larger one cuts the
     * system calls of a big file by 64x; it must outlive the FILE (pcap_close). */
    char *iobuf = is_stdin ? NULL : malloc(CAP_FILE_IOBUF);
    if (iobuf != NULL)
        setvbuf(fp, iobuf, _IOFBF, CAP_FILE_IOBUF);
    /* Only the read-ahead thread reads it: stdio's per-call lock (libpcap makes two freads
     * per frame) is pure cost. */
    __fsetlocking(fp, FSETLOCKING_BYCALLER);
    /* Read once, front to back: let the kernel read further ahead (and drop behind). */
    if (!is_stdin)
        (void)posix_fadvise(fileno(fp), 0, 0, POSIX_FADV_SEQUENTIAL);
    char pcap_err[PCAP_ERRBUF_SIZE] = "";
    /* Nanosecond precision: libpcap scales µs files up, so ts_ns is exact for both. */
    pcap_t *handle =
        pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO, pcap_err);
    if (handle == NULL) {
        char why[PCAP_ERRBUF_SIZE + 64];
        int len = snprintf(why, sizeof(why), "not a pcap or pcapng file (%s)", pcap_err);
        set_err(err, errlen, path, len < 0 ? "not a pcap or pcapng file" : why);
        if (!is_stdin)
            fclose(fp); /* on failure the FILE is still ours */
        free(iobuf);
        return -EINVAL;
    }
    char read_err[PCAP_ERRBUF_SIZE + 64] = "";
    uint64_t unknown_before = cap->stats.unknown_link;
    int rc = cap_read_pcap_readahead(cap, handle, read_err, sizeof(read_err));
    if (rc != 0)
        set_err(err, errlen, path, read_err);
    warn_unknown_link(path, handle, cap->stats.unknown_link - unknown_before);
    pcap_close(handle); /* closes fp, but never stdin */
    free(iobuf);
    return rc;
}
