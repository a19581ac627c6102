// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
/*
  LINEAR for few rows (decode, m <= 4): weight streaming with one warp per output column.

  Prologue: the block stages the m rows of x in shared memory, activation-quantised for FP8/FP4
  weights (warp per 128-block: amax, e8m0 scale, RNE e4m3 codes) as doubles (FP8) or 512·x̂
  integers (FP4), as doubles for bf16/f32 weights. Main loop: each lane loads 16 weight bytes per
  step (one 512-byte coalesced segment per warp), decodes them once and applies them to every
  row. FP8: 8 lanes form one 128-block, their double partials are combined by shuffles; FP4: one
  lane covers one 32-block and sums it in int32. The block sums of a step are then scaled and
  added to the fp32 accumulator strictly in k order (shared memory, read by every lane), which is
  the CPU twin's order, so the result is bit-identical. Dense weights accumulate in double (exact
  mode) or fp32 (fp32 mode).
  gemvpipe: the weight bytes of a step come through a per-warp ring in shared memory
  (weight_ring): 8 steps a warp in flight as cp.async copies, the first issued before x is
  staged, running on across the SwiGLU passes and the warp's columns; FATHOM_CUDA_GEMV_PIPELINE=0
  (or a ring that does not fit) launches the plain loads. The arithmetic is the same either way.
  NOTE: the decode is integer-bound at roughly 2 TB/s of FP8 weights on an H100-class part; a
  cvt.e4m3x2 / prmt-based decode or a split-K over blocks with an ordered epilogue is the next
  step if a device run shows it below the copy bandwidth.
*/
#include "kernels/cuda_ops.h"

#include "async_copy.cuh"
#include "linear_internal.cuh"
#include "mhc_block.cuh"
#include "mma_sync.cuh"
#include "moe_group.cuh"
#include "moe_route.cuh"

#include <algorithm>
#include <cstring>

namespace fathom::kernels::cuda {

namespace {

constexpr int k_warps = 16;
constexpr int k_threads = 32 * k_warps;
constexpr int k_max_m = 4;
constexpr int k_max_group = k_linear_group_max;

// Dynamic shared memory a GEMV block may use on the current device: the opt-in limit (227 KiB on
// sm_90, 163 KiB on sm_80) less the kernel's static terms[] array. Cached per device.
size_t max_dynamic_smem()
{
    constexpr int k_devices = 64;
    static int cache[k_devices] = {}; // benign race: every thread computes the same value
    int dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= k_devices)
        return 48 * 1024;
    if (cache[dev] == 0) {
        int optin = 0;
        if (cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev)
                != cudaSuccess
            || optin < 64 * 1024)
            optin = 48 * 1024 + 16 * 1024;
        cache[dev] = optin - 16 * 1024; // static terms[] (8 KiB) and headroom
    }
    return static_cast<size_t>(cache[dev]);
}

enum class GemvKind { Fp8, Fp4, Bf16, F32 };

// x is staged in chunks of C elements (one lane's share of a load), each chunk padded by one
// element so that the lanes of a warp, which read different chunks, hit different banks.
__host__ __device__ constexpr int chunk_of(GemvKind kind)
{
    return kind == GemvKind::Fp8 ? 16 : kind == GemvKind::Fp4 ? 32 : kind == GemvKind::Bf16 ? 8 : 4;
}

__host__ __device__ inline int64_t x_row_stride(GemvKind kind, int k)
{
    const int c = chunk_of(kind);
    return static_cast<int64_t>(k / c) * (c + 1);
}

template<GemvKind Kind>
__device__ inline int64_t xoff(int kk)
{
    constexpr int c = chunk_of(Kind);
    return (kk / c) * (c + 1) + kk % c;
}

__host__ __device__ inline size_t x_bytes(GemvKind kind, int m, int k)
{
    return static_cast<size_t>(m) * x_row_stride(kind, k) * (kind == GemvKind::Fp4 ? 4 : 8);
}

size_t smem_bytes(GemvKind kind, int m, int k)
{
    const size_t kb = (static_cast<size_t>(k) + 127) / 128;
    return x_bytes(kind, m, k) + static_cast<size_t>(m) * kb;
}

// gemvpipe: the weight stream's ring. A warp's step is 32 lanes x 16 bytes of one column's row
// (every kind); with the pipeline each lane keeps its next k_ring steps in flight as cp.async
// copies into its warp's ring in shared memory (after x and the activation scales) instead of
// one load a step, so the weight stream runs ahead of the decode and the ordered adds (which are
// untouched: only where the 16 bytes come from changes). k_ring_bytes per block.
constexpr int k_ring = 8;
constexpr int k_ring_step = 512;
constexpr size_t k_ring_bytes = size_t(k_warps) * k_ring * k_ring_step; // 64 KiB

__host__ __device__ inline size_t ring_offset(GemvKind kind, int m, int k)
{
    const size_t kb = (static_cast<size_t>(k) + 127) / 128;
    return (x_bytes(kind, m, k) + static_cast<size_t>(m) * kb + 15) / 16 * 16;
}

size_t pipe_smem_bytes(GemvKind kind, int m, int k)
{
    return ring_offset(kind, m, k) + k_ring_bytes;
}

// FATHOM_CUDA_GEMV_PIPELINE=0: the GEMVs load their weights one step at a time as before the
// ring (a device A/B; the bits are the same either way). Read once.
bool gemv_pipeline_enabled()
{
    static const bool on = env_switch_on("FATHOM_CUDA_GEMV_PIPELINE");
    return on;
}

// Whether a launch of these shapes takes the pipelined kernels (the ring must fit as well).
bool use_pipeline(GemvKind kind, int m, int k)
{
    return gemv_pipeline_enabled() && pipe_smem_bytes(kind, m, k) <= max_dynamic_smem();
}

size_t gemv_smem(GemvKind kind, int m, int k, bool pipe)
{
    return pipe ? pipe_smem_bytes(kind, m, k) : smem_bytes(kind, m, k);
}

// A hint that the line at p is read soon (the weight scales of a column the ring has reached):
// prefetch.global.L1, so the scale loads of the main loop, which are left where they are, hit.
__device__ inline void prefetch_l1(const void *p)
{
#if defined(__CUDA_ARCH__)
    asm volatile("prefetch.global.L1 [%0];" ::"l"(p));
#else
    (void) p;
#endif
}

// ffnnodes: the pre-norm's scales and the MoE combine run once per block, outside the weight
// loop: kept out of line so that they add no registers to it (ptxas: no spills).
#ifdef FATHOM_CUDA_EMULATION
#define GEMV_OUT_OF_LINE
#else
#define GEMV_OUT_OF_LINE __noinline__
#endif

// ffnnodes: an RMSNorm of x's rows folded into the staging (the q-lora norm before wq_b, the
// final norm before the head): weight [k] (device), eps; on = 0: x as it is.
struct gemv_prenorm
{
    const float *weight = nullptr;
    float eps = 0.0f;
    int32_t on = 0;
};

// The pre-norm's reciprocal RMS of each of the m rows into rs[m] (shared), as rmsnorm_kernel
// computes it: that kernel's 256 threads' strided double sums of the squares and block_sum's
// tree, here by warps 0-7 (row r0) and 8-15 (row r0 + 1) of the 512, so the bits are the same.
// scratch: 16 doubles of shared memory (the block's terms[], free until the main loop).
__device__ GEMV_OUT_OF_LINE void prenorm_scales(const linear_params &p,
                                                int64_t ldx,
                                                const int32_t *x_rows,
                                                float eps,
                                                double *scratch,
                                                float *rs)
{
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, t = threadIdx.x & 255;
    for (int r0 = 0; r0 < p.m; r0 += 2) {
        const int r = r0 + (threadIdx.x >> 8);
        double ss = 0.0;
        if (r < p.m) {
            const int xr = x_rows ? x_rows[r] : r;
            for (int i = t; i < p.k; i += 256) {
                const double v = load_x(p, ldx, xr, i);
                ss += v * v;
            }
        }
        ss = warp_sum(ss);
        if (lane == 0)
            scratch[warp] = ss;
        __syncthreads();
        if (r < p.m && t < 32) {
            double s = lane < 8 ? scratch[(warp & ~7) + lane] : 0.0;
            s = warp_sum(s);
            if (lane == 0)
                rs[r] = rsqrt_f32(__fadd_rn(static_cast<float>(s / p.k), eps));
        }
        __syncthreads();
    }
}

// x's element as staged: with the pre-norm, rmsnorm_row's stored value (bf16 of weight · x · rs).
__device__ inline float load_xn(const linear_params &p,
                                int64_t ldx,
                                int64_t row,
                                int64_t i,
                                const gemv_prenorm &nm,
                                const float *rs,
                                int r)
{
    const float v = load_x(p, ldx, row, i);
    if (!nm.on)
        return v;
    const float n = __fmul_rn(v, rs[r]);
    return round_bf16(nm.weight ? __fmul_rn(nm.weight[i], n) : n);
}

// act_quant of x's 128-block at b0 of row r (x's row xr; with nm.on normalised), one warp: the
// block's e8m0 scale byte; q[i] the code of element b0 + lane + 32 i (0 past k).
__device__ inline uint8_t quant_unit(const linear_params &p,
                                     int64_t ldx,
                                     int xr,
                                     int r,
                                     int b0,
                                     const gemv_prenorm &nm,
                                     const float *rs,
                                     uint8_t q[4])
{
    const int lane = threadIdx.x & 31;
    float v[4];
    float amax = 0.0f;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int kk = b0 + lane + 32 * i;
        v[i] = kk < p.k ? load_xn(p, ldx, xr, kk, nm, rs, r) : 0.0f;
        if (kk < p.k)
            amax = fmaxf(amax, fabsf(v[i]));
    }
    amax = warp_max(amax);
    const uint8_t s = act_scale(amax);
    const float inv = e8m0_inverse_f32(s);
#pragma unroll
    for (int i = 0; i < 4; ++i)
        q[i] = f32_to_e4m3(__fmul_rn(v[i], inv));
    return s;
}

// Stage (and for quantised weights quantise) the m rows of x; with x_rows, row r is x's row
// x_rows[r] (the MoE experts read their rows where they are instead of a gathered copy); with
// nm.on, RMS-normalised first (scratch: the block's terms[]).
template<GemvKind Kind>
__device__ void stage_x(const linear_params &p,
                        int64_t ldx,
                        unsigned char *smem,
                        const int32_t *x_rows = nullptr,
                        const gemv_prenorm &nm = gemv_prenorm{},
                        float *scratch = nullptr)
{
    const int k = p.k;
    const int kb = (k + 127) / 128;
    float *rs = scratch + 2 * k_warps; // after the 16 doubles
    if (nm.on)
        prenorm_scales(p, ldx, x_rows, nm.eps, reinterpret_cast<double *>(scratch), rs);
    if (Kind == GemvKind::Bf16 || Kind == GemvKind::F32) {
        double *xd = reinterpret_cast<double *>(smem);
        for (int i = threadIdx.x; i < p.m * k; i += blockDim.x)
            xd[(i / k) * x_row_stride(Kind, k) + xoff<Kind>(i % k)]
                = load_xn(p, ldx, x_rows ? x_rows[i / k] : i / k, i % k, nm, rs, i / k);
        return;
    }
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    uint8_t *sa = smem + x_bytes(Kind, p.m, k);
    const int64_t xs = x_row_stride(Kind, k);
    for (int unit = warp; unit < p.m * kb; unit += k_warps) {
        const int r = unit / kb, b0 = (unit % kb) * 128;
        uint8_t qs[4];
        const uint8_t s = quant_unit(p, ldx, x_rows ? x_rows[r] : r, r, b0, nm, rs, qs);
        if (lane == 0)
            sa[unit] = s;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const int kk = b0 + lane + 32 * i;
            if (kk >= k)
                continue;
            const uint8_t q = qs[i];
            if (Kind == GemvKind::Fp8)
                reinterpret_cast<double *>(smem)[r * xs + xoff<Kind>(kk)] = e4m3_to_f64(q);
            else
                reinterpret_cast<int *>(smem)[r * xs + xoff<Kind>(kk)] = e4m3_to_int512(q);
        }
    }
}

using terms_t = float[k_max_m][32]; // one warp's block terms (terms[warp][row][block])

// What a block does with its sums: store them (store_y), or with swiglu set compute a second
// weight's sums (w3, s3) for the same column and store the clamped SwiGLU of the two bf16-rounded
// results times the row's weight (swiglu.cu's order of operations, bit for bit).
struct gemv_epilogue
{
    const void *w3 = nullptr;
    const uint8_t *s3 = nullptr;
    const float *row_w = nullptr; // the block's rows' weights (row 0 first), or nullptr
    // MoE at decode (nodes2): x row r is x's row x_rows[r] (stage_x); with slots, row r's
    // weight is row_w[slots[r]] and, with y_by_slot, its result goes to y's row slots[r]
    // (the routed outputs in slot order, where moeCombine reads them: no gather, no scatter).
    const int32_t *x_rows = nullptr;
    const int32_t *slots = nullptr;
    float limit = 0.0f;
    int swiglu = 0;
    int y_by_slot = 0;
    gemv_prenorm norm; // ffnnodes: x's rows RMS-normalised as they are staged
};

// Column j of x's row r (the block's row r: ep.slots / y_by_slot map it): store y, or with
// ep.swiglu the clamped SwiGLU of the two projections' sums v0 (w1) and v1 (w3), each rounded to
// bf16 (LinearOutput::Bf16) as swiglu.cu does, times the row's weight.
__device__ inline void store_result(const linear_params &p,
                                    int64_t ldy,
                                    const gemv_epilogue &ep,
                                    int64_t j,
                                    int r,
                                    float v0,
                                    float v1)
{
    const int yr = ep.y_by_slot ? ep.slots[r] : r;
    if (!ep.swiglu) {
        store_y(p, ldy, yr, j, v0);
        return;
    }
    const float h = swiglu_bf16(round_bf16(v0),
                                round_bf16(v1),
                                ep.limit,
                                ep.row_w != nullptr,
                                ep.row_w ? ep.row_w[ep.slots ? ep.slots[r] : r] : 0.0f);
    store_y(p, ldy, yr, j, h);
}

// gemvpipe: one lane's view of its warp's weight stream, the steps (column c of the warp's
// cpw, pass 0 (p.w) / 1 (ep.w3), 512-byte step of the row) in the order gemv_block consumes
// them. prime() issues the first k_ring - 1 steps; next() issues step t + k_ring - 1 into the
// slot step t - 1 was read from (this lane's own read, done: its value was used), waits for
// step t's copy and returns this lane's 16 bytes of it; drain() waits for the copies issued
// past the last step (zero-filled, nothing read) before the shared memory is used again.
// Steps past the row's end or of columns past n read nothing (the loads the plain loop skips).
template<GemvKind Kind>
struct weight_ring
{
    const unsigned char *w0, *w1; // the passes' weights
    const uint8_t *s0, *s1;       // their scales (FP8 / FP4: prefetched to L1 ahead)
    unsigned char *mine;          // this lane's 16 bytes of slot 0
    int64_t row_bytes;            // one column's weight bytes (a multiple of 16)
    int64_t col, col_end;         // the next issue's column; the warp's end (<= n)
    int off;                      // the next issue's byte offset in the row (a step: 512 bytes)
    int pass, passes;
    int put, get; // slots of the next issue / read

    __device__ void init(
        const linear_params &p, const gemv_epilogue &ep, int64_t col0, int cpw, unsigned char *smem)
    {
        const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
        w0 = static_cast<const unsigned char *>(p.w);
        w1 = static_cast<const unsigned char *>(ep.w3);
        s0 = p.w_scale;
        s1 = ep.s3;
        mine = smem + ring_offset(Kind, p.m, p.k) + (warp * k_ring) * k_ring_step + lane * 16;
        row_bytes = Kind == GemvKind::Fp8    ? int64_t(p.k)
                    : Kind == GemvKind::Fp4  ? int64_t(p.k) / 2
                    : Kind == GemvKind::Bf16 ? int64_t(p.k) * 2
                                             : int64_t(p.k) * 4;
        col = col0;
        col_end = col0 + cpw < p.n ? col0 + cpw : p.n;
        off = 0;
        pass = 0;
        passes = ep.swiglu ? 2 : 1;
        put = 0;
        get = 0;
    }

    __device__ void issue(int k)
    {
        const int lane = threadIdx.x & 31;
        const bool live = col < col_end;
        if ((Kind == GemvKind::Fp8 || Kind == GemvKind::Fp4) && live && off == 0) {
            // The column's scale row: FP8 one byte per 128-block of its 128-column group,
            // FP4 one per 32-block of the column; a line per lane.
            const int sb = Kind == GemvKind::Fp8 ? (k + 127) / 128 : k / 32;
            const int64_t srow = Kind == GemvKind::Fp8 ? col / 128 : col;
            if (lane * 128 < sb)
                prefetch_l1((pass ? s1 : s0) + srow * sb + lane * 128);
        }
        const int64_t o = off + lane * 16;
        async::cp_async16(mine + put * k_ring_step,
                          (pass ? w1 : w0) + col * row_bytes + o,
                          live && o < row_bytes);
        async::cp_async_commit();
        put = put + 1 == k_ring ? 0 : put + 1;
        off += k_ring_step;
        if (off >= row_bytes) {
            off = 0;
            if (++pass == passes) {
                pass = 0;
                ++col;
            }
        }
    }

    __device__ void prime(int k)
    {
#pragma unroll
        for (int i = 0; i < k_ring - 1; ++i)
            issue(k);
    }

    __device__ uint4 next(int k)
    {
        issue(k);
        async::cp_async_wait<k_ring - 1>();
        const uint4 v = *reinterpret_cast<const uint4 *>(mine + get * k_ring_step);
        get = get + 1 == k_ring ? 0 : get + 1;
        return v;
    }

    __device__ static void drain()
    {
        async::cp_async_wait<0>();
    }
};

// PDL prologue, before FATHOM_PDL_WAIT(): lane 0 of every warp asks L2 for the warp's weight rows
// (columns [(block * k_warps + warp) * cpw, + cpw) of p, contiguous), so the weight stream runs
// while the previous kernel drains. Only for weights named by the kernel's arguments (dense
// projections): an expert's weight is chosen by routing results, activation data that the
// previous kernel may still be writing (moeprefetch: unless the routing is two launches back,
// ffn_prefetch). gemv_fits() guarantees 16-byte aligned rows.
__device__ inline void prefetch_weights(const linear_params &p,
                                        GemvKind kind,
                                        int cpw,
                                        int64_t block)
{
    if ((threadIdx.x & 31) != 0)
        return;
    const int64_t col0 = (block * k_warps + (threadIdx.x >> 5)) * cpw;
    const int64_t cols = p.n - col0 < cpw ? p.n - col0 : cpw;
    if (cols <= 0)
        return;
    const int64_t row_bytes = kind == GemvKind::Fp8    ? p.k
                              : kind == GemvKind::Fp4  ? p.k / 2
                              : kind == GemvKind::Bf16 ? int64_t(p.k) * 2
                                                       : int64_t(p.k) * 4;
    prefetch_l2(static_cast<const unsigned char *>(p.w) + col0 * row_bytes,
                static_cast<uint32_t>(cols * row_bytes));
}

// One block of the GEMV: columns [(block * k_warps + warp) * cpw, + cpw) of p. Pipe: the
// weights come through weight_ring (the same bytes, the same arithmetic in the same order).
template<GemvKind Kind, linear_accum Accum, bool Pipe>
__device__ __forceinline__ void gemv_block(const linear_params &p,
                                           int64_t ldx,
                                           int64_t ldy,
                                           int cpw,
                                           int64_t block,
                                           unsigned char *smem,
                                           terms_t *terms,
                                           const gemv_epilogue &ep = gemv_epilogue{})
{
    // The ring's first steps are in flight while x is staged (its own shared memory).
    weight_ring<Kind> ring;
    if constexpr (Pipe) {
        ring.init(p, ep, (block * k_warps + (threadIdx.x >> 5)) * cpw, cpw, smem);
        ring.prime(p.k);
    }
    stage_x<Kind>(p, ldx, smem, ep.x_rows, ep.norm, reinterpret_cast<float *>(terms));
    __syncthreads();
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int m = p.m, k = p.k;
    const int kb = (k + 127) / 128;
    const int64_t col0 = (block * k_warps + warp) * cpw;
    const uint8_t *sa = smem + x_bytes(Kind, m, k);
    const int64_t xs = x_row_stride(Kind, k);
    for (int c = 0; c < cpw; ++c) {
        const int64_t j = col0 + c;
        if (j >= p.n)
            break;
        float res0[k_max_m], res1[k_max_m];
#pragma unroll 1
        for (int pass = 0; pass < (ep.swiglu ? 2 : 1); ++pass) {
            const void *const wsrc = pass ? ep.w3 : p.w;
            const uint8_t *const ssrc = pass ? ep.s3 : p.w_scale;
            float acc[k_max_m] = {0.0f, 0.0f, 0.0f, 0.0f};
            double dacc[k_max_m] = {0.0, 0.0, 0.0, 0.0};
            if (Kind == GemvKind::Fp8) {
                const uint8_t *w = static_cast<const uint8_t *>(wsrc) + j * k;
                const uint8_t *sw = ssrc + (j / 128) * kb;
                const double *xd = reinterpret_cast<const double *>(smem);
                for (int kbase = 0; kbase < k; kbase += 512) {
                    const int kk = kbase + lane * 16;
                    const uint4 piped = Pipe ? ring.next(k) : uint4{};
                    double part[k_max_m] = {0.0, 0.0, 0.0, 0.0};
                    if (kk < k) {
                        const uint4 raw = Pipe ? piped : *reinterpret_cast<const uint4 *>(w + kk);
                        const uint32_t words[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
                        for (int i = 0; i < 16; ++i) {
                            const double wv = e4m3_to_f64((words[i / 4] >> (8 * (i % 4))) & 0xFFu);
#pragma unroll
                            for (int r = 0; r < k_max_m; ++r)
                                if (r < m)
                                    part[r] += xd[r * xs + xoff<Kind>(kk) + i] * wv;
                        }
                    }
#pragma unroll
                    for (int r = 0; r < k_max_m; ++r) {
                        if (r >= m)
                            break;
                        double v = part[r];
                        v += __shfl_xor_sync(0xFFFFFFFFu, v, 1);
                        v += __shfl_xor_sync(0xFFFFFFFFu, v, 2);
                        v += __shfl_xor_sync(0xFFFFFFFFu, v, 4);
                        const int b = kbase / 128 + lane / 8;
                        if ((lane & 7) == 0 && b < kb)
                            terms[warp][r][lane / 8] = __fmul_rn(static_cast<float>(v),
                                                                 __fmul_rn(e8m0_to_f32(
                                                                               sa[r * kb + b]),
                                                                           e8m0_to_f32(sw[b])));
                    }
                    __syncwarp();
                    const int nb = kb - kbase / 128 < 4 ? kb - kbase / 128 : 4;
#pragma unroll
                    for (int r = 0; r < k_max_m; ++r)
                        if (r < m)
                            for (int g = 0; g < nb; ++g)
                                acc[r] = __fadd_rn(acc[r], terms[warp][r][g]);
                    __syncwarp();
                }
            } else if (Kind == GemvKind::Fp4) {
                const uint8_t *w = static_cast<const uint8_t *>(wsrc) + j * (k / 2);
                const uint8_t *sw = ssrc + j * (k / 32);
                const int *xi = reinterpret_cast<const int *>(smem);
                const int kb32 = k / 32;
                for (int kbase = 0; kbase < k; kbase += 1024) {
                    const int b = kbase / 32 + lane; // this lane's 32-block
                    const uint4 piped = Pipe ? ring.next(k) : uint4{};
                    if (b < kb32) {
                        const uint4 raw = Pipe ? piped
                                               : *reinterpret_cast<const uint4 *>(w + b * 16);
                        const uint32_t words[4] = {raw.x, raw.y, raw.z, raw.w};
                        int isum[k_max_m] = {0, 0, 0, 0};
#pragma unroll
                        for (int i = 0; i < 32; ++i) {
                            const int wv = e2m1_to_int2x((words[i / 8] >> (4 * (i % 8))) & 0xFu);
#pragma unroll
                            for (int r = 0; r < k_max_m; ++r)
                                if (r < m)
                                    isum[r] += xi[r * xs + xoff<Kind>(b * 32) + i] * wv;
                        }
#pragma unroll
                        for (int r = 0; r < k_max_m; ++r)
                            if (r < m)
                                terms[warp][r][lane]
                                    = __fmul_rn(__fmul_rn(static_cast<float>(isum[r]), 0x1p-10f),
                                                __fmul_rn(e8m0_to_f32(sa[r * kb + b / 4]),
                                                          e8m0_to_f32(sw[b])));
                    }
                    __syncwarp();
                    const int nb = kb32 - kbase / 32 < 32 ? kb32 - kbase / 32 : 32;
#pragma unroll
                    for (int r = 0; r < k_max_m; ++r)
                        if (r < m)
                            for (int g = 0; g < nb; ++g)
                                acc[r] = __fadd_rn(acc[r], terms[warp][r][g]);
                    __syncwarp();
                }
            } else {
                const double *xd = reinterpret_cast<const double *>(smem);
                constexpr int per = Kind == GemvKind::Bf16 ? 8 : 4; // elements per 16-byte load
                const size_t esize = Kind == GemvKind::Bf16 ? 2 : 4;
                const unsigned char *w = static_cast<const unsigned char *>(wsrc) + j * k * esize;
                // Pipe: every lane takes every step of the warp (a ring step each), the steps
                // past its row's end doing nothing else; the lane's own k order is unchanged.
                for (int kk = lane * per; Pipe ? kk - lane * per < k : kk < k; kk += 32 * per) {
                    const uint4 piped = Pipe ? ring.next(k) : uint4{};
                    if (Pipe && kk >= k)
                        continue;
                    const uint4 raw = Pipe ? piped
                                           : *reinterpret_cast<const uint4 *>(w + kk * esize);
                    const uint32_t words[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
                    for (int i = 0; i < per; ++i) {
                        float wf;
                        if (Kind == GemvKind::Bf16)
                            wf = bf16_bits_to_f32(
                                static_cast<uint16_t>(words[i / 2] >> (16 * (i % 2))));
                        else
                            wf = __uint_as_float(words[i]);
#pragma unroll
                        for (int r = 0; r < k_max_m; ++r) {
                            if (r >= m)
                                break;
                            if (Accum == linear_accum::exact)
                                dacc[r] += xd[r * xs + xoff<Kind>(kk) + i]
                                           * static_cast<double>(wf);
                            else
                                acc[r] = fmaf(static_cast<float>(xd[r * xs + xoff<Kind>(kk) + i]),
                                              wf,
                                              acc[r]);
                        }
                    }
                }
#pragma unroll
                for (int r = 0; r < k_max_m; ++r) {
                    if (Accum == linear_accum::exact) {
                        acc[r] = static_cast<float>(warp_sum(dacc[r]));
                    } else {
                        float v = acc[r];
                        for (int o = 16; o > 0; o >>= 1)
                            v += __shfl_xor_sync(0xFFFFFFFFu, v, o);
                        acc[r] = v;
                    }
                }
            }
#pragma unroll
            for (int r = 0; r < k_max_m; ++r) {
                if (pass)
                    res1[r] = acc[r];
                else
                    res0[r] = acc[r];
            }
        }
        if (lane == 0)
            for (int r = 0; r < m; ++r)
                store_result(p, ldy, ep, j, r, res0[r], ep.swiglu ? res1[r] : 0.0f);
    }
    if constexpr (Pipe)
        ring.drain();
}

// ---- gemvtc: the tensor-core GEMV (non-exact mode) ---------------------------------------------
//
// accum = fp32 on FP8, FP4 or bf16 weights (the non-exact mode's decode): the products are the
// reference's (e4m3 x e4m3, e2m1 -> e4m3 x e4m3, bf16 x bf16), summed by mma.sync instead of the
// exact path's integer / double block sums and ordered fp32 adds. The exact path issues ~0.4
// warp instructions per weight byte at one row (~210 a 512-byte step: decode, fp64 / int32
// MACs, the ordered adds; more per extra row), which caps it near 2.5 TB/s on an H200 before any
// latency (run 2 measured 0.4-2 TB/s); here a KiB of weights costs ~35 (FP8), ~40 (bf16) or
// ~150 (FP4: convert8) warp instructions, so the weight stream, not the issue rate, should set
// the pace.
//
// Tile: 16 weight rows (output columns: the mma's M) x the step's k; x's m <= 4 rows are the
// mma's N (8; columns >= m zero). The block's k_warps * cpw columns are cpw tiles, each split
// over k_warps / cpw warps by k (cpw is a power of two); a warp streams its tile's k slice
// through a ring of k_tc_ring steps in shared memory (cp.async, 1 KiB of weights a step:
// 16 rows x 64 bytes, FP4 with the rows' 4 scale bytes), the first steps issued before x is
// staged. The fp32 partials of the k slices meet in shared memory and are added in slice order;
// then warp w stores the columns gemv_block's warp w would (the same y, the group kernel's
// y_scale and the FFN's combine need no change).
//
// Fragments (mma_sync.cuh's table; a permutation of k within an mma, the same on A and B, does
// not change the sum, so each lane reads contiguous bytes):
//   FP8 (64 k a step): lane (g, t) reads 16 bytes of rows g and g + 8 at 16 t and 16 bytes of x
//     row g at the same k: bytes 0..7 are the first m16n8k32's a[0] / a[2] (b[0] / b[1]), bytes
//     8..15 the second's. One promotion a step: acc += C * (sW * sA[row]) (128 x 128 / 1 x 128).
//   FP4 (128 k a step = four 32-blocks): the mma i is 32-block i alone: lane (g, t) reads the 4
//     bytes (8 codes) at 16 i + 4 t of rows g, g + 8, converts them to e4m3 (convert8: a[0] the
//     low 4 codes, a[2] the high 4), and x's 8 codes at 32 i + 8 t; one promotion per mma with
//     the row's 2^e of block i: acc += C * (2^e * sA[row]).
//   bf16 (32 k a step): as FP8 with two m16n8k16 (8 bf16 of each row a lane); x staged as
//     hi = bf16(x) and lo = bf16(x - hi), two mma each (products exact; x kept to ~16 bits).
constexpr int k_tc_ring = 4;  // steps in flight a warp
constexpr int k_tc_tile = 16; // columns a tile (the mma's M)

__host__ __device__ constexpr bool tc_kind(GemvKind kind)
{
    return kind == GemvKind::Fp8 || kind == GemvKind::Fp4 || kind == GemvKind::Bf16;
}

// k of one 64-byte weight row step.
__host__ __device__ constexpr int tc_step_k(GemvKind kind)
{
    return kind == GemvKind::Fp8 ? 64 : kind == GemvKind::Fp4 ? 128 : 32;
}

// A slot's row stride in bytes: 64 (LDS.128 of 8 lanes hit 8 distinct bank groups) or, for FP4's
// 32-bit reads at 16 i + 4 t, 80 (rows g = 0..7 land on distinct banks).
__host__ __device__ constexpr int tc_row_stride(GemvKind kind)
{
    return kind == GemvKind::Fp4 ? 80 : 64;
}

// FP4: the rows' scale bytes after the 16 rows (4 a row: the step's four 32-blocks).
__host__ __device__ constexpr int tc_scale_offset(GemvKind kind)
{
    return k_tc_tile * tc_row_stride(kind);
}

__host__ __device__ constexpr int tc_slot_bytes(GemvKind kind)
{
    return kind == GemvKind::Fp4 ? tc_scale_offset(kind) + 4 * k_tc_tile : tc_scale_offset(kind);
}

// Staged x: e4m3 codes (FP8 / FP4) or bf16 hi / lo halves, a row's bytes padded so that the
// lanes' reads of rows g = 0..3 fall on distinct banks; then (FP8 / FP4) sA as floats [m][kb].
__host__ __device__ inline int64_t tc_x_stride(GemvKind kind, int k)
{
    return kind == GemvKind::Bf16 ? 2 * int64_t(k) + 64
                                  : int64_t(k) + (kind == GemvKind::Fp8 ? 64 : 32);
}

__host__ __device__ inline size_t tc_ring_offset(GemvKind kind, int m, int k)
{
    const size_t xs = static_cast<size_t>(m) * tc_x_stride(kind, k);
    const size_t bytes = kind == GemvKind::Bf16 ? 2 * xs : xs + size_t(m) * ((k + 127) / 128) * 4;
    return (bytes + 15) / 16 * 16;
}

__host__ __device__ inline size_t tc_red_offset(GemvKind kind, int m, int k)
{
    return tc_ring_offset(kind, m, k) + size_t(k_warps) * k_tc_ring * tc_slot_bytes(kind);
}

// The slices' partials: [pass][warp][lane][4] floats.
size_t tc_smem_bytes(GemvKind kind, int m, int k)
{
    return tc_red_offset(kind, m, k) + 2 * size_t(k_warps) * 32 * 4 * sizeof(float);
}

// Whether accum = fp32 GEMVs may take the tensor cores: an sm_89+ device (e4m3 mma.sync) and not
// FATHOM_CUDA_GEMV_TC=0 (a device A/B: the exact path as before, and the executor keeps its dense
// decode GEMVs exact too; read once). linear_gemv_tc_enabled() outside.
bool gemv_tc_enabled()
{
    static const bool on = env_switch_on("FATHOM_CUDA_GEMV_TC");
    return on && linear_mma_device_ok();
}

// Whether p (of kind) takes the tensor-core GEMV: enabled, accum fp32, an FP8 / FP4 / bf16
// weight, whole steps of k, and the shared memory.
bool tc_fits(const linear_params &p, GemvKind kind)
{
    return gemv_tc_enabled() && p.accum == linear_accum::fp32 && tc_kind(kind)
           && p.k % tc_step_k(kind) == 0 && p.m >= 1 && p.m <= k_max_m
           && tc_smem_bytes(kind, p.m, p.k) <= max_dynamic_smem();
}

// Stage x for the tensor-core GEMV: FP8 / FP4 activation-quantised exactly as stage_x (the same
// codes and scales), as e4m3 bytes and sA floats; bf16 as hi / lo bf16 halves.
template<GemvKind Kind>
__device__ void stage_x_tc(const linear_params &p,
                           int64_t ldx,
                           unsigned char *smem,
                           const int32_t *x_rows,
                           const gemv_prenorm &nm,
                           float *scratch)
{
    const int k = p.k;
    float *rs = scratch + 2 * k_warps; // after the 16 doubles
    if (nm.on)
        prenorm_scales(p, ldx, x_rows, nm.eps, reinterpret_cast<double *>(scratch), rs);
    const int64_t xs = tc_x_stride(Kind, k);
    if constexpr (Kind == GemvKind::Bf16) {
        uint16_t *hi = reinterpret_cast<uint16_t *>(smem);
        uint16_t *lo = reinterpret_cast<uint16_t *>(smem + p.m * xs);
        for (int i = threadIdx.x; i < p.m * k; i += blockDim.x) {
            const int r = i / k, kk = i % k;
            const float v = load_xn(p, ldx, x_rows ? x_rows[r] : r, kk, nm, rs, r);
            const uint16_t h = f32_to_bf16_bits(v);
            hi[r * (xs / 2) + kk] = h;
            lo[r * (xs / 2) + kk] = f32_to_bf16_bits(v - bf16_bits_to_f32(h));
        }
    } else {
        const int kb = (k + 127) / 128;
        const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
        float *sa = reinterpret_cast<float *>(smem + p.m * xs);
        for (int unit = warp; unit < p.m * kb; unit += k_warps) {
            const int r = unit / kb, b0 = (unit % kb) * 128;
            uint8_t qs[4];
            const uint8_t s = quant_unit(p, ldx, x_rows ? x_rows[r] : r, r, b0, nm, rs, qs);
            if (lane == 0)
                sa[unit] = e8m0_to_f32(s);
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const int kk = b0 + lane + 32 * i;
                if (kk < k)
                    smem[r * xs + kk] = qs[i];
            }
        }
    }
}

// One warp's weight stream for the tensor-core GEMV: steps i = 0 .. total - 1 of its tile's k
// slice [s0, s0 + per), pass 0 (p.w) then pass 1 (ep.w3, SwiGLU), into ring slot i % k_tc_ring.
// Every lane copies two 16-byte pieces of the 16 x 64-byte step (rows u / 4, u = lane, lane + 32:
// a warp instruction reads 8 rows' 64 contiguous bytes); FP4: lanes 0..15 also the 4 scale bytes
// of row `lane` (cp.async of 4 aligned bytes, else plain byte loads). Columns past n and steps past
// the slice copy nothing (zero fill / an empty group), so every step commits one group.
template<GemvKind Kind>
struct tc_stream
{
    const unsigned char *w0, *w1;
    const uint8_t *s0, *s1;
    unsigned char *ring;
    int64_t col0, n, row_bytes;
    int first, per, total, sb; // sb: FP4 scale bytes a column (k / 32)

    __device__ void issue(int i) const
    {
        const int lane = threadIdx.x & 31;
        if (i < total) {
            const int pass = i >= per ? 1 : 0;
            const int s = first + i - pass * per;
            unsigned char *slot = ring + (i % k_tc_ring) * tc_slot_bytes(Kind);
            const unsigned char *w = pass ? w1 : w0;
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                const int u = lane + 32 * h, row = u >> 2, piece = u & 3;
                const int64_t col = col0 + row;
                async::cp_async16(slot + row * tc_row_stride(Kind) + piece * 16,
                                  w + col * row_bytes + int64_t(s) * 64 + piece * 16,
                                  col < n);
            }
            if (Kind == GemvKind::Fp4 && lane < k_tc_tile) {
                const int64_t col = col0 + lane;
                const uint8_t *sc = (pass ? s1 : s0) + col * sb + s * 4;
                unsigned char *dst = slot + tc_scale_offset(Kind) + lane * 4;
                if ((reinterpret_cast<uintptr_t>(sc) & 3u) == 0) {
                    async::cp_async4(dst, sc, col < n);
                } else { // unaligned scale rows (not the executor's: 256-byte aligned tensors)
#pragma unroll
                    for (int b = 0; b < 4; ++b)
                        dst[b] = col < n ? sc[b] : 0;
                }
            }
        }
        async::cp_async_commit();
    }
};

// 8 e2m1 codes (the nibbles of w, the low one first) -> their e4m3 codes, lo: codes 0..3, hi:
// 4..7 (convert4's codes for d = 0 in half its operations): the magnitudes by one byte permute of
// e2m1_table(0)'s bytes, the signs by another that picks 0x80 (selector 4) or 0 (selector 0)
// from the nibbles' bit 3 moved to bit 2.
__device__ __forceinline__ void convert8(uint32_t w, uint32_t &lo, uint32_t &hi)
{
    constexpr uint32_t tlo = 0x3C383000u, thi = 0x4C484440u; // e2m1_table(0)
    const uint32_t m = w & 0x77777777u, s = (w >> 1) & 0x44444444u;
    lo = byte_perm(tlo, thi, m & 0xFFFFu) | byte_perm(0u, 0x80808080u, s & 0xFFFFu);
    hi = byte_perm(tlo, thi, m >> 16) | byte_perm(0u, 0x80808080u, s >> 16);
}

// The m16n8k32 e4m3 / m16n8k16 bf16 products of one slot into c (c = a * b + c).
template<GemvKind Kind>
__device__ __forceinline__ void tc_step(
    const unsigned char *slot,
    const unsigned char *xrow, // x row g at the step's k, or nullptr (g >= m)
    const unsigned char *xlo,  // bf16: the lo half's row, or nullptr
    const uint8_t *sw,         // FP8: the tile's scale at the step's block
    const float *sa,           // FP8 / FP4: sA of rows 2t, 2t + 1 at the block, or 0
    float acc[4])
{
    const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    if constexpr (Kind == GemvKind::Fp8 || Kind == GemvKind::Bf16) {
        const uint4 ra = *reinterpret_cast<const uint4 *>(slot + g * 64 + t * 16);
        const uint4 rb = *reinterpret_cast<const uint4 *>(slot + (g + 8) * 64 + t * 16);
        const uint4 xb = xrow ? *reinterpret_cast<const uint4 *>(xrow + t * 16) : uint4{0, 0, 0, 0};
        const uint32_t a0[4] = {ra.x, rb.x, ra.y, rb.y}, a1[4] = {ra.z, rb.z, ra.w, rb.w};
        const uint32_t b0[2] = {xb.x, xb.y}, b1[2] = {xb.z, xb.w};
        if constexpr (Kind == GemvKind::Fp8) {
            float c[4] = {0.0f, 0.0f, 0.0f, 0.0f};
            mma::m16n8k32_e4m3(c, a0, b0, c);
            mma::m16n8k32_e4m3(c, a1, b1, c);
            const float ws = e8m0_to_f32(*sw);
#pragma unroll
            for (int q = 0; q < 4; ++q)
                acc[q] = fmaf(c[q], __fmul_rn(ws, sa[q & 1]), acc[q]);
        } else {
            const uint4 xl = xlo ? *reinterpret_cast<const uint4 *>(xlo + t * 16)
                                 : uint4{0, 0, 0, 0};
            const uint32_t l0[2] = {xl.x, xl.y}, l1[2] = {xl.z, xl.w};
            mma::m16n8k16_bf16(acc, a0, b0, acc);
            mma::m16n8k16_bf16(acc, a0, l0, acc);
            mma::m16n8k16_bf16(acc, a1, b1, acc);
            mma::m16n8k16_bf16(acc, a1, l1, acc);
        }
    } else { // FP4
        const uint32_t eg = *reinterpret_cast<const uint32_t *>(slot + tc_scale_offset(Kind)
                                                                + g * 4);
        const uint32_t eh = *reinterpret_cast<const uint32_t *>(slot + tc_scale_offset(Kind)
                                                                + (g + 8) * 4);
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const uint32_t wa = *reinterpret_cast<const uint32_t *>(slot + g * 80 + i * 16 + t * 4);
            const uint32_t wb = *reinterpret_cast<const uint32_t *>(slot + (g + 8) * 80 + i * 16
                                                                    + t * 4);
            uint32_t a[4];
            convert8(wa, a[0], a[2]);
            convert8(wb, a[1], a[3]);
            const uint64_t xb = xrow ? *reinterpret_cast<const uint64_t *>(xrow + i * 32 + t * 8)
                                     : 0;
            const uint32_t b[2] = {static_cast<uint32_t>(xb), static_cast<uint32_t>(xb >> 32)};
            float c[4] = {0.0f, 0.0f, 0.0f, 0.0f};
            mma::m16n8k32_e4m3(c, a, b, c);
            const float wg = e8m0_to_f32(static_cast<uint8_t>(eg >> (8 * i)));
            const float wh = e8m0_to_f32(static_cast<uint8_t>(eh >> (8 * i)));
            acc[0] = fmaf(c[0], __fmul_rn(wg, sa[0]), acc[0]);
            acc[1] = fmaf(c[1], __fmul_rn(wg, sa[1]), acc[1]);
            acc[2] = fmaf(c[2], __fmul_rn(wh, sa[0]), acc[2]);
            acc[3] = fmaf(c[3], __fmul_rn(wh, sa[1]), acc[3]);
        }
    }
}

// One block of the tensor-core GEMV: the columns [block * k_warps * cpw, + k_warps * cpw) of p,
// stored by the warps gemv_block would store them with (see above). terms: the pre-norm's scratch.
template<GemvKind Kind>
__device__ __forceinline__ void gemv_block_tc(const linear_params &p,
                                              int64_t ldx,
                                              int64_t ldy,
                                              int cpw,
                                              int64_t block,
                                              unsigned char *smem,
                                              terms_t *terms,
                                              const gemv_epilogue &ep = gemv_epilogue{})
{
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const int m = p.m, k = p.k, kb = (k + 127) / 128;
    const int wpt = k_warps / cpw; // warps a tile
    const int tile = warp / wpt, slice = warp % wpt;
    const int64_t bcol0 = block * k_warps * cpw;
    const int steps = k / tc_step_k(Kind);
    const int passes = ep.swiglu ? 2 : 1;
    tc_stream<Kind> st;
    st.w0 = static_cast<const unsigned char *>(p.w);
    st.w1 = static_cast<const unsigned char *>(ep.w3);
    st.s0 = p.w_scale;
    st.s1 = ep.s3;
    st.ring = smem + tc_ring_offset(Kind, m, k) + warp * (k_tc_ring * tc_slot_bytes(Kind));
    st.col0 = bcol0 + tile * k_tc_tile;
    st.n = p.n;
    st.row_bytes = int64_t(steps) * 64;
    st.first = slice * steps / wpt;
    st.per = (slice + 1) * steps / wpt - st.first;
    st.total = st.col0 < p.n ? passes * st.per : 0;
    st.sb = k / 32;
#pragma unroll
    for (int i = 0; i < k_tc_ring - 1; ++i)
        st.issue(i);
    stage_x_tc<Kind>(p, ldx, smem, ep.x_rows, ep.norm, reinterpret_cast<float *>(terms));
    __syncthreads();
    const int64_t xs = tc_x_stride(Kind, k);
    const float *sa_all = reinterpret_cast<const float *>(smem + m * xs);
    const unsigned char *xg = g < m ? smem + g * xs : nullptr;
    const unsigned char *xl = Kind == GemvKind::Bf16 && g < m ? smem + (m + g) * xs : nullptr;
    // Steps [i0, i1) of the stream (pass 0, then pass 1) into acc: two loops with an accumulator
    // each, so that no accumulator is indexed at run time (that would put it in local memory).
    auto run = [&](int i0, int i1, int pass, float(&acc)[4]) {
        for (int i = i0; i < i1; ++i) {
            __syncwarp(); // every lane has read the slot this issue refills (step i - 1's)
            st.issue(i + k_tc_ring - 1);
            async::cp_async_wait<k_tc_ring - 1>();
            __syncwarp(); // every lane's pieces of step i have landed
            const int s = st.first + i - pass * st.per;
            const int64_t xoff = Kind == GemvKind::Bf16 ? int64_t(s) * 64
                                                        : int64_t(s) * tc_step_k(Kind);
            const int blk = s * tc_step_k(Kind) / 128; // the step's 128-block (FP8 / FP4)
            float sa[2] = {0.0f, 0.0f};
            if constexpr (Kind != GemvKind::Bf16) {
                if (2 * t < m)
                    sa[0] = sa_all[(2 * t) * kb + blk];
                if (2 * t + 1 < m)
                    sa[1] = sa_all[(2 * t + 1) * kb + blk];
            }
            const uint8_t *sw = nullptr;
            if constexpr (Kind == GemvKind::Fp8)
                sw = (pass ? st.s1 : st.s0) + (st.col0 / 128) * kb + blk;
            tc_step<Kind>(st.ring + (i % k_tc_ring) * tc_slot_bytes(Kind),
                          xg ? xg + xoff : nullptr,
                          xl ? xl + xoff : nullptr,
                          sw,
                          sa,
                          acc);
        }
    };
    float acc0[4] = {0.0f, 0.0f, 0.0f, 0.0f}, acc1[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    run(0, st.total < st.per ? st.total : st.per, 0, acc0);
    run(st.per, st.total, 1, acc1);
    async::cp_async_wait<0>();
    // The slices' partials, then each column's sum in slice (k) order.
    float *red = reinterpret_cast<float *>(smem + tc_red_offset(Kind, m, k));
#pragma unroll
    for (int q = 0; q < 4; ++q) {
        red[(warp * 32 + lane) * 4 + q] = acc0[q];
        red[((k_warps + warp) * 32 + lane) * 4 + q] = acc1[q];
    }
    __syncthreads();
    // Lane l of warp w: column c = l / m of the warp's cpw, x row r = l % m.
    if (lane < cpw * m) {
        const int c = lane / m, r = lane % m;
        const int64_t j = (block * k_warps + warp) * cpw + c;
        if (j < p.n) {
            const int local = static_cast<int>(j - bcol0);
            const int tl = local / k_tc_tile, cl = local % k_tc_tile;
            const int src = (cl % 8) * 4 + r / 2, q = (cl / 8) * 2 + (r & 1);
            float v0 = 0.0f, v1 = 0.0f;
            for (int sl = 0; sl < wpt; ++sl) {
                const int from = ((tl * wpt + sl) * 32 + src) * 4 + q;
                v0 = __fadd_rn(v0, red[from]);
                if (passes == 2)
                    v1 = __fadd_rn(v1, red[from + k_warps * 32 * 4]);
            }
            store_result(p, ldy, ep, j, r, v0, v1);
        }
    }
    __syncwarp(); // the stores before lane 0's reads of them (the group's y_scale)
}

// One block of a run-time kind (the group's items, the FFN's routed / shared expert): Tc the
// tensor-core block (its launchers send only FP8, FP4 and bf16 weights), else gemv_block, whose
// FP8 / FP4 block sums are exact whatever Accum (dense weights take Accum).
template<linear_accum Accum, bool Pipe, bool Tc>
__device__ __forceinline__ void gemv_block_for(GemvKind kind,
                                               const linear_params &p,
                                               int64_t ldx,
                                               int64_t ldy,
                                               int cpw,
                                               int64_t block,
                                               unsigned char *smem,
                                               terms_t *terms,
                                               const gemv_epilogue &ep)
{
#define FATHOM_GEMV_ARGS p, ldx, ldy, cpw, block, smem, terms, ep
    switch (kind) {
    case GemvKind::Fp8:
        if constexpr (Tc)
            gemv_block_tc<GemvKind::Fp8>(FATHOM_GEMV_ARGS);
        else
            gemv_block<GemvKind::Fp8, linear_accum::exact, Pipe>(FATHOM_GEMV_ARGS);
        break;
    case GemvKind::Fp4:
        if constexpr (Tc)
            gemv_block_tc<GemvKind::Fp4>(FATHOM_GEMV_ARGS);
        else
            gemv_block<GemvKind::Fp4, linear_accum::exact, Pipe>(FATHOM_GEMV_ARGS);
        break;
    case GemvKind::Bf16:
        if constexpr (Tc)
            gemv_block_tc<GemvKind::Bf16>(FATHOM_GEMV_ARGS);
        else
            gemv_block<GemvKind::Bf16, Accum, Pipe>(FATHOM_GEMV_ARGS);
        break;
    default:
        if constexpr (!Tc)
            gemv_block<GemvKind::F32, Accum, Pipe>(FATHOM_GEMV_ARGS);
        break;
    }
#undef FATHOM_GEMV_ARGS
}

// Tc: the tensor-core block (gemv_block_tc; Accum and Pipe unused), two blocks an SM (64
// registers, no spills).
template<GemvKind Kind, linear_accum Accum, bool Pipe, bool Tc = false>
__global__ void __launch_bounds__(k_threads, Tc ? 2 : 1)
    gemv_kernel(linear_params p, int64_t ldx, int64_t ldy, int cpw, expert_group g, gemv_prenorm nm)
{
    if (!g.active)
        prefetch_weights(p, Kind, cpw, blockIdx.x);
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    FATHOM_EXTERN_SHARED(unsigned char, smem);
    __shared__ float terms[k_warps][k_max_m][32];
    if (g.active) {
        // Grouped experts: grid row blockIdx.y serves the expert in that active slot; its rows,
        // weight and scales come from device memory (the whole block leaves together).
        const int e = g.active[blockIdx.y];
        if (e < 0)
            return;
        const int r0 = g.offsets[e];
        const int rows = g.offsets[e + 1] - r0;
        if (rows <= 0)
            return;
        p.m = rows < p.m ? rows : p.m;
        p.w = g.w_table[e];
        p.w_scale = g.scale_table ? g.scale_table[e] : nullptr;
        const int xsz = p.x_type == act_type::bf16 ? 2 : 4;
        const int ysz = p.y_type == act_type::bf16 ? 2 : 4;
        p.x = static_cast<const char *>(p.x) + static_cast<int64_t>(r0) * ldx * xsz;
        p.y = static_cast<char *>(p.y) + static_cast<int64_t>(r0) * ldy * ysz;
    }
    gemv_epilogue ep;
    ep.norm = nm;
    if constexpr (Tc)
        gemv_block_tc<Kind>(p, ldx, ldy, cpw, blockIdx.x, smem, terms, ep);
    else
        gemv_block<Kind, Accum, Pipe>(p, ldx, ldy, cpw, blockIdx.x, smem, terms, ep);
}

GemvKind kind_of(linear_weight_type t)
{
    switch (t) {
    case linear_weight_type::fp8_e4m3:
        return GemvKind::Fp8;
    case linear_weight_type::fp4_e2m1:
        return GemvKind::Fp4;
    case linear_weight_type::bf16:
        return GemvKind::Bf16;
    default:
        return GemvKind::F32;
    }
}

// Whether the GEMV takes p (else linear_tiled).
bool gemv_fits(const linear_params &p, GemvKind kind)
{
    const int64_t row_bytes = kind == GemvKind::Fp8    ? p.k
                              : kind == GemvKind::Fp4  ? p.k / 2
                              : kind == GemvKind::Bf16 ? int64_t(p.k) * 2
                                                       : int64_t(p.k) * 4;
    return p.m <= k_max_m && p.k % 16 == 0 && row_bytes % 16 == 0
           && reinterpret_cast<uintptr_t>(p.w) % 16 == 0
           && smem_bytes(kind, p.m, p.k) <= max_dynamic_smem();
}

// Columns per warp: more for wide outputs (fewer blocks re-staging x); a power of two (the
// tensor-core block splits its k_warps warps over cpw tiles).
int columns_per_warp(int n)
{
    const int q = n / 8192;
    return q >= 8 ? 8 : q >= 4 ? 4 : q >= 2 ? 2 : 1;
}

// The tensor-core block's columns per warp: columns_per_warp(n), doubled while a warp would get
// fewer steps than its ring holds (short k: an expert's w2 at k = 2048 FP4 is 16 steps a row, one
// a warp at cpw 1) and at least 8 blocks stay: fewer, longer blocks, each warp's ring full, x
// staged and the slices reduced fewer times.
int tc_columns_per_warp(GemvKind kind, int n, int k, bool swiglu)
{
    int cpw = columns_per_warp(n);
    const int steps = k / tc_step_k(kind) * (swiglu ? 2 : 1);
    while (cpw < 8 && steps * cpw / k_warps < k_tc_ring && n >= 2 * cpw * k_warps * 8)
        cpw *= 2;
    return cpw;
}

template<GemvKind Kind, linear_accum Accum>
Status launch(const linear_params &p,
              const expert_group &g,
              CUstream_st *stream,
              const gemv_prenorm &nm)
{
    const bool tc = tc_fits(p, Kind);
    const bool pipe = !tc && use_pipeline(Kind, p.m, p.k);
    const size_t bytes = tc ? tc_smem_bytes(Kind, p.m, p.k) : gemv_smem(Kind, p.m, p.k, pipe);
    void (*const kernel)(linear_params, int64_t, int64_t, int, expert_group, gemv_prenorm)
        = tc     ? gemv_kernel<Kind, linear_accum::fp32, false, true>
          : pipe ? gemv_kernel<Kind, Accum, true>
                 : gemv_kernel<Kind, Accum, false>;
    if (const cudaError_t err = cuda::allow_smem(kernel, bytes); err != cudaSuccess)
        return cuda_status(err);
    const int cpw = tc ? tc_columns_per_warp(Kind, p.n, p.k, false) : columns_per_warp(p.n);
    const long long cols_per_block = static_cast<long long>(k_warps) * cpw;
    const int64_t ldx = p.ldx ? p.ldx : p.k;
    const int64_t ldy = p.ldy ? p.ldy : p.n;
    const dim3 grid(grid_for(p.n, static_cast<int>(cols_per_block)), g.active ? g.slots : 1);
    FATHOM_LAUNCH(grid, k_threads, bytes, stream, kernel)(p, ldx, ldy, cpw, g, nm);
    return launch_status();
}

// A group of linears over the same input rows in one launch (linear_group_gemv_cuda): the grid
// runs over the items' column blocks one item after another; every block stages x for its own
// item's weight type, as a launch of that item alone would, so each item's bits are its own
// launch's.
struct gemv_group
{
    linear_params items[k_max_group];
    int32_t block0[k_max_group]; // the item's first block
    int32_t cpw[k_max_group];
    int32_t kind[k_max_group];  // GemvKind
    float y_scale[k_max_group]; // idxchain: the item's scale-round after its stores (0: none)
    int32_t count;
    int32_t pad_;
    gemv_prenorm norm; // ffnnodes: every item's x RMS-normalised as it is staged
};

// Tc: every item on the tensor-core block (linear_group_gemv_launch decides). No second block an
// SM forced: at 64 registers ptxas spills (76 bytes) with three kinds inlined; the group's big
// items (the head) are long blocks whose ring keeps 64 KiB an SM in flight anyway.
// The item of the group that block b of its grid serves.
__device__ inline int group_item(const gemv_group &gp, int b)
{
    int it = 0;
    while (it + 1 < gp.count && gp.block0[it + 1] <= b)
        ++it;
    return it;
}

// Block b's weight columns asked of L2 (prefetch_weights for its item).
__device__ inline void group_prefetch(const gemv_group &gp, int b)
{
    const int it = group_item(gp, b);
    prefetch_weights(gp.items[it],
                     static_cast<GemvKind>(gp.kind[it]),
                     gp.cpw[it],
                     b - gp.block0[it]);
}

// Block b of the group's grid (after the PDL wait): its item's columns, then the item's y_scale.
template<linear_accum Accum, bool Pipe, bool Tc>
__device__ __forceinline__ void group_block(const gemv_group &gp,
                                            int b,
                                            unsigned char *smem,
                                            terms_t *terms)
{
    const int it = group_item(gp, b);
    const linear_params p = gp.items[it];
    const int64_t block = b - gp.block0[it];
    const int64_t ldx = p.ldx ? p.ldx : p.k, ldy = p.ldy ? p.ldy : p.n;
    gemv_epilogue ep;
    ep.norm = gp.norm;
    const int cpw = gp.cpw[it];
    gemv_block_for<Accum, Pipe, Tc>(static_cast<GemvKind>(gp.kind[it]),
                                    p,
                                    ldx,
                                    ldy,
                                    cpw,
                                    block,
                                    smem,
                                    terms,
                                    ep);
    // idxchain: the item's y_scale - round_bf16(y * y_scale) over the bf16-rounded f32 outputs
    // (Executor::scaleRoundBf16's arithmetic) - by each warp's lane 0 on the columns it has just
    // stored (its own writes), after the main loop: no register holds the scale through it.
    const float ys = gp.y_scale[it];
    if (ys != 0.0f && (threadIdx.x & 31) == 0) {
        const int64_t col0 = (block * k_warps + (threadIdx.x >> 5)) * cpw;
        float *y = static_cast<float *>(p.y);
        for (int r = 0; r < p.m; ++r)
            for (int64_t j = col0; j < col0 + cpw && j < p.n; ++j)
                y[r * ldy + j] = round_bf16(__fmul_rn(y[r * ldy + j], ys));
    }
}

template<linear_accum Accum, bool Pipe, bool Tc = false>
__global__ void __launch_bounds__(k_threads) gemv_group_kernel(gemv_group gp)
{
    // Before the wait only the arguments and the items' (dense) weights are read.
    group_prefetch(gp, static_cast<int>(blockIdx.x));
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    FATHOM_EXTERN_SHARED(unsigned char, smem);
    __shared__ float terms[k_warps][k_max_m][32];
    group_block<Accum, Pipe, Tc>(gp, static_cast<int>(blockIdx.x), smem, terms);
}

/*
  Cooperative GEMV chains (linear_group.h linear_chain_gemv_cuda): the phases - groups as
  gemv_group_kernel takes them, each reading what the phases before it wrote - in one launch.
  The grid (at most the device's co-resident blocks: every block must be resident for the
  barrier) runs each phase's blocks as virtual blocks vb = blockIdx.x, + gridDim.x, ..., each
  exactly gemv_group_kernel's block vb, so every phase's bits are its own launch's. Between the
  phases a grid barrier (cuda::grid_barrier: the phase's stores visible to every block after it);
  before it, each block asks L2 for its share of the next phase's weights, which then stream
  while the slowest block finishes and the barrier settles (a separate launch would start them
  only when the previous grid triggers its dependents). Static shared memory (terms) holds
  nothing across a barrier or a virtual block.
*/
struct gemv_chain
{
    gemv_group phase[k_linear_chain_max];
    int32_t blocks[k_linear_chain_max]; // the phase's grid as its own launch
    int32_t count;
    int32_t mhc_blocks; // mhcchain: the mHC phase's blocks (0: none)
    mhc_chain_prologue mhc;
    grid_barrier_state *barrier;
};

/*
  mhcchain: a chain's mHC phase 0 (linear_group.h mhc_chain_prologue): mhc_post_pre_fused_kernel's
  blocks (t, r) of its grid (tokens, rows + 1) as the chain's virtual blocks vb = t + r·tokens,
  each post_pre_block<true> (mhc_block.cuh; the fast code: the same bits as either setting of
  FATHOM_CUDA_MHC_FAST), so the phase's bits are the launch's. The token's last block (its
  counter) finishes the token as the launch's does: the count is the phase's own blocks. Before
  the PDL wait token 0's blocks ask L2 for their φ row, as the launch's do.
*/
__device__ inline void mhc_phase_prefetch(const mhc_chain_prologue &m,
                                          int blocks,
                                          int b0,
                                          int stride)
{
    const int tokens = m.pre.tokens, n = m.pre.n_hc;
    for (int vb = b0; vb < blocks; vb += stride)
        prefetch_fn_row(vb % tokens, vb / tokens, m.pre.fn, (2 + n) * n, n * m.pre.d);
}

__device__ FATHOM_NOINLINE void mhc_phase(const mhc_chain_prologue &m,
                                          int blocks,
                                          int b0,
                                          int stride)
{
    const int tokens = m.pre.tokens;
    for (int vb = b0; vb < blocks; vb += stride) {
        __syncthreads(); // the previous virtual block's reads of static shared memory are done
        post_pre_block<true>(m.post,
                             m.pre,
                             m.norm_weight,
                             m.norm_eps,
                             m.counters,
                             vb % tokens,
                             vb / tokens);
    }
}

template<linear_accum Accum, bool Pipe, bool Tc>
__global__ void __launch_bounds__(k_threads)
    gemv_chain_kernel(const FATHOM_GRID_CONSTANT gemv_chain ch)
{
    const int b0 = static_cast<int>(blockIdx.x), stride = static_cast<int>(gridDim.x);
    mhc_phase_prefetch(ch.mhc, ch.mhc_blocks, b0, stride);
    for (int vb = b0; vb < ch.blocks[0]; vb += stride)
        group_prefetch(ch.phase[0], vb);
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    FATHOM_EXTERN_SHARED(unsigned char, smem);
    __shared__ float terms[k_warps][k_max_m][32];
    if (ch.mhc_blocks > 0) {
        mhc_phase(ch.mhc, ch.mhc_blocks, b0, stride);
        if (!grid_barrier(ch.barrier, static_cast<unsigned>(stride)))
            return; // timed out (the state says so): u is not all there
    }
    for (int ph = 0; ph < ch.count; ++ph) {
        for (int vb = b0; vb < ch.blocks[ph]; vb += stride) {
            __syncthreads(); // the previous virtual block's reads of smem / terms are done
            group_block<Accum, Pipe, Tc>(ch.phase[ph], vb, smem, terms);
        }
        if (ph + 1 == ch.count)
            break;
        for (int vb = b0; vb < ch.blocks[ph + 1]; vb += stride)
            group_prefetch(ch.phase[ph + 1], vb);
        if (!grid_barrier(ch.barrier, static_cast<unsigned>(stride)))
            return; // timed out (the state says so): the next phase's inputs are not all there
    }
}

// The MoE FFN halves (linear_experts_ffn_gemv_cuda): grid rows 0..slots-1 the routed experts'
// active slots (as gemv_kernel's expert form), row `slots` the shared expert.
struct ffn_launch
{
    linear_params base;
    expert_group g;
    linear_params shared;
    const void *const *w3_table;
    const uint8_t *const *scale3_table;
    const float *row_weights;
    const void *shared_w3;
    const uint8_t *shared_scale3;
    const int32_t *x_rows; // expert_ffn::x_rows
    const int32_t *slots;  // expert_ffn::slot_index
    float *combine_y;      // expert_ffn::combine_y (ffnnodes), or nullptr
    const int32_t *combine_ids;
    int32_t *combine_counters;
    int32_t combine_k;
    float limit;
    int32_t swiglu;
    int32_t cpw;
    int32_t kind; // GemvKind of the routed experts
    int32_t shared_kind;
    int32_t y_by_slot;
    int32_t prefetch; // moeprefetch: bit 0 the shared expert's blocks, bit 1 the routed ones'
};

// ffnnodes: the w2 launch's MoE combine (expert_ffn::combine_y). Every block of grid column
// blockIdx.x counts itself done after its stores (or at once when it has no rows); the column's
// last block (of gridDim.y) combines the column's outputs of every token in moeCombineKernel's
// order (fp32: 0 + the k slots by increasing expert id, stable, + the shared expert; bf16),
// reading the other blocks' stores past L1, and leaves the counter at 0 for the next launch or
// replay.
struct ffn_combine_args
{
    float *y;
    const int32_t *ids;
    int32_t *counters;
    const float *routed, *shared;
    int64_t ldr, lds;
    int rows, k, n, cols_per_block;
};

__device__ inline void ffn_combine(const ffn_combine_args L, int col, int grid_rows)
{
    __shared__ int order[k_max_m][32];
    if (!cuda::arrive_last(L.counters + col, grid_rows))
        return;
    const int N = L.rows, K = L.k;
    if (static_cast<int>(threadIdx.x) < N) {
        const int32_t *rid = L.ids + static_cast<int64_t>(threadIdx.x) * K;
        int *o = order[threadIdx.x];
        for (int j = 0; j < K; ++j)
            o[j] = j;
        for (int a = 1; a < K; ++a) { // insertion sort: stable, as std::stable_sort
            const int v = o[a];
            int b = a - 1;
            while (b >= 0 && rid[o[b]] > rid[v]) {
                o[b + 1] = o[b];
                --b;
            }
            o[b + 1] = v;
        }
    }
    __syncthreads();
    const int n = L.n, cpb = L.cols_per_block;
    const int64_t c0 = static_cast<int64_t>(col) * cpb;
    const int cols = static_cast<int>(n - c0 < cpb ? n - c0 : cpb);
#pragma unroll 1
    for (int i = threadIdx.x; i < N * cols; i += blockDim.x) {
        const int r = i / cols;
        const int64_t e = c0 + i % cols;
        float acc = 0.0f;
#pragma unroll 1
        for (int j = 0; j < K; ++j)
            acc = __fadd_rn(acc,
                            cuda::load_cg(
                                L.routed + (static_cast<int64_t>(r) * K + order[r][j]) * L.ldr + e));
        acc = __fadd_rn(acc, cuda::load_cg(L.shared + r * L.lds + e));
        L.y[static_cast<int64_t>(r) * n + e] = round_bf16(acc);
    }
}

// The combine's arguments from the launch's.
__device__ inline ffn_combine_args combine_args(const ffn_launch &L)
{
    const int n = L.base.n;
    return {L.combine_y,
            L.combine_ids,
            L.combine_counters,
            static_cast<const float *>(L.base.y),
            static_cast<const float *>(L.shared.y),
            L.base.ldy ? L.base.ldy : n,
            L.shared.ldy ? L.shared.ldy : n,
            L.shared.m,
            L.combine_k,
            n,
            k_warps * L.cpw};
}

// moeprefetch (expert_ffn::prefetch_shared / prefetch_routed), before the wait: the block asks L2
// for its weight columns (prefetch_weights' columns; w3's too in the swiglu half). The shared
// expert's weights are kernel arguments; a routed block's expert comes from the routing through
// peek_settled (written two launches back; a bad id prefetches nothing).
__device__ inline void ffn_prefetch(const ffn_launch &L, int bx, int by)
{
    if (by >= L.g.slots) {
        if (!(L.prefetch & 1))
            return;
        const GemvKind kind = static_cast<GemvKind>(L.shared_kind);
        linear_params p = L.shared;
        prefetch_weights(p, kind, L.cpw, bx);
        if (L.swiglu) {
            p.w = L.shared_w3;
            prefetch_weights(p, kind, L.cpw, bx);
        }
        return;
    }
    if (!(L.prefetch & 2) || (threadIdx.x & 31) != 0)
        return;
    const int e = peek_settled(L.g.active + by);
    if (e < 0 || e >= L.g.n_experts)
        return;
    const GemvKind kind = static_cast<GemvKind>(L.kind);
    linear_params p = L.base;
    p.w = peek_settled(L.g.w_table + e);
    if (p.w)
        prefetch_weights(p, kind, L.cpw, bx);
    if (L.swiglu) {
        p.w = peek_settled(L.w3_table + e);
        if (p.w)
            prefetch_weights(p, kind, L.cpw, bx);
    }
}

// Tc: the routed and the shared expert on the tensor-core block (linear_experts_ffn_launch decides);
// two blocks an SM (ptxas: 64 registers, no spills; 97 without the bound), so one block's x staging
// and slice sums overlap the other's weight stream (the experts' blocks are short).
// Block (bx, by) of the launch's grid (after the PDL wait): its expert's columns, then the
// combine when its column is done. grid_rows: the grid's rows (the combine's count a column).
template<linear_accum Accum, bool Pipe, bool Tc>
__device__ __forceinline__ void experts_ffn_block(
    const ffn_launch &L, int bx, int by, int grid_rows, unsigned char *smem, terms_t *terms)
{
    linear_params p;
    gemv_epilogue ep;
    ep.limit = L.limit;
    ep.swiglu = L.swiglu;
    int kind;
    if (by < L.g.slots) {
        const int e = L.g.active[by];
        const int r0 = e < 0 ? 0 : L.g.offsets[e];
        const int rows = e < 0 ? 0 : L.g.offsets[e + 1] - r0;
        if (rows <= 0) {
            if (L.combine_y) // counts itself done (block-uniform)
                ffn_combine(combine_args(L), bx, grid_rows);
            return;
        }
        p = L.base;
        p.m = rows < p.m ? rows : p.m;
        p.w = L.g.w_table[e];
        p.w_scale = L.g.scale_table ? L.g.scale_table[e] : nullptr;
        const int64_t ldx = p.ldx ? p.ldx : p.k, ldy = p.ldy ? p.ldy : p.n;
        const int xsz = p.x_type == act_type::bf16 ? 2 : 4;
        const int ysz = p.y_type == act_type::bf16 ? 2 : 4;
        // Indirect rows are indexed from x's / y's row 0; sorted ones start at the expert's.
        if (L.x_rows)
            ep.x_rows = L.x_rows + r0;
        else
            p.x = static_cast<const char *>(p.x) + static_cast<int64_t>(r0) * ldx * xsz;
        ep.slots = L.slots ? L.slots + r0 : nullptr;
        ep.y_by_slot = L.y_by_slot;
        if (!L.y_by_slot)
            p.y = static_cast<char *>(p.y) + static_cast<int64_t>(r0) * ldy * ysz;
        if (L.swiglu) {
            ep.w3 = L.w3_table[e];
            ep.s3 = L.scale3_table ? L.scale3_table[e] : nullptr;
            ep.row_w = !L.row_weights ? nullptr : L.slots ? L.row_weights : L.row_weights + r0;
        }
        kind = L.kind;
    } else {
        p = L.shared;
        ep.w3 = L.shared_w3;
        ep.s3 = L.shared_scale3;
        kind = L.shared_kind;
    }
    const int64_t ldx = p.ldx ? p.ldx : p.k, ldy = p.ldy ? p.ldy : p.n;
    gemv_block_for<Accum, Pipe, Tc>(static_cast<GemvKind>(kind),
                                    p,
                                    ldx,
                                    ldy,
                                    L.cpw,
                                    bx,
                                    smem,
                                    terms,
                                    ep);
    if (L.combine_y)
        ffn_combine(combine_args(L), bx, grid_rows);
}

template<linear_accum Accum, bool Pipe, bool Tc = false>
__global__ void __launch_bounds__(k_threads, Tc ? 2 : 1) experts_ffn_kernel(ffn_launch L)
{
    const int bx = static_cast<int>(blockIdx.x), by = static_cast<int>(blockIdx.y);
    if (L.prefetch)
        ffn_prefetch(L, bx, by);
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    FATHOM_EXTERN_SHARED(unsigned char, smem);
    __shared__ float terms[k_warps][k_max_m][32];
    experts_ffn_block<Accum, Pipe, Tc>(L, bx, by, static_cast<int>(gridDim.y), smem, terms);
}

// gate: the MoE gate GEMV and the routing + grouping in one decode launch
// (moe_gate_route_group_cuda). Every block computes its columns of the logits exactly as
// gemv_kernel does (gemv_block: the same staging, loop and reduction order, so the same bits),
// stores them and counts itself done; the launch's last block routes every token as
// moe_route_kernel (route_token, reading the other blocks' logits past L1) and groups the ids as
// moe_route_group_kernel (its own stores, plain loads after the block's barrier).
struct gate_route_launch
{
    linear_params p;  // the gate: y = r.logits, m = r.tokens rows, n = r.n_experts
    MoeRouteParams r; // device pointers
    int32_t *offsets; // [n_experts + 1]
    int32_t *active;  // [slots]
    int32_t *src_row; // [tokens * topk]
    int32_t *slot_index;
    int *counter; // 0 on entry, left 0
    int32_t slots;
    int32_t cpw;
};

// The routing and grouping of the last block (out of line: no registers added to the GEMV).
__device__ GEMV_OUT_OF_LINE void gate_route_tail(const gate_route_launch &L, int *start)
{
    const MoeRouteParams &r = L.r;
    for (int t = 0; t < r.tokens; ++t)
        route_token(r, t, CgLogits{r.logits + static_cast<int64_t>(t) * r.n_experts});
    // The ids were stored by this block's thread 0 before route_token's last barrier.
    group_pairs(PlainIds{r.ids},
                r.tokens * r.topk,
                r.topk,
                r.n_experts,
                L.offsets,
                L.active,
                L.slots,
                L.src_row,
                L.slot_index,
                start);
}

// Block b of the launch's blocks (after the PDL wait): its logits, then the routing and grouping
// when it is the last to store them (the counter left at 0).
template<GemvKind Kind, linear_accum Accum, bool Pipe>
__device__ __forceinline__ void gate_route_block(
    const gate_route_launch &L, int b, int blocks, unsigned char *smem, terms_t *terms)
{
    const int64_t ldx = L.p.ldx ? L.p.ldx : L.p.k, ldy = L.p.ldy ? L.p.ldy : L.p.n;
    gemv_block<Kind, Accum, Pipe>(L.p, ldx, ldy, L.cpw, b, smem, terms);
    if (arrive_last(L.counter, blocks))
        gate_route_tail(L, reinterpret_cast<int *>(smem));
}

template<GemvKind Kind, linear_accum Accum, bool Pipe>
__global__ void __launch_bounds__(k_threads) gate_route_kernel(gate_route_launch L)
{
    prefetch_weights(L.p, Kind, L.cpw, blockIdx.x);
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    FATHOM_EXTERN_SHARED(unsigned char, smem);
    __shared__ float terms[k_warps][k_max_m][32];
    gate_route_block<Kind, Accum, Pipe>(L,
                                        static_cast<int>(blockIdx.x),
                                        static_cast<int>(gridDim.x),
                                        smem,
                                        terms);
}

// L for the gate + routing launch (moe_gate_route_group_cuda's arguments as moe_chain_gate holds
// them, already checked), whether its GEMV takes the pipeline, and its dynamic shared memory (the
// GEMV's or the grouping's).
void build_gate(const moe_chain_gate &g, gate_route_launch &L, bool &pipe, size_t &bytes)
{
    std::memset(static_cast<void *>(&L), 0, sizeof L); // defined parameter bytes (graphs)
    L.p = g.gate;
    L.r = g.route;
    L.offsets = g.offsets;
    L.active = g.active;
    L.src_row = g.src_row;
    L.slot_index = g.slot_index;
    L.counter = g.counter;
    L.slots = g.slots;
    L.cpw = columns_per_warp(g.gate.n);
    pipe = use_pipeline(GemvKind::Bf16, g.gate.m, g.gate.k);
    bytes = std::max(group_smem_bytes(g.route.n_experts),
                     gemv_smem(GemvKind::Bf16, g.gate.m, g.gate.k, pipe));
}

/*
  moechain: the decode MoE as one cooperative launch (linear_group.h linear_moe_chain_gemv_cuda):
  the gate + routing + grouping (gate_route_kernel's blocks; optional), then the w1/w3 half, then
  the w2 half (experts_ffn_kernel's blocks, the 2-D grid flattened row by row: virtual block vb
  is grid block (vb % cols, vb / cols)), a grid barrier between the phases, as gemv_chain_kernel
  does for groups. Every block body is its launch's (gate_route_block, experts_ffn_block), so the
  bits are the three launches'; the hand-offs inside a phase count the phase's own blocks (the
  routing's last block of the gate's grid, the combine's last block of a w2 column's rows).
  L2 requests: before the wait the first phase's settled weights (the gate, or the w1/w3 half's
  shared expert); before each barrier the next phase's settled ones (the w1/w3 half's shared
  expert, or all of the w2 half: its routing is a barrier back); right after the gate's barrier
  the routed experts' w1/w3 columns (their routing is now settled).
  Gate: the gate phase, on the pipelined GEMV when Pipe || Tc (linear_moe_chain_launch holds the
  gate to the instance). Static shared memory holds nothing across a virtual block or barrier.
  Tc: two blocks an SM as experts_ffn_kernel (the halves' grids are 2-4 waves of an SM's one
  block at V4-Flash's shapes: a block's x staging and sums overlap the other's weight stream);
  ptxas sm_90a: 64 registers, no spills, with the gate's exact bf16 GEMV too. Exact: 121-128.
*/
struct moe_chain
{
    gate_route_launch gate;
    ffn_launch ffn[2]; // the w1/w3 half, the w2 half
    int32_t cols[2];   // their grids as their own launches
    int32_t rows[2];
    int32_t gate_blocks;  // 0: no gate phase
    int32_t routed_after; // moeprefetch bits of the w1/w3 half after the gate's barrier
    int32_t mhc_blocks;   // mhcchain: the mHC phase's blocks (0: none)
    mhc_chain_prologue mhc;
    grid_barrier_state *barrier;
};

// The virtual blocks of FFN half h that block b0 of a grid of `stride` serves, L2 requests
// (ffn_prefetch) with the prefetch bits `bits` of its launch's.
__device__ inline void chain_ffn_prefetch(const moe_chain &ch, int h, int bits, int b0, int stride)
{
    if (!bits)
        return;
    ffn_launch L = ch.ffn[h];
    L.prefetch = bits;
    const int cols = ch.cols[h];
    for (int vb = b0; vb < cols * ch.rows[h]; vb += stride)
        ffn_prefetch(L, vb % cols, vb / cols);
}

template<linear_accum Accum, bool Pipe, bool Tc, bool Gate>
__global__ void __launch_bounds__(k_threads, Tc ? 2 : 1)
    moe_chain_kernel(const FATHOM_GRID_CONSTANT moe_chain ch)
{
    constexpr bool gate_pipe = Pipe || Tc;
    const int b0 = static_cast<int>(blockIdx.x), stride = static_cast<int>(gridDim.x);
    if constexpr (Gate) {
        mhc_phase_prefetch(ch.mhc, ch.mhc_blocks, b0, stride);
        for (int vb = b0; vb < ch.gate_blocks; vb += stride)
            prefetch_weights(ch.gate.p, GemvKind::Bf16, ch.gate.cpw, vb);
    } else {
        chain_ffn_prefetch(ch, 0, ch.ffn[0].prefetch, b0, stride);
    }
    FATHOM_PDL_WAIT();
    FATHOM_PDL_TRIGGER();
    FATHOM_EXTERN_SHARED(unsigned char, smem);
    __shared__ float terms[k_warps][k_max_m][32];
    if constexpr (Gate) { // mhcchain: the mHC phase only before a gate phase (the host holds it)
        if (ch.mhc_blocks > 0) {
            mhc_phase(ch.mhc, ch.mhc_blocks, b0, stride);
            if (!grid_barrier(ch.barrier, static_cast<unsigned>(stride)))
                return; // timed out (the state says so): u is not all there
        }
    }
    if constexpr (Gate) {
        for (int vb = b0; vb < ch.gate_blocks; vb += stride) {
            __syncthreads(); // the previous virtual block's reads of smem / terms are done
            gate_route_block<GemvKind::Bf16, linear_accum::exact, gate_pipe>(ch.gate,
                                                                             vb,
                                                                             ch.gate_blocks,
                                                                             smem,
                                                                             terms);
        }
        chain_ffn_prefetch(ch, 0, ch.ffn[0].prefetch & 1, b0, stride);
        if (!grid_barrier(ch.barrier, static_cast<unsigned>(stride)))
            return; // timed out (the state says so): the routing is not all there
        chain_ffn_prefetch(ch, 0, ch.routed_after, b0, stride);
    }
    for (int h = 0; h < 2; ++h) {
        const int cols = ch.cols[h], rows = ch.rows[h];
        for (int vb = b0; vb < cols * rows; vb += stride) {
            __syncthreads();
            experts_ffn_block<Accum, Pipe, Tc>(ch.ffn[h], vb % cols, vb / cols, rows, smem, terms);
        }
        if (h == 1)
            break;
        chain_ffn_prefetch(ch, 1, ch.ffn[1].prefetch, b0, stride);
        if (!grid_barrier(ch.barrier, static_cast<unsigned>(stride)))
            return;
    }
}

} // namespace

bool linear_experts_ffn_fits(const linear_params &base, const expert_ffn &f)
{
    if (!gemv_fits(base, kind_of(base.w_type)))
        return false;
    if (f.swiglu && (base.y_type != act_type::f32 || !f.w3_table))
        return false;
    const linear_params &s = f.shared;
    // ffnnodes: the combine needs the w2 half by slot, the shared expert, f32 outputs, the k
    // slots of a token within moeCombine's 32 and a counter per grid column.
    if (f.combine_y
        && (f.swiglu || !f.y_by_slot || s.m == 0 || f.combine_k <= 0 || f.combine_k > 32
            || base.y_type != act_type::f32 || s.y_type != act_type::f32 || !f.combine_ids
            || !f.combine_counters
            || grid_for(base.n, k_warps * columns_per_warp(base.n)) > f.combine_counter_count))
        return false;
    if (s.m == 0)
        return true;
    if (s.n != base.n || s.k != base.k || !gemv_fits(s, kind_of(s.w_type)))
        return false;
    if (f.swiglu
        && (s.y_type != act_type::f32 || !f.shared_w3
            || reinterpret_cast<uintptr_t>(f.shared_w3) % 16 != 0))
        return false;
    // Dense weights of both: the same accum (one kernel instance).
    const bool dense_b = !is_quantized(base.w_type), dense_s = !is_quantized(s.w_type);
    return !(dense_b && dense_s && base.accum != s.accum);
}

namespace {

// L for a launch of the FFN half (base, g, f) and how it runs: the kernel instance (tc, pipe,
// accum), its dynamic shared memory and grid. The caller checked linear_experts_ffn_fits.
void build_ffn(const linear_params &base,
               const expert_group &g,
               const expert_ffn &f,
               ffn_launch &L,
               bool &tc,
               bool &pipe,
               linear_accum &accum,
               size_t &bytes,
               dim3 &grid)
{
    std::memset(static_cast<void *>(&L), 0, sizeof L); // defined parameter bytes (graphs)
    L.base = base;
    L.g = g;
    L.shared = f.shared;
    L.w3_table = f.w3_table;
    L.scale3_table = f.scale3_table;
    L.row_weights = f.row_weights;
    L.shared_w3 = f.shared_w3;
    L.shared_scale3 = f.shared_scale3;
    L.x_rows = f.x_rows;
    L.slots = f.slot_index;
    L.y_by_slot = f.y_by_slot ? 1 : 0;
    if (f.combine_y) {
        L.combine_y = f.combine_y;
        L.combine_ids = f.combine_ids;
        L.combine_counters = f.combine_counters;
        L.combine_k = f.combine_k;
    }
    L.limit = f.limit;
    L.swiglu = f.swiglu ? 1 : 0;
    L.prefetch = (f.prefetch_shared && f.shared.m > 0 ? 1 : 0)
                 | (f.prefetch_routed && g.n_experts > 0 ? 2 : 0);
    L.kind = static_cast<int32_t>(kind_of(base.w_type));
    L.shared_kind = static_cast<int32_t>(kind_of(f.shared.w_type));
    const bool has_shared = f.shared.m > 0;
    const GemvKind kb = kind_of(base.w_type), ks = kind_of(f.shared.w_type);
    tc = tc_fits(base, kb) && (!has_shared || tc_fits(f.shared, ks));
    // The shared expert has the routed ones' n and k (linear_experts_ffn_fits).
    L.cpw = tc ? tc_columns_per_warp(kb, base.n, base.k, f.swiglu) : columns_per_warp(base.n);
    pipe = !tc && use_pipeline(kb, base.m, base.k)
           && (!has_shared || use_pipeline(ks, f.shared.m, f.shared.k));
    auto smem_of = [&](GemvKind kind, const linear_params &q) {
        return tc ? tc_smem_bytes(kind, q.m, q.k) : gemv_smem(kind, q.m, q.k, pipe);
    };
    bytes = smem_of(kb, base);
    if (has_shared) {
        const size_t b = smem_of(ks, f.shared);
        bytes = b > bytes ? b : bytes;
    }
    accum = tc                                             ? linear_accum::fp32
            : !is_quantized(base.w_type)                   ? base.accum
            : has_shared && !is_quantized(f.shared.w_type) ? f.shared.accum
                                                           : linear_accum::exact;
    grid = dim3(grid_for(base.n, k_warps * L.cpw), g.slots + (has_shared ? 1 : 0));
}

} // namespace

Status linear_experts_ffn_launch(const linear_params &base,
                                 const expert_group &g,
                                 const expert_ffn &f,
                                 CUstream_st *stream)
{
    if (!linear_experts_ffn_fits(base, f))
        return Status::unsupported("linear_experts_ffn: shape not supported");
    ffn_launch L;
    bool tc = false, pipe = false;
    linear_accum accum = linear_accum::exact;
    size_t bytes = 0;
    dim3 grid;
    build_ffn(base, g, f, L, tc, pipe, accum, bytes, grid);
    const bool exact = accum == linear_accum::exact;
    void (*const kernel)(ffn_launch) = tc ? experts_ffn_kernel<linear_accum::fp32, false, true>
                                       : exact
                                           ? (pipe ? experts_ffn_kernel<linear_accum::exact, true>
                                                   : experts_ffn_kernel<linear_accum::exact, false>)
                                           : (pipe ? experts_ffn_kernel<linear_accum::fp32, true>
                                                   : experts_ffn_kernel<linear_accum::fp32, false>);
    if (const cudaError_t err = cuda::allow_smem(kernel, bytes); err != cudaSuccess)
        return cuda_status(err);
    FATHOM_LAUNCH(grid, k_threads, bytes, stream, kernel)(L);
    return launch_status();
}

namespace {

// The kernel instance a group's items take: every item on the tensor-core block, else the
// pipelined blocks where every item's ring fits.
void group_instance(const linear_params *items, int count, bool &tc, bool &pipe)
{
    pipe = tc = true;
    for (int i = 0; i < count; ++i) {
        pipe = pipe && use_pipeline(kind_of(items[i].w_type), items[i].m, items[i].k);
        tc = tc && tc_fits(items[i], kind_of(items[i].w_type));
    }
    pipe = pipe && !tc;
}

// gp, its grid (blocks), dynamic shared memory (bytes) and the dense items' accum for the items
// on the instance (tc, pipe).
Status build_group(const linear_params *items,
                   int count,
                   const float *norm_weight,
                   float norm_eps,
                   bool norm,
                   const float *y_scales,
                   bool tc,
                   bool pipe,
                   gemv_group &gp,
                   long long &blocks,
                   size_t &bytes,
                   linear_accum &accum)
{
    if (count <= 0 || count > k_max_group)
        return Status::invalid("linear_group_gemv: 1 to 8 items");
    std::memset(static_cast<void *>(&gp), 0, sizeof gp); // defined parameter bytes (graphs)
    blocks = 0;
    bytes = 0;
    accum = linear_accum::exact;
    for (int i = 0; i < count; ++i) {
        const linear_params &p = items[i];
        const GemvKind kind = kind_of(p.w_type);
        if (!gemv_fits(p, kind))
            return Status::unsupported("linear_group_gemv: shape not supported");
        if (kind == GemvKind::Bf16 || kind == GemvKind::F32)
            accum = p.accum; // the caller checked that the dense items agree
        const size_t b = tc ? tc_smem_bytes(kind, p.m, p.k) : gemv_smem(kind, p.m, p.k, pipe);
        bytes = b > bytes ? b : bytes;
        gp.items[i] = p;
        gp.kind[i] = static_cast<int32_t>(kind);
        gp.cpw[i] = tc ? tc_columns_per_warp(kind, p.n, p.k, false) : columns_per_warp(p.n);
        gp.block0[i] = static_cast<int32_t>(blocks);
        gp.y_scale[i] = y_scales ? y_scales[i] : 0.0f;
        blocks += grid_for(p.n, k_warps * gp.cpw[i]);
    }
    gp.count = count;
    gp.norm.weight = norm_weight;
    gp.norm.eps = norm_eps;
    gp.norm.on = norm ? 1 : 0;
    if (blocks > 0x7FFFFFFFLL)
        return Status::unsupported("linear_group_gemv: too many columns");
    return Status::success();
}

// The instance of a group / chain kernel: Tc, else Pipe, else plain, in the dense items' accum.
template<typename Arg, template<linear_accum, bool, bool> class K>
void (*pick_instance(bool tc, bool pipe, linear_accum accum))(Arg)
{
    const bool exact = accum == linear_accum::exact;
    return tc      ? K<linear_accum::fp32, false, true>::fn
           : exact ? (pipe ? K<linear_accum::exact, true, false>::fn
                           : K<linear_accum::exact, false, false>::fn)
                   : (pipe ? K<linear_accum::fp32, true, false>::fn
                           : K<linear_accum::fp32, false, false>::fn);
}
template<linear_accum A, bool P, bool T>
struct group_kernel_of
{
    static constexpr void (*fn)(gemv_group) = gemv_group_kernel<A, P, T>;
};
template<linear_accum A, bool P, bool T>
struct chain_kernel_of
{
    static constexpr void (*fn)(gemv_chain) = gemv_chain_kernel<A, P, T>;
};

} // namespace

Status linear_group_gemv_launch(const linear_params *items,
                                int count,
                                CUstream_st *stream,
                                const float *norm_weight,
                                float norm_eps,
                                bool norm,
                                const float *y_scales)
{
    gemv_group gp;
    long long blocks = 0;
    size_t bytes = 0;
    linear_accum accum = linear_accum::exact;
    bool tc = false, pipe = false;
    if (count <= 0 || count > k_max_group)
        return Status::invalid("linear_group_gemv: 1 to 8 items");
    group_instance(items, count, tc, pipe);
    if (Status st = build_group(
            items, count, norm_weight, norm_eps, norm, y_scales, tc, pipe, gp, blocks, bytes, accum);
        !st.ok() || blocks == 0)
        return st;
    void (*const kernel)(gemv_group) = pick_instance<gemv_group, group_kernel_of>(tc, pipe, accum);
    if (const cudaError_t err = cuda::allow_smem(kernel, bytes); err != cudaSuccess)
        return cuda_status(err);
    const unsigned grid = static_cast<unsigned>(blocks);
    FATHOM_LAUNCH(grid, k_threads, bytes, stream, kernel)(gp);
    return launch_status();
}

// FATHOM_CUDA_GEMV_CHAIN_GRID=<n>: the chains' grid at most n blocks (a device A/B of the grid
// size; default: the phases' largest grid, bounded by the co-resident blocks). Read once.
int chain_grid_cap()
{
    static const int cap = [] {
        const char *v = std::getenv("FATHOM_CUDA_GEMV_CHAIN_GRID");
        return v && *v ? std::atoi(v) : 0;
    }();
    return cap;
}

// A cooperative chain's grid (grid_barrier: every block resident at once): the phases' widest
// grid, at most the kernel's co-resident blocks at `bytes` of shared memory (and the A/B cap);
// Unsupported where no block fits an SM.
template<typename Arg>
Status chain_grid(void (*kernel)(Arg), size_t bytes, long long widest, unsigned &grid)
{
    if (const cudaError_t err = cuda::allow_smem(kernel, bytes); err != cudaSuccess)
        return cuda_status(err);
    long long blocks = co_resident_blocks(kernel, k_threads, bytes);
    if (chain_grid_cap() > 0 && chain_grid_cap() < blocks)
        blocks = chain_grid_cap();
    if (blocks <= 0)
        return Status::unsupported("cooperative chain: no block of the kernel fits an SM");
    grid = static_cast<unsigned>(widest < blocks ? widest : blocks);
    return Status::success();
}

// mhcchain: the chain's mHC phase (checked: linear.cu mhc_phase_check), widening `widest` to its
// grid.
void build_mhc_phase(const mhc_chain_prologue *mhc,
                     mhc_chain_prologue &out,
                     int32_t &blocks,
                     long long &widest)
{
    if (!mhc || mhc->pre.tokens <= 0)
        return;
    out = *mhc;
    const int n = mhc->pre.n_hc;
    blocks = static_cast<int32_t>(mhc->pre.tokens * ((2 + n) * n + 1));
    widest = blocks > widest ? blocks : widest;
}

Status linear_chain_gemv_launch(const linear_chain_phase *phases,
                                int count,
                                void *barrier,
                                CUstream_st *stream,
                                bool plan_only,
                                const mhc_chain_prologue *mhc)
{
    if (count < 2 || count > k_linear_chain_max || !phases || (!barrier && !plan_only))
        return Status::invalid("linear_chain_gemv: 2 to 3 phases and a barrier");
    gemv_chain ch;
    std::memset(static_cast<void *>(&ch), 0, sizeof ch); // defined parameter bytes (graphs)
    bool tc = false, pipe = false, dense = false;
    linear_accum accum = linear_accum::exact;
    size_t bytes = 0;
    long long widest = 0;
    for (int ph = 0; ph < count; ++ph) {
        const linear_chain_phase &f = phases[ph];
        if (f.count <= 0 || f.count > k_max_group)
            return Status::unsupported("linear_chain_gemv: a phase of 1 to 8 items");
        bool t = false, pp = false;
        group_instance(f.items, f.count, t, pp);
        if (ph > 0 && (t != tc || pp != pipe))
            return Status::unsupported("linear_chain_gemv: the phases take different kernels");
        tc = t;
        pipe = pp;
        long long blocks = 0;
        size_t b = 0;
        linear_accum a = linear_accum::exact;
        if (Status st = build_group(f.items,
                                    f.count,
                                    f.norm_weight,
                                    f.norm_eps,
                                    f.norm != 0,
                                    f.y_scales,
                                    tc,
                                    pipe,
                                    ch.phase[ph],
                                    blocks,
                                    b,
                                    a);
            !st.ok())
            return st;
        if (blocks <= 0)
            return Status::unsupported("linear_chain_gemv: an empty phase");
        bool has_dense = false;
        for (int i = 0; i < f.count; ++i)
            has_dense = has_dense || !is_quantized(f.items[i].w_type);
        if (has_dense && !tc) {
            if (dense && a != accum)
                return Status::unsupported("linear_chain_gemv: the dense items' accum differ");
            dense = true;
            accum = a;
        }
        ch.blocks[ph] = static_cast<int32_t>(blocks);
        bytes = b > bytes ? b : bytes;
        widest = blocks > widest ? blocks : widest;
    }
    ch.count = count;
    build_mhc_phase(mhc, ch.mhc, ch.mhc_blocks, widest);
    ch.barrier = static_cast<grid_barrier_state *>(barrier);
    void (*const kernel)(gemv_chain) = pick_instance<gemv_chain, chain_kernel_of>(tc, pipe, accum);
    unsigned grid = 0;
    if (Status st = chain_grid(kernel, bytes, widest, grid); !st.ok() || plan_only)
        return st;
    FATHOM_LAUNCH(grid, k_threads, bytes, stream, kernel)(ch);
    return launch_status();
}

Status linear_moe_chain_launch(const moe_chain_gate *gate,
                               const moe_chain_half &up,
                               const moe_chain_half &down,
                               void *barrier,
                               CUstream_st *stream,
                               bool plan_only,
                               const mhc_chain_prologue *mhc)
{
    if (!barrier && !plan_only)
        return Status::invalid("linear_moe_chain: no barrier state");
    if (!linear_experts_ffn_fits(up.base, up.f) || !linear_experts_ffn_fits(down.base, down.f)
        || !up.f.swiglu || down.f.swiglu)
        return Status::unsupported("linear_moe_chain: the FFN halves do not fit");
    moe_chain ch;
    std::memset(static_cast<void *>(&ch), 0, sizeof ch); // defined parameter bytes (graphs)
    bool tc = false, pipe = false, tc2 = false, pipe2 = false;
    linear_accum accum = linear_accum::exact, accum2 = linear_accum::exact;
    size_t bytes = 0, bytes2 = 0;
    dim3 grid, grid2;
    build_ffn(up.base, up.g, up.f, ch.ffn[0], tc, pipe, accum, bytes, grid);
    build_ffn(down.base, down.g, down.f, ch.ffn[1], tc2, pipe2, accum2, bytes2, grid2);
    // The instances the chain has: the tensor-core block or exact accumulation, both halves alike.
    if (tc != tc2 || pipe != pipe2 || accum != accum2 || (!tc && accum != linear_accum::exact))
        return Status::unsupported("linear_moe_chain: the halves take another kernel");
    bytes = bytes2 > bytes ? bytes2 : bytes;
    for (int h = 0; h < 2; ++h) {
        const dim3 g = h == 0 ? grid : grid2;
        ch.cols[h] = static_cast<int32_t>(g.x);
        ch.rows[h] = static_cast<int32_t>(g.y);
    }
    long long widest = static_cast<long long>(grid.x) * grid.y;
    widest = std::max(widest, static_cast<long long>(grid2.x) * grid2.y);
    // Before the wait the w1/w3 half's routing is not settled (the launch before, or the gate's
    // phase): its routed blocks ask L2 only right after the gate's barrier.
    ch.ffn[0].prefetch &= 1;
    if (gate) {
        if (!moe_gate_route_group_fits(gate->gate, gate->route))
            return Status::unsupported("linear_moe_chain: the gate does not fit");
        if (!route_group_args_ok(gate->route,
                                 gate->offsets,
                                 gate->active,
                                 gate->slots,
                                 gate->src_row,
                                 gate->slot_index,
                                 gate->counter))
            return Status::invalid("linear_moe_chain: bad routing arguments");
        // The halves read the grouping the gate's phase writes.
        for (const moe_chain_half *h : {&up, &down})
            if (h->g.offsets != gate->offsets || h->g.active != gate->active
                || h->g.slots != gate->slots || h->f.slot_index != gate->slot_index)
                return Status::invalid(
                    "linear_moe_chain: the halves do not read the gate's grouping");
        if (up.f.x_rows != gate->src_row || up.f.row_weights != gate->route.weights
            || (down.f.combine_y && down.f.combine_ids != gate->route.ids))
            return Status::invalid("linear_moe_chain: the halves do not read the gate's grouping");
        bool gate_pipe = false;
        size_t gb = 0;
        build_gate(*gate, ch.gate, gate_pipe, gb);
        if (gate_pipe != (pipe || tc))
            return Status::unsupported("linear_moe_chain: the gate takes another kernel");
        bytes = gb > bytes ? gb : bytes;
        ch.gate_blocks = static_cast<int32_t>(grid_for(gate->gate.n, k_warps * ch.gate.cpw));
        widest = std::max(widest, static_cast<long long>(ch.gate_blocks));
        ch.routed_after = up.f.prefetch_routed && up.g.n_experts > 0 ? 2 : 0;
    }
    // The mHC phase only with the gate's (linear.cu refused it without: the instances without
    // the gate do not have the phase).
    build_mhc_phase(mhc, ch.mhc, ch.mhc_blocks, widest);
    ch.barrier = static_cast<grid_barrier_state *>(barrier);
    // Six instances: tensor-core / exact pipelined / exact plain, with or without the gate.
    void (*const kernel)(moe_chain)
        = tc     ? (gate ? moe_chain_kernel<linear_accum::fp32, false, true, true>
                         : moe_chain_kernel<linear_accum::fp32, false, true, false>)
          : pipe ? (gate ? moe_chain_kernel<linear_accum::exact, true, false, true>
                         : moe_chain_kernel<linear_accum::exact, true, false, false>)
                 : (gate ? moe_chain_kernel<linear_accum::exact, false, false, true>
                         : moe_chain_kernel<linear_accum::exact, false, false, false>);
    unsigned grid_blocks = 0;
    if (Status st = chain_grid(kernel, bytes, widest, grid_blocks); !st.ok() || plan_only)
        return st;
    FATHOM_LAUNCH(grid_blocks, k_threads, bytes, stream, kernel)(ch);
    return launch_status();
}

bool linear_gemv_fits(const linear_params &p)
{
    return gemv_fits(p, kind_of(p.w_type));
}

Status linear_gemv_launch(const linear_params &p,
                          CUstream_st *stream,
                          const expert_group &g,
                          const float *norm_weight,
                          float norm_eps,
                          bool norm)
{
    const GemvKind kind = kind_of(p.w_type);
    if (!gemv_fits(p, kind))
        return Status::unsupported("linear_gemv: shape not supported");
    gemv_prenorm nm;
    nm.weight = norm_weight;
    nm.eps = norm_eps;
    nm.on = norm ? 1 : 0;
    const bool exact = p.accum == linear_accum::exact;
    switch (kind) {
    case GemvKind::Fp8:
        return launch<GemvKind::Fp8, linear_accum::exact>(p, g, stream, nm);
    case GemvKind::Fp4:
        return launch<GemvKind::Fp4, linear_accum::exact>(p, g, stream, nm);
    case GemvKind::Bf16:
        return exact ? launch<GemvKind::Bf16, linear_accum::exact>(p, g, stream, nm)
                     : launch<GemvKind::Bf16, linear_accum::fp32>(p, g, stream, nm);
    default:
        return exact ? launch<GemvKind::F32, linear_accum::exact>(p, g, stream, nm)
                     : launch<GemvKind::F32, linear_accum::fp32>(p, g, stream, nm);
    }
}

} // namespace fathom::kernels::cuda

namespace fathom::kernels {

bool linear_gemv_tc_enabled()
{
    return cuda::gemv_tc_enabled();
}

bool moe_gate_route_group_fits(const linear_params &g, const MoeRouteParams &r)
{
    using namespace cuda;
    // One instance (the engine's gates are bf16 weights, linear() passes exact accumulation):
    // anything else keeps the two launches.
    return g.w_type == linear_weight_type::bf16 && g.accum == linear_accum::exact && g.w && g.x
           && g.m >= 1 && g.m <= k_max_m && g.m == r.tokens && g.n == r.n_experts && g.k > 0
           && (g.ldx == 0 || g.ldx >= g.k) && (g.ldy == 0 || g.ldy == g.n)
           && g.y == static_cast<const void *>(r.logits) && g.y_type == act_type::f32
           && !g.y_round_bf16 && r.n_experts > 0 && r.n_experts <= k_route_max_experts && r.topk > 0
           && r.topk <= k_route_max_topk && r.topk <= r.n_experts && gemv_fits(g, GemvKind::Bf16)
           && group_smem_bytes(r.n_experts) <= max_dynamic_smem();
}

Status moe_gate_route_group_cuda(const linear_params &gate,
                                 const MoeRouteParams &p,
                                 int32_t *offsets,
                                 int32_t *active,
                                 int slots,
                                 int32_t *src_row,
                                 int32_t *slot_index,
                                 int *counter,
                                 CUstream_st *stream)
{
    using namespace cuda;
    if (!route_group_args_ok(p, offsets, active, slots, src_row, slot_index, counter))
        return Status::invalid("moe_gate_route_group_cuda: bad arguments");
    if (p.tokens == 0)
        return Status::success();
    if (!moe_gate_route_group_fits(gate, p))
        return Status::unsupported("moe_gate_route_group_cuda: shape not supported");
    moe_chain_gate g;
    g.gate = gate;
    g.route = p;
    g.offsets = offsets;
    g.active = active;
    g.src_row = src_row;
    g.slot_index = slot_index;
    g.counter = counter;
    g.slots = slots;
    gate_route_launch L;
    bool pipe = false;
    size_t bytes = 0;
    build_gate(g, L, pipe, bytes);
    void (*const kernel)(gate_route_launch)
        = pipe ? gate_route_kernel<GemvKind::Bf16, linear_accum::exact, true>
               : gate_route_kernel<GemvKind::Bf16, linear_accum::exact, false>;
    if (const cudaError_t err = cuda::allow_smem(kernel, bytes); err != cudaSuccess)
        return cuda_status(err);
    FATHOM_LAUNCH(grid_for(gate.n, k_warps * L.cpw), k_threads, bytes, stream, kernel)(L);
    return launch_status();
}

} // namespace fathom::kernels
