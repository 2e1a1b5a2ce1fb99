/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as used by iSCSI, ext4 and btrfs.
 * Chosen over zlib's CRC-32 because it detects more error patterns in short frames and
 * needs no extra dependency. */
#ifndef PASIDD_CRC32C_H
#define PASIDD_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Continue a CRC: pass 0 to start, and the previous result to extend it over more bytes, so
 * crc32c_update(crc32c_update(0, a, n), b, m) equals the CRC of a followed by b. Uses the
 * CPU's crc32 instruction when it has one, else slicing-by-8 tables. */
uint32_t crc32c_update(uint32_t crc, const void *buf, size_t len);

static inline uint32_t
crc32c(const void *buf, size_t len)
{
	return crc32c_update(0, buf, len);
}

/* The implementations, each giving the same results, so that tests can hold them against
 * each other: CRC32C_HARDWARE falls back to the tables where the CPU has no instruction
 * (crc32c_hw_available()). */
enum crc32c_impl {
	CRC32C_HARDWARE,
	CRC32C_SLICING8,
	CRC32C_BYTEWISE,
};
uint32_t crc32c_update_impl(enum crc32c_impl impl, uint32_t crc, const void *buf, size_t len);
bool crc32c_hw_available(void);

#endif
