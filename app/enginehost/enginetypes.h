// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  Qt-side values that cross the engine/GUI thread boundary in EngineHost's signals. They mirror
  the engine's structs (engine/api/backend.h) with QStrings, so nothing in the GUI sees std::
  strings or engine errors.
*/

#include "app/core/error.h"
#include "engine/api/backend.h"

#include <QList>
#include <QMetaType>
#include <QString>

namespace fathom {

// A backend choice: which kind to create and how (the remote settings, the model folder).
struct BackendChoice
{
    enum class Kind { Cpu, Cuda, Remote };
    Kind kind = Kind::Cpu;
    QString modelPath;  // local kinds
    QString modelId;    // remote: the server's model id (may be empty: the first one)
    QString remoteName; // remote: shown to the user
    QString remoteUrl;
    QString remoteApiKey;   // read from the SecretStore just before loading; never persisted
    QString remoteCaBundle; // PEM file of extra CA certificates
    QString remoteProxy;    // empty: the environment's proxy settings
    int contextLength = 0;
    QList<int> devices;
};

struct EngineLoadProgress
{
    qint64 bytesDone = 0;
    qint64 bytesTotal = 0;
    QString stage;
};

// What the loaded backend is and can do.
struct EngineModelInfo
{
    QString backendDescription;
    QString modelId;
    int contextLength = 0;
    bool canCountTokens = false;
};

struct EngineStats
{
    int promptTokens = 0;
    int completionTokens = 0;
    double timeToFirstTokenMs = 0.0;
    double tokensPerSecond = 0.0;
    QString modelId; // the model that produced the answer (a remote server's reported id)
};

enum class EngineFinish { Stop, Length, Cancelled, Error, ToolCalls };

EngineStats toEngineStats(const engine::GenerationStats &stats);
EngineFinish toEngineFinish(engine::FinishReason reason);

} // namespace fathom

Q_DECLARE_METATYPE(fathom::Error)
Q_DECLARE_METATYPE(fathom::BackendChoice)
Q_DECLARE_METATYPE(fathom::EngineLoadProgress)
Q_DECLARE_METATYPE(fathom::EngineModelInfo)
Q_DECLARE_METATYPE(fathom::EngineStats)
Q_DECLARE_METATYPE(fathom::EngineFinish)
