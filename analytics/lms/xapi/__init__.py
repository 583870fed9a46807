"""xAPI learning records: the statements of each finished lesson go to the school's Learning Record Store through
the LMS integration's outbox (see docs/xapi.md)."""
