"""The console surface in process: lines become messages and clicks, and `baton demo`."""
