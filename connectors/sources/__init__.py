"""The built-in sources: one folder each, declaring its `SourceDefinition` as `SOURCE`."""
