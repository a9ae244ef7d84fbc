"""Streamed customer exports (CSV/XLSX) with formula injection neutralised."""
