"""The Slack app: Bolt adapter, Block Kit rendering and the Slack gateway.

Importing this package registers the `slack` gateway factory and the web surface.
"""

from __future__ import annotations

from bot.gateways import FACTORIES
from bot.slack.app import gateway_factory, mount
from bot.web import SURFACES

FACTORIES.setdefault("slack", gateway_factory)
if mount not in SURFACES:
    SURFACES.append(mount)
