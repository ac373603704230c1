"""The contract kept in the repository: /openapi.json, docs/api.md and docs/cli.md against the code."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from moderation.cli import main

DOCS = Path(__file__).resolve().parent.parent / "docs"
# Routes that are not part of the HTTP contract: the spec itself, and the moderators' web pages.
NOT_CONTRACT = re.compile(r"^/(openapi\.json|static/|moderate/)")


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


@pytest.fixture
def spec(client) -> dict:
    return client.get("/openapi.json").json


def test_every_route_is_in_the_openapi_document_with_its_methods(app, spec):
    routes = {}
    for rule in app.url_map.iter_rules():
        if not NOT_CONTRACT.match(rule.rule):
            methods = {m.lower() for m in rule.methods - {"HEAD", "OPTIONS"}}
            routes.setdefault(_openapi_path(rule.rule), set()).update(methods)
    documented = {path: set(operations) - {"parameters"} for path, operations in spec["paths"].items()}
    assert documented == routes
    for path in ("/healthz", "/readyz", "/metrics", "/1.1/comment-check", "/integrations/coral/phase"):
        assert path in documented


def test_akismet_paths_describe_a_form_body_and_coral_a_signed_json_body(spec):
    for call in ("verify-key", "comment-check", "submit-spam", "submit-ham"):
        operation = spec["paths"][f"/1.1/{call}"]["post"]
        form = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
        assert {"api_key", "comment_content", "user_ip"} <= set(form["properties"])
        assert "text/plain" in operation["responses"]["200"]["content"]
    coral = spec["paths"]["/integrations/coral/phase"]["post"]
    assert "application/json" in coral["requestBody"]["content"]
    assert {"200", "204", "401", "422"} <= set(coral["responses"])
    assert any(p["name"] == "X-Coral-Signature" for p in coral["parameters"])
    assert set(spec["paths"]["/readyz"]["get"]["responses"]) == {"200", "503"}


def test_docs_api_md_names_every_path_and_method_and_no_other(spec):
    text = (DOCS / "api.md").read_text(encoding="utf-8")
    documented = {
        (method.lower(), path)
        for method, path in re.findall(r"^#+ `(GET|POST|PUT|PATCH|DELETE) (/[^`\s]*)`", text, re.MULTILINE)
    }
    in_spec = {
        (method, path)
        for path, operations in spec["paths"].items()
        for method in operations
        if method != "parameters"
    }
    assert documented == in_spec


def test_docs_api_md_lists_the_status_codes_of_every_operation(spec):
    """Each operation's section names every status code the OpenAPI document gives it."""
    text = (DOCS / "api.md").read_text(encoding="utf-8")
    sections = re.split(r"^#+ `(?=(?:GET|POST|PUT|PATCH|DELETE) /)", text, flags=re.MULTILINE)[1:]
    by_operation = {section.split("`", 1)[0]: section for section in sections}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            section = by_operation[f"{method.upper()} {path}"]
            codes = {code for code in operation["responses"] if code != "default"}
            missing = {code for code in codes if f"`{code}`" not in section}
            assert not missing, f"{method.upper()} {path} in docs/api.md misses {sorted(missing)}"


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found.extend(_commands(command, (*prefix, name)))
    return found


def _options(help_text: str) -> set[str]:
    options = help_text.split("Options:", 1)[1] if "Options:" in help_text else ""
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", options)) - {"--help"}


def test_docs_cli_md_has_every_command_and_option_of_moderation_help(runner):
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    sections = dict(re.findall(r"^## `moderation ([a-z -]+)`\n(.*?)(?=^## |\Z)", text, re.M | re.S))
    commands = _commands(main)
    assert len(commands) > 10
    assert set(sections) == {" ".join(command) for command in commands}
    for command in commands:
        result = runner.invoke(main, [*command, "--help"])
        assert result.exit_code == 0, result.output
        section = sections[" ".join(command)]
        documented = set(re.findall(r"`(--[a-z][a-z-]*)", section))
        assert documented == _options(result.output), " ".join(command)


def _schema(spec: dict, ref_or_schema: dict) -> dict:
    ref = ref_or_schema.get("$ref")
    return spec["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else ref_or_schema


def test_openapi_lists_the_post_context_fields(spec):
    body = spec["paths"]["/v1/comments"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    fields = _schema(spec, body)["properties"]
    assert fields["post_title"]["maxLength"] == 300 and fields["post_title"]["description"]
    assert fields["post_url"]["format"] == "url" and fields["post_url"]["maxLength"] == 2048
    assert "client_comment_id" in fields["parent_id"]["description"]
    thread = spec["paths"]["/v1/posts/{post_id}/comments"]["get"]
    out = _schema(spec, thread["responses"]["200"]["content"]["application/json"]["schema"])
    assert {"post_id", "post_title", "post_url", "items", "truncated"} <= set(out["properties"])
    item = _schema(spec, out["properties"]["items"]["items"])
    assert {"id", "parent_id", "reply_to", "depth", "status", "text"} <= set(item["properties"])
    queue = spec["paths"]["/v1/queue"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    queue_item = _schema(spec, _schema(spec, queue)["properties"]["items"]["items"])
    assert {"post_title", "post_url", "parent_id"} <= set(queue_item["properties"])
