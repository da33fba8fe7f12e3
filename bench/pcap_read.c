/* pcap_read: the baseline of the benchmarks, a bare libpcap read loop that touches every frame. */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: pcap_read FILE\n");
        return 2;
    }
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline_with_tstamp_precision(argv[1], PCAP_TSTAMP_PRECISION_NANO, err);
    if (p == NULL) {
        fprintf(stderr, "pcap_read: %s\n", err);
        return 1;
    }
    struct pcap_pkthdr *h;
    const u_char *data;
    uint64_t frames = 0, bytes = 0, sum = 0;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
        frames++;
        bytes += h->len;
        /* Read a byte of every frame so the loop cannot skip the data. */
        if (h->caplen > 0)
            sum += data[h->caplen - 1];
    }
    pcap_close(p);
    printf("%llu frames %llu bytes (checksum %llu)\n", (unsigned long long)frames,
           (unsigned long long)bytes, (unsigned long long)sum);
    return rc == -2 ? 0 : 1;
}
