/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as used by iSCSI, ext4 and btrfs.
 * Chosen over zlib's CRC-32 because it detects more error patterns in short frames and
 * needs no extra dependency. */
#ifndef PASIDD_CRC32C_H
#define PASIDD_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC: pass 0 to start, and the previous result to extend it over more bytes, so
 * crc32c_update(crc32c_update(0, a, n), b, m) equals the CRC of a followed by b. */
uint32_t crc32c_update(uint32_t crc, const void *buf, size_t len);

static inline uint32_t
crc32c(const void *buf, size_t len)
{
	return crc32c_update(0, buf, len);
}

#endif
