//! Benchmarks and load generators for Fengqiao, kept apart from the tests:
//! they report measurements (with ratios against a baseline measured in
//! the same run) and assert nothing about time.

pub mod pg;
