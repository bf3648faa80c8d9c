//! The engine connection a client uses now: the async-nats client and its round trip,
//! in a slot that natsrs swaps when the engine's connection task dies and a fresh one
//! takes over (see `state.rs`).

use std::sync::Arc;
use std::time::Duration;

use arc_swap::{ArcSwap, Guard};
use async_nats::client::FlushErrorKind;
use tokio::sync::{watch, Notify};

use crate::error::{Error, Kind};

/// How an engine's connection task stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    Running,
    /// It returned: the client closed, drained, or the engine gave up reconnecting.
    Ended,
    /// It panicked; the text says why.
    Died(String),
}

/// Set once, when the engine's connection task is dropped (see `state::HandlerGuard`).
pub(crate) type Fate = Arc<watch::Sender<Ending>>;

pub(crate) fn new_fate() -> Fate {
    Arc::new(watch::channel(Ending::Running).0)
}

pub(crate) struct Engine {
    pub(crate) client: async_nats::Client,
    pub(crate) fate: Fate,
}

impl Engine {
    pub(crate) fn new(client: async_nats::Client, fate: Fate) -> Self {
        Engine { client, fate }
    }

    /// `flush()` and `rtt()`'s round trip: a PING and its PONG (a patch of the engine,
    /// which has no public PING), so it needs no permission and publishes nothing. The
    /// server handles a connection's commands in order: everything sent before has been
    /// processed when the PONG comes. A connection lost before the PONG sends the PING
    /// again on the next one, within `limit`.
    pub(crate) async fn round_trip(&self, limit: Duration) -> Result<(), Error> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match tokio::time::timeout_at(deadline, self.client.ping()).await {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(err)) if err.kind() == FlushErrorKind::FlushError => continue,
                Ok(Err(err)) => return Err(err.into()),
                Err(_) => return Err(Error::new(Kind::FlushTimeout, "flush timed out")),
            }
        }
    }

    pub(crate) fn ending(&self) -> Ending {
        self.fate.borrow().clone()
    }

    /// Waits until the connection task has ended one way or the other.
    pub(crate) async fn ended(&self) -> Ending {
        let mut rx = self.fate.subscribe();
        let ending = match rx.wait_for(|e| *e != Ending::Running).await {
            Ok(ending) => ending.clone(),
            Err(_) => Ending::Ended,
        };
        ending
    }

    /// The engine's command channel is gone: its connection task has exited (whether or
    /// not its guard has said how yet). Asks the task for its pool, which fails at once
    /// on a closed channel; the question to a live task is answered into the void.
    pub(crate) fn task_exited(&self) -> bool {
        let ask = std::pin::pin!(self.client.server_pool());
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        matches!(
            std::future::Future::poll(ask, &mut cx),
            std::task::Poll::Ready(Err(_))
        )
    }
}

/// Shared by a client's handles (the client, its outbox): each reads the engine of the
/// moment, so a swap reaches all of them.
#[derive(Clone)]
pub(crate) struct EngineSlot(Arc<Slot>);

struct Slot {
    engine: ArcSwap<Engine>,
    swapped: Notify,
}

impl EngineSlot {
    pub(crate) fn new(engine: Engine) -> Self {
        EngineSlot(Arc::new(Slot {
            engine: ArcSwap::from_pointee(engine),
            swapped: Notify::new(),
        }))
    }

    /// The engine now, for a synchronous use (no `await` while it is held).
    pub(crate) fn now(&self) -> Guard<Arc<Engine>> {
        self.0.engine.load()
    }

    /// The engine now, to keep across `await`s.
    pub(crate) fn current(&self) -> Arc<Engine> {
        self.0.engine.load_full()
    }

    /// Puts `engine` in place and wakes whoever waits for it; returns the one it replaces.
    pub(crate) fn replace(&self, engine: Engine) -> Arc<Engine> {
        let old = self.0.engine.swap(Arc::new(engine));
        self.0.swapped.notify_waiters();
        old
    }

    /// Waits until an engine other than `old` is in place.
    pub(crate) async fn replaced(&self, old: &Arc<Engine>) {
        loop {
            let swapped = self.0.swapped.notified();
            if !Arc::ptr_eq(&self.current(), old) {
                return;
            }
            swapped.await;
        }
    }
}
