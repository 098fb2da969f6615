"""Channels: each translates its wire format to and from the normalised messages in `base`."""
