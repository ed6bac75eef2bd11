"""Learning what worked: holdout groups (`holdout`), incremental effects with intervals
(`estimate`), reading them from a metric source (`measure`) and the steps' verification
(`verify`)."""
