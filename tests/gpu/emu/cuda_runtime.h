// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  A CPU emulation of the small part of the CUDA execution model and runtime API that
  kernels/cuda uses, for running the real kernel sources (compiled as C++) without a GPU.

  Model: "device" memory is host memory; a launch runs its blocks one after another, and the
  threads of a block as cooperative fibers (ucontext) on the calling thread. A fiber runs until it
  reaches a synchronisation point: __syncthreads() waits for every thread of the block that has
  not exited, a warp operation (__shfl_*_sync, __syncwarp) waits for all 32 lanes of its warp and
  then exchanges values exactly as the hardware does. Warp operations reached by only part of a
  warp (divergence, early exit) are reported as errors, so a kernel that would be undefined on
  the device fails here too. Dynamic shared memory starts every block filled with 0xFF bytes
  (NaN for floats), so reads of unwritten shared memory show up; static __shared__ arrays are
  zero-initialised once and keep their values between blocks.

  Not modelled: memory races between threads (fibers never interleave between sync points),
  device math accuracy (the host's libm is used), timing. Only for tests.
*/

#define FATHOM_CUDA_EMULATION 1

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>

#define __global__
#define __device__
#define __host__
#define __shared__ static
#define __launch_bounds__(...)
#define __align__(n) alignas(n)
#define __forceinline__ inline
#define __restrict__

struct dim3
{
    unsigned x = 1, y = 1, z = 1;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1)
        : x(x_)
        , y(y_)
        , z(z_)
    {}
};

struct uint4
{
    unsigned x, y, z, w;
};

struct CUstream_st;
typedef CUstream_st *cudaStream_t;

enum cudaError_t {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorLaunchFailure = 719,
};
enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4
};
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
enum cudaDeviceAttr { cudaDevAttrMaxSharedMemoryPerBlockOptin = 97 };

struct cudaDeviceProp
{
    char name[256];
    int major;
    int minor;
};

namespace emu {

dim3 thread_idx();
dim3 block_idx();
dim3 block_dim();
dim3 grid_dim();
void syncthreads();
// All 32 lanes deposit `value`; each gets back the value of the lane selected by (kind, arg):
// kind 0 = lane ^ arg, 1 = lane − arg (own value when < 0), 2 = lane arg.
uint64_t warp_exchange(uint64_t value, int kind, int arg);
void *dynamic_smem();
void run_kernel(dim3 grid, dim3 block, size_t smem, const std::function<void()> &body);
// Errors seen by the emulator (divergent warp operations, deadlocks, bad launch shapes).
int error_count();

struct Launcher
{
    dim3 grid, block;
    size_t smem;
    template<typename F>
    auto kernel(F *f) const
    {
        const Launcher l = *this;
        return
            [l, f](auto &&...args) { run_kernel(l.grid, l.block, l.smem, [&]() { f(args...); }); };
    }
};

template<typename T>
T shfl(T v, int kind, int arg)
{
    static_assert(sizeof(T) <= 8, "warp shuffles of at most 8 bytes");
    uint64_t b = 0;
    std::memcpy(&b, &v, sizeof(T));
    b = warp_exchange(b, kind, arg);
    T r;
    std::memcpy(&r, &b, sizeof(T));
    return r;
}

} // namespace emu

#define threadIdx (::emu::thread_idx())
#define blockIdx (::emu::block_idx())
#define blockDim (::emu::block_dim())
#define gridDim (::emu::grid_dim())

#define FATHOM_LAUNCH(grid, block, smem, stream, ...) \
    ::emu::Launcher{dim3(grid), dim3(block), static_cast<size_t>(smem)}.kernel(__VA_ARGS__)
#define FATHOM_EXTERN_SHARED(type, name) type *name = static_cast<type *>(::emu::dynamic_smem())

inline void __syncthreads()
{
    emu::syncthreads();
}
inline void __syncwarp(unsigned = 0xFFFFFFFFu)
{
    emu::warp_exchange(0, 2, 0);
}
template<typename T>
T __shfl_xor_sync(unsigned, T v, int mask)
{
    return emu::shfl(v, 0, mask);
}
template<typename T>
T __shfl_up_sync(unsigned, T v, int delta)
{
    return emu::shfl(v, 1, delta);
}
template<typename T>
T __shfl_sync(unsigned, T v, int lane)
{
    return emu::shfl(v, 2, lane);
}

inline int atomicAdd(int *a, int v)
{
    const int old = *a;
    *a += v;
    return old;
}

// Correctly rounded single operations (tests build with -ffp-contract=off).
inline float __fmul_rn(float a, float b)
{
    return a * b;
}
inline float __fadd_rn(float a, float b)
{
    return a + b;
}
inline float __fsub_rn(float a, float b)
{
    return a - b;
}
inline float __fdiv_rn(float a, float b)
{
    return a / b;
}
inline float __fsqrt_rn(float a)
{
    return std::sqrt(a);
}
inline unsigned __float_as_uint(float f)
{
    unsigned u;
    std::memcpy(&u, &f, 4);
    return u;
}
inline float __uint_as_float(unsigned u)
{
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
inline float __int_as_float(int i)
{
    float f;
    std::memcpy(&f, &i, 4);
    return f;
}
inline double __hiloint2double(int hi, int lo)
{
    const uint64_t b = (static_cast<uint64_t>(static_cast<uint32_t>(hi)) << 32)
                       | static_cast<uint32_t>(lo);
    double d;
    std::memcpy(&d, &b, 8);
    return d;
}
using std::isfinite;
using std::isinf;
using std::isnan;
using std::max;
using std::min;

// ---- runtime API ----------------------------------------------------------------------------

cudaError_t cudaMallocBytes(void **p, size_t n);
template<typename T>
cudaError_t cudaMalloc(T **p, size_t n)
{
    void *v = nullptr;
    const cudaError_t e = cudaMallocBytes(&v, n);
    *p = static_cast<T *>(v);
    return e;
}
cudaError_t cudaFree(void *p);
cudaError_t cudaMemcpy(void *dst, const void *src, size_t n, cudaMemcpyKind kind);
cudaError_t cudaMemset(void *p, int value, size_t n);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaGetLastError();
const char *cudaGetErrorString(cudaError_t e);
cudaError_t cudaGetDeviceCount(int *count);
cudaError_t cudaGetDevice(int *device);
cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *prop, int device);
template<typename F>
cudaError_t cudaFuncSetAttribute(F *, cudaFuncAttribute, int)
{
    return cudaSuccess;
}
