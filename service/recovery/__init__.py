"""Recovery: the database's state as the service sees it, and bringing the spool back to it."""
