//! JetStream's hot paths in Rust: publishing with acks (`publish.rs`, the answers in
//! `pub_ack.rs`), acknowledging delivered messages (`ack.rs`) and making a Key-Value
//! watcher's entries (`kv_watch.rs`). Stream and consumer management answers in JSON and is
//! round-trip bound, so it lives in Python (`natsrs.js`), over the same request path.

pub(crate) mod ack;
pub(crate) mod kv_watch;
pub(crate) mod pub_ack;
pub(crate) mod publish;
