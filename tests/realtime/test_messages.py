from __future__ import annotations

import pytest
from pydantic import ValidationError

from bazaar.realtime.messages import (
    Pong,
    Resume,
    Subscribe,
    client_message,
)


def test_client_messages_are_told_apart_by_type() -> None:
    parsed = client_message.validate_json(
        '{"type": "subscribe", "notification_types": ["loan_status_change"]}'
    )

    assert parsed == Subscribe(type="subscribe", notification_types=["loan_status_change"])
    assert client_message.validate_json('{"type": "pong"}') == Pong(type="pong")


def test_subscribe_takes_names_this_server_does_not_know() -> None:
    # The hub reports them in its answer; refusing the message would drop the known ones too.
    parsed = client_message.validate_json(
        '{"type": "subscribe", "notification_types": ["loan_status_change", "heartbeat", "x"]}'
    )

    assert isinstance(parsed, Subscribe)
    assert parsed.notification_types == ["loan_status_change", "heartbeat", "x"]


@pytest.mark.parametrize(
    "raw",
    [
        '{"type": "dance"}',
        '{"type": "subscribe", "notification_types": []}',
        '{"type": "subscribe", "notification_types": [""]}',
        '{"type": "subscribe", "notification_types": [1]}',
        '{"type": "pong", "extra": 1}',
        '{"type": "resume", "since": {"user:a": -1}, "epoch": "e"}',
        '{"type": "resume", "since": {"user:a": 1}, "epoch": {"user:b": "e"}}',
        "not json",
    ],
)
def test_malformed_client_messages_are_rejected(raw: str) -> None:
    with pytest.raises(ValidationError):
        client_message.validate_json(raw)


def test_resume_takes_one_epoch_or_one_per_channel() -> None:
    one = client_message.validate_json('{"type":"resume","since":{"a":1,"b":2},"epoch":"e1"}')
    per = client_message.validate_json(
        '{"type":"resume","since":{"a":1,"b":2},"epoch":{"a":"e1","b":"e2"}}'
    )

    assert isinstance(one, Resume)
    assert isinstance(per, Resume)
    assert [one.epoch_of("a"), one.epoch_of("b")] == ["e1", "e1"]
    assert [per.epoch_of("a"), per.epoch_of("b")] == ["e1", "e2"]
