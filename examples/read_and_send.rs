//! The Asphalt text ("Working with coroutines and threads"), done right:
//! read a file off the event loop, then send its contents over a
//! connection. In Python, `call_in_executor(f.read)` then
//! `await connection.send(contents)`; here, one bridge for every world:
//!
//! - a tokio task and a smol-style task (async-io's `block_on`, what smol
//!   runs on) each read the file with `files.run(..).await`: the read runs
//!   on a pool thread, the runtime thread keeps running its other tasks;
//! - a may coroutine does the same with `files.run_blocking(..)`: it parks
//!   itself, not its worker (the only one here, which keeps ticking a
//!   sibling coroutine meanwhile);
//! - file work borrows from its own 5-token limiter ("at most 5 file
//!   operations at once"), beside the default limiter that the CPU work
//!   (a checksum, `to_thread`) borrows from;
//! - the "connection" is a polysync channel to a tokio task that sends
//!   what it receives (here: prints it); every producer, async or not,
//!   sends into the same channel in its own way.
//!
//! Run: `cargo run --example read_and_send`
//!
//! Prints something like:
//! ```text
//! connection: 40 bytes from tokio (checksum 3558)
//! connection: 40 bytes from smol (checksum 3558)
//! connection: 40 bytes from may (checksum 3558)
//! ticks of the may worker while its coroutine waited for the file: 3
//! ```
//! (in any order).

use polysync::CapacityLimiter;
use polysync::bridge::{Offload, to_thread};
use polysync::channel::{self, Sender};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

/// What travels over the connection.
struct Message {
    from: &'static str,
    contents: Vec<u8>,
    checksum: u32,
}

fn checksum(bytes: &[u8]) -> u32 {
    bytes.iter().map(|&b| u32::from(b)).sum()
}

/// The async way (tokio, smol, any executor): file work under the file
/// limiter, CPU work under the default one, then send.
async fn read_and_send_file(
    from: &'static str,
    files: &Offload,
    path: PathBuf,
    connection: &Sender<Message>,
) {
    let contents = files
        .run(move || std::fs::read(path))
        .await
        .expect("the read does not panic")
        .expect("the file is readable");
    let (contents, checksum) = to_thread(move || {
        let sum = checksum(&contents);
        (contents, sum)
    })
    .await
    .expect("the checksum does not panic");
    let message = Message {
        from,
        contents,
        checksum,
    };
    if connection.send(message).await.is_err() {
        eprintln!("{from}: the connection is closed");
    }
}

/// The blocking way (a thread, a may coroutine, a green thread): the same
/// calls, each suspending only the current unit.
fn read_and_send_file_blocking(
    from: &'static str,
    files: &Offload,
    path: PathBuf,
    connection: &Sender<Message>,
) {
    let contents = files
        .run_blocking(move || std::fs::read(path))
        .expect("the read does not panic")
        .expect("the file is readable");
    let checksum = checksum(&contents);
    if connection
        .send_blocking(Message {
            from,
            contents,
            checksum,
        })
        .is_err()
    {
        eprintln!("{from}: the connection is closed");
    }
}

fn main() {
    let path = std::env::temp_dir().join(format!("polysync-read-and-send-{}", std::process::id()));
    std::fs::write(&path, b"Asphalt: a file read off the event loop\n").unwrap();
    let files = Offload::new(Arc::new(CapacityLimiter::new(5)));
    let (connection, incoming) = channel::unbounded::<Message>();

    // The "connection": a tokio task that sends whatever arrives.
    let tokio_thread = {
        let (files, path, connection) = (files.clone(), path.clone(), connection.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            rt.block_on(async move {
                let sender = tokio::spawn(async move {
                    while let Ok(m) = incoming.recv().await {
                        println!(
                            "connection: {} bytes from {} (checksum {})",
                            m.contents.len(),
                            m.from,
                            m.checksum
                        );
                    }
                });
                read_and_send_file("tokio", &files, path, &connection).await;
                drop(connection);
                sender.await.unwrap();
            });
        })
    };

    // smol's executor runs on async-io's `block_on`.
    let smol_thread = {
        let (files, path, connection) = (files.clone(), path.clone(), connection.clone());
        std::thread::spawn(move || {
            async_io::block_on(read_and_send_file("smol", &files, path, &connection));
        })
    };

    // A may coroutine on may's only worker; a sibling ticks meanwhile.
    may::config().set_workers(1).set_worker_pin(false);
    polysync_may::install().expect("install the may backend");
    let done = Arc::new(AtomicBool::new(false));
    let ticks = Arc::new(AtomicUsize::new(0));
    let ticker = {
        let (done, ticks) = (done.clone(), ticks.clone());
        may::go!(move || {
            while !done.load(SeqCst) {
                may::coroutine::sleep(std::time::Duration::from_millis(1));
                may::coroutine::yield_now(); // tick on the worker, not the timer thread
                ticks.fetch_add(1, SeqCst);
            }
        })
    };
    let reader = {
        let (files, path, connection) = (files.clone(), path.clone(), connection.clone());
        may::go!(move || read_and_send_file_blocking("may", &files, path, &connection))
    };
    reader.join().unwrap();
    done.store(true, SeqCst);
    ticker.join().unwrap();
    drop(connection);

    smol_thread.join().unwrap();
    tokio_thread.join().unwrap();
    println!(
        "ticks of the may worker while its coroutine waited for the file: {}",
        ticks.load(SeqCst)
    );
    std::fs::remove_file(&path).ok();
}
