"""Microsoft Teams: botbuilder's CloudAdapter at `POST /api/messages`, Adaptive Cards, and a
gateway for proactive messages through stored conversation references."""
