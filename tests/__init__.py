"""
Tests for OpenMessenger; the tree mirrors the package.
"""
