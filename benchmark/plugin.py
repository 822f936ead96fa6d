"""pytest plugin: collects task YAML files as benchmark cases (filled in by the harness)."""
