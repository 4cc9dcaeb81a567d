#!/usr/bin/env bash
# Installs the C library: PREFIX/include/shmkit.h, PREFIX/lib/libshmkit.{a,so} and
# PREFIX/lib/pkgconfig/shmkit.pc.
#
#   cargo build --release -p shmkit-ffi
#   ffi/install.sh /usr/local                  # or any prefix
#   ffi/install.sh PREFIX path/to/target/debug # libraries from another build directory
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="${1:?usage: ffi/install.sh PREFIX [BUILD_DIR]}"
build="${2:-${CARGO_TARGET_DIR:-$root/target}/release}"
header="$root/include/shmkit.h"

for f in "$build/libshmkit.a" "$build/libshmkit.so"; do
    [ -f "$f" ] || { echo "$f is missing: run cargo build --release -p shmkit-ffi" >&2; exit 1; }
done
v() { sed -n "s/^#define SHMKIT_VERSION_$1 \([0-9]*\)$/\1/p" "$header"; }
version="$(v MAJOR).$(v MINOR).$(v PATCH)"

mkdir -p "$prefix/include" "$prefix/lib/pkgconfig"
install -m 0644 "$header" "$prefix/include/shmkit.h"
install -m 0644 "$build/libshmkit.a" "$prefix/lib/libshmkit.a"
install -m 0755 "$build/libshmkit.so" "$prefix/lib/libshmkit.so"
sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" "$root/ffi/shmkit.pc.in" \
    > "$prefix/lib/pkgconfig/shmkit.pc"
echo "installed shmkit $version into $prefix"
