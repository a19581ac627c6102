// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "cpuexecutor.h"

#include "kernels/formats.h"
#include "kernels/hadamard.h"
#include "kernels/linear.h"
#include "kernels/quant.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <numeric>
#include <string>
#include <vector>

namespace fathom::engine {

namespace {

Result<void> check(kernels::Status st, const char *op)
{
    if (st.ok())
        return {};
    return fail(st.code == kernels::StatusCode::Unsupported ? Error::Kind::Unsupported
                                                            : Error::Kind::InvalidArgument,
                std::string(op) + ": " + st.message,
                "CpuExecutor");
}

} // namespace

CpuExecutor::CpuExecutor(int threads, bool exactLinear)
    : m_pool(std::make_unique<ThreadPool>(threads))
    , m_exactLinear(exactLinear)
{}

CpuExecutor::~CpuExecutor()
{
    for (auto &[size, p] : m_freeBlocks)
        std::free(p);
    // Blocks still in use when the executor goes are freed by their owners' release() calls,
    // which must come first (Buffer keeps a pointer to its memory).
}

namespace {
// Blocks below this go to calloc (the malloc heap reuses them without page faults); the cache
// keeps at most k_cacheBytes of unused blocks, each at most k_cacheBlockMax. Large blocks come
// from mmap, so every one not kept costs page faults on its next use: a 3072-token prefill chunk
// (MoE dispatch buffers of ~75 MB each) spent ~25 % of its time in page faults and copies with a
// 64 MiB / 192 MiB cache. The app's prefill chunks (256 tokens) need a few MiB.
constexpr size_t k_cacheMin = size_t(64) << 10;
constexpr size_t k_cacheBlockMax = size_t(256) << 20;
constexpr size_t k_cacheBytes = size_t(768) << 20;
} // namespace

Result<void *> CpuExecutor::allocate(size_t bytes, const char *what)
{
    if (bytes < k_cacheMin || bytes > k_cacheBlockMax)
        return DeviceMemory::allocate(bytes, what);
    const size_t size = (bytes + 4095) & ~size_t(4095);
    void *p = nullptr;
    {
        std::lock_guard lock(m_cacheMutex);
        if (auto it = m_freeBlocks.find(size); it != m_freeBlocks.end()) {
            p = it->second;
            m_freeBlocks.erase(it);
            m_freeBytes -= size;
        }
    }
    if (!p) {
        p = std::aligned_alloc(64, size);
        if (!p)
            return fail(Error::Kind::OutOfMemory,
                        "out of host memory allocating " + std::to_string(bytes) + " bytes for "
                            + what,
                        "CpuExecutor");
    }
    // Not zero-filled: the forward pass writes every element of a buffer before reading it
    // (DeviceMemory::allocate; tests/engine/tst_deviceexecutor runs it on NaN-filled buffers),
    // and clearing recycled blocks cost ~1 % of a prefill.
    std::lock_guard lock(m_cacheMutex);
    m_liveBlocks.emplace(p, size);
    return p;
}

void CpuExecutor::release(void *p)
{
    if (!p)
        return;
    {
        std::lock_guard lock(m_cacheMutex);
        const auto it = m_liveBlocks.find(p);
        if (it != m_liveBlocks.end()) {
            const size_t size = it->second;
            m_liveBlocks.erase(it);
            if (m_freeBytes + size <= k_cacheBytes) {
                m_freeBlocks.emplace(size, p);
                m_freeBytes += size;
                return;
            }
        }
    }
    std::free(p);
}

Result<void> CpuExecutor::linear(const LinearWeight &w,
                                 const float *x,
                                 int m,
                                 float *y,
                                 LinearOutput out,
                                 int64_t ldx,
                                 int64_t ldy)
{
    if (!w.valid())
        return fail(Error::Kind::InvalidArgument, "linear: missing weight", "CpuExecutor");
    if (m == 0)
        return {};
    kernels::linear_params p = w.params();
    p.x = x;
    p.x_type = kernels::act_type::f32;
    p.ldx = ldx;
    p.y = y;
    p.y_type = kernels::act_type::f32;
    p.ldy = ldy;
    p.m = m;
    p.accum = m_exactLinear ? kernels::linear_accum::exact : kernels::linear_accum::fp32;
    FATHOM_TRY(
        check(kernels::linear_cpu(p, m_pool.get()), w.view ? w.view->name.c_str() : "linear"));
    if (out == LinearOutput::Bf16) {
        // Rows on the pool for a prefill chunk (the rounding is per element).
        const int64_t stride = ldy ? ldy : w.outFeatures;
        const int64_t nOut = w.outFeatures;
        kernels::parallel_for(m_pool.get(),
                              m,
                              std::max<int64_t>(1, 16384 / std::max<int64_t>(1, nOut)),
                              [&](int64_t r0, int64_t r1) {
                                  if (stride == nOut) {
                                      kernels::round_bf16_inplace(y + r0 * stride, (r1 - r0) * nOut);
                                      return;
                                  }
                                  for (int64_t r = r0; r < r1; ++r)
                                      kernels::round_bf16_inplace(y + r * stride, nOut);
                              });
    }
    return {};
}

// The token loops of the row-wise ops below run on the pool: every token (row) is computed by
// the same code on its own, so a split gives the same bits as one call. Prefill spends a few
// percent of its time in them; a decode step (one row) is not split.
template<typename Params, typename Fn>
kernels::Status CpuExecutor::splitRows(const Params &p, int rows, int64_t grain, Fn &&fn)
{
    if (rows <= 1 || m_pool->thread_count() <= 1)
        return fn(p, 0, rows);
    kernels::Status status;
    std::mutex statusMutex;
    kernels::parallel_for(m_pool.get(), rows, grain, [&](int64_t begin, int64_t end) {
        const kernels::Status st = fn(p, static_cast<int>(begin), static_cast<int>(end));
        if (!st.ok()) {
            std::lock_guard lock(statusMutex);
            status = st;
        }
    });
    return status;
}

Result<void> CpuExecutor::rmsNorm(const kernels::RmsNormParams &p)
{
    const int xs = p.x_stride ? p.x_stride : p.dim;
    const int ys = p.y_stride ? p.y_stride : p.dim;
    return check(splitRows(p,
                           p.rows,
                           16,
                           [xs, ys](kernels::RmsNormParams q, int r0, int r1) {
                               q.x += static_cast<int64_t>(r0) * xs;
                               q.y += static_cast<int64_t>(r0) * ys;
                               q.rows = r1 - r0;
                               q.x_stride = xs;
                               q.y_stride = ys;
                               return kernels::rmsnorm_cpu(q);
                           }),
                 "rmsnorm");
}

Result<void> CpuExecutor::headRmsNormBf16(float *x, int rows, int dim, float eps)
{
    return check(splitRows(x,
                           rows,
                           64,
                           [dim, eps](float *v, int r0, int r1) {
                               return kernels::head_rmsnorm_bf16_cpu(v
                                                                         + static_cast<int64_t>(r0)
                                                                               * dim,
                                                                     r1 - r0,
                                                                     dim,
                                                                     eps);
                           }),
                 "head_rmsnorm");
}

namespace {
// Positions below this have their RoPE cos/sin kept per frequency table (64 floats a position
// at rope_dim 64: 4 MiB at most per table); the rest are computed per call.
constexpr int k_ropeCachedPositions = 16384;
constexpr size_t k_ropeTables = 4;
} // namespace

const CpuExecutor::RopeTable *CpuExecutor::ropeTable(const float *freqs,
                                                     int half,
                                                     int32_t maxPosition)
{
    // Keyed by the frequencies' values (not their address, which a later model may reuse).
    RopeTable *table = nullptr;
    for (RopeTable &t : m_ropeTables)
        if (static_cast<int>(t.freqs.size()) == half
            && std::equal(t.freqs.begin(), t.freqs.end(), freqs)) {
            table = &t;
            break;
        }
    if (!table) {
        if (m_ropeTables.size() >= k_ropeTables)
            m_ropeTables.erase(m_ropeTables.begin());
        m_ropeTables.push_back({std::vector<float>(freqs, freqs + half), {}, 0});
        table = &m_ropeTables.back();
    }
    const int want = std::min(k_ropeCachedPositions, maxPosition + 1);
    if (want > table->rows) {
        // Grow by at least 256 positions (decode adds one a step).
        const int rows = std::min(k_ropeCachedPositions, std::max(want, table->rows + 256));
        table->cosSin.resize(static_cast<size_t>(rows) * 2 * half);
        for (int r = table->rows; r < rows; ++r) {
            float *cs = table->cosSin.data() + static_cast<size_t>(r) * 2 * half;
            kernels::rope_cos_sin_cpu(r, freqs, half, cs, cs + half);
        }
        table->rows = rows;
    }
    return table;
}

Result<void> CpuExecutor::rope(const kernels::RopeParams &p)
{
    // Split on position groups (rows_per_position rows share one position).
    const int per = std::max(1, p.rows_per_position);
    const int groups = (p.rows + per - 1) / per;
    const int half = p.rope_dim / 2;
    if (!p.x || !p.positions || !p.freqs || half <= 0 || (p.rope_dim & 1) || groups <= 0)
        return check(kernels::rope_cpu(p), "rope"); // its argument checks
    // cos/sin of every group's position from the tables (the same values rope_cpu computes),
    // then the rotations on the pool (kernels::rope_table_cpu, the same bits as rope_cpu).
    const int64_t ld = 2 * static_cast<int64_t>(half);
    m_ropeCall.resize(static_cast<size_t>(groups * ld));
    const RopeTable &cache = *ropeTable(p.freqs,
                                        half,
                                        *std::max_element(p.positions, p.positions + groups));
    for (int g = 0; g < groups; ++g) {
        float *dst = m_ropeCall.data() + g * ld;
        const int32_t pos = p.positions[g];
        if (pos >= 0 && pos < cache.rows)
            std::copy_n(cache.cosSin.data() + static_cast<size_t>(pos) * ld, ld, dst);
        else
            kernels::rope_cos_sin_cpu(pos, p.freqs, half, dst, dst + half);
    }
    const float *table = m_ropeCall.data();
    return check(splitRows(p,
                           groups,
                           std::max(1, 256 / per),
                           [per, table, ld](kernels::RopeParams q, int g0, int g1) {
                               const int r0 = g0 * per;
                               q.x += static_cast<int64_t>(r0) * q.row_stride;
                               q.rows = std::min(q.rows, g1 * per) - r0;
                               return kernels::rope_table_cpu(q, table + g0 * ld, ld);
                           }),
                 "rope");
}

Result<void> CpuExecutor::mhcPre(const kernels::MhcPreParams &params)
{
    kernels::MhcPreParams p = params;
    p.fp32_sums = !m_exactLinear;
    if (p.tokens == 1) // a decode step: the kernel shares out the work inside the token
        return check(kernels::mhc_pre_cpu(p, m_pool.get()), "mhc_pre");
    return check(splitRows(p,
                           p.tokens,
                           1,
                           [](kernels::MhcPreParams q, int t0, int t1) {
                               const int64_t n = q.n_hc;
                               q.x += t0 * n * q.d;
                               q.pre += t0 * n;
                               q.post += t0 * n;
                               q.comb += t0 * n * n;
                               q.u += static_cast<int64_t>(t0) * q.d;
                               q.tokens = t1 - t0;
                               return kernels::mhc_pre_cpu(q);
                           }),
                 "mhc_pre");
}

Result<void> CpuExecutor::mhcPost(const kernels::MhcPostParams &p)
{
    if (p.tokens == 1) // a decode step: the kernel shares out the work inside the token
        return check(kernels::mhc_post_cpu(p, m_pool.get()), "mhc_post");
    return check(splitRows(p,
                           p.tokens,
                           2,
                           [](kernels::MhcPostParams q, int t0, int t1) {
                               const int64_t n = q.n_hc;
                               q.x += t0 * n * q.d;
                               q.y += static_cast<int64_t>(t0) * q.d;
                               q.post += t0 * n;
                               q.comb += t0 * n * n;
                               q.out += t0 * n * q.d;
                               q.tokens = t1 - t0;
                               return kernels::mhc_post_cpu(q);
                           }),
                 "mhc_post");
}

Result<void> CpuExecutor::mhcHead(const kernels::MhcHeadParams &params)
{
    kernels::MhcHeadParams p = params;
    p.fp32_sums = !m_exactLinear;
    if (p.tokens == 1) // a decode step: the kernel shares out the work inside the token
        return check(kernels::mhc_head_cpu(p, m_pool.get()), "mhc_head");
    return check(splitRows(p,
                           p.tokens,
                           1,
                           [](kernels::MhcHeadParams q, int t0, int t1) {
                               q.x += static_cast<int64_t>(t0) * q.n_hc * q.d;
                               q.u += static_cast<int64_t>(t0) * q.d;
                               q.tokens = t1 - t0;
                               return kernels::mhc_head_cpu(q);
                           }),
                 "mhc_head");
}

Result<void> CpuExecutor::compressorPool(const kernels::CompressorPoolParams &p)
{
    // One entry per call, serial in the forward pass (a 256-token chunk pools 64 entries per
    // CSA layer, each a softmax over 8 slots of 512 channels with a double exp per element):
    // the channels are independent, so large entries share them out over the pool.
    const int slots = (p.prev_kv ? 2 : 1) * p.ratio;
    if (m_pool->thread_count() <= 1 || static_cast<int64_t>(p.dc) * slots < 2048)
        return check(kernels::compressor_pool_cpu(p), "compressor_pool");
    kernels::Status status;
    std::mutex statusMutex;
    kernels::parallel_for(m_pool.get(), p.dc, 64, [&](int64_t e0, int64_t e1) {
        const kernels::Status st = kernels::compressor_pool_range_cpu(p,
                                                                      static_cast<int>(e0),
                                                                      static_cast<int>(e1));
        if (!st.ok()) {
            std::lock_guard lock(statusMutex);
            status = st;
        }
    });
    return check(status, "compressor_pool");
}

Result<void> CpuExecutor::hadamard(float *x, int rows, int n, float scale)
{
    return check(splitRows(x,
                           rows,
                           32,
                           [n, scale](float *v, int r0, int r1) {
                               return kernels::hadamard_cpu(v + static_cast<int64_t>(r0) * n,
                                                            r1 - r0,
                                                            n,
                                                            scale);
                           }),
                 "hadamard");
}

Result<void> CpuExecutor::fakeQuantSplit(
    float *x, int rows, int rowStride, int dims, int block, FakeQuantRowsFn quant, const char *what)
{
    return check(splitRows(x,
                           rows,
                           32,
                           [=](float *v, int r0, int r1) {
                               quant(v + static_cast<int64_t>(r0) * rowStride,
                                     r1 - r0,
                                     rowStride,
                                     dims,
                                     block);
                               return kernels::Status::success();
                           }),
                 what);
}

Result<void> CpuExecutor::fakeQuantE4m3(float *x, int rows, int rowStride, int dims, int block)
{
    return fakeQuantSplit(x,
                          rows,
                          rowStride,
                          dims,
                          block,
                          kernels::fake_quant_e4m3_f32_rows,
                          "fake_quant_e4m3");
}

Result<void> CpuExecutor::fakeQuantE2m1(float *x, int rows, int rowStride, int dims, int block)
{
    return fakeQuantSplit(x,
                          rows,
                          rowStride,
                          dims,
                          block,
                          kernels::fake_quant_e2m1_f32_rows,
                          "fake_quant_e2m1");
}

namespace {
// The fp32 indexer kernel reads the keys transposed (16 per vector); the transposed copy is made
// per call, a full read and write of every visible key, which pays only when many query rows
// share it. One query row (a decode step, indexerScores) is scored straight from the cache by
// the exact kernel, which is also within the fp32 mode's bound.
constexpr int k_fastIndexerMinRows = 16;
} // namespace

Result<void> CpuExecutor::indexerScores(const kernels::IndexerScoreParams &p)
{
    return check(kernels::indexer_scores_cpu(p), "indexer_scores");
}

Result<void> CpuExecutor::indexerSelect(const kernels::IndexerScoreParams &p,
                                        int rows,
                                        const int32_t *hostVisible,
                                        int k,
                                        int32_t *hostOut)
{
    // The default's token loop with the tokens shared out over the pool (a prefill chunk scores
    // every query row against all keys visible to it); each row is computed the same way.
    std::fill(hostOut, hostOut + static_cast<int64_t>(rows) * k, -1);
    if (rows <= 0 || p.n_keys <= 0)
        return {};
    // Without exact linears and with enough rows the keys are transposed once for all rows (fp32
    // scoring, 16 keys per vector).
    const bool fast = !m_exactLinear && rows >= k_fastIndexerMinRows;
    std::vector<float> keysT;
    if (fast) {
        keysT.resize(static_cast<size_t>(kernels::indexer_keys_transposed_floats(p.n_keys, p.dim)));
        kernels::indexer_keys_transpose(p.keys, p.n_keys, p.dim, keysT.data());
    }
    kernels::Status status;
    std::mutex statusMutex;
    // Later rows see more keys: chunks from the last rows back (see sparseAttention).
    kernels::parallel_for(m_pool.get(), rows, 1, [&](int64_t first, int64_t last) {
        const int64_t r0 = rows - last, r1 = rows - first;
        std::vector<float> scores(static_cast<size_t>(p.n_keys));
        for (int64_t r = r0; r < r1; ++r) {
            const int nVis = hostVisible[r];
            if (nVis <= 0)
                continue;
            kernels::IndexerScoreParams sp = p;
            sp.q = p.q + r * p.n_heads * p.dim;
            sp.weights = p.weights + r * p.n_heads;
            sp.scores = scores.data();
            sp.n_keys = nVis;
            kernels::Status st = fast ? kernels::indexer_scores_fast_cpu(sp, keysT.data())
                                      : kernels::indexer_scores_cpu(sp);
            if (st.ok())
                st = kernels::topk_cpu(scores.data(), nVis, std::min(k, nVis), hostOut + r * k);
            if (!st.ok()) {
                std::lock_guard lock(statusMutex);
                status = st;
            }
        }
    });
    return check(status, "indexer_select");
}

namespace {
// Rows per pool chunk of a gather / scatter: whole rows, at least ~64 KiB per chunk, so decode's
// few rows stay on the calling thread.
int64_t copyGrain(int width)
{
    return std::max<int64_t>(1, (int64_t(64) << 10) / (int64_t(sizeof(float)) * std::max(1, width)));
}
} // namespace

Result<void> CpuExecutor::gatherRows(
    float *dst, const float *src, const int32_t *hostRows, int n, int width)
{
    kernels::parallel_for(m_pool.get(), n, copyGrain(width), [&](int64_t k0, int64_t k1) {
        for (int64_t k = k0; k < k1; ++k)
            std::memcpy(dst + k * width,
                        src + static_cast<int64_t>(hostRows[k]) * width,
                        sizeof(float) * width);
    });
    return {};
}

Result<void> CpuExecutor::scatterRows(
    float *dst, const float *src, const int32_t *hostRows, int n, int width)
{
    // hostRows holds distinct rows (a permutation of slots), so the chunks never write the same
    // destination row.
    kernels::parallel_for(m_pool.get(), n, copyGrain(width), [&](int64_t k0, int64_t k1) {
        for (int64_t k = k0; k < k1; ++k)
            std::memcpy(dst + static_cast<int64_t>(hostRows[k]) * width,
                        src + k * width,
                        sizeof(float) * width);
    });
    return {};
}

Result<void> CpuExecutor::topk(const float *values, int n, int k, int32_t *outIdx)
{
    return check(kernels::topk_cpu(values, n, k, outIdx), "topk");
}

Result<void> CpuExecutor::sparseAttention(const kernels::SparseAttnParams &p)
{
    // The output's inverse RoPE (SparseAttnParams::out_rope_positions): the attention, then
    // rope() on its output, the bits of the separate op.
    if (p.out_rope_positions) {
        FATHOM_TRY(sparseAttention(kernels::sparse_attn_without_out_rope(p)));
        return rope(kernels::sparse_attn_out_rope(p));
    }
    // Independent (query row, head) pairs: split rows, or heads for a single row (decode; one
    // share of heads per thread, so each thread reads every key row once). The result does not
    // depend on the split. Without exact linears the sums are fp32 (sparse_attn_fast_cpu).
    auto kernel = m_exactLinear ? kernels::sparse_attn_cpu : kernels::sparse_attn_fast_cpu;
    kernels::Status status;
    std::mutex statusMutex;
    auto keep = [&](const kernels::Status &st) {
        if (!st.ok()) {
            std::lock_guard lock(statusMutex);
            status = st;
        }
    };
    if (p.n_q == 1 && p.n_heads > 1) {
        const int threads = m_pool->thread_count();
        const int64_t grain = (p.n_heads + threads - 1) / threads;
        kernels::parallel_for(m_pool.get(), p.n_heads, grain, [&](int64_t begin, int64_t end) {
            kernels::SparseAttnParams sub = p;
            sub.n_heads = static_cast<int>(end - begin);
            sub.q = p.q + begin * p.head_dim;
            sub.sink = p.sink + begin;
            sub.out = p.out + begin * p.head_dim;
            keep(kernel(sub));
        });
        return check(status, "sparse_attn");
    }
    // Later rows see more keys (compressed entries): the pool hands its chunks out in order,
    // so the chunks run from the last rows back and the cheap ones fill the end.
    kernels::parallel_for(m_pool.get(), p.n_q, 1, [&](int64_t first, int64_t last) {
        const int64_t begin = p.n_q - last, end = p.n_q - first;
        kernels::SparseAttnParams sub = p;
        sub.n_q = static_cast<int>(end - begin);
        sub.q = p.q + begin * p.n_heads * p.head_dim;
        sub.idx = p.idx + begin * p.n_idx;
        sub.out = p.out + begin * p.n_heads * p.head_dim;
        keep(kernel(sub));
    });
    return check(status, "sparse_attn");
}

Result<void> CpuExecutor::moeRoute(const kernels::MoeRouteParams &p)
{
    // Token by token (softplus, sqrt and top-k per row), so the tokens go out over the pool.
    return check(splitRows(p,
                           p.tokens,
                           16,
                           [](kernels::MoeRouteParams q, int t0, int t1) {
                               const int64_t e = static_cast<int64_t>(t0) * q.n_experts;
                               const int64_t k = static_cast<int64_t>(t0) * q.topk;
                               q.logits += e;
                               if (q.select_scores)
                                   q.select_scores += e;
                               if (q.forced_ids)
                                   q.forced_ids += k;
                               q.ids += k;
                               q.weights += k;
                               q.tokens = t1 - t0;
                               return kernels::moe_route_cpu(q);
                           }),
                 "moe_route");
}

Result<void> CpuExecutor::swiglu(const kernels::SwigluParams &p)
{
    // Without exact linears in fp32 with a vector exp (swiglu_fast_cpu).
    auto kernel = m_exactLinear ? kernels::swiglu_cpu : kernels::swiglu_fast_cpu;
    return check(splitRows(p,
                           p.rows,
                           8,
                           [kernel](kernels::SwigluParams q, int r0, int r1) {
                               const int64_t at = static_cast<int64_t>(r0) * q.inter;
                               q.gate += at;
                               q.up += at;
                               q.out += at;
                               if (q.row_weights)
                                   q.row_weights += r0;
                               q.rows = r1 - r0;
                               return kernel(q);
                           }),
                 "swiglu");
}

Result<void> CpuExecutor::expertFfn(const std::vector<ExpertJob> &jobs, int inter, float limit)
{
    int active = 0;
    for (const ExpertJob &j : jobs)
        active += j.rows > 0;
    const int threads = m_pool->thread_count();
    if (threads <= 1 || active < threads)
        return Executor::expertFfn(jobs, inter, limit);
    // Each job runs on one thread (linear_cpu without a pool gives the same bits), the jobs
    // concurrently: decode's few rows per expert, and a prefill chunk's tens of rows per expert,
    // where one pool dispatch per job instead of one per linear, rounding pass and SwiGLU (~160
    // per layer at 256 tokens) saves the dispatch and end-of-job waits. Jobs go out largest first
    // (the shared expert sees every row), one at a time from a counter, so the threads finish
    // close together.
    std::vector<int> order;
    order.reserve(jobs.size());
    for (size_t k = 0; k < jobs.size(); ++k)
        if (jobs[k].rows > 0)
            order.push_back(static_cast<int>(k));
    std::stable_sort(order.begin(), order.end(), [&jobs](int a, int b) {
        return jobs[static_cast<size_t>(a)].rows > jobs[static_cast<size_t>(b)].rows;
    });
    std::vector<std::string> errors(jobs.size());
    std::atomic<size_t> next{0};
    const auto accum = m_exactLinear ? kernels::linear_accum::exact : kernels::linear_accum::fp32;
    auto runJob = [&](const ExpertJob &j, std::vector<float> &g, std::vector<float> &u) {
        g.resize(static_cast<size_t>(j.rows) * inter);
        u.resize(static_cast<size_t>(j.rows) * inter);
        auto run = [&](const LinearWeight &w, const float *x, float *y) {
            kernels::linear_params p = w.params();
            p.x = x;
            p.x_type = kernels::act_type::f32;
            p.y = y;
            p.y_type = kernels::act_type::f32;
            p.m = j.rows;
            p.accum = accum;
            const kernels::Status st = kernels::linear_cpu(p, nullptr);
            if (!st.ok())
                return st;
            kernels::round_bf16_inplace(y, static_cast<int64_t>(j.rows) * w.outFeatures);
            return st;
        };
        kernels::SwigluParams sw;
        sw.gate = g.data();
        sw.up = u.data();
        sw.row_weights = j.rowWeights;
        sw.out = g.data();
        sw.rows = j.rows;
        sw.inter = inter;
        sw.limit = limit;
        kernels::Status st = run(*j.w1, j.x, g.data());
        if (st.ok())
            st = run(*j.w3, j.x, u.data());
        if (st.ok())
            st = m_exactLinear ? kernels::swiglu_cpu(sw) : kernels::swiglu_fast_cpu(sw);
        if (st.ok())
            st = run(*j.w2, g.data(), j.y);
        return st;
    };
    // One chunk per thread; each takes jobs from the counter until none is left.
    kernels::parallel_for(m_pool.get(), threads, 1, [&](int64_t, int64_t) {
        thread_local std::vector<float> g, u;
        for (size_t i = next.fetch_add(1); i < order.size(); i = next.fetch_add(1)) {
            const size_t k = static_cast<size_t>(order[i]);
            const kernels::Status st = runJob(jobs[k], g, u);
            if (!st.ok())
                errors[k] = st.message;
        }
    });
    for (const std::string &e : errors)
        if (!e.empty())
            return fail(Error::Kind::InvalidArgument, "expert ffn: " + e, "CpuExecutor");
    return {};
}

Result<void> CpuExecutor::embedRows(
    const uint16_t *table, const int32_t *hostIds, int rows, int d, int copies, float *out)
{
    kernels::parallel_for(m_pool.get(),
                          rows,
                          std::max<int64_t>(1, 16384 / std::max(1, d * copies)),
                          [&](int64_t r0, int64_t r1) {
                              embedRowRange(table, hostIds, r0, r1, d, copies, out);
                          });
    return {};
}

Result<void> CpuExecutor::addPeriodicRows(
    float *x, const float *table, const int32_t *hostPositions, int rows, int width, int period)
{
    kernels::parallel_for(m_pool.get(),
                          rows,
                          std::max<int64_t>(1, 16384 / std::max(1, width)),
                          [&](int64_t r0, int64_t r1) {
                              addPeriodicRowRange(x, table, hostPositions, r0, r1, width, period);
                          });
    return {};
}

Result<void> CpuExecutor::moeCombine(float *y,
                                     const float *routed,
                                     const float *shared,
                                     const int32_t *hostIds,
                                     int rows,
                                     int k,
                                     int d)
{
    kernels::parallel_for(m_pool.get(),
                          rows,
                          std::max<int64_t>(1, 16384 / std::max(1, d * (k + 1))),
                          [&](int64_t r0, int64_t r1) {
                              moeCombineRowRange(y, routed, shared, hostIds, r0, r1, k, d);
                          });
    return {};
}

} // namespace fathom::engine
