// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// The fiber scheduler and runtime API of the CUDA emulation (see cuda_runtime.h here).

#include "cuda_runtime.h"

#include <sys/mman.h>
#include <ucontext.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

namespace emu {

namespace {

enum class State { Ready, AtBarrier, AtWarp, Done };

struct Fiber
{
    ucontext_t ctx;
    State state = State::Ready;
    dim3 tid;
    uint64_t value = 0;
    int kind = 0, arg = 0;
};

constexpr size_t k_stack = 256 * 1024;
constexpr int k_max_threads = 1024;

struct Block
{
    dim3 grid, block, bid;
    std::vector<Fiber> fibers;
    std::vector<unsigned char> smem;
    const std::function<void()> *body = nullptr;
    ucontext_t sched;
    int cur = -1;
};

Block *g_block = nullptr;
char *g_stacks = nullptr;
int g_errors = 0;
cudaError_t g_last = cudaSuccess;

void error(const char *what)
{
    ++g_errors;
    g_last = cudaErrorLaunchFailure;
    std::fprintf(stderr,
                 "cuda emulation: %s (block %u,%u,%u)\n",
                 what,
                 g_block->bid.x,
                 g_block->bid.y,
                 g_block->bid.z);
}

void fiber_main()
{
    Block &b = *g_block;
    (*b.body)();
    b.fibers[b.cur].state = State::Done;
    // returns to b.sched through uc_link
}

void yield(State s)
{
    Block &b = *g_block;
    Fiber &f = b.fibers[b.cur];
    f.state = s;
    swapcontext(&f.ctx, &b.sched);
}

void run_block(Block &b)
{
    const int n = static_cast<int>(b.block.x * b.block.y * b.block.z);
    b.fibers.assign(n, Fiber{});
    for (int i = 0; i < n; ++i) {
        Fiber &f = b.fibers[i];
        f.tid = dim3(i % b.block.x, (i / b.block.x) % b.block.y, i / (b.block.x * b.block.y));
        getcontext(&f.ctx);
        f.ctx.uc_stack.ss_sp = g_stacks + static_cast<size_t>(i) * k_stack;
        f.ctx.uc_stack.ss_size = k_stack;
        f.ctx.uc_link = &b.sched;
        makecontext(&f.ctx, fiber_main, 0);
    }
    const int warps = (n + 31) / 32;
    for (;;) {
        bool ran = false;
        for (int i = 0; i < n; ++i) {
            if (b.fibers[i].state != State::Ready)
                continue;
            b.cur = i;
            swapcontext(&b.sched, &b.fibers[i].ctx);
            ran = true;
        }
        (void) ran;
        // Warp operations whose whole warp has arrived.
        bool released = false;
        for (int w = 0; w < warps; ++w) {
            const int l0 = w * 32, l1 = std::min(n, l0 + 32);
            int at = 0, done = 0, barrier = 0;
            for (int i = l0; i < l1; ++i) {
                at += b.fibers[i].state == State::AtWarp;
                done += b.fibers[i].state == State::Done;
                barrier += b.fibers[i].state == State::AtBarrier;
            }
            if (at == 0)
                continue;
            if (at != l1 - l0) {
                if (at + done + barrier == l1 - l0) {
                    error("warp operation reached by only part of a warp");
                    return;
                }
                continue;
            }
            uint64_t vals[32];
            for (int i = l0; i < l1; ++i)
                vals[i - l0] = b.fibers[i].value;
            for (int i = l0; i < l1; ++i) {
                Fiber &f = b.fibers[i];
                const int lane = i - l0;
                int src = lane;
                if (f.kind == 0)
                    src = lane ^ f.arg;
                else if (f.kind == 1)
                    src = lane - f.arg >= 0 ? lane - f.arg : lane;
                else
                    src = f.arg;
                if (src < 0 || src >= l1 - l0)
                    src = lane;
                f.value = vals[src];
                f.state = State::Ready;
            }
            released = true;
        }
        if (released)
            continue;
        int done = 0, barrier = 0;
        for (const Fiber &f : b.fibers) {
            done += f.state == State::Done;
            barrier += f.state == State::AtBarrier;
        }
        if (done == n)
            return;
        if (done + barrier == n) {
            for (Fiber &f : b.fibers)
                if (f.state == State::AtBarrier)
                    f.state = State::Ready;
            continue;
        }
        error("deadlock: threads wait at different synchronisation points");
        return;
    }
}

} // namespace

dim3 thread_idx()
{
    return g_block->fibers[g_block->cur].tid;
}
dim3 block_idx()
{
    return g_block->bid;
}
dim3 block_dim()
{
    return g_block->block;
}
dim3 grid_dim()
{
    return g_block->grid;
}

void syncthreads()
{
    yield(State::AtBarrier);
}

uint64_t warp_exchange(uint64_t value, int kind, int arg)
{
    Fiber &f = g_block->fibers[g_block->cur];
    f.value = value;
    f.kind = kind;
    f.arg = arg;
    yield(State::AtWarp);
    return g_block->fibers[g_block->cur].value;
}

void *dynamic_smem()
{
    return g_block->smem.data();
}

int error_count()
{
    return g_errors;
}

void run_kernel(dim3 grid, dim3 block, size_t smem, const std::function<void()> &body)
{
    const unsigned long long threads = 1ull * block.x * block.y * block.z;
    if (threads == 0 || threads > k_max_threads || grid.x == 0 || grid.y == 0 || grid.z == 0
        || grid.y > 65535 || grid.z > 65535 || smem > 227 * 1024) {
        ++g_errors;
        g_last = cudaErrorInvalidValue;
        std::fprintf(stderr, "cuda emulation: invalid launch configuration\n");
        return;
    }
    if (!g_stacks) {
        void *p = mmap(nullptr,
                       k_stack * k_max_threads,
                       PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                       -1,
                       0);
        if (p == MAP_FAILED) {
            std::fprintf(stderr, "cuda emulation: no memory for fiber stacks\n");
            std::abort();
        }
        g_stacks = static_cast<char *>(p);
    }
    Block b;
    b.grid = grid;
    b.block = block;
    b.body = &body;
    b.smem.assign(smem + 16, 0xFF);
    g_block = &b;
    for (unsigned z = 0; z < grid.z; ++z)
        for (unsigned y = 0; y < grid.y; ++y)
            for (unsigned x = 0; x < grid.x; ++x) {
                b.bid = dim3(x, y, z);
                std::fill(b.smem.begin(), b.smem.end(), 0xFF);
                run_block(b);
            }
    g_block = nullptr;
}

} // namespace emu

cudaError_t cudaMallocBytes(void **p, size_t n)
{
    *p = std::malloc(n ? n : 1);
    return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaFree(void *p)
{
    std::free(p);
    return cudaSuccess;
}
cudaError_t cudaMemcpy(void *dst, const void *src, size_t n, cudaMemcpyKind)
{
    std::memmove(dst, src, n);
    return cudaSuccess;
}
cudaError_t cudaMemset(void *p, int value, size_t n)
{
    std::memset(p, value, n);
    return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize()
{
    const cudaError_t e = emu::g_last;
    emu::g_last = cudaSuccess;
    return e;
}
cudaError_t cudaGetLastError()
{
    const cudaError_t e = emu::g_last;
    emu::g_last = cudaSuccess;
    return e;
}
const char *cudaGetErrorString(cudaError_t e)
{
    switch (e) {
    case cudaSuccess:
        return "no error";
    case cudaErrorMemoryAllocation:
        return "out of memory";
    case cudaErrorInvalidValue:
        return "invalid argument";
    default:
        return "unspecified launch failure (emulation)";
    }
}
cudaError_t cudaGetDeviceCount(int *count)
{
    *count = 1;
    return cudaSuccess;
}
cudaError_t cudaGetDevice(int *device)
{
    *device = 0;
    return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr, int)
{
    *value = 227 * 1024; // as an H100/H200
    return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *prop, int)
{
    std::memset(prop, 0, sizeof *prop);
    std::snprintf(prop->name, sizeof prop->name, "CPU emulation of the CUDA model");
    prop->major = 9;
    prop->minor = 0;
    return cudaSuccess;
}
