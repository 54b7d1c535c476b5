"""The scripted candidates of the test-generation memory benchmark: three rounds per module,
written by us (no model is reachable here), with the failure kinds issue 24 names.

Round 1 mixes one useful test with an import error, a wrong assertion, an assertion on a repr,
a test that passes once and uses randomness, and one that covers nothing new. Round 2 is two
more example tests that cover nothing new, so the record shows example tests adding nothing.
Round 3 is what a model following the property-based strategy would write. The acceptance
rates therefore measure acb's judging and memory, not a model's learning: what the benchmark
shows is what each round was told (the lessons and strategy in its recorded request).
"""

from __future__ import annotations

RUN_COUNTER = """
def _runs_so_far():
    from pathlib import Path

    marker = Path(__file__).parent / ".acb-bench-runs"
    runs = int(marker.read_text()) if marker.exists() else 0
    marker.write_text(str(runs + 1))
    return runs
"""
"""A candidate that passes its first run only (the marker is removed after each round)."""

SIGNER = {
    "target": "src/itsdangerous/signer.py",
    "rounds": [
        [
            """from itsdangerous.signer import Signer


def test_default_salt_and_newest_key():
    signer = Signer(["old", "new"], salt=None)
    assert signer.salt == b"itsdangerous.Signer"
    assert signer.secret_key == b"new"
""",
            """from itsdangerous.signer import TimedSignr


def test_timed():
    assert TimedSignr("k")
""",
            """from itsdangerous.signer import Signer


def test_signature_value():
    assert Signer("k").sign("v") == b"v.AAAA"
""",
            """from itsdangerous.signer import Signer


def test_signer_repr():
    assert repr(Signer("k")) == "Signer(secret_key='k')"
""",
            "import random\n\nfrom itsdangerous.signer import Signer\n"
            + RUN_COUNTER
            + """

def test_random_values_round_trip():
    value = str(random.random()).encode()
    assert Signer("k").unsign(Signer("k").sign(value)) == value
    assert _runs_so_far() == 0
""",
            """from itsdangerous.signer import Signer


def test_round_trip():
    assert Signer("k").unsign(Signer("k").sign(b"v")) == b"v"
""",
        ],
        [
            """from itsdangerous.signer import Signer


def test_validate_signed():
    assert Signer("k").validate(Signer("k").sign("v"))
""",
            """from itsdangerous.signer import Signer


def test_other_key_does_not_validate():
    assert not Signer("other").validate(Signer("k").sign("v"))
""",
        ],
        [
            """from hypothesis import given, strategies as st

from itsdangerous.signer import Signer

DERIVATIONS = ["concat", "django-concat", "hmac", "none"]


@given(st.binary(), st.sampled_from(DERIVATIONS))
def test_sign_then_unsign_gives_the_value(value, derivation):
    signer = Signer("secret", key_derivation=derivation)
    assert signer.unsign(signer.sign(value)) == value


@given(st.text(alphabet="abcdef", min_size=1, max_size=9).filter(lambda s: len(s) % 4 == 1))
def test_a_signature_that_is_not_base64_never_verifies(signature):
    assert Signer("k").verify_signature(b"v", signature) is False
""",
        ],
    ],
}

MARKUP = {
    "target": "src/markupsafe/__init__.py",
    "rounds": [
        [
            """from markupsafe import Markup


def test_case_methods_keep_markup():
    m = Markup("<b>Hi</b>")
    for result in (m.capitalize(), m.title(), m.lower(), m.upper(), m.swapcase()):
        assert isinstance(result, Markup)
""",
            """from markupsafe import Markupp


def test_markup():
    assert Markupp("a")
""",
            """from markupsafe import Markup


def test_striptags_keeps_tags():
    assert Markup("<b>x</b>").striptags() == "<b>x</b>"
""",
            """from markupsafe import Markup


def test_iterator_repr():
    assert repr(iter(Markup("ab"))) == "Markup iterator"
""",
            "import random\n\nfrom markupsafe import escape\n"
            + RUN_COUNTER
            + """

def test_random_text_is_escaped():
    text = "<" * random.randint(1, 5)
    assert "<" not in escape(text)
    assert _runs_so_far() == 0
""",
            """from markupsafe import Markup, escape


def test_escape_lt():
    assert escape("<") == Markup("&lt;")
""",
        ],
        [
            """from markupsafe import Markup, escape_silent


def test_escape_silent_none():
    assert escape_silent(None) == Markup("")
""",
            """from markupsafe import Markup


def test_adding_plain_text_escapes_it():
    assert Markup("a") + "<" == Markup("a&lt;")
""",
        ],
        [
            """from hypothesis import given, strategies as st

from markupsafe import Markup, escape


@given(st.text(max_size=20))
def test_padding_stripping_and_replacing_keep_markup(text):
    m = escape(text)
    results = (
        m.ljust(5), m.rjust(5), m.center(5), m.zfill(3), m.strip(), m.lstrip(), m.rstrip(),
        m.expandtabs(), m.removeprefix("a"), m.removesuffix("a"), m.replace("a", "<"),
        m.translate({}), m.casefold(),
    )
    for result in results:
        assert isinstance(result, Markup)
    assert "<" not in m.replace("a", "<").replace("&lt;", "")
""",
        ],
    ],
}

MODULES = {"itsdangerous": SIGNER, "markupsafe": MARKUP}
