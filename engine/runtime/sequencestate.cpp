// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "sequencestate.h"

#include "engine/runtime/devicememory.h"
#include "engine/runtime/executor.h"
#include "engine/runtime/forward.h"
#include "kernels/formats.h"
#include "kernels/kv_packed.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace fathom::engine {

struct RowHistory::DeviceRows
{
    DeviceMemory *mem = nullptr;
    void *data = nullptr;
    int64_t capacity = 0; // rows
    bool bf16 = false;    // rows of bf16 bits
    bool packed = false;  // packed rows (kernels/kv_packed.h; else fp32 unless bf16)
    int64_t rowBytes = 0; // bytes per row

    ~DeviceRows()
    {
        if (data)
            mem->release(data);
    }
};

DeviceMemory *RowHistory::memory() const
{
    return m_dev ? m_dev->mem : nullptr;
}

bool RowHistory::bf16() const
{
    return m_dev && m_dev->bf16;
}

bool RowHistory::packed() const
{
    return m_dev && m_dev->packed;
}

int64_t RowHistory::rowBytes() const
{
    return m_dev ? m_dev->rowBytes : int64_t(sizeof(float)) * m_width;
}

namespace {

int64_t nextPow2(int64_t n)
{
    int64_t p = 1;
    while (p < n)
        p *= 2;
    return p;
}

// Device capacities (rows): powers of two, so a ring's slots are a mask away and a cache's
// address changes log2 times over a context; a ring holds whole compressor windows (ratio <= 256).
// A linear cache moved or grown to `rows` gets the next power of two >= rows (at most 2x; a
// reserve() sizes it exactly), a ring twice its rows (its history moves through it).
int64_t deviceCapacity(bool ring, int64_t rows, int64_t minRing = 256)
{
    return ring ? nextPow2(std::max<int64_t>(minRing, 2 * rows))
                : nextPow2(std::max<int64_t>(64, rows));
}

} // namespace

void *RowHistory::rowAt(int64_t index) const
{
    if (!m_dev)
        return const_cast<float *>(m_data.data()) + (index - m_begin) * m_width;
    const int64_t slot = m_ring ? (index & (m_dev->capacity - 1)) : m_devOffset + index - m_begin;
    return static_cast<unsigned char *>(m_dev->data) + slot * m_dev->rowBytes;
}

bool RowHistory::contiguous(int64_t first, int64_t last) const
{
    if (!m_dev || !m_ring || last <= first)
        return true;
    return (first & (m_dev->capacity - 1)) + (last - first) <= m_dev->capacity;
}

const float *RowHistory::poolBase(int64_t first) const
{
    if (bf16() || packed())
        return nullptr;
    return m_dev && m_ring ? static_cast<const float *>(m_dev->data) : row(first);
}

const uint16_t *RowHistory::poolBaseBf16(int64_t first) const
{
    if (!bf16())
        return nullptr;
    return m_ring ? static_cast<const uint16_t *>(m_dev->data) : rowBf16(first);
}

const uint8_t *RowHistory::poolBasePacked(int64_t first) const
{
    if (!packed())
        return nullptr;
    return m_ring ? static_cast<const uint8_t *>(m_dev->data) : rowPacked(first);
}

int64_t RowHistory::poolIndex(int64_t index, int64_t first) const
{
    return m_dev && m_ring ? (index & (m_dev->capacity - 1)) : index - first;
}

int64_t RowHistory::poolSize(int64_t first, int64_t last) const
{
    return m_dev && m_ring ? m_dev->capacity : last - first;
}

int64_t RowHistory::capacity() const
{
    if (!m_dev)
        return rows();
    return m_ring ? m_dev->capacity : m_dev->capacity - m_devOffset;
}

int64_t RowHistory::allocatedBytes() const
{
    if (!m_dev)
        return storedBytes();
    return m_dev->capacity * m_dev->rowBytes;
}

const float *RowHistory::deviceData() const
{
    return m_dev ? static_cast<const float *>(m_dev->data) : nullptr;
}

bool RowHistory::appendsInPlace(int64_t count) const
{
    // The same conditions appendStored() replaces the buffer under.
    return m_dev && m_dev.use_count() == 1
           && (m_ring ? 0 : m_devOffset) + m_devRows + count <= m_dev->capacity;
}

void RowHistory::append(const float *rows, int64_t count)
{
    m_data.insert(m_data.end(), rows, rows + count * m_width);
}

Result<void> RowHistory::copyRows(
    DeviceRows &to, bool toRing, int64_t toOffset, int64_t first, int64_t last) const
{
    // Same row type on both sides (a history keeps its type while it stays in a memory).
    const size_t rowBytes = static_cast<size_t>(m_dev->rowBytes);
    for (int64_t i = first; i < last;) {
        int64_t n = last - i;
        if (m_ring)
            n = std::min(n, m_dev->capacity - (i & (m_dev->capacity - 1)));
        void *dst = static_cast<unsigned char *>(to.data)
                    + (toRing ? (i & (to.capacity - 1)) : toOffset + (i - first)) * rowBytes;
        if (toRing)
            n = std::min(n, to.capacity - (i & (to.capacity - 1)));
        FATHOM_TRY(to.mem->copy(dst, rowAt(i), static_cast<size_t>(n) * rowBytes));
        i += n;
    }
    return {};
}

Result<void> RowHistory::moveTo(int64_t capacity)
{
    auto fresh = std::make_shared<DeviceRows>();
    fresh->mem = m_dev->mem;
    fresh->capacity = capacity;
    fresh->bf16 = m_dev->bf16;
    fresh->packed = m_dev->packed;
    fresh->rowBytes = m_dev->rowBytes;
    FATHOM_TRY_ASSIGN(void *p,
                      fresh->mem->allocate(static_cast<size_t>(capacity * m_dev->rowBytes),
                                           "sequence state rows"));
    fresh->data = p;
    FATHOM_TRY(copyRows(*fresh, m_ring, 0, m_begin, end()));
    m_dev = std::move(fresh);
    m_devOffset = 0;
    return {};
}

void RowHistory::shrinkRing()
{
    if (!m_dev || !m_ring)
        return;
    const int64_t want = deviceCapacity(true, rows(), m_minRing);
    // Hysteresis (> 2x): a ring at its steady size stays where it is.
    if (m_dev->capacity > 2 * want)
        (void) moveTo(want); // a failed shrink keeps the larger buffer
}

Result<void> RowHistory::reserve(int64_t rows)
{
    if (!m_dev || m_ring || m_width == 0 || rows < this->rows() || rows == capacity())
        return {};
    return moveTo(rows);
}

Result<void *> RowHistory::prepareAppend(int64_t count)
{
    if (!m_dev)
        return fail(Error::Kind::Internal, "prepareAppend: a history without device rows");
    // A buffer shared with a copy of the state, or one without room, is replaced first: appends
    // write past this history's rows, where a copy may keep rows of its own.
    const bool full = (m_ring ? 0 : m_devOffset) + m_devRows + count > m_dev->capacity;
    if (count > 0 && (m_dev.use_count() > 1 || full))
        FATHOM_TRY(
            moveTo(full ? deviceCapacity(m_ring, m_devRows + count, m_minRing) : m_dev->capacity));
    return m_dev->data;
}

Result<void> RowHistory::appendStored(const float *rows, int64_t count)
{
    if (!m_dev) {
        append(rows, count);
        return {};
    }
    if (count <= 0 || m_width == 0)
        return {};
    const size_t rowBytes = sizeof(float) * static_cast<size_t>(m_width);
    FATHOM_TRY(prepareAppend(count));
    const int64_t at = end();
    auto *exec = dynamic_cast<Executor *>(m_dev->mem);
    const bool narrow = m_dev->bf16 || m_dev->packed;
    if (narrow && !exec)
        return fail(Error::Kind::Internal, "bf16 / packed sequence state rows outside an executor");
    // Row indices of the scatter: on the stack for a decode step's few rows (no heap
    // allocation per append of a replayed step), in a vector for a prefill's.
    int32_t local[16];
    std::vector<int32_t> heap;
    auto rowIndices = [&](int64_t n) -> int32_t * {
        if (n <= 16)
            return local;
        heap.resize(static_cast<size_t>(n));
        return heap.data();
    };
    // bf16 / packed rows: converted on the way in (the executor's converting / quantising
    // scatter).
    auto scatter = [&](const int32_t *at) -> Result<void> {
        if (m_dev->packed)
            return exec->scatterRowsPacked(static_cast<uint8_t *>(m_dev->data),
                                           rows,
                                           at,
                                           static_cast<int>(count),
                                           m_width,
                                           m_packedRope);
        if (m_dev->bf16)
            return exec->scatterRowsBf16(static_cast<uint16_t *>(m_dev->data),
                                         rows,
                                         at,
                                         static_cast<int>(count),
                                         m_width);
        return exec->scatterRows(static_cast<float *>(m_dev->data),
                                 rows,
                                 at,
                                 static_cast<int>(count),
                                 m_width);
    };
    if (!m_ring && exec && (!exec->hostAddressable() || narrow)) {
        // A compressed cache: through scatterRows with the row indices as data too, so a decode
        // step that appends an entry launches the same whatever the entry's index.
        int32_t *at0 = rowIndices(count);
        for (int64_t k = 0; k < count; ++k)
            at0[k] = static_cast<int32_t>(m_devOffset + at + k - m_begin);
        FATHOM_TRY(scatter(at0));
    } else if (!m_ring && !narrow) {
        FATHOM_TRY(m_dev->mem->copy(rowAt(at), rows, static_cast<size_t>(count) * rowBytes));
    } else if (exec) {
        // One launch whose arguments do not depend on the position (a graphed decode step
        // stays the same graph); the slots travel as data.
        int32_t *slots = rowIndices(count);
        for (int64_t k = 0; k < count; ++k)
            slots[k] = static_cast<int32_t>((at + k) & (m_dev->capacity - 1));
        FATHOM_TRY(scatter(slots));
    } else {
        for (int64_t k = 0; k < count;) {
            const int64_t n = std::min(count - k,
                                       m_dev->capacity - ((at + k) & (m_dev->capacity - 1)));
            FATHOM_TRY(m_dev->mem->copy(rowAt(at + k),
                                        rows + k * m_width,
                                        static_cast<size_t>(n) * rowBytes));
            k += n;
        }
    }
    m_devRows += count;
    return {};
}

bool RowHistory::advanceStored(int64_t count)
{
    if (!m_dev || count < 0 || (m_ring ? 0 : m_devOffset) + m_devRows + count > m_dev->capacity)
        return false;
    m_devRows += count;
    return true;
}

void RowHistory::truncate(int64_t newEnd)
{
    if (newEnd >= end())
        return;
    const int64_t keep = std::max<int64_t>(0, newEnd - m_begin);
    if (m_dev)
        m_devRows = keep;
    else
        m_data.resize(static_cast<size_t>(keep * m_width));
    if (newEnd < m_begin)
        m_begin = newEnd;
}

void RowHistory::dropBefore(int64_t index)
{
    const int64_t drop = std::min(index, end()) - m_begin;
    // Amortised: only move the data when the dead part is as large as the live part.
    if (drop <= 0 || drop * 2 < rows())
        return;
    if (m_dev) {
        // No copy: the dead rows stay in the buffer (a ring reuses their slots; a linear
        // buffer's next reallocation skips them).
        if (!m_ring)
            m_devOffset += drop;
        m_devRows -= drop;
    } else {
        m_data.erase(m_data.begin(), m_data.begin() + drop * m_width);
    }
    m_begin += drop;
}

void RowHistory::reset(int64_t begin)
{
    m_data.clear();
    m_devRows = 0;
    m_begin = begin;
}

Result<void> RowHistory::rowsToHost(int64_t first, int64_t last, float *dst) const
{
    if (last <= first || m_width == 0)
        return {};
    if (!m_dev) {
        std::memcpy(dst, row(first), sizeof(float) * static_cast<size_t>((last - first) * m_width));
        return {};
    }
    std::vector<uint16_t> bits; // bf16 rows: read back as bits, widened (exact)
    std::vector<uint8_t> bytes; // packed rows: read back, dequantised (exact)
    for (int64_t i = first; i < last;) {
        int64_t n = last - i;
        if (m_ring)
            n = std::min(n, m_dev->capacity - (i & (m_dev->capacity - 1)));
        float *out = dst + (i - first) * m_width;
        const size_t values = static_cast<size_t>(n * m_width);
        if (m_dev->packed) {
            const auto rb = static_cast<size_t>(m_dev->rowBytes);
            bytes.resize(static_cast<size_t>(n) * rb);
            FATHOM_TRY(m_dev->mem->copyToHost(bytes.data(), rowAt(i), bytes.size()));
            for (int64_t k = 0; k < n; ++k)
                kernels::unpack_state_row(bytes.data() + static_cast<size_t>(k) * rb,
                                          m_width,
                                          m_packedRope,
                                          out + k * m_width);
        } else if (m_dev->bf16) {
            bits.resize(values);
            FATHOM_TRY(m_dev->mem->copyToHost(bits.data(), rowAt(i), sizeof(uint16_t) * values));
            for (size_t v = 0; v < values; ++v)
                out[v] = kernels::bf16_to_f32(bits[v]);
        } else {
            FATHOM_TRY(m_dev->mem->copyToHost(out, rowAt(i), sizeof(float) * values));
        }
        i += n;
    }
    return {};
}

Result<std::vector<float>> RowHistory::hostRows() const
{
    if (!m_dev)
        return m_data;
    std::vector<float> out(static_cast<size_t>(m_devRows * m_width));
    FATHOM_TRY(rowsToHost(m_begin, end(), out.data()));
    return out;
}

Result<void> RowHistory::useMemory(DeviceMemory *mem)
{
    if (mem && mem->hostAddressable())
        mem = nullptr;
    if (mem == memory())
        return {};
    FATHOM_TRY_ASSIGN(std::vector<float> host, hostRows());
    if (!mem) {
        m_data = std::move(host);
        m_dev.reset();
        m_devOffset = m_devRows = 0;
        return {};
    }
    auto fresh = std::make_shared<DeviceRows>();
    fresh->mem = mem;
    const int64_t rows = m_width ? static_cast<int64_t>(host.size()) / m_width : 0;
    fresh->capacity = deviceCapacity(m_ring, rows, m_minRing);
    const auto *exec = dynamic_cast<const Executor *>(mem);
    fresh->packed = m_bf16OnDevice && m_packedRope != kNotPacked && exec && exec->packedStateRows();
    fresh->bf16 = !fresh->packed && m_bf16OnDevice && exec && exec->bf16StateRows();
    fresh->rowBytes = fresh->packed
                          ? kernels::packed_row_bytes(m_width, m_packedRope)
                          : int64_t(fresh->bf16 ? sizeof(uint16_t) : sizeof(float)) * m_width;
    const auto rb = static_cast<size_t>(fresh->rowBytes);
    FATHOM_TRY_ASSIGN(void *p,
                      mem->allocate(static_cast<size_t>(fresh->capacity) * rb,
                                    "sequence state rows"));
    fresh->data = p;
    // bf16 rows: rounded to nearest even on the host; packed rows: packed on the host (the rows
    // are exact in both by construction: this changes no value; see tst_kvlayout).
    std::vector<uint16_t> bits;
    std::vector<uint8_t> bytes;
    if (fresh->packed) {
        bytes.resize(static_cast<size_t>(rows) * rb);
        for (int64_t k = 0; k < rows; ++k)
            (void) kernels::pack_state_row(host.data() + k * m_width,
                                           m_width,
                                           m_packedRope,
                                           bytes.data() + static_cast<size_t>(k) * rb);
    } else if (fresh->bf16) {
        bits.resize(host.size());
        for (size_t v = 0; v < host.size(); ++v)
            bits[v] = kernels::f32_to_bf16(host[v]);
    }
    for (int64_t i = m_begin; i < m_begin + rows;) {
        int64_t n = m_begin + rows - i;
        int64_t slot = i - m_begin;
        if (m_ring) {
            slot = i & (fresh->capacity - 1);
            n = std::min(n, fresh->capacity - slot);
        }
        const int64_t from = (i - m_begin) * m_width;
        const void *src = fresh->packed ? static_cast<const void *>(
                              bytes.data() + static_cast<size_t>(i - m_begin) * rb)
                          : fresh->bf16 ? static_cast<const void *>(bits.data() + from)
                                        : static_cast<const void *>(host.data() + from);
        FATHOM_TRY(
            mem->copyFromHost(static_cast<unsigned char *>(fresh->data) + slot * fresh->rowBytes,
                              src,
                              rb * static_cast<size_t>(n)));
        i += n;
    }
    m_dev = std::move(fresh);
    m_devOffset = 0;
    m_devRows = rows;
    m_data.clear();
    m_data.shrink_to_fit();
    return {};
}

bool RowHistory::operator==(const RowHistory &o) const
{
    if (m_width != o.m_width || m_begin != o.m_begin || rows() != o.rows())
        return false;
    if (!m_dev && !o.m_dev)
        return m_data == o.m_data;
    auto a = hostRows();
    auto b = o.hostRows();
    return a && b && *a == *b;
}

SequenceState::SequenceState(const ModelConfig &config,
                             int64_t historyTokens,
                             int64_t checkpointInterval)
    : m_history(historyTokens)
    , m_interval(std::max<int64_t>(0, checkpointInterval))
    , m_window(config.slidingWindow)
    , m_mainBlocks(config.numHiddenLayers)
    , m_streamWidth(static_cast<int64_t>(config.hcMult) * config.hiddenSize)
{
    const int D = config.headDim, DI = config.indexHeadDim;
    for (int i = 0; i < config.totalLayers(); ++i) {
        BlockState b;
        b.ratio = config.compressRatio(i);
        const int c = b.ratio == 4 ? 2 : 1;
        // Rows dropped from the front as the sequence moves live in rings on a device (fixed
        // slots for a replayed decode step); the append-only caches are linear.
        // bf16OnDevice: the rows that are bf16-exact by construction (window rows and compressed
        // entries: e4m3 x 2^k nope dims + bf16 RoPE dims; index keys: e2m1 x 2^k); the
        // compressor rows (pre-pooling sums) are not, and stay fp32.
        // Packed (a packing executor's layout, §5.2): window rows and entries with their RoPE
        // dims, index keys (-1).
        const int rope = config.qkRopeHeadDim;
        b.window = RowHistory(D, true, true, rope);
        b.entries = RowHistory(D, false, true, rope);
        b.compKv = RowHistory(b.ratio ? c * D : 0, true);
        b.compGate = RowHistory(b.ratio ? c * D : 0, true);
        b.indexKeys = RowHistory(b.ratio == 4 ? DI : 0, false, true, -1);
        b.indexKv = RowHistory(b.ratio == 4 ? c * DI : 0, true);
        b.indexGate = RowHistory(b.ratio == 4 ? c * DI : 0, true);
        // A CSA compressor ring holds 2 windows of 4 rows (+ the history): 16 slots, not 256
        // (each 4-row window starts at a multiple of 4, so it never wraps in 16 slots).
        if (b.ratio == 4)
            for (RowHistory *h : {&b.compKv, &b.compGate, &b.indexKv, &b.indexGate})
                h->setMinRingSlots(16);
        m_blocks.push_back(std::move(b));
    }
}

namespace {

// First position whose compressor inputs are still needed after `length` tokens.
int64_t compressorStart(int ratio, int64_t length)
{
    if (ratio == 0)
        return length;
    const int64_t closed = (length / ratio) * ratio;
    return ratio == 4 ? std::max<int64_t>(0, closed - ratio) : closed;
}

} // namespace

bool SequenceState::inHistory(const BlockState &b, int64_t p) const
{
    if (p > b.length)
        return false;
    if (p == b.length)
        return true;
    const int64_t winStart = std::max<int64_t>(0, p - m_window + 1);
    const int64_t cs = compressorStart(b.ratio, p);
    return b.window.has(winStart, p) && (!b.ratio || (b.compKv.has(cs, p) && b.compGate.has(cs, p)))
           && (b.ratio != 4 || (b.indexKv.has(cs, p) && b.indexGate.has(cs, p)));
}

bool SequenceState::restorable(const BlockState &b, int64_t p) const
{
    if (p < 0 || p > b.length)
        return false;
    if (p == 0 || inHistory(b, p))
        return true;
    for (const BlockState::Checkpoint &c : b.checkpoints)
        if (c.position == p)
            return true;
    return false;
}

Result<void> SequenceState::restoreBlock(BlockState &b, int64_t p)
{
    std::erase_if(b.checkpoints, [p](const BlockState::Checkpoint &c) { return c.position > p; });
    if (p == b.length)
        return {};
    const int64_t n = b.ratio ? p / b.ratio : 0;
    if (inHistory(b, p)) {
        b.window.truncate(p);
        b.compKv.truncate(p);
        b.compGate.truncate(p);
        b.indexKv.truncate(p);
        b.indexGate.truncate(p);
    } else {
        const BlockState::Checkpoint *cp = nullptr;
        for (const BlockState::Checkpoint &c : b.checkpoints)
            if (c.position == p)
                cp = &c;
        if (cp) {
            // Host copies; moved into the state's memory like any other rows.
            b.window = cp->window;
            b.compKv = cp->compKv;
            b.compGate = cp->compGate;
            b.indexKv = cp->indexKv;
            b.indexGate = cp->indexGate;
            for (RowHistory *h : {&b.window, &b.compKv, &b.compGate, &b.indexKv, &b.indexGate})
                FATHOM_TRY(h->useMemory(m_memory));
        } else { // p == 0: the empty state
            for (RowHistory *h : {&b.window, &b.compKv, &b.compGate, &b.indexKv, &b.indexGate})
                h->reset(0);
        }
    }
    b.entries.truncate(n);
    b.indexKeys.truncate(n);
    b.length = p;
    return {};
}

namespace {

// Rows [first, last) of `h` as a host-backed history (a checkpoint copy); false on a device
// read-back failure.
bool sliceToHost(const RowHistory &h, int64_t first, int64_t last, RowHistory &out)
{
    out = RowHistory(h.width(), h.ring(), h.bf16OnDevice(), h.packedRope());
    out.setMinRingSlots(h.minRingSlots());
    out.reset(first);
    if (last <= first || h.width() == 0)
        return true;
    std::vector<float> rows(static_cast<size_t>((last - first) * h.width()));
    if (!h.rowsToHost(first, last, rows.data()))
        return false;
    out.append(rows.data(), last - first);
    return true;
}

} // namespace

void SequenceState::capture(BlockState &b, int64_t p)
{
    if (p <= 0 || p > b.length || !inHistory(b, p))
        return;
    for (const BlockState::Checkpoint &c : b.checkpoints)
        if (c.position == p)
            return;
    BlockState::Checkpoint c;
    c.position = p;
    const int64_t winStart = std::max<int64_t>(0, p - m_window + 1);
    const int64_t cs = compressorStart(b.ratio, p);
    bool ok = sliceToHost(b.window, winStart, p, c.window);
    if (b.ratio) {
        ok = ok && sliceToHost(b.compKv, cs, p, c.compKv)
             && sliceToHost(b.compGate, cs, p, c.compGate);
    } else {
        c.compKv = RowHistory(b.compKv.width(), true);
        c.compGate = RowHistory(b.compGate.width(), true);
        c.compKv.reset(p);
        c.compGate.reset(p);
    }
    if (b.ratio == 4) {
        ok = ok && sliceToHost(b.indexKv, cs, p, c.indexKv)
             && sliceToHost(b.indexGate, cs, p, c.indexGate);
    } else {
        c.indexKv = RowHistory(b.indexKv.width(), true);
        c.indexGate = RowHistory(b.indexGate.width(), true);
        c.indexKv.reset(p);
        c.indexGate.reset(p);
    }
    // A failed device read-back only costs speed: a rewind then starts from an older checkpoint.
    if (!ok)
        return;
    auto at = std::lower_bound(b.checkpoints.begin(),
                               b.checkpoints.end(),
                               p,
                               [](const BlockState::Checkpoint &x, int64_t v) {
                                   return x.position < v;
                               });
    b.checkpoints.insert(at, std::move(c));
}

void SequenceState::takeCheckpoints(BlockState &b)
{
    // Positions passed since the last checkpoint; rows back to the previous trim() are still
    // there (trim() runs after every forward call), so each of them can still be captured.
    const int64_t last = b.checkpoints.empty() ? 0 : b.checkpoints.back().position;
    if (m_interval > 0)
        for (int64_t p = (last / m_interval + 1) * m_interval; p <= b.length; p += m_interval)
            capture(b, p);
    for (int64_t p : m_requested)
        if (p <= b.length)
            capture(b, p);
}

void SequenceState::requestCheckpoint(int64_t position)
{
    if (position <= 0)
        return;
    auto at = std::lower_bound(m_requested.begin(), m_requested.end(), position);
    if (at == m_requested.end() || *at != position)
        m_requested.insert(at, position);
    for (BlockState &b : m_blocks)
        capture(b, position); // no-op unless already passed and still in the history
}

int64_t SequenceState::checkpointBytes() const
{
    int64_t bytes = 0;
    for (const BlockState &b : m_blocks)
        for (const BlockState::Checkpoint &c : b.checkpoints)
            for (const RowHistory *h : {&c.window, &c.compKv, &c.compGate, &c.indexKv, &c.indexGate})
                bytes += h->storedBytes();
    return bytes;
}

int64_t SequenceState::memoryBytes() const
{
    int64_t bytes = checkpointBytes();
    for (const BlockState &b : m_blocks)
        for (const RowHistory *h : b.histories())
            bytes += h->storedBytes();
    return bytes;
}

SequenceState::StorageBytes SequenceState::storageBytes(bool allocated,
                                                        int firstBlock,
                                                        int lastBlock) const
{
    StorageBytes s;
    if (lastBlock < 0)
        lastBlock = blockCount();
    auto bytes = [allocated](const RowHistory &h) {
        return allocated ? h.allocatedBytes() : h.storedBytes();
    };
    for (int i = std::max(0, firstBlock); i < std::min(lastBlock, blockCount()); ++i) {
        const BlockState &b = m_blocks[static_cast<size_t>(i)];
        s.window += bytes(b.window);
        s.compressed += bytes(b.entries) + bytes(b.indexKeys);
        for (const RowHistory *h : {&b.compKv, &b.compGate, &b.indexKv, &b.indexGate})
            s.compressor += bytes(*h);
        for (const BlockState::Checkpoint &c : b.checkpoints)
            for (const RowHistory *h : {&c.window, &c.compKv, &c.compGate, &c.indexKv, &c.indexGate})
                s.checkpoints += h->storedBytes();
    }
    return s;
}

Result<void> SequenceState::reserve(int64_t tokens)
{
    m_reserved = tokens;
    if (!m_memory)
        return {}; // applied by useMemory
    for (BlockState &b : m_blocks) {
        // A layer without compressor keeps no entries: its (empty) cache gives up its 64 rows.
        FATHOM_TRY(b.entries.reserve(b.ratio ? tokens / b.ratio : 0));
        FATHOM_TRY(b.indexKeys.reserve(b.ratio ? tokens / b.ratio : 0));
    }
    return {};
}

int64_t SequenceState::reachableWithoutCompute(int64_t position) const
{
    position = std::clamp<int64_t>(position, 0, length());
    // Candidates, descending: the position itself (inside the history), checkpoints, 0.
    std::vector<int64_t> candidates{position};
    if (!m_blocks.empty())
        for (const BlockState::Checkpoint &c : m_blocks.front().checkpoints)
            if (c.position < position)
                candidates.push_back(c.position);
    std::sort(candidates.rbegin(), candidates.rend());
    for (int64_t r : candidates) {
        bool ok = true;
        for (const BlockState &b : m_blocks)
            ok = ok && restorable(b, std::min(r, b.length));
        if (ok)
            return r;
    }
    return 0;
}

Result<void> SequenceState::truncate(int64_t position, V4Forward *forward)
{
    if (position < 0 || position > length())
        return fail(Error::Kind::InvalidArgument,
                    "cannot truncate a sequence of " + std::to_string(length()) + " tokens to "
                        + std::to_string(position));
    const int main = std::min<int>(m_mainBlocks, blockCount());
    // Largest position <= p every main block can be cut back to.
    auto mainReach = [&](int64_t p) {
        std::vector<int64_t> candidates{p};
        if (main > 0)
            for (const BlockState::Checkpoint &c : m_blocks.front().checkpoints)
                if (c.position < p)
                    candidates.push_back(c.position);
        std::sort(candidates.rbegin(), candidates.rend());
        for (int64_t r : candidates) {
            bool ok = true;
            for (int i = 0; i < main; ++i)
                ok = ok && restorable(m_blocks[static_cast<size_t>(i)], r);
            if (ok)
                return r;
        }
        return int64_t(0);
    };
    // Plan: main blocks restart at `start`; each MTP block at its own restart (<= its target);
    // an MTP block that must recompute needs the main streams from its restart on.
    int64_t start = mainReach(position);
    std::vector<int64_t> mtpTarget, mtpStart;
    for (int i = main; i < blockCount(); ++i) {
        const BlockState &b = m_blocks[static_cast<size_t>(i)];
        const int64_t q = std::min(position, b.length);
        int64_t r = q;
        while (r > 0 && !restorable(b, r)) {
            int64_t next = 0; // the next lower checkpoint (or 0)
            for (const BlockState::Checkpoint &c : b.checkpoints)
                if (c.position < r)
                    next = std::max(next, c.position);
            r = inHistory(b, r) ? r : next;
        }
        mtpTarget.push_back(q);
        mtpStart.push_back(r);
        if (r < q)
            start = mainReach(std::min(start, r));
    }
    bool mtpCompute = false;
    for (size_t j = 0; j < mtpStart.size(); ++j)
        mtpCompute = mtpCompute || mtpStart[j] < mtpTarget[j];
    const bool compute = start < position || mtpCompute;
    if (compute && !forward)
        return fail(Error::Kind::Unsupported,
                    "truncating to position " + std::to_string(position)
                        + " needs the tokens from the checkpoint at " + std::to_string(start)
                        + " recomputed (the state keeps " + std::to_string(m_history)
                        + " positions of history); pass the forward pass to truncate()");
    if (compute && static_cast<int64_t>(m_tokens.size()) != length())
        return fail(Error::Kind::Unsupported,
                    "cannot truncate to position " + std::to_string(position)
                        + ": the token ids of this sequence state are not known (it was not "
                          "built through V4Forward::forward)");
    for (size_t j = 0; j < mtpStart.size(); ++j)
        if (mtpStart[j] < mtpTarget[j]
            && (j > 0
                || static_cast<int64_t>(m_mtpTokens.size())
                       != m_blocks[static_cast<size_t>(main)].length))
            return fail(Error::Kind::Unsupported,
                        "cannot truncate MTP block " + std::to_string(j)
                            + ": its token ids are not known");

    // Committed from here on.
    const std::vector<int32_t> tokens = m_tokens, mtpTokens = m_mtpTokens;
    std::erase_if(m_requested, [position](int64_t p) { return p > position; });
    for (int i = 0; i < main; ++i)
        FATHOM_TRY(restoreBlock(m_blocks[static_cast<size_t>(i)], start));
    for (size_t j = 0; j < mtpStart.size(); ++j)
        FATHOM_TRY(restoreBlock(m_blocks[static_cast<size_t>(main) + j], mtpStart[j]));
    m_tokens.resize(static_cast<size_t>(std::min<int64_t>(start, m_tokens.size())));
    if (!mtpStart.empty())
        m_mtpTokens.resize(
            static_cast<size_t>(std::min<int64_t>(mtpStart.front(), m_mtpTokens.size())));
    if (!compute)
        return {};

    std::vector<float> streams;
    if (start < position) {
        ForwardItem it;
        it.state = this;
        it.tokens = tokens.data() + start;
        it.count = static_cast<int>(position - start);
        it.logits = false;
        FATHOM_TRY(forward->forward({it}, nullptr, {}, mtpCompute ? &streams : nullptr));
    }
    if (mtpCompute && mtpStart.front() < mtpTarget.front()) {
        ForwardItem it;
        it.state = this;
        it.tokens = mtpTokens.data() + mtpStart.front();
        it.count = static_cast<int>(mtpTarget.front() - mtpStart.front());
        it.logits = false;
        FATHOM_TRY(forward->mtpForward({it},
                                       streams.data() + (mtpStart.front() - start) * m_streamWidth,
                                       nullptr));
    }
    return {};
}

void SequenceState::commit(const int32_t *ids, int count, bool mtp)
{
    // The ids are kept only while they describe every position: a state built without them
    // (the golden set-up writes rows directly) keeps none, and cannot be recomputed.
    std::vector<int32_t> &kept = mtp ? m_mtpTokens : m_tokens;
    const size_t block = mtp ? static_cast<size_t>(m_mainBlocks) : 0;
    const int64_t blockLength = block < m_blocks.size() ? m_blocks[block].length : 0;
    if (ids && count > 0 && static_cast<int64_t>(kept.size()) + count == blockLength)
        kept.insert(kept.end(), ids, ids + count);
    else if (static_cast<int64_t>(kept.size()) != blockLength)
        kept.clear();
    trim();
}

void SequenceState::trim()
{
    for (BlockState &b : m_blocks) {
        takeCheckpoints(b);
        const int64_t keepFrom = b.length - m_history;
        b.window.dropBefore(std::max<int64_t>(0, keepFrom - m_window));
        if (b.ratio) {
            const int64_t cs = compressorStart(b.ratio, std::max<int64_t>(0, keepFrom));
            b.compKv.dropBefore(cs);
            b.compGate.dropBefore(cs);
            b.indexKv.dropBefore(cs);
            b.indexGate.dropBefore(cs);
        }
        // Rings a prefill chunk grew: back to their steady size (the history's rows).
        for (RowHistory *h : {&b.window, &b.compKv, &b.compGate, &b.indexKv, &b.indexGate})
            h->shrinkRing();
    }
}

Result<void> SequenceState::useMemory(DeviceMemory *mem)
{
    if (mem && mem->hostAddressable())
        mem = nullptr;
    if (mem == m_memory)
        return {};
    for (BlockState &b : m_blocks)
        for (RowHistory *h : b.histories())
            FATHOM_TRY(h->useMemory(mem));
    m_memory = mem;
    return m_reserved > 0 ? reserve(m_reserved) : Result<void>{};
}

namespace {

// Version 02 adds the token ids, the checkpoint settings and the checkpoints; 01 (rows only)
// is still read (such a state truncates only inside its history).
constexpr char kMagic[8] = {'F', 'T', 'H', 'S', 'E', 'Q', '0', '2'};
constexpr char kMagicV1[8] = {'F', 'T', 'H', 'S', 'E', 'Q', '0', '1'};

template<typename T>
void put(std::vector<uint8_t> &out, const T &v)
{
    const auto *p = reinterpret_cast<const uint8_t *>(&v);
    out.insert(out.end(), p, p + sizeof(T));
}

template<typename T>
void putVector(std::vector<uint8_t> &out, const std::vector<T> &v)
{
    put(out, static_cast<int64_t>(v.size()));
    const auto *p = reinterpret_cast<const uint8_t *>(v.data());
    out.insert(out.end(), p, p + v.size() * sizeof(T));
}

struct Reader
{
    const std::vector<uint8_t> &bytes;
    size_t pos = 0;
    template<typename T>
    bool get(T &v)
    {
        if (bytes.size() - pos < sizeof(T))
            return false;
        std::memcpy(&v, bytes.data() + pos, sizeof(T));
        pos += sizeof(T);
        return true;
    }
    template<typename T>
    bool getVector(std::vector<T> &v)
    {
        int64_t n = 0;
        if (!get(n) || n < 0 || static_cast<uint64_t>(n) > (bytes.size() - pos) / sizeof(T))
            return false;
        v.resize(static_cast<size_t>(n));
        std::memcpy(v.data(), bytes.data() + pos, static_cast<size_t>(n) * sizeof(T));
        pos += static_cast<size_t>(n) * sizeof(T);
        return true;
    }
};

} // namespace

void SequenceState::saveRows(std::vector<uint8_t> &out, const RowHistory &h)
{
    // Device rows are read back; save() has no error channel, so a device that fails the
    // read-back writes the history without rows (truncate() then refuses to go back).
    std::vector<float> host;
    if (h.m_dev) {
        if (auto r = h.hostRows())
            host = std::move(*r);
    }
    const std::vector<float> &data = h.m_dev ? host : h.m_data;
    put(out, static_cast<int32_t>(h.m_width));
    put(out, h.m_begin);
    put(out, static_cast<int64_t>(data.size()));
    const auto *p = reinterpret_cast<const uint8_t *>(data.data());
    out.insert(out.end(), p, p + data.size() * sizeof(float));
}

bool SequenceState::restoreRows(const std::vector<uint8_t> &bytes, size_t &pos, RowHistory &h)
{
    Reader r{bytes, pos};
    int32_t width = 0;
    int64_t count = 0;
    if (!r.get(width) || !r.get(h.m_begin) || !r.get(count))
        return false;
    if (width != h.m_width || count < 0 || (width && count % width)
        || static_cast<uint64_t>(count) > (bytes.size() - r.pos) / sizeof(float))
        return false;
    h.m_data.resize(static_cast<size_t>(count));
    std::memcpy(h.m_data.data(), bytes.data() + r.pos, static_cast<size_t>(count) * sizeof(float));
    pos = r.pos + static_cast<size_t>(count) * sizeof(float);
    return true;
}

std::vector<uint8_t> SequenceState::save() const
{
    std::vector<uint8_t> out(kMagic, kMagic + 8);
    put(out, static_cast<int32_t>(m_blocks.size()));
    put(out, static_cast<int32_t>(m_window));
    put(out, m_history);
    put(out, m_interval);
    putVector(out, m_tokens);
    putVector(out, m_mtpTokens);
    putVector(out, m_requested);
    for (const BlockState &b : m_blocks) {
        put(out, b.length);
        put(out, static_cast<int32_t>(b.ratio));
        for (const RowHistory *h : b.histories())
            saveRows(out, *h);
        put(out, static_cast<int64_t>(b.checkpoints.size()));
        for (const BlockState::Checkpoint &c : b.checkpoints) {
            put(out, c.position);
            for (const RowHistory *h : {&c.window, &c.compKv, &c.compGate, &c.indexKv, &c.indexGate})
                saveRows(out, *h);
        }
    }
    return out;
}

Result<SequenceState> SequenceState::restore(const std::vector<uint8_t> &bytes,
                                             const ModelConfig &config)
{
    auto bad = [](const std::string &why) {
        return fail(Error::Kind::Format, "sequence state snapshot: " + why);
    };
    if (bytes.size() < 8
        || (std::memcmp(bytes.data(), kMagic, 8) != 0
            && std::memcmp(bytes.data(), kMagicV1, 8) != 0))
        return bad("not a Fathom sequence state (bad magic)");
    const bool v1 = std::memcmp(bytes.data(), kMagicV1, 8) == 0;
    SequenceState fresh(config);
    Reader r{bytes, 8};
    int32_t blocks = 0, window = 0;
    int64_t history = 0;
    if (!r.get(blocks) || !r.get(window) || !r.get(history))
        return bad("truncated header");
    if (blocks != fresh.blockCount() || window != fresh.m_window)
        return bad("made for another model (blocks " + std::to_string(blocks) + ", window "
                   + std::to_string(window) + ")");
    SequenceState s = fresh;
    s.m_history = history;
    if (v1) {
        s.m_interval = 0; // no token ids: nothing could be recomputed
    } else if (!r.get(s.m_interval) || s.m_interval < 0 || !r.getVector(s.m_tokens)
               || !r.getVector(s.m_mtpTokens) || !r.getVector(s.m_requested)) {
        return bad("truncated token ids");
    }
    for (BlockState &b : s.m_blocks) {
        int32_t ratio = 0;
        if (!r.get(b.length) || !r.get(ratio))
            return bad("truncated block header");
        if (ratio != b.ratio)
            return bad("compress ratio mismatch");
        for (RowHistory *h : b.histories())
            if (!restoreRows(bytes, r.pos, *h))
                return bad("row data does not match the model");
        if (v1)
            continue;
        int64_t count = 0;
        if (!r.get(count) || count < 0 || static_cast<uint64_t>(count) > bytes.size() - r.pos)
            return bad("truncated checkpoint list");
        for (int64_t i = 0; i < count; ++i) {
            BlockState::Checkpoint c;
            c.window = RowHistory(b.window.width(),
                                  b.window.ring(),
                                  b.window.bf16OnDevice(),
                                  b.window.packedRope());
            c.compKv = RowHistory(b.compKv.width(), b.compKv.ring());
            c.compGate = RowHistory(b.compGate.width(), b.compGate.ring());
            c.indexKv = RowHistory(b.indexKv.width(), b.indexKv.ring());
            c.indexGate = RowHistory(b.indexGate.width(), b.indexGate.ring());
            for (RowHistory *h : {&c.compKv, &c.compGate, &c.indexKv, &c.indexGate})
                h->setMinRingSlots(b.compKv.minRingSlots());
            if (!r.get(c.position) || c.position <= 0 || c.position > b.length)
                return bad("bad checkpoint position");
            for (RowHistory *h : {&c.window, &c.compKv, &c.compGate, &c.indexKv, &c.indexGate})
                if (!restoreRows(bytes, r.pos, *h))
                    return bad("checkpoint rows do not match the model");
            b.checkpoints.push_back(std::move(c));
        }
    }
    if (r.pos != bytes.size())
        return bad("trailing bytes");
    if (!s.m_tokens.empty() && s.length() != static_cast<int64_t>(s.m_tokens.size()))
        return bad("token ids do not match the length");
    return s;
}

} // namespace fathom::engine
