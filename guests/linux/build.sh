#!/bin/sh
# Builds the Linux guest into guests/linux/build/ (git-ignored: no kernel source or binary is tracked):
# bzImage and System.map (Debian's linux-source-6.1, tinyconfig + minihv.config, by kernel.sh) and
# initramfs.cpio.gz (our own init.c as /init).  The test run calls it (LinuxGuestBuild.cs); by hand:
#
#   sh guests/linux/build.sh            then:  minihv run guests/linux/build/bzImage \
#                                                --initrd guests/linux/build/initramfs.cpio.gz \
#                                                --append console=ttyS0 -m 64M
#
# The kernel takes minutes, so it is cached under $MINIHV_CACHE/linux (default ~/.cache/minihv/linux), keyed by
# the hash of kernel.sh, minihv.config and the installed source package's version: a hit copies three files.
# The initramfs takes a second and is rebuilt whenever init.c or this script is newer than it.
#
# Exit status: 0 built (or up to date); 3 this machine cannot build it (tools missing and no apt-get as root,
# or apt-get failed: no network); anything else, the build failed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out="$here/build"
mkdir -p "$out"

# The tools, from Debian's packages, when they are missing.
need=""
[ -f /usr/src/linux-source-6.1.tar.xz ] || need="$need linux-source-6.1"
for tool in make gcc flex bison bc xz; do
    command -v $tool >/dev/null || need="$need $(echo $tool | sed 's/^xz$/xz-utils/')"
done
[ -f /usr/include/gelf.h ] || need="$need libelf-dev"
if [ -n "$need" ]; then
    if ! command -v apt-get >/dev/null || [ "$(id -u)" != 0 ]; then
        echo "build.sh: cannot build the Linux guest on this machine: it lacks$need and has no apt-get to run as root" >&2
        exit 3
    fi
    echo "build.sh: installing$need"
    if ! apt-get update -qq || ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null; then
        echo "build.sh: cannot build the Linux guest on this machine: apt-get could not install$need (no network?)" >&2
        exit 3
    fi
fi

# The kernel: from the build directory if it is this recipe's, else from the cache, else built and cached.
version=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || sha256sum /usr/src/linux-source-6.1.tar.xz)
key=$( (cat "$here/kernel.sh" "$here/minihv.config"; echo "$version") | sha256sum | cut -c1-16)
cache="${MINIHV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/minihv}/linux/kernel-$key"
kernel_files="bzImage System.map gen_init_cpio"
have() { for f in $kernel_files; do [ -f "$1/$f" ] || return 1; done; }

if [ "$(cat "$out/kernel.key" 2>/dev/null)" = "$key" ] && have "$out"; then
    :
elif have "$cache"; then
    for f in $kernel_files; do cp "$cache/$f" "$out/$f"; done
    echo "$key" > "$out/kernel.key"
    echo "build.sh: kernel $key from the cache $cache"
else
    rm -f "$out/kernel.key"
    sh "$here/kernel.sh" "$out"
    src="$out/linux-source-6.1"
    cp "$src/arch/x86/boot/bzImage" "$src/System.map" "$src/usr/gen_init_cpio" "$out/"
    echo "$key" > "$out/kernel.key"
    # Into the cache where the machine lets us write one; a copy that fails half way is never seen as a hit.
    if mkdir -p "$cache.tmp.$$" 2>/dev/null && cp "$out/bzImage" "$out/System.map" "$out/gen_init_cpio" "$cache.tmp.$$/" \
        && rm -rf "$cache" && mv "$cache.tmp.$$" "$cache"; then
        echo "build.sh: kernel $key cached in $cache"
    else
        rm -rf "$cache.tmp.$$"
        echo "build.sh: kernel $key not cached (cannot write $cache)"
    fi
fi

# The initramfs: /dev/console and /init, written by the kernel's own gen_init_cpio (no root needed for the
# node), every file dated 0 and gzip without a name or time, so that the same init.c gives the same bytes.
if [ ! -f "$out/initramfs.cpio.gz" ] || [ "$here/init.c" -nt "$out/initramfs.cpio.gz" ] \
    || [ "$here/build.sh" -nt "$out/initramfs.cpio.gz" ] || [ "$out/kernel.key" -nt "$out/initramfs.cpio.gz" ]; then
    gcc -m32 -static -nostdlib -ffreestanding -fno-pic -fno-pie -no-pie -fno-stack-protector -O2 \
        -Wl,--build-id=none -o "$out/init" "$here/init.c"
    cat > "$out/initramfs.list" <<LIST
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
dir /proc 0755 0 0
file /init $out/init 0755 0 0
LIST
    "$out/gen_init_cpio" -t 0 "$out/initramfs.list" | gzip -9 -n > "$out/initramfs.cpio.gz.tmp"
    mv "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"
    echo "build.sh: $out/initramfs.cpio.gz"
fi
