"""Realistic demo samples for seed_demo (the analytics issue fills this in)."""


def seed_demo_samples(session) -> int:
    """Create emotion samples for an ended demo session; returns how many were created."""
    return 0
