"""Gateways to the outside behind Protocols: SMS and the identity authority (sandbox and HTTP)."""
