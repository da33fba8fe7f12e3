/* tls: key log, record framing and decryption of passively seen TLS 1.2 and 1.3 sessions. */
#include "tls.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "hash.h"

/* ---- cipher suites ---------------------------------------------------------------------- */

typedef enum { AEAD_GCM, AEAD_CHACHA, CBC } tls_kind_t;

typedef struct {
    uint16_t id;
    const char *name;
    tls_kind_t kind;
    uint8_t key_len;
    uint8_t mac_len;    /* CBC only: HMAC length (also its key length) */
    const char *prf_md; /* TLS 1.2 PRF or TLS 1.3 HKDF hash */
    const char *mac_md; /* CBC only */
    bool tls13;
} tls_suite_t;

/* IANA TLS Cipher Suites registry: the suites SIP peers negotiate that can be decrypted from a
 * master secret (RSA, DHE and ECDHE key exchange alike). */
static const tls_suite_t SUITES[] = {
    {0x1301, "TLS_AES_128_GCM_SHA256", AEAD_GCM, 16, 0, "SHA256", NULL, true},
    {0x1302, "TLS_AES_256_GCM_SHA384", AEAD_GCM, 32, 0, "SHA384", NULL, true},
    {0x1303, "TLS_CHACHA20_POLY1305_SHA256", AEAD_CHACHA, 32, 0, "SHA256", NULL, true},
    {0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256", AEAD_GCM, 16, 0, "SHA256", NULL, false},
    {0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384", AEAD_GCM, 32, 0, "SHA384", NULL, false},
    {0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", AEAD_GCM, 16, 0, "SHA256", NULL, false},
    {0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", AEAD_GCM, 32, 0, "SHA384", NULL, false},
    {0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", AEAD_GCM, 16, 0, "SHA256", NULL, false},
    {0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", AEAD_GCM, 32, 0, "SHA384", NULL, false},
    {0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", AEAD_GCM, 16, 0, "SHA256", NULL, false},
    {0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", AEAD_GCM, 32, 0, "SHA384", NULL, false},
    {0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", AEAD_CHACHA, 32, 0, "SHA256", NULL,
     false},
    {0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", AEAD_CHACHA, 32, 0, "SHA256", NULL,
     false},
    {0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", AEAD_CHACHA, 32, 0, "SHA256", NULL,
     false},
    {0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", CBC, 16, 20, "SHA256", "SHA1", false},
    {0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", CBC, 32, 20, "SHA256", "SHA1", false},
    {0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256", CBC, 16, 32, "SHA256", "SHA256", false},
    {0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256", CBC, 32, 32, "SHA256", "SHA256", false},
    {0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", CBC, 16, 20, "SHA256", "SHA1", false},
    {0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", CBC, 32, 20, "SHA256", "SHA1", false},
    {0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", CBC, 16, 32, "SHA256", "SHA256", false},
    {0x006B, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", CBC, 32, 32, "SHA256", "SHA256", false},
    {0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", CBC, 16, 20, "SHA256", "SHA1", false},
    {0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", CBC, 32, 20, "SHA256", "SHA1", false},
    {0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", CBC, 16, 20, "SHA256", "SHA1", false},
    {0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", CBC, 32, 20, "SHA256", "SHA1", false},
    {0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", CBC, 16, 32, "SHA256", "SHA256", false},
    {0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", CBC, 32, 48, "SHA384", "SHA384", false},
    {0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", CBC, 16, 32, "SHA256", "SHA256", false},
    {0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", CBC, 32, 48, "SHA384", "SHA384", false},
};

static const tls_suite_t *suite_find(uint16_t id)
{
    for (size_t i = 0; i < sizeof(SUITES) / sizeof(SUITES[0]); i++)
        if (SUITES[i].id == id)
            return &SUITES[i];
    return NULL;
}

const char *tls_cipher_name(uint16_t cipher)
{
    const tls_suite_t *s = suite_find(cipher);
    return s ? s->name : NULL;
}

const char *tls_version_name(uint16_t version)
{
    switch (version) {
        case 0x0301:
            return "TLS 1.0";
        case 0x0302:
            return "TLS 1.1";
        case 0x0303:
            return "TLS 1.2";
        case 0x0304:
            return "TLS 1.3";
        default:
            return "unknown";
    }
}

/* ---- key log ---------------------------------------------------------------------------- */

#define SECRET_MAX 64 /* SHA-384's 48 bytes fit; the master secret is 48 */

enum { SEC_MASTER, SEC_CHS, SEC_SHS, SEC_CTS, SEC_STS, SEC_N };

static const char *const LABELS[SEC_N] = {
    "CLIENT_RANDOM",           "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0",
};

typedef struct {
    uint8_t random[TLS_RANDOM_LEN];
    uint8_t len[SEC_N]; /* 0: absent */
    uint8_t secret[SEC_N][SECRET_MAX];
} keylog_entry_t;

struct tls_keylog {
    keylog_entry_t **slots; /* open addressing, linear probing, twice the maximum */
    size_t mask, max;
    uint64_t seed;
    tls_keylog_stats_t st;
};

tls_keylog_t *tls_keylog_new(size_t max_clients)
{
    if (max_clients == 0)
        max_clients = 65536;
    if (max_clients > ((size_t)1 << 24))
        max_clients = (size_t)1 << 24;
    size_t cap = 16;
    while (cap < 2 * max_clients)
        cap <<= 1;
    tls_keylog_t *k = calloc(1, sizeof(*k));
    if (k == NULL)
        return NULL;
    k->slots = calloc(cap, sizeof(*k->slots));
    if (k->slots == NULL) {
        free(k);
        return NULL;
    }
    k->mask = cap - 1;
    k->max = max_clients;
    k->seed = 0x7f4a7c159e3779b9ULL ^ (uint64_t)(uintptr_t)k;
    return k;
}

void tls_keylog_free(tls_keylog_t *k)
{
    if (k == NULL)
        return;
    for (size_t i = 0; i <= k->mask; i++) {
        if (k->slots[i] != NULL) {
            OPENSSL_cleanse(k->slots[i], sizeof(*k->slots[i]));
            free(k->slots[i]);
        }
    }
    free(k->slots);
    free(k);
}

/* The slot of a client random: its entry, or the empty slot where it would go. */
static keylog_entry_t **keylog_slot(const tls_keylog_t *k, const uint8_t *random)
{
    size_t i = (size_t)hash_bytes(random, TLS_RANDOM_LEN, k->seed) & k->mask;
    for (;; i = (i + 1) & k->mask) {
        keylog_entry_t **e = &k->slots[i];
        if (*e == NULL || memcmp((*e)->random, random, TLS_RANDOM_LEN) == 0)
            return e;
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Hex of exactly 2*n characters into out; false otherwise. */
static bool unhex(const char *p, size_t len, uint8_t *out, size_t n)
{
    if (len != 2 * n)
        return false;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(p[2 * i]), lo = hexval(p[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

/* The next space-separated field of [*p, end). */
static size_t field(const char **p, const char *end, const char **start)
{
    while (*p < end && (**p == ' ' || **p == '\t'))
        (*p)++;
    *start = *p;
    while (*p < end && **p != ' ' && **p != '\t')
        (*p)++;
    return (size_t)(*p - *start);
}

int tls_keylog_add_line(tls_keylog_t *k, const char *line, size_t len)
{
    const char *p = line, *end = line + len;
    while (end > p && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    const char *f;
    size_t flen = field(&p, end, &f);
    if (flen == 0 || f[0] == '#')
        return 0;
    int which = -1;
    for (int i = 0; i < SEC_N; i++)
        if (strlen(LABELS[i]) == flen && memcmp(LABELS[i], f, flen) == 0)
            which = i;
    if (which < 0)
        return 0; /* EXPORTER_SECRET, CLIENT_EARLY_TRAFFIC_SECRET, ...: not needed */
    const char *r, *s;
    size_t rlen = field(&p, end, &r), slen = field(&p, end, &s);
    const char *rest;
    uint8_t random[TLS_RANDOM_LEN], secret[SECRET_MAX];
    size_t n = slen / 2;
    if (field(&p, end, &rest) != 0 || !unhex(r, rlen, random, TLS_RANDOM_LEN) ||
        (which == SEC_MASTER ? n != 48 : (n != 32 && n != 48)) || !unhex(s, slen, secret, n)) {
        k->st.bad_lines++;
        return -EINVAL;
    }
    keylog_entry_t **slot = keylog_slot(k, random), *e = *slot;
    if (e == NULL) {
        if (k->st.clients >= k->max || (e = calloc(1, sizeof(*e))) == NULL) {
            k->st.full++;
            return -ENOSPC;
        }
        memcpy(e->random, random, TLS_RANDOM_LEN);
        *slot = e;
        k->st.clients++;
    }
    memcpy(e->secret[which], secret, n);
    e->len[which] = (uint8_t)n;
    k->st.secrets++;
    OPENSSL_cleanse(secret, sizeof(secret));
    return 1;
}

size_t tls_keylog_add_text(tls_keylog_t *k, const char *text, size_t len)
{
    size_t added = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if (tls_keylog_add_line(k, p, (size_t)(le - p)) > 0)
            added++;
        p = nl ? nl + 1 : end;
    }
    return added;
}

int tls_keylog_load(tls_keylog_t *k, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -errno;
    char line[512];
    int added = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        size_t n = strlen(line);
        if (n == sizeof(line) - 1 && line[n - 1] != '\n') {
            /* Longer than any key log line: count it, skip to its end. */
            k->st.bad_lines++;
            int c;
            while ((c = fgetc(f)) != EOF && c != '\n')
                ;
            continue;
        }
        if (tls_keylog_add_line(k, line, n) > 0)
            added++;
    }
    int err = ferror(f) ? -EIO : 0;
    fclose(f);
    OPENSSL_cleanse(line, sizeof(line));
    return err ? err : added;
}

tls_keylog_stats_t tls_keylog_stats(const tls_keylog_t *k)
{
    return k->st;
}

/* ---- key derivation (libcrypto) --------------------------------------------------------- */

/* TLS 1.2 PRF (RFC 5246 §5) through EVP_KDF "TLS1-PRF". */
static bool prf12(const char *md, const uint8_t *secret, size_t slen, const char *label,
                  const uint8_t *seed1, const uint8_t *seed2, uint8_t *out, size_t outlen)
{
    uint8_t seed[64 + 2 * TLS_RANDOM_LEN];
    size_t llen = strlen(label);
    memcpy(seed, label, llen);
    memcpy(seed + llen, seed1, TLS_RANDOM_LEN);
    memcpy(seed + llen + TLS_RANDOM_LEN, seed2, TLS_RANDOM_LEN);
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "TLS1-PRF", NULL);
    EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)md, 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, (void *)secret, slen),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, seed, llen + 2 * TLS_RANDOM_LEN),
        OSSL_PARAM_construct_end(),
    };
    bool ok = ctx != NULL && EVP_KDF_derive(ctx, out, outlen, params) > 0;
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    return ok;
}

/* HKDF-Expand-Label(secret, label, "", len) (RFC 8446 §7.1) through EVP_KDF "HKDF". */
static bool expand_label(const char *md, const uint8_t *secret, size_t slen, const char *label,
                         uint8_t *out, size_t outlen)
{
    uint8_t info[2 + 1 + 6 + 32 + 1];
    size_t llen = strlen(label);
    info[0] = (uint8_t)(outlen >> 8);
    info[1] = (uint8_t)outlen;
    info[2] = (uint8_t)(6 + llen);
    memcpy(info + 3, "tls13 ", 6);
    memcpy(info + 9, label, llen);
    info[9 + llen] = 0; /* empty context */
    int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)md, 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, slen),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, 10 + llen),
        OSSL_PARAM_construct_end(),
    };
    bool ok = ctx != NULL && EVP_KDF_derive(ctx, out, outlen, params) > 0;
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    return ok;
}

/* ---- sessions --------------------------------------------------------------------------- */

/* TLS record (RFC 5246 §6.2.1, RFC 8446 §5.1):
 *   +--------+---------+---------+------------------+
 *   | type 1 | version 2 | length 2 | fragment (length) |
 *   +--------+---------+---------+------------------+
 * type: 20 change_cipher_spec, 21 alert, 22 handshake, 23 application_data, 24 heartbeat. */
#define REC_HDR 5
enum { CT_CCS = 20, CT_ALERT = 21, CT_HANDSHAKE = 22, CT_APP = 23, CT_HEARTBEAT = 24 };

typedef enum { PH_CLEAR, PH_HANDSHAKE, PH_TRAFFIC } phase_t;

typedef struct {
    uint8_t *buf; /* the record being framed; grown to the records seen, at most a record */
    size_t have, cap;
    bool dead;
    phase_t phase; /* clear; TLS 1.3 handshake keys; traffic keys (TLS 1.2: after CCS) */
    bool keyed;    /* key and iv below are set for the phase */
    uint64_t seq;  /* record sequence number under the current keys */
    uint8_t key[32], iv[12], mac[48];
    uint8_t secret[48]; /* TLS 1.3: the current traffic secret (KeyUpdate moves it on) */
    uint8_t secret_len;
} tls_dir_state_t;

struct tls_session {
    const tls_keylog_t *keys;
    tls_plain_fn fn;
    void *ctx;
    tls_info_t info;
    const tls_suite_t *suite;
    uint8_t client_random[TLS_RANDOM_LEN], server_random[TLS_RANDOM_LEN];
    bool etm; /* encrypt_then_mac (RFC 7366) negotiated: CBC MAC over the ciphertext */
    EVP_CIPHER_CTX *cctx;
    uint8_t *plain; /* a record's plaintext */
    size_t scratch_cap;
    tls_dir_state_t d[2];
};

tls_session_t *tls_session_new(const tls_keylog_t *keys, tls_plain_fn fn, void *ctx)
{
    tls_session_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->cctx = EVP_CIPHER_CTX_new();
    if (s->cctx == NULL) {
        free(s);
        return NULL;
    }
    s->keys = keys;
    s->fn = fn;
    s->ctx = ctx;
    return s;
}

void tls_session_free(tls_session_t *s)
{
    if (s == NULL)
        return;
    EVP_CIPHER_CTX_free(s->cctx);
    for (int i = 0; i < 2; i++) {
        if (s->d[i].buf != NULL)
            OPENSSL_cleanse(s->d[i].buf, s->d[i].cap);
        free(s->d[i].buf);
    }
    if (s->plain != NULL)
        OPENSSL_cleanse(s->plain, s->scratch_cap);
    free(s->plain);
    OPENSSL_cleanse(s, sizeof(*s));
    free(s);
}

const tls_info_t *tls_session_info(const tls_session_t *s)
{
    return &s->info;
}

bool tls_looks_like(const uint8_t *p, size_t len)
{
    return len >= 3 && p[0] == CT_HANDSHAKE && p[1] == 3 && p[2] >= 1 && p[2] <= 4;
}

/* ClientHello / ServerHello bodies (RFC 8446 §4.1.2-3, RFC 5246 §7.4.1):
 *   version 2 | random 32 | session_id <0..32> | (client) cipher_suites <2..>, compression <1..>
 *   | (server) cipher_suite 2, compression 1 | extensions <0..2^16-1> */
static bool parse_hello(tls_session_t *s, uint8_t type, cur_t *c)
{
    bool server = type == 2;
    uint16_t version = cur_be16(c);
    if (!cur_need(c, TLS_RANDOM_LEN))
        return false;
    memcpy(server ? s->server_random : s->client_random, c->p, TLS_RANDOM_LEN);
    c->p += TLS_RANDOM_LEN;
    uint8_t sid = cur_u8(c);
    if (sid > 32 || !cur_need(c, sid))
        return false;
    c->p += sid;
    uint16_t cipher = 0;
    if (server) {
        cipher = cur_be16(c);
        (void)cur_u8(c);
    } else {
        uint16_t n = cur_be16(c);
        if (!cur_need(c, n))
            return false;
        c->p += n;
        uint8_t m = cur_u8(c);
        if (!cur_need(c, m))
            return false;
        c->p += m;
    }
    if (c->err)
        return false;
    if (cur_left(c) >= 2) {
        uint16_t total = cur_be16(c);
        if (!cur_need(c, total))
            return false;
        cur_t x = cur_make(c->p, total);
        while (cur_left(&x) > 0 && !x.err) {
            uint16_t et = cur_be16(&x), el = cur_be16(&x);
            if (!cur_need(&x, el))
                return false;
            cur_t e = cur_make(x.p, el);
            x.p += el;
            if (et == 0x002b && server) { /* supported_versions: the one selected */
                version = cur_be16(&e);
            } else if (et == 0x0016 && server) { /* encrypt_then_mac */
                s->etm = true;
            } else if (et == 0x0000 && !server) { /* server_name (RFC 6066 §3) */
                (void)cur_be16(&e);
                while (cur_left(&e) >= 3 && !e.err) {
                    uint8_t nt = cur_u8(&e);
                    uint16_t nl = cur_be16(&e);
                    if (!cur_need(&e, nl))
                        break;
                    if (nt == 0 && nl <= TLS_SNI_MAX) {
                        memcpy(s->info.sni, e.p, nl);
                        s->info.sni[nl] = '\0';
                        break;
                    }
                    e.p += nl;
                }
            }
            if (e.err)
                return false;
        }
        if (x.err)
            return false;
    }
    /* A HelloRetryRequest is a ServerHello with this random (RFC 8446 §4.1.3): the real one
     * follows the client's second ClientHello. */
    static const uint8_t hrr[TLS_RANDOM_LEN] = {0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11,
                                                0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
                                                0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e,
                                                0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};
    if (server && memcmp(s->server_random, hrr, TLS_RANDOM_LEN) == 0) {
        s->info.version = version;
        s->info.cipher = cipher;
        return true;
    }
    if (server) {
        s->info.server_hello = true;
        s->info.version = version;
        s->info.cipher = cipher;
        s->suite = suite_find(cipher);
        if (version == 0x0304) {
            s->d[0].phase = s->d[1].phase = PH_HANDSHAKE;
            s->d[0].keyed = s->d[1].keyed = false;
            s->d[0].seq = s->d[1].seq = 0;
        }
    } else {
        s->info.client_hello = true;
    }
    return true;
}

/* Handshake messages of a record (type 1, length 3, body); hellos parsed, others skipped.
 * A message split over records is not reassembled: only the hellos are read, and they fit. */
static bool parse_handshake(tls_session_t *s, tls_dir_t dir, const uint8_t *p, size_t len,
                            bool *finished)
{
    cur_t c = cur_make(p, len);
    while (cur_left(&c) >= 4) {
        uint8_t type = cur_u8(&c);
        uint32_t mlen = cur_be24(&c);
        if (cur_left(&c) < mlen)
            return true; /* continues in the next record */
        cur_t m = cur_make(c.p, mlen);
        c.p += mlen;
        if (finished != NULL && type == 20)
            *finished = true;
        if ((type == 1 && dir == TLS_FROM_CLIENT && !s->info.client_hello) ||
            (type == 2 && dir == TLS_FROM_SERVER && !s->info.server_hello)) {
            if (!parse_hello(s, type, &m))
                return false;
        }
    }
    return true;
}

static const uint8_t *secret_of(const tls_session_t *s, int which, size_t *len)
{
    if (s->keys == NULL)
        return NULL;
    const keylog_entry_t *e = *keylog_slot(s->keys, s->client_random);
    if (e == NULL || e->len[which] == 0)
        return NULL;
    *len = e->len[which];
    return e->secret[which];
}

/* Keys for a direction entering its current phase; false when the key log lacks them. */
static bool derive(tls_session_t *s, tls_dir_t dir)
{
    tls_dir_state_t *d = &s->d[dir];
    const tls_suite_t *su = s->suite;
    size_t iv_len = su->kind == AEAD_GCM && !su->tls13 ? 4 : su->kind == CBC ? 16 : 12;
    if (su->tls13) {
        int which = d->phase == PH_HANDSHAKE ? (dir == TLS_FROM_CLIENT ? SEC_CHS : SEC_SHS)
                                             : (dir == TLS_FROM_CLIENT ? SEC_CTS : SEC_STS);
        size_t slen;
        const uint8_t *sec = secret_of(s, which, &slen);
        if (d->phase == PH_TRAFFIC) {
            if (d->secret_len == 0 && sec != NULL) {
                memcpy(d->secret, sec, slen);
                d->secret_len = (uint8_t)slen;
            }
            sec = d->secret_len ? d->secret : NULL;
            slen = d->secret_len;
        }
        return sec != NULL && expand_label(su->prf_md, sec, slen, "key", d->key, su->key_len) &&
               expand_label(su->prf_md, sec, slen, "iv", d->iv, 12);
    }
    size_t mlen;
    const uint8_t *master = secret_of(s, SEC_MASTER, &mlen);
    if (master == NULL)
        return false;
    /* key_block = client MAC, server MAC, client key, server key, client IV, server IV. */
    uint8_t kb[2 * (48 + 32 + 16)];
    size_t need = 2u * (su->mac_len + su->key_len + iv_len);
    if (!prf12(su->prf_md, master, mlen, "key expansion", s->server_random, s->client_random, kb,
               need))
        return false;
    size_t i = dir == TLS_FROM_CLIENT ? 0 : 1;
    memcpy(d->mac, kb + i * su->mac_len, su->mac_len);
    memcpy(d->key, kb + 2u * su->mac_len + i * su->key_len, su->key_len);
    if (su->kind != CBC)
        memcpy(d->iv, kb + 2u * (su->mac_len + su->key_len) + i * iv_len, iv_len);
    OPENSSL_cleanse(kb, sizeof(kb));
    return true;
}

static const EVP_CIPHER *evp_cipher(const tls_suite_t *su)
{
    switch (su->kind) {
        case AEAD_GCM:
            return su->key_len == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
        case AEAD_CHACHA:
            return EVP_chacha20_poly1305();
        case CBC:
            return su->key_len == 16 ? EVP_aes_128_cbc() : EVP_aes_256_cbc();
    }
    return NULL;
}

/* A CBC record's MAC (RFC 5246 6.2.3.1): HMAC(mac key, hdr (13) || data) compared with
 * expect, fed in two parts through EVP_MAC so that the record is not copied behind hdr. The
 * MAC key and the MAC are both ml bytes (the digest's length) in TLS 1.2. */
static bool record_mac_ok(const char *md, const uint8_t *key, size_t ml, const uint8_t *hdr,
                          const uint8_t *data, size_t len, const uint8_t *expect)
{
    uint8_t mac[EVP_MAX_MD_SIZE];
    size_t maclen = 0;
    EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)md, 0),
        OSSL_PARAM_construct_end(),
    };
    bool ok = ctx != NULL && EVP_MAC_init(ctx, key, ml, params) == 1 &&
              EVP_MAC_update(ctx, hdr, 13) == 1 && EVP_MAC_update(ctx, data, len) == 1 &&
              EVP_MAC_final(ctx, mac, &maclen, sizeof(mac)) == 1 && maclen == ml &&
              CRYPTO_memcmp(mac, expect, ml) == 0;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(hmac);
    OPENSSL_cleanse(mac, sizeof(mac));
    return ok;
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

/* One AEAD decryption: ct (len) ending in a 16-byte tag. Plaintext to s->plain. */
static bool aead_open(tls_session_t *s, const uint8_t *key, const uint8_t *nonce,
                      const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t len,
                      size_t *out_len)
{
    if (len < 16)
        return false;
    len -= 16;
    EVP_CIPHER_CTX *c = s->cctx;
    int n = 0, f = 0;
    bool ok = EVP_CIPHER_CTX_reset(c) == 1 &&
              EVP_DecryptInit_ex(c, evp_cipher(s->suite), NULL, NULL, NULL) == 1 &&
              EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) == 1 &&
              EVP_DecryptInit_ex(c, NULL, NULL, key, nonce) == 1 &&
              EVP_DecryptUpdate(c, NULL, &n, aad, (int)aad_len) == 1 &&
              EVP_DecryptUpdate(c, s->plain, &n, ct, (int)len) == 1 &&
              EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, 16, (void *)(ct + len)) == 1 &&
              EVP_DecryptFinal_ex(c, s->plain + n, &f) == 1;
    *out_len = ok ? (size_t)n + (size_t)f : 0;
    return ok;
}

/* TLS 1.2 CBC (RFC 5246 §6.2.3.2, MAC-then-encrypt; RFC 7366 encrypt-then-MAC). */
static bool cbc_open(tls_session_t *s, tls_dir_state_t *d, uint8_t type, uint16_t ver,
                     const uint8_t *p, size_t len, size_t *out_len)
{
    const tls_suite_t *su = s->suite;
    size_t ml = su->mac_len;
    uint8_t hdr[13];
    put_be64(hdr, d->seq);
    hdr[8] = type;
    hdr[9] = (uint8_t)(ver >> 8);
    hdr[10] = (uint8_t)ver;
    if (s->etm) {
        if (len < ml + 32)
            return false;
        len -= ml;
        hdr[11] = (uint8_t)(len >> 8);
        hdr[12] = (uint8_t)len;
        if (!record_mac_ok(su->mac_md, d->mac, ml, hdr, p, len, p + len))
            return false;
    }
    if (len < 32 || len % 16 != 0)
        return false;
    EVP_CIPHER_CTX *c = s->cctx;
    int n = 0, f = 0;
    if (EVP_CIPHER_CTX_reset(c) != 1 ||
        EVP_DecryptInit_ex(c, evp_cipher(su), NULL, d->key, p) != 1 ||
        EVP_CIPHER_CTX_set_padding(c, 0) != 1 ||
        EVP_DecryptUpdate(c, s->plain, &n, p + 16, (int)(len - 16)) != 1 ||
        EVP_DecryptFinal_ex(c, s->plain + n, &f) != 1)
        return false;
    size_t pl = (size_t)n + (size_t)f;
    uint8_t pad = s->plain[pl - 1];
    if ((size_t)pad + 1 > pl)
        return false;
    for (size_t i = pl - pad - 1; i < pl; i++)
        if (s->plain[i] != pad)
            return false;
    pl -= (size_t)pad + 1;
    if (!s->etm) {
        if (pl < ml)
            return false;
        pl -= ml;
        hdr[11] = (uint8_t)(pl >> 8);
        hdr[12] = (uint8_t)pl;
        if (!record_mac_ok(su->mac_md, d->mac, ml, hdr, s->plain, pl, s->plain + pl))
            return false;
    }
    *out_len = pl;
    return true;
}

/* The per-record nonce of TLS 1.3 (RFC 8446 5.3) and of TLS 1.2 ChaCha20-Poly1305 (RFC 7905
 * 2): the 12-byte IV XOR the record sequence number, left-padded to 12 bytes. */
static void seq_nonce(const tls_dir_state_t *d, uint8_t nonce[12])
{
    memcpy(nonce, d->iv, 12);
    for (int i = 0; i < 8; i++)
        nonce[4 + i] ^= (uint8_t)(d->seq >> (56 - 8 * i));
}

/* Decrypts one protected record of d's current phase into s->plain; inner type in *type. */
static bool open_record(tls_session_t *s, tls_dir_state_t *d, uint8_t *type, uint16_t ver,
                        const uint8_t *p, size_t len, size_t *out)
{
    const tls_suite_t *su = s->suite;
    uint8_t nonce[12], aad[13];
    if (su->tls13) {
        seq_nonce(d, nonce);
        aad[0] = *type;
        aad[1] = (uint8_t)(ver >> 8);
        aad[2] = (uint8_t)ver;
        aad[3] = (uint8_t)(len >> 8);
        aad[4] = (uint8_t)len;
        size_t n;
        if (!aead_open(s, d->key, nonce, aad, 5, p, len, &n))
            return false;
        while (n > 0 && s->plain[n - 1] == 0) /* TLSInnerPlaintext padding (§5.2) */
            n--;
        if (n == 0)
            return false;
        *type = s->plain[--n];
        *out = n;
        return true;
    }
    if (su->kind == CBC)
        return cbc_open(s, d, *type, ver, p, len, out);
    size_t explicit_len = su->kind == AEAD_GCM ? 8 : 0;
    if (len < explicit_len + 16)
        return false;
    if (su->kind == AEAD_GCM) {
        memcpy(nonce, d->iv, 4);
        memcpy(nonce + 4, p, 8);
    } else {
        seq_nonce(d, nonce);
    }
    size_t plen = len - explicit_len - 16;
    put_be64(aad, d->seq);
    aad[8] = *type;
    aad[9] = (uint8_t)(ver >> 8);
    aad[10] = (uint8_t)ver;
    aad[11] = (uint8_t)(plen >> 8);
    aad[12] = (uint8_t)plen;
    return aead_open(s, d->key, nonce, aad, 13, p + explicit_len, len - explicit_len, out);
}

/* A protected record: decrypt it (TLS 1.3: trying the traffic keys when the handshake keys
 * fail, which keeps going where a Finished was not seen), hand application data on. */
static void protected_record(tls_session_t *s, tls_dir_t dir, uint8_t type, uint16_t ver,
                             const uint8_t *p, size_t len)
{
    tls_dir_state_t *d = &s->d[dir];
    if (s->suite == NULL || s->keys == NULL) {
        s->info.undecrypted++;
        return;
    }
    if (s->scratch_cap < len) { /* scratch space as large as the largest record so far */
        uint8_t *p2 = realloc(s->plain, len);
        if (p2 == NULL) {
            s->info.undecrypted++;
            d->seq++;
            return;
        }
        s->plain = p2;
        s->scratch_cap = len;
    }
    if (!d->keyed) {
        d->keyed = derive(s, dir);
        if (!d->keyed) {
            s->info.undecrypted++;
            return;
        }
        s->info.keys = true;
    }
    size_t n = 0;
    bool ok = open_record(s, d, &type, ver, p, len, &n);
    if (!ok && s->suite->tls13 && d->phase == PH_HANDSHAKE) {
        tls_dir_state_t save = *d;
        d->phase = PH_TRAFFIC;
        d->seq = 0;
        d->keyed = derive(s, dir);
        ok = d->keyed && open_record(s, d, &type, ver, p, len, &n);
        if (!ok)
            *d = save;
    }
    if (!ok) {
        s->info.auth_failures++;
        d->seq++;
        return;
    }
    d->seq++;
    if (type == CT_APP) {
        s->info.app_records++;
        s->info.app_bytes += n;
        s->info.decrypted = true;
        if (s->fn != NULL && n > 0)
            s->fn(s->ctx, dir, s->plain, n);
    } else if (type == CT_HANDSHAKE && s->suite->tls13 && d->phase == PH_HANDSHAKE) {
        bool fin = false;
        (void)parse_handshake(s, dir, s->plain, n, &fin);
        if (fin) {
            d->phase = PH_TRAFFIC;
            d->seq = 0;
            d->keyed = false;
        }
    } else if (type == CT_HANDSHAKE && s->suite->tls13 && d->secret_len != 0) {
        /* KeyUpdate (RFC 8446 §4.6.3): the next records of this direction use
         * HKDF-Expand-Label(secret, "traffic upd", "", Hash.length). */
        cur_t c = cur_make(s->plain, n);
        while (cur_left(&c) >= 4) {
            uint8_t mt = cur_u8(&c);
            uint32_t ml = cur_be24(&c);
            if (!cur_need(&c, ml))
                break;
            c.p += ml;
            uint8_t next[48];
            if (mt == 24 && expand_label(s->suite->prf_md, d->secret, d->secret_len, "traffic upd",
                                         next, d->secret_len)) {
                memcpy(d->secret, next, d->secret_len);
                OPENSSL_cleanse(next, sizeof(next));
                s->info.key_updates++;
                d->seq = 0;
                d->keyed = false;
            }
        }
    }
}

/* One whole record from the direction's buffer. False: malformed. */
static bool record(tls_session_t *s, tls_dir_t dir, const uint8_t *r, size_t len)
{
    tls_dir_state_t *d = &s->d[dir];
    uint8_t type = r[0];
    uint16_t ver = (uint16_t)(r[1] << 8 | r[2]);
    const uint8_t *p = r + REC_HDR;
    size_t n = len - REC_HDR;
    s->info.records++;
    bool tls13 = s->info.version == 0x0304;
    if (type == CT_CCS) {
        if (!tls13) { /* TLS 1.2: this direction's next records use the new keys */
            d->phase = PH_TRAFFIC;
            d->seq = 0;
            d->keyed = false;
        }
        return true; /* TLS 1.3: middlebox compatibility, ignored (§D.4) */
    }
    if (d->phase != PH_CLEAR) {
        if (tls13 && type == CT_HANDSHAKE) /* a ClientHello after a HelloRetryRequest */
            return parse_handshake(s, dir, p, n, NULL);
        if (tls13 && type != CT_APP)
            return type == CT_ALERT; /* only a plaintext alert may still come */
        protected_record(s, dir, type, ver, p, n);
        return true;
    }
    if (type == CT_HANDSHAKE)
        return parse_handshake(s, dir, p, n, NULL);
    if (type == CT_APP) { /* application data in clear before keys: not TLS as we know it */
        s->info.undecrypted++;
        return true;
    }
    return true;
}

int tls_session_feed(tls_session_t *s, tls_dir_t dir, const uint8_t *data, size_t len)
{
    tls_dir_state_t *d = &s->d[dir];
    while (len > 0) {
        if (d->dead)
            return -EPROTO;
        if (d->cap < REC_HDR) {
            d->buf = malloc(REC_HDR + 512);
            if (d->buf == NULL) {
                d->dead = true;
                return -ENOMEM;
            }
            d->cap = REC_HDR + 512;
        }
        size_t want = REC_HDR;
        if (d->have >= REC_HDR)
            want += (size_t)(d->buf[3] << 8 | d->buf[4]);
        size_t take = want - d->have < len ? want - d->have : len;
        memcpy(d->buf + d->have, data, take);
        d->have += take;
        data += take;
        len -= take;
        if (d->have == REC_HDR) {
            size_t rl = (size_t)(d->buf[3] << 8 | d->buf[4]);
            if (d->buf[0] < CT_CCS || d->buf[0] > CT_HEARTBEAT || d->buf[1] != 3 ||
                rl > TLS_RECORD_MAX) {
                s->info.malformed++;
                d->dead = true;
                return -EPROTO;
            }
            want = REC_HDR + rl;
            if (d->cap < want) {
                uint8_t *b = realloc(d->buf, want);
                if (b == NULL) {
                    d->dead = true;
                    return -ENOMEM;
                }
                d->buf = b;
                d->cap = want;
            }
        }
        if (d->have >= REC_HDR && d->have == want) {
            bool ok = record(s, dir, d->buf, d->have);
            d->have = 0;
            if (!ok) {
                s->info.malformed++;
                d->dead = true;
                return -EPROTO;
            }
        }
    }
    return d->dead ? -EPROTO : 0;
}
