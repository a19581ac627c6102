// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/**
  How CPU kernels use threads without depending on the engine: the caller passes a
  parallel_runner (engine/core/threadpool.h implements one). nullptr means "run on the calling
  thread only". Kernels split their independent output rows into contiguous ranges, so results
  never depend on the number of threads.

  Thread: a runner is driven by one thread at a time (the engine thread); the callback runs on
  the pool's workers and on the calling thread. parallel_for() returns when every range is done.
*/

#include <cstdint>
#include <type_traits>
#include <utility>

namespace fathom::kernels {

using parallel_range_fn = void (*)(void *ctx, int64_t begin, int64_t end);

class parallel_runner
{
public:
    virtual ~parallel_runner() = default;
    // Number of threads that take part in parallel_for (workers + the caller), >= 1.
    virtual int thread_count() const = 0;
    // Calls fn(ctx, begin, end) on disjoint ranges covering [0, n), each (except the last) of at
    // least `grain` items, and returns when all are done.
    virtual void parallel_for(int64_t n, int64_t grain, parallel_range_fn fn, void *ctx) = 0;
};

// Convenience for lambdas: f(begin, end).
template<typename F>
void parallel_for(parallel_runner *runner, int64_t n, int64_t grain, F &&f)
{
    if (n <= 0)
        return;
    if (!runner || runner->thread_count() <= 1 || n <= grain) {
        f(int64_t(0), n);
        return;
    }
    using Fn = std::remove_reference_t<F>;
    runner->parallel_for(
        n,
        grain,
        [](void *ctx, int64_t begin, int64_t end) { (*static_cast<Fn *>(ctx))(begin, end); },
        const_cast<void *>(static_cast<const void *>(&f)));
}

} // namespace fathom::kernels
