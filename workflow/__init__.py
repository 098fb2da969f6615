"""The conversation engine: (state, message, now) -> (state, replies, events), with no I/O."""
