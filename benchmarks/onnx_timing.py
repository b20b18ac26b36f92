#!/usr/bin/env python3
"""ONNX Runtime's side of benchmarks/onnx_compare.sh.

  onnx_timing.py prepare FLOWERS OUT --size 224 --count N
      N flowers photos (sorted paths) at size x size as PNG in OUT: both Petal and ONNX Runtime
      then read images already at the input size (no resize on either side).
  onnx_timing.py time MODEL.onnx PNG_FOLDER --batch B [--repeat 3]
      images/s of ONNX Runtime (CPUExecutionProvider, default threads: all cores) over the PNGs,
      B at a time, best of --repeat; counted two ways: the same work as `petal predict`
      (decode the PNG, normalise, run) and session.run alone (arrays ready). One JSON line.
  onnx_timing.py accuracy MODEL.onnx RUN_FOLDER
      top-1 accuracy of the ONNX model on the run's test split (split.json), photos decoded and
      resized with Pillow (bilinear), in batches of 32. One JSON line.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from check_onnx import normalization  # noqa: E402  (the one reading of metadata_props' normalisation)


def prepare(args):
    from PIL import Image, ImageOps
    photos = sorted(os.path.join(d, n) for d, _, names in os.walk(args.flowers) for n in names
                    if n.lower().endswith((".jpg", ".jpeg", ".png")))[: args.count]
    os.makedirs(args.out, exist_ok=True)
    for k, photo in enumerate(photos):
        with Image.open(photo) as image:
            rgb = ImageOps.exif_transpose(image).convert("RGB").resize((args.size, args.size), Image.BILINEAR)
        rgb.save(os.path.join(args.out, f"{k:04d}.png"))
    print(len(photos))


def timing(args):
    import onnx
    import onnxruntime as ort
    from PIL import Image
    metadata = {p.key: p.value for p in onnx.load(args.model, load_external_data=False).metadata_props}
    scale, offset = normalization(metadata)
    session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    files = sorted(os.path.join(args.folder, n) for n in os.listdir(args.folder) if n.endswith(".png"))

    def load(paths):
        pixels = np.stack([np.asarray(Image.open(p).convert("RGB"), dtype=np.uint8) for p in paths])
        return np.ascontiguousarray((pixels.astype(np.float32) * scale + offset).transpose(0, 3, 1, 2))

    batches = [files[i:i + args.batch] for i in range(0, len(files), args.batch)]
    session.run(None, {name: load(batches[0])})  # warm-up: allocations, kernel choice
    ready = [load(b) for b in batches]
    best_total, best_run = float("inf"), float("inf")
    for _ in range(args.repeat):
        start = time.perf_counter()
        for b in batches:
            session.run(None, {name: load(b)})
        best_total = min(best_total, time.perf_counter() - start)
        start = time.perf_counter()
        for x in ready:
            session.run(None, {name: x})
        best_run = min(best_run, time.perf_counter() - start)
    print(json.dumps({"images": len(files), "batch": args.batch, "images_per_s": len(files) / best_total,
                      "run_only_images_per_s": len(files) / best_run, "onnxruntime": ort.__version__,
                      "threads": os.cpu_count()}))


def accuracy(args):
    import onnx
    import onnxruntime as ort
    from PIL import Image, ImageOps
    with open(os.path.join(args.run, "split.json")) as f:
        split = json.load(f)
    metadata = {p.key: p.value for p in onnx.load(args.model, load_external_data=False).metadata_props}
    size = int(metadata["input_size"])
    scale, offset = normalization(metadata)
    session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    files = split["test"]
    labels = np.array([split["classNames"].index(f.split("/")[0]) for f in files])
    predicted = []
    for i in range(0, len(files), 32):
        pixels = []
        for f in files[i:i + 32]:
            with Image.open(os.path.join(split["root"], f)) as image:
                rgb = ImageOps.exif_transpose(image).convert("RGB").resize((size, size), Image.BILINEAR)
            pixels.append(np.asarray(rgb, dtype=np.uint8))
        x = np.stack(pixels).astype(np.float32) * scale + offset
        predicted += list(np.argmax(session.run(None, {name: np.ascontiguousarray(x.transpose(0, 3, 1, 2))})[0], axis=1))
    print(json.dumps({"images": len(files), "accuracy": float(np.mean(np.array(predicted) == labels))}))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("prepare")
    p.add_argument("flowers")
    p.add_argument("out")
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--count", type=int, default=256)
    t = commands.add_parser("time")
    t.add_argument("model")
    t.add_argument("folder")
    t.add_argument("--batch", type=int, default=1)
    t.add_argument("--repeat", type=int, default=3)
    a = commands.add_parser("accuracy")
    a.add_argument("model")
    a.add_argument("run")
    args = parser.parse_args()
    {"prepare": prepare, "time": timing, "accuracy": accuracy}[args.command](args)


if __name__ == "__main__":
    main()
