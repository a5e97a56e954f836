#!/usr/bin/env bash
# Fill fuzz/corpus/<target>/ with seed inputs. The corpus is ignored by git: never commit it.
#
#   xml  : every *.xml / *.XML of the shared e-invoice corpus no larger than XML_MAX_LEN
#   pdf  : the Factur-X PDFs of zugferd-corpus/XML-Rechnung/FX, plus the team's small hand-made
#          Factur-X PDFs in fuzz/seeds/pdf/ (committed; regenerate with make_pdf_seeds.py)
#   json : the team's hand-written JSON bills in fuzz/seeds/json/ (committed)
#
# Usage: fuzz/seed.sh [EINVOICE_CORPUS_DIR]   (default /work/shared/einvoice-corpus, or
#        $EINVOICE_CORPUS). Re-running it only adds files; the fuzzer's own finds stay.
# Files are named by their SHA-256, as libFuzzer names its own, so re-runs do not duplicate.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="${1:-${EINVOICE_CORPUS:-/work/shared/einvoice-corpus}}"
# Seeds longer than -max_len are truncated by libFuzzer, so larger XML is skipped by default.
XML_MAX_LEN="${XML_MAX_LEN:-65536}"
PDF_MAX_LEN="${PDF_MAX_LEN:-262144}"

if [ ! -d "$src" ]; then
    echo "seed.sh: corpus directory $src not found" >&2
    exit 1
fi

copy() { # copy FILE TARGET MAX_LEN
    local f="$1" target="$2" max="$3" size sum
    size=$(stat -c %s "$f")
    if [ "$size" -gt "$max" ]; then
        skipped=$((skipped + 1))
        return
    fi
    sum=$(sha256sum "$f" | cut -c1-40)
    cp "$f" "$here/corpus/$target/$sum"
    copied=$((copied + 1))
}

for target in xml pdf json; do
    mkdir -p "$here/corpus/$target"
    copied=0 skipped=0
    case "$target" in
        xml)
            while IFS= read -r -d '' f; do copy "$f" xml "$XML_MAX_LEN"; done \
                < <(find "$src" -type f \( -name '*.xml' -o -name '*.XML' \) -print0 | sort -z)
            ;;
        pdf)
            while IFS= read -r -d '' f; do copy "$f" pdf "$PDF_MAX_LEN"; done \
                < <(find "$src/zugferd-corpus/XML-Rechnung/FX" "$here/seeds/pdf" -type f -name '*.pdf' -print0 | sort -z)
            ;;
        json)
            while IFS= read -r -d '' f; do copy "$f" json 65536; done \
                < <(find "$here/seeds/json" -type f -name '*.json' -print0 | sort -z)
            ;;
    esac
    echo "seed.sh: $target: $copied seed(s) copied, $skipped skipped (over max_len) -> fuzz/corpus/$target/ ($(ls "$here/corpus/$target" | wc -l) file(s) now)"
done
