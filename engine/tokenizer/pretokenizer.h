// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  DeepSeek V3/V4 pre-tokenizer (spec §7), written as a hand-made scanner over code points instead
  of a regex engine (speed). It reproduces the Hugging Face Sequence of three Split(Isolated)
  steps, each applied to the pieces of the previous one:

    1. \p{N}{1,3}
    2. [一-龥぀-ゟ゠-ヿ]+
    3. [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+|
        ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+

  "Isolated" means every match is a piece and so is every non-empty stretch between matches.
  Character classes come from a Unicode 14.0 table (see gen_unicode_tables.pl for why 14.0);
  \s is Oniguruma's Unicode whitespace (U+0009-000D, U+0085, Zs, Zl, Zp).
  tests/engine/tst_tokenizer.cpp checks this scanner against PCRE2 running the exact patterns.
*/

#include <cstdint>
#include <string_view>
#include <vector>

namespace fathom::engine::tokenizer {

struct Piece
{
    // Not zeroed by default: preTokenize() sizes its output before writing it.
    Piece() {}
    Piece(std::uint32_t b, std::uint32_t e)
        : begin(b)
        , end(e)
    {}
    std::uint32_t begin; // byte offsets into the text
    std::uint32_t end;
};

// Unicode property bits of a code point, as used by the scanner.
enum CharClass : std::uint16_t {
    kLetter = 1,       // \p{L}
    kNumber = 2,       // \p{N}
    kMark = 4,         // \p{M}
    kPunct = 8,        // \p{P}
    kSymbol = 16,      // \p{S}
    kSpace = 32,       // \s
    kCrLf = 64,        // \r or \n
    kCjk = 128,        // [一-龥぀-ゟ゠-ヿ]
    kAsciiAlpha = 256, // [A-Za-z]
    kAsciiPunct = 512, // the ASCII punctuation class of the third pattern
    kBlank = 1024,     // U+0020
};

// U+4E00-U+9FA5 (the ideographs of the second pattern) all have this class.
inline constexpr char32_t kCjkIdeographFirst = 0x4E00;
inline constexpr char32_t kCjkIdeographLast = 0x9FA5;
inline constexpr std::uint16_t kCjkIdeographClass = kLetter | kCjk;

std::uint16_t charClass(char32_t cp);
const char *unicodeVersion();

// Appends the pieces of `text` (text without added tokens; invalid UTF-8 bytes are treated as
// code points of no class, one per byte) to `out`.
void preTokenize(std::string_view text, std::vector<Piece> &out);

} // namespace fathom::engine::tokenizer
