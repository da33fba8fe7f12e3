/* hash: fast non-cryptographic hashing for flow and dialog tables. */
#ifndef SIPSCOPE_HASH_H
#define SIPSCOPE_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Final avalanche (splitmix64). */
static inline uint64_t hash_mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* Hash len bytes with a seed: one multiply per 8-byte word, one full avalanche at the end.
 * Good enough against accidental collisions at a few ns per key; tables that face hostile keys
 * (Call-IDs) also seed per table and cap their chain walks. */
static inline uint64_t hash_bytes(const void *data, size_t len, uint64_t seed)
{
    const uint8_t *p = (const uint8_t *)data;
    uint64_t h = seed ^ (len * 0x9e3779b97f4a7c15ULL);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
        h ^= h >> 29;
        p += 8;
        len -= 8;
    }
    uint64_t tail = 0;
    for (size_t i = 0; i < len; i++)
        tail |= (uint64_t)p[i] << (8 * i);
    return hash_mix(h ^ tail ^ 0x5bd1e995u);
}

#endif
