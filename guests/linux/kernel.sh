#!/bin/sh
# The kernel recipe, run by build.sh on a cache miss: unpacks Debian's linux-source-6.1 into DIR, configures
# it (tinyconfig + minihv.config) and builds an i386 bzImage.  build.sh caches what this makes under the
# hash of this file, minihv.config and the source package's version, so any change here rebuilds.
#
#   sh guests/linux/kernel.sh DIR        leaves DIR/linux-source-6.1/arch/x86/boot/bzImage and System.map
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dir=$1
jobs=${JOBS:-2}

src="$dir/linux-source-6.1"
if [ ! -f "$src/Makefile" ]; then
    echo "kernel.sh: unpacking /usr/src/linux-source-6.1.tar.xz"
    tar -C "$dir" -xf /usr/src/linux-source-6.1.tar.xz
fi

# A reproducible banner: the same source and compiler give the same bytes on every machine, whoever builds
# them and when ("Linux version 6.1.N (minihv@minihv) (gcc ...) #1 Thu Jan  1 00:00:00 UTC 1970").
export KBUILD_BUILD_USER=minihv KBUILD_BUILD_HOST=minihv KBUILD_BUILD_TIMESTAMP='Thu Jan  1 00:00:00 UTC 1970'

cd "$src"
make -s ARCH=i386 tinyconfig
scripts/kconfig/merge_config.sh -m -O . .config "$here/minihv.config" >/dev/null
make -s ARCH=i386 olddefconfig
# Every line of minihv.config must have survived olddefconfig's dependency checks.
missing=$(grep '^CONFIG_' "$here/minihv.config" | while read -r line; do grep -qx "$line" .config || echo "$line"; done)
if [ -n "$missing" ]; then
    echo "kernel.sh: the kernel configuration dropped: $missing" >&2
    exit 1
fi
start=$(date +%s)
make -s ARCH=i386 -j"$jobs" bzImage
echo "kernel.sh: bzImage built in $(( $(date +%s) - start )) s with -j$jobs"
