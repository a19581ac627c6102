// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/**
  Per-sequence decode state sizes (spec §5.1-§5.2) for a model configuration, in the two
  layouts the spec names, and in what the engine's sequence state holds today:

  - Bf16 (the reference's caches): raw and compressed KV entries head_dim bf16 values
    (1024 B for V4), compressed index keys index_head_dim bf16 values (256 B).
  - Packed (lossless w.r.t. the reference QAT): a KV entry is its nope dims in e4m3, its RoPE
    dims in bf16 and one E8M0 scale per 64 nope dims padded to 8 bytes (448 + 128 + 8 = 584 B
    for V4); an index key is index_head_dim e2m1 values (two per byte) and one E8M0 scale per
    32 (64 + 4 = 68 B).
  - Fp32 (engine/runtime/sequencestate.h as of 2026-11-29): every row fp32, so an entry is
    head_dim x 4 B and a key index_head_dim x 4 B (the CUDA backend keeps this until its state
    stores a narrower type; see docs/perf/cuda.md).

  Per layer: a ring of the last `sliding_window` raw entries (every main layer; the MTP block's
  ring is counted apart), floor(L / 4) entries + floor(L / 4) index keys for CSA layers (ratio
  4), floor(L / ratio) entries for HCA layers; compressor states (fp32 in every layout): CSA
  2 windows x 4 tokens x (a, g + ape) of width 2 x head_dim and 2 x index_head_dim, HCA ratio
  tokens x (a, g + ape) of width head_dim.

  Header-only and free of CUDA so the CPU build and its tests can use it.
*/

#include "engine/model/modelconfig.h"

#include <algorithm>
#include <cstdint>

namespace fathom::engine {

enum class KvLayout {
    Bf16,   // the reference's bf16 caches
    Packed, // e4m3 + bf16 RoPE + E8M0 entries, e2m1 + E8M0 index keys
    Fp32,   // the engine's fp32 rows
};

struct KvEntrySizes
{
    int64_t entry = 0;    // raw or compressed KV entry, bytes
    int64_t indexKey = 0; // compressed index key, bytes
};

inline KvEntrySizes kvEntrySizes(const ModelConfig &c, KvLayout layout)
{
    KvEntrySizes s;
    switch (layout) {
    case KvLayout::Bf16:
        s.entry = 2 * int64_t(c.headDim);
        s.indexKey = 2 * int64_t(c.indexHeadDim);
        break;
    case KvLayout::Packed: {
        const int64_t nope = c.headDim - c.qkRopeHeadDim;
        const int64_t scales = (nope + 63) / 64;
        s.entry = nope + 2 * int64_t(c.qkRopeHeadDim) + (scales + 7) / 8 * 8;
        s.indexKey = (int64_t(c.indexHeadDim) + 1) / 2 + (c.indexHeadDim + 31) / 32;
        break;
    }
    case KvLayout::Fp32:
        s.entry = 4 * int64_t(c.headDim);
        s.indexKey = 4 * int64_t(c.indexHeadDim);
        break;
    }
    return s;
}

struct KvStateBytes
{
    double perToken = 0;         // growing part per token of context (all main layers)
    int64_t window = 0;          // the main layers' rings (sliding_window entries each)
    int64_t compressorState = 0; // fp32 compressor states of the main layers
    int64_t compressed = 0;      // compressed entries + index keys at `context`
    int64_t total() const { return window + compressed; } // §5.2's totals (no compressor state)
};

// Sizes of one sequence's state at `context` tokens over the main layers (the MTP block's ring
// apart, as in §5.2's table).
inline KvStateBytes kvStateBytes(const ModelConfig &c, KvLayout layout, int64_t context)
{
    const KvEntrySizes s = kvEntrySizes(c, layout);
    KvStateBytes b;
    const int64_t ring = std::min<int64_t>(context, c.slidingWindow);
    for (int l = 0; l < c.numHiddenLayers; ++l) {
        const int m = c.compressRatio(l);
        b.window += ring * s.entry;
        if (m == 4) {
            b.perToken += double(s.entry + s.indexKey) / 4.0;
            b.compressed += context / 4 * (s.entry + s.indexKey);
            b.compressorState += 2LL * 4 * 2 * (2LL * c.headDim) * 4
                                 + 2LL * 4 * 2 * (2LL * c.indexHeadDim) * 4;
        } else if (m > 0) {
            b.perToken += double(s.entry) / m;
            b.compressed += context / m * s.entry;
            b.compressorState += int64_t(m) * 2 * c.headDim * 4;
        }
    }
    return b;
}

} // namespace fathom::engine
