"""What people read, through the platform-neutral handlers: words, charts, the audit summary."""
