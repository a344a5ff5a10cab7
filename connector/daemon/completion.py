"""`baton-datadog completion SHELL`: a shell completion script, as cobra gives every baton-sdk connector
(`baton-datadog completion bash > /etc/bash_completion.d/baton-datadog`).

The script is static: the commands in the first place, the flags `--help` lists after a dash (hidden ones are left
out, as cobra leaves them out), a file name anywhere else. It is made from the same parser as `--help`, so a new
setting is completed without touching this module.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

SHELLS = ("bash", "zsh", "fish")
PROGRAM = "baton-datadog"


def listed_flags(parser: argparse.ArgumentParser) -> list[tuple[str, str]]:
    """Each long flag `--help` shows, with its help's first clause (for shells that show one)."""
    out: list[tuple[str, str]] = []
    for action in parser._actions:  # argparse has no public list of its arguments
        if action.help == argparse.SUPPRESS:
            continue
        help_text = (action.help or "").split(" (default:")[0].split(" [BATON_")[0]
        out += [
            # `--no-sync-secrets` beside `--sync-secrets`: the same help would say it syncs them.
            (option, f"off: {help_text}" if f"--{option[5:]}" in action.option_strings else help_text)
            for option in action.option_strings
            if option.startswith("--")
        ]
    return out


def script(shell: str, commands: Sequence[str], flags: Sequence[tuple[str, str]]) -> str:
    names = " ".join(option for option, _ in flags)
    if shell == "fish":
        lines = [f"# fish completion for {PROGRAM} ({PROGRAM} completion fish)"]
        lines.append(f"complete -c {PROGRAM} -n __fish_use_subcommand -f -a '{' '.join(commands)}'")
        lines += [f"complete -c {PROGRAM} -l {option[2:]} -d {_fish_quoted(text)}" for option, text in flags]
        return "\n".join(lines) + "\n"
    bash = f"""_baton_datadog() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}"
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "{names}" -- "$cur"))
    elif [[ $COMP_CWORD -eq 1 ]]; then
        COMPREPLY=($(compgen -W "{" ".join(commands)}" -- "$cur"))
    fi
}}
complete -o default -F _baton_datadog {PROGRAM}
"""
    if shell == "zsh":
        # zsh runs bash's completion functions through its bashcompinit layer.
        return f"#compdef {PROGRAM}\n# zsh completion for {PROGRAM} ({PROGRAM} completion zsh)\n" + (
            "autoload -U +X bashcompinit && bashcompinit\n" + bash
        )
    return f"# bash completion for {PROGRAM} ({PROGRAM} completion bash)\n" + bash


def _fish_quoted(text: str) -> str:
    # Inside fish's single quotes only a backslash and a single quote are special.
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
