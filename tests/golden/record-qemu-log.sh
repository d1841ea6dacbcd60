#!/usr/bin/env bash
# Record QEMU 7.2's `-d int` header lines for the faults test kernel into
# tests/golden/qemu-log/faults-int.txt: one "N: v=.. e=.. i=.. cpl=.. IP=.. pc=.. SP=.. ..." line per
# exception or software interrupt the kernel takes in protected mode. Hardware interrupts (vectors 0x20
# and up with i=0) are left out: where a timer tick lands is not part of the comparison, and SeaBIOS
# takes none in protected mode before the kernel starts.
#
# Usage: tests/golden/record-qemu-log.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
qemu=${QEMU:-qemu-system-i386}

make -s -C "$root/tests/kernels"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

set +e
timeout 60 "$qemu" -kernel "$root/tests/kernels/build/faults.elf" -m 32M -display none -serial null -monitor none \
    -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04 -d int -D "$tmp/qemu.log" </dev/null
status=$?
set -e
if [ "$status" -ne 1 ]; then
    echo "record-qemu-log.sh: QEMU ended with status $status, not the kernel's debug exit (1)" >&2
    exit 1
fi

grep ': v=' "$tmp/qemu.log" | grep -Ev ' v=[2-9a-f][0-9a-f] e=[0-9a-f]{4} i=0 ' > "$here/qemu-log/faults-int.txt"
echo "recorded $(wc -l < "$here/qemu-log/faults-int.txt") lines into tests/golden/qemu-log/faults-int.txt"
