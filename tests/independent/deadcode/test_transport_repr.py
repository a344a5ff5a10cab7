"""`ApiTransport.__repr__` (connector/datadog/transport.py): the transport holds both Datadog keys, and its repr (what
a traceback's locals, a debugger or a `%r` in a log line shows) names its site only, never a key. No test had asked
for it."""

from __future__ import annotations

from connector.datadog.transport import ApiTransport

API_KEY = "0123456789abcdef0123456789abcdef"
APP_KEY = "0123456789abcdef0123456789abcdef01234567"


async def test_the_transports_repr_names_its_site_and_no_key() -> None:
    transport = ApiTransport(api_key=API_KEY, app_key=APP_KEY, base_url="https://api.datadoghq.eu")
    try:
        shown = repr(transport)
    finally:
        await transport.aclose()
    assert shown == "ApiTransport(base_url='https://api.datadoghq.eu')"
    assert API_KEY not in shown
    assert APP_KEY not in shown
