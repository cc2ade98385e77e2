"""System emulation: the target's own kernel under qemu-system, for the `system` runner.

`platforms` says what a target boots with, `image` fetches and caches the kernel
and initramfs from Debian packages (`packages`, `modules`, `cpio`), and
`machine` boots one guest and waits for its SSH server (`init.sh` runs inside).
"""
