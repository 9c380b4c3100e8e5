//! Send permits (issue 20 item 5) beside tokio's, in one run
//! (`python3 benches/report.py --group-prefix channel_reserve/`).
//! Function ids: `polysync`, `tokio` (and `polysync_send`, `tokio_send`:
//! the plain send of the same run, to read what the permit costs).
//!
//! Groups:
//! 1. `channel_reserve/reserve_send`: in one task of a current-thread tokio
//!    runtime, `reserve().await` then `permit.send(i)` into a bounded(1024)
//!    channel, then `try_recv`, 1 000 times per iteration (never waits: an
//!    uncontended reserve + send + receive).
//!
//! Run: `cargo bench -p polysync-benches --bench channel_reserve -- --warm-up-time 1 --measurement-time 3`.

use criterion::{Criterion, criterion_group, criterion_main};
use std::time::Duration;

const ROUNDS: u64 = 1_000;
const CAP: usize = 1024;

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("build tokio runtime")
}

fn reserve_send(c: &mut Criterion) {
    let mut g = c.benchmark_group("channel_reserve/reserve_send");
    let rt = current_thread();
    {
        let (tx, rx) = polysync::channel::bounded::<u64>(CAP);
        g.bench_function("polysync", |b| {
            b.iter(|| {
                rt.block_on(async {
                    for i in 0..ROUNDS {
                        tx.reserve().await.unwrap().send(i);
                        assert_eq!(rx.try_recv(), Ok(i));
                    }
                })
            })
        });
        g.bench_function("polysync_send", |b| {
            b.iter(|| {
                rt.block_on(async {
                    for i in 0..ROUNDS {
                        tx.send(i).await.unwrap();
                        assert_eq!(rx.try_recv(), Ok(i));
                    }
                })
            })
        });
    }
    {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(CAP);
        g.bench_function("tokio", |b| {
            b.iter(|| {
                rt.block_on(async {
                    for i in 0..ROUNDS {
                        tx.reserve().await.unwrap().send(i);
                        assert_eq!(rx.try_recv(), Ok(i));
                    }
                })
            })
        });
        g.bench_function("tokio_send", |b| {
            b.iter(|| {
                rt.block_on(async {
                    for i in 0..ROUNDS {
                        tx.send(i).await.unwrap();
                        assert_eq!(rx.try_recv(), Ok(i));
                    }
                })
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = reserve_send
}
criterion_main!(benches);
