"""Privacy rights: export, erasure requests, marketing consent per channel, retention."""
