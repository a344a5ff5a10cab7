"""`baton-datadog completion SHELL`: a shell completion script, as cobra gives every baton-sdk connector
(`baton-datadog completion bash > /etc/bash_completion.d/baton-datadog`).

The script is static: the commands where no command stands yet (flags may come first, and a flag's value is never
taken for one: `--file config` names a file); after a dash, the flags `--help` lists for the command on
the line (`inspect` has flags of its own; hidden ones are left out, as cobra leaves them out); after `completion`
the shells and after `help` the commands; a file name anywhere else. It is made from the same parsers as `--help`,
so a new setting is completed without touching this module.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence

SHELLS = ("bash", "zsh", "fish")
PROGRAM = "baton-datadog"

Flags = Sequence[tuple[str, str]]


def listed_flags(parser: argparse.ArgumentParser) -> list[tuple[str, str]]:
    """Each flag `--help` shows, long and short (`--provisioning` and `-p`, as cobra offers both), with its help's
    first clause (for shells that show one)."""
    out: list[tuple[str, str]] = []
    for action in parser._actions:  # argparse has no public list of its arguments
        if action.help == argparse.SUPPRESS:
            continue
        help_text = (action.help or "").split(" (default:")[0].split(" [BATON_")[0]
        out += [
            # `--no-sync-secrets` beside `--sync-secrets`: the same help would say it syncs them.
            (
                option,
                f"off: {help_text}"
                if option.startswith("--no-") and f"--{option[5:]}" in action.option_strings
                else help_text,
            )
            for option in sorted(action.option_strings, key=lambda option: not option.startswith("--"))
        ]
    return out


def value_flags(parser: argparse.ArgumentParser) -> list[str]:
    """Every option string that takes a value, short ones too: the word after it is that value, never the command.
    Hidden ones are left out, as from the rest of the script (`--help` does not list them)."""
    return [
        option
        for action in parser._actions
        if action.nargs != 0 and action.help != argparse.SUPPRESS
        for option in action.option_strings
    ]


def script(
    shell: str,
    commands: Sequence[str],
    flags: Flags,
    command_flags: Mapping[str, Flags] | None = None,
    command_words: Mapping[str, Sequence[str]] | None = None,
    takes_value: Sequence[str] = (),
) -> str:
    """The script for `shell`: `flags` are the program's; `command_flags` those of a command that has its own
    (`inspect` takes none of the settings' flags: it reads a file); `command_words` what a command takes as its
    argument (`completion`: the shells). Offered the settings' flags after `inspect --`, the operator picked a flag
    inspect refuses; after `completion ` the shell got file names."""
    own = dict(command_flags or {})
    words = dict(command_words or {})
    if shell == "fish":
        return _fish(commands, flags, own, words, takes_value)
    names = " ".join(option for option, _ in flags)
    # The command is the first word after the program that names one and is no flag's value (flags may stand before
    # it, as with baton). Bash splits `--file=config` into `--file`, `=`, `config`.
    cases = "".join(
        f'        {command}) flags="{" ".join(option for option, _ in own_flags)}" ;;\n'
        for command, own_flags in own.items()
    )
    arguments = "".join(
        f'        {command}) [[ $previous == {command} ]] && COMPREPLY=($(compgen -W "{" ".join(taken)}" -- "$cur")) ;;\n'
        for command, taken in words.items()
    )
    bash = f"""_baton_datadog() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" previous="${{COMP_WORDS[COMP_CWORD-1]}}" command="" word value=0
    local takes=" {" ".join(takes_value)} "
    for word in "${{COMP_WORDS[@]:1:$((COMP_CWORD-1))}}"; do
        [[ "$word" == -- ]] && return 0  # after `--` no word is a flag or a command (pflag, argparse): file names
    done
    for word in "${{COMP_WORDS[@]:1:$((COMP_CWORD-1))}}"; do
        if (( value )); then [[ "$word" == = ]] || value=0; continue; fi
        case "$word" in {"|".join(commands)}) command="$word"; break ;; esac
        [[ "$takes" == *" $word "* ]] && value=1
    done
    local flags="{names}"
    case "$command" in
{cases}    esac
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    elif [[ -z "$command" ]]; then
        (( value )) || COMPREPLY=($(compgen -W "{" ".join(commands)}" -- "$cur"))
    else
        case "$command" in
{arguments}        esac
    fi
}}
complete -o default -F _baton_datadog {PROGRAM}
# zsh, from $fpath: this file is the function _{PROGRAM}, run by the first TAB, which it completes too (bash: no-op)
if [[ "${{funcstack[1]-}}" == "_{PROGRAM}" ]]; then _bash_complete -o default -F _baton_datadog; fi
"""
    if shell == "zsh":
        # zsh runs bash's completion functions through its bashcompinit layer. Installed as `_baton-datadog` in
        # $fpath (as `help completion` says), the file is the completion function itself: the first TAB ran it
        # only to define and register the function above, and offered nothing; the last line completes that TAB.
        return f"#compdef {PROGRAM}\n# zsh completion for {PROGRAM} ({PROGRAM} completion zsh)\n" + (
            "autoload -U +X bashcompinit && bashcompinit\n" + bash
        )
    return f"# bash completion for {PROGRAM} ({PROGRAM} completion bash)\n" + bash


def _fish(
    commands: Sequence[str],
    flags: Flags,
    own: Mapping[str, Flags],
    words: Mapping[str, Sequence[str]],
    takes_value: Sequence[str],
) -> str:
    lines = [f"# fish completion for {PROGRAM} ({PROGRAM} completion fish)"]
    # fish's __fish_use_subcommand and __fish_seen_subcommand_from take any word for the command, a flag's value
    # too: no command was offered after `--config x.yaml`, and `--file config` was taken for config. `none`: no
    # command yet, and the word being completed is no flag's value.
    lines += [
        "function __baton_datadog_command_in --description 'whether the command on the line is one of the arguments'",
        "    set -l command none",
        "    set -l value 0",
        "    for word in (commandline -opc)[2..-1]",
        "        if test $value = 1",
        "            set value 0",
        "        else if contains -- $word " + " ".join(commands),
        "            set command $word",
        "            break",
        "        else if contains -- $word " + " ".join(takes_value),
        "            set value 1",
        "        end",
        "    end",
        "    test $command = none -a $value = 1; and set command value",
        "    contains -- $command $argv",
        "end",
    ]
    lines.append(f"complete -c {PROGRAM} -n '__baton_datadog_command_in none' -f -a '{' '.join(commands)}'")
    # The program's flags, but not after a command that lacks them; a command that adds to them (config's --json)
    # gets only what it adds.
    program = set(flags)
    apart = [command for command, listed in own.items() if not program <= set(listed)]
    apart += [command for command in words if command not in apart]
    unless = f" -n 'not __baton_datadog_command_in {' '.join(apart)}'" if apart else ""
    lines += [f"complete -c {PROGRAM}{unless} {_fish_option(option)} -d {_fish_quoted(text)}" for option, text in flags]
    for command, listed in own.items():
        seen = f"-n '__baton_datadog_command_in {command}'"
        added = listed if command in apart else [flag for flag in listed if flag not in program]
        lines += [f"complete -c {PROGRAM} {seen} {_fish_option(o)} -d {_fish_quoted(text)}" for o, text in added]
    for command, taken in words.items():
        lines.append(f"complete -c {PROGRAM} -n '__fish_prev_arg_in {command}' -f -a '{' '.join(taken)}'")
    return "\n".join(lines) + "\n"


def _fish_option(option: str) -> str:
    """fish's name for a flag: `-l api-key` for `--api-key`, `-s p` for `-p`."""
    return f"-l {option[2:]}" if option.startswith("--") else f"-s {option[1:]}"


def _fish_quoted(text: str) -> str:
    # Inside fish's single quotes only a backslash and a single quote are special.
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
