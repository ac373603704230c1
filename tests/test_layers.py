"""The package's layering: which folders may import which, read from the source with ast."""

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "moderation"
# The composition roots wire every layer together, so they may import anything.
ROOTS = {"app", "cli", "__main__", "extensions"}


def _is_module(dotted: str) -> bool:
    path = PACKAGE.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module the file imports, at the top or inside a function (lazy imports are dependencies too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            for alias in node.names:
                # `from moderation.webhooks import views` imports a module; `from x import name` its parent.
                child = f"{node.module}.{alias.name}"
                found.add(child if _is_module(child) else node.module)
    return found


IMPORTS = {
    _module_name(path): _imports(path)
    for path in sorted(PACKAGE.rglob("*.py"))
    if "migrations" not in path.relative_to(PACKAGE).parts
}


def layer_of(module: str) -> str:
    """moderation.store.cli -> store, moderation.errors -> errors, moderation -> moderation."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def ours(module: str) -> bool:
    return module == "moderation" or module.startswith("moderation.")


def modules_in(layer: str) -> dict[str, set[str]]:
    found = {m: deps for m, deps in IMPORTS.items() if ours(m) and layer_of(m) == layer}
    assert found, f"no modules in {layer}"
    return found


def crossings(layer: str, forbidden: set[str]) -> list[tuple[str, str]]:
    """(importer, imported) pairs where a module of layer imports one of the forbidden layers or libraries."""
    return sorted(
        (module, dep)
        for module, deps in modules_in(layer).items()
        for dep in deps
        if (layer_of(dep) if ours(dep) else dep.split(".")[0]) in forbidden
    )


def test_the_scan_sees_the_known_layers_and_their_imports():
    # Guards the test itself: a scanner that found nothing would let every rule below pass.
    layers = {layer_of(m) for m in IMPORTS}
    assert {"pipeline", "classifier", "store", "services", "api", "integrations", "webhooks"} <= layers
    assert "moderation.pipeline.normalize" in IMPORTS["moderation.pipeline.domain"]
    assert "moderation.pipeline.domain" in IMPORTS["moderation.classifier.features"]


# Pure libraries the pipeline may use: functions of text with no I/O, no framework, no database.
PIPELINE_LIBRARIES = {"confusable_homoglyphs", "py3langid"}


def test_the_pipeline_imports_only_the_pipeline_the_standard_library_and_pure_text_libraries():
    for module, deps in modules_in("pipeline").items():
        foreign = {d for d in deps if ours(d) and layer_of(d) != "pipeline"}
        libraries = {
            d
            for d in deps
            if not ours(d)
            and d.split(".")[0] not in sys.stdlib_module_names
            and d.split(".")[0] not in PIPELINE_LIBRARIES
        }
        assert not foreign and not libraries, (module, foreign, libraries)


OUR_LAYERS = {
    "pipeline", "classifier", "store", "services", "api", "integrations", "webhooks", "web", "ops",
    "auth", "errors", "app", "extensions", "exceptions",
}  # fmt: skip

FORBIDDEN = {
    # The classifier depends on the pipeline, never on serving or storage.
    "classifier": OUR_LAYERS - {"pipeline", "classifier"} | {"flask", "sqlalchemy", "werkzeug"},
    # The store raises the domain's exceptions (moderation/exceptions.py), never HTTP ones.
    "store": OUR_LAYERS - {"pipeline", "store", "exceptions"} | {"flask", "werkzeug", "sklearn"},
    "services": {"api", "integrations", "webhooks", "web", "ops", "auth", "errors", "app", "extensions"}
    | {"flask", "flask_smorest", "flask_limiter", "werkzeug", "marshmallow"},
    "api": {"integrations", "webhooks", "web", "app", "extensions", "sqlalchemy"},
    "web": {"api", "integrations", "webhooks", "classifier", "app", "extensions", "sqlalchemy"},
    "webhooks": {"api", "integrations", "web", "services", "classifier", "pipeline", "app", "extensions"},
    "ops": {"api", "integrations", "webhooks", "web", "services", "classifier", "app", "extensions"},
    "integrations": {"webhooks", "web", "app", "extensions"},
}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_only_in_its_allowed_directions(layer):
    assert crossings(layer, FORBIDDEN[layer]) == []


def test_the_api_touches_the_store_only_through_table_classes_in_two_known_views():
    # The store returns one Comment type (new and stored comments alike); these two views name it
    # for its columns, and no view opens a connection or builds a query itself.
    store_imports = sorted(
        (m, d) for m, deps in modules_in("api").items() for d in deps if ours(d) and layer_of(d) == "store"
    )
    assert store_imports == [
        ("moderation.api.comments", "moderation.store.tables"),
        ("moderation.api.queue", "moderation.store.tables"),
    ]


def test_webhook_signing_is_standalone():
    # A receiver may copy signing.py as it is: it needs nothing of ours and nothing beyond the stdlib.
    deps = IMPORTS["moderation.webhooks.signing"]
    assert {d for d in deps if ours(d) or d.split(".")[0] not in sys.stdlib_module_names} == set()


def test_no_two_layers_import_each_other():
    edges = {
        (layer_of(m), layer_of(d))
        for m, deps in IMPORTS.items()
        for d in deps
        if ours(d) and layer_of(m) not in ROOTS and layer_of(d) not in ROOTS and layer_of(m) != layer_of(d)
    }
    assert sorted((a, b) for a, b in edges if (b, a) in edges) == []


def test_the_domain_exceptions_import_nothing_and_carry_no_http_status():
    # Every layer raises them, so they depend on nothing; errors.py alone says which status each is.
    from moderation import exceptions

    assert IMPORTS["moderation.exceptions"] == {"__future__"}
    kinds = [k for k in vars(exceptions).values() if isinstance(k, type) and issubclass(k, Exception)]
    assert len(kinds) > 5 and not [k.__name__ for k in kinds if "status" in vars(k) or "code" in vars(k)]


def _caught(path: Path) -> set[str]:
    """The names of the exceptions the file's `except` clauses catch."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            kinds = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
            found |= {k.id if isinstance(k, ast.Name) else getattr(k, "attr", "") for k in kinds}
    return found


def test_the_api_lets_domain_exceptions_through_to_the_one_handler():
    # A view does not catch a domain exception to abort by hand: errors.py maps each to its status
    # and JSON error. Only the bulk review catches them, to give each item its own status.
    from moderation import exceptions

    kinds = {name for name, k in vars(exceptions).items() if isinstance(k, type) and issubclass(k, Exception)}
    caught = {
        (_module_name(path), name)
        for folder in ("api", "webhooks", "integrations")
        for path in sorted((PACKAGE / folder).rglob("*.py"))
        for name in _caught(path) & kinds
    }
    assert caught == {("moderation.api.queue", "DomainError")}


def _sqlalchemy_names(path: Path) -> set[str]:
    """What a file imports from SQLAlchemy, as `module:name` (or the module, for `import sqlalchemy`)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "sqlalchemy":
            found |= {f"{node.module}:{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "sqlalchemy"}
    return found


def test_every_sql_statement_is_built_under_store():
    """Outside store/ a module may name an Engine (to pass it on) and catch SQLAlchemy's errors,
    never build a statement or open a session of its own."""
    allowed = {"sqlalchemy:Engine"}
    outside = {
        path.relative_to(PACKAGE.parent).as_posix(): names
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE).parts[0] not in ("store",)
        and (names := {n for n in _sqlalchemy_names(path) if not n.startswith("sqlalchemy.exc:")})
    }
    # Guards the scan: it does find the statements store/ builds.
    assert _sqlalchemy_names(PACKAGE / "store" / "outbox.py") >= {"sqlalchemy:update", "sqlalchemy:insert"}
    assert {path: names - allowed for path, names in outside.items() if names - allowed} == {}
