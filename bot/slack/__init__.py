"""The Slack app: Bolt adapter, Block Kit rendering and the Slack gateway.

Importing this package registers the `slack` gateway factory, the web surface and
Slack's job kinds (replies to requests, App Home refreshes).
"""

from __future__ import annotations

from bot.bootstrap import JOB_KINDS
from bot.gateways import FACTORIES
from bot.slack.app import gateway_factory, job_kinds, mount
from bot.web import SURFACES

FACTORIES.setdefault("slack", gateway_factory)
if mount not in SURFACES:
    SURFACES.append(mount)
if job_kinds not in JOB_KINDS:
    JOB_KINDS.append(job_kinds)
