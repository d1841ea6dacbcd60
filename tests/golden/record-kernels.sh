#!/usr/bin/env bash
# Rebuild the test kernels in tests/kernels and record QEMU's COM1 transcript
# of each into tests/golden/kernels/NAME.txt; with --smp, the multiprocessor
# kernels (smpipi, smplock, smphandoff, smptlb) from tests/golden/kernels-smp/manifest.txt into
# tests/golden/kernels-smp/NAME.txt.  They are a set of their own because the
# end-to-end tests run every line of kernels/manifest.txt on one CPU.
#
# A manifest has one line per transcript, no comments:
#     name|append|memory|stdin[|smp[|cpu]]
#   name    the image is tests/kernels/build/NAME.elf, the transcript NAME.txt;
#           NAME-smpN.txt for a transcript of the same image with N CPUs
#   append  the -append text (QEMU passes "IMAGE-PATH APPEND" as the multiboot
#           command line; an empty field still means -append "")
#   memory  the -m size, e.g. 64M
#   stdin   bytes fed to COM1 through stdin, as a C-escaped string
#           (\n \r \t \\ \xHH); empty means no input
#   smp     the number of processors, 1 if absent: QEMU runs with
#           -smp N,sockets=N (one CPU per socket: with QEMU 7.2's plain -smp N,
#           N cores of one package, SeaBIOS's MP table lists only the first)
#   cpu     QEMU's -cpu model and flags when its default will not do, e.g.
#           qemu32,+nx for the PAE kernel (NX is not in qemu32's default set)
#
# Each kernel runs RUNS times (default 3); every run must end through the
# isa-debug-exit device with outb(0xf4, 0), i.e. QEMU exit status 1, and all
# runs must print the same bytes.  The transcript is QEMU's stdout byte for
# byte: the kernels send bare "\n" line ends.
#
# Usage: tests/golden/record-kernels.sh [--smp] [NAME...]   (default: every kernel)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
set=kernels
if [ "${1:-}" = --smp ]; then
    shift
    set=kernels-smp
fi
manifest="$here/$set/manifest.txt"
runs=${RUNS:-3}
qemu=${QEMU:-qemu-system-i386}
timeout_s=${TIMEOUT:-60}

make -s -C "$root/tests/kernels"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

failed=0
found=0
while IFS='|' read -r name append memory input cpus model; do
    [ -n "$name" ] || continue
    kernel=${name%-smp[0-9]*}
    smp=()
    if [ -n "$cpus" ] && [ "$cpus" != 1 ]; then
        smp=(-smp "$cpus,sockets=$cpus")
    fi
    cpu=()
    if [ -n "$model" ]; then
        cpu=(-cpu "$model")
    fi
    if [ $# -gt 0 ]; then
        want=0
        for n in "$@"; do [ "$n" = "$name" ] && want=1; done
        [ $want = 1 ] || continue
    fi
    found=$((found + 1))
    image="$root/tests/kernels/build/$kernel.elf"
    for ((i = 1; i <= runs; i++)); do
        status=0
        printf '%b' "$input" | timeout "$timeout_s" "$qemu" \
            -kernel "$image" -append "$append" -m "$memory" \
            -display none -serial stdio -monitor none -no-reboot \
            -device isa-debug-exit,iobase=0xf4,iosize=0x04 "${smp[@]}" "${cpu[@]}" \
            >"$tmp/$name.$i" 2>"$tmp/$name.err" || status=$?
        if [ "$status" -ne 1 ]; then
            echo "$name: run $i ended with status $status, not through debug-exit with 0 (status 1)" >&2
            cat "$tmp/$name.err" >&2
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
    cp "$tmp/$name.1" "$here/$set/$name.txt"
    echo "$name: $(wc -c <"$here/$set/$name.txt") bytes, $runs identical runs"
done <"$manifest"

if [ $# -gt 0 ] && [ "$found" -ne $# ]; then
    echo "some kernels named on the command line are not in $manifest" >&2
    failed=1
fi
exit $failed
