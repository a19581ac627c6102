// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT

// The desktop app's composition root: settings, logging, the controllers and the QML window.

#include "app/core/logging.h"
#include "app/core/paths.h"
#include "app/core/settings.h"
#include "ui/controllers/appcontroller.h"
#include "ui/controllers/settingscontroller.h"
#include "ui/render/pdfpageprovider.h"

#include <QCommandLineParser>
#include <QDir>
#include <QGuiApplication>
#include <QIcon>
#include <QQmlApplicationEngine>
#include <QQuickStyle>
#include <QtQml/qqmlextensionplugin.h>

Q_IMPORT_QML_PLUGIN(FathomPlugin)

int main(int argc, char *argv[])
{
    QGuiApplication app(argc, argv);
    QCoreApplication::setOrganizationName(QStringLiteral("Fathom"));
    QCoreApplication::setApplicationName(QStringLiteral("Fathom"));
    QCoreApplication::setApplicationVersion(QStringLiteral(FATHOM_VERSION));
    QGuiApplication::setApplicationDisplayName(QStringLiteral("Fathom"));
    QGuiApplication::setDesktopFileName(QStringLiteral("fathom"));

    QCommandLineParser parser;
    parser.setApplicationDescription(
        QCoreApplication::translate("main",
                                    "On-prem chat and long-document analysis with DeepSeek V4"));
    parser.addHelpOption();
    parser.addVersionOption();
    QCommandLineOption dataDir(QStringLiteral("data-dir"),
                               QCoreApplication::translate("main",
                                                           "Use <folder> as the data folder."),
                               QStringLiteral("folder"));
    parser.addOption(dataDir);
    parser.process(app);

    // The data folder chosen in Settings applies from the next start; the command line and
    // FATHOM_DATA_DIR win over it.
    if (parser.isSet(dataDir)) {
        qputenv("FATHOM_DATA_DIR", QDir(parser.value(dataDir)).absolutePath().toLocal8Bit());
    } else if (qEnvironmentVariableIsEmpty("FATHOM_DATA_DIR")) {
        const QString chosen
            = fathom::Settings().value(fathom::ui::SettingsController::kDataDir).toString();
        if (!chosen.isEmpty())
            qputenv("FATHOM_DATA_DIR", chosen.toLocal8Bit());
    }

    fathom::LoggingOptions logging;
    logging.logDir = fathom::paths::logDir();
    logging.level = fathom::Settings().logLevel();
    if (fathom::Result<void> r = fathom::initLogging(logging); !r)
        qWarning("%s", qPrintable(r.error().message));

    QQuickStyle::setStyle(QStringLiteral("Fusion"));

    int status = 0;
    {
        fathom::ui::AppController controller;
        QQmlApplicationEngine engine;
        engine.addImportPath(QStringLiteral("qrc:/qt/qml"));
        engine.addImageProvider(QStringLiteral("pdfpage"), new fathom::ui::PdfPageProvider);
        controller.attachEngine(&engine);
        engine.setInitialProperties({{QStringLiteral("app"), QVariant::fromValue(&controller)}});
        engine.load(QUrl(QStringLiteral("qrc:/qt/qml/Fathom/qml/Main.qml")));
        if (engine.rootObjects().isEmpty())
            return 1;
        controller.start();
        status = QGuiApplication::exec();
        // Closing the window while an answer streams: stop it, keep its text, then exit.
        controller.shutdown();
    }
    fathom::shutdownLogging();
    return status;
}
