"""Pipeline stages: pure functions (testable without Beam) under thin Beam wrappers."""
