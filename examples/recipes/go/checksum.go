// Package xarchrecipe is a tiny package whose tests `go test -exec` runs through `xarch run`.
package xarchrecipe

import "hash/crc32"

// Checksum is the IEEE CRC-32 of data.
func Checksum(data []byte) uint32 {
	return crc32.ChecksumIEEE(data)
}
