#!/usr/bin/env python3
"""Proof that `petal export --format onnx` gives the same answers as Petal.

For a Petal model and some photos: exports the model to ONNX (NCHW float input, and with
--with-preprocessing the uint8 NHWC input) at each --opset, runs onnx.checker (full_check) on
each file, runs ONNX Runtime (CPUExecutionProvider) on the photos and compares with
`petal predict --json` on the same photos:
  float models: the same top-1 class for every image, every probability within 1e-4;
  int8 QDQ exports (--int8): the same top-1 class for at least 99% of the images.

Both sides see the same pixels: each photo is decoded (EXIF orientation applied), resized to
the model's input size with Pillow and saved as PNG; Petal and this script then read those
PNGs, which are already at the input size, so neither resizes and PNG decoding is exact.

Requirements (pinned in .ci/install-onnxruntime.sh): onnx, onnxruntime, numpy, Pillow.
Usage:
  scripts/check_onnx.py [--petal PATH] [--opset 17 ...] [--onnx FILE ...] MODEL IMAGE_OR_FOLDER...
Exit status 0 when every file agrees, 1 when any does not, 2 on bad usage.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from PIL import Image, ImageOps

FLOAT_TOLERANCE = 1e-4
INT8_TOP1_AGREEMENT = 0.99
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def find_petal(explicit):
    if explicit:
        return explicit
    on_path = shutil.which("petal")
    if on_path:
        return on_path
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for config in ("release", "debug"):
        candidate = os.path.join(root, ".build", config, "petal")
        if os.path.exists(candidate):
            return candidate
    sys.exit("check_onnx: no petal binary: pass --petal PATH or build it (swift build -c release)")


def image_files(arguments):
    files = []
    for argument in arguments:
        if os.path.isdir(argument):
            for folder, _, names in sorted(os.walk(argument)):
                files += [os.path.join(folder, n) for n in sorted(names) if n.lower().endswith(IMAGE_SUFFIXES)]
        else:
            files.append(argument)
    return files


def run(command):
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"check_onnx: {' '.join(command)} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout


def prepared_images(photos, size, folder):
    """The photos at size x size as PNG files, and their pixels [N, size, size, 3] uint8."""
    os.makedirs(folder, exist_ok=True)
    paths, pixels = [], []
    for k, photo in enumerate(photos):
        with Image.open(photo) as image:
            rgb = ImageOps.exif_transpose(image).convert("RGB").resize((size, size), Image.BILINEAR)
        path = os.path.join(folder, f"{k:04d}.png")
        rgb.save(path)
        with Image.open(path) as saved:
            pixels.append(np.asarray(saved.convert("RGB"), dtype=np.uint8))
        paths.append(path)
    return paths, np.stack(pixels)


def petal_probabilities(petal, model, paths, classes):
    """`petal predict --json` with every class listed: the probabilities [N, K]."""
    out = run([petal, "predict", model, *paths, "--json", "--top", str(classes)])
    rows = np.zeros((len(paths), classes), dtype=np.float64)
    for i, prediction in enumerate(json.loads(out)):
        if prediction.get("error"):
            sys.exit(f"check_onnx: petal predict failed on {paths[i]}: {prediction['error']}")
        for score in prediction["top"]:
            rows[i, score["index"]] = score["probability"]
    return rows


def onnx_probabilities(path, pixels, metadata):
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    feed = session.get_inputs()[0]
    if feed.type == "tensor(uint8)":
        batch = pixels
    else:
        norm = json.loads(metadata["normalization"])
        # Petal's own arithmetic, in float32: pixel * scale + offset.
        batch = pixels.astype(np.float32) * np.float32(norm["scale"]) + np.float32(norm["offset"])
        batch = np.ascontiguousarray(batch.transpose(0, 3, 1, 2))
    everything = session.run(["probabilities"], {feed.name: batch})[0]
    alone = session.run(["probabilities"], {feed.name: batch[:1]})[0]  # the dynamic batch at 1
    return everything.astype(np.float64), alone.astype(np.float64), feed.type


def check_file(path, petal, model, photos, work, int8, reference_cache):
    model_proto = onnx.load(path)
    onnx.checker.check_model(model_proto, full_check=True)
    if model_proto.producer_name != "petal":
        return False, f"{path}: producer_name is {model_proto.producer_name!r}, not 'petal'"
    metadata = {p.key: p.value for p in model_proto.metadata_props}
    size = int(metadata["input_size"])
    classes = len(json.loads(metadata["class_names"]))
    if size not in reference_cache:
        paths, pixels = prepared_images(photos, size, os.path.join(work, f"images-{size}"))
        reference_cache[size] = (pixels, petal_probabilities(petal, model, paths, classes))
    pixels, expected = reference_cache[size]
    got, alone, input_type = onnx_probabilities(path, pixels, metadata)
    opset = model_proto.opset_import[0].version
    same_top1 = int(np.sum(np.argmax(got, axis=1) == np.argmax(expected, axis=1)))
    difference = float(np.max(np.abs(got - expected)))
    batch_one = float(np.max(np.abs(alone[0] - got[0])))
    summary = (f"{os.path.basename(path)} (opset {opset}, input {input_type}): {len(photos)} images, "
               f"top-1 equal {same_top1}/{len(photos)}, max |p_onnx - p_petal| = {difference:.2e}, "
               f"batch 1 vs {len(photos)}: {batch_one:.2e}")
    if int8:
        ok = same_top1 >= INT8_TOP1_AGREEMENT * len(photos)
    else:
        ok = same_top1 == len(photos) and difference <= FLOAT_TOLERANCE and batch_one <= FLOAT_TOLERANCE
    return ok, summary


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a Petal model file or run folder")
    parser.add_argument("images", nargs="+", help="photos, or folders of photos")
    parser.add_argument("--petal", help="the petal binary (default: on PATH, else .build/release or debug)")
    parser.add_argument("--opset", type=int, action="append", help="opsets to export (repeatable; default 17)")
    parser.add_argument("--onnx", action="append", help="check these ONNX files instead of exporting")
    # int8: the exports of a `petal quantize` model (QDQ) against that model's own predictions.
    parser.add_argument("--int8", action="store_true", help=f"int8 QDQ criteria: top-1 agreement >= {INT8_TOP1_AGREEMENT:.0%}")
    parser.add_argument("--keep", help="write the exports and images here (default: a temporary folder)")
    args = parser.parse_args()

    petal = find_petal(args.petal)
    photos = image_files(args.images)
    if not photos:
        parser.error("no images found")
    work = args.keep or tempfile.mkdtemp(prefix="check-onnx-")
    os.makedirs(work, exist_ok=True)
    try:
        files = args.onnx or []
        if not files:
            for opset in args.opset or [17]:
                for preprocessing in (False, True):
                    out = os.path.join(work, f"model-opset{opset}{'-preprocessing' if preprocessing else ''}.onnx")
                    run([petal, "export", args.model, "--format", "onnx", "--out", out, "--opset", str(opset)]
                        + (["--with-preprocessing"] if preprocessing else []))
                    files.append(out)
        failures = 0
        cache = {}
        for path in files:
            ok, summary = check_file(path, petal, args.model, photos, work, args.int8, cache)
            print(("OK    " if ok else "FAIL  ") + summary)
            failures += 0 if ok else 1
        print(f"check_onnx: {len(files) - failures} of {len(files)} ONNX files agree with petal predict "
              f"(onnx {onnx.__version__}, onnxruntime {ort.__version__})")
        return 1 if failures else 0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
