"""From species evidence to per-stage QC checks, a verdict, and diagnoses with fixes."""
