#!/usr/bin/env bash
# Mirror of vm-tests/acme.nix: pebble (Debian's package) on host "acme", resolving the app's domain
# through that host's /etc/hosts as the VM test's acme node does (no DNS server; lib.sh writes every
# host's name and aliases into each namespace's hosts file), the server obtaining a certificate for vote.example.test over
# TLS-ALPN-01 on port 443, and a client that checks the chain against pebble's issuing root, the
# HTTP -> HTTPS redirect, HSTS, a vote over HTTPS, and that a restart reuses the stored certificate.
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

need pebble openssl
MYSETLIST=$(mysetlist_binary)
mirror_init acme
host_add acme
host_add server
host_add client
host_alias acme acme.test
domain=vote.example.test
host_alias server "$domain"
base=https://$domain
pki=$RUN_DIR/pki
mkdir -p "$pki"

# A test CA and a certificate for pebble's own HTTPS listener (pebble ships none).
(
  cd "$pki"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 -subj '/CN=mirror test CA'
  openssl req -newkey rsa:2048 -nodes -keyout pebble.key -out pebble.csr -subj '/CN=acme.test'
  printf 'subjectAltName=DNS:acme.test,IP:%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
    "$(host_ip acme)" >ext.cnf
  openssl x509 -req -in pebble.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out pebble.pem -days 30 -extfile ext.cnf
) >"$RUN_DIR/pki.log" 2>&1

cat >"$RUN_DIR/pebble.json" <<JSON
{"pebble": {"listenAddress": "0.0.0.0:14000", "managementListenAddress": "0.0.0.0:15000",
  "certificate": "$pki/pebble.pem", "privateKey": "$pki/pebble.key",
  "httpPort": 80, "tlsPort": 443, "ocspResponderURL": "", "externalAccountBindingRequired": false}}
JSON
# No -dnsserver: pebble resolves vote.example.test from the acme host's /etc/hosts (host_alias above).
spawn acme pebble.log env PEBBLE_VA_NOSLEEP=1 pebble -config "$RUN_DIR/pebble.json"
wait_for_url client https://acme.test:14000/dir 30 --cacert "$pki/ca.pem"
on client curl -fsS --cacert "$pki/ca.pem" -o "$pki/pebble-root.pem" https://acme.test:15000/roots/0
root=$pki/pebble-root.pem
log "pebble is up; its issuing root is in $root"

cat >"$RUN_DIR/server.toml" <<TOML
data_dir = "$RUN_DIR/server-data"
domain = ["$domain"]
public_url = "$base"
https_listen = "0.0.0.0:443"
http_listen = "0.0.0.0:80"

[acme]
email = "admin@example.test"
directory_url = "https://acme.test:14000/dir"
ca_file = "$pki/ca.pem"
challenge = "tls-alpn-01"
TOML

start_server() {
  spawn server server.log "$MYSETLIST" serve --config "$RUN_DIR/server.toml" --demo
  server_pid=$SPAWNED_PID
}
served_certificate() {
  on client openssl s_client -connect "$domain:443" -servername "$domain" </dev/null 2>/dev/null |
    openssl x509 -noout -fingerprint -sha256
}

start_server
wait_for_url client "$base/readyz" 180 --cacert "$root"
on client openssl s_client -connect "$domain:443" -servername "$domain" -CAfile "$root" \
  -verify_return_error -verify_hostname "$domain" </dev/null >"$RUN_DIR/s_client.log" 2>&1 ||
  fail "the served chain does not verify against pebble's root (see s_client.log)"
issuer=$(on client openssl s_client -connect "$domain:443" -servername "$domain" </dev/null 2>/dev/null |
  openssl x509 -noout -issuer)
[[ ${issuer,,} == *pebble* ]] || fail "unexpected issuer: $issuer"
log "certificate obtained; the chain verifies"

redirect=$(on client curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' "http://$domain/shows?page=2")
[[ $redirect == "308 $base/shows?page=2" ]] || fail "plain HTTP answered: $redirect"
on client curl -fsS --cacert "$root" -D - -o /dev/null "$base/" | grep -qi '^strict-transport-security: max-age=' ||
  fail "no HSTS header"
log "HTTP redirects with 308; HTTPS sends HSTS"

cookies=$(client client --cacert "$root" "$base" signup fan@example.test 'a long and decent passphrase')
show=$(client client --cacert "$root" "$base" show)
song=$(client client --cacert "$root" "$base" songs "$show" | head -n 1)
# The demo data has votes of its own: ours comes on top.
count=$(client client --cacert "$root" "$base" votes "$show" "$song")
client client --cacert "$root" "$base" vote "$cookies" "$show" "$song"
[[ $(client client --cacert "$root" "$base" votes "$show" "$song") == $((count + 1)) ]] ||
  fail "the vote over HTTPS was not counted"
log "a vote over HTTPS is counted"

before=$(served_certificate)
stop_pid "$server_pid" 10 || fail "the server did not stop cleanly on SIGTERM"
start_server
wait_for_url client "$base/readyz" 60 --cacert "$root"
[[ $(served_certificate) == "$before" ]] || fail "a new certificate was ordered after a restart"
log "a restart reuses the stored certificate"

log "PASS acme"
