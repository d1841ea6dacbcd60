#!/usr/bin/env bash
# Rebuild the JOS-style guest (guests/build/jos.elf) and record QEMU's COM1
# transcript of each of its programs into tests/golden/jos/NAME.txt; with
# --smp, the multiprocessor flavour guests/build/jos-smp.elf into
# tests/golden/jos-smp/NAME.txt from tests/golden/jos-smp/manifest.txt.
#
# A manifest has one line per transcript, no comments:
#     name|append|memory[|cpus]
#   name    the transcript is NAME.txt (the program, unless append says otherwise)
#   append  the -append text; QEMU hands the kernel "IMAGE-PATH APPEND" as the
#           multiboot command line, and the kernel ignores words without '='
#   memory  the -m size, e.g. 64M
#   cpus    the number of processors, 1 if absent: QEMU runs with
#           -smp CPUS,sockets=CPUS (one CPU per socket, or SeaBIOS's MP table
#           lists only the first CPU of a package: QEMU 7.2's -smp N alone
#           makes N cores of one socket)
#
# Each program runs RUNS times (default 3) as
#   qemu-system-i386 -kernel guests/build/jos.elf -append APPEND -m MEMORY \
#       -display none -serial stdio -monitor none -no-reboot \
#       -device isa-debug-exit,iobase=0xf4,iosize=0x04 [-smp CPUS,sockets=CPUS] </dev/null
# Every run must end through the isa-debug-exit device (outb(0xf4, 0), QEMU
# exit status 1) with the kernel's final "jos: ... halting" line, and all runs
# must print the same bytes.  The transcript is QEMU's stdout byte for byte
# (bare "\n" line ends).  The script exits non-zero if any run fails.
#
# Usage: tests/golden/record-jos.sh [--smp] [NAME...]   (default: every program)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
flavour=jos
image="$root/guests/build/jos.elf"
if [ "${1:-}" = --smp ]; then
    shift
    flavour=jos-smp
    image="$root/guests/build/jos-smp.elf"
fi
manifest="$here/$flavour/manifest.txt"
runs=${RUNS:-3}
qemu=${QEMU:-qemu-system-i386}
timeout_s=${TIMEOUT:-60}

make -s -C "$root/guests"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

failed=0
found=0
while IFS='|' read -r name append memory cpus; do
    [ -n "$name" ] || continue
    smp=()
    if [ -n "$cpus" ] && [ "$cpus" != 1 ]; then
        smp=(-smp "$cpus,sockets=$cpus")
    fi
    if [ $# -gt 0 ]; then
        want=0
        for n in "$@"; do [ "$n" = "$name" ] && want=1; done
        [ $want = 1 ] || continue
    fi
    found=$((found + 1))
    for ((i = 1; i <= runs; i++)); do
        status=0
        timeout "$timeout_s" "$qemu" \
            -kernel "$image" -append "$append" -m "$memory" \
            -display none -serial stdio -monitor none -no-reboot \
            -device isa-debug-exit,iobase=0xf4,iosize=0x04 "${smp[@]}" \
            </dev/null >"$tmp/$name.$i" 2>"$tmp/$name.err" || status=$?
        if [ "$status" -ne 1 ]; then
            echo "$name: run $i ended with status $status, not through debug-exit with 0 (status 1)" >&2
            cat "$tmp/$name.err" >&2
            failed=1
            continue 2
        fi
        if ! tail -n 1 "$tmp/$name.$i" | grep -q '^jos: .*halting$'; then
            echo "$name: run $i does not end with the kernel's halting line" >&2
            failed=1
            continue 2
        fi
        if [ "$i" -gt 1 ] && ! cmp -s "$tmp/$name.1" "$tmp/$name.$i"; then
            echo "$name: run $i printed something else than run 1" >&2
            diff "$tmp/$name.1" "$tmp/$name.$i" >&2 || true
            failed=1
            continue 2
        fi
    done
    cp "$tmp/$name.1" "$here/$flavour/$name.txt"
    echo "$name: $(wc -l <"$here/$flavour/$name.txt") lines, $runs identical runs"
done <"$manifest"

if [ $# -gt 0 ] && [ "$found" -ne $# ]; then
    echo "some programs named on the command line are not in $manifest" >&2
    failed=1
fi
exit $failed
