#!/usr/bin/env bash
# launch-url.sh - act as a host system (a GP system, a hospital EPR): sign a
# short-lived HS256 launch token for one user and one patient and print the
# /launch URL that opens that patient's record in Weft.  For demos and manual
# testing; real host systems sign with their own code (docs/ACCESS.md).
#
#   scripts/launch-url.sh --base URL --secret-file F --iss ISS --org ODS --patient NHS
#                         [--role R8000] [--user ID] [--name NAME] [--purpose TREAT]
#                         [--aud weft] [--ttl SECONDS]
set -euo pipefail
base="" secret_file="" iss="" org="" patient="" role=R8000 user="" name="" purpose=TREAT aud=weft ttl=300
while [ $# -gt 0 ]; do
  case "$1" in
    --base) base=$2; shift 2 ;;
    --secret-file) secret_file=$2; shift 2 ;;
    --iss) iss=$2; shift 2 ;;
    --org) org=$2; shift 2 ;;
    --patient) patient=$2; shift 2 ;;
    --role) role=$2; shift 2 ;;
    --user) user=$2; shift 2 ;;
    --name) name=$2; shift 2 ;;
    --purpose) purpose=$2; shift 2 ;;
    --aud) aud=$2; shift 2 ;;
    --ttl) ttl=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "launch-url.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
for v in base secret_file iss org patient; do
  [ -n "${!v}" ] || { echo "launch-url.sh: --${v//_/-} is required" >&2; exit 2; }
done
[ -n "$user" ] || user="demo-$role"
[ -n "$name" ] || name="Demo User ($role)"
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
now=$(date +%s)
jti=$(openssl rand -hex 16)
header='{"alg":"HS256","typ":"JWT"}'
payload=$(printf '{"iss":"%s","aud":"%s","iat":%d,"nbf":%d,"exp":%d,"jti":"%s","sub":"%s","name":"%s","role":"%s","org":"%s","patient":"%s","purpose":"%s"}' \
  "$iss" "$aud" "$now" "$now" "$((now + ttl))" "$jti" "$user" "$name" "$role" "$org" "$patient" "$purpose")
signing_input="$(printf '%s' "$header" | b64url).$(printf '%s' "$payload" | b64url)"
sig=$(printf '%s' "$signing_input" | openssl dgst -sha256 -mac HMAC -macopt "key:$(cat "$secret_file")" -binary | b64url)
printf '%s/launch?token=%s.%s\n' "${base%/}" "$signing_input" "$sig"
