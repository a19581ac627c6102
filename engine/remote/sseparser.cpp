// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "sseparser.h"

namespace fathom::engine::remote {

namespace {
constexpr unsigned char kBom[3] = {0xEF, 0xBB, 0xBF};
}

SseParser::SseParser(std::size_t maxEventBytes)
    : m_maxEventBytes(maxEventBytes == 0 ? defaultMaxEventBytes : maxEventBytes)
{}

void SseParser::reset()
{
    *this = SseParser(m_maxEventBytes);
}

void SseParser::fail(std::string message)
{
    m_failed = true;
    m_error = std::move(message);
    m_line.clear();
    m_data.clear();
}

bool SseParser::feed(std::string_view bytes, std::vector<SseEvent> &out)
{
    if (m_failed)
        return false;
    std::size_t i = 0;
    // The byte order mark may itself be split across feed() calls.
    while (m_atStart && i < bytes.size()) {
        if (static_cast<unsigned char>(bytes[i]) == kBom[m_bomMatched]) {
            ++m_bomMatched;
            ++i;
            if (m_bomMatched == 3)
                m_atStart = false;
            continue;
        }
        // Not a BOM after all: the bytes matched so far are ordinary line content.
        m_line.append(reinterpret_cast<const char *>(kBom), m_bomMatched);
        m_atStart = false;
    }

    while (i < bytes.size()) {
        const char c = bytes[i];
        if (m_afterCr) {
            m_afterCr = false;
            if (c == '\n') {
                ++i;
                continue;
            }
        }
        if (c == '\r' || c == '\n') {
            m_afterCr = (c == '\r');
            processLine(m_line, out);
            m_line.clear();
            ++i;
            if (m_failed)
                return false;
            continue;
        }
        // Copy the run up to the next terminator in one go: chunks are mostly long JSON lines.
        std::size_t end = i;
        while (end < bytes.size() && bytes[end] != '\r' && bytes[end] != '\n')
            ++end;
        m_line.append(bytes.data() + i, end - i);
        i = end;
        if (m_line.size() + m_data.size() > m_maxEventBytes) {
            fail("server-sent event larger than " + std::to_string(m_maxEventBytes) + " bytes");
            return false;
        }
    }
    return true;
}

void SseParser::processLine(std::string_view line, std::vector<SseEvent> &out)
{
    if (line.empty()) {
        if (m_hasData) {
            SseEvent event;
            event.type = std::move(m_type);
            event.data = std::move(m_data);
            event.id = m_lastId;
            out.push_back(std::move(event));
            ++m_events;
        }
        m_type.clear();
        m_data.clear();
        m_hasData = false;
        m_hasFields = false;
        return;
    }
    if (line.front() == ':') {
        ++m_comments;
        return;
    }
    std::string_view field = line;
    std::string_view value;
    if (const std::size_t colon = line.find(':'); colon != std::string_view::npos) {
        field = line.substr(0, colon);
        value = line.substr(colon + 1);
        if (!value.empty() && value.front() == ' ')
            value.remove_prefix(1);
    }
    m_hasFields = true;
    if (field == "data") {
        if (m_hasData)
            m_data.push_back('\n');
        m_data.append(value);
        m_hasData = true;
        if (m_data.size() > m_maxEventBytes)
            fail("server-sent event larger than " + std::to_string(m_maxEventBytes) + " bytes");
    } else if (field == "event") {
        m_type.assign(value);
    } else if (field == "id") {
        // The standard ignores ids containing NUL.
        if (value.find('\0') == std::string_view::npos)
            m_lastId.assign(value);
    }
    // "retry" and unknown fields: ignored (we never reconnect an answer stream by ourselves).
}

bool SseParser::finish()
{
    const bool clean = !m_failed && m_line.empty() && !m_hasData && !m_hasFields;
    m_line.clear();
    m_data.clear();
    m_type.clear();
    m_hasData = false;
    m_hasFields = false;
    m_afterCr = false;
    return clean;
}

} // namespace fathom::engine::remote
