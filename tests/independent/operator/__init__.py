"""An independent, adversarial suite for an operator's first hour (issue 8) and the documented ConductorOne path
(issue 9): hostile config files and variables, paths the file system refuses, one-shot action arguments that read
two ways, the health server's bind settings and the SDK's paths, terminal escapes in what is echoed back, signals
as the process exits. Each case is one the suites beside it lacked; each failed before the fix it came with."""
