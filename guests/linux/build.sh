#!/bin/sh
# Builds a Linux i386 bzImage (tinyconfig + minihv.config) and a gzip initramfs with our own /init, from
# Debian's linux-source-6.1, into guests/linux/build/ (git-ignored: no kernel source or binary is tracked).
#
#   sh guests/linux/build.sh            then:  minihv run guests/linux/build/bzImage \
#                                                --initrd guests/linux/build/initramfs.cpio.gz \
#                                                --append "console=ttyS0 earlyprintk=serial" -m 64M
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out="$here/build"
jobs=${JOBS:-2}
mkdir -p "$out"

# The tools, from Debian's packages, when they are missing (as root, as on the project's machines).
need=""
[ -f /usr/src/linux-source-6.1.tar.xz ] || need="$need linux-source-6.1"
for tool in flex bison bc; do command -v $tool >/dev/null || need="$need $tool"; done
if [ -n "$need" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need
fi

src="$out/linux-source-6.1"
if [ ! -f "$src/Makefile" ]; then
    echo "build.sh: unpacking /usr/src/linux-source-6.1.tar.xz"
    tar -C "$out" -xf /usr/src/linux-source-6.1.tar.xz
fi

cd "$src"
make -s ARCH=i386 tinyconfig
scripts/kconfig/merge_config.sh -m -O . .config "$here/minihv.config" >/dev/null
make -s ARCH=i386 olddefconfig
# Every line of minihv.config must have survived olddefconfig's dependency checks.
missing=$(grep '^CONFIG_' "$here/minihv.config" | while read -r line; do grep -qx "$line" .config || echo "$line"; done)
if [ -n "$missing" ]; then
    echo "build.sh: the kernel configuration dropped: $missing" >&2
    exit 1
fi
start=$(date +%s)
make -s ARCH=i386 -j"$jobs" bzImage
echo "build.sh: bzImage built in $(( $(date +%s) - start )) s with -j$jobs"
cp arch/x86/boot/bzImage "$out/bzImage"

# The initramfs: /dev/console and /init, written by the kernel's own gen_init_cpio (no root needed for the node).
gcc -m32 -static -nostdlib -ffreestanding -fno-pic -fno-pie -no-pie -fno-stack-protector -O2 \
    -o "$out/init" "$here/init.c"
cat > "$out/initramfs.list" <<LIST
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
dir /proc 0755 0 0
file /init $out/init 0755 0 0
LIST
usr/gen_init_cpio "$out/initramfs.list" | gzip -9 > "$out/initramfs.cpio.gz"
echo "build.sh: $out/bzImage and $out/initramfs.cpio.gz"
