#!/usr/bin/env bash
# Builds what the linux-x64-musl platform package (Alpine) carries, on a glibc
# x64 Debian machine: the Node addon (crates/stan-node) for
# x86_64-unknown-linux-musl, linked by Debian's musl-gcc (musl-tools), and the
# static musl stan-server (the container image's, deploy/image/build.sh).
#   bash scripts/build-musl.sh          then  node scripts/package.js --target linux-x64-musl
# A cdylib needs a dynamically linked musl (`-C target-feature=-crt-static`):
# the addon is built with that flag into its own target dir
# (target/musl-addon), so the static stan-server in
# target/x86_64-unknown-linux-musl/release keeps the target's default
# (+crt-static) and neither build invalidates the other.
# Writes npm/linux-x64-musl/stan-node.linux-x64-musl.node and
# target/x86_64-unknown-linux-musl/release/stan-server. The package's
# nats-server is the x64 one (a static Go binary: runs on musl and glibc).
# Cargo skips what is fresh.
set -euo pipefail
# Shipped binaries carry no debug info (smaller packages, less disk on CI).
export CARGO_PROFILE_RELEASE_DEBUG=0
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TRIPLE=x86_64-unknown-linux-musl

command -v musl-gcc >/dev/null || { echo "build-musl: musl-gcc missing (apt-get install musl-tools)" >&2; exit 1; }
rustup target list --installed | grep -qx "$TRIPLE" || rustup target add "$TRIPLE"

# The static server: same command as deploy/image/build.sh and .ci/setup.
cargo build --release -p stan-server --target "$TRIPLE"

# The addon: dynamic musl, in its own target dir; the flags only reach this build.
# Rust's std on dynamic musl unwinds through libgcc_s.so.1 (Alpine's libgcc, which
# Node itself needs there); musl-gcc searches only musl's dirs, so the link is
# given the build machine's copy by a wrapper (only its _Unwind_* symbols are used).
GCC_S=$(x86_64-linux-gnu-gcc -print-file-name=libgcc_s.so.1)
[[ -f "$GCC_S" ]] || { echo "build-musl: libgcc_s.so.1 not found" >&2; exit 1; }
LINK=$PWD/target/musl-addon/link
mkdir -p "$LINK"
ln -sf "$GCC_S" "$LINK/libgcc_s.so.1"
printf '#!/bin/sh\nexec musl-gcc "$@" -L "%s"\n' "$LINK" >"$LINK/musl-gcc-link"
chmod +x "$LINK/musl-gcc-link"
CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="-C target-feature=-crt-static" \
  CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_LINKER="$LINK/musl-gcc-link" \
  CC_x86_64_unknown_linux_musl=musl-gcc \
  cargo build --release -p stan-node --target "$TRIPLE" --target-dir target/musl-addon
mkdir -p npm/linux-x64-musl
cp "target/musl-addon/$TRIPLE/release/libstan_node.so" npm/linux-x64-musl/stan-node.linux-x64-musl.node

for f in npm/linux-x64-musl/stan-node.linux-x64-musl.node "target/$TRIPLE/release/stan-server"; do
  printf '%s: %s; NEEDED: %s\n' "$f" "$(LC_ALL=C readelf -h "$f" | sed -n 's/^ *Type: *//p')" \
    "$(LC_ALL=C readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | paste -sd, -)"
done
