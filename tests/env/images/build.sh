#!/usr/bin/env bash
# spate's container images, built without a container engine: the release binaries of
# spate-consumer and spate-operator on the base layer from Debian packages (base.sh),
# with the user, entrypoint, ports and labels of consumer/Dockerfile and
# operator/Dockerfile, as OCI archives in $SPATE_STATE_DIR/images/, imported into the
# local node when it runs. The tag is the version and the binary's digest, so a rebuilt
# binary is a new image and pods using the old one keep it.
#
#   build.sh     build, assemble (unless the binary is unchanged), import what the node
#                lacks; write $SPATE_STATE_DIR/images.env (SPATE_CONSUMER_IMAGE,
#                SPATE_OPERATOR_IMAGE)
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"

IMAGES_DIR=$SPATE_STATE_DIR/images
TARGET_DIR=${CARGO_TARGET_DIR:-$SPATE_ROOT/target}
CARGO=${CARGO:-cargo}
VERSION=$(awk -F'"' '/^version *=/ { print $2; exit }' "$SPATE_ROOT/Cargo.toml")
SOURCE=https://github.com/spate-dev/spate

need_cmd python3 "apt-get install python3"
need_cmd ldd "apt-get install libc-bin"
log "images: building the release binaries"
(cd "$SPATE_ROOT" && "$CARGO" build --release --locked -p spate-consumer -p spate-operator \
  --bin spate-consumer --bin spate-operator) >&2
base=$("$SPATE_ROOT/tests/env/images/base.sh")

# check_libraries BIN: every library BIN links must be in the base layer.
check_libraries() {
  local bin=$1 lib missing=() listing
  listing=$(tar -tf "$base")
  while read -r lib; do
    grep -qxE "\./(usr/)?lib/x86_64-linux-gnu/${lib//./\\.}" <<<"$listing" || missing+=("$lib")
  done < <(ldd "$bin" | awk '/=>/ { print $1 }' | grep -v '^linux-vdso')
  ((${#missing[@]} == 0)) ||
    die "images: $(basename "$bin") links ${missing[*]}, which the base layer lacks"
}

# image NAME PORT: assemble localhost/NAME:VERSION-DIGEST from target/release/NAME.
image() {
  local name=$1 port=$2 bin=$TARGET_DIR/release/$1 digest ref
  [[ -x $bin ]] || die "images: $bin is missing after the build"
  check_libraries "$bin"
  digest=$(sha256sum "$bin" | cut -c1-12)
  ref=localhost/$name:$VERSION-$digest
  if [[ -f $IMAGES_DIR/$name.tar && $(cat "$IMAGES_DIR/$name.ref" 2>/dev/null) == "$ref" ]]; then
    echo "$ref"
    return 0
  fi
  "$SPATE_ROOT/tests/env/images/mkimage.py" "$IMAGES_DIR/$name.tar" "$ref" \
    --layer "$base" --file "$bin:/usr/local/bin/$name" \
    --user 65532:65532 --expose "$port/tcp" \
    --label "org.opencontainers.image.title=$name" \
    --label "org.opencontainers.image.source=$SOURCE" \
    --label "org.opencontainers.image.licenses=Apache-2.0" \
    -- "/usr/local/bin/$name" >/dev/null
  echo "$ref" >"$IMAGES_DIR/$name.ref"
  echo "$ref"
}

mkdir -p "$IMAGES_DIR"
exec 8>"$IMAGES_DIR/.lock"
flock 8
consumer=$(image spate-consumer 9464)
operator=$(image spate-operator 8080)
if "$SPATE_ROOT/tests/env/components/node.sh" health >/dev/null 2>&1; then
  "$SPATE_ROOT/tests/env/components/node.sh" import "$IMAGES_DIR/spate-consumer.tar" "$IMAGES_DIR/spate-operator.tar" 8>&-
  where="imported into the local node"
else
  where="not imported: the local node is not running (make env-up imports them)"
fi
write_component_env images "SPATE_CONSUMER_IMAGE=$consumer" "SPATE_OPERATOR_IMAGE=$operator"
log "images: $consumer ($(du -h "$IMAGES_DIR/spate-consumer.tar" | cut -f1)), $operator ($(du -h "$IMAGES_DIR/spate-operator.tar" | cut -f1)); $where"
