// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// fathom-cli layer-check: the layer-local golden check of testdata/README.md §2 (stable command
// line): fathom-cli layer-check --model DIR --expected FILE [--threads N] --out OUT.safetensors
// Every block (and the MTP block) runs alone at the golden step from the golden inputs and KV
// state; OUT holds the engine's values under the golden names (layers.{i}.*, mtp.0.*,
// head_logits [B, vocab], mtp.0.logits).

#include "commands.h"

#include "engine/cpu/cpuexecutor.h"
#include "engine/model/modelweights.h"
#include "engine/runtime/forward.h"
#include "engine/runtime/goldenrun.h"
#include "engine/runtime/v4model.h"

#include <cstdio>

namespace fathom::cli {

int runLayerCheck(const QStringList &args)
{
    const char *cmd = "layer-check";
    QString model, expectedPath, out;
    int threads = 0;
    for (int i = 0; i < args.size(); ++i) {
        const QString &a = args.at(i);
        if (a == QLatin1String("--help") || a == QLatin1String("-h")) {
            std::printf("usage: fathom-cli layer-check --model DIR --expected "
                        "EXPECTED.safetensors [--threads N] --out OUT.safetensors\n");
            return 0;
        }
        if (i + 1 >= args.size())
            return usageError(cmd, QStringLiteral("option '%1' needs a value").arg(a));
        const QString v = args.at(++i);
        if (a == QLatin1String("--model"))
            model = v;
        else if (a == QLatin1String("--expected"))
            expectedPath = v;
        else if (a == QLatin1String("--out"))
            out = v;
        else if (a == QLatin1String("--threads"))
            threads = v.toInt();
        else
            return usageError(cmd, QStringLiteral("unknown option '%1'").arg(a));
    }
    if (model.isEmpty() || expectedPath.isEmpty() || out.isEmpty())
        return usageError(cmd, QStringLiteral("--model, --expected and --out are required"));
    auto fail = [](const engine::Error &e) {
        std::fprintf(stderr, "fathom-cli layer-check: %s\n", e.toString().c_str());
        return 1;
    };
    auto weights = engine::ModelWeights::load(model.toStdString());
    if (!weights)
        return fail(weights.error());
    auto v4 = engine::V4Model::create(**weights);
    if (!v4)
        return fail(v4.error());
    auto expected = engine::SafetensorsFile::open(expectedPath.toStdString());
    if (!expected)
        return fail(expected.error());
    engine::CpuExecutor exec(threads);
    engine::V4Forward fwd(**v4, exec);
    auto res = engine::runLayerCheck(fwd, (*v4)->config(), **expected);
    if (!res)
        return fail(res.error());
    if (auto w = engine::writeNamedTensors(out.toStdString(), *res); !w)
        return fail(w.error());
    std::printf("%zu tensors written to %s\n", res->size(), qPrintable(out));
    return 0;
}

} // namespace fathom::cli
