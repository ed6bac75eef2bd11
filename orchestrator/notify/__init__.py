"""What the core says and how it reaches people: notices, incidents and paging, the digest, the
call log of a delivery and a channel's outage.
"""
