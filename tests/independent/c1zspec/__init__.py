"""A statement-by-statement audit of docs/spec/c1z-format.md against the c1z writer, reader and sync engine."""
