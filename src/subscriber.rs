//! `natsrs.Subscriber`: `async for` over an engine subscription.
//!
//! `__anext__` polls the engine's channel on the calling thread first; a queued message
//! comes back as an already-finished awaitable. Only an empty queue costs a tokio task,
//! which waits for the next message and hands it to the loop's hub.
//!
//! The engine subscriber sits behind an async mutex that nobody holds while waiting for
//! a message: a waiter locks it only for the instant of one poll (its waker stays
//! registered with the channel), so `unsubscribe`/`drain` can always get in. Waiters are
//! serialized by `waiter`, because the channel keeps a single waker; for the same reason
//! the fast path steps aside while a waiter exists.

use std::future::{poll_fn, Future};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::task::AtomicWaker;
use futures::StreamExt;
use pyo3::exceptions::PyStopAsyncIteration;
use pyo3::prelude::*;

use crate::args::{extract_batch_limits, extract_count, extract_duration};
use crate::engine::Ending;
use crate::error::{Error, Kind};
use crate::message::{Convert, Held, MessageList, Reply};
use crate::pynames;
use crate::runtime::{self, ToPy};
use crate::state::{ClientInner, Subscription};

struct Shared {
    sub: tokio::sync::Mutex<Option<async_nats::Subscriber>>,
    /// Messages a waiter took from the channel after its caller had given up (a
    /// cancelled `next()`, a `wait_for` timeout): delivered first, never lost.
    returned: std::sync::Mutex<std::collections::VecDeque<async_nats::Message>>,
    has_returned: AtomicBool,
    waiter: tokio::sync::Mutex<()>,
    /// Wakes a waiter when `unsubscribe` ends the subscription from outside.
    kick: AtomicWaker,
    ended: AtomicBool,
    delivered: std::sync::atomic::AtomicU64,
    client: Arc<ClientInner>,
    /// What a new engine connection subscribes to again (see [`Shared::reattach`]).
    subject: String,
    queue: Option<String>,
    /// The server ends the subscription after this many messages in all (0: never).
    limit: std::sync::atomic::AtomicU64,
}

impl Shared {
    /// `close()` cancels the lifeline at once; `drain()` only once the engine has
    /// delivered what was in flight, so a draining subscriber still yields it.
    fn is_ended(&self) -> bool {
        self.ended.load(Ordering::Acquire) || self.client.life.lifeline.is_cancelled()
    }

    fn poll_message(&self, cx: &mut Context<'_>) -> Poll<Option<async_nats::Message>> {
        // The calling thread's fast path polls with the no-op waker: nothing to kick.
        if !cx.waker().will_wake(std::task::Waker::noop()) {
            self.kick.register(cx.waker());
        }
        if self.is_ended() {
            return Poll::Ready(None);
        }
        if self.has_returned.load(Ordering::Acquire) {
            let mut returned = self.returned.lock().expect("subscriber lock");
            if let Some(msg) = returned.pop_front() {
                self.has_returned
                    .store(!returned.is_empty(), Ordering::Release);
                return Poll::Ready(Some(msg));
            }
        }
        let Ok(mut guard) = self.sub.try_lock() else {
            // unsubscribe/drain holds it for a moment and kicks us when done.
            return Poll::Pending;
        };
        match guard.as_mut() {
            None => Poll::Ready(None),
            Some(sub) => match self.take(sub, cx) {
                Poll::Ready(None) if self.engine_failed() => {
                    // The engine's connection task died: natsrs moves this subscription
                    // to a new one and wakes us (the engine's guard wakes us first if the
                    // task ended normally after all).
                    Poll::Pending
                }
                Poll::Ready(None) => {
                    self.ended.store(true, Ordering::Release);
                    Poll::Ready(None)
                }
                other => other,
            },
        }
    }

    /// Takes up to `max` queued messages into `out`; `Ready` once at least one was taken
    /// or the subscription ended.
    fn poll_batch(
        &self,
        cx: &mut Context<'_>,
        max: usize,
        out: &mut Vec<async_nats::Message>,
    ) -> Poll<()> {
        while out.len() < max {
            match self.poll_message(cx) {
                Poll::Ready(Some(msg)) => out.push(msg),
                Poll::Ready(None) => return Poll::Ready(()),
                Poll::Pending if out.is_empty() => return Poll::Pending,
                Poll::Pending => break,
            }
        }
        Poll::Ready(())
    }

    fn give_back(&self, msg: async_nats::Message) {
        let mut returned = self.returned.lock().expect("subscriber lock");
        returned.push_front(msg);
        self.has_returned.store(true, Ordering::Release);
        drop(returned);
        // A waiter that started meanwhile is parked on the channel; let it look again.
        self.kick.wake();
    }

    /// Messages and payload bytes waiting for this subscription.
    ///
    /// The engine's channel cannot be measured, so what it holds moves into `returned`
    /// first, up to the subscription capacity (which keeps its slow-consumer bound). A
    /// waiter parked on the channel had its waker replaced by the no-op one used here:
    /// the kick makes it poll, and register, again.
    fn pending(&self) -> (usize, usize) {
        if let Ok(mut guard) = self.sub.try_lock() {
            if let Some(sub) = guard.as_mut() {
                let mut returned = self.returned.lock().expect("subscriber lock");
                let mut cx = Context::from_waker(std::task::Waker::noop());
                let capacity = self.client.subscription_capacity;
                let mut polled = false;
                while returned.len() < capacity {
                    polled = true;
                    match self.take(sub, &mut cx) {
                        Poll::Ready(Some(msg)) => returned.push_back(msg),
                        // The end is seen again by the next poll_message.
                        Poll::Ready(None) | Poll::Pending => break,
                    }
                }
                self.has_returned
                    .store(!returned.is_empty(), Ordering::Release);
                drop(returned);
                drop(guard);
                if polled {
                    self.kick.wake();
                }
            }
        }
        let returned = self.returned.lock().expect("subscriber lock");
        let bytes = returned.iter().map(|msg| msg.payload.len()).sum();
        (returned.len(), bytes)
    }

    fn end(&self) {
        self.ended.store(true, Ordering::Release);
        self.kick.wake();
    }

    /// The next message from the engine's channel, counted as received (nats-py's
    /// `stats["in_bytes"]`) as it leaves the engine.
    fn take(
        &self,
        sub: &mut async_nats::Subscriber,
        cx: &mut Context<'_>,
    ) -> Poll<Option<async_nats::Message>> {
        let polled = sub.poll_next_unpin(cx);
        if let Poll::Ready(Some(msg)) = &polled {
            self.client.payload_received(msg.payload.len());
        }
        polled
    }

    /// The subscription's channel ended because the engine's connection task died (or
    /// exited and has not said how yet), not because the subscription was ended.
    fn engine_failed(&self) -> bool {
        let engine = self.client.engine.now();
        match engine.ending() {
            Ending::Died(_) => true,
            Ending::Ended => false,
            Ending::Running => engine.task_exited(),
        }
    }
}

impl Subscription for Shared {
    /// Subscribes again on a new engine connection. What the dead engine had already
    /// queued for this subscription stays first in line; a limit set with
    /// `unsubscribe_after` counts what was received before.
    fn reattach(self: Arc<Self>, client: async_nats::Client) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            if self.is_ended() {
                return;
            }
            let mut guard = self.sub.lock().await;
            let Some(old) = guard.as_mut() else {
                return;
            };
            let received = {
                let mut returned = self.returned.lock().expect("subscriber lock");
                let mut cx = Context::from_waker(std::task::Waker::noop());
                while let Poll::Ready(Some(msg)) = self.take(old, &mut cx) {
                    returned.push_back(msg);
                }
                self.has_returned
                    .store(!returned.is_empty(), Ordering::Release);
                self.delivered.load(Ordering::Relaxed) + returned.len() as u64
            };
            let limit = self.limit.load(Ordering::Relaxed);
            if limit > 0 && received >= limit {
                self.ended.store(true, Ordering::Release);
                return;
            }
            let new = match &self.queue {
                None => client.subscribe(self.subject.clone()).await,
                Some(queue) => {
                    client
                        .queue_subscribe(self.subject.clone(), queue.clone())
                        .await
                }
            };
            match new {
                Ok(mut new) => {
                    if limit > 0 {
                        let _ = new.unsubscribe_after(limit - received).await;
                    }
                    // The old engine subscriber's unsubscribe goes to a closed channel.
                    *guard = Some(new);
                }
                Err(err) => {
                    tracing::warn!(
                        target: "natsrs",
                        "subscription to {} could not move to the new connection: {err}",
                        self.subject
                    );
                    self.ended.store(true, Ordering::Release);
                }
            }
        })
    }

    fn wake(&self) {
        self.kick.wake();
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The engine's Subscriber::drop sends UNSUB and may spawn; Python can drop us on
        // any thread, so give it the runtime's context.
        let _guard = runtime::runtime().enter();
        drop(self.sub.get_mut().take());
    }
}

/// Takes what the engine has already queued, on the calling thread. Unlike
/// `runtime::poll_here` it does not enter the runtime: a channel receive needs none, and
/// this runs once per message.
fn poll_queued<T>(poll: impl FnMut(&mut Context<'_>) -> Poll<T>) -> Poll<T> {
    std::pin::pin!(poll_fn(poll)).poll(&mut Context::from_waker(std::task::Waker::noop()))
}

/// Several messages at once, made into one Python value by `convert`: a list for
/// `next_batch`, a `cb=` subscription's queue, a Key-Value watcher's entries. What
/// `convert` leaves goes back to the subscription, first in line.
struct Batch {
    msgs: Vec<async_nats::Message>,
    shared: Arc<Shared>,
    convert: Box<dyn Convert>,
}

impl ToPy for Batch {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let shared = self.shared;
        let mut msgs = self.msgs.into_iter();
        let total = msgs.len();
        let value = self.convert.convert(py, &mut msgs, &shared.client);
        let taken = total - msgs.len();
        shared.delivered.fetch_add(taken as u64, Ordering::Relaxed);
        for msg in msgs.rev() {
            shared.give_back(msg);
        }
        value
    }

    fn abandon(self) {
        for msg in self.msgs.into_iter().rev() {
            self.shared.give_back(msg);
        }
    }
}

/// A delivery on its way to Python: a message, or the end of the subscription, which
/// `__anext__` reports as `StopAsyncIteration` and `next()` as `None`.
struct Delivery {
    msg: Option<async_nats::Message>,
    shared: Arc<Shared>,
    end: End,
}

/// How the end of a subscription reaches the caller.
#[derive(Clone, Copy)]
enum End {
    /// `__anext__`: `StopAsyncIteration`.
    StopIteration,
    /// `next()`: `None`.
    Nothing,
    /// nats-py's `next_msg()`: `BadSubscriptionError`.
    BadSubscription,
}

impl ToPy for Delivery {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match self.msg {
            Some(msg) => {
                self.shared.delivered.fetch_add(1, Ordering::Relaxed);
                Reply {
                    msg,
                    client: self.shared.client.clone(),
                }
                .to_py(py)
            }
            None => match self.end {
                End::Nothing => Ok(py.None()),
                End::StopIteration => Err(PyStopAsyncIteration::new_err(())),
                End::BadSubscription if self.shared.client.life.is_closed() => {
                    Err(Error::closed().into_pyerr(py))
                }
                End::BadSubscription => Err(Error::new(
                    Kind::BadSubscription,
                    "the subscription has ended (unsubscribed or drained)",
                )
                .into_pyerr(py)),
            },
        }
    }

    fn abandon(self) {
        if let Some(msg) = self.msg {
            self.shared.give_back(msg);
        }
    }
}

#[pyclass(name = "Subscriber", module = "natsrs", frozen)]
pub(crate) struct PySubscriber {
    shared: Arc<Shared>,
    sid: u64,
    subject: String,
    queue: Option<String>,
    /// A `cb=` subscription's queue on the Python side (`natsrs._compat`), counted in
    /// `pending_msgs`/`pending_bytes` with the engine's.
    held: std::sync::Mutex<Option<Py<PyAny>>>,
}

/// The engine keeps the subscription id private; its `Debug` output is the only place
/// that shows it.
fn sid_of(sub: &async_nats::Subscriber) -> u64 {
    let text = format!("{sub:?}");
    text.split_once("sid: ")
        .and_then(|(_, rest)| {
            rest.split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|digits| digits.parse().ok())
        })
        .unwrap_or(0)
}

impl PySubscriber {
    pub(crate) fn new(
        sub: async_nats::Subscriber,
        subject: String,
        queue: Option<String>,
        max_msgs: u64,
        client: Arc<ClientInner>,
    ) -> Self {
        let shared = Arc::new(Shared {
            sub: tokio::sync::Mutex::new(Some(sub)),
            returned: std::sync::Mutex::new(std::collections::VecDeque::new()),
            has_returned: AtomicBool::new(false),
            waiter: tokio::sync::Mutex::new(()),
            kick: AtomicWaker::new(),
            ended: AtomicBool::new(false),
            delivered: std::sync::atomic::AtomicU64::new(0),
            client,
            subject: subject.clone(),
            queue: queue.clone(),
            limit: std::sync::atomic::AtomicU64::new(max_msgs),
        });
        let registered: Arc<dyn Subscription> = shared.clone();
        shared.client.register(Arc::downgrade(&registered));
        PySubscriber {
            sid: shared
                .sub
                .try_lock()
                .ok()
                .and_then(|guard| guard.as_ref().map(sid_of))
                .unwrap_or(0),
            shared,
            subject,
            queue,
            held: std::sync::Mutex::new(None),
        }
    }

    fn batch(
        &self,
        py: Python<'_>,
        max: usize,
        convert: Box<dyn Convert>,
        timeout: Option<Duration>,
    ) -> PyResult<Py<PyAny>> {
        runtime::check_not_forked()?;
        let max = max.max(1);
        let shared = &self.shared;
        if let Ok(_slot) = shared.waiter.try_lock() {
            let mut msgs = Vec::new();
            let polled = poll_queued(|cx| shared.poll_batch(cx, max, &mut msgs));
            if polled.is_ready() {
                let batch = Batch {
                    msgs,
                    shared: shared.clone(),
                    convert,
                };
                return runtime::ready_later(py, batch);
            }
        }
        let shared = shared.clone();
        let lifeline = shared.client.life.lifeline.clone();
        runtime::spawn(py, async move {
            let mut msgs = Vec::new();
            let arrived = async {
                let _slot = shared.waiter.lock().await;
                tokio::select! {
                    biased;
                    () = poll_fn(|cx| shared.poll_batch(cx, max, &mut msgs)) => {}
                    () = lifeline.cancelled() => {}
                }
            };
            if let Some(limit) = timeout {
                if tokio::time::timeout(limit, arrived).await.is_err() {
                    // Whatever a cut-short poll took is handed over, never lost.
                    if msgs.is_empty() {
                        return Err(Error::new(Kind::Timeout, "nats: timeout"));
                    }
                }
            } else {
                arrived.await;
            }
            Ok(Batch {
                msgs,
                shared: shared.clone(),
                convert,
            })
        })
    }

    /// Up to `max` queued messages (waiting for the first one only, at most `timeout`)
    /// made into one Python value by `convert`: for readers that make their own objects
    /// of the messages, as the Key-Value watcher does (`jetstream::kv_watch`).
    pub(crate) fn converted(
        &self,
        py: Python<'_>,
        max: usize,
        convert: Box<dyn Convert>,
        timeout: Option<Duration>,
    ) -> PyResult<Py<PyAny>> {
        if self.held(py).is_some() {
            let err = Error::new(
                Kind::BadSubscription,
                "a subscription with a callback or pending limits is read through its queue",
            );
            return runtime::fail(py, err);
        }
        self.batch(py, max, convert, timeout)
    }

    /// The Python queue of a subscription with pending limits and no callback (see
    /// `natsrs.aio.subscription.hold`), which its readers take from instead.
    fn pulled_from_held(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let pull = pyo3::intern!(py, "pull");
        match self.held(py) {
            Some(held) if held.bind(py).getattr(pull)?.is_truthy()? => Ok(Some(held)),
            _ => Ok(None),
        }
    }

    fn held_counts(&self, py: Python<'_>) -> PyResult<(usize, usize)> {
        match self.held(py) {
            None => Ok((0, 0)),
            Some(held) => {
                let held = held.bind(py);
                Ok((
                    held.getattr(pyo3::intern!(py, "queue"))?.len()?,
                    held.getattr(pyo3::intern!(py, "bytes"))?.extract()?,
                ))
            }
        }
    }

    /// The next message: at once if one is queued, else through a tokio waiter.
    fn next_message(
        &self,
        py: Python<'_>,
        end: End,
        timeout: Option<std::time::Duration>,
    ) -> PyResult<Py<PyAny>> {
        runtime::check_not_forked()?;
        if let Some(held) = self.pulled_from_held(py)? {
            let end = match end {
                End::StopIteration => "stop",
                End::Nothing => "none",
                End::BadSubscription => "bad",
            };
            let timeout = timeout.map(|t| t.as_secs_f64());
            return Ok(pynames::HELD_NEXT
                .get(py)?
                .call1((held, timeout, end))?
                .unbind());
        }
        let shared = &self.shared;
        if timeout.is_none() || timeout == Some(std::time::Duration::ZERO) {
            if let Ok(_slot) = shared.waiter.try_lock() {
                let polled = poll_queued(|cx| shared.poll_message(cx));
                if let Poll::Ready(msg) = polled {
                    let delivery = Delivery {
                        msg,
                        shared: shared.clone(),
                        end,
                    };
                    // Made into Python when awaited, given back if never awaited; except
                    // for `async for`, which awaits what `__anext__` returns at once
                    // (nothing can cancel in between), and whose per-message cost this
                    // would add to.
                    if delivery.msg.is_some() && !matches!(end, End::StopIteration) {
                        return runtime::ready_later(py, delivery);
                    }
                    return match delivery.to_py(py) {
                        Ok(value) => runtime::ready(py, value),
                        // `async for` ends on StopAsyncIteration raised by __anext__.
                        Err(err) if matches!(end, End::StopIteration) => Err(err),
                        Err(err) => runtime::failed(py, err),
                    };
                }
            }
        }
        let shared = shared.clone();
        let lifeline = shared.client.life.lifeline.clone();
        runtime::spawn(py, async move {
            let _slot = shared.waiter.lock().await;
            let wait = poll_fn(|cx| shared.poll_message(cx));
            let msg = tokio::select! {
                biased;
                msg = async {
                    match timeout {
                        None => Ok(wait.await),
                        Some(limit) => tokio::time::timeout(limit, wait).await.map_err(|_| {
                            Error::new(Kind::Timeout, "no message arrived within the timeout")
                        }),
                    }
                } => msg?,
                () = lifeline.cancelled() => None,
            };
            Ok(Delivery {
                msg,
                shared: shared.clone(),
                end,
            })
        })
    }

    /// Run an engine operation that needs the subscriber itself.
    fn with_subscriber<F, Fut>(&self, py: Python<'_>, op: F) -> PyResult<Py<PyAny>>
    where
        F: FnOnce(async_nats::Subscriber) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = (Option<async_nats::Subscriber>, Result<(), Error>)>
            + Send
            + 'static,
    {
        let shared = self.shared.clone();
        let ordered = crate::outbox::publishes_sent(&self.shared.client.outbox);
        runtime::resolve(py, async move {
            ordered.await;
            let mut guard = shared.sub.lock().await;
            let Some(sub) = guard.take() else {
                return Ok(());
            };
            let (back, result) = op(sub).await;
            *guard = back;
            drop(guard);
            shared.kick.wake();
            result
        })
    }
}

#[pymethods]
impl PySubscriber {
    #[getter]
    fn sid(&self) -> u64 {
        self.sid
    }

    #[getter]
    fn subject(&self) -> &str {
        &self.subject
    }

    /// `""` without a queue group, as nats-py's `Subscription.queue`.
    #[getter]
    fn queue(&self) -> &str {
        self.queue.as_deref().unwrap_or("")
    }

    fn __aiter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __anext__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.next_message(py, End::StopIteration, None)
    }

    /// nats-py's iterator: the subscriber itself.
    #[getter]
    fn messages(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Every queued message, up to `max`, in one call: waits for the first one only (at
    /// most `timeout`, then `TimeoutError`). An empty list means the subscription has
    /// ended. The way to the engine's speed when messages arrive faster than one `await`
    /// each can take them.
    #[pyo3(signature = (max = None, timeout = None), text_signature = "($self, max=1024, timeout=None)")]
    fn next_batch(
        &self,
        py: Python<'_>,
        max: Option<&Bound<'_, PyAny>>,
        timeout: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let (max, timeout) = extract_batch_limits(max, timeout)?;
        if let Some(held) = self.pulled_from_held(py)? {
            let timeout = timeout.map(|t| t.as_secs_f64());
            return Ok(pynames::HELD_BATCH
                .get(py)?
                .call1((held, max, timeout))?
                .unbind());
        }
        self.batch(py, max, Box::new(MessageList), timeout)
    }

    /// `natsrs._compat`'s reader for `cb=` subscriptions: up to `max` queued messages
    /// (waiting for the first) go straight into the `_held` queue under its pending
    /// limits, without a Python step per message. Resolves to the number dropped for
    /// those limits, or `None` once the subscription has ended.
    fn _next_held_batch(&self, py: Python<'_>, max: usize) -> PyResult<Py<PyAny>> {
        let Some(held) = self.held(py) else {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(
                "_next_held_batch needs _held set first",
            ));
        };
        self.batch(py, max, Box::new(Held(held)), None)
    }

    /// Messages received for this subscription and not yet handed to Python (or, with
    /// `cb=`, not yet given to the callback).
    #[getter]
    fn pending_msgs(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.shared.pending().0 + self.held_counts(py)?.0)
    }

    /// The payload bytes of the `pending_msgs` messages (as nats-py counts).
    #[getter]
    fn pending_bytes(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.shared.pending().1 + self.held_counts(py)?.1)
    }

    #[getter(_held)]
    fn held(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.held
            .lock()
            .expect("subscriber lock")
            .as_ref()
            .map(|h| h.clone_ref(py))
    }

    #[setter(_held)]
    fn set_held(&self, held: Py<PyAny>) {
        *self.held.lock().expect("subscriber lock") = Some(held);
    }

    /// Messages handed to Python so far.
    #[getter]
    fn delivered(&self) -> u64 {
        self.shared.delivered.load(Ordering::Relaxed)
    }

    /// nats-py's `next_msg`: the next message within `timeout` seconds (default 1).
    #[pyo3(signature = (timeout = Some(1.0)), text_signature = "($self, timeout=1.0)")]
    fn next_msg(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Py<PyAny>> {
        if self.shared.client.life.is_closed() {
            return runtime::fail(py, Error::closed());
        }
        if self.held(py).is_some() && self.pulled_from_held(py)?.is_none() {
            // nats-py's rule: a callback subscription's messages go to the callback.
            let err = Error::new(
                Kind::Other,
                "nats: next_msg cannot be used in async subscriptions",
            );
            return runtime::fail(py, err);
        }
        let timeout = match timeout {
            Some(t) => Some(extract_duration(
                pyo3::types::PyFloat::new(py, t).as_any(),
                "timeout",
                true,
            )?),
            None => None,
        };
        self.next_message(py, End::BadSubscription, timeout)
    }

    /// The next message, or `None` once the subscription has ended.
    #[pyo3(signature = (timeout = None))]
    fn next(&self, py: Python<'_>, timeout: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        let timeout = match timeout.filter(|t| !t.is_none()) {
            Some(t) => Some(extract_duration(t, "timeout", true)?),
            None => None,
        };
        self.next_message(py, End::Nothing, timeout)
    }

    /// Ends the subscription; with `limit > 0` (nats-py), after that many messages.
    #[pyo3(signature = (limit = None), text_signature = "($self, limit=0)")]
    fn unsubscribe(&self, py: Python<'_>, limit: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        let limit = extract_count(limit, "limit", 0)?;
        if limit > 0 {
            return self.limit_to(py, limit);
        }
        self.shared.end();
        self.with_subscriber(py, |mut sub| async move {
            let result = sub.unsubscribe().await.map_err(Error::from);
            (None, result)
        })
    }

    fn unsubscribe_after(&self, py: Python<'_>, count: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let count = extract_count(Some(count), "count", 0)?;
        self.limit_to(py, count)
    }

    fn drain(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.with_subscriber(py, |mut sub| async move {
            let result = sub.drain().await.map_err(Error::from);
            (Some(sub), result)
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "<natsrs.Subscriber sid={} subject={:?} queue={:?}>",
            self.sid, self.subject, self.queue
        )
    }
}

impl PySubscriber {
    fn limit_to(&self, py: Python<'_>, count: u64) -> PyResult<Py<PyAny>> {
        self.shared.limit.store(count, Ordering::Relaxed);
        self.with_subscriber(py, move |mut sub| async move {
            let result = sub.unsubscribe_after(count).await.map_err(Error::from);
            (Some(sub), result)
        })
    }
}
