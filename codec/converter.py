"""The data converter every client and worker uses: pydantic JSON, encrypted when a key is set."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes

from codec import tags
from codec.keys import load_key_ring
from codec.payload_codec import EncryptionCodec
from settings import Settings


def data_converter(settings: Settings) -> DataConverter:
    ring = load_key_ring(settings)
    if ring is None:
        tags.configure(None)
        return pydantic_data_converter
    tag_key_id = settings.pii_tag_key_id or ring.active
    tags.configure(hmac.new(ring.keys[tag_key_id], b"customer-email-tag", hashlib.sha256).digest())
    # Failure messages and stack traces are encrypted too: business errors name the email or id
    # they are about ("Customer with email: ..., already exists"), and a database error's cause
    # chain can quote the row it could not write.
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(ring),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
