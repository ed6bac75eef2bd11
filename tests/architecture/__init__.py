"""Rules on the code itself: the dependency rule and the store as Redis's only door."""
