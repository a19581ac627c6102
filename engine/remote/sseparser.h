// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  Incremental parser for server-sent events (the WHATWG "event stream" format) as OpenAI-compatible
  servers send them. Bytes arrive in arbitrary pieces from the network, so every piece of state
  (a half line, a CR whose LF has not arrived yet, the data lines of an event not yet terminated
  by a blank line) survives between feed() calls.

  Rules implemented (HTML Living Standard, "Interpreting an event stream"):
  - lines end with CRLF, LF or CR; a leading UTF-8 byte order mark is skipped;
  - a line starting with ':' is a comment (servers send ": keep-alive" while a request queues);
  - "field: value" (one leading space of the value stripped), "field" alone = empty value;
  - data lines accumulate, joined with '\n'; a blank line dispatches the event; an event with no
    data line is not dispatched; unknown fields are ignored;
  - at the end of the stream an event that was not terminated by a blank line is discarded:
    finish() reports it, so a stream cut mid-event can be told from a clean end.
  A line or event larger than the limit puts the parser in a failed state instead of growing
  without bound (a broken or hostile server cannot exhaust memory).
*/

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace fathom::engine::remote {

struct SseEvent
{
    std::string type; // the "event" field; empty means the default type "message"
    std::string data; // data lines joined with '\n'
    std::string id;   // the last "id" field seen (the stream's last event id)
};

class SseParser
{
public:
    static constexpr std::size_t defaultMaxEventBytes = 8u << 20;

    explicit SseParser(std::size_t maxEventBytes = defaultMaxEventBytes);

    // Parses bytes and appends every event completed by them to `out`. Returns false (and stops
    // consuming input) once the parser has failed; see errorMessage().
    bool feed(std::string_view bytes, std::vector<SseEvent> &out);

    // The stream ended. Returns true when it ended on an event boundary; false when a partial
    // line or an undispatched event was pending (the pending event is discarded, as the
    // standard says).
    bool finish();

    void reset();

    bool failed() const { return m_failed; }
    const std::string &errorMessage() const { return m_error; }
    std::size_t commentCount() const { return m_comments; }
    std::size_t eventCount() const { return m_events; }
    // Bytes of the current event already buffered (the partial line plus data lines).
    bool hasPendingEvent() const { return !m_line.empty() || m_hasData || m_hasFields; }

private:
    void processLine(std::string_view line, std::vector<SseEvent> &out);
    void fail(std::string message);

    std::size_t m_maxEventBytes;
    std::string m_line; // the line being assembled (no terminator)
    std::string m_data; // data of the event being assembled
    std::string m_type;
    std::string m_lastId;
    bool m_hasData = false;
    bool m_hasFields = false; // any field line since the last dispatch
    bool m_afterCr = false;   // the previous byte was CR: a following LF belongs to it
    bool m_atStart = true;    // for the byte order mark
    std::size_t m_bomMatched = 0;
    bool m_failed = false;
    std::string m_error;
    std::size_t m_comments = 0;
    std::size_t m_events = 0;
};

} // namespace fathom::engine::remote
