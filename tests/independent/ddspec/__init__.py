"""A statement-by-statement audit of docs/spec/datadog-api.md and docs/spec/reference-connector.md against the Datadog
layer: each concrete statement the spec makes (a status mapping, an entitlement's words, a permission, an answer's
shape) held by a test against a real HTTP server on 127.0.0.1, where no earlier suite held it."""
