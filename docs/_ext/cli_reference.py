"""Sphinx extension: the ``latentode`` command-line reference, generated from argparse.

The directive ``.. latentode-cli::`` calls :func:`latentode.cli.build_parser` at build time
and renders the top-level usage and options, then one section per subcommand (its
description, usage, options and the examples of its epilog). Nothing is copied by hand, so
a new command or option shows up in the docs as soon as the parser has it.
"""

from __future__ import annotations

import argparse
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

__all__ = ["CLIReference", "setup", "subcommands"]

# Fixed width: argparse otherwise wraps usage lines to the terminal's $COLUMNS.
_WIDTH = 88


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The subcommand parsers of ``parser``, by name, in the order they were added."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _usage(parser: argparse.ArgumentParser) -> str:
    formatter = argparse.HelpFormatter(prog=parser.prog, width=_WIDTH)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    return formatter.format_help().strip()


def _invocation(action: argparse.Action) -> str:
    if not action.option_strings:
        return action.metavar if isinstance(action.metavar, str) else action.dest
    if action.nargs == 0:
        return ", ".join(action.option_strings)
    formatter = argparse.HelpFormatter(prog="", width=_WIDTH)
    return formatter._format_action_invocation(action)


def _details(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    parts = []
    if action.help:
        parts.append(parser._get_formatter()._expand_help(action))
    if action.choices is not None and not isinstance(action, argparse._SubParsersAction):
        parts.append("choices: " + ", ".join(str(c) for c in action.choices))
    if action.required:
        parts.append("required")
    elif action.nargs != 0 and action.default not in (None, argparse.SUPPRESS):
        parts.append(f"default: {action.default}")
    return "; ".join(parts) if parts else "(no description)"


def _options(parser: argparse.ArgumentParser) -> nodes.definition_list:
    items = nodes.definition_list(classes=["cli-options"])
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        term = nodes.term("", "", nodes.literal(text=_invocation(action)))
        body = nodes.definition("", nodes.paragraph(text=_details(parser, action)))
        items += nodes.definition_list_item("", term, body)
    return items


def _literal(text: str) -> nodes.literal_block:
    block = nodes.literal_block(text, text)
    block["language"] = "text"
    return block


class CLIReference(SphinxDirective):
    """Render ``latentode.cli.build_parser()`` as sections of usage, options and examples."""

    has_content = False

    def _section(self, title: str, anchor: str) -> nodes.section:
        section = nodes.section(ids=[anchor], names=[anchor])
        section += nodes.title(text=title)
        self.state.document.note_implicit_target(section)
        return section

    def run(self) -> list[nodes.Node]:
        from latentode.cli import build_parser

        parser = build_parser()
        out: list[nodes.Node] = [
            nodes.paragraph(text=parser.description or ""),
            _literal(_usage(parser)),
            nodes.rubric(text="Global options"),
            _options(parser),
        ]
        if parser.epilog:
            out.append(nodes.paragraph(text=parser.epilog))
        for name, sub in subcommands(parser).items():
            section = self._section(f"latentode {name}", f"cli-{name}")
            if sub.description:
                section += nodes.paragraph(text=sub.description)
            section += _literal(_usage(sub))
            section += nodes.rubric(text="Options")
            section += _options(sub)
            if sub.epilog:
                section += _literal(sub.epilog)
            out.append(section)
        return out


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("latentode-cli", CLIReference)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
