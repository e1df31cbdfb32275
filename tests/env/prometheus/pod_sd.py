#!/usr/bin/env python3
"""Pod discovery for the local Prometheus, which Debian builds without kubernetes_sd:
lists the cluster's pods every second (with Prometheus' own identity, allowed only to list
pods) and writes them as a file_sd target list, following the usual annotations:

  prometheus.io/scrape: "true"    scrape this pod (Running, with an IP)
  prometheus.io/port:   "9464"    at <pod IP>:<port>
  prometheus.io/path:   "/m"      (default /metrics)

with the labels a cluster's kubernetes_sd relabelling gives: namespace, pod, and pipeline
(the pod's spate.dev/pipeline label).

    pod_sd.py SERVER CA CERT KEY OUT
"""

import json
import os
import ssl
import sys
import time
import urllib.request


def targets(pods):
    groups = []
    for pod in pods:
        meta, status = pod.get("metadata", {}), pod.get("status", {})
        annotations = meta.get("annotations") or {}
        if annotations.get("prometheus.io/scrape") != "true":
            continue
        ip, port = status.get("podIP"), annotations.get("prometheus.io/port")
        if status.get("phase") != "Running" or not ip or not port or meta.get("deletionTimestamp"):
            continue
        labels = {"job": "kubernetes-pods", "namespace": meta["namespace"], "pod": meta["name"]}
        pipeline = (meta.get("labels") or {}).get("spate.dev/pipeline")
        if pipeline:
            labels["pipeline"] = pipeline
        if annotations.get("prometheus.io/path"):
            labels["__metrics_path__"] = annotations["prometheus.io/path"]
        groups.append({"targets": [f"{ip}:{port}"], "labels": labels})
    return sorted(groups, key=lambda g: (g["labels"]["namespace"], g["labels"]["pod"]))


def write(out, groups):
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(groups, f, indent=1)
    os.replace(tmp, out)


def main(server, ca, cert, key, out):
    context = ssl.create_default_context(cafile=ca)
    context.load_cert_chain(cert, key)
    last = None
    while True:
        try:
            with urllib.request.urlopen(f"{server}/api/v1/pods", context=context, timeout=5) as r:
                groups = targets(json.load(r).get("items", []))
            if groups != last:
                write(out, groups)
                last = groups
        except Exception as e:  # the API server restarting: keep the last list
            print(f"pod_sd: listing pods failed: {e}", file=sys.stderr, flush=True)
        time.sleep(1)


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    main(*sys.argv[1:])
