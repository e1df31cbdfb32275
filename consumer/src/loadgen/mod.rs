//! The load generator's pure parts: trade generation, format rendering, rate profiles,
//! poison records and the run summary. The `spate-loadgen` binary only does I/O.
