#!/bin/busybox sh
# /init of a kernel-matrix guest (scripts/kernels.sh packs it, test/helpers/vm.ts boots it):
# the host's root read-only over virtio-9p (tag root), tmpfs where programs write, the job
# directory read-write (tag job) at /tmp/job, the checkout read-only (tag src) at its own path
# (kernel argument l7src=, which may lie under /tmp); runs /tmp/job/run.sh, writes its status to
# /tmp/job/rc and powers off. Its output goes to /tmp/job/out.log, the kernel's to the console.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules); do insmod "/lib/$m" || echo "l7bpf-guest: insmod $m failed"; done
if ! mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 root /newroot; then
  echo "l7bpf-guest: cannot mount the host's root"
  poweroff -f
fi
for d in tmp run var/tmp root; do mount -t tmpfs tmpfs "/newroot/$d"; done
mkdir -p /newroot/tmp/job
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 job /newroot/tmp/job || echo "l7bpf-guest: cannot mount the job directory"
src=$(sed -n 's/.*l7src=\([^ ]*\).*/\1/p' /proc/cmdline)
if [ -n "$src" ]; then
  mkdir -p "/newroot$src" 2>/dev/null
  mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 src "/newroot$src" || echo "l7bpf-guest: cannot mount $src"
fi
umount /proc /sys /dev
exec switch_root /newroot /bin/sh -c '
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mount -t bpf bpf /sys/fs/bpf; ip link set lo up 2>/dev/null
cd /tmp/job && sh ./run.sh > out.log 2>&1; echo $? > rc; sync
echo o > /proc/sysrq-trigger; sleep 30'
