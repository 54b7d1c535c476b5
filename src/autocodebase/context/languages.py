"""Which tree-sitter grammar reads which file, and what counts as a definition in it.

The queries are ours, kept small on purpose: a definition query names the node that defines
something (`@def.KIND`) and its name (`@name`); a reference query captures identifiers
(`@ref`), because for ranking a repository what matters is *which names a file mentions*,
and a narrower query (calls only) loses base classes, type annotations and imports, which are
the strongest links between files. Comments and docstrings (`@doc`) feed lexical retrieval.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LanguageSpec:
    """How to read one language: grammar name in tree-sitter-language-pack and three queries."""

    grammar: str
    definitions: str
    references: str
    docs: str = "(comment) @doc"


_PYTHON = LanguageSpec(
    grammar="python",
    definitions="""
(class_definition name: (identifier) @name) @def.class
(function_definition name: (identifier) @name) @def.function
(module (assignment left: (identifier) @name) @def.constant)
""",
    references="(identifier) @ref",
    docs="(comment) @doc (block . (string) @doc) (module . (string) @doc)",
)

_JS_DEFINITIONS = """
(function_declaration name: (identifier) @name) @def.function
(generator_function_declaration name: (identifier) @name) @def.function
(method_definition name: (property_identifier) @name) @def.method
(lexical_declaration
  (variable_declarator name: (identifier) @name value: [(arrow_function) (function_expression)])
) @def.function
(variable_declaration
  (variable_declarator name: (identifier) @name value: [(arrow_function) (function_expression)])
) @def.function
"""

_JAVASCRIPT = LanguageSpec(
    grammar="javascript",
    definitions=_JS_DEFINITIONS + "(class_declaration name: (identifier) @name) @def.class\n",
    references="(identifier) @ref (property_identifier) @ref",
)

_TS_DEFINITIONS = (
    _JS_DEFINITIONS
    + """
(class_declaration name: (type_identifier) @name) @def.class
(abstract_class_declaration name: (type_identifier) @name) @def.class
(interface_declaration name: (type_identifier) @name) @def.interface
(type_alias_declaration name: (type_identifier) @name) @def.type
(enum_declaration name: (identifier) @name) @def.enum
(function_signature name: (identifier) @name) @def.function
(method_signature name: (property_identifier) @name) @def.method
"""
)

_TS_REFERENCES = "(identifier) @ref (property_identifier) @ref (type_identifier) @ref"

_TYPESCRIPT = LanguageSpec("typescript", _TS_DEFINITIONS, _TS_REFERENCES)
_TSX = LanguageSpec("tsx", _TS_DEFINITIONS, _TS_REFERENCES)

_GO = LanguageSpec(
    grammar="go",
    definitions="""
(function_declaration name: (identifier) @name) @def.function
(method_declaration name: (field_identifier) @name) @def.method
(type_declaration (type_spec name: (type_identifier) @name)) @def.type
(source_file (const_declaration (const_spec name: (identifier) @name)) @def.constant)
(source_file (var_declaration (var_spec name: (identifier) @name)) @def.variable)
""",
    references="(identifier) @ref (field_identifier) @ref (type_identifier) @ref",
)

_RUST = LanguageSpec(
    grammar="rust",
    definitions="""
(function_item name: (identifier) @name) @def.function
(function_signature_item name: (identifier) @name) @def.function
(struct_item name: (type_identifier) @name) @def.struct
(enum_item name: (type_identifier) @name) @def.enum
(union_item name: (type_identifier) @name) @def.union
(trait_item name: (type_identifier) @name) @def.trait
(type_item name: (type_identifier) @name) @def.type
(mod_item name: (identifier) @name) @def.module
(macro_definition name: (identifier) @name) @def.macro
(const_item name: (identifier) @name) @def.constant
(static_item name: (identifier) @name) @def.constant
""",
    references="(identifier) @ref (type_identifier) @ref (field_identifier) @ref",
    docs="(line_comment) @doc (block_comment) @doc",
)

_JAVA = LanguageSpec(
    grammar="java",
    definitions="""
(class_declaration name: (identifier) @name) @def.class
(interface_declaration name: (identifier) @name) @def.interface
(enum_declaration name: (identifier) @name) @def.enum
(record_declaration name: (identifier) @name) @def.class
(annotation_type_declaration name: (identifier) @name) @def.interface
(method_declaration name: (identifier) @name) @def.method
(constructor_declaration name: (identifier) @name) @def.method
""",
    references="(identifier) @ref (type_identifier) @ref",
    docs="(line_comment) @doc (block_comment) @doc",
)

_C_DEFINITIONS = """
(function_definition declarator: (function_declarator declarator: (identifier) @name)) @def.function
(function_definition
  declarator: (pointer_declarator declarator: (function_declarator declarator: (identifier) @name))
) @def.function
(declaration declarator: (function_declarator declarator: (identifier) @name)) @def.function
(struct_specifier name: (type_identifier) @name body: (_)) @def.struct
(union_specifier name: (type_identifier) @name body: (_)) @def.union
(enum_specifier name: (type_identifier) @name body: (_)) @def.enum
(type_definition declarator: (type_identifier) @name) @def.type
(preproc_def name: (identifier) @name) @def.macro
(preproc_function_def name: (identifier) @name) @def.macro
"""

_C_REFERENCES = "(identifier) @ref (type_identifier) @ref (field_identifier) @ref"

_C = LanguageSpec("c", _C_DEFINITIONS, _C_REFERENCES)

_CPP = LanguageSpec(
    grammar="cpp",
    definitions=_C_DEFINITIONS
    + """
(class_specifier name: (type_identifier) @name body: (_)) @def.class
(namespace_definition name: (namespace_identifier) @name) @def.namespace
(function_definition
  declarator: (function_declarator declarator: (qualified_identifier name: (identifier) @name))
) @def.method
(function_definition declarator: (function_declarator declarator: (field_identifier) @name))
  @def.method
(field_declaration declarator: (function_declarator declarator: (field_identifier) @name))
  @def.method
""",
    references=_C_REFERENCES + " (namespace_identifier) @ref",
)

_RUBY = LanguageSpec(
    grammar="ruby",
    definitions="""
(class name: (constant) @name) @def.class
(module name: (constant) @name) @def.module
(method name: (_) @name) @def.method
(singleton_method name: (_) @name) @def.method
""",
    references="(identifier) @ref (constant) @ref",
)

LANGUAGES: dict[str, LanguageSpec] = {
    ".py": _PYTHON,
    ".pyi": _PYTHON,
    ".js": _JAVASCRIPT,
    ".mjs": _JAVASCRIPT,
    ".cjs": _JAVASCRIPT,
    ".jsx": _JAVASCRIPT,
    ".ts": _TYPESCRIPT,
    ".mts": _TYPESCRIPT,
    ".cts": _TYPESCRIPT,
    ".tsx": _TSX,
    ".go": _GO,
    ".rs": _RUST,
    ".java": _JAVA,
    ".c": _C,
    ".h": _C,
    ".cc": _CPP,
    ".cpp": _CPP,
    ".cxx": _CPP,
    ".hpp": _CPP,
    ".hh": _CPP,
    ".hxx": _CPP,
    ".rb": _RUBY,
}


def spec_for(path: str) -> LanguageSpec | None:
    """The language of `path` by its suffix, or None for files we do not parse."""
    dot = path.rfind(".")
    if dot < 0 or "/" in path[dot:]:
        return None
    return LANGUAGES.get(path[dot:].lower())
