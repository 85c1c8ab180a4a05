"""The Lambda assets without Docker: what goes into the code asset and into the layer."""

from __future__ import annotations

from pathlib import Path

from fountain_infra import bundling


def _install(site: Path, name: str, version: str, files: dict[str, str]) -> None:
    """A distribution as pip --target leaves it: files plus a dist-info with a RECORD."""
    for relative, text in files.items():
        (site / relative).parent.mkdir(parents=True, exist_ok=True)
        (site / relative).write_text(text)
    dist_info = site / f"{name}-{version}.dist-info"
    dist_info.mkdir()
    record = [f"{relative},sha256=x,1" for relative in files] + [f"{dist_info.name}/RECORD,,"]
    (dist_info / "RECORD").write_text("\n".join(record) + "\n")


def test_the_layer_leaves_the_sdk_to_the_runtime_and_keeps_everything_else(tmp_path: Path) -> None:
    site = tmp_path / "python"
    _install(site, "botocore", "1.44.8", {"botocore/__init__.py": "", "botocore/data/s3.json": "{}"})
    _install(site, "python_dateutil", "2.9.0", {"dateutil/__init__.py": ""})
    _install(site, "six", "1.17.0", {"six.py": ""})
    _install(site, "pynamodb", "6.1.0", {"pynamodb/__init__.py": "", "pynamodb/models.py": ""})
    removed = bundling.remove_distributions(site, bundling.RUNTIME_PROVIDED)
    assert sorted(removed) == ["botocore", "python-dateutil", "six"]
    left = sorted(p.relative_to(site).as_posix() for p in site.rglob("*"))
    assert left == [
        "pynamodb",
        "pynamodb-6.1.0.dist-info",
        "pynamodb-6.1.0.dist-info/RECORD",
        "pynamodb/__init__.py",
        "pynamodb/models.py",
    ]


def test_the_layer_installs_the_projects_runtime_dependencies_but_boto3() -> None:
    requirements = bundling.runtime_requirements()
    names = {bundling.requirement_name(r) for r in requirements}
    assert names == {"aws-lambda-powertools", "pynamodb"}  # the Fountain reader is our own code
    assert any("[parser,tracer]" in r for r in requirements)


def test_the_layer_is_rebuilt_only_when_what_pip_would_install_changes() -> None:
    requirements = bundling.runtime_requirements()
    assert bundling.layer_hash(requirements) == bundling.layer_hash(requirements)
    assert bundling.layer_hash(requirements) != bundling.layer_hash((*requirements, "attrs"))


def test_the_code_asset_holds_the_packages_without_caches(tmp_path: Path) -> None:
    source = tmp_path / "lambdas"
    for relative in ("pkg/__init__.py", "pkg/mod.py", "pkg/__pycache__/mod.cpython-311.pyc", "notes.txt"):
        (source / relative).parent.mkdir(parents=True, exist_ok=True)
        (source / relative).write_text("")
    out = tmp_path / "out"
    out.mkdir()
    assert bundling.PackageSources(source).try_bundle(str(out), image=bundling.RUNTIME.bundling_image)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        "pkg",
        "pkg/__init__.py",
        "pkg/mod.py",
    ]
