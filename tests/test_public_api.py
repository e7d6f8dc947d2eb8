"""The library's surface: ``trailmin.__all__`` is the namespace, both ways, and every type a public
function or ``trailmin.Lake`` method returns is exported (as httpx checks its own)."""

from __future__ import annotations

import importlib
import inspect
import re
import types

import pytest

import trailmin

# The names a package binds for itself: its subpackages and modules, once imported.
SUBPACKAGES = {"api", "aws", "cli", "errors", "explore", "iam", "ingestion", "job", "lake"}
SUBPACKAGES |= {"mapping", "policy", "query", "synth", "text"}


def test_all_names_every_export_and_nothing_else():
    assert len(set(trailmin.__all__)) == len(trailmin.__all__)
    for name in trailmin.__all__:
        assert getattr(trailmin, name) is not None, name
    for package in SUBPACKAGES:
        importlib.import_module(f"trailmin.{package}")
    public = {
        name
        for name, value in vars(trailmin).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public <= set(trailmin.__all__), public - set(trailmin.__all__)
    modules = {n for n, v in vars(trailmin).items() if isinstance(v, types.ModuleType)}
    assert modules - {"_importlib", "_typing"} <= SUBPACKAGES
    assert set(dir(trailmin)) >= set(trailmin.__all__)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'no_such_thing'"):
        trailmin.no_such_thing  # noqa: B018


def _returned_types(function: object) -> set[type]:
    """The trailmin classes that ``function``'s return annotation names."""
    annotation = inspect.signature(function).return_annotation  # type: ignore[arg-type]
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    namespace = vars(inspect.getmodule(function))
    found = set()
    for name in re.findall(r"[A-Za-z_][\w.]*", text):
        value = namespace.get(name.split(".")[0])
        for part in name.split(".")[1:]:
            value = getattr(value, part, None)
        if isinstance(value, type) and value.__module__.startswith("trailmin."):
            found.add(value)
    return found


def test_every_type_a_public_function_returns_is_exported():
    exported = {getattr(trailmin, n) for n in trailmin.__all__}
    callables = [
        getattr(trailmin, n) for n in trailmin.__all__ if inspect.isfunction(getattr(trailmin, n))
    ]
    methods = [
        m for n, m in vars(trailmin.Lake).items() if inspect.isfunction(m) and not n.startswith("_")
    ]
    returned = set().union(*(_returned_types(f) for f in callables + methods))
    # Not vacuous: the proposals, verdicts, reports and summaries are among them.
    assert {trailmin.Proposal, trailmin.Verdict, trailmin.Audit, trailmin.Window} <= returned
    assert {trailmin.DiffReport, trailmin.MappingReport, trailmin.IngestSummary} <= returned
    assert returned <= exported, {t.__qualname__ for t in returned - exported}


def test_the_package_says_it_is_typed():
    assert (importlib.resources.files("trailmin") / "py.typed").is_file()
