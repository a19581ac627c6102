#!/usr/bin/env bash
# Copyright (C) 2026 Fathom contributors
# SPDX-License-Identifier: MIT
#
# The device checks of issue 5 in one run, for the lent H200 machine (CUDA 13, CMake, ninja, no
# Qt, no network): configure (engine + kernels + GPU tests only), build, run the tests labelled
# gpu (per-op CUDA vs CPU twins, the whole model vs the golden data: prefill, chunked prefill,
# decode, MTP), run the benchmark (bench_cuda: decode bandwidth, 8K prefill split, 128K prefill
# memory), optionally the HuggingFace transformers peer, and print a short table last.
#
# Two steps:
#   here (the dev machine):   tests/gpu/run-device-checks.sh --prepare
#       copies what the device machine lacks into tests/gpu/.carry (git-ignored): the golden
#       data (../shared/testdata/v4, ~11 MB) and the nlohmann/json headers.
#   there (device tool):      run(command="tests/gpu/run-device-checks.sh",
#                                 carry=["tests/gpu/.carry"], timeout_s=600)
#
# Knobs (environment): LAYERS (flash-slice main layers, default 4), LONG (long prefill tokens,
# default 131072; 0 skips), PREFILL (default 8192), DECODE_STEPS (default 32), JOBS (default
# nproc), SKIP_TESTS=1, SKIP_BENCH=1, SKIP_PEER=1, SKIP_EAGER=1, SKIP_EXACT=1, SKIP_FUSION_AB=1 (sessions 10-11's decode fusions off / merge forced), BUILD_DIR (default build-gpu).
# Logs and the table go to $OUT when set (the device tool brings them back), else to
# $BUILD_DIR/device-checks.
#
# Decode-step graphs (CudaExecutor::beginStep, on by default): tst_cuda_model checks graphed
# decode against eager launches bit for bit and prints STEP lines (median step time of a tiny
# model both ways: the per-step overhead, the arithmetic being negligible) and REPLAY lines (the
# host time of a replayed step: its step script - no forward walk - and the upload); after bench_cuda
# (graphed decode), a second short bench_cuda run with FATHOM_CUDA_STEP_GRAPHS=0 gives the eager
# decode figures on the same slice (SKIP_EAGER=1 leaves it out).
# Modes: the main bench_cuda run is the non-exact mode (FATHOM_CUDA_EXACT_LINEAR=0, the mode of
# the performance goals): FP8 GEMMs through cuBLASLt (falling back to the tensor-core GEMM,
# linear_mma.cu), FP4 experts on the tensor-core grouped GEMM, the tensor-core indexer and
# sparse attention; it also prints the GEMM and indexer/attention op tables. A short run in the
# exact mode (fp64 dots, bit-identical to the CPU engine; SKIP_EXACT=1 leaves it out) follows.
#
# One device command may run 10 minutes. If build + tests + benchmark do not fit, split it in
# two calls made back to back (the warm machine keeps the git-ignored build-gpu folder):
#   SKIP_BENCH=1 tests/gpu/run-device-checks.sh     then     SKIP_TESTS=1 tests/gpu/run-device-checks.sh
set -u -o pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CARRY="$ROOT/tests/gpu/.carry"

if [ "${1:-}" = "--prepare" ]; then
    set -e
    mkdir -p "$CARRY/include"
    src="${FATHOM_TESTDATA_DIR:-$ROOT/../shared/testdata}"
    rm -rf "$CARRY/testdata"
    mkdir -p "$CARRY/testdata"
    cp -r "$src/v4" "$CARRY/testdata/"
    cp "$src/README.md" "$CARRY/testdata/"
    for d in /usr/include/nlohmann /usr/local/include/nlohmann; do
        if [ -f "$d/json.hpp" ]; then
            rm -rf "$CARRY/include/nlohmann"
            cp -r "$d" "$CARRY/include/"
            break
        fi
    done
    [ -f "$CARRY/include/nlohmann/json.hpp" ] || { echo "nlohmann/json.hpp not found here"; exit 1; }
    du -sh "$CARRY"
    echo "ready: run this script on the device machine with carry [\"tests/gpu/.carry\"]"
    exit 0
fi

BUILD="${BUILD_DIR:-$ROOT/build-gpu}"
LOGS="${OUT:-$BUILD/device-checks}"
mkdir -p "$LOGS"
JOBS="${JOBS:-$(nproc)}"
LAYERS="${LAYERS:-4}"
LONG="${LONG:-131072}"
PREFILL="${PREFILL:-8192}"
DECODE_STEPS="${DECODE_STEPS:-32}"
SUMMARY="$LOGS/summary.txt"
: >"$SUMMARY"
note() { echo "$*" | tee -a "$SUMMARY"; }
t0=$(date +%s)
stamp() { echo "[$(($(date +%s) - t0)) s] $*"; }

stamp "device and toolchain"
{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.mem --format=csv 2>&1
    nvcc --version 2>&1 | tail -2
    cmake --version | head -1
    ninja --version
} | tee "$LOGS/env.txt"

TESTDATA="$CARRY/testdata"
[ -d "$TESTDATA/v4" ] || TESTDATA="$ROOT/../shared/testdata"
JSON_ARGS=()
[ -f "$CARRY/include/nlohmann/json.hpp" ] && JSON_ARGS=(-DFATHOM_NLOHMANN_JSON_INCLUDE="$CARRY/include")

stamp "configure"
if ! cmake -S "$ROOT" -B "$BUILD" -G Ninja \
        -DCMAKE_BUILD_TYPE=Release \
        -DFATHOM_BUILD_APP=OFF -DFATHOM_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a \
        -DFATHOM_TESTDATA_DIR="$TESTDATA" -DFATHOM_REQUIRE_TESTDATA=ON \
        "${JSON_ARGS[@]}" >"$LOGS/configure.log" 2>&1; then
    tail -40 "$LOGS/configure.log"
    note "configure: FAILED (see configure.log)"
    exit 1
fi

stamp "build (-j$JOBS)"
# Every gpu-labelled test plus the benchmark (not the CPU emulation tests: CI runs those).
targets=$(grep -ho 'fathom_add_plain_test([A-Za-z0-9_]*' "$ROOT"/tests/gpu/CMakeLists.txt \
    | sed 's/.*(//' | grep -v '_emu$' | tr '\n' ' ')
if ! ninja -C "$BUILD" -j"$JOBS" $targets bench_cuda >"$LOGS/build.log" 2>&1; then
    grep -E "error|FAILED" "$LOGS/build.log" | head -40
    note "build: FAILED (see build.log)"
    exit 1
fi
note "build: ok ($targets bench_cuda)"

# SASS of the tensor-core kernels: the wgmma GEMM must show QGMMA (Hopper's FP8 warpgroup MMA;
# HMMA/QMMA only means the slower mma.sync path) and no local-memory traffic (LDL/STL: spills).
CUOBJDUMP="$(command -v cuobjdump || echo "${CUDA_HOME:-/usr/local/cuda}/bin/cuobjdump")"
if [ -x "$CUOBJDUMP" ]; then
    for o in $(find "$BUILD" -name 'linear_wgmma.cu.o' -o -name 'linear_mma.cu.o' \
            -o -name 'sparse_attn_mma.cu.o' -o -name 'indexer_scores_mma.cu.o' | sort); do
        s="$LOGS/sass-$(basename "$o" .cu.o).txt"
        "$CUOBJDUMP" -sass "$o" >"$s" 2>&1
        note "sass $(basename "$o"): QGMMA $(grep -c QGMMA "$s") HGMMA $(grep -c HGMMA "$s")" \
            "QMMA/HMMA $(grep -cE '[^G](QMMA|HMMA)' "$s") LDL $(grep -c 'LDL' "$s") STL $(grep -c 'STL' "$s")"
    done
else
    note "sass: cuobjdump not found"
fi

ctest_rc=0
if [ "${SKIP_TESTS:-0}" != "1" ]; then
    stamp "gpu tests"
    (cd "$BUILD" && ctest -L gpu --output-on-failure --timeout 600) 2>&1 | tee "$LOGS/ctest.log"
    ctest_rc=${PIPESTATUS[0]}
    grep -E "tests passed|tests failed|Passed|Failed|Not Run|Skipped" "$LOGS/ctest.log" | tail -12 >>"$SUMMARY"
    # Every check line of the passing tests too (ctest keeps the full output in LastTest.log).
    cp "$BUILD/Testing/Temporary/LastTest.log" "$LOGS/gpu-tests-full.log" 2>/dev/null
    grep -hE "^(PASS|FAIL|SKIP)" "$LOGS/gpu-tests-full.log" 2>/dev/null | sed 's/^/  /' | tail -60 >"$LOGS/gpu-checks.txt"
fi

bench_rc=0
if [ "${SKIP_BENCH:-0}" != "1" ]; then
    # The main run is the non-exact mode (the one the performance goals are about): FP8 GEMMs
    # through cuBLASLt / the tensor-core kernel, FP4 experts on tensor cores, the tensor-core
    # indexer and attention. The exact kernels (fp64 dots) would need hours for the long
    # prefill's indexer, so the exact mode gets a short run below.
    stamp "benchmark (flash-slice, $LAYERS layers, non-exact mode: FATHOM_CUDA_EXACT_LINEAR=0)"
    FATHOM_CUDA_EXACT_LINEAR=0 "$BUILD/bin/bench_cuda" --model /tmp/fathom-flash-slice-$LAYERS \
        --layers "$LAYERS" --decode-steps "$DECODE_STEPS" --prefill "$PREFILL" --long "$LONG" \
        2>&1 | tee "$LOGS/bench.log"
    bench_rc=${PIPESTATUS[0]}
    if [ "${SKIP_EAGER:-0}" != "1" ] && [ "$bench_rc" = 0 ]; then
        stamp "benchmark, eager decode (FATHOM_CUDA_STEP_GRAPHS=0; short prefill, no long one)"
        FATHOM_CUDA_EXACT_LINEAR=0 FATHOM_CUDA_STEP_GRAPHS=0 FATHOM_BENCH_ATTN_OPS=0 \
            "$BUILD/bin/bench_cuda" --model /tmp/fathom-flash-slice-$LAYERS \
            --layers "$LAYERS" --decode-steps "$DECODE_STEPS" --prefill 1024 --long 0 \
            2>&1 | tee "$LOGS/bench-eager.log"
    fi
    # Sessions 10-11's decode fusions A/B (graphed decode, short prefill): all six switched off
    # (state appends, attention tail, pre-norm GEMVs, MoE combine; session 11: the gate GEMV in
    # the routing launch, the indexer's scale and index rows in its launches), then the attention's split
    # merge forced into the attention launch (by default V4-Flash's 1.3 MB merge keeps its own
    # combine launch; docs/perf/cuda.md "Session 10").
    if [ "${SKIP_FUSION_AB:-0}" != "1" ] && [ "$bench_rc" = 0 ]; then
        stamp "benchmark, sessions 10-11 fusions off (FUSED_APPENDS, ATTN_FUSED_TAIL, GEMV_PRENORM, MOE_COMBINE_FUSED, GATE_ROUTE_FUSED, INDEXER_FUSED = 0)"
        FATHOM_CUDA_EXACT_LINEAR=0 FATHOM_BENCH_ATTN_OPS=0 FATHOM_CUDA_FUSED_APPENDS=0 \
            FATHOM_CUDA_ATTN_FUSED_TAIL=0 FATHOM_CUDA_GEMV_PRENORM=0 FATHOM_CUDA_MOE_COMBINE_FUSED=0 \
            FATHOM_CUDA_GATE_ROUTE_FUSED=0 FATHOM_CUDA_INDEXER_FUSED=0 \
            "$BUILD/bin/bench_cuda" --model /tmp/fathom-flash-slice-$LAYERS \
            --layers "$LAYERS" --decode-steps "$DECODE_STEPS" --prefill 1024 --long 0 \
            2>&1 | tee "$LOGS/bench-unfused.log"
        stamp "benchmark, attention merge forced into the attention launch (FATHOM_CUDA_ATTN_FUSED_TAIL=1)"
        FATHOM_CUDA_EXACT_LINEAR=0 FATHOM_BENCH_ATTN_OPS=0 FATHOM_CUDA_ATTN_FUSED_TAIL=1 \
            "$BUILD/bin/bench_cuda" --model /tmp/fathom-flash-slice-$LAYERS \
            --layers "$LAYERS" --decode-steps "$DECODE_STEPS" --prefill 1024 --long 0 \
            2>&1 | tee "$LOGS/bench-merge-fused.log"
    fi
    # The exact mode (bit-identical to the CPU engine): short prefill, no long one.
    if [ "${SKIP_EXACT:-0}" != "1" ] && [ "$bench_rc" = 0 ]; then
        stamp "benchmark, exact mode (FATHOM_CUDA_EXACT_LINEAR=1; prefill 1024, no long prefill)"
        FATHOM_CUDA_EXACT_LINEAR=1 FATHOM_BENCH_ATTN_OPS=0 "$BUILD/bin/bench_cuda" \
            --model /tmp/fathom-flash-slice-$LAYERS --layers "$LAYERS" --decode-steps 8 \
            --prefill 1024 --long 0 2>&1 | tee "$LOGS/bench-exact.log"
    fi
fi

# The peer of the issue: HuggingFace transformers' DeepSeek-V4 on the same slice in bf16.
# Optional: needs transformers with a DeepSeek-V4 model class on the machine.
if [ "${SKIP_PEER:-0}" != "1" ] && [ "${SKIP_BENCH:-0}" != "1" ]; then
    if python3 -c 'import transformers' 2>/dev/null; then
        stamp "peer: transformers"
        python3 "$ROOT/tests/bench/bench_cuda_peer.py" --model /tmp/fathom-flash-slice-$LAYERS \
            --prefill "$PREFILL" --decode-steps "$DECODE_STEPS" 2>&1 | tee "$LOGS/peer.log"
    else
        note "peer: skipped (python3 cannot import transformers)"
    fi
fi

stamp "done"
echo
echo "================ device checks $(date -u +%F) ================"
cat "$SUMMARY"
[ -s "$LOGS/gpu-checks.txt" ] && { echo "gpu checks:"; cat "$LOGS/gpu-checks.txt"; }
if [ -f "$LOGS/gpu-tests-full.log" ] && grep -q "^STEP:" "$LOGS/gpu-tests-full.log"; then
    echo "decode-step overhead (tiny models, eager vs step graph):"
    grep -h "^STEP:" "$LOGS/gpu-tests-full.log" | sed 's/^STEP: /  /'
fi
if [ -f "$LOGS/gpu-tests-full.log" ] && grep -q "^REPLAY:" "$LOGS/gpu-tests-full.log"; then
    # Host time of a replayed step (beginStep to the launch; issue 5: <= 15 us/layer).
    echo "decode-step replay (host time per replayed / recorded step):"
    grep -h "^REPLAY:" "$LOGS/gpu-tests-full.log" | sed 's/^REPLAY: /  /'
fi
if [ -f "$LOGS/gpu-tests-full.log" ] && grep -qi "cublaslt" "$LOGS/gpu-tests-full.log"; then
    echo "cuBLASLt FP8 block-scaled path (tst_cuda_ops; non-exact mode only):"
    grep -hiE "^(PASS|FAIL).*cublaslt|cuBLASLt FP8 GEMM:" "$LOGS/gpu-tests-full.log" | sed 's/^/  /'
fi
if [ -f "$LOGS/gpu-tests-full.log" ] && grep -q "mma" "$LOGS/gpu-tests-full.log"; then
    echo "tensor-core GEMM (linear_mma.cu; tst_cuda_ops; non-exact mode only):"
    grep -hE "^(PASS|FAIL|SKIP).*mma (m16n8k|linear|grouped)" "$LOGS/gpu-tests-full.log" | sed 's/^/  /'
fi
if [ -f "$LOGS/bench.log" ] && grep -q "^| mma " "$LOGS/bench.log"; then
    echo "tensor-core GEMMs at 8192 rows (bench_cuda; % of the FP8 cuBLASLt rate of the run):"
    grep -E "^\| (FP8 e4m3 GEMM|mma |cuBLASLt fp8 )" "$LOGS/bench.log"
fi
if [ -f "$LOGS/bench.log" ] && grep -q "PDL off / on" "$LOGS/bench.log"; then
    echo "programmatic dependent launch (bench_cuda decode steps, PDL off / on alternating):"
    grep -E "^\| (decode step, PDL|graph nodes per decode)" "$LOGS/bench.log"
fi
if [ -f "$LOGS/bench-eager.log" ]; then
    echo "bench_cuda decode with eager launches (FATHOM_CUDA_STEP_GRAPHS=0):"
    grep -E "^\| (decode step|weight bytes/step|per-layer overhead)" "$LOGS/bench-eager.log"
fi
for ab in unfused merge-fused; do
    if [ -f "$LOGS/bench-$ab.log" ]; then
        echo "bench_cuda decode, sessions 10-11 A/B: $ab (default run above):"
        grep -E "^\| (decode step|weight bytes/step|per-layer overhead|graph nodes per decode)" \
            "$LOGS/bench-$ab.log"
    fi
done
if [ -f "$LOGS/bench-exact.log" ]; then
    echo "bench_cuda in the exact mode (FATHOM_CUDA_EXACT_LINEAR=1; prefill 1024):"
    grep -iE "^\| .*(decode|prefill|GEMM|attention|indexer)" "$LOGS/bench-exact.log"
fi
# idx8: which lightning indexer the non-exact prefill ran (e4m3 m16n8k32 on sm_89+ with packed
# keys unless FATHOM_CUDA_INDEXER=bf16 / e4m3split) and both variants' op rows and checks.
if [ -f "$LOGS/bench.log" ] && grep -q "^| indexer " "$LOGS/bench.log"; then
    echo "lightning indexer (model prefill ran: ${FATHOM_CUDA_INDEXER:-e4m3, the default}; op rows: fast = bf16 kernel):"
    grep -E "^\| indexer " "$LOGS/bench.log"
fi
if [ -f "$LOGS/gpu-tests-full.log" ] && grep -q "indexer_scores e4m3" "$LOGS/gpu-tests-full.log"; then
    echo "e4m3 indexer checks (tst_cuda_ops; chained / split k-steps against the bound):"
    grep -hE "^(PASS|FAIL).*indexer_scores e4m3" "$LOGS/gpu-tests-full.log" | cut -c1-170 | sed 's/^/  /'
fi
grep -h "cuBLASLt FP8 GEMM:" "$LOGS/bench.log" 2>/dev/null | sort -u | sed 's/^/  /'
if [ -f "$LOGS/bench.log" ]; then
    echo "bench_cuda (rc $bench_rc):"
    sed -n '/^| measure/,$p' "$LOGS/bench.log"
fi
# pdl: the dense GEMV issues its weight prefetch (cp.async.bulk.prefetch.L2) before the
# grid-dependency wait (griddepcontrol.wait); show the order ptxas kept in one gemv_kernel's SASS.
gemv_obj=$(find "$BUILD" -name 'linear_gemv.cu.o' 2>/dev/null | head -1)
if [ -n "$gemv_obj" ] && command -v cuobjdump >/dev/null 2>&1; then
    echo "PDL prologue in SASS (first gemv_kernel: prefetch / wait / trigger, in order):"
    cuobjdump -sass "$gemv_obj" 2>/dev/null | awk '/Function : .*gemv_kernel/ {f++} f == 1' \
        | grep -E "ACQBULK|UBLKPF|BLKPF|PREFETCH|CCTL|griddep|PREEXIT" | head -6 | sed 's/^/  /'
fi
[ -f "$LOGS/peer.log" ] && { echo "peer:"; grep -E "^\|" "$LOGS/peer.log"; }
[ "$ctest_rc" = 0 ] && [ "$bench_rc" = 0 ]
