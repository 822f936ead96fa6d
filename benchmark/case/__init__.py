"""One case: its typed spec, the task-file loader that makes specs, the runner, its record."""
