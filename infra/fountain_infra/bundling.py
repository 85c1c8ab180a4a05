"""Lambda assets built on this machine, without Docker: the handlers' code, and a layer with
their third-party dependencies.

The two are separate assets so that editing a handler re-zips only the code; pip runs again
only when the layer's hash changes (the runtime requirements, constraints.txt, or the target
platform). CDK keeps a bundled asset under ``cdk.out/asset.<hash>`` and skips bundling when that
directory already exists.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_

REPO = Path(__file__).resolve().parents[2]
LAMBDAS_DIR = REPO / "lambdas"
PYPROJECT = REPO / "pyproject.toml"
CONSTRAINTS = REPO / "constraints.txt"

RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.X86_64
PIP_PLATFORM = "manylinux2014_x86_64"
PIP_PYTHON_VERSION = "3.12"
# The python3.12 runtime ships boto3 and its dependencies. Bundling our own copy would shadow
# them, and a botocore pulled in by pynamodb or aws-xray-sdk could then mismatch the runtime's
# boto3; so the layer leaves the whole SDK family to the runtime.
RUNTIME_PROVIDED = frozenset(  # normalized names (PEP 503)
    {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"}
)
# Never shipped: byte code of the build machine's Python and tool caches.
SOURCE_IGNORE = ("__pycache__", "*.pyc", "*.pyo", "*.egg-info", ".mypy_cache", ".pytest_cache")
# Bump when the layer's build recipe changes, so a cached layer built the old way is not reused.
LAYER_RECIPE = 1


_PROJECT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def canonicalize_name(name: str) -> str:
    """PEP 503 normalization: pip's own way of comparing project names."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = _PROJECT_NAME.match(requirement.strip())
    if match is None:
        raise ValueError(f"not a requirement: {requirement!r}")
    return canonicalize_name(match.group())


def runtime_requirements() -> tuple[str, ...]:
    """pyproject's run-time dependencies, minus what the Lambda runtime already provides."""
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    return tuple(d for d in declared if requirement_name(d) not in RUNTIME_PROVIDED)


def layer_hash(requirements: tuple[str, ...]) -> str:
    recipe = {
        "recipe": LAYER_RECIPE,
        "requirements": list(requirements),
        "constraints": CONSTRAINTS.read_text(),
        "platform": PIP_PLATFORM,
        "python": PIP_PYTHON_VERSION,
        "runtimeProvided": sorted(RUNTIME_PROVIDED),
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()


@jsii.implements(cdk.ILocalBundling)
class PackageSources:
    """Copies the Python packages of a source directory, without caches, into the asset."""

    def __init__(self, source: Path) -> None:
        self.source = source

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_: Any) -> bool:
        for package in sorted(self.source.iterdir()):
            if (package / "__init__.py").is_file():
                shutil.copytree(
                    package, Path(output_dir) / package.name, ignore=shutil.ignore_patterns(*SOURCE_IGNORE)
                )
        return True


@jsii.implements(cdk.ILocalBundling)
class PipLayer:
    """pip-installs the requirements for the Lambda platform into ``<asset>/python``."""

    def __init__(self, requirements: tuple[str, ...], constraints: Path) -> None:
        self.requirements = requirements
        self.constraints = constraints

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_: Any) -> bool:
        target = Path(output_dir) / "python"
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-compile",  # .pyc of this machine's Python would be dead weight on python3.12
            "--disable-pip-version-check",
            "--platform",
            PIP_PLATFORM,
            "--implementation",
            "cp",
            "--python-version",
            PIP_PYTHON_VERSION,
            "--only-binary=:all:",
            "--target",
            str(target),
            "--constraint",
            str(self.constraints),
            *self.requirements,
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            # Falling back to Docker would fail anyway on machines without an engine: say why pip failed.
            raise RuntimeError(f"building the dependencies layer failed:\n{result.stdout}{result.stderr}")
        remove_distributions(target, RUNTIME_PROVIDED)
        shutil.rmtree(target / "bin", ignore_errors=True)
        return True


def remove_distributions(site: Path, names: frozenset[str]) -> list[str]:
    """Uninstall distributions from a ``pip --target`` directory, by their RECORD files."""
    removed: list[str] = []
    emptied: set[Path] = set()
    for dist_info in sorted(site.glob("*.dist-info")):
        name = canonicalize_name(dist_info.name.removesuffix(".dist-info").rsplit("-", 1)[0])
        if name not in names:
            continue
        for line in (dist_info / "RECORD").read_text().splitlines():
            path = (site / line.split(",", 1)[0]).resolve()
            if path.is_file() and path.is_relative_to(site.resolve()):
                path.unlink()
                emptied.add(path.parent)
        shutil.rmtree(dist_info)
        removed.append(name)
    # Deepest first, so a package directory goes once its subpackages have gone.
    for deepest in sorted(emptied, key=lambda d: -len(d.parts)):
        directory = deepest
        while directory != site.resolve() and directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()
            directory = directory.parent
    return removed


def code_asset() -> lambda_.Code:
    """The handlers' packages (``fountain_saga``), as the functions import them."""
    return lambda_.Code.from_asset(
        str(LAMBDAS_DIR),
        exclude=list(SOURCE_IGNORE),
        bundling=cdk.BundlingOptions(image=RUNTIME.bundling_image, local=PackageSources(LAMBDAS_DIR)),
    )


def layer_asset() -> lambda_.Code:
    requirements = runtime_requirements()
    return lambda_.Code.from_asset(
        # Only the hash decides whether to rebuild; the directory itself is never read or copied.
        str(REPO / "infra"),
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        asset_hash=layer_hash(requirements),
        bundling=cdk.BundlingOptions(image=RUNTIME.bundling_image, local=PipLayer(requirements, CONSTRAINTS)),
    )
