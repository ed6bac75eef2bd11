"""What the worker runs for each kind of job: a registry keyed by the message's class.

A job read from the stream is decoded here into its typed message (`decode`), and its
handler is found by the message's type (`handler`). Handlers are registered once per
class: the core's by `Runtime`, the chat platforms' by their composition root.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from orchestrator.errors import BatonError, ConfigError
from orchestrator.runtime.messages import Message
from orchestrator.runtime.queue import Delivery

M = TypeVar("M", bound=Message)

Handler = Callable[[M, Delivery], Awaitable[None]]
"""Handles one message; `Delivery` is the job being handled (what commits on its behalf
is fenced by it and may acknowledge it)."""
AnyHandler = Callable[[Any, Delivery], Awaitable[None]]


class Undecodable(BatonError):
    """A job whose kind nobody handles here, or whose payload is not its message."""


class Handlers:
    """Message classes by kind, and their handlers by class."""

    def __init__(self) -> None:
        self._classes: dict[str, type[Message]] = {}
        self._handlers: dict[type[Message], AnyHandler] = {}

    def register(self, message: type[M], handler: Handler[M]) -> None:
        """Run `handler` for every job of `message`'s class; a class (or a kind) registered
        twice is a wiring mistake."""
        if message.KIND in self._classes:
            raise ConfigError(f"job kind {message.KIND!r} is already registered")
        self._classes[message.KIND] = message
        self._handlers[message] = handler

    @classmethod
    def of(cls, handlers: Mapping[type[Message], AnyHandler]) -> Handlers:
        registry = cls()
        registry.update(handlers)
        return registry

    def update(self, handlers: Mapping[type[Message], AnyHandler]) -> None:
        for message, handler in handlers.items():
            self.register(message, handler)

    def decode(self, kind: str, payload: Mapping[str, Any]) -> Message:
        """The message of a job as read from the stream, or `Undecodable`."""
        message = self._classes.get(kind)
        if message is None:
            raise Undecodable(f"no handler for job kind {kind!r}")
        try:
            return message.from_payload(payload)
        except ValidationError as invalid:
            raise Undecodable(f"a {kind} job's payload is not valid: {invalid}") from invalid

    def handler(self, message: Message) -> AnyHandler:
        return self._handlers[type(message)]

    def items(self) -> list[tuple[type[Message], AnyHandler]]:
        return list(self._handlers.items())

    def wrap(self, message: type[Message], wrapper: Callable[[AnyHandler], AnyHandler]) -> None:
        """Run `message`'s handler through `wrapper` (a benchmark counts or times it)."""
        self._handlers[message] = wrapper(self._handlers[message])

    def __contains__(self, message: type[Message]) -> bool:
        return message in self._handlers

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(self._classes)
