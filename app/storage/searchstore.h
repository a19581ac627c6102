// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

#include "database.h"
#include "records.h"

#include <QCoreApplication>

namespace fathom::storage {

/**
  Full-text search (FTS5) over message text and document pages, best hits first, with snippets
  and page numbers. The query is what a user types: words (all must match, the last one as a
  prefix) and "quoted phrases"; it is never passed to FTS5 as syntax, so no input is an error.

  Synchronous, on the Database's thread; borrows the Database.
*/
class SearchStore
{
    Q_DECLARE_TR_FUNCTIONS(SearchStore)

public:
    explicit SearchStore(Database &db)
        : m_db(db)
    {}

    Result<QList<SearchHit>> search(const QString &userQuery, const SearchOptions &options = {});

    // The FTS5 MATCH expression for a user query (empty when it has no words). Public for tests.
    static QString toFtsQuery(const QString &userQuery);

private:
    Result<QList<SearchHit>> searchMessages(const QString &match, const SearchOptions &options);
    Result<QList<SearchHit>> searchPages(const QString &match, const SearchOptions &options);

    Database &m_db;
};

} // namespace fathom::storage
