// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "demomodel.h"

#include "app/core/paths.h"
#include "engine/model/modelwriter.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSaveFile>

#include <array>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

namespace fathom::ui::demo {

namespace {

const char *const kMarkerFile = "FATHOM-DEMO-MODEL.txt";

// GPT-2's byte-to-character table: printable bytes stand for themselves, the others are mapped
// to U+0100 and up, so every byte sequence is a printable string in the vocab.
std::array<char32_t, 256> byteToChar()
{
    std::array<char32_t, 256> table{};
    std::vector<bool> printable(256, false);
    for (int b = '!'; b <= '~'; ++b)
        printable[b] = true;
    for (int b = 0xA1; b <= 0xAC; ++b)
        printable[b] = true;
    for (int b = 0xAE; b <= 0xFF; ++b)
        printable[b] = true;
    int next = 0;
    for (int b = 0; b < 256; ++b)
        table[b] = printable[b] ? char32_t(b) : char32_t(256 + next++);
    return table;
}

std::string utf8(char32_t c)
{
    std::string s;
    if (c < 0x80) {
        s += char(c);
    } else if (c < 0x800) {
        s += char(0xC0 | (c >> 6));
        s += char(0x80 | (c & 0x3F));
    } else {
        s += char(0xE0 | (c >> 12));
        s += char(0x80 | ((c >> 6) & 0x3F));
        s += char(0x80 | (c & 0x3F));
    }
    return s;
}

// A short English text to learn merges from; the demo's answers are random anyway, this only
// makes prompts a little shorter than one token per byte.
const char *const kCorpus
    = "the quick brown fox jumps over the lazy dog and the analyst reads the documents in the "
      "conversation then asks questions about the pages of the report the model answers with "
      "citations of the pages it used this is a demo model with random weights its answers are "
      "noise but every screen of the application works with it there are tables lists headings "
      "and code in the answers of a real model which runs on the graphics processors or on the "
      "central processor of the workstation when the weights are installed in the model folder "
      "please load a real model to get useful answers thank you for trying fathom today";

} // namespace

QString defaultFolder()
{
    return QDir(paths::dataDir()).filePath(QStringLiteral("models/demo-v4-tiny"));
}

bool isDemoModel(const QString &folder)
{
    return QFileInfo::exists(QDir(folder).filePath(QLatin1String(kMarkerFile)));
}

std::string tokenizerJson()
{
    using Json = nlohmann::ordered_json;
    const std::array<char32_t, 256> b2c = byteToChar();
    // Special tokens at V4's low ids (BOS 0, EOS 1, pad 2), then the byte tokens.
    const std::vector<std::string> leading
        = {"<\xEF\xBD\x9C"
           "begin\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
           "<\xEF\xBD\x9C"
           "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
           "<\xEF\xBD\x9C\xE2\x96\x81pad\xE2\x96\x81\xEF\xBD\x9C>"};
    // The chat markers V4's prompt format writes (engine/chat), at the top of the small vocab.
    const std::vector<std::string> trailing = {
        "<\xEF\xBD\x9CUser\xEF\xBD\x9C>",
        "<\xEF\xBD\x9C"
        "Assistant\xEF\xBD\x9C>",
        "<|EOT|>",
        "<think>",
        "</think>",
        "\xEF\xBD\x9C"
        "DSML\xEF\xBD\x9C",
        "<\xEF\xBD\x9Clatest_reminder\xEF\xBD\x9C>",
        "<\xEF\xBD\x9C"
        "action\xEF\xBD\x9C>",
        "<\xEF\xBD\x9Cquery\xEF\xBD\x9C>",
        "<\xEF\xBD\x9C"
        "authority\xEF\xBD\x9C>",
        "<\xEF\xBD\x9C"
        "domain\xEF\xBD\x9C>",
        "<\xEF\xBD\x9Ctitle\xEF\xBD\x9C>",
        "<\xEF\xBD\x9Ctool\xE2\x96\x81"
        "calls\xE2\x96\x81"
        "begin\xEF\xBD\x9C>",
        "<\xEF\xBD\x9Ctool\xE2\x96\x81"
        "calls\xE2\x96\x81"
        "end\xEF\xBD\x9C>",
    };

    Json vocab = Json::object();
    int nextId = int(leading.size());
    std::vector<std::string> byteString(256);
    for (int b = 0; b < 256; ++b) {
        byteString[b] = utf8(b2c[b]);
        vocab[byteString[b]] = nextId++;
    }

    // Learn merges: words (with their leading space, as byte-level BPE sees them) split into
    // symbols; repeatedly merge the most frequent adjacent pair (ties: the first seen).
    const int mergeBudget = kVocabSize - nextId - int(trailing.size());
    std::vector<std::vector<std::string>> words;
    {
        const std::string corpus = kCorpus;
        size_t start = 0;
        while (start < corpus.size()) {
            size_t end = corpus.find(' ', start + 1);
            if (end == std::string::npos)
                end = corpus.size();
            std::vector<std::string> symbols;
            for (size_t i = start; i < end; ++i)
                symbols.push_back(byteString[static_cast<unsigned char>(corpus[i])]);
            words.push_back(std::move(symbols));
            start = end;
        }
    }
    Json merges = Json::array();
    for (int m = 0; m < mergeBudget; ++m) {
        std::map<std::pair<std::string, std::string>, int> counts;
        std::vector<std::pair<std::string, std::string>> order;
        for (const auto &w : words) {
            for (size_t i = 0; i + 1 < w.size(); ++i) {
                auto key = std::make_pair(w[i], w[i + 1]);
                if (counts[key]++ == 0)
                    order.push_back(key);
            }
        }
        if (order.empty())
            break;
        std::pair<std::string, std::string> best = order.front();
        for (const auto &key : order) {
            if (counts[key] > counts[best])
                best = key;
        }
        const std::string merged = best.first + best.second;
        if (vocab.contains(merged))
            break;
        vocab[merged] = nextId++;
        merges.push_back(best.first + " " + best.second);
        for (auto &w : words) {
            std::vector<std::string> out;
            for (size_t i = 0; i < w.size(); ++i) {
                if (i + 1 < w.size() && w[i] == best.first && w[i + 1] == best.second) {
                    out.push_back(merged);
                    ++i;
                } else {
                    out.push_back(w[i]);
                }
            }
            w = std::move(out);
        }
    }

    Json added = Json::array();
    for (size_t i = 0; i < leading.size(); ++i)
        added.push_back({{"id", int(i)},
                         {"content", leading[i]},
                         {"single_word", false},
                         {"lstrip", false},
                         {"rstrip", false},
                         {"normalized", false},
                         {"special", true}});
    // The vocab ends at kVocabSize - 1 whatever number of merges was learnt.
    nextId = kVocabSize - int(trailing.size());
    for (const std::string &t : trailing)
        added.push_back({{"id", nextId++},
                         {"content", t},
                         {"single_word", false},
                         {"lstrip", false},
                         {"rstrip", false},
                         {"normalized", false},
                         {"special", t == "<|EOT|>"}});

    Json root = Json::object();
    root["version"] = "1.0";
    root["truncation"] = nullptr;
    root["padding"] = nullptr;
    root["added_tokens"] = added;
    root["normalizer"] = nullptr;
    root["pre_tokenizer"] = nullptr;
    root["model"] = {{"type", "BPE"},
                     {"dropout", nullptr},
                     {"unk_token", nullptr},
                     {"continuing_subword_prefix", nullptr},
                     {"end_of_word_suffix", nullptr},
                     {"fuse_unk", false},
                     {"byte_fallback", false},
                     {"vocab", vocab},
                     {"merges", merges}};
    return root.dump(1);
}

Result<void> writeDemoModel(const QString &folder, const std::function<void(double)> &progress)
{
    if (isDemoModel(folder))
        return {};
    QDir dir(folder);
    if (!dir.mkpath(QStringLiteral(".")))
        return fail(Error::Kind::Io,
                    QCoreApplication::translate("DemoModel",
                                                "Cannot create the demo model folder %1.")
                        .arg(folder));

    const QString tokenizerPath = dir.filePath(QStringLiteral("demo-tokenizer.json"));
    {
        QSaveFile file(tokenizerPath);
        if (!file.open(QIODevice::WriteOnly))
            return fail(Error::Kind::Io,
                        QCoreApplication::translate("DemoModel", "Cannot write %1: %2")
                            .arg(tokenizerPath, file.errorString()));
        file.write(QByteArray::fromStdString(tokenizerJson()));
        if (!file.commit())
            return fail(Error::Kind::Io,
                        QCoreApplication::translate("DemoModel", "Cannot write %1: %2")
                            .arg(tokenizerPath, file.errorString()));
    }

    engine::MakeModelOptions options;
    options.outDir = folder.toStdString();
    options.preset = "tiny";
    options.seed = 20260101;
    options.tokenizerPath = tokenizerPath.toStdString();
    auto onProgress = [&](const engine::LoadProgress &p) {
        if (progress && p.bytesTotal > 0)
            progress(double(p.bytesDone) / double(p.bytesTotal));
        return true;
    };
    if (engine::Result<void> r = engine::writeRandomModel(options, onProgress); !r)
        return fail(Error::Kind::Io,
                    QCoreApplication::translate("DemoModel", "Cannot write the demo model in %1: %2")
                        .arg(folder, QString::fromStdString(r.error().message)));
    QFile::remove(tokenizerPath);

    QFile marker(dir.filePath(QLatin1String(kMarkerFile)));
    if (!marker.open(QIODevice::WriteOnly))
        return fail(Error::Kind::Io,
                    QCoreApplication::translate("DemoModel", "Cannot write %1: %2")
                        .arg(marker.fileName(), marker.errorString()));
    marker.write("Fathom demo model: the DeepSeek V4 architecture at a tiny size with RANDOM "
                 "weights and a small generated tokenizer. Its answers are noise. It exists so "
                 "that every screen of Fathom can be tried without the real weights.\n");
    marker.close();
    return {};
}

} // namespace fathom::ui::demo
