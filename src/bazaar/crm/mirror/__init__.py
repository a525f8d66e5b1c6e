"""Keeping Bazaar's CRM rows and an external CRM in two-way sync: one run per connection at a
time, pulled page by page with a checkpoint, conflicts detected three-way against the values
both sides agreed on last, every change journaled so a run can be rolled back."""
