//! A round trip to the server that another client cannot break: what `flush()` and
//! `rtt()` wait for.
//!
//! NATS's own round trip is PING/PONG, but async-nats has no public way to send a PING
//! and wait for its PONG (its `flush` only empties the write buffer). A request to a
//! subject nobody serves comes back as "no responders" once the server got to it, but
//! any subscriber on `>` or `_INBOX.>` (a monitoring tap) turns that into a timeout. So
//! each client keeps one private echo subscription, made on the first round trip, and a
//! round trip publishes a numbered probe to it and waits for that probe (or a later
//! one) to come back: the server handles a connection's commands in order, so
//! everything sent before has been processed. A tap sees the probes but cannot stop
//! them. With `no_echo` the server never delivers a client's own messages, and the
//! no-responders request is the only round trip left.
//!
//! The probes are natsrs's own traffic: they are counted here, and `statistics()` and
//! `stats` leave them out.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::client::RequestErrorKind;
use async_nats::Subject;
use futures::StreamExt;
use tokio::sync::{watch, OnceCell};
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::error::{Error, Kind};
use crate::runtime;

/// Messages natsrs sent and received for its own round trips.
#[derive(Default)]
pub(crate) struct ProbeCounts {
    pub(crate) sent: AtomicU64,
    pub(crate) received: AtomicU64,
}

pub(crate) struct RoundTrip {
    client: async_nats::Client,
    echo: bool,
    /// The echo subscription's subject, once it exists, and what ends its reader when
    /// this round trip (its engine connection's) is dropped: the reader's subscription
    /// holds the engine's command channel open, which would keep a dropped client's
    /// connection alive.
    subject: OnceCell<(Subject, DropGuard)>,
    /// Number of the last probe published.
    next: AtomicU64,
    /// The highest probe number that came back (the reader task sends it).
    seen: Arc<watch::Sender<u64>>,
    /// Shared by every engine a client has had: the counters cover them all.
    counts: Arc<ProbeCounts>,
}

impl RoundTrip {
    pub(crate) fn new(client: async_nats::Client, echo: bool, counts: Arc<ProbeCounts>) -> Self {
        RoundTrip {
            client,
            echo,
            subject: OnceCell::new(),
            next: AtomicU64::new(0),
            seen: Arc::new(watch::channel(0).0),
            counts,
        }
    }

    /// Waits until the server has processed everything this client sent before the
    /// call, or fails with `FlushTimeoutError` after `limit`.
    pub(crate) async fn run(&self, limit: Duration) -> Result<(), Error> {
        let timed_out = || Error::new(Kind::FlushTimeout, "flush timed out");
        if !self.echo {
            return self.no_responders(limit).await;
        }
        let (subject, _) = tokio::time::timeout(limit, self.echo_subject())
            .await
            .map_err(|_| timed_out())??;
        let mut seen = self.seen.subscribe();
        let number = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        self.client
            .publish(subject.clone(), number.to_string().into())
            .await
            .map_err(Error::from)?;
        self.counts.sent.fetch_add(1, Ordering::Relaxed);
        let came_back = tokio::time::timeout(limit, seen.wait_for(|back| *back >= number)).await;
        match came_back {
            Ok(Ok(_)) => Ok(()),
            // The reader ended: the subscription, and so the connection, is gone.
            Ok(Err(_)) => Err(Error::closed()),
            Err(_) => Err(timed_out()),
        }
    }

    async fn echo_subject(&self) -> Result<&(Subject, DropGuard), Error> {
        self.subject
            .get_or_try_init(|| async {
                let subject = Subject::from(self.client.new_inbox());
                let mut sub = self.client.subscribe(subject.clone()).await?;
                let seen = self.seen.clone();
                let counts = self.counts.clone();
                let stop = CancellationToken::new();
                let stopped = stop.clone();
                runtime::runtime().spawn(async move {
                    while let Some(Some(msg)) = stopped.run_until_cancelled(sub.next()).await {
                        counts.received.fetch_add(1, Ordering::Relaxed);
                        let number = std::str::from_utf8(&msg.payload)
                            .ok()
                            .and_then(|text| text.parse::<u64>().ok());
                        if let Some(number) = number {
                            seen.send_if_modified(|back| {
                                let newer = number > *back;
                                if newer {
                                    *back = number;
                                }
                                newer
                            });
                        }
                    }
                });
                Ok::<_, Error>((subject, stop.drop_guard()))
            })
            .await
    }

    /// The round trip without echo: a request nobody serves, answered "no responders".
    async fn no_responders(&self, limit: Duration) -> Result<(), Error> {
        let probe = async_nats::Request::new().timeout(Some(limit));
        self.counts.sent.fetch_add(1, Ordering::Relaxed);
        match self
            .client
            .send_request(self.client.new_inbox(), probe)
            .await
        {
            Ok(_) => {
                self.counts.received.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(err) => match err.kind() {
                RequestErrorKind::NoResponders => {
                    self.counts.received.fetch_add(1, Ordering::Relaxed);
                    Ok(())
                }
                RequestErrorKind::TimedOut => {
                    Err(Error::new(Kind::FlushTimeout, "flush timed out"))
                }
                _ => Err(Error::from(err)),
            },
        }
    }
}
