// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT

// Qt Quick Test runner for tests/ui/qml: every test gets `app`, a real AppController over a
// temporary data folder (no model loaded), as a context property.

#include "ui/controllers/appcontroller.h"
#include "ui/render/pdfpageprovider.h"

#include <QQmlContext>
#include <QQmlEngine>
#include <QQuickStyle>
#include <QTemporaryDir>
#include <QtQml/qqmlextensionplugin.h>
#include <QtQuickTest>

Q_IMPORT_QML_PLUGIN(FathomPlugin)

class Setup : public QObject
{
    Q_OBJECT

public slots:
    void applicationAvailable()
    {
        QQuickStyle::setStyle(QStringLiteral("Fusion"));
        QCoreApplication::setOrganizationName(QStringLiteral("FathomTest"));
        QCoreApplication::setApplicationName(QStringLiteral("FathomTest"));
        qputenv("FATHOM_DATA_DIR", m_dir.path().toLocal8Bit());
    }
    void qmlEngineAvailable(QQmlEngine *engine)
    {
        engine->addImportPath(QStringLiteral("qrc:/qt/qml"));
        engine->addImageProvider(QStringLiteral("pdfpage"), new fathom::ui::PdfPageProvider);
        fathom::ui::AppController::Options options;
        options.databasePath = m_dir.filePath(QStringLiteral("fathom.db"));
        options.settingsPath = m_dir.filePath(QStringLiteral("fathom.ini"));
        options.loadModelOnStart = false;
        m_app = std::make_unique<fathom::ui::AppController>(options);
        m_app->start();
        engine->rootContext()->setContextProperty(QStringLiteral("app"), m_app.get());
    }
    void cleanupTestCase() { m_app.reset(); }

private:
    QTemporaryDir m_dir;
    std::unique_ptr<fathom::ui::AppController> m_app;
};

QUICK_TEST_MAIN_WITH_SETUP(fathom_ui, Setup)
#include "tst_qml.moc"
