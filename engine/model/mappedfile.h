// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  A read-only memory-mapped file: the platform layer of the safetensors reader (POSIX mmap,
  Windows CreateFileMapping; nothing platform-specific outside mappedfile.cpp). Pages are only
  read when a tensor is touched, so mapping a checkpoint costs no resident memory by itself.
  Movable, not copyable; unmaps on destruction. Thread-safe for concurrent reads.
*/

#include "engine/core/error.h"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace fathom::engine {

// UTF-8 <-> std::filesystem::path without char8_t noise (C++20 u8string returns std::u8string).
inline std::string pathToUtf8(const std::filesystem::path &p)
{
    const std::u8string u = p.u8string();
    return std::string(u.begin(), u.end());
}
inline std::filesystem::path utf8ToPath(const std::string &s)
{
    return std::filesystem::path(std::u8string(s.begin(), s.end()));
}

class MappedFile
{
public:
    MappedFile() = default;
    ~MappedFile();
    MappedFile(MappedFile &&other) noexcept;
    MappedFile &operator=(MappedFile &&other) noexcept;
    MappedFile(const MappedFile &) = delete;
    MappedFile &operator=(const MappedFile &) = delete;

    // Errors: Kind::Io with the path and the OS message. An empty file maps to size 0.
    static Result<MappedFile> open(const std::string &path);

    const uint8_t *data() const { return m_data; }
    size_t size() const { return m_size; }
    const std::string &path() const { return m_path; }

    // Hint that [offset, offset + length) will be read soon (madvise WILLNEED; no-op elsewhere).
    void prefetch(size_t offset, size_t length) const;
    // The whole pages inside [offset, offset + length) will not be read again for now (the
    // source of a converted tensor): they leave the resident set (madvise DONTNEED; Windows:
    // VirtualUnlock, which drops unlocked pages from the working set). The mapping is read-only
    // and file-backed, so a later read simply faults them back in from the file.
    void release(size_t offset, size_t length) const;

private:
    void reset();

    const uint8_t *m_data = nullptr;
    size_t m_size = 0;
    std::string m_path;
#ifdef _WIN32
    void *m_file = nullptr;
    void *m_mapping = nullptr;
#endif
};

} // namespace fathom::engine
