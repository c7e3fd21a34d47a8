"""Rule tests use the shared factories in ``tests/factories.py``."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from factories import complaint, directory, engine, rules, txn  # noqa: E402,F401
