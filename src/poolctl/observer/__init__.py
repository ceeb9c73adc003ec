"""The observer: launches the subject, captures what it reports, enforces the timeout and
leaves no process or file behind."""
