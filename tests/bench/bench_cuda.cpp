// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// CUDA engine benchmark (issue 5) on a V4-Flash-shaped slice with random weights
// (engine/model/modelwriter.h, preset flash-slice: the real layer dimensions and formats, FP8
// attention, 256 FP4 experts of width 2048, the real vocabulary, --layers N main layers + MTP).
//
//   bench_cuda [--model DIR] [--layers N] [--decode-steps N] [--prefill N] [--long N] [--chunk N]
//
// Measures in the same run, on the same device:
//  - ceilings: device-to-device copy bandwidth (bytes read + written / time) and the FP8 e4m3
//    tensor-core rate of an 8192^3 cuBLASLt GEMM on random data;
//  - batch-1 decode: weight bytes read per step (every projection the step touches, the 6 routed
//    experts + shared per layer, head) / step time, against the copy bandwidth (goal >= 70 %),
//    and the time per layer beyond that bandwidth floor (goal <= 15 us);
//  - prefill of --prefill tokens (8192): tokens/s and the split between GEMMs, attention and
//    the indexer (device events per op), GEMM rate against the FP8 rate (goal >= 40 %);
//  - a --long token prefill (131072) in --chunk pieces: completes, and the sequence state's
//    device memory against spec §5.2 for these layers.
// Prints a table last. Figures go to docs/perf/cuda.md.

#include "engine/api/gpudevices.h"
#include "engine/cuda/cublaslt_linear.h"
#include "engine/cuda/cudaexecutor.h"
#include "engine/model/modelweights.h"
#include "engine/model/modelwriter.h"
#include "engine/runtime/forward.h"
#include "engine/runtime/v4model.h"

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
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

// Weight bytes one batch-1 decode step reads: every projection of the main blocks (K routed
// experts + shared), the mHC weights, the head, one embedding row.
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

// Sequence-state bytes spec §5.2 gives for `tokens` of context over these layers (bf16 layout:
// entry 1024 B, index key 256 B, window 128 entries per layer).
double specStateBytes(const ModelConfig &c, int64_t tokens)
{
    double b = 0;
    for (int i = 0; i < c.numHiddenLayers; ++i) {
        const int m = c.compressRatio(i);
        b += 128.0 * 1024;
        if (m == 4)
            b += double(tokens / 4) * (1024 + 256);
        else if (m)
            b += double(tokens / m) * 1024;
    }
    return b;
}

double seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b)
{
    return std::chrono::duration<double>(b - a).count();
}

} // namespace

int main(int argc, char **argv)
{
    std::string dir = "/tmp/fathom-flash-slice";
    int layers = 4, decodeSteps = 32, prefill = 8192, chunk = 8192;
    int64_t longTokens = 131072;
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
        else if (a == "--chunk")
            chunk = std::atoi(argv[i + 1]);
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

    if (!std::filesystem::exists(dir + "/config.json")) {
        std::printf("writing the flash-slice model (%d layers) to %s\n", layers, dir.c_str());
        MakeModelOptions mo;
        mo.outDir = dir;
        mo.preset = "flash-slice";
        mo.layers = layers;
        mo.seed = 1;
        const auto t0 = std::chrono::steady_clock::now();
        if (auto r = writeRandomModel(mo); !r) {
            std::printf("FAIL: %s\n", r.error().toString().c_str());
            return 1;
        }
        std::printf("  written in %.1f s\n", seconds(t0, std::chrono::steady_clock::now()));
    }
    auto weights = ModelWeights::load(dir);
    if (!weights) {
        std::printf("FAIL: %s\n", weights.error().toString().c_str());
        return 1;
    }
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
    }

    // ---- prefill --------------------------------------------------------------------------------
    std::printf("prefill of %d tokens\n", prefill);
    {
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
        const double gemmMs = prof->ms.count("gemm") ? prof->ms.at("gemm") : 0.0;
        const double rate = prof->gemmFlops / std::max(gemmMs * 1e-3, 1e-12);
        row("GEMM rate",
            fmt("%.1f TFLOP/s", rate / 1e12),
            fp8 > 0 ? fmt("= %.1f %% of FP8 rate (goal >= 40 %%)", 100 * rate / fp8) : "");
    }

    // ---- long prefill ---------------------------------------------------------------------------
    std::printf("prefill of %lld tokens in chunks of %d\n",
                static_cast<long long>(longTokens),
                chunk);
    {
        x.trimCache();
        const uint64_t before = x.memoryStats().liveBytes;
        x.resetPeak();
        SequenceState st(c);
        auto prompt = randomTokens(longTokens);
        const auto t0 = std::chrono::steady_clock::now();
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
        const double spec = specStateBytes(c, longTokens);
        row("long prefill", fmt("%.1f s", s), fmt("(%.0f tokens/s)", longTokens / s));
        row("sequence state on the device",
            fmt("%.3f GiB", state / double(1ull << 30)),
            fmt("(spec 5.2 bf16 layout, these layers: %.3f GiB)", spec / double(1ull << 30)));
        row("peak device memory (weights + arena)",
            fmt("%.1f GiB", ms.peakBytes / double(1ull << 30)));
    }

    std::printf("\n| %-44s | %-18s | %s\n", "measure", "value", "goal / note");
    std::printf("|%s|%s|%s\n", std::string(46, '-').c_str(), std::string(20, '-').c_str(), "------");
    for (const Row &r : g_rows)
        std::printf("| %-44s | %-18s | %s\n", r.what.c_str(), r.value.c_str(), r.goal.c_str());
    return 0;
}
