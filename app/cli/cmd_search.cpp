// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
// fathom-cli search --db PATH [--json] [--limit N] [--documents|--messages] [--document ID] QUERY
// Full-text search over document pages and messages, best hits first. With --json, prints one
// JSON array on one line:
//   [{"kind":"page","document_id":N,"document":"name","page":N,"snippet":"…","rank":R},
//    {"kind":"message","conversation_id":N,"conversation":"title","message_id":N,
//     "role":"user"|"assistant"|…,"snippet":"…","rank":R}, …]
// Matches in snippets are wrapped in « ». rank is FTS5 bm25 (lower is better).
// Exit status 0 (also with no hits), 1 when the database cannot be read, 2 on a usage error.

#include "commands.h"

#include "app/storage/database.h"
#include "app/storage/searchstore.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <cstdio>

namespace fathom::cli {

using namespace fathom::storage;

int runSearch(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(
        QCoreApplication::translate("fathom-cli", "Full-text search over documents and messages."));
    parser.addHelpOption();
    const QCommandLineOption dbOption(QStringLiteral("db"),
                                      QCoreApplication::translate("fathom-cli", "The database."),
                                      QStringLiteral("PATH"));
    const QCommandLineOption jsonOption(QStringLiteral("json"),
                                        QCoreApplication::translate("fathom-cli", "Print JSON."));
    const QCommandLineOption limitOption(QStringLiteral("limit"),
                                         QCoreApplication::translate("fathom-cli",
                                                                     "At most N hits (20)."),
                                         QStringLiteral("N"),
                                         QStringLiteral("20"));
    const QCommandLineOption documentsOption(QStringLiteral("documents"),
                                             QCoreApplication::translate("fathom-cli",
                                                                         "Only documents."));
    const QCommandLineOption messagesOption(QStringLiteral("messages"),
                                            QCoreApplication::translate("fathom-cli",
                                                                        "Only messages."));
    const QCommandLineOption documentOption(QStringLiteral("document"),
                                            QCoreApplication::translate("fathom-cli",
                                                                        "Only this document."),
                                            QStringLiteral("ID"));
    parser.addOptions(
        {dbOption, jsonOption, limitOption, documentsOption, messagesOption, documentOption});
    parser.addPositionalArgument(QStringLiteral("query"),
                                 QCoreApplication::translate("fathom-cli", "Words or \"phrases\"."));
    if (!parser.parse(QStringList{QStringLiteral("fathom-cli search")} + arguments))
        return usageError("search", parser.errorText());
    if (parser.isSet(QStringLiteral("help"))) {
        std::printf("%s", qPrintable(parser.helpText()));
        return 0;
    }
    if (!parser.isSet(dbOption))
        return usageError("search",
                          QCoreApplication::translate("fathom-cli", "--db PATH is required"));
    const QString query = parser.positionalArguments().join(QLatin1Char(' '));
    if (query.trimmed().isEmpty())
        return usageError("search", QCoreApplication::translate("fathom-cli", "no query"));
    bool ok = false;
    SearchOptions options;
    options.limit = parser.value(limitOption).toInt(&ok);
    if (!ok || options.limit < 1)
        return usageError("search",
                          QCoreApplication::translate("fathom-cli",
                                                      "--limit needs a positive number"));
    options.pages = !parser.isSet(messagesOption);
    options.messages = !parser.isSet(documentsOption);
    if (parser.isSet(documentOption)) {
        options.documentId = DocumentId(parser.value(documentOption).toLongLong(&ok));
        if (!ok)
            return usageError("search",
                              QCoreApplication::translate("fathom-cli",
                                                          "--document needs a number"));
    }

    const QString path = parser.value(dbOption);
    if (!QFileInfo::exists(path)) {
        std::fprintf(stderr,
                     "fathom-cli search: %s\n",
                     qPrintable(
                         QCoreApplication::translate("fathom-cli", "No database at %1").arg(path)));
        return 1;
    }
    auto db = Database::open(path);
    if (!db) {
        std::fprintf(stderr, "fathom-cli search: %s\n", qPrintable(db.error().message));
        return 1;
    }
    auto hits = SearchStore(**db).search(query, options);
    if (!hits) {
        std::fprintf(stderr, "fathom-cli search: %s\n", qPrintable(hits.error().message));
        return 1;
    }
    if (parser.isSet(jsonOption)) {
        QJsonArray list;
        for (const SearchHit &h : *hits) {
            if (h.kind == SearchHit::Kind::Page)
                list.append(QJsonObject{{QStringLiteral("kind"), QStringLiteral("page")},
                                        {QStringLiteral("document_id"), h.documentId.value},
                                        {QStringLiteral("document"), h.documentName},
                                        {QStringLiteral("page"), h.pageNumber},
                                        {QStringLiteral("snippet"), h.snippet},
                                        {QStringLiteral("rank"), h.rank}});
            else
                list.append(QJsonObject{{QStringLiteral("kind"), QStringLiteral("message")},
                                        {QStringLiteral("conversation_id"), h.conversationId.value},
                                        {QStringLiteral("conversation"), h.conversationTitle},
                                        {QStringLiteral("message_id"), h.messageId.value},
                                        {QStringLiteral("role"), roleName(h.role)},
                                        {QStringLiteral("snippet"), h.snippet},
                                        {QStringLiteral("rank"), h.rank}});
        }
        std::printf("%s\n", QJsonDocument(list).toJson(QJsonDocument::Compact).constData());
        return 0;
    }
    for (const SearchHit &h : *hits) {
        const QString where = h.kind == SearchHit::Kind::Page
                                  ? QCoreApplication::translate("fathom-cli", "%1, page %2")
                                        .arg(h.documentName)
                                        .arg(h.pageNumber)
                                  : QCoreApplication::translate("fathom-cli", "%1, message %2")
                                        .arg(h.conversationTitle)
                                        .arg(h.messageId.value);
        std::printf("%s: %s\n", qPrintable(where), qPrintable(h.snippet.simplified()));
    }
    return 0;
}

} // namespace fathom::cli
