"""What the operator documentation names is what the product has: settings, flags (each command's own too), Make
targets, Helm values, metrics, dashboard panels, log events and every bound stated as a number, each checked against
the code rather than against another document; and what it promises of `config` (the run's own checks and start-up
warnings, a one-shot action's mistakes among them) holds."""
