//! Benchmark of bulk and per-process verification (written below).

fn main() {}
