#!/usr/bin/env python3
"""Make examples/: a small, redistributable sample of the flowers for the README's quick start.

    python3 scripts/make_examples.py --flowers ../shared/data/flowers \
        --licence-list flower_photos/LICENSE.txt

examples/flowers/<species>/  60 photos per species (a stratified random sample, seed 1234)
examples/photos/             one more photo per species that the sample does not contain (a 500-px Flickr
                             original), and a cat
examples/ATTRIBUTION.txt     photographer, licence and URL of each photo (kept outside the two folders, so
                             that `petal data inspect` and `petal predict examples/photos/*` see only images)

The shared flowers are the Kaggle "Flowers Recognition" photos; most of them are also in TensorFlow's
flower_photos archive (http://download.tensorflow.org/example_images/flower_photos.tgz), whose
LICENSE.txt names the photographer, the Flickr page and the Creative Commons licence of each photo.
Only photos listed there as CC BY (not BY-SA) are candidates, so that every committed photo carries
its attribution. Deterministic: the same inputs give the same files; the folders are rebuilt whole.
Python's standard library only.
"""
import argparse
import os
import random
import re
import shutil
import sys

SPECIES = ["daisy", "dandelion", "rose", "sunflower", "tulip"]
PER_SPECIES = 60
SEED = 1234
# TensorFlow's archive names the folders in the plural.
TF_FOLDER = {"daisy": "daisy", "dandelion": "dandelion", "rose": "roses", "sunflower": "sunflowers", "tulip": "tulips"}
# The non-flower photo: scikit-image's data.chelsea() (CC0), already a test fixture.
CAT = "Tests/Fixtures/backbones/images/chelsea.jpg"
CAT_CREDIT = ("photos/cat.jpg  not a flower: Chelsea the cat, scikit-image's skimage.data.chelsea() "
              "(\"No copyright restrictions. CC0 by the photographer (Stefan van der Walt).\"), center-cropped "
              "to 224x224: a copy of Tests/Fixtures/backbones/images/chelsea.jpg")


def read_licences(path):
    """{(tf_folder, file name): (licence, photographer and URL)} for the CC BY photos."""
    entries = {}
    pattern = re.compile(r"^(\w+)/(\S+\.jpg) (CC-BY|CC BY 2\.0) by (.*)$")
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            match = pattern.match(line.rstrip("\n"))
            if match:
                folder, name, _, credit = match.groups()
                entries[(folder, name)] = credit
    return entries


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flowers", default=os.path.join(root, "..", "shared", "data", "flowers"),
                        help="the shared flowers folder (one sub-folder per species)")
    parser.add_argument("--licence-list", required=True, help="LICENSE.txt of TensorFlow's flower_photos archive")
    parser.add_argument("--out", default=os.path.join(root, "examples"), help="output folder (default: examples/)")
    args = parser.parse_args()

    licences = read_licences(args.licence_list)
    if not licences:
        sys.exit(f"make_examples.py: no CC BY entries found in {args.licence_list}")
    flowers_out = os.path.join(args.out, "flowers")
    photos_out = os.path.join(args.out, "photos")
    for folder in (flowers_out, photos_out):
        if os.path.isdir(folder):
            shutil.rmtree(folder)
        os.makedirs(folder)

    rng = random.Random(SEED)
    photo_rng = random.Random(SEED + 1)
    sample_credits, photo_credits = [], []
    for species in SPECIES:
        source = os.path.join(args.flowers, species)
        names = sorted(n for n in os.listdir(source) if (TF_FOLDER[species], n) in licences)
        if len(names) < PER_SPECIES + 1:
            sys.exit(f"make_examples.py: only {len(names)} attributable photos in {source}")
        chosen = rng.sample(names, PER_SPECIES + 1)
        os.makedirs(os.path.join(flowers_out, species))
        for name in sorted(chosen[:PER_SPECIES]):
            shutil.copyfile(os.path.join(source, name), os.path.join(flowers_out, species, name))
            sample_credits.append(f"flowers/{species}/{name}  CC BY 2.0 by {licences[(TF_FOLDER[species], name)]}")
        # The photo for `petal predict`: one the sample does not contain, taken from Flickr's 500-px
        # size (no _m/_n suffix), the sharpest originals, as a user's own photo would be.
        rest = [n for n in names if n not in chosen[:PER_SPECIES] and not re.search(r"_[mn]\.jpg$", n)]
        extra = photo_rng.choice(rest)
        shutil.copyfile(os.path.join(source, extra), os.path.join(photos_out, f"{species}.jpg"))
        photo_credits.append(f"photos/{species}.jpg ({extra})  CC BY 2.0 by {licences[(TF_FOLDER[species], extra)]}")
    shutil.copyfile(os.path.join(root, CAT), os.path.join(photos_out, "cat.jpg"))
    photo_credits.append(CAT_CREDIT)

    header = ("Photographer, licence and Flickr page of each flower photo in examples/, as listed in the LICENSE.txt\n"
              "of TensorFlow's flower_photos archive (http://download.tensorflow.org/example_images/flower_photos.tgz).\n"
              "CC BY 2.0: https://creativecommons.org/licenses/by/2.0/. The photos are the 227x227 versions of the\n"
              "Kaggle 'Flowers Recognition' dataset (resized, otherwise unchanged). Made by scripts/make_examples.py.\n\n")
    with open(os.path.join(args.out, "ATTRIBUTION.txt"), "w", encoding="utf-8") as out:
        out.write(header + "\n".join(photo_credits + sample_credits) + "\n")
    print(f"{len(sample_credits)} photos in {flowers_out}, {len(photo_credits)} in {photos_out}")


if __name__ == "__main__":
    main()
