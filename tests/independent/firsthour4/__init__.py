"""The fourth first-hour suite (attack 1003): a newcomer's first hour as a user of the Go baton-datadog and the
`baton` CLI: the chart upgraded without the Secret's keys, baton-sdk's flags and variables, plausible wrong setups.
tests/independent/firsthour/, firsthour3/ and operator/ are the earlier rounds."""
