// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// fathom-cli logits: the V4 forward pass on the CPU over given token ids (stable command line):
//   fathom-cli logits --model DIR --prompt P.json [--decode D.json] [--chunk N] [--routing FILE]
//                     [--threads N] --out OUT.safetensors
// P.json [[ids...], ...] (B rows of equal length) fed from position 0 (in chunks of N tokens with
// --chunk); D.json [[ids...], ...] (B rows of T ids) fed one token per step after the prompt.
// OUT: F32 prefill_last_logits [B, vocab] and, with --decode, decode_logits [B, T, vocab].
// --routing FILE (a golden expected.safetensors) replays the reference's top-k decisions.

#include "commands.h"

#include "engine/cpu/cpuexecutor.h"
#include "engine/model/modelweights.h"
#include "engine/runtime/forward.h"
#include "engine/runtime/goldenrun.h"
#include "engine/runtime/v4model.h"

#include <nlohmann/json.hpp>

#include <QFile>

#include <cstdio>
#include <optional>

namespace fathom::cli {

namespace {

bool readIdRows(const QString &path, std::vector<std::vector<int32_t>> &rows, QString &error)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) {
        error = QStringLiteral("cannot read %1: %2").arg(path, f.errorString());
        return false;
    }
    const QByteArray bytes = f.readAll();
    const auto j = nlohmann::json::parse(bytes.constData(),
                                         bytes.constData() + bytes.size(),
                                         nullptr,
                                         false);
    if (j.is_discarded() || !j.is_array()) {
        error = QStringLiteral("%1: expected a JSON array of arrays of token ids").arg(path);
        return false;
    }
    for (const auto &row : j) {
        if (!row.is_array()) {
            error = QStringLiteral("%1: expected a JSON array of arrays of token ids").arg(path);
            return false;
        }
        std::vector<int32_t> ids;
        for (const auto &v : row) {
            if (!v.is_number_integer()) {
                error = QStringLiteral("%1: token ids must be integers").arg(path);
                return false;
            }
            ids.push_back(v.get<int32_t>());
        }
        rows.push_back(std::move(ids));
    }
    return true;
}

} // namespace

int runLogits(const QStringList &args)
{
    const char *cmd = "logits";
    QString model, prompt, decode, routing, out;
    int chunk = 0, threads = 0;
    for (int i = 0; i < args.size(); ++i) {
        const QString &a = args.at(i);
        const bool hasValue = i + 1 < args.size();
        if (a == QLatin1String("--help") || a == QLatin1String("-h")) {
            std::printf("usage: fathom-cli logits --model DIR --prompt P.json [--decode D.json] "
                        "[--chunk N] [--routing EXPECTED.safetensors] [--threads N] --out "
                        "OUT.safetensors\n");
            return 0;
        }
        if (!hasValue)
            return usageError(cmd, QStringLiteral("option '%1' needs a value").arg(a));
        const QString v = args.at(++i);
        if (a == QLatin1String("--model"))
            model = v;
        else if (a == QLatin1String("--prompt"))
            prompt = v;
        else if (a == QLatin1String("--decode"))
            decode = v;
        else if (a == QLatin1String("--routing"))
            routing = v;
        else if (a == QLatin1String("--out"))
            out = v;
        else if (a == QLatin1String("--chunk") || a == QLatin1String("--threads")) {
            bool ok = false;
            const int n = v.toInt(&ok);
            if (!ok || n < 0)
                return usageError(cmd, QStringLiteral("%1 needs a non-negative number").arg(a));
            (a == QLatin1String("--chunk") ? chunk : threads) = n;
        } else
            return usageError(cmd, QStringLiteral("unknown option '%1'").arg(a));
    }
    if (model.isEmpty() || prompt.isEmpty() || out.isEmpty())
        return usageError(cmd, QStringLiteral("--model, --prompt and --out are required"));

    engine::LogitsRequest req;
    req.chunk = chunk;
    QString error;
    if (!readIdRows(prompt, req.prompt, error)
        || (!decode.isEmpty() && !readIdRows(decode, req.decode, error))) {
        std::fprintf(stderr, "fathom-cli logits: %s\n", qPrintable(error));
        return 1;
    }
    auto fail = [](const engine::Error &e) {
        std::fprintf(stderr, "fathom-cli logits: %s\n", e.toString().c_str());
        return 1;
    };
    auto weights = engine::ModelWeights::load(model.toStdString());
    if (!weights)
        return fail(weights.error());
    auto v4 = engine::V4Model::create(**weights);
    if (!v4)
        return fail(v4.error());
    std::unique_ptr<engine::SafetensorsFile> expected;
    std::optional<engine::GoldenRouting> replay;
    if (!routing.isEmpty()) {
        auto e = engine::SafetensorsFile::open(routing.toStdString());
        if (!e)
            return fail(e.error());
        expected = std::move(*e);
        auto g = engine::GoldenRouting::load(*expected, (*v4)->config());
        if (!g)
            return fail(g.error());
        replay = std::move(*g);
        req.routing = &*replay;
    }
    engine::CpuExecutor exec(threads);
    engine::V4Forward fwd(**v4, exec);
    auto res = engine::runLogits(fwd, (*v4)->config(), req);
    if (!res)
        return fail(res.error());
    const int64_t B = static_cast<int64_t>(req.prompt.size());
    std::vector<engine::NamedTensor> tensors;
    tensors.push_back({"prefill_last_logits",
                       engine::DType::F32,
                       {B, res->vocab},
                       std::move(res->prefillLast),
                       {}});
    if (!req.decode.empty())
        tensors.push_back({"decode_logits",
                           engine::DType::F32,
                           {B, static_cast<int64_t>(req.decode.front().size()), res->vocab},
                           std::move(res->decode),
                           {}});
    if (auto w = engine::writeNamedTensors(out.toStdString(), tensors); !w)
        return fail(w.error());
    return 0;
}

} // namespace fathom::cli
