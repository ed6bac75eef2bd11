"""What the core says: notices and their payloads, channel outages and the weekly digest."""
