#!/usr/bin/env bash
# ops_tls.sh - `weft serve --tls-cert FILE --tls-key FILE` serves HTTPS:
# curl with the CA gets answers carrying Strict-Transport-Security; web
# pages carry the security headers (CSP without inline script, nosniff,
# frame-ancestors 'none', Referrer-Policy); openssl s_client negotiates TLS
# 1.2 and 1.3 but TLS 1.1 is refused; a plain HTTP request to the TLS port
# fails cleanly and the server keeps serving; a key that does not match the
# certificate, or half of the pair, is refused at start with a message.
# On PostgreSQL too (WEFT_TEST_DB).
# weft-test-backends: sqlite postgres
set -u
bin="${WEFT_BIN:?}"
tmp="${WEFT_TMP:?}"
fail() { echo "FAIL: $*"; [ -f "$tmp/serve.log" ] && tail -n 20 "$tmp/serve.log"; exit 1; }
command -v openssl >/dev/null && command -v curl >/dev/null || { echo "skip: needs openssl and curl"; exit 77; }
cd "$tmp"
db="${WEFT_TEST_DB:-w.db}"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem -out cert.pem \
  -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null ||
  fail "openssl could not make a certificate"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.pem -out other-cert.pem \
  -days 2 -subj /CN=other 2>/dev/null
"$bin" init --db "$db" >/dev/null || fail "init"

# refused configurations
"$bin" serve --db "$db" --http 127.0.0.1:0 --tls-cert cert.pem >out 2>&1 && fail "cert without key accepted"
grep -q "go together" out || { cat out; fail "no message for a cert without a key"; }
timeout 20 "$bin" serve --db "$db" --http 127.0.0.1:0 --tls-cert cert.pem --tls-key other.pem >out 2>&1 &&
  fail "a key that does not match the certificate was accepted"
grep -qi "cannot start the HTTP workers\|https\|tls\|key" out || { cat out; fail "no message for a mismatched key"; }
"$bin" serve --db "$db" --http 127.0.0.1:0 --tls-cert nothere.pem --tls-key key.pem >out 2>&1 && fail "missing cert accepted"
grep -q "nothere.pem" out || { cat out; fail "missing cert not named"; }

"$bin" serve --db "$db" --http 127.0.0.1:0 --port-file port --tls-cert cert.pem --tls-key key.pem 2>serve.log &
pid=$!
trap 'kill -KILL $pid 2>/dev/null' EXIT
for _ in $(seq 1 200); do [ -s port ] && break; kill -0 $pid 2>/dev/null || fail "serve exited"; sleep 0.05; done
port=$(cat port)
url="https://localhost:$port"

curl -sS --cacert cert.pem -D h1 -o b1 "$url/health" || fail "curl over TLS failed"
grep -q '"status":"ok"' b1 || fail "health over TLS: $(cat b1)"
grep -qi '^Strict-Transport-Security: max-age=[0-9]' h1 || { cat h1; fail "no HSTS header"; }
curl -sS "$url/health" -o /dev/null 2>err && fail "curl trusted a certificate it was not given"

# the FHIR API's own links name https (no --base-url given)
curl -sS --cacert cert.pem -o meta "$url/fhir/metadata" || fail "curl metadata"
grep -q "\"url\":\"https://localhost:$port/fhir\"" meta || { head -c 600 meta; fail "metadata's url is not https://localhost:$port/fhir"; }
grep -q '"url":"http://' meta && fail "metadata names an http:// url over TLS"

# a web page (a 404 under /patient is rendered by the web part)
curl -sS --cacert cert.pem -D h2 -o b2 "$url/patient/nobody" || fail "curl page"
for h in "Strict-Transport-Security: max-age" "X-Content-Type-Options: nosniff" "Referrer-Policy:" \
         "Content-Security-Policy: default-src 'none'"; do
  grep -qi "^$h" h2 || { cat h2; fail "page lacks header $h"; }
done
grep -i '^Content-Security-Policy:' h2 | grep -q "frame-ancestors 'none'" || fail "CSP without frame-ancestors 'none'"
grep -i '^Content-Security-Policy:' h2 | grep -qi "unsafe-inline" && fail "CSP allows inline script"
grep -i '^Content-Security-Policy:' h2 | grep -qi "script-src[^;]*'unsafe" && fail "CSP script-src unsafe"

# protocol versions
out=$(openssl s_client -connect "127.0.0.1:$port" -tls1_2 -CAfile cert.pem </dev/null 2>&1)
echo "$out" | grep -q "New, TLSv1.2, Cipher is [A-Z]" || { echo "$out" | tail -n 15; fail "TLS 1.2 not negotiated"; }
echo "$out" | grep -q "Verify return code: 0" || fail "certificate did not verify"
out=$(openssl s_client -connect "127.0.0.1:$port" -tls1_3 -CAfile cert.pem </dev/null 2>&1)
echo "$out" | grep -q "New, TLSv1.3, Cipher is TLS_" || { echo "$out" | tail -n 15; fail "TLS 1.3 not negotiated"; }
out=$(openssl s_client -connect "127.0.0.1:$port" -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' </dev/null 2>&1)
echo "$out" | grep -q "Cipher is (NONE)\|alert\|handshake failure\|unexpected eof\|no protocols" ||
  { echo "$out" | tail -n 15; fail "TLS 1.1 was not refused"; }
echo "$out" | grep -q "Protocol *: TLSv1.1" && echo "$out" | grep -q "Cipher is ECDHE\|Cipher is AES" &&
  fail "TLS 1.1 negotiated"

# plain HTTP to the TLS port: fails for the client, the server goes on
timeout 10 curl -sS "http://127.0.0.1:$port/health" -o plain 2>err && grep -q '"status"' plain &&
  fail "plain HTTP answered on the TLS port"
curl -sS --cacert cert.pem "$url/health" | grep -q '"status":"ok"' || fail "not serving after a plain request"

kill -TERM $pid
wait $pid
rc=$?
trap - EXIT
[ $rc -eq 0 ] || fail "serve exited $rc after SIGTERM"
echo "ok: HTTPS with HSTS and security headers; TLS 1.2 and 1.3 negotiated, 1.1 refused; plain HTTP refused cleanly"
