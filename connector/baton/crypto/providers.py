"""Provider resolution, pre-mint validation and the fan-out (docs/spec/credentials.md §2.1).

`validate_encryption_configs` runs before the connector mints anything and returns the parsed
recipients, so encryption after the mint only uses keys that were already checked. Messages are baton-sdk
v0.25.0's `ValidateEncryptionConfigs` messages (tests/fixtures/credentials/validation.json).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from connector.baton.crypto import age, jwe, jwk
from connector.baton.crypto.errors import ConfigError, EncryptError
from connector.baton.errors import ConnectorError, InvalidArgumentError
from connector.baton.gostrings import go_to_lower, go_trim_space
from connector.baton.pb.c1.connector.v2 import resource_pb2

AGE = "baton/age/v1"
JWK = jwk.PROVIDER
JWK_PRIVATE_ALIAS = "baton/jwk/v1/private"
JWE = jwe.PROVIDER
NOT_REGISTERED = "crypto/providers: encryption provider not registered"
MAX_AGE_RECIPIENT_CHARS = 4096
"""`AgeRecipientConfig.recipient` is 1..4096 characters (docs/spec/credentials.md §2.1); a PQ one is ~1960."""


class EncryptionFailedError(ConnectorError):
    """Encryption failed after the mint (Go reports these as Unknown)."""


@dataclass(frozen=True, slots=True)
class Recipient:
    """One checked EncryptionConfig, ready to encrypt to."""

    provider: str  # the canonical provider name written into EncryptedData
    key_id: str
    key_ids: tuple[str, ...]
    jwk: jwk.PublicJwk | None = None
    age_kind: str = ""  # "x25519" | "pq"
    age_recipient: str = ""
    age_public_key: bytes = b""
    jwe: jwe.JweRecipient | None = None


def resolve_provider(config: resource_pb2.EncryptionConfig) -> str:
    """The canonical provider of a config: explicit (case and spaces ignored) or inferred from the oneof."""
    # The SDK's `strings.ToLower(strings.TrimSpace(…))`: Python's strip() also takes U+001C..U+001F, so a provider
    # Go calls unregistered was used.
    name = go_to_lower(go_trim_space(config.provider))
    if not name:
        arm = config.WhichOneof("config")
        if arm == "age_recipient_config":
            return AGE
        if arm == "jwk_public_key_config":
            return JWK
        raise ConfigError(NOT_REGISTERED, status=False)
    if name in (JWK, JWK_PRIVATE_ALIAS):
        return JWK
    if name in (AGE, JWE):
        return name
    raise ConfigError(f"{NOT_REGISTERED} ({config.provider})", status=False)


def _age(config: resource_pb2.EncryptionConfig) -> Recipient:
    if config.WhichOneof("config") != "age_recipient_config":
        raise ConfigError("age: age recipient config is required")
    recipient = config.age_recipient_config.recipient
    if not recipient:
        raise ConfigError("age: recipient is required")
    if len(recipient) > MAX_AGE_RECIPIENT_CHARS:
        # Before any decoding: the Bech32 decoder runs per character on the event loop (a 32 MiB task held it seconds).
        raise ConfigError(f"age: recipient must be at most {MAX_AGE_RECIPIENT_CHARS} characters")
    # Go's TrimSpace: a recipient ending in U+001F is no recipient to Go ("invalid recipient"), not one with spaces.
    if recipient != go_trim_space(recipient) or "\r" in recipient or "\n" in recipient:
        raise ConfigError("age: recipient must be a single canonical recipient string")
    try:
        kind, public_key = age.parse_recipient(recipient)
    except age.RecipientError as exc:
        raise ConfigError(str(exc)) from None
    digest = hashlib.sha256(recipient.encode()).hexdigest()
    return Recipient(AGE, "", (digest,), age_kind=kind, age_recipient=recipient, age_public_key=public_key)


def _jwk(config: resource_pb2.EncryptionConfig) -> Recipient:
    if config.WhichOneof("config") != "jwk_public_key_config":
        raise ConfigError("jwk: public key configuration is required")
    if config.jwk_public_key_config.additional_authenticated_data:
        raise ConfigError("jwk: additional_authenticated_data is only supported by baton/jwe/v1")
    key = jwk.parse(config.jwk_public_key_config.pub_key)
    return Recipient(JWK, key.thumbprint, (key.thumbprint,), jwk=key)


def _jwe(config: resource_pb2.EncryptionConfig) -> Recipient:
    recipient = jwe.parse(config)
    return Recipient(JWE, "", (recipient.key_id,), jwe=recipient)


_CHECKS = {AGE: _age, JWK: _jwk, JWE: _jwe}


def validate_encryption_configs(configs: Sequence[resource_pb2.EncryptionConfig | None]) -> list[Recipient]:
    """Check every config before minting; InvalidArgumentError with the SDK's message on the first refusal."""
    recipients: list[Recipient] = []
    for index, config in enumerate(configs):
        if config is None:
            raise InvalidArgumentError(f"encryption config {index} is empty")
        try:
            recipients.append(_CHECKS[resolve_provider(config)](config))
        except ConfigError as exc:
            raise InvalidArgumentError(f"invalid encryption config {index}: {exc.quoted()}") from None
    if len(recipients) > 1 and any(r.provider == JWE for r in recipients):
        # §2.5 item 8: an X-Wing recipient is never part of a fan-out.
        index = next(i for i, r in enumerate(recipients) if r.provider == JWE)
        raise InvalidArgumentError(
            f"invalid encryption config {index}: "
            + ConfigError("jwe: baton/jwe/v1 requires exactly one encryption config").quoted()
        )
    return recipients


def _encrypt_one(recipient: Recipient, data: bytes) -> bytes:
    if recipient.jwk is not None:
        return jwk.encrypt(recipient.jwk, data)
    if recipient.jwe is not None:
        return jwe.encrypt(recipient.jwe, data)
    with contextlib.suppress(Exception):  # library errors may say anything; only the recipient kind leaves here
        if recipient.age_kind == "pq":
            return age.encrypt_pq(recipient.age_public_key, data)
        return age.encrypt_x25519(recipient.age_recipient, data)
    raise EncryptError(f"age: encrypting to the {recipient.age_kind} recipient failed")  # outside it (errors.py)


def encrypt_all(
    recipients: Sequence[Recipient], plaintexts: Sequence[resource_pb2.PlaintextData]
) -> list[resource_pb2.EncryptedData]:
    """Every plaintext to every recipient, plaintexts outer, configs inner; the first failure aborts all."""
    out: list[resource_pb2.EncryptedData] = []
    for plaintext in plaintexts:
        for recipient in recipients:
            try:
                encrypted = _encrypt_one(recipient, plaintext.bytes)
            except EncryptError as exc:
                # Its text is ours, and it is raised with no context of its own (errors.py): nothing of the library's
                # (which may quote the plaintext) is kept behind this one.
                raise EncryptionFailedError(str(exc)) from None
            out.append(
                resource_pb2.EncryptedData(
                    provider=recipient.provider,
                    key_id=recipient.key_id,
                    key_ids=list(recipient.key_ids),
                    name=plaintext.name,
                    description=plaintext.description,
                    schema=plaintext.schema,
                    encrypted_bytes=encrypted,
                )
            )
    return out
