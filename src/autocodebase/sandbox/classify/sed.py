"""Does a sed command line only print? Reads GNU sed's options and scripts the way sed does.

sed runs programs (`e`, `s///e`) and writes files (`w`, `W`, `s///w`, `-i` in any spelling:
`-Ei`, `-ni`, `-s -i`, `--in-place=.bak`, `--in-pl`). A script that cannot be read here is
not known to only print.
"""

from __future__ import annotations

LONG_OPTIONS = (
    "--quiet",
    "--silent",
    "--regexp-extended",
    "--posix",
    "--unbuffered",
    "--null-data",
    "--separate",
    "--debug",
    "--sandbox",
    "--expression",
    "--line-length",
    "--in-place",
    "--file",
    "--follow-symlinks",
    "--binary",
    "--zero-terminated",
    "--help",
    "--version",
)
FLAG_LETTERS = frozenset("nErsuzb")
SIMPLE_COMMANDS = frozenset("pPdDnNgGhHxzF=lqQ{}")


def _resolve(name: str) -> list[str]:
    """The long options `name` may abbreviate (getopt_long accepts any unique prefix)."""
    exact = [o for o in LONG_OPTIONS if o == name]
    return exact or [o for o in LONG_OPTIONS if o.startswith(name)]


def _long(arg: str, rest: list[str], scripts: list[str]) -> str | None:
    name, has_value, value = arg.partition("=")
    matches = _resolve(name)
    if len(matches) != 1:
        return f"sed {name} is not an option known to only read"
    option = matches[0]
    if option in ("--in-place", "--file"):
        return f"sed {option} edits files or reads a script from a file"
    if option == "--expression":
        scripts.append(value if has_value else (rest.pop(0) if rest else ""))
    elif option == "--line-length" and not has_value and rest:
        rest.pop(0)
    return None


def _short(arg: str, rest: list[str], scripts: list[str]) -> str | None:
    for i, letter in enumerate(arg[1:], start=1):
        if letter in ("e", "l"):
            value = arg[i + 1 :] or (rest.pop(0) if rest else "")
            if letter == "e":
                scripts.append(value)
            return None
        if letter in ("i", "f"):
            return "sed -i edits files" if letter == "i" else "sed -f reads a script from a file"
        if letter not in FLAG_LETTERS:
            return f"sed -{letter} is not an option known to only read"
    return None


def sed_problem(args: tuple[str, ...]) -> str | None:
    """None when `sed ARGS` only reads files and prints; otherwise why it is not known to."""
    rest, scripts, operands = list(args), list[str](), list[str]()
    while rest:
        arg = rest.pop(0)
        if arg == "--":
            operands += rest
            break
        problem = None
        if arg.startswith("--"):
            problem = _long(arg, rest, scripts)
        elif arg.startswith("-") and arg != "-":
            problem = _short(arg, rest, scripts)
        else:
            operands.append(arg)
        if problem:
            return problem
    if not scripts:
        scripts = operands[:1]
    for script in scripts:
        problem = script_problem(script)
        if problem:
            return problem
    return None


def _skip_delimited(script: str, i: int, delimiter: str) -> int:
    """Index just past the next unescaped `delimiter` from `i` (len+1 when there is none)."""
    while i < len(script):
        if script[i] == "\\":
            i += 2
            continue
        if script[i] == delimiter:
            return i + 1
        if script[i] == "\n":
            break
        i += 1
    return len(script) + 1


def _skip_address(script: str, i: int) -> int:
    while i < len(script):
        c = script[i]
        if c == "/":
            i = _skip_delimited(script, i + 1, "/")
            while i < len(script) and script[i] in "IM":
                i += 1
        elif c == "\\" and i + 1 < len(script):
            i = _skip_delimited(script, i + 2, script[i + 1])
        elif c.isdigit() or c in "$,~+! \t":
            i += 1
        else:
            break
    return i


def _to_line_end(script: str, i: int, stop: str = "\n") -> int:
    while i < len(script) and script[i] not in stop:
        i += 2 if script[i] == "\\" else 1
    return i


def _substitute(script: str, i: int) -> tuple[int, str | None]:
    """Past an `s` command starting at its delimiter; and why it runs or writes, if it does."""
    if i >= len(script) or script[i] in "\\\n":
        return len(script), "a sed s command that cannot be read"
    delimiter = script[i]
    i = _skip_delimited(script, i + 1, delimiter)
    i = _skip_delimited(script, i, delimiter)
    if i > len(script):
        return i, "a sed s command that cannot be read"
    while i < len(script) and script[i] not in ";\n}#":
        flag = script[i]
        if flag in "ewW":
            return i, f"sed s///{flag} runs a command or writes a file"
        if not (flag.isdigit() or flag in "gpiImM \t"):
            return i, f"sed s flag {flag!r} is not known to only read"
        i += 1
    return i, None


def script_problem(script: str) -> str | None:
    """None when a sed script only prints, deletes lines or reads files."""
    i = 0
    while i < len(script):
        i = _skip_address(script, i)
        if i >= len(script):
            break
        c = script[i]
        if c in ";\n \t":
            i += 1
        elif c in "ewW":
            return f"sed {c} command runs a command or writes a file"
        elif c == "s":
            i, problem = _substitute(script, i + 1)
            if problem:
                return problem
        elif c == "y":
            delimiter = script[i + 1 : i + 2] or "/"
            i = _skip_delimited(script, _skip_delimited(script, i + 2, delimiter), delimiter)
        elif c in "aicrR#":
            i = _to_line_end(script, i + 1)
        elif c in ":btTv":
            i = _to_line_end(script, i + 1, ";\n")
        elif c in SIMPLE_COMMANDS:
            i += 1
            while i < len(script) and script[i].isdigit():  # `q5`, `l 70`
                i += 1
        else:
            return f"sed command {c!r} is not known to only read"
    return None
