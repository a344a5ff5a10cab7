"""End-to-end tests of service mode: the real `baton-datadog` process against the fake ConductorOne and the fake
Datadog, both real servers on 127.0.0.1. What they prove is listed in docs/service-mode.md.
"""
