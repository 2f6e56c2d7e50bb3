"""Packaging glue that pyproject.toml cannot express: the bundled models live in the repository's
top-level ``pretrained/`` folder and are installed as package data under ``audiokit/pretrained/``
(found by :data:`audiokit.assets.PRETRAINED_DIR` after a wheel or non-editable install).
Everything else is in pyproject.toml."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["audiokit", "audiokit.*"]), "audiokit.pretrained"],
    package_dir={"audiokit.pretrained": "pretrained"},  # its package data: pyproject.toml
)
