"""``patchtui completion bash|zsh|fish``: a shell completion script, generated from the parser.

The script is built by walking ``cli.build_parser()`` (every subcommand,
nested ones like ``db check`` included, their flags, and the choices of
flags and positionals), so a new command or flag completes without anyone
editing a hand-written script. Install, e.g.::

    patchtui completion bash > ~/.local/share/bash-completion/completions/patchtui
    patchtui completion zsh  > "${fpath[1]}/_patchtui"
    patchtui completion fish > ~/.config/fish/completions/patchtui.fish
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any

SHELLS = ("bash", "zsh", "fish")
_FILE_METAVARS = frozenset({"FILE", "PATH"})
"""Values named like this complete as file names."""


def register(commands: Any, kit: Any) -> None:
    parser = commands.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh or fish)",
        description="Print a completion script for SHELL on stdout; see the module docs.",
    )
    parser.add_argument("shell", choices=SHELLS, help="the shell to complete for")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    from patchtui.cli import build_parser

    spec = command_spec(build_parser(), "patchtui")
    print(render(args.shell, spec), end="")
    return 0


@dataclass
class OptionSpec:
    flags: tuple[str, ...]
    help: str
    takes_value: bool
    choices: tuple[str, ...] = ()
    is_file: bool = False


@dataclass
class CommandSpec:
    name: str
    help: str
    options: list[OptionSpec] = field(default_factory=list)
    positional_choices: tuple[str, ...] = ()
    subcommands: list[CommandSpec] = field(default_factory=list)


def command_spec(parser: argparse.ArgumentParser, name: str, help_text: str = "") -> CommandSpec:
    """The completion-relevant shape of ``parser`` and, recursively, its subcommands."""
    spec = CommandSpec(name=name, help=help_text)
    for action in parser._actions:  # argparse offers no public way to list them
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for sub_name, sub_parser in action.choices.items():
                spec.subcommands.append(command_spec(sub_parser, sub_name, helps.get(sub_name, "")))
        elif action.option_strings:
            metavar = action.metavar if isinstance(action.metavar, str) else ""
            spec.options.append(
                OptionSpec(
                    flags=tuple(action.option_strings),
                    help=_one_line(action.help),
                    takes_value=action.nargs != 0,
                    choices=tuple(str(choice) for choice in action.choices or ()),
                    is_file=metavar in _FILE_METAVARS,
                )
            )
        elif action.choices:
            spec.positional_choices += tuple(str(choice) for choice in action.choices)
    return spec


def _one_line(text: str | None) -> str:
    if not text or text == argparse.SUPPRESS:
        return ""
    return " ".join(text.replace("%%", "%").split())


def render(shell: str, spec: CommandSpec) -> str:
    if shell == "bash":
        return render_bash(spec)
    if shell == "zsh":
        return render_zsh(spec)
    if shell == "fish":
        return render_fish(spec)
    raise ValueError(f"unknown shell {shell!r}")


def _walk(
    spec: CommandSpec, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], CommandSpec]]:
    """(path of subcommand names, spec) for the command and every subcommand, depth first."""
    found = [(path, spec)]
    for sub in spec.subcommands:
        found.extend(_walk(sub, (*path, sub.name)))
    return found


def _shell_words(words: list[str] | tuple[str, ...]) -> str:
    # Flags, command names and choices are plain words; quote defensively all the same.
    return " ".join(word.replace("'", "") for word in words)


# --- bash -------------------------------------------------------------------------------------


def render_bash(spec: CommandSpec) -> str:
    """A bash function: finds the subcommand path in the words so far, completes from there."""
    cases: list[str] = []
    for path, command in _walk(spec):
        key = " ".join(path)
        words = [sub.name for sub in command.subcommands]
        words += [flag for option in command.options for flag in option.flags]
        words += list(command.positional_choices)
        value_cases: list[str] = []
        for option in command.options:
            if not option.takes_value:
                continue
            pattern = "|".join(option.flags)
            if option.choices:
                action = f"COMPREPLY=($(compgen -W '{_shell_words(option.choices)}' -- \"$cur\"))"
            elif option.is_file:
                action = 'COMPREPLY=($(compgen -f -- "$cur"))'
            else:
                action = "COMPREPLY=()"
            value_cases.append(f"                {pattern}) {action}; return 0 ;;")
        subs = " ".join(sub.name for sub in command.subcommands)
        cases.append(
            "\n".join(
                [
                    f"        '{key}')",
                    f"            subs='{subs}'",
                    '            case "$prev" in',
                    *value_cases,
                    "            esac",
                    f"            words='{_shell_words(words)}'",
                    "            ;;",
                ]
            )
        )
    body = "\n".join(cases)
    return f"""# bash completion for patchtui (generated by `patchtui completion bash`)
_patchtui() {{
    local cur prev path words subs i word
    cur="${{COMP_WORDS[COMP_CWORD]}}"
    prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    path=""
    # Follow subcommand names typed so far (e.g. "db check") to find what to offer.
    for ((i = 1; i < COMP_CWORD; i++)); do
        word="${{COMP_WORDS[i]}}"
        [[ "$word" == "--" ]] && return 0
        _patchtui_step "$path" "$word" && path="$_patchtui_next"
    done
    case "$path" in
{body}
        *) return 0 ;;
    esac
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
    return 0
}}
_patchtui_step() {{
    local subs
    case "$1" in
{_bash_step_cases(spec)}
    esac
    case " $subs " in
        *" $2 "*) _patchtui_next="${{1:+$1 }}$2"; return 0 ;;
    esac
    return 1
}}
complete -o default -F _patchtui patchtui
"""


def _bash_step_cases(spec: CommandSpec) -> str:
    lines = []
    for path, command in _walk(spec):
        subs = " ".join(sub.name for sub in command.subcommands)
        lines.append(f"        '{' '.join(path)}') subs='{subs}' ;;")
    lines.append("        *) subs='' ;;")
    return "\n".join(lines)


# --- zsh --------------------------------------------------------------------------------------


def _zsh_escape(text: str) -> str:
    """For a single-quoted zsh word: end the quote around each ', escape brackets."""
    return text.replace("'", "'\\''").replace("[", "\\[").replace("]", "\\]")


def _zsh_function_name(path: tuple[str, ...]) -> str:
    return "_patchtui" + "".join(f"_{part.replace('-', '_')}" for part in path)


def render_zsh(spec: CommandSpec) -> str:
    """One zsh function per (sub)command, each an ``_arguments`` spec dispatching deeper."""
    functions: list[str] = []
    for path, command in _walk(spec):
        lines = [f"{_zsh_function_name(path)}() {{"]
        specs: list[str] = []
        for option in command.options:
            description = _zsh_escape(option.help)
            value = ""
            if option.takes_value:
                if option.choices:
                    value = f":value:({_shell_words(option.choices)})"
                elif option.is_file:
                    value = ":file:_files"
                else:
                    value = ":value: "
            if len(option.flags) > 1:
                exclusive = " ".join(option.flags)
                flags = "{" + ",".join(option.flags) + "}"
                specs.append(f"'({exclusive})'{flags}'[{description}]{value}'")
            else:
                specs.append(f"'{option.flags[0]}[{description}]{value}'")
        if command.subcommands:
            lines.append("    local line state")
            specs.append("'1:command:->command'")
            specs.append("'*::argument:->argument'")
            lines.append("    _arguments -C \\")
            lines.extend(f"        {item} \\" for item in specs[:-1])
            lines.append(f"        {specs[-1]}")
            lines.append("    case $state in")
            lines.append("        command)")
            lines.append("            local -a commands")
            lines.append("            commands=(")
            for sub in command.subcommands:
                lines.append(f"                '{_zsh_escape(sub.name)}:{_zsh_escape(sub.help)}'")
            lines.append("            )")
            lines.append("            _describe -t commands 'command' commands ;;")
            lines.append("        argument)")
            lines.append("            case $line[1] in")
            for sub in command.subcommands:
                lines.append(
                    f"                {sub.name}) {_zsh_function_name((*path, sub.name))} ;;"
                )
            lines.append("            esac ;;")
            lines.append("    esac")
        else:
            if command.positional_choices:
                specs.append(f"'1:argument:({_shell_words(command.positional_choices)})'")
            specs.append("'*:argument:_files'")
            lines.append("    _arguments \\")
            lines.extend(f"        {item} \\" for item in specs[:-1])
            lines.append(f"        {specs[-1]}")
        lines.append("}")
        functions.append("\n".join(lines))
    return (
        "#compdef patchtui\n"
        "# zsh completion for patchtui (generated by `patchtui completion zsh`)\n\n"
        + "\n\n".join(functions)
        + '\n\n_patchtui "$@"\n'
    )


# --- fish -------------------------------------------------------------------------------------


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def render_fish(spec: CommandSpec) -> str:
    """``complete`` lines; a subcommand's lines apply once its name is on the command line."""
    lines = [
        "# fish completion for patchtui (generated by `patchtui completion fish`)",
        "complete -c patchtui -f",
    ]
    for path, command in _walk(spec):
        condition = _fish_condition(path, command)
        for sub in command.subcommands:
            lines.append(
                f"complete -c patchtui -n {_fish_quote(condition)} -a {sub.name} "
                f"-d {_fish_quote(sub.help)}"
            )
        for choice in command.positional_choices:
            lines.append(f"complete -c patchtui -n {_fish_quote(condition)} -a {choice}")
        for option in command.options:
            parts = [f"complete -c patchtui -n {_fish_quote(condition)}"]
            for flag in option.flags:
                parts.append(f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}")
            if option.takes_value:
                if option.choices:
                    parts.append(f"-x -a {_fish_quote(' '.join(option.choices))}")
                elif option.is_file:
                    parts.append("-r -F")
                else:
                    parts.append("-x")
            if option.help:
                parts.append(f"-d {_fish_quote(option.help)}")
            lines.append(" ".join(parts))
    return "\n".join(lines) + "\n"


def _fish_condition(path: tuple[str, ...], command: CommandSpec) -> str:
    """True while the command line is at ``path`` (e.g. after "db", before "check")."""
    tests = [f"__fish_seen_subcommand_from {name}" for name in path]
    if command.subcommands:
        names = " ".join(sub.name for sub in command.subcommands)
        tests.append(f"not __fish_seen_subcommand_from {names}")
    return "; and ".join(tests) or "true"
