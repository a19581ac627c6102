// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT

#include "tokenizer.h"

#include "pretokenizer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_map>

namespace fathom::engine::tokenizer {

namespace {

using Json = nlohmann::json;

// GPT-2's byte-to-character table: printable Latin-1 bytes stand for themselves, the other 68
// bytes are mapped in order to U+0100.. so that every vocab string is printable.
std::array<char32_t, 256> byteToChar()
{
    std::array<char32_t, 256> t{};
    std::array<bool, 256> direct{};
    for (int b = 0; b < 256; ++b)
        direct[b] = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    char32_t next = 256;
    for (int b = 0; b < 256; ++b)
        t[b] = direct[b] ? char32_t(b) : next++;
    return t;
}

// Vocab string (byte-level characters) back to raw bytes; false if a character is not one of
// the 256 byte characters.
bool vocabStringToBytes(std::string_view s,
                        const std::unordered_map<char32_t, unsigned char> &inv,
                        std::string &out)
{
    out.clear();
    const auto *p = reinterpret_cast<const unsigned char *>(s.data());
    std::size_t i = 0;
    while (i < s.size()) {
        char32_t cp;
        unsigned len;
        if (p[i] < 0x80) {
            cp = p[i];
            len = 1;
        } else if ((p[i] & 0xE0) == 0xC0 && i + 1 < s.size()) {
            cp = (char32_t(p[i] & 0x1F) << 6) | (p[i + 1] & 0x3F);
            len = 2;
        } else {
            return false; // byte characters are all below U+0800
        }
        auto it = inv.find(cp);
        if (it == inv.end())
            return false;
        out.push_back(char(it->second));
        i += len;
    }
    return true;
}

// Open-addressing map (left id, right id) -> rank: the hot loop of BPE. One 8-byte word per
// entry (left id 20 bits, right id 20 bits, rank 24 bits), so that the table (2 MB for V4's
// 127,741 merges at load factor 1/2) has half the cache footprint of a plain struct; the merged
// token of a rank is in a separate array, read only when a merge is applied.
class MergeTable
{
public:
    static constexpr unsigned kIdBits = 20;
    static constexpr unsigned kRankBits = 24;
    // Ids up to kMaxId - 1 and ranks below kMaxRank fit (all ones is the empty marker).
    static constexpr std::size_t kMaxId = (std::size_t(1) << kIdBits) - 1;
    static constexpr std::size_t kMaxRank = std::size_t(1) << kRankBits;
    static constexpr std::int32_t kNone = INT32_MAX;

    void reserve(std::size_t n)
    {
        unsigned bits = 4;
        while ((std::size_t(1) << bits) < n * 2)
            ++bits;
        m_entries.assign(std::size_t(1) << bits, kEmpty);
        m_mask = (std::size_t(1) << bits) - 1;
        m_shift = 64 - bits;
    }
    // Keeps the first (lowest) rank when a pair is listed twice.
    void insert(TokenId a, TokenId b, std::int32_t rank)
    {
        const std::uint64_t k = pair(a, b);
        for (std::size_t i = slot(k);; i = (i + 1) & m_mask) {
            if (m_entries[i] == kEmpty) {
                m_entries[i] = (k << kRankBits) | std::uint64_t(rank);
                return;
            }
            if ((m_entries[i] >> kRankBits) == k)
                return;
        }
    }
    // The rank of the pair, kNone when it does not merge.
    std::int32_t rank(TokenId a, TokenId b) const
    {
        const std::uint64_t k = pair(a, b);
        for (std::size_t i = slot(k);; i = (i + 1) & m_mask) {
            const std::uint64_t e = m_entries[i];
            if ((e >> kRankBits) == k)
                return std::int32_t(e & (kMaxRank - 1));
            if (e == kEmpty)
                return kNone;
        }
    }
    // f(left, right, rank) for every pair.
    template<typename F>
    void forEach(F &&f) const
    {
        for (const std::uint64_t e : m_entries)
            if (e != kEmpty)
                f(TokenId(e >> (kRankBits + kIdBits)),
                  TokenId((e >> kRankBits) & kMaxId),
                  std::int32_t(e & (kMaxRank - 1)));
    }

private:
    static constexpr std::uint64_t kEmpty = ~std::uint64_t(0);
    static std::uint64_t pair(TokenId a, TokenId b)
    {
        return (std::uint64_t(std::uint32_t(a)) << kIdBits) | std::uint32_t(b);
    }
    // Multiplicative (Fibonacci) hashing: the top bits of the product.
    std::size_t slot(std::uint64_t k) const
    {
        return std::size_t((k * 0x9E3779B97F4A7C15ULL) >> m_shift);
    }
    std::vector<std::uint64_t> m_entries;
    std::size_t m_mask = 0;
    unsigned m_shift = 60;
};

// ---- Character pre-merge -------------------------------------------------------------------
//
// Most of the work of byte-level BPE on non-Latin text is rebuilding every character from its
// bytes (2 merges per CJK character) before the merges between characters start. For a
// character c whose bytes alone merge into one token T, starting c as T gives the identical
// result provided no merge that joins a partial token of c (or T) with a neighbour could ever
// come first. Let M be the highest rank used while c's bytes merge on their own. If every merge
// (x, p) with p a token at c's left edge during that process (its first byte, the token holding
// it after each merge, T) and x a possible left neighbour has rank > M, and likewise every merge
// (p, y) at the right edge, then in the real run: while c is incomplete one of its own merges
// (rank <= M) is always available and beats every merge touching its partial tokens, so c is
// rebuilt exactly as on its own; and every merge the real run takes meanwhile elsewhere has rank
// <= M, below every merge that the early T could offer, so the run without c's own merges is
// exactly the BPE run that starts from T. (Ties cannot switch sides: the inequalities are
// strict.)
//
// Which neighbours are possible depends on the text: in valid UTF-8 the token to the right
// starts with the first byte of the next character and the token to the left ends with the
// last byte of the previous one. Neighbours are classed by that byte ("groups" below), and each
// character gets two masks of the groups for which the condition holds. encodePiece() checks
// the actual neighbours of every character against them; a character next to an invalid byte
// is never pre-merged. On the DeepSeek vocabulary this covers > 99.9% of the CJK characters of
// the benchmark corpus (spaces before Latin letters, or a Hebrew lead byte after a CJK
// character, are typical neighbours that do not qualify).

constexpr int kGroupInvalid = 31; // continuation bytes, C0, C1, F5-FF: never a safe neighbour
constexpr std::uint32_t kInvalidBit = std::uint32_t(1) << kGroupInvalid;

constexpr int byteGroup(unsigned b)
{
    if (b == ' ')
        return 0;
    if ((b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z'))
        return 1;
    if (b >= '0' && b <= '9')
        return 2;
    if (b == '\n' || b == '\r')
        return 3;
    if (b < 0x21 || b == 0x7F)
        return 4;
    if (b < 0x80)
        return 5;
    if (b >= 0xC2 && b <= 0xC3)
        return 6; // Latin-1
    if (b >= 0xC4 && b <= 0xCF)
        return 7; // Latin extended, IPA, Greek
    if (b >= 0xD0 && b <= 0xD3)
        return 8; // Cyrillic
    if (b >= 0xD4 && b <= 0xDF)
        return 9; // Armenian, Hebrew, Arabic, ...
    if (b >= 0xE0 && b <= 0xED)
        return 10 + int(b - 0xE0); // 10..23: one group per lead byte (E3 kana, E4-E9 CJK)
    if (b >= 0xEE && b <= 0xEF)
        return 24;
    if (b >= 0xF0 && b <= 0xF4)
        return 25;
    return kGroupInvalid;
}
constexpr std::uint32_t kMultiByteGroups = ((std::uint32_t(1) << 26) - 1) & ~std::uint32_t(0x3F);

constexpr std::array<std::uint32_t, 256> kGroupBit = [] {
    std::array<std::uint32_t, 256> t{};
    for (unsigned b = 0; b < 256; ++b)
        t[b] = std::uint32_t(1) << byteGroup(b);
    return t;
}();

constexpr bool isContinuation(unsigned char b)
{
    return (b & 0xC0) == 0x80;
}

// Groups of the characters a token that starts a right neighbour can begin with.
std::uint32_t startGroups(std::string_view token)
{
    return token.empty() ? ~std::uint32_t(0) : kGroupBit[static_cast<unsigned char>(token[0])];
}

// Groups of the character a token can end with when it ends where a valid character ends (as a
// left neighbour must): the group of its last lead byte, every multi-byte group when it holds
// only continuation bytes, none when it ends inside or after a broken sequence.
std::uint32_t endGroups(std::string_view token)
{
    if (token.empty())
        return ~std::uint32_t(0);
    const auto *s = reinterpret_cast<const unsigned char *>(token.data());
    std::size_t k = 0;
    while (k < token.size() && isContinuation(s[token.size() - 1 - k]))
        ++k;
    if (k == token.size())
        return kMultiByteGroups;
    const unsigned char lead = s[token.size() - 1 - k];
    std::size_t need;
    if (lead < 0x80)
        need = 0;
    else if (lead >= 0xC2 && lead <= 0xDF)
        need = 1;
    else if (lead >= 0xE0 && lead <= 0xEF)
        need = 2;
    else if (lead >= 0xF0 && lead <= 0xF4)
        need = 3;
    else
        return 0;
    return k == need ? kGroupBit[lead] : 0;
}

// Byte trie of the added tokens for leftmost-longest literal matching.
struct TrieNode
{
    std::vector<std::pair<unsigned char, std::int32_t>> children;
    TokenId token = -1;
};

std::atomic<std::uint64_t> g_nextInstanceId{1};

Result<Json> parseJson(std::string_view text, const std::string &name)
{
    Json j = Json::parse(text.begin(), text.end(), nullptr, false);
    if (j.is_discarded())
        return fail(Error::Kind::Format, name + ": not valid JSON");
    return j;
}

Result<std::string> readFile(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return fail(Error::Kind::Io, path + ": cannot open file");
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad())
        return fail(Error::Kind::Io, path + ": read error");
    return std::move(ss).str();
}

} // namespace

struct Tokenizer::Impl
{
    // A character's token when it may start merged (see "Character pre-merge" above): `left` and
    // `right` are the neighbour groups for which that is exact.
    struct CharEntry
    {
        TokenId token = -1;
        std::uint32_t left = 0;
        std::uint32_t right = 0;
    };
    struct Scratch;

    std::uint64_t instanceId = 0;
    std::vector<std::string> idBytes; // index = id
    std::vector<std::uint8_t> flags;  // bit 0 added, bit 1 special, bit 2 present
    std::array<TokenId, 256> byteToken{};
    MergeTable merges;
    std::vector<TokenId> mergedId;    // index = rank: the token the merge makes
    std::vector<CharEntry> charTable; // index = code point below U+10000
    std::unordered_map<std::string, TokenId> bpeByBytes;
    std::unordered_map<std::string, TokenId> addedByContent;
    std::vector<AddedToken> added;
    std::vector<TrieNode> trie;
    std::array<bool, 256> addedFirstByte{};
    std::vector<unsigned char> addedFirstBytes; // the distinct first bytes of the added tokens

    void buildCharTable();
    // Initial symbols of a piece (bytes, or whole characters where that is exact) into sym
    // (room for n); returns their number.
    std::size_t initialSymbols(const unsigned char *p, std::size_t n, TokenId *sym) const;
    // BPE in place on sym[0, m); returns the new length.
    std::size_t bpeScan(TokenId *sym, std::size_t m) const;
    std::size_t bpeHeap(TokenId *sym, std::size_t m, Scratch &scratch) const;
    // Writes the ids of one pre-tokenizer piece of n bytes at w (room for n); returns their
    // number.
    std::size_t encodeWord(const unsigned char *p,
                           std::size_t n,
                           TokenId *w,
                           Scratch &scratch) const;
    void encodePlain(std::string_view text, std::vector<TokenId> &out) const;
    // Length of the longest added token at text[pos] (0: none), its id in `id`.
    std::size_t matchAdded(std::string_view text, std::size_t pos, TokenId &id) const;
};

namespace {

// A direct-mapped cache of recent pieces per thread (words repeat a lot in real text), keyed by
// the tokenizer instance so that two tokenizers never share entries. A piece of up to 24 bytes
// is keyed by three words built from overlapping loads (unique for a given length), so that a
// lookup needs no byte loop and no library call. One slot is one 64-byte cache line.
struct WordCache
{
    static constexpr std::size_t kSlots = 1 << 13;
    static constexpr std::size_t kMaxBytes = 24;
    static constexpr std::size_t kMaxIds = 9;
    struct Slot
    {
        std::uint64_t key[3];
        std::uint8_t len = 0; // 0 = empty
        std::uint8_t count = 0;
        TokenId ids[kMaxIds];
    };
    static_assert(sizeof(Slot) == 64);
    std::uint64_t owner = 0;
    std::vector<Slot> slots;
};

inline std::uint64_t load64(const unsigned char *p)
{
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}

inline std::uint32_t load32(const unsigned char *p)
{
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

// 2 <= n <= WordCache::kMaxBytes.
inline void pieceKey(const unsigned char *p, std::size_t n, std::uint64_t key[3])
{
    if (n < 4) {
        key[0] = p[0] | (std::uint64_t(p[n / 2]) << 8) | (std::uint64_t(p[n - 1]) << 16);
        key[1] = key[2] = 0;
    } else if (n <= 8) {
        key[0] = load32(p) | (std::uint64_t(load32(p + n - 4)) << 32);
        key[1] = key[2] = 0;
    } else if (n <= 16) {
        key[0] = load64(p);
        key[1] = load64(p + n - 8);
        key[2] = 0;
    } else {
        key[0] = load64(p);
        key[1] = load64(p + 8);
        key[2] = load64(p + n - 8);
    }
}

inline std::uint64_t hashKey(const std::uint64_t key[3], std::size_t n)
{
    std::uint64_t h = (key[0] ^ n) * 0x9E3779B97F4A7C15ULL;
    h ^= (key[1] + (key[2] << 1)) * 0xC2B2AE3D27D4EB4FULL;
    return h ^ (h >> 31);
}

} // namespace

struct Tokenizer::Impl::Scratch
{
    struct Cand
    {
        std::int32_t rank;
        std::int32_t pos;
        TokenId left;
        TokenId right;
    };
    std::vector<Piece> pieces;
    std::vector<std::int32_t> prev, next;
    std::vector<Cand> heap;
    WordCache cache;
};

void Tokenizer::Impl::buildCharTable()
{
    // Every character of 2 or 3 bytes (4-byte ones are rare and stay bytes): its BPE on its own,
    // the highest rank used, and the tokens at its edges along the way.
    struct Trace
    {
        char32_t cp;
        TokenId token;
        std::int32_t maxRank;
        TokenId edge[2][3]; // [0] left edge, [1] right edge
        int edges;
    };
    std::vector<Trace> traces;
    for (char32_t cp = 0x80; cp < 0x10000; ++cp) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        unsigned char b[3];
        std::size_t m;
        if (cp < 0x800) {
            b[0] = static_cast<unsigned char>(0xC0 | (cp >> 6));
            b[1] = static_cast<unsigned char>(0x80 | (cp & 0x3F));
            m = 2;
        } else {
            b[0] = static_cast<unsigned char>(0xE0 | (cp >> 12));
            b[1] = static_cast<unsigned char>(0x80 | ((cp >> 6) & 0x3F));
            b[2] = static_cast<unsigned char>(0x80 | (cp & 0x3F));
            m = 3;
        }
        TokenId sym[3];
        for (std::size_t k = 0; k < m; ++k)
            sym[k] = byteToken[b[k]];
        Trace t{cp, -1, -1, {}, 0};
        auto recordEdges = [&] {
            t.edge[0][t.edges] = sym[0];
            t.edge[1][t.edges] = sym[m - 1];
            ++t.edges;
        };
        recordEdges();
        while (m > 1) {
            std::int32_t best = MergeTable::kNone;
            std::size_t at = 0;
            for (std::size_t k = 0; k + 1 < m; ++k) {
                const std::int32_t r = merges.rank(sym[k], sym[k + 1]);
                if (r < best) {
                    best = r;
                    at = k;
                }
            }
            if (best == MergeTable::kNone)
                break;
            t.maxRank = std::max(t.maxRank, best);
            sym[at] = mergedId[std::size_t(best)];
            for (std::size_t k = at + 1; k + 1 < m; ++k)
                sym[k] = sym[k + 1];
            --m;
            recordEdges();
        }
        if (m != 1)
            continue; // no single token: stays bytes
        t.token = sym[0];
        traces.push_back(t);
    }

    // For every edge token: the lowest rank of a merge with it on the left, per group of the
    // right partner's first character, and on the right, per group of the left partner's last.
    std::vector<std::int32_t> slot(idBytes.size(), -1);
    std::vector<std::array<std::int32_t, 32>> asLeft, asRight;
    for (const Trace &t : traces)
        for (int side = 0; side < 2; ++side)
            for (int k = 0; k < t.edges; ++k) {
                const TokenId id = t.edge[side][k];
                if (std::size_t(id) < slot.size() && slot[std::size_t(id)] < 0) {
                    slot[std::size_t(id)] = std::int32_t(asLeft.size());
                    std::array<std::int32_t, 32> none;
                    none.fill(INT32_MAX);
                    asLeft.push_back(none);
                    asRight.push_back(none);
                }
            }
    auto bytesOf = [&](TokenId id) -> std::string_view {
        return std::size_t(id) < idBytes.size() ? std::string_view(idBytes[std::size_t(id)])
                                                : std::string_view();
    };
    auto lower = [](std::array<std::int32_t, 32> &row, std::uint32_t groups, std::int32_t rank) {
        for (int g = 0; g < 32; ++g)
            if ((groups >> g) & 1)
                row[std::size_t(g)] = std::min(row[std::size_t(g)], rank);
    };
    merges.forEach([&](TokenId a, TokenId b, std::int32_t rank) {
        if (std::size_t(a) < slot.size() && slot[std::size_t(a)] >= 0)
            lower(asLeft[std::size_t(slot[std::size_t(a)])], startGroups(bytesOf(b)), rank);
        if (std::size_t(b) < slot.size() && slot[std::size_t(b)] >= 0)
            lower(asRight[std::size_t(slot[std::size_t(b)])], endGroups(bytesOf(a)), rank);
    });

    charTable.assign(0x10000, CharEntry{});
    for (const Trace &t : traces) {
        std::uint32_t left = ~kInvalidBit, right = ~kInvalidBit;
        for (int k = 0; k < t.edges; ++k) {
            const auto &l = asRight[std::size_t(slot[std::size_t(t.edge[0][k])])];
            const auto &r = asLeft[std::size_t(slot[std::size_t(t.edge[1][k])])];
            for (int g = 0; g < 32; ++g) {
                if (l[std::size_t(g)] <= t.maxRank)
                    left &= ~(std::uint32_t(1) << g);
                if (r[std::size_t(g)] <= t.maxRank)
                    right &= ~(std::uint32_t(1) << g);
            }
        }
        charTable[t.cp] = CharEntry{t.token, left, right};
    }
}

std::size_t Tokenizer::Impl::initialSymbols(const unsigned char *p,
                                            std::size_t n,
                                            TokenId *sym) const
{
    std::size_t i = 0, m = 0;
    while (i < n && p[i] < 0x80)
        sym[m++] = byteToken[p[i++]];
    // The group bit of the previous character (0 at the start of the piece: no neighbour).
    std::uint32_t prevBit = i ? kGroupBit[p[i - 1]] : 0;
    while (i < n) {
        const unsigned char b0 = p[i];
        if (b0 < 0x80) {
            sym[m++] = byteToken[b0];
            prevBit = kGroupBit[b0];
            ++i;
            continue;
        }
        std::size_t len = 0;
        char32_t cp = 0;
        if (b0 >= 0xC2 && b0 <= 0xDF) {
            if (i + 1 < n && isContinuation(p[i + 1])) {
                cp = (char32_t(b0 & 0x1F) << 6) | (p[i + 1] & 0x3F);
                len = 2;
            }
        } else if (b0 >= 0xE0 && b0 <= 0xEF) {
            if (i + 2 < n && isContinuation(p[i + 1]) && isContinuation(p[i + 2])) {
                cp = (char32_t(b0 & 0x0F) << 12) | (char32_t(p[i + 1] & 0x3F) << 6)
                     | (p[i + 2] & 0x3F);
                if (cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF))
                    len = 3;
            }
        } else if (b0 >= 0xF0 && b0 <= 0xF4) {
            if (i + 3 < n && isContinuation(p[i + 1]) && isContinuation(p[i + 2])
                && isContinuation(p[i + 3])) {
                cp = (char32_t(b0 & 0x07) << 18) | (char32_t(p[i + 1] & 0x3F) << 12)
                     | (char32_t(p[i + 2] & 0x3F) << 6) | (p[i + 3] & 0x3F);
                if (cp >= 0x10000 && cp <= 0x10FFFF)
                    len = 4;
            }
        }
        if (len == 0) { // an invalid byte: itself, and no character next to it starts merged
            sym[m++] = byteToken[b0];
            prevBit = kInvalidBit;
            ++i;
            continue;
        }
        if (len < 4) {
            const CharEntry &c = charTable[cp];
            const std::uint32_t nextBit = i + len < n ? kGroupBit[p[i + len]] : 0;
            if (c.token >= 0 && (c.left & prevBit) == prevBit && (c.right & nextBit) == nextBit) {
                sym[m++] = c.token;
                prevBit = kGroupBit[b0];
                i += len;
                continue;
            }
        }
        for (std::size_t k = 0; k < len; ++k)
            sym[m++] = byteToken[p[i + k]];
        prevBit = kGroupBit[b0];
        i += len;
    }
    return m;
}

// Symbol counts up to this use repeated linear scans (cheaper than a heap when short).
constexpr std::size_t kScanMax = 24;

std::size_t Tokenizer::Impl::bpeScan(TokenId *sym, std::size_t m) const
{
    // rank[i]: the pair (i, i+1); kNone when it does not merge.
    std::int32_t rank[kScanMax];
    for (std::size_t i = 0; i + 1 < m; ++i)
        rank[i] = merges.rank(sym[i], sym[i + 1]);
    while (m > 1) {
        // The lowest rank, the leftmost among equals.
        std::size_t best = 0;
        std::int32_t bestRank = rank[0];
        for (std::size_t i = 1; i + 1 < m; ++i) {
            if (rank[i] < bestRank) {
                bestRank = rank[i];
                best = i;
            }
        }
        if (bestRank == MergeTable::kNone)
            break;
        sym[best] = mergedId[std::size_t(bestRank)];
        --m;
        for (std::size_t i = best + 1; i < m; ++i)
            sym[i] = sym[i + 1];
        for (std::size_t i = best + 1; i + 1 < m; ++i)
            rank[i] = rank[i + 1];
        if (best + 1 < m)
            rank[best] = merges.rank(sym[best], sym[best + 1]);
        if (best > 0)
            rank[best - 1] = merges.rank(sym[best - 1], sym[best]);
    }
    return m;
}

std::size_t Tokenizer::Impl::bpeHeap(TokenId *sym, std::size_t n, Scratch &scratch) const
{
    // Long symbol runs (long identifiers, whitespace, CJK runs not merged per character): linked
    // list + binary heap of candidate pairs, O(n log n). Candidates are validated lazily against
    // the current neighbours.
    using Cand = Scratch::Cand;
    // Min-heap on (rank, pos): the lowest rank first, the leftmost among equal ranks.
    auto later = [](const Cand &a, const Cand &b) {
        return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
    };
    if (scratch.prev.size() < n) {
        scratch.prev.resize(n);
        scratch.next.resize(n);
    }
    std::int32_t *prev = scratch.prev.data();
    std::int32_t *next = scratch.next.data();
    std::vector<Cand> &heap = scratch.heap;
    heap.clear();
    for (std::size_t i = 0; i < n; ++i) {
        prev[i] = std::int32_t(i) - 1;
        next[i] = i + 1 < n ? std::int32_t(i + 1) : -1;
    }
    auto push = [&](std::int32_t pos) {
        if (pos < 0 || next[pos] < 0)
            return;
        const TokenId a = sym[pos], b = sym[next[pos]];
        const std::int32_t r = merges.rank(a, b);
        if (r != MergeTable::kNone) {
            heap.push_back(Cand{r, pos, a, b});
            std::push_heap(heap.begin(), heap.end(), later);
        }
    };
    // Initial candidates: one O(n) heapify instead of n pushes.
    for (std::size_t i = 0; i + 1 < n; ++i) {
        const std::int32_t r = merges.rank(sym[i], sym[i + 1]);
        if (r != MergeTable::kNone)
            heap.push_back(Cand{r, std::int32_t(i), sym[i], sym[i + 1]});
    }
    std::make_heap(heap.begin(), heap.end(), later);
    while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), later);
        const Cand c = heap.back();
        heap.pop_back();
        const std::int32_t r = next[c.pos];
        if (sym[c.pos] != c.left || r < 0 || sym[r] != c.right)
            continue; // stale
        sym[c.pos] = mergedId[std::size_t(c.rank)];
        sym[r] = -1;
        next[c.pos] = next[r];
        if (next[r] >= 0)
            prev[next[r]] = c.pos;
        push(prev[c.pos]);
        push(c.pos);
    }
    // Compact in place: list order is position order, so k never overtakes i.
    std::size_t k = 0;
    for (std::int32_t i = 0; i >= 0; i = next[i])
        sym[k++] = sym[i];
    return k;
}

std::size_t Tokenizer::Impl::encodeWord(const unsigned char *p,
                                        std::size_t n,
                                        TokenId *w,
                                        Scratch &scratch) const
{
    // The symbols are built and merged in place in the output (room for n ids).
    std::size_t m = initialSymbols(p, n, w);
    if (m > 1)
        m = m <= kScanMax ? bpeScan(w, m) : bpeHeap(w, m, scratch);
    return m;
}

void Tokenizer::Impl::encodePlain(std::string_view text, std::vector<TokenId> &out) const
{
    if (text.empty())
        return;
    thread_local Scratch scratch;
    if (scratch.cache.owner != instanceId) {
        scratch.cache.slots.assign(WordCache::kSlots, WordCache::Slot{});
        scratch.cache.owner = instanceId;
    }
    WordCache::Slot *const slots = scratch.cache.slots.data();
    std::vector<Piece> &pieces = scratch.pieces;
    pieces.clear();
    preTokenize(text, pieces);
    const auto *p = reinterpret_cast<const unsigned char *>(text.data());
    // A piece of n bytes gives at most n ids (and a cache hit copies a whole slot): the output
    // grows in small chunks (small, so that zero-filling them stays cheap) and shrinks to fit.
    constexpr std::size_t kChunk = 256;
    std::size_t used = out.size();
    out.resize(used + kChunk);
    for (const Piece &piece : pieces) {
        const unsigned char *s = p + piece.begin;
        const std::size_t n = piece.end - piece.begin;
        if (out.size() - used < std::max(n, WordCache::kMaxIds))
            out.resize(used + std::max(n + WordCache::kMaxIds, kChunk));
        TokenId *w = out.data() + used;
        if (n == 1) {
            *w = byteToken[*s];
            ++used;
            continue;
        }
        if (n > WordCache::kMaxBytes) {
            used += encodeWord(s, n, w, scratch);
            continue;
        }
        std::uint64_t key[3];
        pieceKey(s, n, key);
        WordCache::Slot &slot = slots[hashKey(key, n) & (WordCache::kSlots - 1)];
        if (slot.len == n && slot.key[0] == key[0] && slot.key[1] == key[1]
            && slot.key[2] == key[2]) {
            std::memcpy(w, slot.ids, sizeof(slot.ids));
            used += slot.count;
            continue;
        }
        const std::size_t m = encodeWord(s, n, w, scratch);
        if (m <= WordCache::kMaxIds) {
            std::memcpy(slot.key, key, sizeof(key));
            slot.len = std::uint8_t(n);
            slot.count = std::uint8_t(m);
            std::copy(w, w + m, slot.ids);
        }
        used += m;
    }
    out.resize(used);
}

std::size_t Tokenizer::Impl::matchAdded(std::string_view text, std::size_t pos, TokenId &id) const
{
    std::size_t best = 0;
    std::int32_t node = 0;
    for (std::size_t i = pos; i < text.size(); ++i) {
        const unsigned char b = static_cast<unsigned char>(text[i]);
        std::int32_t child = -1;
        for (const auto &[byte, index] : trie[std::size_t(node)].children) {
            if (byte == b) {
                child = index;
                break;
            }
        }
        if (child < 0)
            break;
        node = child;
        if (trie[std::size_t(node)].token >= 0) {
            best = i + 1 - pos;
            id = trie[std::size_t(node)].token;
        }
    }
    return best;
}

Tokenizer::Tokenizer() = default;

Tokenizer::Tokenizer(std::shared_ptr<const Impl> impl)
    : m_impl(std::move(impl))
{}

Result<Tokenizer> Tokenizer::load(const std::string &tokenizerJsonFile,
                                  const std::string &addedTokensFile)
{
    FATHOM_TRY_ASSIGN(std::string text, readFile(tokenizerJsonFile));
    std::string added;
    if (!addedTokensFile.empty()) {
        FATHOM_TRY_ASSIGN(added, readFile(addedTokensFile));
    }
    auto result = fromJsonText(text, added, tokenizerJsonFile);
    if (!result && !addedTokensFile.empty())
        result.error().message += " (added tokens: " + addedTokensFile + ")";
    return result;
}

Result<Tokenizer> Tokenizer::fromModelDir(const std::string &modelDir)
{
    return load(modelDir + "/tokenizer.json");
}

namespace {

Result<std::vector<AddedToken>> parseAddedTokens(const Json &j, const std::string &name)
{
    const Json *list = &j;
    if (j.is_object()) {
        if (j.contains("added_tokens"))
            list = &j["added_tokens"];
        else if (j.contains("tokens"))
            list = &j["tokens"];
    }
    if (!list->is_array())
        return fail(
            Error::Kind::Format,
            name + ": no added-token list (expected an array, \"tokens\" or \"added_tokens\")");
    std::vector<AddedToken> out;
    for (const Json &t : *list) {
        if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer()
            || !t.contains("content") || !t["content"].is_string())
            return fail(Error::Kind::Format,
                        name + ": added token without integer id and string content");
        AddedToken a;
        a.id = t["id"].get<TokenId>();
        a.content = t["content"].get<std::string>();
        a.special = t.contains("special") && t["special"].is_boolean() && t["special"].get<bool>();
        if (a.id < 0 || a.content.empty())
            return fail(Error::Kind::Format,
                        name + ": added token with negative id or empty content");
        out.push_back(std::move(a));
    }
    return out;
}

} // namespace

Result<Tokenizer> Tokenizer::fromJsonText(std::string_view tokenizerJson,
                                          std::string_view addedTokensJson,
                                          const std::string &sourceName)
{
    FATHOM_TRY_ASSIGN(Json j, parseJson(tokenizerJson, sourceName));
    if (!j.is_object() || !j.contains("model") || !j["model"].is_object())
        return fail(Error::Kind::Format, sourceName + ": no \"model\" object");
    const Json &model = j["model"];
    if (model.value("type", std::string()) != "BPE")
        return fail(Error::Kind::Unsupported, sourceName + ": model type is not BPE");
    if (!model.contains("vocab") || !model["vocab"].is_object() || !model.contains("merges")
        || !model["merges"].is_array())
        return fail(Error::Kind::Format, sourceName + ": BPE model without vocab or merges");
    // Only the byte-level BPE DeepSeek uses is implemented; refuse anything we would get wrong.
    if (j.contains("pre_tokenizer") && j["pre_tokenizer"].is_object()) {
        const std::string dump = j["pre_tokenizer"].dump();
        if (dump.find("\\\\p{N}{1,3}") == std::string::npos)
            return fail(Error::Kind::Unsupported,
                        sourceName
                            + ": pre-tokenizer is not DeepSeek's (digits/CJK/byte-level split)");
    }

    auto impl = std::make_shared<Impl>();
    impl->instanceId = g_nextInstanceId.fetch_add(1);

    const std::array<char32_t, 256> b2c = byteToChar();
    std::unordered_map<char32_t, unsigned char> c2b;
    for (int b = 0; b < 256; ++b)
        c2b[b2c[b]] = static_cast<unsigned char>(b);

    const Json &vocab = model["vocab"];
    TokenId maxId = -1;
    for (auto it = vocab.begin(); it != vocab.end(); ++it)
        if (it.value().is_number_integer())
            maxId = std::max(maxId, it.value().get<TokenId>());
    impl->idBytes.resize(std::size_t(maxId + 1));
    impl->flags.assign(std::size_t(maxId + 1), 0);
    std::unordered_map<std::string, TokenId> byVocabString;
    byVocabString.reserve(vocab.size());
    std::string bytes;
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
        if (!it.value().is_number_integer() || it.value().get<TokenId>() < 0)
            return fail(Error::Kind::Format,
                        sourceName + ": vocab entry '" + it.key() + "' has no valid id");
        const TokenId id = it.value().get<TokenId>();
        byVocabString.emplace(it.key(), id);
        if (!vocabStringToBytes(it.key(), c2b, bytes))
            continue; // not a byte-level string (e.g. an added token re-declared in the vocab)
        impl->idBytes[std::size_t(id)] = bytes;
        impl->flags[std::size_t(id)] |= 4;
        impl->bpeByBytes.emplace(bytes, id);
    }
    for (int b = 0; b < 256; ++b) {
        auto it = impl->bpeByBytes.find(std::string(1, char(b)));
        if (it == impl->bpeByBytes.end())
            return fail(Error::Kind::Format,
                        sourceName + ": vocab lacks the byte token for byte " + std::to_string(b));
        impl->byteToken[std::size_t(b)] = it->second;
    }

    const Json &merges = model["merges"];
    if (std::size_t(maxId) >= MergeTable::kMaxId || merges.size() >= MergeTable::kMaxRank)
        return fail(Error::Kind::Unsupported,
                    sourceName + ": " + std::to_string(maxId + 1) + " tokens and "
                        + std::to_string(merges.size())
                        + " merges exceed what this tokenizer supports ("
                        + std::to_string(MergeTable::kMaxId) + " tokens, "
                        + std::to_string(MergeTable::kMaxRank - 1) + " merges)");
    impl->merges.reserve(merges.size());
    impl->mergedId.reserve(merges.size());
    std::int32_t rank = 0;
    for (const Json &m : merges) {
        std::string left, right;
        if (m.is_string()) {
            const std::string s = m.get<std::string>();
            const std::size_t sp = s.find(' ');
            if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
                return fail(Error::Kind::Format, sourceName + ": malformed merge '" + s + "'");
            left = s.substr(0, sp);
            right = s.substr(sp + 1);
        } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
            left = m[0].get<std::string>();
            right = m[1].get<std::string>();
        } else {
            return fail(Error::Kind::Format,
                        sourceName + ": malformed merge #" + std::to_string(rank));
        }
        auto a = byVocabString.find(left), b = byVocabString.find(right),
             c = byVocabString.find(left + right);
        if (a == byVocabString.end() || b == byVocabString.end() || c == byVocabString.end())
            return fail(Error::Kind::Format,
                        sourceName + ": merge '" + left + " " + right
                            + "' refers to tokens missing from the vocab");
        impl->merges.insert(a->second, b->second, rank);
        impl->mergedId.push_back(c->second);
        ++rank;
    }
    impl->buildCharTable();

    std::vector<AddedToken> added;
    if (j.contains("added_tokens")) {
        FATHOM_TRY_ASSIGN(added, parseAddedTokens(j["added_tokens"], sourceName));
    }
    if (!addedTokensJson.empty()) {
        FATHOM_TRY_ASSIGN(Json aj, parseJson(addedTokensJson, "added-tokens file"));
        FATHOM_TRY_ASSIGN(std::vector<AddedToken> extra, parseAddedTokens(aj, "added-tokens file"));
        // Override by id: the extra file is the authority for the ids it lists.
        std::unordered_map<TokenId, std::size_t> byId;
        for (std::size_t i = 0; i < added.size(); ++i)
            byId[added[i].id] = i;
        for (AddedToken &t : extra) {
            auto it = byId.find(t.id);
            if (it != byId.end())
                added[it->second] = std::move(t);
            else {
                byId[t.id] = added.size();
                added.push_back(std::move(t));
            }
        }
    }
    std::sort(added.begin(), added.end(), [](const AddedToken &a, const AddedToken &b) {
        return a.id < b.id;
    });
    impl->trie.emplace_back();
    for (const AddedToken &t : added) {
        if (std::size_t(t.id) >= impl->idBytes.size()) {
            impl->idBytes.resize(std::size_t(t.id) + 1);
            impl->flags.resize(std::size_t(t.id) + 1, 0);
        }
        impl->idBytes[std::size_t(t.id)] = t.content;
        impl->flags[std::size_t(t.id)] = std::uint8_t(5 | (t.special ? 2 : 0));
        impl->addedByContent[t.content] = t.id;
        std::int32_t node = 0;
        for (unsigned char b : t.content) {
            std::int32_t child = -1;
            for (const auto &[byte, index] : impl->trie[std::size_t(node)].children)
                if (byte == b)
                    child = index;
            if (child < 0) {
                child = std::int32_t(impl->trie.size());
                impl->trie[std::size_t(node)].children.emplace_back(b, child);
                impl->trie.emplace_back();
            }
            node = child;
        }
        impl->trie[std::size_t(node)].token = t.id;
        impl->addedFirstByte[static_cast<unsigned char>(t.content[0])] = true;
    }
    for (int b = 0; b < 256; ++b)
        if (impl->addedFirstByte[std::size_t(b)])
            impl->addedFirstBytes.push_back(static_cast<unsigned char>(b));
    impl->added = std::move(added);
    return Tokenizer(std::move(impl));
}

std::vector<TokenId> Tokenizer::encode(std::string_view text) const
{
    std::vector<TokenId> out;
    out.reserve(text.size() / 3 + 4);
    encode(text, out);
    return out;
}

void Tokenizer::encode(std::string_view text, std::vector<TokenId> &out) const
{
    if (!m_impl)
        return;
    const Impl &d = *m_impl;
    const std::vector<unsigned char> &first = d.addedFirstBytes;
    std::size_t segment = 0;
    auto emitAdded = [&](std::size_t at, std::size_t len, TokenId id) {
        d.encodePlain(text.substr(segment, at - segment), out);
        out.push_back(id);
        segment = at + len;
    };
    if (first.size() <= 4) {
        // Few distinct first bytes (V4: '<' and the first byte of '\uFF5C'): jump between
        // their occurrences with memchr, remembering the next one of each.
        const char *s = text.data();
        const std::size_t n = text.size();
        auto find = [&](std::size_t k, std::size_t from) {
            const void *hit = from < n ? std::memchr(s + from, first[k], n - from) : nullptr;
            return hit ? std::size_t(static_cast<const char *>(hit) - s) : n;
        };
        std::array<std::size_t, 4> next{n, n, n, n};
        for (std::size_t k = 0; k < first.size(); ++k)
            next[k] = find(k, 0);
        for (;;) {
            const std::size_t i = *std::min_element(next.begin(), next.begin() + first.size());
            if (i >= n)
                break;
            TokenId id;
            const std::size_t len = d.matchAdded(text, i, id);
            if (len)
                emitAdded(i, len, id);
            const std::size_t from = len ? i + len : i + 1;
            for (std::size_t k = 0; k < first.size(); ++k)
                if (next[k] < from)
                    next[k] = find(k, from);
        }
    } else {
        for (std::size_t i = 0; i < text.size(); ++i) {
            if (!d.addedFirstByte[static_cast<unsigned char>(text[i])])
                continue;
            TokenId id;
            const std::size_t len = d.matchAdded(text, i, id);
            if (len == 0)
                continue;
            emitAdded(i, len, id);
            i += len - 1;
        }
    }
    d.encodePlain(text.substr(segment), out);
}

void Tokenizer::encodeOrdinary(std::string_view text, std::vector<TokenId> &out) const
{
    if (m_impl)
        m_impl->encodePlain(text, out);
}

std::string Tokenizer::decodeBytes(std::span<const TokenId> ids, bool skipSpecial) const
{
    std::string out;
    if (!m_impl)
        return out;
    for (TokenId id : ids) {
        if (id < 0 || std::size_t(id) >= m_impl->idBytes.size())
            continue;
        if (skipSpecial && (m_impl->flags[std::size_t(id)] & 2))
            continue;
        out += m_impl->idBytes[std::size_t(id)];
    }
    return out;
}

std::string Tokenizer::decode(std::span<const TokenId> ids, bool skipSpecial) const
{
    return lossyUtf8(decodeBytes(ids, skipSpecial));
}

std::string_view Tokenizer::tokenBytes(TokenId id) const
{
    if (!m_impl || id < 0 || std::size_t(id) >= m_impl->idBytes.size())
        return {};
    return m_impl->idBytes[std::size_t(id)];
}

std::optional<TokenId> Tokenizer::tokenId(std::string_view tokenText) const
{
    if (!m_impl)
        return std::nullopt;
    const std::string key(tokenText);
    if (auto it = m_impl->addedByContent.find(key); it != m_impl->addedByContent.end())
        return it->second;
    if (auto it = m_impl->bpeByBytes.find(key); it != m_impl->bpeByBytes.end())
        return it->second;
    return std::nullopt;
}

bool Tokenizer::isSpecial(TokenId id) const
{
    return m_impl && id >= 0 && std::size_t(id) < m_impl->flags.size()
           && (m_impl->flags[std::size_t(id)] & 2);
}

bool Tokenizer::isAdded(TokenId id) const
{
    return m_impl && id >= 0 && std::size_t(id) < m_impl->flags.size()
           && (m_impl->flags[std::size_t(id)] & 1);
}

std::size_t Tokenizer::vocabSize() const
{
    return m_impl ? m_impl->idBytes.size() : 0;
}

const std::vector<AddedToken> &Tokenizer::addedTokens() const
{
    static const std::vector<AddedToken> empty;
    return m_impl ? m_impl->added : empty;
}

// ---- UTF-8 ---------------------------------------------------------------------------------

namespace {

// Length of the valid sequence at s[i] (> 0), or 0 with `incomplete` set when the bytes so far
// are a valid prefix cut by the end, or 0 with `bad` = length of the maximal invalid subpart.
unsigned utf8At(const unsigned char *s, std::size_t i, std::size_t n, bool &incomplete, unsigned &bad)
{
    incomplete = false;
    bad = 1;
    const unsigned char b0 = s[i];
    if (b0 < 0x80)
        return 1;
    unsigned need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF)
        need = 1;
    else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 2;
        if (b0 == 0xE0)
            lo = 0xA0;
        if (b0 == 0xED)
            hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 3;
        if (b0 == 0xF0)
            lo = 0x90;
        if (b0 == 0xF4)
            hi = 0x8F;
    } else {
        return 0; // bad = 1
    }
    for (unsigned k = 1; k <= need; ++k) {
        if (i + k >= n) {
            incomplete = true;
            return 0;
        }
        const unsigned char b = s[i + k];
        const unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
        if (b < l || b > h) {
            bad = k;
            return 0;
        }
    }
    return need + 1;
}

} // namespace

std::size_t utf8EmittablePrefix(std::string_view bytes)
{
    const auto *s = reinterpret_cast<const unsigned char *>(bytes.data());
    const std::size_t n = bytes.size();
    std::size_t i = 0;
    while (i < n) {
        bool incomplete;
        unsigned bad;
        const unsigned len = utf8At(s, i, n, incomplete, bad);
        if (len) {
            i += len;
        } else if (incomplete) {
            return i;
        } else {
            i += bad;
        }
    }
    return n;
}

std::string lossyUtf8(std::string_view bytes)
{
    const auto *s = reinterpret_cast<const unsigned char *>(bytes.data());
    const std::size_t n = bytes.size();
    std::string out;
    out.reserve(n);
    std::size_t i = 0;
    while (i < n) {
        bool incomplete;
        unsigned bad;
        const unsigned len = utf8At(s, i, n, incomplete, bad);
        if (len) {
            out.append(bytes.substr(i, len));
            i += len;
        } else {
            out += "\xEF\xBF\xBD";
            i += incomplete ? n - i : bad;
        }
    }
    return out;
}

// ---- StreamingDecoder ----------------------------------------------------------------------

StreamingDecoder::StreamingDecoder(const Tokenizer &tokenizer, bool skipSpecial)
    : m_tokenizer(tokenizer)
    , m_skipSpecial(skipSpecial)
{}

std::string StreamingDecoder::push(TokenId id)
{
    return push(std::span<const TokenId>(&id, 1));
}

std::string StreamingDecoder::push(std::span<const TokenId> ids)
{
    m_pending += m_tokenizer.decodeBytes(ids, m_skipSpecial);
    const std::size_t n = utf8EmittablePrefix(m_pending);
    std::string out = lossyUtf8(std::string_view(m_pending).substr(0, n));
    m_pending.erase(0, n);
    return out;
}

std::string StreamingDecoder::flush()
{
    std::string out = lossyUtf8(m_pending);
    m_pending.clear();
    return out;
}

} // namespace fathom::engine::tokenizer
