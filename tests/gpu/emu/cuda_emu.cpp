// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// The fiber scheduler and runtime API of the CUDA emulation (see cuda_runtime.h here).

#include "cuda_runtime.h"

#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <set>
#include <vector>

// Fiber switches: glibc's swapcontext saves and restores the signal mask with a system call on
// every switch, which dominated the emulation's run time (a warp shuffle switches 32 fibers
// twice). On x86-64 a minimal switch saves only the callee-saved registers and the FP control
// words (SysV ABI); elsewhere ucontext is used.
#if defined(__x86_64__) && defined(__linux__)
#define FATHOM_EMU_FAST_SWITCH 1
extern "C" void fathom_emu_switch(void **save_sp, void *load_sp);
asm(R"(
    .text
    .globl fathom_emu_switch
    .type fathom_emu_switch,@function
fathom_emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size fathom_emu_switch,.-fathom_emu_switch
    .section .note.GNU-stack,"",@progbits
    .text
)");
#endif

namespace emu {

namespace {

// Spin: the thread waits at a grid barrier (grid_spin); its block is parked (cooperative mode).
enum class State { Ready, AtBarrier, AtWarp, Spin, Done };

struct Fiber
{
    ucontext_t ctx;
    void *sp = nullptr; // saved stack pointer (fast switch)
    State state = State::Ready;
    dim3 tid;
    uint64_t value = 0;
    int kind = 0, arg = 0; // kind 3: a warp collective (value = the lane's operand pointer)
    warp_collective_fn collective = nullptr; // kind 4: a warpgroup collective
    warpgroup_collective_fn wg_collective = nullptr;
    struct Copy
    {
        void *dst;
        const void *src;
        int bytes, src_bytes;
        long long group;
    };
    std::vector<Copy> copies; // queued cp.async copies, in issue order
    long long committed = 0;  // cp.async groups committed so far (the open group's index)
    bool pdlWaited = false;   // this thread has passed pdl_wait() (the prefetch log's order)
    bool spun = false;        // spinning at a grid barrier since its last synchronisation point
};

constexpr size_t k_stack = 256 * 1024;
constexpr int k_max_threads = 1024;

struct Block
{
    dim3 grid, block, bid;
    std::vector<Fiber> fibers;
    std::vector<unsigned char> smem;
    std::vector<unsigned char> async_smem; // the async proxy's view (fence_proxy_async)
    bool proxy_fence_pending = false;
    int bar_or_pending = 0, bar_or_result = 0;   // __syncthreads_or
    std::vector<std::shared_ptr<void>> wg_state; // per warpgroup (warpgroup_state)
    int cur_wg = 0;
    const std::function<void()> *body = nullptr;
    ucontext_t sched;
    void *sched_sp = nullptr;
    int cur = -1;
    char *stacks = nullptr; // the fibers' stacks: a slab of the pool (acquire_stacks)
    // The PDL state of a parked block (g_pdl's blockWaited / closed while it runs).
    bool pdlWaited = false, pdlClosed = false;
};

Block *g_block = nullptr;
// Fiber stack slabs (k_stack x k_max_threads each, reserved, not committed: MAP_NORESERVE); a
// block holds one from its start to its end, so a launch whose blocks never park uses one slab.
std::vector<char *> g_stackPool;
// Fiber steps other than a grid barrier's spin (synchronisation points, fibers finishing, resumes
// from grid_preempt): a resume round of parked blocks that adds none made no progress.
long long g_steps = 0;
// The running launch gave up on its grid barriers (a deadlock): grid_spin() returns false.
bool g_spinFailed = false;

char *acquire_stacks()
{
    if (!g_stackPool.empty()) {
        char *p = g_stackPool.back();
        g_stackPool.pop_back();
        return p;
    }
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
    return static_cast<char *>(p);
}
void release_stacks(char *p)
{
    if (p)
        g_stackPool.push_back(p);
}
// PDL (cuda_runtime.h): the running kernel was launched with the attribute; the running block's
// non-weight memory is closed (strict mode) until its first pdl_wait(); waits seen in the kernel.
struct PdlRun
{
    bool on = false;
    bool closed = false;
    bool blockWaited = false;
    long long waits = 0;
    const void *kernel = nullptr;
};
PdlRun g_pdl;
PdlCounts g_pdlCounts;
int g_errors = 0;
cudaError_t g_last = cudaSuccess;
long long g_launches = 0;
long long g_readbacks = 0;
long long g_uploads = 0;
long long g_graphLaunches = 0;
std::map<void *, size_t> g_pinnedBytes;       // cudaMallocHost blocks
std::map<const void *, size_t> g_smem_limits; // cudaFuncSetAttribute's dynamic smem limits

// [p, p + n) lies in one cudaMallocHost block.
bool pinned(const void *p, size_t n)
{
    auto it = g_pinnedBytes.upper_bound(const_cast<void *>(p));
    if (it == g_pinnedBytes.begin())
        return false;
    --it;
    const char *b = static_cast<const char *>(it->first), *c = static_cast<const char *>(p);
    return c >= b && c + n <= b + it->second;
}
long long g_waits = 0;

void report(const char *what);
bool pdl_close();

extern "C" char __executable_start; // GNU ld: the image's first byte (PIE: its load address)

// A kernel's address as addr2line wants it (`addr2line -f -C -e <test binary> <this>`).
uintptr_t image_offset(const void *kernel)
{
    return reinterpret_cast<uintptr_t>(kernel) - reinterpret_cast<uintptr_t>(&__executable_start);
}
void pdl_open();

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
    ++g_steps;
#ifdef FATHOM_EMU_FAST_SWITCH
    fathom_emu_switch(&b.fibers[b.cur].sp, b.sched_sp); // never comes back
    std::abort();
#endif
    // returns to b.sched through uc_link
}

void yield(State s)
{
    Block &b = *g_block;
    Fiber &f = b.fibers[b.cur];
    f.state = s;
    if (s != State::Spin) {
        ++g_steps;
        f.spun = false;
    }
#ifdef FATHOM_EMU_FAST_SWITCH
    fathom_emu_switch(&f.sp, b.sched_sp);
#else
    swapcontext(&f.ctx, &b.sched);
#endif
}

void start_fiber(Block &b, Fiber &f, int i)
{
    char *base = b.stacks + static_cast<size_t>(i) * k_stack;
#ifdef FATHOM_EMU_FAST_SWITCH
    // The frame fathom_emu_switch pops: FP control words, r15 .. rbp, then fiber_main as the
    // return address above a zero fake return address (entry with rsp = 8 mod 16, as a call).
    uint64_t *top = reinterpret_cast<uint64_t *>(base + k_stack);
    top[-1] = 0;
    top[-2] = reinterpret_cast<uint64_t>(&fiber_main);
    for (int r = 3; r <= 8; ++r)
        top[-r] = 0;
    uint32_t ctl[2] = {0x1F80u, 0x037Fu}; // MXCSR and x87 control word defaults
    std::memcpy(&top[-9], ctl, 8);
    f.sp = &top[-9];
    (void) b;
#else
    getcontext(&f.ctx);
    f.ctx.uc_stack.ss_sp = base;
    f.ctx.uc_stack.ss_size = k_stack;
    f.ctx.uc_link = &b.sched;
    makecontext(&f.ctx, fiber_main, 0);
#endif
}

void init_block(Block &b)
{
    const int n = static_cast<int>(b.block.x * b.block.y * b.block.z);
    b.fibers.assign(n, Fiber{});
    for (int i = 0; i < n; ++i) {
        Fiber &f = b.fibers[i];
        f.tid = dim3(i % b.block.x, (i / b.block.x) % b.block.y, i / (b.block.x * b.block.y));
        start_fiber(b, f, i);
    }
}

// Done: every thread finished; Parked: a thread spins at a grid barrier (grid_spin) and no other
// can go on; Failed: an error was reported (the block is abandoned).
enum class Run { Done, Parked, Failed };

// forward, reverse or shuffle[:seed]: the values of FATHOM_EMU_THREAD_ORDER and _BLOCK_ORDER.
enum class Order { Forward, Reverse, Shuffle };

// `var`'s order, read from the environment (unset or an unknown value: forward, the latter with
// a message); reported on stderr unless forward, as the order of `what` ("threads", "blocks").
// Shuffle seeds `rng` (a random seed where none is given; printed, so a run can be repeated).
Order read_order(const char *var, const char *what, std::mt19937_64 &rng);

// An order read once from `var` (read_order) and its generator (shuffle).
struct EnvOrder
{
    std::mt19937_64 rng; // before kind: read_order seeds it
    Order kind;
    EnvOrder(const char *var, const char *what)
        : kind(read_order(var, what, rng))
    {}
};

// FATHOM_EMU_THREAD_ORDER (read once): the order run_block runs a block's Ready fibers in, each
// round (every Ready fiber once, to its next synchronisation point; then the warp operations whose
// warps have all arrived are released). forward (the default): 0 .. n-1; reverse: n-1 .. 0;
// shuffle[:seed]: a fresh permutation each round, and at the block's start, each __syncthreads
// release and each resume from a grid barrier every warp is drawn early or late (one half each):
// a late warp's fibers run only in rounds where no early fiber is Ready, so an early warp runs
// through all its warp operations up to the next __syncthreads (or its end, or a grid barrier)
// before a late warp starts the same stretch. Between two sync points a thread's code still runs
// in one piece; the release of warp operations, warpgroup collectives and barriers is unchanged.
struct ThreadOrder : EnvOrder
{
    std::vector<int> perm;           // the round's order (shuffle), reused
    std::vector<unsigned char> late; // per warp (shuffle), reused
    ThreadOrder()
        : EnvOrder("FATHOM_EMU_THREAD_ORDER", "threads")
    {}
};

ThreadOrder &thread_order()
{
    static ThreadOrder o;
    return o;
}

// Shuffle: draws each warp early or late for the block's next stretch between sync points.
void draw_late(ThreadOrder &o, int warps)
{
    o.late.resize(static_cast<size_t>(warps));
    for (int w = 0; w < warps; w += 64) {
        const uint64_t bits = o.rng();
        for (int k = 0; k < 64 && w + k < warps; ++k)
            o.late[w + k] = (bits >> k) & 1u;
    }
}

// Runs the block's fibers until it is done, parked or failed (g_block = &b).
Run run_block(Block &b)
{
    const int n = static_cast<int>(b.fibers.size());
    const int warps = (n + 31) / 32;
    ThreadOrder &order = thread_order();
    const auto step = [&b](int i) {
        b.cur = i;
#ifdef FATHOM_EMU_FAST_SWITCH
        fathom_emu_switch(&b.sched_sp, b.fibers[i].sp);
#else
        swapcontext(&b.sched, &b.fibers[i].ctx);
#endif
    };
    if (order.kind == Order::Shuffle)
        draw_late(order, warps);
    for (;;) {
        if (order.kind == Order::Forward) {
            for (int i = 0; i < n; ++i)
                if (b.fibers[i].state == State::Ready)
                    step(i);
        } else if (order.kind == Order::Reverse) {
            for (int i = n - 1; i >= 0; --i)
                if (b.fibers[i].state == State::Ready)
                    step(i);
        } else {
            order.perm.resize(static_cast<size_t>(n));
            std::iota(order.perm.begin(), order.perm.end(), 0);
            std::shuffle(order.perm.begin(), order.perm.end(), order.rng);
            bool early = false; // an early warp's fiber is Ready: the late ones wait this round
            for (int i = 0; i < n && !early; ++i)
                early = b.fibers[i].state == State::Ready && !order.late[i / 32];
            for (int i : order.perm)
                if (b.fibers[i].state == State::Ready && !(early && order.late[i / 32]))
                    step(i);
        }
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
                    return Run::Failed;
                }
                continue;
            }
            int wgops = 0;
            for (int i = l0; i < l1; ++i)
                wgops += b.fibers[i].kind == 4;
            if (wgops != 0) {
                // A warpgroup collective: handled once its 4 warps have all arrived.
                const int g0 = (w / 4) * 4;
                if (wgops != l1 - l0 || (g0 + 4) * 32 > n) {
                    error(wgops != l1 - l0
                              ? "lanes of a warp at different warp operations"
                              : "warpgroup collective (wgmma) in a warpgroup of fewer than 128 "
                                "threads");
                    return Run::Failed;
                }
                if (w != g0 + 3)
                    continue; // the warpgroup's last warp checks the other three
                bool all = true;
                for (int i = g0 * 32; all && i < (g0 + 4) * 32; ++i)
                    all = b.fibers[i].state == State::AtWarp && b.fibers[i].kind == 4
                          && b.fibers[i].wg_collective == b.fibers[l0].wg_collective;
                if (!all)
                    continue;
                void *lanes[128];
                for (int i = 0; i < 128; ++i)
                    lanes[i] = reinterpret_cast<void *>(b.fibers[g0 * 32 + i].value);
                b.cur_wg = g0 / 4;
                if (b.wg_state.size() <= static_cast<size_t>(b.cur_wg))
                    b.wg_state.resize(b.cur_wg + 1);
                b.fibers[l0].wg_collective(lanes);
                for (int i = g0 * 32; i < (g0 + 4) * 32; ++i)
                    b.fibers[i].state = State::Ready;
                released = true;
                continue;
            }
            int collectives = 0;
            for (int i = l0; i < l1; ++i)
                collectives += b.fibers[i].kind == 3;
            if (collectives != 0) {
                bool same = collectives == l1 - l0 && l1 - l0 == 32;
                for (int i = l0 + 1; same && i < l1; ++i)
                    same = b.fibers[i].collective == b.fibers[l0].collective;
                if (!same) {
                    error(l1 - l0 != 32 ? "warp collective (mma) in a warp of fewer than 32 threads"
                                        : "lanes of a warp at different warp operations");
                    return Run::Failed;
                }
                void *lanes[32];
                for (int i = l0; i < l1; ++i)
                    lanes[i - l0] = reinterpret_cast<void *>(b.fibers[i].value);
                b.fibers[l0].collective(lanes);
                for (int i = l0; i < l1; ++i)
                    b.fibers[i].state = State::Ready;
                released = true;
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
        int done = 0, barrier = 0, spin = 0, ready = 0;
        for (const Fiber &f : b.fibers) {
            done += f.state == State::Done;
            barrier += f.state == State::AtBarrier;
            spin += f.state == State::Spin;
            ready += f.state == State::Ready;
        }
        if (ready != 0)
            continue; // late warps held back this round (shuffle)
        if (done == n)
            return Run::Done;
        if (done + barrier == n) {
            for (Fiber &f : b.fibers)
                if (f.state == State::AtBarrier)
                    f.state = State::Ready;
            b.bar_or_result = b.bar_or_pending;
            b.bar_or_pending = 0;
            if (b.proxy_fence_pending) { // fence.proxy.async before this barrier
                b.async_smem = b.smem;
                b.proxy_fence_pending = false;
            }
            if (order.kind == Order::Shuffle)
                draw_late(order, warps);
            continue;
        }
        if (spin != 0)
            return Run::Parked; // the others wait for the spinning thread(s)
        error("deadlock: threads wait at different synchronisation points");
        return Run::Failed;
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

int syncthreads_or(int predicate)
{
    if (predicate)
        g_block->bar_or_pending = 1;
    yield(State::AtBarrier);
    return g_block->bar_or_result; // set at the release; the next release needs this thread again
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

void warp_collective(void *lane_data, warp_collective_fn fn)
{
    Fiber &f = g_block->fibers[g_block->cur];
    f.value = reinterpret_cast<uint64_t>(lane_data);
    f.kind = 3;
    f.arg = 0;
    f.collective = fn;
    yield(State::AtWarp);
}

void warpgroup_collective(void *lane_data, warpgroup_collective_fn fn)
{
    Fiber &f = g_block->fibers[g_block->cur];
    f.value = reinterpret_cast<uint64_t>(lane_data);
    f.kind = 4;
    f.arg = 0;
    f.wg_collective = fn;
    yield(State::AtWarp);
}

std::shared_ptr<void> &warpgroup_state()
{
    return g_block->wg_state[g_block->cur_wg];
}

uint32_t shared_address(const void *p)
{
    const unsigned char *c = static_cast<const unsigned char *>(p);
    const unsigned char *base = g_block->smem.data();
    if (c < base || c >= base + g_block->smem.size()) {
        error("shared address of a pointer outside the dynamic shared memory");
        return 0xFFFFFFFFu;
    }
    return static_cast<uint32_t>(c - base);
}

const unsigned char *async_shared(uint32_t addr, size_t bytes)
{
    if (static_cast<size_t>(addr) + bytes > g_block->async_smem.size()) {
        error("async proxy read outside the dynamic shared memory");
        return nullptr;
    }
    return g_block->async_smem.data() + addr;
}

void fence_proxy_async()
{
    g_block->proxy_fence_pending = true;
}

void cp_async(void *dst, const void *src, int bytes, int src_bytes)
{
    Fiber &f = g_block->fibers[g_block->cur];
    if ((bytes != 4 && bytes != 8 && bytes != 16) || src_bytes < 0 || src_bytes > bytes
        || (reinterpret_cast<uintptr_t>(dst) % bytes) != 0
        || (src_bytes > 0 && reinterpret_cast<uintptr_t>(src) % bytes != 0)) {
        error("cp.async: bad size or misaligned address");
        return;
    }
    f.copies.push_back(Fiber::Copy{dst, src, bytes, src_bytes, f.committed});
}

void cp_async_commit()
{
    ++g_block->fibers[g_block->cur].committed;
}

void cp_async_wait(int pending)
{
    Fiber &f = g_block->fibers[g_block->cur];
    const long long upto = f.committed - pending; // groups < upto are complete
    size_t kept = 0;
    for (size_t i = 0; i < f.copies.size(); ++i) {
        const Fiber::Copy &c = f.copies[i];
        if (c.group < upto) {
            if (c.src_bytes > 0)
                std::memcpy(c.dst, c.src, static_cast<size_t>(c.src_bytes));
            std::memset(static_cast<char *>(c.dst) + c.src_bytes,
                        0,
                        static_cast<size_t>(c.bytes - c.src_bytes));
        } else {
            f.copies[kept++] = c;
        }
    }
    f.copies.resize(kept);
}

void device_error(const char *what)
{
    error(what);
}

void pdl_wait()
{
    if (!g_pdl.on)
        return; // launched without the attribute: griddepcontrol.wait returns at once
    ++g_pdl.waits;
    if (g_block && g_block->cur >= 0)
        g_block->fibers[g_block->cur].pdlWaited = true;
    if (!g_pdl.blockWaited) {
        g_pdl.blockWaited = true;
        ++g_pdlCounts.waitedBlocks;
    }
    if (g_pdl.closed) {
        g_pdl.closed = false;
        pdl_open();
    }
}
void pdl_trigger()
{
    ++g_pdlCounts.triggers;
}
PdlCounts pdl_counts()
{
    return g_pdlCounts;
}

void *dynamic_smem()
{
    return g_block->smem.data();
}

int error_count()
{
    return g_errors;
}

namespace {

// FATHOM_EMU_BLOCK_ORDER (read once): the order a launch runs its blocks in. forward (the
// default): x fastest, then y, then z; reverse: the opposite; shuffle[:seed]: a permutation of
// the whole grid drawn per launch from one generator seeded once (the seed is printed, so a
// failing run can be repeated with the same launches). The blocks still run one after another,
// each to completion: a hand-off that assumes which block finishes last (or first) fails in
// reverse or shuffle order; interleavings of blocks and memory ordering are still not modelled.
// FATHOM_EMU_BLOCK_ORDER's and FATHOM_EMU_STREAMS's "shuffle[:seed]": true and the seed (a
// random one when none is given), false for any other value.
bool shuffle_seed(const char *env, unsigned long long &seed)
{
    if (std::strncmp(env, "shuffle", 7) != 0 || (env[7] != 0 && env[7] != ':'))
        return false;
    seed = env[7] == ':' ? std::strtoull(env + 8, nullptr, 10) : std::random_device{}();
    return true;
}

struct BlockOrder : EnvOrder
{
    std::vector<uint32_t> perm;
    BlockOrder()
        : EnvOrder("FATHOM_EMU_BLOCK_ORDER", "blocks")
    {}
};

Order read_order(const char *var, const char *what, std::mt19937_64 &rng)
{
    const char *env = std::getenv(var);
    if (!env || !*env || std::strcmp(env, "forward") == 0)
        return Order::Forward;
    if (std::strcmp(env, "reverse") == 0) {
        std::fprintf(stderr, "cuda emulation: %s in reverse order\n", what);
        return Order::Reverse;
    }
    if (unsigned long long seed = 0; shuffle_seed(env, seed)) {
        rng.seed(seed);
        std::fprintf(stderr,
                     "cuda emulation: %s in shuffled order (%s=shuffle:%llu repeats it)\n",
                     what,
                     var,
                     seed);
        return Order::Shuffle;
    }
    std::fprintf(stderr,
                 "cuda emulation: %s=%s not understood (forward, reverse, shuffle[:seed]); "
                 "forward\n",
                 var,
                 env);
    return Order::Forward;
}

BlockOrder &block_order()
{
    static BlockOrder o;
    return o;
}

// FATHOM_EMU_SMS (read once): the emulated SM count (default 132, an H100/H200's), reported by
// cudaGetDeviceProperties and cudaDevAttrMultiProcessorCount and the factor of a kernel's
// co-resident capacity (blocks_per_sm x SMs): a test can make a cooperative grid small.
int emulated_sms()
{
    static const int sms = [] {
        const char *env = std::getenv("FATHOM_EMU_SMS");
        if (!env || !*env)
            return 132;
        const long n = std::strtol(env, nullptr, 10);
        if (n < 1 || n > 4096) {
            std::fprintf(stderr, "cuda emulation: FATHOM_EMU_SMS=%s not understood; 132\n", env);
            return 132;
        }
        std::fprintf(stderr, "cuda emulation: %ld SMs\n", n);
        return static_cast<int>(n);
    }();
    return sms;
}

} // namespace

cudaError_t set_max_dynamic_smem(const void *kernel, int bytes)
{
    if (!kernel || bytes < 0 || bytes > 227 * 1024)
        return g_last = cudaErrorInvalidValue;
    g_smem_limits[kernel] = static_cast<size_t>(bytes);
    return cudaSuccess;
}

void run_kernel(dim3 grid,
                dim3 block,
                size_t smem,
                const std::function<void()> &body,
                bool pdl,
                const void *kernel)
{
    const unsigned long long threads = 1ull * block.x * block.y * block.z;
    if (threads == 0 || threads > k_max_threads || grid.x == 0 || grid.y == 0 || grid.z == 0
        || grid.y > 65535 || grid.z > 65535 || smem > 227 * 1024) {
        ++g_errors;
        g_last = cudaErrorInvalidValue;
        std::fprintf(stderr, "cuda emulation: invalid launch configuration\n");
        return;
    }
    // Over 48 KB of dynamic shared memory only after cudaFuncSetAttribute raised the kernel's
    // limit (the real launch fails with "invalid argument" otherwise).
    if (smem > 48 * 1024) {
        size_t limit = 48 * 1024;
        if (auto it = g_smem_limits.find(kernel); it != g_smem_limits.end())
            limit = it->second;
        if (smem > limit) {
            ++g_errors;
            g_last = cudaErrorInvalidValue;
            std::fprintf(stderr,
                         "cuda emulation: %zu bytes of dynamic shared memory over the kernel's "
                         "limit of %zu (cudaFuncSetAttribute not called)\n",
                         smem,
                         limit);
            return;
        }
    }
    ++g_launches;
    DeviceAccess open;
    // The blocks start one after another in the block order; a block whose thread spins at a
    // grid barrier is parked with its fibers (its own Block and stack slab) and the next one
    // starts, until every block has started or the parked ones fill the kernel's co-resident
    // capacity; then the parked blocks are resumed round-robin (see cuda_runtime.h).
    auto fresh = [&] {
        auto nb = std::make_unique<Block>();
        nb->grid = grid;
        nb->block = block;
        nb->body = &body;
        nb->smem.assign(smem + 16, 0xFF);
        nb->stacks = acquire_stacks();
        return nb;
    };
    std::unique_ptr<Block> cur = fresh();
    std::vector<std::unique_ptr<Block>> parked;
    g_block = cur.get();
    g_spinFailed = false;
    g_pdl = PdlRun{};
    g_pdl.on = pdl;
    g_pdl.kernel = kernel;
    g_pdlCounts.kernels += pdl;
    BlockOrder &order = block_order();
    const uint64_t nblocks = 1ull * grid.x * grid.y * grid.z;
    if (order.kind == Order::Shuffle) {
        order.perm.resize(nblocks);
        std::iota(order.perm.begin(), order.perm.end(), 0u);
        std::shuffle(order.perm.begin(), order.perm.end(), order.rng);
    }
    // The most blocks resident at once (asked only once a block has parked).
    uint64_t capacity = 0;
    auto room = [&] {
        if (parked.empty())
            return true;
        if (capacity == 0)
            capacity = 1ull * blocks_per_sm(kernel, static_cast<int>(threads), smem)
                       * emulated_sms();
        return parked.size() < capacity;
    };
    // A block leaves the device: its PDL state kept, the device region open again.
    auto leave = [](Block &lb) {
        lb.pdlWaited = g_pdl.blockWaited;
        lb.pdlClosed = g_pdl.closed;
        if (g_pdl.closed) {
            g_pdl.closed = false;
            pdl_open();
        }
    };
    uint64_t k = 0;
    for (;;) {
        for (; k < nblocks && room(); ++k) {
            const uint64_t i = order.kind == Order::Forward   ? k
                               : order.kind == Order::Reverse ? nblocks - 1 - k
                                                              : order.perm[k];
            Block &b = *cur;
            g_block = &b;
            b.bid = dim3(static_cast<unsigned>(i % grid.x),
                         static_cast<unsigned>(i / grid.x % grid.y),
                         static_cast<unsigned>(i / grid.x / grid.y));
            std::fill(b.smem.begin(), b.smem.end(), 0xFF);
            b.async_smem = b.smem;
            b.proxy_fence_pending = false;
            b.bar_or_pending = b.bar_or_result = 0;
            b.wg_state.clear();
            if (pdl) {
                ++g_pdlCounts.blocks;
                g_pdl.blockWaited = false;
                g_pdl.closed = pdl_close();
            }
            init_block(b);
            const Run r = run_block(b);
            leave(b);
            if (r == Run::Parked) {
                parked.push_back(std::move(cur));
                cur = fresh();
            }
        }
        if (parked.empty())
            break;
        // A resume round: each parked block once, its spinning threads' grid_spin() returning.
        const long long steps = g_steps;
        const size_t alive = parked.size();
        for (size_t j = 0; j < parked.size();) {
            Block &b = *parked[j];
            g_block = &b;
            g_pdl.blockWaited = b.pdlWaited;
            g_pdl.closed = b.pdlClosed && pdl_close();
            for (Fiber &f : b.fibers)
                if (f.state == State::Spin)
                    f.state = State::Ready;
            const Run r = run_block(b);
            leave(b);
            if (r == Run::Parked) {
                ++j;
                continue;
            }
            release_stacks(b.stacks);
            parked.erase(parked.begin() + static_cast<std::ptrdiff_t>(j));
        }
        if (!g_spinFailed && parked.size() == alive && g_steps == steps) {
            // Every resumed spinner spun again and none may start: memory cannot change.
            if (capacity == 0)
                capacity = 1ull * blocks_per_sm(kernel, static_cast<int>(threads), smem)
                           * emulated_sms();
            char buf[320];
            std::snprintf(buf,
                          sizeof buf,
                          "kernel 0x%zx (addr2line -f -C -e <test> 0x%zx): deadlock at a grid "
                          "barrier, %s (%zu of %llu blocks parked, %llu never started; %llu "
                          "resident at most)",
                          static_cast<size_t>(image_offset(kernel)),
                          static_cast<size_t>(image_offset(kernel)),
                          k < nblocks ? "more blocks wait at a grid barrier than can be resident"
                                      : "a block never arrives",
                          parked.size(),
                          static_cast<unsigned long long>(nblocks),
                          static_cast<unsigned long long>(nblocks - k),
                          static_cast<unsigned long long>(capacity));
            report(buf);
            g_spinFailed = true; // the next round's spinners give up (the device's time-out)
        }
    }
    release_stacks(cur->stacks);
    cur.reset();
    g_block = nullptr;
    if (pdl && g_pdl.waits == 0) {
        ++g_pdlCounts.noWait;
        char buf[200];
        std::snprintf(buf,
                      sizeof buf,
                      "kernel 0x%zx (addr2line -f -C -e <test> 0x%zx) was launched with PDL but "
                      "never calls FATHOM_PDL_WAIT()",
                      static_cast<size_t>(image_offset(kernel)),
                      static_cast<size_t>(image_offset(kernel)));
        report(buf);
    }
    g_pdl = PdlRun{};
}

// ---- device memory, strict mode ------------------------------------------------------------------

namespace {

constexpr size_t k_region = size_t(8) << 30; // reserved, not committed (MAP_NORESERVE)
constexpr size_t k_align = 256;              // as cudaMalloc
char *g_region = nullptr;
size_t g_top = 0;                           // bump pointer (offset)
std::map<void *, size_t> g_allocs;          // live blocks
std::multimap<size_t, void *> g_freeBlocks; // freed blocks by size, reused exactly
bool g_strict = false;
int g_open = 0; // DeviceAccess nesting
std::vector<std::pair<const char *, size_t>> g_hostRanges;

void report(const char *what)
{
    ++g_errors;
    g_last = cudaErrorLaunchFailure;
    std::fprintf(stderr, "cuda emulation: %s\n", what);
}

constexpr size_t k_page = 4096;
std::map<const char *, size_t> g_weights; // register_weight_range, page-aligned
bool g_prefetchLog = false;
std::vector<Prefetch> g_prefetches;

void protect(bool open)
{
    if (!g_strict || !g_region || g_top == 0)
        return;
    const size_t len = (g_top + k_page - 1) / k_page * k_page;
    mprotect(g_region, len, open ? (PROT_READ | PROT_WRITE) : PROT_NONE);
}

// The SIGSEGV of a kernel that touched closed memory before its wait: says so, then dies.
void pdl_fault(int sig, siginfo_t *info, void *)
{
    if (g_pdl.closed) {
        char buf[256];
        const int n = std::snprintf(buf,
                                    sizeof buf,
                                    "cuda emulation: kernel 0x%zx (addr2line -f -C -e <test> "
                                    "0x%zx) touched non-weight device memory (%p) before "
                                    "FATHOM_PDL_WAIT() in a PDL launch\n",
                                    static_cast<size_t>(image_offset(g_pdl.kernel)),
                                    static_cast<size_t>(image_offset(g_pdl.kernel)),
                                    info ? info->si_addr : nullptr);
        if (n > 0)
            (void) !write(2, buf, static_cast<size_t>(n));
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

// Closes the device region except the weights (strict mode, a PDL block before its wait);
// false when there is nothing to close.
bool pdl_close()
{
    if (!g_strict || !g_region || g_top == 0)
        return false;
    static bool handler = false;
    if (!handler) {
        struct sigaction sa = {};
        sa.sa_sigaction = pdl_fault;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGSEGV, &sa, nullptr);
        sigaction(SIGBUS, &sa, nullptr);
        handler = true;
    }
    const size_t len = (g_top + k_page - 1) / k_page * k_page;
    size_t at = 0;
    for (const auto &[p, n] : g_weights) {
        const size_t b = static_cast<size_t>(p - g_region);
        if (b > at)
            mprotect(g_region + at, b - at, PROT_NONE);
        at = std::max(at, b + n);
    }
    if (len > at)
        mprotect(g_region + at, len - at, PROT_NONE);
    return true;
}

void pdl_open()
{
    protect(true);
}

bool reserve()
{
    if (g_region)
        return true;
    void *p = mmap(nullptr,
                   k_region,
                   PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1,
                   0);
    if (p == MAP_FAILED)
        return false;
    g_region = static_cast<char *>(p);
    return true;
}

struct Stream;
// Work enqueued on a stream outside a capture and not yet run (FATHOM_EMU_STREAMS=shuffle): an
// operation, or a cudaStreamWaitEvent (no op: ready once `waitFor` has run `until` entries).
struct Pending
{
    std::function<void()> op;
    Stream *waitFor = nullptr;
    long long until = 0;
};
struct Stream
{
    bool capturing = false;
    bool relaxed = false;
    bool invalidated = false;
    std::vector<std::function<void()>> ops;
    std::vector<const void *> kinds; // of ops
    std::vector<std::string> sigs;   // of ops
    std::vector<char> pdl;           // of ops: a kernel launched with the PDL attribute
    // Outside captures: entries enqueued (operations, event records and waits), of them those run
    // (the first `done`), and the deferred rest in order.
    long long enqueued = 0, done = 0;
    std::deque<Pending> pending;
};
std::set<Stream *> g_streams;
Stream g_default;
int g_captures = 0;       // streams capturing now
int g_strictCaptures = 0; // of them, in the global or thread-local mode

Stream *stream_of(cudaStream_t s)
{
    return s ? reinterpret_cast<Stream *>(s) : &g_default;
}

bool live_stream(cudaStream_t s)
{
    return !s || g_streams.count(reinterpret_cast<Stream *>(s)) != 0;
}

// FATHOM_EMU_STREAMS (read once): unset or "inorder": every stream's work runs when enqueued;
// shuffle[:seed]: deferred until the host waits, then run in a random interleaving of the
// streams (one generator seeded once, the seed printed) that keeps only each stream's order and
// the event waits (see cuda_runtime.h).
struct StreamOrder
{
    bool deferred = false;
    std::mt19937_64 rng;
};

StreamOrder &stream_order()
{
    static StreamOrder o = [] {
        StreamOrder so;
        const char *env = std::getenv("FATHOM_EMU_STREAMS");
        if (!env || !*env || std::strcmp(env, "inorder") == 0)
            return so;
        if (unsigned long long seed = 0; shuffle_seed(env, seed)) {
            so.deferred = true;
            so.rng.seed(seed);
            std::fprintf(stderr,
                         "cuda emulation: streams deferred, run interleaved at random "
                         "(FATHOM_EMU_STREAMS=shuffle:%llu repeats it)\n",
                         seed);
            return so;
        }
        std::fprintf(stderr,
                     "cuda emulation: FATHOM_EMU_STREAMS=%s not understood (inorder, "
                     "shuffle[:seed]); inorder\n",
                     env);
        return so;
    }();
    return o;
}

// Whether a wait entry's condition holds (a destroyed stream ran everything: see
// cudaStreamDestroy).
bool wait_met(const Pending &p)
{
    if (!p.waitFor)
        return true;
    if (p.waitFor != &g_default && !g_streams.count(p.waitFor))
        return true;
    return p.waitFor->done >= p.until;
}

// Runs deferred work, one entry at a time from a stream drawn at random among those whose next
// entry is ready, until `enough` holds (or nothing is ready: a wait that can never be met).
void drain(const std::function<bool()> &enough)
{
    std::vector<Stream *> ready;
    while (!enough()) {
        ready.clear();
        if (!g_default.pending.empty() && wait_met(g_default.pending.front()))
            ready.push_back(&g_default);
        for (Stream *s : g_streams)
            if (!s->pending.empty() && wait_met(s->pending.front()))
                ready.push_back(s);
        if (ready.empty()) {
            bool any = !g_default.pending.empty();
            for (Stream *s : g_streams)
                any = any || !s->pending.empty();
            if (any)
                report("deferred stream work waits on work that never runs");
            return;
        }
        Stream *s
            = ready[std::uniform_int_distribution<size_t>(0, ready.size() - 1)(stream_order().rng)];
        Pending p = std::move(s->pending.front());
        s->pending.pop_front();
        if (p.op)
            p.op();
        ++s->done;
    }
}

// The host waits for stream s's work up to entry `until` (every entry: -1).
void drain_stream(Stream *s, long long until = -1)
{
    if (!stream_order().deferred)
        return;
    drain([s, until] { return until < 0 ? s->pending.empty() : s->done >= until; });
}

// The host waits for the device.
void drain_all()
{
    if (!stream_order().deferred)
        return;
    drain([] {
        if (!g_default.pending.empty())
            return false;
        for (Stream *s : g_streams)
            if (!s->pending.empty())
                return false;
        return true;
    });
}

// A call the runtime refuses while a capture (global / thread-local mode) is under way: fails and
// invalidates every capture, as the real runtime does.
bool refused_in_capture(const char *call, bool evenRelaxed = false)
{
    if (evenRelaxed ? g_captures == 0 : g_strictCaptures == 0)
        return false;
    for (Stream *s : g_streams)
        if (s->capturing)
            s->invalidated = true;
    if (g_default.capturing)
        g_default.invalidated = true;
    std::fprintf(stderr, "cuda emulation: %s during a stream capture (not permitted)\n", call);
    g_last = cudaErrorStreamCaptureUnsupported;
    return true;
}

} // namespace

void set_strict(bool on)
{
    if (on == g_strict)
        return;
    if (!on)
        protect(true);
    g_strict = on;
    if (on && g_open == 0)
        protect(false);
}
bool strict()
{
    return g_strict;
}
void register_host_range(const void *p, size_t bytes)
{
    if (p && bytes)
        g_hostRanges.push_back({static_cast<const char *>(p), bytes});
}
void clear_host_ranges()
{
    g_hostRanges.clear();
}
void register_weight_range(const void *p, size_t bytes)
{
    const char *c = static_cast<const char *>(p);
    if (!p || !bytes || !in_device_memory(p))
        return;
    // Only whole pages can stay open: the allocator gives blocks of a page or more whole pages of
    // their own, so the range's last partial page is open up to the end of its block (rounding the
    // end down instead left the tail weights closed: whichever tensor the upload placed last, which
    // depends on the host tensors' addresses, faulted at random).
    const size_t off = static_cast<size_t>(c - g_region);
    size_t end = off + bytes;
    if (auto it = g_allocs.upper_bound(const_cast<char *>(c)); it != g_allocs.begin()) {
        --it;
        const size_t blockEnd = static_cast<size_t>(static_cast<const char *>(it->first) - g_region)
                                + it->second;
        const size_t pageEnd = (end + k_page - 1) / k_page * k_page;
        if (blockEnd % k_page == 0 && pageEnd <= blockEnd)
            end = pageEnd;
    }
    const size_t b = (off + k_page - 1) / k_page * k_page;
    const size_t e = end / k_page * k_page;
    if (e > b)
        g_weights[g_region + b] = e - b;
}
void prefetch_l2(const void *p, uint32_t bytes)
{
    const char *c = static_cast<const char *>(p);
    auto it = g_allocs.upper_bound(const_cast<char *>(c));
    const bool inside = it != g_allocs.begin()
                        && (--it,
                            c >= static_cast<const char *>(it->first)
                                && c + bytes <= static_cast<const char *>(it->first) + it->second);
    if (reinterpret_cast<uintptr_t>(p) % 16 != 0 || bytes % 16 != 0 || !inside) {
        error("prefetch_l2: misaligned, or not inside one device allocation");
        return;
    }
    volatile unsigned char sink = 0;
    for (uint32_t i = 0; i < bytes; i += 1024)
        sink = sink + static_cast<unsigned char>(c[i]);
    if (bytes)
        sink = sink + static_cast<unsigned char>(c[bytes - 1]);
    ++g_pdlCounts.prefetches;
    if (g_prefetchLog)
        g_prefetches.push_back(
            {p,
             bytes,
             g_pdl.on && g_block && g_block->cur >= 0 && !g_block->fibers[g_block->cur].pdlWaited});
}
void prefetch_log(bool on)
{
    g_prefetchLog = on;
    g_prefetches.clear();
}
std::vector<Prefetch> prefetch_log_take()
{
    return std::move(g_prefetches);
}
void peek(void *dst, const void *src, size_t n)
{
    ++g_pdlCounts.peeks;
    if (!g_pdl.closed || n == 0) {
        std::memcpy(dst, src, n);
        return;
    }
    // Open the pages for the copy, then close the ones no weight range keeps open.
    const size_t off = static_cast<size_t>(static_cast<const char *>(src) - g_region);
    const size_t b = off / k_page * k_page, e = (off + n + k_page - 1) / k_page * k_page;
    mprotect(g_region + b, e - b, PROT_READ | PROT_WRITE);
    std::memcpy(dst, src, n);
    for (size_t at = b; at < e; at += k_page) {
        auto w = g_weights.upper_bound(g_region + at);
        const bool weight = w != g_weights.begin()
                            && (--w,
                                g_region + at >= w->first && g_region + at < w->first + w->second);
        if (!weight)
            mprotect(g_region + at, k_page, PROT_NONE);
    }
}
bool in_device_memory(const void *p)
{
    const char *c = static_cast<const char *>(p);
    return g_region && c >= g_region && c < g_region + g_top;
}
void check_pointer_arg(const void *p, int index)
{
    if (!p || in_device_memory(p))
        return;
    char buf[160];
    std::snprintf(buf,
                  sizeof buf,
                  "kernel argument %d is a host pointer (%p), not device memory",
                  index,
                  p);
    report(buf);
}
void check_struct_arg(const void *bytes, size_t size, int index)
{
    if (g_hostRanges.empty())
        return;
    for (size_t off = 0; off + 8 <= size; off += 8) {
        uint64_t w;
        std::memcpy(&w, static_cast<const char *>(bytes) + off, 8);
        const char *c = reinterpret_cast<const char *>(w);
        for (const auto &[b, n] : g_hostRanges)
            if (c >= b && c < b + n) {
                char buf[200];
                std::snprintf(buf,
                              sizeof buf,
                              "kernel argument %d (a struct) holds a host pointer into a model "
                              "tensor at byte %zu (%p)",
                              index,
                              off,
                              static_cast<const void *>(c));
                report(buf);
                return;
            }
    }
}
DeviceAccess::DeviceAccess()
{
    if (g_open++ == 0)
        protect(true);
}
DeviceAccess::~DeviceAccess()
{
    if (--g_open == 0)
        protect(false);
}
void enqueue(cudaStream_t stream,
             std::function<void()> op,
             const void *kind,
             std::string sig,
             bool programmatic)
{
    Stream *s = stream_of(stream);
    if (s->capturing) {
        s->ops.push_back(std::move(op));
        s->kinds.push_back(kind);
        s->sigs.push_back(std::move(sig));
        s->pdl.push_back(programmatic);
        return;
    }
    ++s->enqueued;
    if (stream_order().deferred) {
        s->pending.push_back(Pending{std::move(op)});
        return;
    }
    op();
    ++s->done;
}
long long launch_count()
{
    return g_launches;
}
void reset_launch_count()
{
    g_launches = 0;
}
long long readback_count()
{
    return g_readbacks;
}
long long wait_count()
{
    return g_waits;
}
long long upload_count()
{
    return g_uploads;
}
long long graph_launch_count()
{
    return g_graphLaunches;
}
long long g_updates = 0, g_updateNodes = 0, g_updateChanged = 0, g_updateUnchanged = 0;
long long graph_update_nodes()
{
    return g_updateNodes;
}
std::map<const void *, long long> g_changedKinds;
long long graph_update_count()
{
    return g_updates;
}
long long graph_update_changed_nodes()
{
    return g_updateChanged;
}
long long graph_update_unchanged()
{
    return g_updateUnchanged;
}
std::vector<std::pair<const void *, long long>> graph_update_changed_kinds()
{
    std::vector<std::pair<const void *, long long>> out(g_changedKinds.begin(),
                                                        g_changedKinds.end());
    std::stable_sort(out.begin(), out.end(), [](const auto &a, const auto &b) {
        return a.second > b.second;
    });
    return out;
}
CaptureCensus g_lastCensus;
CaptureCensus last_capture_census()
{
    return g_lastCensus;
}
void reset_graph_update_counts()
{
    g_updates = g_updateNodes = g_updateChanged = g_updateUnchanged = 0;
    g_changedKinds.clear();
}
void reset_round_trip_counts()
{
    g_readbacks = 0;
    g_waits = 0;
    g_uploads = 0;
    g_graphLaunches = 0;
}

} // namespace emu

using emu::g_last;

struct CUgraph_st
{
    std::vector<std::function<void()>> ops;
    std::vector<const void *> kinds;
    std::vector<std::string> sigs;
    std::vector<char> pdl; // programmatic launches (their edges are part of the topology)
};
struct CUgraphExec_st
{
    std::vector<std::function<void()>> ops;
    std::vector<const void *> kinds;
    std::vector<std::string> sigs;
    std::vector<char> pdl;
};

namespace {
// Node kinds of copies and memsets (kernels are named by their function).
const char k_copyNode = 0, k_memsetNode = 0;
} // namespace
struct CUevent_st
{
    std::chrono::steady_clock::time_point at{};
    bool recorded = false;
    bool timing = true; // not created with cudaEventDisableTiming
    // The latest cudaEventRecord: its stream and the entry it is there (outside a capture), or
    // inCapture (recorded into a capture: waits on it are not modelled).
    emu::Stream *stream = nullptr;
    long long seq = 0;
    bool inCapture = false;
};
namespace {
std::set<CUevent_st *> g_events; // live events (cudaEventCreate*, not yet destroyed)
} // namespace

cudaError_t cudaMallocBytes(void **p, size_t n)
{
    *p = nullptr;
    if (emu::refused_in_capture("cudaMalloc"))
        return cudaErrorStreamCaptureUnsupported;
    if (!emu::reserve())
        return cudaErrorMemoryAllocation;
    // Blocks of a page or more start on a page and fill whole pages, so that weights
    // (register_weight_range) can be left open alone while a PDL kernel waits.
    const size_t align = n >= emu::k_page ? emu::k_page : emu::k_align;
    const size_t size = (std::max<size_t>(n, 1) + align - 1) / align * align;
    if (auto it = emu::g_freeBlocks.find(size); it != emu::g_freeBlocks.end()) {
        *p = it->second;
        emu::g_freeBlocks.erase(it);
    } else {
        const size_t top = (emu::g_top + align - 1) / align * align;
        if (top > emu::k_region || size > emu::k_region - top)
            return cudaErrorMemoryAllocation;
        emu::g_top = top;
        *p = emu::g_region + emu::g_top;
        emu::g_top += size;
        if (emu::g_strict && emu::g_open == 0)
            emu::protect(false);
    }
    emu::g_allocs[*p] = size;
    return cudaSuccess;
}
cudaError_t cudaFree(void *p)
{
    if (!p)
        return cudaSuccess;
    if (emu::refused_in_capture("cudaFree"))
        return cudaErrorStreamCaptureUnsupported;
    emu::drain_all(); // cudaFree waits for the device
    auto it = emu::g_allocs.find(p);
    if (it == emu::g_allocs.end()) {
        emu::report("cudaFree of a pointer that cudaMalloc did not return");
        return cudaErrorInvalidValue;
    }
    emu::g_freeBlocks.emplace(it->second, p);
    for (auto w = emu::g_weights.begin(); w != emu::g_weights.end();) {
        const char *c = static_cast<const char *>(p);
        if (w->first >= c && w->first < c + it->second)
            w = emu::g_weights.erase(w);
        else
            ++w;
    }
    emu::g_allocs.erase(it);
    return cudaSuccess;
}

namespace {

bool copy_ok(void *dst, const void *src, cudaMemcpyKind kind)
{
    if (!emu::g_strict || kind == cudaMemcpyDefault || kind == cudaMemcpyHostToHost)
        return true;
    const bool dd = emu::in_device_memory(dst), sd = emu::in_device_memory(src);
    const bool ok = kind == cudaMemcpyHostToDevice   ? dd && !sd
                    : kind == cudaMemcpyDeviceToHost ? sd && !dd
                                                     : dd && sd;
    if (!ok)
        emu::report("cudaMemcpy with pointers that do not match its direction");
    return ok;
}

void do_copy(void *dst, const void *src, size_t n)
{
    emu::DeviceAccess open;
    std::memmove(dst, src, n);
}

} // namespace

cudaError_t cudaMemcpy(void *dst, const void *src, size_t n, cudaMemcpyKind kind)
{
    if (emu::refused_in_capture("cudaMemcpy (synchronous)"))
        return cudaErrorStreamCaptureUnsupported;
    if (!copy_ok(dst, src, kind))
        return cudaErrorInvalidValue;
    ++emu::g_waits;
    emu::g_readbacks += kind == cudaMemcpyDeviceToHost;
    emu::drain_all();
    do_copy(dst, src, n);
    return cudaSuccess;
}
cudaError_t cudaMemset(void *p, int value, size_t n)
{
    if (emu::refused_in_capture("cudaMemset (synchronous)"))
        return cudaErrorStreamCaptureUnsupported;
    emu::drain_all();
    emu::DeviceAccess open;
    std::memset(p, value, n);
    return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(
    void *dst, const void *src, size_t n, cudaMemcpyKind kind, cudaStream_t stream)
{
    if (!copy_ok(dst, src, kind))
        return cudaErrorInvalidValue;
    emu::Stream *s = emu::stream_of(stream);
    const void *host = kind == cudaMemcpyHostToDevice   ? src
                       : kind == cudaMemcpyDeviceToHost ? static_cast<const void *>(dst)
                                                        : nullptr;
    if (s->capturing && host && !emu::pinned(host, n)) {
        // Copies from or to pageable host memory cannot be captured.
        emu::refused_in_capture("cudaMemcpyAsync to or from (pageable) host memory", true);
        return cudaErrorStreamCaptureUnsupported;
    }
    if (!s->capturing) {
        emu::g_readbacks += kind == cudaMemcpyDeviceToHost;
        emu::g_uploads += kind == cudaMemcpyHostToDevice;
    }
    std::string sig;
    emu::append_sig(sig, dst);
    emu::append_sig(sig, src);
    emu::append_sig(sig, n);
    const bool pageable = host && !emu::pinned(host, n);
    if (!s->capturing && pageable && kind == cudaMemcpyHostToDevice
        && emu::stream_order().deferred) {
        // The runtime stages a pageable source before the call returns: the caller may reuse it.
        auto staged = std::make_shared<std::vector<char>>(static_cast<const char *>(src),
                                                          static_cast<const char *>(src) + n);
        emu::enqueue(
            stream,
            [dst, staged, n]() { do_copy(dst, staged->data(), n); },
            &k_copyNode,
            std::move(sig));
        return cudaSuccess;
    }
    emu::enqueue(
        stream, [dst, src, n]() { do_copy(dst, src, n); }, &k_copyNode, std::move(sig));
    if (!s->capturing && pageable && kind == cudaMemcpyDeviceToHost)
        emu::drain_stream(s, s->enqueued); // returns once a pageable destination is written
    return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void *p, int value, size_t n, cudaStream_t stream)
{
    emu::enqueue(
        stream,
        [p, value, n]() {
            emu::DeviceAccess open;
            std::memset(p, value, n);
        },
        &k_memsetNode,
        std::string(reinterpret_cast<const char *>(&p), sizeof p)
            + std::string(reinterpret_cast<const char *>(&value), sizeof value)
            + std::string(reinterpret_cast<const char *>(&n), sizeof n));
    return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t *free, size_t *total)
{
    *total = emu::k_region;
    *free = emu::k_region - emu::g_top;
    return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize()
{
    if (emu::refused_in_capture("cudaDeviceSynchronize"))
        return cudaErrorStreamCaptureUnsupported;
    ++emu::g_waits;
    emu::drain_all();
    const cudaError_t e = g_last;
    g_last = cudaSuccess;
    return e;
}
cudaError_t cudaGetLastError()
{
    const cudaError_t e = g_last;
    g_last = cudaSuccess;
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
    case cudaErrorStreamCaptureUnsupported:
        return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated:
        return "operation failed due to a previous error during capture";
    case cudaErrorInvalidResourceHandle:
        return "invalid resource handle";
    default:
        return "unspecified launch failure (emulation)";
    }
}
const char *cudaGetErrorName(cudaError_t e)
{
    switch (e) {
    case cudaSuccess:
        return "cudaSuccess";
    case cudaErrorMemoryAllocation:
        return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidValue:
        return "cudaErrorInvalidValue";
    case cudaErrorStreamCaptureUnsupported:
        return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated:
        return "cudaErrorStreamCaptureInvalidated";
    case cudaErrorInvalidResourceHandle:
        return "cudaErrorInvalidResourceHandle";
    default:
        return "cudaErrorLaunchFailure";
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
cudaError_t cudaSetDevice(int device)
{
    return device == 0 ? cudaSuccess : cudaErrorInvalidValue;
}
cudaError_t cudaDriverGetVersion(int *version)
{
    *version = 13000;
    return cudaSuccess;
}
cudaError_t cudaRuntimeGetVersion(int *version)
{
    *version = 13000;
    return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int)
{
    if (attr == cudaDevAttrComputeCapabilityMajor) {
        *value = 9;
        return cudaSuccess;
    }
    if (attr == cudaDevAttrMultiProcessorCount) {
        *value = emu::emulated_sms();
        return cudaSuccess;
    }
    *value = 227 * 1024; // as an H100/H200
    return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *prop, int)
{
    std::memset(prop, 0, sizeof *prop);
    std::snprintf(prop->name, sizeof prop->name, "CPU emulation of the CUDA model");
    prop->totalGlobalMem = emu::k_region;
    prop->major = 9;
    prop->minor = 0;
    prop->multiProcessorCount = emu::emulated_sms();
    return cudaSuccess;
}

namespace emu {
// A plausible model of an sm_90 SM's occupancy (not the real calculator): 2048 threads, 228 KiB
// of shared memory of which each block also takes 1 KiB reserved, at most 32 blocks; registers
// and static shared memory are not counted (the kernels here stay within them).
int blocks_per_sm(const void *, int threads, size_t smem)
{
    const int by_threads = 2048 / std::max(threads, 1);
    const int by_smem = static_cast<int>((228u * 1024u) / (smem + 1024u));
    return std::max(0, std::min({by_threads, by_smem, 32}));
}
// The block is parked (run_kernel resumes it when no other block may start); false once the
// launch has been found deadlocked (every spinner then gives up, as the device's time-out).
bool grid_spin()
{
    if (!g_block || g_block->cur < 0) {
        report("grid barrier spin outside a kernel");
        return false;
    }
    if (g_spinFailed)
        return false;
    g_block->fibers[g_block->cur].spun = true;
    yield(State::Spin);
    return !g_spinFailed;
}
void grid_preempt()
{
    BlockOrder &o = block_order();
    if (o.kind != Order::Shuffle || g_spinFailed || !g_block || g_block->cur < 0
        || g_block->fibers[g_block->cur].spun)
        return; // not inside a spin loop: a resume there must show whether the spinner spun again
    if (std::uniform_int_distribution<int>(0, 1)(o.rng) != 0) {
        yield(State::Spin);
        ++g_steps; // resumed: it may change memory now (arrive), which is progress
    }
}
} // namespace emu

// ---- streams, graphs, events ----------------------------------------------------------------------

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned)
{
    auto *s = new emu::Stream;
    emu::g_streams.insert(s);
    *stream = reinterpret_cast<cudaStream_t>(s);
    return cudaSuccess;
}
cudaError_t cudaStreamCreate(cudaStream_t *stream)
{
    return cudaStreamCreateWithFlags(stream, cudaStreamDefault);
}
cudaError_t cudaStreamDestroy(cudaStream_t stream)
{
    auto *s = reinterpret_cast<emu::Stream *>(stream);
    if (!emu::g_streams.count(s))
        return cudaErrorInvalidResourceHandle;
    emu::drain_stream(s); // its queued work still runs
    emu::g_streams.erase(s);
    if (s->capturing) {
        --emu::g_captures;
        emu::g_strictCaptures -= !s->relaxed;
    }
    delete s;
    return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t stream)
{
    if (emu::stream_of(stream)->capturing || emu::g_captures) {
        emu::refused_in_capture("cudaStreamSynchronize", true);
        return cudaErrorStreamCaptureUnsupported;
    }
    if (!emu::live_stream(stream))
        return cudaErrorInvalidResourceHandle;
    ++emu::g_waits;
    emu::drain_stream(emu::stream_of(stream));
    const cudaError_t e = g_last;
    g_last = cudaSuccess;
    return e;
}
cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode)
{
    emu::Stream *s = emu::stream_of(stream);
    if (!stream || s->capturing)
        return cudaErrorInvalidValue; // the legacy stream cannot be captured
    s->capturing = true;
    s->relaxed = mode == cudaStreamCaptureModeRelaxed;
    emu::g_strictCaptures += !s->relaxed;
    s->invalidated = false;
    s->ops.clear();
    s->kinds.clear();
    s->sigs.clear();
    s->pdl.clear();
    ++emu::g_captures;
    return cudaSuccess;
}
cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t *graph)
{
    emu::Stream *s = emu::stream_of(stream);
    *graph = nullptr;
    if (!s->capturing)
        return cudaErrorInvalidValue;
    s->capturing = false;
    --emu::g_captures;
    emu::g_strictCaptures -= !s->relaxed;
    if (s->invalidated) {
        s->ops.clear();
        return cudaErrorStreamCaptureInvalidated;
    }
    emu::CaptureCensus census;
    std::map<const void *, long long> kernelKinds;
    for (size_t i = 0; i < s->kinds.size(); ++i) {
        if (s->kinds[i] == &k_copyNode) {
            ++census.copies;
        } else if (s->kinds[i] == &k_memsetNode) {
            ++census.memsets;
            int value = 0; // the signature is pointer, value, size
            if (s->sigs[i].size() >= sizeof(void *) + sizeof value)
                std::memcpy(&value, s->sigs[i].data() + sizeof(void *), sizeof value);
            census.poisonMemsets += value == 0xFF;
        } else if (s->kinds[i]) {
            ++census.kernels;
            ++kernelKinds[s->kinds[i]];
            census.kernelOrder.push_back(s->kinds[i]);
            if (s->pdl[i]) {
                ++census.pdlKernels;
                const void *prev = i > 0 ? s->kinds[i - 1] : nullptr;
                census.programmaticEdges += prev && prev != &k_copyNode && prev != &k_memsetNode;
            }
        }
    }
    census.kernelKinds.assign(kernelKinds.begin(), kernelKinds.end());
    std::stable_sort(census.kernelKinds.begin(),
                     census.kernelKinds.end(),
                     [](const auto &a, const auto &b) { return a.second > b.second; });
    emu::g_lastCensus = std::move(census);
    auto *g = new CUgraph_st;
    g->ops = std::move(s->ops);
    g->kinds = std::move(s->kinds);
    g->sigs = std::move(s->sigs);
    g->pdl = std::move(s->pdl);
    s->ops.clear();
    s->kinds.clear();
    s->sigs.clear();
    s->pdl.clear();
    *graph = g;
    return cudaSuccess;
}
cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus *status)
{
    const emu::Stream *s = emu::stream_of(stream);
    *status = !s->capturing    ? cudaStreamCaptureStatusNone
              : s->invalidated ? cudaStreamCaptureStatusInvalidated
                               : cudaStreamCaptureStatusActive;
    return cudaSuccess;
}
cudaError_t cudaGraphInstantiate(cudaGraphExec_t *exec, cudaGraph_t graph, unsigned long long)
{
    if (!graph)
        return cudaErrorInvalidValue;
    auto *x = new CUgraphExec_st;
    x->ops = graph->ops;
    x->kinds = graph->kinds;
    x->sigs = graph->sigs;
    x->pdl = graph->pdl;
    *exec = x;
    return cudaSuccess;
}
cudaError_t cudaGraphExecUpdate(cudaGraphExec_t exec,
                                cudaGraph_t graph,
                                cudaGraphExecUpdateResultInfo *info)
{
    if (!exec || !graph)
        return cudaErrorInvalidValue;
    const bool same = exec->kinds == graph->kinds && exec->pdl == graph->pdl;
    if (info) {
        info->result = same ? cudaGraphExecUpdateSuccess : cudaGraphExecUpdateErrorTopologyChanged;
        info->errorNode = info->errorFromNode = nullptr;
    }
    if (!same) {
        g_last = cudaErrorGraphExecUpdateFailure;
        return cudaErrorGraphExecUpdateFailure;
    }
    long long changed = 0;
    for (size_t i = 0; i < graph->sigs.size(); ++i)
        if (exec->sigs[i] != graph->sigs[i]) {
            ++changed;
            ++emu::g_changedKinds[graph->kinds[i]];
        }
    ++emu::g_updates;
    emu::g_updateNodes += static_cast<long long>(graph->sigs.size());
    emu::g_updateChanged += changed;
    emu::g_updateUnchanged += changed == 0;
    exec->ops = graph->ops;
    exec->sigs = graph->sigs;
    return cudaSuccess;
}
cudaError_t cudaMallocHost(void **p, size_t n)
{
    *p = std::malloc(std::max<size_t>(n, 1));
    if (!*p)
        return cudaErrorMemoryAllocation;
    emu::g_pinnedBytes[*p] = n;
    return cudaSuccess;
}
cudaError_t cudaFreeHost(void *p)
{
    if (!p)
        return cudaSuccess;
    if (!emu::g_pinnedBytes.count(p)) {
        emu::report("cudaFreeHost of a pointer that cudaMallocHost did not return");
        return cudaErrorInvalidValue;
    }
    emu::drain_all(); // as cudaFree
    emu::g_pinnedBytes.erase(p);
    std::free(p);
    return cudaSuccess;
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream)
{
    if (!exec)
        return cudaErrorInvalidValue;
    if (!emu::stream_of(stream)->capturing)
        ++emu::g_graphLaunches;
    for (size_t i = 0; i < exec->ops.size(); ++i)
        emu::enqueue(stream, exec->ops[i], nullptr, {}, exec->pdl[i] != 0);
    return cudaSuccess;
}
cudaError_t cudaGraphGetNodes(cudaGraph_t graph, cudaGraphNode_t *nodes, size_t *numNodes)
{
    if (!graph || !numNodes || nodes)
        return cudaErrorInvalidValue;
    *numNodes = graph->ops.size();
    return cudaSuccess;
}
cudaError_t cudaGraphDestroy(cudaGraph_t graph)
{
    delete graph;
    return cudaSuccess;
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec)
{
    delete exec;
    return cudaSuccess;
}
cudaError_t cudaEventCreate(cudaEvent_t *event)
{
    return cudaEventCreateWithFlags(event, cudaEventDefault);
}
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *event, unsigned flags)
{
    constexpr unsigned known = cudaEventBlockingSync | cudaEventDisableTiming
                               | cudaEventInterprocess;
    if (!event)
        return cudaErrorInvalidValue;
    if ((flags & ~known) != 0
        || ((flags & cudaEventInterprocess) && !(flags & cudaEventDisableTiming))) {
        *event = nullptr;
        return cudaErrorInvalidValue;
    }
    auto *e = new CUevent_st;
    e->timing = !(flags & cudaEventDisableTiming);
    g_events.insert(e);
    *event = e;
    return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream)
{
    if (!g_events.count(event) || !emu::live_stream(stream))
        return cudaErrorInvalidResourceHandle;
    emu::Stream *s = emu::stream_of(stream);
    emu::enqueue(stream, [event]() {
        // A destroyed event's pending record is dropped (as the runtime releases it once done).
        if (!g_events.count(event))
            return;
        event->at = std::chrono::steady_clock::now();
        event->recorded = true;
    });
    event->stream = s;
    event->inCapture = s->capturing;
    event->seq = s->capturing ? 0 : s->enqueued;
    return cudaSuccess;
}
cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned flags)
{
    if (!g_events.count(event) || !emu::live_stream(stream))
        return cudaErrorInvalidResourceHandle;
    if (flags != cudaEventWaitDefault)
        return cudaErrorInvalidValue;
    emu::Stream *s = emu::stream_of(stream);
    if (!event->stream)
        return cudaSuccess; // never recorded: nothing to wait for
    if (s->capturing || event->inCapture) {
        // Cross-stream capture (a forked capture) is not modelled.
        emu::refused_in_capture("cudaStreamWaitEvent in a capture (not modelled by the emulation)",
                                true);
        return cudaErrorStreamCaptureUnsupported;
    }
    emu::Stream *from = event->stream;
    if (from == s || (from != &emu::g_default && !emu::g_streams.count(from)))
        return cudaSuccess; // its own order / a destroyed stream (it ran everything)
    ++s->enqueued;
    if (emu::stream_order().deferred)
        s->pending.push_back(emu::Pending{{}, from, event->seq});
    else
        ++s->done; // in order: the recorded work has run
    return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t event)
{
    if (!g_events.count(event))
        return cudaErrorInvalidResourceHandle;
    emu::Stream *from = event->stream;
    if (from && !event->inCapture && (from == &emu::g_default || emu::g_streams.count(from)))
        emu::drain_stream(from, event->seq);
    return cudaSuccess;
}
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t stop)
{
    if (!g_events.count(start) || !g_events.count(stop) || !start->timing || !stop->timing
        || !start->recorded || !stop->recorded)
        return cudaErrorInvalidResourceHandle;
    *ms = std::chrono::duration<float, std::milli>(stop->at - start->at).count();
    return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t event)
{
    if (!g_events.erase(event))
        return cudaErrorInvalidResourceHandle;
    delete event;
    return cudaSuccess;
}
