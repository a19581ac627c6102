// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/**
  SequenceState: everything a sequence carries between forward calls (spec §5.1), per block
  (main layers, then MTP blocks): the raw KV rows of the last positions (the sliding window),
  the compressed KV entries and compressed indexer keys, and the compressor inputs (a, g + ape)
  of the positions whose windows are not closed yet.

  It is a value: copyable, extendable by any number of tokens (V4Forward::forward), truncatable
  back to an earlier position, and serialisable to bytes and back bit-exactly. Rows of the last
  `historyTokens` positions are kept beyond what decoding needs, so truncate() can go back that
  far; deeper rewinds need a saved snapshot (truncate() says so).

  Rows live in host memory (std::vector) unless the state was moved into an executor's memory
  (useMemory(): V4Forward does this for a device executor before the first op touches the
  state). Device rows are shared between copies and copied on the first append to a shared
  buffer; save() and operator== read them back to the host. The memory must outlive the state.

  Thread: a state is used by one thread at a time.
*/

#include "engine/core/error.h"
#include "engine/model/modelconfig.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace fathom::engine {

class DeviceMemory;

// Rows of a fixed width for the absolute indices [begin(), end()).
class RowHistory
{
public:
    RowHistory() = default;
    explicit RowHistory(int width)
        : m_width(width)
    {}

    int width() const { return m_width; }
    int64_t begin() const { return m_begin; }
    int64_t end() const { return m_begin + rows(); }
    int64_t rows() const
    {
        if (m_dev)
            return m_devRows;
        return m_width ? static_cast<int64_t>(m_data.size()) / m_width : 0;
    }
    bool has(int64_t first, int64_t last) const { return first >= m_begin && last <= end(); }
    // In the memory the rows live in (see memory()): host or device pointers.
    const float *row(int64_t index) const { return base() + (index - m_begin) * m_width; }
    float *row(int64_t index) { return base() + (index - m_begin) * m_width; }
    // nullptr: host memory (a std::vector).
    DeviceMemory *memory() const;

    // Host-backed histories only (tests, golden set-up): `rows` in host memory.
    void append(const float *rows, int64_t count);
    // `rows` in the memory this history lives in (V4Forward: the executor's buffers).
    Result<void> appendStored(const float *rows, int64_t count);
    void truncate(int64_t newEnd);  // drops rows >= newEnd
    void dropBefore(int64_t index); // forgets rows < index (amortised)
    void reset(int64_t begin);      // empty, starting at `begin`
    // Moves the rows into `mem` (nullptr or a host-addressable memory: back to a std::vector).
    Result<void> useMemory(DeviceMemory *mem);
    // The rows in host memory (a copy for device rows).
    Result<std::vector<float>> hostRows() const;

    bool operator==(const RowHistory &o) const;

private:
    friend class SequenceState;
    struct DeviceRows;
    float *base() const;

    int m_width = 0;
    int64_t m_begin = 0;
    std::vector<float> m_data;
    // Device storage: rows [m_devOffset, m_devOffset + m_devRows) of the shared buffer.
    std::shared_ptr<DeviceRows> m_dev;
    int64_t m_devOffset = 0;
    int64_t m_devRows = 0;
};

struct BlockState
{
    int64_t length = 0;   // positions this block has processed
    int ratio = 0;        // compress ratio of the block (0, 4, > 4)
    RowHistory window;    // raw KV rows by position [head_dim]
    RowHistory entries;   // compressed KV by entry index [head_dim]
    RowHistory compKv;    // attention compressor a rows by position [c * head_dim]
    RowHistory compGate;  // attention compressor g + ape rows by position
    RowHistory indexKeys; // compressed indexer keys by entry index [index_head_dim]
    RowHistory indexKv;   // indexer compressor a rows by position [c * index_head_dim]
    RowHistory indexGate; // indexer compressor g + ape rows by position

    bool operator==(const BlockState &o) const = default;
};

class SequenceState
{
public:
    SequenceState() = default;
    // An empty sequence for `config` (main layers + MTP blocks).
    explicit SequenceState(const ModelConfig &config, int64_t historyTokens = 1024);

    int64_t length() const { return m_blocks.empty() ? 0 : m_blocks.front().length; }
    int64_t historyTokens() const { return m_history; }
    int blockCount() const { return static_cast<int>(m_blocks.size()); }
    BlockState &block(int i) { return m_blocks.at(static_cast<size_t>(i)); }
    const BlockState &block(int i) const { return m_blocks.at(static_cast<size_t>(i)); }
    int window() const { return m_window; }

    // Back to `position` tokens (main layers; MTP blocks to at most that many).
    Result<void> truncate(int64_t position);
    // Forgets rows no longer needed beyond the history allowance (called after each forward).
    void trim();
    // Moves every row into `mem` (see RowHistory::useMemory); a no-op when already there.
    Result<void> useMemory(DeviceMemory *mem);
    DeviceMemory *memory() const { return m_memory; }

    // Same rows and settings, wherever the rows live.
    bool operator==(const SequenceState &o) const
    {
        return m_blocks == o.m_blocks && m_history == o.m_history && m_window == o.m_window;
    }

    std::vector<uint8_t> save() const;
    static Result<SequenceState> restore(const std::vector<uint8_t> &bytes,
                                         const ModelConfig &config);

private:
    std::vector<BlockState> m_blocks;
    int64_t m_history = 1024;
    int m_window = 0;
    DeviceMemory *m_memory = nullptr; // nullptr: host vectors
};

} // namespace fathom::engine
