"""Receivables: invoices, payments, risk scores and consolidated payment reminders."""
