#ifndef CHECKSUM_H
#define CHECKSUM_H
#include <stddef.h>
#include <stdint.h>

/* CRC-32 (IEEE 802.3, as zlib computes it) of `size` bytes. */
uint32_t checksum(const void *data, size_t size);

#endif
