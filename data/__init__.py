"""Loading and preparation of the data sets medalign trains and evaluates on."""
