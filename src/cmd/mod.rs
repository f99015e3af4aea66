//! The commands: flag parsing, the lines they print, watch mode, the
//! progress bar and signals. The library below knows nothing of them.

pub mod cli;
pub mod listen;
pub mod progress;
pub mod publish;
pub mod shutdown;
pub mod watch;
