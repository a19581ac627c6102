// Copyright (C) 2026 Fathom contributors
// SPDX-License-Identifier: MIT

// The desktop window starts (real storage, real controllers, no model) without a single QML
// warning, and renders its main screens offscreen in light and dark theme and in Chinese. The
// screenshots are written to <build>/tests/ui/screenshots/ for inspection.

#include "uitestsupport.h"

#include "app/core/settings.h"
#include "ui/controllers/appcontroller.h"
#include "ui/controllers/chatcontroller.h"
#include "ui/controllers/conversationscontroller.h"
#include "ui/controllers/settingscontroller.h"
#include "ui/render/pdfpageprovider.h"

#include <QDir>
#include <QElapsedTimer>
#include <QQmlApplicationEngine>
#include <QQuickStyle>
#include <QQuickWindow>
#include <QSignalSpy>
#include <QTest>
#include <QtQml/qqmlextensionplugin.h>

Q_IMPORT_QML_PLUGIN(FathomPlugin)

using namespace fathom;

class tst_Startup : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void startsWithoutQmlWarnings();
    void screenshots_data();
    void screenshots();

private:
    struct Session
    {
        QTemporaryDir dir;
        std::unique_ptr<ui::AppController> app;
        std::unique_ptr<QQmlApplicationEngine> engine;
        QQuickWindow *window = nullptr;
    };
    bool startSession(Session &s,
                      const QString &theme,
                      const QString &language,
                      bool seed,
                      bool chineseData = false);
    static double meanLightness(const QImage &image);
    QString m_outDir;
};

void tst_Startup::initTestCase()
{
    QQuickWindow::setGraphicsApi(QSGRendererInterface::Software);
    QQuickStyle::setStyle(QStringLiteral("Fusion"));
    QCoreApplication::setOrganizationName(QStringLiteral("FathomTest"));
    QCoreApplication::setApplicationName(QStringLiteral("FathomTest"));
    m_outDir = QStringLiteral(FATHOM_BINARY_DIR "/tests/ui/screenshots");
    QVERIFY(QDir().mkpath(m_outDir));
}

bool tst_Startup::startSession(
    Session &s, const QString &theme, const QString &language, bool seed, bool chineseData)
{
    if (!s.dir.isValid())
        return false;
    qputenv("FATHOM_DATA_DIR", s.dir.path().toLocal8Bit());
    const QString db = s.dir.filePath(QStringLiteral("fathom.db"));
    if (seed) {
        QString error;
        test::SeedOptions options;
        options.chinese = chineseData;
        if (!test::seedDatabase(db, options, &error)) {
            qWarning("seeding failed: %s", qPrintable(error));
            return false;
        }
    }
    const QString ini = s.dir.filePath(QStringLiteral("fathom.ini"));
    {
        Settings settings(ini);
        settings.setValue(Settings::kTheme, theme);
        settings.setValue(Settings::kLanguage, language);
        settings.sync();
    }
    ui::AppController::Options options;
    options.databasePath = db;
    options.settingsPath = ini;
    options.loadModelOnStart = false;
    s.app = std::make_unique<ui::AppController>(options);
    s.engine = std::make_unique<QQmlApplicationEngine>();
    s.engine->addImportPath(QStringLiteral("qrc:/qt/qml"));
    s.engine->addImageProvider(QStringLiteral("pdfpage"), new ui::PdfPageProvider);
    s.app->attachEngine(s.engine.get());
    s.engine->setInitialProperties({{QStringLiteral("app"), QVariant::fromValue(s.app.get())}});
    s.engine->load(QUrl(QStringLiteral("qrc:/qt/qml/Fathom/qml/Main.qml")));
    if (s.engine->rootObjects().isEmpty())
        return false;
    s.window = qobject_cast<QQuickWindow *>(s.engine->rootObjects().constFirst());
    s.app->start();
    return s.window != nullptr;
}

double tst_Startup::meanLightness(const QImage &image)
{
    const QImage img = image.convertToFormat(QImage::Format_RGB32).scaled(64, 64);
    double sum = 0;
    for (int y = 0; y < img.height(); ++y)
        for (int x = 0; x < img.width(); ++x)
            sum += QColor(img.pixel(x, y)).lightness();
    return sum / (img.width() * img.height());
}

void tst_Startup::startsWithoutQmlWarnings()
{
    test::QmlWarningCatcher catcher;
    Session s;
    QElapsedTimer clock;
    clock.start();
    QVERIFY(startSession(s, QStringLiteral("light"), QStringLiteral("en"), false));
    QSignalSpy frames(s.window, &QQuickWindow::frameSwapped);
    QTRY_VERIFY(frames.count() > 0);
    qInfo("first frame after %lld ms", clock.elapsed());
    QTRY_VERIFY(s.app->ready());
    // Exercise the dialogs and the new-chat path too: their bindings evaluate only when shown.
    for (const char *name : {"settingsDialog", "modelsDialog", "helpSheet"}) {
        QObject *dialog = s.window->findChild<QObject *>(QLatin1String(name));
        QVERIFY2(dialog, name);
        QVERIFY(QMetaObject::invokeMethod(dialog, "open"));
        QTest::qWait(100);
        QVERIFY(QMetaObject::invokeMethod(dialog, "close"));
    }
    QTest::qWait(200);
    const QStringList warnings = catcher.warnings();
    QVERIFY2(warnings.isEmpty(), qPrintable(warnings.join(QLatin1Char('\n'))));
}

void tst_Startup::screenshots_data()
{
    QTest::addColumn<QString>("theme");
    QTest::addColumn<QString>("language");
    QTest::newRow("light") << QStringLiteral("light") << QStringLiteral("en");
    QTest::newRow("dark") << QStringLiteral("dark") << QStringLiteral("en");
    QTest::newRow("chinese") << QStringLiteral("light") << QStringLiteral("zh_CN");
}

void tst_Startup::screenshots()
{
    QFETCH(QString, theme);
    QFETCH(QString, language);
    test::QmlWarningCatcher catcher;
    Session s;
    QVERIFY(startSession(s, theme, language, true, language == u"zh_CN"));
    QTRY_VERIFY(s.app->ready());
    QTRY_COMPARE(s.app->conversations()->model()->rowCount(), 3);
    if (language == u"zh_CN") {
        // The translation is compiled in and active: a QML string comes back in Chinese.
        QCOMPARE(QCoreApplication::translate("Sidebar", "New chat"), QStringLiteral("新对话"));
    }
    // Opens the newest unpinned conversation (the one with branches and a reasoning block).
    const qint64 id = s.app->conversations()->model()->idAt(1);
    s.app->conversations()->select(id);
    QTRY_VERIFY(s.app->chat()->messages()->rowCount() >= 2);
    QTest::qWait(400);

    const QString tag = QString::fromLatin1(QTest::currentDataTag());
    auto shoot = [&](const QString &screen) {
        const QImage image = s.window->grabWindow();
        QVERIFY(!image.isNull());
        QCOMPARE(image.size(), s.window->size() * s.window->devicePixelRatio());
        const QString path = m_outDir + QStringLiteral("/%1-%2.png").arg(tag, screen);
        QVERIFY(image.save(path));
        const double light = meanLightness(image);
        if (theme == u"dark")
            QVERIFY2(light < 110,
                     qPrintable(QStringLiteral("%1: mean lightness %2").arg(path).arg(light)));
        else
            QVERIFY2(light > 150,
                     qPrintable(QStringLiteral("%1: mean lightness %2").arg(path).arg(light)));
    };
    shoot(QStringLiteral("chat"));
    for (const char *name : {"settingsDialog", "modelsDialog", "helpSheet"}) {
        QObject *dialog = s.window->findChild<QObject *>(QLatin1String(name));
        QVERIFY(dialog);
        QVERIFY(QMetaObject::invokeMethod(dialog, "open"));
        QTest::qWait(300);
        shoot(QString::fromLatin1(name));
        QVERIFY(QMetaObject::invokeMethod(dialog, "close"));
        QTest::qWait(100);
    }
    const QStringList warnings = catcher.warnings();
    QVERIFY2(warnings.isEmpty(), qPrintable(warnings.join(QLatin1Char('\n'))));
}

QTEST_MAIN(tst_Startup)
#include "tst_startup.moc"
