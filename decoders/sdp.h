/* sdp: zero-copy RFC 8866 (RFC 4566) session description parser. */
#ifndef SIPSCOPE_SDP_H
#define SIPSCOPE_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"
#include "sv.h"

#define SDP_OK      0
#define SDP_INVALID (-1)

#define SDP_MAX_MEDIA      16
#define SDP_MAX_FORMATS    32
#define SDP_MAX_RTPMAPS    32
#define SDP_MAX_CRYPTO     8
#define SDP_MAX_CANDIDATES 8

typedef enum {
    SDP_DIR_UNSET = 0, /* no attribute: sendrecv by default */
    SDP_DIR_SENDRECV,
    SDP_DIR_SENDONLY,
    SDP_DIR_RECVONLY,
    SDP_DIR_INACTIVE
} sdp_dir_t;

/* One a=rtpmap (RFC 8866 6.6) with its a=fmtp (6.15) attached. An a=fmtp without any a=rtpmap
 * for its payload type (common for static types: "a=fmtp:18 annexb=no") gets an entry of its own
 * with an empty encoding and clock_rate 0; look the static type up with rtp_static_codec(). */
typedef struct {
    uint8_t payload_type;
    sv_t encoding;       /* "PCMU", "opus", "telephone-event"; empty if only a=fmtp was seen */
    uint32_t clock_rate; /* 0 when absent or unreadable ("a=rtpmap:31 LPC") */
    uint8_t channels;    /* 1 when absent */
    sv_t fmtp;           /* a=fmtp parameters for this payload type, empty if none */
} sdp_rtpmap_t;

/* One a=crypto (RFC 4568 9.1, SDES): "a=crypto:<tag> <suite> <key-params> [<session-params>]".
 * key_params holds the master key and salt ("inline:<base64>[|lifetime][|MKI:len]"): a secret,
 * to be used for decryption only and never stored or printed. */
typedef struct {
    uint32_t tag;        /* 1*9DIGIT */
    sv_t suite;          /* "AES_CM_128_HMAC_SHA1_80", ... */
    sv_t key_params;     /* "inline:..." (one or more, ';'-separated) */
    sv_t session_params; /* the rest of the line, empty if none */
} sdp_crypto_t;

/* ICE candidate types (RFC 8839 5.1). */
typedef enum {
    SDP_CAND_HOST = 0,
    SDP_CAND_SRFLX, /* the NAT's public address, as a STUN server saw it */
    SDP_CAND_PRFLX,
    SDP_CAND_RELAY, /* a TURN server's address */
    SDP_CAND_OTHER
} sdp_cand_type_t;

/* One UDP a=candidate (RFC 8839 5.1): "a=candidate:<foundation> <component-id> <transport>
 * <priority> <connection-address> <port> typ <cand-type> [raddr <a>] [rport <p>] ...".
 * WebRTC announces media with c=IN IP4 0.0.0.0 and port 9 and puts the real addresses here. */
typedef struct {
    net_endpoint_t ep;
    uint8_t component; /* 1: RTP (and RTCP with rtcp-mux), 2: RTCP */
    uint8_t type;      /* sdp_cand_type_t */
} sdp_candidate_t;

typedef struct {
    sv_t media; /* "audio", "video", "image" ... */
    uint16_t port;
    uint16_t port_count;              /* 1 when absent */
    sv_t proto;                       /* "RTP/AVP", "RTP/SAVP", "udptl" ... */
    uint8_t formats[SDP_MAX_FORMATS]; /* RTP payload types (numeric formats only) */
    size_t n_formats;
    net_addr_t conn; /* media-level c=, else session-level; family 0 if neither */
    sdp_rtpmap_t rtpmaps[SDP_MAX_RTPMAPS];
    size_t n_rtpmaps;
    uint32_t ptime;       /* ms, 0 when absent */
    sdp_dir_t dir;        /* media-level, else session-level */
    uint16_t rtcp_port;   /* a=rtcp port, 0 when absent (then RTP port + 1) */
    net_addr_t rtcp_addr; /* a=rtcp address, family 0 when absent */
    bool rtcp_mux;
    bool truncated; /* formats or rtpmaps beyond SDP_MAX_FORMATS / SDP_MAX_RTPMAPS dropped */
    sdp_crypto_t crypto[SDP_MAX_CRYPTO]; /* well-formed a=crypto lines, in order (preference) */
    size_t n_crypto;
    bool crypto_truncated; /* a=crypto lines beyond SDP_MAX_CRYPTO dropped */
    bool fingerprint;      /* a=fingerprint (RFC 8122) here or at session level: DTLS-SRTP keys */
    sdp_candidate_t candidates[SDP_MAX_CANDIDATES]; /* UDP candidates with an IP address (not
                                                      TCP, not an mDNS name), in order */
    size_t n_candidates;
    bool candidates_truncated; /* UDP candidates beyond SDP_MAX_CANDIDATES dropped */
} sdp_media_t;

typedef struct {
    sv_t origin_user;
    sv_t session_id;
    sv_t session_name;
    net_addr_t conn; /* session-level c= */
    sdp_dir_t dir;   /* session-level direction */
    uint32_t ptime;  /* session-level a=ptime (not in the RFC, but sent), 0 when absent */
    sdp_media_t media[SDP_MAX_MEDIA];
    size_t n_media;
    bool truncated_media; /* more m= lines than SDP_MAX_MEDIA */
    bool fingerprint;     /* session-level a=fingerprint (also set in every media) */
} sdp_t;

/* Parse an SDP body. Lines end in CRLF or LF (the last may have none); blank lines, surrounding
 * whitespace and runs of SP/HTAB between fields are tolerated. Returns SDP_OK or SDP_INVALID
 * (not SDP: no v=0 line first). Unknown lines and attributes are skipped; malformed m=/c= lines
 * are ignored (the attributes under a malformed m= line too). A line starting with "--" (a
 * multipart boundary) ends the body, so the SDP part of a multipart body can be passed from its
 * v=0 line to the end of the whole body. Media-level c=, a=ptime and
 * direction fall back to the session-level ones. Every view borrows from buf (empty views may
 * be {NULL, 0}); out is fully written on SDP_OK. No allocation. */
int sdp_parse(const char *buf, size_t len, sdp_t *out);

/* The rtpmap for pt in m, or NULL. Borrowed from m. */
const sdp_rtpmap_t *sdp_rtpmap_find(const sdp_media_t *m, uint8_t pt);

/* "sendrecv", "sendonly", "recvonly", "inactive"; SDP_DIR_UNSET reads as "sendrecv", its
 * RFC 8866 6.7 default. Static string. */
const char *sdp_dir_name(sdp_dir_t dir);

#endif
