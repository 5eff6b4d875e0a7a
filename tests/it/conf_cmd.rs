//! `strata conf` (tests to come).
