// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// fathom-cli bench (stable command line, see the README): prefill and decode speed of the CPU
// backend on a model folder, against the memory-bandwidth bound measured in the same run
// (issue 6 "Performance": batch-1 decode >= 50 % of weight bytes per token / copy bandwidth;
// prefill >= 10x the decode rate per token). Token ids are random (seeded), sampling is greedy,
// so no tokenizer is needed.

#include "commands.h"

#include "engine/cpu/cpubackend.h"
#include "engine/model/modelweights.h"
#include "engine/runtime/v4model.h"

#include <nlohmann/json.hpp>

#include <QString>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>
#include <thread>
#include <vector>

namespace fathom::cli {

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t)
{
    return std::chrono::duration<double>(Clock::now() - t).count();
}

// Bytes the forward pass streams for one decoded token at batch 1: every projection of the main
// layers except the routed experts, k routed experts per layer, the mHC matrices, compressor
// position embeddings, the head; one embedding row. Norm vectors and the (short) KV history are
// included where cheap to count; the MTP block is not run by generation.
int64_t decodeWeightBytes(const engine::V4Model &m)
{
    const engine::ModelConfig &c = m.config();
    const int64_t d = c.hiddenSize, n = c.hcMult;
    const int64_t hcFn = (2 + n) * n * n * d * 4 + (2 + n) * n * 4 + 3 * 4;
    int64_t total = d * 2; // embedding row (bf16)
    for (int l = 0; l < c.numHiddenLayers; ++l) {
        const engine::BlockWeights &b = m.block(l);
        for (const engine::LinearWeight *w : {&b.wqA,
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
                                              &b.gate,
                                              &b.shared.w1,
                                              &b.shared.w2,
                                              &b.shared.w3})
            if (w->valid())
                total += w->bytes();
        if (!b.experts.empty()) {
            const engine::ExpertWeights &e = b.experts.front();
            total += int64_t(c.numExpertsPerTok) * (e.w1.bytes() + e.w2.bytes() + e.w3.bytes());
        }
        total += 2 * hcFn;
        total += int64_t(b.attnNorm.size() + b.ffnNorm.size() + b.qNorm.size() + b.kvNorm.size()
                         + b.compNorm.size() + b.idxCompNorm.size())
                 * 4;
        if (b.ratio)
            total += int64_t(b.ratio) * (b.ratio == 4 ? 2 : 1) * c.headDim * 4;
        if (b.ratio == 4)
            total += 4 * 2 * int64_t(c.indexHeadDim) * 4;
        if (b.gateBias)
            total += int64_t(c.nRoutedExperts) * 4;
    }
    total += m.head().bytes() + n * n * d * 4 + d * 4;
    return total;
}

struct Bandwidth
{
    double copy = 0.0; // bytes/s, STREAM convention: read + written bytes of a memcpy
    double read = 0.0; // bytes/s of a read-only pass (how weight streaming uses memory)
    size_t bufferBytes = 0;
};

// Sum of the 64-bit words in [p, p + words): 16-byte loads, four independent accumulators, so the
// loop is limited by memory and not by a dependency chain (SSE2 is part of x86-64).
uint64_t sumWords(const uint64_t *p, size_t words)
{
#if defined(__SSE2__)
    __m128i a0 = _mm_setzero_si128(), a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0;
    for (; i + 8 <= words; i += 8) {
        a0 = _mm_add_epi64(a0, _mm_load_si128(reinterpret_cast<const __m128i *>(p + i)));
        a1 = _mm_add_epi64(a1, _mm_load_si128(reinterpret_cast<const __m128i *>(p + i + 2)));
        a2 = _mm_add_epi64(a2, _mm_load_si128(reinterpret_cast<const __m128i *>(p + i + 4)));
        a3 = _mm_add_epi64(a3, _mm_load_si128(reinterpret_cast<const __m128i *>(p + i + 6)));
    }
    alignas(16) uint64_t lanes[2];
    _mm_store_si128(reinterpret_cast<__m128i *>(lanes),
                    _mm_add_epi64(_mm_add_epi64(a0, a1), _mm_add_epi64(a2, a3)));
    uint64_t s = lanes[0] + lanes[1];
#else
    uint64_t s = 0;
    size_t i = 0;
#endif
    for (; i < words; ++i)
        s += p[i];
    return s;
}

// Best of several passes over two buffers of `bytes` each, far larger than any last-level cache
// (so every pass streams from DRAM), split over `threads` threads that each own a contiguous
// slice, like the linear kernels split weight rows. Threads start together on a flag so the
// timed region is the streaming and not thread creation.
Bandwidth measureBandwidth(int threads, size_t bytes)
{
    threads = std::max(1, threads);
    const size_t words = bytes / sizeof(uint64_t);
    // 64-byte aligned and touched before timing (no page faults in the timed passes).
    std::vector<uint64_t> a(words + 8), b(words + 8);
    uint64_t *pa = a.data(), *pb = b.data();
    while (reinterpret_cast<uintptr_t>(pa) % 64)
        ++pa;
    while (reinterpret_cast<uintptr_t>(pb) % 64)
        ++pb;
    for (size_t i = 0; i < words; ++i)
        pa[i] = i;
    std::fill(pb, pb + words, 1);
    // Slices rounded to 8 words so every thread starts 64-byte aligned.
    const size_t per = ((words + threads - 1) / threads + 7) / 8 * 8;
    auto timed = [&](auto fn) {
        std::atomic<int> ready{0};
        std::atomic<bool> go{false};
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t) {
            const size_t lo = std::min(words, per * t), hi = std::min(words, lo + per);
            pool.emplace_back([&, lo, hi] {
                ++ready;
                while (!go.load(std::memory_order_acquire)) {
                }
                fn(lo, hi);
            });
        }
        while (ready.load() < threads) {
        }
        const Clock::time_point t0 = Clock::now();
        go.store(true, std::memory_order_release);
        for (auto &th : pool)
            th.join();
        return secondsSince(t0);
    };
    Bandwidth best;
    best.bufferBytes = bytes;
    std::atomic<uint64_t> sum{0}; // keeps the reads observable
    for (int rep = 0; rep < 5; ++rep) {
        double s = timed([&](size_t lo, size_t hi) {
            std::memcpy(pb + lo, pa + lo, (hi - lo) * sizeof(uint64_t));
        });
        best.copy = std::max(best.copy, 2.0 * words * sizeof(uint64_t) / s);
        // Read-only: both buffers (2 x bytes), each thread its slice of each.
        s = timed([&](size_t lo, size_t hi) {
            sum += sumWords(pa + lo, hi - lo) + sumWords(pb + lo, hi - lo);
        });
        best.read = std::max(best.read, 2.0 * words * sizeof(uint64_t) / s);
    }
    if (sum.load() == 1) // never true; the reads cannot be optimised away
        std::fputc(' ', stderr);
    return best;
}

class Recorder final : public engine::GenerationListener
{
public:
    void onToken(engine::RequestId, int32_t, bool) override { ++tokens; }
    void onFinished(engine::RequestId,
                    engine::FinishReason,
                    const engine::GenerationStats &) override
    {
        finished = true;
    }
    void onError(engine::RequestId, const engine::Error &e) override
    {
        finished = true;
        error = e.toString();
    }
    int tokens = 0;
    bool finished = false;
    std::string error;
};

void printUsage()
{
    std::printf(
        "usage: fathom-cli bench --model DIR [--json] [--prompt-tokens N] [--decode-tokens N]\n"
        "                        [--batch N] [--threads N] [--exact-linear]\n"
        "  prefill tokens/s (one forward call over N prompt tokens, default 256), batch-1 decode\n"
        "  tokens/s (default 32 tokens, greedy), weight bytes read per decoded token and the\n"
        "  memory bandwidth measured in the same run (read-only and copy, 2 x 512 MiB buffers,\n"
        "  all threads), and the ratios of issue 6 (decode vs 50 %% of the bound = weight bytes\n"
        "  per token / read bandwidth; prefill >= 10x decode per token). --batch N also measures\n"
        "  the aggregate decode rate of N requests sharing steps. The linears accumulate each\n"
        "  weight block in fp32 as the reference does (v4-model-spec.md 6.3); --exact-linear\n"
        "  uses the exact block sums of the numerical oracle instead (slower; --fast-linear,\n"
        "  the default, is still accepted). cpu_utilisation < 1 means\n"
        "  other processes took the cores (the figures are then lower bounds).\n");
}

} // namespace

int runBench(const QStringList &args)
{
    const char *cmd = "bench";
    QString model;
    bool json = false, fastLinear = true;
    int promptTokens = 256, decodeTokens = 32, threads = 0, batch = 0;
    for (int i = 0; i < args.size(); ++i) {
        const QString &a = args.at(i);
        bool ok = true;
        if (a == QLatin1String("--help") || a == QLatin1String("-h")) {
            printUsage();
            return 0;
        } else if (a == QLatin1String("--json")) {
            json = true;
        } else if (a == QLatin1String("--fast-linear")) {
            fastLinear = true;
        } else if (a == QLatin1String("--exact-linear")) {
            fastLinear = false;
        } else if (i + 1 >= args.size()) {
            return usageError(cmd, QStringLiteral("unknown or incomplete option '%1'").arg(a));
        } else if (a == QLatin1String("--model")) {
            model = args.at(++i);
        } else if (a == QLatin1String("--prompt-tokens")) {
            promptTokens = args.at(++i).toInt(&ok);
            ok = ok && promptTokens > 0;
        } else if (a == QLatin1String("--decode-tokens")) {
            decodeTokens = args.at(++i).toInt(&ok);
            ok = ok && decodeTokens > 0;
        } else if (a == QLatin1String("--threads")) {
            threads = args.at(++i).toInt(&ok);
        } else if (a == QLatin1String("--batch")) {
            batch = args.at(++i).toInt(&ok);
            ok = ok && batch >= 0;
        } else {
            return usageError(cmd, QStringLiteral("unknown option '%1'").arg(a));
        }
        if (!ok)
            return usageError(cmd, QStringLiteral("bad value for %1: '%2'").arg(a, args.at(i)));
    }
    if (model.isEmpty())
        return usageError(cmd, QStringLiteral("--model DIR is required"));

    engine::CpuBackendOptions options;
    options.threads = threads;
    options.exactLinear = !fastLinear;
    options.stepTokens = std::max(promptTokens, 256); // the whole prompt in one forward call
    options.maxConcurrent = std::max(1, batch);
    engine::CpuBackend backend(options);
    auto loaded = backend.load({model.toStdString(), {}, 0, {}}, {});
    if (!loaded) {
        std::fprintf(stderr, "fathom-cli bench: %s\n", loaded.error().toString().c_str());
        return 1;
    }
    const engine::ModelConfig &config = backend.model()->config();
    if (promptTokens + decodeTokens + 8 >= config.maxPositionEmbeddings)
        return usageError(cmd, QStringLiteral("prompt + decode tokens exceed the model's context"));

    std::mt19937 gen(2026);
    std::uniform_int_distribution<int32_t> ids(3, static_cast<int32_t>(config.vocabSize - 1));
    auto randomIds = [&](int count) {
        std::vector<int32_t> v(static_cast<size_t>(count));
        for (int32_t &t : v)
            t = ids(gen);
        return v;
    };
    engine::RequestId nextId = 1;
    auto makeRequest = [&](std::vector<int32_t> prompt, int maxTokens) {
        engine::TokenRequest r;
        r.id = nextId++;
        r.prompt = std::move(prompt);
        r.maxTokens = maxTokens;
        r.stopTokens = {-1}; // never stop early: random weights may well produce EOS
        r.sampling.temperature = 0.0f;
        return r;
    };
    engine::Scheduler &sched = *backend.scheduler();
    std::string error;
    // Runs requests to the end; returns the seconds of the first step and of the rest.
    auto run = [&](std::vector<engine::TokenRequest> reqs, double &firstStep, double &rest) {
        std::vector<Recorder> rec(reqs.size());
        for (size_t i = 0; i < reqs.size(); ++i)
            if (auto r = backend.submitTokens(std::move(reqs[i]), rec[i]); !r)
                error = r.error().toString();
        Clock::time_point t0 = Clock::now();
        bool more = backend.step();
        firstStep = secondsSince(t0);
        t0 = Clock::now();
        while (more)
            more = backend.step();
        rest = secondsSince(t0);
        for (const Recorder &r : rec)
            if (!r.error.empty())
                error = r.error;
        return rec.empty() ? 0 : rec.front().tokens;
    };

    double first = 0, rest = 0;
    // Warm-up: maps every weight page in and sizes the buffers.
    run({makeRequest(randomIds(promptTokens), 3)}, first, rest);
    // Prefill: one call over the whole prompt (the first token's sampling included).
    double prefillSeconds = 1e30;
    for (int rep = 0; rep < 2; ++rep) {
        run({makeRequest(randomIds(promptTokens), 1)}, first, rest);
        prefillSeconds = std::min(prefillSeconds, first);
    }
    // Decode at batch 1: a short prompt, then decodeTokens steps.
    const std::clock_t cpu0 = std::clock();
    run({makeRequest(randomIds(16), decodeTokens + 1)}, first, rest);
    const double decodeSeconds = rest;
    const double decodeCpuSeconds = double(std::clock() - cpu0) / CLOCKS_PER_SEC;
    double batchRate = 0.0;
    if (batch > 1) {
        std::vector<engine::TokenRequest> reqs;
        for (int i = 0; i < batch; ++i)
            reqs.push_back(makeRequest(randomIds(16), decodeTokens + 1));
        run(std::move(reqs), first, rest);
        batchRate = double(batch) * decodeTokens / rest;
    }
    if (!error.empty()) {
        std::fprintf(stderr, "fathom-cli bench: %s\n", error.c_str());
        return 1;
    }
    const int threadsUsed = backend.threadCount();
    const Bandwidth bw = measureBandwidth(threadsUsed, size_t(512) << 20);

    const double prefillRate = promptTokens / prefillSeconds;
    const double decodeRate = decodeTokens / decodeSeconds;
    const int64_t bytesPerToken = decodeWeightBytes(*backend.model());
    // The bound divides by the read-only bandwidth: a decode step only reads weights, and the
    // read figure is the larger (stricter) one. The copy-based ratio (bytes copied per second,
    // i.e. half the STREAM copy figure) is reported next to it for comparison with older notes.
    const double bound = bw.read / double(bytesPerToken);
    const double decodeVsBound = decodeRate / bound;
    const double copyBound = 0.5 * bw.copy / double(bytesPerToken);
    const double prefillVsDecode = prefillRate / decodeRate;

    nlohmann::ordered_json j;
    j["model"] = model.toStdString();
    j["backend"] = backend.info().description;
    j["threads"] = threadsUsed;
    j["weight_bytes_total"] = backend.weights()->weightBytes();
    j["prompt_tokens"] = promptTokens;
    j["prefill_tokens_per_s"] = prefillRate;
    j["decode_tokens"] = decodeTokens;
    j["decode_tokens_per_s"] = decodeRate;
    j["decode_ms_per_token"] = 1000.0 / decodeRate;
    if (batch > 1) {
        j["batch"] = batch;
        j["batch_decode_tokens_per_s"] = batchRate;
    }
    j["exact_linear"] = !fastLinear;
    // Process CPU time over (wall time x threads) of the decode run: < 1 when other processes
    // shared the cores (or the pool waited), so the rates above are lower bounds.
    j["decode_cpu_utilisation"] = decodeCpuSeconds / ((first + decodeSeconds) * threadsUsed);
    j["weight_bytes_per_decoded_token"] = bytesPerToken;
    j["copy_bandwidth_bytes_per_s"] = bw.copy;
    j["read_bandwidth_bytes_per_s"] = bw.read;
    j["bandwidth_buffer_bytes"] = bw.bufferBytes;
    j["bandwidth_threads"] = threadsUsed;
    j["decode_bound_tokens_per_s"] = bound;
    j["decode_vs_bound"] = decodeVsBound;
    j["decode_vs_memcpy_bound"] = decodeRate / copyBound;
    j["decode_vs_bound_goal"] = 0.5;
    j["prefill_vs_decode"] = prefillVsDecode;
    j["prefill_vs_decode_goal"] = 10.0;
    j["decode_goal_met"] = decodeVsBound >= 0.5;
    j["prefill_goal_met"] = prefillVsDecode >= 10.0;
    j["forward_calls"] = sched.counters().forwardCalls;

    if (json) {
        std::printf("%s\n", j.dump(2).c_str());
    } else {
        std::printf("%-34s %s\n", "backend", j["backend"].get<std::string>().c_str());
        std::printf("%-34s %.1f tokens/s (%d tokens, one call)\n",
                    "prefill",
                    prefillRate,
                    promptTokens);
        std::printf("%-34s %.2f tokens/s (%.1f ms/token)\n",
                    "decode (batch 1)",
                    decodeRate,
                    1000.0 / decodeRate);
        if (batch > 1)
            std::printf("%-34s %.2f tokens/s\n",
                        qPrintable(QStringLiteral("decode (batch %1, aggregate)").arg(batch)),
                        batchRate);
        std::printf("%-34s %.2f\n",
                    "decode CPU utilisation",
                    j["decode_cpu_utilisation"].get<double>());
        std::printf("%-34s %.1f MB\n", "weight bytes per decoded token", bytesPerToken / 1e6);
        std::printf("%-34s %.2f GB/s (copy, read+write: %.2f GB/s; 2 x %zu MiB, %d threads)\n",
                    "read bandwidth",
                    bw.read / 1e9,
                    bw.copy / 1e9,
                    bw.bufferBytes >> 20,
                    threadsUsed);
        std::printf("%-34s %.2f tokens/s (weight bytes / read bandwidth)\n",
                    "bandwidth bound",
                    bound);
        std::printf("%-34s %.2f (goal >= 0.5) %s\n",
                    "decode / bound",
                    decodeVsBound,
                    decodeVsBound >= 0.5 ? "ok" : "MISSED");
        std::printf("%-34s %.1f (goal >= 10) %s\n",
                    "prefill / decode per token",
                    prefillVsDecode,
                    prefillVsDecode >= 10.0 ? "ok" : "MISSED");
    }
    return 0;
}

} // namespace fathom::cli
