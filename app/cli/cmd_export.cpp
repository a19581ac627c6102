// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// fathom-cli export --db PATH --conversation ID --format md|json [--output FILE]
//   Prints (or writes) a conversation as Markdown or as JSON with every branch
//   (format "fathom.conversation", see app/storage/conversationexporter.h).
// fathom-cli import --db PATH FILE
//   Imports such a JSON file as a new conversation; prints {"conversation_id":N}.
// fathom-cli backup --db PATH --output FILE
//   Copies the whole database with SQLite's online backup API (safe while the app runs).
// Exit status 0 on success, 1 on failure, 2 on a usage error.

#include "commands.h"

#include "app/storage/conversationexporter.h"
#include "app/storage/database.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QFile>
#include <QFileInfo>
#include <QSaveFile>

#include <cstdio>
#include <memory>

namespace fathom::cli {

using namespace fathom::storage;

namespace {

QString tr(const char *text)
{
    return QCoreApplication::translate("fathom-cli", text);
}

int failure(const char *command, const QString &message)
{
    std::fprintf(stderr, "fathom-cli %s: %s\n", command, qPrintable(message));
    return 1;
}

// Opens an existing database (never creates one by accident).
std::unique_ptr<Database> openExisting(const char *command, const QString &path, int *status)
{
    if (!QFileInfo::exists(path)) {
        *status = failure(command,
                          QCoreApplication::translate("fathom-cli", "No database at %1").arg(path));
        return nullptr;
    }
    auto db = Database::open(path);
    if (!db) {
        *status = failure(command, db.error().message);
        return nullptr;
    }
    return std::move(*db);
}

bool parse(QCommandLineParser &parser,
           const char *command,
           const QStringList &arguments,
           int *status)
{
    parser.addHelpOption();
    if (!parser.parse(QStringList{QStringLiteral("fathom-cli ") + QLatin1String(command)}
                      + arguments)) {
        *status = usageError(command, parser.errorText());
        return false;
    }
    if (parser.isSet(QStringLiteral("help"))) {
        std::printf("%s", qPrintable(parser.helpText()));
        *status = 0;
        return false;
    }
    return true;
}

} // namespace

int runExport(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(tr("Export a conversation as Markdown or JSON."));
    const QCommandLineOption dbOption(QStringLiteral("db"),
                                      tr("The database."),
                                      QStringLiteral("PATH"));
    const QCommandLineOption idOption(QStringLiteral("conversation"),
                                      tr("Conversation id."),
                                      QStringLiteral("ID"));
    const QCommandLineOption formatOption(QStringLiteral("format"),
                                          tr("md or json."),
                                          QStringLiteral("FORMAT"),
                                          QStringLiteral("md"));
    const QCommandLineOption outputOption(QStringLiteral("output"),
                                          tr("Write to FILE instead of stdout."),
                                          QStringLiteral("FILE"));
    parser.addOptions({dbOption, idOption, formatOption, outputOption});
    int status = 0;
    if (!parse(parser, "export", arguments, &status))
        return status;
    if (!parser.isSet(dbOption) || !parser.isSet(idOption))
        return usageError("export", tr("--db PATH and --conversation ID are required"));
    bool ok = false;
    const ConversationId id(parser.value(idOption).toLongLong(&ok));
    if (!ok || !id.isValid())
        return usageError("export", tr("--conversation needs a conversation id"));
    const QString format = parser.value(formatOption);
    if (format != QLatin1String("md") && format != QLatin1String("json"))
        return usageError("export", tr("--format must be md or json"));

    std::unique_ptr<Database> db = openExisting("export", parser.value(dbOption), &status);
    if (!db)
        return status;
    QByteArray bytes;
    if (format == QLatin1String("md")) {
        auto md = ConversationExporter::toMarkdown(*db, id);
        if (!md)
            return failure("export", md.error().message);
        bytes = md->toUtf8();
    } else {
        auto json = ConversationExporter::toJson(*db, id);
        if (!json)
            return failure("export", json.error().message);
        bytes = *json;
    }
    if (!parser.isSet(outputOption)) {
        std::fwrite(bytes.constData(), 1, size_t(bytes.size()), stdout);
        return std::fflush(stdout) == 0 ? 0 : 1;
    }
    QSaveFile file(parser.value(outputOption));
    if (!file.open(QIODevice::WriteOnly) || file.write(bytes) != bytes.size() || !file.commit())
        return failure("export", tr("Cannot write %1: %2").arg(file.fileName(), file.errorString()));
    return 0;
}

int runImport(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(tr("Import a conversation exported as JSON."));
    const QCommandLineOption dbOption(QStringLiteral("db"),
                                      tr("The database."),
                                      QStringLiteral("PATH"));
    parser.addOption(dbOption);
    parser.addPositionalArgument(QStringLiteral("file"), tr("The JSON export."));
    int status = 0;
    if (!parse(parser, "import", arguments, &status))
        return status;
    if (!parser.isSet(dbOption) || parser.positionalArguments().size() != 1)
        return usageError("import", tr("usage: import --db PATH FILE"));
    QFile file(parser.positionalArguments().constFirst());
    if (!file.open(QIODevice::ReadOnly))
        return failure("import", tr("Cannot read %1: %2").arg(file.fileName(), file.errorString()));
    const QByteArray json = file.readAll();
    // Importing into a new database is fine: the file is created.
    auto db = Database::open(parser.value(dbOption));
    if (!db)
        return failure("import", db.error().message);
    auto id = ConversationExporter::importJson(**db, json);
    if (!id)
        return failure("import", tr("%1: %2").arg(file.fileName(), id.error().message));
    std::printf("{\"conversation_id\":%lld}\n", static_cast<long long>(id->value));
    return 0;
}

int runBackup(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(tr("Back up the whole database (online backup)."));
    const QCommandLineOption dbOption(QStringLiteral("db"),
                                      tr("The database."),
                                      QStringLiteral("PATH"));
    const QCommandLineOption outputOption(QStringLiteral("output"),
                                          tr("The copy to write."),
                                          QStringLiteral("FILE"));
    parser.addOptions({dbOption, outputOption});
    int status = 0;
    if (!parse(parser, "backup", arguments, &status))
        return status;
    if (!parser.isSet(dbOption) || !parser.isSet(outputOption))
        return usageError("backup", tr("--db PATH and --output FILE are required"));
    std::unique_ptr<Database> db = openExisting("backup", parser.value(dbOption), &status);
    if (!db)
        return status;
    if (auto r = db->backupTo(parser.value(outputOption)); !r)
        return failure("backup", r.error().message);
    return 0;
}

} // namespace fathom::cli
