#!/usr/bin/env bash
# Build the stan-server container image as an OCI image layout, without a
# container daemon: a static (musl) stan-server, the nats-server binary it
# runs, a passwd/group with a non-root user, /tmp and a /data volume for the
# file store; one gzip layer, its config, manifest and index, written here
# with their sha256 digests (no buildah, no docker).
#
#   bash deploy/image/build.sh [OUT]     (OUT defaults to target/oci)
#
# Writes OUT/stan-server (the OCI layout, tag = the crate version) and
# OUT/stan-server-oci.tar (the same as an oci-archive). Push or load it with
#   skopeo copy oci:target/oci/stan-server:0.1.0 docker://<registry>/stan-server:0.1.0
#   podman load -i target/oci/stan-server-oci.tar
# Needs: rustup target x86_64-unknown-linux-musl, musl-gcc (Debian musl-tools,
# for ring's C code), a static nats-server ($NATS_SERVER_BIN or
# .tools/venv/bin/nats-server, from `npm run setup`), GNU tar, gzip, sha256sum.
# Reproducible: timestamps come from SOURCE_DATE_EPOCH (default: the last
# commit's time), owners are numeric, entries sorted.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
OUT=${1:-$ROOT/target/oci}
TARGET=x86_64-unknown-linux-musl
IMAGE_UID=65532
IMAGE_GID=65532
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
CREATED=$(date -u -d "@$EPOCH" +%Y-%m-%dT%H:%M:%SZ)
NATS_BIN=${NATS_SERVER_BIN:-$ROOT/.tools/venv/bin/nats-server}

die() {
  echo "image: $*" >&2
  exit 1
}

[[ -n "$VERSION" ]] || die "cannot read the version from Cargo.toml"
[[ -x "$NATS_BIN" ]] || die "nats-server not found at $NATS_BIN (npm run setup, or set NATS_SERVER_BIN)"
command -v musl-gcc >/dev/null || die "musl-gcc is missing (apt-get install musl-tools)"

# A static binary has no program interpreter (PT_INTERP): it runs in an empty rootfs.
is_static() { ! LC_ALL=C readelf -lW "$1" | grep -q 'Requesting program interpreter'; }

# The same profile as scripts/build-musl.sh (shipped builds carry no debug
# info), so the static server that `npm run setup` built is reused here
# instead of being rebuilt (a cold musl build takes minutes).
export CARGO_PROFILE_RELEASE_DEBUG=0
echo "image: cargo build --release -p stan-server --target $TARGET"
cargo build --release --quiet -p stan-server --target "$TARGET"
STAN_BIN=$ROOT/target/$TARGET/release/stan-server
is_static "$STAN_BIN" || die "$STAN_BIN is not static"
is_static "$NATS_BIN" || die "$NATS_BIN is not static"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
FS=$WORK/rootfs
mkdir -p "$FS"/{etc,tmp,data,usr/local/bin,usr/share/licenses/nats-server}
install -m 0755 "$STAN_BIN" "$FS/usr/local/bin/stan-server"
strip --strip-debug "$FS/usr/local/bin/stan-server"
install -m 0755 "$NATS_BIN" "$FS/usr/local/bin/nats-server"
NATS_LICENSE=$(find "$(dirname "$NATS_BIN")/../lib" "$ROOT/.tools/venv/lib" -path '*nats_server_bin-*/licenses/LICENSE' 2>/dev/null | head -n 1 || true)
[[ -n "$NATS_LICENSE" ]] || die "the nats-server LICENSE (nats_server_bin dist-info) was not found"
install -m 0644 "$NATS_LICENSE" "$FS/usr/share/licenses/nats-server/LICENSE"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%s:%s:stan-server:/data:/sbin/nologin\n' \
  "$IMAGE_UID" "$IMAGE_GID" >"$FS/etc/passwd"
printf 'root:x:0:\nnonroot:x:%s:\n' "$IMAGE_GID" >"$FS/etc/group"
chmod 0644 "$FS/etc/passwd" "$FS/etc/group"
chmod 1777 "$FS/tmp"
chmod 0750 "$FS/data"

# The layer: everything root-owned, then /data appended owned by the image's user
# (set in the archive, so building needs no root).
TAR_OPTS=(--format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime
  --sort=name --numeric-owner --mtime="@$EPOCH" -C "$FS")
tar "${TAR_OPTS[@]}" --owner=0 --group=0 --exclude=./data -cf "$WORK/layer.tar" .
tar "${TAR_OPTS[@]}" --owner="$IMAGE_UID" --group="$IMAGE_GID" -rf "$WORK/layer.tar" ./data
gzip -9 -n <"$WORK/layer.tar" >"$WORK/layer.tar.gz"

LAYOUT=$OUT/stan-server
rm -rf "$LAYOUT"
mkdir -p "$LAYOUT/blobs/sha256"
sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }
# Move a file into the blob store; prints its digest.
blob() {
  local d
  d=$(sha "$1")
  mv "$1" "$LAYOUT/blobs/sha256/$d"
  echo "$d"
}

DIFF_ID=$(sha "$WORK/layer.tar")
LAYER_SIZE=$(size "$WORK/layer.tar.gz")
LAYER=$(blob "$WORK/layer.tar.gz")

cat >"$WORK/config.json" <<EOF
{"created":"$CREATED","architecture":"amd64","os":"linux","config":{"User":"$IMAGE_UID:$IMAGE_GID","ExposedPorts":{"4222/tcp":{},"8222/tcp":{}},"Env":["PATH=/usr/local/bin:/usr/bin:/bin","NATS_SERVER_BIN=/usr/local/bin/nats-server"],"Entrypoint":["/usr/local/bin/stan-server"],"Cmd":["-p","4222","-m","8222"],"Volumes":{"/data":{}},"WorkingDir":"/data","Labels":{"org.opencontainers.image.title":"stan-server","org.opencontainers.image.description":"A NATS Streaming (STAN) compatible server (stan-rs) with its nats-server","org.opencontainers.image.version":"$VERSION","org.opencontainers.image.licenses":"Apache-2.0"}},"rootfs":{"type":"layers","diff_ids":["sha256:$DIFF_ID"]},"history":[{"created":"$CREATED","created_by":"deploy/image/build.sh: static stan-server (musl), nats-server, non-root user $IMAGE_UID, /tmp, /data"}]}
EOF
CONFIG_SIZE=$(size "$WORK/config.json")
CONFIG=$(blob "$WORK/config.json")

cat >"$WORK/manifest.json" <<EOF
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:$CONFIG","size":$CONFIG_SIZE},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:$LAYER","size":$LAYER_SIZE}],"annotations":{"org.opencontainers.image.created":"$CREATED","org.opencontainers.image.version":"$VERSION"}}
EOF
MANIFEST_SIZE=$(size "$WORK/manifest.json")
MANIFEST=$(blob "$WORK/manifest.json")

cat >"$LAYOUT/index.json" <<EOF
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:$MANIFEST","size":$MANIFEST_SIZE,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"org.opencontainers.image.ref.name":"$VERSION"}}]}
EOF
printf '{"imageLayoutVersion":"1.0.0"}\n' >"$LAYOUT/oci-layout"

tar --format=posix --pax-option=delete=atime,delete=ctime --sort=name --numeric-owner --owner=0 --group=0 \
  --mtime="@$EPOCH" -C "$LAYOUT" -cf "$OUT/stan-server-oci.tar" .

echo "image: $LAYOUT (tag $VERSION, manifest sha256:$MANIFEST)"
echo "image: layer $((LAYER_SIZE / 1024)) KiB compressed; $OUT/stan-server-oci.tar"
