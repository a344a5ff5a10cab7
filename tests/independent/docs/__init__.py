"""What the operator documentation names is what the product has: settings, flags, Make targets, Helm values, metrics,
dashboard panels and log events, each checked against the code rather than against another document."""
