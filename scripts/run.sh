#!/usr/bin/env bash
# Installs the dependencies, builds Fathom and starts it (the README's first command). With no
# model configured, Fathom offers the bundled demo model (tiny random weights, clearly labelled).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
if [ "${FATHOM_SKIP_DEPS:-0}" != 1 ]; then
  scripts/install-deps.sh
fi
CUDA_OPT=OFF
if command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; then CUDA_OPT=ON; fi
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFATHOM_CUDA=${CUDA_OPT}
# fathom-ingest-worker parses attached documents in a separate process.
cmake --build "$BUILD_DIR" --parallel "$(nproc)" --target fathom fathom-ingest-worker
exec "$BUILD_DIR/bin/fathom" "$@"
