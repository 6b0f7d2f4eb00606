"""Test infrastructure shared by tests/ and features/."""
