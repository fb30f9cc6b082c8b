"""Configuration as code: export the stored configuration as one YAML file, and apply such a file (with a dry
run that only plans). Use cases: `export.export_config`, `export.export_yaml`, `apply.apply_config`."""
