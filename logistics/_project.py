"""Where the project lives and the prefix of its environment variables: read by the settings and by
the module that describes configuration problems (so neither imports the other for them)."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = PROJECT_ROOT / "config"
ENV_PREFIX = "LOGISTICS_"
