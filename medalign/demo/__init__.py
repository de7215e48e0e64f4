"""`medalign demo`: the whole loop on the bundled sample (run.py orchestrates; stepper.py runs and
skips steps; pipeline.py holds the training and evaluation steps; studies.py the studies, logins
and reports; simulate.py the simulated physicians, which the load test uses too)."""
