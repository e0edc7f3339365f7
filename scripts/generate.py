#!/usr/bin/env python3
"""Run image-relay-generate from a checkout, without installing the package."""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

try:
    from bridge.cli import main
except ModuleNotFoundError as exc:  # a dependency, not the package itself, is missing
    sys.stderr.write(f"generate.py: error: the Python package '{exc.name}' is missing; install the dependencies with "
                     f"`python -m pip install requests sseclient-py python-dotenv` (or `python -m pip install -e .` "
                     f"in {Path(__file__).resolve().parent.parent}).\n")
    error = {"code": "missing_dependency", "message": f"The Python package {exc.name!r} is missing.", "retryable": False}
    sys.stdout.write(json.dumps({"ok": False, "complete": False, "error": error}) + "\n")
    sys.exit(3)

sys.exit(main())
