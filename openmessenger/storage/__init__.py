"""
Persistent state behind narrow interfaces, with memory and SQLite backends.
"""
