"""The service runner any baton connector reuses: ConductorOne Hello, task polling, health and metrics."""
