/* A tiny portable byte library: the code under test in the demo. */
#ifndef DEMO_BYTES_H
#define DEMO_BYTES_H
#include <stddef.h>
#include <stdint.h>

uint32_t demo_crc32(const uint8_t *data, size_t len);
uint32_t demo_load_be32(const uint8_t *bytes);
const char *demo_byte_order(void);

#endif
