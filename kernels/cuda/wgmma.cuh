// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  Warpgroup-level tensor-core MMA (wgmma, sm_90a), private to kernels/cuda; the Hopper companion
  of mma_sync.cuh. Written from the PTX ISA ("Asynchronous Warpgroup Level Matrix Multiply-
  Accumulate Instructions": wgmma.mma_async, the matrix descriptor, the shared-memory matrix
  layouts, wgmma.fence / commit_group / wait_group; "Memory consistency: proxies" for
  fence.proxy.async).

    mma_m64n128k32_e4m3(d, desc_a, desc_b, scale_d):
        D(64 x 128, f32) = A(64 x 32, e4m3) * B(32 x 128, e4m3) + (scale_d ? D : 0), A and B
        both K-major in shared memory (e4m3 has no transposed forms), given by descriptors.
        Issued by the 128 threads of a warpgroup (4 consecutive warps, the first one's index a
        multiple of 4), all converged. Asynchronous: D is only defined after a wait_group that
        covers it, and the shared memory it reads must stay unchanged until then.
    fence():        wgmma.fence.sync.aligned - before the first wgmma, and between any register
                    access of the accumulators (promotion, zeroing) and the next wgmma.
    commit():       wgmma.commit_group.sync.aligned - the wgmmas issued since the last commit
                    form one group.
    wait<N>():      wgmma.wait_group.sync.aligned N - all but the newest N groups complete.
    fence_operand(d): an empty asm that makes the compiler treat d as read and written there,
                    so that it neither reads the accumulators before the wait nor writes them
                    after the next wgmma was issued (the registers are written asynchronously).
    fence_proxy_async(): fence.proxy.async.shared::cta - shared memory written by ordinary
                    stores or cp.async, that wgmma (the async proxy) reads next: in every
                    writing thread, after its writes, before the barrier.

  Accumulator fragment (f32, N / 2 registers per thread; PTX ISA "Matrix Fragments for
  wgmma.mma_async.m64nNk32", accumulator D): thread t of the warpgroup, warp w = t / 32,
  g = (t % 32) / 4, q = t % 4; register i holds
      row = 16 w + g + 8 ((i / 2) % 2),   col = 8 (i / 4) + 2 q + (i % 2).
  (Each warp owns 16 rows; per 8 columns the mma.sync m16n8 C layout.)

  Matrix descriptor (64 bits; PTX ISA "Matrix Descriptor Format"):
      bits  0-13  start address >> 4 (shared address, 16-byte aligned)
      bits 16-29  leading dimension byte offset (LBO) >> 4
      bits 32-45  stride dimension byte offset (SBO) >> 4
      bits 49-51  matrix base offset (0 here: every swizzled tile starts on its pattern's
                  boundary, 1024 bytes for the 128-byte swizzle)
      bits 62-63  swizzle: 0 none, 1 128-byte, 2 64-byte, 3 32-byte
  K-major layouts in units of "core matrices" of 8 rows x 16 bytes (16 e4m3 along k):
      no swizzle: a core matrix's 8 rows are 16 bytes apart (128 contiguous bytes); the core
                  matrix k-adjacent is LBO bytes further, the one 8 rows down SBO bytes further:
                  byte (r, j) at start + (r / 8) SBO + (j / 16) LBO + (r % 8) 16 + j % 16.
      swizzled (W = 128, 64, 32 bytes): rows W bytes apart, an 8-row atom of 8 x W bytes, atoms
                  SBO apart (LBO unused for K-major): logical address start + (r / 8) SBO +
                  (r % 8) W + j, then the address bits [4, 4 + log2(W / 16)) XORed with the bits
                  [7, 7 + log2(W / 16)) (the 16-byte chunk index with the row within the
                  pattern), applied to the full shared address - hence the 1024-byte alignment
                  of a 128-byte-swizzled tile and the k32 steps inside it made by advancing the
                  start address by 32 bytes.
  The 128-byte swizzle stores element (r, k) of a tile with 128-byte rows at
  r * 128 + ((k / 16) ^ (r % 8)) * 16 + k % 16 (swizzle128() below).

  Emulation (FATHOM_CUDA_EMULATION): warpgroup collectives (emu::warpgroup_collective). A wgmma
  decodes both descriptors exactly as above (an error for a nonzero base offset, operands outside
  the dynamic shared memory, or a warpgroup whose lanes pass different descriptors), reads the
  operands from the async proxy's view of shared memory (emu::async_shared: the contents at the
  last __syncthreads after a fence.proxy.async; so a missing proxy fence reads stale data) and is
  queued in the warpgroup's open group; it is performed at the wait_group that completes its group
  (operands read again then: if they changed since the issue, an error - the stage was
  overwritten too early), so a missing or too weak wait leaves D unchanged. Sums as in the
  mma.sync emulation: e4m3 decoded exactly, products exact in double, each output's 32 products
  and C summed in double and rounded once to fp32 (real tensor cores keep fewer bits inside an
  instruction; the tests bound that). A wgmma issued without a wgmma.fence since the warpgroup's
  start or its last wait_group is an error (stricter than the ISA, which asks for the fence only
  when registers were accessed in between; kernels here always access them after a wait).

  Device: inline PTX under __CUDA_ARCH_FEAT_SM90_ALL (an sm_90a target); other targets compile a
  trap (the dispatch never sends them here: linear_wgmma_available()).
*/

#include "cuda_common.cuh"

#include <cstdint>

#ifdef FATHOM_CUDA_EMULATION
#include <cmath>
#include <memory>
#include <vector>
#endif

namespace fathom::kernels::cuda::wgmma {

// Swizzle modes of the descriptor (bits 62-63).
constexpr uint32_t k_swizzle_none = 0, k_swizzle_128b = 1, k_swizzle_64b = 2, k_swizzle_32b = 3;

__host__ __device__ constexpr uint64_t make_desc(uint32_t addr,
                                                 uint32_t lbo,
                                                 uint32_t sbo,
                                                 uint32_t swizzle)
{
    return static_cast<uint64_t>((addr & 0x3FFFFu) >> 4)
           | (static_cast<uint64_t>((lbo & 0x3FFFFu) >> 4) << 16)
           | (static_cast<uint64_t>((sbo & 0x3FFFFu) >> 4) << 32)
           | (static_cast<uint64_t>(swizzle & 3u) << 62);
}

// Byte offset of (row r, byte k) in a tile with 128-byte rows, 128-byte swizzle (base 1024-aligned).
__host__ __device__ constexpr uint32_t swizzle128(uint32_t r, uint32_t k)
{
    return r * 128u + ((((k >> 4) ^ r) & 7u) << 4) + (k & 15u);
}

#ifdef FATHOM_CUDA_EMULATION

namespace emu_detail {

inline double e4m3_value(uint32_t code)
{
    const uint32_t e = (code >> 3) & 0xFu, m = code & 7u;
    double v = e == 0 ? std::ldexp(static_cast<double>(m), -9)
                      : std::ldexp(static_cast<double>(8u | m), static_cast<int>(e) - 10);
    if (e == 15 && m == 7)
        v = std::nan("");
    return (code & 0x80u) ? -v : v;
}

// Shared address of byte (r, j) of a K-major operand by the descriptor (ISA layouts above).
inline uint32_t operand_address(uint64_t desc, int r, int j)
{
    const uint32_t start = static_cast<uint32_t>(desc & 0x3FFFu) << 4;
    const uint32_t lbo = static_cast<uint32_t>((desc >> 16) & 0x3FFFu) << 4;
    const uint32_t sbo = static_cast<uint32_t>((desc >> 32) & 0x3FFFu) << 4;
    const uint32_t mode = static_cast<uint32_t>(desc >> 62) & 3u;
    if (mode == k_swizzle_none)
        return start + (r / 8) * sbo + (j / 16) * lbo + (r % 8) * 16 + j % 16;
    const uint32_t bits = mode == k_swizzle_128b ? 3 : mode == k_swizzle_64b ? 2 : 1;
    const uint32_t width = 16u << bits;
    const uint32_t a = start + (r / 8) * sbo + (r % 8) * width + j;
    const uint32_t mask = (1u << bits) - 1u;
    return a ^ (((a >> 7) & mask) << 4);
}

// Rows x 32 bytes (codes) of a K-major e4m3 operand; false (with an error) when invalid.
inline bool gather(uint64_t desc, int rows, std::vector<unsigned char> &out)
{
    if (((desc >> 49) & 7u) != 0) {
        ::emu::device_error("wgmma: matrix base offset != 0 (not modelled)");
        return false;
    }
    out.assign(static_cast<size_t>(rows) * 32, 0);
    for (int r = 0; r < rows; ++r)
        for (int j = 0; j < 32; ++j) {
            const unsigned char *p = ::emu::async_shared(operand_address(desc, r, j), 1);
            if (!p)
                return false;
            out[static_cast<size_t>(r) * 32 + j] = *p;
        }
    return true;
}

struct lane_op
{
    int op; // 0 mma, 1 fence, 2 commit, 3 wait
    float *d;
    uint64_t desc_a, desc_b;
    int scale_d;
    int n;       // mma: N
    int pending; // wait: N
};

struct pending_mma
{
    float *d[128];
    uint64_t desc_a, desc_b;
    int scale_d, n;
    long long group;
    std::vector<unsigned char> a, b; // the operands' codes at issue
};

struct wg_state
{
    std::vector<pending_mma> ops;
    long long committed = 0; // groups committed (the open group's index)
    bool fenced = false;
};

inline wg_state &state()
{
    std::shared_ptr<void> &slot = ::emu::warpgroup_state();
    if (!slot)
        slot = std::make_shared<wg_state>();
    return *static_cast<wg_state *>(slot.get());
}

inline void perform(const pending_mma &m)
{
    std::vector<unsigned char> ac, bc;
    if (!gather(m.desc_a, 64, ac) || !gather(m.desc_b, m.n, bc))
        return;
    if (ac != m.a || bc != m.b) {
        ::emu::device_error("wgmma: operand shared memory changed between issue and wait_group");
        return;
    }
    std::vector<double> a(ac.size()), b(bc.size());
    for (size_t i = 0; i < ac.size(); ++i)
        a[i] = e4m3_value(ac[i]);
    for (size_t i = 0; i < bc.size(); ++i)
        b[i] = e4m3_value(bc[i]);
    for (int t = 0; t < 128; ++t) {
        const int w = t / 32, g = (t % 32) / 4, q = t % 4;
        for (int i = 0; i < m.n / 2; ++i) {
            const int row = 16 * w + g + 8 * ((i / 2) % 2), col = 8 * (i / 4) + 2 * q + (i % 2);
            double s = m.scale_d ? static_cast<double>(m.d[t][i]) : 0.0;
            for (int j = 0; j < 32; ++j)
                s += a[static_cast<size_t>(row) * 32 + j] * b[static_cast<size_t>(col) * 32 + j];
            m.d[t][i] = static_cast<float>(s);
        }
    }
}

inline void collective(void *const lanes[128])
{
    const lane_op &o0 = *static_cast<const lane_op *>(lanes[0]);
    for (int t = 1; t < 128; ++t) {
        const lane_op &o = *static_cast<const lane_op *>(lanes[t]);
        if (o.op != o0.op || o.desc_a != o0.desc_a || o.desc_b != o0.desc_b
            || o.scale_d != o0.scale_d || o.n != o0.n || o.pending != o0.pending) {
            ::emu::device_error("wgmma: lanes of a warpgroup at different wgmma operations or "
                                "with different operands");
            return;
        }
    }
    wg_state &st = state();
    switch (o0.op) {
    case 0: {
        if (!st.fenced) {
            ::emu::device_error("wgmma.mma_async without a wgmma.fence since the warpgroup's "
                                "start or its last wgmma.wait_group");
            return;
        }
        pending_mma m;
        for (int t = 0; t < 128; ++t)
            m.d[t] = static_cast<const lane_op *>(lanes[t])->d;
        m.desc_a = o0.desc_a;
        m.desc_b = o0.desc_b;
        m.scale_d = o0.scale_d;
        m.n = o0.n;
        m.group = st.committed;
        if (!gather(m.desc_a, 64, m.a) || !gather(m.desc_b, m.n, m.b))
            return;
        st.ops.push_back(std::move(m));
        break;
    }
    case 1:
        st.fenced = true;
        break;
    case 2:
        ++st.committed;
        break;
    default: {
        const long long upto = st.committed - o0.pending; // groups < upto complete
        size_t kept = 0;
        for (size_t i = 0; i < st.ops.size(); ++i) {
            if (st.ops[i].group < upto)
                perform(st.ops[i]);
            else
                st.ops[kept++] = std::move(st.ops[i]);
        }
        st.ops.resize(kept);
        st.fenced = false;
        break;
    }
    }
}

inline void issue(lane_op o)
{
    ::emu::warpgroup_collective(&o, &collective);
}

} // namespace emu_detail

inline void mma_m64n128k32_e4m3(float d[64], uint64_t desc_a, uint64_t desc_b, int scale_d)
{
    emu_detail::issue({0, d, desc_a, desc_b, scale_d, 128, 0});
}

inline void fence()
{
    emu_detail::issue({1, nullptr, 0, 0, 0, 0, 0});
}

inline void commit()
{
    emu_detail::issue({2, nullptr, 0, 0, 0, 0, 0});
}

template<int N>
inline void wait()
{
    emu_detail::issue({3, nullptr, 0, 0, 0, 0, N});
}

template<int K>
inline void fence_operand(float (&)[K])
{}

inline void fence_proxy_async()
{
    ::emu::fence_proxy_async();
}

inline uint32_t smem_address(const void *p)
{
    return ::emu::shared_address(p);
}

#else // device

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define FATHOM_WGMMA_DEVICE 1
#endif

__device__ __forceinline__ void mma_m64n128k32_e4m3(float d[64],
                                                    uint64_t desc_a,
                                                    uint64_t desc_b,
                                                    int scale_d)
{
#ifdef FATHOM_WGMMA_DEVICE
    asm volatile("{\n"
                 ".reg .pred p;\n"
                 "setp.ne.b32 p, %66, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3 "
                 "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, "
                 "%18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, "
                 "%34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, "
                 "%50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, "
                 "%64, %65, p, 1, 1;\n"
                 "}\n"
                 : "+f"(d[0]),
                   "+f"(d[1]),
                   "+f"(d[2]),
                   "+f"(d[3]),
                   "+f"(d[4]),
                   "+f"(d[5]),
                   "+f"(d[6]),
                   "+f"(d[7]),
                   "+f"(d[8]),
                   "+f"(d[9]),
                   "+f"(d[10]),
                   "+f"(d[11]),
                   "+f"(d[12]),
                   "+f"(d[13]),
                   "+f"(d[14]),
                   "+f"(d[15]),
                   "+f"(d[16]),
                   "+f"(d[17]),
                   "+f"(d[18]),
                   "+f"(d[19]),
                   "+f"(d[20]),
                   "+f"(d[21]),
                   "+f"(d[22]),
                   "+f"(d[23]),
                   "+f"(d[24]),
                   "+f"(d[25]),
                   "+f"(d[26]),
                   "+f"(d[27]),
                   "+f"(d[28]),
                   "+f"(d[29]),
                   "+f"(d[30]),
                   "+f"(d[31]),
                   "+f"(d[32]),
                   "+f"(d[33]),
                   "+f"(d[34]),
                   "+f"(d[35]),
                   "+f"(d[36]),
                   "+f"(d[37]),
                   "+f"(d[38]),
                   "+f"(d[39]),
                   "+f"(d[40]),
                   "+f"(d[41]),
                   "+f"(d[42]),
                   "+f"(d[43]),
                   "+f"(d[44]),
                   "+f"(d[45]),
                   "+f"(d[46]),
                   "+f"(d[47]),
                   "+f"(d[48]),
                   "+f"(d[49]),
                   "+f"(d[50]),
                   "+f"(d[51]),
                   "+f"(d[52]),
                   "+f"(d[53]),
                   "+f"(d[54]),
                   "+f"(d[55]),
                   "+f"(d[56]),
                   "+f"(d[57]),
                   "+f"(d[58]),
                   "+f"(d[59]),
                   "+f"(d[60]),
                   "+f"(d[61]),
                   "+f"(d[62]),
                   "+f"(d[63])
                 : "l"(desc_a), "l"(desc_b), "r"(scale_d));
#else
    (void) d;
    (void) desc_a;
    (void) desc_b;
    (void) scale_d;
    __trap();
#endif
}

__device__ __forceinline__ void fence()
{
#ifdef FATHOM_WGMMA_DEVICE
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#endif
}

__device__ __forceinline__ void commit()
{
#ifdef FATHOM_WGMMA_DEVICE
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
#endif
}

template<int N>
__device__ __forceinline__ void wait()
{
#ifdef FATHOM_WGMMA_DEVICE
    asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
#endif
}

template<int K>
__device__ __forceinline__ void fence_operand(float (&d)[K])
{
#pragma unroll
    for (int i = 0; i < K; ++i)
        asm volatile("" : "+f"(d[i])::"memory");
}

__device__ __forceinline__ void fence_proxy_async()
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
#endif
}

__device__ __forceinline__ uint32_t smem_address(const void *p)
{
    return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

#endif // FATHOM_CUDA_EMULATION

} // namespace fathom::kernels::cuda::wgmma
