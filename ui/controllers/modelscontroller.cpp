// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "modelscontroller.h"

#include "demomodel.h"
#include "settingscontroller.h"

#include "app/enginehost/backendfactory.h"
#include "app/enginehost/enginehost.h"
#include "engine/model/modelconfig.h"

#include <QDir>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QUrl>
#include <QtConcurrent>

namespace fathom::ui {

ModelsController::ModelsController(EngineHost *host, SettingsController *settings, QObject *parent)
    : QObject(parent)
    , m_host(host)
    , m_settings(settings)
    , m_backends(new BackendListModel(this))
{
    refreshBackends();
    connect(m_settings, &SettingsController::remoteServersChanged, this, [this] {
        refreshBackends();
    });
    connect(m_host, &EngineHost::loadProgress, this, [this](const EngineLoadProgress &p) {
        m_progress = p.bytesTotal > 0 ? double(p.bytesDone) / double(p.bytesTotal) : 0.0;
        m_stage = p.stage;
        emit progressChanged();
    });
    connect(m_host, &EngineHost::loaded, this, [this](const EngineModelInfo &info) {
        m_info = info;
        m_progress = 1.0;
        emit progressChanged();
        setState(QStringLiteral("loaded"));
    });
    connect(m_host, &EngineHost::loadFailed, this, [this](const Error &error) {
        if (error.kind == Error::Kind::Cancelled) {
            setState(QStringLiteral("none"));
            return;
        }
        const QString message = tr("Could not load the model %1: %2")
                                    .arg(currentName(), error.message);
        setState(QStringLiteral("failed"), message);
        emit errorOccurred(message);
    });
    connect(m_host, &EngineHost::unloaded, this, [this] {
        if (m_state == u"loaded")
            setState(QStringLiteral("none"));
    });
}

void ModelsController::refreshBackends()
{
    QList<BackendEntry> entries;
    const std::pair<BackendChoice::Kind, QString> kinds[]
        = {{BackendChoice::Kind::Cpu, QStringLiteral("cpu")},
           {BackendChoice::Kind::Cuda, QStringLiteral("cuda")},
           {BackendChoice::Kind::Remote, QStringLiteral("remote")}};
    for (const auto &[kind, code] : kinds) {
        const engine::BackendInfo info = describeBackend(kind);
        BackendEntry e;
        e.kind = code;
        e.name = code == u"cpu"    ? tr("CPU")
                 : code == u"cuda" ? tr("NVIDIA GPUs (CUDA)")
                                   : tr("Remote server");
        e.description = QString::fromStdString(info.description);
        e.available = info.available;
        e.unavailableReason = QString::fromStdString(info.unavailableReason);
        if (code == u"cuda")
            describeGpus(e);
        entries.append(e);
    }
    const engine::BackendInfo remote = describeBackend(BackendChoice::Kind::Remote);
    entries.append(BackendListModel::remoteServerEntries(m_settings->settings().remoteServers(),
                                                         remote.available,
                                                         QString::fromStdString(
                                                             remote.unavailableReason)));
    m_backends->reset(entries);
}

void ModelsController::describeGpus(BackendEntry &entry)
{
    if (!m_gpus) {
        entry.available = false;
        entry.unavailableReason = tr("Looking for NVIDIA GPUs…");
        if (!m_gpuQueryStarted) {
            m_gpuQueryStarted = true;
            QtConcurrent::run([] { return engine::listCudaDevices(); })
                .then(this, [this](const engine::GpuDeviceList &list) {
                    m_gpus = list;
                    refreshBackends();
                });
        }
        return;
    }
    // The devices are listed whenever the driver reports them, also when this build cannot use
    // them, so the user sees what the machine has.
    for (const engine::GpuDevice &d : m_gpus->devices) {
        QString line = tr("GPU %1: %2, %3 GiB, compute capability %4.%5")
                           .arg(d.index)
                           .arg(QString::fromStdString(d.name))
                           .arg(double(d.totalMemory) / double(1ull << 30), 0, 'f', 1)
                           .arg(d.computeMajor)
                           .arg(d.computeMinor);
        if (!d.supported)
            line += QStringLiteral(" — ")
                    + tr("not usable: %1")
                          .arg(d.note.empty() ? tr("unsupported compute capability")
                                              : QString::fromStdString(d.note));
        entry.devices.append(line);
    }
    if (!m_gpus->available) {
        // The engine's reason (no CUDA in this build, no driver, no device) comes first.
        entry.available = false;
        entry.unavailableReason = QString::fromStdString(m_gpus->unavailableReason);
    } else if (!m_gpus->driverVersion.empty()) {
        entry.description = tr("%1 (driver %2, CUDA runtime %3)")
                                .arg(entry.description,
                                     QString::fromStdString(m_gpus->driverVersion),
                                     QString::fromStdString(m_gpus->runtimeVersion));
    }
}

QVariantList ModelsController::models() const
{
    QVariantList list;
    const QString demoFolder = demo::defaultFolder();
    list.append(QVariantMap{{"path", demoFolder},
                            {"name", tr("Demo model (random weights)")},
                            {"kind", "demo"},
                            {"problem", QString()},
                            {"exists", demo::isDemoModel(demoFolder)}});
    for (const QString &folder : m_settings->modelFolders()) {
        list.append(QVariantMap{{"path", folder},
                                {"name", QFileInfo(folder).fileName()},
                                {"kind", "local"},
                                {"problem", validateModelFolder(folder)},
                                {"exists", true}});
    }
    return list;
}

QString ModelsController::currentName() const
{
    if (m_currentPath.isEmpty())
        return {};
    if (currentIsDemo())
        return tr("Demo model (random weights)");
    return QFileInfo(m_currentPath).fileName().isEmpty() ? m_currentPath
                                                         : QFileInfo(m_currentPath).fileName();
}

bool ModelsController::currentIsDemo() const
{
    return !m_currentPath.isEmpty() && demo::isDemoModel(m_currentPath);
}

int ModelsController::contextLimit() const
{
    const int configured = m_settings->contextLength();
    if (m_info.contextLength > 0)
        return std::min(m_info.contextLength, configured);
    if (m_configContext > 0)
        return std::min(m_configContext, configured);
    return configured;
}

QString ModelsController::modelId() const
{
    if (currentIsDemo())
        return QStringLiteral("demo-v4-tiny");
    return m_info.modelId.isEmpty() ? QFileInfo(m_currentPath).fileName() : m_info.modelId;
}

QString ModelsController::validateModelFolder(const QString &folder)
{
    const QDir dir(folder);
    if (folder.isEmpty() || !dir.exists())
        return tr("The folder %1 does not exist.").arg(folder);
    const QString config = dir.filePath(QStringLiteral("config.json"));
    if (!QFileInfo::exists(config))
        return tr("%1 has no config.json: this is not a model folder in the Hugging Face layout.")
            .arg(folder);
    if (engine::Result<engine::ModelConfig> c = engine::loadModelConfig(config.toStdString()); !c)
        return tr("The model configuration %1 is not usable: %2")
            .arg(config, QString::fromStdString(c.error().message));
    if (!QFileInfo::exists(dir.filePath(QStringLiteral("tokenizer.json"))))
        return tr("%1 has no tokenizer.json; copy it from the model's download.").arg(folder);
    const bool indexed = QFileInfo::exists(
        dir.filePath(QStringLiteral("model.safetensors.index.json")));
    const bool weights = !dir.entryList({QStringLiteral("*.safetensors")}, QDir::Files).isEmpty();
    if (!indexed && !weights)
        return tr("%1 has no weights (*.safetensors files).").arg(folder);
    return {};
}

QString ModelsController::addModelFolder(const QString &folderOrUrl)
{
    const QUrl url(folderOrUrl);
    const QString folder = url.isLocalFile() ? url.toLocalFile() : folderOrUrl;
    if (const QString problem = validateModelFolder(folder); !problem.isEmpty())
        return problem;
    m_settings->addModelFolder(folder);
    emit modelsChanged();
    return {};
}

void ModelsController::removeModelFolder(const QString &folder)
{
    m_settings->removeModelFolder(folder);
    emit modelsChanged();
}

void ModelsController::useDemoModel()
{
    const QString folder = demo::defaultFolder();
    if (demo::isDemoModel(folder)) {
        load(folder);
        return;
    }
    m_currentPath = folder;
    m_progress = 0;
    m_stage = tr("Creating the demo model");
    emit progressChanged();
    setState(QStringLiteral("preparing"));
    QFuture<Result<void>> future = QtConcurrent::run(
        [folder] { return demo::writeDemoModel(folder); });
    future.then(this, [this, folder](const Result<void> &r) {
        emit modelsChanged();
        if (!r) {
            const QString message = tr("Could not create the demo model: %1").arg(r.error().message);
            setState(QStringLiteral("failed"), message);
            emit errorOccurred(message);
            return;
        }
        load(folder);
    });
}

void ModelsController::load(const QString &folder)
{
    BackendChoice choice;
    choice.kind = BackendChoice::Kind::Cpu;
    const QString gpus = m_settings->gpus();
    // A machine with CUDA devices selected uses them; the CPU engine is the fallback.
    if (!gpus.isEmpty() && describeBackend(BackendChoice::Kind::Cuda).available) {
        choice.kind = BackendChoice::Kind::Cuda;
        for (const QString &g : gpus.split(u',', Qt::SkipEmptyParts))
            choice.devices.append(g.trimmed().toInt());
    }
    choice.modelPath = folder;
    choice.contextLength = m_settings->contextLength();
    m_configContext = 0;
    if (auto c = engine::loadModelConfig(
            QDir(folder).filePath(QStringLiteral("config.json")).toStdString()))
        m_configContext = int(std::min<int64_t>(c->maxPositionEmbeddings, 1 << 30));
    if (m_configContext > 0)
        choice.contextLength = std::min(choice.contextLength, m_configContext);
    choice.modelId = demo::isDemoModel(folder) ? QStringLiteral("demo-v4-tiny")
                                               : QFileInfo(folder).fileName();
    startLoad(choice, folder);
}

void ModelsController::loadRemote(const QString &url, const QString &modelId, const QString &apiKey)
{
    BackendChoice choice;
    choice.kind = BackendChoice::Kind::Remote;
    choice.remoteUrl = url;
    choice.remoteName = url;
    choice.modelId = modelId;
    choice.remoteApiKey = apiKey;
    m_configContext = 0;
    startLoad(choice, url);
    m_settings->settings().setValue(Settings::kRemoteUrl, url);
    m_settings->settings().setValue(Settings::kRemoteModel, modelId);
}

void ModelsController::loadRemoteServer(const QString &serverId)
{
    auto choice = m_settings->remoteChoice(serverId);
    if (!choice) {
        setState(QStringLiteral("failed"), choice.error().message);
        emit errorOccurred(choice.error().message);
        return;
    }
    m_configContext = 0;
    startLoad(*choice, choice->remoteName);
}

void ModelsController::startLoad(const BackendChoice &choice, const QString &displayPath)
{
    m_currentPath = displayPath;
    m_info = {};
    m_progress = 0;
    m_stage = tr("Starting");
    emit progressChanged();
    setState(QStringLiteral("loading"));
    if (choice.kind != BackendChoice::Kind::Remote) {
        m_settings->settings().setModelPath(displayPath);
        m_settings->settings().sync();
    }
    m_host->load(choice);
}

void ModelsController::cancelLoad()
{
    m_host->cancelLoad();
}

void ModelsController::unload()
{
    m_host->unload();
    m_info = {};
    setState(QStringLiteral("none"));
}

void ModelsController::loadDefault()
{
    const QString configured = m_settings->settings().modelPath();
    if (!configured.isEmpty() && QFileInfo::exists(configured)) {
        load(configured);
        return;
    }
    useDemoModel();
}

void ModelsController::setState(const QString &state, const QString &error)
{
    m_state = state;
    m_errorText = error;
    emit stateChanged();
}

} // namespace fathom::ui
