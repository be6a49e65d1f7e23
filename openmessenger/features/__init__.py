"""
Feature handlers: one module per function, attached to the local domain's
handler buses in L{openmessenger.tap}.
"""
