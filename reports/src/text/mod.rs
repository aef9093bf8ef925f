//! The results as a terminal shows them.

pub mod check;
pub mod cross_check;
pub mod number;
pub mod sim;
