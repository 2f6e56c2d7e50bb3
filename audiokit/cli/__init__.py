"""The ``audiokit`` command.

Each subcommand lives in its own module in this package and defines ``register(subparsers)``,
which adds its parser and sets ``func`` (``args -> int``). Modules are discovered automatically,
so adding a subcommand means adding a module. Heavy imports belong inside ``func``.

Exit codes (every command): 0 success, 1 a batch finished with some failed items (or stopped on a
full disk), 2 bad usage or bad input, a missing optional package included (a one-line message on
stderr), 130 interrupted by Ctrl-C ("interrupted; rerun to resume").
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from audiokit import __version__

__all__ = ["CLIError", "build_parser", "main"]


class CLIError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line (``audiokit CMD: error: ...``), exit code 2;
    ``--help`` shows the usage."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _subcommand_modules() -> list:
    pkg = sys.modules[__name__]
    mods = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(mod, "register"):
            mods.append(mod)
    return mods


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="audiokit",
        description="audiokit: vocoders, bandwidth extension, DDSP synthesis, perturbation and "
        "soundscape tools for folders of audio.",
    )
    parser.add_argument("--version", action="version", version=f"audiokit {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for mod in _subcommand_modules():
        mod.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``audiokit`` command with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse exits on --help/--version/usage errors
        return int(e.code or 0)
    level = (
        logging.ERROR if args.quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)]
    )
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    from audiokit.extras import MissingDependencyError

    try:
        return int(args.func(args) or 0)
    except (
        CLIError,
        ValueError,
        FileNotFoundError,
        NotADirectoryError,
        IsADirectoryError,
        KeyError,
        MissingDependencyError,
    ) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"audiokit {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"audiokit {args.command}: interrupted; rerun to resume", file=sys.stderr)
        return 130
    finally:  # a pool's server process (forkserver) must not outlive the command
        batch = sys.modules.get("audiokit.batch")
        if batch is not None:
            batch.stop_forkserver()
