#!/usr/bin/env bash
# The base layer of spate's images, assembled from Debian packages without a container
# engine: glibc, libgcc and the CA certificates, a passwd entry for the non-root user
# 65532, an empty /tmp; no shell and no package manager (the same contents as
# gcr.io/distroless/cc-debian12, which the Dockerfiles use).
#
#   base.sh    print the path of the layer tar, building it into $SPATE_CACHE_DIR first
#              when the candidate package versions changed
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"

PACKAGES=(libc6 libgcc-s1 ca-certificates)
BASE_REV=1

candidate() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2; exit }'; }

need_cmd apt-get "the images' base layer is made from Debian packages: a Debian or Ubuntu system"
need_cmd dpkg-deb "install dpkg"
versions=()
for p in "${PACKAGES[@]}"; do
  v=$(candidate "$p")
  if [[ -z $v || $v == "(none)" ]]; then
    ((EUID == 0)) || die "images: apt knows no candidate for $p; run apt-get update"
    log "images: apt knows no candidate for $p; running apt-get update"
    apt-get update -qq >&2
    v=$(candidate "$p")
    [[ -n $v && $v != "(none)" ]] || die "images: no Debian package $p"
  fi
  versions+=("$p=$v")
done
key=$(printf '%s\n' "$BASE_REV" "${versions[@]}" | sha256sum | cut -c1-12)
home=$SPATE_CACHE_DIR/image-base-$key
if [[ -f $home/.complete ]]; then
  echo "$home/layer.tar"
  exit 0
fi

t0=$SECONDS
rm -rf "$home"; mkdir -p "$home/debs" "$home/rootfs"
# apt's sandbox user cannot write into our directory; a world-writable one lets it.
chmod 0777 "$home/debs"
(cd "$home/debs" && apt-get download -q "${versions[@]}") >"$home/download.log" 2>&1 ||
  { tail -20 "$home/download.log" >&2; die "images: apt-get download ${versions[*]} failed"; }
root=$home/rootfs
for deb in "$home"/debs/*.deb; do dpkg-deb -x "$deb" "$root"; done
rm -rf "$root"/usr/share/{doc,man,info,lintian} "$root"/usr/sbin "$root"/usr/bin "$root"/sbin "$root"/bin
for shell in bin/sh bin/bash usr/bin/sh; do
  [[ ! -e $root/$shell ]] || die "images: the base would contain a shell ($shell)"
done
# ca-certificates builds its bundle in postinst, which dpkg-deb -x does not run.
mkdir -p "$root/etc/ssl/certs"
cat "$root"/usr/share/ca-certificates/mozilla/*.crt >"$root/etc/ssl/certs/ca-certificates.crt"
printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
  'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$root/etc/passwd"
printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' 'nonroot:x:65532:' >"$root/etc/group"
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
mkdir -p "$root/tmp" "$root/home/nonroot" "$root/proc" "$root/sys" "$root/dev" "$root/etc/ssl"
chmod 1777 "$root/tmp"
printf '%s\n' "${versions[@]}" >"$home/packages.txt"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$root" -cf "$home/layer.tar" .
rm -rf "$home/debs"
touch "$home/.complete"
log "images: base layer from ${versions[*]} in $((SECONDS - t0))s ($(du -h "$home/layer.tar" | cut -f1))"
echo "$home/layer.tar"
