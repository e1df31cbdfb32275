# shellcheck shell=bash
# The local Kafka's TLS material, made with openssl under the state directory (sourced by
# components/kafka.sh):
#
#   ca.crt / ca.key              the CA the broker and the clients trust
#   broker.pem                   the broker's key and certificate (PKCS#8 + chain, the
#                                PEM keystore Kafka reads); the certificate names
#                                $SPATE_HOST_IP only, as an IP and as a DNS name
#   client.crt / client.key      a client certificate (CN=spate-client) for the SSL listener
#   expired.crt / expired.key    a client certificate of the same CA that expired in 2021
#   other-ca.crt                 an unrelated CA: trusting it instead of ca.crt must fail
#
# Regenerated when the host address changes, a file is missing or the broker's
# certificate expires within 30 days.

TLS_REV="1 $SPATE_HOST_IP"

# tls_key FILE: a P-256 private key in PKCS#8, which both Kafka's PEM keystore and
# librdkafka read.
tls_key() {
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
  chmod 600 "$1"
}

# tls_ca DIR NAME CN: a self-signed CA DIR/NAME.crt with its key DIR/NAME.key.
tls_ca() {
  tls_key "$1/$2.key"
  openssl req -x509 -new -key "$1/$2.key" -subj "/CN=$3" -days 3650 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$1/$2.crt" 2>/dev/null
}

# tls_sign DIR NAME SUBJECT EXTENSIONS [STARTDATE ENDDATE]: DIR/NAME.key and DIR/NAME.crt
# signed by DIR/ca with `openssl ca`, which can also issue certificates whose validity
# lies in the past (the expired client certificate).
tls_sign() {
  local dir=$1 name=$2 subj=$3 ext=$4 start=${5:-} end=${6:-}
  local db=$dir/ca-db
  mkdir -p "$db"
  [[ -f $db/index.txt ]] || : >"$db/index.txt"
  [[ -f $db/serial ]] || openssl rand -hex 16 >"$db/serial"
  cat >"$db/ca.cnf" <<EOF
[ca]
default_ca = spate
[spate]
database = $db/index.txt
new_certs_dir = $db
serial = $db/serial
default_md = sha256
default_days = 3650
policy = any
unique_subject = no
copy_extensions = none
[any]
commonName = supplied
[ext]
$ext
EOF
  tls_key "$dir/$name.key"
  openssl req -new -key "$dir/$name.key" -subj "$subj" -out "$db/$name.csr" 2>/dev/null
  local dates=()
  [[ -n $start ]] && dates=(-startdate "$start" -enddate "$end")
  openssl ca -batch -notext -config "$db/ca.cnf" -cert "$dir/ca.crt" -keyfile "$dir/ca.key" \
    -extensions ext "${dates[@]}" -in "$db/$name.csr" -out "$dir/$name.crt" 2>>"$db/openssl.log" ||
    die "kafka: openssl could not sign $name (log $db/openssl.log)"
}

tls_fresh() {
  local dir=$1 f
  [[ $(cat "$dir/.complete" 2>/dev/null) == "$TLS_REV" ]] || return 1
  for f in ca.crt broker.pem client.crt client.key expired.crt expired.key other-ca.crt; do
    [[ -f $dir/$f ]] || return 1
  done
  openssl x509 -in "$dir/broker.crt" -noout -checkend $((30 * 86400)) >/dev/null 2>&1
}

# ensure_tls DIR: the CA and certificates above, made once.
ensure_tls() {
  local dir=$1
  tls_fresh "$dir" && return 0
  need_cmd openssl "install OpenSSL (apt-get install openssl)"
  rm -rf "$dir"
  mkdir -p "$dir"
  chmod 700 "$dir"
  tls_ca "$dir" ca "spate-kafka-ca"
  # The IP also as a DNS name: clients that compare the host text (OpenSSL's host
  # check, as librdkafka uses it) and those that compare IP addresses both accept it.
  tls_sign "$dir" broker "/CN=$SPATE_HOST_IP" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=IP:$SPATE_HOST_IP,DNS:$SPATE_HOST_IP"
  cat "$dir/broker.key" "$dir/broker.crt" "$dir/ca.crt" >"$dir/broker.pem"
  chmod 600 "$dir/broker.pem"
  local client_ext="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
  tls_sign "$dir" client "/CN=spate-client" "$client_ext"
  tls_sign "$dir" expired "/CN=spate-expired" "$client_ext" 20200101000000Z 20210101000000Z
  local other
  other=$(mktemp -d)
  tls_ca "$other" other-ca "spate-unrelated-ca"
  mv "$other/other-ca.crt" "$dir/other-ca.crt"
  rm -rf "$other"
  echo "$TLS_REV" >"$dir/.complete"
  log "kafka: generated the CA and certificates in $dir"
}

# oauth_token FILE SUBJECT: an unsecured JWT (alg none) for Kafka's unsecured OAUTHBEARER
# validator, valid for ten years; no trailing newline (the file's bytes are the token).
oauth_token() {
  python3 - "$1" "$2" <<'PY'
import base64, json, os, sys, time
b64 = lambda d: base64.urlsafe_b64encode(json.dumps(d, separators=(",", ":")).encode()).decode().rstrip("=")
now = int(time.time())
token = b64({"alg": "none"}) + "." + b64({"sub": sys.argv[2], "iat": now, "exp": now + 10 * 365 * 86400}) + "."
fd = os.open(sys.argv[1] + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
os.write(fd, token.encode())
os.close(fd)
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
PY
}
