// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "sequencestate.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace fathom::engine {

void RowHistory::append(const float *rows, int64_t count)
{
    m_data.insert(m_data.end(), rows, rows + count * m_width);
}

void RowHistory::truncate(int64_t newEnd)
{
    if (newEnd >= end())
        return;
    const int64_t keep = std::max<int64_t>(0, newEnd - m_begin);
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
    m_data.erase(m_data.begin(), m_data.begin() + drop * m_width);
    m_begin += drop;
}

void RowHistory::reset(int64_t begin)
{
    m_data.clear();
    m_begin = begin;
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
            put(out, static_cast<int32_t>(h->m_width));
            put(out, h->m_begin);
            put(out, static_cast<int64_t>(h->m_data.size()));
            const auto *p = reinterpret_cast<const uint8_t *>(h->m_data.data());
            out.insert(out.end(), p, p + h->m_data.size() * sizeof(float));
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
