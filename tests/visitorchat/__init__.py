"""Tests for openmessenger.visitorchat."""
