// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "sequencestate.h"

#include "engine/runtime/devicememory.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace fathom::engine {

struct RowHistory::DeviceRows
{
    DeviceMemory *mem = nullptr;
    float *data = nullptr;
    int64_t capacity = 0; // rows

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

float *RowHistory::base() const
{
    if (m_dev)
        return m_dev->data + m_devOffset * m_width;
    return const_cast<float *>(m_data.data());
}

void RowHistory::append(const float *rows, int64_t count)
{
    m_data.insert(m_data.end(), rows, rows + count * m_width);
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
    // A buffer shared with a copy of the state, or one without room, is replaced first: appends
    // write past this history's rows, where a copy may keep rows of its own.
    if (m_dev.use_count() > 1 || m_devOffset + m_devRows + count > m_dev->capacity) {
        auto fresh = std::make_shared<DeviceRows>();
        fresh->mem = m_dev->mem;
        fresh->capacity = std::max<int64_t>(64, 2 * (m_devRows + count));
        FATHOM_TRY_ASSIGN(void *p,
                          fresh->mem->allocate(static_cast<size_t>(fresh->capacity) * rowBytes,
                                               "sequence state rows"));
        fresh->data = static_cast<float *>(p);
        FATHOM_TRY(fresh->mem->copy(fresh->data, base(), static_cast<size_t>(m_devRows) * rowBytes));
        m_dev = std::move(fresh);
        m_devOffset = 0;
    }
    FATHOM_TRY(
        m_dev->mem->copy(base() + m_devRows * m_width, rows, static_cast<size_t>(count) * rowBytes));
    m_devRows += count;
    return {};
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
        // No copy: the dead rows stay in the buffer until the next reallocation skips them.
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

Result<std::vector<float>> RowHistory::hostRows() const
{
    if (!m_dev)
        return m_data;
    std::vector<float> out(static_cast<size_t>(m_devRows * m_width));
    FATHOM_TRY(m_dev->mem->copyToHost(out.data(), base(), out.size() * sizeof(float)));
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
    fresh->capacity = std::max<int64_t>(64, 2 * rows);
    FATHOM_TRY_ASSIGN(void *p,
                      mem->allocate(static_cast<size_t>(fresh->capacity) * m_width * sizeof(float),
                                    "sequence state rows"));
    fresh->data = static_cast<float *>(p);
    FATHOM_TRY(mem->copyFromHost(fresh->data, host.data(), host.size() * sizeof(float)));
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

SequenceState::SequenceState(const ModelConfig &config, int64_t historyTokens)
    : m_history(historyTokens)
    , m_window(config.slidingWindow)
{
    const int D = config.headDim, DI = config.indexHeadDim;
    for (int i = 0; i < config.totalLayers(); ++i) {
        BlockState b;
        b.ratio = config.compressRatio(i);
        const int c = b.ratio == 4 ? 2 : 1;
        b.window = RowHistory(D);
        b.entries = RowHistory(D);
        b.compKv = RowHistory(b.ratio ? c * D : 0);
        b.compGate = RowHistory(b.ratio ? c * D : 0);
        b.indexKeys = RowHistory(b.ratio == 4 ? DI : 0);
        b.indexKv = RowHistory(b.ratio == 4 ? c * DI : 0);
        b.indexGate = RowHistory(b.ratio == 4 ? c * DI : 0);
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

Result<void> SequenceState::truncate(int64_t position)
{
    if (position < 0 || position > length())
        return fail(Error::Kind::InvalidArgument,
                    "cannot truncate a sequence of " + std::to_string(length()) + " tokens to "
                        + std::to_string(position));
    // Check first, so a refused truncate leaves the state untouched.
    for (const BlockState &b : m_blocks) {
        const int64_t p = std::min(position, b.length);
        const int64_t winStart = std::max<int64_t>(0, p - m_window + 1);
        const int64_t cs = compressorStart(b.ratio, p);
        if (!b.window.has(winStart, p) || (b.ratio && !b.compKv.has(cs, p))
            || (b.ratio == 4 && !b.indexKv.has(cs, p)))
            return fail(Error::Kind::Unsupported,
                        "cannot truncate to position " + std::to_string(position)
                            + ": the sequence state keeps only the last " + std::to_string(m_history)
                            + " positions of history; restore a saved snapshot instead");
    }
    for (BlockState &b : m_blocks) {
        const int64_t p = std::min(position, b.length);
        b.length = p;
        b.window.truncate(p);
        if (b.ratio) {
            const int64_t n = p / b.ratio;
            b.entries.truncate(n);
            b.compKv.truncate(p);
            b.compGate.truncate(p);
            b.indexKeys.truncate(n);
            b.indexKv.truncate(p);
            b.indexGate.truncate(p);
        }
    }
    return {};
}

void SequenceState::trim()
{
    for (BlockState &b : m_blocks) {
        const int64_t keepFrom = b.length - m_history;
        b.window.dropBefore(std::max<int64_t>(0, keepFrom - m_window));
        if (b.ratio) {
            const int64_t cs = compressorStart(b.ratio, std::max<int64_t>(0, keepFrom));
            b.compKv.dropBefore(cs);
            b.compGate.dropBefore(cs);
            b.indexKv.dropBefore(cs);
            b.indexGate.dropBefore(cs);
        }
    }
}

Result<void> SequenceState::useMemory(DeviceMemory *mem)
{
    if (mem && mem->hostAddressable())
        mem = nullptr;
    if (mem == m_memory)
        return {};
    for (BlockState &b : m_blocks)
        for (RowHistory *h :
             {&b.window, &b.entries, &b.compKv, &b.compGate, &b.indexKeys, &b.indexKv, &b.indexGate})
            FATHOM_TRY(h->useMemory(mem));
    m_memory = mem;
    return {};
}

namespace {

constexpr char kMagic[8] = {'F', 'T', 'H', 'S', 'E', 'Q', '0', '1'};

template<typename T>
void put(std::vector<uint8_t> &out, const T &v)
{
    const auto *p = reinterpret_cast<const uint8_t *>(&v);
    out.insert(out.end(), p, p + sizeof(T));
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
};

} // namespace

std::vector<uint8_t> SequenceState::save() const
{
    std::vector<uint8_t> out(kMagic, kMagic + 8);
    put(out, static_cast<int32_t>(m_blocks.size()));
    put(out, static_cast<int32_t>(m_window));
    put(out, m_history);
    for (const BlockState &b : m_blocks) {
        put(out, b.length);
        put(out, static_cast<int32_t>(b.ratio));
        for (const RowHistory *h :
             {&b.window, &b.entries, &b.compKv, &b.compGate, &b.indexKeys, &b.indexKv, &b.indexGate}) {
            // Device rows are read back; save() has no error channel, so a device that fails the
            // read-back writes the history without rows (truncate() then refuses to go back).
            std::vector<float> host;
            if (h->m_dev) {
                if (auto r = h->hostRows())
                    host = std::move(*r);
            }
            const std::vector<float> &data = h->m_dev ? host : h->m_data;
            put(out, static_cast<int32_t>(h->m_width));
            put(out, h->m_begin);
            put(out, static_cast<int64_t>(data.size()));
            const auto *p = reinterpret_cast<const uint8_t *>(data.data());
            out.insert(out.end(), p, p + data.size() * sizeof(float));
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
    if (bytes.size() < 8 || std::memcmp(bytes.data(), kMagic, 8) != 0)
        return bad("not a Fathom sequence state (bad magic)");
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
    for (BlockState &b : s.m_blocks) {
        int32_t ratio = 0;
        if (!r.get(b.length) || !r.get(ratio))
            return bad("truncated block header");
        if (ratio != b.ratio)
            return bad("compress ratio mismatch");
        for (RowHistory *h :
             {&b.window, &b.entries, &b.compKv, &b.compGate, &b.indexKeys, &b.indexKv, &b.indexGate}) {
            int32_t width = 0;
            int64_t count = 0;
            if (!r.get(width) || !r.get(h->m_begin) || !r.get(count))
                return bad("truncated row header");
            if (width != h->m_width || count < 0 || (width && count % width)
                || static_cast<uint64_t>(count) * sizeof(float) > bytes.size() - r.pos)
                return bad("row data does not match the model");
            h->m_data.resize(static_cast<size_t>(count));
            std::memcpy(h->m_data.data(), bytes.data() + r.pos, count * sizeof(float));
            r.pos += count * sizeof(float);
        }
    }
    if (r.pos != bytes.size())
        return bad("trailing bytes");
    return s;
}

} // namespace fathom::engine
