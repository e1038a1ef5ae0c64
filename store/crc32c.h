/* crc32c.h — CRC-32C (Castagnoli), the checksum of WAL records and chunk
 * blocks. Uses the SSE4.2 crc32 instruction when the CPU has it (checked
 * once), else a slicing-by-8 table. No mutable global state after the
 * one-time init (pthread_once).
 */
#ifndef LF_STORE_CRC32C_H
#define LF_STORE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continues a CRC: pass 0 to start. Same result as the usual crc32c(). */
uint32_t lf_crc32c(uint32_t crc, const void *data, size_t len);

#endif
