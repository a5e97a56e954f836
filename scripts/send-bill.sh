#!/usr/bin/env bash
# Send one document to billbridge's intake, signed the Standard Webhooks way.
# Usage: scripts/send-bill.sh BASE_URL SOURCE_ID WHSEC_SECRET FILE [CONTENT_TYPE]
# Example: scripts/send-bill.sh http://127.0.0.1:8080 src_… whsec_… adapters/tests/fixtures/ubl-invoice.xml
set -euo pipefail
base=$1 source=$2 secret=$3 file=$4
ctype=${5:-}
if [ -z "$ctype" ]; then
  case "$file" in
    *.pdf) ctype=application/pdf ;;
    *.json) ctype=application/json ;;
    *) ctype=application/xml ;;
  esac
fi
id="msg_$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
ts=$(date +%s)
key_hex=$(printf '%s' "${secret#whsec_}" | base64 -d | od -An -v -tx1 | tr -d ' \n')
sig=$( { printf '%s.%s.' "$id" "$ts"; cat "$file"; } \
  | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key_hex" -binary | base64 -w0)
curl -sS -X POST "$base/v1/sources/$source/bills" \
  -H "content-type: $ctype" \
  -H "webhook-id: $id" -H "webhook-timestamp: $ts" -H "webhook-signature: v1,$sig" \
  --data-binary "@$file"
echo
