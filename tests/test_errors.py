"""One user-facing error base, mapped to the documented exit codes in one place (issue 17).

Every exception class the package defines (public name) must derive from ``CosmosBenchError``, so the
CLI's one handler (``cli.errors.ErrorReportingGroup``) can give it a one-line message and its exit code
instead of each command catching its own mix. The exit codes are the README's ("Exit codes and errors").
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import cosmos_bench
from cosmos_bench import errors
from cosmos_bench.cli.errors import ErrorReportingGroup, exit_code_of

README = Path(__file__).resolve().parents[1] / "README.md"
# Modules that run a program when imported. Private classes (``_Transient`` and the like: the judge
# client's retry signals, caught where they are raised) never reach a user and are not walked.
SKIP_MODULES = {"cosmos_bench.cli.__main__", "cosmos_bench.train.__main__"}


def _package_exceptions() -> list[type[BaseException]]:
    found = []
    for info in pkgutil.walk_packages(cosmos_bench.__path__, "cosmos_bench."):
        if info.name in SKIP_MODULES:
            continue
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, KeyboardInterrupt):  # a signal, not an error: exit 128 + signal (tests/test_faults.py)
                continue
            if issubclass(cls, BaseException) and cls.__module__ == info.name and not cls.__name__.startswith("_"):
                found.append(cls)
    return found


EXCEPTIONS = _package_exceptions()


def _instance(cls: type[BaseException]) -> BaseException:
    exc = cls.__new__(cls)  # constructors differ (paths, names); the handler only needs a message
    Exception.__init__(exc, f"a {cls.__name__} happened")
    return exc


def test_the_walk_sees_the_domain_errors() -> None:
    names = {c.__name__ for c in EXCEPTIONS}
    assert {"SuiteError", "ModelConfigError", "AdapterNotTrainedError", "VideoError", "RayExecutorError",
            "JudgeEndpointError", "RubricError", "StoreError", "RecipeError", "TrainError", "DatasetError",
            "MixedGenerationError", "UnsafePromptError"} <= names


@pytest.mark.parametrize("cls", EXCEPTIONS, ids=lambda c: f"{c.__module__}.{c.__name__}")
def test_every_package_error_is_a_cosmos_bench_error(cls: type[BaseException]) -> None:
    assert issubclass(cls, errors.CosmosBenchError), f"{cls.__module__}.{cls.__name__} bypasses the CLI's one handler"


def test_domain_errors_keep_the_builtin_bases_callers_catch() -> None:
    by_name = {c.__name__: c for c in EXCEPTIONS}
    for name in ("SuiteError", "ModelConfigError", "VideoError", "RubricError", "RecipeError", "DatasetError",
                 "InputError"):
        assert issubclass(by_name[name], ValueError), name
    for name in ("RayExecutorError", "JudgeEndpointError", "TrainError"):
        assert issubclass(by_name[name], RuntimeError), name
    assert issubclass(errors.MissingInputError, FileNotFoundError)


def _documented_codes() -> dict[int, str]:
    text = README.read_text()
    section = text.split("## Exit codes and errors", 1)[1].split("\n## ", 1)[0]
    return {int(m.group(1)): m.group(2) for m in re.finditer(r"^\| (\d) \| (.+?) \|$", section, flags=re.M)}


def test_readme_documents_the_exit_codes_errors_py_defines() -> None:
    codes = _documented_codes()
    assert sorted(codes) == [0, 1, 2, 3, 4, 5]
    assert (errors.EXIT_OK, errors.EXIT_FAILED_WORK, errors.EXIT_BAD_INPUT, errors.EXIT_UNDECIDED,
            errors.EXIT_INTERNAL, errors.EXIT_INCOMPLETE) == (0, 1, 2, 3, 4, 5)
    assert codes[5].startswith("`run`/`rescore`") and "another run" in codes[5]
    assert codes[2].startswith("bad input") and codes[3].startswith("`check` cannot decide")
    assert codes[4].startswith("an unexpected error")


def _expected_code(cls: type[BaseException]) -> int:
    """Work that could not be done (no Ray worker, no judge server) is 1; the machine refusing (a full disk)
    is 4; every other domain error is bad input."""
    if issubclass(cls, errors.WorkFailedError):
        return errors.EXIT_FAILED_WORK
    return errors.EXIT_INTERNAL if issubclass(cls, errors.MachineError) else errors.EXIT_BAD_INPUT


def _app_raising(exc: BaseException) -> typer.Typer:
    app = typer.Typer(cls=ErrorReportingGroup)

    @app.command()
    def boom() -> None:
        raise exc

    @app.command()
    def other() -> None:  # two commands, so `boom` is a subcommand as in the real CLI
        pass

    return app


@pytest.mark.parametrize("cls", EXCEPTIONS, ids=lambda c: c.__name__)
def test_the_one_handler_gives_the_documented_code_and_one_line(cls: type[BaseException]) -> None:
    exc = _instance(cls)
    assert exit_code_of(exc) == _expected_code(cls)
    result = CliRunner().invoke(_app_raising(exc), ["boom"])
    assert result.exit_code == _expected_code(cls), result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [f"error: a {cls.__name__} happened"], result.output  # one line, no traceback


def test_anything_else_is_an_unexpected_error_with_the_debug_hint() -> None:
    result = CliRunner().invoke(_app_raising(KeyError("surprise")), ["boom"])
    assert result.exit_code == errors.EXIT_INTERNAL == exit_code_of(KeyError("x"))
    assert "KeyError: 'surprise'" in result.output and "--debug" in result.output


def test_the_library_names_a_parameter_and_the_cli_shows_its_flag() -> None:
    """Library messages name no flag (issue 17): ``option`` is the parameter; only the CLI spells it as one."""
    from cosmos_bench.results.sequential import metric_rules

    with pytest.raises(errors.InputError) as info:
        metric_rules("if=abc")
    exc = info.value
    assert str(exc).startswith("margin: 'if=abc'") and "--" not in str(exc)
    result = CliRunner().invoke(_app_raising(exc), ["boom"])
    assert result.exit_code == 2 and result.output.startswith("error: --margin: 'if=abc'"), result.output
    snake = errors.InputError("not found", option="models_file")
    result = CliRunner().invoke(_app_raising(snake), ["boom"])
    assert result.output.startswith("error: --models-file: not found"), result.output
