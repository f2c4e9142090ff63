#include <assert.h>
#include <stdbool.h>
#include <string.h>

#include "rw_crc32c.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#define CRC32C_POLY_REFLECTED 0x82F63B78u
/* Slicing-by-8: eight tables let the portable path consume 8 bytes per step. */
#define CRC32C_SLICES 8

static uint32_t crc32c_table[CRC32C_SLICES][256];
static uint32_t (*crc32c_active)(const void *, size_t, uint32_t) = rw_crc32c_portable;
static bool crc32c_hardware;

uint32_t rw_crc32c_portable(const void *data, size_t size_bytes, uint32_t seed) {
    assert(data != NULL || size_bytes == 0);
    const uint8_t *p = data;
    uint32_t crc = ~seed;
    while (size_bytes >= CRC32C_SLICES) {
        uint32_t low = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                              (uint32_t)p[3] << 24);
        crc = crc32c_table[7][low & 0xff] ^ crc32c_table[6][(low >> 8) & 0xff] ^
              crc32c_table[5][(low >> 16) & 0xff] ^ crc32c_table[4][low >> 24] ^
              crc32c_table[3][p[4]] ^ crc32c_table[2][p[5]] ^ crc32c_table[1][p[6]] ^
              crc32c_table[0][p[7]];
        p += CRC32C_SLICES;
        size_bytes -= CRC32C_SLICES;
    }
    while (size_bytes-- > 0) crc = (crc >> 8) ^ crc32c_table[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

#if defined(__x86_64__)
/* Compiled for SSE4.2 alone, so the rest of the binary still runs on CPUs without it. */
__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(const void *data, size_t size_bytes,
                                                               uint32_t seed) {
    assert(data != NULL || size_bytes == 0);
    const uint8_t *p = data;
    uint64_t crc = (uint32_t)~seed;
    while (size_bytes >= sizeof(uint64_t)) {
        uint64_t word;
        memcpy(&word, p, sizeof(word)); /* x86 loads unaligned words at full speed */
        crc = _mm_crc32_u64(crc, word);
        p += sizeof(word);
        size_bytes -= sizeof(word);
    }
    uint32_t crc32 = (uint32_t)crc;
    while (size_bytes-- > 0) crc32 = _mm_crc32_u8(crc32, *p++);
    return ~crc32;
}
#endif

/* Runs once when the shared object is loaded, before any thread can call in. */
__attribute__((constructor)) static void crc32c_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t crc = i;
        for (int bit = 0; bit < 8; bit++) crc = (crc >> 1) ^ (CRC32C_POLY_REFLECTED & -(crc & 1));
        crc32c_table[0][i] = crc;
    }
    for (uint32_t i = 0; i < 256; i++) {
        for (int slice = 1; slice < CRC32C_SLICES; slice++) {
            uint32_t previous = crc32c_table[slice - 1][i];
            crc32c_table[slice][i] = (previous >> 8) ^ crc32c_table[0][previous & 0xff];
        }
    }
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2")) {
        crc32c_active = crc32c_sse42;
        crc32c_hardware = true;
    }
#endif
}

uint32_t rw_crc32c(const void *data, size_t size_bytes, uint32_t seed) {
    return crc32c_active(data, size_bytes, seed);
}

const char *rw_crc32c_impl(void) {
    return crc32c_hardware ? "sse4.2" : "table";
}
