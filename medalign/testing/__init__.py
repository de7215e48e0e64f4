"""Set-up that tests/ and bench/ share (neither imports the other): a throwaway PostgreSQL server
(postgres.py) and the load test's engine (load.py)."""
