// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  Asynchronous global -> shared copies (cp.async) and ldmatrix, private to kernels/cuda; the
  companions of the mma.sync wrappers (mma_sync.cuh) for a pipelined tensor-core mainloop.

    cp_async16(dst, src, valid): cp.async.cg.shared.global, 16 bytes (L2 only: streamed tiles);
                                 valid = false zero-fills dst and reads nothing (src-size 0).
    cp_async4(dst, src, valid):  cp.async.ca.shared.global, 4 bytes (scales), same zero fill.
    cp_async_commit():           cp.async.commit_group (closes the thread's open group).
    cp_async_wait<N>():          cp.async.wait_group N: every group of this thread but the newest
                                 N has landed. Other threads see the data only after a barrier.
    ldmatrix_x4(r, row):         ldmatrix.sync.aligned.m8n8.x4.shared.b16: four 8x8 b16 matrices;
                                 lane l gives the 16-byte row (l & 7) of matrix (l >> 3) (16-byte
                                 aligned shared address), and receives in r[i] the 32-bit word
                                 (l & 3) of row (l >> 2) of matrix i (PTX ISA, "Warp-level matrix
                                 load instruction: ldmatrix", fragment layout of m8n8 .b16).

  With bytes instead of b16 that word is 4 consecutive bytes of one row: for e4m3 codes (row =
  16 consecutive k) lane (g = l >> 2, t = l & 3) gets k 4t .. 4t + 3 of row g, exactly the
  m16n8k32 register a[i] / b[i] (mma_sync.cuh) when the 4 matrices are chosen as the fragment
  table's (row block, k half) pairs.

  Emulation (FATHOM_CUDA_EMULATION): cp.async is queued per thread and performed at the thread's
  matching wait (emu::cp_async*), so a missing wait or a read of a stage not yet waited for sees
  stale shared memory; ldmatrix is a warp collective that checks the row addresses' alignment
  and gathers each lane's words by the mapping above. Below sm_80 (cp.async) / sm_75 (ldmatrix)
  the device falls back to plain copies / shuffles (portability only: linear_mma needs sm_89).
*/

#include "cuda_common.cuh"

#include <cstdint>
#include <cstring>

namespace fathom::kernels::cuda::async {

#ifdef FATHOM_CUDA_EMULATION

namespace emu_detail {

struct ldm_lane
{
    const unsigned char *row;
    uint32_t *r;
};

inline void ldmatrix_x4_collective(void *const lanes[32])
{
    for (int l = 0; l < 32; ++l) {
        if (reinterpret_cast<uintptr_t>(static_cast<const ldm_lane *>(lanes[l])->row) % 16 != 0) {
            ::emu::device_error("ldmatrix: row address not 16-byte aligned");
            return;
        }
    }
    uint32_t out[32][4];
    for (int l = 0; l < 32; ++l)
        for (int i = 0; i < 4; ++i)
            std::memcpy(&out[l][i],
                        static_cast<const ldm_lane *>(lanes[8 * i + (l >> 2)])->row + 4 * (l & 3),
                        4);
    for (int l = 0; l < 32; ++l)
        for (int i = 0; i < 4; ++i)
            static_cast<const ldm_lane *>(lanes[l])->r[i] = out[l][i];
}

} // namespace emu_detail

inline void cp_async16(void *dst, const void *src, bool valid)
{
    ::emu::cp_async(dst, src, 16, valid ? 16 : 0);
}

inline void cp_async4(void *dst, const void *src, bool valid)
{
    ::emu::cp_async(dst, src, 4, valid ? 4 : 0);
}

inline void cp_async_commit()
{
    ::emu::cp_async_commit();
}

template<int N>
inline void cp_async_wait()
{
    ::emu::cp_async_wait(N);
}

inline void ldmatrix_x4(uint32_t r[4], const void *row)
{
    emu_detail::ldm_lane o{static_cast<const unsigned char *>(row), r};
    ::emu::warp_collective(&o, &emu_detail::ldmatrix_x4_collective);
}

#else // device

__device__ __forceinline__ void cp_async16(void *dst, const void *src, bool valid)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(dst));
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s),
                 "l"(src),
                 "r"(valid ? 16 : 0)
                 : "memory");
#else
    *static_cast<uint4 *>(dst) = valid ? *static_cast<const uint4 *>(src) : uint4{0u, 0u, 0u, 0u};
#endif
}

__device__ __forceinline__ void cp_async4(void *dst, const void *src, bool valid)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(dst));
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(s),
                 "l"(src),
                 "r"(valid ? 4 : 0)
                 : "memory");
#else
    *static_cast<uint32_t *>(dst) = valid ? *static_cast<const uint32_t *>(src) : 0u;
#endif
}

__device__ __forceinline__ void cp_async_commit()
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}

template<int N>
__device__ __forceinline__ void cp_async_wait()
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
#endif
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t r[4], const void *row)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 750
    const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(row));
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(s)
                 : "memory");
#else
    const int l = static_cast<int>(threadIdx.x) & 31;
    const unsigned long long p = reinterpret_cast<unsigned long long>(row);
    for (int i = 0; i < 4; ++i) {
        const unsigned long long q = __shfl_sync(0xFFFFFFFFu, p, 8 * i + (l >> 2));
        r[i] = *reinterpret_cast<const uint32_t *>(reinterpret_cast<const unsigned char *>(q)
                                                   + 4 * (l & 3));
    }
#endif
}

#endif // FATHOM_CUDA_EMULATION

} // namespace fathom::kernels::cuda::async
