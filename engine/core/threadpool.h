// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  ThreadPool: a fixed set of worker threads for the CPU kernels (kernels/parallel.h). The calling
  thread takes part in every parallel_for, so ThreadPool(1) has no workers at all. Workers spin
  briefly after each job before sleeping, because a decode step issues hundreds of short
  parallel_for calls back to back and waking sleeping threads would dominate.

  Thread: one thread drives a pool at a time (the engine thread); parallel_for is not reentrant
  (a callback must not call parallel_for on the same pool; it runs serially if it does).
*/

#include "kernels/parallel.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace fathom::engine {

class ThreadPool final : public kernels::parallel_runner
{
public:
    // threads <= 0: kernels::cpu_physical_threads() (FATHOM_THREADS overrides).
    explicit ThreadPool(int threads = 0);
    ~ThreadPool() override;
    ThreadPool(const ThreadPool &) = delete;
    ThreadPool &operator=(const ThreadPool &) = delete;

    int thread_count() const override { return static_cast<int>(m_workers.size()) + 1; }
    void parallel_for(int64_t n, int64_t grain, kernels::parallel_range_fn fn, void *ctx) override;

private:
    void workerLoop(int index);
    void runChunks();

    std::vector<std::thread> m_workers;
    std::mutex m_mutex;
    std::condition_variable m_wake;
    std::atomic<uint64_t> m_generation{0};
    std::atomic<int> m_pending{0};
    std::atomic<int64_t> m_nextChunk{0};
    std::atomic<bool> m_busy{false};
    bool m_stop = false;
    // the current job
    kernels::parallel_range_fn m_fn = nullptr;
    void *m_ctx = nullptr;
    int64_t m_n = 0;
    int64_t m_chunk = 0;
    int64_t m_chunks = 0;
};

} // namespace fathom::engine
