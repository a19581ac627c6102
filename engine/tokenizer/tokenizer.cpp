// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT

#include "tokenizer.h"

#include "pretokenizer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_map>
#include <queue>

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

// Open-addressing map (left id, right id) -> (rank, merged id); the hot loop of BPE.
class MergeTable
{
public:
    struct Entry
    {
        std::uint64_t key = kEmpty;
        std::int32_t rank = 0;
        std::int32_t id = 0;
    };
    static constexpr std::uint64_t kEmpty = ~std::uint64_t(0);

    void reserve(std::size_t n)
    {
        std::size_t cap = 16;
        while (cap < n * 2)
            cap <<= 1;
        m_entries.assign(cap, Entry{});
        m_mask = cap - 1;
    }
    static std::uint64_t key(TokenId a, TokenId b)
    {
        return (std::uint64_t(std::uint32_t(a)) << 32) | std::uint32_t(b);
    }
    static std::size_t hash(std::uint64_t k)
    {
        k ^= k >> 33;
        k *= 0xff51afd7ed558ccdULL;
        k ^= k >> 33;
        return std::size_t(k);
    }
    // Keeps the first (lowest) rank when a pair is listed twice.
    void insert(TokenId a, TokenId b, std::int32_t rank, TokenId merged)
    {
        const std::uint64_t k = key(a, b);
        for (std::size_t i = hash(k) & m_mask;; i = (i + 1) & m_mask) {
            if (m_entries[i].key == kEmpty) {
                m_entries[i] = Entry{k, rank, merged};
                return;
            }
            if (m_entries[i].key == k)
                return;
        }
    }
    const Entry *find(TokenId a, TokenId b) const
    {
        const std::uint64_t k = key(a, b);
        for (std::size_t i = hash(k) & m_mask;; i = (i + 1) & m_mask) {
            const Entry &e = m_entries[i];
            if (e.key == k)
                return &e;
            if (e.key == kEmpty)
                return nullptr;
        }
    }

private:
    std::vector<Entry> m_entries;
    std::size_t m_mask = 0;
};

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
    std::uint64_t instanceId = 0;
    std::vector<std::string> idBytes; // index = id
    std::vector<std::uint8_t> flags;  // bit 0 added, bit 1 special, bit 2 present
    std::array<TokenId, 256> byteToken{};
    MergeTable merges;
    std::unordered_map<std::string, TokenId> bpeByBytes;
    std::unordered_map<std::string, TokenId> addedByContent;
    std::vector<AddedToken> added;
    std::vector<TrieNode> trie;
    std::array<bool, 256> addedFirstByte{};

    void bpeWord(const unsigned char *p, std::size_t n, std::vector<TokenId> &out) const;
    void bpeSlow(std::vector<TokenId> &sym, std::vector<TokenId> &out) const;
    void encodePlain(std::string_view text, std::vector<TokenId> &out) const;
    // Length of the longest added token at text[pos] (0: none), its id in `id`.
    std::size_t matchAdded(std::string_view text, std::size_t pos, TokenId &id) const;
};

namespace {

// A direct-mapped cache of recent words per thread (words repeat a lot in real text). Keyed by
// the tokenizer instance so that two tokenizers never share entries.
struct WordCache
{
    static constexpr std::size_t kSlots = 1 << 14;
    static constexpr std::size_t kMaxBytes = 23;
    static constexpr std::size_t kMaxIds = 7;
    struct Slot
    {
        std::uint64_t hash = 0;
        std::uint8_t len = 0; // 0 = empty
        std::uint8_t count = 0;
        char bytes[kMaxBytes];
        TokenId ids[kMaxIds];
    };
    std::uint64_t owner = 0;
    std::vector<Slot> slots;
};

inline std::uint64_t hashBytes(const unsigned char *p, std::size_t n)
{
    std::uint64_t h = 0xcbf29ce484222325ULL ^ n;
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t v;
        std::memcpy(&v, p + i, 8);
        h = (h ^ v) * 0x100000001b3ULL;
        h ^= h >> 29;
    }
    std::uint64_t tail = 0;
    std::memcpy(&tail, p + i, n - i);
    h = (h ^ tail) * 0x9E3779B97F4A7C15ULL;
    h ^= h >> 32;
    return h;
}

} // namespace

void Tokenizer::Impl::bpeSlow(std::vector<TokenId> &sym, std::vector<TokenId> &out) const
{
    // Longer words (long CJK runs, identifiers, whitespace): linked list + binary heap of
    // candidate pairs, O(n log n), with per-thread buffers so that no word allocates. Entries
    // are validated lazily against the current neighbours.
    struct Cand
    {
        std::int32_t rank;
        std::int32_t pos;
        TokenId left;
        TokenId right;
        TokenId merged; // saves a second table lookup when the candidate is applied
    };
    // Min-heap on (rank, pos): the lowest rank first, the leftmost among equal ranks.
    auto later = [](const Cand &a, const Cand &b) {
        return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
    };
    thread_local std::vector<std::int32_t> prev, next;
    thread_local std::vector<Cand> heap;
    const std::size_t n = sym.size();
    prev.resize(n);
    next.resize(n);
    heap.clear();
    for (std::size_t i = 0; i < n; ++i) {
        prev[i] = std::int32_t(i) - 1;
        next[i] = i + 1 < n ? std::int32_t(i + 1) : -1;
    }
    auto push = [&](std::int32_t pos) {
        if (pos < 0 || next[std::size_t(pos)] < 0)
            return;
        const TokenId a = sym[std::size_t(pos)], b = sym[std::size_t(next[std::size_t(pos)])];
        if (const MergeTable::Entry *e = merges.find(a, b)) {
            heap.push_back(Cand{e->rank, std::int32_t(pos), a, b, e->id});
            std::push_heap(heap.begin(), heap.end(), later);
        }
    };
    // Initial candidates: one O(n) heapify instead of n pushes.
    for (std::size_t i = 0; i + 1 < n; ++i) {
        if (const MergeTable::Entry *e = merges.find(sym[i], sym[i + 1]))
            heap.push_back(Cand{e->rank, std::int32_t(i), sym[i], sym[i + 1], e->id});
    }
    std::make_heap(heap.begin(), heap.end(), later);
    while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), later);
        const Cand c = heap.back();
        heap.pop_back();
        const std::int32_t r = next[std::size_t(c.pos)];
        if (sym[std::size_t(c.pos)] != c.left || r < 0 || sym[std::size_t(r)] != c.right)
            continue; // stale
        sym[std::size_t(c.pos)] = c.merged;
        sym[std::size_t(r)] = -1;
        next[std::size_t(c.pos)] = next[std::size_t(r)];
        if (next[std::size_t(r)] >= 0)
            prev[std::size_t(next[std::size_t(r)])] = c.pos;
        push(prev[std::size_t(c.pos)]);
        push(c.pos);
    }
    for (std::int32_t i = 0; i >= 0; i = next[std::size_t(i)])
        out.push_back(sym[std::size_t(i)]);
}

// Words up to this many bytes use repeated linear scans (cheaper than a heap when short).
constexpr std::size_t kScanMax = 24;

void Tokenizer::Impl::bpeWord(const unsigned char *p, std::size_t n, std::vector<TokenId> &out) const
{
    if (n == 1) {
        out.push_back(byteToken[p[0]]);
        return;
    }
    thread_local WordCache cache;
    WordCache::Slot *slot = nullptr;
    std::uint64_t h = 0;
    if (n <= WordCache::kMaxBytes) {
        if (cache.owner != instanceId) {
            cache.slots.assign(WordCache::kSlots, WordCache::Slot{});
            cache.owner = instanceId;
        }
        h = hashBytes(p, n);
        slot = &cache.slots[h & (WordCache::kSlots - 1)];
        if (slot->len == n && slot->hash == h && std::memcmp(slot->bytes, p, n) == 0) {
            out.insert(out.end(), slot->ids, slot->ids + slot->count);
            return;
        }
    }

    const std::size_t start = out.size();
    if (n > kScanMax) {
        thread_local std::vector<TokenId> sym;
        sym.resize(n);
        for (std::size_t i = 0; i < n; ++i)
            sym[i] = byteToken[p[i]];
        bpeSlow(sym, out);
    } else {
        // Short words: repeated scans for the lowest rank (leftmost among equals) beat a heap.
        TokenId sym[kScanMax];
        std::int32_t rank[kScanMax]; // rank of the pair (i, i+1), INT32_MAX if none
        std::size_t m = n;
        for (std::size_t i = 0; i < n; ++i)
            sym[i] = byteToken[p[i]];
        for (std::size_t i = 0; i + 1 < m; ++i) {
            const MergeTable::Entry *e = merges.find(sym[i], sym[i + 1]);
            rank[i] = e ? e->rank : INT32_MAX;
        }
        while (m > 1) {
            std::size_t best = 0;
            std::int32_t bestRank = rank[0];
            for (std::size_t i = 1; i + 1 < m; ++i) {
                if (rank[i] < bestRank) {
                    bestRank = rank[i];
                    best = i;
                }
            }
            if (bestRank == INT32_MAX)
                break;
            sym[best] = merges.find(sym[best], sym[best + 1])->id;
            for (std::size_t i = best + 1; i + 1 < m; ++i) {
                sym[i] = sym[i + 1];
                rank[i] = rank[i + 1];
            }
            --m;
            if (best + 1 < m) {
                const MergeTable::Entry *e = merges.find(sym[best], sym[best + 1]);
                rank[best] = e ? e->rank : INT32_MAX;
            }
            if (best > 0) {
                const MergeTable::Entry *e = merges.find(sym[best - 1], sym[best]);
                rank[best - 1] = e ? e->rank : INT32_MAX;
            }
        }
        out.insert(out.end(), sym, sym + m);
    }

    const std::size_t count = out.size() - start;
    if (slot && count <= WordCache::kMaxIds) {
        slot->hash = h;
        slot->len = std::uint8_t(n);
        slot->count = std::uint8_t(count);
        std::memcpy(slot->bytes, p, n);
        std::copy(out.begin() + std::ptrdiff_t(start), out.end(), slot->ids);
    }
}

void Tokenizer::Impl::encodePlain(std::string_view text, std::vector<TokenId> &out) const
{
    if (text.empty())
        return;
    thread_local std::vector<Piece> pieces;
    pieces.clear();
    preTokenize(text, pieces);
    const auto *p = reinterpret_cast<const unsigned char *>(text.data());
    for (const Piece &piece : pieces)
        bpeWord(p + piece.begin, piece.end - piece.begin, out);
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
    impl->merges.reserve(merges.size());
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
        impl->merges.insert(a->second, b->second, rank, c->second);
        ++rank;
    }

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
    std::size_t segment = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (!d.addedFirstByte[static_cast<unsigned char>(text[i])])
            continue;
        TokenId id;
        const std::size_t len = d.matchAdded(text, i, id);
        if (len == 0)
            continue;
        d.encodePlain(text.substr(segment, i - segment), out);
        out.push_back(id);
        i += len - 1;
        segment = i + 1;
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
