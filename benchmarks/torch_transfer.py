#!/usr/bin/python3
"""Petal's two-phase transfer-learning recipe in plain PyTorch (EfficientNet-Lite0), on the split of a Petal run.

Run with Debian's python (torch 1.13 + torchvision 0.14):

  /usr/bin/python3 benchmarks/torch_transfer.py --split RUN/split.json --backbone efficientnet-lite0 \
      --weights ~/.cache/petal/weights/efficientnet-lite0-57934424.pth --image-size 160 --batch-size 32 \
      --epochs-fe 2 --epochs-ft 2 --fine-tune-at _blocks.11. --augment standard --threads 2

Mirrors Sources/PetalTraining/Loop/TransferLearningRun.swift (see benchmarks/keras_transfer.py for the
Keras twin): the same split.json files decoded once at SxS (stretched, PIL bilinear), (x - 127) / 128;
base -> global average pool -> Dropout(0.2) -> Linear(classes) (Glorot-uniform weights, zero bias, as
Keras's Dense); the base's batch norms stay in eval mode (moving statistics) in both phases unless
--bn-statistics trained (phase 2: trainable batch norms in train mode, momentum 0.01);
phase 1: base frozen; phase 2: every base module from the first one whose name starts with
--fine-tune-at (Petal's layer names follow this port: `_blocks.8.`, `_blocks.8._expand_conv`,
`_conv_head`) on, at lr/10 with a new optimizer; Keras's callbacks re-implemented
(ReduceLROnPlateau(val_accuracy, 0.25, 3, min_delta 1e-4), EarlyStopping(val_accuracy, 5,
restore best weights at the end of each phase), best-only checkpoint kept across phases).
Augmentation 'standard': flip, rotation +-20 deg, shifts +-0.1, zoom +-0.1 (one affine warp per image,
bilinear with reflect fill via grid_sample), brightness +-0.2*255 clipped to 0..255.

Differences that remain: torch.optim.RMSprop adds eps OUTSIDE the square root
(lr*g/(sqrt(v)+eps)) where Keras 3 and Petal use lr*g/sqrt(v+eps); with eps 1e-7 this only matters
for parameters whose squared-gradient average is below ~1e-12. The random streams (shuffle,
augmentation, dropout, head init) differ from Petal's.

Prints one JSON object on stdout (the same keys as keras_transfer.py); progress goes to stderr.
"""
import argparse
import copy
import importlib.util
import json
import math
import os
import resource
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from transfer_data import add_recipe_arguments, decode_split  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_recipe_arguments(p)
    p.add_argument("--backbone", default="efficientnet-lite0", choices=["efficientnet-lite0"])
    p.add_argument("--weights", default=os.path.expanduser("~/.cache/petal/weights/efficientnet-lite0-57934424.pth"),
                   help="the Lite0 package's state dict, or 'none'")
    p.add_argument("--fine-tune-at", default="_blocks.11.",
                   help="name (prefix) of the first base module to train in phase 2 (Petal's default _blocks.11.)")
    p.add_argument("--threads", type=int, default=2)
    return p.parse_args()


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def augment_batch(x, gen):
    """x: float NCHW in 0..255. One affine warp per image (flip, rotation, shift, zoom) sampled
    bilinearly with reflect fill, then a brightness delta, clipped to 0..255."""
    import torch
    import torch.nn.functional as F

    n = x.shape[0]
    u = lambda: torch.rand(n, generator=gen) * 2 - 1  # uniform in [-1, 1]
    flip = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0)
    angle = u() * math.radians(20)
    dx, dy = u() * 0.1, u() * 0.1
    zoom = 1 + u() * 0.1  # > 1 zooms out (content shrinks by 1/zoom), as Keras's RandomZoom
    brightness = u() * 0.2 * 255
    cos, sin = torch.cos(angle), torch.sin(angle)
    # Output coordinate p (normalised, -1..1) samples input at zoom * R * flip(p) - 2 * shift.
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = zoom * cos * flip
    theta[:, 0, 1] = -zoom * sin
    theta[:, 1, 0] = zoom * sin * flip
    theta[:, 1, 1] = zoom * cos
    theta[:, 0, 2] = -2 * dx
    theta[:, 1, 2] = -2 * dy
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    return (x + brightness.view(n, 1, 1, 1)).clamp_(0, 255)


def main():
    args = parse_args()
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    size, batch = args.image_size, args.batch_size

    names, (x_train, y_train), (x_val, y_val), (x_test, y_test), decode_seconds = decode_split(args.split, size)
    # NCHW uint8 tensors in memory; batches are made from them.
    tensors = {k: (torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(y))
               for k, (x, y) in {"train": (x_train, y_train), "val": (x_val, y_val), "test": (x_test, y_test)}.items()}
    del x_train, x_val, x_test

    def batches(key, shuffle=False, augment=False):
        x, y = tensors[key]
        order = torch.randperm(len(y), generator=gen) if shuffle else torch.arange(len(y))
        for i in range(0, len(y), batch):  # the last partial batch is kept, as Keras and Petal
            idx = order[i:i + batch]
            xb = x[idx].float()
            if augment:
                xb = augment_batch(xb, gen)
            yield (xb - 127.0) / 128.0, y[idx]

    fixtures = load_module("make_backbone_fixtures", os.path.join(ROOT, "scripts", "fixtures",
                                                                  "make_backbone_fixtures.py"))
    base = fixtures.build_lite0()
    if args.weights != "none":
        base.load_state_dict(torch.load(args.weights, map_location="cpu"), strict=True)
    del base._fc  # the ImageNet classifier; Petal puts its own head on the features

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.base = base
            self.dropout = nn.Dropout(args.dropout)
            self.fc = nn.Linear(1280, len(names))
            nn.init.xavier_uniform_(self.fc.weight)
            nn.init.zeros_(self.fc.bias)

        def forward(self, x):
            return self.fc(self.dropout(self.base.features(x).mean(dim=(2, 3))))

        def train_mode(self):
            self.train()
            self.base.eval()  # batch norms on their moving statistics (Petal's default, Keras training=False)
            if args.bn_statistics == "trained":
                # Petal's --train-bn-statistics: trainable batch norms use the batch's statistics and
                # update their moving ones at Petal's (Keras's) momentum 0.99 = PyTorch's 0.01.
                for module in self.base.modules():
                    if isinstance(module, nn.BatchNorm2d) and module.weight.requires_grad:
                        module.train()
                        module.momentum = 0.01

    model = Classifier()

    def set_trainable(start_prefix):
        """Base parameters trainable from the first module named `start_prefix`... on (None: none)."""
        on = False
        for name, module in model.base.named_modules():
            if start_prefix is not None and name.startswith(start_prefix):
                on = True
            for p in module.parameters(recurse=False):
                p.requires_grad_(on)
        for p in list(model.dropout.parameters()) + list(model.fc.parameters()):
            p.requires_grad_(True)

    def evaluate(key):
        model.eval()
        loss_sum, correct, n = 0.0, 0, 0
        with torch.no_grad():
            for xb, yb in batches(key):
                logits = model(xb)
                loss_sum += F.cross_entropy(logits, yb, reduction="sum").item()
                correct += (logits.argmax(1) == yb).sum().item()
                n += len(yb)
        return loss_sum / n, correct / n

    checkpoint = os.path.join(tempfile.mkdtemp(prefix="torch_transfer_"), "best.pt")
    checkpoint_best = -math.inf  # ModelCheckpoint keeps its best across both fits, as in Keras
    history = []
    train_count = len(tensors["train"][1])

    def fit(name, epochs, initial_epoch, rate):
        nonlocal checkpoint_best
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.RMSprop(params, lr=rate, alpha=0.9, eps=1e-7)
        # Keras's callbacks, reset at each fit as Keras's on_train_begin does.
        plateau_best, plateau_wait = -math.inf, 0
        stop_best, stop_wait, best_state = -math.inf, 0, None
        start = time.time()
        ran, train_seconds = 0, 0.0
        for epoch in range(initial_epoch, epochs):
            lr = opt.param_groups[0]["lr"]
            t = time.time()
            model.train_mode()
            loss_sum, correct, seen = 0.0, 0, 0
            for xb, yb in batches("train", shuffle=True, augment=args.augment == "standard"):
                logits = model(xb)
                loss = F.cross_entropy(logits, yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                loss_sum += loss.item() * len(yb)
                correct += (logits.argmax(1) == yb).sum().item()
                seen += len(yb)
            t_train = time.time() - t
            val_loss, val_accuracy = evaluate("val")
            ran += 1
            train_seconds += t_train
            # ReduceLROnPlateau(monitor val_accuracy, factor 0.25, patience 3, min_delta 1e-4)
            if val_accuracy > plateau_best + 1e-4:
                plateau_best, plateau_wait = val_accuracy, 0
            else:
                plateau_wait += 1
                if plateau_wait >= 3:
                    for g in opt.param_groups:
                        g["lr"] = max(g["lr"] * 0.25, 0.0)
                    plateau_wait = 0
            # ModelCheckpoint(save_best_only)
            if val_accuracy > checkpoint_best:
                checkpoint_best = val_accuracy
                torch.save(model.state_dict(), checkpoint)
            # EarlyStopping(patience 5, restore_best_weights)
            stop = False
            if best_state is None or val_accuracy > stop_best:
                stop_best, stop_wait, best_state = val_accuracy, 0, copy.deepcopy(model.state_dict())
            else:
                stop_wait += 1
                stop = stop_wait >= 5 and epoch > 0
            e = {"epoch": epoch, "seconds": time.time() - t, "train_seconds": t_train, "lr": lr,
                 "accuracy": correct / seen, "loss": loss_sum / seen,
                 "val_accuracy": val_accuracy, "val_loss": val_loss}
            history.append(e)
            log(f"epoch {epoch + 1}: " + ", ".join(f"{k} {v:.4f}" for k, v in e.items() if k != "epoch"))
            if stop:
                break
        if best_state is not None:
            model.load_state_dict(best_state)
        test_loss, test_accuracy = evaluate("test")
        seconds = time.time() - start
        log(f"{name}: test accuracy {test_accuracy:.4f}, test loss {test_loss:.4f}, {seconds:.1f} s")
        ran_epochs = history[len(history) - ran:]
        return {"name": name, "epochs": ran, "seconds": seconds,
                "images_per_second": train_count * ran / train_seconds if train_seconds else 0.0,
                "best_val_accuracy": max((h["val_accuracy"] for h in ran_epochs), default=None),
                "test_loss": test_loss, "test_accuracy": test_accuracy,
                "trainable_parameters": sum(p.numel() for p in params)}, ran

    started = time.time()
    phases = []
    set_trainable(None)
    r, ran = fit("feature-extraction", args.epochs_fe, 0, args.lr)
    phases.append(r)
    if args.epochs_ft > 0:
        set_trainable(args.fine_tune_at)
        if not any(p.requires_grad for p in model.base.parameters()):
            sys.exit(f"--fine-tune-at {args.fine_tune_at}: no module of the base is named so")
        log(f"Phase 2 from {args.fine_tune_at}")
        r, _ = fit("fine-tuning", ran + args.epochs_ft, ran, args.lr / 10)
        phases.append(r)
    total = time.time() - started

    print(json.dumps({
        "framework": f"pytorch {torch.__version__}", "backbone": args.backbone, "image_size": size,
        "batch_size": batch, "threads": args.threads, "inter_threads": 1, "bn_statistics": args.bn_statistics,
        "train": train_count, "validation": len(tensors["val"][1]), "test": len(tensors["test"][1]),
        "decode_seconds": decode_seconds, "training_seconds": total,
        "phases": phases, "history": history,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }, indent=1))


if __name__ == "__main__":
    main()
