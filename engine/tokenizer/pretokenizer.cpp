// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT

#include "pretokenizer.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>

namespace fathom::engine::tokenizer {

namespace {

#include "unicode_tables.inc"

std::uint16_t computeClass(char32_t cp)
{
    if (cp > 0x10FFFF)
        return 0;
    std::uint16_t c
        = kUnicodeStage2[(unsigned(kUnicodeStage1[cp >> kUnicodeBlockBits]) << kUnicodeBlockBits)
                         | (cp & ((1u << kUnicodeBlockBits) - 1))];
    if (cp == '\r' || cp == '\n')
        c |= kCrLf;
    if ((cp >= 0x4E00 && cp <= 0x9FA5) || (cp >= 0x3040 && cp <= 0x30FF))
        c |= kCjk;
    if ((cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z'))
        c |= kAsciiAlpha;
    if ((cp >= 0x21 && cp <= 0x2F) || (cp >= 0x3A && cp <= 0x40) || (cp >= 0x5B && cp <= 0x60)
        || (cp >= 0x7B && cp <= 0x7E))
        c |= kAsciiPunct;
    if (cp == ' ')
        c |= kBlank;
    return c;
}

const std::array<std::uint16_t, 128> kAsciiClasses = [] {
    std::array<std::uint16_t, 128> t{};
    for (char32_t cp = 0; cp < 128; ++cp)
        t[cp] = computeClass(cp);
    return t;
}();

// Decodes one code point at s[i]; returns its byte length (1 for an invalid byte, which then
// gets no class at all).
inline unsigned decodeAt(const unsigned char *s, std::size_t i, std::size_t n, char32_t &cp)
{
    const unsigned char b0 = s[i];
    if (b0 < 0x80) {
        cp = b0;
        return 1;
    }
    auto cont = [&](std::size_t k) { return k < n && (s[k] & 0xC0) == 0x80; };
    if (b0 >= 0xC2 && b0 <= 0xDF && cont(i + 1)) {
        cp = (char32_t(b0 & 0x1F) << 6) | (s[i + 1] & 0x3F);
        return 2;
    }
    if (b0 >= 0xE0 && b0 <= 0xEF && cont(i + 1) && cont(i + 2)) {
        cp = (char32_t(b0 & 0x0F) << 12) | (char32_t(s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
        if (cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF))
            return 3;
    } else if (b0 >= 0xF0 && b0 <= 0xF4 && cont(i + 1) && cont(i + 2) && cont(i + 3)) {
        cp = (char32_t(b0 & 0x07) << 18) | (char32_t(s[i + 1] & 0x3F) << 12)
             | (char32_t(s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
        if (cp >= 0x10000 && cp <= 0x10FFFF)
            return 4;
    }
    cp = 0xFFFFFFFF; // invalid: no class
    return 1;
}

// Third pattern: the length in code points of the match starting at i (0: no match), with the
// regex's leftmost-first alternation and greedy quantifiers, never looking past e. c[e] must be
// 0 (a sentinel with no class), so that the runs stop there without a bounds check.
inline std::size_t matchAt(const std::uint16_t *c, std::size_t i, std::size_t e)
{
    const std::uint16_t ci = c[i];
    // [ASCII punct][A-Za-z]+
    if ((ci & kAsciiPunct) && (c[i + 1] & kAsciiAlpha)) {
        std::size_t j = i + 2;
        while (c[j] & kAsciiAlpha)
            ++j;
        return j - i;
    }
    // [^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+
    if (!(ci & (kCrLf | kLetter | kPunct | kSymbol)) && (c[i + 1] & (kLetter | kMark))) {
        std::size_t j = i + 2;
        while (c[j] & (kLetter | kMark))
            ++j;
        return j - i;
    }
    if (ci & (kLetter | kMark)) {
        std::size_t j = i + 1;
        while (c[j] & (kLetter | kMark))
            ++j;
        return j - i;
    }
    // ' '?[\p{P}\p{S}]+[\r\n]*
    std::size_t j = 0;
    if ((ci & kBlank) && (c[i + 1] & (kPunct | kSymbol)))
        j = i + 2;
    else if (ci & (kPunct | kSymbol))
        j = i + 1;
    if (j) {
        while (c[j] & (kPunct | kSymbol))
            ++j;
        while (c[j] & kCrLf)
            ++j;
        return j - i;
    }
    if (!(ci & kSpace))
        return 0;
    // \s*[\r\n]+ ends after the last CR/LF of the whitespace run; else \s+(?!\S) gives back
    // the last blank before a non-blank (the end of the segment is not a non-blank); else \s+.
    std::size_t lastNl = SIZE_MAX;
    j = i;
    while (c[j] & kSpace) {
        if (c[j] & kCrLf)
            lastNl = j;
        ++j;
    }
    if (lastNl != SIZE_MAX)
        return lastNl + 1 - i;
    if (j == e || j - i == 1)
        return j - i;
    return j - 1 - i;
}

// Code-point index to byte offset: the identity for ASCII-only text, a table otherwise.
struct AsciiOffsets
{
    std::uint32_t operator()(std::size_t k) const { return std::uint32_t(k); }
};
struct TableOffsets
{
    const std::uint32_t *off;
    std::uint32_t operator()(std::size_t k) const { return off[k]; }
};

// Step 3 on the code points [s, e) (c[e] is temporarily the sentinel). Returns the new end of
// the pieces written at w.
template<typename Offsets>
Piece *splitThird(std::uint16_t *c, Offsets off, std::size_t s, std::size_t e, Piece *w)
{
    const std::uint16_t saved = c[e];
    c[e] = 0;
    std::size_t pos = s;
    std::size_t gapStart = s;
    while (pos < e) {
        const std::size_t len = matchAt(c, pos, e);
        if (len == 0) {
            ++pos;
            continue;
        }
        if (gapStart < pos)
            *w++ = Piece(off(gapStart), off(pos));
        *w++ = Piece(off(pos), off(pos + len));
        pos += len;
        gapStart = pos;
    }
    if (gapStart < e)
        *w++ = Piece(off(gapStart), off(e));
    c[e] = saved;
    return w;
}

// Steps 1 and 2 cut the text into digit chunks, CJK runs and the rest (the two classes are
// disjoint, so their order does not matter); step 3 then splits every CJK run and every rest.
// c[count..count + 3] must be sentinels with kNumber set. Returns the end of the pieces written
// at w.
template<typename Offsets>
Piece *splitAll(std::uint16_t *c, Offsets off, std::size_t count, Piece *w)
{
    std::size_t i = 0;
    while (i < count) {
        std::size_t j = i + 1;
        if (c[i] & kNumber) {
            while (j < count && j - i < 3 && (c[j] & kNumber))
                ++j;
            *w++ = Piece(off(i), off(j));
            i = j;
            continue;
        }
        // Four classes at a time first (c[count + 1..count + 3] are sentinels too).
        constexpr std::uint64_t kLanes = 0x0001000100010001ULL;
        constexpr std::uint64_t kStop = kLanes * (kNumber | kCjk);
        if (c[i] & kCjk) {
            for (std::uint64_t v; std::memcpy(&v, c + j, 8), (v & kStop) == kLanes * kCjk;)
                j += 4;
            while ((c[j] & (kNumber | kCjk)) == kCjk)
                ++j;
        } else {
            for (std::uint64_t v; std::memcpy(&v, c + j, 8), (v & kStop) == 0;)
                j += 4;
            while (!(c[j] & (kNumber | kCjk)))
                ++j;
        }
        w = splitThird(c, off, i, j, w);
        i = j;
    }
    return w;
}

// Scratch arrays that grow and are never initialised (they are written before being read).
template<typename T>
struct Buffer
{
    std::unique_ptr<T[]> data;
    std::size_t size = 0;
    T *get(std::size_t n)
    {
        if (n > size) {
            size = std::max(n, size * 2);
            data.reset(new T[size]);
        }
        return data.get();
    }
};

struct Scratch
{
    Buffer<std::uint16_t> cls;
    Buffer<std::uint32_t> off;
};

inline bool isAscii(const unsigned char *s, std::size_t n)
{
    std::size_t i = 0;
    std::uint64_t any = 0;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t v;
        std::memcpy(&v, s + i, 8);
        any |= v;
    }
    for (; i < n; ++i)
        any |= s[i];
    return (any & 0x8080808080808080ULL) == 0;
}

} // namespace

std::uint16_t charClass(char32_t cp)
{
    return cp < 128 ? kAsciiClasses[cp] : computeClass(cp);
}

const char *unicodeVersion()
{
    return FATHOM_UNICODE_VERSION;
}

void preTokenize(std::string_view text, std::vector<Piece> &out)
{
    thread_local Scratch scratch;
    const auto *s = reinterpret_cast<const unsigned char *>(text.data());
    const std::size_t n = text.size();
    // One class per code point plus the sentinels; at most one piece per code point.
    std::uint16_t *cls = scratch.cls.get(n + 4);
    const std::size_t base = out.size();
    out.resize(base + n);
    Piece *w = out.data() + base;
    if (isAscii(s, n)) {
        for (std::size_t i = 0; i < n; ++i)
            cls[i] = kAsciiClasses[s[i]];
        std::fill(cls + n, cls + n + 4, std::uint16_t(kNumber));
        w = splitAll(cls, AsciiOffsets{}, n, w);
    } else {
        std::uint32_t *off = scratch.off.get(n + 1);
        std::size_t count = 0;
        for (std::size_t i = 0; i < n;) {
            off[count] = std::uint32_t(i);
            if (s[i] < 0x80) {
                cls[count++] = kAsciiClasses[s[i]];
                ++i;
                continue;
            }
            // CJK ideographs, the bulk of Chinese text, all have one class (all are Lo; checked
            // by tst_tokenizer): no table lookup.
            if (s[i] >= 0xE4 && s[i] <= 0xE9 && i + 2 < n && (s[i + 1] & 0xC0) == 0x80
                && (s[i + 2] & 0xC0) == 0x80) {
                const char32_t cp = (char32_t(s[i] & 0x0F) << 12) | (char32_t(s[i + 1] & 0x3F) << 6)
                                    | (s[i + 2] & 0x3F);
                if (cp >= kCjkIdeographFirst && cp <= kCjkIdeographLast) {
                    cls[count++] = kCjkIdeographClass;
                    i += 3;
                    continue;
                }
            }
            char32_t cp;
            const unsigned len = decodeAt(s, i, n, cp);
            cls[count++] = computeClass(cp);
            i += len;
        }
        off[count] = std::uint32_t(n);
        std::fill(cls + count, cls + count + 4, std::uint16_t(kNumber));
        w = splitAll(cls, TableOffsets{off}, count, w);
    }
    out.resize(std::size_t(w - out.data()));
}

} // namespace fathom::engine::tokenizer
