"""Help that reads like a Unix tool's: metavars (N, DATE, FILE...), no type tags, examples last.

Typer prints every value's type (``<int range>``, ``<list[Path]>``, ``<%Y-%m-%d>``), wraps
required arguments in braces and leaves examples inside the description, where the help is
re-wrapped around them. ``PlainGroup``, the root command's class, walks the finished command
tree once and fixes all of that, so a command writes only its docstring and options (an
explicit ``metavar=`` always wins).
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any, get_args

from typer import _click
from typer.core import TyperArgument, TyperGroup, TyperOption

_EXAMPLES = re.compile(r"^[ \t]*(Examples?):[ \t]*(.*)$", re.M)
_NUMBERS = (int, float)
_FOLDER_NAMES = ("dir", "folder")


class PlainArgument(TyperArgument):
    """An argument shown by its metavar alone: FILE..., QUERY, [ID]."""

    def display_type_rich(self, ctx: _click.Context) -> str | None:
        """No type tag after the name."""
        return None

    def _usage_display_name(self) -> str:
        name = self.display_name_raw + ("..." if self.nargs != 1 else "")
        return name if self.required else f"[{name}]"

    def _rich_display_name(self) -> str:
        return self.display_name_raw + ("..." if self.nargs != 1 else "")


class PlainOption(TyperOption):
    """An option whose value is shown by its metavar, without a range tag."""

    def _get_number_range_help_str(self) -> str | None:
        return None  # "x>=1" reads as noise in help; the error message says it when it matters

    def process_value(self, ctx: _click.Context, value: Any) -> Any:
        """Typer's, except that an unset single value stays None without coercion.

        Typer builds a pydantic TypeAdapter for every value, None included, only to return
        None: for the unset global options that is 0.2 s of `papertide COMMAND --help`.
        """
        if value is not None or self.multiple or self.nargs != 1 or self.required:
            return super().process_value(ctx, value)
        return self.callback(ctx, self, value) if self.callback is not None else value


def _value_type(param: TyperArgument | TyperOption) -> Any:
    annotation = param.type_descriptor.annotation
    args = get_args(annotation)
    return args[0] if param.type_descriptor.is_list and args else annotation


def _path_metavar(param: TyperArgument | TyperOption) -> str:
    return "DIR" if (param.name or "").endswith(_FOLDER_NAMES) else "FILE"


def option_metavar(param: TyperOption) -> str:
    """N for numbers, DATE, FILE or DIR, else the last word of the long option's name."""
    kind = _value_type(param)
    if kind is datetime:
        return "DATE"
    if kind in _NUMBERS:
        return "N"
    if kind is Path:
        return _path_metavar(param)
    longest = max(param.opts, key=len).lstrip("-")
    return longest.rsplit("-", 1)[-1].upper()


def argument_metavar(param: TyperArgument) -> str:
    """FILE or DIR for paths, else the last word of the parameter's name (ID, QUERY)."""
    if _value_type(param) is Path:
        return _path_metavar(param)
    return (param.name or "value").rsplit("_", 1)[-1].upper()


def split_examples(help_text: str) -> tuple[str, str | None]:
    """The help before its "Example(s):" label, and the examples as an unwrapped epilog.

    Everything after the label is examples, one a line (blank lines between them dropped).
    """
    found = _EXAMPLES.search(help_text)
    if found is None:
        return help_text, None
    lines = [found.group(2), *help_text[found.end() :].splitlines()]
    examples = [line.strip() for line in lines if line.strip()]
    label = "Examples:" if len(examples) > 1 else "Example:"
    # "\b" makes click print the block as written: one example a line, never re-wrapped.
    epilog = "\b\n" + label + "\n" + "\n".join(f"  {line}" for line in examples)
    return help_text[: found.start()].rstrip(), epilog


def tidy_command(command: _click.Command) -> None:
    """Metavars, plain arguments and examples as the epilog, for a command and its children."""
    if command.help and command.epilog is None:
        command.help, command.epilog = split_examples(command.help)
    # The --help option is made on first use and cached: make it now, so that it is tidied
    # too (a group's unset --help is a None that Typer would coerce through pydantic).
    help_option = command.get_help_option(_click.Context(command))
    for param in [*command.params, *([help_option] if help_option else [])]:
        if isinstance(param, TyperArgument) and not isinstance(param, PlainArgument):
            param.__class__ = PlainArgument  # same fields; only the help display differs
            if param.metavar is None:
                param.metavar = argument_metavar(param)
        elif isinstance(param, TyperOption) and not isinstance(param, PlainOption):
            param.__class__ = PlainOption
            if param.metavar is None and not param.is_flag and not param.count:
                param.metavar = option_metavar(param)
    for child in getattr(command, "commands", {}).values():
        tidy_command(child)


class PlainGroup(TyperGroup):
    """The root command's class: tidies the whole command tree before it runs.

    In ``main``, not ``__init__``: Typer adds the completion options after building the group.
    """

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Tidy the command tree, then run as usual."""
        tidy_command(self)
        return super().main(*args, **kwargs)
