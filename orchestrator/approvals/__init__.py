"""Human judgment: deciding an approval (votes, quorum, edits), the SLA ladder of reminders,
escalations and stand-ins, and the figures of how people decide.
"""
