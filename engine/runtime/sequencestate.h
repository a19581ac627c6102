// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/**
  SequenceState: everything a sequence carries between forward calls (spec §5.1), per block
  (main layers, then MTP blocks): the raw KV rows of the last positions (the sliding window),
  the compressed KV entries and compressed indexer keys, and the compressor inputs (a, g + ape)
  of the positions whose windows are not closed yet; plus the token ids fed so far.

  It is a value: copyable, extendable by any number of tokens (V4Forward::forward), truncatable
  back to ANY earlier position, and serialisable to bytes and back bit-exactly.

  Truncation (why it works this way). Of the state at position p, the compressed caches
  (`entries`, `indexKeys`) are append-only: the state at p holds exactly their first
  floor(p / ratio) rows, so they are simply cut. Only three small parts depend on the recent
  past and are overwritten as the sequence grows: the window rows [p - window + 1, p), the
  attention compressor's open window(s) (rows [compressorStart(p), p): the partial window, plus
  the previous one for the overlapped CSA compressor) and the indexer compressor's. Keeping those
  for every position would cost the raw KV of every token (window rows are head_dim floats per
  token and block, far more than the compressed cache), so the state keeps them two ways:
  - history: the rows of the last `historyTokens` positions stay (trim() drops older ones), so
    any position in [length - historyTokens, length] is reached by cutting rows, with no compute;
  - checkpoints: small copies of just those parts (window - 1 rows, <= 2 x ratio compressor rows
    per block) taken when the sequence passes a checkpoint position: every `checkpointInterval`
    tokens and at positions the caller asks for (requestCheckpoint(): the scheduler marks the end
    of every prompt, the point regenerate / edit branching rewinds to). Position 0 (the empty
    state) is always one.
  A position p outside the history is reached by restoring the nearest checkpoint c <= p and
  recomputing tokens [c, p) through the forward pass (the state keeps the ids): truncate(p,
  &forward) does that; truncate(p) alone fails (Unsupported) and leaves the state untouched;
  reachableWithoutCompute(p) gives the largest such c, so a caller that feeds the tokens anyway
  (the scheduler's prefix reuse) can restore there and prefill the rest. The forward pass treats
  every token causally and identically whatever the chunking (CPU exact mode: bit-exact, tested
  in tests/engine/tst_sequencestate), so the result equals a fresh prefill of p tokens.

  Memory of a checkpoint (fp32): per block (window - 1) x head_dim + compressor rows (CSA: up to
  8 x 2 x (2 head_dim + 2 index_head_dim), HCA: up to ratio x 2 x head_dim) floats, i.e. for
  V4-Flash about 11 MB of window rows + at most 11.6 MiB of compressor rows, ~23 MB. With the
  default interval of 4096 tokens that is ~5.6 KB per token of context, next to ~13.8 KB of fp32
  compressed cache per token; the recompute of a rewind is at most one interval of prefill.
  SchedulerOptions / the constructor choose both knobs (interval 0: only requested checkpoints).

  Rows live in host memory (std::vector) unless the state was moved into an executor's memory
  (useMemory(): V4Forward does this for a device executor before the first op touches the
  state). Device rows are shared between copies and copied on the first append to a shared
  buffer; save() and operator== read them back to the host. The memory must outlive the state.
  Checkpoints are always host copies (taken rarely; restored through useMemory()).

  Thread: a state is used by one thread at a time.
*/

#include "engine/core/error.h"
#include "engine/model/modelconfig.h"

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

namespace fathom::engine {

class DeviceMemory;
class V4Forward;

// Rows of a fixed width for the absolute indices [begin(), end()).
//
// Device storage comes in two layouts. Linear (the compressed caches, append-only from 0): rows
// in one buffer whose capacity is a power of two of rows, so its address changes only when the
// cache crosses it (log2 times over a context). Ring (`ring`: the window and compressor rows,
// which are dropped from the front as the sequence moves): row i lives in slot i mod capacity of
// a fixed buffer (capacity a power of two >= 256 rows), so a decode step appends at a slot that
// only the row's position determines and no row ever moves until the history outgrows the
// ring. A ring's rows are contiguous only between wraps: readers use contiguous() / row() for
// ranges that cannot wrap (a compressor window of ratio rows starts at a multiple of the ratio,
// and the capacity is a multiple of every ratio <= 256), the pool view (poolBase / poolIndex /
// poolSize) for gathers (attention), and rowsToHost() for copies. Host storage is always
// linear (the CPU executor's rows and every result are unchanged by the layout).
//
// Element type: host rows are always fp32 (the CPU engine's layout, unchanged). A history made
// with `bf16OnDevice` (the window rows, compressed entries and index keys: bf16-exact by
// construction, spec §5.2 and tst_kvlayout) stores bf16 bits once it moves into the memory of an
// executor whose bf16StateRows() is true (the CUDA executor): half the bytes, no value changed.
// Appends then convert through Executor::scatterRowsBf16; row() / poolBase() are nullptr and
// readers take rowBf16() / poolBaseBf16(); rowsToHost() / hostRows() widen back to fp32.
//
// Packed rows (session 8, the CUDA executor's default: Executor::packedStateRows()): a history
// made with a `packedRope` >= -1 as well stores the packed §5.2 layout instead of bf16
// (kernels/kv_packed.h: KV entries of packedRope RoPE dims as e4m3 nope dims + bf16 RoPE dims +
// E8M0 scales, 584 B for V4; packedRope -1: index keys as e2m1 pairs + E8M0 scales, 68 B).
// Appends quantise through Executor::scatterRowsPacked (exact for the model's rows, counted
// otherwise); readers take rowPacked() / poolBasePacked() (row(), rowBf16() are nullptr); row
// bytes are rowBytes(), no longer width x element.
class RowHistory
{
public:
    static constexpr int kNotPacked = -2;
    RowHistory() = default;
    explicit RowHistory(int width,
                        bool ring = false,
                        bool bf16OnDevice = false,
                        int packedRope = kNotPacked)
        : m_width(width)
        , m_ring(ring)
        , m_bf16OnDevice(bf16OnDevice)
        , m_packedRope(bf16OnDevice ? packedRope : kNotPacked)
    {}

    int width() const { return m_width; }
    bool ring() const { return m_ring; }
    // Whether the rows are stored as bf16 bits / packed rows (device storage only; see above).
    bool bf16() const;
    bool packed() const;
    bool bf16OnDevice() const { return m_bf16OnDevice; }
    // The packed layout this history takes on a packing executor (kNotPacked: none; -1: index
    // keys; >= 0: KV entries with that many RoPE dims).
    int packedRope() const { return m_packedRope; }
    // Bytes per value for fp32 / bf16 rows (packed rows: 1, see rowBytes()).
    int elementBytes() const { return packed() ? 1 : bf16() ? 2 : 4; }
    // Bytes per row in the storage (fp32: 4 width, bf16: 2 width, packed: packed_row_bytes).
    int64_t rowBytes() const;
    // Smallest device ring (slots, a power of two that is a multiple of every compressor window
    // read from it; default 256). The CSA compressor rings hold at most 2 windows of 4 rows
    // plus the history: SequenceState gives them 16 instead of 256 slots (session 8).
    int64_t minRingSlots() const { return m_minRing; }
    void setMinRingSlots(int64_t n) { m_minRing = n; } // not "slots": a Qt keyword macro
    int64_t begin() const { return m_begin; }
    int64_t end() const { return m_begin + rows(); }
    int64_t rows() const
    {
        if (m_dev)
            return m_devRows;
        return m_width ? static_cast<int64_t>(m_data.size()) / m_width : 0;
    }
    bool has(int64_t first, int64_t last) const { return first >= m_begin && last <= end(); }
    // In the memory the rows live in (see memory()): host or device pointers. Rows row(i) ..
    // row(j - 1) are consecutive in memory only when contiguous(i, j). row(): fp32 storage
    // (nullptr for bf16 rows), rowBf16(): bf16 storage (nullptr for fp32 rows).
    const float *row(int64_t index) const
    {
        return bf16() ? nullptr : static_cast<float *>(rowAt(index));
    }
    float *row(int64_t index) { return bf16() ? nullptr : static_cast<float *>(rowAt(index)); }
    const uint16_t *rowBf16(int64_t index) const
    {
        return bf16() ? static_cast<const uint16_t *>(rowAt(index)) : nullptr;
    }
    const uint8_t *rowPacked(int64_t index) const
    {
        return packed() ? static_cast<const uint8_t *>(rowAt(index)) : nullptr;
    }
    bool contiguous(int64_t first, int64_t last) const;
    // Gather view of rows [first, last): every row r of the range is row poolIndex(r, first) of
    // the poolSize(first, last) rows at poolBase(first). Host and linear storage: the range
    // itself (row(first), r - first, last - first); a device ring: the whole ring (its base, the
    // slot, its capacity), fixed while the ring does not grow.
    const float *poolBase(int64_t first) const;         // nullptr for bf16 rows
    const uint16_t *poolBaseBf16(int64_t first) const;  // nullptr unless bf16 rows
    const uint8_t *poolBasePacked(int64_t first) const; // nullptr unless packed rows
    int64_t poolIndex(int64_t index, int64_t first) const;
    int64_t poolSize(int64_t first, int64_t last) const;
    // nullptr: host memory (a std::vector).
    DeviceMemory *memory() const;
    // Rows the storage holds without reallocating (host: rows()).
    int64_t capacity() const;
    // Bytes of the rows held (rows x rowBytes()) and of the storage allocated for them
    // (device: the whole buffer, capacity x rowBytes(); host: as held).
    int64_t storedBytes() const { return rows() * rowBytes(); }
    int64_t allocatedBytes() const;
    // Linear device storage: exactly `rows` rows from begin() (rows >= rows(); a prefill of known
    // length sizes its compressed caches once instead of doubling them). Host storage and rings:
    // no-op.
    Result<void> reserve(int64_t rows);
    // Device storage as a decode-step graph sees it (the key of a replayable step): the
    // buffer (nullptr: host rows) and the offset of this history's first row in it (linear).
    // The rows at that address are fp32 only when !bf16().
    const float *deviceData() const;
    int64_t deviceOffset() const { return m_devOffset; }
    // Whether appendStored(count rows) writes into the present device buffer (no growth, no
    // copy-on-write of a shared buffer), so the buffer's address stays what it was.
    bool appendsInPlace(int64_t count) const;

    // Host-backed histories only (tests, golden set-up): `rows` in host memory.
    void append(const float *rows, int64_t count);
    // `rows` in the memory this history lives in (V4Forward: the executor's buffers). A device
    // ring writes them through Executor::scatterRows when its memory is an executor (a fixed
    // launch whatever the slots; the slots are uploaded), else by copies.
    Result<void> appendStored(const float *rows, int64_t count);
    // The bookkeeping of appendStored(count rows) alone, for rows something else writes into
    // the present device buffer (a replayed decode-step graph: V4Forward's step script): false,
    // and nothing changed, unless the rows fit that buffer (device rows; see appendsInPlace).
    bool advanceStored(int64_t count);
    // Device rows: appendStored()'s growth / copy-on-write for count more rows alone, so that
    // they fit the present buffer (appendsInPlace); returns that buffer. Something else then
    // writes the rows (Executor::appendStateRows, V4Forward's fused appends) and advanceStored()
    // counts them.
    Result<void *> prepareAppend(int64_t count);
    void truncate(int64_t newEnd);  // drops rows >= newEnd
    void dropBefore(int64_t index); // forgets rows < index (amortised)
    void reset(int64_t begin);      // empty, starting at `begin`
    // Moves the rows into `mem` (nullptr or a host-addressable memory: back to a std::vector).
    Result<void> useMemory(DeviceMemory *mem);
    // The rows in host memory (a copy for device rows).
    Result<std::vector<float>> hostRows() const;
    // Rows [first, last) (inside [begin(), end())) into host memory at `dst`.
    Result<void> rowsToHost(int64_t first, int64_t last, float *dst) const;

    // Same width, start and rows (the layout is not compared).
    bool operator==(const RowHistory &o) const;

private:
    friend class SequenceState;
    struct DeviceRows;
    void *rowAt(int64_t index) const;
    Result<void> moveTo(int64_t capacity); // device storage: a fresh buffer of `capacity` rows
    // A device ring grown for a prefill chunk back to the size its rows need (SequenceState::
    // trim(); a decode step's ring never shrinks, so its address stays put).
    void shrinkRing();
    // Device rows [first, last) of this history copied to slots of `to` (this layout or
    // another), segment by segment.
    Result<void> copyRows(
        DeviceRows &to, bool toRing, int64_t toOffset, int64_t first, int64_t last) const;

    int m_width = 0;
    bool m_ring = false;
    bool m_bf16OnDevice = false;
    int m_packedRope = kNotPacked;
    int64_t m_minRing = 256;
    int64_t m_begin = 0;
    std::vector<float> m_data;
    // Device storage: linear: rows [m_devOffset, m_devOffset + m_devRows) of the shared buffer;
    // ring: row i in slot i mod capacity.
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

    // Every history above, in this order (the order save() writes them in and the step
    // scripts number them by).
    std::array<RowHistory *, 7> histories()
    {
        return {&window, &entries, &compKv, &compGate, &indexKeys, &indexKv, &indexGate};
    }
    std::array<const RowHistory *, 7> histories() const
    {
        return {&window, &entries, &compKv, &compGate, &indexKeys, &indexKv, &indexGate};
    }

    // Host copies of the position-dependent rows at checkpoint positions (ascending): window
    // rows [p - window + 1, p) and compressor rows [compressorStart(p), p). Entries need none.
    struct Checkpoint
    {
        int64_t position = 0;
        RowHistory window, compKv, compGate, indexKv, indexGate;
        bool operator==(const Checkpoint &o) const = default;
    };
    std::vector<Checkpoint> checkpoints;

    bool operator==(const BlockState &o) const = default;
};

class SequenceState
{
public:
    SequenceState() = default;
    // An empty sequence for `config` (main layers + MTP blocks).
    explicit SequenceState(const ModelConfig &config,
                           int64_t historyTokens = 1024,
                           int64_t checkpointInterval = 4096);

    int64_t length() const { return m_blocks.empty() ? 0 : m_blocks.front().length; }
    int64_t historyTokens() const { return m_history; }
    int64_t checkpointInterval() const { return m_interval; }
    int blockCount() const { return static_cast<int>(m_blocks.size()); }
    BlockState &block(int i) { return m_blocks.at(static_cast<size_t>(i)); }
    const BlockState &block(int i) const { return m_blocks.at(static_cast<size_t>(i)); }
    int window() const { return m_window; }

    // The ids fed to the main layers (positions 0 .. length - 1) and to the first MTP block
    // (its "next" ids, positions 0 .. its length - 1).
    const std::vector<int32_t> &tokens() const { return m_tokens; }
    const std::vector<int32_t> &mtpTokens() const { return m_mtpTokens; }

    // Back to `position` tokens (main layers; MTP blocks to at most that many), for every
    // 0 <= position <= length(). Without `forward`, only positions reachable without compute
    // (see reachableWithoutCompute) succeed; with it, the tokens between the nearest checkpoint
    // and `position` are recomputed (main layers, and the MTP block when it had gone that far).
    // A failed truncate leaves the state untouched unless the recompute itself failed.
    Result<void> truncate(int64_t position, V4Forward *forward = nullptr);
    // The largest position <= `position` the state can be cut back to without recomputing.
    int64_t reachableWithoutCompute(int64_t position) const;
    // Take a checkpoint when the sequence passes `position` (now, if it is the current length
    // or still inside the history). Ignored for positions the state can no longer capture.
    void requestCheckpoint(int64_t position);
    // Bytes held by checkpoints (host memory).
    int64_t checkpointBytes() const;
    // Bytes of every row the state holds (caches, history, compressor rows, checkpoints), wherever
    // they live: what keeping this state costs.
    int64_t memoryBytes() const;
    // The same by part for blocks [firstBlock, lastBlock) (-1: every block), as held (rows x
    // width x element) or as allocated (device buffers' capacities): compare with kvStateBytes
    // (engine/cuda/kvlayout.h), whose window part is the last `window` rows of each block.
    struct StorageBytes
    {
        int64_t window = 0;     // raw KV rows (sliding window + history)
        int64_t compressed = 0; // compressed entries + index keys
        int64_t compressor = 0; // compressor rows (fp32 everywhere)
        int64_t checkpoints = 0;
        int64_t total() const { return window + compressed + compressor + checkpoints; }
    };
    StorageBytes storageBytes(bool allocated, int firstBlock = 0, int lastBlock = -1) const;
    // Device storage: sizes the compressed caches for a context of `tokens` (a prefill of known
    // final length: one allocation instead of log2 doublings). On the host it is remembered
    // and applied when the rows move to a device (useMemory): the scheduler reserves a request's
    // prompt + answer before its first forward pass has placed the state.
    Result<void> reserve(int64_t tokens);

    // Called by V4Forward after it appended `count` tokens: records the ids (mtp: the first
    // MTP block's next ids), takes due checkpoints and trims the history.
    void commit(const int32_t *ids, int count, bool mtp = false);
    // Takes due checkpoints and forgets rows no longer needed beyond the history allowance.
    void trim();
    // Moves every row into `mem` (see RowHistory::useMemory); a no-op when already there.
    Result<void> useMemory(DeviceMemory *mem);
    DeviceMemory *memory() const { return m_memory; }

    // Same rows and settings, wherever the rows live.
    bool operator==(const SequenceState &o) const
    {
        return m_blocks == o.m_blocks && m_history == o.m_history && m_window == o.m_window
               && m_interval == o.m_interval && m_tokens == o.m_tokens
               && m_mtpTokens == o.m_mtpTokens && m_requested == o.m_requested;
    }

    std::vector<uint8_t> save() const;
    static Result<SequenceState> restore(const std::vector<uint8_t> &bytes,
                                         const ModelConfig &config);

private:
    static void saveRows(std::vector<uint8_t> &out, const RowHistory &h);
    static bool restoreRows(const std::vector<uint8_t> &bytes, size_t &pos, RowHistory &h);
    bool inHistory(const BlockState &b, int64_t position) const;
    bool restorable(const BlockState &b, int64_t position) const;
    Result<void> restoreBlock(BlockState &b, int64_t position);
    void capture(BlockState &b, int64_t position);
    void takeCheckpoints(BlockState &b);

    std::vector<BlockState> m_blocks;
    int64_t m_history = 1024;
    int64_t m_interval = 4096;
    int m_window = 0;
    int m_mainBlocks = 0;
    int64_t m_streamWidth = 0; // hc_mult x hidden_size: one row of forward()'s finalStreams
    std::vector<int32_t> m_tokens, m_mtpTokens;
    std::vector<int64_t> m_requested; // checkpoint positions asked for, ascending
    DeviceMemory *m_memory = nullptr; // nullptr: host vectors
    int64_t m_reserved = 0;           // reserve()'s tokens, applied by useMemory
};

} // namespace fathom::engine
