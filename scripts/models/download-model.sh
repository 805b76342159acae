#!/usr/bin/env bash
# Fetch a reference backbone that needs internet access (default: resnet50).
#   resnet50: ONNX Model Zoo resnet50-v1-7.onnx, SHA-256 checked against "source_sha256"
#   in models/resnet50.json, then scripts/models/expose-outputs.py exposes the layer2/layer3/
#   pooled tensors and makes N, H, W symbolic -> models/resnet50.onnx
# Idempotent: a verified download is kept in .deps/downloads/ and an existing model with
# the exposed outputs is left alone. Without a connection it fails with one line that
# points to the offline backbone (scripts/setup/setup-deep.sh builds efficientnet-lite0).
set -euo pipefail
cd "$(dirname "$0")/../.."

PY=.deps/venv/bin/python
CACHE=.deps/downloads

fail() { echo "download-model: error: $*" >&2; exit 1; }
step() { echo "download-model: $*"; }

name=${1:-resnet50}
case "$name" in
    resnet50)
        upstream=resnet50-v1-7.onnx
        urls=(
            "https://github.com/onnx/models/raw/main/validated/vision/classification/resnet/model/resnet50-v1-7.onnx"
            "https://media.githubusercontent.com/media/onnx/models/main/validated/vision/classification/resnet/model/resnet50-v1-7.onnx"
            "https://github.com/onnx/models/raw/5faef4c33eba0395177850e1e31c4a6a9e634c82/vision/classification/resnet/model/resnet50-v1-7.onnx"
        )
        ;;
    *) fail "unknown model '$name' (available: resnet50)" ;;
esac
manifest=models/$name.json
model=models/$name.onnx
[ -f "$manifest" ] || fail "$manifest is missing"
"$PY" -c '' 2>/dev/null || fail "no Python venv at .deps/venv; run scripts/setup/setup-deep.sh first"
want=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["source_sha256"])' "$manifest")

# Already done? The model exists and exposes every tensor the manifest names.
if [ -f "$model" ] && "$PY" - "$manifest" "$model" <<'PYEOF' 2>/dev/null
import json, sys, onnx
man = json.load(open(sys.argv[1]))
outs = {o.name for o in onnx.load(sys.argv[2], load_external_data=False).graph.output}
need = {f["name"] for f in man["features"]} | {man["pooled"]}
sys.exit(0 if need <= outs else 1)
PYEOF
then
    exit 0
fi

mkdir -p "$CACHE" models
raw=$CACHE/$upstream
sha() { sha256sum "$1" | cut -d' ' -f1; }
if [ ! -f "$raw" ] || [ "$(sha "$raw")" != "$want" ]; then
    step "fetching $upstream from the ONNX Model Zoo"
    ok=
    for url in "${urls[@]}"; do
        if curl -fsSL --retry 2 --connect-timeout 20 -o "$raw.part" "$url" 2>/dev/null; then
            if [ "$(sha "$raw.part")" = "$want" ]; then ok=1; break; fi
            echo "download-model: $url: SHA-256 mismatch, trying the next mirror" >&2
        fi
    done
    if [ -z "$ok" ]; then
        rm -f "$raw.part"
        fail "could not download $upstream with SHA-256 $want (offline?); the offline backbone is EfficientNet-Lite0: run scripts/setup/setup-deep.sh to build models/efficientnet-lite0.onnx"
    fi
    mv -f "$raw.part" "$raw"
fi

step "exposing feature tensors -> $model"
"$PY" scripts/models/expose-outputs.py "$raw" "$model" --manifest "$manifest" \
    || fail "expose-outputs.py failed on $raw"
