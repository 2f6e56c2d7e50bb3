"""``audiokit perturb IN_DIR OUT_DIR``: perturbed variants of a speech set, or a per-file search
for the subtlest perturbation that changes a target model's behaviour (AJailBench's APT)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from audiokit.cli._common import add_batch_arguments, nonneg_int, positive_int, seed


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "perturb",
        help="perturb a speech set: random variants or a per-file search against a target (APT)",
        description="Writes perturbed copies of every audio file under IN_DIR (wav, flac, ogg, mp3; "
        "recursive) to the same relative path under OUT_DIR, keeping rate, channels and subtype, and "
        "one manifest.jsonl line per output (applied perturbations, constraint, target score, trials, "
        "seed). Reruns resume; failed inputs are retried. Exit code 0: all succeeded, 1: some failed, "
        "2: usage error. 'audiokit perturb report OUT_DIR' writes per-category attack success tables "
        "(CSV, Markdown, PNG) of a finished search.",
    )
    p.add_argument("in_dir", metavar="IN_DIR", nargs="?", help="input folder (or 'report' OUT_DIR: tables)")
    p.add_argument("out_dir", metavar="OUT_DIR", nargs="?")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--variants", type=positive_int, default=None, metavar="N", help="N random variants per file"
    )
    mode.add_argument("--search", action="store_true", help="search per file against --target")
    space = p.add_mutually_exclusive_group()
    space.add_argument(
        "--preset", default=None, help="ajailbench or all (default all; ajailbench for that sampler)"
    )
    space.add_argument(
        "--perturbations", default=None, metavar="A,B,C", help="perturbation names, applied in order"
    )
    p.add_argument(
        "--choose",
        type=positive_int,
        default=None,
        metavar="K",
        help="apply K of the perturbations per variant",
    )
    p.add_argument("--config", default=None, metavar="APT.yaml", help="job config (flags override it)")
    p.add_argument("--seed", type=seed, default=None, help="base seed (per-file seeds derive from it)")
    p.add_argument("--target", default=None, help="keyword:WORD, http(s)://URL or package.module:factory")
    p.add_argument(
        "--target-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="argument of the target (repeatable)",
    )
    p.add_argument(
        "--constraint", default=None, help="estoi[:0.6], snr[:10], asr[:0.8] or package.module:factory"
    )
    p.add_argument(
        "--budget",
        type=positive_int,
        default=None,
        help="trials per file (search; default 30, 10 for ajailbench)",
    )
    p.add_argument("--sampler", default=None, help="gp (default), tpe, random or ajailbench")
    p.add_argument("--n-startup", type=nonneg_int, default=None, help="random start-up trials of gp/tpe")
    p.add_argument("--peak", default=None, choices=["limit", "clip", "none"], help="over-full-scale policy")
    p.add_argument(
        "--index",
        default=None,
        metavar="FILE",
        help="AJailBench-style JSON/JSONL index (speech_path relative to IN_DIR) or a Hugging Face "
        "audiofolder metadata.jsonl/.csv (file_name relative to it; found in IN_DIR by default)",
    )
    p.add_argument("--list", action="store_true", help="list perturbations, presets and samplers, then exit")
    add_batch_arguments(p)
    p.set_defaults(func=run)


def _parse_kv(pairs: list[str]) -> dict:
    import yaml

    from audiokit.cli import CLIError

    out = {}
    for kv in pairs:
        k, sep, v = kv.partition("=")
        if not sep or not k:
            raise CLIError(f"--target-arg must be KEY=VALUE, got {kv!r}")
        out[k] = yaml.safe_load(v)
    return out


def _list() -> int:
    from audiokit.perturb import PRESETS, SAMPLERS, get
    from audiokit.perturb.base import available

    for name in available():
        cls = get(name)
        dims = ", ".join(f"{k}={v.to_spec()}" for k, v in cls.SPACE.items())
        print(f"{name:16s} {cls.domain:9s} {dims}")
    print(f"presets: {', '.join(PRESETS)}")
    print(f"samplers: {', '.join(SAMPLERS)}")
    return 0


def _spec_name(spec: Any) -> str:
    """A target/constraint spec as the user named it (a dict spec by its name only: its other
    entries may hold credentials or long paths)."""
    return repr(spec.get("name", "?")) if isinstance(spec, dict) else repr(spec)


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def _check_target_and_constraint(cfg) -> None:
    """Build the target and constraint once here (in either mode), so that a bad spec is a usage
    error before any work rather than an error on every file."""
    from audiokit.extras import MissingDependencyError
    from audiokit.perturb.constraints import make_constraint
    from audiokit.perturb.targets import make_target

    search = cfg.mode == "search"
    target = cfg.search.target if search else cfg.target
    constraint = cfg.search.constraint if search else cfg.constraint
    if target is not None:
        try:
            make_target(target)
        except MissingDependencyError:
            raise  # names the extra to install
        except OSError as e:  # an embedder or judge model that is not there
            raise ValueError(f"target: {_first_line(e)}") from None
        except (ImportError, AttributeError, TypeError) as e:
            raise ValueError(f"--target {_spec_name(target)}: {_first_line(e)}") from None
    if constraint is not None or search:
        try:
            make_constraint(constraint)
        except MissingDependencyError:
            raise
        except OSError as e:
            raise ValueError(f"constraint: {_first_line(e)}") from None
        except (ImportError, AttributeError, TypeError) as e:
            raise ValueError(f"--constraint {_spec_name(constraint)}: {_first_line(e)}") from None


#: modules the worker processes need, imported once by the pool's server process
WORKER_PRELOAD = ("audiokit.perturb.runner", "librosa.effects", "scipy.signal")


def run(args: argparse.Namespace) -> int:
    from audiokit.batch import start_pool, stop_pool
    from audiokit.cli import CLIError

    if args.list:
        return _list()
    if args.in_dir == "report":  # audiokit perturb report OUT_DIR
        from audiokit.cli._perturb_report import run_report

        return run_report(args.out_dir)
    if args.in_dir is None or args.out_dir is None:
        raise CLIError("IN_DIR and OUT_DIR are required (or --list)")
    # start the workers' imports (seconds: torch, librosa) now, in parallel with ours and with
    # the file discovery below
    preload = WORKER_PRELOAD + (("optuna", "audiokit.perturb.search") if args.search else ())
    pool = start_pool(args.workers, preload)
    ok = False
    try:
        code = _run(args, pool)
        ok = True
        return code
    finally:  # an interrupt or error kills the workers at once; no process outlives the command
        stop_pool(pool, kill=not ok)


def _run(args: argparse.Namespace, pool: object) -> int:
    import logging

    import optuna

    from audiokit.batch import check_in_out, finish, open_job, run_batch
    from audiokit.cli import CLIError
    from audiokit.cli._common import existing_dir
    from audiokit.io import atomic_write
    from audiokit.perturb.config import PerturbConfig
    from audiokit.perturb.runner import job_function, make_items

    cfg = PerturbConfig.from_yaml(args.config) if args.config else PerturbConfig()
    if args.search:
        cfg.mode = "search"
    if args.variants is not None:
        cfg.mode, cfg.variants = "variants", args.variants
    if args.preset is not None:
        cfg.preset, cfg.perturbations = args.preset, []
    if args.perturbations is not None:
        cfg.perturbations, cfg.preset = [s.strip() for s in args.perturbations.split(",") if s.strip()], None
    if args.choose is not None:
        cfg.choose = args.choose
    if args.seed is not None:
        cfg.seed = args.seed
    if args.peak is not None:
        cfg.peak = args.peak
    targs = _parse_kv(args.target_arg)
    if args.target is not None or targs:
        spec = (
            args.target
            if args.target is not None
            else (cfg.search.target if cfg.mode == "search" else cfg.target)
        )
        if spec is None:
            raise CLIError("--target-arg needs --target")
        full = {"name": spec, **targs} if not isinstance(spec, dict) else {**spec, **targs}
        if cfg.mode == "search":
            cfg.search.target = full
        else:
            cfg.target = full
    if args.constraint is not None:
        if cfg.mode == "search":
            cfg.search.constraint = args.constraint
        else:
            cfg.constraint = args.constraint
    for flag, attr in ((args.budget, "budget"), (args.sampler, "sampler"), (args.n_startup, "n_startup")):
        if flag is not None:
            setattr(cfg.search, attr, flag)
    cfg.validate()
    cfg.chain()  # fail early on a bad perturbation spec
    in_dir = existing_dir(args.in_dir) if args.index is None else Path(args.in_dir)
    out_dir = Path(args.out_dir)
    check_in_out(in_dir, out_dir)
    tspec = cfg.search.target if cfg.mode == "search" else cfg.target
    if isinstance(tspec, dict) and tspec.get("name") in ("openai", "transformers"):
        tspec.setdefault("cache_dir", str((out_dir / "query_cache").resolve()))  # reruns never pay twice
    items = make_items(in_dir, out_dir, cfg, args.shard, args.index)
    if not items:
        raise CLIError(f"{in_dir}: no audio files found")
    _check_target_and_constraint(cfg)
    optuna.logging.set_verbosity(optuna.logging.WARNING if args.verbose < 2 else optuna.logging.INFO)
    logging.getLogger("optuna").setLevel(logging.WARNING)
    with open_job(
        "perturb", out_dir, cfg.to_dict(), items=items, in_dir=in_dir, force=args.force, shard_spec=args.shard
    ) as manifest:
        with atomic_write(out_dir / "perturb_config.yaml") as tmp:
            tmp.write_text(cfg.to_yaml(), encoding="utf-8")
        report = run_batch(
            items,
            job_function(cfg, out_dir),
            manifest,
            workers=args.workers,
            force=args.force,
            progress=not args.no_progress,
            desc="perturb",
            group=lambda item: item.src,  # the variants of one file: one task, one decode
            pool=pool,
        )
    return finish(report, "perturb: ")
