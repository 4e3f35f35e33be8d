#!/usr/bin/env bash
# load-sample.sh DB - load the sample region into DB (created when absent),
# each file as the organisation that sent it.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
weft=${WEFT:-$here/../weft}
db=${1:?usage: sample/load-sample.sh DB}
"$weft" init --db "$db"
for org in A81001 A81002 A81003; do
  "$weft" load --db "$db" --org "$org" --feed sample-gp "$here/gp-$org.json"
done
"$weft" load --db "$db" --org RVV --feed sample-hospital "$here/hospital-RVV.json"
