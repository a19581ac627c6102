// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "settingscontroller.h"

#include "app/core/paths.h"
#include "app/server/localserver.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QLocale>
#include <QTranslator>
#include <QUrl>

#include <algorithm>

namespace fathom::ui {

SettingsController::SettingsController(std::unique_ptr<Settings> settings, QObject *parent)
    : QObject(parent)
    , m_settings(std::move(settings))
    // Keys that fall back to a file go next to this settings file (a test's settings, a profile).
    , m_secrets(std::make_unique<SecretStore>(SecretStore::Backend::Auto,
                                              QFileInfo(m_settings->filePath())
                                                  .absoluteDir()
                                                  .filePath(QStringLiteral("secrets"))))
{}

SettingsController::~SettingsController() = default;

void SettingsController::write(const char *key, const QVariant &value)
{
    if (m_settings->value(key) == value)
        return;
    m_settings->setValue(key, value);
    m_settings->sync();
    emit changed();
}

QString SettingsController::dataFolder() const
{
    return m_settings->value(kDataDir).toString();
}

void SettingsController::setDataFolder(const QString &folder)
{
    write(kDataDir, folder);
}

QString SettingsController::activeDataFolder() const
{
    return paths::dataDir();
}

QStringList SettingsController::modelFolders() const
{
    return m_settings->value(kModelFolders).toStringList();
}

void SettingsController::setModelFolders(const QStringList &folders)
{
    write(kModelFolders, folders);
}

void SettingsController::addModelFolder(const QString &folder)
{
    QStringList folders = modelFolders();
    if (folder.isEmpty() || folders.contains(folder))
        return;
    folders.append(folder);
    setModelFolders(folders);
}

void SettingsController::removeModelFolder(const QString &folder)
{
    QStringList folders = modelFolders();
    if (folders.removeAll(folder) > 0)
        setModelFolders(folders);
}

QString SettingsController::localPath(const QUrl &url) const
{
    return url.isLocalFile() ? url.toLocalFile() : url.toString();
}

QString SettingsController::gpus() const
{
    return m_settings->value(kGpus).toString();
}

void SettingsController::setGpus(const QString &gpus)
{
    write(kGpus, gpus.trimmed());
}

int SettingsController::contextLength() const
{
    return m_settings->contextLength();
}

void SettingsController::setContextLength(int value)
{
    write(Settings::kContextLength, std::clamp(value, 512, 1048576));
}

double SettingsController::temperature() const
{
    return m_settings->temperature();
}

void SettingsController::setTemperature(double value)
{
    write(Settings::kTemperature, std::clamp(value, 0.0, 2.0));
}

double SettingsController::topP() const
{
    return m_settings->topP();
}

void SettingsController::setTopP(double value)
{
    write(Settings::kTopP, std::clamp(value, 0.0, 1.0));
}

int SettingsController::topK() const
{
    return m_settings->contains(kTopK) ? m_settings->value(kTopK).toInt() : 0;
}

void SettingsController::setTopK(int value)
{
    write(kTopK, std::max(0, value));
}

double SettingsController::minP() const
{
    return m_settings->contains(kMinP) ? m_settings->value(kMinP).toDouble() : 0.0;
}

void SettingsController::setMinP(double value)
{
    write(kMinP, std::clamp(value, 0.0, 1.0));
}

int SettingsController::maxTokens() const
{
    return m_settings->maxTokens();
}

void SettingsController::setMaxTokens(int value)
{
    write(Settings::kMaxTokens, std::clamp(value, 1, 393216));
}

QString SettingsController::reasoning() const
{
    return m_settings->value(Settings::kReasoning).toString();
}

void SettingsController::setReasoning(const QString &value)
{
    if (value == u"off" || value == u"high" || value == u"max")
        write(Settings::kReasoning, value);
}

QString SettingsController::theme() const
{
    return m_settings->value(Settings::kTheme).toString();
}

void SettingsController::setTheme(const QString &value)
{
    if (value == u"system" || value == u"light" || value == u"dark")
        write(Settings::kTheme, value);
}

QString SettingsController::language() const
{
    return m_settings->value(Settings::kLanguage).toString();
}

void SettingsController::setLanguage(const QString &value)
{
    if (value == language())
        return;
    write(Settings::kLanguage, value);
    if (m_engine)
        applyLanguage(m_engine);
    emit languageChanged();
}

int SettingsController::fontSize() const
{
    return m_settings->contains(kFontSize) ? m_settings->value(kFontSize).toInt() : 14;
}

void SettingsController::setFontSize(int value)
{
    write(kFontSize, std::clamp(value, 9, 28));
}

QVariantList SettingsController::languages() const
{
    // Names in their own language, so a user can find theirs whatever the UI shows now.
    QVariantList list;
    list.append(QVariantMap{{"code", QString()}, {"name", tr("System language")}});
    const QList<QPair<QString, QString>> langs = {{"en", "English"},
                                                  {"zh_CN", QStringLiteral("简体中文")},
                                                  {"de", "Deutsch"},
                                                  {"fr", QStringLiteral("Français")},
                                                  {"es", QStringLiteral("Español")},
                                                  {"ja", QStringLiteral("日本語")}};
    for (const auto &[code, name] : langs)
        list.append(QVariantMap{{"code", code}, {"name", name}});
    return list;
}

bool SettingsController::installTranslator(QTranslator *translator, const QString &language)
{
    if (language == u"en")
        return false;
    if (language.isEmpty())
        return translator->load(QLocale(),
                                QStringLiteral("fathom"),
                                QStringLiteral("_"),
                                QStringLiteral(":/i18n"));
    return translator->load(QStringLiteral("fathom_") + language, QStringLiteral(":/i18n"));
}

void SettingsController::applyLanguage(QQmlEngine *engine)
{
    m_engine = engine;
    if (m_translator) {
        QCoreApplication::removeTranslator(m_translator);
        delete m_translator;
        m_translator = nullptr;
    }
    auto *translator = new QTranslator(this);
    if (installTranslator(translator, language())) {
        QCoreApplication::installTranslator(translator);
        m_translator = translator;
    } else {
        delete translator;
    }
    if (engine)
        engine->retranslate();
}

QVariantList SettingsController::remoteServers() const
{
    QVariantList list;
    for (const RemoteServerSettings &r : m_settings->remoteServers()) {
        list.append(QVariantMap{{QStringLiteral("id"), r.id},
                                {QStringLiteral("name"), r.name.isEmpty() ? r.baseUrl : r.name},
                                {QStringLiteral("baseUrl"), r.baseUrl},
                                {QStringLiteral("caBundle"), r.caBundle},
                                {QStringLiteral("proxy"), r.proxy},
                                {QStringLiteral("model"), r.model},
                                {QStringLiteral("hasKey"), !r.keyRef.isEmpty()}});
    }
    return list;
}

QString SettingsController::saveRemoteServer(const QVariantMap &server,
                                             const QString &apiKey,
                                             bool clearKey)
{
    QList<RemoteServerSettings> servers = m_settings->remoteServers();
    RemoteServerSettings r;
    r.id = server.value(QStringLiteral("id")).toString();
    auto it = std::find_if(servers.begin(), servers.end(), [&](const RemoteServerSettings &x) {
        return !r.id.isEmpty() && x.id == r.id;
    });
    if (it != servers.end())
        r = *it;
    else
        r.id = SecretStore::newReference(QStringLiteral("r")).remove(QLatin1Char('/'));
    r.name = server.value(QStringLiteral("name")).toString().trimmed();
    r.baseUrl = server.value(QStringLiteral("baseUrl")).toString().trimmed();
    r.caBundle = server.value(QStringLiteral("caBundle")).toString().trimmed();
    r.proxy = server.value(QStringLiteral("proxy")).toString().trimmed();
    r.model = server.value(QStringLiteral("model")).toString().trimmed();
    const QUrl url(r.baseUrl);
    if (!url.isValid() || (url.scheme() != u"http" && url.scheme() != u"https")
        || url.host().isEmpty()) {
        emit errorOccurred(tr("\"%1\" is not a server address (for example "
                              "https://api.deepseek.com or http://gpu01:8000/v1).")
                               .arg(r.baseUrl));
        return {};
    }
    if (!apiKey.isEmpty()) {
        const QString ref = QStringLiteral("remote/") + r.id;
        if (auto w = m_secrets->write(ref, apiKey); !w) {
            emit errorOccurred(tr("The API key was not saved: %1").arg(w.error().message));
            return {};
        }
        r.keyRef = ref;
    } else if (clearKey && !r.keyRef.isEmpty()) {
        if (auto removed = m_secrets->remove(r.keyRef); !removed)
            emit errorOccurred(removed.error().message);
        r.keyRef.clear();
    }
    if (it != servers.end())
        *it = r;
    else
        servers.append(r);
    m_settings->setRemoteServers(servers);
    syncOrReport();
    emit remoteServersChanged();
    return r.id;
}

void SettingsController::removeRemoteServer(const QString &id)
{
    QList<RemoteServerSettings> servers = m_settings->remoteServers();
    const auto removed = std::remove_if(servers.begin(), servers.end(), [&](const auto &r) {
        if (r.id != id)
            return false;
        if (!r.keyRef.isEmpty()) {
            if (auto gone = m_secrets->remove(r.keyRef); !gone)
                emit errorOccurred(gone.error().message);
        }
        return true;
    });
    if (removed == servers.end())
        return;
    servers.erase(removed, servers.end());
    m_settings->setRemoteServers(servers);
    syncOrReport();
    emit remoteServersChanged();
}

Result<BackendChoice> SettingsController::remoteChoice(const QString &id) const
{
    for (const RemoteServerSettings &r : m_settings->remoteServers()) {
        if (r.id != id)
            continue;
        BackendChoice choice;
        choice.kind = BackendChoice::Kind::Remote;
        choice.remoteName = r.name.isEmpty() ? r.baseUrl : r.name;
        choice.remoteUrl = r.baseUrl;
        choice.remoteCaBundle = r.caBundle;
        choice.remoteProxy = r.proxy;
        choice.modelId = r.model;
        if (!r.keyRef.isEmpty()) {
            FATHOM_TRY_ASSIGN(std::optional<QString> key, m_secrets->read(r.keyRef));
            if (!key)
                return fail(Error::Kind::Unavailable,
                            tr("The API key of %1 is missing from the keychain; enter it again "
                               "in Settings.")
                                .arg(choice.remoteName));
            choice.remoteApiKey = *key;
        }
        return choice;
    }
    return fail(Error::Kind::InvalidArgument, tr("No remote server with id %1.").arg(id));
}

void SettingsController::syncOrReport()
{
    if (auto r = m_settings->sync(); !r)
        emit errorOccurred(r.error().message);
}

bool SettingsController::serverEnabled() const
{
    return m_settings->serverEnabled();
}

void SettingsController::setServerEnabled(bool on)
{
    writeServer(Settings::kServerEnabled, on);
}

QString SettingsController::serverAddress() const
{
    return m_settings->serverAddress();
}

void SettingsController::setServerAddress(const QString &address)
{
    writeServer(Settings::kServerAddress, address.trimmed());
}

int SettingsController::serverPort() const
{
    return m_settings->serverPort();
}

void SettingsController::setServerPort(int port)
{
    writeServer(Settings::kServerPort, port);
}

int SettingsController::serverMaxConcurrent() const
{
    return m_settings->serverMaxConcurrent();
}

void SettingsController::setServerMaxConcurrent(int n)
{
    writeServer(Settings::kServerMaxConcurrent, std::max(1, n));
}

bool SettingsController::serverHasKey() const
{
    return !m_settings->serverKeyRef().isEmpty();
}

bool SettingsController::serverRunning() const
{
    return m_server && m_server->isRunning();
}

void SettingsController::setServerApiKey(const QString &key)
{
    const QString ref = QStringLiteral("server");
    if (key.isEmpty()) {
        if (auto removed = m_secrets->remove(ref); !removed)
            emit errorOccurred(removed.error().message);
        m_settings->remove(Settings::kServerKeyRef);
    } else {
        if (auto w = m_secrets->write(ref, key); !w) {
            emit errorOccurred(tr("The API key was not saved: %1").arg(w.error().message));
            return;
        }
        m_settings->setValue(Settings::kServerKeyRef, ref);
    }
    syncOrReport();
    applyServer();
}

void SettingsController::writeServer(const char *key, const QVariant &value)
{
    if (m_settings->value(key) == value)
        return;
    m_settings->setValue(key, value);
    syncOrReport();
    applyServer();
}

void SettingsController::attachServer(server::LocalServer *server)
{
    m_server = server;
    connect(server, &server::LocalServer::runningChanged, this, &SettingsController::serverChanged);
    applyServer();
}

void SettingsController::applyServer()
{
    if (m_server) {
        m_server->stop();
        m_serverStatus.clear();
        if (serverEnabled()) {
            server::LocalServerOptions o;
            o.address = serverAddress();
            o.port = serverPort();
            o.maxConcurrent = serverMaxConcurrent();
            if (const QString ref = m_settings->serverKeyRef(); !ref.isEmpty()) {
                auto key = m_secrets->read(ref);
                if (key && *key)
                    o.apiKey = **key;
            }
            if (auto started = m_server->start(o)) {
                m_serverStatus = tr("Serving on %1").arg(m_server->url());
            } else {
                m_serverStatus = started.error().message;
                emit errorOccurred(tr("The API server did not start: %1").arg(m_serverStatus));
            }
        }
    }
    emit serverChanged();
}

} // namespace fathom::ui
