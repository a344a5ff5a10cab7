"""Issues 5, 8 and 9 a fifth time, as a newcomer follows the README literally: paths no shell expanded (`~`, `$VAR`)
and `-`, values an env file kept in their quotes, a list value of separators alone, one change per one-shot run,
refusals that name what would work, dash look-alikes at `inspect`, unknown flags at `help`."""
