"""Great Expectations suites that gate gold: validated on staging before anything is published."""
