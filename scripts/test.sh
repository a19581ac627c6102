#!/usr/bin/env bash
# Builds Fathom and runs the whole test suite (the README's second command; .ci/run runs it too).
# Set FATHOM_SKIP_DEPS=1 to skip the apt-get/npm step on a machine that already has everything.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}

if [ "${FATHOM_SKIP_DEPS:-0}" != 1 ]; then
  scripts/install-deps.sh
  scripts/fetch-test-deps.sh
fi

CUDA_OPT=OFF
if command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; then CUDA_OPT=ON; fi
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DFATHOM_REQUIRE_TESTDATA=ON -DFATHOM_CUDA=${CUDA_OPT} \
  -DFATHOM_TOKENIZER_JSON="$PWD/.deps/tokenizer-deepseek_v3/tokenizer.json"
cmake --build "$BUILD_DIR" --parallel "$(nproc)"
ctest --test-dir "$BUILD_DIR" --output-on-failure --parallel "$(nproc)" "$@"
