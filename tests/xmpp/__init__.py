"""Tests for openmessenger.xmpp."""
