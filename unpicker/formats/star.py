"""Reading and writing STAR files, by column name, keeping the original text.

A STAR file is a sequence of data blocks (``data_NAME``). A block holds either
key-value pairs (``_rlnKey value``) or a table (``loop_`` followed by column
declarations ``_rlnColumn #N`` and one row per line). RELION 3.0 writes one
block per coordinate file; RELION 3.1 and later add a ``data_optics`` block
and a ``# version 30001`` comment before each block.

The parser keeps every line of the file, and for each table row the index of
the line it came from. Outputs that drop rows or append a column are made by
editing those lines (:func:`edit_loop`), so every value a user had is written
back as its original text: nothing is re-formatted or rounded.

Column names are stored without the leading underscore (``rlnCoordinateX``),
as the ``starfile`` library does. Values are stored as text with quotes
removed; :meth:`StarBlock.floats` converts a column to numbers and names the
file, line and value of anything that is not a number.

Not supported: CIF multi-line text fields (``;`` ... ``;``), which RELION never
writes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

__all__ = [
    "StarError",
    "StarBlock",
    "StarFile",
    "read_star",
    "parse_star",
    "format_loop_block",
    "edit_loop",
    "with_marker",
    "read_marker",
]


class StarError(ValueError):
    """A STAR file that cannot be read; the message names the file and line."""


# A token is a single- or double-quoted string (closed by the quote followed by
# whitespace or the end of the line, as STAR defines it) or a run of non-blanks.
_TOKEN = re.compile(r"""'(.*?)'(?=\s|$)|"(.*?)"(?=\s|$)|(\S+)""")


def _split_fields(line: str) -> list[str]:
    """Split one line into values, removing quotes and a trailing ``#`` comment."""
    if "'" not in line and '"' not in line:
        fields = line.split()
    else:
        fields = []
        for m in _TOKEN.finditer(line):
            if m.group(3) is not None:
                if m.group(3).startswith("#"):
                    break
                fields.append(m.group(3))
            else:
                fields.append(m.group(1) if m.group(1) is not None else m.group(2))
        return fields
    for i, f in enumerate(fields):
        if f.startswith("#"):
            return fields[:i]
    return fields


@dataclass
class StarBlock:
    """One ``data_`` block: key-value pairs or one table.

    Attributes:
        name: the block name without ``data_`` (``""`` for a bare ``data_``).
        source: the file it came from, for error messages.
        pairs: key -> value text, for key-value blocks (keys without ``_``).
        columns: the table's column names in file order (without ``_``);
            empty for key-value blocks.
        rows: one list of value texts per table row.
        row_lines: for each row, the 0-based index of its line in the file.
        column_lines: for each column, the 0-based index of its declaration line.
        indexed_columns: whether the declarations carry ``#N`` indices.
        extra_fields: rows may hold more values than declared columns (only
            when the file was read with ``allow_extra_fields``).
    """

    name: str
    source: str = "<string>"
    pairs: dict[str, str] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    row_lines: list[int] = field(default_factory=list)
    column_lines: list[int] = field(default_factory=list)
    indexed_columns: bool = False
    is_loop: bool = False
    loop_line: int = -1

    def __len__(self) -> int:
        return len(self.rows)

    def has_columns(self, *names: str) -> bool:
        return all(n.lstrip("_") in self.columns for n in names)

    def column_index(self, name: str) -> int:
        name = name.lstrip("_")
        try:
            return self.columns.index(name)
        except ValueError:
            raise StarError(
                f"{self.source}: block data_{self.name} has no column _{name}"
                f" (columns: {', '.join('_' + c for c in self.columns) or 'none'})"
            ) from None

    def column(self, name: str) -> list[str]:
        """The values of one column, as text."""
        i = self.column_index(name)
        return [row[i] for row in self.rows]

    def floats(self, name: str, finite: bool = True) -> np.ndarray:
        """One column as float64, with an error naming file, line and value
        for anything that is not a number (or, with ``finite``, is NaN or
        infinite)."""
        i = self.column_index(name)
        out = np.empty(len(self.rows), dtype=np.float64)
        for k, row in enumerate(self.rows):
            try:
                out[k] = float(row[i])
            except ValueError:
                raise StarError(
                    f"{self.source}:{self.row_lines[k] + 1}: _{self.columns[i]}"
                    f" is not a number: {row[i]!r}"
                ) from None
        if finite and not np.isfinite(out).all():
            k = int(np.argmin(np.isfinite(out)))
            raise StarError(f"{self.source}:{self.row_lines[k] + 1}: _{self.columns[i]}"
                            f" is not a finite number: {self.rows[k][i]!r}")
        return out

    def value(self, name: str) -> str:
        """A key-value block's value, or a table's value when it has one row."""
        key = name.lstrip("_")
        if key in self.pairs:
            return self.pairs[key]
        if key in self.columns and len(self.rows) == 1:
            return self.rows[0][self.columns.index(key)]
        raise StarError(f"{self.source}: block data_{self.name} has no single value _{key}")


@dataclass
class StarFile:
    """A parsed STAR file: its blocks in order and every line of its text."""

    source: str
    lines: list[str]
    blocks: list[StarBlock]
    ends_with_newline: bool = True

    def block(self, name: str) -> StarBlock:
        """The last block with this name (as RELION and ``starfile`` resolve repeats)."""
        for b in reversed(self.blocks):
            if b.name == name:
                return b
        raise StarError(
            f"{self.source}: no block data_{name}"
            f" (blocks: {', '.join('data_' + b.name for b in self.blocks) or 'none'})"
        )

    def find_loop(self, *columns: str) -> StarBlock:
        """The first table that has all these columns."""
        for b in self.blocks:
            if b.is_loop and b.has_columns(*columns):
                return b
        names = ", ".join("_" + c.lstrip("_") for c in columns)
        raise StarError(f"{self.source}: no table with the columns {names}")


def read_star(path: str | Path, allow_extra_fields: bool = False) -> StarFile:
    """Read a STAR file. ``allow_extra_fields`` accepts rows with more values
    than declared columns (the original emUnpicker's training files)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")    # a byte-order mark is not part of the text
    except UnicodeDecodeError:
        raise StarError(f"{path}: not a text file") from None
    except OSError as e:
        raise StarError(f"{path}: cannot be read: {e.strerror}") from None
    return parse_star(text, str(path), allow_extra_fields)


def parse_star(text: str, source: str = "<string>", allow_extra_fields: bool = False) -> StarFile:
    """Parse STAR text. See the module docstring for what is kept."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.splitlines()
    blocks: list[StarBlock] = []
    block: StarBlock | None = None
    state = "top"  # top | pairs | header | rows

    def new_loop_block(name: str) -> StarBlock:
        b = StarBlock(name=name, source=source, is_loop=True)
        blocks.append(b)
        return b

    for n, raw in enumerate(lines):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("data_"):
            block = StarBlock(name=line.split()[0][5:], source=source)
            blocks.append(block)
            state = "pairs"
            continue
        if block is None:
            raise StarError(f"{source}:{n + 1}: text before the first data_ block: {line[:60]!r}")
        if line.startswith("loop_"):
            if block.is_loop or block.pairs:
                # A second table (or a table after pairs) in one block: keep it
                # as its own block of the same name.
                block = new_loop_block(block.name)
            block.is_loop = True
            block.loop_line = n
            state = "header"
            continue
        if line.startswith("_"):
            fields = _split_fields(line)
            if state == "header":
                block.columns.append(fields[0][1:])
                block.column_lines.append(n)
                if len(fields) == 1 and "#" in line:
                    block.indexed_columns = True
                continue
            if state == "rows":
                # pairs after a table: a new key-value block of the same name
                block = StarBlock(name=block.name, source=source)
                blocks.append(block)
                state = "pairs"
            if len(fields) < 2:
                raise StarError(f"{source}:{n + 1}: key {fields[0]} has no value")
            block.pairs[fields[0][1:]] = fields[1]
            continue
        if state in ("header", "rows"):
            state = "rows"
            fields = _split_fields(line)
            ncol = len(block.columns)
            if len(fields) < ncol or (len(fields) > ncol and not allow_extra_fields):
                raise StarError(
                    f"{source}:{n + 1}: expected {ncol} values (the columns of"
                    f" data_{block.name}), found {len(fields)}: {line[:80]!r}"
                )
            block.rows.append(fields)
            block.row_lines.append(n)
            continue
        raise StarError(f"{source}:{n + 1}: unexpected text in data_{block.name}: {line[:60]!r}")

    return StarFile(source, lines, blocks, ends_with_newline=text.endswith("\n") or not text)


def _split_comment(line: str) -> tuple[str, str]:
    """A row's values and its trailing ``# comment`` (with the whitespace
    before it), split where :func:`_split_fields` stops reading."""
    if "#" not in line:
        return line, ""
    for m in _TOKEN.finditer(line):
        if m.group(3) is not None and m.group(3).startswith("#"):
            start = m.start()
            while start > 0 and line[start - 1].isspace():
                start -= 1
            return line[:start], line[start:]
    return line, ""


def _format_value(value: object) -> str:
    text = str(value)
    if text == "" or any(c.isspace() for c in text):
        return '"' + text + '"'
    return text


def format_loop_block(
    name: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[object]],
    version_comment: str | None = None,
) -> str:
    """Text of one table block, RELION style (``#N`` indices, one row a line).

    Values are written with ``str``; pass text to control the number format.
    """
    out = []
    if version_comment:
        out += ["", f"# {version_comment}"]
    out += ["", f"data_{name}", "", "loop_"]
    out += [f"_{c.lstrip('_')} #{i + 1}" for i, c in enumerate(columns)]
    out += [" ".join(_format_value(v) for v in row) for row in rows]
    return "\n".join(out) + "\n\n"


def _field_spans(line: str) -> list[tuple[int, int]]:
    """The (start, end) of each value in a row, as :func:`_split_fields`
    reads them (quotes included, a trailing comment excluded)."""
    spans = []
    for m in _TOKEN.finditer(line):
        if m.group(3) is not None and m.group(3).startswith("#"):
            break
        spans.append(m.span())
    return spans


def edit_loop(
    star: StarFile,
    block: StarBlock,
    keep: Sequence[bool] | np.ndarray | None = None,
    new_columns: dict[str, Sequence[str]] | None = None,
    extra_rows: Sequence[Sequence[str]] = (),
) -> str:
    """The file's text with one table edited, every other line untouched.

    Args:
        keep: per row of ``block``, whether the row stays (default: all).
        new_columns: column name -> one text value per *kept* row. A column
            the table does not have is appended after its columns (declared
            after the last declaration); one it has gets the new values in
            place, every other value of the row keeping its text and spacing.
        extra_rows: whole rows (every column, new ones included) appended at
            the end of the table.
    """
    keep = np.ones(len(block.rows), bool) if keep is None else np.asarray(keep, bool)
    if len(keep) != len(block.rows):
        raise ValueError("keep must have one entry per row")
    new_columns = dict(new_columns or {})
    kept = int(keep.sum())
    for cname, values in new_columns.items():
        if len(values) != kept:
            raise ValueError(f"column {cname}: {len(values)} values for {kept} kept rows")
    replaced = {block.columns.index(c.lstrip("_")): v for c, v in new_columns.items() if block.has_columns(c)}
    added = {c: v for c, v in new_columns.items() if not block.has_columns(c)}

    drop = {line for line, k in zip(block.row_lines, keep) if not k}
    row_pos = {line: i for i, line in enumerate(block.row_lines)}
    kept_index = np.cumsum(keep) - 1
    after_header = block.column_lines[-1] if block.column_lines else block.loop_line
    last_row_line = block.row_lines[-1] if block.row_lines else after_header

    out: list[str] = []
    for n, line in enumerate(star.lines):
        if n in drop:
            continue
        if n in row_pos and new_columns:
            k = kept_index[row_pos[n]]
            if replaced:
                spans = _field_spans(line)
                for col in sorted(replaced, reverse=True):     # from the right: earlier spans stay valid
                    a, b = spans[col]
                    line = line[:a] + _format_value(replaced[col][k]) + line[b:]
            if added:
                values, comment = _split_comment(line)
                line = values.rstrip() + " " + " ".join(_format_value(v[k]) for v in added.values()) + comment
        out.append(line)
        if n == after_header:
            for j, cname in enumerate(added):
                idx = f" #{len(block.columns) + j + 1}" if block.indexed_columns else ""
                out.append(f"_{cname.lstrip('_')}{idx}")
        if n == last_row_line:
            out += [" ".join(_format_value(v) for v in row) for row in extra_rows]
    text = "\n".join(out)
    return text + "\n" if (star.ends_with_newline or extra_rows or new_columns) and text else text


# The last line of every STAR file emUnpicker writes says so, and in what role
# (an unpicked coordinate file, a training file, a list of them), so that a
# later run can tell its own outputs from the user's files.
MARKER = "# written by emUnpicker"
_MARKER_LINE = re.compile(r"^# written by emUnpicker (\S+) as ([^;]+?)(?:; (.*))?$")


def with_marker(text: str, role: str, details: str = "") -> str:
    """``text`` with emUnpicker's marker as its last line, after a blank line
    (RELION ends a table at a blank line, so the comment lies outside it).
    Markers the text already had (it was copied from an output) are dropped.
    ``details``: more of what the file was written with (one line)."""
    from .. import __version__

    lines = [line for line in text.splitlines() if not line.startswith(MARKER)]
    while lines and not lines[-1].strip():
        lines.pop()
    marker = f"{MARKER} {__version__} as {role}" + (f"; {details}" if details else "")
    return "\n".join(lines + ["", marker]) + "\n"


def read_marker(path: str | Path) -> tuple[str, str] | None:
    """The (role, details) of the marker :func:`with_marker` wrote at the end
    of ``path``; None when there is none (or the file cannot be read)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(f.tell() - 4096, 0))
            tail = f.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    for line in reversed(tail.splitlines()):
        m = _MARKER_LINE.match(line.strip())
        if m:
            return m.group(2), m.group(3) or ""
    return None
