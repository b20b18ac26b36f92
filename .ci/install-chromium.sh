#!/usr/bin/env bash
# Installs Debian's Chromium for the headless render test of report.html
# (Tests/PetalEvaluationTests/ChromiumRenderTests), unless a chromium is already there.
# Without it that test skips; CI installs it so the page is really drawn and checked.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    echo "chromium already installed: $(chromium --version 2>/dev/null || echo unknown version)"
    exit 0
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium
echo "installed $(chromium --version)"
