"""Which actions send a drafted message (so a plan must draft first), inferred from the
workspace file or declared."""

from __future__ import annotations

from orchestrator.models import Lane
from orchestrator.steps.policy import missing_draft, sends_draft
from orchestrator.workspace.catalog import Action, Connection, Workspace


def with_action(workspace: Workspace, action: Action, **connections: Connection) -> Workspace:
    return workspace.model_copy(
        update={
            "actions": {**workspace.actions, "tell": action},
            "connections": {**workspace.connections, **connections},
        }
    )


def test_the_demo_send_uses_the_draft_and_nothing_else_does(workspace: Workspace) -> None:
    sending = {n for n, a in workspace.actions.items() if sends_draft(a, workspace)}
    assert sending == {"send_winback"}


def test_an_smtp_action_always_sends_the_draft(workspace: Workspace) -> None:
    mail = Connection(kind="smtp", url="smtp://127.0.0.1:25", tls="none")
    action = Action(lane=Lane.SYSTEMS, description="email them", connection="mail")
    assert sends_draft(action, with_action(workspace, action, mail=mail))


def test_an_http_body_naming_the_draft_sends_it_and_a_declaration_wins(
    workspace: Workspace,
) -> None:
    api = Connection(kind="http", url="https://api.example.com")
    action = Action(
        lane=Lane.SYSTEMS,
        description="post a note",
        connection="api",
        body={"text": "{{ params.draft }}"},
    )
    ws = with_action(workspace, action, api=api)
    assert sends_draft(action, ws)
    assert missing_draft(action, ws, {"draft": "  "}) is not None
    assert missing_draft(action, ws, {"draft": "Hello"}) is None
    declared = action.model_copy(update={"sends_draft": False})
    assert not sends_draft(declared, ws)
