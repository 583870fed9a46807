"""`python -m inference train`: a Keras 3 CNN for the 7 FER2013 emotions, trained on an image folder.

Runs on any Keras backend (TensorFlow here; JAX or PyTorch on a GPU machine without TensorFlow). Writes into the
models directory `<name>.keras`, `<name>.tflite` (float32, converted with TensorFlow when it is importable) and
the JSON model card, so `Engine(emotion_model=name)` serves it.

Recipe: VGG-style blocks with batch norm, augmentation (flip, small rotation/shift/zoom, contrast), class weights for
the rare classes, label smoothing, AdamW with a cosine schedule, early stopping on a stratified hold-out of the
training folder (never the dev set), then temperature scaling fitted on that hold-out so displayed confidences mean
what they say.

Distillation (`--teacher NAME`, repeatable): a compact student that fits the CPU budget learns from bigger models
trained first with this same command. Teachers and student see the same augmented batch; the loss mixes the hard
labels with the teachers' averaged, temperature-softened probabilities. Every model of a recipe keeps the same
hold-out (`--split-seed`), so no teacher has trained on the images the student is selected on.
"""

import hashlib
import json
import os
import platform
import shutil
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image

from .evaluate import load_labelled_folder
from .model_cards import EMOTIONS, write_card
from .training_runs import RunFolder, RunState, pid_is_training, write_atomically


@dataclass
class TrainConfig:
    data_dir: Path
    name: str = "fermonitor-cnn"
    out_dir: Path = Path("models")
    epochs: int = 40
    batch_size: int = 128
    input_size: int = 48
    limit_per_class: int | None = None
    validation_split: float = 0.1
    patience: int = 8
    width: int = 32
    arch: str = "vgg"  # "vgg" or "xception" (see build_model)
    seed: int = 1
    learning_rate: float = 2e-3
    label_smoothing: float = 0.1
    # The hold-out split and any per-class subsample; the same for every model of a recipe (teachers, student),
    # while `seed` (initialisation, augmentation) differs between ensemble members.
    split_seed: int = 1
    teachers: tuple[str, ...] = ()
    distill_alpha: float = 0.5  # weight of the hard labels; the rest goes to the teachers
    distill_temperature: float = 2.0
    # Stop after this many minutes and keep the best epoch so far (a GPU command has a wall-clock limit).
    max_minutes: float | None = None

    def command(self) -> str:
        """The command line that reproduces this run."""
        default = TrainConfig(data_dir=self.data_dir)
        parts = ["python -m inference train", str(self.data_dir), f"--name {self.name}"]
        for option, value in (
            ("epochs", self.epochs),
            ("width", self.width),
            ("arch", self.arch),
            ("input-size", self.input_size),
            ("batch-size", self.batch_size),
            ("limit-per-class", self.limit_per_class),
            ("validation-split", self.validation_split),
            ("patience", self.patience),
            ("learning-rate", self.learning_rate),
            ("seed", self.seed),
            ("split-seed", self.split_seed),
            ("distill-alpha", self.distill_alpha if self.teachers else None),
            ("distill-temperature", self.distill_temperature if self.teachers else None),
            ("max-minutes", self.max_minutes),
        ):
            always = option in ("epochs", "width", "input-size")
            if value is not None and (always or value != getattr(default, option.replace("-", "_"))):
                parts.append(f"--{option} {value}")
        parts += [f"--teacher {teacher}" for teacher in self.teachers]
        return " ".join(parts)


def load_folder(folder: Path, size: int, limit_per_class: int | None, seed: int):
    # the same layouts `evaluate` reads: labels.csv or <label>/<image>
    labelled = load_labelled_folder(folder)
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for index in range(len(EMOTIONS)):
        members = np.flatnonzero(labelled.labels == index)
        if limit_per_class:
            members = members[np.sort(rng.permutation(len(members))[:limit_per_class])]
        for member in members:
            try:
                with Image.open(labelled.paths[member]) as opened:
                    image = opened.convert("L")
            except OSError:
                continue
            if image.size != (size, size):
                image = image.resize((size, size), Image.Resampling.BILINEAR)
            images.append(np.asarray(image))
            labels.append(index)
    if not images:
        raise SystemExit(f"No readable training images in {folder}")
    return np.stack(images)[..., np.newaxis], np.array(labels)


def stratified_split(labels: np.ndarray, fraction: float, seed: int):
    rng = np.random.default_rng(seed)
    validation = []
    for index in range(len(EMOTIONS)):
        members = np.flatnonzero(labels == index)
        take = max(1, int(round(len(members) * fraction))) if len(members) > 1 else 0
        validation.extend(rng.permutation(members)[:take])
    mask = np.zeros(len(labels), dtype=bool)
    mask[validation] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


# Training inputs are scaled to [-1, 1] (`train`); augmentation must keep that range.
VALUE_RANGE = (-1.0, 1.0)


def augmentation(keras):
    """Random flip, rotation, shift, zoom and contrast; identity at inference."""
    layers = keras.layers
    return keras.Sequential(
        [
            layers.RandomFlip("horizontal"),
            layers.RandomRotation(0.05, fill_mode="nearest"),
            layers.RandomTranslation(0.08, 0.08, fill_mode="nearest"),
            layers.RandomZoom(0.1, fill_mode="nearest"),
            # Keras clips contrast output to `value_range`, (0, 255) unless told: every pixel below mid-grey
            # then trains as 0 while inference sees the real value (this cost a 30-epoch run ~20 points).
            layers.RandomContrast(0.2, value_range=VALUE_RANGE),
        ],
        name="augmentation",
    )


ARCHITECTURES = ("vgg", "xception")


def build_model(keras, size: int, width: int, augment: bool = True, arch: str = "vgg"):
    """The CNN; with `augment` its first layer augments while training (identity when serving).

    "vgg": 4 blocks of 2 convolutions (width, doubling per block), batch norm, global pooling, a dense layer.
    "xception": fer's mini-Xception design (two plain convolutions, then 4 residual blocks of separable
    convolutions, width doubling per block, a 7-filter convolution and global pooling): far cheaper per face
    than a VGG of the same width, so it fits beside fer's model in one served file (`inference.ensemble`)."""
    if arch not in ARCHITECTURES:
        raise SystemExit(f"Unknown architecture {arch!r}: choose one of {', '.join(ARCHITECTURES)}.")
    layers = keras.layers
    inputs = keras.Input((size, size, 1))
    x = augmentation(keras)(inputs) if augment else inputs
    if arch == "xception":
        return keras.Model(inputs, _xception(layers, x, width), name="fermonitor_xception")
    for block, repeats in enumerate((2, 2, 2, 2)):
        filters = width * 2**block
        for _ in range(repeats):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization()(x)
            x = layers.Activation("relu")(x)
        x = layers.MaxPooling2D()(x)
        x = layers.Dropout(0.1 + 0.05 * block)(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(width * 8, activation="relu")(x)
    x = layers.Dropout(0.4)(x)
    outputs = layers.Dense(len(EMOTIONS), activation="softmax")(x)
    return keras.Model(inputs, outputs, name="fermonitor_cnn")


def _xception(layers, x, width: int):
    def conv_bn_relu(x, filters):
        x = layers.Conv2D(filters, 3, use_bias=False)(x)
        return layers.Activation("relu")(layers.BatchNormalization()(x))

    x = conv_bn_relu(conv_bn_relu(x, width // 2), width // 2)
    for block in range(4):
        filters = width * 2**block
        # A strided 1x1 convolution, written as subsampling then a 1x1 convolution (the same function): TF's
        # oneDNN kernel for the strided version's gradient corrupted the heap here (crashes 3 runs in 4).
        subsampled = layers.AveragePooling2D(1, strides=2, padding="same")(x)
        residual = layers.BatchNormalization()(layers.Conv2D(filters, 1, use_bias=False)(subsampled))
        x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.Activation("relu")(layers.BatchNormalization()(x))
        x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same")(layers.BatchNormalization()(x))
        x = layers.Add()([x, residual])
    x = layers.Conv2D(len(EMOTIONS), 3, padding="same")(x)
    return layers.Activation("softmax")(layers.GlobalAveragePooling2D()(x))


def describe_architecture(config: "TrainConfig") -> str:
    if config.arch == "xception":
        return f"mini-Xception: 2 convs (width {config.width // 2}), 4 residual separable blocks (width {config.width}, doubling), conv to 7, GAP"
    return f"4 VGG blocks x 2 conv (width {config.width}, doubling), BN, GAP, dense {config.width * 8}"


def load_teachers(keras, config: TrainConfig) -> list:
    """The teacher models named in `config`, checked to match the student's input and hold-out."""
    teachers = []
    for name in config.teachers:
        keras_path, card_path = (config.out_dir / f"{name}{suffix}" for suffix in (".keras", ".json"))
        if not keras_path.exists() or not card_path.exists():
            raise SystemExit(
                f"Teacher '{name}' needs {keras_path.name} and {card_path.name} in {config.out_dir}."
            )
        card = json.loads(card_path.read_text())
        if card["input"]["size"] != [config.input_size, config.input_size]:
            raise SystemExit(
                f"Teacher '{name}' takes {card['input']['size']} inputs; the student takes "
                f"{config.input_size}x{config.input_size}. Train both at the same --input-size."
            )
        recipe = card.get("provenance", {}).get("recipe", {})
        split = (
            recipe.get("validation_split"),
            recipe.get("split_seed", recipe.get("seed")),  # older cards split with `seed`
            recipe.get("limit_per_class"),
        )
        if split != (config.validation_split, config.split_seed, config.limit_per_class):
            raise SystemExit(
                f"Teacher '{name}' was trained with another hold-out (validation split, split seed, limit per "
                f"class = {split}); it may have learnt the images the student is selected on. Train it with "
                f"--validation-split {config.validation_split} --split-seed {config.split_seed}"
                + (f" --limit-per-class {config.limit_per_class}" if config.limit_per_class else "")
                + "."
            )
        teachers.append(keras.models.load_model(keras_path, compile=False))
    return teachers


def build_distiller(keras, student, teachers: list, config: TrainConfig):
    """One augmented batch feeds the student and the frozen teachers; the output is
    [student probabilities | mean teacher probabilities] (7 + 7 columns), which `distillation_loss` splits."""
    layers = keras.layers

    class Frozen(layers.Layer):
        # Always called in inference mode: no dropout, running batch-norm statistics and no second augmentation.
        def __init__(self, model, **kwargs):
            super().__init__(**kwargs)
            self.model = model
            self.model.trainable = False

        def call(self, x):
            return self.model(x, training=False)

    inputs = keras.Input((config.input_size, config.input_size, 1))
    augmented = augmentation(keras)(inputs)
    taught = [Frozen(teacher, name=f"teacher_{i}")(augmented) for i, teacher in enumerate(teachers)]
    teacher = taught[0] if len(taught) == 1 else layers.Average()(taught)
    return keras.Model(inputs, layers.Concatenate()([student(augmented), teacher]), name="distiller")


def distillation_loss(keras, config: TrainConfig):
    ops = keras.ops
    classes, alpha, temperature = len(EMOTIONS), config.distill_alpha, config.distill_temperature
    hard_loss = keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing, reduction=None)

    def loss(y_true, y_pred):
        student, teacher = y_pred[:, :classes], y_pred[:, classes:]
        # log-probabilities are logits up to a per-row constant, which softmax ignores
        soft_teacher = ops.softmax(ops.log(ops.clip(teacher, 1e-7, 1.0)) / temperature)
        student_log = ops.log_softmax(ops.log(ops.clip(student, 1e-7, 1.0)) / temperature)
        soft = (
            -ops.sum(soft_teacher * student_log, axis=-1) * temperature**2
        )  # T^2 keeps gradient scale (Hinton)
        return alpha * hard_loss(y_true, student) + (1 - alpha) * soft

    return loss


def student_accuracy(keras):
    def accuracy(y_true, y_pred):
        return keras.metrics.categorical_accuracy(y_true, y_pred[:, : len(EMOTIONS)])

    return keras.metrics.MeanMetricWrapper(accuracy, name="accuracy")


def mean_accuracy(models: list, x: np.ndarray, y: np.ndarray) -> float:
    """Accuracy of the models' averaged probabilities."""
    probabilities = np.mean([np.asarray(m.predict(x, batch_size=256, verbose=0)) for m in models], axis=0)
    return float((probabilities.argmax(1) == y).mean())


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The temperature minimising negative log-likelihood on held-out data (grid search; 1 = unchanged)."""
    logits = np.log(np.clip(probabilities, 1e-12, 1.0))
    best, best_nll = 1.0, np.inf
    for temperature in np.arange(0.5, 3.01, 0.05):
        scaled = logits / temperature
        scaled -= scaled.max(axis=1, keepdims=True)
        log_probs = scaled - np.log(np.exp(scaled).sum(axis=1, keepdims=True))
        nll = -log_probs[np.arange(len(labels)), labels].mean()
        if nll < best_nll:
            best, best_nll = float(temperature), nll
    return round(best, 2)


def convert_to_tflite(model, target: Path) -> bool:
    try:
        import tensorflow as tf
    except ImportError:
        return False
    import contextlib
    import io

    inference_model = model  # augmentation layers are identity at inference and convert as such
    converter = tf.lite.TFLiteConverter.from_keras_model(inference_model)
    with contextlib.redirect_stdout(io.StringIO()):
        target.write_bytes(converter.convert())
    return True


def tflite_probabilities(path: Path, batch: np.ndarray) -> np.ndarray:
    """The raw output of a TFLite model for a float input batch (no class reordering, no temperature)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, list(batch.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, batch)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def convert_trained(models_dir: Path, name: str, log=print) -> dict:
    """Serve a model trained elsewhere: `<name>.keras` (saved by `train` on any Keras backend, e.g. JAX on a GPU
    machine without TensorFlow) -> `<name>.tflite` with TensorFlow, checked against Keras on the same inputs.
    Records the conversion and the largest probability difference in the card; returns the card."""
    import keras

    models_dir = Path(models_dir)
    card_path, keras_path, tflite_path = (
        models_dir / f"{name}{suffix}" for suffix in (".json", ".keras", ".tflite")
    )
    for path in (card_path, keras_path):
        if not path.exists():
            raise SystemExit(
                f"{path} is missing: copy {name}.keras and {name}.json from the training machine."
            )
    card = json.loads(card_path.read_text())
    model = keras.models.load_model(keras_path, compile=False)
    if not convert_to_tflite(model, tflite_path):
        raise SystemExit("Converting needs TensorFlow: pip install -e '.[train]'")
    width, height = card["input"]["size"]
    probe = np.random.default_rng(0).uniform(-1, 1, (16, height, width, 1)).astype(np.float32)
    expected = np.asarray(model.predict(probe, verbose=0))
    served = tflite_probabilities(tflite_path, probe)
    difference = float(np.abs(served - expected).max())
    if difference > 1e-4:
        raise SystemExit(f"TFLite and Keras disagree by {difference:.2e} on the same inputs; not serving it.")
    import tensorflow as tf

    card["file"] = tflite_path.name
    card.setdefault("provenance", {})["converted"] = {
        "with": f"tensorflow {tf.__version__}, keras {keras.__version__} ({keras.backend.backend()} backend)",
        "max_abs_difference": difference,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    write_card(card_path, **card)
    log(f"Wrote {tflite_path.name}; Keras and TFLite agree within {difference:.1e} on 16 probe inputs.")
    return card


def holdout_fingerprint(y: np.ndarray, val_idx: np.ndarray) -> str:
    """Identifies the data (count and labels) and the hold-out a run was started on; a resumed run must find the
    same. (The pixels are not hashed: changing this format would stop runs started before from resuming.)"""
    digest = hashlib.sha256(y.astype(np.int8).tobytes() + val_idx.astype(np.int64).tobytes()).hexdigest()
    return f"{len(y)} images, {len(val_idx)} held out, sha256 {digest[:16]}"


def epoch_seed(seed: int, epoch: int, stream: int = 0) -> int:
    """A seed derived from (run seed, epoch, stream) alone: an epoch's shuffle and augmentation are the same
    whether the run got there in one go or was resumed."""
    return int(np.random.SeedSequence([seed, epoch, stream]).generate_state(1)[0])


def reseed_random_layers(model, seed: int, epoch: int) -> None:
    # Keras' random layers (augmentation, dropout) draw from SeedGenerator states, which are variables: set each
    # to a value derived from the epoch, instead of letting them carry on from wherever the process started.
    states = [v for v in model.non_trainable_variables if "seed_generator_state" in v.path]
    for stream, variable in enumerate(states, start=1):
        variable.assign(np.array([epoch_seed(seed, epoch, stream), 0], dtype=variable.dtype))


def save_optimizer(optimizer, path: Path) -> None:
    np.savez(path, *[np.asarray(v.numpy() if hasattr(v, "numpy") else v) for v in optimizer.variables])


def load_optimizer(optimizer, trainable_variables, path: Path) -> None:
    optimizer.build(trainable_variables)
    with np.load(path) as saved:
        values = [saved[f"arr_{i}"] for i in range(len(saved.files))]
    if len(values) != len(optimizer.variables):
        raise SystemExit(
            f"{path} holds {len(values)} optimizer variables; this recipe has {len(optimizer.variables)}."
        )
    for variable, value in zip(optimizer.variables, values, strict=True):
        variable.assign(value)


def config_from_dict(data: dict) -> TrainConfig:
    fields = {k: v for k, v in data.items() if k in TrainConfig.__dataclass_fields__}
    fields["data_dir"], fields["out_dir"] = Path(fields["data_dir"]), Path(fields["out_dir"])
    fields["teachers"] = tuple(fields.get("teachers", ()))
    return TrainConfig(**fields)


def config_to_dict(config: TrainConfig) -> dict:
    return {
        k: str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v
        for k, v in asdict(config).items()
    }


def resume(name: str, max_minutes: float | None = None, log=print) -> dict:
    """Continue the run `name` from its last finished epoch: same recipe, same hold-out, same schedule."""
    folder = RunFolder(name)
    if not folder.exists():
        raise SystemExit(f"No training run '{name}' in {folder.path.parent} (FERMONITOR_TRAINING_DIR).")
    state = folder.read_state()
    if state.finished:
        raise SystemExit(
            f"Run '{name}' has finished ({state.stopped}); its model is in {folder.read_config()['out_dir']}."
        )
    if pid_is_training(state.pid) and state.pid != os.getpid():
        raise SystemExit(f"Run '{name}' is still running (pid {state.pid}).")
    config = config_from_dict(folder.read_config())
    config.max_minutes = max_minutes
    return train(config, log=log, resuming=True)


def train(config: TrainConfig, log=print, resuming: bool = False) -> dict:
    import keras

    keras.utils.set_random_seed(config.seed)
    started = time.time()
    folder = RunFolder(config.name)
    if not resuming and folder.exists():
        previous = folder.read_state()
        if pid_is_training(previous.pid) and previous.pid != os.getpid():
            raise SystemExit(f"Run '{config.name}' is running (pid {previous.pid}); choose another --name.")
        log(f"Starting '{config.name}' afresh: its previous checkpoints in {folder.path} are replaced.")
        shutil.rmtree(folder.path)
    teachers = load_teachers(keras, config)  # before the images: a wrong teacher fails in seconds
    log(f"Loading {config.data_dir} ...")
    x, y = load_folder(Path(config.data_dir), config.input_size, config.limit_per_class, config.split_seed)
    train_idx, val_idx = stratified_split(y, config.validation_split, config.split_seed)
    holdout = holdout_fingerprint(y, val_idx)
    scale, offset = 2 / 255, -1.0
    x = x.astype(np.float32) * scale + offset
    counts = np.bincount(y[train_idx], minlength=len(EMOTIONS))
    # Balanced class weights, softened (square root) so that disgust is helped without drowning the rest.
    class_weight = {
        i: float(np.sqrt(counts.sum() / (len(EMOTIONS) * max(c, 1)))) for i, c in enumerate(counts)
    }
    log(
        f"{len(train_idx)} training and {len(val_idx)} hold-out images; class counts {dict(zip(EMOTIONS, counts.tolist(), strict=True))}"
    )

    # A student is trained inside the distiller and saved on its own, without augmentation layers.
    model = build_model(keras, config.input_size, config.width, augment=not teachers, arch=config.arch)
    trained = build_distiller(keras, model, teachers, config) if teachers else model
    steps = max(1, int(np.ceil(len(train_idx) / config.batch_size))) * config.epochs
    schedule = keras.optimizers.schedules.CosineDecay(
        config.learning_rate * 0.1,
        steps,
        warmup_target=config.learning_rate,
        warmup_steps=max(1, steps // 20),
    )
    trained.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=1e-4),
        loss=distillation_loss(keras, config)
        if teachers
        else keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
        metrics=[student_accuracy(keras)] if teachers else ["accuracy"],
    )
    if resuming:
        state = folder.read_state()
        if state.holdout != holdout:
            raise SystemExit(
                f"Run '{config.name}' was started on {state.holdout}; {config.data_dir} now gives {holdout}. "
                "Resuming would train and select on other images."
            )
        model.load_weights(folder.last_weights)
        load_optimizer(trained.optimizer, trained.trainable_variables, folder.last_optimizer)
        log(f"Resuming '{config.name}' after epoch {state.epochs_done} of {config.epochs} from {folder.path}")
    else:
        state = RunState(name=config.name, epochs=config.epochs, holdout=holdout)
        folder.path.mkdir(parents=True, exist_ok=True)
        write_atomically(
            folder.config, lambda p: p.write_text(json.dumps(config_to_dict(config), indent=1) + "\n")
        )
    state.pid = os.getpid()
    state.stopped = ""
    folder.write_state(state)

    one_hot = np.eye(len(EMOTIONS), dtype=np.float32)
    validation = (x[val_idx], one_hot[y[val_idx]])
    timed_out, loop_started = False, time.time()
    for epoch in range(state.epochs_done, config.epochs):
        epoch_started = time.time()
        # The epoch's shuffle and augmentation depend on (seed, epoch) only, so a resumed run repeats them.
        order = np.random.default_rng(epoch_seed(config.seed, epoch)).permutation(train_idx)
        reseed_random_layers(trained, config.seed, epoch)
        history = trained.fit(
            x[order],
            one_hot[y[order]],
            validation_data=validation,
            epochs=1,
            batch_size=config.batch_size,
            class_weight=class_weight,
            shuffle=False,
            verbose=0,
        )
        logs = {key: float(values[-1]) for key, values in history.history.items()}
        seconds = time.time() - epoch_started
        state.history.append(
            {
                "epoch": epoch + 1,
                "loss": logs["loss"],
                "accuracy": logs["accuracy"],
                "val_accuracy": logs["val_accuracy"],
                "seconds": round(seconds, 1),
            }
        )
        state.epochs_done = epoch + 1
        if state.best_accuracy is None or logs["val_accuracy"] > state.best_accuracy:
            state.best_accuracy, state.best_epoch, state.wait = logs["val_accuracy"], epoch + 1, 0
            write_atomically(folder.best_weights, model.save_weights)
        else:
            state.wait += 1
        write_atomically(folder.last_weights, model.save_weights)
        write_atomically(folder.last_optimizer, lambda p: save_optimizer(trained.optimizer, p))
        log(
            f"epoch {epoch + 1}/{config.epochs}: loss {logs['loss']:.4f}, accuracy {logs['accuracy']:.4f}, "
            f"hold-out {logs['val_accuracy']:.4f} (best {state.best_accuracy:.4f} at {state.best_epoch}), {seconds:.0f} s"
        )
        if state.wait >= config.patience:
            state.finished, state.stopped = (
                True,
                f"early stop: no better hold-out accuracy for {config.patience} epochs",
            )
        elif epoch + 1 == config.epochs:
            state.finished, state.stopped = True, "schedule complete"
        elif config.max_minutes and time.time() - loop_started > config.max_minutes * 60:
            timed_out, state.stopped = True, f"the {config.max_minutes}-minute limit"
        folder.write_state(state)
        if state.finished or timed_out:
            break
    if timed_out:
        log(
            f"Stopped after {state.epochs_done} of {config.epochs} epochs: {state.stopped}. "
            f"Continue with `python -m inference train --resume {config.name}`."
        )
    model.load_weights(folder.best_weights)  # what early stopping keeps: the best epoch so far

    val_probabilities = np.asarray(model.predict(x[val_idx], batch_size=256, verbose=0))
    flipped = np.asarray(model.predict(x[val_idx][:, :, ::-1], batch_size=256, verbose=0))
    val_accuracy = float((val_probabilities.argmax(1) == y[val_idx]).mean())
    tta_accuracy = float(((val_probabilities + flipped).argmax(1) == y[val_idx]).mean())
    temperature = fit_temperature(val_probabilities, y[val_idx])
    teachers_accuracy = mean_accuracy(teachers, x[val_idx], y[val_idx]) if teachers else None

    config.out_dir.mkdir(parents=True, exist_ok=True)
    keras_path = config.out_dir / f"{config.name}.keras"
    tflite_path = config.out_dir / f"{config.name}.tflite"
    model.save(keras_path)
    converted = convert_to_tflite(model, tflite_path)
    card = {
        "name": config.name,
        "file": tflite_path.name,
        "description": "CNN trained by fermonitor (inference/train.py)"
        + (f", distilled from {', '.join(config.teachers)}." if teachers else "."),
        "architecture": describe_architecture(config),
        "parameters": int(model.count_params()),
        "input": {
            "size": [config.input_size, config.input_size],
            "color": "gray",
            "scale": scale,
            "offset": offset,
        },
        "classes": list(EMOTIONS),
        "crop": {
            "side": 1.16,
            "shift_y": -0.08,
        },  # FER2013 framing around a BlazeFace box (model_cards.FaceCrop)
        "temperature": temperature,
        "provenance": {
            "training_data": str(config.data_dir),
            "recipe": config_to_dict(config),
            "command": config.command(),
            "checkpoints": str(folder.path),
            "holdout": holdout,
            "keras_backend": keras.backend.backend(),
            "keras_version": keras.__version__,
            "hardware": f"{platform.machine()} {os.cpu_count()} cpu(s)",
            "wall_time_s": round(sum(row["seconds"] for row in state.history), 1),
            "epochs_run": state.epochs_done,
            "best_epoch": state.best_epoch,
            "finished": state.finished,
            "stopped": state.stopped,
        },
        "metrics": {
            "holdout_accuracy": val_accuracy,
            "holdout_accuracy_flip_tta": tta_accuracy,
            "holdout_images": int(len(val_idx)),
            **({"teachers_holdout_accuracy": teachers_accuracy} if teachers else {}),
        },
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    write_card(config.out_dir / f"{config.name}.json", **card)
    if not converted:
        log(
            f"TensorFlow is not installed here: wrote {keras_path}; convert it to {tflite_path.name} on a machine with it."
        )
    log(
        f"Done in {time.time() - started:.0f} s: hold-out accuracy {val_accuracy:.3f} (flip TTA {tta_accuracy:.3f}), "
        f"temperature {temperature}; wrote {keras_path.name}, {tflite_path.name if converted else ''} and {config.name}.json"
    )
    log(json.dumps(card["metrics"]))
    return card
