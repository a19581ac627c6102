#!/usr/bin/env bash
# Installs everything Fathom needs to build, test and run on Debian 12 (bookworm).
# Usage: scripts/install-deps.sh        (uses sudo when not run as root)
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config git ca-certificates
  # Qt 6.4
  qt6-base-dev qt6-base-dev-tools qt6-declarative-dev qt6-declarative-dev-tools qt6-tools-dev
  qt6-tools-dev-tools qt6-l10n-tools qt6-httpserver-dev qt6-websockets-dev qt6-svg-dev
  libqt6sql6-sqlite libqt6svg6 qt6-qpa-plugins
  qml6-module-qtquick qml6-module-qtquick-controls qml6-module-qtquick-layouts
  qml6-module-qtquick-window qml6-module-qtquick-templates qml6-module-qtqml-workerscript
  qml6-module-qtquick-dialogs qml6-module-qtcore qml6-module-qttest
  # libraries
  libpoppler-qt6-dev libpoppler-private-dev libspdlog-dev libsqlite3-dev libpcre2-dev nlohmann-json3-dev
  libcurl4-openssl-dev libzip-dev libtesseract-dev libleptonica-dev
  # OpenSSL's SHA-256 for the content hash of ingested documents (optional at configure time)
  libssl-dev
  # API keys in the OS keychain (optional at configure time: FATHOM_KEYCHAIN)
  qtkeychain-qt6-dev
  # runtime tools and data: OCR, pdftotext (benchmarks), CJK glyphs, offscreen/X test display
  tesseract-ocr tesseract-ocr-eng poppler-utils fonts-noto-cjk fonts-dejavu-core xvfb xauth
  # real PDFs nobody here wrote, for the document tests (libtasn1.pdf, bzip2's manual.pdf.gz)
  # and the ingestion benchmark (the 397-page valgrind_manual.pdf.gz), under /usr/share/doc
  libtasn1-doc bzip2-doc valgrind
)

# Node.js runs the tokenizer and OpenAI-client reference tests. Machines that already carry a
# Node.js (e.g. NodeSource's, which bundles npm and conflicts with Debian's npm package) keep it;
# only a machine without one gets Debian's.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  PACKAGES+=(nodejs npm)
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}"
