"""A Datadog error's text is cleaned of the keys and of a credential just issued (`errors.scrub`) as the log is: a
secret that begins another (the API key that begins a longer credential, an issued key beginning with the app key)
left the longer one's tail in the message, when the shorter was replaced first."""

from __future__ import annotations

import json

import pytest

from connector.datadog.errors import error_for_response
from tests.independent.secrets.canaries import LONG, LONGER, SHORT_PREFIX, TAIL, leaked


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"errors": [f"Invalid key {LONGER} (also {SHORT_PREFIX})"]}).encode(),
        json.dumps({"errors": [{"detail": f"forbidden for {LONGER}"}]}).encode(),
        f"<html><body>API key {LONGER} is not valid</body></html>".encode(),
    ],
    ids=["strings", "objects", "html"],
)
def test_a_body_quoting_a_secret_that_another_begins_keeps_no_part_of_it(body: bytes) -> None:
    error = error_for_response(403, method="GET", path="/api/v2/users", body=body, secrets=[SHORT_PREFIX, LONGER])
    assert TAIL not in str(error)
    assert not leaked(str(error), SHORT_PREFIX, LONGER), str(error)


def test_a_secret_longer_than_the_messages_cut_is_kept_out_from_its_first_characters() -> None:
    """A message is cut after 300 characters and scrubbed over 512 more: a secret longer than those (an issued
    token, a key pasted with a long prefix) was cut before it was recognised, and its first characters stayed."""
    body = json.dumps({"errors": [f"bad credential {LONG}"]}).encode()
    error = error_for_response(400, method="POST", path="/api/v2/api_keys", body=body, secrets=[LONG])
    assert "bad credential" in str(error)
    assert not leaked(str(error), LONG), str(error)


def test_a_key_after_multibyte_text_in_a_page_that_is_not_json_keeps_no_part_of_it() -> None:
    """A proxy's HTML page was cut in bytes before it was scrubbed and in characters after: multibyte text before the
    key left fewer characters of the scrub's slack than the key's, and the key's first 20 characters were shown."""
    key = "0123456789abcdef0123456789abcdef"
    page = f'<html><head><title x="{"€" * 1507}"></title></head><body>Forbidden: DD-API-KEY {key}</body></html>'
    error = error_for_response(403, method="GET", path="/api/v2/users", body=page.encode(), secrets=[key])
    assert "Forbidden: DD-API-KEY" in str(error)
    assert key[:12] not in str(error), str(error)[-200:]
