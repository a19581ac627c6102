// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#include "searchstore.h"

#include <algorithm>

namespace fathom::storage {

namespace {

bool hasWordCharacter(const QString &text)
{
    return std::any_of(text.begin(), text.end(), [](QChar c) { return c.isLetterOrNumber(); });
}

QString quoted(const QString &term)
{
    QString escaped = term;
    escaped.replace(QLatin1Char('"'), QStringLiteral("\"\""));
    return QLatin1Char('"') + escaped + QLatin1Char('"');
}

} // namespace

QString SearchStore::toFtsQuery(const QString &userQuery)
{
    // Words and "phrases" become FTS5 strings (so operators and punctuation in the input are
    // just text); all must match. The last bare word matches as a prefix, for search-as-you-type.
    QStringList terms;
    bool lastIsBareWord = false;
    QString current;
    bool inPhrase = false;
    const auto flush = [&](bool phrase) {
        const QString t = current.trimmed();
        current.clear();
        if (!hasWordCharacter(t))
            return;
        terms << quoted(t);
        lastIsBareWord = !phrase;
    };
    for (const QChar c : userQuery) {
        if (c == QLatin1Char('"')) {
            flush(inPhrase);
            inPhrase = !inPhrase;
        } else if (!inPhrase && c.isSpace()) {
            flush(false);
        } else {
            current += c;
        }
    }
    flush(inPhrase);
    if (terms.isEmpty())
        return QString();
    if (lastIsBareWord)
        terms.last() += QLatin1Char('*');
    return terms.join(QLatin1Char(' '));
}

Result<QList<SearchHit>> SearchStore::search(const QString &userQuery, const SearchOptions &options)
{
    const QString match = toFtsQuery(userQuery);
    if (match.isEmpty() || options.limit <= 0)
        return QList<SearchHit>();
    QList<SearchHit> hits;
    if (options.messages && !options.documentId.isValid()) {
        FATHOM_TRY_ASSIGN(QList<SearchHit> messages, searchMessages(match, options));
        hits += messages;
    }
    if (options.pages && !options.conversationId.isValid()) {
        FATHOM_TRY_ASSIGN(QList<SearchHit> pages, searchPages(match, options));
        hits += pages;
    }
    std::stable_sort(hits.begin(), hits.end(), [](const SearchHit &a, const SearchHit &b) {
        return a.rank < b.rank;
    });
    if (hits.size() > options.limit)
        hits.resize(options.limit);
    return hits;
}

Result<QList<SearchHit>> SearchStore::searchMessages(const QString &match,
                                                     const SearchOptions &options)
{
    QString sql = QStringLiteral(
        "SELECT m.id, m.conversation_id, c.title, m.role, snippet(messages_fts, -1, :open, "
        ":close, :ellipsis, :tokens), messages_fts.rank FROM messages_fts JOIN messages m ON m.id "
        "= messages_fts.rowid JOIN conversations c ON c.id = m.conversation_id WHERE messages_fts "
        "MATCH :match");
    if (options.conversationId.isValid())
        sql += QStringLiteral(" AND m.conversation_id = :conversation");
    sql += QStringLiteral(" ORDER BY messages_fts.rank LIMIT :limit");
    FATHOM_TRY_ASSIGN(QSqlQuery q, m_db.prepare(sql));
    q.bindValue(QStringLiteral(":open"), options.highlightOpen);
    q.bindValue(QStringLiteral(":close"), options.highlightClose);
    q.bindValue(QStringLiteral(":ellipsis"), options.ellipsis);
    q.bindValue(QStringLiteral(":tokens"), std::clamp(options.snippetTokens, 1, 64));
    q.bindValue(QStringLiteral(":match"), match);
    if (options.conversationId.isValid())
        q.bindValue(QStringLiteral(":conversation"), options.conversationId.value);
    q.bindValue(QStringLiteral(":limit"), options.limit);
    FATHOM_TRY(m_db.exec(q, tr("searching messages")));
    QList<SearchHit> hits;
    while (q.next()) {
        SearchHit h;
        h.kind = SearchHit::Kind::Message;
        h.messageId = MessageId(q.value(0).toLongLong());
        h.conversationId = ConversationId(q.value(1).toLongLong());
        h.conversationTitle = q.value(2).toString();
        h.role = static_cast<Role>(q.value(3).toInt());
        h.snippet = q.value(4).toString();
        h.rank = q.value(5).toDouble();
        hits << h;
    }
    return hits;
}

Result<QList<SearchHit>> SearchStore::searchPages(const QString &match, const SearchOptions &options)
{
    QString sql = QStringLiteral(
        "SELECT p.document_id, d.name, p.page_number, snippet(pages_fts, 0, :open, :close, "
        ":ellipsis, :tokens), pages_fts.rank FROM pages_fts JOIN document_pages p ON p.id = "
        "pages_fts.rowid JOIN documents d ON d.id = p.document_id WHERE pages_fts MATCH :match");
    if (options.documentId.isValid())
        sql += QStringLiteral(" AND p.document_id = :document");
    sql += QStringLiteral(" ORDER BY pages_fts.rank LIMIT :limit");
    FATHOM_TRY_ASSIGN(QSqlQuery q, m_db.prepare(sql));
    q.bindValue(QStringLiteral(":open"), options.highlightOpen);
    q.bindValue(QStringLiteral(":close"), options.highlightClose);
    q.bindValue(QStringLiteral(":ellipsis"), options.ellipsis);
    q.bindValue(QStringLiteral(":tokens"), std::clamp(options.snippetTokens, 1, 64));
    q.bindValue(QStringLiteral(":match"), match);
    if (options.documentId.isValid())
        q.bindValue(QStringLiteral(":document"), options.documentId.value);
    q.bindValue(QStringLiteral(":limit"), options.limit);
    FATHOM_TRY(m_db.exec(q, tr("searching documents")));
    QList<SearchHit> hits;
    while (q.next()) {
        SearchHit h;
        h.kind = SearchHit::Kind::Page;
        h.documentId = DocumentId(q.value(0).toLongLong());
        h.documentName = q.value(1).toString();
        h.pageNumber = q.value(2).toInt();
        h.snippet = q.value(3).toString();
        h.rank = q.value(4).toDouble();
        hits << h;
    }
    return hits;
}

} // namespace fathom::storage
