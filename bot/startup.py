"""What a serving process checks before it starts, so that a mistake is one line saying what
to do instead of a traceback (or, for a Slack token, Bolt's "reinstall this app" to people).

Settings are read here; the address to listen on is tried before anything waits for Redis;
the Slack bot token is shown to Slack once. A check that cannot be made (Slack unreachable
right now) is logged and start-up goes on: only a definite refusal stops it.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket

from aiohttp import web
from pydantic import ValidationError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from config.settings import Settings
from orchestrator.errors import BatonError, ConfigError

log = logging.getLogger("baton")

SLACK_CHECK_TIMEOUT_S = 10
TOKEN_REFUSED = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "not_allowed_token_type",
        "team_access_not_granted",
    }
)
"""auth.test's answers that mean this token will never work, as opposed to an outage."""

LISTEN_HINTS = {
    errno.EADDRINUSE: "another process is listening there: stop it, or set PORT to a free port",
    errno.EACCES: "this user may not listen there (ports below 1024 need privileges): set PORT",
    errno.EADDRNOTAVAIL: "that address is not one of this machine's: set BATON_HOST",
}


class CannotStart(BatonError):
    """A serving process must not start; the message says what to change."""


def load_settings() -> Settings:
    """The settings from the environment; a wrong value is one `ConfigError` naming it."""
    try:
        return Settings()
    except ValidationError as error:
        problems = [
            f"{'.'.join(str(part) for part in problem['loc'])}: "
            + str(problem["msg"]).removeprefix("Value error, ")
            for problem in error.errors(include_input=False, include_url=False)
        ]
        raise ConfigError("; ".join(problems)) from None


def check_listen(host: str, port: int) -> None:
    """Fail now if `host:port` cannot be listened on, rather than after waiting for Redis.
    (The server binds again later; a port taken in between fails there, as one line too.)"""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise CannotStart(f"cannot listen on {host}: {error.strerror}; set BATON_HOST") from None
    for family, kind, proto, _, address in infos:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp binds
            try:
                probe.bind(address)
            except OSError as error:
                raise listen_failure(host, port, error) from None


def listen_failure(host: str, port: int, error: OSError) -> CannotStart | OSError:
    """The one-line reason a server could not listen, or `error` itself when it is not that."""
    hint = LISTEN_HINTS.get(error.errno or 0)
    if hint is None and not isinstance(error, socket.gaierror):
        return error
    reason = error.strerror or str(error)
    return CannotStart(f"cannot listen on {host}:{port}: {reason}; {hint or 'set BATON_HOST'}")


async def serve_until(
    application: web.Application,
    stop: asyncio.Event,
    *,
    host: str,
    port: int,
    setting: str,
    serves: str,
) -> None:
    """Serve `application` on `port` until `stop`, logging what it `serves` once it listens.
    A port it cannot listen on stops start-up with one line naming `setting`, the variable
    that chose the port."""
    runner = web.AppRunner(application, access_log=None)
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as error:
            failure = listen_failure(host, port, error)
            if isinstance(failure, CannotStart):
                raise CannotStart(f"{setting}: {failure}") from None
            raise
        log.info("%s on port %d", serves, port)
        await stop.wait()
    finally:
        await runner.cleanup()


async def check_slack_token(token: str, api_url: str) -> None:
    """Show the bot token to Slack once (auth.test); a token Slack refuses stops start-up."""
    client = AsyncWebClient(token=token, base_url=api_url, timeout=SLACK_CHECK_TIMEOUT_S)
    try:
        await client.auth_test()
    except SlackApiError as error:
        code = str(error.response.get("error", "")) if error.response is not None else ""
        if code in TOKEN_REFUSED:
            raise CannotStart(
                f"Slack refused SLACK_BOT_TOKEN ({code}): copy the Bot User OAuth Token "
                "(xoxb-...) from api.slack.com/apps > your app > OAuth & Permissions "
                "(install the app to the workspace first if it is not installed)"
            ) from None
        log.warning("could not check the Slack token now (%s); starting anyway", code or error)
    except Exception as error:  # noqa: BLE001 - Slack unreachable is not a reason to stay down
        log.warning("could not reach Slack to check the token (%s); starting anyway", error)


async def preflight(settings: Settings, *, listens: bool, posts_to_slack: bool) -> None:
    """The checks a serving process makes before it waits for Redis and starts."""
    if listens:
        check_listen(settings.host, settings.port)
    from bot.slack.config import slack_config  # imported here: it registers Slack's surface

    config = slack_config(settings)  # a token without its signing secret: ConfigError
    if config is not None and config.bot_token and posts_to_slack:
        await check_slack_token(config.bot_token, config.api_url)
