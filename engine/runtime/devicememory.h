// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/**
  DeviceMemory: where an executor's op buffers live and how bytes move in and out of it.

  The forward pass (forward.h) and the sequence state (sequencestate.h) allocate every buffer an
  op reads or writes through this interface, and cross to the host only through copyToHost() /
  copyFromHost() at the few places they need host values (token ids in, logits out, routing ids
  for grouping rows by expert, indexer selections for building attention indices, taps).

  hostAddressable() == true (the CPU executor): buffers are ordinary host memory. Callers then
  use the pointers directly and skip every copy, so the CPU path costs what it cost before this
  interface existed. A device executor (engine/cuda) returns false; its pointers must never be
  dereferenced on the host.

  Allocation failures are Error values naming the device and `what` was being allocated.
  Thread: as the executor (one thread at a time).
*/

#include "engine/core/error.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

namespace fathom::engine {

class DeviceMemory
{
public:
    virtual ~DeviceMemory() = default;

    virtual bool hostAddressable() const { return true; }
    // The device in words for messages ("host", "GPU 0 (NVIDIA H200)").
    virtual std::string deviceName() const { return "host"; }

    // `bytes` of memory; `what` names it in an out-of-memory error. Host memory comes back
    // zero-filled; a device executor's need not (the forward pass writes every element of a
    // buffer before reading it; tests/engine/tst_deviceexecutor checks that with NaN fill).
    virtual Result<void *> allocate(size_t bytes, const char *what)
    {
        void *p = std::calloc(bytes ? bytes : 1, 1);
        if (!p)
            return fail(Error::Kind::OutOfMemory,
                        "out of host memory allocating " + std::to_string(bytes) + " bytes for "
                            + what);
        return p;
    }
    virtual void release(void *p) { std::free(p); }

    // dst / src in this memory unless named host.
    virtual Result<void> copy(void *dst, const void *src, size_t bytes)
    {
        if (bytes)
            std::memmove(dst, src, bytes);
        return {};
    }
    virtual Result<void> copyToHost(void *hostDst, const void *src, size_t bytes)
    {
        return copy(hostDst, src, bytes);
    }
    virtual Result<void> copyFromHost(void *dst, const void *hostSrc, size_t bytes)
    {
        return copy(dst, hostSrc, bytes);
    }
    // Waits for queued work (device executors); a no-op on the host.
    virtual Result<void> synchronize() { return {}; }
};

// The host memory of the CPU executor and of sequence states made without an executor.
DeviceMemory &hostMemory();

/** A typed, owned allocation in a DeviceMemory (move-only). */
template<typename T>
class Buffer
{
public:
    Buffer() = default;
    Buffer(const Buffer &) = delete;
    Buffer &operator=(const Buffer &) = delete;
    Buffer(Buffer &&o) noexcept { swap(o); }
    Buffer &operator=(Buffer &&o) noexcept
    {
        Buffer(std::move(o)).swap(*this);
        return *this;
    }
    ~Buffer()
    {
        if (m_data)
            m_mem->release(m_data);
    }

    static Result<Buffer> make(DeviceMemory &mem, int64_t count, const char *what)
    {
        Buffer b;
        b.m_mem = &mem;
        b.m_count = count;
        FATHOM_TRY_ASSIGN(void *p, mem.allocate(static_cast<size_t>(count) * sizeof(T), what));
        b.m_data = static_cast<T *>(p);
        return b;
    }

    T *data() { return m_data; }
    const T *data() const { return m_data; }
    int64_t size() const { return m_count; }
    size_t bytes() const { return static_cast<size_t>(m_count) * sizeof(T); }
    DeviceMemory *memory() const { return m_mem; }

    void swap(Buffer &o) noexcept
    {
        std::swap(m_mem, o.m_mem);
        std::swap(m_data, o.m_data);
        std::swap(m_count, o.m_count);
    }

private:
    DeviceMemory *m_mem = nullptr;
    T *m_data = nullptr;
    int64_t m_count = 0;
};

} // namespace fathom::engine
