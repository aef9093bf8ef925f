//! etcd backend (in progress)
pub mod local;
pub use local::LocalEtcd;
