#!/bin/sh
# The program behind the pod runner test's image: records the environment it was given,
# serves its working directory over HTTP on the pod's own address, and logs a SIGTERM
# before it exits.
set -u
printf 'POD_IP=%s\nGREETING=%s\nTOKEN=%s\nHOSTNAME=%s\nGREETING_AGAIN=%s\n' \
  "$POD_IP" "${GREETING:-}" "${TOKEN:-}" "${HOSTNAME:-}" "${GREETING_AGAIN:-}" >env.txt
python3 -m http.server --bind "$POD_IP" "$PORT" >/dev/null 2>&1 &
server=$!
echo "$server" >server.pid
trap 'echo "received SIGTERM"; kill "$server" 2>/dev/null; wait "$server"; exit 0' TERM
wait "$server"
status=$?
echo "server exited with status $status"
exit "$status"
