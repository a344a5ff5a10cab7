"""Small known gaps left open by earlier sessions, each pinned by a test that failed on the code before its fix."""
