//! Nothing to see here: this package only holds polysync's criterion
//! benchmarks (`cargo bench -p polysync-benches`); see `BENCHMARKS.md`.
