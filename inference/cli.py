"""`python -m inference {setup,analyze,analyze-video,evaluate,bench,train,train-status,ship,convert}`."""

import argparse
import sys
from pathlib import Path

from .paths import models_dir as resolve_models_dir
from .paths import shared_data_dir


def _setup(args) -> int:
    from .setup_models import setup

    setup(resolve_models_dir(args.models_dir))
    return 0


def _analyze(args) -> int:
    from .engine import Engine
    from .errors import FrameError

    engine = Engine(models_dir=args.models_dir, detector="full" if args.full_range else "short")
    exit_code = 0
    for path in args.images:
        data = Path(path).read_bytes()
        try:
            result = engine.analyze(data, emotions=not args.presence_only)
        except FrameError as error:
            print(f"{path}: {error}")
            exit_code = 1
            continue
        print(
            f"{path}: {result.width}x{result.height}, {len(result.faces)} face(s), {result.timings['total']:.1f} ms"
        )
        for index, face in enumerate(result.faces, start=1):
            x, y, w, h = face.box
            emotion = f"{face.emotion} ({face.confidence:.0%})" if face.emotion else "presence only"
            print(f"  face {index}: box x={x} y={y} w={w} h={h}, detection {face.score:.2f}, {emotion}")
        if args.annotate:
            from .annotate import annotate

            out = Path(args.annotate)
            if len(args.images) > 1:
                out = out.with_name(f"{out.stem}-{Path(path).stem}{out.suffix}")
            annotate(data, result, out)
            print(f"  annotated image written to {out}")
    return exit_code


def _analyze_video(args) -> int:
    import csv
    import time

    from tqdm import tqdm

    from .engine import Engine
    from .errors import VideoError
    from .model_cards import EMOTIONS
    from .video import analyze_video, probe

    try:
        info = probe(args.file)
    except VideoError as error:
        print(f"{args.file}: {error}", file=sys.stderr)
        return 1
    emotions = not args.presence_only
    engine = Engine(models_dir=args.models_dir)
    columns = ["t", "faces", "participants", "participants_seen"]
    if emotions:
        columns += [f"share_{name}" for name in EMOTIONS] + ["valence"]
    out = open(args.out, "w", newline="") if args.out else sys.stdout  # noqa: SIM115 (closed below)
    writer = csv.writer(out)
    writer.writerow(columns)
    seen: set[int] = set()
    started = time.perf_counter()
    bar = tqdm(total=info.samples(args.fps), unit="frame", desc=Path(args.file).name, file=sys.stderr)
    try:
        for sample in analyze_video(args.file, args.fps, engine, emotions, workers=args.workers, info=info):
            seen.update(sample.participants)
            row = [f"{sample.t:.2f}", len(sample.faces), len(sample.participants), len(seen)]
            if emotions:
                mood = sample.mood
                row += (
                    [f"{mood.shares[n]:.4f}" for n in EMOTIONS] + [f"{mood.valence:.4f}"]
                    if mood
                    else [""] * 8
                )
            writer.writerow(row)
            bar.update(1)
    except VideoError as error:
        print(f"{args.file}: {error}", file=sys.stderr)
        return 1
    finally:
        bar.close()
        if args.out:
            out.close()
    elapsed = time.perf_counter() - started
    print(
        f"{args.file}: {info.duration / 60:.1f} min of {info.width}x{info.height} {info.codec} analysed at "
        f"{args.fps:g} frame/s in {elapsed / 60:.2f} min; {len(seen)} participants"
        + (f"; timeline written to {args.out}" if args.out else ""),
        file=sys.stderr,
    )
    return 0


def _evaluate(args) -> int:
    from .evaluate import evaluate_models

    names = args.model or [None]
    from .model_cards import DEFAULT_EMOTION_MODEL

    names = [n or DEFAULT_EMOTION_MODEL for n in names]
    flip_tta = {"both": (False, True), "on": (True,), "off": (False,)}[args.flip_tta]
    evaluate_models(
        Path(args.folder),
        names,
        Path(args.out) if args.out else None,
        models_dir=args.models_dir,
        flip_tta=flip_tta,
        record=args.record,
    )
    return 0


def _bench(args) -> int:
    from .bench import run_bench

    run_bench(models_dir=args.models_dir, seconds=args.seconds, emotion_model=args.model)
    return 0


def _convert(args) -> int:
    from .train import convert_trained

    convert_trained(resolve_models_dir(args.models_dir), args.name)
    return 0


def _train(args) -> int:
    from .train import TrainConfig, resume, train

    if args.resume:
        resume(args.resume, max_minutes=args.max_minutes)
        return 0
    config = TrainConfig(
        data_dir=Path(args.data_dir),
        name=args.name,
        out_dir=resolve_models_dir(args.models_dir),
        epochs=args.epochs,
        batch_size=args.batch_size,
        input_size=args.input_size,
        limit_per_class=args.limit_per_class,
        validation_split=args.validation_split,
        patience=args.patience,
        width=args.width,
        arch=args.arch,
        seed=args.seed,
        learning_rate=args.learning_rate,
        split_seed=args.split_seed,
        teachers=tuple(args.teacher),
        distill_alpha=args.distill_alpha,
        distill_temperature=args.distill_temperature,
        max_minutes=args.max_minutes,
    )
    train(config)
    return 0


def _ship(args) -> int:
    from .ship import ShipRule, ship

    rule = ShipRule(args.min_margin / 100, args.max_ms, args.max_mb)
    result = ship(
        args.training_run,
        name=args.name,
        models_dir=args.models_dir,
        dev_folder=args.dev,
        rule=rule,
        allow_unfinished=args.allow_unfinished,
    )
    return 0 if result["shipped"] else 1


def _train_status(args) -> int:
    from .training_runs import all_runs, format_runs

    runs = all_runs()
    if args.json:
        import json

        print(json.dumps(runs, indent=1))
    else:
        print(format_runs(runs))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m inference", description="fermonitor's inference engine")
    parser.add_argument("--models-dir", help="models directory (default: $FERMONITOR_MODELS_DIR or ./models)")
    commands = parser.add_subparsers(dest="command", required=True)

    setup = commands.add_parser("setup", help="fetch and check the model files (once; idempotent)")
    setup.set_defaults(run=_setup)

    analyze = commands.add_parser("analyze", help="find faces and emotions in images")
    analyze.add_argument("images", nargs="+")
    analyze.add_argument("--annotate", metavar="OUT.png", help="write the image with boxes and labels")
    analyze.add_argument("--full-range", action="store_true", help="full-range detector for wide shots")
    analyze.add_argument("--presence-only", action="store_true", help="detect faces only, no emotions")
    analyze.set_defaults(run=_analyze)

    video = commands.add_parser(
        "analyze-video", help="a recorded lesson: faces, participants and class mood per second (CSV)"
    )
    video.add_argument("file", help="the recording (MP4, MOV, MKV, WebM, or anything FFmpeg reads)")
    video.add_argument(
        "--fps", type=float, default=1.0, help="sampled frames per second of video (default 1)"
    )
    video.add_argument("--out", metavar="timeline.csv", help="write the CSV here (default: standard output)")
    video.add_argument("--presence-only", action="store_true", help="count faces only, no emotions")
    video.add_argument("--workers", type=int, help="analysis threads (default: the machine's cores)")
    video.set_defaults(run=_analyze_video)

    evaluate = commands.add_parser("evaluate", help="accuracy, macro-F1, calibration on a labelled folder")
    evaluate.add_argument("folder", nargs="?", default=str(shared_data_dir() / "fer2013-dev"))
    evaluate.add_argument("--model", action="append", help="model card name; repeat to compare models")
    evaluate.add_argument("--out", help="folder for report.json and confusion-matrix PNGs")
    evaluate.add_argument(
        "--flip-tta",
        choices=("both", "on", "off"),
        default="both",
        help="measure with flip test-time augmentation, without, or both side by side (default)",
    )
    evaluate.add_argument(
        "--record",
        action="store_true",
        help="write the numbers into each model's card (metrics.dev, metrics.dev_flip_tta)",
    )
    evaluate.set_defaults(run=_evaluate)

    bench = commands.add_parser("bench", help="per-stage ms, frames/s on 1 and all cores, RSS")
    bench.add_argument("--seconds", type=float, default=3.0, help="seconds per measurement")
    bench.add_argument("--model", help="emotion model card name")
    bench.set_defaults(run=_bench)

    train = commands.add_parser("train", help="train an emotion CNN on an image folder")
    train.add_argument("data_dir", nargs="?", default=str(shared_data_dir() / "fer2013-train"))
    train.add_argument(
        "--name", default="fermonitor-cnn", help="model name (files <name>.tflite/.json/.keras)"
    )
    train.add_argument("--epochs", type=int, default=40)
    train.add_argument("--batch-size", type=int, default=128)
    train.add_argument("--input-size", type=int, default=48)
    train.add_argument("--width", type=int, default=32, help="filters in the first block (doubles per block)")
    train.add_argument(
        "--arch", choices=("vgg", "xception"), default="vgg", help="network design (default vgg)"
    )
    train.add_argument("--limit-per-class", type=int, help="use at most N images per class (quick runs)")
    train.add_argument("--validation-split", type=float, default=0.1)
    train.add_argument("--patience", type=int, default=8, help="early-stopping patience in epochs")
    train.add_argument("--learning-rate", type=float, default=2e-3)
    train.add_argument("--seed", type=int, default=1, help="initialisation and augmentation seed")
    train.add_argument(
        "--split-seed",
        type=int,
        default=1,
        help="hold-out split seed; keep it the same for teachers and student",
    )
    train.add_argument(
        "--teacher",
        action="append",
        default=[],
        metavar="NAME",
        help="distil from this trained model (<NAME>.keras in the models directory); repeat for an ensemble",
    )
    train.add_argument("--distill-alpha", type=float, default=0.5, help="weight of the hard labels (0-1)")
    train.add_argument("--distill-temperature", type=float, default=2.0)
    train.add_argument(
        "--max-minutes", type=float, help="stop after this long, keeping the best epoch so far"
    )
    train.add_argument(
        "--resume",
        metavar="NAME",
        help="continue run NAME from its last finished epoch with its own recipe (other options but "
        "--max-minutes are ignored); checkpoints live in $FERMONITOR_TRAINING_DIR or ~/.cache/fermonitor/training",
    )
    train.set_defaults(run=_train)

    status = commands.add_parser(
        "train-status", help="each training run: epoch, best hold-out accuracy, s/epoch, ETA, running or not"
    )
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(run=_train_status)

    ship = commands.add_parser(
        "ship",
        help="ensemble a training run with fer's model, evaluate, bench, and make it the default if it beats fer",
    )
    ship.add_argument(
        "training_run",
        metavar="RUN",
        help="training run name (train-status), or <run>.keras in the models directory",
    )
    ship.add_argument("--name", default="fermonitor-ensemble", help="the served model's name")
    ship.add_argument("--dev", help="labelled dev folder (default ../shared/data/fer2013-dev)")
    ship.add_argument(
        "--min-margin", type=float, default=1.5, help="points of prior-weighted accuracy over fer+flip TTA"
    )
    ship.add_argument(
        "--max-ms", type=float, default=2.0, help="ms of CPU per face with flip TTA, one thread"
    )
    ship.add_argument("--max-mb", type=float, default=25.0, help="largest file size in MB")
    ship.add_argument(
        "--allow-unfinished",
        action="store_true",
        help="ship a run's best epoch so far (once: retrying at later epochs would select on the dev set)",
    )
    ship.set_defaults(run=_ship)

    convert = commands.add_parser(
        "convert", help="turn a model trained elsewhere (<name>.keras + card) into the served TFLite file"
    )
    convert.add_argument(
        "name", help="model name (files <name>.keras and <name>.json in the models directory)"
    )
    convert.set_defaults(run=_convert)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
