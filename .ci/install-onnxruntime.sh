#!/usr/bin/env bash
# Installs the Python packages of scripts/check_onnx.py (the proof that `petal export` runs the
# same in ONNX Runtime) into the user's python3 with pip, at pinned versions: onnx (whose
# onnx.proto Sources/PetalExport/Generated/onnx.pb.swift was generated from), onnxruntime, numpy,
# Pillow. Without them Tests/PetalExportTests/ONNXRuntimeAgreementTests skip; CI installs them.
# Petal itself never needs Python.
set -euo pipefail
PACKAGES=(onnx==1.23.2 onnxruntime==1.32.0 numpy==2.4.6 pillow==12.0.0)
if python3 -c 'import onnx, onnxruntime, numpy, PIL, sys
sys.exit(0 if (onnx.__version__, onnxruntime.__version__) == ("1.23.2", "1.32.0") else 1)' 2>/dev/null; then
    echo "onnx and onnxruntime already installed: $(python3 -c 'import onnx, onnxruntime; print(onnx.__version__, onnxruntime.__version__)')"
    exit 0
fi
if ! python3 -m pip --version >/dev/null 2>&1; then
    SUDO=""
    if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq python3-pip
fi
# Debian's python3 refuses user installs into its own tree without --break-system-packages.
python3 -m pip install --quiet --disable-pip-version-check "${PACKAGES[@]}" \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "${PACKAGES[@]}"
echo "installed: $(python3 -c 'import onnx, onnxruntime, numpy, PIL; print("onnx", onnx.__version__, "onnxruntime", onnxruntime.__version__, "numpy", numpy.__version__, "Pillow", PIL.__version__)')"
