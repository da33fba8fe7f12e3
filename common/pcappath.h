/* pcappath: where a call's own pcap file lives under a --pcap-dir (shared by the writer in app/,
 * the export command and the API's download, so the layout is defined once). */
#ifndef SIPSCOPE_PCAPPATH_H
#define SIPSCOPE_PCAPPATH_H

#include <stddef.h>
#include <stdint.h>

/* DIR/YYYY-MM-DD/HH/ROW.pcap by the UTC time of the call's INVITE. 0, or -ENAMETOOLONG
 * (-EINVAL for a time before the epoch). */
int pcap_call_path(const char *dir, int64_t row, int64_t invite_ns, char *buf, size_t cap);

#endif
