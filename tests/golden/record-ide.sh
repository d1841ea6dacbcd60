#!/usr/bin/env bash
# Record QEMU's transcripts of tests/kernels/ideregs.c, the primary IDE channel's registers, for each
# way of populating it, into tests/golden/ide/ideregs-DRIVES.txt:
#   none    no drive on the channel
#   master  a disk as device 0 only (-drive index=0)
#   slave   a disk as device 1 only (-drive index=1), as xv6 is booted by multiboot with its file system
#   both    a disk on each
# The disks are 1 MiB of zeros (their contents do not show).  MiniHv runs the same kernel with --hda
# and --hdb in tests/MiniHv.Tests/EndToEnd/IdeRegistersTests.cs.  Each configuration runs RUNS times
# (default 3), must end through isa-debug-exit with 0 (QEMU status 1) and print the same bytes.
#
# Usage: tests/golden/record-ide.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
runs=${RUNS:-3}
qemu=${QEMU:-qemu-system-i386}
timeout_s=${TIMEOUT:-60}

make -s -C "$root/tests/kernels"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
truncate -s 1M "$tmp/master.img" "$tmp/slave.img"
master=(-drive "file=$tmp/master.img,index=0,media=disk,format=raw")
slave=(-drive "file=$tmp/slave.img,index=1,media=disk,format=raw")

failed=0
for drives in none master slave both; do
    case $drives in
        none) disks=() ;;
        master) disks=("${master[@]}") ;;
        slave) disks=("${slave[@]}") ;;
        both) disks=("${master[@]}" "${slave[@]}") ;;
    esac
    name=ideregs-$drives
    for ((i = 1; i <= runs; i++)); do
        status=0
        timeout "$timeout_s" "$qemu" -kernel "$root/tests/kernels/build/ideregs.elf" -append "" -m 32M \
            -display none -serial stdio -monitor none -no-reboot \
            -device isa-debug-exit,iobase=0xf4,iosize=0x04 "${disks[@]}" \
            </dev/null >"$tmp/$name.$i" 2>"$tmp/$name.err" || status=$?
        if [ "$status" -ne 1 ]; then
            echo "$name: run $i ended with status $status, not through debug-exit with 0 (status 1)" >&2
            cat "$tmp/$name.err" >&2
            failed=1
            continue 2
        fi
        if [ "$i" -gt 1 ] && ! cmp -s "$tmp/$name.1" "$tmp/$name.$i"; then
            echo "$name: run $i printed something else than run 1" >&2
            failed=1
            continue 2
        fi
    done
    cp "$tmp/$name.1" "$here/ide/$name.txt"
    echo "$name: $(wc -c <"$here/ide/$name.txt") bytes, $runs identical runs"
done
exit $failed
