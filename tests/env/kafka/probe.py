#!/usr/bin/env python3
"""Health probe of the local Kafka broker: speaks the Kafka protocol directly.

    probe.py HOST:PORT

Sends ApiVersions (v0) and Metadata (v1) requests and exits 0 only when the broker answers
both without error and its metadata lists at least one live broker and a controller.
"""

import socket
import struct
import sys

CLIENT_ID = b"spate-env-probe"


def request(sock, api_key, api_version, correlation_id, body=b""):
    header = struct.pack(">hhih", api_key, api_version, correlation_id, len(CLIENT_ID)) + CLIENT_ID
    payload = header + body
    sock.sendall(struct.pack(">i", len(payload)) + payload)
    size = struct.unpack(">i", read_exact(sock, 4))[0]
    response = read_exact(sock, size)
    (got,) = struct.unpack_from(">i", response, 0)
    if got != correlation_id:
        raise RuntimeError(f"correlation id {got}, expected {correlation_id}")
    return response[4:]


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise RuntimeError("connection closed")
        buf += chunk
    return buf


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=3) as sock:
        # ApiVersions v0: error_code int16 first.
        body = request(sock, 18, 0, 1)
        (error,) = struct.unpack_from(">h", body, 0)
        if error != 0:
            raise RuntimeError(f"ApiVersions error {error}")
        # Metadata v1 with an empty topic array (no topics): brokers, then controller id.
        body = request(sock, 3, 1, 2, struct.pack(">i", 0))
        (brokers,) = struct.unpack_from(">i", body, 0)
        offset = 4
        for _ in range(brokers):
            offset += 4  # node_id
            (host_len,) = struct.unpack_from(">h", body, offset)
            offset += 2 + host_len + 4  # host, port
            (rack_len,) = struct.unpack_from(">h", body, offset)
            offset += 2 + max(rack_len, 0)
        (controller,) = struct.unpack_from(">i", body, offset)
        if brokers < 1 or controller < 0:
            raise RuntimeError(f"{brokers} brokers, controller {controller}")


if __name__ == "__main__":
    try:
        main()
    except Exception as err:  # noqa: BLE001 - any failure means unhealthy
        print(f"kafka probe: {err}", file=sys.stderr)
        sys.exit(1)
