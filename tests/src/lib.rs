//! End-to-end tests across the Fengqiao crates live in `tests/tests/`.
//! This library will hold the harness they share (test servers, simulated
//! phones) as it is built.
