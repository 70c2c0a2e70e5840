"""Governed sharing: one published, read-only view per audience (`policy`), written
beside the working warehouse and swapped in atomically (`writer`)."""
