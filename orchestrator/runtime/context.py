"""What every service of the core needs, wired once by the composition root."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from orchestrator.connectors import Connectors
from orchestrator.notify.notices import Notice
from orchestrator.runtime.clock import Clock
from orchestrator.runtime.messages import Notify
from orchestrator.runtime.queue import JobQueue
from orchestrator.store.commit import Commit
from orchestrator.store.keys import Keys
from orchestrator.store.redis_store import RedisStore
from orchestrator.workspace.catalog import Rule, Workspace


@dataclass
class Context:
    store: RedisStore
    queue: JobQueue
    clock: Clock
    workspace_of: Callable[[str], Workspace]
    """The workspace configuration for a tenant id."""
    connectors_of: Callable[[str], Connectors]
    extra_rules_of: Callable[[str], Awaitable[list[Rule]]] | None = None
    """Rules added on top of the file (kept in Redis)."""

    async def extra_rules(self, workspace: str) -> list[Rule]:
        return await self.extra_rules_of(workspace) if self.extra_rules_of else []

    @property
    def keys(self) -> Keys:
        return self.store.keys

    def notify(self, commit: Commit, notice: Notice) -> Commit:
        """Queue `notice` as part of `commit`: said if and only if the change happened."""
        return self.queue.enqueue_in(commit, Notify(notice=notice))

    async def say(self, notice: Notice) -> None:
        workspace = notice.conversation.workspace
        await self.queue.enqueue(Notify(notice=notice), workspace=workspace)
