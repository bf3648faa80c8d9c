//! JetStream's hot paths in Rust: publishing with acks (`publish.rs`, the answers in
//! `pub_ack.rs`) and acknowledging
//! delivered messages (`ack.rs`). Stream and consumer management answers in JSON and is
//! round-trip bound, so it lives in Python (`natsrs.js`), over the same request path.

pub(crate) mod ack;
pub(crate) mod pub_ack;
pub(crate) mod publish;
