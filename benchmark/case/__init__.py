"""One case: its typed spec, the task-file YAML reader, its record."""
