"""Issues 5, 8 and 9, a fifth time, as a newcomer follows the README: path values no shell expanded, ..."""
