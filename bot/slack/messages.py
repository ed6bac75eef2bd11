"""Slack's own durable work, as job messages (the core's are in
`orchestrator.runtime.messages`): requests finished after their acknowledgement, their
replies, and App Home refreshes. Their kinds and payloads are a wire format shared with
processes of other versions, as the core's are."""

from __future__ import annotations

from typing import Any, ClassVar

from handlers.cards import Click
from orchestrator.models import ConversationRef, MessageRef
from orchestrator.runtime.messages import Message
from orchestrator.runtime.queue import Delivery


class SlashCommand(Message):
    """What a job keeps of a slash command (not its token or response_url)."""

    team_id: str
    channel_id: str
    user_id: str
    text: str
    trigger_id: str


class SlackStatement(SlashCommand):
    """Anchor a stated outcome's thread and start its intake there."""

    KIND: ClassVar[str] = "slack_statement"


class SlackCommand(SlashCommand):
    """Run a command too heavy for the web process (a chart, a history)."""

    KIND: ClassVar[str] = "slack_command"


class SlackClick(Message):
    """Run a button press (or the reject modal's submission)."""

    KIND: ClassVar[str] = "slack_click"
    conversation: ConversationRef
    user: str
    action: str
    value: str
    reason: str = ""
    message: MessageRef | None = None
    delivery_id: str | None = None

    def payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json")  # every field, as the first version queued them

    @classmethod
    def of(cls, click: Click) -> SlackClick:
        return cls(
            conversation=click.conversation,
            user=click.user,
            action=click.action,
            value=click.value,
            reason=click.reason,
            message=click.message,
            delivery_id=click.delivery_id,
        )

    def click(self, work: Delivery | None = None) -> Click:
        """The click, handled by `work` (the job) when given."""
        return Click(
            conversation=self.conversation,
            user=self.user,
            action=self.action,
            value=self.value,
            reason=self.reason,
            message=self.message,
            delivery_id=self.delivery_id,
            work=work,
        )


class SlackReply(Message):
    """Show the replies to one command or click, in order (`bot.slack.replies`)."""

    KIND: ClassVar[str] = "slack_reply"
    id: str
    """Names the reply's call log: a job run again makes none of its calls twice."""
    ops: tuple[dict[str, Any], ...]
    """One call each: `op` (private, update, post, upload, changed) and what it shows."""


class SlackHome(Message):
    """Republish a workspace's App Home tabs for everyone who opened them."""

    KIND: ClassVar[str] = "slack_home"
    team: str


SLACK: tuple[type[Message], ...] = (
    SlackStatement,
    SlackCommand,
    SlackClick,
    SlackReply,
    SlackHome,
)
"""Every job Slack's adapter queues."""
