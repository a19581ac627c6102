// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// CUDA engine benchmark (issue 5) on a V4-Flash-shaped slice with random weights
// (engine/model/modelwriter.h, preset flash-slice: the real layer dimensions and formats, FP8
// attention, 256 FP4 experts of width 2048, the real vocabulary, --layers N main layers + MTP).
//
//   bench_cuda [--model DIR] [--layers N] [--from L] [--decode-steps N] [--prefill N] [--long N]
//              [--chunk N]   (--from: V4-Flash's layer the slice starts at, default 3: HCA, CSA, ...)
//              [--ops-only 1]   (ceilings and the indexer / attention op table only)
//              [--repeat N|fit] (the written layers repeated to N main layers, or to as many
//                               as fit on the device: ModelWeights::loadRepeated)
//
// Measures in the same run, on the same device:
//  - ceilings: device-to-device copy bandwidth (bytes read + written / time) and the FP8 e4m3
//    tensor-core rate of an 8192^3 cuBLASLt GEMM on random data;
//  - batch-1 decode: weight bytes read per step (every projection the step touches, the 6 routed
//    experts + shared per layer, head) / step time, against the copy bandwidth (goal >= 70 %),
//    and the time per layer beyond that bandwidth floor (goal <= 15 us);
//  - prefill of --prefill tokens (8192): tokens/s and the split between GEMMs, attention and
//    the indexer (device events per op), GEMM rate against the FP8 rate (goal >= 40 %);
//  - the slice has "as many layers as fit": --repeat fit repeats the written layers
//    (layer l = written layer l mod L; from layer 3 the HCA / CSA alternation of V4-Flash's
//    layers 3..42 is kept) up to what the device holds with kFitReserve left for activations,
//    at most V4-Flash's layers from --from; each layer is a distinct device copy, so every
//    byte of a step is read from HBM (a layer's ~270 MB of decode reads dwarf the 50 MB L2);
//  - a --long token prefill (131072) in --chunk pieces: completes, and the sequence state's
//    device memory (bf16 rows, history 0 as the scheduler's, compressed caches reserved for the
//    prompt) against spec §5.2's bf16 and packed layouts for these layers (kvlayout.h).
// Prints a table last. Figures go to docs/perf/cuda.md.

#include "engine/api/gpudevices.h"
#include "engine/cuda/cublaslt_linear.h"
#include "engine/cuda/cudaexecutor.h"
#include "engine/cuda/kvlayout.h"
#include "engine/model/modelweights.h"
#include "engine/model/modelwriter.h"
#include "engine/runtime/forward.h"
#include "engine/runtime/v4model.h"
#include "kernels/cuda_ops.h" // attn: indexer / attention op timings
#include "kernels/fp4_fold_e4m3.h"
#include "kernels/linear_fp8_cublaslt.h"

#include <cublasLt.h>
#include <cuda_profiler_api.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

using namespace fathom::engine;

namespace {

struct Row
{
    std::string what, value, goal;
};
std::vector<Row> g_rows;

void row(const std::string &what, const std::string &value, const std::string &goal = "")
{
    g_rows.push_back({what, value, goal});
    std::printf("  %-44s %s %s\n", what.c_str(), value.c_str(), goal.c_str());
    std::fflush(stdout);
}

std::string fmt(const char *f, double v)
{
    char b[64];
    std::snprintf(b, sizeof b, f, v);
    return b;
}

#define CK(x) \
    do { \
        cudaError_t e_ = (x); \
        if (e_ != cudaSuccess) { \
            std::printf("CUDA error %s at %s:%d\n", cudaGetErrorString(e_), __FILE__, __LINE__); \
            return -1; \
        } \
    } while (0)

// Device-to-device copy of 2 GiB, median of 10 after 3 warm-ups; bytes read + written.
double copyBandwidth()
{
    const size_t n = size_t(2) << 30;
    void *a = nullptr, *b = nullptr;
    CK(cudaMalloc(&a, n));
    CK(cudaMalloc(&b, n));
    CK(cudaMemset(a, 0x5A, n));
    cudaEvent_t s, e;
    cudaEventCreate(&s);
    cudaEventCreate(&e);
    std::vector<float> t;
    for (int i = 0; i < 13; ++i) {
        cudaEventRecord(s);
        cudaMemcpyAsync(i % 2 ? a : b, i % 2 ? b : a, n, cudaMemcpyDeviceToDevice);
        cudaEventRecord(e);
        cudaEventSynchronize(e);
        float ms = 0;
        cudaEventElapsedTime(&ms, s, e);
        if (i >= 3)
            t.push_back(ms);
    }
    std::sort(t.begin(), t.end());
    cudaFree(a);
    cudaFree(b);
    return 2.0 * n / (t[t.size() / 2] * 1e-3);
}

// FP8 e4m3 x e4m3 -> bf16 GEMM through cuBLASLt (TN, fp32 accumulation), 8192^3 random data.
double fp8Rate()
{
    const int M = 8192, N = 8192, K = 8192;
    void *A = nullptr, *B = nullptr, *C = nullptr, *ws = nullptr;
    const size_t wsBytes = 64u << 20;
    CK(cudaMalloc(&A, size_t(M) * K));
    CK(cudaMalloc(&B, size_t(N) * K));
    CK(cudaMalloc(&C, size_t(M) * N * 2));
    CK(cudaMalloc(&ws, wsBytes));
    {
        // Random bytes with the exponent kept small (no NaN codes 0x7F/0xFF).
        std::vector<uint8_t> h(size_t(M) * K);
        std::mt19937 rng(7);
        for (auto &v : h)
            v = static_cast<uint8_t>((rng() & 0xB7u));
        CK(cudaMemcpy(A, h.data(), h.size(), cudaMemcpyHostToDevice));
        CK(cudaMemcpy(B, h.data(), h.size(), cudaMemcpyHostToDevice));
    }
    cublasLtHandle_t lt = nullptr;
    if (cublasLtCreate(&lt) != CUBLAS_STATUS_SUCCESS)
        return -1;
    cublasLtMatmulDesc_t op = nullptr;
    cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F);
    const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta);
    cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb);
    cublasLtMatrixLayout_t la, lb, lc;
    cublasLtMatrixLayoutCreate(&la, CUDA_R_8F_E4M3, K, M, K);
    cublasLtMatrixLayoutCreate(&lb, CUDA_R_8F_E4M3, K, N, K);
    cublasLtMatrixLayoutCreate(&lc, CUDA_R_16BF, M, N, M);
    cublasLtMatmulPreference_t pref;
    cublasLtMatmulPreferenceCreate(&pref);
    cublasLtMatmulPreferenceSetAttribute(pref,
                                         CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                         &wsBytes,
                                         sizeof wsBytes);
    cublasLtMatmulHeuristicResult_t heur{};
    int found = 0;
    if (cublasLtMatmulAlgoGetHeuristic(lt, op, la, lb, lc, lc, pref, 1, &heur, &found)
            != CUBLAS_STATUS_SUCCESS
        || found == 0) {
        std::printf("cuBLASLt: no FP8 algorithm found\n");
        return -1;
    }
    const float alpha = 1.0f, beta = 0.0f;
    cudaEvent_t s, e;
    cudaEventCreate(&s);
    cudaEventCreate(&e);
    std::vector<float> t;
    for (int i = 0; i < 13; ++i) {
        cudaEventRecord(s);
        const cublasStatus_t st = cublasLtMatmul(
            lt, op, &alpha, A, la, B, lb, &beta, C, lc, C, lc, &heur.algo, ws, wsBytes, nullptr);
        cudaEventRecord(e);
        cudaEventSynchronize(e);
        if (st != CUBLAS_STATUS_SUCCESS) {
            std::printf("cuBLASLt FP8 matmul failed (%d)\n", static_cast<int>(st));
            return -1;
        }
        float ms = 0;
        cudaEventElapsedTime(&ms, s, e);
        if (i >= 3)
            t.push_back(ms);
    }
    std::sort(t.begin(), t.end());
    cublasLtMatmulPreferenceDestroy(pref);
    cublasLtMatrixLayoutDestroy(la);
    cublasLtMatrixLayoutDestroy(lb);
    cublasLtMatrixLayoutDestroy(lc);
    cublasLtMatmulDescDestroy(op);
    cublasLtDestroy(lt);
    cudaFree(A);
    cudaFree(B);
    cudaFree(C);
    cudaFree(ws);
    return 2.0 * M * N * K / (t[t.size() / 2] * 1e-3);
}

// cublaslt: the engine's non-exact FP8 prefill GEMM (CublasLtLinear: act-quant of f32 x to e4m3
// with 1x128 scales, then cuBLASLt e4m3 x e4m3 -> f32 with 128x128 weight scales), 8192^3,
// random data, median of 10 after 3 warm-ups; the whole call is timed (quantiser included).
double blockScaledRate()
{
    const int M = 8192, N = 8192, K = 8192;
    void *w = nullptr, *x = nullptr, *y = nullptr;
    CK(cudaMalloc(&w, size_t(N) * K));
    CK(cudaMalloc(&x, size_t(M) * K * 4));
    CK(cudaMalloc(&y, size_t(M) * N * 4));
    std::mt19937 rng(11);
    {
        std::vector<uint8_t> h(size_t(N) * K);
        for (auto &v : h)
            v = static_cast<uint8_t>((rng() & 0xB7u));
        CK(cudaMemcpy(w, h.data(), h.size(), cudaMemcpyHostToDevice));
        std::vector<float> hx(size_t(M) * K);
        std::normal_distribution<float> d;
        for (auto &v : hx)
            v = d(rng);
        CK(cudaMemcpy(x, hx.data(), hx.size() * 4, cudaMemcpyHostToDevice));
    }
    std::vector<uint8_t> scales(size_t(N / 128) * (K / 128));
    for (auto &v : scales)
        v = static_cast<uint8_t>(120 + rng() % 8);
    fathom::kernels::linear_params p;
    p.x = x;
    p.x_type = fathom::kernels::act_type::f32;
    p.w = w;
    p.w_scale = scales.data(); // any non-null: accepts() checks it, run() reads the host copy
    p.w_type = fathom::kernels::linear_weight_type::fp8_e4m3;
    p.y = y;
    p.y_type = fathom::kernels::act_type::f32;
    p.m = M;
    p.n = N;
    p.k = K;
    p.accum = fathom::kernels::linear_accum::fp32;
    double rate = -1;
    {
        CublasLtLinear lt(0);
        cudaEvent_t s, e;
        cudaEventCreate(&s);
        cudaEventCreate(&e);
        std::vector<float> t;
        for (int i = 0; i < 13; ++i) {
            cudaEventRecord(s);
            const bool ok = lt.run(p, scales.data(), nullptr);
            cudaEventRecord(e);
            cudaEventSynchronize(e);
            if (!ok) {
                std::printf("cuBLASLt block-scaled path unavailable: %s\n",
                            lt.why().empty() ? "see the warning above" : lt.why().c_str());
                t.clear();
                break;
            }
            float ms = 0;
            cudaEventElapsedTime(&ms, s, e);
            if (i >= 3)
                t.push_back(ms);
        }
        if (!t.empty()) {
            std::sort(t.begin(), t.end());
            rate = 2.0 * M * N * K / (t[t.size() / 2] * 1e-3);
        }
        cudaEventDestroy(s);
        cudaEventDestroy(e);
    }
    cudaFree(w);
    cudaFree(x);
    cudaFree(y);
    return rate;
}

// tcgemm: the tensor-core block-scaled GEMM (kernels/cuda/linear_mma.cu, the non-exact mode's
// FP8 / FP4 path) on V4-Flash shapes at 8192 rows, random data (f32 x, the engine's input), median
// of 5 after 2 warm-ups, the whole call timed (activation quantisation included: the pre-pass
// with a workspace as the executor calls it, and once without: quantised per column tile), with
// cuBLASLt's block-scaled FP8 path on the same dense shapes where it runs. Rates as % of the
// plain FP8 cuBLASLt rate of this run (the 40 % denominator).
double timeMs(const std::function<bool()> &call)
{
    cudaEvent_t s, e;
    cudaEventCreate(&s);
    cudaEventCreate(&e);
    std::vector<float> t;
    for (int i = 0; i < 7; ++i) {
        cudaEventRecord(s);
        const bool ok = call();
        cudaEventRecord(e);
        cudaEventSynchronize(e);
        if (!ok || cudaGetLastError() != cudaSuccess) {
            t.clear();
            break;
        }
        float ms = 0;
        cudaEventElapsedTime(&ms, s, e);
        if (i >= 2)
            t.push_back(ms);
    }
    cudaEventDestroy(s);
    cudaEventDestroy(e);
    if (t.empty())
        return -1;
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

void gemmRow(const std::string &what, double flops, double ms, double fp8)
{
    if (ms <= 0) {
        row(what, "n/a");
        return;
    }
    const double rate = flops / (ms * 1e-3);
    row(what,
        fmt("%.0f TFLOP/s", rate / 1e12),
        fp8 > 0 ? fmt("= %.1f %% of FP8 rate (goal >= 40 %%)", 100 * rate / fp8) : "");
}

} // namespace

namespace fathom::kernels::cuda {
// linear_mma.cu: the kernel of the last tensor-core LINEAR batch (diagnostics; not in cuda_ops.h).
const char *linear_mma_last_kernel();
} // namespace fathom::kernels::cuda

namespace {

// A workspace row names the kernel linear_mma.cu picked (the wgmma mainloop on sm_90a builds on
// an sm_90 device, which is what the executor's prefill gets); when that was the wgmma one, the
// mma.sync kernel is timed right after (FATHOM_LINEAR_MMA_KERNEL=mma) for the A/B of this run.
void gemmRowsByKernel(const std::string &what,
                      double flops,
                      const std::function<bool()> &call,
                      double fp8)
{
    const double ms = timeMs(call);
    const std::string ran = fathom::kernels::cuda::linear_mma_last_kernel();
    gemmRow(what + " [" + ran + "]", flops, ms, fp8);
    if (ran.find("wgmma") == std::string::npos)
        return;
    const char *old = std::getenv("FATHOM_LINEAR_MMA_KERNEL");
    const std::string saved = old ? old : "";
    setenv("FATHOM_LINEAR_MMA_KERNEL", "mma", 1);
    const double ms2 = timeMs(call);
    const std::string ran2 = fathom::kernels::cuda::linear_mma_last_kernel();
    if (old)
        setenv("FATHOM_LINEAR_MMA_KERNEL", saved.c_str(), 1);
    else
        unsetenv("FATHOM_LINEAR_MMA_KERNEL");
    gemmRow(what + " [" + ran2 + "]", flops, ms2, fp8);
}

// ltexperts: the same FP4 experts as the executor's non-exact prefill runs them
// (CudaExecutor::expertsViaLt): converted to e4m3 + 128x128 scales (fp4_fold_e4m3_cuda, 16 experts
// a launch into a 16-expert scratch), a chunk's x rows quantised in one launch
// (act_quant_vec128_rows_cuda) and one CublasLtLinear::runQuantized per expert. Rows: the conversion alone (ms, GB/s of FP4 + scales
// read and e4m3 + fp32 scales written), x quantisation + cuBLASLt alone, and both as the executor
// interleaves them. The executor stacks w1 | w3 into one n = 4096 GEMM; here w1 alone (the
// table's shapes).
void benchLtExperts(const char *name,
                    int n,
                    int k,
                    int E,
                    int rowsPer,
                    const void *w,
                    const void *sc,
                    const void *x,
                    void *y,
                    double fp8)
{
    namespace K = fathom::kernels;
    const int chunk = K::k_fp4_fold_max_jobs;
    const size_t wB = size_t(n) * k / 2, sB = size_t(n) * k / 32, cB = size_t(n) * k;
    const int64_t scN = K::fp8_blk128_scale_count(n, k);
    const size_t rows = size_t(E) * rowsPer;
    const std::string what = std::string("ltexperts fp4->e4m3 + cuBLASLt ") + name;
    CublasLtLinear lt(0);
    if (!lt.available()) {
        row(what, "n/a", lt.why());
        return;
    }
    void *codes = nullptr, *bs = nullptr, *xq = nullptr, *xs = nullptr;
    if (cudaMalloc(&codes, cB * chunk) != cudaSuccess
        || cudaMalloc(&bs, size_t(scN) * 4 * chunk) != cudaSuccess
        || cudaMalloc(&xq, rows * k) != cudaSuccess
        || cudaMalloc(&xs, rows * (k / 128) * 4) != cudaSuccess) {
        row(what, "allocation failed");
        cudaFree(codes);
        cudaFree(bs);
        cudaFree(xq);
        return;
    }
    auto fold = [&](int c0) {
        K::fp4_fold_job jobs[K::k_fp4_fold_max_jobs];
        const int count = std::min(chunk, E - c0);
        for (int i = 0; i < count; ++i) {
            jobs[i].w[0] = static_cast<const uint8_t *>(w) + wB * (c0 + i);
            jobs[i].scale[0] = static_cast<const uint8_t *>(sc) + sB * (c0 + i);
            jobs[i].rows[0] = n;
            jobs[i].codes = static_cast<uint8_t *>(codes) + cB * i;
            jobs[i].blk_scales = static_cast<float *>(bs) + scN * i;
        }
        return K::fp4_fold_e4m3_cuda(jobs, count, k, nullptr).ok();
    };
    // As the executor: a chunk's x rows quantised in one launch (each expert's VEC128 scales
    // in its own block), then one cuBLASLt call per expert.
    auto quant = [&](int c0) {
        const float *xOf[K::k_fp4_fold_max_jobs];
        int rowsOf[K::k_fp4_fold_max_jobs];
        const int count = std::min(chunk, E - c0);
        for (int i = 0; i < count; ++i) {
            xOf[i] = static_cast<const float *>(x) + size_t(c0 + i) * rowsPer * k;
            rowsOf[i] = rowsPer;
        }
        return K::act_quant_vec128_rows_cuda(xOf,
                                             rowsOf,
                                             count,
                                             k,
                                             static_cast<uint8_t *>(xq) + size_t(c0) * rowsPer * k,
                                             static_cast<float *>(xs)
                                                 + size_t(c0) * rowsPer * (k / 128),
                                             nullptr)
            .ok();
    };
    auto gemm = [&](int e, int slot) {
        return lt.runQuantized(static_cast<const uint8_t *>(codes) + cB * slot,
                               static_cast<const float *>(bs) + scN * slot,
                               n,
                               k,
                               static_cast<const uint8_t *>(xq) + size_t(e) * rowsPer * k,
                               static_cast<const float *>(xs) + size_t(e) * rowsPer * (k / 128),
                               rowsPer,
                               static_cast<float *>(y) + size_t(e) * rowsPer * n,
                               0,
                               nullptr);
    };
    const double foldMs = timeMs([&] {
        for (int c0 = 0; c0 < E; c0 += chunk)
            if (!fold(c0))
                return false;
        return true;
    });
    const double gemmMs = timeMs([&] {
        for (int c0 = 0; c0 < E; c0 += chunk) {
            if (!quant(c0))
                return false;
            for (int e = c0; e < std::min(E, c0 + chunk); ++e)
                if (!gemm(e, e - c0))
                    return false;
        }
        return true;
    });
    const double bothMs = timeMs([&] {
        for (int c0 = 0; c0 < E; c0 += chunk) {
            if (!fold(c0) || !quant(c0))
                return false;
            for (int e = c0; e < std::min(E, c0 + chunk); ++e)
                if (!gemm(e, e - c0))
                    return false;
        }
        return true;
    });
    const double bytes = double(E) * double(wB + sB + cB + size_t(scN) * 4);
    row(what + ": conversion alone",
        foldMs > 0 ? fmt("%.3f ms", foldMs) : "n/a",
        foldMs > 0 ? fmt("%.0f GB/s", bytes / (foldMs * 1e6)) : "");
    const double flops = 2.0 * double(rows) * n * k;
    gemmRow(what + ": x quant + cuBLASLt (192 rows each)", flops, gemmMs, fp8);
    gemmRow(what + ": conversion + x quant + cuBLASLt", flops, bothMs, fp8);
    cudaFree(codes);
    cudaFree(bs);
    cudaFree(xq);
    cudaFree(xs);
}

// FATHOM_BENCH_GEMMS=0 skips this table (the A/B runs of tests/gpu/run-device-checks.sh).
void benchGemms(double fp8)
{
    if (const char *env = std::getenv("FATHOM_BENCH_GEMMS"); env && std::strcmp(env, "0") == 0)
        return;
    namespace K = fathom::kernels;
    std::printf("tensor-core GEMMs (linear_mma.cu), 8192 rows\n");
    std::mt19937 rng(5);
    auto fill = [&](void *dst, size_t bytes, uint8_t mask, uint8_t base) {
        std::vector<uint8_t> h(bytes);
        for (auto &v : h)
            v = static_cast<uint8_t>(base + (rng() & mask));
        return cudaMemcpy(dst, h.data(), bytes, cudaMemcpyHostToDevice) == cudaSuccess;
    };
    auto fillX = [&](float *dst, size_t n) {
        std::vector<float> h(n);
        std::normal_distribution<float> d;
        for (auto &v : h)
            v = d(rng);
        return cudaMemcpy(dst, h.data(), n * 4, cudaMemcpyHostToDevice) == cudaSuccess;
    };
    const int M = 8192;
    struct Dense
    {
        const char *name;
        int n, k;
    };
    // V4-Flash attention projections (FP8, spec §6 table).
    const Dense dense[] = {{"wq_a 1024x4096", 1024, 4096},
                           {"wq_b 32768x1024", 32768, 1024},
                           {"wkv 512x4096", 512, 4096},
                           {"wo_b 4096x8192", 4096, 8192}};
    for (const Dense &d : dense) {
        void *w = nullptr, *x = nullptr, *y = nullptr, *sc = nullptr;
        const size_t scN = size_t(d.n / 128) * (d.k / 128);
        if (cudaMalloc(&w, size_t(d.n) * d.k) != cudaSuccess
            || cudaMalloc(&x, size_t(M) * d.k * 4) != cudaSuccess
            || cudaMalloc(&y, size_t(M) * d.n * 4) != cudaSuccess
            || cudaMalloc(&sc, scN) != cudaSuccess || !fill(w, size_t(d.n) * d.k, 0xB7, 0)
            || !fill(sc, scN, 7, 120) || !fillX(static_cast<float *>(x), size_t(M) * d.k)) {
            row(std::string("mma fp8 ") + d.name, "allocation failed");
        } else {
            K::linear_params p;
            p.x = x;
            p.x_type = K::act_type::f32;
            p.w = w;
            p.w_scale = static_cast<const uint8_t *>(sc);
            p.w_type = K::linear_weight_type::fp8_e4m3;
            p.y = y;
            p.y_type = K::act_type::f32;
            p.m = M;
            p.n = d.n;
            p.k = d.k;
            p.accum = K::linear_accum::fp32;
            const double flops = 2.0 * M * d.n * d.k;
            const size_t wsBytes = K::linear_mma_workspace_bytes(&p, 1);
            void *work = nullptr;
            if (cudaMalloc(&work, wsBytes) != cudaSuccess)
                work = nullptr;
            gemmRowsByKernel(
                std::string("mma fp8 ") + d.name,
                flops,
                [&] { return K::linear_mma_cuda(p, nullptr, work, wsBytes).ok(); },
                fp8);
            gemmRow(std::string("mma fp8 ") + d.name + " (x quantised per tile)",
                    flops,
                    timeMs([&] { return K::linear_mma_cuda(p, nullptr).ok(); }),
                    fp8);
            cudaFree(work);
            std::vector<uint8_t> hs(scN);
            cudaMemcpy(hs.data(), sc, scN, cudaMemcpyDeviceToHost);
            CublasLtLinear lt(0);
            double ltMs = -1;
            if (CublasLtLinear::accepts(p) && lt.available())
                ltMs = timeMs([&] { return lt.run(p, hs.data(), nullptr); });
            gemmRow(std::string("cuBLASLt fp8 ") + d.name, flops, ltMs, fp8);
        }
        cudaFree(w);
        cudaFree(x);
        cudaFree(y);
        cudaFree(sc);
    }
    // The routed experts of one layer at an 8K prefill: 256 FP4 experts, 8192 x 6 / 256 = 192 rows
    // each, w1 (and w3: same shape) 2048x4096 and w2 4096x2048, one grouped call each.
    const int E = 256, rowsPer = M * 6 / E;
    for (const Dense &d : {Dense{"experts w1 256 x 2048x4096", 2048, 4096},
                           Dense{"experts w2 256 x 4096x2048", 4096, 2048}}) {
        void *w = nullptr, *x = nullptr, *y = nullptr, *sc = nullptr;
        const size_t wB = size_t(d.n) * d.k / 2, sB = size_t(d.n) * d.k / 32;
        const size_t rows = size_t(E) * rowsPer;
        if (cudaMalloc(&w, wB * E) != cudaSuccess || cudaMalloc(&sc, sB * E) != cudaSuccess
            || cudaMalloc(&x, rows * d.k * 4) != cudaSuccess
            || cudaMalloc(&y, rows * d.n * 4) != cudaSuccess || !fill(w, wB * E, 0xFF, 0)
            || !fill(sc, sB * E, 3, 124) || !fillX(static_cast<float *>(x), rows * d.k)) {
            row(std::string("mma fp4 ") + d.name, "allocation failed");
        } else {
            std::vector<K::linear_params> items(E);
            for (int e = 0; e < E; ++e) {
                K::linear_params &p = items[e];
                p.x = static_cast<const float *>(x) + size_t(e) * rowsPer * d.k;
                p.x_type = K::act_type::f32;
                p.w = static_cast<const uint8_t *>(w) + wB * e;
                p.w_scale = static_cast<const uint8_t *>(sc) + sB * e;
                p.w_type = K::linear_weight_type::fp4_e2m1;
                p.y = static_cast<float *>(y) + size_t(e) * rowsPer * d.n;
                p.y_type = K::act_type::f32;
                p.m = rowsPer;
                p.n = d.n;
                p.k = d.k;
                p.accum = K::linear_accum::fp32;
            }
            const size_t wsBytes = K::linear_mma_workspace_bytes(items.data(), E);
            void *work = nullptr;
            if (cudaMalloc(&work, wsBytes) != cudaSuccess)
                work = nullptr;
            gemmRowsByKernel(
                std::string("mma fp4 ") + d.name + " (192 rows each)",
                2.0 * rows * d.n * d.k,
                [&] {
                    return K::linear_grouped_mma_cuda(items.data(), E, nullptr, work, wsBytes).ok();
                },
                fp8);
            cudaFree(work);
            benchLtExperts(d.name, d.n, d.k, E, rowsPer, w, sc, x, y, fp8);
        }
        cudaFree(w);
        cudaFree(x);
        cudaFree(y);
        cudaFree(sc);
    }
}

// gemvtc: the decode GEMVs alone (m = 1, linear_cuda) on V4-Flash shapes, the exact path (accum
// exact: integer / fp64 block sums) against the tensor-core one (accum fp32), as weight GB/s and
// % of the copy bandwidth bw. Each timing launches the GEMV over enough copies of the weight
// (>= 256 MB in all, one after another) that L2 (50 MB) holds none of them, and divides.
// FATHOM_BENCH_GEMVS=0 skips the table.
void benchGemvs(double bw)
{
    if (const char *env = std::getenv("FATHOM_BENCH_GEMVS"); env && std::strcmp(env, "0") == 0)
        return;
    namespace K = fathom::kernels;
    using W = K::linear_weight_type;
    std::printf("decode GEMVs (linear_cuda, m = 1): exact vs tensor cores\n");
    std::mt19937 rng(9);
    struct Shape
    {
        const char *name;
        W type;
        int n, k;
    };
    const Shape shapes[] = {{"head bf16 129280x4096", W::bf16, 129280, 4096},
                            {"wq_b fp8 32768x1024", W::fp8_e4m3, 32768, 1024},
                            {"wo_b fp8 4096x8192", W::fp8_e4m3, 4096, 8192},
                            {"wq_a fp8 1024x4096", W::fp8_e4m3, 1024, 4096},
                            {"expert w1 fp4 2048x4096", W::fp4_e2m1, 2048, 4096},
                            {"expert w2 fp4 4096x2048", W::fp4_e2m1, 4096, 2048}};
    for (const Shape &s : shapes) {
        const bool fp8 = s.type == W::fp8_e4m3, fp4 = s.type == W::fp4_e2m1;
        const size_t wB = fp4 ? size_t(s.n) * s.k / 2 : size_t(s.n) * s.k * (fp8 ? 1 : 2);
        const size_t sB = fp8 ? size_t((s.n + 127) / 128) * (s.k / 128)
                              : fp4 ? size_t(s.n) * s.k / 32 : 0;
        const int copies = static_cast<int>(std::max<size_t>(1, (size_t(256) << 20) / wB));
        const size_t stride = (wB + 255) / 256 * 256;
        void *w = nullptr, *sc = nullptr, *x = nullptr, *y = nullptr;
        // 4 MiB of random bytes, repeated over the copies by device copies (the host's rng would
        // take seconds for the head's 1 GB). FP8: no NaN code (exponent field never 15); bf16:
        // finite halves.
        const size_t total = stride * copies, piece = std::min<size_t>(total, size_t(4) << 20);
        std::vector<uint8_t> h(piece);
        for (auto &v : h)
            v = static_cast<uint8_t>(rng() & (fp8 ? 0xB7 : fp4 ? 0xFF : 0x3F));
        std::vector<uint8_t> hs(std::max<size_t>(sB, 1));
        for (auto &v : hs)
            v = static_cast<uint8_t>(120 + (rng() & 7));
        std::vector<float> hx(s.k);
        std::normal_distribution<float> nd;
        for (auto &v : hx)
            v = nd(rng);
        bool filled = cudaMalloc(&w, total) == cudaSuccess
                      && cudaMemcpy(w, h.data(), piece, cudaMemcpyHostToDevice) == cudaSuccess;
        for (size_t o = piece; filled && o < total; o += piece)
            filled = cudaMemcpy(static_cast<uint8_t *>(w) + o,
                                w,
                                std::min(piece, total - o),
                                cudaMemcpyDeviceToDevice)
                     == cudaSuccess;
        if (!filled || cudaMalloc(&sc, hs.size()) != cudaSuccess
            || cudaMalloc(&x, size_t(s.k) * 4) != cudaSuccess
            || cudaMalloc(&y, size_t(s.n) * 4) != cudaSuccess
            || cudaMemcpy(sc, hs.data(), hs.size(), cudaMemcpyHostToDevice) != cudaSuccess
            || cudaMemcpy(x, hx.data(), hx.size() * 4, cudaMemcpyHostToDevice) != cudaSuccess) {
            row(std::string("gemv ") + s.name, "allocation failed");
        } else {
            K::linear_params p;
            p.x = x;
            p.x_type = K::act_type::f32;
            p.w_scale = sB ? static_cast<const uint8_t *>(sc) : nullptr;
            p.w_type = s.type;
            p.y = y;
            p.y_type = K::act_type::f32;
            p.m = 1;
            p.n = s.n;
            p.k = s.k;
            std::string line;
            for (const K::linear_accum a : {K::linear_accum::exact, K::linear_accum::fp32}) {
                p.accum = a;
                const double ms = timeMs([&] {
                    bool ok = true;
                    for (int c = 0; c < copies && ok; ++c) {
                        p.w = static_cast<const uint8_t *>(w) + stride * c;
                        ok = K::linear_cuda(p, nullptr).ok();
                    }
                    return ok;
                });
                const double us = ms * 1e3 / copies, gbs = ms > 0 ? wB / (us * 1e3) : 0.0;
                line += fmt(a == K::linear_accum::exact ? "exact %.1f us" : " | tc %.1f us", us)
                        + fmt(" %.0f GB/s", gbs) + (bw > 0 ? fmt(" (%.0f %%)", 100 * gbs * 1e9 / bw) : "");
            }
            row(std::string("gemv ") + s.name, line);
        }
        cudaFree(w);
        cudaFree(sc);
        cudaFree(x);
        cudaFree(y);
    }
}

// Weight bytes one batch-1 decode step reads: every projection of the main blocks (K routed
// experts + shared), the mHC weights, the head, one embedding row.
// The floor every graph node of a decode step pays: a captured chain of kNodes dependent
// 1 x 4096 RMSNorm launches (the smallest real kernel; PDL wait and trigger as every kernel of
// the engine), replayed, time per node with PDL off and on. Nodes a layer times this is the part
// of the per-layer overhead that no faster kernel removes (the goal: <= 15 us a layer).
void benchNodeFloor()
{
    constexpr int kNodes = 200, dim = 4096;
    cudaStream_t s = nullptr;
    float *buf = nullptr;
    if (cudaStreamCreate(&s) != cudaSuccess
        || cudaMalloc(&buf, 2 * dim * sizeof(float)) != cudaSuccess
        || cudaMemset(buf, 0, 2 * dim * sizeof(float)) != cudaSuccess) {
        cudaGetLastError();
        row("graph node floor", "n/a (no stream / buffer)");
        return;
    }
    double perNode[2] = {0, 0};
    for (int pdl = 0; pdl < 2; ++pdl) {
        fathom::kernels::set_cuda_pdl(pdl);
        cudaGraph_t g = nullptr;
        cudaGraphExec_t e = nullptr;
        bool ok = cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal) == cudaSuccess;
        for (int i = 0; ok && i < kNodes; ++i) {
            fathom::kernels::RmsNormParams p;
            p.x = buf + (i % 2) * dim;
            p.y = buf + (1 - i % 2) * dim;
            p.rows = 1;
            p.dim = dim;
            ok = fathom::kernels::rmsnorm_cuda(p, s).ok();
        }
        ok = cudaStreamEndCapture(s, &g) == cudaSuccess && ok;
        ok = ok && cudaGraphInstantiate(&e, g, 0) == cudaSuccess;
        // The graph on the legacy stream: timeMs's events order with it.
        const double ms = ok ? timeMs([&] { return cudaGraphLaunch(e, nullptr) == cudaSuccess; })
                             : -1;
        perNode[pdl] = ms > 0 ? ms * 1e3 / kNodes : -1;
        if (e)
            cudaGraphExecDestroy(e);
        if (g)
            cudaGraphDestroy(g);
        cudaGetLastError();
    }
    fathom::kernels::set_cuda_pdl(-1);
    cudaFree(buf);
    cudaStreamDestroy(s);
    if (perNode[0] <= 0 || perNode[1] <= 0) {
        row("graph node floor", "n/a (capture or launch failed)");
        return;
    }
    char v[64];
    std::snprintf(v, sizeof v, "%.2f / %.2f us", perNode[0], perNode[1]);
    row("graph node floor, PDL off / on (a node)",
        v,
        "(chain of 1x4096 RMSNorms; x nodes a layer = the launch part of the per-layer overhead)");
}

double decodeWeightBytes(const V4Model &m)
{
    const ModelConfig &c = m.config();
    double bytes = m.head().bytes() + 2.0 * c.hiddenSize;
    const double nd = double(c.hcMult) * c.hiddenSize;
    for (int i = 0; i < c.numHiddenLayers; ++i) {
        const BlockWeights &b = m.block(i);
        for (const LinearWeight *w : {&b.wqA,
                                      &b.wqB,
                                      &b.wkv,
                                      &b.woA,
                                      &b.woB,
                                      &b.compWkv,
                                      &b.compWgate,
                                      &b.idxWqB,
                                      &b.idxWeights,
                                      &b.idxCompWkv,
                                      &b.idxCompWgate,
                                      &b.gate})
            if (w->valid())
                bytes += w->bytes();
        for (const LinearWeight *w : {&b.shared.w1, &b.shared.w2, &b.shared.w3})
            bytes += w->bytes();
        const ExpertWeights &e = b.experts.front();
        bytes += double(c.numExpertsPerTok) * (e.w1.bytes() + e.w2.bytes() + e.w3.bytes());
        bytes += 2 * (2.0 + c.hcMult) * c.hcMult * nd * 4; // hc_attn_fn, hc_ffn_fn (fp32)
    }
    return bytes;
}

double seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b)
{
    return std::chrono::duration<double>(b - a).count();
}

// attn: the indexer and sparse attention kernels alone, exact (double SIMT, bit-identical to the
// CPU) vs fast (tensor cores, the non-exact mode), on V4-Flash shapes: 64 index heads x 128,
// 64 heads x 512, MQA. Random bf16-valued data (the timing does not depend on it). Useful FLOP
// only (the indexer's causal half skipped, the attention's valid keys). The exact kernels run on
// a slice of the rows (they take seconds per full call) and are scaled to the full row count.
struct OpTimer
{
    cudaEvent_t s = nullptr, e = nullptr;
    OpTimer()
    {
        cudaEventCreate(&s);
        cudaEventCreate(&e);
    }
    ~OpTimer()
    {
        cudaEventDestroy(s);
        cudaEventDestroy(e);
    }
    // Median ms of `reps` runs after one warm-up (none when warmUp is false: the exact kernels,
    // whose single run takes seconds; the first launch's module load is noise next to that).
    template<typename Fn>
    double median(int reps, Fn &&fn, bool warmUp = true)
    {
        std::vector<float> t;
        if (warmUp)
            fn();
        for (int i = 0; i < reps; ++i) {
            cudaEventRecord(s);
            fn();
            cudaEventRecord(e);
            cudaEventSynchronize(e);
            float ms = 0;
            cudaEventElapsedTime(&ms, s, e);
            t.push_back(ms);
        }
        std::sort(t.begin(), t.end());
        return t.empty() ? -1.0 : t[t.size() / 2];
    }
};

// Device buffer of n bf16-valued floats in [-1, 1) (a 1M-value random block repeated).
float *randomDeviceBf16(size_t n, uint32_t seed)
{
    float *d = nullptr;
    if (cudaMalloc(&d, n * sizeof(float)) != cudaSuccess)
        return nullptr;
    const size_t blk = std::min<size_t>(n, size_t(1) << 20);
    std::vector<float> h(blk);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (float &v : h) {
        uint32_t b;
        const float f = u(rng);
        std::memcpy(&b, &f, 4);
        b &= 0xFFFF0000u;
        std::memcpy(&v, &b, 4);
    }
    for (size_t o = 0; o < n; o += blk)
        cudaMemcpy(d + o, h.data(), std::min(blk, n - o) * sizeof(float), cudaMemcpyHostToDevice);
    return d;
}

// One indexer case: nQ query rows over nKeys index keys; causal: row r sees (r + 1) * nKeys / nQ
// keys (a prefill from position 0), else every row sees all keys. exactRows: rows timed exact.
void benchIndexer(const char *label, int nQ, int nKeys, bool causal, int exactRows)
{
    namespace kk = fathom::kernels;
    const int H = 64, dim = 128;
    float *q = randomDeviceBf16(size_t(nQ) * H * dim, 1);
    float *w = randomDeviceBf16(size_t(nQ) * H, 2);
    float *keys = randomDeviceBf16(size_t(nKeys) * dim, 3);
    float *scores = nullptr;
    int32_t *rowN = nullptr;
    std::vector<int32_t> hn(nQ);
    double visible = 0;
    for (int r = 0; r < nQ; ++r) {
        hn[r] = causal ? static_cast<int32_t>((int64_t(r) + 1) * nKeys / nQ) : nKeys;
        visible += hn[r];
    }
    if (!q || !w || !keys || cudaMalloc(&scores, size_t(nQ) * nKeys * 4) != cudaSuccess
        || cudaMalloc(&rowN, size_t(nQ) * 4) != cudaSuccess) {
        std::printf("  %s: out of device memory\n", label);
        return;
    }
    cudaMemcpy(rowN, hn.data(), hn.size() * 4, cudaMemcpyHostToDevice);
    kk::IndexerScoreParams p;
    p.q = q;
    p.weights = w;
    p.keys = keys;
    p.scores = scores;
    p.n_heads = H;
    p.dim = dim;
    p.n_keys = nKeys;
    OpTimer t;
    const double fast = t.median(5, [&] {
        kk::indexer_scores_rows_fast_cuda(p, nQ, nKeys, nullptr, rowN);
    });
    // Exact on the last exactRows rows (the most keys when causal), scaled by visible keys.
    const int r0 = nQ - std::min(exactRows, nQ);
    double visSlice = 0;
    for (int r = r0; r < nQ; ++r)
        visSlice += hn[r];
    kk::IndexerScoreParams ps = p;
    ps.q = q + size_t(r0) * H * dim;
    ps.weights = w + size_t(r0) * H;
    const double exactSlice = t.median(
        1, [&] { kk::indexer_scores_rows_cuda(ps, nQ - r0, nKeys, nullptr, rowN + r0); }, false);
    const double exact = exactSlice * visible / std::max(visSlice, 1.0);
    const cudaError_t err = cudaDeviceSynchronize();
    const double flop = 2.0 * visible * H * dim;
    row(std::string("indexer ") + label + " exact",
        err ? cudaGetErrorString(err) : fmt("%.2f ms", exact),
        fmt("(%.0f rows timed, scaled)", double(nQ - r0)));
    row(std::string("indexer ") + label + " fast",
        fmt("%.3f ms", fast),
        fmt("%.0f TFLOP/s, ", flop / (fast * 1e-3) / 1e12) + fmt("%.0fx exact", exact / fast));
    // idx8: the e4m3 variant (the non-exact prefill default on sm_89+) on packed keys (random
    // nibbles, E8M0 scales 2^-7 .. 2^0), q packed first (timed with it: the executor packs once
    // per call). "fast" above is the bf16 kernel (FATHOM_CUDA_INDEXER=bf16).
    uint8_t *kp = nullptr, *q8 = nullptr;
    const int64_t rb = 68;
    if (nQ >= kk::k_min_fast_rows && cudaMalloc(&kp, size_t(nKeys) * rb) == cudaSuccess
        && cudaMalloc(&q8, kk::indexer_q_e4m3_bytes(nQ, H, dim)) == cudaSuccess) {
        std::vector<uint8_t> hk(size_t(nKeys) * rb);
        uint32_t x = 12345u;
        for (size_t i = 0; i < hk.size(); ++i) {
            x = x * 1664525u + 1013904223u;
            hk[i] = i % rb < 64 ? static_cast<uint8_t>(x >> 24)
                                : static_cast<uint8_t>(120 + ((x >> 24) & 7));
        }
        cudaMemcpy(kp, hk.data(), hk.size(), cudaMemcpyHostToDevice);
        kk::IndexerScoreParams pe = p;
        pe.keys = nullptr;
        pe.keys_packed = kp;
        if (kk::indexer_scores_e4m3_supported(pe)) {
            const double pack = t.median(5, [&] {
                kk::indexer_q_pack_e4m3_cuda(q, nQ, H, dim, q8, nullptr);
            });
            const double e4 = t.median(5, [&] {
                kk::indexer_q_pack_e4m3_cuda(q, nQ, H, dim, q8, nullptr);
                kk::indexer_scores_rows_e4m3_cuda(pe, q8, nQ, 0, nQ, nKeys, nullptr, rowN);
            });
            const double e4s = t.median(5, [&] {
                kk::indexer_q_pack_e4m3_cuda(q, nQ, H, dim, q8, nullptr);
                kk::indexer_scores_rows_e4m3_cuda(pe, q8, nQ, 0, nQ, nKeys, nullptr, rowN, true);
            });
            const cudaError_t e2 = cudaDeviceSynchronize();
            row(std::string("indexer ") + label + " e4m3",
                e2 ? cudaGetErrorString(e2) : fmt("%.3f ms", e4),
                fmt("%.0f TFLOP/s, ", flop / (e4 * 1e-3) / 1e12)
                    + fmt("%.2fx bf16 fast, ", fast / e4) + fmt("q pack %.3f ms", pack));
            row(std::string("indexer ") + label + " e4m3 split",
                e2 ? cudaGetErrorString(e2) : fmt("%.3f ms", e4s),
                fmt("%.0f TFLOP/s, ", flop / (e4s * 1e-3) / 1e12)
                    + fmt("%.2fx bf16 fast (k-step partials added in fp32)", fast / e4s));
        } else {
            row(std::string("indexer ") + label + " e4m3", "n/a", "(no sm_89+ e4m3 mma)");
        }
    }
    cudaFree(kp);
    cudaFree(q8);
    cudaFree(q);
    cudaFree(w);
    cudaFree(keys);
    cudaFree(scores);
    cudaFree(rowN);
}

// One attention case: nQ rows x 64 heads x 512 over nIdx valid indices per row into a pool of
// nKv window rows and nExt compressed entries.
void benchAttention(const char *label, int nQ, int nKv, int nExt, int nIdx, int exactRows)
{
    namespace kk = fathom::kernels;
    const int H = 64, D = 512;
    float *q = randomDeviceBf16(size_t(nQ) * H * D, 4);
    float *kv = randomDeviceBf16(size_t(nKv) * D, 5);
    float *ext = randomDeviceBf16(size_t(nExt) * D, 6);
    float *sink = randomDeviceBf16(H, 7);
    float *out = nullptr;
    int32_t *idx = nullptr;
    std::vector<int32_t> hi(size_t(nQ) * nIdx);
    std::mt19937 rng(8);
    for (int r = 0; r < nQ; ++r)
        for (int i = 0; i < nIdx; ++i)
            hi[size_t(r) * nIdx + i] = i < 128 ? (r + nKv - 127 + i) % nKv // the window
                                               : nKv + static_cast<int32_t>(rng() % nExt);
    if (!q || !kv || !ext || !sink || cudaMalloc(&out, size_t(nQ) * H * D * 4) != cudaSuccess
        || cudaMalloc(&idx, hi.size() * 4) != cudaSuccess) {
        std::printf("  %s: out of device memory\n", label);
        return;
    }
    cudaMemcpy(idx, hi.data(), hi.size() * 4, cudaMemcpyHostToDevice);
    kk::SparseAttnParams p;
    p.q = q;
    p.kv = kv;
    p.kv_ext = ext;
    p.idx = idx;
    p.sink = sink;
    p.out = out;
    p.n_q = nQ;
    p.n_heads = H;
    p.head_dim = D;
    p.n_kv = nKv;
    p.n_kv_ext = nExt;
    p.n_idx = nIdx;
    p.scale = 1.0f / std::sqrt(512.0f);
    // Decode rows (< k_min_fast_rows): the split-KV variant's partials (attndec).
    float *ws = nullptr;
    if (nQ < kk::k_min_fast_rows
        && cudaMalloc(&ws, kk::sparse_attn_decode_workspace_floats(p) * 4) != cudaSuccess) {
        std::printf("  %s: out of device memory\n", label);
        return;
    }
    OpTimer t;
    const double fast = t.median(5, [&] { kk::sparse_attn_fast_cuda(p, nullptr, ws); });
    kk::SparseAttnParams ps = p;
    ps.n_q = std::min(exactRows, nQ);
    const double exact = t.median(
                             1, [&] { kk::sparse_attn_cuda(ps, nullptr); }, false)
                         * nQ / ps.n_q;
    const cudaError_t err = cudaDeviceSynchronize();
    const double flop = 4.0 * nQ * double(nIdx) * H * D;
    row(std::string("attention ") + label + " exact",
        err ? cudaGetErrorString(err) : fmt("%.2f ms", exact),
        fmt("(%.0f rows timed, scaled)", double(ps.n_q)));
    row(std::string("attention ") + label + " fast",
        fmt("%.3f ms", fast),
        fmt("%.0f TFLOP/s, ", flop / (fast * 1e-3) / 1e12) + fmt("%.0fx exact", exact / fast));
    // attnsplit: the decode variant's shapes side by side (the row above: the environment's,
    // by default 32-index splits of 16 heads a block), with the combine launch as the executor
    // runs them at V4-Flash sizes.
    if (nQ < kk::k_min_fast_rows) {
        for (int keys : {16, 64, 0}) {
            kk::sparse_attn_decode_set_split(keys);
            float *w2 = nullptr;
            if (cudaMalloc(&w2, kk::sparse_attn_decode_workspace_floats(p) * 4) != cudaSuccess)
                break;
            const double f2 = t.median(5, [&] { kk::sparse_attn_fast_cuda(p, nullptr, w2); });
            row(std::string("attention ") + label + " fast, "
                    + (keys ? fmt("%d-index splits", keys) : std::string("previous shape")),
                fmt("%.3f ms", f2),
                keys ? std::string("16 heads a block (FATHOM_CUDA_ATTN_DECODE_SPLIT=")
                           + std::to_string(keys) + ")"
                     : std::string("64 heads a block, <= 32 splits (=0)"));
            cudaFree(w2);
        }
        kk::sparse_attn_decode_set_split(-1);
    }
    cudaFree(q);
    cudaFree(kv);
    cudaFree(ext);
    cudaFree(sink);
    cudaFree(out);
    cudaFree(idx);
    cudaFree(ws);
}

// The indexer's decode top-k (topk_rows_cuda: one block a row) over one row of n scores.
void benchTopk(const char *label, int n, int k)
{
    namespace kk = fathom::kernels;
    float *v = randomDeviceBf16(size_t(n), 9);
    int32_t *out = nullptr;
    if (!v || cudaMalloc(&out, size_t(k) * 4) != cudaSuccess) {
        std::printf("  %s: out of device memory\n", label);
        return;
    }
    OpTimer t;
    const double ms = t.median(
        5, [&] { kk::topk_rows_cuda(v, 1, n, n, nullptr, k, out, k, nullptr); });
    const cudaError_t err = cudaDeviceSynchronize();
    row(std::string("top-k ") + label,
        err ? cudaGetErrorString(err) : fmt("%.3f ms", ms),
        fmt("%.0f GB/s of scores", double(n) * 4 / (ms * 1e-3) / 1e9));
    cudaFree(v);
    cudaFree(out);
}

// FATHOM_BENCH_ATTN_OPS=0 skips this table (about 10-30 s, most of it the exact kernels), e.g.
// in the second and third bench_cuda runs of run-device-checks.sh.
void benchAttnOps()
{
    if (const char *env = std::getenv("FATHOM_BENCH_ATTN_OPS"); env && std::strcmp(env, "0") == 0)
        return;
    std::printf("indexer and sparse attention (V4-Flash shapes), exact vs fast\n");
    // 8K prefill, CSA layer: 2048 index keys, causal; the last 1024 rows of a 128K prefill:
    // 32768 keys, all visible (the executor's row block at that key count).
    benchIndexer("8K prefill (8192 x 2048 keys, causal)", 8192, 2048, true, 512);
    benchIndexer("128K tail (1024 x 32768 keys)", 1024, 32768, false, 64);
    // 8K prefill, CSA: window 128 + top-512 entries; 128K, HCA: window 128 + 1024 entries.
    benchAttention("CSA 8K (8192 x 640 keys)", 8192, 8192, 2048, 640, 256);
    benchAttention("HCA 128K (1024 x 1152 keys)", 1024, 8192, 1024, 1152, 64);
    // Decode, B = 1 (attndec): the indexer's decode variant at 32K and 256K index keys (128K and
    // 1M tokens of CSA), the split-KV attention at 640 (CSA) and 1152 (HCA at 128K) indices.
    benchIndexer("decode 32K (1 x 32768 keys)", 1, 32768, false, 1);
    benchIndexer("decode 256K (1 x 262144 keys)", 1, 262144, false, 1);
    benchAttention("CSA decode (1 x 640 keys)", 1, 8192, 2048, 640, 1);
    benchAttention("HCA decode (1 x 1152 keys)", 1, 8192, 1024, 1152, 1);
    // The decode top-512 of the indexer (attnsplit): all kept (512 keys: no radix pass), 32K and
    // 256K keys (4 radix passes over the row).
    benchTopk("decode top-512 of 512 keys", 512, 512);
    benchTopk("decode top-512 of 32768 keys", 32768, 512);
    benchTopk("decode top-512 of 262144 keys", 262144, 512);
}

} // namespace

namespace {

// The rows of a profile's ops (CudaExecutor::Profile::byOp), slowest first, per `steps`: time,
// share, and for ops that name their weights the bytes and GB/s against the copy bandwidth bw.
// limit: at most that many rows (0: all).
void opRows(const CudaExecutor::Profile &prof, int steps, double bw, size_t limit)
{
    struct OpRow
    {
        double ms, bytes;
        std::string name;
    };
    std::vector<OpRow> ops;
    double total = 0;
    for (const auto &[name, v] : prof.byOp) {
        ops.push_back(
            {v.ms / steps, v.bytes / steps, name + " x" + std::to_string(v.calls / steps)});
        total += v.ms / steps;
    }
    std::sort(ops.begin(), ops.end(), [](const OpRow &a, const OpRow &b) { return a.ms > b.ms; });
    if (limit > 0 && ops.size() > limit)
        ops.resize(limit);
    for (const OpRow &o : ops) {
        char note[160];
        if (o.bytes > 0)
            std::snprintf(
                note,
                sizeof note,
                "(%.0f %% of op time; %.1f MB of weights, %.0f GB/s = %.0f %% of copy bw)",
                100 * o.ms / std::max(total, 1e-9),
                o.bytes / 1e6,
                o.bytes / (o.ms * 1e-3) / 1e9,
                100 * o.bytes / (o.ms * 1e-3) / bw);
        else
            std::snprintf(note,
                          sizeof note,
                          "(%.0f %% of op time)",
                          100 * o.ms / std::max(total, 1e-9));
        row("  op " + o.name, fmt(o.ms >= 1.0 ? "%.0f us" : "%.1f us", o.ms * 1e3), note);
    }
}

} // namespace

// --repeat fit: device memory left beyond the weights (the 8K prefill's activations and state,
// cuBLASLt scratch, the converted experts of a chunk; run 2's 128K prefill peaked 9.4 GiB above
// its weights), and V4-Flash's main layers (spec §1.1).
constexpr double kFitReserve = 20.0 * (1ull << 30);
constexpr int kFlashLayers = 43;

// --repeat: the number of main layers (> the folder's to repeat, else the folder's own), from
// the folder's config and tensor sizes (its mapping: the one model load follows this).
int repeatedLayers(const std::string &dir, const ModelConfig &config, int repeat, int firstLayer)
{
    const int written = config.numHiddenLayers;
    if (repeat >= 0)
        return std::max(repeat, written);
    auto store = TensorStore::open(dir);
    if (!store)
        return written; // the load that follows reports it
    // As loaded: ModelWeights converts an FP8 folder's wo_a weights to bf16 (fromStore), which
    // replace the FP8 ones under the same names (the same sums in the same order).
    const bool fp8 = config.linearFormat() == WeightFormat::Fp8;
    double layerBytes = 0, otherBytes = 0;
    for (const TensorView *v : (*store)->tensors()) {
        const bool woA = fp8 && v->name.ends_with("attn.wo_a.weight");
        const size_t loaded = woA ? static_cast<size_t>(v->numel()) * 2 : v->bytes;
        const double bytes = double((loaded + 255) / 256 * 256); // as uploaded
        (v->name.rfind("layers.", 0) == 0 ? layerBytes : otherBytes) += bytes;
    }
    size_t freeB = 0, totalB = 0;
    if (cudaMemGetInfo(&freeB, &totalB) != cudaSuccess)
        return written;
    const double perLayer = layerBytes / written;
    const int fit = static_cast<int>((double(freeB) - otherBytes - kFitReserve) / perLayer);
    std::printf("  fit: %.1f GiB free of %.1f, %.2f GiB a layer, %.2f GiB besides: %d layers\n",
                freeB / double(1ull << 30),
                totalB / double(1ull << 30),
                perLayer / double(1ull << 30),
                otherBytes / double(1ull << 30),
                fit);
    return std::max(written, std::min(fit, kFlashLayers - firstLayer));
}

int main(int argc, char **argv)
{
    std::string dir = "/tmp/fathom-flash-slice";
    int layers = 4, decodeSteps = 32, prefill = 8192, chunk = 8192;
    int firstLayer = 3; // V4-Flash's layers 3.. (HCA, CSA, ...; 0-1 are sliding-window only)
    int64_t longTokens = 131072;
    int repeat = 0; // --repeat: 0 the written layers, N, or -1 = as many as fit
    bool opsOnly = false;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--model")
            dir = argv[i + 1];
        else if (a == "--layers")
            layers = std::atoi(argv[i + 1]);
        else if (a == "--decode-steps")
            decodeSteps = std::atoi(argv[i + 1]);
        else if (a == "--prefill")
            prefill = std::atoi(argv[i + 1]);
        else if (a == "--long")
            longTokens = std::atoll(argv[i + 1]);
        else if (a == "--from")
            firstLayer = std::atoi(argv[i + 1]);
        else if (a == "--chunk")
            chunk = std::atoi(argv[i + 1]);
        else if (a == "--repeat")
            repeat = std::strcmp(argv[i + 1], "fit") == 0 ? -1 : std::atoi(argv[i + 1]);
        else if (a == "--ops-only") // attn: only the ceilings and the op timings
            opsOnly = std::atoi(argv[i + 1]) != 0;
    }
    const GpuDeviceList devices = listCudaDevices();
    std::printf("%s", describeCudaDevices(devices).c_str());
    if (!devices.available) {
        std::printf("SKIP: %s\n", devices.unavailableReason.c_str());
        return 77;
    }

    std::printf("ceilings\n");
    const double bw = copyBandwidth();
    row("device copy bandwidth (read+write)", fmt("%.0f GB/s", bw / 1e9));
    const double fp8 = fp8Rate();
    row("FP8 e4m3 GEMM 8192^3 (cuBLASLt)", fp8 > 0 ? fmt("%.0f TFLOP/s", fp8 / 1e12) : "n/a");
    const double bs = blockScaledRate();
    row("FP8 block-scaled GEMM 8192^3 (engine path)",
        bs > 0 ? fmt("%.0f TFLOP/s", bs / 1e12) : "n/a",
        bs > 0 && fp8 > 0 ? fmt("= %.1f %% of FP8 rate (goal >= 40 %%)", 100 * bs / fp8) : "");

    benchAttnOps();  // attn
    benchGemms(fp8); // tcgemm
    benchGemvs(bw);  // gemvtc
    benchNodeFloor();
    if (opsOnly) {
        std::printf("\n");
        for (const Row &r : g_rows)
            std::printf("| %-44s | %-18s | %s\n", r.what.c_str(), r.value.c_str(), r.goal.c_str());
        return 0;
    }

    if (!std::filesystem::exists(dir + "/config.json")) {
        std::printf("writing the flash-slice model (%d layers from layer %d) to %s\n",
                    layers,
                    firstLayer,
                    dir.c_str());
        MakeModelOptions mo;
        mo.outDir = dir;
        mo.preset = "flash-slice";
        mo.layers = layers;
        mo.firstLayer = firstLayer;
        mo.seed = 1;
        const auto t0 = std::chrono::steady_clock::now();
        if (auto r = writeRandomModel(mo); !r) {
            std::printf("FAIL: %s\n", r.error().toString().c_str());
            return 1;
        }
        std::printf("  written in %.1f s\n", seconds(t0, std::chrono::steady_clock::now()));
    }
    // --repeat: the layer count first (config and tensor sizes), then one load.
    int written = 0, n = 0;
    if (repeat != 0) {
        auto config = loadModelConfig(dir);
        if (!config) {
            std::printf("FAIL: %s\n", config.error().toString().c_str());
            return 1;
        }
        written = config->numHiddenLayers;
        n = repeatedLayers(dir, *config, repeat, firstLayer);
    }
    const auto t0 = std::chrono::steady_clock::now();
    auto weights = n > written ? ModelWeights::loadRepeated(dir, n) : ModelWeights::load(dir);
    if (!weights) {
        std::printf("FAIL: %s\n", weights.error().toString().c_str());
        return 1;
    }
    if (n > written)
        row("slice: written layers repeated",
            fmt("%.0f layers", n),
            fmt("(layer l = written layer l mod %.0f, ", written)
                + fmt("distinct device copies; mapped in %.1f s)",
                      seconds(t0, std::chrono::steady_clock::now())));
    auto model = V4Model::create(**weights);
    if (!model) {
        std::printf("FAIL: %s\n", model.error().toString().c_str());
        return 1;
    }
    const ModelConfig &c = (*model)->config();
    auto gpu = CudaExecutor::create(0);
    if (!gpu) {
        std::printf("FAIL: %s\n", gpu.error().toString().c_str());
        return 1;
    }
    CudaExecutor &x = **gpu;
    {
        const auto t0 = std::chrono::steady_clock::now();
        if (auto r = x.uploadModel(**model); !r) {
            std::printf("FAIL: %s\n", r.error().toString().c_str());
            return 1;
        }
        row("model on the device (" + std::to_string(c.numHiddenLayers) + " layers + MTP)",
            fmt("%.1f GiB", x.memoryStats().weightBytes / double(1ull << 30)),
            fmt("(upload %.1f s)", seconds(t0, std::chrono::steady_clock::now())));
    }
    {
        std::string kinds;
        for (int l = 0; l < c.numHiddenLayers; ++l)
            kinds += std::string(kinds.empty() ? "" : " ")
                     + (c.compressRatio(l) == 0   ? "SWA"
                        : c.compressRatio(l) == 4 ? "CSA"
                                                  : "HCA")
                     + (l < c.numHashLayers ? "/hash" : "");
        row("layers (attention / routing)", kinds, "(+ MTP)");
    }
    V4Forward fwd(**model, x);
    std::mt19937 rng(3);
    auto randomTokens = [&](int64_t n) {
        std::vector<int32_t> t(static_cast<size_t>(n));
        for (auto &v : t)
            v = static_cast<int32_t>(rng() % static_cast<uint32_t>(c.vocabSize));
        return t;
    };
    std::vector<float> logits(static_cast<size_t>(c.vocabSize));

    // ---- batch-1 decode -------------------------------------------------------------------------
    std::printf("batch-1 decode\n");
    {
        SequenceState st(c);
        auto prompt = randomTokens(256);
        if (auto r = fwd.forward({{&st, prompt.data(), 256, 0}}, logits.data()); !r) {
            std::printf("FAIL: %s\n", r.error().toString().c_str());
            return 1;
        }
        // FATHOM_BENCH_NCU=1: two warm steps, then two steps between cudaProfilerStart/Stop
        // (for `ncu --profile-from-start off`: per-kernel time and DRAM bytes of a decode step;
        // tests/gpu/run-device-checks.sh), then exit.
        if (const char *ncu = std::getenv("FATHOM_BENCH_NCU"); ncu && std::strcmp(ncu, "1") == 0) {
            auto steps = randomTokens(4);
            for (int i = 0; i < 4; ++i) {
                if (i == 2)
                    (void) cudaProfilerStart();
                if (auto r = fwd.forward({{&st, steps.data() + i, 1, 0}}, logits.data()); !r) {
                    std::printf("FAIL: %s\n", r.error().toString().c_str());
                    return 1;
                }
            }
            (void) x.synchronize();
            (void) cudaProfilerStop();
            std::printf("ncu: 2 decode steps profiled\n");
            return 0;
        }
        auto next = randomTokens(decodeSteps + 4);
        std::vector<double> t;
        for (int i = 0; i < decodeSteps + 4; ++i) {
            const auto t0 = std::chrono::steady_clock::now();
            if (auto r = fwd.forward({{&st, next.data() + i, 1, 0}}, logits.data()); !r) {
                std::printf("FAIL: %s\n", r.error().toString().c_str());
                return 1;
            }
            if (i >= 4)
                t.push_back(seconds(t0, std::chrono::steady_clock::now()));
        }
        std::sort(t.begin(), t.end());
        const double step = t[t.size() / 2];
        const double bytes = decodeWeightBytes(**model);
        const double achieved = bytes / step;
        row("decode step (median)", fmt("%.3f ms", step * 1e3));
        row("weight bytes per step", fmt("%.2f GB", bytes / 1e9));
        row("weight bytes/step / step time",
            fmt("%.0f GB/s", achieved / 1e9),
            fmt("= %.0f %% of copy bw (goal >= 70 %%)", 100 * achieved / bw));
        const double floorS = bytes / bw;
        row("per-layer overhead beyond the bw floor",
            fmt("%.1f us", (step - floorS) / c.numHiddenLayers * 1e6),
            "(goal <= 15 us)");
        // What the overhead is spent on: every graph node costs launch latency.
        const long long nodes = x.stepStats().lastGraphNodes;
        if (nodes > 0) {
            char per[96];
            std::snprintf(per,
                          sizeof per,
                          "(%.1f per layer; %.2f us per node beyond the bw floor)",
                          double(nodes) / c.numHiddenLayers,
                          (step - floorS) / double(nodes) * 1e6);
            row("graph nodes per decode step", fmt("%.0f", double(nodes)), per);
        }
        // pdl: the same decode steps with programmatic dependent launch off and on, alternating
        // in rounds (each mode keeps its own step graph; the first steps of a round are dropped).
        {
            constexpr int kRounds = 6, kSteps = 8, kDrop = 2;
            auto more = randomTokens(2 * kRounds * kSteps);
            std::vector<double> tm[2];
            int at = 0;
            for (int round = 0; round < kRounds; ++round)
                for (int mode = 0; mode < 2; ++mode) {
                    fathom::kernels::set_cuda_pdl(mode);
                    for (int i = 0; i < kSteps; ++i, ++at) {
                        const auto t0 = std::chrono::steady_clock::now();
                        if (auto r = fwd.forward({{&st, more.data() + at, 1, 0}}, logits.data());
                            !r) {
                            std::printf("FAIL: %s\n", r.error().toString().c_str());
                            return 1;
                        }
                        if (i >= kDrop)
                            tm[mode].push_back(seconds(t0, std::chrono::steady_clock::now()));
                    }
                }
            fathom::kernels::set_cuda_pdl(-1);
            for (auto &v : tm)
                std::sort(v.begin(), v.end());
            const double off = tm[0][tm[0].size() / 2], on = tm[1][tm[1].size() / 2];
            char value[64], note[128];
            std::snprintf(value, sizeof value, "%.3f / %.3f ms", off * 1e3, on * 1e3);
            std::snprintf(note,
                          sizeof note,
                          "(on/off %.3f; %.1f us per layer saved%s)",
                          on / off,
                          (off - on) / c.numHiddenLayers * 1e6,
                          fathom::kernels::cuda_pdl_enabled() ? "" : "; no PDL on this device");
            row("decode step, PDL off / on (median)", value, note);
        }
        // Where a decode step's time goes: a few steps with every op bracketed by device
        // events (profiling runs the ops eagerly, without the step graph and PDL overlap), per
        // op of CudaExecutor: device time per step and calls per step. The op rows against the
        // step time above show the launch gaps; against the weight bytes, the slow kernels.
        {
            constexpr int kSteps = 4;
            auto more = randomTokens(kSteps + 1);
            (void) fwd.forward({{&st, more.data(), 1, 0}}, logits.data()); // eager warm-up
            x.setProfiling(true);
            (void) x.takeProfile();
            const auto t0 = std::chrono::steady_clock::now();
            for (int i = 1; i <= kSteps; ++i)
                (void) fwd.forward({{&st, more.data() + i, 1, 0}}, logits.data());
            const double wall = seconds(t0, std::chrono::steady_clock::now()) / kSteps;
            auto prof = x.takeProfile();
            x.setProfiling(false);
            if (prof) {
                double total = 0;
                for (const auto &[name, v] : prof->byOp)
                    total += v.ms / kSteps;
                row("decode step, profiled (eager, events per op)",
                    fmt("%.3f ms", wall * 1e3),
                    fmt("(ops %.3f ms of device time)", total));
                opRows(*prof, kSteps, bw, 0);
            }
        }
    }

    // ---- prefill --------------------------------------------------------------------------------
    std::printf("prefill of %d tokens\n", prefill);
    if (prefill > 0) {
        SequenceState st(c);
        auto prompt = randomTokens(prefill);
        // Warm-up on a short prompt (module load, arena).
        SequenceState warm(c);
        (void) fwd.forward({{&warm, prompt.data(), 512, 0}}, logits.data());
        (void) x.synchronize();
        x.setProfiling(true);
        (void) x.takeProfile();
        const auto t0 = std::chrono::steady_clock::now();
        auto r = fwd.forward({{&st, prompt.data(), prefill, 0}}, logits.data());
        const double s = seconds(t0, std::chrono::steady_clock::now());
        auto prof = x.takeProfile();
        x.setProfiling(false);
        if (!r || !prof) {
            std::printf("FAIL: %s\n", (!r ? r.error() : prof.error()).toString().c_str());
            return 1;
        }
        row("prefill tokens/s", fmt("%.0f", prefill / s), fmt("(%.2f s)", s));
        {
            // ltexperts: the last row's logits, to compare the A/B runs of the device script
            // (FATHOM_CUDA_EXPERTS_LT=0 and the like change the summation order: close, not equal).
            double sumAbs = 0;
            size_t arg = 0;
            for (size_t i = 0; i < logits.size(); ++i) {
                sumAbs += std::fabs(logits[i]);
                if (logits[i] > logits[arg])
                    arg = i;
            }
            row("prefill last-row logits (A/B check)",
                fmt("mean |l| %.6f", sumAbs / std::max<size_t>(logits.size(), 1)),
                fmt("argmax %.0f", static_cast<double>(arg)));
        }
        double opMs = 0;
        for (const auto &[k, v] : prof->ms)
            opMs += v;
        for (const char *k : {"gemm", "attention", "indexer", "other"}) {
            const double ms = prof->ms.count(k) ? prof->ms.at(k) : 0.0;
            row(std::string("  time in ") + k,
                fmt("%.1f ms", ms),
                fmt("(%.0f %% of op time)", 100 * ms / std::max(opMs, 1e-9)));
        }
        row("  host / gaps (wall - op time)", fmt("%.1f ms", s * 1e3 - opMs));
        opRows(*prof, 1, bw, 12); // the 12 slowest ops (GEMMs by weight)
        const double gemmMs = prof->ms.count("gemm") ? prof->ms.at("gemm") : 0.0;
        const double rate = prof->gemmFlops / std::max(gemmMs * 1e-3, 1e-12);
        row("GEMM rate",
            fmt("%.1f TFLOP/s", rate / 1e12),
            fp8 > 0 ? fmt("= %.1f %% of FP8 rate (goal >= 40 %%)", 100 * rate / fp8) : "");
        // resident: the first 8K prompt converted the FP4 experts it reached and, where memory
        // allowed, kept the e4m3 copies (CudaExecutor::residentFold); it also made the cuBLASLt
        // plans of its row counts (the 512-token warm-up reaches none of the expert paths). A
        // second prompt of the same length shows the steady state, the first the cold start.
        const uint64_t folded = x.memoryStats().foldedBytes;
        row("  folded expert copies kept", fmt("%.2f GiB", folded / double(1ull << 30)));
        {
            SequenceState again(c);
            (void) x.synchronize();
            x.setProfiling(true);
            (void) x.takeProfile();
            const auto t1 = std::chrono::steady_clock::now();
            auto r2 = fwd.forward({{&again, prompt.data(), prefill, 0}}, logits.data());
            const double s2 = seconds(t1, std::chrono::steady_clock::now());
            auto prof2 = x.takeProfile();
            x.setProfiling(false);
            if (r2 && prof2) {
                const double g2 = prof2->ms.count("gemm") ? prof2->ms.at("gemm") : 0.0;
                const double rate2 = prof2->gemmFlops / std::max(g2 * 1e-3, 1e-12);
                row("prefill tokens/s, second prompt",
                    fmt("%.0f", prefill / s2),
                    fmt("(%.2f s; ", s2) + fmt("gemm %.1f ms)", g2));
                row("GEMM rate, second prompt",
                    fmt("%.1f TFLOP/s", rate2 / 1e12),
                    fp8 > 0 ? fmt("= %.1f %% of FP8 rate", 100 * rate2 / fp8) : "");
            } else {
                row("prefill tokens/s, second prompt",
                    "FAILED: " + (!r2 ? r2.error() : prof2.error()).toString());
            }
        }
    }

    // ---- long prefill ---------------------------------------------------------------------------
    std::printf("prefill of %lld tokens in chunks of %d\n",
                static_cast<long long>(longTokens),
                chunk);
    if (longTokens > 0) {
        x.trimCache();
        const uint64_t before = x.memoryStats().liveBytes;
        x.resetPeak();
        // As the scheduler makes it (no rewind history: generation needs none); the compressed
        // caches sized for the prompt once (SequenceState::reserve) instead of doubling.
        SequenceState st(c, 0);
        auto prompt = randomTokens(longTokens);
        const auto t0 = std::chrono::steady_clock::now();
        Result<void> moved = st.useMemory(&x);
        if (moved)
            moved = st.reserve(longTokens);
        if (!moved)
            std::printf("FAIL: state reserve: %s\n", moved.error().toString().c_str());
        for (int64_t p = 0; p < longTokens; p += chunk) {
            const int n = static_cast<int>(std::min<int64_t>(chunk, longTokens - p));
            ForwardItem it{&st, prompt.data() + p, n, 0, p + n == longTokens};
            if (auto r = fwd.forward({it}, logits.data()); !r) {
                std::printf("FAIL at %lld: %s\n",
                            static_cast<long long>(p),
                            r.error().toString().c_str());
                row("long prefill", "FAILED: " + r.error().toString());
                break;
            }
        }
        (void) x.synchronize();
        const double s = seconds(t0, std::chrono::steady_clock::now());
        const CudaMemoryStats ms = x.memoryStats();
        const double state = double(ms.liveBytes - before);
        const double gib = double(1ull << 30), mib = double(1ull << 20);
        auto fmt2 = [](const char *f, double a, double b) {
            char buf[160];
            std::snprintf(buf, sizeof buf, f, a, b);
            return std::string(buf);
        };
        const KvStateBytes bf16 = kvStateBytes(c, KvLayout::Bf16, longTokens);
        const KvStateBytes packed = kvStateBytes(c, KvLayout::Packed, longTokens);
        const auto held = st.storageBytes(false, 0, c.numHiddenLayers);
        const auto alloc = st.storageBytes(true, 0, c.numHiddenLayers);
        const auto all = st.storageBytes(true);
        row("long prefill", fmt("%.1f s", s), fmt("(%.0f tokens/s)", longTokens / s));
        // §5.2's totals: window rings + compressed caches (the compressor state apart).
        const double ours = double(alloc.window + alloc.compressed);
        row("sequence state on the device",
            fmt("%.3f GiB", state / gib),
            fmt2("(arena bytes; §5.2 bf16 %.3f GiB, packed %.3f GiB, these layers)",
                 bf16.total() / gib,
                 packed.total() / gib));
        row("  state rows (window + compressed, main)",
            fmt("%.3f GiB", ours / gib),
            fmt2("= %.3f x §5.2 bf16, %.3f x packed", ours / bf16.total(), ours / packed.total()));
        row("  compressed caches held / allocated",
            fmt2("%.1f / %.1f MiB", held.compressed / mib, alloc.compressed / mib),
            fmt2("(§5.2 packed %.1f MiB, bf16 %.1f MiB)",
                 packed.compressed / mib,
                 bf16.compressed / mib));
        row("  window rings held / allocated",
            fmt2("%.2f / %.2f MiB", held.window / mib, alloc.window / mib),
            fmt2("(§5.2 packed %.2f MiB, bf16 %.2f MiB)", packed.window / mib, bf16.window / mib));
        // packedkv: the layout the device state used (FATHOM_CUDA_KV_LAYOUT=bf16 / _FP32_STATE).
        row("  device state layout",
            x.kvLayout() == KvLayout::Packed ? "packed"
            : x.kvLayout() == KvLayout::Bf16 ? "bf16"
                                             : "fp32",
            fmt2("(compressed caches %.3f x §5.2 packed, %.3f x bf16)",
                 double(alloc.compressed) / double(packed.compressed),
                 double(alloc.compressed) / double(bf16.compressed)));
        row("  compressor rows (fp32) held / allocated",
            fmt2("%.2f / %.2f MiB", held.compressor / mib, alloc.compressor / mib),
            fmt("(§5.2 %.2f MiB)", bf16.compressorState / mib));
        row("  whole state incl. MTP, allocated",
            fmt("%.3f GiB", (all.window + all.compressed + all.compressor) / gib),
            fmt("(+ %.1f MiB host checkpoints)", all.checkpoints / mib));
        auto inexact = x.stateRowsInexact();
        row("  state values the appends rounded",
            inexact ? fmt("%.0f", static_cast<double>(*inexact)) : "read failed",
            "(0: the rows are exact in the packed / bf16 layout)");
        row("peak device memory (weights + arena)",
            fmt("%.1f GiB", ms.peakBytes / double(1ull << 30)));
    }

    std::printf("\n| %-44s | %-18s | %s\n", "measure", "value", "goal / note");
    std::printf("|%s|%s|%s\n", std::string(46, '-').c_str(), std::string(20, '-').c_str(), "------");
    for (const Row &r : g_rows)
        std::printf("| %-44s | %-18s | %s\n", r.what.c_str(), r.value.c_str(), r.goal.c_str());
    return 0;
}
