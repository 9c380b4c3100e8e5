//! [`Flag`]: a set-once cell that never waits.

use std::sync::OnceLock;

/// A set-once cell: the first [`set`](Flag::set) wins, every other caller
/// gets its value back. Readers never wait; there is no way to wait for a
/// flag to be set (use an [`Event`](crate::Event) for that).
///
/// It is a thin wrapper over [`std::sync::OnceLock`], named and shaped after
/// aiologic's `Flag`. A losing `set` returns at once if the flag is already
/// set; if it races the winner, it may wait for as long as the winner takes to
/// move its value into the cell (no user code runs there).
///
/// ```
/// use polysync::flag::Flag;
/// use std::sync::Arc;
///
/// let winner = Arc::new(Flag::new());
/// let threads: Vec<_> = (0..4)
///     .map(|i| {
///         let winner = winner.clone();
///         std::thread::spawn(move || winner.set(i).is_ok())
///     })
///     .collect();
/// let wins = threads.into_iter().map(|t| t.join().unwrap());
/// assert_eq!(wins.filter(|&won| won).count(), 1); // exactly one winner
/// assert!(*winner.get().unwrap() < 4); // everybody sees the winner's value
/// assert_eq!(winner.set(9), Err(9));
/// ```
pub struct Flag<T> {
    cell: OnceLock<T>,
}

impl<T> Flag<T> {
    /// A flag that is not set.
    ///
    /// ```
    /// static READY: polysync::flag::Flag<&str> = polysync::flag::Flag::new();
    /// assert!(!READY.is_set());
    /// ```
    #[must_use]
    pub const fn new() -> Self {
        Self {
            cell: OnceLock::new(),
        }
    }

    /// Sets the flag to `value` if it is not set yet. Exactly one caller
    /// succeeds over the flag's life (until [`take`](Flag::take)); the others
    /// get their value back in `Err`.
    ///
    /// # Errors
    /// `Err(value)` if the flag was already set (or another `set` won a race).
    ///
    /// ```
    /// let flag = polysync::flag::Flag::new();
    /// assert_eq!(flag.set("first"), Ok(()));
    /// assert_eq!(flag.set("second"), Err("second"));
    /// assert_eq!(flag.get(), Some(&"first"));
    /// ```
    pub fn set(&self, value: T) -> Result<(), T> {
        self.cell.set(value)
    }

    /// The value, if the flag is set.
    ///
    /// ```
    /// let flag = polysync::flag::Flag::new();
    /// assert_eq!(flag.get(), None);
    /// flag.set(7).unwrap();
    /// assert_eq!(flag.get(), Some(&7));
    /// ```
    #[inline]
    pub fn get(&self) -> Option<&T> {
        self.cell.get()
    }

    /// Whether the flag is set.
    ///
    /// ```
    /// let flag = polysync::flag::Flag::new();
    /// flag.set(()).unwrap();
    /// assert!(flag.is_set());
    /// ```
    #[inline]
    pub fn is_set(&self) -> bool {
        self.cell.get().is_some()
    }

    /// Takes the value out, leaving the flag unset (aiologic's `clear()`;
    /// exclusive access makes it race-free).
    ///
    /// ```
    /// let mut flag = polysync::flag::Flag::new();
    /// flag.set(String::from("x")).unwrap();
    /// assert_eq!(flag.take().as_deref(), Some("x"));
    /// assert!(!flag.is_set());
    /// assert!(flag.set(String::from("y")).is_ok());
    /// ```
    pub fn take(&mut self) -> Option<T> {
        self.cell.take()
    }

    /// Consumes the flag and returns its value, if set.
    ///
    /// ```
    /// let flag = polysync::flag::Flag::new();
    /// flag.set(1).unwrap();
    /// assert_eq!(flag.into_inner(), Some(1));
    /// ```
    pub fn into_inner(self) -> Option<T> {
        self.cell.into_inner()
    }
}

impl<T> Default for Flag<T> {
    /// A flag that is not set.
    fn default() -> Self {
        Self::new()
    }
}

impl<T> From<T> for Flag<T> {
    /// A flag already set to `value`.
    ///
    /// ```
    /// let flag = polysync::flag::Flag::from(3);
    /// assert_eq!(flag.set(4), Err(4));
    /// ```
    fn from(value: T) -> Self {
        Self {
            cell: OnceLock::from(value),
        }
    }
}

impl<T: Clone> Clone for Flag<T> {
    fn clone(&self) -> Self {
        Self {
            cell: self.cell.clone(),
        }
    }
}

impl<T: PartialEq> PartialEq for Flag<T> {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl<T: Eq> Eq for Flag<T> {}

impl<T: std::fmt::Debug> std::fmt::Debug for Flag<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flag").field("value", &self.get()).finish()
    }
}
