// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT

// Start-up to first frame with a database of 1,000 conversations and 100,000 messages
// (issue 7's goal: under 1 s). Seeds a temporary database through the real stores, then times
// AppController + QML load + first frame, and the conversation list being filled.
// Usage: bench_ui_startup [conversations=1000] [messagesPerConversation=100]

#include "app/storage/conversationstore.h"
#include "app/storage/database.h"
#include "app/storage/messagestore.h"
#include "ui/controllers/appcontroller.h"
#include "ui/controllers/conversationscontroller.h"
#include "ui/render/pdfpageprovider.h"

#include <QElapsedTimer>
#include <QGuiApplication>
#include <QQmlApplicationEngine>
#include <QQuickStyle>
#include <QQuickWindow>
#include <QTemporaryDir>
#include <QtQml/qqmlextensionplugin.h>

Q_IMPORT_QML_PLUGIN(FathomPlugin)

using namespace fathom;

int main(int argc, char *argv[])
{
    qputenv("QT_QPA_PLATFORM",
            qgetenv("QT_QPA_PLATFORM").isEmpty() ? "offscreen" : qgetenv("QT_QPA_PLATFORM"));
    QGuiApplication app(argc, argv);
    const int conversations = argc > 1 ? atoi(argv[1]) : 1000;
    const int perConversation = argc > 2 ? atoi(argv[2]) : 100;
    QTemporaryDir dir;
    qputenv("FATHOM_DATA_DIR", dir.path().toLocal8Bit());
    const QString dbPath = dir.filePath(QStringLiteral("fathom.db"));

    QElapsedTimer seedClock;
    seedClock.start();
    {
        auto db = storage::Database::open(dbPath);
        if (!db) {
            fprintf(stderr, "%s\n", qPrintable(db.error().message));
            return 1;
        }
        storage::ConversationStore cs(**db);
        storage::MessageStore ms(**db);
        const QString answer = QStringLiteral(
            "## Answer\n\nSome **Markdown** with a list:\n\n- one\n- two\n\n"
            "```cpp\nint main() { return 0; }\n```\n");
        for (int c = 0; c < conversations; ++c) {
            storage::Transaction tx(**db);
            storage::NewConversation nc;
            nc.title = QStringLiteral("Conversation %1 about quarterly figures").arg(c);
            auto id = cs.create(nc);
            MessageId parent;
            for (int m = 0; m < perConversation; ++m) {
                storage::NewMessage nm;
                nm.role = m % 2 ? storage::Role::Assistant : storage::Role::User;
                nm.content = m % 2 ? answer
                                   : QStringLiteral("Question %1 about the report?").arg(m);
                parent = *ms.append(*id, parent, nm);
            }
            if (auto r = tx.commit(); !r) {
                fprintf(stderr, "%s\n", qPrintable(r.error().message));
                return 1;
            }
        }
    }
    const qint64 seedMs = seedClock.elapsed();

    QQuickWindow::setGraphicsApi(QSGRendererInterface::Software);
    QQuickStyle::setStyle(QStringLiteral("Fusion"));
    QElapsedTimer clock;
    clock.start();
    ui::AppController::Options options;
    options.databasePath = dbPath;
    options.settingsPath = dir.filePath(QStringLiteral("fathom.ini"));
    options.loadModelOnStart = false;
    ui::AppController controller(options);
    QQmlApplicationEngine engine;
    engine.addImportPath(QStringLiteral("qrc:/qt/qml"));
    engine.addImageProvider(QStringLiteral("pdfpage"), new ui::PdfPageProvider);
    controller.attachEngine(&engine);
    engine.setInitialProperties({{QStringLiteral("app"), QVariant::fromValue(&controller)}});
    engine.load(QUrl(QStringLiteral("qrc:/qt/qml/Fathom/qml/Main.qml")));
    auto *window = qobject_cast<QQuickWindow *>(engine.rootObjects().value(0));
    if (!window)
        return 1;
    controller.start();
    qint64 firstFrame = -1, listFilled = -1, listFrame = -1;
    QObject::connect(window, &QQuickWindow::frameSwapped, [&] {
        if (firstFrame < 0)
            firstFrame = clock.elapsed();
        if (listFilled >= 0 && listFrame < 0)
            listFrame = clock.elapsed();
    });
    QObject::connect(controller.conversations(), &ui::ConversationsController::loaded, [&] {
        listFilled = clock.elapsed();
        window->requestUpdate();
    });
    while ((firstFrame < 0 || listFrame < 0) && clock.elapsed() < 60000)
        QCoreApplication::processEvents(QEventLoop::AllEvents, 5);

    printf("UI start-up, %d conversations / %d messages (seeded in %lld ms), offscreen software "
           "renderer\n",
           conversations,
           conversations * perConversation,
           seedMs);
    printf("| measure | ms | goal (issue 7) | verdict |\n|---|---:|---:|---|\n");
    printf("| first frame | %lld | 1000 | %s |\n",
           firstFrame,
           firstFrame >= 0 && firstFrame < 1000 ? "met" : "MISSED");
    printf("| conversation list loaded | %lld | — | |\n", listFilled);
    printf("| first frame showing the list | %lld | 1000 | %s |\n",
           listFrame,
           listFrame >= 0 && listFrame < 1000 ? "met" : "MISSED");
    controller.shutdown();
    return 0;
}
