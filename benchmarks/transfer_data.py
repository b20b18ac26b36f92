"""What keras_transfer.py and torch_transfer.py share: the recipe options, a Petal run's split, decoded once.

numpy and Pillow only, so that both interpreters (pyenv's with TensorFlow, Debian's with PyTorch)
can import it.
"""
import json
import os
import sys
import time


def add_recipe_arguments(p):
    """The options both twins take from train_compare.sh: the split and Petal's recipe."""
    p.add_argument("--split", required=True, help="split.json of a Petal run")
    p.add_argument("--image-size", type=int, default=160)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs-fe", type=int, default=2)
    p.add_argument("--epochs-ft", type=int, default=2)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--augment", default="standard", choices=["standard", "none"])
    p.add_argument("--bn-statistics", default="frozen", choices=["frozen", "trained"],
                   help="phase 2: trainable batch norms on their moving statistics (frozen, Petal's default) "
                        "or on the batch's, updating the moving ones (trained, --train-bn-statistics)")
    p.add_argument("--seed", type=int, default=42)


def load_split(path):
    """(class names, train, validation, test) from a Petal run's split.json; each list holds
    (absolute path, label) pairs, the label being the index of the file's class folder."""
    with open(path) as f:
        s = json.load(f)
    root = s["root"]
    if root.startswith("file://"):
        root = root[len("file://"):]
    names = s["classNames"]
    index = {n: i for i, n in enumerate(names)}

    def files(key):
        # The first path component is the class folder, which gives the label.
        return [(os.path.join(root, rel), index[rel.split("/")[0]]) for rel in s[key]]

    return names, files("train"), files("validation"), files("test")


def decode_all(files, size):
    """Decodes every file once to SxS RGB uint8 NHWC (upright, stretched, no crop, PIL bilinear =
    antialiased triangle filter), as Petal's ImageCache; labels as int64."""
    import numpy as np
    from PIL import Image, ImageOps

    x = np.empty((len(files), size, size, 3), dtype=np.uint8)
    y = np.empty((len(files),), dtype=np.int64)
    for i, (path, label) in enumerate(files):
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im).convert("RGB")
            x[i] = np.asarray(im.resize((size, size), Image.BILINEAR), dtype=np.uint8)
        y[i] = label
    return x, y


def decode_split(path, size):
    """Every file of a Petal run's split.json decoded at SxS: (class names, (x, y) for train,
    validation and test, seconds spent decoding); reports the counts on stderr."""
    names, train, validation, test = load_split(path)
    start = time.time()
    decoded = [decode_all(files, size) for files in (train, validation, test)]
    seconds = time.time() - start
    print(f"Data: {len(train)} train, {len(validation)} validation, {len(test)} test images in "
          f"{len(names)} classes, decoded at {size}x{size} in {seconds:.1f} s", file=sys.stderr, flush=True)
    return names, decoded[0], decoded[1], decoded[2], seconds
