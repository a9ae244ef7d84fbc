"""Bilingual fuzzy customer search (issue 4)."""
