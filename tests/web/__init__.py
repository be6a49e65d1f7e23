"""Tests for openmessenger.web."""
