#!/usr/bin/env bash
# Copyright (C) 2026 Fathom contributors
# SPDX-License-Identifier: MIT
#
# The device checks of issue 5 in one device call, for the lent H200 machine (CUDA 13, CMake,
# ninja, no Qt, no network): the GPU tests (per-op CUDA vs CPU twins; the whole model vs the
# golden data - prefill, chunked prefill, decode, MTP - in the exact and the non-exact mode; the
# state layout), the benchmark (bench_cuda: ceilings, decode bandwidth and per-layer overhead,
# 8K prefill split and GEMM rate, 128K prefill memory), the HuggingFace transformers peer, then
# short A/B runs (sessions 10-11's decode fusions off, eager decode, the exact mode, the
# attention merge forced), and a short table last.
#
# Two steps:
#   here (the dev machine):   tests/gpu/run-device-checks.sh --prepare
#       fills tests/gpu/.carry (git-ignored) with what the device machine lacks: the golden data
#       (../shared/testdata/v4, ~11 MB), the nlohmann/json headers, and the GPU binaries built
#       here (Release, sm_90a, stripped; build-gpu-carry) with their SASS summary, so the lease
#       pays no build. SKIP_PREBUILD=1 leaves the binaries out.
#   there (device tool):      run(command="tests/gpu/run-device-checks.sh",
#                                 carry=["tests/gpu/.carry"], timeout_s=540)
#       runs the carried binaries when their libraries resolve there (cuBLASLt from the toolkit
#       or PyTorch's wheel), else configures and builds in BUILD_DIR (default build-gpu);
#       FORCE_BUILD=1 always builds.
#
# Knobs (environment): DEADLINE (seconds for the whole run, default 480: every stage runs under
# `timeout` with what is left, so the table and the logs always come back), LAYERS (flash-slice
# main layers, default 2: writing the random slice took 86 s in run 2, session 13's writer ~5-8 s
# predicted; bench_cuda prints "written in"), REPEAT (the many-layer run's main layers: the
# written ones repeated, default "fit"), LONG (long prefill tokens, default 131072; 0 skips),
# PREFILL (default 8192), DECODE_STEPS (default 32), JOBS (default nproc), SKIP_TESTS=1,
# SKIP_BENCH=1, SKIP_FULL=1 (no many-layer run), SKIP_PEER=1, SKIP_EAGER=1, SKIP_EXACT=1,
# SKIP_NCU=1 (the per-kernel ncu table of a decode step).
# The table goes to $OUT/summary.txt and every log to $OUT/device-logs.tgz (the device tool
# brings back at most 8 files); without $OUT they stay in WORK_DIR (/tmp/fathom-device-checks).
#
# Decode-step graphs (CudaExecutor::beginStep, on by default): tst_cuda_model checks graphed
# decode against eager launches bit for bit and prints STEP lines (median step time of a tiny
# model both ways: the per-step overhead, the arithmetic being negligible) and REPLAY lines (the
# host time of a replayed step: its step script - no forward walk - and the upload).
# Modes: the main bench_cuda run is the non-exact mode (FATHOM_CUDA_EXACT_LINEAR=0, the mode of
# the performance goals): FP8 GEMMs through cuBLASLt (falling back to the tensor-core GEMM),
# FP4 experts on the tensor-core grouped GEMM, the tensor-core indexer and sparse attention; it
# also prints the GEMM and indexer/attention op tables.
set -u -o pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CARRY="$ROOT/tests/gpu/.carry"

PREBUILT_DIR="${PREBUILT_DIR:-$ROOT/build-gpu-carry}"

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
    # The GPU binaries built here (nvcc sm_90a, Release, no app), stripped: the device machine
    # runs them when their libraries resolve there and builds its own otherwise. Building here
    # saves the device lease the build's minutes. The golden data's path is given at run time
    # (FATHOM_TESTDATA_DIR in the environment overrides the compiled-in one).
    rm -rf "$CARRY/bin" "$CARRY/obj"
    if [ "${SKIP_PREBUILD:-0}" != "1" ]; then
        cmake -S "$ROOT" -B "$PREBUILT_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
            -DFATHOM_BUILD_APP=OFF -DFATHOM_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a \
            -DFATHOM_TESTDATA_DIR="$src" -DFATHOM_REQUIRE_TESTDATA=ON >/dev/null
        ninja -C "$PREBUILT_DIR" -j"${JOBS:-$(nproc)}" tst_cuda_ops tst_cuda_model tst_kvlayout bench_cuda
        mkdir -p "$CARRY/bin"
        for b in tst_cuda_ops tst_cuda_model tst_kvlayout bench_cuda; do
            strip -o "$CARRY/bin/$b" "$PREBUILT_DIR/bin/$b"
        done
        git -C "$ROOT" rev-parse HEAD >"$CARRY/bin/REVISION"
        git -C "$ROOT" status --short >>"$CARRY/bin/REVISION"
        # The objects whose SASS the device run reads (this machine has no cuobjdump).
        mkdir -p "$CARRY/obj"
        for n in linear_wgmma linear_mma sparse_attn_mma indexer_scores_mma linear_gemv; do
            cp "$(find "$PREBUILT_DIR" -name "$n.cu.o" | head -1)" "$CARRY/obj/"
        done
    fi
    du -sh "$CARRY"
    echo "ready: run this script on the device machine with carry [\"tests/gpu/.carry\"]"
    exit 0
fi

# Everything below runs on the device machine, inside one device call: DEADLINE seconds in all
# (default 480; the call's own limit is 600, and the lease's 900 s must also pay the machine's
# start, ~30 s, so 480 leaves room for a second, shorter call after a fix), each stage under
# `timeout` with what is left, so
# the script always reaches its table and the log archive even when a stage hangs.
BUILD="${BUILD_DIR:-$ROOT/build-gpu}"
WORK="${WORK_DIR:-/tmp/fathom-device-checks}"
LOGS="$WORK/logs"
rm -rf "$LOGS"
mkdir -p "$LOGS"
JOBS="${JOBS:-$(nproc)}"
LAYERS="${LAYERS:-2}"
LONG="${LONG:-131072}"
PREFILL="${PREFILL:-8192}"
DECODE_STEPS="${DECODE_STEPS:-32}"
DEADLINE="${DEADLINE:-480}"
SUMMARY="$LOGS/summary.txt"
: >"$SUMMARY"
note() { echo "$*" | tee -a "$SUMMARY"; }
t0=$(date +%s)
stamp() { echo "[$(($(date +%s) - t0)) s] $*" | tee -a "$LOGS/stages.txt"; }
left() { echo $((DEADLINE - ($(date +%s) - t0))); }
# The logs travel back as one archive ($OUT brings back at most 8 files); made on every exit.
finish() {
    if [ -n "${OUT:-}" ]; then
        cp "$SUMMARY" "$OUT/summary.txt" 2>/dev/null
        tar -C "$WORK" -czf "$OUT/device-logs.tgz" logs 2>/dev/null
    fi
}
trap finish EXIT
# stage NAME MAX_SECONDS CMD...: runs CMD under timeout min(MAX, what is left - 15 s), output to
# $LOGS/NAME.log and the console; skipped when under 30 s are left. Returns CMD's status.
stage() {
    local name="$1" max="$2"
    shift 2
    local budget=$(($(left) - 15))
    [ "$budget" -gt "$max" ] && budget=$max
    if [ "$budget" -lt 30 ]; then
        note "$name: SKIPPED (deadline: $(left) s left)"
        return 125
    fi
    stamp "$name (timeout $budget s)"
    timeout -k 5 "$budget" "$@" 2>&1 | tee "$LOGS/$name.log"
    local rc=${PIPESTATUS[0]}
    [ "$rc" = 124 ] || [ "$rc" = 137 ] && note "$name: TIMED OUT after $budget s"
    return "$rc"
}

stamp "device and toolchain"
{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.mem --format=csv 2>&1
    nvcc --version 2>&1 | tail -2
    cmake --version | head -1
    ninja --version
    nproc
    free -g | head -2
    df -h /tmp | tail -1
} 2>&1 | tee "$LOGS/env.txt"

TESTDATA="$CARRY/testdata"
[ -d "$TESTDATA/v4" ] || TESTDATA="$ROOT/../shared/testdata"
export FATHOM_TESTDATA_DIR="$TESTDATA"
JSON_ARGS=()
[ -f "$CARRY/include/nlohmann/json.hpp" ] && JSON_ARGS=(-DFATHOM_NLOHMANN_JSON_INCLUDE="$CARRY/include")

# cuBLASLt for binaries built elsewhere: the toolkit's library folders, then PyTorch's wheel.
for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib \
        $(python3 -c 'import nvidia.cublas as m; print(list(m.__path__)[0] + "/lib")' 2>/dev/null); do
    [ -e "$d/libcublasLt.so.13" ] && export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" && break
done

# SASS of the tensor-core kernels (objects under $1): the wgmma GEMM must show QGMMA (Hopper's
# FP8 warpgroup MMA; HMMA/QMMA alone is the slower mma.sync path) and no local-memory traffic
# (LDL/STL: spills; linear_gemv's exact GEMVs keep small local arrays); the GEMVs' tensor-core
# form (gemvtc) QMMA / HMMA; and the dense GEMV's PDL prologue (prefetch before the grid-dependency wait).
sass_summary() {
    local CUOBJDUMP o t
    CUOBJDUMP="$(command -v cuobjdump || echo "${CUDA_HOME:-/usr/local/cuda}/bin/cuobjdump")"
    [ -x "$CUOBJDUMP" ] || { note "sass: cuobjdump not found"; return; }
    for o in $(find "$1" -name 'linear_wgmma.cu.o' -o -name 'linear_mma.cu.o' \
            -o -name 'sparse_attn_mma.cu.o' -o -name 'indexer_scores_mma.cu.o' \
            -o -name 'linear_gemv.cu.o' | sort); do
        t="$LOGS/sass-$(basename "$o" .cu.o).txt"
        "$CUOBJDUMP" -sass "$o" >"$t" 2>&1
        note "sass $(basename "$o"): QGMMA $(grep -c QGMMA "$t") HGMMA $(grep -c HGMMA "$t")" \
            "QMMA/HMMA $(grep -cE '[^G](QMMA|HMMA)' "$t") LDL $(grep -c 'LDL' "$t") STL $(grep -c 'STL' "$t")"
    done
    o=$(find "$1" -name 'linear_gemv.cu.o' | head -1)
    [ -n "$o" ] || return
    note "PDL prologue in SASS (first gemv_kernel: prefetch / wait / trigger, in order):"
    "$CUOBJDUMP" -sass "$o" 2>/dev/null | awk '/Function : .*gemv_kernel/ {f++} f == 1' \
        | grep -E "ACQBULK|UBLKPF|BLKPF|PREFETCH|CCTL|griddep|PREEXIT" | head -6 | sed 's/^/  /' \
        | tee -a "$SUMMARY"
}

BIN=""
if [ -x "$CARRY/bin/tst_cuda_ops" ] && [ "${FORCE_BUILD:-0}" != "1" ]; then
    missing=$(for b in "$CARRY"/bin/tst_* "$CARRY/bin/bench_cuda"; do ldd "$b"; done 2>&1 | grep -c "not found")
    if [ "$missing" = 0 ]; then
        BIN="$CARRY/bin"
        note "binaries: carried, built at $(head -1 "$CARRY/bin/REVISION") (LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-})"
        sass_summary "$CARRY/obj"
    else
        ldd "$CARRY/bin/bench_cuda" 2>&1 | grep "not found" | tee -a "$LOGS/env.txt"
        note "binaries: carried ones miss $missing libraries here; building"
    fi
fi

if [ -z "$BIN" ]; then
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
    if ! stage build 300 ninja -C "$BUILD" -j"$JOBS" tst_cuda_ops tst_cuda_model tst_kvlayout bench_cuda \
            >/dev/null; then
        grep -E "error|FAILED" "$LOGS/build.log" | head -40
        note "build: FAILED (see build.log)"
        exit 1
    fi
    BIN="$BUILD/bin"
    note "build: ok (built here)"
    sass_summary "$BUILD"
fi

# ---- GPU tests (the binaries directly: the same checks ctest -L gpu runs) -------------------
test_rc=0
if [ "${SKIP_TESTS:-0}" != "1" ]; then
    # tst_cuda_model runs in the exact mode by default (bit for bit against the CPU engine);
    # the -fast run is the non-exact mode (the golden data's tolerances), the benchmark's mode.
    for t in "tst_cuda_ops 90" "tst_cuda_model 100" "tst_cuda_model-fast 80" "tst_kvlayout 30"; do
        set -- $t
        if [ "$1" = tst_cuda_model-fast ]; then
            stage "$1" "$2" env FATHOM_CUDA_EXACT_LINEAR=0 "$BIN/tst_cuda_model"
        else
            stage "$1" "$2" "$BIN/$1"
        fi
        rc=$?
        note "test $1: rc $rc ($([ $rc = 0 ] && echo passed || echo FAILED)); PASS $(grep -c '^PASS' "$LOGS/$1.log") FAIL $(grep -c '^FAIL' "$LOGS/$1.log") SKIP $(grep -c '^SKIP' "$LOGS/$1.log")"
        [ "$rc" = 0 ] || test_rc=1
        grep -h '^FAIL' "$LOGS/$1.log" | cut -c1-200 | head -20 | sed 's/^/  /' >>"$SUMMARY"
    done
    # When the non-exact model run misses the CPU executor, the same run with the wgmma GEMM
    # off (mma.sync) and with the bf16 indexer instead of e4m3 says which numerics moved it.
    if grep -q '^FAIL' "$LOGS/tst_cuda_model-fast.log" 2>/dev/null; then
        for v in "mma FATHOM_LINEAR_MMA_KERNEL=mma" "idxbf16 FATHOM_CUDA_INDEXER=bf16" "fold0 FATHOM_CUDA_FP4_FOLD=0" "gemvtc0 FATHOM_CUDA_GEMV_TC=0"; do
            set -- $v
            stage "tst_cuda_model-fast-$1" 40 env FATHOM_CUDA_EXACT_LINEAR=0 "$2" "$BIN/tst_cuda_model" >/dev/null
            note "diagnostic tst_cuda_model-fast with $2:"
            grep -hE "GPU vs CPU executor" "$LOGS/tst_cuda_model-fast-$1.log" | cut -c1-160 | sed 's/^/  /' >>"$SUMMARY"
        done
    fi
fi

# ---- benchmarks -----------------------------------------------------------------------------
# The main run is the non-exact mode (the one the performance goals are about): FP8 GEMMs through
# cuBLASLt / the tensor-core kernel, FP4 experts on tensor cores, the tensor-core indexer and
# attention. The exact kernels (fp64 dots) would need hours for the long prefill's indexer, so
# the exact mode gets a short run further down.
# The slice is cut from V4-Flash's layer FROM (default 3: HCA, CSA, HCA, ...; layers 0-1 are
# sliding-window only and 0-2 hash-routed, so a slice from 0 would time neither compressor nor
# indexer). Written to /dev/shm when it has room (the random weights are written once per
# machine; a disk write cost the first run 100 s), else /tmp.
FROM="${FROM:-3}"
SHM_FREE=$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 {print $4}')
MODEL_ROOT=/tmp
[ -n "$SHM_FREE" ] && [ "$SHM_FREE" -gt $((LAYERS * 5 * 1024 * 1024 + 8 * 1024 * 1024)) ] && MODEL_ROOT=/dev/shm
MODEL="$MODEL_ROOT/fathom-flash-slice-$LAYERS-from$FROM"
BENCH=(--model "$MODEL" --layers "$LAYERS" --from "$FROM" --decode-steps "$DECODE_STEPS")
# The A/B runs: decode only (no prefill, no op tables); the exact run adds a short prefill.
SHORT=(--prefill 0 --long 0)
export FATHOM_BENCH_ATTN_OPS="${FATHOM_BENCH_ATTN_OPS:-0}" FATHOM_BENCH_GEMMS="${FATHOM_BENCH_GEMMS:-0}"
bench_rc=0
if [ "${SKIP_BENCH:-0}" != "1" ]; then
    # The issue's slice has "as many layers as fit": bench_cuda --repeat fit repeats the written
    # layers (each a distinct device copy; V4-Flash's HCA / CSA alternation from layer 3) up to
    # the free memory less 20 GiB, at most V4-Flash's 40 layers from layer 3. Its decode and 8K
    # prefill rows are the goals' figures (session 15); the 2-layer run below keeps the 128K
    # prefill, the op tables and the peer's slice (the peer's bf16 experts fit 2 layers).
    if [ "${SKIP_FULL:-0}" != "1" ]; then
        stage bench-full 150 env FATHOM_CUDA_EXACT_LINEAR=0 FATHOM_BENCH_GEMVS=0 \
            "$BIN/bench_cuda" "${BENCH[@]}" --repeat "${REPEAT:-fit}" --prefill "$PREFILL" --long 0
        [ $? = 0 ] || bench_rc=1
    fi
    stage bench 220 env FATHOM_CUDA_EXACT_LINEAR=0 "$BIN/bench_cuda" "${BENCH[@]}" \
        --prefill "$PREFILL" --long "$LONG"
    [ $? = 0 ] || bench_rc=1
    # The peer of the issue: HuggingFace transformers' DeepSeek-V4 on the same slice in bf16.
    if [ "${SKIP_PEER:-0}" != "1" ] && [ -f "$MODEL/config.json" ]; then
        if python3 -c 'import transformers' 2>/dev/null; then
            PYTHONUNBUFFERED=1 stage peer 90 python3 "$ROOT/tests/bench/bench_cuda_peer.py" \
                --model "$MODEL" --prefill "$PREFILL" --decode-steps "$DECODE_STEPS"
        else
            note "peer: skipped (python3 cannot import transformers)"
        fi
    fi
    # Per kernel of a decode step (ncu, hardware counters: time and DRAM bytes; two eager steps
    # between cudaProfilerStart/Stop, FATHOM_BENCH_NCU=1), summed by tests/gpu/ncu_summary.py.
    NCU="$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu /usr/local/cuda/bin/ncu 2>/dev/null | head -1)"
    if [ -n "$NCU" ] && [ -f "$MODEL/config.json" ] && [ "${SKIP_NCU:-0}" != "1" ]; then
        stage ncu-decode 90 env FATHOM_CUDA_EXACT_LINEAR=0 FATHOM_CUDA_STEP_GRAPHS=0 FATHOM_BENCH_NCU=1 \
            "$NCU" --clock-control none --profile-from-start off --page raw --csv \
            --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum,launch__grid_size,launch__block_size,launch__registers_per_thread \
            --log-file "$LOGS/ncu-decode.csv" "$BIN/bench_cuda" "${BENCH[@]}" --prefill 0 --long 0 >/dev/null
        BW=$(grep -m1 "device copy bandwidth" "$LOGS/bench.log" | grep -oE "[0-9]+ GB/s" | head -1 | cut -d' ' -f1)
        python3 "$ROOT/tests/gpu/ncu_summary.py" "$LOGS/ncu-decode.csv" --steps 2 --bw "${BW:-0}" \
            >"$LOGS/ncu-decode.txt" 2>&1
    fi
    if [ -f "$MODEL/config.json" ]; then
        # Session 14's tensor-core decode GEMVs off (docs/perf/cuda.md "Session 14: the decode
        # GEMVs on the tensor cores"): the exact block sums / fp64 GEMVs of run 2 (decode only).
        stage bench-gemvtc0 40 env FATHOM_CUDA_EXACT_LINEAR=0 FATHOM_CUDA_GEMV_TC=0 \
            "$BIN/bench_cuda" "${BENCH[@]}" "${SHORT[@]}"
        # Session 12's decode changes A/B (decode only): the GEMVs' cp.async weight ring and the
        # mHC latency cut off (docs/perf/cuda.md "Session 12" sections; both keep the bits).
        # Since session 18 this also takes the MoE chain's gate apart (a tensor-core chain's gate
        # is the pipelined GEMV), and since session 19 with it the mHC post + pre before the MoE
        # (the MoE chain takes that phase only with its gate): two launches more a layer in this
        # stage. Since session 20 FATHOM_CUDA_MHC_FAST=0 also keeps the mHC post + pre out of
        # the attention's x -> cq chain (the chains' mHC phase has the fast code only; the
        # switch now means the old code everywhere): three launches more a layer in all, ~9 us
        # a layer to allow (tiny models, B=1, this stage's switches: 41 nodes, the default 30).
        stage bench-s12off 40 env FATHOM_CUDA_EXACT_LINEAR=0 FATHOM_CUDA_GEMV_PIPELINE=0 \
            FATHOM_CUDA_MHC_FAST=0 "$BIN/bench_cuda" "${BENCH[@]}" "${SHORT[@]}"
        # Session 17's cooperative GEMV chains off (the attention's projections of x and cq, wo_a
        # and wo_b, as two launches each again), on the slice with as many layers as fit (decode
        # only; bench-full's decode rows are the other side). A grid barrier's cost against a
        # launch boundary's (docs/perf/cuda.md "Session 17: cooperative GEMV chains").
        stage bench-chains0 100 env FATHOM_CUDA_EXACT_LINEAR=0 FATHOM_BENCH_GEMVS=0 \
            FATHOM_CUDA_GEMV_CHAINS=0 "$BIN/bench_cuda" "${BENCH[@]}" --repeat "${REPEAT:-fit}" \
            "${SHORT[@]}"
        # Session 18's MoE chain off alone (the gate + routing, w1/w3 and w2 as three launches
        # again; the GEMV chains stay on): what its 2 boundaries a layer cost against a barrier
        # (docs/perf/cuda.md "Session 18: the decode MoE as one chain"). bench-chains0 has both off.
        stage bench-moechain0 100 env FATHOM_CUDA_EXACT_LINEAR=0 FATHOM_BENCH_GEMVS=0 \
            FATHOM_CUDA_MOE_CHAIN=0 "$BIN/bench_cuda" "${BENCH[@]}" --repeat "${REPEAT:-fit}" \
            "${SHORT[@]}"
        # Session 19's mHC phase in the chains off alone (the mHC post + pre between sublayers
        # as its own launch again, 2 a layer): a grid barrier after a latency-bound phase against
        # a launch boundary (docs/perf/cuda.md "Session 19: the mHC launches into the chains").
        stage bench-mhcchain0 100 env FATHOM_CUDA_EXACT_LINEAR=0 FATHOM_BENCH_GEMVS=0 \
            FATHOM_CUDA_MHC_CHAIN=0 "$BIN/bench_cuda" "${BENCH[@]}" --repeat "${REPEAT:-fit}" \
            "${SHORT[@]}"
        # Session 16's decode changes off together, on the slice with as many layers as fit
        # (decode only; bench-full's decode rows are the other side): the indexer's scores and
        # top-k as two launches (idxtopk), the queries' and indexer queries' row chains a launch
        # each (rowchains), no wo_a / wo_b L2 prefetch in that launch (l2ahead), no MoE weight
        # prefetches before the wait (moeprefetch). One switch at a time: run this stage's
        # command with only that variable.
        stage bench-s16off 100 env FATHOM_CUDA_EXACT_LINEAR=0 FATHOM_BENCH_GEMVS=0 \
            FATHOM_CUDA_IDX_TOPK_FUSED=0 FATHOM_CUDA_ROW_CHAINS_FUSED=0 FATHOM_CUDA_L2_AHEAD_MB=0 \
            FATHOM_CUDA_MOE_PREFETCH=0 "$BIN/bench_cuda" "${BENCH[@]}" --repeat "${REPEAT:-fit}" \
            "${SHORT[@]}"
        # The FP4 expert GEMMs without the per-128 scale folding (docs/perf/cuda.md "Session 12:
        # FP4 folding on mma.sync"): the 8K prefill's A/B.
        [ "${SKIP_FOLD0:-0}" != "1" ] && stage bench-fold0 40 env FATHOM_CUDA_EXACT_LINEAR=0 \
            FATHOM_CUDA_FP4_FOLD=0 "$BIN/bench_cuda" "${BENCH[@]}" --prefill "$PREFILL" --long 0
        # The dense (bf16) prefill GEMMs on the tiled fp32 kernel instead of cuBLASLt's bf16
        # tensor cores (session 13; run 2 had the double accumulation: 500 ms of GEMMs).
        stage bench-denselt0 40 env FATHOM_CUDA_EXACT_LINEAR=0 FATHOM_CUDA_DENSE_LT=0 \
            "$BIN/bench_cuda" "${BENCH[@]}" --prefill "$PREFILL" --long 0
        # The prefill's FP4 experts on the grouped mma.sync kernel instead of the FP4 -> e4m3
        # conversion + cuBLASLt (session 13 "ltexperts"): the 8K prefill's A/B.
        stage bench-expertslt0 40 env FATHOM_CUDA_EXACT_LINEAR=0 FATHOM_CUDA_EXPERTS_LT=0 \
            "$BIN/bench_cuda" "${BENCH[@]}" --prefill "$PREFILL" --long 0
        # The cuBLASLt expert GEMMs of a chunk one after another on the executor's stream
        # instead of on 4 side streams (session 15 "ltstreams"): the 8K prefill's A/B.
        stage bench-experts1 40 env FATHOM_CUDA_EXACT_LINEAR=0 FATHOM_CUDA_EXPERT_STREAMS=1 \
            "$BIN/bench_cuda" "${BENCH[@]}" --prefill "$PREFILL" --long 0
        # The prefill's "other" ops as before session 15 ("prefillother"): the compressor's
        # windows one launch + upload each, the mHC dots on the (rows + 1, tokens) grid.
        stage bench-other0 40 env FATHOM_CUDA_EXACT_LINEAR=0 FATHOM_CUDA_POOL_RUNS=0 \
            FATHOM_CUDA_MHC_TILE=0 "$BIN/bench_cuda" "${BENCH[@]}" --prefill "$PREFILL" --long 0
        # Sessions 10-11's decode fusions A/B (graphed decode): all six switched off (state
        # appends, attention tail, pre-norm GEMVs, MoE combine, the gate GEMV in the routing
        # launch, the indexer's scale and index rows in its launches).
        stage bench-unfused 40 env FATHOM_CUDA_EXACT_LINEAR=0 \
            FATHOM_CUDA_FUSED_APPENDS=0 FATHOM_CUDA_ATTN_FUSED_TAIL=0 FATHOM_CUDA_GEMV_PRENORM=0 \
            FATHOM_CUDA_MOE_COMBINE_FUSED=0 FATHOM_CUDA_GATE_ROUTE_FUSED=0 FATHOM_CUDA_INDEXER_FUSED=0 \
            "$BIN/bench_cuda" "${BENCH[@]}" "${SHORT[@]}"
    fi
    if [ -f "$MODEL/config.json" ]; then
        # Eager decode (no step graphs): the per-step launch overhead the graphs remove.
        [ "${SKIP_EAGER:-0}" != "1" ] && stage bench-eager 40 env FATHOM_CUDA_EXACT_LINEAR=0 \
            FATHOM_CUDA_STEP_GRAPHS=0 "$BIN/bench_cuda" "${BENCH[@]}" "${SHORT[@]}"
        # The exact mode (bit-identical to the CPU engine): short prefill, no long one.
        [ "${SKIP_EXACT:-0}" != "1" ] && stage bench-exact 50 env FATHOM_CUDA_EXACT_LINEAR=1 \
            "$BIN/bench_cuda" --model "$MODEL" --layers "$LAYERS" --from "$FROM" --decode-steps 8 \
            --prefill 1024 --long 0
        # The attention's split merge forced into the attention launch (2026-11-30: 2.133 vs
        # 2.007 ms, the default stays; docs/perf/cuda.md "Session 10"), if time is left.
        stage bench-merge-fused 40 env FATHOM_CUDA_EXACT_LINEAR=0 FATHOM_CUDA_ATTN_FUSED_TAIL=1 \
            "$BIN/bench_cuda" "${BENCH[@]}" "${SHORT[@]}"
    fi
fi
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv >>"$LOGS/env.txt" 2>&1

stamp "done"
{
    echo
    echo "================ device checks $(date -u +%F) ================"
    cat "$SUMMARY"
    # coopemu: a grid barrier's cost (the chains' phase boundary) at 132 and 264 blocks.
    grep -h "^GRIDBARRIER" "$LOGS/tst_cuda_ops.log" 2>/dev/null
    G="$LOGS/tst_cuda_model.log"
    [ -f "$G" ] && grep -q "^STEP:" "$G" && {
        echo "decode-step overhead (tiny models, eager vs step graph):"
        grep -h "^STEP:" "$G" | cut -c1-220 | sed 's/^STEP: /  /'
    }
    [ -f "$G" ] && grep -q "^REPLAY:" "$G" && {
        echo "decode-step replay (host time per replayed / recorded step):"
        grep -h "^REPLAY:" "$G" | cut -c1-220 | sed 's/^REPLAY: /  /'
    }
    for ab in gemvtc0 s12off chains0 moechain0 mhcchain0 s16off fold0 denselt0 unfused eager exact merge-fused; do
        L="$LOGS/bench-$ab.log"
        [ -f "$L" ] || continue
        echo "bench_cuda decode, $ab:"
        grep -E "^\| (decode step|weight bytes/step|per-layer overhead|graph nodes per decode|prefill tokens|  time in gemm|GEMM rate|  op (normLinearGroup|moeOnDevice|mhc))" "$L"
    done
    L="$LOGS/bench-expertslt0.log" # ltexperts: FATHOM_CUDA_EXPERTS_LT=0 (prefill A/B)
    [ -f "$L" ] && {
        echo "bench_cuda prefill, expertslt0 (FP4 experts on mma.sync, no cuBLASLt):"
        grep -E "^\| (prefill tokens|prefill last-row logits|  time in gemm|GEMM rate)" "$L"
    }
    L="$LOGS/bench-experts1.log" # ltstreams: FATHOM_CUDA_EXPERT_STREAMS=1 (prefill A/B)
    [ -f "$L" ] && {
        echo "bench_cuda prefill, experts1 (cuBLASLt expert GEMMs on one stream, not 4):"
        grep -E "^\| (prefill tokens|prefill last-row logits|  time in gemm|GEMM rate)" "$L"
    }
    L="$LOGS/bench-other0.log" # prefillother: FATHOM_CUDA_POOL_RUNS=0 FATHOM_CUDA_MHC_TILE=0
    [ -f "$L" ] && {
        echo "bench_cuda prefill, other0 (compressor windows a launch each, mHC dots untiled):"
        grep -E "^\| (prefill tokens|prefill last-row logits|  time in|  host|  op |GEMM rate)" "$L"
    }
    [ -f "$LOGS/peer.log" ] && { echo "peer:"; grep -E "^\|" "$LOGS/peer.log"; }
    [ -f "$LOGS/ncu-decode.txt" ] && { echo "decode step per kernel (ncu; then streaming vs latency-bound):"; head -60 "$LOGS/ncu-decode.txt"; }
    # A bench log's closing table, or its rows so far when the stage timed out.
    bench_table() {
        [ -f "$1" ] || return 0
        echo "$2"
        if grep -q "^| measure" "$1"; then
            sed -n '/^| measure/,$p' "$1"
        else
            grep -E "^  [A-Za-z]" "$1" | tail -40
        fi
    }
    bench_table "$LOGS/bench-full.log" \
        "bench_cuda, the slice with as many layers as fit (--repeat fit; the goals' decode and prefill):"
    bench_table "$LOGS/bench.log" "bench_cuda, $LAYERS written layers (rc $bench_rc):"
    echo "stages:"
    sed 's/^/  /' "$LOGS/stages.txt"
} | tee "$LOGS/table.txt"
cp "$LOGS/table.txt" "$SUMMARY"
[ "$test_rc" = 0 ] && [ "$bench_rc" = 0 ]
