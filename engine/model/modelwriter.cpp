// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "modelwriter.h"

#include "engine/core/threadpool.h"
#include "engine/model/mappedfile.h"
#include "engine/model/modelweights.h"
#include "kernels/cpu_features.h"
#include "kernels/formats.h"
#include "kernels/quant.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <system_error>
#include <thread>

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#include <immintrin.h>
#endif

namespace fathom::engine {

namespace fs = std::filesystem;

// ---- SafetensorsWriter --------------------------------------------------------------------------

void SafetensorsWriter::add(std::string name, DType dtype, std::vector<int64_t> shape, FillFn fill)
{
    m_entries.push_back({std::move(name), dtype, std::move(shape), std::move(fill)});
}

static uint64_t entryBytes(DType dtype, const std::vector<int64_t> &shape)
{
    uint64_t n = dtypeSize(dtype);
    for (int64_t d : shape)
        n *= static_cast<uint64_t>(d);
    return n;
}

uint64_t SafetensorsWriter::dataBytes() const
{
    uint64_t total = 0;
    for (const Entry &e : m_entries)
        total += entryBytes(e.dtype, e.shape);
    return total;
}

std::vector<std::string> SafetensorsWriter::names() const
{
    std::vector<std::string> n;
    for (const Entry &e : m_entries)
        n.push_back(e.name);
    return n;
}

Result<void> SafetensorsWriter::write(const std::string &path,
                                      const std::map<std::string, std::string> &metadata) const
{
    nlohmann::json header = nlohmann::json::object();
    if (!metadata.empty())
        header["__metadata__"] = metadata;
    uint64_t offset = 0;
    for (const Entry &e : m_entries) {
        const uint64_t bytes = entryBytes(e.dtype, e.shape);
        header[e.name] = {{"dtype", dtypeName(e.dtype)},
                          {"shape", e.shape},
                          {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string text = header.dump();
    while (text.size() % 8 != 0) // keeps the data area 8-byte aligned, as the reference writer does
        text.push_back(' ');
    std::FILE *f = std::fopen(path.c_str(), "wb");
    if (!f)
        return fail(Error::Kind::Io, "cannot create " + path + ": " + std::strerror(errno));
    bool ok = true;
    uint8_t len[8];
    for (int i = 0; i < 8; ++i)
        len[i] = static_cast<uint8_t>((static_cast<uint64_t>(text.size()) >> (8 * i)) & 0xFF);
    ok = ok && std::fwrite(len, 1, 8, f) == 8;
    ok = ok && std::fwrite(text.data(), 1, text.size(), f) == text.size();
    // Double buffering: the calling thread fills one tensor (on its pool) while a second thread
    // writes the previous one; tensors under 1 MiB are written in line.
    std::vector<uint8_t> buffers[2];
    bool writeOk = true;
    int writeErrno = 0;
    const auto writeBuffer = [f, &writeOk, &writeErrno](const std::vector<uint8_t> *b) {
        if (std::fwrite(b->data(), 1, b->size(), f) != b->size()) {
            writeOk = false;
            writeErrno = errno;
        }
    };
    std::thread writer;
    struct JoinOnExit // a throwing fill must not destroy a running thread
    {
        std::thread &t;
        ~JoinOnExit()
        {
            if (t.joinable())
                t.join();
        }
    } joinOnExit{writer};
    int current = 0;
    for (const Entry &e : m_entries) {
        std::vector<uint8_t> &buffer = buffers[current];
        buffer.resize(static_cast<size_t>(entryBytes(e.dtype, e.shape))); // every fill writes all
        if (e.fill)
            e.fill(buffer);
        else
            std::fill(buffer.begin(), buffer.end(), uint8_t(0));
        if (writer.joinable())
            writer.join();
        if (!writeOk)
            break;
        if (buffer.size() < (size_t(1) << 20)) {
            writeBuffer(&buffer);
        } else {
            try {
                writer = std::thread(writeBuffer, &buffer);
                current ^= 1;
            } catch (const std::system_error &) { // no thread to be had: write in line
                writeBuffer(&buffer);
            }
        }
    }
    if (writer.joinable())
        writer.join();
    if (!writeOk) {
        ok = false;
        errno = writeErrno;
    }
    ok = (std::fclose(f) == 0) && ok;
    if (!ok)
        return fail(Error::Kind::Io, "cannot write " + path + ": " + std::strerror(errno));
    return {};
}

// ---- presets ------------------------------------------------------------------------------------

Result<ModelConfig> presetModelConfig(const std::string &preset, int layers, int firstLayer)
{
    ModelConfig c;
    c.architectures = {"DeepseekV4ForCausalLM"};
    c.sourcePath = "preset '" + preset + "'";
    c.ropeScaling = RopeScaling{};
    c.fp8Quantized = true;
    c.quantActivationScheme = "dynamic";
    c.expertDtype = "fp4";
    c.transformersVersion = "4.57.1";
    c.swigluLimit = 10.0;
    std::vector<int> pattern; // ratios of the main layers
    if (preset == "tiny") {
        // testdata tiny-quant's topology (max_position_embeddings larger, for demos).
        c.vocabSize = 512;
        c.hiddenSize = 256;
        c.numHiddenLayers = 4;
        c.numAttentionHeads = 2;
        c.headDim = 128;
        c.qkRopeHeadDim = 64;
        c.qLoraRank = 128;
        c.oGroups = 2;
        c.oLoraRank = 128;
        c.slidingWindow = 8;
        pattern = {0, 4, 16, 4};
        c.indexNHeads = 2;
        c.indexHeadDim = 128;
        c.indexTopk = 4;
        c.nRoutedExperts = 8;
        c.numExpertsPerTok = 2;
        c.moeIntermediateSize = 128;
        c.numHashLayers = 2;
        c.routedScalingFactor = 1.5;
        c.ropeScaling->factor = 4;
        c.ropeScaling->originalMaxPositionEmbeddings = 32;
        c.maxPositionEmbeddings = 4096;
    } else if (preset == "small") {
        // The benchmark model: V4 shapes with dim 1024, 8 layers, 32 experts x 512, top-6.
        c.vocabSize = 129280;
        c.hiddenSize = 1024;
        c.numHiddenLayers = 8;
        c.numAttentionHeads = 8;
        c.headDim = 512;
        c.qkRopeHeadDim = 64;
        c.qLoraRank = 512;
        c.oGroups = 2;
        c.oLoraRank = 512;
        c.slidingWindow = 128;
        pattern = {0, 0, 4, 128, 4, 128, 4, 128};
        c.indexNHeads = 16;
        c.indexHeadDim = 128;
        c.indexTopk = 512;
        c.nRoutedExperts = 32;
        c.numExpertsPerTok = 6;
        c.moeIntermediateSize = 512;
        c.numHashLayers = 3;
        c.routedScalingFactor = 1.5;
        c.ropeScaling->factor = 16;
        c.ropeScaling->originalMaxPositionEmbeddings = 65536;
        c.maxPositionEmbeddings = 65536;
    } else if (preset == "flash-slice") {
        // V4-Flash's layer dimensions (spec §1.1), N layers.
        c.vocabSize = 129280;
        c.hiddenSize = 4096;
        c.numHiddenLayers = 2;
        c.numAttentionHeads = 64;
        c.headDim = 512;
        c.qkRopeHeadDim = 64;
        c.qLoraRank = 1024;
        c.oGroups = 8;
        c.oLoraRank = 1024;
        c.slidingWindow = 128;
        pattern = {0, 0};
        for (int i = 2; i < 43; ++i)
            pattern.push_back(i % 2 == 0 ? 4 : 128);
        c.indexNHeads = 64;
        c.indexHeadDim = 128;
        c.indexTopk = 512;
        c.nRoutedExperts = 256;
        c.numExpertsPerTok = 6;
        c.moeIntermediateSize = 2048;
        c.numHashLayers = 3;
        c.routedScalingFactor = 1.5;
        c.ropeScaling->factor = 16;
        c.ropeScaling->originalMaxPositionEmbeddings = 65536;
        c.maxPositionEmbeddings = 1048576;
    } else {
        return fail(Error::Kind::InvalidArgument,
                    "unknown preset '" + preset + "' (tiny, small or flash-slice)");
    }
    if (layers > 0)
        c.numHiddenLayers = layers;
    if (firstLayer < 0)
        return fail(Error::Kind::InvalidArgument,
                    "first layer " + std::to_string(firstLayer) + " is negative");
    c.numNextnPredictLayers = 1;
    c.numHashLayers = std::clamp(c.numHashLayers - firstLayer, 0, c.numHiddenLayers);
    c.compressRatios.clear();
    for (int l = 0; l < c.numHiddenLayers; ++l) {
        // Longer stacks repeat the preset's CSA/HCA alternation after its leading entries.
        const int i = firstLayer + l;
        int m;
        if (i < static_cast<int>(pattern.size()))
            m = pattern[static_cast<size_t>(i)];
        else
            m = pattern[pattern.size() - 2 + static_cast<size_t>((i - pattern.size()) % 2)];
        c.compressRatios.push_back(m);
    }
    c.compressRatios.push_back(0); // MTP block: sliding window only
    FATHOM_TRY(validateModelConfig(c));
    return c;
}

// ---- random weights -----------------------------------------------------------------------------

namespace {

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;

// splitmix64's output function.
inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t splitmix(uint64_t &s)
{
    return mix64(s += kGolden);
}

uint64_t hashName(const std::string &s, uint64_t seed)
{
    uint64_t h = 1469598103934665603ull ^ seed;
    for (unsigned char ch : s)
        h = (h ^ ch) * 1099511628211ull;
    return h;
}

// Uniform draws for the small integer choices (expert gains, tid2eid rows).
struct Rng
{
    uint64_t state;
    double uniform() { return (static_cast<double>(splitmix(state) >> 11) + 0.5) * 0x1p-53; }
};

// Bit count without the POPCNT instruction (baseline x86-64, any compiler).
inline int32_t popcount64(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Full;
    return static_cast<int32_t>((x * 0x0101010101010101ull) >> 56);
}

/*
  The weights' normal draws, counter-based: element i of the stream `key` (a tensor) is a pure
  function of (key, i), so any split of a tensor over threads gives the same bytes. The value
  is B - 24.5 + (U + 0.5) / 2^16 with B ~ Binomial(48, 1/2) (the bit count of 48 random bits)
  and U uniform on 0..65535 (the other 16 bits): mean 0, variance 12 + 1/12, a normal but for
  an excess kurtosis of -0.04 and |z| <= 7.05 - random weights need no better, and it costs one
  splitmix64 output and a bit count instead of Box-Muller's log and cos. Returned as the odd
  integer 2^17 times the value (|t| < 2^22, exact in a float), so that the one float multiply by
  unitScale(sd) is the only rounding: the bytes do not depend on the compiler, the libm or the
  instruction set either.
*/
inline int32_t drawUnit(uint64_t key, uint64_t i)
{
    const uint64_t b = mix64(key + i * kGolden);
    return (popcount64(b >> 16) << 17) + 2 * static_cast<int32_t>(b & 0xFFFFu) + 1 - 3211264;
}

// The float multiplier that maps drawUnit() to N(0, sd^2) (rounded once, from doubles).
float unitScale(float sd)
{
    return static_cast<float>(static_cast<double>(sd) / (131072.0 * std::sqrt(145.0 / 12.0)));
}

// out[j] = mean + sd * z(first + j), j < n; `k` = unitScale(sd). mean + t * k as one fused,
// correctly rounded operation (std::fma), so no compiler's contraction choice can change it.
template<typename Unit>
inline void drawRangeWith(
    Unit unit, uint64_t key, uint64_t first, int64_t n, float mean, float k, float *out)
{
    if (mean == 0.0f) {
        for (int64_t j = 0; j < n; ++j)
            out[j] = static_cast<float>(unit(key, first + static_cast<uint64_t>(j))) * k;
    } else {
        for (int64_t j = 0; j < n; ++j)
            out[j] = std::fma(static_cast<float>(unit(key, first + static_cast<uint64_t>(j))),
                              k,
                              mean);
    }
}

void drawRangePortable(uint64_t key, uint64_t first, int64_t n, float mean, float k, float *out)
{
    drawRangeWith(drawUnit, key, first, n, mean, k, out);
}

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define FATHOM_WRITER_X86_PATHS 1
// The same integers with the POPCNT instruction (the compiler turns popcount64's idiom into it;
// every AVX2 CPU has it) and, on AVX-512 F/BW/VL/DQ CPUs, eight elements at a time. Integer
// arithmetic, one int -> float conversion (exact) and one float multiply: the same bytes on
// every path (tst_modelfiles checks the values against the draw's definition; FATHOM_DISABLE_AVX2=1
// and FATHOM_DISABLE_AVX512=1 select the other paths).
__attribute__((target("popcnt"))) void drawRangePopcnt(
    uint64_t key, uint64_t first, int64_t n, float mean, float k, float *out)
{
    drawRangeWith(
        [](uint64_t key_, uint64_t i) {
            const uint64_t b = mix64(key_ + i * kGolden);
            return (static_cast<int32_t>(__builtin_popcountll(b >> 16)) << 17)
                   + 2 * static_cast<int32_t>(b & 0xFFFFu) + 1 - 3211264;
        },
        key,
        first,
        n,
        mean,
        k,
        out);
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push // GCC 12's intrinsic headers: false "__Y may be used uninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
__attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,popcnt"))) void drawRangeAvx512(
    uint64_t key, uint64_t first, int64_t n, float mean, float k, float *out)
{
    int64_t j = 0;
    if (mean == 0.0f) {
        const __m512i lanes = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
        const __m512i golden = _mm512_set1_epi64(static_cast<long long>(kGolden));
        const __m512i step = _mm512_set1_epi64(static_cast<long long>(8 * kGolden));
        const __m512i c1 = _mm512_set1_epi64(static_cast<long long>(0xBF58476D1CE4E5B9ull));
        const __m512i c2 = _mm512_set1_epi64(static_cast<long long>(0x94D049BB133111EBull));
        const __m512i low16 = _mm512_set1_epi64(0xFFFF);
        const __m512i bias = _mm512_set1_epi64(1 - 3211264);
        const __m256 scale = _mm256_set1_ps(k);
        const __m512i low4 = _mm512_set1_epi8(0x0F);
        const __m512i nibbles = _mm512_broadcast_i32x4(
            _mm_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4));
        // key + (first + j + lane) * golden, advanced by 8 * golden (wrapping, as the scalar).
        __m512i z = _mm512_add_epi64(_mm512_set1_epi64(
                                         static_cast<long long>(key + first * kGolden)),
                                     _mm512_mullo_epi64(lanes, golden));
        for (; j + 8 <= n; j += 8) {
            __m512i b = _mm512_xor_si512(z, _mm512_srli_epi64(z, 30));
            b = _mm512_mullo_epi64(b, c1);
            b = _mm512_xor_si512(b, _mm512_srli_epi64(b, 27));
            b = _mm512_mullo_epi64(b, c2);
            b = _mm512_xor_si512(b, _mm512_srli_epi64(b, 31));
            // Bit count of b >> 16: per-nibble table, bytes summed per 64-bit lane (sad).
            const __m512i hi = _mm512_srli_epi64(b, 16);
            const __m512i pc = _mm512_sad_epu8(
                _mm512_add_epi8(_mm512_shuffle_epi8(nibbles, _mm512_and_si512(hi, low4)),
                                _mm512_shuffle_epi8(nibbles,
                                                    _mm512_and_si512(_mm512_srli_epi64(hi, 4),
                                                                     low4))),
                _mm512_setzero_si512());
            const __m512i t
                = _mm512_add_epi64(_mm512_add_epi64(_mm512_slli_epi64(pc, 17),
                                                    _mm512_slli_epi64(_mm512_and_si512(b, low16),
                                                                      1)),
                                   bias);
            _mm256_storeu_ps(out + j,
                             _mm256_mul_ps(_mm256_cvtepi32_ps(_mm512_cvtepi64_epi32(t)), scale));
            z = _mm512_add_epi64(z, step);
        }
    }
    drawRangePopcnt(key, first + static_cast<uint64_t>(j), n - j, mean, k, out + j);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif

#if defined(FATHOM_WRITER_X86_PATHS)
enum class DrawPath { Portable, Popcnt, Avx512 };

DrawPath drawPath()
{
    static const DrawPath path = [] {
        // cpu_has_avx2_fma / cpu_has_avx512 honour FATHOM_DISABLE_AVX2 / FATHOM_DISABLE_AVX512.
        if (!kernels::cpu_has_avx2_fma())
            return DrawPath::Portable;
        __builtin_cpu_init();
        if (kernels::cpu_has_avx512() && __builtin_cpu_supports("avx512dq"))
            return DrawPath::Avx512; // F + BW + VL (cpu_has_avx512) and DQ (vpmullq)
        return DrawPath::Popcnt;
    }();
    return path;
}
#endif

void drawRange(uint64_t key, uint64_t first, int64_t n, float mean, float k, float *out)
{
#if defined(FATHOM_WRITER_X86_PATHS)
    switch (drawPath()) {
    case DrawPath::Avx512:
        return drawRangeAvx512(key, first, n, mean, k, out);
    case DrawPath::Popcnt:
        return drawRangePopcnt(key, first, n, mean, k, out);
    case DrawPath::Portable:
        break;
    }
#endif
    drawRangePortable(key, first, n, mean, k, out);
}

// Rows per parallel chunk: at least ~4K elements (the pool makes at most 4 chunks a thread, so
// big tensors get big chunks; small ones - the tiny preset's experts too - are still split).
int64_t rowGrain(int64_t cols)
{
    return std::max<int64_t>(1, 4096 / std::max<int64_t>(1, cols));
}

class Generator
{
public:
    Generator(uint64_t seed, ThreadPool &pool)
        : m_seed(seed)
        , m_pool(pool)
    {}

    uint64_t key(const std::string &name) const { return hashName(name, m_seed); }
    uint64_t seed() const { return m_seed; }
    ThreadPool &pool() { return m_pool; }

    // rows x cols values mean + sd * z (row-major element index into the stream of `name`),
    // handed to sink(row, values) row by row, rows spread over the pool.
    template<typename Sink>
    void normalRows(
        const std::string &name, int64_t rows, int64_t cols, float mean, float sd, const Sink &sink)
    {
        const uint64_t base = key(name);
        const float k = unitScale(sd);
        kernels::parallel_for(&m_pool, rows, rowGrain(cols), [&](int64_t r0, int64_t r1) {
            std::vector<float> row(static_cast<size_t>(cols));
            for (int64_t r = r0; r < r1; ++r) {
                drawRange(base, static_cast<uint64_t>(r * cols), cols, mean, k, row.data());
                sink(r, row.data());
            }
        });
    }

private:
    uint64_t m_seed;
    ThreadPool &m_pool;
};

SafetensorsWriter::FillFn fillBf16(
    Generator &g, std::string name, int64_t rows, int64_t cols, float mean, float sd)
{
    return [&g, name, rows, cols, mean, sd](std::vector<uint8_t> &out) {
        auto *dst = reinterpret_cast<uint16_t *>(out.data());
        g.normalRows(name, rows, cols, mean, sd, [&](int64_t r, const float *v) {
            kernels::f32_to_bf16_row(v, dst + r * cols, cols);
        });
    };
}

SafetensorsWriter::FillFn fillF32(
    Generator &g, std::string name, int64_t rows, int64_t cols, float mean, float sd)
{
    return [&g, name, rows, cols, mean, sd](std::vector<uint8_t> &out) {
        auto *dst = reinterpret_cast<float *>(out.data());
        g.normalRows(name, rows, cols, mean, sd, [&](int64_t r, const float *v) {
            std::memcpy(dst + r * cols, v, static_cast<size_t>(cols) * 4);
        });
    };
}

// A projection in `fmt` with std = gain / sqrt(cols); FP8 / FP4 quantised from f32 draws.
void addLinear(SafetensorsWriter &w,
               Generator &g,
               const std::string &name,
               int64_t rows,
               int64_t cols,
               WeightFormat fmt,
               float gain)
{
    const float sd = gain / std::sqrt(static_cast<float>(cols));
    if (fmt == WeightFormat::Bf16) {
        w.add(name + ".weight", DType::Bf16, {rows, cols}, fillBf16(g, name, rows, cols, 0.0f, sd));
        return;
    }
    // The weight and its scales come from the same draw; the scale tensor is written after the
    // weight, so the scales are cached between the two fills.
    auto cache = std::make_shared<std::vector<uint8_t>>();
    const auto quantize = [&g, name, rows, cols, sd, fmt](std::vector<uint8_t> &q,
                                                          std::vector<uint8_t> &s) {
        if (fmt == WeightFormat::Fp8) {
            // One 128x128 block per task: draw it, quantise it (kernels/quant.h), place its rows.
            const int64_t rb = (rows + 127) / 128, kb = (cols + 127) / 128;
            s.assign(static_cast<size_t>(rb * kb), 0);
            const uint64_t base = g.key(name);
            const float k = unitScale(sd);
            kernels::parallel_for(&g.pool(), rb * kb, 1, [&](int64_t b0, int64_t b1) {
                std::vector<float> block(128 * 128);
                std::vector<uint8_t> codes(128 * 128);
                for (int64_t b = b0; b < b1; ++b) {
                    const int64_t i0 = (b / kb) * 128, j0 = (b % kb) * 128;
                    const int64_t nr = std::min<int64_t>(128, rows - i0),
                                  nc = std::min<int64_t>(128, cols - j0);
                    for (int64_t i = 0; i < nr; ++i)
                        drawRange(base,
                                  static_cast<uint64_t>((i0 + i) * cols + j0),
                                  nc,
                                  0.0f,
                                  k,
                                  block.data() + i * nc);
                    kernels::quantize_weight_e4m3(block.data(), nr, nc, codes.data(), s.data() + b);
                    for (int64_t i = 0; i < nr; ++i)
                        std::memcpy(q.data() + (i0 + i) * cols + j0,
                                    codes.data() + i * nc,
                                    static_cast<size_t>(nc));
                }
            });
        } else {
            s.assign(static_cast<size_t>(rows * (cols / 32)), 0);
            g.normalRows(name, rows, cols, 0.0f, sd, [&](int64_t r, const float *v) {
                kernels::quantize_weight_e2m1(v,
                                              1,
                                              cols,
                                              q.data() + r * (cols / 2),
                                              s.data() + r * (cols / 32));
            });
        }
    };
    if (fmt == WeightFormat::Fp8) {
        w.add(name + ".weight",
              DType::F8E4M3,
              {rows, cols},
              [quantize, cache](std::vector<uint8_t> &out) { quantize(out, *cache); });
        w.add(name + ".scale",
              DType::F8E8M0,
              {(rows + 127) / 128, (cols + 127) / 128},
              [cache](std::vector<uint8_t> &out) {
                  std::copy(cache->begin(), cache->end(), out.begin());
                  cache->clear();
              });
    } else {
        w.add(name + ".weight",
              DType::I8,
              {rows, cols / 2},
              [quantize, cache](std::vector<uint8_t> &out) { quantize(out, *cache); });
        w.add(name + ".scale", DType::F8E8M0, {rows, cols / 32}, [cache](std::vector<uint8_t> &out) {
            std::copy(cache->begin(), cache->end(), out.begin());
            cache->clear();
        });
    }
}

void addBlock(SafetensorsWriter &w, Generator &g, const ModelConfig &c, int layer)
{
    const std::string p = blockPrefix(c, layer);
    const bool mtp = layer >= c.numHiddenLayers;
    const int m = c.compressRatio(layer);
    const int64_t d = c.hiddenSize, hc = c.hcMult, H = c.numAttentionHeads, D = c.headDim,
                  mix = (2 + hc) * hc;
    const WeightFormat lin = c.linearFormat(), exp = c.expertFormat();
    w.add(p + "attn_norm.weight", DType::Bf16, {d}, fillBf16(g, p + "attn_norm", 1, d, 1.0f, 0.1f));
    w.add(p + "ffn_norm.weight", DType::Bf16, {d}, fillBf16(g, p + "ffn_norm", 1, d, 1.0f, 0.1f));
    for (const std::string sub : {"attn", "ffn"}) {
        w.add(p + "hc_" + sub + "_fn",
              DType::F32,
              {mix, hc * d},
              fillF32(g, p + "hc_" + sub + "_fn", mix, hc * d, 0.0f, 1.0f / std::sqrt(float(hc * d))));
        w.add(p + "hc_" + sub + "_base",
              DType::F32,
              {mix},
              fillF32(g, p + "hc_" + sub + "_base", 1, mix, 0.0f, 0.5f));
        w.add(p + "hc_" + sub + "_scale",
              DType::F32,
              {3},
              fillF32(g, p + "hc_" + sub + "_scale", 1, 3, 1.0f, 0.25f));
    }
    w.add(p + "attn.attn_sink", DType::F32, {H}, fillF32(g, p + "attn.attn_sink", 1, H, 0.0f, 1.0f));
    w.add(p + "attn.q_norm.weight",
          DType::Bf16,
          {c.qLoraRank},
          fillBf16(g, p + "q_norm", 1, c.qLoraRank, 1.0f, 0.1f));
    w.add(p + "attn.kv_norm.weight",
          DType::Bf16,
          {D},
          fillBf16(g, p + "kv_norm", 1, D, 2.2f, 0.22f));
    addLinear(w, g, p + "attn.wq_a", c.qLoraRank, d, lin, 1.0f);
    addLinear(w, g, p + "attn.wq_b", H * D, c.qLoraRank, lin, 1.0f);
    addLinear(w, g, p + "attn.wkv", D, d, lin, 1.0f);
    addLinear(w, g, p + "attn.wo_a", int64_t(c.oGroups) * c.oLoraRank, H * D / c.oGroups, lin, 1.0f);
    addLinear(w, g, p + "attn.wo_b", d, int64_t(c.oGroups) * c.oLoraRank, lin, 1.0f);
    if (m != 0) {
        const int64_t cw = (m == 4 ? 2 : 1) * D;
        const float sd = 1.0f / std::sqrt(float(d));
        w.add(p + "attn.compressor.ape",
              DType::F32,
              {m, cw},
              fillF32(g, p + "compressor.ape", m, cw, 0.0f, 0.5f));
        w.add(p + "attn.compressor.wkv.weight",
              DType::Bf16,
              {cw, d},
              fillBf16(g, p + "compressor.wkv", cw, d, 0.0f, sd));
        w.add(p + "attn.compressor.wgate.weight",
              DType::Bf16,
              {cw, d},
              fillBf16(g, p + "compressor.wgate", cw, d, 0.0f, sd));
        w.add(p + "attn.compressor.norm.weight",
              DType::Bf16,
              {D},
              fillBf16(g, p + "compressor.norm", 1, D, 2.2f, 0.22f));
    }
    if (m == 4) {
        const int64_t ihd = c.indexHeadDim, ih = c.indexNHeads;
        const float sd = 1.0f / std::sqrt(float(d));
        addLinear(w, g, p + "attn.indexer.wq_b", ih * ihd, c.qLoraRank, lin, 1.0f);
        w.add(p + "attn.indexer.weights_proj.weight",
              DType::Bf16,
              {ih, d},
              fillBf16(g, p + "indexer.weights_proj", ih, d, 0.0f, sd));
        w.add(p + "attn.indexer.compressor.ape",
              DType::F32,
              {4, 2 * ihd},
              fillF32(g, p + "indexer.compressor.ape", 4, 2 * ihd, 0.0f, 0.5f));
        w.add(p + "attn.indexer.compressor.wkv.weight",
              DType::Bf16,
              {2 * ihd, d},
              fillBf16(g, p + "indexer.compressor.wkv", 2 * ihd, d, 0.0f, sd));
        w.add(p + "attn.indexer.compressor.wgate.weight",
              DType::Bf16,
              {2 * ihd, d},
              fillBf16(g, p + "indexer.compressor.wgate", 2 * ihd, d, 0.0f, sd));
        w.add(p + "attn.indexer.compressor.norm.weight",
              DType::Bf16,
              {ihd},
              fillBf16(g, p + "indexer.compressor.norm", 1, ihd, 1.0f, 0.1f));
    }
    w.add(p + "ffn.gate.weight",
          DType::Bf16,
          {c.nRoutedExperts, d},
          fillBf16(g, p + "ffn.gate", c.nRoutedExperts, d, 0.0f, 1.0f / std::sqrt(float(d))));
    if (!mtp && c.isHashLayer(layer)) {
        const int64_t V = c.vocabSize, k = c.numExpertsPerTok, E = c.nRoutedExperts;
        const uint64_t seed = hashName(p + "tid2eid", g.seed());
        w.add(p + "ffn.gate.tid2eid", DType::I64, {V, k}, [V, k, E, seed](std::vector<uint8_t> &out) {
            auto *ids = reinterpret_cast<int64_t *>(out.data());
            std::vector<int64_t> perm(static_cast<size_t>(E));
            for (int64_t t = 0; t < V; ++t) {
                Rng rng{mix64(seed + static_cast<uint64_t>(t) * kGolden)}; // a stream per row
                std::iota(perm.begin(), perm.end(), 0);
                for (int64_t i = 0; i < k; ++i) { // partial Fisher-Yates: k distinct experts
                    const int64_t j = i + static_cast<int64_t>(rng.uniform() * double(E - i));
                    std::swap(perm[static_cast<size_t>(i)],
                              perm[static_cast<size_t>(std::min(j, E - 1))]);
                    ids[t * k + i] = perm[static_cast<size_t>(i)];
                }
            }
        });
    } else {
        w.add(p + "ffn.gate.bias",
              DType::F32,
              {c.nRoutedExperts},
              fillF32(g, p + "ffn.gate.bias", 1, c.nRoutedExperts, 0.0f, 0.1f));
    }
    for (int e = 0; e < c.nRoutedExperts; ++e) {
        const std::string ep = p + "ffn.experts." + std::to_string(e) + ".";
        Rng rng{hashName(ep, g.seed())};
        const float gain = 1.0f + 5.0f * static_cast<float>(rng.uniform()); // per-expert gain 1..6
        addLinear(w, g, ep + "w1", c.moeIntermediateSize, d, exp, gain);
        addLinear(w, g, ep + "w2", d, c.moeIntermediateSize, exp, 1.0f);
        addLinear(w, g, ep + "w3", c.moeIntermediateSize, d, exp, gain);
    }
    addLinear(w, g, p + "ffn.shared_experts.w1", c.moeIntermediateSize, d, lin, 4.5f);
    addLinear(w, g, p + "ffn.shared_experts.w2", d, c.moeIntermediateSize, lin, 1.0f);
    addLinear(w, g, p + "ffn.shared_experts.w3", c.moeIntermediateSize, d, lin, 4.5f);
    if (mtp) {
        addLinear(w, g, p + "e_proj", d, d, lin, 1.0f);
        addLinear(w, g, p + "h_proj", d, d, lin, 1.0f);
        w.add(p + "enorm.weight", DType::Bf16, {d}, fillBf16(g, p + "enorm", 1, d, 1.0f, 0.1f));
        w.add(p + "hnorm.weight", DType::Bf16, {d}, fillBf16(g, p + "hnorm", 1, d, 1.0f, 0.1f));
        w.add(p + "norm.weight", DType::Bf16, {d}, fillBf16(g, p + "norm", 1, d, 1.0f, 0.1f));
        w.add(p + "hc_head_fn",
              DType::F32,
              {hc, hc * d},
              fillF32(g, p + "hc_head_fn", hc, hc * d, 0.0f, 1.0f / std::sqrt(float(hc * d))));
        w.add(p + "hc_head_base",
              DType::F32,
              {hc},
              fillF32(g, p + "hc_head_base", 1, hc, 0.0f, 0.5f));
        w.add(p + "hc_head_scale",
              DType::F32,
              {1},
              fillF32(g, p + "hc_head_scale", 1, 1, 1.0f, 0.25f));
    }
}

Result<std::string> readFile(const std::string &path)
{
    FATHOM_TRY_ASSIGN(MappedFile f, MappedFile::open(path));
    return std::string(reinterpret_cast<const char *>(f.data()), f.size());
}

Result<void> writeText(const std::string &path, const std::string &text)
{
    std::ofstream out(utf8ToPath(path), std::ios::binary);
    out << text;
    out.close();
    if (!out)
        return fail(Error::Kind::Io, "cannot write " + path);
    return {};
}

// Vocabulary size (largest id + 1) and BOS/EOS ids of a tokenizer.json.
Result<void> applyTokenizer(const std::string &text, const std::string &path, ModelConfig &c)
{
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception &e) {
        return fail(Error::Kind::Format, path + ": malformed JSON: " + e.what());
    }
    int64_t maxId = -1;
    if (j.contains("model") && j["model"].contains("vocab") && j["model"]["vocab"].is_object())
        for (const auto &v : j["model"]["vocab"])
            if (v.is_number_integer())
                maxId = std::max<int64_t>(maxId, v.get<int64_t>());
    if (j.contains("added_tokens") && j["added_tokens"].is_array())
        for (const auto &t : j["added_tokens"]) {
            if (!t.contains("id") || !t["id"].is_number_integer())
                continue;
            const int64_t id = t["id"].get<int64_t>();
            maxId = std::max(maxId, id);
            const std::string content = t.value("content", "");
            if (content
                == "<\xEF\xBD\x9C"
                   "begin\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>")
                c.bosTokenId = id;
            else if (content
                     == "<\xEF\xBD\x9C"
                        "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>")
                c.eosTokenId = id;
        }
    if (maxId < 0)
        return fail(Error::Kind::Format, path + ": no model.vocab or added_tokens with ids");
    c.vocabSize = maxId + 1;
    return {};
}

} // namespace

Result<void> writeRandomModel(const MakeModelOptions &o, const LoadProgressFn &progress)
{
    FATHOM_TRY_ASSIGN(ModelConfig c, presetModelConfig(o.preset, o.layers, o.firstLayer));
    std::string tokenizerText;
    if (!o.tokenizerPath.empty()) {
        FATHOM_TRY_ASSIGN(tokenizerText, readFile(o.tokenizerPath));
        FATHOM_TRY(applyTokenizer(tokenizerText, o.tokenizerPath, c));
    }
    std::error_code ec;
    fs::create_directories(utf8ToPath(o.outDir), ec);
    if (ec)
        return fail(Error::Kind::Io, "cannot create " + o.outDir + ": " + ec.message());
    const auto out = [&](const std::string &name) {
        return pathToUtf8(utf8ToPath(o.outDir) / name);
    };

    ThreadPool pool(o.threads);
    Generator g(o.seed, pool);
    // Shards as the golden data: embed + first half of the layers; the rest + head; MTP.
    std::vector<SafetensorsWriter> shards(o.shards == 1 ? 1 : 3);
    SafetensorsWriter &first = shards[0];
    SafetensorsWriter &second = shards.size() == 1 ? shards[0] : shards[1];
    SafetensorsWriter &third = shards.size() == 1 ? shards[0] : shards[2];
    const int64_t d = c.hiddenSize, V = c.vocabSize, hc = c.hcMult;
    first.add("embed.weight", DType::Bf16, {V, d}, fillBf16(g, "embed", V, d, 0.0f, 1.0f));
    for (int l = 0; l < c.numHiddenLayers; ++l)
        addBlock(l < (c.numHiddenLayers + 1) / 2 ? first : second, g, c, l);
    second.add("norm.weight", DType::Bf16, {d}, fillBf16(g, "norm", 1, d, 1.0f, 0.1f));
    second.add("hc_head_fn",
               DType::F32,
               {hc, hc * d},
               fillF32(g, "hc_head_fn", hc, hc * d, 0.0f, 1.0f / std::sqrt(float(hc * d))));
    second.add("hc_head_base", DType::F32, {hc}, fillF32(g, "hc_head_base", 1, hc, 0.0f, 0.5f));
    second.add("hc_head_scale", DType::F32, {1}, fillF32(g, "hc_head_scale", 1, 1, 1.0f, 0.25f));
    second.add("head.weight",
               DType::Bf16,
               {V, d},
               fillBf16(g, "head", V, d, 0.0f, 1.0f / std::sqrt(float(d))));
    for (int l = c.numHiddenLayers; l < c.totalLayers(); ++l)
        addBlock(third, g, c, l);

    FATHOM_TRY(writeText(out("config.json"), modelConfigToJson(c)));
    uint64_t total = 0, done = 0;
    for (const auto &s : shards)
        total += s.dataBytes();
    nlohmann::json index;
    index["metadata"] = {{"total_size", total}};
    index["weight_map"] = nlohmann::json::object();
    for (size_t i = 0; i < shards.size(); ++i) {
        char name[64];
        if (shards.size() == 1)
            std::snprintf(name, sizeof(name), "model.safetensors");
        else
            std::snprintf(name,
                          sizeof(name),
                          "model-%05zu-of-%05zu.safetensors",
                          i + 1,
                          shards.size());
        if (progress && !progress(LoadProgress{done, total, std::string("writing ") + name}))
            return fail(Error::Kind::Cancelled, "cancelled");
        FATHOM_TRY(shards[i].write(out(name), {{"format", "pt"}}));
        done += shards[i].dataBytes();
        for (const std::string &n : shards[i].names())
            index["weight_map"][n] = name;
    }
    if (shards.size() > 1)
        FATHOM_TRY(writeText(out("model.safetensors.index.json"), index.dump(2) + "\n"));
    if (!tokenizerText.empty())
        FATHOM_TRY(writeText(out("tokenizer.json"), tokenizerText));
    if (progress)
        progress(LoadProgress{total, total, "done"});
    return {};
}

} // namespace fathom::engine
