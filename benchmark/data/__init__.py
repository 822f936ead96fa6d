"""Data: the dataset registry and example types, one module per dataset (`datasets/`), the TSV
reader, split loaders, the hub helpers, languages, and the run's data source."""
