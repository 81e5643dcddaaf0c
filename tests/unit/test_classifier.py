"""Auto routing's pure parts: the decision key, the transcript, the restricted schema."""

import pytest
from pydantic import ValidationError

from api.routing.classifier import choice_model, decision_key, transcript

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Plan a trip"}]


def test_identical_conversations_share_a_key_and_different_ones_do_not():
    assert decision_key(MESSAGES, ["passthrough", "reasoning"], "m") == decision_key(
        list(MESSAGES), ["passthrough", "reasoning"], "m"
    )
    assert decision_key(MESSAGES, ["passthrough"], "m") != decision_key(MESSAGES, ["passthrough", "reasoning"], "m")
    assert decision_key(MESSAGES[:1], ["passthrough"], "m") != decision_key(MESSAGES, ["passthrough"], "m")


def test_the_transcript_is_the_whole_conversation_with_roles():
    text = transcript(
        [*MESSAGES, {"role": "user", "content": [{"type": "text", "text": "now"}, {"type": "image_url"}]}]
    )
    assert text.splitlines() == ["system: Be brief.", "user: Plan a trip", "user: now [image_url]"]


def test_long_conversations_keep_their_end():
    text = transcript([{"role": "user", "content": "a" * 20_000}, {"role": "user", "content": "the question"}])
    assert text.endswith("user: the question")
    assert len(text) <= 12_001


def test_the_schema_only_admits_the_configured_targets():
    schema = choice_model(["passthrough", "orchestration"])
    assert schema(path="orchestration", reason="big").path == "orchestration"
    with pytest.raises(ValidationError):
        schema(path="reasoning", reason="not allowed")
