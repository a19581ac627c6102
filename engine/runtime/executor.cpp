// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "executor.h"

#include "kernels/formats.h"
#include "kernels/kv_packed.h"
#include "kernels/quant.h"

#include <algorithm>
#include <cstring>
#include <numeric>

namespace fathom::engine {

DeviceMemory &hostMemory()
{
    static DeviceMemory host;
    return host;
}

Result<void> Executor::expertFfn(const std::vector<ExpertJob> &jobs, int inter, float limit)
{
    int maxRows = 0;
    for (const ExpertJob &j : jobs)
        maxRows = std::max(maxRows, j.rows);
    if (maxRows == 0)
        return {};
    const int64_t n = static_cast<int64_t>(maxRows) * inter;
    FATHOM_TRY_ASSIGN(Buffer<float> g, Buffer<float>::make(*this, n, "expert gate activations"));
    FATHOM_TRY_ASSIGN(Buffer<float> u, Buffer<float>::make(*this, n, "expert up activations"));
    for (const ExpertJob &j : jobs) {
        if (j.rows == 0)
            continue;
        FATHOM_TRY(linear(*j.w1, j.x, j.rows, g.data(), LinearOutput::Bf16));
        FATHOM_TRY(linear(*j.w3, j.x, j.rows, u.data(), LinearOutput::Bf16));
        kernels::SwigluParams sw;
        sw.gate = g.data();
        sw.up = u.data();
        sw.row_weights = j.rowWeights;
        sw.out = g.data();
        sw.rows = j.rows;
        sw.inter = inter;
        sw.limit = limit;
        FATHOM_TRY(swiglu(sw));
        FATHOM_TRY(linear(*j.w2, g.data(), j.rows, j.y, LinearOutput::Bf16));
    }
    return {};
}

Result<void> Executor::indexerSelect(const kernels::IndexerScoreParams &p,
                                     int rows,
                                     const int32_t *hostVisible,
                                     int k,
                                     int32_t *hostOut)
{
    std::fill(hostOut, hostOut + static_cast<int64_t>(rows) * k, -1);
    if (rows <= 0 || p.n_keys <= 0)
        return {};
    FATHOM_TRY_ASSIGN(Buffer<float> scores, Buffer<float>::make(*this, p.n_keys, "indexer scores"));
    FATHOM_TRY_ASSIGN(Buffer<int32_t> picked, Buffer<int32_t>::make(*this, k, "indexer selection"));
    for (int r = 0; r < rows; ++r) {
        const int nVis = hostVisible[r];
        if (nVis <= 0)
            continue;
        kernels::IndexerScoreParams sp = p;
        sp.q = p.q + static_cast<int64_t>(r) * p.n_heads * p.dim;
        sp.weights = p.weights + static_cast<int64_t>(r) * p.n_heads;
        sp.scores = scores.data();
        sp.n_keys = nVis;
        FATHOM_TRY(indexerScores(sp));
        const int kr = std::min(k, nVis);
        FATHOM_TRY(topk(scores.data(), nVis, kr, picked.data()));
        FATHOM_TRY(copyToHost(hostOut + static_cast<int64_t>(r) * k,
                              picked.data(),
                              sizeof(int32_t) * static_cast<size_t>(kr)));
    }
    return {};
}

void Executor::embedRowRange(const uint16_t *table,
                             const int32_t *hostIds,
                             int64_t r0,
                             int64_t r1,
                             int d,
                             int copies,
                             float *out)
{
    for (int64_t r = r0; r < r1; ++r) {
        float *dst = out + r * copies * d;
        kernels::bf16_to_f32_row(table + static_cast<int64_t>(hostIds[r]) * d, dst, d); // exact
        for (int s = 1; s < copies; ++s)
            std::memcpy(dst + static_cast<int64_t>(s) * d, dst, sizeof(float) * d);
    }
}

Result<void> Executor::embedRows(
    const uint16_t *table, const int32_t *hostIds, int rows, int d, int copies, float *out)
{
    embedRowRange(table, hostIds, 0, rows, d, copies, out);
    return {};
}

void Executor::addPeriodicRowRange(float *x,
                                   const float *table,
                                   const int32_t *hostPositions,
                                   int64_t r0,
                                   int64_t r1,
                                   int width,
                                   int period)
{
    for (int64_t r = r0; r < r1; ++r) {
        float *xr = x + r * width;
        const float *tr = table + static_cast<int64_t>(hostPositions[r] % period) * width;
        for (int e = 0; e < width; ++e)
            xr[e] = xr[e] + tr[e];
    }
}

Result<void> Executor::addPeriodicRows(
    float *x, const float *table, const int32_t *hostPositions, int rows, int width, int period)
{
    addPeriodicRowRange(x, table, hostPositions, 0, rows, width, period);
    return {};
}

Result<void> Executor::scaleRoundBf16(float *x, int64_t n, float scale)
{
    for (int64_t i = 0; i < n; ++i)
        x[i] = kernels::round_bf16(x[i] * scale);
    return {};
}

Result<void> Executor::gatherRows(
    float *dst, const float *src, const int32_t *hostRows, int n, int width)
{
    for (int k = 0; k < n; ++k)
        std::memcpy(dst + static_cast<int64_t>(k) * width,
                    src + static_cast<int64_t>(hostRows[k]) * width,
                    sizeof(float) * width);
    return {};
}

Result<void> Executor::scatterRows(
    float *dst, const float *src, const int32_t *hostRows, int n, int width)
{
    for (int k = 0; k < n; ++k)
        std::memcpy(dst + static_cast<int64_t>(hostRows[k]) * width,
                    src + static_cast<int64_t>(k) * width,
                    sizeof(float) * width);
    return {};
}

Result<void> Executor::scatterRowsBf16(
    uint16_t *dst, const float *src, const int32_t *hostRows, int n, int width)
{
    for (int k = 0; k < n; ++k)
        for (int e = 0; e < width; ++e)
            dst[static_cast<int64_t>(hostRows[k]) * width + e] = kernels::f32_to_bf16(
                src[static_cast<int64_t>(k) * width + e]);
    return {};
}

Result<void> Executor::scatterRowsPacked(
    uint8_t *dst, const float *src, const int32_t *hostRows, int n, int width, int rope)
{
    const int64_t rb = kernels::packed_row_bytes(width, rope);
    for (int k = 0; k < n; ++k)
        (void) kernels::pack_state_row(src + static_cast<int64_t>(k) * width,
                                       width,
                                       rope,
                                       dst + static_cast<int64_t>(hostRows[k]) * rb);
    return {};
}

Result<void> Executor::appendStateRows(const StateAppend *appends,
                                       int n,
                                       const int32_t *hostPositions,
                                       int positions)
{
    for (int k = 0; k < n; ++k) {
        const StateAppend &a = appends[k];
        if (a.count <= 0)
            continue;
        if (a.first < 0 || a.first + a.count > positions || a.ringRows <= 0
            || (a.ringRows & (a.ringRows - 1)) != 0 || (a.ape && a.rows != StateAppend::Rows::F32))
            return fail(Error::Kind::InvalidArgument, "appendStateRows: bad append");
        if (a.ape)
            FATHOM_TRY(
                addPeriodicRows(a.src, a.ape, hostPositions + a.first, a.count, a.width, a.period));
        std::vector<int32_t> slots(static_cast<size_t>(a.count));
        for (int t = 0; t < a.count; ++t)
            slots[static_cast<size_t>(t)] = static_cast<int32_t>(hostPositions[a.first + t]
                                                                 & (a.ringRows - 1));
        switch (a.rows) {
        case StateAppend::Rows::F32:
            FATHOM_TRY(
                scatterRows(static_cast<float *>(a.dst), a.src, slots.data(), a.count, a.width));
            break;
        case StateAppend::Rows::Bf16:
            FATHOM_TRY(scatterRowsBf16(static_cast<uint16_t *>(a.dst),
                                       a.src,
                                       slots.data(),
                                       a.count,
                                       a.width));
            break;
        case StateAppend::Rows::Packed:
            FATHOM_TRY(scatterRowsPacked(static_cast<uint8_t *>(a.dst),
                                         a.src,
                                         slots.data(),
                                         a.count,
                                         a.width,
                                         a.rope));
            break;
        }
    }
    return {};
}

void Executor::moeCombineRowRange(float *y,
                                  const float *routed,
                                  const float *shared,
                                  const int32_t *hostIds,
                                  int64_t r0,
                                  int64_t r1,
                                  int k,
                                  int d)
{
    // Per element: 0 + the routed outputs by increasing expert id (stable for equal ids) + the
    // shared one, then bf16; the element loop innermost so it vectorises.
    std::vector<int> order(static_cast<size_t>(k));
    for (int64_t r = r0; r < r1; ++r) {
        const int32_t *rid = hostIds + r * k;
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [rid](int a, int b) {
            return rid[a] < rid[b];
        });
        float *out = y + r * d;
        std::fill(out, out + d, 0.0f);
        for (int j : order) {
            const float *src = routed + (r * k + j) * d;
            for (int e = 0; e < d; ++e)
                out[e] += src[e];
        }
        const float *sh = shared + r * d;
        for (int e = 0; e < d; ++e)
            out[e] += sh[e];
        kernels::round_bf16_inplace(out, d);
    }
}

Result<void> Executor::moeCombine(float *y,
                                  const float *routed,
                                  const float *shared,
                                  const int32_t *hostIds,
                                  int rows,
                                  int k,
                                  int d)
{
    moeCombineRowRange(y, routed, shared, hostIds, 0, rows, k, d);
    return {};
}

Result<void> Executor::addBroadcastRoundBf16(
    float *out, const float *a, const float *b, int rows, int n, int d)
{
    for (int i = 0; i < rows; ++i)
        for (int s = 0; s < n; ++s)
            for (int k = 0; k < d; ++k) {
                const int64_t o = (static_cast<int64_t>(i) * n + s) * d + k;
                out[o] = kernels::round_bf16(a[static_cast<int64_t>(i) * d + k] + b[o]);
            }
    return {};
}

} // namespace fathom::engine
