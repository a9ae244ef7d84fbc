"""Organizations' people (contacts) and projects, with project contact points."""
