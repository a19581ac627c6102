// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
//
// Decode-state sizes (engine/cuda/kvlayout.h) against the figures printed in spec §5.2 for
// V4-Flash and V4-Pro (configurations written here from spec §1.1, not from our code), and the
// claim the narrower layouts rest on: the rows the engine's sequence state keeps (CPU executor,
// golden tiny models, prefill + decode) are already exactly representable in them: KV entries
// (window and compressed) as e4m3 nope dims with one power-of-two scale per 64 + bf16 RoPE
// dims, index keys as e2m1 with one power-of-two scale per 32. So storing them that way loses
// nothing. Needs no GPU (plain test, label `engine`).
// tst_kvlayout_emu (the same file under the CUDA emulation, FATHOM_HAVE_CUDA_BACKEND) also checks
// the CUDA executor's bf16 state: rows equal to the CPU state's, the bytes it holds per part
// against kvStateBytes(Bf16), and the ring and cache sizing (shrink after a chunk, reserve).

#include "engine/cpu/cpuexecutor.h"
#ifdef FATHOM_HAVE_CUDA_BACKEND
#include "engine/cuda/cudaexecutor.h"
#endif
#include "engine/cuda/kvlayout.h"
#include "engine/model/modelweights.h"
#include "engine/runtime/forward.h"
#include "engine/runtime/goldenrun.h"
#include "engine/runtime/v4model.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

using namespace fathom::engine;

namespace {

int g_failures = 0;
int g_checks = 0;

void check(bool ok, const std::string &what)
{
    ++g_checks;
    g_failures += !ok;
    std::printf("%s: %s\n", ok ? "PASS" : "FAIL", what.c_str());
    std::fflush(stdout);
}

// Spec §1.1 / §1.3: the fields the state sizes depend on.
ModelConfig flash()
{
    ModelConfig c;
    c.numHiddenLayers = 43;
    c.numNextnPredictLayers = 1;
    c.headDim = 512;
    c.qkRopeHeadDim = 64;
    c.indexHeadDim = 128;
    c.slidingWindow = 128;
    c.compressRatios = {0, 0};
    for (int l = 2; l < 43; ++l)
        c.compressRatios.push_back(l % 2 == 0 ? 4 : 128);
    c.compressRatios.push_back(0); // MTP
    return c;
}

ModelConfig pro()
{
    ModelConfig c = flash();
    c.numHiddenLayers = 61;
    c.compressRatios = {128, 128};
    for (int l = 2; l < 61; ++l)
        c.compressRatios.push_back(l % 2 == 0 ? 4 : 128);
    c.compressRatios.push_back(0);
    return c;
}

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr double kMiB = 1024.0 * 1024.0;

bool near(double got, double want, double tol)
{
    return std::abs(got - want) <= tol;
}

std::string fmt(double v, int digits = 3)
{
    char b[64];
    std::snprintf(b, sizeof b, "%.*f", digits, v);
    return b;
}

void specFigures()
{
    const ModelConfig f = flash(), p = pro();
    const KvEntrySizes fb = kvEntrySizes(f, KvLayout::Bf16), fp = kvEntrySizes(f, KvLayout::Packed);
    check(fb.entry == 1024 && fb.indexKey == 256, "bf16 entry 1024 B, index key 256 B");
    check(fp.entry == 584 && fp.indexKey == 68,
          "packed entry " + std::to_string(fp.entry) + " B (spec 584), index key "
              + std::to_string(fp.indexKey) + " B (spec 68)");

    struct Row
    {
        const char *name;
        ModelConfig c;
        KvLayout layout;
        double perToken, gib128k, gib1m;
    };
    const Row rows[] = {
        {"Flash bf16", f, KvLayout::Bf16, 6880.0, 0.845, 6.724},
        {"Flash packed", f, KvLayout::Packed, 3514.25, 0.432, 3.435},
        {"Pro bf16", p, KvLayout::Bf16, 9848.0, 1.210, 9.625},
        {"Pro packed", p, KvLayout::Packed, 5031.44, 0.618, 4.918},
    };
    for (const Row &r : rows) {
        const KvStateBytes k128 = kvStateBytes(r.c, r.layout, 131072);
        const KvStateBytes k1m = kvStateBytes(r.c, r.layout, 1048576);
        // The spec prints per-token bytes to 2 decimals and totals to 3 decimals of a GiB.
        check(near(k128.perToken, r.perToken, 0.005),
              std::string(r.name) + ": " + fmt(k128.perToken, 4) + " B per token (spec "
                  + fmt(r.perToken, 2) + ")");
        check(near(k128.total() / kGiB, r.gib128k, 0.0005),
              std::string(r.name) + ": 128K context " + fmt(k128.total() / kGiB, 4) + " GiB (spec "
                  + fmt(r.gib128k) + ")");
        check(near(k1m.total() / kGiB, r.gib1m, 0.0005),
              std::string(r.name) + ": 1M context " + fmt(k1m.total() / kGiB, 4) + " GiB (spec "
                  + fmt(r.gib1m) + ")");
    }
    const KvStateBytes fw = kvStateBytes(f, KvLayout::Packed, 131072);
    const KvStateBytes pw = kvStateBytes(p, KvLayout::Packed, 131072);
    check(fw.window == 43LL * 128 * 584 && near(fw.window / 1e6, 3.2, 0.05)
              && near(pw.window / 1e6, 4.6, 0.05),
          "packed window part " + fmt(fw.window / 1e6, 2) + " MB Flash (spec 3.2), "
              + fmt(pw.window / 1e6, 2) + " MB Pro (spec 4.6)");
    check(near(fw.compressorState / kMiB, 11.6, 0.05) && near(pw.compressorState / kMiB, 17.8, 0.05),
          "fp32 compressor states " + fmt(fw.compressorState / kMiB, 2) + " MiB Flash (spec 11.6), "
              + fmt(pw.compressorState / kMiB, 2) + " MiB Pro (spec 17.8)");
    // What the engine's fp32 rows cost today (docs/perf/cuda.md): twice the bf16 figure.
    const KvStateBytes f32 = kvStateBytes(f, KvLayout::Fp32, 131072);
    check(f32.total() == 2 * kvStateBytes(f, KvLayout::Bf16, 131072).total(),
          "fp32 rows: Flash 128K " + fmt(f32.total() / kGiB) + " GiB (2x bf16)");
}

// ---- representability ---------------------------------------------------------------------------

bool isBf16(float v)
{
    uint32_t b;
    std::memcpy(&b, &v, 4);
    return (b & 0xffffu) == 0;
}

bool isE4m3(double a) // |a|, finite e4m3 (max 448, 3 mantissa bits, subnormal step 2^-9)
{
    if (a == 0)
        return true;
    if (!(a <= 448.0))
        return false;
    const int e = static_cast<int>(std::floor(std::log2(a)));
    const double step = std::ldexp(1.0, e < -6 ? -9 : e - 3);
    return std::fmod(a, step) == 0;
}

bool isE2m1(double a) // |a| in {0, 0.5, 1, 1.5, 2, 3, 4, 6}
{
    for (double v : {0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0})
        if (a == v)
            return true;
    return false;
}

// Some power of two 2^k makes every value of [p, p + n) / 2^k pass `ok`.
template<typename F>
bool scaledBlock(const float *p, int n, F ok)
{
    double amax = 0;
    for (int i = 0; i < n; ++i)
        amax = std::max(amax, std::abs(double(p[i])));
    if (amax == 0)
        return true;
    const int e = static_cast<int>(std::floor(std::log2(amax)));
    for (int k = e - 12; k <= e + 1; ++k) {
        bool all = true;
        for (int i = 0; i < n && all; ++i)
            all = ok(std::abs(std::ldexp(double(p[i]), -k)));
        if (all)
            return true;
    }
    return false;
}

struct Tally
{
    int64_t rows = 0, bad = 0;
};

void entryRows(const RowHistory &h, int D, int rope, Tally &t)
{
    auto host = h.hostRows();
    if (!host) {
        t.bad += 1;
        return;
    }
    const int nope = D - rope;
    for (int64_t r = 0; r < h.rows(); ++r) {
        const float *row = host->data() + r * D;
        bool ok = true;
        for (int b = 0; b < nope && ok; b += 64)
            ok = scaledBlock(row + b, std::min(64, nope - b), isE4m3);
        for (int i = nope; i < D && ok; ++i)
            ok = isBf16(row[i]);
        ++t.rows;
        t.bad += !ok;
    }
}

void keyRows(const RowHistory &h, int D, Tally &t)
{
    auto host = h.hostRows();
    if (!host) {
        t.bad += 1;
        return;
    }
    for (int64_t r = 0; r < h.rows(); ++r) {
        const float *row = host->data() + r * D;
        bool ok = true;
        for (int b = 0; b < D && ok; b += 32)
            ok = scaledBlock(row + b, std::min(32, D - b), isE2m1);
        ++t.rows;
        t.bad += !ok;
    }
}

void lossless(const std::string &dir, const std::string &name)
{
    auto w = ModelWeights::load(dir);
    if (!w) {
        check(false, name + ": " + w.error().toString());
        return;
    }
    auto m = V4Model::create(**w);
    auto e = SafetensorsFile::open(dir + "/expected.safetensors");
    if (!m || !e) {
        check(false, name + ": model or expected.safetensors");
        return;
    }
    auto prompt = goldenInts(**e, "prompt_tokens");
    auto decode = goldenInts(**e, "decode_tokens");
    if (!prompt || !decode) {
        check(false, name + ": golden tokens");
        return;
    }
    const ModelConfig &c = (*m)->config();
    const int S = static_cast<int>((*e)->find("prompt_tokens")->dim(1));
    const int T = static_cast<int>((*e)->find("decode_tokens")->dim(1));
    CpuExecutor cpu(0);
    V4Forward fwd(**m, cpu);
    SequenceState st(c);
    std::vector<float> logits(static_cast<size_t>(c.vocabSize));
    auto r = fwd.forward({{&st, prompt->data(), S, 0}}, logits.data());
    for (int t = 0; r && t < T; ++t)
        r = fwd.forward({{&st, decode->data() + t, 1, 0}}, logits.data());
    if (!r) {
        check(false, name + ": forward: " + r.error().toString());
        return;
    }
    Tally win, ent, key;
    for (int b = 0; b < st.blockCount(); ++b) {
        const BlockState &bs = st.block(b);
        entryRows(bs.window, c.headDim, c.qkRopeHeadDim, win);
        entryRows(bs.entries, c.headDim, c.qkRopeHeadDim, ent);
        keyRows(bs.indexKeys, c.indexHeadDim, key);
    }
    check(win.rows > 0 && ent.rows > 0 && key.rows > 0 && !win.bad && !ent.bad && !key.bad,
          name + ": state rows exactly representable in the packed layout (window "
              + std::to_string(win.rows - win.bad) + "/" + std::to_string(win.rows)
              + ", compressed entries " + std::to_string(ent.rows - ent.bad) + "/"
              + std::to_string(ent.rows) + ", index keys " + std::to_string(key.rows - key.bad)
              + "/" + std::to_string(key.rows) + ")");
}

#ifdef FATHOM_HAVE_CUDA_BACKEND
// The CUDA executor's sequence state (emulated device) for a random prompt of 600 tokens in
// chunks of 300 and 4 decode tokens, against the CPU executor's fed the same way: the rows equal
// (bf16 / packed storage reads back as the CPU's fp32 bits), window rows, compressed entries and
// index keys are stored in `layout` (packed: kvEntrySizes(Packed)'s 584 / 68 B rows for V4;
// bf16: 2 B a value) and compressor rows as fp32, the compressed part holds exactly
// kvStateBytes(layout)'s bytes for the context, a reserved cache allocates exactly its rows, and
// rings that a 300-token chunk grew are back at their steady size after the prefill.
void deviceState(CudaExecutor &gpu,
                 const std::string &dir,
                 const std::string &name0,
                 bool reserveOnHost,
                 KvLayout layout)
{
    const bool packed = layout == KvLayout::Packed;
    const std::string name = name0 + (packed ? " packed" : " bf16");
    gpu.setKvLayout(layout);
    auto w = ModelWeights::load(dir);
    if (!w) {
        check(false, name + ": " + w.error().toString());
        return;
    }
    auto m = V4Model::create(**w);
    if (!m || !gpu.uploadModel(**m)) {
        check(false, name + ": model or upload");
        return;
    }
    const ModelConfig &c = (*m)->config();
    const KvEntrySizes sizes = kvEntrySizes(c, layout);
    const int L = 600, chunk = 300, T = 4, history = 64;
    std::mt19937 rng(7);
    std::vector<int32_t> ids(L + T);
    for (int32_t &id : ids)
        id = static_cast<int32_t>(rng() % static_cast<uint32_t>(c.vocabSize));
    CpuExecutor cpu(0);
    V4Forward cfwd(**m, cpu), gfwd(**m, gpu);
    SequenceState cst(c, history, 0), gst(c, history, 0);
    std::vector<float> logits(static_cast<size_t>(c.vocabSize));
    // The prefill's final length: compressed caches sized once, either on the device or (as
    // the scheduler does) before the state is placed, applied by useMemory.
    Result<void> r = reserveOnHost ? gst.reserve(L) : gst.useMemory(&gpu);
    if (r)
        r = reserveOnHost ? gst.useMemory(&gpu) : gst.reserve(L);
    for (int p = 0; r && p < L; p += chunk) {
        r = cfwd.forward({{&cst, ids.data() + p, chunk, 0}}, logits.data());
        if (r)
            r = gfwd.forward({{&gst, ids.data() + p, chunk, 0}}, logits.data());
    }
    if (!r) {
        check(false, name + ": prefill: " + r.error().toString());
        return;
    }
    // Compressed caches right after the prefill: exactly the reserved rows, nothing more.
    const SequenceState::StorageBytes held = gst.storageBytes(false, 0, c.numHiddenLayers);
    const SequenceState::StorageBytes alloc = gst.storageBytes(true, 0, c.numHiddenLayers);
    const KvStateBytes spec = kvStateBytes(c, layout, L);
    check(held.compressed == spec.compressed && alloc.compressed == spec.compressed,
          name + ": compressed entries + index keys after a reserved "
              + (reserveOnHost ? "(on the host) " : "") + std::to_string(L)
              + "-token prefill: held " + std::to_string(held.compressed) + " B, allocated "
              + std::to_string(alloc.compressed) + " B, kvStateBytes("
              + (packed ? "Packed" : "Bf16") + ") " + std::to_string(spec.compressed) + " B");
    // Rings: a chunk grew them to hold 300 + history rows; trim() brought them back.
    int64_t ringRows = 0, bigRings = 0;
    for (int b = 0; b < gst.blockCount(); ++b)
        for (const RowHistory *h : {&gst.block(b).window, &gst.block(b).compKv})
            if (h->width()) {
                ringRows = std::max(ringRows, h->capacity());
                bigRings += h->capacity() > 256;
            }
    check(bigRings == 0,
          name + ": rings back at their steady size after the chunked prefill (largest "
              + std::to_string(ringRows) + " slots, " + std::to_string(bigRings) + " above 256)");
    for (int t = 0; r && t < T; ++t) {
        r = cfwd.forward({{&cst, ids.data() + L + t, 1, 0}}, logits.data());
        if (r)
            r = gfwd.forward({{&gst, ids.data() + L + t, 1, 0}}, logits.data());
    }
    if (!r) {
        check(false, name + ": decode: " + r.error().toString());
        return;
    }
    bool types = true;
    for (int b = 0; b < gst.blockCount(); ++b) {
        const BlockState &bs = gst.block(b);
        for (const RowHistory *h : {&bs.window, &bs.entries})
            types = types
                    && (h->width() == 0
                        || ((packed ? h->packed() && !h->bf16() : h->bf16() && !h->packed())
                            && h->rowBytes() == sizes.entry));
        types = types
                && (bs.indexKeys.width() == 0
                    || ((packed ? bs.indexKeys.packed() : bs.indexKeys.bf16())
                        && bs.indexKeys.rowBytes() == sizes.indexKey));
        for (const RowHistory *h : {&bs.compKv, &bs.compGate, &bs.indexKv, &bs.indexGate})
            types = types && !h->bf16() && !h->packed() && h->elementBytes() == 4;
    }
    check(types,
          name + ": device window rows, entries and index keys stored "
              + (packed ? "packed (" : "as bf16 (") + std::to_string(sizes.entry) + " / "
              + std::to_string(sizes.indexKey) + " B rows), compressor rows as fp32");
    check(gst == cst,
          name + ": device state (" + (packed ? "packed" : "bf16")
              + " rows) equals the CPU state (fp32 rows) after a chunked prefill and decode");
    const SequenceState::StorageBytes gb = gst.storageBytes(false, 0, c.numHiddenLayers);
    const SequenceState::StorageBytes cb = cst.storageBytes(false, 0, c.numHiddenLayers);
    const KvStateBytes spec2 = kvStateBytes(c, layout, L + T);
    // The window part per row: the layout's entry bytes against the CPU's 4 x head_dim.
    check(gb.window * 4 * c.headDim == cb.window * sizes.entry && gb.compressor == cb.compressor
              && gb.compressed == spec2.compressed && gb.window >= spec2.window,
          name + ": bytes held after " + std::to_string(L + T) + " tokens (main layers): window "
              + std::to_string(gb.window) + " (CPU fp32 " + std::to_string(cb.window)
              + ", kvStateBytes ring " + std::to_string(spec2.window) + " + history), compressed "
              + std::to_string(gb.compressed) + " (CPU " + std::to_string(cb.compressed)
              + ", kvStateBytes " + std::to_string(spec2.compressed) + "), compressor fp32 "
              + std::to_string(gb.compressor));
    // The scheduler's states keep no history (0): a CSA compressor ring then holds at most 2
    // windows of 4 rows + a step's, in 16 slots (was 256: 6-8x §5.2's compressor state for
    // V4-Flash at any context); HCA rings and windows keep 256. Prefill 40 + 3 decode tokens.
    {
        SequenceState z(c, 0, 0), zc(c, 0, 0);
        Result<void> rz = z.useMemory(&gpu);
        for (int p = 0; rz && p < 43; p += p < 40 ? 40 : 1) {
            const int n = p < 40 ? 40 : 1;
            rz = gfwd.forward({{&z, ids.data() + p, n, 0}}, logits.data());
            if (rz)
                rz = cfwd.forward({{&zc, ids.data() + p, n, 0}}, logits.data());
        }
        int64_t csaSlots = 0, otherMin = 1 << 30, csaRings = 0;
        for (int b = 0; rz && b < z.blockCount(); ++b) {
            const BlockState &bs = z.block(b);
            for (const RowHistory *h : {&bs.compKv, &bs.compGate, &bs.indexKv, &bs.indexGate})
                if (h->width() && bs.ratio == 4) {
                    csaSlots = std::max(csaSlots, h->capacity());
                    ++csaRings;
                } else if (h->width()) {
                    otherMin = std::min(otherMin, h->capacity());
                }
            if (bs.window.width())
                otherMin = std::min(otherMin, bs.window.capacity());
        }
        check(rz && csaRings > 0 && csaSlots == 16 && otherMin >= 256 && z == zc,
              name + ": history 0, 43 tokens: CSA compressor rings " + std::to_string(csaSlots)
                  + " slots (" + std::to_string(csaRings) + " rings), other rings >= "
                  + std::to_string(otherMin) + ", compressor rows allocated "
                  + std::to_string(z.storageBytes(true, 0, c.numHiddenLayers).compressor)
                  + " B (kvStateBytes' fp32 compressor state "
                  + std::to_string(kvStateBytes(c, layout, 43).compressorState)
                  + " B); state == CPU state");
    }
    auto inexact = gpu.stateRowsInexact();
    check(inexact && *inexact == 0,
          name + ": the converting appends rounded " + std::to_string(inexact ? *inexact : -1)
              + " values (exact rows)");
}
#endif

} // namespace

int main()
{
    specFigures();
    // FATHOM_TESTDATA_DIR in the environment overrides the configured path (binaries built on
    // one machine and run on the device machine, tests/gpu/run-device-checks.sh).
    const char *rootEnv = std::getenv("FATHOM_TESTDATA_DIR");
    const std::string root = rootEnv && *rootEnv ? rootEnv : FATHOM_TESTDATA_DIR;
    if (std::filesystem::exists(root + "/v4/tiny-bf16/expected.safetensors")) {
        for (const char *name : {"tiny-bf16", "tiny-quant"})
            lossless(root + "/v4/" + name, name);
#ifdef FATHOM_HAVE_CUDA_BACKEND
        auto gpu = CudaExecutor::create(0);
        if (!gpu)
            check(false, "CudaExecutor: " + gpu.error().toString());
        else
            for (const char *name : {"tiny-bf16", "tiny-quant"}) { // both orders of reserve
                deviceState(**gpu, root + "/v4/" + name, name, name[5] == 'q', KvLayout::Packed);
                // packedkv: session 7's bf16 layout stays tested (FATHOM_CUDA_KV_LAYOUT=bf16)
                if (name[5] == 'q')
                    deviceState(**gpu, root + "/v4/" + name, name, false, KvLayout::Bf16);
            }
#endif
    } else {
        std::printf("%s golden data not found at %s/v4 (representability not checked)\n",
                    FATHOM_REQUIRE_TESTDATA ? "FAIL:" : "SKIP:",
                    root.c_str());
        if (FATHOM_REQUIRE_TESTDATA)
            ++g_failures;
    }
    std::printf("%d checks, %d failed\n", g_checks, g_failures);
    return g_failures ? 1 : 0;
}
