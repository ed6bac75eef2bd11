"""People: absences and delegates, and what waits for each person."""
