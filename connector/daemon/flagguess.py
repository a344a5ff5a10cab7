"""What a mistyped flag most likely meant (`closest_flag`), for the settings' "did you mean" of an unknown flag, an
unknown variable and an unknown key of a settings file: by spelling, by the words a flag is made of, and never a
flag that does the reverse of what was typed."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping

__all__ = ["closest_flag"]


# Words that turn a flag around: `--skip-entitlements-and-grants` for `--grants`, `--no-sync-secrets` for `--secrets`
# are the opposite of what was typed, so a guess is a flag of the same sense as what was typed, its negations counted
# (`_same_sense`).
_TYPED_NEGATION = re.compile(
    r"(?:do-?not|don-?t|not|non|no|never|skip|disable|disallow|deny|forbid|without|ignore|exclude|off|un)(?:-|(?=[a-z])|$)"
)
"""A word by which a user may have meant a flag's opposite, dash or not: `--noprovisioning`, `--dont-sync-secrets`."""


def _negations(name: str, pattern: re.Pattern[str]) -> int:
    """How many negating words begin `name`: `no-skip-full-sync` two (it runs the full sync), `skip-full-sync` one."""
    count = 0
    while name and (found := pattern.match(name)) is not None and found.end() > 0:
        count, name = count + 1, name[found.end() :]
    return count


_FLAG_NEGATION = re.compile(r"(?:no|skip)-")


def _same_sense(flag_name: str, typed: str) -> bool:
    """Whether flag `flag_name` is negated as often as `typed` seems to be: only such a flag is guessed.
    `--noprovisioning` was "did you mean --provisioning?", the flag that turns on writes to Datadog, and `--nofull-sync`
    "--no-skip-full-sync", the flag that runs it. Counted, not paired off: `--no-skip-grants` (a sync's setting) is
    no `--grants` (inspect's)."""
    return _negations(flag_name, _FLAG_NEGATION) == _negations(typed, _TYPED_NEGATION)


def closest_flag(given: str, known: frozenset[str]) -> str | None:
    """The known flag `given` most likely meant, if any. Names are compared without their dashes: the `--` every
    long flag shares made `--json` "close" to `--version` and `--token` to `--site`. A flag that `given` begins
    (`--log` of `--log-level`, first) or ends (`--secret` of `--client-secret`), or that ends or begins `given`
    (`--datadog-site`, `--dd-api-key`), word for word, beats a spelling that is only near (`--region` was
    "--version"); of several, the shortest. Only one of `known` (the flags a guess may name: a caller leaves the
    hidden ones out, `settings.HIDDEN_FLAGS`), and never one of the other sense (`_same_sense`): `--secrets` was
    "did you mean --no-sync-secrets?"."""
    # In the variable's spelling (`--client_id`, `--API-KEY`, `--HELP`) a flag was "unknown" with no guess, or a
    # worse one: every flag is lower case with dashes, so the name is compared that way.
    wanted = given.lstrip("-").lower().replace("_", "-")
    bare = {
        flag_name.lstrip("-"): flag_name for flag_name in sorted(known) if _same_sense(flag_name.lstrip("-"), wanted)
    }
    guess = _closest_of(wanted, bare)
    if guess is None:
        return None
    # A flag negated more often than what was typed, a letter or so from it and nearer than the guess, means a
    # negation was misspelled (`--no-skp-full-sync`, `--n-provisioning`): counted short, the guess was the flag that
    # does the reverse. No guess then. (A typed negation word the flag lacks, `--disallow-…` for `--allow-…`, is the
    # other way round, and meant.)
    typed = _negations(wanted, _TYPED_NEGATION)
    near = difflib.get_close_matches(wanted, [name.lstrip("-") for name in known], n=3, cutoff=0.9)
    guessed = difflib.SequenceMatcher(None, wanted, guess.lstrip("-")).ratio()
    if any(
        _negations(name, _FLAG_NEGATION) > typed and difflib.SequenceMatcher(None, wanted, name).ratio() > guessed
        for name in near
    ):
        return None
    return guess


def _closest_of(wanted: str, bare: Mapping[str, str]) -> str | None:
    """`closest_flag`'s guess among the flags of the same sense (`bare`: each name without its dashes, to the flag)."""
    close = difflib.get_close_matches(wanted, list(bare), n=1, cutoff=0.6)
    ratio = difflib.SequenceMatcher(None, wanted, close[0]).ratio() if close else 0.0
    if close and ratio >= 0.8:
        return bare[close[0]]
    if wanted:
        begun = [name for name in bare if name.startswith(f"{wanted}-")]
        words = begun or [
            name
            for name in bare
            if name.endswith(f"-{wanted}") or wanted.endswith(f"-{name}") or wanted.startswith(f"{name}-")
        ]
        if words:
            return bare[min(words, key=lambda name: (len(name), name))]
    if close and (ratio >= 0.7 or close[0][:1] == wanted[:1]):  # a weak likeness that starts elsewhere is no guess
        return bare[close[0]]
    return None
