"""Data: the dataset registry and example types, split loaders, the hub reader, languages, and
the run's data source."""
