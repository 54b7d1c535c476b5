"""What a change removes from the tests (quality/removed_tests.py)."""

from __future__ import annotations

from autocodebase.quality.removed_tests import defined_tests, removed_tests

OLD = {
    "tests/test_core.py": "def test_words():\n    pass\n\n\nasync def test_async():\n    pass\n",
    "tests/test_gone.py": "def test_a():\n    pass\n",
    "wordstats/core.py": "def words(text):\n    return text.split()\n",
    "web/app.test.js": "it('renders', () => {});\ntest(\"clicks\", () => {});\n",
    "pkg/calc_test.go": "func TestAdd(t *testing.T) {}\nfunc TestSub(t *testing.T) {}\n",
    "src/lib.rs": "#[test]\nfn halves() {}\n",
    "tests/conftest.py": "import pytest\n",
}


def test_names_by_language() -> None:
    assert defined_tests(OLD["tests/test_core.py"]) == {"test_words", "test_async"}
    assert defined_tests(OLD["web/app.test.js"]) == {"renders", "clicks"}
    assert defined_tests(OLD["pkg/calc_test.go"]) == {"TestAdd", "TestSub"}
    assert defined_tests(OLD["src/lib.rs"]) == {"halves"}


def test_deleted_files_and_functions_are_found() -> None:
    new = dict(OLD)
    del new["tests/test_gone.py"]  # a test file deleted
    del new["tests/conftest.py"]  # a test-support file deleted: still a test path
    new["tests/test_core.py"] = "def test_words():\n    pass\n"  # one test dropped
    new["pkg/calc_test.go"] = "func TestAdd(t *testing.T) {}\n"
    new["src/lib.rs"] = "pub fn x() {}\n"
    new["wordstats/core.py"] = "def words(text):\n    return []\n"  # code only: not a test
    found = removed_tests(list(OLD), OLD.get, new.get)
    assert found.files == ("tests/conftest.py", "tests/test_gone.py")
    assert found.functions == (
        "pkg/calc_test.go::TestSub",
        "src/lib.rs::halves",
        "tests/test_core.py::test_async",
    )
    assert "tests/conftest.py" in found.describe()


def test_nothing_removed_when_tests_are_added_renamed_in_place_or_code_changes() -> None:
    new = dict(OLD)
    new["tests/test_core.py"] = OLD["tests/test_core.py"] + "\ndef test_more():\n    pass\n"
    new["tests/test_new.py"] = "def test_new():\n    pass\n"
    new["wordstats/core.py"] = "def words(text):\n    return text.split(' ')\n"
    found = removed_tests([*OLD, "tests/test_new.py"], OLD.get, new.get)
    assert not found and found.describe() == ""
