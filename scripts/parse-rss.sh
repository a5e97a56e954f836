#!/usr/bin/env bash
# Peak RSS of parsing a synthetic ~10 MB UBL invoice (BENCHMARKS.md, "Parsing (adapters)").
#
# The file is generated at run time from a real corpus invoice by repeating its invoice lines
# (with fresh line ids) until the document is about TARGET_BYTES long; it is written to a
# temporary folder and deleted afterwards, never committed.
#
#   scripts/parse-rss.sh [TARGET_BYTES]      # default 10000000 (just under the 10 MiB input cap)
#
# Needs: python3, /usr/bin/time (GNU time), the corpus (../shared/einvoice-corpus or
# $BILLBRIDGE_CORPUS). Prints the peak RSS of: billbridge's parser, a bare quick-xml scan of the
# same file, and billbridge's parser on the seed invoice (the process baseline).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
corpus="${BILLBRIDGE_CORPUS:-$root/../shared/einvoice-corpus}"
seed="$corpus/peppol-bis-invoice-3/examples/base-example.xml"
target_bytes="${1:-10000000}"

if [[ ! -f "$seed" ]]; then
    echo "SKIPPED: the e-invoice corpus is absent ($seed not found; set BILLBRIDGE_CORPUS)"
    exit 0
fi
if [[ ! -x /usr/bin/time ]]; then
    echo "SKIPPED: /usr/bin/time (GNU time) is not installed"
    exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
big="$work/synthetic-ubl.xml"

python3 - "$seed" "$big" "$target_bytes" <<'PY'
import re, sys
seed, out, target = sys.argv[1], sys.argv[2], int(sys.argv[3])
text = open(seed, encoding="utf-8-sig").read()
lines = re.findall(r"<cac:InvoiceLine>.*?</cac:InvoiceLine>", text, re.S)
assert lines, "the seed invoice has no cac:InvoiceLine"
start = text.index(lines[0])
end = text.rindex(lines[-1]) + len(lines[-1])
head, tail = text[:start], text[end:]
budget = target - len(head.encode()) - len(tail.encode())
parts, size, n = [], 0, 0
while True:
    line = lines[n % len(lines)]
    line = re.sub(r"<cbc:ID>[^<]*</cbc:ID>", "<cbc:ID>%d</cbc:ID>" % (n + 1), line, count=1)
    b = len(line.encode()) + 1
    if size + b > budget:
        break
    parts.append(line)
    size += b
    n += 1
with open(out, "w", encoding="utf-8") as f:
    f.write(head + "\n".join(parts) + "\n" + tail)
print(f"generated {out}: {n} invoice lines")
PY

cargo build --release -q -p adapters --example parse_file --manifest-path "$root/Cargo.toml"
bin="$root/target/release/examples/parse_file"

peak() { # label, args...
    local label="$1"
    shift
    local log="$work/time.log"
    /usr/bin/time -v "$bin" "$@" 2>"$log" >"$work/out.txt" || { cat "$log" "$work/out.txt"; exit 1; }
    local kb wall
    kb="$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")"
    wall="$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log")"
    printf '%-34s peak RSS %6d KiB (%5.1f MiB), wall %s\n' "$label" "$kb" "$(echo "$kb / 1024" | bc -l)" "$wall"
    sed 's/^/    /' "$work/out.txt"
}

echo "file: $(stat -c %s "$big") bytes"
peak "billbridge parse (synthetic)" "$big"
peak "quick-xml scan (synthetic)" "$big" --scan
peak "billbridge parse (seed, $(stat -c %s "$seed") B)" "$seed"
