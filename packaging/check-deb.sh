#!/bin/sh
# Copyright (C) 2026 Fathom contributors
# SPDX-License-Identifier: MIT
# Builds the .deb from a complete build (cpack -G DEB) and checks it: the files a user needs are
# in it, its Depends name the runtime pieces no linker sees (CJK font, QML modules, Tesseract
# data) and the shared libraries' packages, and the unpacked fathom-cli finds its worker in
# ../libexec/fathom and ingests a file. Usage: check-deb.sh CPACK BUILD_DIR
set -eu
cpack=$1
build=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if ! "$cpack" --config "$build/CPackConfig.cmake" -G DEB -B "$out" >"$out/cpack.log" 2>&1; then
    cat "$out/cpack.log"
    echo "FAIL: cpack -G DEB"
    exit 1
fi
deb=$(ls "$out"/fathom_*.deb)
status=0
contents=$(dpkg-deb -c "$deb")
for f in ./usr/bin/fathom ./usr/bin/fathom-cli ./usr/libexec/fathom/fathom-ingest-worker \
    ./usr/share/applications/fathom.desktop ./usr/share/icons/hicolor/scalable/apps/fathom.svg \
    ./usr/share/icons/hicolor/256x256/apps/fathom.png ./usr/share/doc/fathom/copyright; do
    if ! printf '%s\n' "$contents" | grep -q " $f\$"; then
        echo "FAIL: $f is not in $(basename "$deb")"
        status=1
    fi
done
depends=$(dpkg-deb -f "$deb" Depends)
for d in fonts-noto-cjk tesseract-ocr-eng qml6-module-qtquick-controls qml6-module-qtquick-dialogs \
    libqt6sql6-sqlite libqt6core6 libpoppler-qt6 libtesseract5 libsqlite3; do
    if ! printf '%s\n' "$depends" | grep -q "$d"; then
        echo "FAIL: Depends lacks $d: $depends"
        status=1
    fi
done
dpkg-deb -x "$deb" "$out/root"
printf 'alpha\nbeta\n' >"$out/note.txt"
line=$(FATHOM_DATA_DIR="$out/data" FATHOM_CONFIG_DIR="$out/config" \
    "$out/root/usr/bin/fathom-cli" ingest --db "$out/t.db" "$out/note.txt" 2>"$out/ingest.log") || true
case $line in
*'"status":"ok"'*) ;;
*)
    echo "FAIL: the packaged fathom-cli could not ingest a file: $line"
    cat "$out/ingest.log"
    status=1
    ;;
esac
if [ $status = 0 ]; then
    echo "$(basename "$deb"): $(printf '%s\n' "$contents" | wc -l) entries, checks passed"
fi
exit $status
