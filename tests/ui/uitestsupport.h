// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT
#pragma once

/*
  Shared by the UI tests: a temporary data folder (FATHOM_DATA_DIR, so neither the user's
  database nor settings are touched), a database seeded through the real stores, a message
  handler that records QML warnings, and the QML engine set-up of the desktop app.
*/

#include "app/storage/conversationstore.h"
#include "app/storage/database.h"
#include "app/storage/messagestore.h"

#include <QDir>
#include <QMutex>
#include <QQmlApplicationEngine>
#include <QStringList>
#include <QTemporaryDir>

namespace fathom::test {

// Records warnings and errors from QML ("qml", "js", "qt.qml.*" categories, or text naming a
// .qml file) so a test can fail on any of them.
class QmlWarningCatcher
{
public:
    QmlWarningCatcher();
    ~QmlWarningCatcher();
    QStringList warnings() const;
    void clear();

private:
    static void handler(QtMsgType type, const QMessageLogContext &context, const QString &text);
    static QmlWarningCatcher *s_instance;
    QtMessageHandler m_previous = nullptr;
    mutable QMutex m_mutex;
    QStringList m_warnings;
};

struct SeedOptions
{
    int conversations = 3;
    int messagesPerConversation = 4;
    bool chinese = false;
};

// Writes conversations with Markdown answers (headings, lists, a table, code) into `dbPath`.
bool seedDatabase(const QString &dbPath, const SeedOptions &options, QString *error = nullptr);

} // namespace fathom::test
