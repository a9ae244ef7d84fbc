"""Chat conversations linked to customers, customer sync and enrichment, interactions."""
