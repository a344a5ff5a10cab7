"""Adversarial suite: whole syncs that must end and be right (issue 11 "bounded syncs", issue 2): listings that go
round or grow while read, driven through the sync engine and the Datadog syncers."""
