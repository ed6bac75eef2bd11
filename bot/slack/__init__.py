"""The Slack app: Bolt adapter, Block Kit rendering and the Slack gateway.

`bot.slack.app.SLACK` is Slack as a composition root wires it (its gateway, its web
surface, its own job kinds); importing this package wires nothing.
"""
