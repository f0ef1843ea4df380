"""Read a TOML file, turning every way it can fail into one line for the caller's error type."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ufs_control.core.errors import UfsError


def read_toml(path: str | Path, error: Callable[[str, str, str], UfsError]) -> dict[str, Any]:
    """Parse ``path``; on failure raise ``error(file, field, message)`` (e.g. ProfileError or ConfigError)."""
    source = str(path)
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise error(source, "", "no such file") from None
    except IsADirectoryError:
        raise error(source, "", "is a directory, not a TOML file") from None
    except OSError as exc:
        raise error(source, "", f"cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(source, "", f"invalid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise error(source, "", "not a text file") from None
