"""Credential issuance attacked again (issue 10): what Go reads of a recipient key, and what an issuance reports."""
