//! Where the registry is: `--registry` and the options that go with it.

use clap::Args;
use net::Backend;
use std::path::PathBuf;

/// Which registry, shared by `node` and `resources`.
#[derive(Args, Debug, Clone)]
pub struct RegistryTarget {
    /// The registry: `HOST:PORT` or `embedded://HOST:PORT` for `rebalanser registry`, or
    /// `etcd://HOST:PORT[,HOST:PORT...]` for etcd (needs a build with `--features etcd`).
    #[arg(long, global = true, default_value = "127.0.0.1:7400")]
    pub registry: String,
    /// The group: nodes of one group share its resources.
    #[arg(long, global = true, default_value = "default")]
    pub group: String,
    /// A file whose first line is the embedded registry's shared token.
    #[arg(long, global = true)]
    pub token_file: Option<PathBuf>,
    /// etcd user name (the password comes from --etcd-password-file).
    #[arg(long, global = true, requires = "etcd_password_file")]
    pub etcd_user: Option<String>,
    /// A file whose first line is the etcd user's password.
    #[arg(long, global = true, requires = "etcd_user")]
    pub etcd_password_file: Option<PathBuf>,
    /// The CA certificate (PEM) that signs etcd's server certificate: enables TLS.
    #[arg(long, global = true)]
    pub etcd_ca: Option<PathBuf>,
    /// This client's certificate (PEM), for etcd's client-certificate authentication.
    #[arg(long, global = true, requires = "etcd_key")]
    pub etcd_cert: Option<PathBuf>,
    /// This client's private key (PEM).
    #[arg(long, global = true, requires = "etcd_cert")]
    pub etcd_key: Option<PathBuf>,
}

impl RegistryTarget {
    /// The backend, or an error naming the bad value.
    pub fn backend(&self) -> Result<Box<dyn Backend>, String> {
        net::wire::valid_name("--group", &self.group)?;
        if let Some(rest) = self.registry.strip_prefix("etcd://") {
            return self.etcd(rest);
        }
        if self.etcd_user.is_some() || self.etcd_ca.is_some() || self.etcd_cert.is_some() {
            return Err(format!(
                "--registry {}: the --etcd-* options need an etcd:// registry",
                self.registry
            ));
        }
        let addr = self
            .registry
            .strip_prefix("embedded://")
            .unwrap_or(&self.registry);
        check_host_port(addr).map_err(|e| format!("--registry {}: {e}", self.registry))?;
        let mut backend = net::EmbeddedBackend::new(addr, &self.group);
        if let Some(path) = &self.token_file {
            backend = backend.with_token(super::read_token(path)?);
        }
        Ok(Box::new(backend))
    }

    #[cfg(feature = "etcd")]
    fn etcd(&self, endpoints: &str) -> Result<Box<dyn Backend>, String> {
        use net::backend::etcd::{EtcdBackend, EtcdConfig, EtcdTls};
        let bad = |e: String| format!("--registry {}: {e}", self.registry);
        let endpoints: Vec<String> = endpoints.split(',').map(|e| e.trim().to_string()).collect();
        for e in &endpoints {
            check_host_port(e).map_err(bad)?;
        }
        let user = match (&self.etcd_user, &self.etcd_password_file) {
            (Some(u), Some(f)) => Some((u.clone(), super::read_token(f)?)),
            _ => None,
        };
        let tls = self.etcd_ca.as_ref().map(|ca| EtcdTls {
            ca: ca.clone(),
            cert: self.etcd_cert.clone(),
            key: self.etcd_key.clone(),
            domain: None,
        });
        let mut config = EtcdConfig::new(endpoints, &self.group);
        config.user = user;
        config.tls = tls;
        let backend = EtcdBackend::new(config).map_err(|e| bad(e.to_string()))?;
        Ok(Box::new(backend))
    }

    #[cfg(not(feature = "etcd"))]
    fn etcd(&self, _endpoints: &str) -> Result<Box<dyn Backend>, String> {
        Err(format!(
            "--registry {}: this binary was built without etcd support; rebuild with \
             `cargo build --release --features etcd` (needs protoc: apt-get install protobuf-compiler)",
            self.registry
        ))
    }
}

/// `HOST:PORT` with a port number.
pub fn check_host_port(addr: &str) -> Result<(), String> {
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| format!("'{addr}' is not HOST:PORT"))?;
    if host.is_empty() {
        return Err(format!("'{addr}' has no host"));
    }
    port.parse::<u16>()
        .map_err(|_| format!("'{port}' is not a port number"))?;
    Ok(())
}
