"""The declarative rule engine: rule files (TOML) -> validated specs -> detectors -> findings."""
