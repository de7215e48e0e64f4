"""Statistics and metrics: pure functions, judgments and generations in, numbers out."""
