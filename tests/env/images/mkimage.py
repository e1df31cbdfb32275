#!/usr/bin/env python3
"""Assemble an OCI image archive from local files, without a daemon, a registry or an
image tool: reproducible tar layers, the image config, the manifest and an index that
names the image, so that `ctr -n k8s.io images import OUT.tar` registers it as NAME:TAG.

    mkimage.py OUT.tar NAME:TAG [--layer LAYER.tar]... [--file HOST:IMAGE]...
               [--user UID:GID] [--expose PORT/PROTO]... [--label KEY=VALUE]...
               [--env KEY=VALUE]... -- ENTRYPOINT [ARG...]

--layer adds an existing uncompressed layer tar (a base made by base.sh) as is; the
--file entries form one more layer on top, owned by root with their modes kept. Use a
fully qualified name (localhost/x:y): the kubelet reads a short name as docker.io/library/.
"""

import argparse
import hashlib
import io
import json
import os
import sys
import tarfile
import tempfile

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def die(message):
    print(f"mkimage: {message}", file=sys.stderr)
    sys.exit(1)


def parse_args(argv):
    if "--" not in argv:
        die("no entrypoint: give it after --")
    split = argv.index("--")
    entrypoint = argv[split + 1 :]
    if not entrypoint:
        die("no entrypoint after --")
    p = argparse.ArgumentParser(prog="mkimage.py")
    p.add_argument("out")
    p.add_argument("name")
    p.add_argument("--layer", action="append", default=[])
    p.add_argument("--file", action="append", default=[])
    p.add_argument("--user")
    p.add_argument("--expose", action="append", default=[])
    p.add_argument("--label", action="append", default=[])
    p.add_argument("--env", action="append", default=[])
    args = p.parse_args(argv[:split])
    if ":" not in args.name.rsplit("/", 1)[-1]:
        die(f"{args.name}: give the image a tag (NAME:TAG)")
    args.entrypoint = entrypoint
    return args


def add_parents(tar, path, seen):
    """Directory entries for every parent of `path` not added yet (root-owned, 0755)."""
    parts = path.strip("/").split("/")[:-1]
    for i in range(1, len(parts) + 1):
        d = "/".join(parts[:i])
        if d in seen:
            continue
        seen.add(d)
        info = tarfile.TarInfo(d)
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        tar.addfile(info)


def files_layer(entries):
    """A reproducible layer of HOST:IMAGE files (symlinks followed), root-owned."""
    buf = io.BytesIO()
    seen = set()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in sorted(entries, key=lambda e: e.split(":", 1)[-1]):
            if ":" not in entry:
                die(f"--file {entry}: expected HOST:IMAGE")
            host, image = entry.split(":", 1)
            if not os.path.isfile(host):
                die(f"--file {entry}: {host} is not a file")
            add_parents(tar, image, seen)
            info = tarfile.TarInfo(image.lstrip("/"))
            info.size = os.path.getsize(host)
            info.mode = os.stat(host).st_mode & 0o7777
            with open(host, "rb") as f:
                tar.addfile(info, f)
    return buf.getvalue()


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def main(argv):
    args = parse_args(argv)
    layers = []
    for path in args.layer:
        with open(path, "rb") as f:
            layers.append(f.read())
    if args.file:
        layers.append(files_layer(args.file))
    if not layers:
        die("no layer: give --layer or --file")

    config = {
        "Entrypoint": args.entrypoint,
        "Env": [DEFAULT_PATH] + args.env,
        "WorkingDir": "/",
    }
    if args.user:
        config["User"] = args.user
    if args.expose:
        config["ExposedPorts"] = {p if "/" in p else f"{p}/tcp": {} for p in args.expose}
    if args.label:
        config["Labels"] = dict(kv.split("=", 1) for kv in args.label)
    image_config = {
        "architecture": "amd64",
        "os": "linux",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [sha256(l) for l in layers]},
        "history": [{"created_by": "spate mkimage.py"} for _ in layers],
    }
    blobs = {}

    def blob(data):
        digest = sha256(data)
        blobs[digest] = data
        return {"digest": digest, "size": len(data)}

    config_desc = blob(json.dumps(image_config, sort_keys=True).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config_desc},
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar", **blob(l)} for l in layers
        ],
    }
    manifest_desc = blob(json.dumps(manifest, sort_keys=True).encode())
    tag = args.name.rsplit(":", 1)[1]
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                **manifest_desc,
                "platform": {"architecture": "amd64", "os": "linux"},
                "annotations": {
                    "io.containerd.image.name": args.name,
                    "org.opencontainers.image.ref.name": tag,
                },
            }
        ],
    }

    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".mkimage-")
    with os.fdopen(fd, "wb") as f, tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT) as tar:

        def add(name, data):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))

        add("./oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        add("./index.json", json.dumps(index, sort_keys=True).encode())
        for digest in sorted(blobs):
            add(f"./blobs/sha256/{digest.split(':', 1)[1]}", blobs[digest])
    os.replace(tmp, args.out)
    size = sum(len(l) for l in layers)
    print(f"{args.name} {manifest_desc['digest']} {size}")


if __name__ == "__main__":
    main(sys.argv[1:])
