"""Values from Datadog where another type belongs, fourth round: a number far longer than any value is valid JSON, and
the page that holds one is refused for what it holds, by the field's answer's endpoint, not called "not valid JSON"
(which sends whoever reads it looking for a cut or garbled answer)."""

from __future__ import annotations

import pytest

from connector.datadog.errors import DatadogError, UnexpectedResponse
from connector.datadog.paging import paginate
from tests.datadog.helpers import listed
from tests.independent.datadog2.org import API_KEY, APP_KEY, client, page_body, user
from tests.independent.rawpeer import RawPeer, http

PAGE = page_body([user("u-0"), user("u-1")], 2)


async def _users(body: bytes) -> object:
    async with RawPeer([http(200, body)]) as peer:
        dd = client(peer.base_url)
        try:
            result: object = [item.id async for page in paginate(listed(dd.fetch_users)) for item in page.items]
        except DatadogError as exc:
            result = exc
        finally:
            await dd.aclose()
    assert API_KEY not in str(result)
    assert APP_KEY not in str(result)
    return result


@pytest.mark.parametrize(
    "replace",
    [
        (b'"u-1"', b"1" + b"0" * 5000),  # an id
        (b'"u-1@example.com"', b"-" + b"9" * 4301),  # an email
        (b'"total_count": 2', b'"total_count": 2' + b"0" * 4400),  # a count
    ],
    ids=["id", "email", "total"],
)
async def test_a_number_of_thousands_of_digits_is_named_as_such_not_as_broken_json(
    replace: tuple[bytes, bytes],
) -> None:
    result = await _users(PAGE.replace(*replace))
    assert isinstance(result, UnexpectedResponse), result
    assert "GET /api/v2/users" in str(result)
    assert "a number of more than 4,300 digits" in str(result), str(result)
    assert "not valid JSON" not in str(result)
    # Whole and valid JSON: the same answer comes again, so no retry of the sync is asked for (a cut body's is).
    assert result.retryable is False


async def test_a_write_answered_with_a_number_of_thousands_of_digits_names_it_and_is_not_retried() -> None:
    """The same class in a write's answer (a 2xx whose body is read for a refusal): it was 'not JSON, so not Datadog's
    answer', retryable."""
    async with RawPeer([http(200, b'{"data": ' + b"7" * 5000 + b"}")]) as peer:
        dd = client(peer.base_url)
        try:
            with pytest.raises(UnexpectedResponse) as caught:
                await dd.remove_team_member("t-1", "u-1")
        finally:
            await dd.aclose()
    assert "DELETE /api/v2/team/t-1/memberships/u-1" in str(caught.value)
    assert "a number of more than 4,300 digits" in str(caught.value)
    assert caught.value.retryable is False


async def test_a_number_just_under_the_digit_bound_is_read_and_named_by_its_field() -> None:
    result = await _users(PAGE.replace(b'"u-1"', b"1" + b"0" * 4200))
    assert isinstance(result, UnexpectedResponse), result
    assert "data[1].id (expected a string, got a number)" in str(result)
