// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// fathom-cli tokenize / detokenize: the V4 tokenizer on JSON lines (stable command lines, see
// the README): one JSON string per input line -> one JSON array of ids per output line, and back.

#include "commands.h"

#include "engine/tokenizer/tokenizer.h"

#include <nlohmann/json.hpp>

#include <QFileInfo>

#include <cstdio>
#include <iostream>
#include <string>

namespace fathom::cli {

namespace {

using engine::tokenizer::TokenId;
using engine::tokenizer::Tokenizer;

struct TokenizerArgs
{
    QString tokenizer;
    QString addedTokens;
    bool skipSpecial = false;
};

// Returns 0 on success, else the exit status (usage error already printed).
int parseArgs(const char *command, const QStringList &args, TokenizerArgs &out, bool allowSkip)
{
    for (int i = 0; i < args.size(); ++i) {
        const QString &a = args.at(i);
        if ((a == QLatin1String("--tokenizer") || a == QLatin1String("--added-tokens"))
            && i + 1 < args.size()) {
            (a == QLatin1String("--tokenizer") ? out.tokenizer : out.addedTokens) = args.at(++i);
        } else if (allowSkip && a == QLatin1String("--skip-special")) {
            out.skipSpecial = true;
        } else if (a == QLatin1String("--help") || a == QLatin1String("-h")) {
            std::printf("usage: fathom-cli %s --tokenizer FILE|MODEL_DIR [--added-tokens FILE]%s\n"
                        "  reads one JSON %s per line on stdin, writes one JSON %s per line\n",
                        command,
                        allowSkip ? " [--skip-special]" : "",
                        allowSkip ? "array of ids" : "string",
                        allowSkip ? "string" : "array of ids");
            return -1;
        } else {
            return usageError(command, QStringLiteral("unknown or incomplete option '%1'").arg(a));
        }
    }
    if (out.tokenizer.isEmpty())
        return usageError(command, QStringLiteral("--tokenizer FILE is required"));
    if (QFileInfo(out.tokenizer).isDir())
        out.tokenizer += QStringLiteral("/tokenizer.json");
    return 0;
}

int loadTokenizer(const char *command, const TokenizerArgs &args, Tokenizer &tok)
{
    auto r = Tokenizer::load(args.tokenizer.toStdString(), args.addedTokens.toStdString());
    if (!r) {
        std::fprintf(stderr, "fathom-cli %s: %s\n", command, r.error().toString().c_str());
        return 1;
    }
    tok = *r;
    return 0;
}

} // namespace

int runTokenize(const QStringList &arguments)
{
    TokenizerArgs args;
    if (int rc = parseArgs("tokenize", arguments, args, false))
        return rc < 0 ? 0 : rc;
    Tokenizer tok;
    if (int rc = loadTokenizer("tokenize", args, tok))
        return rc;
    std::ios::sync_with_stdio(false);
    std::string line, out;
    std::vector<TokenId> ids;
    long lineNo = 0;
    while (std::getline(std::cin, line)) {
        ++lineNo;
        const auto j = nlohmann::json::parse(line, nullptr, false);
        if (!j.is_string()) {
            std::fprintf(stderr,
                         "fathom-cli tokenize: stdin line %ld is not a JSON string\n",
                         lineNo);
            return 1;
        }
        ids.clear();
        tok.encode(j.get_ref<const std::string &>(), ids);
        out = "[";
        for (std::size_t i = 0; i < ids.size(); ++i) {
            if (i)
                out += ',';
            out += std::to_string(ids[i]);
        }
        out += "]\n";
        std::fwrite(out.data(), 1, out.size(), stdout);
    }
    return 0;
}

int runDetokenize(const QStringList &arguments)
{
    TokenizerArgs args;
    if (int rc = parseArgs("detokenize", arguments, args, true))
        return rc < 0 ? 0 : rc;
    Tokenizer tok;
    if (int rc = loadTokenizer("detokenize", args, tok))
        return rc;
    std::string line;
    long lineNo = 0;
    while (std::getline(std::cin, line)) {
        ++lineNo;
        const auto j = nlohmann::json::parse(line, nullptr, false);
        std::vector<TokenId> ids;
        bool ok = j.is_array();
        if (ok) {
            for (const auto &v : j) {
                if (!v.is_number_integer() || v.get<long long>() < 0
                    || std::size_t(v.get<long long>()) >= tok.vocabSize()) {
                    ok = false;
                    break;
                }
                ids.push_back(v.get<TokenId>());
            }
        }
        if (!ok) {
            std::fprintf(
                stderr,
                "fathom-cli detokenize: stdin line %ld is not a JSON array of ids below %zu\n",
                lineNo,
                tok.vocabSize());
            return 1;
        }
        const std::string out = nlohmann::json(tok.decode(ids, args.skipSpecial)).dump() + "\n";
        std::fwrite(out.data(), 1, out.size(), stdout);
    }
    return 0;
}

} // namespace fathom::cli
