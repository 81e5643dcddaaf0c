"""The pure parts of remote A2A agents: config/agents.yaml, card → description, A2A stream → progress."""

from __future__ import annotations

from pathlib import Path

import pytest
from a2a.client.card_resolver import parse_agent_card
from a2a.types.a2a_pb2 import (
    Artifact,
    Message,
    Part,
    Role,
    StreamResponse,
    Task,
    TaskArtifactUpdateEvent,
    TaskState,
    TaskStatus,
    TaskStatusUpdateEvent,
)

from api.paths.orchestration.agents import DependencyResult, Progress, TaskFailed
from api.paths.orchestration.agents_config import load_agents_config, parse_agents_config
from api.paths.orchestration.plan import PlannedTask
from api.paths.orchestration.remote import RemoteTask, card_description, card_skills, task_text

CARD_URL = "http://127.0.0.1:8002/.well-known/agent-card.json"


# ---- config/agents.yaml ------------------------------------------------------------------


def test_the_shipped_config_lists_the_demo_agent():
    agents = load_agents_config(Path(__file__).parents[2] / "config" / "agents.yaml")
    assert [(a.name, a.url, a.enabled) for a in agents] == [("demo-a2a", CARD_URL, True)]


def test_a_missing_or_unset_file_means_no_remote_agents(tmp_path):
    assert load_agents_config(tmp_path / "absent.yaml") == []
    assert load_agents_config(None) == []
    assert parse_agents_config(None, "empty.yaml") == []


def test_an_entry_keeps_its_headers_and_enabled_flag():
    (agent,) = parse_agents_config(
        {"agents": [{"name": "x", "url": CARD_URL, "headers": {"Authorization": "Bearer t"}, "enabled": False}]}, "f"
    )
    assert (agent.headers, agent.enabled) == ({"Authorization": "Bearer t"}, False)


@pytest.mark.parametrize(
    ("agents", "message"),
    [
        ([{"name": "ok", "url": CARD_URL}, {"name": "bad", "url": "ftp://x"}], "agents[1] (name 'bad'): url: String"),
        ([{"name": "x", "url": CARD_URL, "token": "t"}], "agents[0] (name 'x'): token: Extra inputs"),
        ([{"url": CARD_URL}], "agents[0]: name: Field required"),
        ([{"name": "has space", "url": CARD_URL}], "agents[0] (name 'has space'): name: String should match"),
        ([{"name": "reasoning", "url": CARD_URL}], "'reasoning' is the built-in agent's name"),
        ([{"name": "a", "url": CARD_URL}, {"name": "a", "url": CARD_URL}], "repeated: a"),
    ],
)
def test_a_malformed_entry_is_named_in_the_error(agents, message):
    with pytest.raises(ValueError, match=r"Invalid agent configuration in agents\.yaml") as caught:
        parse_agents_config({"agents": agents}, "agents.yaml")
    assert message in str(caught.value)


def test_a_file_that_is_not_yaml_stops_the_start(tmp_path):
    path = tmp_path / "agents.yaml"
    path.write_text("agents: [\n")
    with pytest.raises(ValueError, match="not YAML"):
        load_agents_config(path)


# ---- card → what the planner and GET /v1/agents show ----------------------------------------


def test_a_card_becomes_a_description_with_its_skills():
    card = parse_agent_card(
        {
            "name": "demo",
            "description": "converts units",
            "supportedInterfaces": [{"url": "http://h/", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}],
            "capabilities": {"streaming": True},
            "skills": [{"id": "conv", "name": "Converter", "description": "lengths and masses", "tags": []}],
        }
    )
    assert card_description(card) == "converts units (skills: Converter: lengths and masses)"
    assert [(s.id, s.name) for s in card_skills(card)] == [("conv", "Converter")]
    assert card.capabilities.streaming


def test_a_legacy_0_3_card_without_skills_is_described_by_its_text():
    card = parse_agent_card({"name": "old", "description": "", "url": "http://h/", "protocolVersion": "0.3.0"})
    assert card_description(card) == "old"
    assert card.supported_interfaces[0].protocol_version == "0.3.0"
    assert not card.capabilities.streaming


def test_a_remote_task_gets_its_instruction_and_what_it_builds_on():
    task = PlannedTask(id="t2", agent="demo-a2a", instruction="Notes on Tokyo.", depends_on=["t1"])
    assert task_text(task, ()) == "Notes on Tokyo."
    text = task_text(task, (DependencyResult("t1", "reasoning", "Tokyo is 20 °C."),))
    assert (
        text
        == "Notes on Tokyo.\n\nResults of the tasks this one builds on:\n- From task t1 (reasoning): Tokyo is 20 °C."
    )


# ---- the A2A stream → Progress / result / TaskFailed --------------------------------------------


def status(state: int, text: str = "") -> StreamResponse:
    message = Message(role=Role.ROLE_AGENT, parts=[Part(text=text)]) if text else None
    return StreamResponse(
        status_update=TaskStatusUpdateEvent(task_id="a1", status=TaskStatus(state=state, message=message))
    )


def artifact(text: str, artifact_id: str = "x", append: bool = False) -> StreamResponse:
    event = TaskArtifactUpdateEvent(task_id="a1", artifact=Artifact(artifact_id=artifact_id, parts=[Part(text=text)]))
    event.append = append
    return StreamResponse(artifact_update=event)


def test_status_updates_with_text_are_progress_and_the_artifact_is_the_result():
    remote = RemoteTask()
    assert (
        remote.feed(StreamResponse(task=Task(id="a1", status=TaskStatus(state=TaskState.TASK_STATE_SUBMITTED)))) is None
    )
    assert remote.feed(status(TaskState.TASK_STATE_WORKING, "Reading")) == Progress("Reading", {"a2a_state": "working"})
    assert remote.feed(status(TaskState.TASK_STATE_WORKING)) is None  # nothing to show
    assert remote.feed(artifact("10 km = ")) is None
    assert remote.feed(artifact("6.2 mi", append=True)) is None
    assert (remote.task_id, remote.done, remote.result()) == ("a1", False, None)
    assert remote.feed(status(TaskState.TASK_STATE_COMPLETED)) is None
    assert (remote.done, remote.result()) == (True, "10 km = 6.2 mi")


def test_without_an_artifact_the_last_message_is_the_result():
    remote = RemoteTask()
    remote.feed(status(TaskState.TASK_STATE_COMPLETED, "Done: 42"))
    assert remote.result() == "Done: 42"
    direct = RemoteTask()
    direct.feed(StreamResponse(message=Message(role=Role.ROLE_AGENT, parts=[Part(text="hi")])))
    assert (direct.done, direct.task_id, direct.result()) == (True, None, "hi")


def test_a_polled_task_snapshot_carries_its_artifacts_and_history():
    snapshot = Task(
        id="a1",
        status=TaskStatus(state=TaskState.TASK_STATE_COMPLETED),
        artifacts=[Artifact(artifact_id="r", parts=[Part(text="result")])],
        history=[Message(role=Role.ROLE_AGENT, parts=[Part(text="thinking")])],
    )
    remote = RemoteTask()
    remote.feed(StreamResponse(task=snapshot))
    remote.feed(StreamResponse(task=snapshot))  # polled twice: the same artifact, not doubled
    assert remote.result() == "result"


@pytest.mark.parametrize(
    ("state", "text", "error"),
    [
        (TaskState.TASK_STATE_FAILED, "no notes", "the remote agent's task failed: no notes"),
        (TaskState.TASK_STATE_REJECTED, "", "the remote agent rejected the task"),
        (TaskState.TASK_STATE_CANCELED, "", "the remote agent cancelled the task"),
        (TaskState.TASK_STATE_INPUT_REQUIRED, "which city?", "asks for input, which a planned task cannot give"),
    ],
)
def test_a_task_that_ends_badly_is_task_failed(state, text, error):
    remote = RemoteTask()
    with pytest.raises(TaskFailed, match=error):
        remote.feed(status(state, text))
    assert remote.done  # no tasks/cancel for a task that already ended
