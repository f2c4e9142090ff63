/*
 * CRC32C (Castagnoli): reflected polynomial 0x82F63B78, init and xorout 0xFFFFFFFF.
 * rw_crc32c("123456789") = 0xE3069283. A seed of 0 starts a new checksum; passing a previous
 * result as seed continues it over more bytes.
 */
#ifndef RW_CRC32C_H
#define RW_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* The fastest path this CPU has, chosen with cpuid when the library is loaded. */
uint32_t rw_crc32c(const void *data, size_t size_bytes, uint32_t seed);
/* Always the table path, so tests can compare it with the hardware path. */
uint32_t rw_crc32c_portable(const void *data, size_t size_bytes, uint32_t seed);
/* "sse4.2" or "table". */
const char *rw_crc32c_impl(void);

#endif
