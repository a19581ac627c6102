// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  A CPU emulation of the small part of the CUDA execution model and runtime API that
  kernels/cuda uses, for running the real kernel sources (compiled as C++) without a GPU.

  Model: "device" memory is host memory; a launch runs its blocks one after another, each to
  completion (in index order, x fastest; FATHOM_EMU_BLOCK_ORDER=reverse or shuffle[:seed] runs
  them backwards or in a seeded random order per launch, so a kernel that assumes which block
  finishes last fails), and the threads of a block as cooperative fibers (ucontext) on the
  calling thread. A fiber runs until it reaches a synchronisation point: __syncthreads() waits
  for every thread of the block that has not exited, a warp operation (__shfl_*_sync,
  __syncwarp) waits for all 32 lanes of its warp and then exchanges values exactly as the
  hardware does. Warp operations reached by only part of a warp (divergence, early exit) are
  reported as errors, so a kernel that would be undefined on the device fails here too. Dynamic
  shared memory starts every block filled with 0xFF bytes (NaN for floats), so reads of unwritten
  shared memory show up; static __shared__ arrays are zero-initialised once and keep their
  values between blocks.

  Thread order. A block's fibers run in rounds: each runnable fiber once, to its next
  synchronisation point; then the warp operations whose warps have all arrived are released (a
  __syncthreads once no fiber can run). FATHOM_EMU_THREAD_ORDER (read once) sets a round's
  order: forward (the default; thread 0 first), reverse (the highest thread first) or
  shuffle[:seed] (a fresh permutation per round from one generator seeded once, the seed printed;
  and at a block's start, at each __syncthreads release and at each resume from a grid barrier
  every warp is drawn early or late, one half each: a late warp runs only in rounds where no
  early fiber can, so an early warp runs through all its warp operations up to its next
  __syncthreads, grid barrier or end before a late warp starts that stretch). Forward hides a
  missing barrier wherever the lower thread's access comes first in the intended order (its
  store, then a higher thread's read); reverse shows those. A thread that would run several warp
  operations ahead of another (a read in one stretch, another warp's store after a few shuffles)
  is reordered only by shuffle's late warps. Releases of warp operations, warpgroup collectives
  and barriers are the same in every order.

  Cooperative launches (grid barriers: kernels/cuda/cuda_common.cuh grid_barrier). A thread that
  spins at a grid barrier calls emu::grid_spin(); its block is then parked, whole (its fibers,
  dynamic and async shared memory, warpgroup state, cp.async queues, PDL wait state and the
  strict mode's closed memory), and the launch starts the next block in the block order. Once
  every block has started, or the parked blocks fill the kernel's co-resident capacity
  (blocks_per_sm x the emulated SM count, FATHOM_EMU_SMS, default 132), the parked blocks are
  resumed round-robin: each spinner's grid_spin() returns true and it re-reads the barrier; new
  blocks start again when blocks finish. A resume round in which no resumed block did anything
  but spin again, with no block free to start, is a deadlock (memory cannot change any more):
  the emulator reports it, naming the kernel ("more blocks wait at a grid barrier than can be
  resident" or "a block never arrives"), and every grid_spin() of the launch returns false from
  then on (the barrier gives up and sets timed_out, as the device's time-out). Under
  FATHOM_EMU_BLOCK_ORDER=shuffle a block may also be parked at a barrier's acquiring loads
  (emu::grid_preempt), so the window between a block's arrival and its read of the generation
  is open to the other blocks. A block that never
  spins runs exactly as before: one after another, to completion. Blocks interleave only at grid
  barriers, so static __shared__ (one copy for all blocks here) stays correct as long as no
  kernel keeps a value in it across a grid barrier. Each alive block has its own fiber-stack
  slab (256 KiB x 1024 threads of address space, reserved with MAP_NORESERVE; only the touched
  pages cost memory, a few KiB a thread), taken from a pool and returned when the block ends: a
  launch whose blocks never park uses one slab as before; a cooperative grid of n blocks of t
  threads costs about n x t x (the stack a thread touches) while its blocks are parked, so the
  tests keep such grids small (FATHOM_EMU_SMS=2 makes the capacity small too).

  Runtime API: "device" memory comes from one reserved region (cudaMalloc is a first-fit
  allocator over it, so an impossible request fails with cudaErrorMemoryAllocation as on the
  device). Streams execute in order at once (asynchronous calls complete before they return),
  unless FATHOM_EMU_STREAMS=shuffle[:seed]: then work enqueued outside a capture is deferred, per
  stream, and runs only when the host waits (a stream / event / device synchronisation, a
  synchronous copy or memset, cudaFree, a copy to pageable host memory), in a seeded random
  interleaving of the streams that keeps each stream's order and the cudaStreamWaitEvent
  dependencies only - so work on two streams that a missing event wait leaves unordered runs in
  either order (pageable host sources are copied at the call, as the real runtime stages them).
  Stream capture records every launch, asynchronous copy and memset enqueued on the capturing
  stream (kernel arguments copied by value, as a launch does) into a graph, and cudaGraphLaunch
  replays the recording; calls that the real runtime refuses during a capture in the global or
  thread-local mode (cudaMalloc, cudaFree, synchronous copies, pageable host copies, waiting on
  the capturing stream) fail with cudaErrorStreamCaptureUnsupported and invalidate the capture.

  Strict mode (emu::set_strict(true), used by the whole-model test) adds two checks of the
  host/device boundary that plain C++ cannot see: the device region is inaccessible to the host
  outside kernels and runtime copies (mprotect), so host code that dereferences a device pointer
  crashes here as it would on the device; and every kernel argument is checked: a pointer
  argument must be null or point into device memory, and no 8-byte word of a struct argument may
  point into a range registered with emu::register_host_range() (the model's host tensors, which
  a kernel must never see).

  Not modelled: memory races between threads in full. A thread's code between two sync points
  runs in one piece, so only the order of whole stretches varies: a race inside one stretch
  (two threads' read-modify-write of one word without an atomic) passes; lanes of one warp meet
  at every warp operation, so a __shfl_*_sync stands in for the __syncwarp that orders memory on
  the device (independent thread scheduling); the thread orders sample interleavings, they do not
  prove their absence (no happens-before check). Blocks interleave only at grid barriers, and
  memory is coherent: a missing fence or an L1-cached read of another block's stores passes here
  in any block order; a grid barrier's acquire and fences are no-ops here. Also not modelled: the
  real occupancy calculator (blocks_per_sm is a model: registers and static shared memory not
  counted), device math accuracy (the host's libm is used), timing. Only for tests.
*/

#define FATHOM_CUDA_EMULATION 1

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

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
struct float4
{
    float x, y, z, w;
};

struct CUstream_st;
typedef CUstream_st *cudaStream_t;
struct CUevent_st;
typedef CUevent_st *cudaEvent_t;
struct CUgraph_st;
typedef CUgraph_st *cudaGraph_t;
struct CUgraphExec_st;
typedef CUgraphExec_st *cudaGraphExec_t;
struct CUgraphNode_st;
typedef CUgraphNode_st *cudaGraphNode_t;

enum cudaError_t {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInsufficientDriver = 35,
    cudaErrorNoDevice = 100,
    cudaErrorInvalidResourceHandle = 400,
    cudaErrorNotReady = 600,
    cudaErrorLaunchFailure = 719,
    cudaErrorStreamCaptureUnsupported = 900,
    cudaErrorStreamCaptureInvalidated = 901,
    cudaErrorStreamCaptureWrongThread = 908,
    cudaErrorGraphExecUpdateFailure = 910,
};
// What cudaGraphExecUpdate reports (the fields this project reads).
enum cudaGraphExecUpdateResult {
    cudaGraphExecUpdateSuccess = 0,
    cudaGraphExecUpdateError = 1,
    cudaGraphExecUpdateErrorTopologyChanged = 2,
};
struct cudaGraphExecUpdateResultInfo
{
    cudaGraphExecUpdateResult result;
    void *errorNode;
    void *errorFromNode;
};
enum cudaStreamCaptureMode {
    cudaStreamCaptureModeGlobal = 0,
    cudaStreamCaptureModeThreadLocal = 1,
    cudaStreamCaptureModeRelaxed = 2
};
enum cudaStreamCaptureStatus {
    cudaStreamCaptureStatusNone = 0,
    cudaStreamCaptureStatusActive = 1,
    cudaStreamCaptureStatusInvalidated = 2
};
constexpr unsigned cudaStreamDefault = 0;
constexpr unsigned cudaStreamNonBlocking = 1;
constexpr unsigned cudaEventDefault = 0;
constexpr unsigned cudaEventBlockingSync = 1;
constexpr unsigned cudaEventDisableTiming = 2;
constexpr unsigned cudaEventInterprocess = 4;
constexpr unsigned cudaEventWaitDefault = 0;
enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4
};
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
enum cudaDeviceAttr {
    cudaDevAttrMultiProcessorCount = 16,
    cudaDevAttrComputeCapabilityMajor = 75,
    cudaDevAttrMaxSharedMemoryPerBlockOptin = 97
};

// cudaLaunchKernelEx's configuration (the fields and the one attribute this project uses).
enum cudaLaunchAttributeID { cudaLaunchAttributeProgrammaticStreamSerialization = 3 };
union cudaLaunchAttributeValue {
    unsigned char pad[64];
    int programmaticStreamSerializationAllowed;
};
struct cudaLaunchAttribute
{
    cudaLaunchAttributeID id;
    cudaLaunchAttributeValue val;
};

struct cudaDeviceProp
{
    char name[256];
    size_t totalGlobalMem;
    int major;
    int minor;
    int multiProcessorCount;
};

namespace emu {

dim3 thread_idx();
dim3 block_idx();
dim3 block_dim();
dim3 grid_dim();
void syncthreads();
// __syncthreads_or: a barrier that returns nonzero to every thread when any thread passed nonzero.
int syncthreads_or(int predicate);
// All 32 lanes deposit `value`; each gets back the value of the lane selected by (kind, arg):
// kind 0 = lane ^ arg, 1 = lane − arg (own value when < 0), 2 = lane arg.
uint64_t warp_exchange(uint64_t value, int kind, int arg);
// A generic warp collective (the emulation of mma.sync and the like): every lane posts a pointer
// to its own operand struct; when all 32 lanes of the warp have arrived, `fn` is called once with
// the 32 lane pointers (index = lane) and computes every lane's results in place. All lanes must
// pass the same fn; a warp of fewer than 32 threads, part of a warp (divergence, early exit) or
// lanes at different operations are reported as errors like the other warp operations.
using warp_collective_fn = void (*)(void *const lanes[32]);
void warp_collective(void *lane_data, warp_collective_fn fn);
void *dynamic_smem();
// Warpgroup collectives (the emulation of wgmma.mma_async, wgmma.fence / commit_group /
// wait_group: wgmma.cuh): like warp_collective for the 128 threads of a warpgroup, 4 consecutive
// warps whose first warp's index is a multiple of 4 (warp w belongs to warpgroup w / 4). `fn`
// runs once with the 128 lane pointers (index = thread within the warpgroup) when all 128 have
// arrived at the same fn. A block whose warpgroup would have fewer than 128 threads, lanes of one
// warp at different operations, or warps of one warpgroup waiting at different points (a
// barrier, another collective) are reported as errors (the last one as a deadlock).
using warpgroup_collective_fn = void (*)(void *const lanes[128]);
void warpgroup_collective(void *lane_data, warpgroup_collective_fn fn);
// State kept per warpgroup of the running block (e.g. the emulated wgmma's pending groups): the
// slot of the warpgroup whose collective `fn` is running; empty at every block start.
std::shared_ptr<void> &warpgroup_state();
// The shared-memory address of p (an offset into the block's dynamic shared memory: what
// __cvta_generic_to_shared gives on the device, relative to the window's base) and the async
// proxy's view of [addr, addr + bytes) (nullptr, with an error, when outside the dynamic shared
// memory). Static __shared__ arrays have no shared address here.
uint32_t shared_address(const void *p);
const unsigned char *async_shared(uint32_t addr, size_t bytes);
// fence.proxy.async.shared::cta: the async proxy (wgmma operands, TMA) reads shared memory
// through its own view, which takes the generic proxy's contents (ordinary stores, landed
// cp.async copies) only at a __syncthreads() that follows a fence.proxy.async of some thread of
// the block since the previous such refresh. So a kernel that never fences reads stale shared
// memory in its wgmma (the view starts as the 0xFF fill). Weaker than the device, which needs
// the fence in every writing thread: one thread's fence refreshes the whole view here.
void fence_proxy_async();
// cp.async (async_copy.cuh): the calling thread's copy of `bytes` bytes (zero-filled past
// src_bytes) is only queued; it lands in shared memory when the thread waits for its group
// (cp_async_wait(n): every committed group but the newest n), so a missing or too-weak wait
// reads stale shared memory here as it may on the device. Copies never waited for never land.
void cp_async(void *dst, const void *src, int bytes, int src_bytes);
void cp_async_commit();
void cp_async_wait(int pending);
// An error found by a device-side model (a misaligned ldmatrix row address, ...).
void device_error(const char *what);
// griddepcontrol.wait / launch_dependents (FATHOM_PDL_WAIT / FATHOM_PDL_TRIGGER,
// kernels/cuda/cuda_common.cuh).
void pdl_wait();
void pdl_trigger();
// cp.async.bulk.prefetch.L2 (kernels/cuda/cuda_common.cuh prefetch_l2): checks the alignment and
// that the range lies in one device allocation, and reads it (closed memory faults).
void prefetch_l2(const void *p, uint32_t bytes);
// The ranges prefetch_l2 was given while the log is on (tests: which bytes a launch asked for),
// and whether each came before the block's first pdl_wait(). prefetch_log(true) clears it.
struct Prefetch
{
    const void *p;
    uint32_t bytes;
    bool beforeWait;
};
void prefetch_log(bool on);
std::vector<Prefetch> prefetch_log_take();
// cuda::peek_settled: a read before the block's pdl_wait() of n bytes an earlier launch than the
// previous one wrote (a hint's input: an L2 prefetch address). Reads through the closed region;
// the emulation runs launches to completion in order, so it cannot tell the previous launch's
// stores from older ones: the kernels must use the value only for hints.
void peek(void *dst, const void *src, size_t n);
// pdl: launched with the programmatic stream-serialisation attribute (cudaLaunchKernelEx); then
// the kernel must call pdl_wait() (see "PDL" below); kernel: its function, for messages.
void run_kernel(dim3 grid,
                dim3 block,
                size_t smem,
                const std::function<void()> &body,
                bool pdl = false,
                const void *kernel = nullptr);
// Errors seen by the emulator (divergent warp operations, deadlocks, bad launch shapes, host
// pointers handed to kernels, misuse of the runtime during a capture).
int error_count();

// ---- strict mode (see the header comment) --------------------------------------------------------
void set_strict(bool on);
bool strict();
// [p, p + bytes) is host memory a kernel must never be given (e.g. a model tensor on the host).
void register_host_range(const void *p, size_t bytes);
void clear_host_ranges();
bool in_device_memory(const void *p);
// Argument checks of strict mode: report() counts an error naming the kernel argument.
void check_pointer_arg(const void *p, int index);
void check_struct_arg(const void *bytes, size_t size, int index);
/*
  PDL (programmatic dependent launch). A kernel launched with the attribute may run before the
  previous kernel of its stream has finished, so until it calls pdl_wait() (griddepcontrol.wait)
  it may read only immutable weights. In strict mode every block of such a kernel starts with the
  device region closed except the ranges registered here (the model's weights, page-aligned by the
  allocator): a read or write of anything else before the block's first pdl_wait() faults (the
  handler names the kernel, then the test dies). In every mode a PDL-launched kernel none of
  whose threads calls pdl_wait() is reported as an error: without the wait nothing orders it after
  the previous kernel (and the kernels after it after that one).
*/
void register_weight_range(const void *p, size_t bytes);
// PDL-launched kernels run, their blocks, and the blocks that called pdl_wait() (tests).
struct PdlCounts
{
    long long kernels = 0, blocks = 0, waitedBlocks = 0, triggers = 0, prefetches = 0, peeks = 0;
    long long noWait = 0; // PDL-launched kernels none of whose threads waited (each an error)
};
PdlCounts pdl_counts();
// Opens / closes the device region to the host (strict mode) around kernels and copies.
struct DeviceAccess
{
    DeviceAccess();
    ~DeviceAccess();
};
// Stream order: runs `op` now, or appends it to the stream's capture. `kind` names the node type
// (the kernel function, or a tag for copies and memsets): cudaGraphExecUpdate compares them.
// `sig`: the node's parameters as bytes (grid, block, shared memory and the arguments of a kernel;
// destination, source and size of a copy), compared by cudaGraphExecUpdate to count the nodes
// whose parameters a step changed (graph_update_changed_nodes).
// programmatic: a kernel launched with the PDL attribute (its edge from the previous node is
// programmatic when that node is a kernel; the census counts both).
void enqueue(cudaStream_t stream,
             std::function<void()> op,
             const void *kind = nullptr,
             std::string sig = {},
             bool programmatic = false);
// Launches seen since the counter was reset (tests: a fixed launch sequence per step).
long long launch_count();
void reset_launch_count();
// Host round trips since the counters were reset: device-to-host copies, and waits for the
// device (stream / device synchronisation, synchronous copies).
long long readback_count();
long long wait_count();
// Host-to-device copies enqueued outside a capture, and graph launches, since the reset.
long long upload_count();
long long graph_launch_count();
void reset_round_trip_counts();
// Successful cudaGraphExecUpdate calls since the reset, and among their nodes those whose
// parameters differed from the exec's (a graph replayable unchanged has none). changed_kinds:
// (node kind, count) of those nodes, most frequent first (kernels are named by their function's
// address: look it up with nm).
long long graph_update_count();
long long graph_update_nodes(); // nodes of the updated graphs, summed
long long graph_update_changed_nodes();
long long graph_update_unchanged(); // updates that changed no node at all
std::vector<std::pair<const void *, long long>> graph_update_changed_kinds();
void reset_graph_update_counts();
// The nodes of the last graph a capture ended with (a recorded decode step): kernels, copies and
// memsets, the memsets that fill 0xFF bytes (FATHOM_CUDA_POISON's, absent in production) counted
// apart, and the kernels by kind, most frequent first (named by the function's address: resolve
// with addr2line against the binary, see tests/gpu/emu/node_names.py).
struct CaptureCensus
{
    long long kernels = 0, copies = 0, memsets = 0, poisonMemsets = 0;
    // Kernel nodes launched with the PDL attribute, and of them those right after a kernel node
    // (a programmatic edge in the real graph).
    long long pdlKernels = 0, programmaticEdges = 0;
    std::vector<std::pair<const void *, long long>> kernelKinds;
    // The kernel nodes in capture order (the step's dependent chain: one stream).
    std::vector<const void *> kernelOrder;
    long long production() const { return kernels + copies + memsets - poisonMemsets; }
};
CaptureCensus last_capture_census();

template<typename T>
void append_sig(std::string &sig, const T &a)
{
    if constexpr (std::is_trivially_copyable_v<T>)
        sig.append(reinterpret_cast<const char *>(&a), sizeof a);
}

template<typename T>
void check_arg(const T &a, int index)
{
    if constexpr (std::is_pointer_v<T>) {
        check_pointer_arg(static_cast<const void *>(a), index);
    } else if constexpr (std::is_class_v<T> && std::is_trivially_copyable_v<T>) {
        check_struct_arg(&a, sizeof a, index);
    }
}

struct Launcher
{
    dim3 grid, block;
    size_t smem;
    cudaStream_t stream;
    bool pdl = false;
    template<typename F>
    auto kernel(F *f) const
    {
        const Launcher l = *this;
        return [l, f](auto &&...args) {
            // Arguments are copied by value as a launch does (and kept by a captured graph).
            auto run = [l, f, ... a = std::decay_t<decltype(args)>(args)]() {
                if (strict()) {
                    int i = 0;
                    (check_arg(a, i++), ...);
                }
                run_kernel(
                    l.grid,
                    l.block,
                    l.smem,
                    [&]() { f(a...); },
                    l.pdl,
                    reinterpret_cast<const void *>(f));
            };
            std::string sig;
            append_sig(sig, l.grid);
            append_sig(sig, l.block);
            append_sig(sig, l.smem);
            (append_sig(sig, args), ...);
            enqueue(l.stream,
                    std::move(run),
                    reinterpret_cast<const void *>(f),
                    std::move(sig),
                    l.pdl);
        };
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

struct cudaLaunchConfig_t
{
    dim3 gridDim;
    dim3 blockDim;
    size_t dynamicSmemBytes;
    cudaStream_t stream;
    cudaLaunchAttribute *attrs;
    unsigned numAttrs;
};

// As the runtime's C++ template: the kernel, its configuration and attributes; the only attribute
// understood is programmatic stream serialisation (others are refused as the emulation cannot
// honour them).
template<typename... Params, typename... Args>
cudaError_t cudaLaunchKernelEx(const cudaLaunchConfig_t *config,
                               void (*kernel)(Params...),
                               Args &&...args)
{
    bool pdl = false;
    for (unsigned i = 0; i < config->numAttrs; ++i) {
        if (config->attrs[i].id != cudaLaunchAttributeProgrammaticStreamSerialization)
            return cudaErrorInvalidValue;
        pdl = config->attrs[i].val.programmaticStreamSerializationAllowed != 0;
    }
    emu::Launcher{config->gridDim, config->blockDim, config->dynamicSmemBytes, config->stream, pdl}
        .kernel(kernel)(std::forward<Args>(args)...);
    return cudaSuccess;
}

#define threadIdx (::emu::thread_idx())
#define blockIdx (::emu::block_idx())
#define blockDim (::emu::block_dim())
#define gridDim (::emu::grid_dim())

// A plain launch (no attribute) for emulator-only test kernels; kernels/cuda and the engine launch
// through FATHOM_LAUNCH (kernels/cuda/cuda_common.cuh), i.e. cudaLaunchKernelEx below.
#define FATHOM_EMU_LAUNCH(grid, block, smem, stream, ...) \
    ::emu::Launcher{dim3(grid), \
                    dim3(block), \
                    static_cast<size_t>(smem), \
                    reinterpret_cast<cudaStream_t>(stream)} \
        .kernel(__VA_ARGS__)
#define FATHOM_EXTERN_SHARED(type, name) type *name = static_cast<type *>(::emu::dynamic_smem())

inline void __syncthreads()
{
    emu::syncthreads();
}
inline int __syncthreads_or(int predicate)
{
    return emu::syncthreads_or(predicate);
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
inline unsigned atomicAdd(unsigned *a, unsigned v)
{
    const unsigned old = *a;
    *a += v;
    return old;
}
inline int atomicExch(int *a, int v)
{
    const int old = *a;
    *a = v;
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
cudaError_t cudaMemcpyAsync(
    void *dst, const void *src, size_t n, cudaMemcpyKind kind, cudaStream_t stream = nullptr);
cudaError_t cudaMemsetAsync(void *p, int value, size_t n, cudaStream_t stream = nullptr);
cudaError_t cudaMemGetInfo(size_t *free, size_t *total);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaGetLastError();
const char *cudaGetErrorString(cudaError_t e);
const char *cudaGetErrorName(cudaError_t e);
cudaError_t cudaGetDeviceCount(int *count);
cudaError_t cudaGetDevice(int *device);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaDriverGetVersion(int *version);
cudaError_t cudaRuntimeGetVersion(int *version);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned flags);
cudaError_t cudaStreamCreate(cudaStream_t *stream);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode);
cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t *graph);
cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus *status);
cudaError_t cudaGraphInstantiate(cudaGraphExec_t *exec,
                                 cudaGraph_t graph,
                                 unsigned long long flags = 0);
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream);
// Succeeds when the new graph has the same nodes (types, kernels) in the same order: the exec
// then runs the new graph's parameters; else cudaErrorGraphExecUpdateFailure (exec unchanged).
cudaError_t cudaGraphExecUpdate(cudaGraphExec_t exec,
                                cudaGraph_t graph,
                                cudaGraphExecUpdateResultInfo *info);
// Page-locked host memory (plain host memory here; copies from it may be captured).
cudaError_t cudaMallocHost(void **p, size_t n);
cudaError_t cudaFreeHost(void *p);
cudaError_t cudaGraphDestroy(cudaGraph_t graph);
// Counts only (nodes must be null): the emulated graph has no node objects.
cudaError_t cudaGraphGetNodes(cudaGraph_t graph, cudaGraphNode_t *nodes, size_t *numNodes);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec);
cudaError_t cudaEventCreate(cudaEvent_t *event);
// flags: cudaEventDefault, BlockingSync, DisableTiming (no cudaEventElapsedTime then),
// Interprocess (with DisableTiming only; not otherwise modelled).
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *event, unsigned flags);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = nullptr);
// The stream's later work waits for the work before the event's latest record (none: no wait).
// A record or a wait inside a capture (a cross-stream capture) is not modelled: refused.
cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned flags = 0);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t stop);
cudaError_t cudaEventDestroy(cudaEvent_t event);
cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *prop, int device);
namespace emu {
// The occupancy the emulated device reports for a kernel of `threads` threads and `smem` bytes of
// dynamic shared memory a block (cudaOccupancyMaxActiveBlocksPerMultiprocessor): a model of an
// sm_90 SM (2048 threads, 228 KiB of shared memory with 1 KiB reserved a block, at most 32
// blocks); registers and static shared memory are not counted.
int blocks_per_sm(const void *kernel, int threads, size_t smem);
// A grid barrier's spin (kernels/cuda/cuda_common.cuh grid_barrier): parks the calling block
// until the scheduler resumes it (see "Cooperative launches" above); true: re-read the barrier;
// false: the launch is deadlocked (the other blocks cannot arrive: the barrier would hang the
// device), give up.
bool grid_spin();
// A point where another block may run first (a grid barrier's acquiring loads): under
// FATHOM_EMU_BLOCK_ORDER=shuffle the block is parked there at random (one draw in two), except
// inside a spin loop (after a grid_spin() of the thread since its last synchronisation point);
// else nothing. So a barrier that reads its generation after arriving (a race on the device: the
// last arriver may bump it in between) deadlocks in shuffled order. A block resumed from such a
// point counts as progress (it may arrive next); at most two a barrier, so a deadlock is still
// found.
void grid_preempt();
} // namespace emu
template<typename F>
cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int *n, F *f, int threads, size_t smem)
{
    *n = emu::blocks_per_sm(reinterpret_cast<const void *>(f), threads, smem);
    return cudaSuccess;
}
namespace emu {
// The kernel's dynamic shared-memory limit as cudaFuncSetAttribute raised it (run_kernel refuses
// a launch over 48 KB without it, as the real runtime does).
cudaError_t set_max_dynamic_smem(const void *kernel, int bytes);
} // namespace emu
template<typename F>
cudaError_t cudaFuncSetAttribute(F *f, cudaFuncAttribute attr, int value)
{
    if (attr == cudaFuncAttributeMaxDynamicSharedMemorySize)
        return emu::set_max_dynamic_smem(reinterpret_cast<const void *>(f), value);
    return cudaSuccess;
}
