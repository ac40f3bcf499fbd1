"""The data converter every client and worker uses: pydantic JSON, encrypted when a key is set."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import hmac
from typing import Any

from pydantic import TypeAdapter, ValidationError
from temporalio.api.failure.v1 import Failure
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter, pydantic_data_converter
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultFailureConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
    PayloadConverter,
)

from activities.failures import application_error
from codec import tags
from codec.keys import load_key_ring
from codec.payload_codec import EncryptionCodec
from customer_service.validation import invalid_data
from settings import ConfigurationError, Settings

# The pydantic type adapters of the process, one per type a payload is read as. The SDK makes a
# payload converter per workflow run, each with a cache of its own, so every run built an adapter
# for every payload it read (a `list[CustomerDTO]`: its schema each time). The types are the
# passed-through contracts' (`workflows.contracts`, `activities.contracts`), the same objects in
# every run; the bound keeps any other a run might bring from accumulating.
_ADAPTERS: functools._lru_cache_wrapper[TypeAdapter[Any]] = functools.lru_cache(maxsize=256)(
    TypeAdapter
)


class _SharedAdaptersJSON(PydanticJSONPlainPayloadConverter):
    def __init__(self) -> None:
        super().__init__(max_cached_type_adapters=0)
        self._type_adapter = _ADAPTERS


class PydanticPayloadConverter(CompositePayloadConverter):
    """Temporal's pydantic payload converter, reading payloads with the process's adapters."""

    def __init__(self) -> None:
        json_converter = _SharedAdaptersJSON()
        super().__init__(
            *(
                json_converter if isinstance(c, JSONPlainPayloadConverter) else c
                for c in DefaultPayloadConverter.default_encoding_payload_converters
            )
        )


class FailureConverter(DefaultFailureConverter):
    """Temporal's failure converter, with pydantic's ValidationError sent as Medusa's typed
    invalid_data naming the field. The worker fails a run with it when a start's input does
    not validate (a start that bypassed the client): the run fails at once, typed, instead of
    its first workflow task failing and being retried without end."""

    def to_failure(
        self, exception: BaseException, payload_converter: PayloadConverter, failure: Failure
    ) -> None:
        if isinstance(exception, ValidationError):
            exception = application_error(invalid_data(exception))
        super().to_failure(exception, payload_converter, failure)


class EncryptedFailureConverter(FailureConverter):
    """The same, with messages and stack traces moved into the (encrypted) encoded attributes."""

    def __init__(self) -> None:
        super().__init__(encode_common_attributes=True)


def data_converter(settings: Settings) -> DataConverter:
    ring = load_key_ring(settings)
    if ring is None:
        tags.configure(None)
        return dataclasses.replace(
            pydantic_data_converter,
            payload_converter_class=PydanticPayloadConverter,
            failure_converter_class=FailureConverter,
        )
    tag_key_id = settings.pii_tag_key_id
    if not tag_key_id or tag_key_id not in ring.keys:
        # Pinned, not "the active key": rotating the active key must not change the tags, or
        # older runs could no longer be found by email.
        raise ConfigurationError(
            "PII_TAG_KEY_ID must name one of the PII keys (the key whose derivative hashes the "
            "CustomerEmail search attribute; keep it when rotating the active key)"
        )
    tags.configure(hmac.new(ring.keys[tag_key_id], b"customer-email-tag", hashlib.sha256).digest())
    # Failure messages and stack traces are encrypted too: business errors name the email or id
    # they are about ("Customer with email: ..., already exists"), and a database error's cause
    # chain can quote the row it could not write.
    return dataclasses.replace(
        pydantic_data_converter,
        payload_converter_class=PydanticPayloadConverter,
        payload_codec=EncryptionCodec(ring),
        failure_converter_class=EncryptedFailureConverter,
    )
