// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  DeepSeek V4's byte-level BPE tokenizer (spec §7), loaded from a Hugging Face tokenizer.json.

  encode(): added tokens are matched literally on the raw text first (leftmost, then longest);
  the text between them is split by the pre-tokenizer (pretokenizer.h) and each piece is encoded
  with byte-level BPE, merges applied by rank (lowest first, leftmost among equals). No BOS/EOS
  is ever added: the prompt encoder writes them as text.

  decode(): ids back to bytes (added tokens as their literal text), converted to UTF-8 lossily
  like Hugging Face (each invalid sequence becomes U+FFFD). StreamingDecoder emits text while
  tokens arrive and never emits a broken UTF-8 sequence.

  A Tokenizer is cheap to copy (shared immutable state) and safe to use from several threads.
*/

#include "engine/core/error.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fathom::engine::tokenizer {

using TokenId = std::int32_t;

struct AddedToken
{
    TokenId id = -1;
    std::string content;
    bool special = false;
};

class Tokenizer
{
public:
    Tokenizer();

    // Loads tokenizer.json (byte-level BPE model, its added tokens). When addedTokensFile is not
    // empty, the added tokens listed there replace/extend those of tokenizer.json by id; it may be
    // a tokenizer.json, a JSON array of {id, content, special}, or an object with such an array
    // under "tokens" or "added_tokens" (testdata/tokenizer/v4_added_tokens.json).
    static Result<Tokenizer> load(const std::string &tokenizerJsonFile,
                                  const std::string &addedTokensFile = {});
    // The tokenizer.json in a model folder.
    static Result<Tokenizer> fromModelDir(const std::string &modelDir);
    static Result<Tokenizer> fromJsonText(std::string_view tokenizerJson,
                                          std::string_view addedTokensJson = {},
                                          const std::string &sourceName = "tokenizer.json");

    bool isValid() const { return m_impl != nullptr; }

    std::vector<TokenId> encode(std::string_view text) const;
    void encode(std::string_view text, std::vector<TokenId> &out) const; // appends
    // Encodes as if no added tokens existed (plain text; used for user content where literal
    // special-token text must not become control tokens).
    void encodeOrdinary(std::string_view text, std::vector<TokenId> &out) const;

    // Raw bytes of the ids (unknown ids are skipped).
    std::string decodeBytes(std::span<const TokenId> ids, bool skipSpecial = false) const;
    // decodeBytes() made valid UTF-8 (invalid sequences become U+FFFD).
    std::string decode(std::span<const TokenId> ids, bool skipSpecial = false) const;

    // The bytes a single token stands for (empty for unknown ids).
    std::string_view tokenBytes(TokenId id) const;
    std::optional<TokenId> tokenId(std::string_view tokenText) const; // vocab or added token
    bool isSpecial(TokenId id) const;
    bool isAdded(TokenId id) const;
    // One past the largest id (129,280 for V4 with its added tokens).
    std::size_t vocabSize() const;
    const std::vector<AddedToken> &addedTokens() const;

    struct Impl;

private:
    explicit Tokenizer(std::shared_ptr<const Impl> impl);
    std::shared_ptr<const Impl> m_impl;
};

// Turns a token stream into text pieces that are always complete UTF-8. Bytes of a multi-byte
// character split across tokens are held back until the character is complete; bytes that can
// never become valid UTF-8 are replaced by U+FFFD, exactly as decode() would.
class StreamingDecoder
{
public:
    explicit StreamingDecoder(const Tokenizer &tokenizer, bool skipSpecial = false);
    std::string push(TokenId id);
    std::string push(std::span<const TokenId> ids);
    // Emits what is still held back (an incomplete sequence becomes U+FFFD) and resets.
    std::string flush();

private:
    Tokenizer m_tokenizer;
    bool m_skipSpecial;
    std::string m_pending;
};

// UTF-8 helpers shared with the streaming decoder and the chat parser.
// Length of the longest prefix of `bytes` that can be emitted now: every complete valid
// character plus every invalid sequence (which lossyUtf8 turns into U+FFFD); what remains is an
// incomplete but still possibly valid sequence at the end (at most 3 bytes).
std::size_t utf8EmittablePrefix(std::string_view bytes);
// Converts to valid UTF-8, one U+FFFD per maximal invalid subpart (Unicode §3.9, as Rust's
// String::from_utf8_lossy).
std::string lossyUtf8(std::string_view bytes);

} // namespace fathom::engine::tokenizer
