"""The `cfg` fixture: an empty config directory with safe modes (see config_helpers)."""

from __future__ import annotations

from pathlib import Path

import pytest
from config_helpers import ConfigDir


@pytest.fixture
def cfg(tmp_path: Path) -> ConfigDir:
    return ConfigDir(tmp_path / "healerd")
