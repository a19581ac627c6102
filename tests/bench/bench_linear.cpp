// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// CPU LINEAR micro-benchmark (issue 6): GB/s of weight bytes streamed by batch-1 linears (decode)
// against a memcpy bandwidth measured in the same run, and GFLOP/s of prefill-sized GEMMs.
// Figures: docs/perf/cpu-kernels.md. Usage: bench_linear [--quick | --gemm [--quick] |
// --gemm-fp32 [--quick]]

#include "engine/core/threadpool.h"
#include "kernels/cpu_features.h"
#include "kernels/formats.h"
#include "kernels/linear.h"
#include "kernels/quant.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>
#include <vector>

using namespace fathom::kernels;
using fathom::engine::ThreadPool;
using Clock = std::chrono::steady_clock;

namespace {

double seconds(Clock::time_point a, Clock::time_point b)
{
    return std::chrono::duration<double>(b - a).count();
}

// Process CPU seconds (all threads). On a shared machine, work / (CPU seconds / threads) is the
// rate the code would reach with the cores to itself (compute-bound parts), next to the wall rate.
double cpuSeconds()
{
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// Bytes copied per second (each byte read once and written once), best of several runs.
double memcpyBandwidth(ThreadPool &pool, size_t bytes)
{
    std::vector<uint8_t> src(bytes, 1), dst(bytes, 0);
    double best = 0;
    for (int rep = 0; rep < 5; ++rep) {
        const auto t0 = Clock::now();
        parallel_for(&pool, pool.thread_count(), 1, [&](int64_t b, int64_t e) {
            for (int64_t t = b; t < e; ++t) {
                const size_t chunk = bytes / size_t(pool.thread_count());
                std::memcpy(dst.data() + size_t(t) * chunk, src.data() + size_t(t) * chunk, chunk);
            }
        });
        best = std::max(best, double(bytes) / seconds(t0, Clock::now()));
    }
    return best;
}

// Bytes read per second by a read-only pass (what a batch-1 linear does with its weights): each
// thread sums its contiguous slice of a buffer far larger than the caches, best of several.
double readBandwidth(ThreadPool &pool, size_t bytes)
{
    const size_t words = bytes / sizeof(uint64_t);
    std::vector<uint64_t> src(words, 1);
    std::vector<uint64_t> sums(size_t(pool.thread_count()), 0);
    double best = 0;
    for (int rep = 0; rep < 5; ++rep) {
        const auto t0 = Clock::now();
        parallel_for(&pool, pool.thread_count(), 1, [&](int64_t b, int64_t e) {
            for (int64_t t = b; t < e; ++t) {
                const size_t chunk = words / size_t(pool.thread_count());
                const uint64_t *p = src.data() + size_t(t) * chunk;
                uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
                for (size_t i = 0; i + 8 <= chunk; i += 8) {
                    a0 += p[i];
                    a1 += p[i + 1];
                    a2 += p[i + 2];
                    a3 += p[i + 3];
                    a4 += p[i + 4];
                    a5 += p[i + 5];
                    a6 += p[i + 6];
                    a7 += p[i + 7];
                }
                sums[size_t(t)] += a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
            }
        });
        best = std::max(best, double(words * sizeof(uint64_t)) / seconds(t0, Clock::now()));
    }
    uint64_t total = 0;
    for (uint64_t v : sums)
        total += v;
    if (total == 1) // never; keeps the reads observable
        std::printf(" ");
    return best;
}

struct Weights
{
    linear_weight_type type;
    int n, k;
    std::vector<uint8_t> w, s;
};

Weights makeWeights(linear_weight_type type, int n, int k, unsigned seed)
{
    Weights r{type, n, k, {}, {}};
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 1.0f / 32);
    std::vector<float> f(size_t(n) * k);
    for (float &v : f)
        v = nd(rng);
    switch (type) {
    case linear_weight_type::bf16:
        r.w.resize(f.size() * 2);
        f32_to_bf16_row(f.data(), reinterpret_cast<uint16_t *>(r.w.data()), int64_t(f.size()));
        break;
    case linear_weight_type::fp8_e4m3:
        r.w.resize(f.size());
        r.s.resize(size_t((n + 127) / 128) * ((k + 127) / 128));
        quantize_weight_e4m3(f.data(), n, k, r.w.data(), r.s.data());
        break;
    case linear_weight_type::fp4_e2m1:
        r.w.resize(f.size() / 2);
        r.s.resize(f.size() / 32);
        quantize_weight_e2m1(f.data(), n, k, r.w.data(), r.s.data());
        break;
    default:
        break;
    }
    return r;
}

const char *typeName(linear_weight_type t)
{
    switch (t) {
    case linear_weight_type::bf16:
        return "bf16";
    case linear_weight_type::f32:
        return "f32";
    case linear_weight_type::fp8_e4m3:
        return "fp8";
    case linear_weight_type::fp4_e2m1:
        return "fp4";
    }
    return "?";
}

linear_params params(const Weights &w, const void *x, void *y, int m, linear_accum accum)
{
    linear_params p;
    p.x = x;
    p.w = w.w.data();
    p.w_scale = w.s.empty() ? nullptr : w.s.data();
    p.w_type = w.type;
    p.y = y;
    p.m = m;
    p.n = w.n;
    p.k = w.k;
    p.accum = accum;
    return p;
}

// `--gemm`: the prefill GEMMs of the small benchmark model (m = 256 and 1024 rows; experts
// ~192 rows), every LINEAR variant on the same problem in the same run: the exact mode's GEMM
// (double FMAs; FP4: the VNNI integer kernel, and the double GEMM as "exact/no-vnni"), the fp32
// mode on this CPU (AVX-512 BF16: vdpbf16ps block sums, linear_bf16dot.cpp) and the fp32 mode
// without AVX-512 (plain fp32 FMAs, linear_cpu_avx2). Speed-up = rate / exact rate.
int gemmTable(bool quick, bool fp32Only)
{
    ThreadPool pool(cpu_physical_threads());
    std::printf("bench_linear --gemm: %d thread(s), AVX-512 %s, VNNI %s, BF16 %s\n\n",
                pool.thread_count(),
                cpu_has_avx512() ? "yes" : "no",
                cpu_has_avx512_vnni() ? "yes" : "no",
                cpu_has_avx512_bf16() ? "yes" : "no");
    std::printf("%-5s %-17s %-18s %10s %12s %9s\n",
                "type",
                "m x n x k",
                "variant",
                "GFLOP/s",
                "cpu GFLOP/s",
                "vs exact");
    struct GemmCase
    {
        const char *what;
        linear_weight_type t;
        int m, n, k;
    };
    std::vector<GemmCase> cases;
    for (int m : {256, 1024}) {
        if (quick && m > 256)
            continue;
        cases.push_back({"wq_b", linear_weight_type::fp8_e4m3, m, 4096, 512});
        cases.push_back({"wq_a/wkv", linear_weight_type::fp8_e4m3, m, 512, 1024});
        cases.push_back({"wo_b", linear_weight_type::fp8_e4m3, m, 1024, 1024});
        cases.push_back({"wo_a group", linear_weight_type::bf16, m, 512, 2048});
    }
    cases.push_back({"expert w1/w3", linear_weight_type::fp4_e2m1, 192, 512, 1024});
    cases.push_back({"expert w2", linear_weight_type::fp4_e2m1, 192, 1024, 512});
    // A 256-token prompt: 32 experts top-6 give each expert ~48 rows (and a few 16 or fewer).
    for (int m : {48, 16}) {
        cases.push_back({"expert w1/w3", linear_weight_type::fp4_e2m1, m, 512, 1024});
        cases.push_back({"expert w2", linear_weight_type::fp4_e2m1, m, 1024, 512});
    }
    std::mt19937 rng(3);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<uint16_t> x(size_t(1024) * 2048);
    for (uint16_t &v : x)
        v = f32_to_bf16(nd(rng));
    std::vector<float> y(size_t(1024) * 4096);
    for (const GemmCase &g : cases) {
        const Weights w = makeWeights(g.t, g.n, g.k, 2);
        double exactRate = 0;
        for (int variant = 0; variant < 4; ++variant) {
            if (variant == 1 && g.t != linear_weight_type::fp4_e2m1)
                continue;
            if (fp32Only && variant != 2)
                continue;
            const linear_accum acc = variant >= 2 ? linear_accum::fp32 : linear_accum::exact;
            double best = 0, bestCpu = 0;
            // Small problems (the experts' few rows) repeat the call for >= 20 ms per timing.
            for (int rep = 0; rep < (quick ? 2 : fp32Only ? 5 : 3); ++rep) {
                linear_params p = params(w, x.data(), y.data(), g.m, acc);
                // --gemm-fp32: f32 y, as CpuExecutor's linears write it.
                p.y_type = fp32Only ? act_type::f32 : act_type::bf16;
                const auto t0 = Clock::now();
                const double c0 = cpuSeconds();
                int calls = 0;
                do {
                    if (variant == 1)
                        linear_cpu_avx512_no_vnni(p, &pool);
                    else if (variant == 3)
                        linear_cpu_avx2(p, &pool);
                    else
                        linear_cpu(p, &pool);
                    ++calls;
                } while (seconds(t0, Clock::now()) < 0.02);
                const double flop = 2.0 * g.m * g.n * g.k * calls;
                best = std::max(best, flop / seconds(t0, Clock::now()));
                bestCpu = std::max(bestCpu, flop * pool.thread_count() / (cpuSeconds() - c0));
            }
            if (fp32Only)
                exactRate = best;
            if (variant == 0)
                exactRate = best;
            static const char *names[] = {"exact", "exact/no-vnni", "fp32", "fp32/avx2"};
            char shape[32];
            std::snprintf(shape, sizeof shape, "%4dx%5dx%5d", g.m, g.n, g.k);
            std::printf("%-5s %-17s %-18s %10.2f %12.2f %8.2fx  %s\n",
                        typeName(g.t),
                        shape,
                        names[variant],
                        best / 1e9,
                        bestCpu / 1e9,
                        best / exactRate,
                        g.what);
        }
    }
    return 0;
}

} // namespace

int main(int argc, char **argv)
{
    const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
    if (argc > 1 && std::strcmp(argv[1], "--gemm") == 0)
        return gemmTable(argc > 2 && std::strcmp(argv[2], "--quick") == 0, false);
    if (argc > 1 && std::strcmp(argv[1], "--gemm-fp32") == 0)
        return gemmTable(argc > 2 && std::strcmp(argv[2], "--quick") == 0, true);
    const int threads = cpu_physical_threads();
    std::printf("bench_linear: %d thread(s), AVX2+FMA %s, AVX-512 BF16 (fp32-mode kernels) %s\n\n",
                threads,
                cpu_has_avx2_fma() ? "yes" : "no",
                cpu_has_avx512_bf16() ? "yes" : "no");
    ThreadPool pool1(1), poolN(threads);
    const size_t copyBytes = quick ? (64u << 20) : (256u << 20);
    const double bw1 = memcpyBandwidth(pool1, copyBytes), bwN = memcpyBandwidth(poolN, copyBytes);
    const double rd1 = readBandwidth(pool1, 2 * copyBytes),
                 rdN = readBandwidth(poolN, 2 * copyBytes);
    std::printf(
        "memcpy bandwidth (bytes copied/s, %zu MiB): 1 thread %.2f GB/s, %d threads %.2f GB/s\n",
        copyBytes >> 20,
        bw1 / 1e9,
        threads,
        bwN / 1e9);
    std::printf(
        "read bandwidth (bytes read/s, %zu MiB):     1 thread %.2f GB/s, %d threads %.2f GB/s\n\n",
        (2 * copyBytes) >> 20,
        rd1 / 1e9,
        threads,
        rdN / 1e9);

    // Decode: y = W x for a set of matrices larger than the caches, cycled (the shapes of the
    // small benchmark model: wq_b 4096x512, experts 512x1024).
    std::printf("batch-1 linears (weight bytes streamed per second; ratio to the read bandwidth of "
                "the same thread count; x: bf16-valued or f32 activations)\n");
    std::printf("%-5s %-11s %-4s %-6s %8s %10s %8s %10s\n",
                "type",
                "shape",
                "x",
                "accum",
                "threads",
                "GB/s",
                "ratio",
                "cpu GB/s");
    const size_t targetBytes = quick ? (96u << 20) : (384u << 20);
    std::vector<uint16_t> x(8192, f32_to_bf16(0.5f));
    std::vector<float> xf(8192);
    {
        std::mt19937 rng(5);
        std::normal_distribution<float> nd(0.0f, 1.0f);
        for (float &v : xf)
            v = nd(rng); // full fp32 mantissas, like the LM head's input
    }
    std::vector<float> y(8192 * 512);
    struct Case
    {
        linear_weight_type t;
        int n, k;
        bool f32x;
    };
    const Case cases[] = {{linear_weight_type::bf16, 4096, 512, false},
                          {linear_weight_type::bf16, 8192, 1024, true},   // LM-head-like
                          {linear_weight_type::bf16, 129280, 1024, true}, // the LM head itself
                          {linear_weight_type::fp8_e4m3, 4096, 512, false},
                          {linear_weight_type::fp4_e2m1, 512, 1024, false}};
    for (const Case &cs : cases) {
        const linear_weight_type t = cs.t;
        const int n = cs.n, k = cs.k;
        const Weights one = makeWeights(t, n, k, 1);
        const size_t per = size_t(linear_weight_bytes(t, n, k));
        const int count = int(std::max<size_t>(2, targetBytes / per));
        std::vector<Weights> set(size_t(count), one); // distinct copies: no cache reuse
        for (linear_accum acc : {linear_accum::exact, linear_accum::fp32}) {
            for (ThreadPool *pool : {&pool1, &poolN}) {
                if (pool == &poolN && threads == 1)
                    continue;
                double best = 0, bestCpu = 0;
                for (int rep = 0; rep < 3; ++rep) {
                    const auto t0 = Clock::now();
                    const double c0 = cpuSeconds();
                    for (const Weights &w : set) {
                        linear_params p = params(w,
                                                 cs.f32x ? static_cast<const void *>(xf.data())
                                                         : x.data(),
                                                 y.data(),
                                                 1,
                                                 acc);
                        p.x_type = cs.f32x ? act_type::f32 : act_type::bf16;
                        p.y_type = act_type::f32;
                        linear_cpu(p, pool);
                    }
                    best = std::max(best, double(per) * count / seconds(t0, Clock::now()));
                    bestCpu = std::max(bestCpu,
                                       double(per) * count * pool->thread_count()
                                           / (cpuSeconds() - c0));
                }
                const double ref = pool == &pool1 ? rd1 : rdN;
                std::printf("%-5s %5dx%-5d %-4s %-6s %8d %10.2f %8.2f %10.2f\n",
                            typeName(t),
                            n,
                            k,
                            cs.f32x ? "f32" : "bf16",
                            acc == linear_accum::exact ? "exact" : "fp32",
                            pool->thread_count(),
                            best / 1e9,
                            best / ref,
                            bestCpu / 1e9);
            }
        }
    }

    std::printf("\nprefill GEMMs (2*m*n*k / s)\n");
    std::printf("%-5s %-16s %-6s %8s %10s %12s\n",
                "type",
                "m x n x k",
                "accum",
                "threads",
                "GFLOP/s",
                "cpu GFLOP/s");
    const int m = quick ? 64 : 256;
    std::vector<uint16_t> xm(size_t(m) * 1024);
    std::mt19937 rng(3);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (uint16_t &v : xm)
        v = f32_to_bf16(nd(rng));
    std::vector<float> ym(size_t(m) * 4096);
    // The linear_ref row is the scalar reference (one thread) on the same problem: the baseline
    // the exact GEMM must equal bit for bit.
    struct GemmCase
    {
        linear_weight_type t;
        int m, n, k;
    };
    const GemmCase gemms[] = {{linear_weight_type::bf16, m, 2048, 1024},
                              {linear_weight_type::fp8_e4m3, m, 2048, 1024},
                              {linear_weight_type::fp4_e2m1, m, 2048, 1024},
                              {linear_weight_type::fp4_e2m1, 48, 512, 1024}}; // one expert's rows
    for (const GemmCase &g : gemms) {
        const Weights w = makeWeights(g.t, g.n, g.k, 2);
        // Variant 3 (FP4 only): the exact double GEMM without the VNNI integer kernel, the
        // baseline of the VNNI path in the same run.
        for (int variant = 0; variant < 4; ++variant) {
            const linear_accum acc = variant == 1 ? linear_accum::fp32 : linear_accum::exact;
            if (variant == 2 && quick)
                continue;
            if (variant == 3 && g.t != linear_weight_type::fp4_e2m1)
                continue;
            double best = 0, bestCpu = 0;
            for (int rep = 0; rep < (variant == 2 ? 1 : 3); ++rep) {
                linear_params p = params(w, xm.data(), ym.data(), g.m, acc);
                p.y_type = act_type::f32;
                const auto t0 = Clock::now();
                const double c0 = cpuSeconds();
                if (variant == 2)
                    linear_ref(p);
                else if (variant == 3)
                    linear_cpu_avx512_no_vnni(p, &poolN);
                else
                    linear_cpu(p, &poolN);
                best = std::max(best, 2.0 * g.m * w.n * w.k / seconds(t0, Clock::now()));
                bestCpu = std::max(bestCpu,
                                   2.0 * g.m * w.n * w.k * (variant == 2 ? 1 : poolN.thread_count())
                                       / (cpuSeconds() - c0));
            }
            std::printf("%-5s %4dx%5dx%5d %-6s %8d %10.2f %12.2f%s\n",
                        typeName(g.t),
                        g.m,
                        w.n,
                        w.k,
                        acc == linear_accum::exact ? "exact" : "fp32",
                        variant == 2 ? 1 : poolN.thread_count(),
                        best / 1e9,
                        bestCpu / 1e9,
                        variant == 2   ? "  (linear_ref, scalar)"
                        : variant == 3 ? "  (double GEMM, no VNNI)"
                                       : "");
        }
    }
    return 0;
}
