#!/usr/bin/env bash
# Renders tests/fixtures/rank/: a sign-in page screenshot (ref.png) in headless
# Chromium, the same page with the button's text changed ("Sign in" -> "Log in",
# text.png) and with the logo's shape changed (icon.png), and JPEG re-saves of the
# reference at quality 85 and 75 (Pillow). `rank` must put both re-saves above both
# edits (tests/review.rs).
# Usage: bash scripts/data/make-rank-fixtures.sh   (needs chromium; Pillow from
#        .deps/eval-venv, made by scripts/eval/eval.sh)
set -euo pipefail
cd "$(dirname "$0")/../../tests/fixtures/rank"
py="${PYTHON:-../../../.deps/eval-venv/bin/python}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
shot() {
    sed -e "s/BUTTON/$2/" -e "s/LOGO/$3/" page.html >"$tmp/$1.html"
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=480,360 \
        --screenshot="$PWD/$1.png" "file://$tmp/$1.html" 2>/dev/null
}
shot ref "Sign in" ""
shot text "Log in" ""
shot icon "Sign in" "sq"
"$py" -c "
from PIL import Image
im = Image.open('ref.png').convert('RGB')
im.save('ref-q85.jpg', quality=85)
im.save('ref-q75.jpg', quality=75)
"
