"""Tests for openmessenger.storage."""
