"""Binary files in a change: no gate can read them, so that is said rather than passed over.

A model that cannot get `subprocess.call(cmd, shell=True)` past bandit could ship it compiled:
an unchecked-hash `.pyc` that Python imports without looking at a `.py`, a shared library, an
executable. Such compiled code in a change is a high finding (it blocks acb's own commit);
any other binary file (an image, an archive) is a medium one, shown but not blocking, since
nothing reviewed it either.
"""

from __future__ import annotations

import stat
from pathlib import Path

from autocodebase.quality.review.findings import Finding

HEAD_BYTES = 8192
COMPILED_SUFFIXES = (".pyc", ".pyo", ".so", ".dylib", ".dll", ".exe", ".class", ".wasm")
COMPILED_MAGIC = (
    b"\x7fELF",  # Linux executables and shared libraries
    b"\xcf\xfa\xed\xfe",  # Mach-O 64-bit
    b"\xce\xfa\xed\xfe",  # Mach-O 32-bit
    b"\xca\xfe\xba\xbe",  # Mach-O universal, Java class
    b"MZ",  # Windows executables and libraries
    b"\x00asm",  # WebAssembly
)


def binary_findings(root: Path, files: list[str]) -> list[Finding]:
    found = []
    for name in files:
        head = _head(root / name)
        if head is None or b"\0" not in head:
            continue  # text (or not a regular file): the other gates read it
        compiled = name.endswith(COMPILED_SUFFIXES) or head.startswith(COMPILED_MAGIC)
        found.append(
            Finding(
                tool="binary",
                rule="compiled-code" if compiled else "binary-file",
                severity="high" if compiled else "medium",
                file=name,
                line=1,
                message=(
                    "compiled code, which runs as it is and which no gate can read"
                    if compiled
                    else "a binary file, which no gate reads"
                ),
                fix_hint="commit the source it is built from, and build it in CI"
                if compiled
                else "check it is what it should be",
            )
        )
    return found


def _head(path: Path) -> bytes | None:
    try:
        if not stat.S_ISREG(path.lstat().st_mode):
            return None
        with path.open("rb") as handle:
            return handle.read(HEAD_BYTES)
    except OSError:
        return None
