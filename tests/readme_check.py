#!/usr/bin/env python3
"""Run README.md, then every docs/*.md, as a newcomer would, in a fresh clone: every ```bash /
```sh block (indented ones in lists too), line by line, as written, and check what the document
promises about each line.

    python3 tests/readme_check.py [--repo DIR] [--keep]      (.ci/run runs it after `make test`)

The clone (of the repository's committed HEAD) gets ../shared beside it, as CI lays it out.
Lines run in order in the clone's root; `source`, `export` and `cd` lines carry over to the
lines after them, as in one terminal: the README's into every docs file (each assumes its quick
start), a docs file's own within that file. A document annotates, in comments a reader reads too:

    CMD   # exits 2: ...            the exit code expected (default 0)
    CMD   # {"examples": 200, ...}  each `"key": N` quoted must be in what CMD prints
    CMD   # prints the table above  what CMD prints is the document's markdown table just before
                                    the block, exactly (the demo table is pasted, never typed)
    <!-- readme-check: skip (REASON) -->   on the line before a fence: the block is not run
                                    (a cluster, the network, or the test suite CI just ran),
                                    and the check says so with the reason
    <!-- readme-check: numbers in FILE -->  on the line before a paragraph: each decimal number
                                    in it (sign included) and each `N of M` is in FILE (of the
                                    clone, once every block has run), so prose quoting a run
                                    cannot go stale

Standard library only: it runs before and outside the virtual environment it makes.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^\s*```(bash|sh)\s*$")
SKIP = re.compile(r"^\s*<!-- readme-check: skip \((.+)\) -->$")
NUMBERS_IN = re.compile(r"^<!-- readme-check: numbers in (\S+) -->$")
NUMBER = re.compile(r"(?<![\w.])[+-]?\d+\.\d+|\b\d+ of \d+\b")
EXITS = re.compile(r"\bexits (\d+)")
QUOTED = re.compile(r'"(\w+)": (\d+)')
STATE = ("source ", "export ", "cd ")
TIMEOUT_S = 3600  # `make demo` from nothing: the install and the demo sweep


@dataclass(frozen=True)
class Line:
    number: int  # in its document
    command: str
    comment: str
    document: str = "README.md"

    @property
    def where(self) -> str:
        return f"{self.document}:{self.number}"

    @property
    def expected(self) -> int:
        found = EXITS.search(self.comment)
        return int(found.group(1)) if found else 0


@dataclass
class Block:
    number: int
    lines: list[Line]
    skip: str | None
    table: str | None  # the last markdown table before the block


def split_comment(text: str) -> tuple[str, str]:
    """A shell line and its comment: the first `#` outside quotes that starts a word."""
    quote = None
    for i, char in enumerate(text):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or text[i - 1].isspace()):
            return text[:i].strip(), text[i + 1:].strip()
    return text.strip(), ""


def documents(root: Path) -> list[str]:
    """README.md, then docs/*.md in name order: the paths (relative to root) the check runs."""
    return ["README.md"] + sorted(str(p.relative_to(root)) for p in (root / "docs").glob("*.md"))


def blocks(readme: str, document: str = "README.md") -> list[Block]:
    out: list[Block] = []
    current, skip, table, rows = None, None, None, []
    for number, text in enumerate(readme.splitlines(), start=1):
        if current is not None:
            if text.strip().startswith("```"):
                out.append(current)
                current = None
            elif text.strip():
                command, comment = split_comment(text)
                if command:
                    current.lines.append(Line(number, command, comment, document))
            continue
        if text.startswith("|"):
            rows.append(text)
            continue
        if rows:
            table, rows = "\n".join(rows), []
        if FENCE.match(text):
            current, skip = Block(number, [], skip, table), None
        elif SKIP.match(text):
            skip = SKIP.match(text).group(1)
        elif text.strip():
            skip = None
    return out


def quoted_paragraphs(readme: str) -> list[tuple[int, str, str]]:
    """(line, file, paragraph) for each paragraph under a `numbers in FILE` marker."""
    lines, out = readme.splitlines(), []
    for i, text in enumerate(lines):
        found = NUMBERS_IN.match(text)
        if found:
            end = next((j for j in range(i + 1, len(lines)) if not lines[j].strip()), len(lines))
            out.append((i + 2, found.group(1), " ".join(lines[i + 1:end])))
    return out


def check_numbers(readme: str, root: Path, document: str = "README.md") -> list[str]:
    problems = []
    for number, name, paragraph in quoted_paragraphs(readme):
        path = root / name
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        missing = [n for n in NUMBER.findall(paragraph) if n not in text]
        print(f"  {document}:{number}: {len(NUMBER.findall(paragraph))} numbers checked against {name}", flush=True)
        if missing:
            problems.append(f"{document}:{number}: not in {name}: {', '.join(missing)}")
    return problems


def clone(repo: Path, into: Path) -> Path:
    """A fresh clone of HEAD with ../shared beside it (read-only data the documents point at)."""
    target = into / repo.name
    subprocess.run(["git", "clone", "--quiet", str(repo), str(target)], check=True)
    shared = repo.parent / "shared"
    if shared.exists():
        (into / "shared").symlink_to(shared.resolve())
    return target


def check_line(line: Line, prelude: list[str], root: Path, table: str | None, env: dict) -> list[str]:
    """Run one line after the state lines before it; the problems found, as DOCUMENT:LINE lines."""
    script = "\n".join(["set -e", *prelude, "set +e", line.command])
    started = time.monotonic()
    done = subprocess.run(["bash", "-c", script], cwd=root, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT_S)
    took = time.monotonic() - started
    print(f"  {line.where}: {line.command}  -> exit {done.returncode} ({took:.0f} s)", flush=True)
    where = f"{line.where}: `{line.command}`"
    problems = []
    if done.returncode != line.expected:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        problems.append(f"{where} exited {done.returncode}, {line.document} says {line.expected}\n{tail}")
    for key, value in QUOTED.findall(line.comment):
        if f'"{key}": {value}' not in done.stdout:
            problems.append(f'{where} prints no "{key}": {value}, which {line.document} quotes')
    if "prints the table above" in line.comment and done.stdout.strip() != (table or "").strip():
        problems.append(f"{where} prints another table than {line.document}'s:\n{done.stdout.strip()}")
    return problems


def run_document(text: str, document: str, root: Path, prelude: list[str], env: dict) -> list[str]:
    """Every block of one document; `prelude` (the state lines before it) grows with its own."""
    problems = []
    for block in blocks(text, document):
        if block.skip:
            print(f"SKIP {document}:{block.number}: {block.skip}: "
                  + "; ".join(line.command for line in block.lines), flush=True)
            continue
        print(f"{document}:{block.number}:", flush=True)
        for line in block.lines:
            problems += check_line(line, prelude, root, block.table, env)
            if line.command.startswith(STATE):
                prelude.append(line.command)
    return problems


def run(root: Path) -> list[str]:
    """README.md (its state lines carry into every docs file), then each docs file; the numbers
    the documents quote are checked once every block has run."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    texts = {name: (root / name).read_text(encoding="utf-8") for name in documents(root)}
    readme_prelude: list[str] = []
    problems = run_document(texts["README.md"], "README.md", root, readme_prelude, env)
    for name, text in texts.items():
        if name != "README.md":
            problems += run_document(text, name, root, list(readme_prelude), env)
    for name, text in texts.items():
        problems += check_numbers(text, root, name)
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", type=Path, default=REPO, help="the repository to clone (default: this one)")
    ap.add_argument("--keep", action="store_true", help="keep the clone (its path is printed)")
    args = ap.parse_args()
    started = time.monotonic()
    temp = Path(tempfile.mkdtemp(prefix="readme-check-"))
    try:
        root = clone(args.repo.resolve(), temp)
        print(f"readme-check: fresh clone in {root}", flush=True)
        problems = run(root)
    finally:
        if not args.keep:
            shutil.rmtree(temp, ignore_errors=True)
    for problem in problems:
        print(f"readme-check: {problem}", file=sys.stderr)
    verdict = f"FAILED, {len(problems)} problem(s)" if problems else "every command ran as the README and docs say"
    print(f"readme-check: {verdict} ({time.monotonic() - started:.0f} s)", flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
