//! [`ResourceGuard`]: detects concurrent use of a resource; never waits.

use crate::lowlevel::sync::{AtomicBool, Ordering, const_fn};

/// Detects concurrent use of something that must not be used concurrently
/// (a connection, a non-reentrant parser, a stream half) and reports it as
/// an error instead of waiting.
///
/// [`enter`](ResourceGuard::enter) returns a [`ResourceGuardToken`] that
/// leaves on drop, or a [`BusyResourceError`] if another execution unit (or
/// the same one, reentrantly) is inside. There is no owner and no waiting:
/// it is a check, not a lock. The error names the action, as in aiologic's
/// `ResourceGuard(action="using")`.
///
/// ```
/// use polysync::guard::ResourceGuard;
///
/// let reading = ResourceGuard::with_action("reading");
/// let token = reading.enter().unwrap();
/// let err = reading.enter().unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "polysync: another execution unit is already reading this resource"
/// );
/// drop(token);
/// assert!(reading.enter().is_ok());
/// ```
pub struct ResourceGuard {
    /// Whether a unit is inside (see the table below).
    busy: AtomicBool,
    action: &'static str,
}

// The state word of a resource guard (it has no queue: nobody waits):
//
// | `busy` | the section | `enter()`                                  | the token's drop      |
// |--------|-------------|--------------------------------------------|-----------------------|
// | false  | free        | sets it (compare-exchange, `Acquire`): a token | -                 |
// | true   | entered     | fails with `BusyResourceError`, changing nothing | clears it (`Release`) |
//
// Only the holder of the one token clears it, so an `enter` that succeeds
// is ordered after everything the previous holder did inside.

impl ResourceGuard {
    const_fn! {
        /// A guard whose error says "using".
        ///
        /// ```
        /// static CONNECTION: polysync::guard::ResourceGuard = polysync::guard::ResourceGuard::new();
        /// assert_eq!(CONNECTION.action(), "using");
        /// ```
        pub fn new() -> ResourceGuard {
            ResourceGuard::with_action("using")
        }
    }

    const_fn! {
        /// A guard whose error names `action` (a present participle such as
        /// "reading", "writing to", "sending on").
        ///
        /// ```
        /// let g = polysync::guard::ResourceGuard::with_action("writing to");
        /// let _token = g.enter().unwrap();
        /// assert!(g.enter().unwrap_err().to_string().contains("already writing to this"));
        /// ```
        pub fn with_action(action: &'static str) -> ResourceGuard {
            ResourceGuard { busy: AtomicBool::new(false), action }
        }
    }

    /// Enters the guarded section; the token leaves it when dropped.
    ///
    /// # Errors
    /// [`BusyResourceError`] if the section is entered already (by anyone,
    /// including the caller itself).
    ///
    /// ```
    /// let g = polysync::guard::ResourceGuard::new();
    /// {
    ///     let _token = g.enter().unwrap();
    ///     assert!(g.is_in_use());
    /// }
    /// assert!(!g.is_in_use());
    /// ```
    pub fn enter(&self) -> Result<ResourceGuardToken<'_>, BusyResourceError> {
        match self
            .busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        {
            Ok(_) => Ok(ResourceGuardToken { guard: self }),
            Err(_) => Err(BusyResourceError {
                action: self.action,
            }),
        }
    }

    /// Whether the section is entered now (a snapshot).
    ///
    /// ```
    /// assert!(!polysync::guard::ResourceGuard::new().is_in_use());
    /// ```
    #[inline]
    pub fn is_in_use(&self) -> bool {
        self.busy.load(Ordering::Relaxed)
    }

    /// The action named in the error.
    ///
    /// ```
    /// assert_eq!(polysync::guard::ResourceGuard::with_action("reading").action(), "reading");
    /// ```
    #[inline]
    pub fn action(&self) -> &'static str {
        self.action
    }
}

impl Default for ResourceGuard {
    /// A guard whose error says "using".
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for ResourceGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceGuard")
            .field("action", &self.action)
            .field("in_use", &self.is_in_use())
            .finish()
    }
}

/// Proof of being inside a [`ResourceGuard`]; leaves when dropped.
///
/// ```
/// let g = polysync::guard::ResourceGuard::new();
/// let token = g.enter().unwrap();
/// drop(token);
/// assert!(!g.is_in_use());
/// ```
#[must_use = "the guarded section is left as soon as the token is dropped"]
pub struct ResourceGuardToken<'a> {
    guard: &'a ResourceGuard,
}

impl Drop for ResourceGuardToken<'_> {
    fn drop(&mut self) {
        self.guard.busy.store(false, Ordering::Release);
    }
}

impl std::fmt::Debug for ResourceGuardToken<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceGuardToken")
            .field("action", &self.guard.action)
            .finish()
    }
}

/// A [`ResourceGuard`] was entered while already in use.
///
/// ```
/// let g = polysync::guard::ResourceGuard::with_action("reading");
/// let _token = g.enter().unwrap();
/// let err = g.enter().unwrap_err();
/// assert_eq!(err.action(), "reading");
/// let _: &dyn std::error::Error = &err;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BusyResourceError {
    action: &'static str,
}

impl BusyResourceError {
    /// The action of the guard ("using", "reading", ...).
    ///
    /// ```
    /// let g = polysync::guard::ResourceGuard::new();
    /// let _token = g.enter().unwrap();
    /// assert_eq!(g.enter().unwrap_err().action(), "using");
    /// ```
    pub fn action(&self) -> &'static str {
        self.action
    }
}

impl std::fmt::Display for BusyResourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "polysync: another execution unit is already {} this resource",
            self.action
        )
    }
}

impl std::error::Error for BusyResourceError {}
