/* tls: TLS sessions seen passively, decrypted with a key log (SIP over TLS, RFC 3261 §26, port
 * 5061). Two parts, one module: the key log (NSS key log format, as SSLKEYLOGFILE and
 * openssl -keylogfile write it) and a per-connection session fed both directions' in-order TCP
 * bytes. The session frames records (RFC 5246 §6.2, RFC 8446 §5.1), reads the ClientHello and
 * ServerHello in clear, derives the record keys with libcrypto (TLS 1.2 PRF, TLS 1.3
 * HKDF-Expand-Label) and decrypts application data with EVP; nothing here is a hand-written
 * cipher. Record framing and sessions share one file because the framer's only consumer is the
 * session state machine (which direction is encrypted, which sequence number a record has).
 *
 * Everything is bounded: the key log by its configured maximum, a record by 2^14+2048 bytes
 * (RFC 5246 §6.2.3's ciphertext limit); malformed input is counted and stops that direction,
 * never more. Not thread-safe: one session per connection on the engine's thread. */
#ifndef SIPSCOPE_TLS_H
#define SIPSCOPE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TLS_RANDOM_LEN 32
#define TLS_RECORD_MAX (16384u + 2048u) /* a record's fragment, any version */
#define TLS_SNI_MAX    255

/* ---- key log ---------------------------------------------------------------------------- */

typedef struct tls_keylog tls_keylog_t;

/* A key log holding at most max_clients client randoms (0: a default of 65536). Caller frees
 * with tls_keylog_free. NULL when out of memory. */
tls_keylog_t *tls_keylog_new(size_t max_clients);
void tls_keylog_free(tls_keylog_t *k);

/* One line of NSS key log text (no line end needed): CLIENT_RANDOM <cr> <master secret> for
 * TLS 1.2, CLIENT_HANDSHAKE_TRAFFIC_SECRET / SERVER_HANDSHAKE_TRAFFIC_SECRET /
 * CLIENT_TRAFFIC_SECRET_0 / SERVER_TRAFFIC_SECRET_0 <cr> <secret> for TLS 1.3. Returns 1 when
 * the line added a secret, 0 for a comment, a blank line or a label this module does not use,
 * -EINVAL for a malformed line, -ENOSPC when the log is full (both counted). */
int tls_keylog_add_line(tls_keylog_t *k, const char *line, size_t len);
/* Every line of text (LF or CRLF ends); returns the secrets added. */
size_t tls_keylog_add_text(tls_keylog_t *k, const char *text, size_t len);
/* A key log file; returns the secrets added (>= 0) or -errno when it cannot be read. */
int tls_keylog_load(tls_keylog_t *k, const char *path);

typedef struct {
    uint64_t clients; /* client randoms held */
    uint64_t secrets; /* secrets added */
    uint64_t bad_lines, full;
} tls_keylog_stats_t;
tls_keylog_stats_t tls_keylog_stats(const tls_keylog_t *k);

/* ---- sessions --------------------------------------------------------------------------- */

typedef enum { TLS_FROM_CLIENT = 0, TLS_FROM_SERVER = 1 } tls_dir_t;

/* Decrypted application data of one record, in order per direction. Borrowed for the call. */
typedef void (*tls_plain_fn)(void *ctx, tls_dir_t dir, const uint8_t *data, size_t len);

/* What a session has shown so far (also without keys: the user sees what was not decoded). */
typedef struct {
    uint16_t version; /* negotiated: 0x0303 TLS 1.2, 0x0304 TLS 1.3; 0 before the ServerHello */
    uint16_t cipher;  /* IANA cipher suite number; 0 before the ServerHello */
    char sni[TLS_SNI_MAX + 1]; /* server_name from the ClientHello; "" when absent */
    bool client_hello, server_hello;
    bool keys;              /* the key log held this session's secrets */
    bool decrypted;         /* at least one application data record decrypted */
    uint64_t records;       /* records framed, both directions */
    uint64_t app_records;   /* application data records decrypted (and authenticated) */
    uint64_t app_bytes;     /* their plaintext bytes */
    uint64_t undecrypted;   /* encrypted records not decrypted (no keys, unknown cipher) */
    uint64_t auth_failures; /* records whose tag or MAC did not check (wrong keys, damage) */
    uint64_t malformed;     /* framing or handshake errors (each stops its direction) */
    uint64_t key_updates;   /* TLS 1.3 KeyUpdates followed */
} tls_info_t;

typedef struct tls_session tls_session_t;

/* A session for one TCP connection. keys is borrowed (may be NULL: counted, never decrypted)
 * and looked up when keys are needed, so secrets added later still count. fn may be NULL.
 * Caller frees with tls_session_free. NULL when out of memory. */
tls_session_t *tls_session_new(const tls_keylog_t *keys, tls_plain_fn fn, void *ctx);
void tls_session_free(tls_session_t *s);

/* In-order TCP payload of one direction; any split. Returns 0, or -EPROTO once that direction
 * has been found malformed (its later bytes are ignored). */
int tls_session_feed(tls_session_t *s, tls_dir_t dir, const uint8_t *data, size_t len);

/* Borrowed, valid until tls_session_free. */
const tls_info_t *tls_session_info(const tls_session_t *s);

/* Whether bytes open a TLS stream: a handshake record header 0x16 0x03 0x01..0x04 (a
 * ClientHello's record may say 0x0301 for any later version). */
bool tls_looks_like(const uint8_t *p, size_t len);

/* "TLS_AES_128_GCM_SHA256", ... or NULL for a suite this module does not decrypt. */
const char *tls_cipher_name(uint16_t cipher);
/* "TLS 1.2", "TLS 1.3", ... or "unknown". */
const char *tls_version_name(uint16_t version);

#endif
