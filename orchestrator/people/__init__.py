"""Who acts: a person inside a tenant and the checks on every record they name, absences and
delegates, what waits for one person, and limits on what people send.
"""
