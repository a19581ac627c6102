// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// fathom-cli make-model: writes a random-weight DeepSeek V4 checkpoint in the official layout
// (stable command line):
//   fathom-cli make-model --out DIR --preset tiny|small|flash-slice [--layers N] [--from L]
//                         [--seed S] [--threads N] [--tokenizer FILE]
// The writer is engine/model/modelwriter.h; this is argument parsing and progress only.

#include "commands.h"

#include "engine/model/modelwriter.h"

#include <cstdio>

namespace fathom::cli {

int runMakeModel(const QStringList &args)
{
    const char *cmd = "make-model";
    engine::MakeModelOptions o;
    o.preset.clear();
    for (int i = 0; i < args.size(); ++i) {
        const QString &a = args.at(i);
        const auto value = [&](QString &out) {
            if (i + 1 >= args.size())
                return false;
            out = args.at(++i);
            return true;
        };
        QString v;
        if (a == QLatin1String("--help") || a == QLatin1String("-h")) {
            std::printf("usage: fathom-cli make-model --out DIR --preset tiny|small|flash-slice "
                        "[--layers N] [--from L] [--seed S] [--threads N] [--tokenizer FILE]\n"
                        "Writes a random V4 checkpoint (config.json, FP8/FP4 safetensors shards, "
                        "index; tokenizer.json when given, whose vocabulary is then used).\n"
                        "--from L cuts the layers from the preset's layer L (bench_cuda --from); "
                        "--threads N sets the generating threads (the bytes do not depend on "
                        "it).\n");
            return 0;
        } else if (a == QLatin1String("--out")) {
            if (!value(v))
                return usageError(cmd, QStringLiteral("--out needs a folder"));
            o.outDir = v.toStdString();
        } else if (a == QLatin1String("--preset")) {
            if (!value(v))
                return usageError(cmd, QStringLiteral("--preset needs tiny, small or flash-slice"));
            o.preset = v.toStdString();
        } else if (a == QLatin1String("--layers")) {
            bool ok = false;
            if (!value(v) || (o.layers = v.toInt(&ok), !ok) || o.layers < 1)
                return usageError(cmd, QStringLiteral("--layers needs a positive number"));
        } else if (a == QLatin1String("--from")) {
            bool ok = false;
            if (!value(v) || (o.firstLayer = v.toInt(&ok), !ok) || o.firstLayer < 0)
                return usageError(cmd, QStringLiteral("--from needs a non-negative number"));
        } else if (a == QLatin1String("--threads")) {
            bool ok = false;
            if (!value(v) || (o.threads = v.toInt(&ok), !ok) || o.threads < 1)
                return usageError(cmd, QStringLiteral("--threads needs a positive number"));
        } else if (a == QLatin1String("--seed")) {
            bool ok = false;
            if (!value(v) || (o.seed = v.toULongLong(&ok), !ok))
                return usageError(cmd, QStringLiteral("--seed needs a non-negative number"));
        } else if (a == QLatin1String("--tokenizer")) {
            if (!value(v))
                return usageError(cmd, QStringLiteral("--tokenizer needs a tokenizer.json"));
            o.tokenizerPath = v.toStdString();
        } else {
            return usageError(cmd, QStringLiteral("unknown option %1").arg(a));
        }
    }
    if (o.outDir.empty() || o.preset.empty())
        return usageError(cmd,
                          QStringLiteral(
                              "--out DIR and --preset tiny|small|flash-slice are required"));

    int lastPercent = -1;
    auto result = engine::writeRandomModel(o, [&](const engine::LoadProgress &p) {
        const int percent = p.bytesTotal ? int(100.0 * double(p.bytesDone) / double(p.bytesTotal))
                                         : 0;
        if (percent != lastPercent) {
            std::fprintf(stderr,
                         "\r%s: %3d%% (%.1f of %.1f MiB)",
                         p.stage.c_str(),
                         percent,
                         double(p.bytesDone) / 1048576.0,
                         double(p.bytesTotal) / 1048576.0);
            lastPercent = percent;
        }
        return true;
    });
    std::fprintf(stderr, "\n");
    if (!result) {
        std::fprintf(stderr, "fathom-cli make-model: %s\n", result.error().message.c_str());
        return 1;
    }
    std::printf("wrote %s (preset %s)\n", o.outDir.c_str(), o.preset.c_str());
    return 0;
}

} // namespace fathom::cli
