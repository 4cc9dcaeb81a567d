#!/usr/bin/env bash
# Regenerates include/shmkit.h from ffi/ with the pinned cbindgen and fails if the
# committed header differs. `--write` updates the committed header instead.
#
#   ffi/check-header.sh           # CI: exit 1 with a diff if include/shmkit.h is stale
#   ffi/check-header.sh --write   # after changing the C API
set -euo pipefail

CBINDGEN_VERSION=0.29.0
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cbindgen="${CARGO_HOME:-$HOME/.cargo}/bin/cbindgen"

if ! { [ -x "$cbindgen" ] && "$cbindgen" --version | grep -qx "cbindgen $CBINDGEN_VERSION"; }; then
    echo "installing cbindgen $CBINDGEN_VERSION" >&2
    cargo install cbindgen --version "=$CBINDGEN_VERSION" --locked --quiet
fi

tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
(cd "$root/ffi" && "$cbindgen" --quiet --config cbindgen.toml --crate shmkit-ffi --output "$tmp")

if [ "${1:-}" = "--write" ]; then
    cp "$tmp" "$root/include/shmkit.h"
    echo "wrote include/shmkit.h"
elif ! diff -u "$root/include/shmkit.h" "$tmp"; then
    echo "include/shmkit.h is stale: run ffi/check-header.sh --write and commit it" >&2
    exit 1
else
    echo "include/shmkit.h is up to date"
fi
