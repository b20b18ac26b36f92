#!/usr/bin/env bash
# Installs Debian's Chromium and its WebDriver (chromedriver) for the headless browser tests:
# the render test of report.html (Tests/PetalEvaluationTests/ChromiumRenderTests) and the upload
# page of petal serve (Tests/PetalServeTests/UploadPageBrowserTests), unless they are already
# there. Without them those tests skip; CI installs them so the pages are really drawn and checked.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    echo "chromium already installed: $(chromium --version 2>/dev/null || echo unknown version); $(chromedriver --version 2>/dev/null | head -n 1)"
    exit 0
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium chromium-driver
echo "installed $(chromium --version); $(chromedriver --version | head -n 1)"
