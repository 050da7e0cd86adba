"""Reconciliation with the payment channels (自动对账): statements.py reads the channels'
files, matching.py matches them to our payments and refunds, lists the mismatches, resolves
and closes days, download.py fetches the files through the channels' SDKs."""
