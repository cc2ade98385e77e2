#!/xarch/bin/sh
# The guest's init (pytest-xarch's system runner): the host's files at their own paths,
# the target's library root over them, and an SSH server for the runs.
# /xarch/boot.conf (written per boot) sets HOST_DIRS, HOST_LINKS, LIBRARY_MOUNTS, WRITABLE,
# ADDRESS and GATEWAY.
export PATH=/xarch/bin
/xarch/bin/busybox --install -s /xarch/bin
say() { echo "xarch-init: $*" > /dev/console; }
fail() { say "FAILED: $*"; poweroff -f; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
. /xarch/boot.conf

while read -r module; do
  insmod "/xarch/modules/$module" || fail "insmod $module"
done < /xarch/modules/order

mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,ro host /xarch/host || fail "9p /"
for entry in $HOST_DIRS; do
  mkdir -p "/$entry" && mount --bind "/xarch/host/$entry" "/$entry" || fail "bind /$entry"
done
for link in $HOST_LINKS; do ln -s "${link#*=}" "/${link%%=*}"; done
# The library root, in front of the host's files (QEMU's -L order): "place=prefix-dir".
for pair in $LIBRARY_MOUNTS; do
  place=${pair%%=*}; layer=${pair#*=}
  mkdir -p "$place" 2>/dev/null
  mount -t overlay overlay -o "ro,lowerdir=/xarch/host$layer:$place" "$place" \
    || fail "library root over $place"
done
# Writable host directories: "tag=path".
for pair in $WRITABLE; do
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 "${pair%%=*}" "${pair#*=}" \
    || fail "9p ${pair#*=}"
done
for file in passwd group shells; do mount --bind "/xarch/etc/$file" "/etc/$file"; done
# system() and popen() run /bin/sh: the target's busybox, not the host's (x86-64) shell.
mount --bind /xarch/bin/busybox /bin/sh || fail "/bin/sh"

ip link set lo up
ip link set eth0 up && ip addr add "$ADDRESS" dev eth0 && ip route add default via "$GATEWAY" \
  || fail "network"
LD_LIBRARY_PATH=/xarch/dropbear/lib dropbearkey -t ed25519 -f /xarch/host_key \
  > /dev/null 2> /dev/console || fail "host key"
LD_LIBRARY_PATH=/xarch/dropbear/lib dropbear -F -E -s -r /xarch/host_key -p 22 \
  > /dev/console 2>&1 &
say "ready"
while :; do wait; sleep 3600; done
