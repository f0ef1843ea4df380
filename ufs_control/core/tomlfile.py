"""Read a TOML file, turning every way it can fail into one line for the caller's error type."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ufs_control.core.errors import UfsError

# No file this program reads comes near these: a 1000-segment profile is about 70 kB and 3 levels deep
# (file, segment list, segment), a rig file a few kB. Larger or deeper input is a mistake or an attack, and
# parsing it unchecked costs memory or, for nesting, a RecursionError.
MAX_BYTES = 1_000_000
MAX_DEPTH = 32


def parse_toml(text: str, source: str, error: Callable[[str, str, str], UfsError]) -> dict[str, Any]:
    """Parse TOML ``text`` nested at most ``MAX_DEPTH`` deep; on failure raise ``error(source, "", message)``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(source, "", f"invalid TOML: {exc}") from None
    except RecursionError:
        raise error(source, "", f"invalid TOML: nested deeper than {MAX_DEPTH} levels") from None
    # Iterative, so that checking the depth cannot itself recurse too deeply.
    stack: list[tuple[dict[str, Any] | list[Any], int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise error(source, "", f"invalid TOML: nested deeper than {MAX_DEPTH} levels")
        children = value.values() if isinstance(value, dict) else value
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return data


def read_toml(
    path: str | Path, error: Callable[[str, str, str], UfsError], max_bytes: int = MAX_BYTES
) -> dict[str, Any]:
    """Parse the file ``path`` of at most ``max_bytes``; on failure raise ``error(file, field, message)`` (e.g.
    ProfileError or ConfigError)."""
    source = str(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(max_bytes + 1)  # bounded: a device or a huge file never fills the memory
    except FileNotFoundError:
        raise error(source, "", "no such file") from None
    except IsADirectoryError:
        raise error(source, "", "is a directory, not a TOML file") from None
    except OSError as exc:
        raise error(source, "", f"cannot read: {exc.strerror}") from None
    if len(raw) > max_bytes:
        raise error(source, "", f"too large: more than {max_bytes:,} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise error(source, "", "not a text file") from None
    return parse_toml(text, source, error)
