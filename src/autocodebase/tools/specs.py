"""Write `specs.json`: the schemas of acb's own tools as pydantic derives them, so a run can send
its first request without importing pydantic (see `tools.base`).

Usage: python -m autocodebase.tools.specs   (after changing a tool's signature or docstring;
the test suite fails until it is run).
"""

from __future__ import annotations

import json
from typing import Any

from autocodebase.tools import default_toolbox
from autocodebase.tools.base import SPECS_FILE, fingerprint


def derived_table() -> dict[str, dict[str, Any]]:
    """Every default tool's schema as derived now, with the fingerprint it was derived from."""
    table = {}
    for tool in default_toolbox().tools:
        spec = tool.derived_spec()
        table[tool.name] = {
            "fingerprint": fingerprint(tool.function),
            "description": spec.description,
            "parameters": spec.parameters,
        }
    return table


def main() -> None:
    SPECS_FILE.write_text(json.dumps(derived_table(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {SPECS_FILE}")


if __name__ == "__main__":
    main()
