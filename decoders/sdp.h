/* sdp: zero-copy RFC 8866 (RFC 4566) session description parser. */
#ifndef SIPSCOPE_SDP_H
#define SIPSCOPE_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"
#include "sv.h"

#define SDP_OK       0
#define SDP_INVALID  (-1)

#define SDP_MAX_MEDIA    16
#define SDP_MAX_FORMATS  32
#define SDP_MAX_RTPMAPS  32

typedef enum {
    SDP_DIR_UNSET = 0, /* no attribute: sendrecv by default */
    SDP_DIR_SENDRECV,
    SDP_DIR_SENDONLY,
    SDP_DIR_RECVONLY,
    SDP_DIR_INACTIVE
} sdp_dir_t;

typedef struct {
    uint8_t payload_type;
    sv_t encoding;       /* "PCMU", "opus", "telephone-event" */
    uint32_t clock_rate;
    uint8_t channels;    /* 1 when absent */
    sv_t fmtp;           /* a=fmtp parameters for this payload type, empty if none */
} sdp_rtpmap_t;

typedef struct {
    sv_t media;            /* "audio", "video", "image" ... */
    uint16_t port;
    uint16_t port_count;   /* 1 when absent */
    sv_t proto;            /* "RTP/AVP", "RTP/SAVP", "udptl" ... */
    uint8_t formats[SDP_MAX_FORMATS]; /* RTP payload types (numeric formats only) */
    size_t n_formats;
    net_addr_t conn;       /* media-level c=, else session-level; family 0 if neither */
    sdp_rtpmap_t rtpmaps[SDP_MAX_RTPMAPS];
    size_t n_rtpmaps;
    uint32_t ptime;        /* ms, 0 when absent */
    sdp_dir_t dir;         /* media-level, else session-level */
    uint16_t rtcp_port;    /* a=rtcp port, 0 when absent (then RTP port + 1) */
    net_addr_t rtcp_addr;  /* a=rtcp address, family 0 when absent */
    bool rtcp_mux;
} sdp_media_t;

typedef struct {
    sv_t origin_user;
    sv_t session_id;
    sv_t session_name;
    net_addr_t conn;       /* session-level c= */
    sdp_dir_t dir;         /* session-level direction */
    sdp_media_t media[SDP_MAX_MEDIA];
    size_t n_media;
    bool truncated_media;  /* more m= lines than SDP_MAX_MEDIA */
} sdp_t;

/* Parse an SDP body. Lines end in CRLF or LF. Returns SDP_OK or SDP_INVALID (not SDP: no v=0
 * line first). Unknown lines and attributes are skipped; malformed m=/c= lines are ignored.
 * out borrows from buf. */
int sdp_parse(const char *buf, size_t len, sdp_t *out);

/* The rtpmap for pt in m, or NULL. Borrowed. */
const sdp_rtpmap_t *sdp_rtpmap_find(const sdp_media_t *m, uint8_t pt);

const char *sdp_dir_name(sdp_dir_t dir);

#endif
