#!/usr/bin/env bash
# Builds the browser package: stan-wasm for wasm32-unknown-unknown, then
# wasm-bindgen --target web into npm/wasm/pkg/, and the ES modules of the
# facade shared with the Node package (lib/shared/) into npm/wasm/lib/gen/
# (both generated, gitignored).
# Installs what is missing (the wasm32 target; wasm-bindgen-cli at the exact
# version of the crate's pinned wasm-bindgen, into .tools/cargo). Idempotent.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PROFILE="${STAN_WASM_PROFILE:-release}"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

# The CLI must equal the wasm-bindgen crate version in Cargo.lock.
WB_VERSION="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)"
WB_ROOT="$ROOT/.tools/cargo"
WB="$WB_ROOT/bin/wasm-bindgen"
if [ ! -x "$WB" ] || [ "$("$WB" --version | awk '{print $2}')" != "$WB_VERSION" ]; then
  echo "installing wasm-bindgen-cli $WB_VERSION into $WB_ROOT (about 2 min)"
  # Not --locked: with it a pinned dependency of 0.2.130 is missing from the index.
  cargo install wasm-bindgen-cli --version "$WB_VERSION" --root "$WB_ROOT"
fi

if [ "$PROFILE" = release ]; then
  cargo build --release -p stan-wasm --target wasm32-unknown-unknown
else
  cargo build -p stan-wasm --target wasm32-unknown-unknown
fi
"$WB" --target web --out-dir npm/wasm/pkg --out-name stan_wasm \
  "target/wasm32-unknown-unknown/$PROFILE/stan_wasm.wasm"
node scripts/cjs-to-esm.js
echo "built npm/wasm/pkg ($(du -k npm/wasm/pkg/stan_wasm_bg.wasm | cut -f1) KiB wasm)"
