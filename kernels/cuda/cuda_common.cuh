// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  Device twins of kernels/formats.h and kernels/cpu/fwd_math.h, private to kernels/cuda.

  The CPU kernels are exact: transcendental functions are evaluated in double and rounded to fp32
  once, reductions are accumulated in double (exact products of fp32 values) and rounded once.
  The CUDA ops do the same so that their results agree with the CPU bit for bit except where a
  double sum taken in another order rounds differently (vanishingly rare; the tests' NMSE bounds
  absorb it). Every fp32 expression that the CPU evaluates as separate roundings is written here
  with __fmul_rn / __fadd_rn so nvcc cannot contract it into an FMA.

  formats.h itself needs C++20 (<bit>), and .cu files compile as C++17, hence these copies.
*/

#include "kernels/status.h"

#include <cuda_runtime.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>

/*
  Launches and dynamic shared memory go through two macros so that the same sources also build
  as plain C++ against tests/gpu/emu (a CPU emulation of the CUDA execution model: blocks run one
  after another, the threads of a block as fibers with real barriers and warp shuffles). That
  lets CI, which has nvcc but no GPU, run every kernel's indexing and synchronisation against
  the CPU twins. With nvcc they are the ordinary triple-chevron launch and extern __shared__.
*/
#ifndef FATHOM_CUDA_EMULATION
#define FATHOM_EXTERN_SHARED(type, name) extern __shared__ __align__(16) type name[]
#endif
// FATHOM_NOINLINE: a device function ptxas allocates registers for on its own (a cold phase kept
// out of a hot kernel's allocation); FATHOM_GRID_CONSTANT: a const kernel parameter whose address
// may be taken without a copy to local memory (sm_70+). Both nothing to the emulation.
#ifdef FATHOM_CUDA_EMULATION
#define FATHOM_NOINLINE
#define FATHOM_GRID_CONSTANT
#else
#define FATHOM_NOINLINE __noinline__
#define FATHOM_GRID_CONSTANT __grid_constant__
#endif
// FATHOM_LAUNCH(grid, block, smem, stream, kernel)(args...): cudaLaunchKernelEx, with the PDL
// attribute when pdl_enabled() (below). The emulator implements cudaLaunchKernelEx and records the
// attribute, so this is the one launch path of every kernel in both builds.
#define FATHOM_LAUNCH(grid, block, smem, stream, ...) \
    ::fathom::kernels::cuda::launcher{dim3(grid), \
                                      dim3(block), \
                                      static_cast<size_t>(smem), \
                                      reinterpret_cast<cudaStream_t>(stream)} \
        .kernel(__VA_ARGS__)

/*
  Programmatic dependent launch (PDL, sm_90+). A kernel launched with the programmatic
  stream-serialisation attribute may start while the previous kernel of the stream is still
  running; it must not touch anything that kernel (or any earlier one of the step) may read or
  write until it has passed FATHOM_PDL_WAIT() (griddepcontrol.wait: every prerequisite grid has
  completed and its memory is visible). The rule of this project: every __global__ kernel calls
  FATHOM_PDL_WAIT() before its first read or write of non-weight memory (activations, state,
  scratch, counters, routing results); only immutable weights (and kernel arguments) may be read
  before it. FATHOM_PDL_TRIGGER() (griddepcontrol.launch_dependents) only lets the next grid be
  scheduled early; correctness never depends on it (without it the dependent starts when this grid
  ends). Both are no-ops below sm_90 and in launches without the attribute; the emulator checks the
  wait (tests/gpu/emu: non-weight device memory stays closed until the kernel's first wait).
*/
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#define FATHOM_PDL_WAIT() asm volatile("griddepcontrol.wait;" ::: "memory")
#define FATHOM_PDL_TRIGGER() asm volatile("griddepcontrol.launch_dependents;" ::: "memory")
#elif defined(FATHOM_CUDA_EMULATION)
#define FATHOM_PDL_WAIT() ::emu::pdl_wait()
#define FATHOM_PDL_TRIGGER() ::emu::pdl_trigger()
#else
#define FATHOM_PDL_WAIT() ((void) 0)
#define FATHOM_PDL_TRIGGER() ((void) 0)
#endif

/*
  Where to trigger: right after the wait, in every kernel. The dependent grid is scheduled only
  once every block of this grid has triggered or exited, i.e. when all of this grid's blocks are
  resident or done, so its early blocks take only slots this grid no longer needs (they cannot
  delay this grid's later waves), and at most one more grid is in flight: the dependent's own
  trigger comes after its wait, which returns when this grid has completed.
*/

namespace fathom::kernels {

Status cuda_status(cudaError_t err); // cuda_status.cu

namespace cuda {

// The status of the launch just made (configuration errors surface here, asynchronous faults at
// the next synchronising call of the caller).
inline Status launch_status()
{
    return cuda_status(cudaGetLastError());
}

// ---- launches -----------------------------------------------------------------------------------

// Whether launches carry the PDL attribute on the current device (cuda_status.cu): the mode set by
// set_cuda_pdl() (kernels/cuda_ops.h; the engine passes FATHOM_CUDA_PDL) and a device of sm_90 or
// newer. Cached per device.
bool pdl_enabled();

struct launcher
{
    dim3 grid, block;
    size_t smem;
    cudaStream_t stream;

    template<typename... Params>
    auto kernel(void (*f)(Params...)) const
    {
        return [l = *this, f](auto &&...args) {
            cudaLaunchAttribute attr[1];
            attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
            attr[0].val.programmaticStreamSerializationAllowed = 1;
            // gridDim, blockDim, dynamicSmemBytes, stream, attrs, numAttrs (positional: the
            // emulator's gridDim / blockDim are macros).
            cudaLaunchConfig_t cfg
                = {l.grid, l.block, l.smem, l.stream, attr, pdl_enabled() ? 1u : 0u};
            // Errors are also the runtime's last error: the caller's launch_status() reads it.
            (void) cudaLaunchKernelEx(&cfg, f, std::forward<decltype(args)>(args)...);
        };
    }
};

// A hint that [p, p + bytes) will be read soon: the bytes are fetched from DRAM into L2 without
// waiting (cp.async.bulk.prefetch.L2, sm_90; nothing below). p 16-byte aligned, bytes a multiple
// of 16. L2 is the device's point of coherence, so a prefetch can never make a later load see
// stale data; the GEMVs issue it for their weights before FATHOM_PDL_WAIT() so the weight stream
// starts while the previous kernel drains. The emulator reads the range (a prefetch of memory a
// PDL kernel may not touch yet faults there).
__device__ inline void prefetch_l2(const void *p, uint32_t bytes)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(p), "r"(bytes) : "memory");
#elif defined(FATHOM_CUDA_EMULATION)
    ::emu::prefetch_l2(p, bytes);
#else
    (void) p;
    (void) bytes;
#endif
}

// ---- hand-offs between blocks (a launch's last block finishes what the others stored) ----------

// A value read before FATHOM_PDL_WAIT() that a launch EARLIER than the previous one of the
// stream wrote (moeprefetch: the routing, read by the w2 half). Every kernel here triggers its
// dependents after its own wait, so a launch starts only once the launch before its predecessor
// has completed with its stores visible; the load goes past L1 (not coherent across kernels).
// For hints only (an L2 prefetch address): the emulation cannot tell which launch wrote the
// value (it runs launches to completion, in order), so the bits must never depend on it.
template<typename T>
__device__ inline T peek_settled(const T *p)
{
#if defined(FATHOM_CUDA_EMULATION)
    T v;
    ::emu::peek(&v, p, sizeof v);
    return v;
#else
    static_assert(sizeof(T) == 4 || sizeof(T) == 8, "peek_settled: 4- or 8-byte values");
    T v;
    if constexpr (sizeof(T) == 8) {
        const unsigned long long u = __ldcg(reinterpret_cast<const unsigned long long *>(p));
        memcpy(&v, &u, sizeof v);
    } else {
        const unsigned u = __ldcg(reinterpret_cast<const unsigned *>(p));
        memcpy(&v, &u, sizeof v);
    }
    return v;
#endif
}

// A block publishes its stores (device_fence, then an atomic count); the block that counts last
// fences again and reads the others' stores with load_cg (past L1, which is not coherent between
// blocks). The emulation runs a grid's blocks one after another: memory is coherent there.
#ifdef FATHOM_CUDA_EMULATION
inline void device_fence() {}
template<typename T>
inline T load_cg(const T *p)
{
    return *p;
}
#else
__device__ inline void device_fence()
{
    __threadfence();
}
template<typename T>
__device__ inline T load_cg(const T *p)
{
    return __ldcg(p);
}
#endif

// The hand-off itself: every thread of the (1-D) block calls it after its stores, none having
// returned. Each thread fences its stores, the block's thread 0 counts it done on counter
// (atomicAdd), and the block that counts blocks - 1 (the last of the blocks counting on this
// counter, in whatever order they ran) gets true in every thread; it resets the counter to 0 for
// the next launch or graph replay (every other block has counted by then) and fences again, so
// its reads of the others' stores (with load_cg) come after their counts. The others get false
// and must not read what the others stored. Which block is last is not known in advance: it need
// not be the highest index (the emulation's FATHOM_EMU_BLOCK_ORDER=reverse|shuffle checks that).
__device__ inline bool arrive_last(int *counter, int blocks)
{
    __shared__ int s_last;
    device_fence(); // this thread's stores visible device-wide before the count
    __syncthreads();
    if (threadIdx.x == 0) {
        const bool last = atomicAdd(counter, 1) == blocks - 1;
        if (last)
            *counter = 0;
        s_last = last;
    }
    __syncthreads();
    if (!s_last)
        return false;
    device_fence(); // the other blocks' stores, read after this, ordered after their counts
    return true;
}

// ---- grid barrier (cooperative GEMV chains) ------------------------------------------------------

// The state of one grid barrier, in device memory, zeroed once before its first use: every
// barrier leaves `arrived` at 0 again, so the state serves any number of launches and graph
// replays, one launch at a time (a kernel uses it only after FATHOM_PDL_WAIT(), when the launch
// before it has completed). `timed_out` is set when a wait gave up (never cleared here: the host
// reads it, reports it and zeroes the state).
struct grid_barrier_state
{
    unsigned int arrived;    // blocks arrived at the current barrier
    unsigned int generation; // barriers completed
    int timed_out;
    int pad_;
};

// How long a block waits for the others before it gives up (~0.54 s at 1.98 GHz): a grid whose
// blocks are not all resident at once would otherwise hang the device. Long against a phase
// (microseconds), and against the time slices of another process sharing the GPU, during which
// the SM clock runs on while the kernel is switched out (a spurious time-out fails a step).
constexpr long long k_grid_barrier_timeout_cycles = 1ll << 30;

#ifdef FATHOM_CUDA_EMULATION
inline unsigned int load_acquire_gpu(const unsigned int *p)
{
    ::emu::grid_preempt(); // shuffled block order: other blocks may run before the load
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
#else
__device__ inline unsigned int load_acquire_gpu(const unsigned int *p)
{
    unsigned int v;
    asm volatile("ld.acquire.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
    return v;
}
#endif

// Every thread of every block of the (1-D) grid calls it, with blocks = gridDim.x; none returns
// before every block has arrived, and then each sees the stores every block made before it. The
// grid's blocks must all be resident at once (co_resident_blocks below bounds the grid). The
// block's thread 0 reads the generation, fences (the block's stores, which the __syncthreads
// before it ordered, device-wide first: the fence is cumulative), counts itself in `arrived`;
// the last arriver zeroes `arrived` and then bumps the generation, the others spin on it with
// an acquiring load. Returns false in every thread of a block whose wait timed out (the state's
// timed_out set): the kernel must then stop using the barrier's results.
// Emulation: a spinning block is parked and the others run (tests/gpu/emu/cuda_runtime.h,
// "Cooperative launches"); static __shared__ is one copy for all blocks there, so a kernel must
// not keep a value in static shared memory across a grid barrier (dynamic shared memory is the
// block's own).
__device__ inline bool grid_barrier(grid_barrier_state *s, unsigned int blocks)
{
    __shared__ int s_ok;
    __syncthreads();
    if (threadIdx.x == 0) {
        int ok = 1;
        const unsigned int gen = load_acquire_gpu(&s->generation);
        device_fence();
        if (atomicAdd(&s->arrived, 1u) == blocks - 1) {
            s->arrived = 0;
            device_fence();
            atomicAdd(&s->generation, 1u);
        } else {
#ifdef FATHOM_CUDA_EMULATION
            while (load_acquire_gpu(&s->generation) == gen) {
                if (!::emu::grid_spin()) { // every resident block waits: a deadlock
                    atomicExch(&s->timed_out, 1);
                    ok = 0;
                    break;
                }
            }
#else
            const long long t0 = clock64();
            while (load_acquire_gpu(&s->generation) == gen) {
                if (clock64() - t0 > k_grid_barrier_timeout_cycles) {
                    atomicExch(&s->timed_out, 1);
                    ok = 0;
                    break;
                }
            }
#endif
        }
        device_fence();
        s_ok = ok;
    }
    __syncthreads();
    return s_ok != 0;
}

// The most blocks of `kernel` (threads a block, smem bytes of dynamic shared memory) that the
// current device holds at once: the occupancy times the SM count; 0 when it cannot be asked.
template<typename K>
int co_resident_blocks(K *kernel, int threads, size_t smem)
{
    int dev = 0, sms = 0, per_sm = 0;
    if (cudaGetDevice(&dev) != cudaSuccess
        || cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess
        || cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, threads, smem)
               != cudaSuccess)
        return 0;
    return sms * per_sm;
}

// ---- bf16 ---------------------------------------------------------------------------------------

__host__ __device__ inline float bf16_bits_to_f32(uint16_t h)
{
#ifdef __CUDA_ARCH__
    return __uint_as_float(static_cast<uint32_t>(h) << 16);
#else
    uint32_t b = static_cast<uint32_t>(h) << 16;
    float f;
    __builtin_memcpy(&f, &b, 4);
    return f;
#endif
}

__device__ inline uint16_t f32_to_bf16_bits(float f)
{
    uint32_t b = __float_as_uint(f);
    if ((b & 0x7FFFFFFFu) > 0x7F800000u)
        return static_cast<uint16_t>((b >> 16) | 0x40u);
    b += 0x7FFFu + ((b >> 16) & 1u);
    return static_cast<uint16_t>(b >> 16);
}

// bf16(x) as a float (round to nearest even; NaN stays NaN).
__device__ inline float round_bf16(float f)
{
    return bf16_bits_to_f32(f32_to_bf16_bits(f));
}

// ---- e8m0 power-of-two scales -------------------------------------------------------------------

__device__ inline float e8m0_to_f32(uint8_t b)
{
    if (b == 255)
        return __uint_as_float(0x7FC00000u);
    if (b == 0)
        return __uint_as_float(0x00400000u);
    return __uint_as_float(static_cast<uint32_t>(b) << 23);
}

// 2^(127 - b), exact.
__device__ inline float e8m0_inverse_f32(uint8_t b)
{
    return ldexpf(1.0f, 127 - static_cast<int>(b));
}

__device__ inline uint8_t pow2_scale_e8m0(float amax, float inv_max, float amax_floor)
{
    const float a = amax > amax_floor ? amax : amax_floor; // NaN amax -> floor
    const uint32_t b = __float_as_uint(__fmul_rn(a, inv_max));
    const uint32_t e = (b >> 23) & 0xFFu;
    const uint32_t m = b & 0x7FFFFFu;
    return static_cast<uint8_t>(e + (m != 0 ? 1u : 0u));
}

constexpr float k_e4m3_inv_max = 1.0f / 448.0f;
constexpr float k_e4m3_amax_floor = 1e-4f;
constexpr float k_e2m1_inv_max = 1.0f / 6.0f;
constexpr float k_e2m1_amax_floor = 6.0f * 0x1p-126f;

// ---- e4m3 ---------------------------------------------------------------------------------------

__device__ inline float e4m3_to_f32(uint32_t c)
{
    const uint32_t e = (c >> 3) & 0xFu;
    const uint32_t m = c & 7u;
    float v;
    if ((c & 0x7Fu) == 0x7Fu)
        v = __uint_as_float(0x7FC00000u);
    else if (e == 0)
        v = static_cast<float>(m) * 0x1p-9f;
    else
        v = __uint_as_float(((e + 120u) << 23) | (m << 20));
    return (c & 0x80u) ? -v : v;
}

// Round to nearest even, saturating to +-448 (NaN -> 0x7F with the sign).
__device__ inline uint8_t f32_to_e4m3(float x)
{
    const uint32_t bits = __float_as_uint(x);
    const uint8_t sign = static_cast<uint8_t>((bits >> 24) & 0x80u);
    const uint32_t abits = bits & 0x7FFFFFFFu;
    if (abits > 0x7F800000u)
        return sign | 0x7Fu;
    const float a = __uint_as_float(abits);
    if (a >= 448.0f)
        return sign | 0x7Eu;
    if (a < 0x1p-6f)
        return sign | static_cast<uint8_t>(rintf(a * 512.0f)); // exact scaling, RNE
    uint32_t b = abits;
    b += 0x7FFFFu + ((b >> 20) & 1u);
    b &= 0xFFF00000u;
    const uint32_t e = (b >> 23) - 127u + 7u;
    return sign | static_cast<uint8_t>((e << 3) | ((b >> 20) & 7u));
}

// ---- e2m1 ---------------------------------------------------------------------------------------

// Twice the e2m1 value as an integer (-12..12): exact integer arithmetic for FP4 block sums.
__device__ inline int e2m1_to_int2x(uint32_t code)
{
    // magnitudes x2: 0, 1, 2, 3, 4, 6, 8, 12
    const int mag = static_cast<int>((0xC8643210u >> ((code & 7u) * 4u)) & 0xFu);
    return (code & 8u) ? -mag : mag;
}

// Code 8 is −0.0 (it matters: a fake-quantised negative value that rounds to zero stays −0).
__device__ inline float e2m1_to_f32(uint32_t code)
{
    const float v = static_cast<float>(e2m1_to_int2x(code & 7u)) * 0.5f;
    return (code & 8u) ? -v : v;
}

__device__ inline uint8_t f32_to_e2m1(float x)
{
    const uint32_t bits = __float_as_uint(x);
    const uint8_t sign = static_cast<uint8_t>((bits >> 28) & 0x8u);
    const uint32_t abits = bits & 0x7FFFFFFFu;
    if (abits > 0x7F800000u)
        return sign | 7u;
    const float a = __uint_as_float(abits);
    uint8_t code;
    if (a >= 6.0f)
        code = 7;
    else if (a < 2.0f)
        code = static_cast<uint8_t>(rintf(a * 2.0f));
    else if (a < 4.0f)
        code = static_cast<uint8_t>(static_cast<int>(rintf(a)) + 2);
    else
        code = rintf(a * 0.5f) >= 3.0f ? 7 : 6;
    return sign | code;
}

// ---- fp32 math evaluated in double and rounded once (fwd_math.h) --------------------------------

__device__ inline float exp_f32(float x)
{
    return static_cast<float>(exp(static_cast<double>(x)));
}

__device__ inline float sigmoid_f32(float x)
{
    return static_cast<float>(1.0 / (1.0 + exp(-static_cast<double>(x))));
}

__device__ inline float silu_f32(float x)
{
    const double d = x;
    return static_cast<float>(d / (1.0 + exp(-d)));
}

// The experts' clamped SwiGLU of one element (moe.h swiglu_cpu): bf16((silu(min(g, L)) *
// clamp(u, -L, L)) * w), L <= 0 meaning no clamp and weighted false no w; SiLU as silu_f32,
// the two products rounded separately (no FMA), as the CPU twin.
__device__ inline float swiglu_bf16(float gv, float uv, float limit, bool weighted, float w)
{
    if (limit > 0) {
        gv = limit < gv ? limit : gv;                          // std::min(gv, L)
        uv = uv < -limit ? -limit : (limit < uv ? limit : uv); // std::clamp
    }
    float h = __fmul_rn(silu_f32(gv), uv);
    if (weighted)
        h = __fmul_rn(h, w);
    return round_bf16(h);
}

__device__ inline float softplus_f32(float x)
{
    if (x > 20.0f)
        return x;
    return static_cast<float>(log1p(exp(static_cast<double>(x))));
}

__device__ inline float rsqrt_f32(float x)
{
    return static_cast<float>(1.0 / sqrt(static_cast<double>(x)));
}

// Total order of torch.topk on CUDA: -0.0 below +0.0 (fwd_math.h radix_key).
__device__ inline uint32_t radix_key(float v)
{
    const uint32_t u = __float_as_uint(v);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

// ---- reductions ---------------------------------------------------------------------------------

__device__ inline double warp_sum(double v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xFFFFFFFFu, v, o);
    return v;
}

__device__ inline float warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xFFFFFFFFu, v, o));
    return v;
}

// act_quant (quant.h) of one 128-wide block by one warp: lane holds v[i] = the block's element
// lane + 32 i. The block's amax, its power-of-two e4m3 scale s (the 1e-4 amax floor), the codes
// e4m3(v / s) written to q[lane + 32 i]; returns s. The cuBLASLt VEC128 operand's quantisers
// (act_quant_fp8_vec128, the experts' row passes) share it.
__device__ inline float warp_quant128_e4m3(const float (&v)[4], uint8_t *q)
{
    const int lane = threadIdx.x & 31;
    float amax = 0.0f;
#pragma unroll
    for (int i = 0; i < 4; ++i)
        amax = fmaxf(amax, fabsf(v[i]));
    amax = warp_max(amax);
    const uint8_t sc = pow2_scale_e8m0(amax, k_e4m3_inv_max, k_e4m3_amax_floor);
    const float inv = e8m0_inverse_f32(sc);
#pragma unroll
    for (int i = 0; i < 4; ++i)
        q[lane + 32 * i] = f32_to_e4m3(__fmul_rn(v[i], inv));
    return e8m0_to_f32(sc);
}

// Block-wide double sum; every thread gets the result. scratch: >= 32 doubles of shared memory.
// Must be called by all threads of the block.
__device__ inline double block_sum(double v, double *scratch)
{
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int nwarps = (blockDim.x + 31) >> 5;
    v = warp_sum(v);
    __syncthreads(); // scratch may still be read by a previous call
    if (lane == 0)
        scratch[warp] = v;
    __syncthreads();
    double r = lane < nwarps ? scratch[lane] : 0.0;
    r = warp_sum(r);
    return r;
}

__device__ inline float block_max(float v, float *scratch)
{
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int nwarps = (blockDim.x + 31) >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0)
        scratch[warp] = v;
    __syncthreads();
    float r = lane < nwarps ? scratch[lane] : -__int_as_float(0x7F800000);
    return warp_max(r);
}

// A kernel switch from the environment (a device A/B of a code path; callers read it once): on
// unless `name` is set to "0".
inline bool env_switch_on(const char *name)
{
    const char *value = std::getenv(name);
    return !(value && std::strcmp(value, "0") == 0);
}

// The dynamic shared-memory limit this process gave `kernel` on `device` (0: none yet); set:
// record a new one. The attribute is the function's and is read when a launch - or a graph
// node captured earlier - runs, so it must never go down (allow_smem below).
inline size_t smem_limit_given(int device, const void *kernel, size_t set = 0)
{
    static std::mutex s_mutex;
    static std::map<std::pair<int, const void *>, size_t> s_given;
    const std::lock_guard<std::mutex> lock(s_mutex);
    size_t &given = s_given[{device, kernel}];
    if (set > given)
        given = set;
    return given;
}

// Lets `kernel` launch with `bytes` of dynamic shared memory: over the 48 KiB every kernel gets by
// default (sm_90: up to 227 KiB a block) its limit is raised, never lowered, so a smaller later
// launch cannot take the limit from under a bigger launch captured in a graph; one driver call
// per kernel, device and new maximum, not one per launch.
template<typename Kernel>
cudaError_t allow_smem(Kernel *kernel, size_t bytes)
{
    if (bytes <= 48 * 1024)
        return cudaSuccess;
    int device = 0;
    if (const cudaError_t err = cudaGetDevice(&device); err != cudaSuccess)
        return err;
    const void *key = reinterpret_cast<const void *>(kernel);
    if (smem_limit_given(device, key) >= bytes)
        return cudaSuccess;
    const cudaError_t err = cudaFuncSetAttribute(kernel,
                                                 cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                 static_cast<int>(bytes));
    if (err == cudaSuccess)
        smem_limit_given(device, key, bytes);
    return err;
}

// `decide(device)` once per device index, cached in `state` (0 unknown, 1 yes, 2 no); false
// without a current device or past the cache's 64 devices.
template<typename Decide>
bool once_per_device(int (&state)[64], Decide decide)
{
    int dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= 64)
        return false;
    if (state[dev] == 0)
        state[dev] = decide(dev) ? 1 : 2;
    return state[dev] == 1;
}

inline unsigned grid_for(long long n, int threads)
{
    const long long g = (n + threads - 1) / threads;
    return static_cast<unsigned>(g < 1 ? 1 : (g > 0x7FFFFFFFLL ? 0x7FFFFFFFLL : g));
}

} // namespace cuda
} // namespace fathom::kernels
