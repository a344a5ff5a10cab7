"""Numbers Datadog states about its own lists (totals, page numbers, a team's user count) that decide what the sync
does not read, when it stops reading, or how much it asks for: checked against a number that lies."""
