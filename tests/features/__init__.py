"""Tests for openmessenger.features."""
