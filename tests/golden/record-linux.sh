#!/usr/bin/env bash
# Record QEMU's serial console of the Linux guest of guests/linux (its bzImage and initramfs, built or taken
# from the cache by guests/linux/build.sh) into tests/golden/linux/boot.txt.  MiniHv boots the same files with
# the same command line and memory in tests/MiniHv.Tests/EndToEnd/LinuxGoldenTests.cs, which compares the two
# consoles after dropping the few lines that differ for a stated reason (the list and the reasons are there).
#
# QEMU runs as close to MiniHv's PC as its options allow, so that the consoles differ in few lines:
#   -cpu    MiniHv's CPUID: family 5 model 2 stepping 0xC, FPU DE PSE TSC MSR PAE CX8 APIC CMOV and nothing else,
#           extended leaves up to 0x80000001 with NX alone (no brand string, so Linux names the CPU from its own
#           table, "Pentium 75 - 200", as on MiniHv)
#   -icount time from the instruction count, as MiniHv's: the timer calibrations, the TSC clocksource's
#           watchdog and every line whose order depends on when a timer fires come out the same on every run
#           (QEMU's plain TCG lets the host's load decide, and PIT calibration sometimes fails under load)
#   initramfs_async=0  unpacks the initramfs before the boot goes on, not beside it: its lines keep one place
#
# The golden belongs to one kernel: the banner's first line names the source version and compiler (the build
# user, host and date are fixed by guests/linux/kernel.sh, so they do not vary).  When the kernel changes
# (kernel.sh, minihv.config, or Debian's linux-source-6.1 package moves on), record it again with this script.
# The run must end with the guest's reboot (QEMU's status 0 under -no-reboot); RUNS runs (default 3) must
# print the same bytes.
#
# Usage: tests/golden/record-linux.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
runs=${RUNS:-3}
qemu=${QEMU:-qemu-system-i386}
timeout_s=${TIMEOUT:-120}
build="$root/guests/linux/build"
cpu=qemu32,family=5,model=2,stepping=12,xlevel=0x80000001,+nx,-mce,-sep,-mtrr,-pge,-mca,-pat,-pse36,-fxsr,-mmx,-sse,-sse2
append="console=ttyS0 initramfs_async=0"

sh "$root/guests/linux/build.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for ((i = 1; i <= runs; i++)); do
    status=0
    timeout "$timeout_s" "$qemu" -cpu "$cpu" -icount shift=3,sleep=off -m 64M \
        -kernel "$build/bzImage" -initrd "$build/initramfs.cpio.gz" -append "$append" \
        -display none -serial stdio -monitor none -no-reboot >"$tmp/boot.$i" 2>"$tmp/boot.err" || status=$?
    if [ "$status" -ne 0 ]; then
        echo "linux: run $i ended with status $status, not through the guest's reboot" >&2
        cat "$tmp/boot.err" >&2
        exit 1
    fi
    if ! grep -q "init: rebooting" "$tmp/boot.$i"; then
        echo "linux: run $i never reached the end of /init" >&2
        exit 1
    fi
    if [ "$i" -gt 1 ] && ! cmp -s "$tmp/boot.1" "$tmp/boot.$i"; then
        echo "linux: run $i printed something else than run 1" >&2
        diff "$tmp/boot.1" "$tmp/boot.$i" >&2 || true
        exit 1
    fi
done
mkdir -p "$here/linux"
cp "$tmp/boot.1" "$here/linux/boot.txt"
echo "linux: $(wc -c <"$here/linux/boot.txt") bytes, $runs identical runs ($(head -1 "$here/linux/boot.txt" | tr -d '\r'))"
