"""The errors a user can cause, in one place; `cli.main` catches `RayXRError` once.

    RayXRError                     a user mistake: one line for the terminal, exit code 2
     ├── SweepError (ValueError)   a sweep file: the field and what was expected
     ├── DataError (ValueError)    a data file or source: `PATH:LINE: problem` or the task/split/language
     ├── NoiseError (ValueError)   a noise request: unknown kind, bad level, missing or bad resource file
     ├── ReportError (ValueError)  a run folder that cannot be reported
     ├── ExportError (ValueError)  a run folder with nothing (or something ambiguous) to export
     ├── UnknownTask (LookupError) a task name not in the registry
     ├── RunLockedError            a run folder another `ray-xr run` is using
     └── ClusterError (ConnectionError)  no Ray cluster where the user pointed

Foreign errors (pydantic, YAML, OS, Ray) are translated where they enter, `from None`, so the
message names the file or field instead of showing a traceback. Programming errors stay
built-in exceptions and do show one. Standard library only: every layer may use this module.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for a near miss among `options`, else ''."""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class RayXRError(Exception):
    """Base of every user-facing error; str() is the whole message, one line."""


class SweepError(RayXRError, ValueError):
    """A user mistake in a sweep file; the message is one line naming the field."""


class DataError(RayXRError, ValueError):
    """Missing or malformed data: one line naming the file and line, or the task, split and language."""

    @classmethod
    def at(cls, path: object, line: int, problem: str) -> "DataError":
        """`PATH:LINE: problem`, or `PATH: problem` for line 0 (the file as a whole)."""
        return cls(f"{path}:{line}: {problem}" if line else f"{path}: {problem}")


class NoiseError(RayXRError, ValueError):
    """A noise request that cannot be served: unknown kind, bad level, missing resource."""


class ReportError(RayXRError, ValueError):
    """Results that cannot be turned into a report."""


class ExportError(RayXRError, ValueError):
    """Nothing to export, or an ambiguous request."""


class UnknownTask(RayXRError, LookupError):
    """A task name that is not in the registry."""


class RunLockedError(RayXRError, RuntimeError):
    """Another `ray-xr run` holds the run folder's lock."""


class ClusterError(RayXRError, ConnectionError):
    """--address names no reachable Ray cluster."""
