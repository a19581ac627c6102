// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// The only platform-specific file of the model reader: read-only mappings.

#include "mappedfile.h"

#include <algorithm>
#include <cstring>
#include <utility>

#ifdef _WIN32
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#else
#include <cerrno>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace fathom::engine {

MappedFile::~MappedFile()
{
    reset();
}

MappedFile::MappedFile(MappedFile &&other) noexcept
{
    *this = std::move(other);
}

MappedFile &MappedFile::operator=(MappedFile &&other) noexcept
{
    if (this != &other) {
        reset();
        m_data = std::exchange(other.m_data, nullptr);
        m_size = std::exchange(other.m_size, 0);
        m_path = std::move(other.m_path);
#ifdef _WIN32
        m_file = std::exchange(other.m_file, nullptr);
        m_mapping = std::exchange(other.m_mapping, nullptr);
#endif
    }
    return *this;
}

void MappedFile::reset()
{
#ifdef _WIN32
    if (m_data)
        UnmapViewOfFile(m_data);
    if (m_mapping)
        CloseHandle(static_cast<HANDLE>(m_mapping));
    if (m_file)
        CloseHandle(static_cast<HANDLE>(m_file));
    m_file = m_mapping = nullptr;
#else
    if (m_data && m_size)
        munmap(const_cast<uint8_t *>(m_data), m_size);
#endif
    m_data = nullptr;
    m_size = 0;
}

#ifdef _WIN32

static std::string lastErrorText()
{
    char buf[512] = {};
    FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
                   nullptr,
                   GetLastError(),
                   0,
                   buf,
                   sizeof(buf),
                   nullptr);
    return buf;
}

Result<MappedFile> MappedFile::open(const std::string &path)
{
    MappedFile f;
    f.m_path = path;
    const int wlen = MultiByteToWideChar(CP_UTF8, 0, path.c_str(), -1, nullptr, 0);
    std::wstring wpath(static_cast<size_t>(wlen > 0 ? wlen : 1), L'\0');
    MultiByteToWideChar(CP_UTF8, 0, path.c_str(), -1, wpath.data(), wlen);
    HANDLE file = CreateFileW(wpath.c_str(),
                              GENERIC_READ,
                              FILE_SHARE_READ,
                              nullptr,
                              OPEN_EXISTING,
                              FILE_ATTRIBUTE_NORMAL,
                              nullptr);
    if (file == INVALID_HANDLE_VALUE)
        return fail(Error::Kind::Io, "cannot open " + path + ": " + lastErrorText());
    f.m_file = file;
    LARGE_INTEGER size;
    if (!GetFileSizeEx(file, &size))
        return fail(Error::Kind::Io, "cannot read the size of " + path + ": " + lastErrorText());
    f.m_size = static_cast<size_t>(size.QuadPart);
    if (f.m_size == 0)
        return f;
    HANDLE mapping = CreateFileMappingW(file, nullptr, PAGE_READONLY, 0, 0, nullptr);
    if (!mapping)
        return fail(Error::Kind::Io, "cannot map " + path + ": " + lastErrorText());
    f.m_mapping = mapping;
    void *view = MapViewOfFile(mapping, FILE_MAP_READ, 0, 0, 0);
    if (!view)
        return fail(Error::Kind::Io, "cannot map " + path + ": " + lastErrorText());
    f.m_data = static_cast<const uint8_t *>(view);
    return f;
}

void MappedFile::prefetch(size_t, size_t) const {}

void MappedFile::release(size_t offset, size_t length) const
{
    if (!m_data || offset >= m_size)
        return;
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    const size_t page = si.dwPageSize;
    const size_t begin = (offset + page - 1) / page * page;
    const size_t end = std::min(m_size, offset + length) / page * page;
    if (end > begin)
        VirtualUnlock(const_cast<uint8_t *>(m_data) + begin, end - begin);
}

#else

Result<MappedFile> MappedFile::open(const std::string &path)
{
    MappedFile f;
    f.m_path = path;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(Error::Kind::Io, "cannot open " + path + ": " + std::strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        return fail(Error::Kind::Io, "cannot stat " + path + ": " + std::strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        return fail(Error::Kind::Io, path + " is not a regular file");
    }
    f.m_size = static_cast<size_t>(st.st_size);
    if (f.m_size > 0) {
        void *p = mmap(nullptr, f.m_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            const int err = errno;
            ::close(fd);
            f.m_size = 0;
            return fail(Error::Kind::Io, "cannot map " + path + ": " + std::strerror(err));
        }
        f.m_data = static_cast<const uint8_t *>(p);
    }
    ::close(fd); // the mapping keeps the file alive
    return f;
}

void MappedFile::prefetch(size_t offset, size_t length) const
{
    if (!m_data || offset >= m_size)
        return;
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t begin = offset / page * page;
    const size_t end = std::min(m_size, offset + length);
    madvise(const_cast<uint8_t *>(m_data) + begin, end - begin, MADV_WILLNEED);
}

void MappedFile::release(size_t offset, size_t length) const
{
    if (!m_data || offset >= m_size)
        return;
    // Whole pages inside the range only: a page shared with a neighbouring tensor stays.
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t begin = (offset + page - 1) / page * page;
    const size_t end = std::min(m_size, offset + length) / page * page;
    if (end > begin)
        madvise(const_cast<uint8_t *>(m_data) + begin, end - begin, MADV_DONTNEED);
}

#endif

} // namespace fathom::engine
