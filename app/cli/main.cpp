// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// fathom-cli: the headless composition root. Dispatches to one sub-command (see commands.h).

#include "commands.h"

#include <QCoreApplication>
#include <QTextStream>

#include <cstdio>
#include <cstring>

namespace fathom::cli {

// NOTE: one line per command; keep the list sorted. Declarations sit next to the table so that
// adding a command touches this file in one place.
int runBench(const QStringList &);
int runBackup(const QStringList &);
int runDetokenize(const QStringList &);
int runEncode(const QStringList &);
int runExport(const QStringList &);
int runGenerate(const QStringList &);
int runImport(const QStringList &);
int runIngest(const QStringList &);
int runDevices(const QStringList &);
int runLayerCheck(const QStringList &);
int runLogits(const QStringList &);
int runMakeModel(const QStringList &);
int runParse(const QStringList &);
int runSearch(const QStringList &);
int runServe(const QStringList &);
int runTokenize(const QStringList &);
static const Command kCommands[] = {
    {"backup", "copy the whole database with SQLite's online backup (--db PATH --output F)",
     runBackup},
    {"bench", "prefill/decode tokens/s vs the memory-bandwidth bound (--model DIR [--json])",
     runBench},
    {"detokenize", "JSON arrays of token ids (stdin lines) -> JSON strings", runDetokenize},
    {"devices", "CUDA GPUs this build can use, or why none ([--json])", runDevices},
    {"encode", "print the exact V4 prompt for a chat request (--request R.json)", runEncode},
    {"export", "a conversation as Markdown/JSON (--db PATH --conversation ID --format md|json)",
     runExport},
    {"generate", "one chat turn on the CPU, streamed (--model DIR --prompt TEXT)", runGenerate},
    {"import", "import a conversation exported as JSON (--db PATH FILE)", runImport},
    {"ingest", "parse documents out of process and store them (--db PATH FILE...)", runIngest},
    {"layer-check", "layer-local golden check of every block (--model DIR --expected F --out F)",
     runLayerCheck},
    {"logits", "V4 forward pass on token ids -> logits safetensors (--model --prompt --out)",
     runLogits},
    {"make-model", "write a random V4 checkpoint (--out DIR --preset tiny|small|flash-slice)",
     runMakeModel},
    {"parse", "parse a V4 completion (stdin) into reasoning, content, tool calls", runParse},
    {"search", "full-text search of documents and messages (--db PATH [--json] QUERY)", runSearch},
    {"serve", "OpenAI-compatible API server on the CPU (--model DIR [--host H --port N])",
     runServe},
    {"tokenize", "JSON strings (stdin lines) -> JSON arrays of V4 token ids", runTokenize},
    {"version", "print the version", [](const QStringList &) {
         std::printf("fathom-cli %s\n", FATHOM_VERSION_STRING);
         return 0;
     }},
};

int usageError(const char *command, const QString &message)
{
    std::fprintf(stderr, "fathom-cli %s: %s\n", command, qPrintable(message));
    return 2;
}

static void printHelp()
{
    std::printf("usage: fathom-cli <command> [options]\n\ncommands:\n");
    for (const Command &c : kCommands)
        std::printf("  %-12s %s\n", c.name, c.summary);
    std::printf("\n`fathom-cli <command> --help` describes a command's options.\n");
}

} // namespace fathom::cli

int main(int argc, char **argv)
{
    using namespace fathom::cli;
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("Fathom"));
    QCoreApplication::setOrganizationName(QStringLiteral("Fathom"));
    QCoreApplication::setApplicationVersion(QStringLiteral(FATHOM_VERSION_STRING));

    QStringList args = QCoreApplication::arguments();
    if (args.size() < 2 || args.at(1) == QLatin1String("--help") || args.at(1) == QLatin1String("-h")
        || args.at(1) == QLatin1String("help")) {
        printHelp();
        return args.size() < 2 ? 2 : 0;
    }
    const QByteArray name = args.at(1).toUtf8();
    for (const Command &c : kCommands) {
        if (std::strcmp(c.name, name.constData()) == 0)
            return c.run(args.mid(2));
    }
    std::fprintf(stderr, "fathom-cli: unknown command '%s'\n\n", name.constData());
    printHelp();
    return 2;
}
