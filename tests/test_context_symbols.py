"""Symbol extraction: definitions with kinds, lines and signatures, references with lines, for
every language the context engine claims to read."""

from __future__ import annotations

import pytest

from autocodebase.context.symbols import MAX_FILE_BYTES, extract

SOURCES: dict[str, tuple[str, list[tuple[str, str, int]], list[str]]] = {
    "pkg/shapes.py": (
        '''"""Shapes and their areas."""
import math

UNIT = 1.0


class Circle(Shape):
    """A circle."""

    def area(self, scale: float = UNIT) -> float:
        def helper(x):
            return x
        return math.pi * self.radius ** 2 * scale


def total_area(
    shapes: list[Shape],
) -> float:
    # sum them all
    return sum(s.area() for s in shapes)
''',
        [
            ("UNIT", "constant", 4),
            ("Circle", "class", 7),
            ("area", "function", 10),
            ("total_area", "function", 16),
        ],
        ["Shape", "math", "radius", "area"],
    ),
    "web/app.js": (
        """import { fetchUser } from './api.js';
class UserView extends View {
  render(user) { return fetchUser(user.id); }
}
function mount(root) { new UserView().render(root); }
const unmount = (root) => root.clear();
""",
        [
            ("UserView", "class", 2),
            ("render", "method", 3),
            ("mount", "function", 5),
            ("unmount", "function", 6),
        ],
        ["fetchUser", "View", "clear"],
    ),
    "web/types.ts": (
        """export interface User { id: number; name: string }
export type Id = number;
export enum Role { Admin, Guest }
export class Store { get(id: Id): User { return lookup(id); } }
export function lookup(id: Id): User { return {id, name: ''}; }
""",
        [
            ("User", "interface", 1),
            ("Id", "type", 2),
            ("Role", "enum", 3),
            ("Store", "class", 4),
            ("get", "method", 4),
            ("lookup", "function", 5),
        ],
        ["Id", "User"],
    ),
    "web/App.tsx": (
        """export function App(props: Props) { return <Panel title={props.title} />; }
interface Props { title: string }
""",
        [("App", "function", 1), ("Props", "interface", 2)],
        ["Props", "Panel"],
    ),
    "svc/server.go": (
        """package svc

type Server struct { addr string }

func NewServer(addr string) *Server { return &Server{addr: addr} }

func (s *Server) Start() error { return listen(s.addr) }
""",
        [("Server", "type", 3), ("NewServer", "function", 5), ("Start", "method", 7)],
        ["Server", "listen", "addr"],
    ),
    "src/lib.rs": (
        """pub struct Parser { pos: usize }
pub trait Lex { fn next_token(&mut self) -> Token; }
impl Parser {
    pub fn new() -> Parser { Parser { pos: 0 } }
}
pub enum Token { Word, End }
macro_rules! bail { () => {} }
""",
        [
            ("Parser", "struct", 1),
            ("Lex", "trait", 2),
            ("next_token", "function", 2),
            ("new", "function", 4),
            ("Token", "enum", 6),
            ("bail", "macro", 7),
        ],
        ["Parser", "Token"],
    ),
    "src/Main.java": (
        """package demo;
public class Main {
    public Main() {}
    public static void main(String[] args) { Greeter.greet(args[0]); }
}
interface Greeter { void greet(String name); }
""",
        [
            ("Main", "class", 2),
            ("Main", "method", 3),
            ("main", "method", 4),
            ("Greeter", "interface", 6),
            ("greet", "method", 6),
        ],
        ["Greeter", "greet", "String"],
    ),
    "src/list.c": (
        """#include "list.h"
#define MAX_ITEMS 64
struct node { int value; struct node *next; };
typedef struct node node_t;
static node_t *push(node_t *head, int value) { return make_node(value, head); }
int count(node_t *head) { return head ? 1 + count(head->next) : 0; }
""",
        [
            ("MAX_ITEMS", "macro", 2),
            ("node", "struct", 3),
            ("node_t", "type", 4),
            ("push", "function", 5),
            ("count", "function", 6),
        ],
        ["make_node", "node_t", "next"],
    ),
    "src/shape.cpp": (
        """namespace geo {
class Shape { public: virtual double area() const; };
double Shape::area() const { return compute(*this); }
}
""",
        [
            ("geo", "namespace", 1),
            ("Shape", "class", 2),
            ("area", "method", 2),
            ("area", "method", 3),
        ],
        ["compute", "Shape"],
    ),
    "lib/greeter.rb": (
        """module Greeting
  class Greeter < Base
    def greet(name)
      format_name(name)
    end
  end
end
""",
        [("Greeting", "module", 1), ("Greeter", "class", 2), ("greet", "method", 3)],
        ["format_name", "Base"],
    ),
}


@pytest.mark.parametrize("path", sorted(SOURCES))
def test_definitions_and_references_of_each_language(path: str) -> None:
    source, definitions, references = SOURCES[path]
    symbols = extract(path, source.encode())
    assert symbols is not None
    found = [(d.name, d.kind, d.line) for d in symbols.definitions]
    assert found == definitions
    for name in references:
        assert name in symbols.references, f"{name} not seen as a reference in {path}"
    for definition in symbols.definitions:
        assert definition.name in definition.signature
        assert definition.end_line >= definition.line


def test_python_details_signatures_lines_docs_and_no_local_helpers() -> None:
    symbols = extract("pkg/shapes.py", SOURCES["pkg/shapes.py"][0].encode())
    assert symbols is not None
    by_name = {d.name: d for d in symbols.definitions}
    assert "helper" not in by_name, "a function local to another is not part of the API"
    assert by_name["area"].signature == "    def area(self, scale: float = UNIT) -> float:"
    assert by_name["total_area"].signature == "def total_area( shapes: list[Shape], ) -> float:"
    assert by_name["Circle"].end_line == 13
    assert symbols.references["area"] == [20]
    assert symbols.references["math"] == [2, 13]
    assert "Shapes and their areas." in symbols.doc
    assert "sum them all" in symbols.doc


def test_unknown_binary_and_huge_files() -> None:
    assert extract("README.md", b"# title") is None
    assert extract("data.py", b"x = 1\0\0\0").definitions == []  # type: ignore[union-attr]
    huge = b"def f():\n    pass\n" * (MAX_FILE_BYTES // 10)
    assert extract("gen.py", huge).definitions == []  # type: ignore[union-attr]
    broken = extract("broken.py", b"def ok():\n    pass\n\ndef broken(:\n")
    assert broken is not None and broken.definitions[0].name == "ok"
